"""Benchmark: what the analysis costs next to the MD it analyses (issue 9, "today" figures).

Three measurements in one process on one machine, no AiiDA:

1. **descriptors / LAMMPS of a CG run.**  The package's own LAMMPS kernel (``prepare_run`` +
   ``run_lammps``) runs ``--beads`` beads with a tabulated 12-6 Lennard-Jones potential standing in
   for a 3-methylpentane bead (epsilon 2.5 kJ/mol, sigma 0.55 nm, cutoff 1.4 nm, 86.18 g/mol,
   4.63 nm^-3, NVT 298.15 K, 5 fs as the ``precise`` protocol) for ``--equilibration`` +
   ``--production`` ps with a frame every ``--frame-interval`` ps; then the descriptors of its
   trajectory are timed as a job computes them (``read_beads`` + ``compute_descriptors``, g(r) to
   2.5 nm or half the box, 0.005 nm bins), and once more piece by piece (reading, g(r), MSD, the D
   fit and densities).  The ``precise`` case of issue 9 is 1000 beads, 200 + 2000 ps, a frame every
   1 ps; the default here is scaled to 20 + 200 ps (both times grow linearly with the length, so the
   ratio carries over; the report says when the run is scaled).
2. **one IBI iteration outside LAMMPS / LAMMPS.**  The IBI driver (``write_ibi_input`` + ``IbiRun``)
   inverts the g(r) of run 1 (to half the box, 0.01 nm bins) with the default settings, 1000 beads,
   ``--ibi-equilibration`` + ``--ibi-production`` ps per iteration at 2 fs (the ``moderate``
   protocol), ``--ibi-iterations`` iterations.  Per iteration: the driver's own ``lammps_seconds``
   (prepare + run) and ``analysis_seconds`` (read + g(r) + RMS), and the whole iteration's wall
   time, so that "outside LAMMPS" also counts the update, the checkpoint and the pruning.
3. **statistical quality of g(r) and D** (so a faster method can be compared at equal quality):
   on run 1's frames, RMS of g(r) between the two halves, the block standard error of g(r) (5
   contiguous blocks), g(r) from every k-th frame against all frames (and its time), D with its
   error (spread of x, y, z) on all frames and on each half with the same fit window.

Always exits 0 (a benchmark, not a test; no timed assertions).  The report is printed and written to
benchmarks/results/analysis_cost.txt; the runs live under benchmarks/results/analysis_cost/.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

NAME = 'analysis_cost'
MASS = 86.18  # g/mol, 3-methylpentane
NUMBER_DENSITY = 4.63  # nm^-3, 3-methylpentane at 298 K
CUTOFF = 1.4  # nm
EPSILON, SIGMA = 2.5, 0.55  # kJ/mol, nm: a 3-methylpentane-sized LJ bead (rho* = 0.77, T* = 0.99: a liquid)
PRECISE = {'beads': 1000, 'equilibration': 200.0, 'production': 2000.0, 'frame_interval': 1.0}
RDF_BIN = 0.005  # nm, compute_descriptors' default
IBI_BIN = 0.01  # nm, the driver's default
QUALITY_RANGE = (0.3, 2.5)  # nm, where g(r) differences are measured (below 0.3 nm g = 0 for every method)
STRIDES = (1, 2, 5, 10)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--beads', type=int, default=1000, help='beads of the CG run (default: %(default)s)')
    parser.add_argument('--equilibration', type=float, default=20.0,
                        help='CG run equilibration, ps (default: %(default)s; precise: 200)')
    parser.add_argument('--production', type=float, default=200.0,
                        help='CG run production, ps (default: %(default)s; precise: 2000)')
    parser.add_argument('--frame-interval', type=float, default=1.0,
                        help='CG run frame interval, ps (default: %(default)s, as precise)')
    parser.add_argument('--timestep', type=float, default=0.005, help='CG run time step, ps (default: %(default)s)')
    parser.add_argument('--threads', type=int, default=2, help='LAMMPS OpenMP threads (default: %(default)s)')
    parser.add_argument('--ibi-beads', type=int, default=1000, help='beads of the IBI runs (default: %(default)s)')
    parser.add_argument('--ibi-equilibration', type=float, default=10.0,
                        help='IBI equilibration per iteration, ps (default: %(default)s)')
    parser.add_argument('--ibi-production', type=float, default=150.0,
                        help='IBI production per iteration, ps (default: %(default)s)')
    parser.add_argument('--ibi-iterations', type=int, default=3, help='IBI iterations; 0 skips part 2 '
                                                                      '(default: %(default)s)')
    parser.add_argument('--aa-run', type=Path, default=None,
                        help='folder of an all-atom GROMACS production (production.tpr, .xtc, .log) for part 4 '
                             '(default: the first cached run of ibi_targets.py; none: part 4 is skipped)')
    parser.add_argument('--seed', type=int, default=7, help='lattice and velocity seed (default: %(default)s)')
    parser.add_argument('--work', type=Path, default=_common.RESULTS_DIR / NAME,
                        help='working directory, emptied first (default: %(default)s)')
    return parser.parse_args(argv)



def machine_header(threads: int) -> list[str]:
    model = _common.cpu_model()
    # os.cpu_count, not `nproc`: nproc honours OMP_NUM_THREADS and would print the threads, not the cores
    cores = f'{os.cpu_count()} cores' + (f', OMP_NUM_THREADS {os.environ["OMP_NUM_THREADS"]}'
                                         if 'OMP_NUM_THREADS' in os.environ else '')
    load = ', '.join(f'{value:.2f}' for value in os.getloadavg())
    import numpy

    return [f'machine: {platform.node()}, {cores}, CPU {model}; load average at start {load}',
            f'date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; Python '
            f'{platform.python_version()}, numpy {numpy.__version__}; LAMMPS {_common.lammps_executable()} with '
            f'{threads} OpenMP threads']


def timed(function, *arguments, **keywords):
    start = time.perf_counter()
    result = function(*arguments, **keywords)
    return time.perf_counter() - start, result


def rms(a, b, r, r_range=QUALITY_RANGE) -> float:
    import numpy as np

    inside = (r >= r_range[0]) & (r <= r_range[1])
    return float(np.sqrt(np.mean((a[inside] - b[inside]) ** 2)))


def part_cg_run(args, work: Path) -> tuple[list[str], dict]:
    """Part 1: the CG run, its descriptors as a job computes them, and the pieces."""
    import numpy as np

    from aiida_cgmob.analysis import compute_descriptors, read_beads
    from aiida_cgmob.analysis.descriptors import fit_diffusion, mean_squared_displacement, radial_distribution
    from aiida_cgmob.analysis.mapping import box_volumes
    from aiida_cgmob.lammps import lattice_configuration, prepare_run, run_lammps
    from aiida_cgmob.lammps.inputs import TRAJECTORY_NAME
    from aiida_cgmob.potentials import lennard_jones

    directory = work / 'cg_run'
    potential = lennard_jones(np.linspace(0.4, CUTOFF, 201), epsilon=EPSILON, sigma=SIGMA, cutoff=CUTOFF)
    settings = {'timestep': args.timestep, 'equilibration': args.equilibration, 'production': args.production,
                'frame_interval': args.frame_interval, 'thermo_interval': 2.0 * args.frame_interval,
                'restart_interval': max(args.production, args.frame_interval), 'seed': args.seed}
    configuration = lattice_configuration(args.beads, NUMBER_DENSITY, seed=args.seed)
    print(f'part 1: LAMMPS, {args.beads} beads, {args.equilibration:g} + {args.production:g} ps ...', flush=True)
    t_prepare, _ = timed(prepare_run, directory, potential, MASS, settings, configuration=configuration)
    t_lammps, log = timed(run_lammps, directory, _common.lammps_executable(), args.threads)
    xtc = directory / TRAJECTORY_NAME
    print(f'  LAMMPS {t_lammps:.1f} s; descriptors ...', flush=True)

    # as a job does it: read the trajectory, compute every descriptor with the defaults
    start = time.perf_counter()
    trajectory = read_beads(xtc, MASS)
    descriptors = compute_descriptors(trajectory)
    t_descriptors = time.perf_counter() - start

    # the same pieces one by one (a second pass: the xtc is in the page cache now)
    t_read, trajectory = timed(read_beads, xtc, MASS)
    t_rdf, rdf = timed(radial_distribution, trajectory, None, RDF_BIN)
    t_rdf_cutoff, _ = timed(radial_distribution, trajectory, CUTOFF, RDF_BIN)
    t_unwrap, _ = timed(trajectory.unwrapped)
    t_msd, msd = timed(mean_squared_displacement, trajectory)
    start = time.perf_counter()
    volumes = box_volumes(trajectory.dimensions)
    fit_diffusion(msd, float(np.cbrt(volumes.mean())))
    t_fit = time.perf_counter() - start
    pieces = t_read + t_rdf + t_msd + t_fit
    comparison = kernel_against_pair_list(trajectory, rdf)

    n_frames, n_beads = trajectory.n_frames, trajectory.n_beads
    scaled = (args.beads, args.equilibration, args.production, args.frame_interval) != tuple(PRECISE.values())
    steps = int(round((args.equilibration + args.production) / args.timestep))
    ns_day = log.performance_ns_day[-1] if log.performance_ns_day else float('nan')
    box = float(np.cbrt(volumes.mean()))
    lines = [
        '1. descriptors / LAMMPS of a CG run '
        + (f'(SCALED: {args.beads} beads, {args.equilibration:g} + {args.production:g} ps, a frame every '
           f'{args.frame_interval:g} ps; precise is {PRECISE["beads"]} beads, {PRECISE["equilibration"]:g} + '
           f'{PRECISE["production"]:g} ps, a frame every {PRECISE["frame_interval"]:g} ps)' if scaled
           else '(the precise case)'),
        f'   LJ eps {EPSILON:g} kJ/mol sigma {SIGMA:g} nm, cutoff {CUTOFF:g} nm, {MASS:g} g/mol, {NUMBER_DENSITY:g} '
        f'nm^-3 (box {box:.3f} nm), NVT 298.15 K, {args.timestep * 1000:g} fs ({steps} steps incl. equilibration), '
        f'{args.threads} threads',
        f'   LAMMPS (run_lammps: minimise + equilibration + production)  {t_lammps:8.2f} s  '
        f'({ns_day:.0f} ns/day in production; prepare_run {t_prepare:.2f} s, not counted)',
        f'   descriptors (read_beads + compute_descriptors)               {t_descriptors:8.2f} s  '
        f'({n_frames} frames x {n_beads} beads, g(r) to {descriptors.rdf.r_max:g} nm on {RDF_BIN:g} nm bins)',
        f'   descriptors / LAMMPS                                          {t_descriptors / t_lammps:8.3f}     '
        '(issue 9 target <= 0.10; issue 9 measured 136 s / 393 s = 0.35 for precise)',
        f'   per frame: descriptors {1e3 * t_descriptors / n_frames:.1f} ms, LAMMPS '
        f'{1e3 * t_lammps / n_frames:.1f} ms (LAMMPS makes one frame per '
        f'{int(round(args.frame_interval / args.timestep))} steps)',
        '   where the descriptors time goes (timed again piece by piece):',
        _indent(_common.format_table(
            ['piece', 's', 'share', 'ms/frame'],
            [[name, f'{t:.2f}', f'{100 * t / pieces:.0f} %', f'{1e3 * t / n_frames:.2f}'] for name, t in (
                ('read_beads (xtc -> nm arrays)', t_read),
                (f'radial_distribution (r_max {rdf.r_max:g} nm)', t_rdf),
                ('mean_squared_displacement (FFT, incl. unwrap)', t_msd),
                ('  of which unwrapped() alone', t_unwrap),
                ('fit_diffusion + volumes', t_fit))], 'lrrr'), 6),
        f'      sum of the pieces {pieces:.2f} s (the first pass also imports MDAnalysis, as a job does); for '
        f'comparison g(r) only to the cutoff {CUTOFF:g} nm: {t_rdf_cutoff:.2f} s ({1e3 * t_rdf_cutoff / n_frames:.2f} '
        'ms/frame)',
        comparison,
    ]
    data = {'trajectory': trajectory, 'descriptors': descriptors, 't_lammps': t_lammps,
            't_descriptors': t_descriptors, 'box': box}
    return lines, data


def kernel_against_pair_list(trajectory, rdf, frames: int = 200) -> str:
    """The compiled histogram against MDAnalysis' pair list (the code before issue 9) on the same frames."""
    import numpy as np

    from aiida_cgmob.analysis import BeadTrajectory
    from aiida_cgmob.analysis.descriptors import _pair_list_counts, ideal_pair_counts, pair_correlation

    part = BeadTrajectory(trajectory.positions[:frames], trajectory.dimensions[:frames], trajectory.times[:frames],
                          trajectory.bead_mass)
    edges = np.r_[rdf.r - rdf.bin_width / 2, rdf.r[-1] + rdf.bin_width / 2]
    edges[0] = 0.0
    t_kernel, g_kernel = timed(pair_correlation, part, edges)
    start = time.perf_counter()
    counts = _pair_list_counts(part, edges).sum(axis=0)
    t_list = time.perf_counter() - start
    n = part.n_beads
    g_list = counts / ideal_pair_counts(part, edges).sum(axis=0)
    return (f'      compiled histogram vs MDAnalysis pair list (the pre-issue-9 code), first {part.n_frames} frames: '
            f'{1e3 * t_kernel / part.n_frames:.2f} vs {1e3 * t_list / part.n_frames:.2f} ms/frame '
            f'({t_list / t_kernel:.1f}x); max |g_kernel - g_list| = {np.abs(g_kernel - g_list).max():.1e} over '
            f'{g_kernel.size} bins ({n} beads)')


