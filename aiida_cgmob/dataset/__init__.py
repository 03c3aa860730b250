"""The synthetic database as plain data (no AiiDA): common grids, rows, the mass-scaling check, the HDF5 file."""

from .grids import G_GRID, U_R_MIN, U_STEP, GridError, GridSpec, minimum_box, resample_g, resample_u, u_grid_spec
from .rows import MASS_DISTRIBUTIONS, ROW_UNITS, build_row, draw_masses, mass_scaling_check

__all__ = ['G_GRID', 'MASS_DISTRIBUTIONS', 'ROW_UNITS', 'U_R_MIN', 'U_STEP', 'GridError', 'GridSpec', 'build_row',
           'draw_masses', 'mass_scaling_check', 'minimum_box', 'resample_g', 'resample_u', 'u_grid_spec']
