"""``aiida-cgmob aa``: all-atom GROMACS runs of a liquid through ``cgmob.gromacs.base``."""

from __future__ import annotations

import json
from pathlib import Path

import click
from aiida.cmdline.params import options

from . import profile_group
from .options import DAEMON, DESCRIPTORS, LIQUID_DENSITY, PROTOCOL, STASH, STASH_MODE, THREADS, WALLTIME, job_options
from .utils import echo_submitted, exit_text, launch_errors, plus_minus


@profile_group('aa')
def cmd_aa():
    """All-atom GROMACS runs (uses the loaded AiiDA profile; see `aiida-cgmob setup`)."""


@cmd_aa.command('run')
@click.argument('molecule')
@options.CODE(required=True, help='The gmx code, e.g. gmx@localhost.')
@click.option('-n', '--n-molecules', type=click.IntRange(min=2), default=200, show_default=True)
@PROTOCOL('gromacs')
@click.option('--sample-seed', type=click.IntRange(min=0), default=None,
              help='Run a synthetic molecule: bonded parameters sampled with this seed.')
@click.option('--ranges', type=click.Path(dir_okay=False, exists=True), default=None,
              help='JSON file of sampling ranges overriding the defaults.')
@LIQUID_DENSITY()
@THREADS(help='OpenMP threads of mdrun.')
@WALLTIME()
@STASH()
@STASH_MODE()
@DESCRIPTORS()
@DAEMON()
def cmd_run(molecule, code, n_molecules, protocol, sample_seed, ranges, liquid_density, threads, walltime, stash,
            stash_mode, descriptors, daemon):
    """Build N molecules of MOLECULE and run minimisation, equilibration and production.

    The box is checked against twice the largest cut-off of the protocol's stages, at the liquid density,
    before anything is created.
    """
    from aiida_cgmob.launch import find_code, launch_aa

    descriptors_code = None
    if descriptors:
        descriptors_code = find_code('cgmob-descriptors', code.computer)
        if descriptors_code is None:
            click.echo(f'Warning: no code cgmob-descriptors@{code.computer.label}, so no descriptors: run '
                       '`aiida-cgmob setup` to create it (or pass --no-descriptors to silence this)', err=True)
    with launch_errors():
        node = launch_aa(code, molecule, n_molecules, protocol,
                         options=job_options(threads, walltime, stash=stash, stash_mode=stash_mode),
                         sample_seed=sample_seed, ranges=json.loads(Path(ranges).read_text()) if ranges else None,
                         liquid_density=liquid_density, descriptors_code=descriptors_code, daemon=daemon)
    if daemon:
        echo_submitted(node)
    else:
        click.echo(summarise(node))


def summarise(node) -> str:
    """Human-readable summary of a finished ``cgmob.gromacs.base`` node."""
    lines = [f'{node.process_label}<{node.pk}> "{node.label}": {node.process_state.value}, {exit_text(node)}']
    if 'output_parameters' in node.outputs:
        p = node.outputs.output_parameters.get_dict()
        for key, unit in (('density', 'kg/m^3'), ('temperature', 'K'), ('pressure', 'bar'),
                          ('potential_energy', 'kJ/mol')):
            if key in p:
                lines.append(f'  {key:<17s} {plus_minus(p[key], p.get(key + "_error"), "12.2f")} {unit}')
        if p.get('ns_per_day'):
            lines.append(f'  production speed  {p["ns_per_day"]:12.1f} ns/day over {p["production_time"]:.0f} ps')
    from .cmd_descriptors import descriptor_lines

    return '\n'.join(lines + descriptor_lines(node, 'one bead per molecule'))