def part_aa(run: Path) -> list[str]:
    """Part 4: descriptors of an all-atom production next to its mdrun wall time (from its own log)."""
    import re

    from aiida_cgmob.analysis import compute_descriptors, map_gromacs

    log = (run / 'production.log').read_text()
    match = re.search(r'^\s+Time:\s+([\d.]+)\s+([\d.]+)', log, re.MULTILINE)
    if match is None:
        return [f'4. all-atom production: no mdrun timing in {run / "production.log"}; skipped']
    mdrun = float(match.group(2))
    start = time.perf_counter()
    trajectory = map_gromacs(run / 'production.tpr', run / 'production.xtc')
    t_map = time.perf_counter() - start
    span = float(trajectory.times[-1] - trajectory.times[0])
    # a fixed D window: a short production may have no automatic one, and the fit costs nothing either way
    descriptors = compute_descriptors(trajectory, fit_window=[0.1 * span, 0.5 * span])
    t_total = time.perf_counter() - start
    atoms = int(re.search(r'There are:\s+(\d+)\s+Atoms', log).group(1)) if 'There are:' in log else None
    return [
        '4. descriptors / GROMACS of an all-atom production',
        f'   {run}: {trajectory.n_beads} molecules{f" ({atoms} atoms)" if atoms else ""}, {trajectory.n_frames} '
        f'frames ({trajectory.times[0]:g}-{trajectory.times[-1]:g} ps)',
        f'   mdrun wall time (its log)                                  {mdrun:8.2f} s',
        f'   descriptors (map_gromacs + compute_descriptors)             {t_total:8.2f} s  (mapping {t_map:.2f} s; '
        f'g(r) to {descriptors.rdf.r_max:g} nm)',
        f'   descriptors / GROMACS                                       {t_total / mdrun:8.3f}     '
        '(issue 9 target <= 0.10)',
    ]


