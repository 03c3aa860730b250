"""Bead trajectories: all-atom GROMACS runs mapped to one bead per molecule, or CG runs read as they are.

Everything returned is in package units: nm, ps, g/mol; box dimensions ``[a, b, c, alpha, beta,
gamma]`` in nm and degrees.  Bead positions are stored frame by frame as the trajectory gives them
(any periodic image of the frame's own box: what minimum-image distances for g(r) need); the MSD
asks for :meth:`BeadTrajectory.unwrapped`, continuous in time.  The two differ under NPT, where an
unwrapped position is no longer a lattice vector of the current box away from the wrapped one.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..units import ANGSTROM_PER_NM
from .mapping import MoleculeMap, box_vectors, centres_of_mass, unwrap_in_time, wrap_into_cell

__all__ = ['BeadTrajectory', 'DescriptorError', 'map_gromacs', 'read_beads', 'read_lammps_dump', 'wrap_into_cell',
           'write_lammps_dump', 'write_xtc']



class DescriptorError(ValueError):
    """A trajectory that cannot give the requested descriptors; ``kind`` names the failure for exit codes."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass
class BeadTrajectory:
    """One bead per molecule: positions (F, N, 3) nm, dimensions (F, 6), times (F,) ps."""

    positions: np.ndarray
    dimensions: np.ndarray
    times: np.ndarray
    bead_mass: float  # g/mol, the molecular mass for a mapped AA trajectory
    source: str = ''

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return self.positions.shape[0]

    @property
    def n_beads(self) -> int:
        """Number of beads."""
        return self.positions.shape[1]

    def unwrapped(self) -> np.ndarray:
        """Positions (F, N, 3) without periodic jumps, for displacements (see :func:`unwrap_in_time`)."""
        return unwrap_in_time(self.positions, self.dimensions)

    def __post_init__(self):
        """Refuse an empty trajectory (DescriptorError ``empty_trajectory``) and a bead mass that is not > 0."""
        if self.n_frames == 0:
            raise DescriptorError('empty_trajectory', f'{self.source or "trajectory"}: no frames in the chosen range')
        if not self.bead_mass > 0:
            raise ValueError(f'bead_mass must be a positive mass in g/mol, got {self.bead_mass!r}')


