"""``aiida-cgmob ibi``: invert a one-bead g(r) into a CG pair potential (``cgmob.ibi.base``), show the result."""

from __future__ import annotations

import click
from aiida.cmdline.params import arguments, options, types

from . import profile_group
from .options import DAEMON, PROTOCOL, THREADS, WALLTIME, job_options
from .utils import echo_submitted, exit_text, launch_errors


def ibi_outputs_of(node) -> dict:
    """Return ``result``, ``history``, ``potential`` and the ``descriptors`` nodes of a cgmob.ibi job or its chain."""
    from aiida import orm

    if not isinstance(node, orm.ProcessNode) or 'result' not in node.outputs:
        raise click.ClickException(f'{node.__class__.__name__}<{node.pk}> is not a finished cgmob.ibi calculation or '
                                   'cgmob.ibi.base work chain with a result')
    outputs = {name: node.outputs[name] for name in ('result', 'history', 'potential') if name in node.outputs}
    if 'descriptors' in node.outputs:
        outputs['descriptors'] = {name: node.outputs.descriptors[name] for name in node.outputs.descriptors}
    return outputs


def _number(value, template: str = '{:.4g}') -> str:
    return 'n/a' if value is None else template.format(value)


def format_ibi(outputs: dict, indent: str = '  ', shown: str = '') -> str:
    """Return the result and the convergence table (iteration, RMS, pressure, density, time) as aligned lines.

    The job's message follows its status unless it is already part of ``shown`` (the exit message printed above).
    """
    result = outputs['result'].get_dict()
    message = result.get('message', '')
    lines = [f'status            {result["status"]}' + (f': {message}' if message and message not in shown else '')]
    if result.get('resumed_at'):
        lines.append(f'continued at      iteration(s) {", ".join(str(i) for i in result["resumed_at"])}')
    if 'history' in outputs:
        history = outputs['history']
        lines.append(f'method            {result.get("method")}, RMS over {result.get("fit_range_nm")} nm, tolerance '
                     f'{result.get("tolerance")}, step control {result.get("step_control", "fixed")}'
                     # results made before the setting existed used the measured g up to half the box
                     + (f', ihnc range {result.get("ihnc_range", "box")}' if result.get('method') == 'ihnc' else ''))
        lines.append(f'{"iteration":>9s} {"RMS(g)":>9s} {"P/bar":>9s} {"+-":>7s} {"rho/nm^-3":>10s} {"s":>7s}  '
                     'next update')
        arrays = {name: history.get_array(name) for name in ('iteration', 'rms', 'pressure_bar', 'pressure_std_bar',
                                                             'number_density', 'seconds')}
        names = history.get_arraynames()
        steps = ([history.get_array(name) for name in ('next_method', 'next_alpha', 'next_from_iteration')]
                 if 'next_method' in names else None)
        final = result.get('final_iteration')
        for index, iteration in enumerate(arrays['iteration']):
            step = (f'  {steps[0][index]} x{steps[1][index]:g} from {steps[2][index]}'
                    if steps is not None and steps[0][index] else '')
            mark = '  <- final potential' if iteration == final else ''
            lines.append(f'{iteration:9d} {arrays["rms"][index]:9.5f} {arrays["pressure_bar"][index]:9.1f} '
                         f'{arrays["pressure_std_bar"][index]:7.1f} {arrays["number_density"][index]:10.4f} '
                         f'{arrays["seconds"][index]:7.1f}{step}{mark}')
        lines.append(f'final potential   iteration {final}: RMS {_number(result.get("rms_final"))}, pressure '
                     f'{_number(result.get("pressure_final_bar"), "{:.1f}")} bar; '
                     f'{_number(result.get("seconds_per_iteration"), "{:.1f}")} s per iteration')
    block = ''
    if 'descriptors' in outputs and len(outputs['descriptors']) == 5:
        from .cmd_descriptors import format_descriptors

        lines.append('descriptors of the final potential\'s run:')
        block = '\n' + format_descriptors(outputs['descriptors'], indent=indent + '  ')
    elif result.get('descriptors_error'):
        error = result['descriptors_error']
        lines.append(f'descriptors       failed ({error["kind"]}): {error["message"]}')
    return '\n'.join(indent + line for line in lines) + block


def summarise_ibi(node) -> str:
    """Exit status and message (once) of a cgmob.ibi calculation or work chain, then its result and convergence."""
    lines = [f'{node.process_label}<{node.pk}>: {exit_text(node)}']
    if 'result' in node.outputs:
        lines.append(format_ibi(ibi_outputs_of(node), shown=node.exit_message or ''))
    return '\n'.join(lines)


