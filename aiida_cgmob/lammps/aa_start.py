"""A CG starting configuration from the final frame of an all-atom GROMACS run (no AiiDA import).

Each molecule becomes one bead at its centre of mass: the molecules are made whole along their bonds
(the ``[ bonds ]`` of the topology), so a molecule split by the periodic boundary maps correctly.
Needs the final ``.gro`` and the self-contained topology that ``cgmob.gromacs`` keeps in the database
(molecule types written inline, as ``build_liquid`` writes them).  Units: nm, g/mol.
"""

from __future__ import annotations

import numpy as np

from ..analysis.mapping import MoleculeMap, centres_of_mass
from .inputs import Configuration, LammpsInputError

__all__ = ['configuration_from_gromacs', 'read_gro', 'topology_molecules']


def read_gro(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(positions (A, 3) nm, box (3,) nm) of a .gro file; only rectangular boxes."""
    lines = text.splitlines()
    try:
        n_atoms = int(lines[1])
        # fixed columns: positions are three %8.3f fields from column 20
        positions = np.array([[float(line[20 + 8 * k:28 + 8 * k]) for k in range(3)]
                              for line in lines[2:2 + n_atoms]])
        box = np.array(lines[2 + n_atoms].split(), dtype=float)
    except (IndexError, ValueError) as exception:
        raise LammpsInputError(f'not a .gro file (atom count on line 2, atoms, box): {exception}') from exception
    if positions.shape != (n_atoms, 3):
        raise LammpsInputError(f'.gro declares {n_atoms} atoms but holds {len(positions)}')
    if box.size == 9 and np.any(box[3:] != 0):
        raise LammpsInputError(f'.gro box is triclinic ({box.tolist()}); only rectangular boxes start a CG run')
    return positions, box[:3]


def topology_molecules(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(masses (A,) g/mol, bonds (B, 2) zero-based atom indices) of the whole system of a self-contained .top."""
    types: dict[str, dict] = {}
    counts: list[tuple[str, int]] = []
    section, current = None, None
    for raw in text.splitlines():
        line = raw.split(';', 1)[0].strip()
        if not line or line.startswith('#'):
            continue
        if line.startswith('['):
            section = line.strip('[] ').lower()
            continue
        fields = line.split()
        if section == 'moleculetype':
            current = types.setdefault(fields[0], {'masses': [], 'bonds': []})
        elif section == 'atoms' and current is not None:
            if len(fields) < 8:
                raise LammpsInputError(f'topology [ atoms ] line without a mass column: {line!r}')
            current['masses'].append(float(fields[7]))
        elif section == 'bonds' and current is not None:
            current['bonds'].append((int(fields[0]) - 1, int(fields[1]) - 1))
        elif section == 'molecules':
            counts.append((fields[0], int(fields[1])))
    missing = [name for name, _ in counts if name not in types]
    if missing or not counts:
        raise LammpsInputError(f'topology: molecule types {missing} are not written inline (or no [ molecules ])')
    masses, bonds, offset = [], [], 0
    for name, count in counts:
        molecule = types[name]
        size = len(molecule['masses'])
        for _ in range(count):
            masses.extend(molecule['masses'])
            bonds.extend((i + offset, j + offset) for i, j in molecule['bonds'])
            offset += size
    return np.array(masses), np.array(bonds, dtype=np.int64).reshape(-1, 2)


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
