"""Benchmark: how querying, exporting and importing the synthetic database scale with its size (issue 10).

For each size N (default 100 and 10 000) the script makes N rows without MD in a temporary, isolated AiiDA
profile (``verdi presto --use-zeromq`` in a fresh ``AIIDA_PATH``, SQLite storage; removed at the end unless
``--keep``): ``cgmob.row`` nodes through the kernel's ``build_row`` from a model g(r) and a 12-6 LJ table cut at
1.4 nm (3 molecules, seeds of 5 masses, distinct arrays for every row), stored 500 per transaction, in one
Group.  Then, on that Group:

* **query**: ``rows(group, molecule='EtBz', mass=(50, 150), converged=True)``, the matching nodes (about 1/6 of
  the rows), and ``count_rows`` of the same selection;
* **summary**: ``summary(group)`` (one projection of the rows and the failed samples);
* **to_arrays**: every row as numpy arrays, reading the arrays' objects from the repository in one pass (the
  default), and node by node (``bulk=False``: ``load_node`` + ``get_array`` per row) for comparison, on at most
  ``--node-by-node`` rows (500: node by node costs ~100x more per row);
* **HDF5 export**: ``export_hdf5(group, file)`` (to_arrays + the gzip-compressed write), with the file size;
* **HDF5 read**: ``aiida_cgmob.dataset.read`` of that file (what a user without AiiDA does);
* **HDF5 import**: ``import_hdf5(file)``: the file as SinglefileData and the calcfunction that makes the
  ``cgmob.training_set`` node.

Each operation is timed (best of ``--repeats`` for N <= 1000, once above), then run once more under
``tracemalloc`` for its peak of traced memory (Python objects and numpy arrays; HDF5's own C buffers are not
traced).  The table gives both per size and the ratio of the largest size to the smallest: linear scaling is a
ratio equal to the ratio of the sizes (100 for 10 000 / 100).

With ``--storages sqlite psql`` the same is done, in the same run, on a second profile on PostgreSQL + RabbitMQ
(``aiida_cgmob.services``: needs root, PostgreSQL 15 and RabbitMQ; its database is dropped at the end), and a last
table gives PostgreSQL / SQLite for each operation at the largest size.

Prints the report and writes it to ``benchmarks/results/<name>.txt`` (``database_query``, or
``database_query_sqlite_psql`` with both storages); with ``--ship`` also to ``benchmarks/data/<name>.txt``.  No timed
assertions.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

NAME = 'database_query'
SHIPPED = _common.BENCH_DIR / 'data' / f'{NAME}.txt'
MOLECULES = ('EtBz', '3MePe', '234TriMePe')
MASSES_PER_SEED = 5
CUTOFF = 1.4  # nm
SELECTION = {'molecule': 'EtBz', 'mass': (50.0, 150.0), 'converged': True}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', type=int, nargs='+', default=[100, 10_000], help='rows per database '
                        '(default: %(default)s)')
    parser.add_argument('--repeats', type=int, default=3, help='timings per operation for sizes <= 1000, best '
                        'kept (default: %(default)s)')
    parser.add_argument('--node-by-node', type=int, default=500, help='rows read node by node for the comparison '
                        '(default: %(default)s; ~0.1 s per row on a loaded 2-core machine)')
    parser.add_argument('--ship', action='store_true', help=f'also write the report to {SHIPPED}')
    parser.add_argument('--keep', action='store_true', help='keep the temporary profile (its path is printed)')
    parser.add_argument('--storages', nargs='+', default=['sqlite'], choices=('sqlite', 'psql'),
                        help='profiles to measure, in this order (default: %(default)s)')
    return parser.parse_args(argv)


def machine_header() -> list[str]:
    model = _common.cpu_model()
    load = ', '.join(f'{value:.2f}' for value in os.getloadavg())
    return [f'machine: {platform.node()}, {os.cpu_count()} cores, CPU {model}; load average at start {load}',
            f'date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; Python '
            f'{platform.python_version()}']


PROFILES = {'sqlite': 'cgmob-dbbench', 'psql': 'cgmob-dbbench-psql'}


def make_profile(path: Path, storage: str = 'sqlite') -> None:
    """A new profile in ``path`` only (``AIIDA_PATH`` set before aiida is imported), loaded in this process.

    ``sqlite``: ``verdi presto --use-zeromq``; ``psql``: PostgreSQL + RabbitMQ (``services.setup_production_profile``).
    """
    os.environ['AIIDA_PATH'] = str(path)
    from aiida_cgmob.profile import verdi

    if storage == 'psql':
        from aiida_cgmob import services

        services.setup_production_profile(path, PROFILES[storage], echo=lambda line: None)
    else:
        verdi(path, 'presto', '--profile-name', PROFILES[storage], '--use-zeromq')
    import aiida
    from aiida.manage import get_manager
    from aiida.manage.configuration import reset_config

    # the profile was written by another process (verdi): drop the previous profile and read the configuration again
    get_manager().unload_profile()
    reset_config()
    aiida.load_profile(PROFILES[storage], allow_switch=True)


def model_row(index: int, rng) -> tuple[dict, dict]:
    """(arrays, scalars) of a row made without MD: model g(r), an LJ table whose depth varies, through build_row."""
    import numpy as np

    from aiida_cgmob import dataset

    r = np.arange(0.0025, 2.6, 0.005)
    phase = rng.uniform(-0.2, 0.2)
    g = np.where(r < 0.45, 0.0, 1 + 1.5 * np.exp(-(r - 0.55) / 0.25) * np.cos(2 * np.pi * (r - 0.55) / 0.5 + phase))
    r_u = np.linspace(0.05, CUTOFF, round((CUTOFF - 0.05) / 0.002) + 1)
    epsilon = rng.uniform(1.0, 3.0)
    x6 = (0.5 / r_u) ** 6
    energy = np.minimum(4 * epsilon * (x6 * x6 - x6), 500.0)
    energy -= energy[-1]
    force = -np.gradient(energy, r_u, edge_order=2)
    seed, mass_index = divmod(index, MASSES_PER_SEED)
    mass = float(rng.uniform(20.0, 200.0))
    D = 18.0 / mass ** 0.5 * rng.uniform(0.95, 1.05)
    arrays, scalars = dataset.build_row(
        r=r, g=g, g_error=0.01 + 0.002 * rng.random(r.size), mass=mass, D=D, D_error=0.02 * D,
        number_density=rng.uniform(4.0, 6.0), temperature=298.15, pressure=rng.normal(0, 20), pressure_error=2.0,
        potential_r=r_u, potential_energy=energy, potential_force=force, r_core=0.4, box_length=6.0)
    scalars.update(molecule=MOLECULES[seed % len(MOLECULES)], sample_seed=seed, mass_index=mass_index,
                   origin='final_potential', synthetic=True, ibi_status='converged' if seed % 4 else 'not_converged',
                   ibi_rms=0.01, protocol='fast', aa_pressure=1.0, temperature_measured=298.0)
    return arrays, scalars


def make_database(n: int, seed: int = 0):
    """A Group of ``n`` rows made without MD; returns (group, seconds)."""
    import numpy as np
    from aiida import orm
    from aiida.manage import get_manager

    from aiida_cgmob.data import RowData

    rng = np.random.default_rng(seed)
    storage = get_manager().get_profile_storage()
    start = time.perf_counter()
    group = orm.Group(label=f'bench-{n}-{time.time_ns()}').store()
    for first in range(0, n, 500):
        # one commit per 500 rows, not one per row: storing is bound by the commits' fsync
        with storage.transaction():
            batch = []
            for index in range(first, min(first + 500, n)):
                row = RowData(*model_row(index, rng))
                row.base.extras.set_many({'mass_scaling_ok': bool(index % 7), 'mass_scaling_deviation': 0.01})
                batch.append(row.store())
        group.add_nodes(batch)
        if n > 500:
            print(f'  {first + len(batch)} rows ({time.perf_counter() - start:.0f} s)', flush=True)
    return group, time.perf_counter() - start


def measure(function, repeats: int) -> tuple[float, float, object]:
    """(best wall time s, peak traced memory MiB, result) of ``function()``: timed runs, then one under tracemalloc."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return min(times), peak / 2 ** 20, result


