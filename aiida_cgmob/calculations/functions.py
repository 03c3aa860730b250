"""Calculation functions that record how a liquid was made: seed -> parameters -> topology."""

from __future__ import annotations

from aiida import orm
from aiida.engine import calcfunction

from aiida_cgmob import topology
from aiida_cgmob.data import BondedParametersData

__all__ = ['build_liquid', 'sample_bonded_parameters']


@calcfunction
def sample_bonded_parameters(molecule: orm.Str, seed: orm.Int, ranges: orm.Dict | None = None) -> BondedParametersData:
    """Draw synthetic bonded parameters for ``molecule`` (built-in name or SMILES) with ``seed``."""
    built = topology.build_molecule(molecule.value)
    sampled = topology.sample_bonded_parameters(built, seed.value, ranges.get_dict() if ranges else None)
    return BondedParametersData(sampled)


@calcfunction
def build_liquid(
    molecule: orm.Str,
    n_molecules: orm.Int,
    density: orm.Float,
    seed: orm.Int,
    bonded_parameters: orm.Dict | None = None,
) -> dict[str, orm.SinglefileData]:
    """Build ``n_molecules`` at ``density`` (kg/m^3): a .gro and a self-contained .top."""
    liquid = topology.build_liquid(molecule.value, n_molecules.value, density.value, seed.value,
                                   bonded_parameters.get_dict() if bonded_parameters else None)
    return {
        'structure': orm.SinglefileData.from_string(liquid.gro, filename='conf.gro'),
        'topology': orm.SinglefileData.from_string(liquid.top, filename='topol.top'),
    }
