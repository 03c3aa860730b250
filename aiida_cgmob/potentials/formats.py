"""Table files for MD engines and the unit conversions they need: the one place for both (no AiiDA import).

Package units: r nm, U kJ/mol, F = -dU/dr kJ/mol/nm.  LAMMPS ``units real``: Å, kcal/mol, kcal/mol/Å.

- LAMMPS ``pair_style table``: keyword line, ``N n R rlo rhi``, lines ``index r e f`` (real units).
- VOTCA table: ``r U F flag`` (nm, kJ/mol, kJ/mol/nm; flag i/o/u).
- GROMACS user table ``table_CG.xvg``: ``r f -f' g -g' h -h'`` with the potential in h (C12 = 1).

Every writer puts a ``# cgmob: {json}`` comment line first (origin, treatment, ...); all three programs
skip ``#`` comments, and the readers use it to restore the metadata.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..units import ANGSTROM_PER_NM, KJ_PER_KCAL
from .table import Potential, PotentialError

__all__ = ['ANGSTROM_PER_NM', 'KJ_PER_KCAL', 'force_from_real', 'force_to_real', 'energy_from_real', 'energy_to_real',
           'read_gromacs_table', 'read_lammps_table', 'read_votca_table', 'write_gromacs_table', 'write_lammps_table',
           'write_votca_table']

NUMBER = '{:.10e}'  # 11 significant digits: round trips are exact to ~1e-11 relative
GROMACS_SPACING = 0.002  # nm, the GROMACS default table-spacing (and VOTCA's)
GROMACS_EXTENSION = 1.0  # nm, GROMACS default table-extension: the table must reach rc + this


def energy_to_real(energy_kj: np.ndarray | float) -> np.ndarray | float:
    """kJ/mol -> kcal/mol."""
    return energy_kj / KJ_PER_KCAL


def energy_from_real(energy_kcal: np.ndarray | float) -> np.ndarray | float:
    """kcal/mol -> kJ/mol."""
    return energy_kcal * KJ_PER_KCAL


def force_to_real(force_kj_nm: np.ndarray | float) -> np.ndarray | float:
    """kJ/mol/nm -> kcal/mol/Å (divide by 41.84)."""
    return force_kj_nm / (KJ_PER_KCAL * ANGSTROM_PER_NM)


def force_from_real(force_kcal_a: np.ndarray | float) -> np.ndarray | float:
    """kcal/mol/Å -> kJ/mol/nm (multiply by 41.84)."""
    return force_kcal_a * (KJ_PER_KCAL * ANGSTROM_PER_NM)


def _meta_line(potential: Potential, **extra) -> str:
    meta = {'origin': potential.origin, 'treatment': potential.treatment, **extra}
    return '# cgmob: ' + json.dumps(meta, sort_keys=True) + '\n'


def _read_lines(path: str | Path) -> tuple[list[str], dict]:
    """The file's lines with comments stripped (blank ones dropped) and the ``# cgmob:`` metadata."""
    meta: dict = {}
    lines = []
    for line in Path(path).read_text().splitlines():
        if line.startswith('# cgmob: '):
            meta = json.loads(line[len('# cgmob: '):])
        line = line.split('#', 1)[0].strip()
        if line and not line.startswith('@'):  # '@': xmgrace directives in .xvg files
            lines.append(line)
    return lines, meta


def _columns(path: str | Path, lines: list[str], n_columns: int) -> np.ndarray:
    try:
        rows = [[float(value) for value in line.split()[:n_columns]] for line in lines]
        data = np.array(rows, dtype=float)
    except ValueError as error:
        raise PotentialError(f'{path}: not a table of numbers ({error})') from None
    if data.ndim != 2 or data.shape[1] != n_columns:
        raise PotentialError(f'{path}: expected {n_columns} numeric columns on every data line')
    return data


def _origin(meta: dict, default: str) -> str:
    return meta.get('origin') or default


# ---------------------------------------------------------------- LAMMPS pair_style table (units real)


def write_lammps_table(path: str | Path, potential: Potential, keyword: str = 'CG',
                       n_points: int | None = None) -> Path:
    """Write ``potential`` as a LAMMPS ``pair_style table`` section in real units (Å, kcal/mol, kcal/mol/Å).

    The file gets a uniform grid from the first r > 0 to the cutoff (``n_points`` points, default the
    number of such points in the potential) and the header ``N n R rlo rhi``: with ``R`` LAMMPS
    recomputes the distances itself, and it refuses rlo <= 0 ('Invalid pair table lower boundary'),
    so an r = 0 point is dropped.  The force column must be -dE/dr: LAMMPS splines E and f separately
    and warns when they disagree.  With ``pair_style table linear N`` it then interpolates linearly
    between N points spaced evenly in r^2 from rlo^2 to rhi^2, and a pair closer than rlo stops the run.
    Use it as ``pair_coeff 1 1 <path> <keyword>`` (the cutoff is then rhi).
    """
    if not keyword or any(char.isspace() for char in keyword) or '#' in keyword:
        raise PotentialError(f'the LAMMPS table keyword must be one word without "#", got {keyword!r}')
    positive = potential.r[potential.r > 0]
    n_points = positive.size if n_points is None else int(n_points)
    if n_points < 2:
        raise PotentialError(f'a LAMMPS table needs at least 2 points, got n_points = {n_points}')
    table = potential.on_grid(np.linspace(positive[0], potential.cutoff, n_points))
    r = table.r * ANGSTROM_PER_NM
    energy, force = energy_to_real(table.energy), force_to_real(table.force)
    path = Path(path)
    with path.open('w') as handle:
        handle.write(_meta_line(potential, units='real: r A, e kcal/mol, f kcal/mol/A'))
        handle.write(f'\n{keyword}\nN {n_points} R {NUMBER.format(r[0])} {NUMBER.format(r[-1])}\n\n')
        for i, values in enumerate(zip(r, energy, force, strict=True), start=1):
            handle.write(f'{i} ' + ' '.join(NUMBER.format(value) for value in values) + '\n')
    return path


