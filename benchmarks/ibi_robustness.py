"""Benchmark: does the inversion converge unattended on targets it was never tuned on? (issue 9)

For every target x variant, the package's IBI driver (no AiiDA) inverts the target g(r) and the table
reports the first iteration with RMS(g - g_target) < 0.02 and < 0.01 (iterations count from 0: the run
of the initial -kT ln g potential is iteration 0), the best RMS, the noise floor (the RMS a perfect
potential would show: the median statistical error of one iteration's g(r), ``g_error_rms``, and the
target's own noise per bin, half the RMS difference of its two halves, added in squares), the outcome
(converged, stalled, not_converged, diverged, engine_failure), the CG pressure of the final potential's
run and the time.

Targets (``--targets``; default all that exist):

* ``aa:<name>`` -- the one-bead g(r) of an all-atom GROMACS run made by ``benchmarks/ibi_targets.py``
  (pristine 3MePe, EtBz, 234TriMePe and the synthetic ``syn-<molecule>-<seed>`` molecules), cached on
  0.005 nm bins and averaged pairwise onto 0.01 nm bins as the issue's independent target was;
  ``aa:<name>@0.02`` averages onto 0.02 nm bins and interpolates back to 0.01 (a coarser source grid).
* ``cg:<name>`` -- self-consistency: the g(r) of a LAMMPS run (1000 beads, 600 ps) of a known potential
  (``lj``: a 3MePe-sized Lennard-Jones bead, eps 2.5 kJ/mol, sigma 0.55 nm at 4.63 nm^-3; ``lj-methane``:
  eps 1.23 kJ/mol, sigma 0.373 nm at 12 nm^-3; ``shoulder``: the same LJ bead plus a repulsive Gaussian
  shoulder of 1.5 kJ/mol at 0.75 nm, a two-scale liquid).

Variants (``--variants``): ``ibi`` (plain IBI, full steps, no smoothing: the VOTCA baseline),
``ihnc-fixed`` (iterative HNC with full steps: the default before issue 9), ``ihnc`` (the default:
adaptive steps, back-tracking, fall-back to IBI on a stall, ends as 'stalled' with the best potential),
``ihnc+p`` (the default with the virial pressure correction to the target's own pressure: 1 bar for
the all-atom NPT runs, the reference run's pressure for the cg: targets).

Each inversion lives in ``benchmarks/results/ibi_robustness/<target><tag>/<variant>/`` and is resumed (or
skipped when finished) by a second invocation, so the table can be built over several sessions.  ``--ship``
copies the finished ones (result, history; the cg: targets' g(r)) to ``benchmarks/data/ibi_robustness/``,
from which ``--report-only`` rebuilds the table on a machine that ran none of them.
``--jobs`` inversions run at once, each LAMMPS with ``--threads`` threads; several invocations may run side by
side (each inversion takes a lock, and one that another invocation runs is skipped as 'busy').  Always exits 0.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

NAME = 'ibi_robustness'
WORK = _common.RESULTS_DIR / NAME
#: Finished inversions committed with the repository (their ibi_result.json and ibi_history.npz), read by
#: ``--report-only`` when the working folder lacks them; ``--ship`` copies the finished ones there.
SHIPPED = Path(__file__).resolve().parent / 'data' / NAME
SHIPPED_FILES = ('ibi_result.json', 'ibi_input.json', 'ibi.log', 'wall_seconds.txt')
#: The per-iteration figures of ibi_history.npz that are shipped (not the g(r) and potentials: 3 KB, not 75).
SHIPPED_HISTORY = ('iteration', 'rms', 'g_error_rms', 'pressure_bar', 'pressure_std_bar', 'number_density',
                   'timestep_ps', 'seconds', 'next_method', 'next_alpha', 'next_from_iteration')
VARIANTS = {
    'ibi': {'method': 'ibi', 'smoothing': 1, 'step_control': 'fixed'},
    'ihnc-fixed': {'method': 'ihnc', 'smoothing': 3, 'step_control': 'fixed'},
    'ihnc': {},
    'ihnc+p': {'pressure_target': 'target'},  # the target's own pressure: 1 bar (AA NPT), the reference run's (cg)
    'ihnc-box': {'ihnc_range': 'box'},  # the measured g in the Ornstein-Zernike step up to half the box (before)
}
CG_TARGETS = {  # name: (epsilon kJ/mol, sigma nm, number density nm^-3, mass g/mol, shoulder kJ/mol)
    'lj': (2.5, 0.55, 4.63, 86.18, 0.0),
    'lj-methane': (1.23, 0.373, 12.0, 16.04, 0.0),
    'shoulder': (2.5, 0.55, 4.63, 86.18, 1.5),
}
CUTOFF = 1.4  # nm


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--targets', nargs='+', help='targets (default: every cg: target and every cached aa: one)')
    parser.add_argument('--variants', nargs='+', default=['ibi', 'ihnc-fixed', 'ihnc'], choices=sorted(VARIANTS),
                        help='(default: %(default)s)')
    parser.add_argument('--beads', type=int, default=1000, help='CG beads (default: %(default)s)')
    parser.add_argument('--equilibration', type=float, default=10.0, help='ps per iteration (default: %(default)s)')
    parser.add_argument('--production', type=float, default=150.0, help='ps per iteration (default: %(default)s)')
    parser.add_argument('--timestep', type=float, default=0.004, help='ps (default: %(default)s)')
    parser.add_argument('--max-iterations', type=int, default=25, help='(default: %(default)s)')
    parser.add_argument('--jobs', type=int, default=2, help='inversions at once (default: %(default)s)')
    parser.add_argument('--threads', type=int, default=1, help='LAMMPS threads each (default: %(default)s)')
    parser.add_argument('--tag', default='', help='suffix of the working folders, for another setting of the runs')
    parser.add_argument('--report-only', action='store_true',
                        help='only tabulate what is finished (here, or else shipped in benchmarks/data)')
    parser.add_argument('--ship', action='store_true',
                        help='copy the finished inversions (result, history) to benchmarks/data/ibi_robustness')
    return parser.parse_args(argv)


def bin_average(r, g, width: float):
    """Average g(r) on uniform bins onto bins ``width`` wide (a multiple of the source width); centres, values."""
    import numpy as np

    source = float(r[1] - r[0])
    factor = int(round(width / source))
    if abs(factor * source - width) > 1e-9 or factor < 1:
        raise ValueError(f'{width} nm is not a multiple of the source bins ({source} nm)')
    n = len(g) // factor
    # shell-volume weights: the pair count of a wide bin is the sum of its narrow bins' counts
    weights = (r[: n * factor] ** 2).reshape(n, factor)
    values = (g[: n * factor].reshape(n, factor) * weights).sum(1) / weights.sum(1)
    return width * (np.arange(n) + 0.5), values


def cg_target(name: str) -> dict:
    """Make (or read) the g(r) of a known potential: LAMMPS, 1000 beads, 20 + 600 ps at 4 fs."""
    import numpy as np

    from aiida_cgmob.analysis import radial_distribution, read_beads
    from aiida_cgmob.lammps import lattice_configuration, prepare_run, run_lammps
    from aiida_cgmob.potentials import Potential, lennard_jones

    path = WORK / 'targets' / f'cg-{name}.npz'
    if not path.is_file() and (SHIPPED / 'targets' / path.name).is_file():
        path = SHIPPED / 'targets' / path.name
    epsilon, sigma, density, mass, shoulder = CG_TARGETS[name]
    if not path.is_file():
        grid = np.linspace(0.3, CUTOFF, 221)
        reference = lennard_jones(grid, epsilon=epsilon, sigma=sigma, cutoff=CUTOFF)
        if shoulder:
            bump = shoulder * np.exp(-((grid - 0.75) / 0.06) ** 2)
            reference = Potential.from_energy(grid, reference.energy + bump - bump[-1], shift=True)
        directory = WORK / 'targets' / f'cg-{name}'
        settings = {'equilibration': 20.0, 'production': 600.0, 'frame_interval': 0.5, 'timestep': 0.004,
                    'restart_interval': 600.0}
        prepare_run(directory, reference, mass, settings, configuration=lattice_configuration(1000, density, seed=5))
        log = run_lammps(directory, _common.lammps_executable(), 2)
        rdf = radial_distribution(read_beads(directory / 'production.xtc', mass), bin_width=0.01)
        np.savez(path, r=rdf.r, g=rdf.g, number_density=density, mass=mass,
                 pressure_bar=log.averages()['pressure_bar'])
        (directory / 'production.xtc').unlink()
    with np.load(path) as data:
        return {'r': data['r'], 'g': data['g'], 'number_density': float(data['number_density']),
                'mass': float(data['mass']), 'pressure_bar': float(data['pressure_bar'])}


def aa_target(name: str) -> dict:
    """A cached all-atom target of ibi_targets.py, averaged onto 0.01 nm bins (``@0.02``: 0.02, interpolated)."""
    import ibi_targets
    import numpy as np

    name, _, coarse = name.partition('@')
    data = ibi_targets.load_target(name)
    r, g = bin_average(np.asarray(data['r']), np.asarray(data['g']), 0.01)
    if coarse:
        r_coarse, g_coarse = bin_average(np.asarray(data['r']), np.asarray(data['g']), float(coarse))
        g = np.interp(r, r_coarse, g_coarse)
    # the target's own noise per bin: RMS of (half 1 - half 2) / 2 (each half has twice the variance of the whole)
    return {'r': r, 'g': g, 'number_density': float(data['number_density']), 'mass': float(data['mass']),
            'pressure_bar': 1.0, 'noise': ibi_targets.half_noise(data) / 2}


def all_targets() -> list[str]:
    import ibi_targets

    names = {path.stem for directory in (ibi_targets.CACHE_DIR, ibi_targets.SHIPPED_DIR) if directory.is_dir()
             for path in directory.glob('*.npz')}
    return [f'cg:{name}' for name in CG_TARGETS] + [f'aa:{name}' for name in sorted(names)]


def target_data(target: str) -> dict:
    kind, _, name = target.partition(':')
    return cg_target(name) if kind == 'cg' else aa_target(name)


def folder(target: str, variant: str, tag: str, root: Path = WORK) -> Path:
    return root / (target.replace(':', '_').replace('@', '_at') + tag) / variant


def finished(target: str, variant: str, tag: str) -> Path | None:
    """The folder holding a finished inversion: the working one, else the shipped one, else None."""
    for root in (WORK, SHIPPED):
        if (folder(target, variant, tag, root) / 'ibi_result.json').is_file():
            return folder(target, variant, tag, root)
    return None


def ship(target: str, variant: str, tag: str) -> None:
    """Copy a finished inversion's result, input, log and per-iteration figures to the shipped folder."""
    import shutil

    import numpy as np

    source, destination = folder(target, variant, tag), folder(target, variant, tag, SHIPPED)
    destination.mkdir(parents=True, exist_ok=True)
    for name in SHIPPED_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, destination / name)
    with np.load(source / 'ibi_history.npz') as history:
        np.savez_compressed(destination / 'ibi_history.npz',
                            **{name: history[name] for name in SHIPPED_HISTORY if name in history})
    if target.startswith('cg:') and (WORK / 'targets' / f'cg-{target[3:]}.npz').is_file():
        (SHIPPED / 'targets').mkdir(parents=True, exist_ok=True)
        shutil.copy2(WORK / 'targets' / f'cg-{target[3:]}.npz', SHIPPED / 'targets' / f'cg-{target[3:]}.npz')


