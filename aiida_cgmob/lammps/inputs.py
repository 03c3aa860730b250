"""LAMMPS input for a one-bead CG liquid with a tabulated pair potential (no AiiDA import).

Our units: nm, ps, K, bar, g/mol.  LAMMPS runs in ``units real`` (Å, fs, atm, kcal/mol); every
conversion happens here.  The run is: (optional) energy minimisation, equilibration, production with
an xtc trajectory (LAMMPS writes xtc in nm and ps), restart files during both, a final restart and
data file.  A continuation reads the newest restart file and runs the remaining steps (``run N upto``).

A restart file is never ahead of the trajectory on disk: LAMMPS buffers its xtc output and cannot flush
it (``dump_modify flush`` is refused for xtc), so a job killed right after a restart file would lose the
frames still in the buffer, and a continuation from that file would never make them again (the joined
trajectory would miss frames).  The production therefore runs in segments of ``restart_interval``: each
segment's frames go to PENDING_NAME, which is closed and appended to TRAJECTORY_NAME before the segment's
restart file is written (see :func:`production_commands`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..potentials import lammps_distance
from ..units import ANGSTROM_PER_NM

ATM_PER_BAR = 1.0 / 1.01325
INPUT_NAME = 'in.lammps'
DATA_NAME = 'beads.data'
TABLE_NAME = 'potential.table'
TABLE_KEYWORD = 'CG'
TRAJECTORY_NAME = 'production.xtc'
PENDING_NAME = 'pending.xtc'  # the frames since the last restart file; appended to TRAJECTORY_NAME at the next
LOG_NAME = 'log.lammps'
STDOUT_NAME = 'lammps.out'  # lmp's stdout and stderr, as the jobs capture them
RESTART_NAMES = ('restart.a', 'restart.b')  # written alternately: one is always whole
FINAL_RESTART = 'final.restart'
FINAL_DATA = 'final.data'
ENSEMBLES = ('nvt', 'npt')
DUMP_ID = 'trajectory'  # the production xtc dump; its command in the log means the file was opened
NO_RESTART_MESSAGE = 'no restart file to continue from'
#: The smallest CG time step (ps) worth trying when integration is unstable: 10x below the usual 5 fs; the IBI
#: script and the cgmob.lammps.cg.base chain both halve the step down to it.
MINIMUM_TIMESTEP = 0.0005

DEFAULT_SETTINGS: dict[str, Any] = {
    'ensemble': 'nvt',  # Nosé-Hoover NVT, or NPT (isotropic, Nosé-Hoover barostat)
    'temperature': 298.15,  # K
    'pressure': 1.0,  # bar, NPT only
    'timestep': 0.005,  # ps
    'equilibration': 50.0,  # ps
    'production': 200.0,  # ps
    'frame_interval': 0.5,  # ps between xtc frames
    'thermo_interval': 1.0,  # ps between thermo lines
    'restart_interval': 50.0,  # ps between restart files
    'thermostat_damping': 0.1,  # ps (Nosé-Hoover Tdamp)
    'barostat_damping': 1.0,  # ps (Nosé-Hoover Pdamp)
    'minimise': True,  # energy minimisation before dynamics (lattice or random starts overlap)
    'seed': 12345,  # velocities
    'table_points': 2000,  # points LAMMPS interpolates linearly between (pair_style table linear N)
    'neighbor_skin': 0.2,  # nm
}


class LammpsInputError(ValueError):
    """Settings or a configuration that cannot make a valid LAMMPS run; the message names the field."""


def validate_settings(settings: dict | None) -> dict:
    """Return ``settings`` merged over DEFAULT_SETTINGS, checked.

    Raises
    ------
    LammpsInputError
        An unknown key or a bad value; the message names the field and the value.
    """
    settings = dict(settings or {})
    unknown = sorted(set(settings) - set(DEFAULT_SETTINGS))
    if unknown:
        raise LammpsInputError(f'unknown LAMMPS CG settings {unknown}; known: {sorted(DEFAULT_SETTINGS)}')
    merged = {**DEFAULT_SETTINGS, **settings}
    if merged['ensemble'] not in ENSEMBLES:
        raise LammpsInputError(f'ensemble must be one of {ENSEMBLES}, got {merged["ensemble"]!r}')
    for name in ('temperature', 'timestep', 'frame_interval', 'thermo_interval', 'restart_interval',
                 'thermostat_damping', 'barostat_damping', 'neighbor_skin'):
        value = merged[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise LammpsInputError(f'{name} must be a number > 0, got {value!r}')
    for name in ('equilibration', 'production'):
        value = merged[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise LammpsInputError(f'{name} must be a number of ps >= 0, got {value!r}')
    if not merged['production'] > 0:
        raise LammpsInputError(f'production must be > 0 ps, got {merged["production"]!r}')
    if not isinstance(merged['pressure'], (int, float)) or isinstance(merged['pressure'], bool):
        raise LammpsInputError(f'pressure must be a number (bar), got {merged["pressure"]!r}')
    if not isinstance(merged['table_points'], int) or merged['table_points'] < 100:
        raise LammpsInputError(f'table_points must be an integer >= 100, got {merged["table_points"]!r}')
    if not isinstance(merged['seed'], int) or not 0 < merged['seed'] < 2**31:
        raise LammpsInputError(f'seed must be an integer in [1, 2^31), got {merged["seed"]!r}')
    for name in ('frame_interval', 'thermo_interval', 'restart_interval'):
        if steps(merged[name], merged['timestep']) < 1:
            raise LammpsInputError(f'{name} = {merged[name]} ps is shorter than the time step {merged["timestep"]} ps')
    if steps(merged['production'], merged['timestep']) < 2 * steps(merged['frame_interval'], merged['timestep']):
        raise LammpsInputError(f'production = {merged["production"]} ps gives fewer than 2 frames at '
                               f'frame_interval = {merged["frame_interval"]} ps')
    return merged


def steps(duration_ps: float, timestep_ps: float) -> int:
    """Whole MD steps in ``duration_ps`` (rounded, so 0.1/0.005 is 20 and not 19)."""
    return int(round(duration_ps / timestep_ps))


@dataclass(frozen=True)
class Configuration:
    """Bead positions (N, 3) nm in an orthorhombic box with edges ``box`` (3,) nm from the origin."""

    positions: np.ndarray
    box: np.ndarray

    def __post_init__(self) -> None:
        """Check the shapes and values (LammpsInputError) and wrap the positions into the box, [0, L) nm."""
        positions = np.asarray(self.positions, dtype=float)
        box = np.asarray(self.box, dtype=float).reshape(-1)
        if positions.ndim != 2 or positions.shape[1] != 3 or not len(positions):
            raise LammpsInputError(f'positions must have shape (N, 3) with N > 0, got {positions.shape}')
        if box.shape != (3,) or not np.all(np.isfinite(box)) or not np.all(box > 0):
            raise LammpsInputError(f'box must be three edge lengths > 0 nm, got {box.tolist()}')
        if not np.all(np.isfinite(positions)):
            raise LammpsInputError('positions contain NaN or inf')
        object.__setattr__(self, 'positions', np.mod(positions, box))  # wrapped into [0, L)
        object.__setattr__(self, 'box', box)

    @property
    def n_beads(self) -> int:
        """Number of beads."""
        return len(self.positions)

    @property
    def number_density(self) -> float:
        """Beads per nm^3."""
        return self.n_beads / float(np.prod(self.box))


def lattice_configuration(n_beads: int, number_density: float, seed: int = 0, jitter: float = 0.05) -> Configuration:
    """``n_beads`` on a simple cubic lattice in a cubic box of the given number density (nm^-3).

    The smallest n^3 >= n_beads lattice is filled at randomly chosen sites, each displaced by up to
    ``jitter`` of the lattice spacing, so no two beads start closer than ~0.9 spacings: tabulated CG
    potentials have steep cores and random insertion at liquid density would overlap.
    """
    if not isinstance(n_beads, (int, np.integer)) or n_beads < 2:
        raise LammpsInputError(f'n_beads must be an integer >= 2, got {n_beads!r}')
    if not number_density > 0:
        raise LammpsInputError(f'number_density must be > 0 nm^-3, got {number_density!r}')
    length = (n_beads / number_density) ** (1.0 / 3.0)
    per_side = int(np.ceil(n_beads ** (1.0 / 3.0) - 1e-9))
    spacing = length / per_side
    rng = np.random.default_rng(seed)
    sites = np.stack(np.meshgrid(*[np.arange(per_side)] * 3, indexing='ij'), axis=-1).reshape(-1, 3)
    chosen = sites[np.sort(rng.choice(len(sites), n_beads, replace=False))]
    positions = (chosen + 0.5 + rng.uniform(-jitter, jitter, (n_beads, 3))) * spacing
    return Configuration(positions, np.full(3, length))


def configuration_from_frame(positions: np.ndarray, dimensions: np.ndarray) -> Configuration:
    """Return the configuration of one frame of a BeadTrajectory.

    ``positions`` (N, 3) are in nm, ``dimensions`` are [a, b, c, α, β, γ] (nm, degrees).

    Only orthorhombic boxes: LAMMPS would need a tilted box, and our AA boxes are cubic.
    """
    dimensions = np.asarray(dimensions, dtype=float)
    if not np.allclose(dimensions[3:], 90.0, atol=1e-3):
        raise LammpsInputError(f'the starting frame has a triclinic box (angles {dimensions[3:].tolist()} deg); '
                               'only orthorhombic boxes are supported for CG runs')
    return Configuration(positions, dimensions[:3])


def write_data(path: str | Path, configuration: Configuration, mass: float) -> Path:
    """Write a LAMMPS data file (atom_style atomic, real units: Å, g/mol) with one atom type.

    ``configuration`` is in nm and ``mass`` (g/mol) is the mass of a bead; returns ``path``.
    """
    if not mass > 0:
        raise LammpsInputError(f'bead mass must be > 0 g/mol, got {mass!r}')
    box = configuration.box * ANGSTROM_PER_NM
    positions = configuration.positions * ANGSTROM_PER_NM
    lines = [
        'one-bead CG liquid written by aiida-cgmob (units real)', '',
        f'{configuration.n_beads} atoms', '1 atom types', '',
        f'0.0 {box[0]:.8f} xlo xhi', f'0.0 {box[1]:.8f} ylo yhi', f'0.0 {box[2]:.8f} zlo zhi', '',
        'Masses', '', f'1 {mass:.8g}', '',
        'Atoms # atomic', '',
    ]
    lines += [f'{i} 1 {x:.8f} {y:.8f} {z:.8f}' for i, (x, y, z) in enumerate(positions, start=1)]
    path = Path(path)
    path.write_text('\n'.join(lines) + '\n')
    return path


def write_input(path: str | Path, settings: dict, mass: float, cutoff: float,
                restart_from: str | Sequence[str] | None = None, timeout_seconds: float | None = None) -> Path:
    """Write the LAMMPS input script for a CG run (``settings`` as in DEFAULT_SETTINGS; ``cutoff`` nm).

    Fresh start: read ``beads.data``.  Continuation (``restart_from``: a restart file of an interrupted
    run with the same settings): LAMMPS restores the step, finishes the equilibration if it had not, and
    runs production up to the planned last step.  Its xtc then starts at the restart step; the earlier
    frames are in the interrupted run's xtc (see ``analysis.trajectory.read_beads`` with several files).
    ``restart_from`` may also be several candidate file names: LAMMPS then reads the one holding the
    largest time step, skipping names that do not exist (see :func:`restart_selection`).

    ``timeout_seconds``: LAMMPS stops itself after this wall time (``timer timeout``), skips the
    remaining runs and still writes ``final.restart`` and ``final.data`` at the step it reached, so the
    run can be continued from there (the log then says ``Wall time limit reached``).
    """
    s = validate_settings(settings)
    dt_fs = s['timestep'] * 1000.0
    n_equil, n_prod = steps(s['equilibration'], s['timestep']), steps(s['production'], s['timestep'])
    n_frame = steps(s['frame_interval'], s['timestep'])
    n_thermo = steps(s['thermo_interval'], s['timestep'])
    n_restart = steps(s['restart_interval'], s['timestep'])
    temperature = s['temperature']
    candidates = [restart_from] if isinstance(restart_from, (str, Path)) else list(restart_from or [])
    lines = ['# one-bead CG liquid, tabulated pair potential; written by aiida-cgmob']
    if len(candidates) > 1:
        lines += restart_selection(candidates)
    lines += ['units real', 'atom_style atomic', 'boundary p p p', 'atom_modify map array']
    if timeout_seconds is not None:
        if not timeout_seconds > 0:
            raise LammpsInputError(f'timeout_seconds must be > 0, got {timeout_seconds!r}')
        # checked every 100 steps: stops within milliseconds of the limit at CG speeds
        lines += [f'timer timeout {max(1, int(timeout_seconds))} every 100']
    if not candidates:
        lines += [f'read_data {DATA_NAME}', f'mass 1 {mass:.8g}']
    elif len(candidates) == 1:
        lines += [f'read_restart {candidates[0]}']
    else:
        lines += restart_choice(candidates)
    lines += [
        f'pair_style table linear {s["table_points"]}',
        # the cutoff printed as the table's rhi: equal numbers, so never 'outside of table' by round-off
        f'pair_coeff 1 1 {TABLE_NAME} {TABLE_KEYWORD} {lammps_distance(cutoff)}',
        f'neighbor {s["neighbor_skin"] * ANGSTROM_PER_NM:.6g} bin',
        'neigh_modify every 1 delay 0 check yes',
        f'timestep {dt_fs:.8g}',
        'thermo_style custom step time temp press pe ke etotal vol density',
        'thermo_modify flush yes lost error norm no',
        f'thermo {n_thermo}',
    ]
    if not candidates:
        if s['minimise']:
            lines += ['# remove lattice/insertion overlaps before dynamics',
                      'minimize 1.0e-4 1.0e-6 1000 10000', 'reset_timestep 0']
        lines += [f'velocity all create {temperature:.8g} {s["seed"]} dist gaussian mom yes rot no']
    # restart files only from the dynamics: one written during the minimisation would carry a step
    # number unrelated to the MD steps that follow reset_timestep (the production writes its own)
    lines += [f'restart {n_restart} {RESTART_NAMES[0]} {RESTART_NAMES[1]}']
    tdamp = s['thermostat_damping'] * 1000.0
    if s['ensemble'] == 'nvt':
        lines += [f'fix integrate all nvt temp {temperature:.8g} {temperature:.8g} {tdamp:.8g}']
    else:
        pressure = s['pressure'] * ATM_PER_BAR
        pdamp = s['barostat_damping'] * 1000.0
        lines += [f'fix integrate all npt temp {temperature:.8g} {temperature:.8g} {tdamp:.8g} '
                  f'iso {pressure:.8g} {pressure:.8g} {pdamp:.8g}']
    if not candidates:
        lines += ['# equilibration', f'run {n_equil}']
    else:  # the restart may come from the equilibration or the production
        lines += ['# equilibration, unless the restart is past it', 'variable restart_step equal step',
                  f'if "${{restart_step}} < {n_equil}" then "run {n_equil} upto"']
    lines += production_commands(n_equil + n_prod, n_frame, n_restart)
    lines += [f'write_restart {FINAL_RESTART}', f'write_data {FINAL_DATA}']
    path = Path(path)
    path.write_text('\n'.join(lines) + '\n')
    return path


def production_commands(last_step: int, n_frame: int, n_restart: int) -> list[str]:
    """Return the production's LAMMPS commands: xtc frames and restart files, no restart file ahead of the frames.

    The run is cut into segments of ``n_restart`` steps (``run ... every``).  At the end of each, the dump of
    PENDING_NAME is closed (the only way to flush LAMMPS' xtc buffer), the file appended to TRAJECTORY_NAME,
    and only then the restart file written, alternating between RESTART_NAMES by the segment's step.  The
    next segment's dump starts after that step (``delay``), so the frame at a segment boundary is written
    once.  Frames stay on multiples of ``n_frame``: a continuation's frames fall on the same steps as an
    uninterrupted run's.  A kill at any moment leaves every whole restart file with all frames up to its
    step in TRAJECTORY_NAME (a kill during the append leaves half a frame at its end, which readers drop).

    Parameters
    ----------
    last_step
        The step the production ends at (``run last_step upto``).
    n_frame
        Steps between xtc frames.
    n_restart
        Steps between restart files.

    Returns
    -------
    list of str
        Input lines, from ``restart 0`` (the equilibration's ``restart`` command stops) to the closed trajectory.
    """
    dump = f'dump {DUMP_ID} all xtc {n_frame} {PENDING_NAME}'
    restart = (f'"""if "$(floor(step/{n_restart})%2) == 1" then "write_restart {RESTART_NAMES[0]}" '
               f'else "write_restart {RESTART_NAMES[1]}" """')
    segment_end = [f'"undump {DUMP_ID}"', f'"shell cat {PENDING_NAME} >> {TRAJECTORY_NAME}"', restart,
                   f'"{dump}"', f'"dump_modify {DUMP_ID} sort id delay $(step+1)"']
    return [
        '# production: xtc in nm and ps (LAMMPS converts real units), ordered by atom id, in segments that end',
        '# with the frames on disk and then a restart file (LAMMPS cannot flush an xtc dump, only close it)',
        'restart 0',
        f'shell cat /dev/null > {TRAJECTORY_NAME}',
        dump,
        f'dump_modify {DUMP_ID} sort id',
        f'run {last_step} upto post no every {n_restart} ' + ' '.join(segment_end),
        f'undump {DUMP_ID}',
        f'shell cat {PENDING_NAME} >> {TRAJECTORY_NAME}',
        f'shell rm {PENDING_NAME}',
    ]


def restart_selection(candidates: Sequence[str]) -> list[str]:
    """LAMMPS commands that learn the time step stored in each existing candidate restart file.

    Each file is read, its step kept in ``restart_step_<k>`` (-1 when the file does not exist), and the
    system cleared again.  The step, not the file time, decides which file is newest: copies lose
    their modification times, and restart files alternate between two names.
    """
    _check_names(candidates)
    lines = ['# which restart file is newest: read each one, note its step, clear']
    for k, name in enumerate(candidates):
        lines += [f'variable restart_step_{k} equal -1',
                  f'if "$(is_file({name}))" then "read_restart {name}" "variable restart_step_{k} equal $(step)" '
                  '"clear"']
    return lines


def restart_choice(candidates: Sequence[str]) -> list[str]:
    """Return the LAMMPS ``if`` that reads the candidate restart file with the largest step.

    The first among equals is read; when none exists, LAMMPS stops with NO_RESTART_MESSAGE.  Needs the
    variables of :func:`restart_selection`.
    """
    _check_names(candidates)
    branches = []
    for k, name in enumerate(candidates):
        later = ''.join(f' && ${{restart_step_{k}}} >= ${{restart_step_{j}}}' for j in range(k + 1, len(candidates)))
        then = 'then ' if k == 0 else ''  # if B then C elif B C ... else C
        branches.append(f'"${{restart_step_{k}}} >= 0{later}" {then}"read_restart {name}"')
    message = f"{NO_RESTART_MESSAGE} (looked for {', '.join(candidates)})"
    # LAMMPS has no command that raises an error: print one in its format (the parsers read it) and quit
    return ['if ' + ' elif '.join(branches) + f' else "print \'ERROR: {message}\'" "quit 1"']


def _check_names(candidates: Sequence[str]) -> None:
    for name in candidates:
        if not name or any(char.isspace() or char in '"\'$#(),' for char in str(name)):
            raise LammpsInputError(f'restart file name {name!r} cannot be used in a LAMMPS input (spaces, quotes ...)')


def total_steps(settings: dict) -> tuple[int, int]:
    """(equilibration steps, equilibration + production steps) of validated ``settings``."""
    s = validate_settings(settings)
    n_equil = steps(s['equilibration'], s['timestep'])
    return n_equil, n_equil + steps(s['production'], s['timestep'])


def read_data(path: str | Path) -> tuple[Configuration, float]:
    """Read a one-type LAMMPS data file in real units: return (configuration in nm, bead mass in g/mol).

    Reads what ``write_data`` writes and what LAMMPS' ``write_data`` writes (orthorhombic box, image
    flags after the coordinates are applied so positions come out unwrapped, then wrapped back).
    """
    lines = Path(path).read_text().splitlines()
    bounds, mass, atoms = {}, None, []
    section = None
    for line in lines[1:]:
        text = line.split('#')[0].strip()
        if not text:
            continue
        fields = text.split()
        if fields[-1] in ('xhi', 'yhi', 'zhi') and len(fields) == 4:
            bounds[fields[-1][0]] = (float(fields[0]), float(fields[1]))
            continue
        if fields[-1] == 'xz' and len(fields) == 6:
            if any(float(value) != 0 for value in fields[:3]):
                raise LammpsInputError(f'{path}: a tilted (triclinic) box is not supported')
            continue
        if fields[0] in ('Masses', 'Atoms', 'Velocities'):
            section = fields[0]
            continue
        if section == 'Masses':
            mass = float(fields[1])
        elif section == 'Atoms':
            atom_id = int(fields[0])
            xyz = np.array([float(value) for value in fields[2:5]])
            if len(fields) >= 8:  # image flags
                xyz = xyz + np.array([int(value) for value in fields[5:8]]) * np.array(
                    [bounds[axis][1] - bounds[axis][0] for axis in 'xyz'])
            atoms.append((atom_id, xyz))
    if set(bounds) != {'x', 'y', 'z'} or not atoms or mass is None:
        raise LammpsInputError(f'{path}: not a one-type LAMMPS data file with box bounds, Masses and Atoms')
    atoms.sort(key=lambda item: item[0])
    low = np.array([bounds[axis][0] for axis in 'xyz'])
    box = np.array([bounds[axis][1] - bounds[axis][0] for axis in 'xyz'])
    positions = (np.array([xyz for _, xyz in atoms]) - low) / ANGSTROM_PER_NM
    return Configuration(positions, box / ANGSTROM_PER_NM), mass
