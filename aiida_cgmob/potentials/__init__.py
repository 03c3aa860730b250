"""Science kernel for tabulated pair potentials of one-bead CG liquids (no AiiDA import).

Units: r nm, U kJ/mol, F = -dU/dr kJ/mol/nm, T K.  LAMMPS real units (Å, kcal/mol) only in ``formats``.
"""

from .formats import (
    ANGSTROM_PER_NM,
    KJ_PER_KCAL,
    LAMMPS_TABLE_POINTS,
    consistent_forces,
    energy_from_real,
    energy_to_real,
    force_from_real,
    force_to_real,
    inconsistent_forces,
    lammps_distance,
    lammps_grid,
    read_gromacs_table,
    read_lammps_table,
    read_votca_table,
    write_gromacs_table,
    write_lammps_table,
    write_votca_table,
)
from .inversion import BOLTZMANN_KJ, boltzmann_inversion, cosine_switch, lennard_jones, potential_with_wall
from .table import Potential, PotentialError

__all__ = [
    'ANGSTROM_PER_NM', 'BOLTZMANN_KJ', 'KJ_PER_KCAL', 'LAMMPS_TABLE_POINTS', 'Potential', 'PotentialError',
    'boltzmann_inversion', 'consistent_forces', 'cosine_switch', 'energy_from_real', 'energy_to_real',
    'force_from_real', 'force_to_real', 'inconsistent_forces', 'lammps_distance', 'lammps_grid', 'lennard_jones',
    'potential_with_wall',
    'read_gromacs_table', 'read_lammps_table', 'read_votca_table', 'write_gromacs_table', 'write_lammps_table',
    'write_votca_table',
]