def invert(target: str, variant: str, args) -> dict:
    """Run (or resume) one inversion; its summary (status 'busy' while another invocation runs it)."""
    import fcntl

    directory = folder(target, variant, args.tag)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / '.lock', 'w') as lock:
        try:  # several invocations may share the work: each inversion runs in one of them
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return {'target': target, 'variant': variant, 'status': 'busy'}
        return _invert(target, variant, directory, args)


def _invert(target: str, variant: str, directory: Path, args) -> dict:
    from aiida_cgmob.ibi import run_ibi, write_ibi_input

    result_file = directory / 'ibi_result.json'
    if not result_file.is_file():
        data = target_data(target)
        if not (directory / 'ibi_input.json').is_file():
            settings = dict(VARIANTS[variant], cutoff=CUTOFF, max_iterations=args.max_iterations, tolerance=0.01,
                            final_descriptors=False)
            if settings.get('pressure_target') == 'target':
                settings['pressure_target'] = data['pressure_bar']
            lammps_settings = {'equilibration': args.equilibration, 'production': args.production,
                               'frame_interval': 0.5, 'thermo_interval': 1.0, 'timestep': args.timestep,
                               'restart_interval': args.production}
            write_ibi_input(directory, data['r'], data['g'], data['mass'], data['number_density'],
                            n_beads=args.beads, settings=settings, lammps_settings=lammps_settings,
                            lmp=_common.lammps_executable(), threads=args.threads, seed=3)
        start = time.perf_counter()
        run_ibi(directory)
        (directory / 'wall_seconds.txt').write_text(f'{time.perf_counter() - start:.1f}\n')
    return summarise(target, variant, directory)


