"""The database as one flat HDF5 file, for people without AiiDA: write it, read it back, check its format.

A *table* is a plain dict, the shape :func:`read` returns and :func:`write` takes (and what
``aiida_cgmob.database.to_arrays`` gives): numpy arrays ``r_g`` (G,), ``r_u`` (U,), ``g`` and ``g_error``
(N, G), ``u`` (N, U), one 1-D array of length N per column of :data:`COLUMNS`, plus the metadata ``g_grid``
and ``u_grid`` (``{r_min, r_max, n_points}``) and ``units`` (name -> unit).  :func:`read` adds ``format``,
``format_version``, ``created`` and ``source``.

The file (:data:`FORMAT_NAME`, version :data:`FORMAT_VERSION`):

* root attributes ``format``, ``format_version``, ``created`` (ISO 8601, UTC), ``source`` (where the rows
  came from: group, profile, selection), ``n_rows``, ``g_grid`` and ``u_grid`` (JSON), ``units`` (JSON of
  every dataset's unit);
* datasets ``r_g``, ``r_u``, ``g``, ``g_error``, ``u`` and one 1-D dataset per column, each with a ``units``
  attribute (empty for labels and identifiers), gzip-compressed.

Missing values: NaN for floats, -1 for integers, ``''`` for strings; the flags (``mass_scaling_ok``,
``synthetic``) are int8, 1 yes, 0 no, -1 not known (a sample of one row has no mass-scaling check).

No AiiDA import; h5py is imported when a file is read or written.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from .grids import GridError, GridSpec
from .rows import ROW_UNITS

__all__ = ['ARRAY_NAMES', 'COLUMNS', 'FORMAT_NAME', 'FORMAT_VERSION', 'DatabaseFileError', 'check_common_grids',
           'column_value', 'read', 'stack_rows', 'table_units', 'write', 'write_rows']

#: the name of the format, the file's root attribute ``format``
FORMAT_NAME = 'cgmob-database'
#: its version, root attribute ``format_version``; :func:`read` refuses others
FORMAT_VERSION = 1

#: the per-row columns, in file order: name -> (kind, unit).  Kinds: ``str`` (UTF-8), ``int`` (int64, -1
#: missing), ``float`` (float64, NaN missing), ``flag`` (int8: 1 yes, 0 no, -1 not known).
COLUMNS: dict[str, tuple[str, str]] = {
    'uuid': ('str', ''), 'molecule': ('str', ''), 'sample_seed': ('int', ''), 'mass_index': ('int', ''),
    'origin': ('str', ''), 'ensemble': ('str', ''), 'ibi_status': ('str', ''), 'protocol': ('str', ''),
    'mass': ('float', ROW_UNITS['mass']), 'D': ('float', ROW_UNITS['D']), 'D_error': ('float', ROW_UNITS['D_error']),
    'D_sqrt_m': ('float', ROW_UNITS['D_sqrt_m']), 'D_sqrt_m_error': ('float', ROW_UNITS['D_sqrt_m_error']),
    'number_density': ('float', ROW_UNITS['number_density']), 'mass_density': ('float', ROW_UNITS['mass_density']),
    'temperature': ('float', 'K'), 'temperature_measured': ('float', 'K'),
    'pressure': ('float', 'bar'), 'pressure_error': ('float', 'bar'), 'aa_pressure': ('float', 'bar'),
    'cutoff': ('float', 'nm'), 'r_core': ('float', 'nm'), 'box_length': ('float', 'nm'),
    'ibi_rms': ('float', 'dimensionless'), 'mass_scaling_deviation': ('float', 'dimensionless'),
    'mass_scaling_ok': ('flag', ''), 'synthetic': ('flag', ''),
}
#: the grids and the arrays on them: name -> unit
ARRAY_UNITS = {'r_g': 'nm', 'r_u': 'nm', 'g': 'dimensionless', 'g_error': 'dimensionless', 'u': 'kJ/mol'}
ARRAY_NAMES = tuple(ARRAY_UNITS)
#: columns a table must have; the others are filled with their missing value
REQUIRED = ('g', 'u', 'r_g', 'r_u', 'mass', 'D')
_DTYPES = {'int': np.int64, 'float': np.float64, 'flag': np.int8}
_MISSING = {'str': '', 'int': -1, 'float': math.nan, 'flag': -1}


class DatabaseFileError(ValueError):
    """A file that is not a cgmob database of a version this code reads, or a table that cannot be written."""


def table_units() -> dict[str, str]:
    """Return the unit of every dataset of the file (empty for labels and identifiers)."""
    return {**ARRAY_UNITS, **{name: unit for name, (_, unit) in COLUMNS.items()}}


def column_value(name: str, value) -> object:
    """``value`` of the column ``name`` as the file stores it: None becomes the column's missing value."""
    kind = COLUMNS[name][0]
    if value is None:
        return _MISSING[kind]
    if kind == 'flag':
        return int(bool(value))
    return value