def read_lammps_table(path: str | Path, keyword: str = 'CG', shift: bool = False) -> Potential:
    """The section ``keyword`` of a LAMMPS pair table file (real units) as a Potential in nm and kJ/mol.

    With ``R``/``RSQ`` the distances are recomputed as LAMMPS does; ``shift`` accepts a table whose
    last energy is not 0 by shifting it.
    """
    lines, meta = _read_lines(path)
    found = []
    i = 0
    while i < len(lines):
        name = lines[i]
        if i + 1 >= len(lines):
            break
        params = lines[i + 1].split()
        try:
            n = int(params[params.index('N') + 1])
        except (ValueError, IndexError):
            raise PotentialError(f'{path}: section {name!r} has no "N n" parameter line') from None
        if name != keyword:
            found.append(name)
            i += 2 + n
            continue
        data = _columns(path, lines[i + 2:i + 2 + n], 4)
        if data.shape[0] != n:
            raise PotentialError(f'{path}: section {keyword!r} announces N = {n} lines but has {data.shape[0]}')
        if 'BITMAP' in params:
            raise PotentialError(f'{path}: BITMAP tables are not supported')
        r = data[:, 1]
        if 'R' in params:  # LAMMPS replaces the r column by an even grid in r ...
            j = params.index('R')
            r = np.linspace(float(params[j + 1]), float(params[j + 2]), n)
        elif 'RSQ' in params:  # ... or in r^2
            j = params.index('RSQ')
            r = np.sqrt(np.linspace(float(params[j + 1]) ** 2, float(params[j + 2]) ** 2, n))
        return Potential.from_arrays(r / ANGSTROM_PER_NM, energy_from_real(data[:, 2]), force_from_real(data[:, 3]),
                                     shift=shift, treatment=meta.get('treatment', {}),
                                     origin=_origin(meta, f'LAMMPS table {Path(path).name} {keyword}'))
    raise PotentialError(f'{path}: no section {keyword!r} (found: {found})')


# ---------------------------------------------------------------- VOTCA table


def write_votca_table(path: str | Path, potential: Potential, flags: str | Sequence[str] | None = None,
                      with_force: bool = True) -> Path:
    """Write ``r U F flag`` lines (nm, kJ/mol, kJ/mol/nm) as VOTCA tables do.

    Flags follow VOTCA: ``i`` in range (from data), ``o`` out of range (extrapolated), ``u`` undefined;
    default all ``i``.  Beware: VOTCA's own reader takes the flag from the third column on every line
    after the first, so it keeps the flags only of 3-column ``r U flag`` tables (``with_force=False``,
    what csg writes as .pot); it always ignores a force column.
    """
    n = potential.r.size
    flags = ['i'] * n if flags is None else list(flags)
    if len(flags) != n:
        raise PotentialError(f'{len(flags)} flags for {n} points')
    bad = [i for i, flag in enumerate(flags) if flag not in ('i', 'o', 'u')]
    if bad:
        raise PotentialError(f'VOTCA flags are i, o or u; flags[{bad[0]}] = {flags[bad[0]]!r}')
    path = Path(path)
    with path.open('w') as handle:
        handle.write(_meta_line(potential, units='r nm, U kJ/mol, F kJ/mol/nm'))
        for r, energy, force, flag in zip(potential.r, potential.energy, potential.force, flags, strict=True):
            numbers = (r, energy, force) if with_force else (r, energy)
            handle.write(' '.join(NUMBER.format(value) for value in numbers) + f' {flag}\n')
    return path


