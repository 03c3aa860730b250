"""``aiida-cgmob cg``: coarse-grained LAMMPS runs of a one-bead liquid through ``cgmob.lammps.cg.base``."""

from __future__ import annotations

from pathlib import Path

import click
from aiida.cmdline.params import arguments, options, types

from . import profile_group
from .options import DAEMON, DESCRIPTORS, PROTOCOL, STASH, STASH_MODE, THREADS, WALLTIME, job_options
from .utils import echo_submitted, exit_text, launch_errors

#: thermo keys shown by ``cg show``: (key, label, unit, format, key of its standard error)
THERMO_LINES = (
    ('temperature_K', 'temperature', 'K', '.2f', 'temperature_K_error'),
    ('pressure_bar', 'pressure', 'bar', '.1f', 'pressure_bar_error'),
    ('density_kg_m3', 'mass density', 'kg/m^3', '.2f', 'density_kg_m3_error'),
    ('potential_energy_per_bead_kJ_mol', 'potential energy', 'kJ/mol per bead', '.4f', None),
)


def potential_node(value: str, table_format: str = 'lammps', keyword: str = 'CG', shift: bool = False):
    """Load a ``cgmob.potential`` node by PK/UUID/label, or read one from a table file and store it.

    Parameters
    ----------
    value
        A table file, or the PK, UUID or label of a stored ``cgmob.potential``.
    table_format
        Format of a file: ``lammps`` (``pair_style table``, units real: Å, kcal/mol) or ``votca`` (nm, kJ/mol).
    keyword
        Section of a LAMMPS table file (the first word of its header line).
    shift
        Accept a table whose energy at its last point (the cutoff) is not 0 by subtracting that value
        from every energy (forces unchanged); the node records the amount in its ``treatment``
        attribute (``energy_shift_kJ_mol``).  Stored potentials already have U(r_c) = 0.

    Returns
    -------
    PotentialData
        The stored node.
    """
    from aiida import orm
    from aiida.common import exceptions

    from aiida_cgmob.data import PotentialData
    from aiida_cgmob.potentials import PotentialError, inconsistent_forces, read_lammps_table, read_votca_table

    path = Path(value)
    if path.is_file():
        try:
            if table_format == 'lammps':
                potential = read_lammps_table(path, keyword=keyword, shift=shift)
            else:
                potential = read_votca_table(path, shift=shift)
        except (PotentialError, ValueError, OSError) as exception:
            raise click.ClickException(f'cannot use {path} as a {table_format} table: {exception}') from exception
        if 'energy_shift_kJ_mol' in potential.treatment:
            click.echo(f'{path.name}: U(r_c) = {-potential.treatment["energy_shift_kJ_mol"]:.6g} kJ/mol in the table; '
                       'every energy shifted by '
                       f'{potential.treatment["energy_shift_kJ_mol"]:+.6g} kJ/mol (--shift)', err=True)
        flagged = int(inconsistent_forces(potential.r, potential.energy, potential.force).sum())
        if flagged:  # LAMMPS would warn about the file; the run gets a consistent table written from U and F
            click.echo(f'{path.name}: {flagged} of {potential.r.size} force values are inconsistent with -dU/dr '
                       '(LAMMPS would warn); the runs get a table written from its cubic Hermite interpolation, '
                       'whose forces are consistent with its energies', err=True)
        node = PotentialData(potential)
        node.label = path.name
        return node.store()
    try:
        node = orm.load_node(value)
    except (exceptions.NotExistent, exceptions.MultipleObjectsError, ValueError) as exception:
        raise click.ClickException(f'POTENTIAL {value!r} is neither a file nor a node: {exception}') from exception
    if not isinstance(node, PotentialData):
        raise click.ClickException(f'node {value} is a {node.__class__.__name__}, not a cgmob.potential')
    return node


def summarise_cg(node) -> str:
    """Human-readable summary of a cgmob.lammps.cg calculation or its work chain."""
    lines = [f'{node.process_label}<{node.pk}> "{node.label}": {node.process_state.value}, {exit_text(node)}']
    if 'thermo' in node.outputs:
        thermo = node.outputs.thermo.get_dict()
        ensemble = thermo['ensemble'].upper()
        target = f'{thermo["temperature_target_K"]:g} K' + (
            f', {thermo["pressure_target_bar"]:g} bar' if 'pressure_target_bar' in thermo else '')
        lines.append(f'  {ensemble} at {target}; dt {thermo["timestep_ps"]:g} ps; '
                     f'step {thermo["last_step"]} of {thermo["total_steps"]} ({thermo["status"]})')
        for key, name, unit, fmt, error_key in THERMO_LINES:
            if thermo.get(key) is not None:
                error = thermo.get(error_key) if error_key else None
                spread = f' +- {error:{fmt}}' if error is not None else ''
                lines.append(f'  {name:<17s} {thermo[key]:{fmt}}{spread} {unit}')
        if thermo.get('sampled_ps'):
            lines.append(f'  production        {thermo["n_samples"]} samples over {thermo["sampled_ps"][0]:g}-'
                         f'{thermo["sampled_ps"][1]:g} ps in {thermo["n_segments"]} job(s)')
        if thermo.get('ns_per_day'):
            wall = f', {thermo["wall_time_s"]:.0f} s wall time' if thermo.get('wall_time_s') is not None else ''
            lines.append(f'  speed             {thermo["ns_per_day"]:.1f} ns/day (last job{wall})')
        if thermo.get('n_warnings'):
            lines.append(f'  LAMMPS warnings   {thermo["n_warnings"]}: {"; ".join(thermo["warnings"][:3])}')
    from .cmd_descriptors import descriptor_lines

    return '\n'.join(lines + descriptor_lines(node, 'CG beads'))


