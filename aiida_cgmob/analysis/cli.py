"""``cgmob-descriptors``: descriptors of a trajectory, run on the computer that holds it (no AiiDA import).

Writes ``<output>.npz`` (r, g, t, msd) and ``<output>.json`` (scalars with units).  A failure the
trajectory explains (missing file, box too small, no diffusive regime, ...) writes
``<output>_error.json`` with its kind and message and exits with status 2; bad arguments exit with 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .files import STEM

__all__ = ['main']


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='cgmob-descriptors',
        description='One-bead (centre-of-mass) descriptors of an MD trajectory: g(r), MSD(t), D, densities. '
                    'Units: nm, ps, g/mol.')
    parser.add_argument('trajectory', nargs='+',
                        help='.xtc/.trr (GROMACS or LAMMPS xtc dump) or LAMMPS text dump; a CG run continued from '
                             'restart files may give its segments in order (joined in time, repeats dropped)')
    parser.add_argument('--topology', help='GROMACS .tpr: map the all-atom trajectory to molecular centres of mass. '
                                           'Without it every particle is a bead (CG trajectory).')
    parser.add_argument('--bead-mass', type=float, help='bead mass in g/mol (CG trajectories)')
    parser.add_argument('--timestep', type=float, help='integration time step in ps (LAMMPS text dumps)')
    parser.add_argument('--settings', help='JSON file of descriptor settings (r_max, bin_width, begin, end, '
                                           'fit_window, tail_fraction, slope_tolerance, temperature, viscosity)')
    parser.add_argument('--output', default=STEM, help=f'output stem (default: {STEM})')
    return parser


def main(argv: list[str] | None = None) -> int:
    """Compute the descriptors of a trajectory; return the exit status (see the module docstring).

    Parameters
    ----------
    argv
        Command-line arguments without the program name (``sys.argv[1:]`` when None).
    """
    args = _parser().parse_args(argv)
    from .descriptors import compute_descriptors, validate_settings
    from .trajectory import DescriptorError, map_gromacs, read_beads

    output = Path(args.output)
    error_file = output.with_name(f'{output.name}_error.json')
    try:
        settings = json.loads(Path(args.settings).read_text()) if args.settings else {}
        settings = validate_settings(settings)
        if args.topology is None and args.bead_mass is None:
            raise ValueError('a CG trajectory needs --bead-mass (g/mol); an all-atom one needs --topology (.tpr)')
        if args.topology and len(args.trajectory) > 1:
            raise ValueError(f'--topology maps one all-atom trajectory, got {len(args.trajectory)}: '
                             f'{" ".join(args.trajectory)}')
        if not output.parent.is_dir():
            raise ValueError(f'--output {args.output}: directory {str(output.parent)!r} does not exist')
    except (ValueError, OSError) as exception:
        print(f'cgmob-descriptors: error: {exception}', file=sys.stderr)
        return 1

    start = time.perf_counter()
    try:
        if args.topology:
            trajectory = map_gromacs(args.topology, args.trajectory[0], settings['begin'], settings['end'])
        else:
            trajectory = read_beads(args.trajectory, args.bead_mass, settings['begin'], settings['end'],
                                    args.timestep)
        mapped = time.perf_counter()
        descriptors = compute_descriptors(trajectory, **{k: v for k, v in settings.items()
                                                         if k not in ('begin', 'end')})
    except DescriptorError as exception:
        error_file.write_text(json.dumps({'kind': exception.kind, 'message': str(exception)}))
        print(f'cgmob-descriptors: {exception.kind}: {exception}', file=sys.stderr)
        return 2
    except ValueError as exception:  # an argument the trajectory cannot use, e.g. a LAMMPS dump without --timestep
        print(f'cgmob-descriptors: error: {exception}', file=sys.stderr)
        return 1
    descriptors.write(output.parent, output.name)
    d = descriptors.diffusion
    print(f'{descriptors.n_beads} beads, {descriptors.n_frames} frames ({descriptors.time_span[0]:g}-'
          f'{descriptors.time_span[1]:g} ps); read+map {mapped - start:.2f} s, '
          f'descriptors {time.perf_counter() - mapped:.2f} s')
    print(f'mass density {descriptors.mass_density:.1f} kg/m^3, D = {d.D_si:.4f} +- {d.D_error * 1e3:.4f} '
          f'1e-9 m^2/s (fit {d.fit_window[0]:.3g}-{d.fit_window[1]:.3g} ps, {d.window_chosen})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