def summarise(target: str, variant: str, directory: Path) -> dict:
    import numpy as np

    result = json.loads((directory / 'ibi_result.json').read_text())
    data = target_data(target)
    summary = {'target': target, 'variant': variant, 'status': result['status'], 'message': result.get('message', ''),
               'pressure_target_bar': data['pressure_bar']}
    history_file = directory / 'ibi_history.npz'
    if history_file.is_file():
        with np.load(history_file) as history:
            rms, iterations, pressure = history['rms'], history['iteration'], history['pressure_bar']
            g_error = float(np.nanmedian(history['g_error_rms']))
        for level in (0.02, 0.01):
            below = np.flatnonzero(rms < level)
            summary[f'first_{level}'] = int(iterations[below[0]]) if below.size else None
        best = int(np.argmin(rms))
        # the RMS a perfect potential would show: one run's g(r) error and the target's own noise, added in squares
        summary['noise_floor'] = float(np.hypot(g_error, data.get('noise', 0.0)))
        summary.update(best_rms=float(rms[best]), best_iteration=int(iterations[best]), iterations=len(rms),
                       pressure_final_bar=float(pressure[best] if result['status'] != 'converged' else pressure[-1]),
                       seconds=float(result.get('seconds_per_iteration', np.nan)) * len(rms))
    return summary


