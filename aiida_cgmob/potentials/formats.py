"""Table files for MD engines and the unit conversions they need: the one place for both (no AiiDA import).

Package units: r nm, U kJ/mol, F = -dU/dr kJ/mol/nm.  LAMMPS ``units real``: Å, kcal/mol, kcal/mol/Å.

- LAMMPS ``pair_style table``: keyword line, ``N n R rlo rhi`` (or ``RSQ``), lines ``index r e f`` (real units).
  The writer's force column is consistent with its energy column in the sense LAMMPS checks (see
  :func:`consistent_forces`), so LAMMPS warns about -dE/dr only for tables written elsewhere.
- VOTCA table: ``r U F flag`` (nm, kJ/mol, kJ/mol/nm; flag i/o/u).
- GROMACS user table ``table_CG.xvg``: ``r f -f' g -g' h -h'`` with the potential in h (C12 = 1).

Every writer puts a ``# cgmob: {json}`` comment line first (origin, treatment, ...); all three programs
skip ``#`` comments, and the readers use it to restore the metadata.

Reading tables written elsewhere: U(r_c) must be 0 for a cgmob potential; the readers refuse a table
whose last energy is not 0 unless ``shift=True``, which subtracts U(r_c) from every energy (forces
unchanged) and records the amount in ``treatment['energy_shift_kJ_mol']``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..units import ANGSTROM_PER_NM, KJ_PER_KCAL
from .table import CUTOFF_ENERGY_TOLERANCE, Potential, PotentialError, check_finite, check_grid

__all__ = ['ANGSTROM_PER_NM', 'KJ_PER_KCAL', 'LAMMPS_TABLE_POINTS', 'consistent_forces', 'energy_from_real',
           'energy_to_real', 'force_from_real', 'force_to_real', 'inconsistent_forces', 'lammps_distance',
           'lammps_grid', 'read_gromacs_table', 'read_lammps_table', 'read_votca_table', 'write_gromacs_table',
           'write_lammps_table', 'write_votca_table']

NUMBER = '{:.10e}'  # 11 significant digits: round trips are exact to ~1e-11 relative
EXACT = '{:.16e}'  # 17 significant digits: the value read back is the same double
LAMMPS_TABLE_POINTS = 2000  # default points of a written LAMMPS table (LAMMPS' own tables: pair_style table linear N)
LAMMPS_SPACINGS = {'r': 'R', 'rsq': 'RSQ'}
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
    """Return the file's lines with comments stripped (blank ones dropped) and the ``# cgmob:`` metadata."""
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


def _from_table(path: str | Path, r: np.ndarray, energy: np.ndarray, force: np.ndarray, *, shift: bool,
                treatment: dict, origin: str, file_energy: str = '') -> Potential:
    """Make a Potential from a table's columns (nm, kJ/mol, kJ/mol/nm), shifted to U(r_c) = 0 only if ``shift``.

    ``file_energy``: U(r_c) in the file's own unit, for the message (e.g. '-0.000218 kcal/mol').
    """
    energy = np.asarray(energy, dtype=float)
    u_c = float(energy[-1]) if energy.size else 0.0
    treatment = dict(treatment)
    if np.isfinite(u_c) and abs(u_c) > CUTOFF_ENERGY_TOLERANCE and not shift:
        in_file = f' ({file_energy} in the file)' if file_energy else ''
        raise PotentialError(f'{path}: U(r_c) = {u_c:.6g} kJ/mol{in_file} at the cutoff r_c = {r[-1]:.6g} nm; a cgmob '
                             'potential is 0 there.  Read the table with shift=True (on the command line: --shift) '
                             'to subtract U(r_c) from every energy (forces unchanged)')
    if shift and np.isfinite(u_c) and u_c != 0.0:
        energy = energy - u_c
        treatment['energy_shift_kJ_mol'] = -u_c  # added to every energy of the file
        treatment['shift'] = f'U - U(r_c): the table had U(r_c) = {u_c:.6g} kJ/mol; forces unchanged'
    try:
        return Potential(r, energy, force, treatment, origin)
    except PotentialError as exception:
        raise PotentialError(f'{path}: {exception}') from None