def read_votca_table(path: str | Path, shift: bool = False, return_flags: bool = False):
    """A VOTCA table ``r U F flag`` (or ``r U flag``: the force is then -dU/dr by finite differences).

    A third number is always read as the force (this package's convention), never as VOTCA's y error
    (``r y yerr flag`` tables).  Returns the Potential, or (Potential, flags) with ``return_flags``.
    """
    lines, meta = _read_lines(path)
    if lines and len(lines[0].split()) == 1:  # VOTCA allows a leading line with the number of points
        lines = lines[1:int(lines[0]) + 1]
    if not lines:
        raise PotentialError(f'{path}: no data lines')
    flags = [line.split()[-1] for line in lines]
    has_flag = flags[0] in ('i', 'o', 'u')
    n_numbers = len(lines[0].split()) - has_flag
    if n_numbers not in (2, 3):
        raise PotentialError(f'{path}: a VOTCA table has r U [F] [flag] columns; '
                             f'the first line has {n_numbers} numbers')
    data = _columns(path, [' '.join(line.split()[:n_numbers]) for line in lines], n_numbers)
    kwargs = {'shift': shift, 'treatment': meta.get('treatment', {}),
              'origin': _origin(meta, f'VOTCA table {Path(path).name}')}
    if n_numbers == 3:
        potential = Potential.from_arrays(data[:, 0], data[:, 1], data[:, 2], **kwargs)
    else:
        potential = Potential.from_energy(data[:, 0], data[:, 1], **kwargs)
    if return_flags:
        return potential, (flags if has_flag else ['i'] * len(lines))
    return potential


# ---------------------------------------------------------------- GROMACS user table


def write_gromacs_table(path: str | Path, potential: Potential, spacing: float = GROMACS_SPACING,
                        extension: float = GROMACS_EXTENSION, coulomb: bool = False) -> Path:
    """Write a GROMACS user table (``table_CG.xvg``): ``r f -f' g -g' h -h'`` from r = 0 in steps of ``spacing``.

    As VOTCA's ``csg_call convert_potential gromacs`` (table_to_xvg.pl, type non-bonded = C12) the
    potential goes to the repulsion column h (use C12 = 1, C6 = 0) with -h' = F; the dispersion
    columns g, -g' are 0 and so are the Coulomb ones f, -f' unless ``coulomb`` (then 1/r, 1/r^2; 0 at r = 0).
    The table runs to rc + ``extension`` (GROMACS wants rc + table-extension, default 1 nm) with
    zeros beyond rc.  Below the first point of the potential U continues linearly with the force there
    (finite at r = 0, continuous in U and F).  The cutoff must lie on the grid.  (GROMACS >= 2020 cannot
    use these tables any more: Verlet lists only; the format is here for other tools and older GROMACS.)
    """
    rc = potential.cutoff
    n_cut = round(rc / spacing)
    if abs(n_cut * spacing - rc) > 1e-9:
        raise PotentialError(f'the cutoff {rc} nm is not a multiple of the table spacing {spacing} nm: '
                             'resample the potential (on_grid or shifted) first')
    n_total = n_cut + round(extension / spacing) + 1
    r = np.arange(n_total) * spacing
    h, minus_dh = np.zeros(n_total), np.zeros(n_total)
    inside = (r >= potential.r[0] - 1e-12) & (r <= rc + 1e-12)
    h[inside], minus_dh[inside] = potential(r[inside])
    below = r < potential.r[0] - 1e-12
    h[below] = potential.energy[0] + potential.force[0] * (potential.r[0] - r[below])
    minus_dh[below] = potential.force[0]
    f, minus_df = np.zeros(n_total), np.zeros(n_total)
    if coulomb:
        f[1:], minus_df[1:] = 1 / r[1:], 1 / r[1:] ** 2
    zeros = np.zeros(n_total)
    path = Path(path)
    with path.open('w') as handle:
        handle.write(_meta_line(potential, cutoff=rc, r_min=float(potential.r[0]),
                                units="r nm, h kJ/mol, -h' kJ/mol/nm"))
        for row in zip(r, f, minus_df, zeros, zeros, h, minus_dh, strict=True):
            handle.write(' '.join(NUMBER.format(value) for value in row) + '\n')
    return path


def read_gromacs_table(path: str | Path, cutoff: float | None = None, shift: bool = False) -> Potential:
    """The h, -h' columns of a GROMACS user table as a Potential on the table grid from r_min to the cutoff.

    The cutoff (and the first r) come from ``cutoff`` or the file's ``# cgmob:`` line; otherwise the last
    point where h or -h' is nonzero; r = 0 is dropped when h or -h' is not finite there.
    """
    lines, meta = _read_lines(path)
    data = _columns(path, lines, 7)
    r, energy, force = data[:, 0], data[:, 5], data[:, 6]
    if cutoff is None:
        cutoff = meta.get('cutoff')
    if cutoff is None:
        nonzero = np.flatnonzero((energy != 0) | (force != 0))
        if not nonzero.size:
            raise PotentialError(f'{path}: the h and -h\' columns are all zero')
        cutoff = r[nonzero[-1]]
    keep = (r <= cutoff + 1e-9) & (r >= meta.get('r_min', 0.0) - 1e-9)
    if r[keep][0] == 0 and not (np.isfinite(energy[keep][0]) and np.isfinite(force[keep][0])):
        keep &= r > 0  # tools often write inf or nan at r = 0; it is never used
    return Potential.from_arrays(r[keep], energy[keep], force[keep], shift=shift,
                                 treatment=meta.get('treatment', {}),
                                 origin=_origin(meta, f'GROMACS table {Path(path).name}'))