def benchmark(n: int, folder: Path, repeats: int, node_by_node: int) -> dict:
    """Make a database of ``n`` rows and measure every operation on it; {operation: (s, MiB, note)}."""
    from aiida_cgmob import database, dataset

    print(f'{n} rows: making them', flush=True)
    group, made = make_database(n)
    repeats = repeats if n <= 1000 else 1
    slow = min(n, node_by_node)
    path = folder / f'bench-{n}-{time.time_ns()}.h5'
    figures = {'make the rows (store RowData, add to the Group)': (made, None, f'{made / n * 1e3:.1f} ms per row')}
    operations = [
        ('query: rows(molecule, mass range, converged)', lambda: database.rows(group, **SELECTION), 'rows'),
        ('query: count_rows (same selection)', lambda: database.count_rows(group, **SELECTION), 'count'),
        ('summary(group)', lambda: database.summary(group), None),
        ('to_arrays (bulk: one pass over the objects)', lambda: database.to_arrays(group), 'arrays'),
        (f'to_arrays node by node (at most {node_by_node} rows)',
         lambda: database.to_arrays(group, limit=slow, bulk=False), 'slow'),
        ('export_hdf5 (to_arrays + gzip write)', lambda: database.export_hdf5(group, path), 'file'),
        ('read the HDF5 file (kernel, no AiiDA)', lambda: dataset.read(path), None),
        ('import_hdf5 (SinglefileData + training set)', lambda: database.import_hdf5(path), None),
    ]
    for name, function, kind in operations:
        print(f'  {name}', flush=True)
        seconds, peak, result = measure(function, repeats)
        note = ''
        if kind == 'rows':
            note = f'{len(result)} rows match'
        elif kind == 'count':
            note = f'{result} rows'
        elif kind == 'arrays':
            note = f'g {result["g"].shape}, u {result["u"].shape}, {sum(a.nbytes for a in result.values() if hasattr(a, "nbytes")) / 2 ** 20:.1f} MiB of arrays'  # noqa: E501
        elif kind == 'slow':
            bulk = figures['to_arrays (bulk: one pass over the objects)'][0] / n
            note = f'{slow} rows: {seconds / slow * 1e3:.1f} ms per row; bulk {bulk * 1e3:.2f} ms per row'
        elif kind == 'file':
            note = f'{path.stat().st_size / 2 ** 20:.2f} MiB file'
        figures[name] = (seconds, peak, note)
    return figures


