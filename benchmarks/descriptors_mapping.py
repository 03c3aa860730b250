"""Benchmark: one-bead descriptors of an all-atom GROMACS trajectory, and the speed of the vectorised mapping.

Takes an all-atom run (``--tpr``/``--xtc``), or makes one with GROMACS and caches it under
benchmarks/results/descriptors_mapping/ (default: 200 x 3-methylpentane, minimise -> NVT -> NPT -> 50 ps
NPT production with a frame every 0.1 ps = 501 frames).  Then, on the same trajectory:

* times ``map_gromacs`` (vectorised centres of mass over frames and molecules) against the per-frame
  MDAnalysis baseline ``u.atoms.center_of_mass(compound='residues', unwrap=True)``, best of
  ``--repeats``, both including reading the trajectory (target: >= 3x), and checks that they agree
  (max minimum-image deviation < 1e-4 nm);
* computes the descriptors (density, D with its fit window, g(r) up to r_max);
* cross-checks g(r) against ``gmx rdf -selrpos mol_com -seltype mol_com`` on gmx's bins, raw and with
  gmx's N^2 normalisation (ours: N(N-1)).

No AiiDA.  The report is printed and written to benchmarks/results/descriptors_mapping.txt.  Always
exits 0 (a benchmark, not a test): failed checks are marked FAILED.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

NAME = 'descriptors_mapping'
CACHE_DIR = _common.RESULTS_DIR / NAME
DEVIATION_LIMIT = 1e-4  # nm
SPEEDUP_TARGET = 3.0
GMX_RDF_BIN = 0.005  # nm


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--tpr', type=Path, help='run input of an existing all-atom run (with --xtc)')
    parser.add_argument('--xtc', type=Path, help='its trajectory (with --tpr); without both, one is made and cached')
    parser.add_argument('--molecule', default='3MePe', help='built-in name or SMILES (default: %(default)s)')
    parser.add_argument('-n', '--n-molecules', type=int, default=200, help='molecules per box (default: %(default)s)')
    parser.add_argument('--start-density', type=float, default=560.0,
                        help='packing density, kg/m^3 (default: %(default)s)')
    parser.add_argument('--nvt-ps', type=float, default=10.0, help='NVT stage, ps (default: %(default)s)')
    parser.add_argument('--npt-ps', type=float, default=40.0, help='NPT equilibration, ps (default: %(default)s)')
    parser.add_argument('--production-ps', type=float, default=50.0,
                        help='NPT production, ps (default: %(default)s)')
    parser.add_argument('--temperature', type=float, default=298.15, help='K (default: %(default)s)')
    parser.add_argument('--pressure', type=float, default=1.0, help='bar (default: %(default)s)')
    parser.add_argument('--threads', type=int, default=2, help='mdrun OpenMP threads (default: %(default)s)')
    parser.add_argument('--frame-ps', type=float, default=0.1,
                        help='production frame interval (nstxout-compressed), ps (default: %(default)s)')
    parser.add_argument('--seed', type=int, default=0, help='packing seed (default: %(default)s)')
    parser.add_argument('--regenerate', action='store_true', help='rerun GROMACS even if a cached run exists')
    parser.add_argument('--repeats', type=int, default=3, help='timing repeats, best taken (default: %(default)s)')
    parser.add_argument('--fit-window', type=float, nargs=2, metavar=('T0', 'T1'),
                        help='D fit window, ps (default: chosen automatically)')
    parser.add_argument('--r-max', type=float, help='g(r) range, nm (default: 2.5 nm or half the box)')
    args = parser.parse_args(argv)
    if (args.tpr is None) != (args.xtc is None):
        parser.error('--tpr and --xtc go together')
    return args


def cached_run(args) -> tuple[Path, Path, str]:
    """(tpr, xtc, how): the run of ``args``, made with GROMACS unless it is cached already."""
    directory = CACHE_DIR / (f'{args.molecule}_x{args.n_molecules}_{args.production_ps:g}ps_every{args.frame_ps:g}ps'
                             f'_{args.temperature:g}K_seed{args.seed}')
    tpr, xtc = directory / 'production.tpr', directory / 'production.xtc'
    if tpr.is_file() and xtc.is_file() and not args.regenerate:
        return tpr, xtc, f'cached in {directory}'
    gmx = shutil.which('gmx')
    if gmx is None:
        raise SystemExit('gmx not found on PATH: give --tpr/--xtc or install GROMACS')
    from aiida_cgmob.gromacs import run_stages
    from aiida_cgmob.topology import build_liquid

    if directory.exists():
        shutil.rmtree(directory)
    build_liquid(args.molecule, args.n_molecules, density=args.start_density, seed=args.seed).write(directory)
    stages = _common.md_stages(args.nvt_ps, args.npt_ps, args.production_ps, args.temperature, args.pressure)
    stages[-1]['mdp']['nstxout-compressed'] = _common.ps_to_steps(args.frame_ps)
    watch = _common.Stopwatch()
    try:
        run_stages(directory, stages, gmx, args.threads,
                   after_stage=lambda name: print(f'   {name} done after {watch.elapsed:.0f} s', flush=True))
    except RuntimeError as exception:
        raise SystemExit(str(exception)) from exception
    return tpr, xtc, f'made with GROMACS in {watch.elapsed:.0f} s, cached in {directory}'


def mdanalysis_baseline(tpr: Path, xtc: Path):
    """Per-frame centres of mass (F, M, 3) in nm the plain MDAnalysis way."""
    import MDAnalysis as mda
    import numpy as np

    universe = mda.Universe(str(tpr), str(xtc))
    return np.array([universe.atoms.center_of_mass(compound='residues', unwrap=True) / 10.0
                     for _ in universe.trajectory])


def best_of(repeats: int, function, *arguments):
    """(best wall time, result of the last call)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function(*arguments)
        times.append(time.perf_counter() - start)
    return min(times), result