def _indent(text: str, width: int) -> str:
    return '\n'.join(' ' * width + line for line in text.splitlines())


def timed_ibi_run(directory: Path):
    """An IbiRun whose iterations are timed from the start of the LAMMPS run to the saved checkpoint."""
    from aiida_cgmob.ibi import IbiRun

    class TimedIbiRun(IbiRun):
        def __init__(self, *arguments, **keywords):
            super().__init__(*arguments, **keywords)
            self.iteration_start: list[float] = []
            self.iteration_end: list[float] = []

        def _run_iteration(self, *arguments, **keywords):
            self.iteration_start.append(time.perf_counter())
            return super()._run_iteration(*arguments, **keywords)

        def _save_state(self, state):
            super()._save_state(state)
            self.iteration_end.append(time.perf_counter())

    return TimedIbiRun(directory)


def part_ibi(args, work: Path, trajectory, box: float) -> list[str]:
    """Part 2: the IBI driver on run 1's g(r)."""
    from aiida_cgmob.analysis.descriptors import half_box_width, radial_distribution
    from aiida_cgmob.ibi import write_ibi_input

    half_box = (args.ibi_beads / NUMBER_DENSITY) ** (1 / 3) / 2
    r_max = min(half_box_width(trajectory.dimensions), half_box)
    target = radial_distribution(trajectory, r_max=r_max - 1e-6, bin_width=IBI_BIN)
    directory = work / 'ibi'
    lammps_settings = {'timestep': 0.002, 'equilibration': args.ibi_equilibration, 'production': args.ibi_production,
                       'frame_interval': 0.5, 'thermo_interval': 1.0, 'restart_interval': args.ibi_production}
    settings = {'max_iterations': args.ibi_iterations, 'tolerance': 1e-9, 'final_descriptors': False}
    write_ibi_input(directory, target.r, target.g, MASS, NUMBER_DENSITY, n_beads=args.ibi_beads, settings=settings,
                    lammps_settings=lammps_settings, lmp=_common.lammps_executable(), threads=args.threads,
                    seed=args.seed)
    print(f'part 2: IBI, {args.ibi_iterations} iterations of {args.ibi_beads} beads, {args.ibi_equilibration:g} + '
          f'{args.ibi_production:g} ps ...', flush=True)
    run = timed_ibi_run(directory)
    start = time.perf_counter()
    result = run.run()
    total = time.perf_counter() - start
    records = json.loads((directory / 'ibi_state.json').read_text())['records']
    rows, ratios = [], []
    for record, begin, end in zip(records, run.iteration_start, run.iteration_end, strict=False):
        wall = end - begin
        outside = wall - record['lammps_seconds']
        ratios.append(outside / record['lammps_seconds'])
        rows.append([record['iteration'], f'{record["rms"]:.4f}', f'{record["lammps_seconds"]:.2f}',
                     f'{record["analysis_seconds"]:.2f}', f'{outside - record["analysis_seconds"]:.2f}',
                     f'{wall:.2f}', f'{record["analysis_seconds"] / record["lammps_seconds"]:.3f}',
                     f'{ratios[-1]:.3f}'])
    scaled = (args.ibi_beads, args.ibi_equilibration, args.ibi_production) != (1000, 10.0, 150.0)
    n_frames = int(round(args.ibi_production / 0.5)) + 1
    return [
        '2. one IBI iteration: time outside LAMMPS / LAMMPS '
        + ('(SCALED from 1000 beads, 10 + 150 ps)' if scaled else '(the issue 9 case: 1000 beads, 10 + 150 ps)'),
        f'   target: g(r) of run 1 to {target.r_max:g} nm on {IBI_BIN:g} nm bins; default settings (method '
        f'ihnc), cutoff {CUTOFF:g} nm, {args.ibi_beads} beads NVT at {NUMBER_DENSITY:g} nm^-3, per iteration '
        f'{args.ibi_equilibration:g} + {args.ibi_production:g} ps at 2 fs, frames every 0.5 ps ({n_frames} frames), '
        f'g(r) to half the box ({half_box:.3f} nm -> {run.r[-1] + IBI_BIN / 2:g} nm), final descriptors off',
        '   lammps = the driver\'s lammps_seconds (prepare_run + run_lammps); analysis = its analysis_seconds '
        '(read_beads + g(r) + RMS); update etc. = the rest of the iteration (update, checkpoint, pruning)',
        _indent(_common.format_table(
            ['iteration', 'RMS', 'lammps/s', 'analysis/s', 'update etc./s', 'iteration/s', 'analysis/lammps',
             'outside/lammps'], rows, 'rrrrrrrr'), 3),
        f'   mean outside LAMMPS / LAMMPS {sum(ratios) / max(len(ratios), 1):.3f} (issue 9 target <= 0.15; issue 9 '
        f'measured 16 s / 35 s = 0.46); status {result["status"]}, whole run_ibi {total:.1f} s',
    ]


