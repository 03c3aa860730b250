"""LAMMPS for one-bead CG liquids (no AiiDA import): input files, log reading, a local runner.

Our units: nm, ps, K, bar, g/mol, kJ/mol.  LAMMPS ``units real`` (Å, fs, atm, kcal/mol) stays inside
this package.
"""

from .inputs import (
    DEFAULT_SETTINGS,
    Configuration,
    LammpsInputError,
    configuration_from_frame,
    lattice_configuration,
    total_steps,
    validate_settings,
    write_data,
    write_input,
)
from .outputs import LammpsLog, newest_restart, parse_log, read_log
from .run import LammpsError, prepare_run, run_lammps

__all__ = [
    'DEFAULT_SETTINGS', 'Configuration', 'LammpsError', 'LammpsInputError', 'LammpsLog', 'configuration_from_frame',
    'lattice_configuration', 'newest_restart', 'parse_log', 'prepare_run', 'read_log', 'run_lammps', 'total_steps',
    'validate_settings', 'write_data', 'write_input',
]
