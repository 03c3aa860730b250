"""``aiida-cgmob database``: build a synthetic database in the daemon; list, show, summarise, export, import it.

A database is an AiiDA Group of ``cgmob.row`` nodes (and of the samples that failed); every command here is a
thin layer over :mod:`aiida_cgmob.database`.
"""

from __future__ import annotations

import math
from pathlib import Path

import click
from aiida.cmdline.params import arguments, options

from . import profile_group
from .options import PROTOCOL, STASH, STASH_MODE, THREADS, WALLTIME, job_options
from .utils import echo_submitted, exit_text, launch_errors, plus_minus

#: the units every command prints (those of a row, aiida_cgmob.dataset.ROW_UNITS)
MASS_UNIT, D_UNIT, D_SQRT_M_UNIT = 'g/mol', '1e-9 m^2/s', '1e-9 m^2/s (g/mol)^0.5'


def _number(value, spec: str = '.4g', missing: str = 'n/a') -> str:
    return missing if value is None or (isinstance(value, float) and math.isnan(value)) else f'{value:{spec}}'


def _range(low: float | None, high: float | None) -> tuple | None:
    return None if low is None and high is None else (low, high)


def text_histogram(values: list[float], bins: int = 10, width: int = 40, spec: str = '.4g') -> list[str]:
    """Return one line per bin: ``low - high |#### count``, the bars scaled to the fullest bin (``width`` marks)."""
    import numpy as np

    values = np.asarray([value for value in values if value is not None], dtype=float)
    if values.size == 0:
        return ['  (no values)']
    low, high = float(values.min()), float(values.max())
    if low == high:
        return [f'  {low:{spec}} |{"#" * width} {values.size}']
    counts, edges = np.histogram(values, bins=bins, range=(low, high))
    texts = [(f'{edges[i]:{spec}}', f'{edges[i + 1]:{spec}}') for i in range(bins)]
    left, right = max(len(a) for a, _ in texts), max(len(b) for _, b in texts)
    peak = counts.max()
    return [f'  {a:>{left}} - {b:<{right}} |{"#" * round(width * count / peak):<{width}} {count}'
            for (a, b), count in zip(texts, counts, strict=True)]


def _plural(count: int, word: str) -> str:
    return f'{count} {word}' + ('' if count == 1 else 's')


def _scaling_text(value) -> str:
    return 'not checked' if value is None else ('ok' if value else 'flagged')


@profile_group('database')
def cmd_database():
    """Query, export and import a synthetic database: the rows (m, g(r), D -> U(r)) of an AiiDA Group."""


@cmd_database.command('list')
@options.GROUP(required=False, help='The database (a Group: label, pk or UUID) [default: every row of the profile].')
@click.option('--molecule', multiple=True, help='Only this molecule (repeat for several).')
@click.option('--mass-min', type=float, default=None, help='Bead mass at least this, g/mol.')
@click.option('--mass-max', type=float, default=None, help='Bead mass at most this, g/mol.')
@click.option('--D-min', 'd_min', type=float, default=None, help='D at least this, 1e-9 m^2/s.')
@click.option('--D-max', 'd_max', type=float, default=None, help='D at most this, 1e-9 m^2/s.')
@click.option('--seed', type=int, multiple=True, help='Only this sample seed (repeat for several).')
@click.option('--converged/--not-converged', default=None, help='Only rows of a converged / unconverged inversion.')
@click.option('--limit', type=click.IntRange(min=1), default=None, help='At most this many rows.')
@click.option('--failed', is_flag=True, help='List the failed samples (exit status and message) instead of rows.')
def cmd_list(group, molecule, mass_min, mass_max, d_min, d_max, seed, converged, limit, failed):
    """List the rows of a database (pk, molecule, seed, mass, D, state, inversion, mass scaling), filtered."""
    from aiida_cgmob import database

    if failed:
        samples = database.failed_samples(group)
        click.echo(f'{"pk":>7s}  {"molecule":<12s} {"seed":>5s} {"exit":>5s}  message')
        for sample in samples:
            click.echo(f'{sample.node.pk:7d}  {str(sample.molecule):<12s} {_number(sample.seed, "d"):>5s} '
                       f'{_number(sample.exit_status, "d"):>5s}  {sample.message}')
        click.echo(_plural(len(samples), 'failed sample'))
        return
    with launch_errors():
        query = database.select_rows(
            group, molecule=list(molecule) or None, mass=_range(mass_min, mass_max), D=_range(d_min, d_max),
            seed=list(seed) or None, converged=converged, limit=limit,
            project=['id', 'attributes.molecule', 'attributes.sample_seed', 'attributes.mass_index',
                     'attributes.mass', 'attributes.D', 'attributes.D_error', 'attributes.D_sqrt_m',
                     'attributes.number_density', 'attributes.temperature', 'attributes.pressure',
                     'attributes.ibi_status', 'extras.mass_scaling_ok'])
        found = query.all()
    click.echo(f'{"pk":>7s}  {"molecule":<12s} {"seed":>5s} {"k":>2s} {"m/(g/mol)":>10s} {"D/(1e-9 m2/s)":>16s} '
               f'{"D*sqrt(m)":>10s} {"rho/nm-3":>9s} {"T/K":>7s} {"P/bar":>7s}  {"inversion":<13s} scaling')
    for pk, name, sample_seed, index, mass, D, D_error, D_sqrt_m, density, temperature, pressure, status, ok in found:
        click.echo(f'{pk:7d}  {str(name):<12s} {_number(sample_seed, "d"):>5s} {_number(index, "d"):>2s} '
                   f'{_number(mass, ".2f"):>10s} {_number(D, ".4f"):>8s} +-{_number(D_error, ".4f"):>6s} '
                   f'{_number(D_sqrt_m, ".3f"):>10s} {_number(density, ".4f"):>9s} {_number(temperature, ".2f"):>7s} '
                   f'{_number(pressure, ".1f"):>7s}  {str(status):<13s} {_scaling_text(ok)}')
    limited = limit is not None and len(found) == limit
    click.echo(_plural(len(found), 'row') + (f' (--limit {limit})' if limited else ''))