def lammps_distance(r_nm: float) -> str:
    """Print a distance in nm as the Å number a LAMMPS table header (``R rlo rhi``) holds.

    ``pair_coeff ... <cutoff>`` must print the cutoff the same way: LAMMPS stops with 'Pair table cutoff
    outside of table' when the number it reads exceeds rhi by any round-off, and uses the table's values
    as written (no spline) only when the two are equal.

    Parameters
    ----------
    r_nm
        The distance, nm.

    Returns
    -------
    str
        Å, 11 significant digits.
    """
    return NUMBER.format(r_nm * ANGSTROM_PER_NM)


def lammps_grid(rlo: float, rhi: float, n_points: int, spacing: str = 'r') -> np.ndarray:
    """Compute the distances (Å) LAMMPS gives the lines of a table section with ``R``/``RSQ rlo rhi``.

    Parameters
    ----------
    rlo, rhi
        First and last distance, Å, as LAMMPS parses them from the header.
    n_points
        ``N`` of the section.
    spacing
        ``'r'`` (``R``: even in r) or ``'rsq'`` (``RSQ``: even in r², the spacing of LAMMPS' own
        ``pair_style table linear N`` tables).

    Returns
    -------
    numpy.ndarray
        The distances, computed with LAMMPS' arithmetic (pair_table.cpp ``read_table``) so that the
        secants LAMMPS checks the forces against are the ones :func:`consistent_forces` used.
    """
    if spacing not in LAMMPS_SPACINGS:
        raise PotentialError(f'spacing must be one of {sorted(LAMMPS_SPACINGS)}, got {spacing!r}')
    i = np.arange(n_points, dtype=float)
    if spacing == 'r':
        return rlo + (rhi - rlo) * i / (n_points - 1)
    return np.sqrt(rlo * rlo + (rhi * rhi - rlo * rlo) * i / (n_points - 1))


