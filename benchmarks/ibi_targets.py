"""Benchmark helper: target g(r)s for the IBI robustness benchmark, made with GROMACS and cached.

A target is the centre-of-mass (one bead per molecule) g(r) of an all-atom OPLS-AA NPT production of a
pure liquid at 298.15 K and 1 bar: the three pristine training molecules (``3MePe``, ``EtBz``,
``234TriMePe``) and 24 synthetic ones, ``syn-<molecule>-<seed>``, whose bonded parameters the package's
sampler draws from its wide default ranges with that seed (seeds 1-9 of 3MePe, 1-8 of EtBz, 1-7 of
234TriMePe).  Per target: build ``--molecules`` molecules, then minimise -> NVT -> NPT -> NPT production
with the package's standard 2 fs settings (``_common.md_stages``), map the production to molecular centres of
mass and compute g(r) (0.005 nm bins to 2.5 nm or half the box), g(r) of each half of the frames (for the
noise), the number density and D.

Each target is cached as ``benchmarks/results/ibi_targets/<name>.npz`` (read it with :func:`load_target`);
a run that fails (grompp error, LINCS, blow-up, ...) is recorded in ``<name>.failed.json`` and skipped.  A
second invocation skips both unless ``--regenerate``.  The GROMACS runs are kept in ``runs/<name>/``
(``--reanalyse`` redoes the analysis from them).  One invocation at a time (a lock file), one GROMACS job at
a time.  No AiiDA.  The table is printed and written to ``benchmarks/results/ibi_targets.txt``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import socket
import sys
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

NAME = 'ibi_targets'
CACHE_DIR = _common.RESULTS_DIR / NAME
RUNS_DIR = CACHE_DIR / 'runs'
#: Targets committed with the repository (made by this script; see the README there), read when not cached.
SHIPPED_DIR = Path(__file__).resolve().parent / 'data' / NAME
PRISTINE = ('3MePe', 'EtBz', '234TriMePe')
#: Sampling seeds of the synthetic targets: 7 + 7 + 6 = 20.
#: 9 + 8 + 7 = 24, of which 20 run: ethylbenzenes 5-8 fail in GROMACS (LINCS; their sampled bonds break the ring).
SYNTHETIC_SEEDS = {'3MePe': range(1, 10), 'EtBz': range(1, 9), '234TriMePe': range(1, 8)}
# Seed by seed across the molecules, so that a partial generation covers all three.
TARGETS = [*PRISTINE, *(f'syn-{molecule}-{seed}' for seed in range(1, 10) for molecule in PRISTINE
                        if seed in SYNTHETIC_SEEDS[molecule])]

TEMPERATURE = 298.15  # K
PRESSURE = 1.0  # bar
BIN_WIDTH = 0.005  # nm, the bins of the cached g(r)
NOISE_BIN = 0.01  # nm, the IBI grid the noise is quoted on
NOISE_RANGE = (0.3, 1.4)  # nm
# Defaults sized on this machine (2 cores, GROMACS 2022, ~22-25 ns/day for 400 x 3MePe = 8000 atoms with 2
# threads when the machine is not shared): ~60 ps of MD = 3-4 min per target; see benchmarks/README.md.
DEFAULT_MOLECULES = 400
DEFAULT_NVT_PS = 2.0  # thermalises after the minimisation; the NPT stage does the real equilibration
DEFAULT_NPT_PS = 23.0
DEFAULT_PRODUCTION_PS = 35.0
DEFAULT_FRAME_PS = 0.1  # frames 0.1 ps apart still add information to g(r) (0.2 ps gives 1.2x the noise)
# Packing at 85 % of the liquid density shortens the NPT compression; random insertion fails above ~85 %
# (234TriMePe: lower), so the factor steps down until the box packs.
START_DENSITY_FACTORS = (0.85, 0.8, 0.75, 0.7)
PACKING_SEED = 0
D_FIT_START = 2.0  # ps, start of the fallback fit window of D
# Half means of N/V differ by up to ~0.6 % by chance in a 400-molecule NPT box (the volume fluctuates by
# 0.6-0.9 %, slowly); beyond DRIFT_LIMIT the liquid is still compressing or expanding.
DRIFT_LIMIT = 0.015
MAX_EXTENSIONS = 2
DRIFT_WARNING = 0.01  # relative density change between the production halves worth flagging in the table


def parse_target(name: str) -> tuple[str, int | None]:
    """(molecule, sampling seed or None for pristine) of a target name such as ``syn-EtBz-3``.

    Parameters
    ----------
    name
        ``3MePe``, ``EtBz``, ``234TriMePe`` or ``syn-<molecule>-<seed>``.

    Returns
    -------
    tuple of (str, int or None)
        The built-in molecule name and the seed (None: the OPLS-AA parameters).
    """
    if name in PRISTINE:
        return name, None
    parts = name.split('-')
    if len(parts) == 3 and parts[0] == 'syn' and parts[1] in PRISTINE and parts[2].isdigit():
        return parts[1], int(parts[2])
    raise ValueError(f'unknown target {name!r}: one of {", ".join(PRISTINE)} or syn-<molecule>-<seed>')


def target_path(name: str) -> Path:
    """The cache file of a target: ``results/ibi_targets/<name>.npz``."""
    return CACHE_DIR / f'{name}.npz'


def failure_path(name: str) -> Path:
    """The failure record of a target: ``results/ibi_targets/<name>.failed.json``."""
    return CACHE_DIR / f'{name}.failed.json'


def load_target(name: str) -> dict:
    """Read a cached target.

    Parameters
    ----------
    name
        Target name (see :data:`TARGETS`).

    Returns
    -------
    dict
        Arrays ``r`` (nm, bin centres), ``g``, ``g_half1``, ``g_half2``; scalars ``number_density``
        (nm^-3), ``mass`` (g/mol), ``temperature`` (K), ``D`` (nm^2/ps, NaN if the fit failed),
        ``n_molecules``, ``production_ps``, ``n_frames``, ``gromacs_seconds`` as Python numbers; ``info``
        as the parsed dict and ``name``.

    Raises
    ------
    FileNotFoundError
        The target is not cached; the message says whether its run failed, and why.
    """
    path = target_path(name)
    if not path.is_file() and (SHIPPED_DIR / f'{name}.npz').is_file():
        path = SHIPPED_DIR / f'{name}.npz'
    if not path.is_file():
        failed = failure_path(name)
        why = (f': its run failed ({json.loads(failed.read_text()).get("reason", "?")})' if failed.is_file()
               else f'; make it with benchmarks/{NAME}.py --targets {name}')
        raise FileNotFoundError(f'target {name!r} is not cached in {path}{why}')
    with np.load(path) as data:
        target = {key: data[key] for key in data.files}
    for key, value in target.items():
        if value.ndim == 0:  # scalars come back as Python numbers / str
            target[key] = value.item()
    target['info'] = json.loads(target['info'])
    target['name'] = name
    return target


def rebin(r: np.ndarray, g: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """g(r) on bins ``factor`` times wider: shell-volume weighted means, exact since pair counts add.

    Parameters
    ----------
    r, g
        Bin centres (uniform bins from 0) and g(r).
    factor
        Fine bins per coarse bin; a trailing incomplete coarse bin is dropped.

    Returns
    -------
    tuple of numpy.ndarray
        Coarse bin centres and g(r).
    """
    width = float(r[1] - r[0])
    n = len(r) // factor * factor
    edges = np.arange(n + 1) * width
    shells = np.diff(edges**3)
    weighted = (g[:n] * shells).reshape(-1, factor).sum(axis=1) / shells.reshape(-1, factor).sum(axis=1)
    return (edges[:-1:factor] + edges[factor::factor]) / 2, weighted


def half_noise(target: dict) -> float:
    """RMS(g_half1 - g_half2) on :data:`NOISE_BIN` bins over :data:`NOISE_RANGE` of a target (as loaded)."""
    factor = int(round(NOISE_BIN / (target['r'][1] - target['r'][0])))
    r, g1 = rebin(target['r'], target['g_half1'], factor)
    _, g2 = rebin(target['r'], target['g_half2'], factor)
    inside = (r >= NOISE_RANGE[0]) & (r <= NOISE_RANGE[1])
    return float(np.sqrt(np.mean((g1 - g2)[inside] ** 2)))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--targets', nargs='+', default=None, metavar='NAME',
                        help=f'targets to make (default: all {len(TARGETS)}; see --list)')
    parser.add_argument('--molecules', type=int, default=DEFAULT_MOLECULES,
                        help='molecules per box (default: %(default)s)')
    parser.add_argument('--nvt-ps', type=float, default=DEFAULT_NVT_PS, help='NVT stage, ps (default: %(default)s)')
    parser.add_argument('--npt-ps', type=float, default=DEFAULT_NPT_PS,
                        help='NPT equilibration, ps (default: %(default)s)')
    parser.add_argument('--npt-tau-p', type=float, default=None,
                        help="C-rescale tau-p of the NPT equilibration stage, ps (default: the package's, 2 ps)")
    parser.add_argument('--production-ps', type=float, default=DEFAULT_PRODUCTION_PS,
                        help='NPT production, ps (default: %(default)s)')
    parser.add_argument('--frame-ps', type=float, default=DEFAULT_FRAME_PS,
                        help='production frame interval, ps (default: %(default)s)')
    parser.add_argument('--drift-limit', type=float, default=DRIFT_LIMIT,
                        help='production again while the mean density of its halves differs by more than this '
                             'fraction (default: %(default)s)')
    parser.add_argument('--max-extensions', type=int, default=MAX_EXTENSIONS,
                        help='at most this many productions after the first (default: %(default)s)')
    parser.add_argument('--threads', type=int, default=2, help='mdrun OpenMP threads (default: %(default)s)')
    parser.add_argument('--regenerate', action='store_true',
                        help='remake cached targets and retry recorded failures')
    parser.add_argument('--reanalyse', action='store_true',
                        help='recompute g(r), density and D of cached targets from their kept runs (no GROMACS)')
    parser.add_argument('--list', action='store_true', help='list the targets and their cache state, then exit')
    args = parser.parse_args(argv)
    args.targets = args.targets or list(TARGETS)
    for name in args.targets:
        try:
            parse_target(name)
        except ValueError as exception:
            parser.error(str(exception))
    if args.molecules < 2:
        parser.error('--molecules must be at least 2')
    steps = _common.ps_to_steps(args.frame_ps)
    if steps < 1 or abs(steps * _common.DEFAULT_DT - args.frame_ps) > 1e-9:
        parser.error(f'--frame-ps must be a multiple of the {_common.DEFAULT_DT} ps time step')
    return args


def stages(args) -> list[dict]:
    """minimise -> NVT -> NPT -> NPT production (the package's 2 fs OPLS-AA settings), frames every ``frame_ps``."""
    planned = _common.md_stages(args.nvt_ps, args.npt_ps, args.production_ps, TEMPERATURE, PRESSURE)
    planned[-1]['mdp']['nstxout-compressed'] = _common.ps_to_steps(args.frame_ps)
    if args.npt_tau_p is not None:  # a faster barostat in the equilibration only: the production keeps the package's
        planned[-2]['mdp']['tau-p'] = args.npt_tau_p
    return planned


def sampled_parameters(molecule: str, seed: int) -> dict:
    """The bonded parameters the package's sampler draws for ``molecule`` with ``seed`` (wide default ranges)."""
    from aiida_cgmob.topology import build_molecule, sample_bonded_parameters

    return sample_bonded_parameters(build_molecule(molecule), seed)


def parameter_summary(molecule: str, sampled: dict) -> str:
    """One line: classes per kind and the spread of the sampled values against OPLS-AA."""
    from aiida_cgmob.topology import build_molecule

    built = build_molecule(molecule)
    b0 = {built.term_class(b.atoms): b.b0 for b in built.bonds}
    scales = [v['b0'] / b0[cls] for cls, v in sampled['bonds'].items()]
    theta = [v['theta0'] for v in sampled['angles'].values()]
    fourier = [abs(v[k]) for v in sampled['dihedrals'].values() for k in ('K1', 'K2', 'K3')]
    text = (f'{len(scales)} bond classes b0 x{min(scales):.2f}-{max(scales):.2f} OPLS; {len(theta)} angle classes '
            f'theta0 {min(theta):.0f}-{max(theta):.0f} deg; {len(sampled["dihedrals"])} dihedral classes '
            f'|K1..K3| <= {max(fourier, default=0):.1f} kJ/mol')
    if sampled['impropers']:
        text += f'; {len(sampled["impropers"])} improper classes'
    return text


def build(directory: Path, molecule: str, n_molecules: int, bonded: dict | None) -> float:
    """Write the liquid into ``directory``; return the starting density (kg/m^3) at which it packed."""
    from aiida_cgmob.topology import PackingError, build_liquid, build_molecule, expected_liquid_density

    liquid_density, _ = expected_liquid_density(build_molecule(molecule))
    for factor in START_DENSITY_FACTORS:
        density = round(factor * liquid_density, 1)
        try:
            liquid = build_liquid(molecule, n_molecules, density=density, seed=PACKING_SEED, bonded_parameters=bonded)
        except PackingError:
            continue
        liquid.write(directory)
        return density
    raise PackingError(f'{n_molecules} x {molecule} did not pack at {START_DENSITY_FACTORS[-1]:g} x '
                       f'{liquid_density:g} kg/m^3')


def gromacs_failure(directory: Path, stage: str, exception: Exception) -> str:
    """Why a stage failed, in GROMACS' words: grompp's errors or mdrun's fatal error / sign of instability."""
    from aiida_cgmob.gromacs.outputs import grompp_failure, mdrun_status

    text = str(exception)
    log = directory / f'{stage}.log'
    if 'gmx grompp' in text:
        reason = grompp_failure(text)
    else:
        status = mdrun_status(log.read_text(errors='replace') if log.is_file() else '', text)
        reason = status.error
        if reason and status.last_step is not None:
            reason += f' (last step {status.last_step})'
    return reason or text.strip().splitlines()[-1][:500]


def analyse(directory: Path) -> dict:
    """g(r) of all production frames and of each half, number density, D (NaN if its fit fails)."""
    from aiida_cgmob.analysis import DescriptorError, compute_descriptors, map_gromacs, radial_distribution
    from aiida_cgmob.analysis.trajectory import BeadTrajectory

    trajectory = map_gromacs(directory / 'production.tpr', directory / 'production.xtc')
    span = float(trajectory.times[-1] - trajectory.times[0])
    # A production this short often ends before the automatic window finds a log-log slope within 1 +- 0.1
    # (the cage lingers), so fall back to a fixed window from 2 ps (past the cage) to half the span.
    attempts = [('automatic', {})]
    if span / 2 > D_FIT_START:
        attempts.append(('fixed', {'fit_window': [D_FIT_START, span / 2]}))
    rdf, D, notes = None, float('nan'), []
    for how, settings in attempts:
        try:
            descriptors = compute_descriptors(trajectory, bin_width=BIN_WIDTH, **settings)
        except DescriptorError as exception:  # the D fit only: g(r) does not depend on it
            notes.append(f'{how} window: {exception.kind}')
            continue
        window = descriptors.diffusion.fit_window
        rdf, D = descriptors.rdf, float(descriptors.diffusion.D)
        notes.append(f'{how} window {window[0]:g}-{window[1]:g} ps')
        break
    if rdf is None:
        rdf = radial_distribution(trajectory, bin_width=BIN_WIDTH)
    half = trajectory.n_frames // 2

    def part(frames: slice):
        piece = BeadTrajectory(trajectory.positions[frames], trajectory.dimensions[frames],
                               trajectory.times[frames], trajectory.bead_mass)
        return radial_distribution(piece, r_max=rdf.r_max, bin_width=BIN_WIDTH).g

    densities = trajectory.n_beads / np.prod(trajectory.dimensions[:, :3], axis=1)  # orthorhombic GROMACS boxes
    return {
        'r': rdf.r, 'g': rdf.g, 'g_half1': part(slice(0, half)), 'g_half2': part(slice(half, 2 * half)),
        'number_density': float(densities.mean()), 'mass': float(trajectory.bead_mass), 'D': D,
        'n_frames': int(trajectory.n_frames),
        'notes': {'D_fit': '; '.join(notes), 'r_max': float(rdf.r_max), 'frames_per_half': int(half),
                  'density_drift': float(densities[half:].mean() / densities[:half].mean() - 1),
                  'time_span_ps': [float(trajectory.times[0]), float(trajectory.times[-1])]},
    }


def save(name: str, arrays: dict) -> Path:
    """Write the target atomically (a reader never sees half a file)."""
    path = target_path(name)
    partial = path.with_name(f'.{name}.partial')  # not *.npz: ibi_robustness globs those as targets
    with open(partial, 'wb') as handle:  # a handle, or np.savez would append .npz to the name
        np.savez(handle, **arrays)
    os.replace(partial, path)
    return path


def make_target(name: str, args) -> dict:
    """Run GROMACS for one target and cache it; on failure write ``<name>.failed.json``.

    Returns
    -------
    dict
        ``status`` ('made' or 'failed'), ``wall`` (s) and ``reason`` for a failure.
    """
    from aiida_cgmob.gromacs import run_stages

    molecule, seed = parse_target(name)
    directory = RUNS_DIR / name
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    planned = stages(args)
    info = {'name': name, 'molecule': molecule, 'seed': seed, 'n_molecules': args.molecules,
            'temperature': TEMPERATURE, 'pressure': PRESSURE, 'stages': planned,
            'command': ' '.join([Path(sys.executable).name, *sys.argv]), 'run_directory': str(directory),
            'host': socket.gethostname(), 'nproc': os.cpu_count(), 'threads': args.threads,
            'load_average_at_start': list(os.getloadavg()), 'started': time.strftime('%Y-%m-%d %H:%M:%S')}
    watch = _common.Stopwatch()
    stage_seconds: dict[str, float] = {}
    marks = [time.time()]
    current = {'stage': 'build'}

    def after_stage(stage_name: str) -> None:
        now = time.time()
        stage_seconds[stage_name] = now - marks[-1]
        marks.append(now)
        print(f'   {stage_name} done after {watch.elapsed:.0f} s', flush=True)
        following = [s['name'] for s in planned]
        index = following.index(stage_name) + 1
        current['stage'] = following[index] if index < len(following) else 'analysis'

    try:
        bonded = None
        if seed is None:
            info['parameters'] = 'pristine'
        else:
            bonded = sampled_parameters(molecule, seed)
            info['parameters'] = {key: value for key, value in bonded.items() if key != 'ranges'}
            info['ranges'] = bonded['ranges']
            info['parameter_summary'] = parameter_summary(molecule, bonded)
            print(f'   sampled: {info["parameter_summary"]}', flush=True)
        info['start_density'] = build(directory, molecule, args.molecules, bonded)
        current['stage'] = planned[0]['name']
        marks.append(time.time())
        try:
            run_stages(directory, planned, 'gmx', args.threads, after_stage=after_stage)
        except RuntimeError as exception:
            raise GromacsFailure(gromacs_failure(directory, current['stage'], exception)) from exception
        analysis = analyse(directory)
        final, drifts = directory, [analysis['notes']['density_drift']]
        # A synthetic liquid can still be compressing or expanding after the NPT stage (its density may lie
        # far from the pristine one it was packed at): then the production so far was equilibration, and a
        # fresh production continues from its end, up to max_extensions times.
        while abs(drifts[-1]) > args.drift_limit and len(drifts) <= args.max_extensions:
            previous, final = final, directory / f'extension{len(drifts)}'
            current['stage'] = final.name
            print(f'   density drift {drifts[-1]:+.1%} between the production halves: production again '
                  f'({final.name})', flush=True)
            start = time.time()
            try:
                extend(previous, final, planned[-1], args.threads)
            except RuntimeError as exception:
                raise GromacsFailure(gromacs_failure(final, 'production', exception)) from exception
            stage_seconds[final.name] = time.time() - start
            analysis = analyse(final)
            drifts.append(analysis['notes']['density_drift'])
    except Exception as exception:  # noqa: BLE001 - one failed target must not stop the others
        reason = str(exception) if isinstance(exception, GromacsFailure) else f'{type(exception).__name__}: {exception}'
        record = {'name': name, 'reason': reason, 'stage': current['stage'], 'wall_seconds': watch.elapsed,
                  'stage_seconds': stage_seconds, 'info': info, 'traceback': traceback.format_exc()}
        failure_path(name).write_text(json.dumps(record, indent=1, default=str))
        target_path(name).unlink(missing_ok=True)  # a remade target's old run is gone with its directory
        return {'status': 'failed', 'reason': reason, 'stage': current['stage'], 'wall': watch.elapsed}

    from aiida_cgmob.gromacs.outputs import mdrun_status

    info.update(analysis.pop('notes'))
    info['production_directory'] = str(final)
    info['extensions'] = len(drifts) - 1
    info['drift_history'] = drifts
    info['stage_seconds'] = stage_seconds
    info['gromacs_seconds_is'] = ('the production stage alone (grompp + mdrun), wall time; of the last production '
                                  'if it was extended; stage_seconds has every stage')
    logs = {s['name']: directory / f'{s["name"]}.log' for s in planned if s['type'] != 'minimise'}
    logs.update({path.parent.name: path for path in sorted(directory.glob('extension*/production.log'))})
    info['ns_per_day'] = {key: mdrun_status(path.read_text()).ns_per_day for key, path in logs.items()}
    info['wall_seconds'] = watch.elapsed  # build + all stages + analysis
    production_seconds = stage_seconds[final.name if final != directory else planned[-1]['name']]
    save(name, {**analysis, 'temperature': TEMPERATURE, 'n_molecules': args.molecules,
                'production_ps': args.production_ps, 'gromacs_seconds': production_seconds,
                'info': json.dumps(info, default=str)})
    failure_path(name).unlink(missing_ok=True)
    return {'status': 'made', 'wall': watch.elapsed}


def extend(previous: Path, directory: Path, production: dict, threads: int) -> None:
    """One more production in ``directory``, from the coordinates and velocities ``previous`` ended with."""
    from aiida_cgmob.gromacs import run_stages

    directory.mkdir()
    for path in [previous / 'topol.top', *previous.glob('*.itp')]:
        shutil.copy(path, directory)
    shutil.copy(previous / 'production.gro', directory / 'conf.gro')  # mdrun's final .gro holds the velocities
    stage = {**production, 'mdp': {**production['mdp'], 'gen-vel': 'no', 'continuation': 'yes'}}
    run_stages(directory, [stage], 'gmx', threads)


def reanalyse_target(name: str) -> dict:
    """Redo the analysis of a cached target from its kept run; GROMACS' figures stay as they were."""
    watch = _common.Stopwatch()
    target = load_target(name)
    info = target['info']
    analysis = analyse(Path(info.get('production_directory', info['run_directory'])))
    info.update(analysis.pop('notes'))
    info['reanalysed'] = time.strftime('%Y-%m-%d %H:%M:%S')
    kept = {key: target[key] for key in ('temperature', 'n_molecules', 'production_ps', 'gromacs_seconds')}
    save(name, {**analysis, **kept, 'info': json.dumps(info, default=str)})
    return {'status': 'reanalysed', 'wall': watch.elapsed}


class GromacsFailure(RuntimeError):
    """A GROMACS stage failed; the message is GROMACS' reason."""


@contextlib.contextmanager
def exclusive():
    """Hold the lock of the cache so that two invocations never run GROMACS at the same time."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / '.lock', 'a+') as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise SystemExit(f'another {NAME} run holds {CACHE_DIR / ".lock"} ({handle.read().strip()}); '
                             'wait for it to end') from None
        handle.truncate(0)
        handle.write(f'pid {os.getpid()} since {time.strftime("%H:%M:%S")}\n')
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def state(name: str) -> str:
    """'cached', 'failed' or 'missing'."""
    return 'cached' if target_path(name).is_file() else 'failed' if failure_path(name).is_file() else 'missing'


def table_row(name: str, outcome: dict | None) -> list:
    """One row of the report: the cached target, or the failure."""
    import math

    if target_path(name).is_file():
        target = load_target(name)
        drift = target['info'].get('density_drift', 0.0)
        status = outcome['status'] if outcome else 'cached'
        if abs(drift) > DRIFT_WARNING:
            status += f' (density drift {drift:+.1%} between halves)'
        d = target['D'] * 1e3
        return [name, target['n_molecules'], f'{target["number_density"]:.3f}', f'{target["production_ps"]:g}',
                target['n_frames'], f'{target["gromacs_seconds"]:.0f}', f'{target["info"]["wall_seconds"]:.0f}',
                f'{half_noise(target):.4f}', '-' if math.isnan(d) else f'{d:.2f}', status]
    if failure_path(name).is_file():
        record = json.loads(failure_path(name).read_text())
        return [name, record['info'].get('n_molecules', '-'), '-', '-', '-', '-', f'{record["wall_seconds"]:.0f}',
                '-', '-', f'FAILED in {record["stage"]}: {record["reason"][:150]}']
    return [name, '-', '-', '-', '-', '-', '-', '-', '-', 'missing']


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list:
        for name in TARGETS:
            print(f'{name:18s} {state(name)}')
        return 0
    total = _common.Stopwatch()
    header = (f'{NAME}: {len(args.targets)} targets, {args.molecules} molecules, {TEMPERATURE} K, {PRESSURE} bar, '
              f'minimise, {args.nvt_ps:g} ps NVT, {args.npt_ps:g} ps NPT, {args.production_ps:g} ps NPT production '
              f'(frames every {args.frame_ps:g} ps), dt {_common.DEFAULT_DT} ps, {args.threads} threads; '
              f'host {socket.gethostname()}, nproc {os.cpu_count()}')
    print(header, flush=True)
    outcomes: dict[str, dict] = {}
    todo = [name for name in args.targets if not args.reanalyse and (args.regenerate or state(name) == 'missing')]
    # Only GROMACS needs the lock: a report of cached targets may run next to a generation.
    with exclusive() if todo else contextlib.nullcontext():
        for name in args.targets:
            if args.reanalyse:
                if state(name) == 'cached':
                    print(f'== {name}: reanalysing', flush=True)
                    outcomes[name] = reanalyse_target(name)
                continue
            if name not in todo or (not args.regenerate and state(name) != 'missing'):  # made meanwhile?
                cached = state(name)
                note = ''
                if cached == 'cached':
                    target = load_target(name)
                    if (target['n_molecules'], target['production_ps']) != (args.molecules, args.production_ps):
                        note = (f' (made with {target["n_molecules"]} molecules, {target["production_ps"]:g} ps; '
                                '--regenerate to remake)')
                print(f'== {name}: {cached}, skipped{note}', flush=True)
                continue
            print(f'== {name}: started {time.strftime("%H:%M:%S")}', flush=True)
            outcomes[name] = make_target(name, args)
            outcome = outcomes[name]
            print(f'   {outcome["status"]} after {outcome["wall"]:.0f} s'
                  + (f': {outcome["reason"]}' if outcome['status'] == 'failed' else ''), flush=True)
    rows = [table_row(name, outcomes.get(name)) for name in args.targets]
    table = _common.format_table(
        ['name', 'molecules', 'density nm^-3', 'production ps', 'frames', 'GROMACS s', 'wall s',
         f'RMS(h1-h2) {NOISE_BIN:g} nm {NOISE_RANGE[0]:g}-{NOISE_RANGE[1]:g}', 'D 1e-9 m^2/s', 'status'],
        rows, align='lrrrrrrrrl')
    made = sum(state(name) == 'cached' for name in args.targets)
    lines = [header, '', table, '',
             f'{made} of {len(args.targets)} cached in {CACHE_DIR}; GROMACS s = production stage alone (grompp + '
             'mdrun), wall s = build + all stages + analysis of the run that made the target']
    return _common.report(NAME, lines, total)


if __name__ == '__main__':
    sys.exit(main())