def format_row(row) -> str:
    """Return the scalars of a row with their units, its grids, and the pks of what it was made from."""
    from aiida_cgmob import database, dataset

    get = row.base.attributes.get
    units = {**dataset.ROW_UNITS, **(get('units') or {})}
    scaling = row.base.extras.get('mass_scaling_ok', None)
    deviation = row.base.extras.get('mass_scaling_deviation', None)
    pressure = (plus_minus(get('pressure'), get('pressure_error', None), '.1f')
                if get('pressure', None) is not None else 'n/a')
    lines = [
        f'{row.__class__.__name__}<{row.pk}> {row.uuid}',
        f'  molecule          {get("molecule", None)} (seed {get("sample_seed", None)}, mass index '
        f'{get("mass_index", None)}, origin {get("origin", None)}' + (', synthetic' if get('synthetic', False) else '')
        + ')',
        f'  mass              {_number(get("mass", None), "g")} {units["mass"]}',
        f'  D                 {plus_minus(get("D"), get("D_error", None), ".4g")} {units["D"]}',
        f'  D sqrt(m)         {plus_minus(get("D_sqrt_m"), get("D_sqrt_m_error", None), ".4g")} {units["D_sqrt_m"]}',
        f'  number density    {_number(get("number_density", None))} {units["number_density"]}',
        f'  mass density      {_number(get("mass_density", None), ".2f")} {units["mass_density"]}',
        f'  temperature       {_number(get("temperature", None), "g")} K (measured '
        f'{_number(get("temperature_measured", None), ".2f")} K)',
        f'  pressure          {pressure} bar' + (f' (all-atom target {get("aa_pressure"):g} bar)'
                                                     if get('aa_pressure', None) is not None else ''),
        f'  ensemble          {get("ensemble", None)}',
        f'  cut-off           {_number(get("cutoff", None), "g")} nm; r_core {_number(get("r_core", None), "g")} nm '
        f'(U below it is the wall); box {_number(get("box_length", None), ".3f")} nm',
    ]
    for name, key in (('g grid', 'g_grid'), ('U grid', 'u_grid')):
        grid = get(key, None)
        if grid:
            lines.append(f'  {name:<17s} {grid["r_min"]:g}-{grid["r_max"]:g} nm, {grid["n_points"]} points')
    lines.append(f'  inversion         {get("ibi_status", None)}, RMS(g) {_number(get("ibi_rms", None))}; protocol '
                 f'{get("protocol", None)}')
    lines.append(f'  mass scaling      {_scaling_text(scaling)}'
                 + (f' (D sqrt(m) {deviation:+.1%} from the sample mean)' if deviation is not None else ''))
    found = database.provenance(row)
    lines.append('provenance')
    if found['make_row'] is None:
        lines.append('  none: the row was not made by make_row')
        return '\n'.join(lines)

    def process(node) -> str:
        return 'n/a' if node is None else f'{node.process_label}<{node.pk}>'

    lines.append(f'  made by           {process(found["make_row"])}')
    lines.append(f'  CG run            {process(found["cg"])}' + (f', MSD <{found["msd"].pk}>' if found['msd'] else ''))
    if found['potential'] is not None:
        lines.append(f'  potential         {found["potential"].__class__.__name__}<{found["potential"].pk}>'
                     + (f', made by {process(found["ibi"])}' if found['ibi'] is not None else ''))
    sample = found['sample']
    lines.append(f'  sample            {process(sample)}' + (f' "{sample.label}"' if sample is not None else ''))
    return '\n'.join(lines)


