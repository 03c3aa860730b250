"""``cgmob.bonded_parameters``: one sampled set of synthetic bonded parameters, with its seed."""

from __future__ import annotations

from aiida import orm

__all__ = ['BondedParametersData']


class BondedParametersData(orm.Dict):
    """One set of synthetic bonded parameters: a :class:`~aiida.orm.Dict` with a seed.

    It holds the output of :func:`aiida_cgmob.topology.sample_bonded_parameters`: seed, molecule,
    ranges and the values per bonded class, in GROMACS units as its ``units`` entry says (nm, degrees,
    kJ/mol/nm^2, kJ/mol/rad^2, kJ/mol).  Query it by ``attributes.seed`` or ``attributes.molecule``.
    """

    @property
    def seed(self) -> int:
        """Seed of the random generator that drew the parameters."""
        return self.base.attributes.get('seed')

    @property
    def molecule(self) -> str:
        """Molecule the parameters were sampled for (built-in name or SMILES)."""
        return self.base.attributes.get('molecule')
