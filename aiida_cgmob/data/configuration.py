"""Bead configurations as ``ArrayData`` (arrays ``positions`` (N, 3) and ``box`` (3,), nm) and back."""

from __future__ import annotations

import numpy as np
from aiida import orm

from aiida_cgmob.lammps import Configuration, LammpsInputError

__all__ = ['configuration_node', 'configuration_of']


def configuration_node(configuration: Configuration) -> orm.ArrayData:
    """Return an (unstored) ArrayData with ``positions`` (N, 3) and ``box`` (3,) in nm, its bead count and density."""
    node = orm.ArrayData()
    node.set_array('positions', np.asarray(configuration.positions, dtype=float))
    node.set_array('box', np.asarray(configuration.box, dtype=float))
    node.base.attributes.set_many({'n_beads': configuration.n_beads, 'number_density': configuration.number_density,
                                   'units': {'positions': 'nm', 'box': 'nm', 'number_density': 'nm^-3'}})
    return node


def configuration_of(node: orm.ArrayData) -> Configuration:
    """Return the kernel Configuration of an ArrayData with ``positions`` and ``box`` (LammpsInputError if not)."""
    names = set(node.get_arraynames())
    if not {'positions', 'box'} <= names:
        raise LammpsInputError(f'needs arrays "positions" (N, 3) and "box" (3,) in nm, got {sorted(names)}')
    return Configuration(node.get_array('positions'), node.get_array('box'))