def gmx_rdf_check(tpr: Path, xtc: Path, trajectory, r_max: float) -> tuple[float, float] | str:
    """(max |g_ours - g_gmx| raw, with gmx's N^2 normalisation) on gmx's bins, or why it could not run."""
    import numpy as np

    from aiida_cgmob.analysis.descriptors import pair_correlation

    gmx = shutil.which('gmx')
    if gmx is None:
        return 'gmx not found'
    with tempfile.TemporaryDirectory() as directory:
        output = Path(directory) / 'rdf.xvg'
        process = subprocess.run([gmx, '-nobackup', '-quiet', 'rdf', '-s', str(tpr), '-f', str(xtc), '-selrpos',
                                  'mol_com', '-seltype', 'mol_com', '-ref', 'all', '-sel', 'all', '-bin',
                                  str(GMX_RDF_BIN), '-rmax', f'{r_max:.4f}', '-o', str(output)],
                                 capture_output=True, text=True, cwd=directory)
        if process.returncode:
            return f'gmx rdf failed: {process.stderr.strip().splitlines()[-1:]}'
        table = np.loadtxt([line for line in output.read_text().splitlines() if line and line[0] not in '@#'])
    r, g_gmx = table[:, 0], table[:, 1]
    g_ours = pair_correlation(trajectory, np.r_[r - GMX_RDF_BIN / 2, r[-1] + GMX_RDF_BIN / 2].clip(0))
    n = trajectory.n_beads
    return float(np.abs(g_ours - g_gmx).max()), float(np.abs(g_ours * (n - 1) / n - g_gmx).max())