def report(sizes: list[int], results: dict[int, dict]) -> list[str]:
    small, large = min(sizes), max(sizes)
    headers = ['operation']
    for n in sizes:
        headers += [f'{n} rows: s', 'peak MiB']
    if large != small:
        headers += [f'time {large}/{small}', f'memory {large}/{small}']
    headers.append(f'note ({large} rows)')
    rows = []
    for name in results[small]:
        line = [name]
        for n in sizes:
            seconds, peak, _ = results[n][name]
            line += [f'{seconds:.3g}', '' if peak is None else f'{peak:.3g}']
        if large != small:
            (t_small, m_small, _), (t_large, m_large, _) = results[small][name], results[large][name]
            line += [f'{t_large / t_small:.3g}', '' if m_small is None else f'{m_large / m_small:.3g}']
        line.append(results[large][name][2])
        rows.append(line)
    return [_common.format_table(headers, rows, 'l' + 'r' * (len(headers) - 2) + 'l')]


def compare(sizes: list[int], results: dict[str, dict[int, dict]]) -> list[str]:
    """PostgreSQL / SQLite time of each operation at the largest size."""
    large = max(sizes)
    rows = [[name, f'{results["sqlite"][large][name][0]:.3g}', f'{results["psql"][large][name][0]:.3g}',
             f'{results["psql"][large][name][0] / results["sqlite"][large][name][0]:.3g}']
            for name in results['sqlite'][large]]
    return [f'PostgreSQL against SQLite, {large} rows (same run, same machine)',
            _common.format_table(['operation', 'SQLite s', 'PostgreSQL s', 'PostgreSQL / SQLite'], rows,
                                 'lrrr')]


def main(argv=None) -> int:
    args = parse_args(argv)
    sizes = sorted(set(args.sizes))
    storages = list(dict.fromkeys(args.storages))
    name = NAME if storages == ['sqlite'] else '_'.join([NAME, *storages])
    shipped = SHIPPED.with_name(f'{name}.txt')
    folder = Path(tempfile.mkdtemp(prefix='cgmob-dbbench-'))
    total = _common.Stopwatch()
    lines = ['database_query: the synthetic database API against its size (rows made without MD)', *machine_header()]
    results = {}
    try:
        for storage in storages:
            make_profile(folder / 'aiida', storage)
            from aiida import __version__ as aiida_version
            from aiida.manage import get_manager

            backend = get_manager().get_profile().storage_backend
            lines += ['', f'aiida-core {aiida_version}, storage {backend} (temporary profile); timings: best of '
                      f'{args.repeats} up to 1000 rows, one run above; memory: tracemalloc peak of one more run',
                      f'selection of the query: {SELECTION} (units g/mol)']
            results[storage] = {n: benchmark(n, folder, args.repeats, args.node_by_node) for n in sizes}
            lines += ['', *report(sizes, results[storage])]
        if len(results) == 2:
            lines += ['', *compare(sizes, results)]
    finally:
        if args.keep:
            print(f'kept the profile(s) in {folder}')
        else:
            if 'psql' in storages:
                from aiida_cgmob import services

                services.remove_production_profile(folder / 'aiida', PROFILES['psql'], echo=lambda line: None)
            shutil.rmtree(folder, ignore_errors=True)
    code = _common.report(name, lines, total)
    if args.ship:
        shipped.parent.mkdir(parents=True, exist_ok=True)
        shipped.write_text('\n'.join([*lines, '', f'total wall time {_common.hms(total.elapsed)}']) + '\n')
        print(f'(and to {shipped})')
    return code


if __name__ == '__main__':
    sys.exit(main())
