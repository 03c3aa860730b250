"""``aiida-cgmob descriptors``: compute, show and plot one-bead descriptors of MD runs."""

from __future__ import annotations

import click
from aiida.cmdline.params import arguments, options

from . import profile_group
from .options import DAEMON
from .utils import echo_submitted, exit_text, launch_errors, plus_minus


def descriptor_outputs_of(node) -> dict:
    """Return the descriptor nodes of a cgmob.descriptors job, or of an MD calculation/work chain that computed them."""
    from aiida_cgmob.workchains.ibi_base import descriptor_outputs

    with launch_errors():
        return descriptor_outputs(node)


def descriptor_lines(node, heading: str) -> list[str]:
    """Return the summary lines of the descriptors an MD run computed in its job (none if it computed none)."""
    if 'descriptors' not in node.outputs:
        return []
    return [f'  descriptors ({heading}):', format_descriptors(descriptor_outputs_of(node), indent='    ')]


def format_descriptors(outputs: dict, indent: str = '  ') -> str:
    """Return the descriptor outputs as aligned lines, each starting with ``indent``."""
    d, density = outputs['diffusion'].get_dict(), outputs['density'].get_dict()
    rdf = outputs['rdf']
    first_peak = rdf.get_x()[1][rdf.get_y()[0][1].argmax()]
    lines = [
        f'beads             {density["n_beads"]} of {outputs["mass"].value:.3f} g/mol; {d["n_frames"]} frames '
        f'({d["time_span"][0]:g}-{d["time_span"][1]:g} ps)',
        f'mass density      {plus_minus(density["mass_density"], density.get("mass_density_error"), ".1f")} kg/m^3 '
        f'({density["number_density"]:.4f} nm^-3)',
        f'D                 {plus_minus(d["D_si"], d.get("D_error_si"), ".4f")} 1e-9 m^2/s  (x, y, z: '
        + ', '.join(f'{v:.3f}' for v in d['D_xyz_si'])
        + f'; fit {d["fit_window"][0]:.3g}-{d["fit_window"][1]:.3g} ps, {d["window_chosen"]}; '
        f'box {d["box_length"]:.3f} nm)',
        f'g(r)              0-{rdf.base.attributes.get("r_max"):g} nm in bins of '
        f'{rdf.base.attributes.get("bin_width"):g} nm; first peak {first_peak:.3f} nm',
    ]
    if 'D_yeh_hummer_si' in d:
        lines.append(f'D (Yeh-Hummer)    {d["D_yeh_hummer_si"]:.4f} 1e-9 m^2/s '
                     f'(viscosity {d["yeh_hummer"]["viscosity"]} Pa s)')
    return '\n'.join(indent + line for line in lines)


def plot_descriptor_outputs(path, outputs: dict, title: str = ''):
    """Write g(r) and MSD(t) with the diffusion fit of descriptor output nodes to the image ``path``."""
    from aiida_cgmob.analysis.plots import plot_descriptors

    return plot_descriptors(path, outputs['rdf'].get_x()[1], outputs['rdf'].get_y()[0][1], outputs['msd'].get_x()[1],
                            outputs['msd'].get_y()[3][1], outputs['diffusion'].get_dict(), title=title)


@profile_group('descriptors')
def cmd_descriptors():
    """One-bead descriptors: g(r), MSD, D and density of a trajectory, computed where it lies."""


@cmd_descriptors.command('run')
@arguments.NODE('node')
@options.CODE(required=False, help='The cgmob-descriptors code [default: cgmob-descriptors@<computer of the run>].')
@click.option('--r-max', type=click.FloatRange(min=0, min_open=True), help='nm [default: min(2.5, half box)].')
@click.option('--bin-width', type=click.FloatRange(min=0, min_open=True), help='nm [default: 0.005].')
@click.option('--begin', type=click.FloatRange(min=0), help='Skip frames before this time (ps).')
@click.option('--end', type=click.FloatRange(min=0), help='Skip frames after this time (ps).')
@click.option('--fit-window', type=(float, float), default=None,
              help='Diffusion fit window T0 T1 in ps [default: chosen from the log-log slope].')
@click.option('--viscosity', type=click.FloatRange(min=0, min_open=True),
              help='Pa s: also report a Yeh-Hummer corrected D (needs --temperature).')
@click.option('--temperature', type=click.FloatRange(min=0, min_open=True), help='K, for the Yeh-Hummer correction.')
@click.option('--trajectory', help='Trajectory file in the remote folder [default: <production>.xtc of cgmob.gromacs].')
@click.option('--topology', help='GROMACS .tpr in the remote folder (all-atom mapping).')
@click.option('--bead-mass', type=click.FloatRange(min=0, min_open=True), help='g/mol, for a CG trajectory.')
@click.option('--timestep', type=click.FloatRange(min=0, min_open=True), help='ps, for a LAMMPS text dump.')
@DAEMON()
def cmd_run(node, code, r_max, bin_width, begin, end, fit_window, viscosity, temperature, trajectory, topology,
            bead_mass, timestep, daemon):
    """Compute the descriptors of NODE: an MD calculation, its work chain or a RemoteData."""
    from aiida_cgmob.launch import find_code, launch_descriptors, remote_folder_of

    with launch_errors():
        parent = remote_folder_of(node)
    code = code or find_code('cgmob-descriptors', parent.computer)
    if code is None:
        raise click.ClickException(f'no code cgmob-descriptors@{parent.computer.label}: pass --code or run '
                                   '`aiida-cgmob setup`')
    settings = {key: value for key, value in (('r_max', r_max), ('bin_width', bin_width), ('begin', begin),
                                              ('end', end), ('viscosity', viscosity), ('temperature', temperature))
                if value is not None}
    if fit_window:
        settings['fit_window'] = list(fit_window)
    with launch_errors():
        calculation = launch_descriptors(code, parent, settings, trajectory=trajectory, topology=topology,
                                         bead_mass=bead_mass, timestep=timestep, daemon=daemon)
    if daemon:
        echo_submitted(calculation)
        return
    click.echo(f'{calculation.process_label}<{calculation.pk}>: {exit_text(calculation)}')
    if calculation.is_finished_ok:
        click.echo(format_descriptors(descriptor_outputs_of(calculation)))


@cmd_descriptors.command('show')
@arguments.NODE('node')
@click.option('--plot', type=click.Path(dir_okay=False, writable=True), help='Write g(r) and MSD(t) to this image.')
def cmd_show(node, plot):
    """Print the descriptors of NODE (a cgmob.descriptors job, or an MD run that computed them); plot them."""
    outputs = descriptor_outputs_of(node)
    click.echo(f'{node.process_label}<{node.pk}>')
    click.echo(format_descriptors(outputs))
    if plot:
        path = plot_descriptor_outputs(plot, outputs, title=f'{node.label or node.process_label} <{node.pk}>')
        click.echo(f'wrote {path}')