def main(argv=None) -> int:
    args = parse_args(argv)
    total = _common.Stopwatch()
    import numpy as np

    from aiida_cgmob.analysis import DescriptorError, compute_descriptors, map_gromacs
    from aiida_cgmob.analysis.mapping import box_vectors, minimum_image

    if args.tpr is None:
        print(f'descriptors_mapping: {args.molecule} x{args.n_molecules}, {args.production_ps:g} ps production '
              f'every {args.frame_ps:g} ps', flush=True)
        tpr, xtc, origin = cached_run(args)
    else:
        tpr, xtc, origin = args.tpr.resolve(), args.xtc.resolve(), 'given'
    print(f'timing the mapping on {tpr} + {xtc} ...', flush=True)

    map_gromacs(tpr, xtc)  # warm-up: MDAnalysis builds and caches the xtc frame offsets on first read
    t_ours, mapped = best_of(args.repeats, map_gromacs, tpr, xtc)
    t_baseline, baseline = best_of(args.repeats, mdanalysis_baseline, tpr, xtc)
    deviation = float(np.linalg.norm(minimum_image(mapped.positions - baseline, box_vectors(mapped.dimensions)),
                                     axis=-1).max()) if baseline.shape == mapped.positions.shape else float('inf')
    speedup = t_baseline / t_ours
    lines = [
        f'descriptors_mapping: {tpr.name} + {xtc.name} ({origin})',
        f'frames {mapped.n_frames} ({mapped.times[0]:g}-{mapped.times[-1]:g} ps), molecules {mapped.n_beads}, '
        f'bead mass {mapped.bead_mass:.3f} g/mol',
        '',
        f'centres of mass, best of {args.repeats} (both read tpr + xtc):',
        f'  map_gromacs (vectorised)           {t_ours:8.3f} s',
        f'  MDAnalysis per frame (baseline)    {t_baseline:8.3f} s',
        f'  speed-up                           {speedup:8.1f} x   (target >= {SPEEDUP_TARGET:g} x: '
        f'{"ok" if speedup >= SPEEDUP_TARGET else "FAILED"})',
        f'  max deviation (minimum image)      {deviation:8.1e} nm (limit {DEVIATION_LIMIT:g} nm: '
        f'{"ok" if deviation < DEVIATION_LIMIT else "FAILED"})',
        '',
    ]
    settings = {}
    if args.fit_window:
        settings['fit_window'] = list(args.fit_window)
    if args.r_max:
        settings['r_max'] = args.r_max
    start = time.perf_counter()
    try:
        descriptors = compute_descriptors(mapped, **settings)
    except DescriptorError as exception:
        lines += [f'descriptors: FAILED ({exception.kind}): {exception}']
    else:
        d, rdf = descriptors.diffusion, descriptors.rdf
        peak = int(np.argmax(rdf.g))
        lines += [
            f'descriptors ({time.perf_counter() - start:.2f} s):',
            f'  mass density      {descriptors.mass_density:.1f} +- {descriptors.mass_density_error:.1f} kg/m^3',
            f'  number density    {descriptors.number_density:.4f} nm^-3',
            f'  D                 {d.D_si:.4f} +- {d.D_error * 1e3:.4f} 1e-9 m^2/s '
            f'(x, y, z: {", ".join(f"{v * 1e3:.4f}" for v in d.D_xyz)}); fit window {d.fit_window[0]:g}-'
            f'{d.fit_window[1]:g} ps ({d.window_chosen}); box {d.box_length:.3f} nm, no finite-size correction',
            f'  g(r)              r_max {rdf.r_max:g} nm, bin {rdf.bin_width:g} nm, {rdf.n_frames} frames; '
            f'first peak g = {rdf.g[peak]:.3f} at r = {rdf.r[peak]:.4f} nm',
        ]
        check = gmx_rdf_check(tpr, xtc, mapped, rdf.r_max)
        if isinstance(check, str):
            lines += [f'  gmx rdf check     not run: {check}']
        else:
            lines += [f'  gmx rdf check     max |g - g_gmx| = {check[0]:.4f} raw (N(N-1) vs gmx N^2 normalisation), '
                      f'{check[1]:.4f} with ours x (N-1)/N (bins {GMX_RDF_BIN:g} nm centred on k x bin)']
    return _common.report(NAME, lines, total)


if __name__ == '__main__':
    sys.exit(main())