@profile_group('cg')
def cmd_cg():
    """Coarse-grained LAMMPS runs with a tabulated potential (uses the loaded AiiDA profile)."""


@cmd_cg.command('run')
@click.argument('potential')
@options.CODE(required=True, help='The lmp code, e.g. lmp@localhost.')
@click.option('--mass', type=click.FloatRange(min=0, min_open=True),
              help='Bead mass in g/mol [default with --from-aa: the molecular mass].')
@click.option('-n', '--n-beads', type=click.IntRange(min=2), default=None,
              help="Lattice start: number of beads [default: the protocol's].")
@click.option('--number-density', type=click.FloatRange(min=0, min_open=True), help='Lattice start: beads/nm^3.')
@click.option('--from-aa', type=types.NodeParamType(), default=None,
              help='Start from the final frame of this cgmob.gromacs calculation or work chain (one bead per '
                   'molecule at its centre of mass).')
@click.option('--table-format', type=click.Choice(['lammps', 'votca']), default='lammps', show_default=True,
              help='Format of a POTENTIAL file (LAMMPS: real units; VOTCA: nm, kJ/mol).')
@click.option('--keyword', default='CG', show_default=True,
              help='Section of a LAMMPS table file: the first word of its header line (VOTCA writes VOTCA).')
@click.option('--shift', is_flag=True,
              help='Accept a table file whose U at the cutoff (its last point) is not 0: subtract U(r_c) from every '
                   "energy, forces unchanged (the amount is recorded in the node's treatment).")
@PROTOCOL('lammps_cg')
@click.option('--ensemble', type=click.Choice(['nvt', 'npt']), default=None, help='[default: nvt]')
@click.option('--temperature', type=click.FloatRange(min=0, min_open=True), help='K [default: 298.15].')
@click.option('--pressure', type=float, help='bar, NPT only [default: 1].')
@click.option('--timestep', type=click.FloatRange(min=0, min_open=True), help="ps [default: the protocol's].")
@THREADS(help='OpenMP threads of lmp.')
@WALLTIME()
@STASH()
@STASH_MODE()
@DESCRIPTORS()
@DAEMON()
def cmd_run(potential, code, mass, n_beads, number_density, from_aa, table_format, keyword, shift, protocol, ensemble,
            temperature, pressure, timestep, threads, walltime, stash, stash_mode, descriptors, daemon):
    """Run a CG liquid with POTENTIAL (a cgmob.potential PK/UUID, or a LAMMPS/VOTCA table file)."""
    from aiida_cgmob.launch import find_code, launch_cg

    if from_aa is not None and (number_density is not None or n_beads is not None):
        raise click.ClickException('--from-aa takes the beads and the box from the all-atom run: drop --n-beads and '
                                   '--number-density')
    if from_aa is None and number_density is None:
        raise click.ClickException('give --number-density (beads/nm^3) for a lattice start, or --from-aa')
    if from_aa is None and mass is None:
        raise click.ClickException('give --mass (g/mol)')
    settings = {key: value for key, value in (('ensemble', ensemble), ('temperature', temperature),
                                              ('pressure', pressure), ('timestep', timestep)) if value is not None}
    descriptors_code = None
    if descriptors:
        descriptors_code = find_code('cgmob-descriptors', code.computer)
        if descriptors_code is None:
            click.echo(f'Warning: no code cgmob-descriptors@{code.computer.label}, so no descriptors: run '
                       '`aiida-cgmob setup` to create it (or pass --no-descriptors to silence this)', err=True)
    node = potential_node(potential, table_format, keyword, shift)
    with launch_errors():
        result = launch_cg(code, node, mass, protocol, {'lammps': {'settings': settings}} if settings else None,
                           job_options(threads, walltime, stash=stash, stash_mode=stash_mode), n_beads=n_beads,
                           number_density=number_density, from_aa=from_aa, descriptors_code=descriptors_code,
                           daemon=daemon)
    if daemon:
        echo_submitted(result)
    else:
        click.echo(summarise_cg(result))


@cmd_cg.command('show')
@arguments.NODE('node')
@click.option('--plot', type=click.Path(dir_okay=False, writable=True), help='Write g(r) and MSD(t) to this image.')
def cmd_show(node, plot):
    """Print thermodynamics, speed and descriptors of NODE (a cgmob.lammps.cg calculation or its work chain)."""
    from aiida import orm

    if not isinstance(node, orm.ProcessNode) or 'cgmob.lammps.cg' not in (node.process_type or ''):
        raise click.ClickException(f'{node.__class__.__name__}<{node.pk}> is not a cgmob.lammps.cg run')
    click.echo(summarise_cg(node))
    if plot:
        from .cmd_descriptors import descriptor_outputs_of, plot_descriptor_outputs

        path = plot_descriptor_outputs(plot, descriptor_outputs_of(node),
                                       title=f'{node.label or node.process_label} <{node.pk}>')
        click.echo(f'wrote {path}')