def plot_ibi_outputs(path, outputs: dict, title: str = ''):
    """RMS per iteration, final g(r) against the target, U(r) of the first and the final iteration."""
    from aiida_cgmob.ibi.plots import plot_ibi

    history, result = outputs['history'], outputs['result'].get_dict()
    iteration = history.get_array('iteration')
    final = result.get('final_iteration', int(iteration[-1]))
    index = int(list(iteration).index(final)) if final in iteration else len(iteration) - 1
    g, potential = history.get_array('g'), history.get_array('potential')
    return plot_ibi(path, iteration, history.get_array('rms'), history.get_array('r'), g[index],
                    history.get_array('g_target'), history.get_array('r_potential'), potential[0], potential[index],
                    tolerance=result.get('tolerance'),
                    labels=(f'iteration {int(iteration[0])}', f'iteration {int(iteration[index])} (final)'),
                    title=title)


@profile_group('ibi')
def cmd_ibi():
    """Structural inversion (iterative HNC / IBI): a CG pair potential that reproduces a target g(r)."""


@cmd_ibi.command('run')
@arguments.NODE('node')
@options.CODE(required=False, help='The cgmob-ibi code [default: cgmob-ibi@localhost].')
@click.option('--lammps-code', type=types.CodeParamType(), default=None,
              help='The lmp code, on the computer of CODE [default: lmp@<that computer>].')
@PROTOCOL('ibi')
@click.option('-n', '--n-beads', type=click.IntRange(min=2), default=None, help='CG beads [default: the protocol\'s].')
@click.option('--max-iterations', type=click.IntRange(min=1), default=None, help='[default: the protocol\'s].')
@click.option('--tolerance', type=click.FloatRange(min=0, min_open=True), default=None,
              help='Converged when RMS(g - g_target) falls below this [default: the protocol\'s].')
@click.option('--pressure-target', default=None, metavar='BAR|none',
              help="Correct the CG pressure towards this value (bar); 'none': no correction [default: the all-atom "
                   "run's pressure for an NPT GROMACS parent, else none].")
@click.option('--cutoff', type=click.FloatRange(min=0, min_open=True), default=None, help='nm [default: 1.4].')
@click.option('--method', type=click.Choice(['ihnc', 'ibi']), default=None, help='Update rule [default: ihnc].')
@click.option('--temperature', type=click.FloatRange(min=0, min_open=True), default=None,
              help='K [default: the all-atom run\'s for a GROMACS parent, else 298.15].')
@THREADS(help='OpenMP threads of LAMMPS.')
@WALLTIME(help='Wall time of each job, seconds (the work chain continues a stopped job from its checkpoint).')
@DAEMON()
def cmd_run(node, code, lammps_code, protocol, n_beads, max_iterations, tolerance, pressure_target, cutoff, method,
            temperature, threads, walltime, daemon):
    """Invert the g(r) of NODE into a CG pair potential, at its number density and bead mass.

    NODE is a descriptors-producing node: a cgmob.descriptors calculation, or a GROMACS calculation or work chain
    that computed its descriptors.
    """
    from aiida_cgmob.launch import find_code, launch_ibi

    code = code or find_code('cgmob-ibi')
    if code is None:
        raise click.ClickException('no code cgmob-ibi@localhost: pass --code or run `aiida-cgmob setup`')
    lammps_code = lammps_code or find_code('lmp', code.computer)
    if lammps_code is None:
        raise click.ClickException(f'no code lmp@{code.computer.label}: pass --lammps-code or run `aiida-cgmob setup`')
    settings = {key: value for key, value in (('max_iterations', max_iterations), ('tolerance', tolerance),
                                              ('cutoff', cutoff), ('method', method)) if value is not None}
    if pressure_target is not None:
        settings['pressure_target'] = pressure_value(pressure_target)
    with launch_errors():
        workchain = launch_ibi(code, lammps_code, node, protocol, {'ibi': {'settings': settings}} if settings else None,
                               job_options(threads, walltime, threads_option=True), n_beads=n_beads,
                               temperature=temperature, daemon=daemon)
    if daemon:
        echo_submitted(workchain)
        return
    click.echo(summarise_ibi(workchain))


def pressure_value(text: str) -> float | None:
    """Return the --pressure-target value: a number of bar, or None for 'none'."""
    if text.strip().lower() == 'none':
        return None
    try:
        return float(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is neither a pressure in bar nor 'none'",
                                 param_hint='--pressure-target') from None


@cmd_ibi.command('show')
@arguments.NODE('node')
@click.option('--plot', type=click.Path(dir_okay=False, writable=True),
              help='Write RMS per iteration, final g(r) vs target and U(r) of the first and final iteration.')
def cmd_show(node, plot):
    """Print the convergence of NODE (a cgmob.ibi calculation or cgmob.ibi.base work chain); plot it."""
    outputs = ibi_outputs_of(node)
    click.echo(summarise_ibi(node))
    if plot:
        if 'history' not in outputs:
            raise click.ClickException(f'{node.process_label}<{node.pk}> completed no iteration: nothing to plot')
        path = plot_ibi_outputs(plot, outputs, title=f'{node.label or node.process_label} <{node.pk}>')
        click.echo(f'wrote {path}')