def table(summaries: list[dict]) -> str:
    rows = []
    for s in summaries:
        rows.append([s['target'], s['variant'], s.get('first_0.02', '-') if s.get('first_0.02') is not None else '-',
                     s.get('first_0.01') if s.get('first_0.01') is not None else '-',
                     f'{s["best_rms"]:.4f}' if 'best_rms' in s else '-',
                     f'{s["noise_floor"]:.4f}' if 'noise_floor' in s else '-', s.get('iterations', '-'), s['status'],
                     f'{s["pressure_final_bar"]:.0f}' if 'pressure_final_bar' in s else '-',
                     f'{s["pressure_target_bar"]:.0f}' if 'pressure_target_bar' in s else '-',
                     f'{s["seconds"]:.0f}' if 'seconds' in s else '-'])
    return _common.format_table(['target', 'variant', '<0.02 at', '<0.01 at', 'best RMS', 'noise', 'iterations',
                                 'outcome', 'P final/bar', 'P target/bar', 's'], rows, 'llrrrrrlrrr')


def totals(summaries: list[dict], variants: list[str]) -> str:
    rows = []
    for variant in variants:
        mine = [s for s in summaries if s['variant'] == variant and 'best_rms' in s]
        if not mine:
            continue
        row = [variant, len(mine)]
        for level in (0.02, 0.01):
            reached = sorted(s[f'first_{level}'] for s in mine if s[f'first_{level}'] is not None)
            median = reached[len(reached) // 2] if reached else '-'
            row += [len(reached), median]
        outcomes = {}
        for s in mine:
            outcomes[s['status']] = outcomes.get(s['status'], 0) + 1
        row.append(', '.join(f'{k} {v}' for k, v in sorted(outcomes.items())))
        rows.append(row)
    return _common.format_table(['variant', 'targets', 'reached 0.02', 'median it.', 'reached 0.01', 'median it.',
                                 'outcomes'], rows, 'lrrrrrl')


def plot(jobs: list[tuple[str, str]], tag: str) -> Path | None:
    """RMS and pressure per iteration, one column per target, one line per variant: results/<name>.png."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np

    targets = list(dict.fromkeys(target for target, _ in jobs))
    histories = {}
    for target, variant in jobs:
        path = folder(target, variant, tag) / 'ibi_history.npz'
        if path.is_file():
            with np.load(path) as data:
                histories[target, variant] = (data['iteration'], data['rms'], data['pressure_bar'])
    if not histories:
        return None
    targets = [target for target in targets if any(name == target for name, _ in histories)]  # no panel if no run
    columns = min(len(targets), 6)
    rows = 2 * int(np.ceil(len(targets) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.4 * rows), squeeze=False, sharex=True)
    for index, target in enumerate(targets):
        top, bottom = axes[2 * (index // columns), index % columns], axes[2 * (index // columns) + 1, index % columns]
        for (name, variant), (iteration, rms, pressure) in histories.items():
            if name == target:
                top.semilogy(iteration, rms, marker='.', label=variant)
                bottom.plot(iteration, pressure, marker='.', label=variant)
        for level in (0.02, 0.01):
            top.axhline(level, color='grey', lw=0.6, ls='--')
        top.set_title(target, fontsize=9)
        top.set_ylabel('RMS(g - g_target)')
        bottom.set_ylabel('P / bar')
        bottom.set_xlabel('iteration')
    axes[0, 0].legend(fontsize=7)
    figure.tight_layout()
    path = _common.RESULTS_DIR / f'{NAME}{tag}.png'
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def main(argv=None) -> int:
    args = parse_args(argv)
    watch = _common.Stopwatch()
    targets = args.targets or all_targets()
    for target in targets:  # the cg: targets are made once, before the pool (they use both threads)
        if target.startswith('cg:'):
            cg_target(target[3:])
    jobs = [(target, variant) for target in targets for variant in args.variants]
    summaries = []
    if args.report_only:
        summaries = [summarise(t, v, finished(t, v, args.tag)) for t, v in jobs if finished(t, v, args.tag)]
    else:
        with concurrent.futures.ProcessPoolExecutor(max_workers=args.jobs) as pool:
            futures = {pool.submit(invert, target, variant, args): (target, variant) for target, variant in jobs}
            for future in concurrent.futures.as_completed(futures):
                target, variant = futures[future]
                try:
                    summaries.append(future.result())
                except Exception as exception:  # noqa: BLE001 -- one failed inversion must not stop the table
                    summaries.append({'target': target, 'variant': variant, 'status': f'error: {exception}'})
                print(f'{watch.elapsed:7.0f} s  {target} {variant}: {summaries[-1]["status"]}', flush=True)
    if args.ship:
        for target, variant in jobs:
            if (folder(target, variant, args.tag) / 'ibi_result.json').is_file():
                ship(target, variant, args.tag)
    order = {(t, v): i for i, (t, v) in enumerate(jobs)}
    summaries.sort(key=lambda s: order[(s['target'], s['variant'])])
    lines = [f'{NAME}: iterations to RMS(g - g_target) < 0.02 and < 0.01 on targets the defaults were not tuned on',
             f'CG: {args.beads} beads NVT at the target density, cutoff {CUTOFF} nm, per iteration '
             f'{args.equilibration:g} + {args.production:g} ps at {args.timestep * 1000:g} fs (frames every 0.5 ps), '
             f'at most {args.max_iterations} iterations, stop at 0.01; RMS over [first g_target > 0.05, cutoff] on '
             f'0.01 nm bins; {args.jobs} inversions at once with {args.threads} LAMMPS thread(s) each',
             f'variants: {json.dumps({v: VARIANTS[v] for v in args.variants})}', '',
             table(summaries), '', 'per variant:', totals(summaries, args.variants)]
    figure = plot(jobs, args.tag)
    if figure is not None:
        lines += ['', f'RMS and pressure per iteration: {figure}']
    return _common.report(NAME + args.tag, lines, watch)


if __name__ == '__main__':
    sys.exit(main())
