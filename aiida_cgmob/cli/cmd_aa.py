"""``aiida-cgmob aa``: all-atom GROMACS runs of a liquid through ``cgmob.gromacs.base``."""

from __future__ import annotations

import json
from pathlib import Path

import click
from aiida.cmdline.params import options, types

from ..protocols import protocol_names
from . import cmd_root


def launch_aa(code, molecule: str, n_molecules: int, protocol: str | None = None, density: float = 500.0,
              seed: int = 0, sample_seed: int | None = None, ranges: dict | None = None,
              options: dict | None = None, overrides: dict | None = None, temperature: float = 298.15,
              pressure: float = 1.0, label: str | None = None, daemon: bool = False, descriptors_code=None,
              descriptor_settings: dict | None = None):
    """Build a liquid (optionally synthetic) with provenance and run the GROMACS restart chain on it.

    :param density: starting density of the box, kg/m^3.
    :param temperature: K; ``pressure``: bar.
    :param overrides: see ``GromacsBaseWorkChain.get_builder_from_protocol`` (e.g. your own stages).
    :param descriptors_code: the ``cgmob-descriptors`` code: descriptors of production in the same job.
    Input errors (molecule, ranges) are raised as ValueError before any node is created.
    Returns the work chain node (submitted, with ``daemon``).
    """
    from aiida import orm
    from aiida.engine import run_get_node, submit

    from aiida_cgmob import topology
    from aiida_cgmob.calculations.functions import build_liquid, sample_bonded_parameters
    from aiida_cgmob.workchains.gromacs_base import GromacsBaseWorkChain

    built = topology.build_molecule(molecule)  # fails here, with the reason, for unsupported molecules
    topology.validate_ranges(ranges)
    bonded = None
    if sample_seed is not None:
        bonded = sample_bonded_parameters(orm.Str(molecule), orm.Int(sample_seed),
                                          orm.Dict(ranges) if ranges else None)
    liquid = build_liquid(orm.Str(molecule), orm.Int(n_molecules), orm.Float(density), orm.Int(seed),
                          **({'bonded_parameters': bonded} if bonded else {}))
    builder = GromacsBaseWorkChain.get_builder_from_protocol(
        code, liquid['structure'], liquid['topology'], protocol=protocol, options=options, bonded_parameters=bonded,
        overrides=overrides, temperature=temperature, pressure=pressure, descriptors_code=descriptors_code,
        descriptor_settings=descriptor_settings)
    synthetic = f' synthetic seed {sample_seed}' if bonded else ''
    builder.metadata.label = label or f'{built.name} x{n_molecules}{synthetic}'
    if daemon:
        return submit(builder)
    return run_get_node(builder).node


def summarise(node) -> str:
    """Human-readable summary of a finished ``cgmob.gromacs.base`` node."""
    lines = [f'{node.process_label}<{node.pk}> "{node.label}": {node.process_state.value}, exit {node.exit_status}'
             + (f' ({node.exit_message})' if node.exit_message else '')]
    if 'output_parameters' in node.outputs:
        p = node.outputs.output_parameters.get_dict()
        for key, unit in (('density', 'kg/m^3'), ('temperature', 'K'), ('pressure', 'bar'),
                          ('potential_energy', 'kJ/mol')):
            if key in p:
                lines.append(f'  {key:<17s} {p[key]:12.2f} +- {p[key + "_error"]:.2f} {unit}')
        if p.get('ns_per_day'):
            lines.append(f'  production speed  {p["ns_per_day"]:12.1f} ns/day over {p["production_time"]:.0f} ps')
    if 'descriptors' in node.outputs:
        from .cmd_descriptors import descriptor_outputs_of, format_descriptors

        lines.append('  descriptors (one bead per molecule):')
        lines.append(format_descriptors(descriptor_outputs_of(node), indent='    '))
    return '\n'.join(lines)


@cmd_root.group('aa')
@options.PROFILE(type=types.ProfileParamType(load_profile=True), expose_value=False)
def cmd_aa():
    """All-atom GROMACS runs (uses the loaded AiiDA profile; see `aiida-cgmob setup`)."""


@cmd_aa.command('run')
@click.argument('molecule')
@options.CODE(required=True, help='The gmx code, e.g. gmx@localhost.')
@click.option('-n', '--n-molecules', type=click.IntRange(min=2), default=200, show_default=True)
@click.option('--protocol', type=click.Choice(list(protocol_names('gromacs'))), default='moderate',
              show_default=True,
              help='; '.join(f'{name}: {text}' for name, text in protocol_names('gromacs').items()))
@click.option('--sample-seed', type=click.IntRange(min=0), default=None,
              help='Run a synthetic molecule: bonded parameters sampled with this seed.')
@click.option('--ranges', type=click.Path(dir_okay=False, exists=True), default=None,
              help='JSON file of sampling ranges overriding the defaults.')
@click.option('--threads', type=click.IntRange(min=1), default=1, show_default=True, help='OpenMP threads of mdrun.')
@click.option('--walltime', type=click.IntRange(min=60), default=None, help='Wall time of each job, seconds.')
@click.option('--descriptors/--no-descriptors', default=True, show_default=True,
              help='Compute g(r), MSD, D and density of production in the same job, with the code '
                   'cgmob-descriptors@<computer of CODE>.')
@click.option('-D', '--daemon', is_flag=True, help='Submit to the daemon instead of running here.')
def cmd_run(molecule, code, n_molecules, protocol, sample_seed, ranges, threads, walltime, descriptors, daemon):
    """Build N molecules of MOLECULE and run minimisation, equilibration and production."""
    job_options = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': threads}}
    if walltime:
        job_options['max_wallclock_seconds'] = walltime
    descriptors_code = None
    if descriptors:
        from .cmd_descriptors import find_descriptors_code

        descriptors_code = find_descriptors_code(code.computer)
        if descriptors_code is None:
            click.echo(f'Warning: no code cgmob-descriptors@{code.computer.label}, so no descriptors: run '
                       '`aiida-cgmob setup` to create it (or pass --no-descriptors to silence this)', err=True)
    try:
        node = launch_aa(code, molecule, n_molecules, protocol, sample_seed=sample_seed,
                         ranges=json.loads(Path(ranges).read_text()) if ranges else None,
                         options=job_options, daemon=daemon, descriptors_code=descriptors_code)
    except ValueError as exception:
        raise click.ClickException(str(exception)) from exception
    if daemon:
        click.echo(f'submitted {node.process_label}<{node.pk}>; follow it with `verdi process report {node.pk}`')
    else:
        click.echo(summarise(node))