def _grid_text(grid: GridSpec) -> str:
    return f'{grid.r_min:g}-{grid.r_max:g} nm, {grid.n_points} points'


def _same_grid(one: GridSpec, other: GridSpec) -> bool:
    return (one.n_points == other.n_points and math.isclose(one.r_min, other.r_min, abs_tol=1e-9)
            and math.isclose(one.r_max, other.r_max, abs_tol=1e-9))


def check_common_grids(grids: Iterable[tuple[Mapping, Mapping]], names: Sequence[str] | None = None
                       ) -> tuple[GridSpec, GridSpec]:
    """Return the g grid and the U grid that every row shares.

    Parameters
    ----------
    grids
        ``(g_grid, u_grid)`` of each row, as rows record them (``{r_min, r_max, n_points}``).
    names
        A name for each row (its uuid, say) used in the error message.

    Raises
    ------
    aiida_cgmob.dataset.grids.GridError
        For no rows, or rows on different grids: the message names both grids and one row on each.
    """
    first: list[GridSpec] | None = None
    first_name = None
    for index, (g_grid, u_grid) in enumerate(grids):
        name = names[index] if names is not None else f'row {index}'
        try:
            specs = [GridSpec.from_dict(g_grid), GridSpec.from_dict(u_grid)]
        except (KeyError, TypeError, ValueError) as exception:
            raise GridError(f'{name} records no usable g_grid and u_grid ({g_grid!r}, {u_grid!r}): '
                            f'{type(exception).__name__} {exception}') from exception
        if first is None:
            first, first_name = specs, name
            continue
        for which, label, hint in ((0, 'g(r)', ''), (1, 'U(r)', ' (the U grid ends at the cut-off: select one '
                                                               'cut-off)')):
            if not _same_grid(first[which], specs[which]):
                raise GridError(f'rows on different {label} grids: {_grid_text(first[which])} ({first_name}) and '
                                f'{_grid_text(specs[which])} ({name}); a table holds rows of one grid only{hint}')
    if first is None:
        raise GridError('no rows: nothing to put on a grid')
    return first[0], first[1]


def stack_rows(rows: Iterable[Mapping]) -> dict:
    """Stack rows into a table (see the module docstring).

    Each row is a mapping with arrays ``g``, ``g_error``, ``u``, grids ``g_grid``, ``u_grid`` and any of the
    :data:`COLUMNS` (None or absent: missing).

    Raises
    ------
    aiida_cgmob.dataset.grids.GridError
        When the rows are not all on the same grids (the message names both grids).
    """
    rows = list(rows)
    names = [str(row.get('uuid') or f'row {index}') for index, row in enumerate(rows)]
    g_grid, u_grid = check_common_grids(((row['g_grid'], row['u_grid']) for row in rows), names)
    table = {
        'r_g': g_grid.r, 'r_u': u_grid.r,
        'g': np.array([row['g'] for row in rows], dtype=float),
        'g_error': np.array([row['g_error'] if row.get('g_error') is not None else np.full(g_grid.n_points, np.nan)
                             for row in rows], dtype=float),
        'u': np.array([row['u'] for row in rows], dtype=float),
        'g_grid': g_grid.as_dict(), 'u_grid': u_grid.as_dict(), 'units': table_units(),
    }
    for name, (kind, _) in COLUMNS.items():
        values = [column_value(name, row.get(name)) for row in rows]
        table[name] = np.array(values, dtype=str) if kind == 'str' else np.array(values, dtype=_DTYPES[kind])
    return table


def _checked(table: Mapping) -> tuple[dict, int]:
    """Return the table's arrays (missing optional columns filled in) and N; DatabaseFileError names a problem."""
    missing = [name for name in REQUIRED if name not in table]
    if missing:
        raise DatabaseFileError(f'the table lacks {", ".join(missing)}')
    g, u = np.asarray(table['g'], float), np.asarray(table['u'], float)
    if g.ndim != 2 or u.ndim != 2 or g.shape[0] != u.shape[0]:
        raise DatabaseFileError(f'g and u must be (N, G) and (N, U) with the same N, got {g.shape} and {u.shape}')
    n = g.shape[0]
    if n == 0:
        raise DatabaseFileError('no rows to write')
    arrays = {'r_g': np.asarray(table['r_g'], float), 'r_u': np.asarray(table['r_u'], float), 'g': g, 'u': u,
              'g_error': np.asarray(table['g_error'], float) if table.get('g_error') is not None
              else np.full(g.shape, np.nan)}
    for name, grid, array in (('g_grid', 'r_g', 'g'), ('u_grid', 'r_u', 'u')):
        r = arrays[grid]
        if arrays[array].shape[1] != r.size:
            raise DatabaseFileError(f'{array} has {arrays[array].shape[1]} points per row, its grid {grid} {r.size}')
        if table.get(name) is not None and not _same_grid(GridSpec.from_dict(table[name]),
                                                          GridSpec(float(r[0]), float(r[-1]), int(r.size))):
            raise GridError(f'{grid} ({r[0]:g}-{r[-1]:g} nm, {r.size} points) is not {name} '
                            f'{_grid_text(GridSpec.from_dict(table[name]))}')
    if arrays['g_error'].shape != g.shape:
        raise DatabaseFileError(f'g_error has shape {arrays["g_error"].shape}, g {g.shape}')
    for name, (kind, _) in COLUMNS.items():
        values = table.get(name)
        if values is None:
            values = np.full(n, _MISSING[kind], dtype=str if kind == 'str' else _DTYPES[kind])
        values = np.asarray(values, dtype=str if kind == 'str' else _DTYPES[kind])
        if values.shape != (n,):
            raise DatabaseFileError(f'column {name} has shape {values.shape}, the table {n} rows')
        arrays[name] = values
    return arrays, n


