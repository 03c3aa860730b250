"""The synthetic database as plain data (no AiiDA): common grids, rows, the mass-scaling check, the HDF5 file.

The PyTorch dataset (:class:`aiida_cgmob.dataset.torch_dataset.RowDataset`) lives in its own module, so that
importing this package does not import torch.
"""

from .grids import G_GRID, U_R_MIN, U_STEP, GridError, GridSpec, minimum_box, resample_g, resample_u, u_grid_spec
from .hdf5 import (
    COLUMNS,
    FORMAT_NAME,
    FORMAT_VERSION,
    DatabaseFileError,
    check_common_grids,
    read,
    stack_rows,
    table_units,
    write,
    write_rows,
)
from .rows import MASS_DISTRIBUTIONS, ROW_UNITS, build_row, draw_masses, mass_scaling_check

__all__ = ['COLUMNS', 'FORMAT_NAME', 'FORMAT_VERSION', 'G_GRID', 'MASS_DISTRIBUTIONS', 'ROW_UNITS', 'U_R_MIN',
           'U_STEP', 'DatabaseFileError', 'GridError', 'GridSpec', 'build_row', 'check_common_grids', 'draw_masses',
           'mass_scaling_check', 'minimum_box', 'read', 'resample_g', 'resample_u', 'stack_rows', 'table_units',
           'u_grid_spec', 'write', 'write_rows']
