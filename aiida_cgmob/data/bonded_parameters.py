"""``cgmob.bonded_parameters``: one sampled set of synthetic bonded parameters, with its seed."""

from __future__ import annotations

from aiida import orm

__all__ = ['BondedParametersData']


class BondedParametersData(orm.Dict):
    """A :class:`~aiida.orm.Dict` holding the output of
    :func:`aiida_cgmob.topology.sample_bonded_parameters`: seed, molecule, ranges and the values per
    bonded class.  Query it by ``attributes.seed`` or ``attributes.molecule``.
    """

    @property
    def seed(self) -> int:
        return self.base.attributes.get('seed')

    @property
    def molecule(self) -> str:
        return self.base.attributes.get('molecule')