def plot_row_of(row, path):
    """Write the row's g(r), U(r) and its CG run's MSD(t) to ``path``; return the path."""
    from aiida_cgmob import database
    from aiida_cgmob.dataset.plots import plot_row

    get = row.base.attributes.get
    msd = database.provenance(row)['msd']
    t = values = None
    if msd is not None:
        t = msd.get_x()[1]
        values = {name: y for name, y, _ in msd.get_y()}.get('msd')
    title = (f'{get("molecule", "")} seed {get("sample_seed", "")}, m = {_number(get("mass", None), "g")} g/mol '
             f'<{row.pk}>')
    return plot_row(path, row.r_g, row.g, row.r_u, row.u, t, values, D=get('D', None), r_core=get('r_core', None),
                    title=title)


@cmd_database.command('show')
@arguments.NODE('row')
@click.option('--plot', type=click.Path(dir_okay=False, writable=True),
              help='Write g(r), U(r) and the MSD(t) of the row\'s CG run to this image.')
def cmd_show(row, plot):
    """Print the scalars of ROW (a cgmob.row) with their units and the pks of what it was made from; plot it."""
    from aiida_cgmob.data import RowData

    if not isinstance(row, RowData):
        raise click.ClickException(f'{row.__class__.__name__}<{row.pk}> is not a cgmob.row')
    click.echo(format_row(row))
    if plot:
        click.echo(f'wrote {plot_row_of(row, plot)}')


@cmd_database.command('stats')
@arguments.GROUP('group')
@click.option('--bins', type=click.IntRange(min=1), default=10, show_default=True, help='Bins of the histograms.')
def cmd_stats(group, bins):
    """Summarise GROUP: rows per molecule, histograms of mass and D, inversions, failed samples by exit status."""
    from aiida_cgmob import database

    found = database.summary(group)
    values = database.select_rows(group, project=['attributes.mass', 'attributes.D']).all()
    samples = sum(entry['samples'] for entry in found['molecules'].values())
    click.echo(f'database {found["group"]!r}: {_plural(found["n_rows"], "row")} from {_plural(samples, "sample")}; '
               f'{_plural(found["n_failed"], "failed sample")}')
    click.echo(f'  {"molecule":<14s} {"rows":>6s} {"samples":>8s} {"failed":>7s}')
    for name, entry in found['molecules'].items():
        click.echo(f'  {str(name):<14s} {entry["rows"]:6d} {entry["samples"]:8d} {entry["failed"]:7d}')
    if found['n_rows']:
        statuses = found['ibi_status'].items()
        click.echo('inversions        ' + ', '.join(f'{status} {count}' for status, count in statuses))
        scaling = found['mass_scaling']
        click.echo(f'mass scaling      ok {scaling["ok"]}, flagged {scaling["flagged"]}, not checked '
                   f'{scaling["unchecked"]}')
        for name, index, unit in (('mass', 0, MASS_UNIT), ('D', 1, D_UNIT)):
            low, high = found[name]
            click.echo(f'{name} / ({unit}): {low:.4g} - {high:.4g}')
            for line in text_histogram([row[index] for row in values], bins):
                click.echo(line)
    if found['failures']:
        click.echo('failed samples by exit status')
        for status, entry in sorted(found['failures'].items(), key=lambda item: str(item[0])):
            click.echo(f'  {_number(status, "d", "none"):>5s}  {entry["count"]:4d}  {entry["messages"][0]}'
                       + (f' (+{len(entry["messages"]) - 1} other messages)' if len(entry['messages']) > 1 else ''))