def _secants(r: np.ndarray, energy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """-dE/dr on the left and on the right of every interior point, as LAMMPS computes them."""
    left = -(energy[1:-1] - energy[:-2]) / (r[1:-1] - r[:-2])
    right = -(energy[2:] - energy[1:-1]) / (r[2:] - r[1:-1])
    return left, right


def inconsistent_forces(r: np.ndarray, energy: np.ndarray, force: np.ndarray) -> np.ndarray:
    """Which force values LAMMPS' ``pair_style table`` reports as 'inconsistent with -dE/dr'.

    LAMMPS (pair_table.cpp, ``read_table``) flags an interior point whose force lies outside the
    interval between the secants -(E_i - E_{i-1})/(r_i - r_{i-1}) and -(E_{i+1} - E_i)/(r_{i+1} - r_i);
    the two end points are never flagged.  Any consistent units (the test is invariant to scaling).

    Parameters
    ----------
    r, energy, force
        The table's columns, r strictly increasing.

    Returns
    -------
    numpy.ndarray
        Boolean mask, one value per point.
    """
    r, energy, force = (np.asarray(values, dtype=float) for values in (r, energy, force))
    flagged = np.zeros(r.size, dtype=bool)
    if r.size > 2:
        left, right = _secants(r, energy)
        inner = force[1:-1]
        flagged[1:-1] = ((inner < left) & (inner < right)) | ((inner > left) & (inner > right))
    return flagged


def consistent_forces(r: np.ndarray, energy: np.ndarray, force: np.ndarray, margin: float = 1e-6) -> np.ndarray:
    """``force`` with every interior value moved into the interval between its two secants of ``energy``.

    The derivative of a smooth U lies between the secants of its neighbouring intervals except near
    inflection points (and wherever the force column is not -dU/dr of the energies); there the value
    moves to the nearer end of the interval, by less than the difference of the two secants (O(h U'')),
    a fraction ``margin`` of it inside so that round-off in LAMMPS' own secants cannot undo it.
    Values already inside move only if they are within ``margin`` of an end.  The end points are kept.

    Parameters
    ----------
    r, energy, force
        Columns of a table, r strictly increasing; any consistent units.
    margin
        Fraction of the secant interval kept free at each end.

    Returns
    -------
    numpy.ndarray
        The new force column: :func:`inconsistent_forces` flags none of it.
    """
    r, energy = np.asarray(r, dtype=float), np.asarray(energy, dtype=float)
    force = np.array(force, dtype=float)
    if r.size > 2:
        left, right = _secants(r, energy)
        low, high = np.minimum(left, right), np.maximum(left, right)
        width = high - low
        inner_low = np.minimum(low + margin * width, high)
        inner_high = np.maximum(high - margin * width, inner_low)
        force[1:-1] = np.clip(force[1:-1], inner_low, inner_high)
    return force


# ---------------------------------------------------------------- LAMMPS pair_style table (units real)


def write_lammps_table(path: str | Path, potential: Potential, keyword: str = 'CG', n_points: int | None = None,
                       spacing: str = 'r') -> Path:
    """Write ``potential`` as a LAMMPS ``pair_style table`` section in real units (Å, kcal/mol, kcal/mol/Å).

    The section has ``n_points`` points from the first r > 0 of the potential to its cutoff, evenly
    spaced in r (``spacing='r'``, header ``N n R rlo rhi``) or in r² (``'rsq'``, ``N n RSQ rlo rhi``):
    LAMMPS recomputes the distances from the header, and it refuses rlo <= 0 ('Invalid pair table lower
    boundary'), so an r = 0 point is dropped.  Energies and forces are the potential's own cubic
    Hermite interpolation (:meth:`Potential.__call__`) at those distances.

    LAMMPS splines E and f separately and warns ('N of M force values in table are inconsistent with
    -dE/dr') for every point whose force lies outside the interval between the two secants of the
    energies around it.  The written force is therefore the interpolant's -dU/dr moved into that
    interval where it is not already (near inflection points; by O(h² abs(d³U/dr³)) on a fine grid), computed
    from the energies and distances exactly as LAMMPS reads them, and printed to full precision.  The
    ``# cgmob:`` line records how many force values moved and by how much at most.

    With ``pair_style table linear N`` LAMMPS interpolates linearly between N points evenly spaced in
    r² from rlo to the cutoff; a file with ``spacing='rsq'`` and ``n_points`` = N is used as it is when
    the ``pair_coeff`` cutoff equals rhi.  A pair closer than rlo stops the run.

    Parameters
    ----------
    path
        File to write.
    potential
        The potential (nm, kJ/mol).
    keyword
        Section name, one word: ``pair_coeff 1 1 <path> <keyword>`` (the cutoff is then rhi).
    n_points
        Points of the section; default the larger of :data:`LAMMPS_TABLE_POINTS` (2000) and the number
        of points of the potential with r > 0: fine enough that the interpolation between the
        potential's own points is resolved.
    spacing
        ``'r'`` or ``'rsq'`` (see :func:`lammps_grid`).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    if not keyword or any(char.isspace() for char in keyword) or '#' in keyword:
        raise PotentialError(f'the LAMMPS table keyword must be one word without "#", got {keyword!r}')
    if spacing not in LAMMPS_SPACINGS:
        raise PotentialError(f'spacing must be one of {sorted(LAMMPS_SPACINGS)}, got {spacing!r}')
    positive = potential.r[potential.r > 0]
    if positive.size < 2:
        raise PotentialError(f'a LAMMPS table needs at least 2 points with r > 0, the potential has {positive.size}')
    n_points = max(LAMMPS_TABLE_POINTS, positive.size) if n_points is None else int(n_points)
    if n_points < 2:
        raise PotentialError(f'a LAMMPS table needs at least 2 points, got n_points = {n_points}')
    # the distances as LAMMPS will compute them from the header it reads
    rlo_text, rhi_text = lammps_distance(positive[0]), lammps_distance(potential.cutoff)
    r = lammps_grid(float(rlo_text), float(rhi_text), n_points, spacing)
    r_nm = np.clip(r / ANGSTROM_PER_NM, positive[0], potential.cutoff)  # round-off of the header at the ends
    r_nm[-1] = potential.cutoff
    energy_kj, force_kj = potential(r_nm)
    energy_text = [NUMBER.format(value) for value in energy_to_real(energy_kj)]
    energy = np.array([float(text) for text in energy_text])  # the energies LAMMPS reads
    wanted = force_to_real(force_kj)
    force = consistent_forces(r, energy, wanted)
    moved = np.abs(force - wanted)
    path = Path(path)
    with path.open('w') as handle:
        handle.write(_meta_line(potential, units='real: r A, e kcal/mol, f kcal/mol/A',
                                table=f'{n_points} points even in {"r^2" if spacing == "rsq" else "r"}, '
                                      'cubic Hermite interpolation of the potential',
                                forces_moved_into_secants=int(np.count_nonzero(moved)),
                                max_force_change_kcal_mol_A=float(moved.max())))
        handle.write(f'\n{keyword}\nN {n_points} {LAMMPS_SPACINGS[spacing]} {rlo_text} {rhi_text}\n\n')
        for i, (r_i, e_text, f_i) in enumerate(zip(r, energy_text, force, strict=True), start=1):
            handle.write(f'{i} {NUMBER.format(r_i)} {e_text} {EXACT.format(f_i)}\n')
    return path


def _lammps_parameters(path: str | Path, name: str, line: str) -> dict:
    """Parse the parameter line of section ``name`` as LAMMPS does: ``N n [R|RSQ|BITMAP lo hi] [FPRIME lo hi]``."""
    words = line.split()
    params: dict = {}
    k = 0
    while k < len(words):
        word = words[k]
        if word not in ('N', 'R', 'RSQ', 'BITMAP', 'FPRIME', 'FP'):
            raise PotentialError(f'{path}: section {name!r} has an unknown parameter {word!r} in {line!r} '
                                 '(LAMMPS knows N, R, RSQ, BITMAP and FPRIME)')
        try:
            if word == 'N':
                params['N'] = int(words[k + 1])
                k += 2
            elif word in ('R', 'RSQ', 'BITMAP'):
                params['spacing'], params['rlo'], params['rhi'] = word, float(words[k + 1]), float(words[k + 2])
                k += 3
            else:  # FPRIME: dF/dr at the ends for LAMMPS' spline ('FP' in old LAMMPS versions)
                params['fprime'] = (float(words[k + 1]), float(words[k + 2]))
                k += 3
        except (IndexError, ValueError):
            raise PotentialError(f'{path}: section {name!r}: cannot read its parameter line {line!r} '
                                 '(expected "N n [R|RSQ rlo rhi] [FPRIME fplo fphi]")') from None
    if 'N' not in params:
        raise PotentialError(f'{path}: section {name!r} has no "N n" parameter line (got {line!r})')
    return params


def read_lammps_table(path: str | Path, keyword: str = 'CG', shift: bool = False) -> Potential:
    """Read the section ``keyword`` of a LAMMPS pair table file (units real) as a Potential in nm and kJ/mol.

    Read as LAMMPS reads it: the section starts at the line whose first word is ``keyword`` (e.g.
    ``VOTCA`` for tables that VOTCA writes), its parameter line is ``N n`` with optional ``R``/``RSQ rlo
    rhi`` (the distances are then recomputed with LAMMPS' arithmetic, :func:`lammps_grid`) and
    ``FPRIME`` (ignored: it only shapes LAMMPS' spline of f); lines ``index r e f`` follow; ``#``
    comments and blank lines are skipped.  Distances in Å, energies in kcal/mol, forces in kcal/mol/Å
    (``units real``).  The table may start at any r > 0; its last r is the cutoff.

    Parameters
    ----------
    path
        The table file.
    keyword
        The section to read.
    shift
        Subtract U(r_c) from every energy of a table whose last energy is not 0 (forces unchanged); the
        amount is recorded in ``treatment['energy_shift_kJ_mol']``.  Without it such a table is refused.

    Returns
    -------
    Potential
        r nm, U kJ/mol, F kJ/mol/nm.
    """
    lines, meta = _read_lines(path)
    found = []
    i = 0
    while i < len(lines):
        name = lines[i].split()[0]
        if i + 1 >= len(lines):
            break
        params = _lammps_parameters(path, name, lines[i + 1])
        n = params['N']
        if name != keyword:
            found.append(name)
            i += 2 + n
            continue
        spacing = params.get('spacing')
        if spacing == 'BITMAP':
            raise PotentialError(f'{path}: BITMAP tables are not supported: write the table with R or RSQ')
        if n < 2:
            raise PotentialError(f'{path}: section {keyword!r} has N = {n}: a table needs at least 2 points')
        data = _columns(path, lines[i + 2:i + 2 + n], 4)
        if data.shape[0] != n:
            raise PotentialError(f'{path}: section {keyword!r} announces N = {n} lines but has {data.shape[0]}')
        r = data[:, 1]
        if spacing is not None:  # LAMMPS replaces the r column by an even grid in r or r^2
            r = lammps_grid(params['rlo'], params['rhi'], n, spacing.lower())
        return _from_table(path, r / ANGSTROM_PER_NM, energy_from_real(data[:, 2]), force_from_real(data[:, 3]),
                           shift=shift, treatment=meta.get('treatment', {}),
                           origin=_origin(meta, f'LAMMPS table {Path(path).name} {keyword}'),
                           file_energy=f'{data[-1, 2]:.6g} kcal/mol')
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
    """Read a VOTCA table ``r U F flag`` (or ``r U flag``: the force is then -dU/dr by finite differences).

    nm, kJ/mol, kJ/mol/nm.  A third number is always read as the force (this package's convention),
    never as VOTCA's y error (``r y yerr flag`` tables).  The flag column is optional.  Points VOTCA
    flags ``u`` (undefined: no data, e.g. the core where g(r) = 0) are dropped at the start of the
    table and refused anywhere else; a first point at r = 0 with a non-finite value is dropped too.
    What was dropped is recorded in ``treatment['dropped']``.

    Parameters
    ----------
    path
        The table file (``#`` and ``@`` lines are skipped; an optional first line holds the point count).
    shift
        Subtract U(r_c) from every energy of a table whose last energy is not 0 (forces unchanged); the
        amount is recorded in ``treatment['energy_shift_kJ_mol']``.  Without it such a table is refused.
    return_flags
        Also return the flags of the points kept.

    Returns
    -------
    Potential or tuple[Potential, list[str]]
        The potential, or (potential, flags) with ``return_flags``.
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
    flags = flags if has_flag else ['i'] * len(lines)
    first = 0
    while first < len(flags) and flags[first] == 'u':
        first += 1
    if first == len(flags):
        raise PotentialError(f'{path}: every point is flagged u (undefined)')
    if 'u' in flags[first:]:
        k = flags.index('u', first)
        raise PotentialError(f'{path}: the point at r = {data[k, 0]:g} nm (data line {k + 1}) is flagged u '
                             '(undefined); only undefined points at its start (the core) can be dropped: '
                             'extrapolate or cut the table')
    if first == 0 and data[0, 0] == 0 and not np.all(np.isfinite(data[0, 1:])):
        first = 1  # tools write inf or nan at r = 0; never used
    treatment = dict(meta.get('treatment', {}))
    if first:
        treatment['dropped'] = (f'{first} point(s) below r = {data[first, 0]:g} nm (undefined in the table: '
                                f'flag u or non-finite at r = 0)')
    data, flags = data[first:], flags[first:]
    r, energy = data[:, 0], data[:, 1]
    if n_numbers == 3:
        force = data[:, 2]
    else:
        check_grid(r)
        check_finite('energy', energy)
        force = -np.gradient(energy, r, edge_order=2)
    potential = _from_table(path, r, energy, force, shift=shift, treatment=treatment,
                            origin=_origin(meta, f'VOTCA table {Path(path).name}'))
    if return_flags:
        return potential, flags
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
    """Read the h, -h' columns of a GROMACS user table as a Potential on its grid from r_min to the cutoff.

    The cutoff (and the first r) come from ``cutoff`` or the file's ``# cgmob:`` line; otherwise the last
    point where h or -h' is nonzero; r = 0 is dropped when h or -h' is not finite there.  ``shift``: as
    in :func:`read_votca_table` (recorded in ``treatment['energy_shift_kJ_mol']``).
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
    return _from_table(path, r[keep], energy[keep], force[keep], shift=shift, treatment=meta.get('treatment', {}),
                       origin=_origin(meta, f'GROMACS table {Path(path).name}'))