def part_quality(trajectory, descriptors) -> list[str]:
    """Part 3: noise of g(r) and D on run 1's frames."""
    import numpy as np

    from aiida_cgmob.analysis import BeadTrajectory
    from aiida_cgmob.analysis.descriptors import fit_diffusion, mean_squared_displacement, radial_distribution
    from aiida_cgmob.analysis.mapping import box_volumes

    def subset(frames) -> BeadTrajectory:
        return BeadTrajectory(trajectory.positions[frames], trajectory.dimensions[frames], trajectory.times[frames],
                              trajectory.bead_mass, source=trajectory.source)

    n, times = trajectory.n_frames, trajectory.times
    r_max = descriptors.rdf.r_max
    g_all, r = descriptors.rdf.g, descriptors.rdf.r
    halves = [np.arange(0, n // 2), np.arange(n // 2, n)]
    g_halves = [radial_distribution(subset(h), r_max, RDF_BIN).g for h in halves]
    n_blocks = 5
    blocks = np.array_split(np.arange(n), n_blocks)
    g_blocks = np.array([radial_distribution(subset(b), r_max, RDF_BIN).g for b in blocks])
    block_error = g_blocks.std(axis=0, ddof=1) / np.sqrt(n_blocks)
    inside = (r >= QUALITY_RANGE[0]) & (r <= QUALITY_RANGE[1])

    def frames_text(frames) -> str:
        return f'frames {frames[0]}-{frames[-1]} ({times[frames[0]]:g}-{times[frames[-1]]:g} ps, {len(frames)})'

    lines = [
        '3. statistical quality of g(r) and D on run 1 (the bar a faster method must meet)',
        f'   all: {frames_text(np.arange(n))}; g(r) on {RDF_BIN:g} nm bins, differences over '
        f'{QUALITY_RANGE[0]:g}-{QUALITY_RANGE[1]:g} nm',
        f'   halves: {frames_text(halves[0])} vs {frames_text(halves[1])}',
        f'     RMS(g_half1 - g_half2) = {rms(g_halves[0], g_halves[1], r):.4f}; expected RMS(g_all - g_true) '
        f'~ half of it = {rms(g_halves[0], g_halves[1], r) / 2:.4f} if frames were independent',
        f'   {n_blocks} contiguous blocks of ~{len(blocks[0])} frames: standard error of g_all per bin, mean '
        f'{block_error[inside].mean():.4f}, max {block_error[inside].max():.4f} (at r = '
        f'{r[inside][np.argmax(block_error[inside])]:.3f} nm), RMS {np.sqrt(np.mean(block_error[inside] ** 2)):.4f}',
        '   g(r) from every k-th frame vs all frames (subsampling correlated frames):',
    ]
    rows = []
    for stride in STRIDES:
        frames = np.arange(0, n, stride)
        seconds, rdf = timed(radial_distribution, subset(frames), r_max, RDF_BIN)
        rows.append([stride, len(frames), f'{stride * (times[1] - times[0]):g}', f'{seconds:.2f}',
                     f'{rms(rdf.g, g_all, r):.4f}'])
    lines.append(_indent(_common.format_table(['k', 'frames', 'interval/ps', 'g(r) s', 'RMS vs all'], rows,
                                              'rrrrr'), 5))
    d = descriptors.diffusion
    lines += [f'   D (all frames, fit {d.fit_window[0]:.3g}-{d.fit_window[1]:.3g} ps, {d.window_chosen}): '
              f'{d.D_si:.4f} +- {d.D_error * 1e3:.4f} 1e-9 m^2/s (x, y, z: '
              f'{", ".join(f"{v * 1e3:.4f}" for v in d.D_xyz)}; error = spread of x, y, z / sqrt 3)']
    for label, frames in zip(('half 1', 'half 2'), halves, strict=True):
        part = subset(frames)
        msd = mean_squared_displacement(part)
        window = [d.fit_window[0], min(d.fit_window[1], 0.5 * msd.t[-1])]
        try:
            fit = fit_diffusion(msd, float(np.cbrt(box_volumes(part.dimensions).mean())), window)
        except ValueError as exception:
            lines.append(f'   D ({label}): not fitted: {exception}')
            continue
        lines.append(f'   D ({label}, {frames_text(frames)}, fit {window[0]:.3g}-{window[1]:.3g} ps): '
                     f'{fit.D_si:.4f} +- {fit.D_error * 1e3:.4f} 1e-9 m^2/s')
    return lines


def main(argv=None) -> int:
    args = parse_args(argv)
    total = _common.Stopwatch()
    work = args.work
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    lines = ['analysis_cost: descriptors and IBI analysis next to the LAMMPS time (issue 9)', *machine_header(
        args.threads), '']
    part1, data = part_cg_run(args, work)
    lines += part1 + ['']
    print('\n'.join(part1), flush=True)
    if args.ibi_iterations > 0:
        part2 = part_ibi(args, work, data['trajectory'], data['box'])
        lines += part2 + ['']
        print('\n'.join(part2), flush=True)
    print('part 3: quality ...', flush=True)
    lines += part_quality(data['trajectory'], data['descriptors'])
    runs = sorted((_common.RESULTS_DIR / 'ibi_targets' / 'runs').glob('*/production.log'))
    aa_run = args.aa_run or (runs[0].parent if runs else None)
    if aa_run is not None:
        lines += [''] + part_aa(aa_run)
    else:
        lines += ['', '4. all-atom production: none given (--aa-run) and none cached by ibi_targets.py; skipped']
    return _common.report(NAME, lines, total)


if __name__ == '__main__':
    sys.exit(main())
