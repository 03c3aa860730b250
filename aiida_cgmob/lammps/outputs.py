"""Reading a LAMMPS log of a CG run (no AiiDA import): thermo tables, performance, errors.

LAMMPS real units in the log (fs, atm, kcal/mol, g/cm^3) are converted here: results carry their
units in the key names (``pressure_bar``, ``density_kg_m3``, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..units import KJ_PER_KCAL

BAR_PER_ATM = 1.01325
ERROR_PATTERN = re.compile(r'^(ERROR(?: on proc \d+)?:.*)$', re.MULTILINE)
WARNING_PATTERN = re.compile(r'^WARNING: (.*)$', re.MULTILINE)
PERFORMANCE_PATTERN = re.compile(r'^Performance:\s+([\d.eE+-]+)\s+ns/day', re.MULTILINE)
LOOP_PATTERN = re.compile(r'^Loop time of ([\d.eE+-]+) on (\d+) procs for (\d+) steps with (\d+) atoms', re.MULTILINE)
WALL_PATTERN = re.compile(r'^Total wall time: (\d+):(\d+):(\d+)', re.MULTILINE)
# failures the time step can cure; the rest (bad table, missing file, syntax) cannot
UNSTABLE_MARKERS = ('Lost atoms', 'Out of range atoms', 'Pair distance < table inner cutoff',
                    'Pair distance > table outer cutoff', 'Non-numeric atom coords', 'Bond atoms missing',
                    'Too many neighbor bins', 'Neighbor list overflow')


@dataclass
class ThermoTable:
    """One ``run``'s thermo output: column name -> values (LAMMPS real units, as printed)."""

    columns: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
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
        start = 1 if skip_first and table.n_rows > 1 else 0
        conversions = {  # LAMMPS column -> (our name, factor)
            'Temp': ('temperature_K', 1.0),
            'Press': ('pressure_bar', BAR_PER_ATM),
            'PotEng': ('potential_energy_kJ_mol', KJ_PER_KCAL),
            'KinEng': ('kinetic_energy_kJ_mol', KJ_PER_KCAL),
            'TotEng': ('total_energy_kJ_mol', KJ_PER_KCAL),
            'Volume': ('volume_nm3', 1e-3),
            'Density': ('density_kg_m3', 1e3),
        }
        result: dict[str, float] = {}
        for column, (name, factor) in conversions.items():
            if column in table.columns:
                values = table.columns[column][start:] * factor
                result[name] = float(values.mean())
                result[f'{name}_std'] = float(values.std())
        result['pressure_atm'] = result.get('pressure_bar', float('nan')) / BAR_PER_ATM
        result['n_samples'] = table.n_rows - start
        return result


def parse_log(text: str) -> LammpsLog:
    """Parse the text of ``log.lammps`` (or LAMMPS stdout)."""
    runs = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        header = lines[index].split()
        # a thermo header starts with Step and is followed by numeric rows until 'Loop time'
        if header[:1] == ['Step'] and len(header) > 1:
            names = header
            rows = []
            index += 1
            while index < len(lines):
                fields = lines[index].split()
                if len(fields) != len(names):
                    break
                try:
                    rows.append([float(value) for value in fields])
                except ValueError:
                    break
                index += 1
            if rows:
                data = np.array(rows)
                runs.append(ThermoTable({name: data[:, k] for k, name in enumerate(names)}))
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
    )


def read_log(path: str | Path) -> LammpsLog:
    return parse_log(Path(path).read_text(errors='replace'))


def newest_restart(directory: str | Path) -> Path | None:
    """The restart file to continue an interrupted run from: ``final.restart`` if written, else the newer
    of the alternating ``restart.a``/``restart.b`` (by modification time), else None."""
    directory = Path(directory)
    final = directory / 'final.restart'
    if final.is_file():
        return final
    candidates = [directory / name for name in ('restart.a', 'restart.b') if (directory / name).is_file()]
    return max(candidates, key=lambda path: path.stat().st_mtime_ns) if candidates else None
