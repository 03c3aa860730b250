"""Reading a LAMMPS log of a CG run (no AiiDA import): thermo tables, performance, errors.

LAMMPS real units in the log (fs, atm, kcal/mol, g/cm^3) are converted here: results carry their
units in the key names (``pressure_bar``, ``density_kg_m3``, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..analysis.statistics import block_average
from ..units import KJ_PER_KCAL

BAR_PER_ATM = 1.01325
ERROR_PATTERN = re.compile(r'^(ERROR(?: on proc \d+)?:.*)$', re.MULTILINE)
WARNING_PATTERN = re.compile(r'^WARNING: (.*)$', re.MULTILINE)
PERFORMANCE_PATTERN = re.compile(r'^Performance:\s+([\d.eE+-]+)\s+ns/day', re.MULTILINE)
LOOP_PATTERN = re.compile(r'^Loop time of ([\d.eE+-]+) on (\d+) procs for (\d+) steps with (\d+) atoms', re.MULTILINE)
WALL_PATTERN = re.compile(r'^Total wall time: (\d+):(\d+):(\d+)', re.MULTILINE)
TIMEOUT_WARNING = 'Wall time limit reached'  # printed when ``timer timeout`` stops a run
DUMP_PATTERN = re.compile(r'^dump trajectory ', re.MULTILINE)  # the echoed command (inputs.DUMP_ID)
#: LAMMPS thermo column -> (our name, factor from LAMMPS real units)
THERMO_UNITS = {
    'Temp': ('temperature_K', 1.0),
    'Press': ('pressure_bar', BAR_PER_ATM),
    'PotEng': ('potential_energy_kJ_mol', KJ_PER_KCAL),
    'KinEng': ('kinetic_energy_kJ_mol', KJ_PER_KCAL),
    'TotEng': ('total_energy_kJ_mol', KJ_PER_KCAL),
    'Volume': ('volume_nm3', 1e-3),
    'Density': ('density_kg_m3', 1e3),
}
# failures the time step can cure; the rest (bad table, missing file, syntax) cannot
UNSTABLE_MARKERS = ('Lost atoms', 'Out of range atoms', 'Pair distance < table inner cutoff',
                    'Pair distance > table outer cutoff', 'Non-numeric atom coords', 'Bond atoms missing',
                    'Too many neighbor bins', 'Neighbor list overflow')


@dataclass
class ThermoTable:
    """One ``run``'s thermo output: column name -> values (LAMMPS real units, as printed)."""

    columns: dict[str, np.ndarray] = field(default_factory=dict)
    kind: str = 'run'  # 'run' (dynamics) or 'minimize' (steps of an energy minimisation, not MD steps)
    loop_steps: int | None = None  # steps done, from 'Loop time ... for N steps' (None: the run never ended)

    @property
    def last_step(self) -> int | None:
        """The step the run ended at: a run stopped by ``timer timeout`` prints no thermo line for it."""
        if 'Step' not in self.columns or not self.n_rows:
            return None
        if self.loop_steps is not None:
            return int(self.columns['Step'][0]) + self.loop_steps
        return int(self.columns['Step'][-1])

    @property
    def n_rows(self) -> int:
        """Number of thermo lines in the table."""
        return len(next(iter(self.columns.values()))) if self.columns else 0


