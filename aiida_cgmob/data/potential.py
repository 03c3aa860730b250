"""``cgmob.potential``: a tabulated pair potential U(r) of a one-bead CG liquid, stored as arrays.

The node wraps :class:`aiida_cgmob.potentials.Potential` (validated on construction: finite values,
strictly increasing grid, U(r_c) = 0).  Arrays ``r`` (nm), ``energy`` (kJ/mol), ``force`` (kJ/mol/nm);
attributes ``cutoff`` (nm), ``n_points``, ``r_min`` (nm), ``treatment`` (how the short range and tail
were filled in; for a table read with ``shift=True`` / ``--shift`` also ``energy_shift_kJ_mol``, what was
added to every energy of the file), ``origin`` and ``units``, so QueryBuilder can filter on them.  Export
with ``node.export('u.table', fileformat='lammps')`` (at least 2000 points, forces consistent with the
energies as LAMMPS checks them; or ``votca``, ``gromacs``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from aiida import orm

from ..potentials import Potential, write_gromacs_table, write_lammps_table, write_votca_table

__all__ = ['PotentialData']

UNITS = {'r': 'nm', 'energy': 'kJ/mol', 'force': 'kJ/mol/nm', 'cutoff': 'nm', 'r_min': 'nm'}


class PotentialData(orm.ArrayData):
    """A tabulated pair potential U(r) (nm, kJ/mol) stored as arrays, with queryable attributes.

    Parameters
    ----------
    potential
        The kernel potential to store (validated); None makes an empty node to fill with
        :meth:`set_potential`.
    **kwargs
        Passed on to :class:`~aiida.orm.ArrayData`.
    """

    def __init__(self, potential: Potential | None = None, **kwargs):
        super().__init__(**kwargs)
        if potential is not None:
            self.set_potential(potential)

    def set_potential(self, potential: Potential) -> None:
        """Store ``potential`` (re-validated) in this unstored node."""
        if not isinstance(potential, Potential):
            raise TypeError(f'expected an aiida_cgmob.potentials.Potential, got {type(potential).__name__}')
        potential.validate()
        for name in ('r', 'energy', 'force'):
            self.set_array(name, getattr(potential, name))
        self.base.attributes.set_many({
            'cutoff': potential.cutoff,
            'r_min': float(potential.r[0]),
            'n_points': int(potential.r.size),
            'treatment': dict(potential.treatment),
            'origin': potential.origin,
            'units': dict(UNITS),
        })

    @property
    def potential(self) -> Potential:
        """The stored potential as a kernel object (validated again on the way out)."""
        return Potential(self.get_array('r'), self.get_array('energy'), self.get_array('force'),
                         self.base.attributes.get('treatment', {}), self.base.attributes.get('origin', ''))

    @property
    def cutoff(self) -> float:
        """Cut-off radius r_c (nm), where U(r_c) = 0."""
        return self.base.attributes.get('cutoff')

    @property
    def treatment(self) -> dict:
        """How the short range and the tail of the table were filled in."""
        return self.base.attributes.get('treatment', {})

    @property
    def origin(self) -> str:
        """Where the potential came from (free text set by its maker)."""
        return self.base.attributes.get('origin', '')

    def _validate(self) -> bool:
        super()._validate()
        self.potential  # noqa: B018 - raises PotentialError naming the problem before storing
        return True

    def _export_with(self, writer, **kwargs) -> tuple[bytes, dict]:
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / 'table'
            writer(path, self.potential, **kwargs)
            return path.read_bytes(), {}

    def _prepare_lammps(self, main_file_name: str = '', keyword: str = 'CG', **kwargs) -> tuple[bytes, dict]:
        """LAMMPS ``pair_style table`` file, real units (Å, kcal/mol)."""
        return self._export_with(write_lammps_table, keyword=keyword)

    def _prepare_votca(self, main_file_name: str = '', **kwargs) -> tuple[bytes, dict]:
        """VOTCA table (nm, kJ/mol)."""
        return self._export_with(write_votca_table)

    def _prepare_gromacs(self, main_file_name: str = '', **kwargs) -> tuple[bytes, dict]:
        """GROMACS user table (nm, kJ/mol; the h(r) columns)."""
        return self._export_with(write_gromacs_table)