def _require(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise DescriptorError('missing_file', f'{what} {str(path)!r} does not exist')
    return path


def _universe(*paths, **kwargs):
    import MDAnalysis as mda

    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # MDAnalysis warns about guessed attributes we do not use
        return mda.Universe(*[str(p) for p in paths], **kwargs)


def _frame_slice(times: np.ndarray, begin: float | None, end: float | None) -> np.ndarray:
    keep = np.ones(len(times), dtype=bool)
    if begin is not None:
        keep &= times >= begin - 1e-6
    if end is not None:
        keep &= times <= end + 1e-6
    return np.flatnonzero(keep)


def map_gromacs(topology: str | Path, trajectory: str | Path, begin: float | None = None,
                end: float | None = None, chunk_frames: int = 256) -> BeadTrajectory:
    """Map a GROMACS run (``.tpr`` + ``.xtc``/``.trr``) to molecular centres of mass.

    Molecules are the bonded fragments of the run input; each is made whole around its first atom
    in every frame (as MDAnalysis' ``unwrap`` does), then reduced to its centre of mass, vectorised
    over frames and molecules.  ``begin``/``end`` (ps) select frames.  Only pure liquids are mapped:
    molecules of different masses are refused.  Each centre lies where the molecule's first atom
    puts it, as with MDAnalysis' ``center_of_mass(compound=..., unwrap=True)``.
    """
    topology = _require(topology, 'topology')
    trajectory = _require(trajectory, 'trajectory')
    universe = _universe(topology, trajectory)
    atoms = universe.atoms
    try:
        molecules = MoleculeMap.from_bonds(len(atoms), universe.bonds.indices, atoms.masses)
    except ValueError as exception:  # e.g. massless virtual sites
        raise DescriptorError('unsupported_topology', f'{topology}: {exception}') from exception
    masses = molecules.molecular_masses
    if np.ptp(masses) > 1e-3:
        raise DescriptorError('mixture', f'{topology}: molecules of different masses ({masses.min():.3f}-'
                                         f'{masses.max():.3f} g/mol); only pure liquids are mapped to one bead type')
    reader = universe.trajectory
    times = np.array([reader.time]) if reader.n_frames == 1 else reader.time + reader.dt * np.arange(reader.n_frames)
    frames = _frame_slice(times, begin, end)

    centres = np.empty((len(frames), molecules.n_molecules, 3))
    dimensions = np.empty((len(frames), 6))
    read_times = np.empty(len(frames))
    buffer = np.empty((min(chunk_frames, max(len(frames), 1)), len(atoms), 3), dtype=np.float32)
    for start in range(0, len(frames), chunk_frames):
        chunk = frames[start:start + chunk_frames]
        for slot, frame in enumerate(chunk):
            ts = reader[int(frame)]
            buffer[slot] = ts.positions
            dimensions[start + slot] = ts.dimensions
            read_times[start + slot] = ts.time
        box = dimensions[start:start + len(chunk)].copy()
        box[:, :3] /= ANGSTROM_PER_NM
        centres[start:start + len(chunk)] = centres_of_mass(buffer[:len(chunk)] / ANGSTROM_PER_NM, box, molecules)
    if not np.allclose(read_times, times[frames], atol=1e-3):
        # Frames were selected on times assumed evenly spaced (reading every time would decode every frame).
        raise DescriptorError('uneven_frames', f'{trajectory.name}: frame times are not evenly spaced (e.g. a '
                                               'concatenated trajectory); write one with a constant interval')
    dimensions[:, :3] /= ANGSTROM_PER_NM
    return BeadTrajectory(centres, dimensions, read_times, float(masses[0]),
                          source=f'{topology.name}+{trajectory.name}')


def read_beads(trajectory: str | Path | Sequence[str | Path], bead_mass: float, begin: float | None = None,
               end: float | None = None, timestep: float | None = None) -> BeadTrajectory:
    """Read a coarse-grained trajectory in which every particle is a bead (LAMMPS dump or xtc).

    ``bead_mass`` in g/mol.  LAMMPS text dumps (``.lammpstrj``/``.dump``, real units: Å) need the
    integration ``timestep`` in ps to turn step numbers into ps; xtc files carry ps and nm already.

    ``trajectory`` may be several files: the segments of one run continued from restart files, in
    order.  They are joined in time: where a segment starts at t0, the frames of the earlier segments
    at t >= t0 are dropped (the continuation ran that stretch again from its restart file).  Empty
    files (a segment interrupted before its first frame) are skipped; a gap of more than one frame
    interval between segments is refused (DescriptorError ``missing_frames``).  ``begin``/``end`` (ps)
    then select frames of the joined trajectory.
    """
    paths = [trajectory] if isinstance(trajectory, (str, Path)) else list(trajectory)
    if not paths:
        raise ValueError('read_beads: no trajectory file given')
    segments = [_read_segment(_require(path, 'trajectory'), timestep) for path in paths]
    positions, dimensions, times = _join_segments(segments, [Path(path).name for path in paths])
    frames = _frame_slice(times, begin, end)
    return BeadTrajectory(positions[frames], dimensions[frames], times[frames], float(bead_mass),
                          source='+'.join(Path(path).name for path in paths))


def _read_segment(trajectory: Path, timestep: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(positions, dimensions, times) of one file, or None for an empty file."""
    if trajectory.suffix not in ('.xtc', '.trr', '.lammpstrj', '.dump'):
        raise DescriptorError('unknown_format', f'{trajectory.name}: unknown trajectory format {trajectory.suffix!r} '
                                                '(expected .xtc, .trr, .lammpstrj or .dump)')
    if trajectory.stat().st_size == 0:
        return None
    if trajectory.suffix in ('.xtc', '.trr'):
        return _read_mdanalysis(trajectory)
    if timestep is None:
        raise ValueError(f'{trajectory.name}: a LAMMPS text dump needs the time step (ps) to convert steps to ps')
    positions, dimensions, steps = read_lammps_dump(trajectory)
    return positions, dimensions, steps * timestep


def _join_segments(segments: list, names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate segments in time; an earlier segment keeps only its frames before the next one starts.

    A frame counts as repeated within a quarter of the frame interval (xtc times are float32: the same step
    may read 0.0999908 ps after its predecessor).  Segments that leave a gap between them are refused
    (``missing_frames``): a continuation that started after the last frame its predecessor left on disk,
    so the frames in between were never written and the joined trajectory would be unevenly spaced.
    """
    kept = [(segment, name) for segment, name in zip(segments, names, strict=True)
            if segment is not None and len(segment[2])]
    if not kept:
        raise DescriptorError('empty_trajectory', f'{" + ".join(names)}: no frames')
    n_beads = {segment[0].shape[1] for segment, _ in kept}
    if len(n_beads) > 1:
        raise DescriptorError('segments_differ', 'trajectory segments hold different numbers of beads: '
                              + ', '.join(f'{name}: {segment[0].shape[1]}' for segment, name in kept))
    # one frame interval for all segments: a segment of one frame has none of its own
    intervals = np.concatenate([np.diff(segment[2]) for segment, _ in kept])
    intervals = intervals[intervals > 0]
    interval = float(np.median(intervals)) if intervals.size else None
    latest = max(float(np.abs(segment[2]).max()) for segment, _ in kept)
    tolerance = 0.25 * interval if interval else 4 * float(np.spacing(np.float32(latest)))
    joined: list[tuple[np.ndarray, np.ndarray, np.ndarray, str]] = []
    for (positions, dimensions, times), name in kept:
        joined = [(*(array[piece[2] < times[0] - tolerance] for array in piece[:3]), piece[3]) for piece in joined]
        joined = [piece for piece in joined if len(piece[2])]
        joined.append((positions, dimensions, times, name))
    if interval:
        for before, after in zip(joined, joined[1:], strict=False):
            if after[2][0] - before[2][-1] > 1.5 * interval:
                raise DescriptorError(
                    'missing_frames', f'{after[3]} starts at {after[2][0]:g} ps but {before[3]} ends at '
                    f'{before[2][-1]:g} ps (frames every {interval:.4g} ps): the frames in between are missing; '
                    'a continued run must start from a restart file no newer than the trajectory on disk')
    return tuple(np.concatenate([piece[k] for piece in joined]) for k in range(3))


def _read_mdanalysis(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from MDAnalysis.coordinates.TRR import TRRReader
    from MDAnalysis.coordinates.XTC import XTCReader

    reader = (XTCReader if path.suffix == '.xtc' else TRRReader)(str(path))
    positions = np.empty((reader.n_frames, reader.n_atoms, 3))
    dimensions = np.empty((reader.n_frames, 6))
    times = np.empty(reader.n_frames)
    count = 0
    for index, ts in enumerate(reader):
        positions[index] = ts.positions
        dimensions[index] = ts.dimensions
        times[index] = ts.time
        count = index + 1
    reader.close()
    # a run killed while writing leaves a partial last frame: the reader counts it but cannot read it
    positions, dimensions, times = positions[:count], dimensions[:count], times[:count]
    positions /= ANGSTROM_PER_NM
    dimensions[:, :3] /= ANGSTROM_PER_NM
    return positions, dimensions, times


def read_lammps_dump(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions (F, N, 3) nm sorted by atom id, dimensions (F, 6) and step numbers (F,) of a LAMMPS text dump.

    Real units (Å) are assumed.  Columns ``x y z``, ``xu yu zu`` or scaled ``xs ys zs`` are read;
    image flags ``ix iy iz`` are applied to wrapped ``x y z`` (``xu`` columns already include them).
    """
    lines = Path(path).read_text().splitlines()
    positions, dimensions, steps = [], [], []
    index = 0
    while index < len(lines):
        if not lines[index].startswith('ITEM: TIMESTEP'):
            index += 1
            continue
        steps.append(int(lines[index + 1]))
        n_atoms = int(lines[index + 3])
        bounds_header = lines[index + 4].split()
        bounds = np.array([[float(v) for v in lines[index + 5 + k].split()] for k in range(3)])
        triclinic = 'xy' in bounds_header
        tilt = bounds[:, 2] if triclinic else np.zeros(3)
        xy, xz, yz = tilt
        lo, hi = bounds[:, 0].copy(), bounds[:, 1].copy()
        if triclinic:  # bounding box -> cell (LAMMPS howto_triclinic)
            lo[0] -= min(0.0, xy, xz, xy + xz)
            hi[0] -= max(0.0, xy, xz, xy + xz)
            lo[1] -= min(0.0, yz)
            hi[1] -= max(0.0, yz)
        cell = np.array([[hi[0] - lo[0], 0, 0], [xy, hi[1] - lo[1], 0], [xz, yz, hi[2] - lo[2]]])
        columns = lines[index + 8].split()[2:]
        table = np.array([line.split() for line in lines[index + 9:index + 9 + n_atoms]], dtype=np.float64)
        table = table[np.argsort(table[:, columns.index('id')])]
        if 'xs' in columns:
            scaled = table[:, [columns.index(c) for c in ('xs', 'ys', 'zs')]]
            xyz = lo + scaled @ cell
        else:
            names = ('xu', 'yu', 'zu') if 'xu' in columns else ('x', 'y', 'z')
            xyz = table[:, [columns.index(c) for c in names]]
        if 'ix' in columns and 'xu' not in columns:
            xyz = xyz + table[:, [columns.index(c) for c in ('ix', 'iy', 'iz')]] @ cell
        positions.append(xyz / ANGSTROM_PER_NM)
        a, b, c = (np.linalg.norm(v) for v in cell)
        angles = [np.degrees(np.arccos(np.dot(cell[j], cell[k]) / (np.linalg.norm(cell[j]) * np.linalg.norm(cell[k]))))
                  for j, k in ((1, 2), (0, 2), (0, 1))]
        dimensions.append([a / ANGSTROM_PER_NM, b / ANGSTROM_PER_NM, c / ANGSTROM_PER_NM, *angles])
        index += 9 + n_atoms
    if not steps:
        raise DescriptorError('empty_trajectory', f'{path}: no frames in the LAMMPS dump')
    return np.array(positions), np.array(dimensions), np.array(steps, dtype=np.float64)


def write_lammps_dump(path: str | Path, positions: np.ndarray, dimensions: np.ndarray, steps: np.ndarray) -> None:
    """Write orthorhombic frames (nm) as a LAMMPS text dump (real units, ``id type x y z``, wrapped into the box)."""
    with open(path, 'w') as handle:
        for xyz, box, step in zip(positions, dimensions, steps, strict=True):
            if not np.allclose(box[3:], 90.0):
                raise ValueError('write_lammps_dump writes orthorhombic boxes only')
            lengths = box[:3] * ANGSTROM_PER_NM
            wrapped = np.mod(xyz * ANGSTROM_PER_NM, lengths)
            handle.write(f'ITEM: TIMESTEP\n{int(step)}\nITEM: NUMBER OF ATOMS\n{len(xyz)}\n'
                         'ITEM: BOX BOUNDS pp pp pp\n')
            handle.write(''.join(f'0.0 {length:.6f}\n' for length in lengths))
            handle.write('ITEM: ATOMS id type x y z\n')
            handle.write(''.join(f'{i + 1} 1 {x:.5f} {y:.5f} {z:.5f}\n' for i, (x, y, z) in enumerate(wrapped)))


def write_xtc(path: str | Path, positions: np.ndarray, dimensions: np.ndarray, times: np.ndarray) -> None:
    """Write frames (nm, ps) as an xtc file (precision 0.001 nm), each bead wrapped into the primary cell."""
    from MDAnalysis.lib.formats.libmdaxdr import XTCFile

    # The low-level writer takes nm and box vectors directly (MDAnalysis' XTCWriter wants a Universe).
    wrapped, boxes = wrap_into_cell(positions, dimensions), box_vectors(dimensions)
    with XTCFile(str(path), 'w') as handle:
        for frame, (xyz, box, time) in enumerate(zip(wrapped, boxes, times, strict=True)):
            handle.write(xyz.astype(np.float32), box.astype(np.float32), frame, float(time), 1000.0)
