"""Read what GROMACS leaves behind: fatal errors, run completion, performance, energy time series.

Plain functions on text so that they are easy to test on fixture files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..analysis.statistics import block_average

__all__ = ['MdrunStatus', 'block_average', 'fatal_error', 'gro_box', 'grompp_errors', 'grompp_failure',
           'grompp_warnings',
           'mdrun_status', 'read_gro', 'read_xvg', 'topology_atoms', 'topology_mass']

# Messages by which mdrun reports an integration that became unstable (too large a step, bad contacts).
# Matched only against runs that did not finish; each is specific to a run that blew up.
UNSTABLE_PATTERNS = (
    'LINCS WARNING', 'Too many LINCS warnings', 'Bond length not finite', 'SETTLE warning',
    'moved more than the distance allowed', 'is NaN', 'Particle coordinate', 'one or more atoms moved too far',
    'shortest box vector', 'Pressure scaling more than 1%',
)
# The headings GROMACS puts above the message of a fatal error.
_ERROR_KINDS = (
    r'Fatal error|Error in user input|Inconsistency in user input|File input/output error|Invalid input values?'
    r'|Range checking error[^\n]*|Internal error[^\n]*|Software inconsistency error[^\n]*'
    r'|Feature not implemented[^\n]*|Out of memory[^\n]*|Not implemented[^\n]*'
)
# mdrun appends to the log of a run continued from a checkpoint: only the last session counts.
_APPEND_MARK = 'Restarting from checkpoint, appending to previous log file.'


def fatal_error(text: str) -> str | None:
    """Return the message of the first GROMACS fatal error block in ``text``, or None.

    GROMACS frames fatal errors between dashed lines; the message follows a heading such as
    'Fatal error:', 'Error in user input:' or 'File input/output error:'.
    """
    match = re.search(rf'^({_ERROR_KINDS}):\n(.*?)\n\s*\n?(For more information|-{{20,}})', text, re.S | re.M)
    if match:
        return ' '.join(line.strip() for line in match.group(2).strip().splitlines() if line.strip())
    return None


def grompp_warnings(text: str) -> list[str]:
    """Return the WARNING blocks of a grompp log, one string each."""
    return _grompp_blocks(text, 'WARNING')


def grompp_errors(text: str) -> list[str]:
    """Return the ERROR blocks of a grompp log, one string each.

    They are the real causes behind the fatal error 'There was 1 error in input file(s)'.
    """
    return _grompp_blocks(text, 'ERROR')


def grompp_failure(text: str, warnings: bool = True) -> str | None:
    """Say why grompp refused its input, in grompp's own words; None if it did not fail.

    grompp reports every problem in an ``ERROR n [file ..., line ...]:`` block and then stops with a
    fatal error that only counts them ('There was 1 error in input file(s)'), so the fatal error alone
    hides the cause.  The causes come first, the fatal summary follows in parentheses.

    Parameters
    ----------
    text
        grompp's output (stdout and stderr, as the job's ``<stage>_grompp.log`` holds them).
    warnings
        Append grompp's WARNING blocks ('Warnings: ...'): with ``-maxwarn 0`` they are what made
        grompp stop ('Too many warnings (1)').

    Returns
    -------
    str or None
        E.g. 'The cut-off length is longer than half the shortest box vector ... decrease rlist.
        (There was 1 error in input file(s))'.
    """
    error = fatal_error(text)
    if error is None:
        return None
    causes = grompp_errors(text)
    message = f'{" | ".join(causes)} ({error})' if causes else error
    found = grompp_warnings(text) if warnings else []
    return message + (f' Warnings: {" | ".join(found)}' if found else '')


def _grompp_blocks(text: str, kind: str) -> list[str]:
    blocks = re.findall(rf'^{kind} \d+ \[.*?\]:\n(.*?)\n\s*\n', text, re.S | re.M)
    return [' '.join(block.replace('ERROR:', '').split()) for block in blocks]


@dataclass
class MdrunStatus:
    """How one mdrun ended, as :func:`mdrun_status` reads it from its .log file and captured stdout/stderr.

    Attributes
    ----------
    finished : bool
        'Finished mdrun' written, with no fatal error and not stopped by ``-maxh``.
    stopped_by_maxh : bool
        mdrun stopped itself because ``-maxh`` ran out ('Run time exceeded', no fatal error).
    last_step : int or None
        The last MD step the log reports (thermo or checkpoint), or the steps of a converged energy
        minimisation; None when it reports none.
    ns_per_day : float or None
        Performance (ns/day) from the log's 'Performance:' line; None when the run did not print it.
    unstable : bool
        The run did not finish and its output holds signs of an unstable integration (LINCS/SETTLE
        warnings, atoms moved too far, ...).
    error : str or None
        The GROMACS fatal-error message; for an unstable run without one, a message that names the last
        sign of instability; otherwise None.
    """

    finished: bool  # 'Finished mdrun' written
    stopped_by_maxh: bool  # mdrun stopped itself because -maxh ran out
    last_step: int | None
    ns_per_day: float | None
    unstable: bool
    error: str | None


def mdrun_status(log_text: str, stdout_text: str = '') -> MdrunStatus:
    """Summarise one mdrun from its .log file and its captured stdout/stderr.

    An mdrun can end in four ways: finished; stopped by ``-maxh`` (it still writes 'Finished
    mdrun', with a 'Run time exceeded' note); a fatal error framed by GROMACS; or killed without a
    word (scheduler wall time, or a crash).  A crash after LINCS/SETTLE warnings counts as unstable.
    """
    log_text = log_text.rsplit(_APPEND_MARK, 1)[-1]
    both = log_text + '\n' + stdout_text
    error = fatal_error(stdout_text) or fatal_error(log_text)
    steps = [int(step) for step in re.findall(r'^\s+Step\s+Time\s*\n\s+(\d+)\s', log_text, re.M)]
    steps += [int(step) for step in re.findall(r'^Writing checkpoint, step (\d+)', log_text, re.M)]
    em_steps = re.findall(r'converged to .*? in (\d+) steps', log_text)
    last_step = max(steps) if steps else (int(em_steps[-1]) if em_steps else None)
    performance = re.search(r'^Performance:\s+([\d.]+)', log_text, re.M)
    stopped_by_maxh = 'Run time exceeded' in both and error is None
    finished = 'Finished mdrun' in log_text and error is None and not stopped_by_maxh
    unstable_signs = [line.strip() for line in both.splitlines() if any(p in line for p in UNSTABLE_PATTERNS)]
    unstable = bool(unstable_signs) and not finished and not stopped_by_maxh
    if unstable and error is None:
        error = f'mdrun died without a fatal-error message after: {unstable_signs[-1]}'
    return MdrunStatus(
        finished=finished,
        stopped_by_maxh=stopped_by_maxh,
        last_step=last_step,
        ns_per_day=float(performance.group(1)) if performance else None,
        unstable=unstable,
        error=error,
    )


def read_xvg(text: str) -> tuple[np.ndarray, list[str]]:
    """Return (data, legends) of an .xvg file; column 0 is x (time/ps), legends name the other columns."""
    legends = re.findall(r'^@\s+s\d+\s+legend\s+"(.*)"', text, re.M)
    rows = [line.split() for line in text.splitlines() if line.strip() and line[0] not in '#@']
    data = np.array(rows, dtype=float) if rows else np.empty((0, len(legends) + 1))
    if data.ndim != 2 or data.shape[1] != len(legends) + 1:
        raise ValueError(f'xvg holds {data.shape[1] if data.ndim == 2 else 0} columns for {len(legends)} legends')
    return data, legends


def topology_atoms(top_text: str) -> tuple[np.ndarray, np.ndarray]:
    """Return the atom masses and bonds of the whole system of a self-contained topology.

    The molecule types must be written inline; atoms come in the order of ``[ molecules ]``.

    Returns
    -------
    tuple of (numpy.ndarray, numpy.ndarray)
        Masses (A,) in g/mol and bonds (B, 2) as zero-based atom indices.
    """
    types: dict[str, dict] = {}
    counts: list[tuple[str, int]] = []
    section, current = None, None
    for raw in top_text.splitlines():
        line = raw.split(';', 1)[0].strip()
        if not line or line.startswith('#'):
            continue
        if line.startswith('['):
            section = line.strip('[] ').lower()
            continue
        fields = line.split()
        if section == 'moleculetype':
            current = types.setdefault(fields[0], {'masses': [], 'bonds': []})
        elif section == 'atoms' and current is not None:
            if len(fields) < 8:
                raise ValueError(f'topology [ atoms ] line without a mass column: {line!r}')
            current['masses'].append(float(fields[7]))
        elif section == 'bonds' and current is not None:
            current['bonds'].append((int(fields[0]) - 1, int(fields[1]) - 1))
        elif section == 'molecules':
            counts.append((fields[0], int(fields[1])))
    missing = [name for name, _ in counts if name not in types]
    if missing:
        raise ValueError(f'molecule types {missing} are not defined inline in the topology')
    masses, bonds, offset = [], [], 0
    for name, count in counts:
        molecule = types[name]
        for _ in range(count):
            masses.extend(molecule['masses'])
            bonds.extend((i + offset, j + offset) for i, j in molecule['bonds'])
            offset += len(molecule['masses'])
    return np.array(masses, dtype=float), np.array(bonds, dtype=np.int64).reshape(-1, 2)


def topology_mass(top_text: str) -> float:
    """Total mass (g/mol) of the system in a self-contained topology (molecules written inline)."""
    return float(topology_atoms(top_text)[0].sum())


def read_gro(gro_text: str) -> tuple[np.ndarray, np.ndarray]:
    """Read a .gro frame: positions (A, 3) and the box line (3 values, or 9 for a triclinic box), both in nm.

    The one .gro reader of the package.  ValueError says what is wrong: no atom count on line 2, fewer or more
    atom lines than declared, or no box with positive edges on the last line.
    """
    lines = gro_text.strip('\n').splitlines()
    try:
        n_atoms = int(lines[1])
    except (IndexError, ValueError):
        raise ValueError('not a .gro file (atom count on line 2, atoms, box on the last line)') from None
    if len(lines) != n_atoms + 3:
        raise ValueError(f'declares {n_atoms} atoms but holds {max(len(lines) - 3, 0)} atom lines')
    try:
        # fixed columns: positions are three %8.3f fields from column 20
        positions = np.array([[float(line[20 + 8 * k:28 + 8 * k]) for k in range(3)] for line in lines[2:-1]],
                             dtype=float).reshape(n_atoms, 3)
        box = np.array(lines[-1].split(), dtype=float)
    except ValueError as exception:
        raise ValueError(f'not a .gro file: {exception}') from None
    if box.size not in (3, 9) or np.any(box[:3] <= 0):
        raise ValueError(f'no valid box on its last line: {lines[-1]!r}')
    return positions, box


def gro_box(gro_text: str) -> np.ndarray:
    """Return the box vector lengths (nm) of a .gro file (the rectangular part of its box line)."""
    return read_gro(gro_text)[1][:3]