@cmd_database.command('export')
@arguments.GROUP('group')
@click.option('--hdf5', 'hdf5', type=click.Path(dir_okay=False), default=None,
              help='Write the rows to this flat HDF5 file (format cgmob-database 1, for use without AiiDA).')
@click.option('--archive', type=click.Path(dir_okay=False), default=None,
              help='Write an AiiDA archive of the Group with its provenance (import with `verdi archive import`).')
@click.option('-f', '--force', is_flag=True, help='Overwrite existing files.')
def cmd_export(group, hdf5, archive, force):
    """Export GROUP: its rows as an HDF5 file and/or the Group with its provenance as an AiiDA archive."""
    from aiida_cgmob import database

    if hdf5 is None and archive is None:
        raise click.UsageError('give --hdf5 FILE and/or --archive FILE')
    for path in (hdf5, archive):
        if path is not None and Path(path).exists() and not force:
            raise click.ClickException(f'{path} exists: pass --force to overwrite it')
    with launch_errors():
        if hdf5 is not None:
            path = database.export_hdf5(group, hdf5)
            click.echo(f'wrote {database.count_rows(group)} rows of {group.label!r} to {path}')
        if archive is not None:
            path = database.export_archive(group, archive, overwrite=force)
            click.echo(f'wrote the group {group.label!r} with its provenance to {path}')


@cmd_database.command('import')
@click.argument('file', type=click.Path(exists=True, dir_okay=False))
@click.option('--label', default=None, help='Label of the file node and of the training set [default: file name].')
def cmd_import(file, label):
    """Import an HDF5 FILE of rows as a cgmob.training_set node (provenance: the file, then the set)."""
    from aiida_cgmob import database

    with launch_errors():
        training_set = database.import_hdf5(file, label)
    creator = training_set.creator
    source = creator.inputs.file
    click.echo(f'{training_set.__class__.__name__}<{training_set.pk}> "{training_set.label}": '
               f'{training_set.n_rows} rows, made by {creator.process_label}<{creator.pk}> from '
               f'{source.__class__.__name__}<{source.pk}>')


# `database build` (launch a cgmob.synthetic.database build) goes here, with the build's own launcher.


def parse_seeds(text: str) -> list[int]:
    """Seeds from ``1-10,15,20-22`` (ranges inclusive); ValueError naming the part that is not a seed."""
    seeds = []
    for part in (piece.strip() for piece in text.split(',')):
        if not part:
            continue
        low, _, high = part.partition('-')
        try:
            first, last = int(low), int(high) if high else int(low)
        except ValueError:
            raise ValueError(f'seeds: {part!r} is neither a seed nor a range such as 1-10') from None
        if last < first:
            raise ValueError(f'seeds: the range {part!r} is empty')
        seeds.extend(range(first, last + 1))
    return seeds


def build_progress(build) -> dict:
    """Where a database build stands: samples planned, ended, failed, running; rows done and planned."""
    from aiida import orm

    from aiida_cgmob import database

    build = orm.load_node(build.pk)
    extras = build.base.extras
    samples = [node for node in build.called if node.process_label == 'SyntheticSampleWorkChain']
    ended = [node for node in samples if node.is_terminated]
    failed = [node for node in ended if not node.is_finished_ok]
    group = orm.Group.collection.get(label=extras.get('cgmob_group')) if extras.get('cgmob_group') else None
    rows = database.count_rows(group) if group is not None else 0
    return {'samples_planned': extras.get('cgmob_samples_planned', None), 'samples_ended': len(ended),
            'samples_failed': len(failed), 'samples_running': len(samples) - len(ended),
            'rows_in_group': rows, 'rows_at_start': extras.get('cgmob_rows_at_start', 0),
            'rows_planned': extras.get('cgmob_rows_planned', None), 'terminated': build.is_terminated}


