"""A CG starting configuration from the final frame of an all-atom GROMACS run (no AiiDA import).

Each molecule becomes one bead at its centre of mass: the molecules are made whole along their bonds
(the ``[ bonds ]`` of the topology), so a molecule split by the periodic boundary maps correctly.
Needs the final ``.gro`` and the self-contained topology that ``cgmob.gromacs`` keeps in the database
(molecule types written inline, as ``build_liquid`` writes them).  Units: nm, g/mol.
"""

from __future__ import annotations

import numpy as np

from ..analysis.mapping import MoleculeMap, centres_of_mass
from ..gromacs.outputs import read_gro as read_gromacs_frame
from ..gromacs.outputs import topology_atoms
from .inputs import Configuration, LammpsInputError

__all__ = ['configuration_from_gromacs', 'read_gro', 'topology_molecules']


def read_gro(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (positions (A, 3) nm, box (3,) nm) of a .gro file; only rectangular boxes start a CG run."""
    try:
        positions, box = read_gromacs_frame(text)
    except ValueError as exception:
        raise LammpsInputError(f'.gro: {exception}') from exception
    if box.size == 9 and np.any(box[3:] != 0):
        raise LammpsInputError(f'.gro box is triclinic ({box.tolist()}); only rectangular boxes start a CG run')
    return positions, box[:3]


def topology_molecules(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(masses (A,) g/mol, bonds (B, 2) zero-based atom indices) of the whole system of a self-contained .top."""
    try:
        masses, bonds = topology_atoms(text)
    except ValueError as exception:
        raise LammpsInputError(f'topology: {exception}') from exception
    if not masses.size:
        raise LammpsInputError('topology: no atoms (no [ molecules ] section?)')
    return masses, bonds


def configuration_from_gromacs(gro_text: str, top_text: str) -> tuple[Configuration, float]:
    """(one bead per molecule at its centre of mass, molecular mass g/mol) of a .gro frame and its topology.

    Only pure liquids: molecules of different masses are refused (one bead type).
    """
    positions, box = read_gro(gro_text)
    masses, bonds = topology_molecules(top_text)
    if len(masses) != len(positions):
        raise LammpsInputError(f'the topology describes {len(masses)} atoms but the .gro holds {len(positions)}')
    molecules = MoleculeMap.from_bonds(len(masses), bonds, masses)
    molecular = molecules.molecular_masses
    if np.ptp(molecular) > 1e-3:
        raise LammpsInputError(f'molecules of different masses ({molecular.min():.3f}-{molecular.max():.3f} g/mol): '
                               'only pure liquids map to one bead type')
    dimensions = np.array([[*box, 90.0, 90.0, 90.0]])
    centres = centres_of_mass(positions[None], dimensions, molecules)[0]
    return Configuration(centres, box), float(molecular[0])