def write(path: str | Path, table: Mapping, source: str = '', created: str | None = None) -> Path:
    """Write ``table`` to the HDF5 file ``path`` (overwritten) in the documented format; return the path.

    Parameters
    ----------
    path
        The file to write.
    table
        See the module docstring; optional columns absent from it are written as missing values.
    source
        Free text saying where the rows came from (group, profile, selection), the root attribute ``source``.
    created
        ISO 8601 time of creation [default: now, UTC].

    Raises
    ------
    DatabaseFileError
        For a table with no rows, a missing required array or column, or inconsistent shapes.
    aiida_cgmob.dataset.grids.GridError
        When the arrays are not on the grids the table names.
    """
    import h5py

    arrays, n = _checked(table)
    units = table_units()
    path = Path(path)
    string = h5py.string_dtype('utf-8')
    with h5py.File(path, 'w') as handle:
        handle.attrs.update({
            'format': FORMAT_NAME, 'format_version': FORMAT_VERSION,
            'created': created or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
            'source': source, 'n_rows': n, 'units': json.dumps(units),
            'g_grid': json.dumps(GridSpec(float(arrays['r_g'][0]), float(arrays['r_g'][-1]),
                                          int(arrays['r_g'].size)).as_dict()),
            'u_grid': json.dumps(GridSpec(float(arrays['r_u'][0]), float(arrays['r_u'][-1]),
                                          int(arrays['r_u'].size)).as_dict()),
        })
        for name, values in arrays.items():
            kind = COLUMNS.get(name, ('float',))[0]
            data = values.astype(object) if kind == 'str' else values
            dataset = handle.create_dataset(name, data=data, dtype=string if kind == 'str' else values.dtype,
                                            compression='gzip', shuffle=values.ndim == 2)
            dataset.attrs['units'] = units[name]
    return path


def write_rows(path: str | Path, rows: Iterable[Mapping], source: str = '') -> Path:
    """:func:`stack_rows` then :func:`write`: refuses rows on different grids, naming both."""
    return write(path, stack_rows(rows), source)


def read(path: str | Path) -> dict:
    """Read a file written by :func:`write`: the table (numpy arrays, strings as ``str``) and its metadata.

    Returns
    -------
    dict
        The arrays and columns, ``g_grid``, ``u_grid``, ``units`` (dicts), ``format``, ``format_version``,
        ``created``, ``source``.  Columns a version-1 file lacks are filled with missing values.

    Raises
    ------
    DatabaseFileError
        When the file is not HDF5, not a ``cgmob-database`` file, or of another format version.
    """
    import h5py

    path = Path(path)
    try:
        handle = h5py.File(path, 'r')
    except OSError as exception:
        raise DatabaseFileError(f'{path} is not an HDF5 file that can be read: {exception}') from exception
    with handle:
        attrs = dict(handle.attrs)
        name = attrs.get('format')
        name = name.decode() if isinstance(name, bytes) else name
        if name != FORMAT_NAME:
            raise DatabaseFileError(f'{path} is not a {FORMAT_NAME} file (its format attribute is {name!r})')
        version = int(attrs.get('format_version', -1))
        if version != FORMAT_VERSION:
            raise DatabaseFileError(f'{path} is {FORMAT_NAME} format version {version}; this aiida-cgmob reads '
                                    f'version {FORMAT_VERSION}')
        table: dict = {name: handle[name][()] for name in ARRAY_NAMES}
        n = table['g'].shape[0]
        for column, (kind, _) in COLUMNS.items():
            if column not in handle:
                table[column] = np.full(n, _MISSING[kind], dtype=str if kind == 'str' else _DTYPES[kind])
            elif kind == 'str':
                table[column] = np.array(handle[column].asstr()[()], dtype=str).reshape(n)
            else:
                table[column] = handle[column][()]
        table.update({
            'g_grid': json.loads(attrs['g_grid']), 'u_grid': json.loads(attrs['u_grid']),
            'units': json.loads(attrs['units']), 'format': FORMAT_NAME, 'format_version': version,
            'created': str(attrs.get('created', '')), 'source': str(attrs.get('source', '')),
        })
    return table
