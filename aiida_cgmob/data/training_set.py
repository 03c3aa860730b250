"""``cgmob.training_set``: a whole table of rows in one node, as a training run reads it.

Made from a ``cgmob-database`` HDF5 file (:func:`aiida_cgmob.database.import_hdf5`, through a calcfunction whose
input is the file as a ``SinglefileData``, so the node's provenance reaches the file), or from any table of
:mod:`aiida_cgmob.dataset.hdf5`.  Arrays: ``r_g`` (G,), ``r_u`` (U,), ``g``, ``g_error`` (N, G), ``u`` (N, U)
and one (N,) array per column (strings as unicode arrays).  Attributes: ``n_rows``, ``g_grid``, ``u_grid``,
``units`` and ``source`` (format, format version, created and source of the file it came from).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from aiida import orm

from ..dataset.hdf5 import ARRAY_NAMES, COLUMNS

__all__ = ['TrainingSetData']

#: what ``source`` records of the table's metadata
SOURCE_KEYS = ('format', 'format_version', 'created', 'source')


class TrainingSetData(orm.ArrayData):
    """A table of database rows (m, D, g(r) -> U(r)) on one pair of grids, in one node.

    Parameters
    ----------
    table
        As :func:`aiida_cgmob.dataset.read` returns it (arrays, columns, ``g_grid``, ``u_grid``, ``units`` and
        the file's metadata).
    **kwargs
        Passed on to :class:`~aiida.orm.ArrayData`.
    """

    def __init__(self, table: Mapping | None = None, **kwargs):
        super().__init__(**kwargs)
        if table is None:
            return
        for name in (*ARRAY_NAMES, *COLUMNS):
            values = np.asarray(table[name])
            # numpy saves unicode arrays without pickling; an object array would need it
            self.set_array(name, values.astype(str) if values.dtype.kind in 'OSU' else values)
        self.base.attributes.set_many({
            'n_rows': int(np.asarray(table['g']).shape[0]), 'g_grid': dict(table['g_grid']),
            'u_grid': dict(table['u_grid']), 'units': dict(table['units']),
            'source': {key: table.get(key) for key in SOURCE_KEYS},
        })

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return self.base.attributes.get('n_rows')

    @property
    def units(self) -> dict:
        """Unit of each array (empty for labels and identifiers)."""
        return self.base.attributes.get('units')

    def as_table(self) -> dict:
        """Return the table: every array and column, ``g_grid``, ``u_grid``, ``units`` and the source metadata.

        The shape :func:`aiida_cgmob.dataset.write` takes and :class:`~aiida_cgmob.dataset.torch_dataset.RowDataset`
        reads.
        """
        get = self.base.attributes.get
        table = {name: self.get_array(name) for name in self.get_arraynames()}
        table.update(g_grid=get('g_grid'), u_grid=get('u_grid'), units=get('units'), **(get('source') or {}))
        return table

    def _validate(self) -> bool:
        super()._validate()
        missing = [name for name in ('g', 'u', 'mass', 'D', 'r_g', 'r_u') if name not in self.get_arraynames()]
        if missing:
            raise ValueError(f'a training set needs the arrays {", ".join(missing)}')
        return True