@dataclass
class LammpsLog:
    """What a LAMMPS log says: thermo of each run, performance of each run, the error, completion."""

    runs: list[ThermoTable]
    performance_ns_day: list[float]
    loop_seconds: list[float]
    error: str | None
    warnings: list[str]
    completed: bool  # 'Total wall time' printed: LAMMPS reached the end of the input
    timed_out: bool = False  # ``timer timeout`` stopped a run; the later runs were skipped
    wall_seconds: float | None = None  # 'Total wall time'
    trajectory_opened: bool = False  # the production xtc dump command ran (the file exists, maybe empty)

    @property
    def last_step(self) -> int | None:
        """The MD step the last run reached (minimisations do not count), or None before any MD."""
        steps = [table.last_step for table in self.runs if table.kind == 'run' and table.last_step is not None]
        return steps[-1] if steps else None

    @property
    def unstable(self) -> bool:
        """The error is one a smaller time step can cure (lost atoms, pair inside the table's core ...)."""
        return self.error is not None and any(marker in self.error for marker in UNSTABLE_MARKERS)

    def averages(self, run: int = -1, skip_first: bool = True) -> dict[str, float]:
        """Means and standard deviations of run ``run``'s thermo columns, in SI-like units named in the keys.

        The first row (the configuration before the run's first step) is skipped when ``skip_first``.
        """
        if not self.runs:
            return {}
        table = self.runs[run]
        return thermo_averages(table.columns, skip_first=skip_first)


def thermo_averages(columns: dict[str, np.ndarray], skip_first: bool = False,
                    n_blocks: int = 5) -> dict[str, float]:
    """Means, standard deviations and standard errors of thermo columns (LAMMPS real units) in our units.

    Keys carry the unit: ``temperature_K``, ``pressure_bar``, ``density_kg_m3``, ...; ``<name>_std`` is
    the standard deviation of the samples, ``<name>_error`` the standard error of the mean from
    ``n_blocks`` contiguous block averages (NaN with fewer than 2 samples per block).
    """
    n_rows = len(next(iter(columns.values()))) if columns else 0
    start = 1 if skip_first and n_rows > 1 else 0
    result: dict[str, float] = {}
    for column, (name, factor) in THERMO_UNITS.items():
        if column in columns:
            values = np.asarray(columns[column][start:], dtype=float) * factor
            if not values.size:
                continue
            result[name] = float(values.mean())
            result[f'{name}_std'] = float(values.std())
            result[f'{name}_error'] = block_average(values, n_blocks)[1]
    result['pressure_atm'] = result.get('pressure_bar', float('nan')) / BAR_PER_ATM
    result['n_samples'] = n_rows - start
    return result


def production_thermo(logs: list[LammpsLog], first_step: int) -> dict[str, np.ndarray]:
    """Thermo rows of the production (Step > ``first_step``) of a run and its continuations, in order.

    ``logs``: the interrupted run first, each continuation after it.  The tables are taken in order, and
    each one's rows replace those of earlier tables from its first step on: a continuation repeats the
    steps from its restart file on, and each production segment (``inputs.production_commands``) starts
    with the row its predecessor ended with.  Columns as in the logs (LAMMPS real units); {} when there
    is no row.
    """
    pieces: list[dict[str, np.ndarray]] = []
    for log in logs:
        for columns in (table.columns for table in log.runs if table.kind == 'run' and 'Step' in table.columns):
            rows = {key: values[columns['Step'] > first_step] for key, values in columns.items()}
            if not len(rows['Step']):
                continue
            start = rows['Step'][0]
            pieces = [{key: values[piece['Step'] < start] for key, values in piece.items()} for piece in pieces]
            pieces.append(rows)
    if not pieces:
        return {}
    names = [name for name in pieces[-1] if all(name in piece for piece in pieces)]
    return {name: np.concatenate([piece[name] for piece in pieces]) for name in names}


def wall_seconds(text: str) -> float | None:
    """Return LAMMPS' 'Total wall time' in ``text`` in seconds, or None when it was not printed."""
    match = WALL_PATTERN.search(text)
    return None if match is None else float(int(match[1]) * 3600 + int(match[2]) * 60 + int(match[3]))


