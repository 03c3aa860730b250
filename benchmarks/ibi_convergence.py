"""Benchmark: speed of convergence of the structural inversion (IBI / iterative HNC) for a given target.

Targets (``--target``):

* ``lj`` (self-consistency, no AA): LAMMPS runs a known tabulated Lennard-Jones potential (methane-like,
  epsilon 1.23 kJ/mol, sigma 0.373 nm, 16.04 g/mol) and its g(r) becomes the target.  Reports, per
  iteration, RMS(g - g_target) and max |U - U_LJ| where g_target > 0.3 (targets: RMS < 0.01, 0.3 kJ/mol).
* ``aa``: the one-bead g(r) of an all-atom GROMACS run (default 3-methylpentane, cached under
  benchmarks/results/descriptors_mapping/ by ``descriptors_mapping.py``, or ``--tpr/--xtc``).  Reports the
  convergence history, CG pressure and density and D_CG/D_AA.  The reference measured with VOTCA 2022 +
  the same LAMMPS (plain IBI, 1000 beads NVT at the AA density, 150 ps per iteration at 2 fs, RMS over
  0.3-1.4 nm): 0.106, 0.064, 0.048, 0.040, 0.034 ... 0.022 at 15, first < 0.02 at 21, never < 0.01 within
  30; 16-17 s per iteration; CG pressure ~700 atm.

``--methods`` runs several variants on the same target in the same process one after the other, so
their time per iteration is a same-machine comparison: ``ihnc`` (ours: -kT ln g start, regularised
iterative-HNC updates; ``ihnc-hnc`` starts from the HNC inversion) and ``ibi`` (plain IBI from
-kT ln g, no smoothing: the VOTCA baseline).  ``ihnc+p`` adds the virial pressure correction (target
1 bar), ``ibi+p`` VOTCA's simple ramp.  Always exits 0; writes benchmarks/results/ibi_convergence_<target>.txt.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

VARIANTS = {
    'ihnc': {'method': 'ihnc', 'initial_guess': 'pmf', 'smoothing': 3},
    'ihnc+p': {'method': 'ihnc', 'initial_guess': 'pmf', 'smoothing': 3, 'pressure_target': 1.0},
    'ihnc-hnc': {'method': 'ihnc', 'initial_guess': 'hnc', 'smoothing': 3},
    'ibi': {'method': 'ibi', 'initial_guess': 'pmf', 'smoothing': 1},
    'ibi+p': {'method': 'ibi', 'initial_guess': 'pmf', 'smoothing': 1, 'pressure_target': 1.0,
              'pressure_method': 'simple'},
}
LJ_MASS = 16.04  # g/mol, methane


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--target', choices=('lj', 'aa'), default='aa', help='(default: %(default)s)')
    parser.add_argument('--methods', nargs='+', default=['ihnc'], choices=sorted(VARIANTS),
                        help='variants to run one after the other (default: ihnc)')
    parser.add_argument('--n-beads', type=int, help='CG beads (default: 1000 for aa, 500 for lj)')
    parser.add_argument('--production-ps', type=float, help='production per iteration, ps (default: 150 aa, 100 lj)')
    parser.add_argument('--equilibration-ps', type=float, default=10.0,
                        help='equilibration per iteration from the previous final frame, ps (default: %(default)s)')
    parser.add_argument('--timestep', type=float, default=0.002, help='ps (default: %(default)s)')
    parser.add_argument('--frame-ps', type=float, default=0.5, help='xtc interval, ps (default: %(default)s)')
    parser.add_argument('--max-iterations', type=int, default=30, help='(default: %(default)s)')
    parser.add_argument('--tolerance', type=float, default=0.01,
                        help='stop when RMS(g - g_target) falls below this (default: %(default)s)')
    parser.add_argument('--continue-below', action='store_true',
                        help='do not stop at the tolerance: run all iterations (to see the noise floor)')
    parser.add_argument('--fit-range', type=float, nargs=2, help='RMS range, nm (default: 0.3-1.4 aa, 0.3-1.2 lj)')
    parser.add_argument('--cutoff', type=float, help='nm (default: 1.4 aa, 1.2 lj)')
    parser.add_argument('--threads', type=int, default=2, help='LAMMPS OpenMP threads (default: %(default)s)')
    parser.add_argument('--tpr', type=Path, help='all-atom run input (aa target; with --xtc)')
    parser.add_argument('--xtc', type=Path, help='all-atom trajectory (aa target; with --tpr)')
    parser.add_argument('--aa-run', default='3MePe_x500_150ps_every0.5ps_298.15K_seed0',
                        help='cached run under results/descriptors_mapping/ (default: %(default)s)')
    parser.add_argument('--aa-fit-window', type=float, nargs=2, default=(5.0, 50.0),
                        help='D fit window of the AA run, ps (default: %(default)s)')
    parser.add_argument('--work', type=Path, default=_common.RESULTS_DIR / 'ibi_convergence',
                        help='working directory (default: %(default)s)')
    return parser.parse_args(argv)



def lj_target(args, work: Path) -> dict:
    """g(r) of LAMMPS with the known LJ table, 3x the production of one iteration (less noise)."""
    import numpy as np

    from aiida_cgmob.analysis.descriptors import radial_distribution
    from aiida_cgmob.analysis.trajectory import read_beads
    from aiida_cgmob.lammps import lattice_configuration, prepare_run, run_lammps
    from aiida_cgmob.potentials import lennard_jones

    cutoff = args.cutoff or 1.2
    n_beads, density = args.n_beads or 500, 12.0  # T* = kT/eps = 2.0, rho* = rho sigma^3 = 0.62: a dense fluid
    grid = np.linspace(0.25, cutoff, int(round((cutoff - 0.25) / 0.005)) + 1)
    reference = lennard_jones(grid, cutoff=cutoff)
    production = 3 * (args.production_ps or 100.0)
    directory = work / 'reference'
    start = time.perf_counter()
    prepare_run(directory, reference, LJ_MASS, {'equilibration': 20.0, 'production': production,
                                               'frame_interval': args.frame_ps, 'timestep': args.timestep},
                configuration=lattice_configuration(n_beads, density, seed=3))
    log = run_lammps(directory, _common.lammps_executable(), args.threads)
    trajectory = read_beads(directory / 'production.xtc', LJ_MASS)
    rdf = radial_distribution(trajectory, bin_width=0.01)
    return {'r': rdf.r, 'g': rdf.g, 'mass': LJ_MASS, 'number_density': density, 'n_beads': n_beads,
            'cutoff': cutoff, 'fit_range': tuple(args.fit_range or (0.3, cutoff)), 'reference': reference,
            'D_reference': None, 'pressure_reference_bar': log.averages()['pressure_bar'],
            'description': f'LJ eps 1.23 kJ/mol sigma 0.373 nm, {n_beads} beads at {density} nm^-3, '
                           f'{production:g} ps reference run ({time.perf_counter() - start:.0f} s)'}


def aa_target(args) -> dict:
    """One-bead g(r), density and D of the all-atom run."""
    from aiida_cgmob.analysis import compute_descriptors, map_gromacs

    if args.tpr is not None:
        tpr, xtc = args.tpr, args.xtc
    else:
        directory = _common.RESULTS_DIR / 'descriptors_mapping' / args.aa_run
        tpr, xtc = directory / 'production.tpr', directory / 'production.xtc'
        if not tpr.is_file():
            raise SystemExit(f'no cached all-atom run in {directory}: make one with benchmarks/descriptors_mapping.py '
                             '-n 500 --npt-ps 60 --production-ps 150 --frame-ps 0.5, or give --tpr/--xtc')
    trajectory = map_gromacs(tpr, xtc)
    descriptors = compute_descriptors(trajectory, bin_width=0.01, fit_window=list(args.aa_fit_window))
    cutoff = args.cutoff or 1.4
    return {'r': descriptors.rdf.r, 'g': descriptors.rdf.g, 'mass': trajectory.bead_mass,
            'number_density': descriptors.number_density, 'n_beads': args.n_beads or 1000, 'cutoff': cutoff,
            'fit_range': tuple(args.fit_range or (0.3, cutoff)), 'reference': None,
            'D_reference': descriptors.diffusion.D_si, 'pressure_reference_bar': None,
            'description': f'{trajectory.n_beads} molecules, {trajectory.n_frames} frames of {xtc}; AA density '
                           f'{descriptors.mass_density:.1f} kg/m^3, D_AA {descriptors.diffusion.D_si:.3f} 1e-9 m^2/s '
                           f'(fit {args.aa_fit_window[0]:g}-{args.aa_fit_window[1]:g} ps, box '
                           f'{descriptors.diffusion.box_length:.2f} nm, no finite-size correction)'}


def run_variant(name: str, target: dict, args, work: Path) -> dict:
    import numpy as np

    from aiida_cgmob.ibi import run_ibi, write_ibi_input

    directory = work / name
    if directory.exists():
        shutil.rmtree(directory)
    settings = dict(VARIANTS[name], cutoff=target['cutoff'], fit_range=list(target['fit_range']),
                    max_iterations=args.max_iterations, tolerance=1e-9 if args.continue_below else args.tolerance,
                    bin_width=0.01)
    write_ibi_input(directory, target['r'], target['g'], target['mass'], target['number_density'],
                    n_beads=target['n_beads'], settings=settings, threads=args.threads, lmp=_common.lammps_executable(),
                    lammps_settings={'equilibration': args.equilibration_ps,
                                     'production': args.production_ps or (150.0 if args.target == 'aa' else 100.0),
                                     'frame_interval': args.frame_ps, 'timestep': args.timestep})
    start = time.perf_counter()
    result = run_ibi(directory)
    wall = time.perf_counter() - start
    history = np.load(directory / 'ibi_history.npz')
    rows = []
    for index, iteration in enumerate(history['iteration']):
        row = [int(iteration), f'{history["rms"][index]:.4f}', f'{history["pressure_bar"][index] / 1.01325:.0f}',
               f'{history["seconds"][index]:.1f}']
        if target['reference'] is not None:
            r = history['r_potential']
            inside = (r >= target['reference'].r[0]) & (np.interp(r, history['r'], history['g_target']) > 0.3)
            deviation = np.abs(history['potential'][index][inside] - target['reference'](r[inside])[0]).max()
            row.append(f'{deviation:.3f}')
        rows.append(row)
    headers = ['iteration', 'RMS', 'P/atm', 's']
    if target['reference'] is not None:
        headers.append('max|U-U_LJ| g>0.3 kJ/mol')
    rms = history['rms']
    first = {level: next((int(i) for i, value in zip(history['iteration'], rms, strict=True) if value < level), None)
             for level in (0.02, 0.01)}
    summary = {'name': name, 'settings': VARIANTS[name], 'result': result, 'wall_s': wall, 'table': rows,
               'headers': headers, 'first_below': first}
    descriptors_file = directory / 'descriptors.json'
    if descriptors_file.is_file():
        final = json.loads(descriptors_file.read_text())
        summary['D_CG'] = final['diffusion']['D'] * 1e3  # nm^2/ps -> 1e-9 m^2/s
        summary['density_CG'] = final['mass_density']
    return summary


def report(target: dict, summaries: list[dict], args) -> str:
    lines = [f'ibi_convergence ({args.target}): {target["description"]}',
             f'CG: {target["n_beads"]} beads at {target["number_density"]:.4f} nm^-3 NVT 298.15 K, cutoff '
             f'{target["cutoff"]} nm, per iteration {args.equilibration_ps:g} ps equilibration (from the previous '
             f'final frame) + {args.production_ps or (150 if args.target == "aa" else 100):g} ps production at '
             f'{args.timestep * 1000:g} fs, frames every {args.frame_ps:g} ps, {args.threads} threads; RMS over '
             f'{target["fit_range"][0]:g}-{target["fit_range"][1]:g} nm on 0.01 nm bins', '']
    if target['pressure_reference_bar'] is not None:
        lines.append(f'reference pressure {target["pressure_reference_bar"] / 1.01325:.0f} atm')
    for summary in summaries:
        result = summary['result']
        lines += [f'--- {summary["name"]} {summary["settings"]}',
                  _common.format_table(summary['headers'], summary['table'], 'r' * len(summary['headers'])),
                  f'status {result["status"]}: {result["message"]}',
                  f'first RMS < 0.02 at iteration {summary["first_below"][0.02]}, < 0.01 at '
                  f'{summary["first_below"][0.01]}; {result.get("seconds_per_iteration", float("nan")):.1f} s per '
                  f'iteration ({result.get("lammps_seconds_per_iteration", float("nan")):.1f} s LAMMPS); total '
                  f'{summary["wall_s"]:.0f} s']
        if 'D_CG' in summary:
            text = f'final potential (iteration {result["final_iteration"]}): D_CG {summary["D_CG"]:.3f} 1e-9 m^2/s'
            if target['D_reference']:
                text += f', D_AA {target["D_reference"]:.3f}: D_CG/D_AA = {summary["D_CG"] / target["D_reference"]:.2f}'
            text += f'; CG density {summary["density_CG"]:.1f} kg/m^3, pressure {result["pressure_final_bar"]:.0f} bar'
            lines.append(text)
        lines.append('')
    if len(summaries) > 1:
        base = {s['name']: s['result'].get('seconds_per_iteration') for s in summaries}
        lines.append('time per iteration relative to the first variant: '
                     + ', '.join(f'{name} {value / base[summaries[0]["name"]]:.2f}' for name, value in base.items()
                                 if value))
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    work = args.work / args.target
    work.mkdir(parents=True, exist_ok=True)
    target = lj_target(args, work) if args.target == 'lj' else aa_target(args)
    print(target['description'], flush=True)
    summaries = []
    for name in args.methods:
        print(f'running {name} ...', flush=True)
        summaries.append(run_variant(name, target, args, work))
        print(_common.format_table(summaries[-1]['headers'], summaries[-1]['table']), flush=True)
    text = report(target, summaries, args)
    print(text)
    path = _common.write_result(f'ibi_convergence_{args.target}', text)
    print(f'written to {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
