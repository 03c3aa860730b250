"""Science kernel for trajectories: one-bead mapping and descriptors (no AiiDA import).

Units: nm, ps, g/mol; D in nm^2/ps (x1000 = 1e-9 m^2/s); mass density kg/m^3.
"""

from .descriptors import (
    DEFAULT_SETTINGS,
    Descriptors,
    compute_descriptors,
    fit_diffusion,
    mean_squared_displacement,
    radial_distribution,
    read_descriptors,
    validate_settings,
    yeh_hummer_correction,
)
from .mapping import MoleculeMap, centres_of_mass, unwrap_in_time
from .trajectory import BeadTrajectory, DescriptorError, map_gromacs, read_beads

__all__ = [
    'DEFAULT_SETTINGS', 'BeadTrajectory', 'DescriptorError', 'Descriptors', 'MoleculeMap', 'centres_of_mass',
    'compute_descriptors', 'fit_diffusion', 'map_gromacs', 'mean_squared_displacement', 'radial_distribution',
    'read_beads', 'read_descriptors', 'unwrap_in_time', 'validate_settings', 'yeh_hummer_correction',
]