def parse_log(text: str) -> LammpsLog:
    """Parse the text of ``log.lammps`` (or LAMMPS stdout)."""
    runs = []
    lines = text.splitlines()
    index = 0
    kind = 'run'
    while index < len(lines):
        header = lines[index].split()
        if header[:1] in (['minimize'], ['run']):  # the echoed command that the next thermo table belongs to
            kind = header[0]
        # a thermo header starts with Step and is followed by numeric rows until 'Loop time'
        if header[:1] == ['Step'] and len(header) > 1:
            names = header
            rows = []
            index += 1
            while index < len(lines):
                fields = lines[index].split()
                if fields[:1] == ['WARNING:'] and not LOOP_PATTERN.match(lines[min(index + 1, len(lines) - 1)]):
                    index += 1  # a warning during the run: its thermo rows go on after it
                    continue
                if len(fields) != len(names):
                    break
                try:
                    rows.append([float(value) for value in fields])
                except ValueError:
                    break
                index += 1
            if rows:
                data = np.array(rows)
                # 'Loop time' follows the table (after a warning or two) when the run ended
                loop = next((LOOP_PATTERN.match(line) for line in lines[index:index + 4] if LOOP_PATTERN.match(line)),
                            None)
                runs.append(ThermoTable({name: data[:, k] for k, name in enumerate(names)}, kind,
                                        int(loop[3]) if loop else None))
            continue
        index += 1
    error_match = ERROR_PATTERN.findall(text)
    return LammpsLog(
        runs=runs,
        performance_ns_day=[float(value) for value in PERFORMANCE_PATTERN.findall(text)],
        loop_seconds=[float(match[0]) for match in LOOP_PATTERN.findall(text)],
        error=error_match[-1].strip() if error_match else None,
        warnings=WARNING_PATTERN.findall(text),
        completed=bool(WALL_PATTERN.search(text)),
        timed_out=TIMEOUT_WARNING in text,
        wall_seconds=wall_seconds(text),
        trajectory_opened=bool(DUMP_PATTERN.search(text)),
    )


def read_log(path: str | Path) -> LammpsLog:
    """Read and parse a LAMMPS log file (see :func:`parse_log`); undecodable bytes are replaced."""
    return parse_log(Path(path).read_text(errors='replace'))


def newest_restart(directory: str | Path) -> Path | None:
    """Return the restart file in ``directory`` to continue an interrupted run from, or None.

    ``final.restart`` if written, else the newer of the alternating ``restart.a``/``restart.b`` (by
    modification time), else None.  A file cut short by a kill while LAMMPS wrote it is passed over
    (see :func:`restart_is_whole`).
    """
    directory = Path(directory)
    final = directory / 'final.restart'
    if restart_is_whole(final):
        return final
    candidates = [directory / name for name in ('restart.a', 'restart.b') if restart_is_whole(directory / name)]
    return max(candidates, key=lambda path: path.stat().st_mtime_ns) if candidates else None


#: LAMMPS begins and ends every restart file with this string (the end one is written last)
RESTART_MAGIC = b'LammpS RestartT'


def restart_is_whole(path: str | Path) -> bool:
    """Whether ``path`` is a restart file LAMMPS finished writing: it ends with RESTART_MAGIC and a NUL byte."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size < 2 * (len(RESTART_MAGIC) + 1):
        return False
    with path.open('rb') as handle:
        handle.seek(-(len(RESTART_MAGIC) + 1), 2)
        return handle.read() == RESTART_MAGIC + b'\0'


def discard_incomplete_restarts(names: list[str]) -> str:
    """Return shell lines that delete each of ``names`` that LAMMPS did not finish writing.

    ``names`` are restart files copied into the job's folder.  Deleting the incomplete ones makes the
    continuation read the newest *whole* file: LAMMPS cannot skip a broken candidate itself, its
    read_restart stops with 'Incomplete or corrupted LAMMPS restart file'.
    """
    magic = RESTART_MAGIC.decode()
    lines = ['# restart files cut short by a kill (no end marker) are not candidates']
    for name in names:
        end = f"$(tail -c {len(magic) + 1} {name} | head -c {len(magic)} | tr -d '\\000')"
        lines.append(f"if [ -f {name} ] && [ \"{end}\" != '{magic}' ]; then "
                     f"echo 'discarded incomplete restart file {name}'; rm -f {name}; fi")
    return '\n'.join(lines)
