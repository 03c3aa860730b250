"""``cgmob.row``: one row of the synthetic database, a CG run's (m, g(r), D, state) -> U(r) on the common grids.

Arrays ``g`` and ``g_error`` on the g grid, ``u`` (kJ/mol) on the U grid; every scalar a user filters on is an
attribute (``molecule``, ``sample_seed``, ``mass_index``, ``mass``, ``D``, ``D_sqrt_m``, ``number_density``,
``temperature``, ``pressure``, ``ensemble``, ``origin``, ``ibi_status``, ``protocol``, ...), with the grids
(``g_grid``, ``u_grid``: r_min, r_max, n_points) and ``units``.  Made by the calcfunction
:func:`aiida_cgmob.calculations.functions.make_row` from the CG run's outputs, so its provenance reaches back to
the seed.  The mass-scaling check of its sample sets the extra ``mass_scaling_ok`` (extras stay mutable).
"""

from __future__ import annotations

import numpy as np
from aiida import orm

from ..dataset import GridSpec

__all__ = ['RowData']


class RowData(orm.ArrayData):
    """One database row: arrays g, g_error (g grid) and u (U grid); the scalars as queryable attributes.

    Parameters
    ----------
    arrays, scalars
        As returned by :func:`aiida_cgmob.dataset.build_row`, plus the row's labels (molecule, seed, origin, ...).
    **kwargs
        Passed on to :class:`~aiida.orm.ArrayData`.
    """

    def __init__(self, arrays: dict | None = None, scalars: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        for name, values in (arrays or {}).items():
            self.set_array(name, np.asarray(values, dtype=float))
        if scalars:
            self.base.attributes.set_many(dict(scalars))

    @property
    def r_g(self) -> np.ndarray:
        """The g(r) grid, nm."""
        return GridSpec.from_dict(self.base.attributes.get('g_grid')).r

    @property
    def r_u(self) -> np.ndarray:
        """The U(r) grid, nm."""
        return GridSpec.from_dict(self.base.attributes.get('u_grid')).r

    @property
    def g(self) -> np.ndarray:
        """g(r) of the CG run on :attr:`r_g`."""
        return self.get_array('g')

    @property
    def u(self) -> np.ndarray:
        """U(r) of the run's potential on :attr:`r_u`, kJ/mol."""
        return self.get_array('u')

    @property
    def key(self) -> tuple:
        """(molecule, sample_seed, mass_index, origin): what makes a row unique within a database."""
        get = self.base.attributes.get
        return get('molecule'), get('sample_seed'), get('mass_index'), get('origin')

    def _validate(self) -> bool:
        super()._validate()
        for name in ('g', 'u'):
            if name not in self.get_arraynames() or not np.all(np.isfinite(self.get_array(name))):
                raise ValueError(f'a row needs a finite array {name!r}')
        return True