def progress_line(progress: dict, elapsed: float) -> str:
    """``rows 12/120, samples 3/24 ended (1 failed, 2 running), 5:12 elapsed, ~25 min left``."""
    done = progress['rows_in_group'] - progress['rows_at_start']
    planned, ended = progress['samples_planned'], progress['samples_ended']
    estimate = ''
    if planned and ended and ended < planned:
        left = elapsed / ended * (planned - ended)
        estimate = f', ~{left / 60:.0f} min left'
    return (f'rows {done}/{progress["rows_planned"] if progress["rows_planned"] is not None else "?"}, samples '
            f'{ended}/{planned if planned is not None else "?"} ended ({progress["samples_failed"]} failed, '
            f'{progress["samples_running"]} running), {int(elapsed // 60)}:{int(elapsed % 60):02d} elapsed{estimate}')


@cmd_database.command('build')
@click.argument('group_label')
@click.option('--seeds', required=True, help='Sample seeds: a list with ranges, e.g. 1-10,15.')
@click.option('-m', '--molecule', 'molecules', multiple=True,
              help='A built-in name or hydrocarbon SMILES (repeat for several) [default: 234TriMePe, EtBz, 3MePe].')
@PROTOCOL('synthetic')
@click.option('--concurrency', type=int, default=4, show_default=True,
              help='At most this many samples in flight.')
@click.option('-K', '--n-masses', type=int, default=None, help='CG runs (rows) per sample [default: the protocol\'s].')
@click.option('--mass-range', type=float, nargs=2, default=None, help='Bead masses from MIN to MAX, g/mol.')
@click.option('--mass-distribution', type=click.Choice(['uniform', 'log-uniform']), default=None,
              help='How bead masses are drawn [default: uniform].')
@click.option('--computer', default='localhost', show_default=True,
              help='Computer of the codes gmx, lmp, cgmob-descriptors and cgmob-ibi.')
@THREADS(help='OpenMP threads of each all-atom and inversion job (each CG job gets one).')
@WALLTIME()
@STASH(help='After each all-atom and CG job, copy its folder (trajectories, run inputs, checkpoints, logs) to DIR on '
            'the computer (an absolute path outside the scratch space, e.g. project storage); the inversion jobs are '
            'not stashed. [default: no stash]')
@STASH_MODE()
@click.option('--wait/--no-wait', default=True, show_default=True,
              help='Print a progress line until the build ends (the build itself runs in the daemon either way).')
@click.option('--interval', type=click.FloatRange(min=1), default=30.0, show_default=True,
              help='Seconds between progress lines.')
def cmd_build(group_label, seeds, molecules, protocol, concurrency, n_masses, mass_range, mass_distribution, computer,
              threads, walltime, stash, stash_mode, wait, interval):
    """Build or extend the database GROUP_LABEL in the daemon: every molecule sampled with every seed.

    A (molecule, seed) already in the Group is skipped, so running again with more seeds extends it.
    """
    import time

    from aiida.engine.daemon.client import get_daemon_client

    from aiida_cgmob.calculations.base import stash_options
    from aiida_cgmob.launch import find_codes, launch_database

    overrides = {}
    if n_masses is not None:
        overrides['n_masses'] = n_masses
    if mass_range:
        overrides['mass_range'] = list(mass_range)
    if mass_distribution:
        overrides['mass_distribution'] = mass_distribution
    options = job_options(threads, walltime)
    cg_options = {}
    if threads > 1:  # K CG runs share the node side by side: one thread each
        cg_options['resources'] = {'num_machines': 1, 'num_mpiprocs_per_machine': 1}
    if stash:  # the all-atom and CG jobs only: not in options, which every job gets
        cg_options['stash'] = stash_options(stash, stash_mode)
        overrides['aa'] = {'gromacs': {'metadata': {'options': {'stash': cg_options['stash']}}}}
    if cg_options:
        overrides['cg'] = {'lammps': {'metadata': {'options': cg_options}}}
    with launch_errors():
        build = launch_database(find_codes(computer), group_label, parse_seeds(seeds), list(molecules) or None,
                                protocol, overrides, options, max_concurrent=concurrency, daemon=True)
    echo_submitted(build)
    if not get_daemon_client().is_daemon_running:
        click.echo('the daemon is not running: start it with `verdi daemon start` and the build begins')
    if not wait:
        return
    start = time.monotonic()
    while True:
        progress = build_progress(build)
        click.echo(progress_line(progress, time.monotonic() - start))
        if progress['terminated']:
            break
        time.sleep(interval)
    from aiida import orm

    build = orm.load_node(build.pk)
    click.echo(f'{build.process_label}<{build.pk}> {exit_text(build)}; `aiida-cgmob database stats {group_label}` '
               'summarises the database')
