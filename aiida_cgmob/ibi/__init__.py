"""Iterative structure-based coarse-graining of one-bead liquids (no AiiDA import).

``update`` holds the mathematics (RMS error, IBI and iterative-HNC updates, pressure ramp),
``control`` the step control (damping, back-tracking, fall-back, stall), ``driver`` the loop (LAMMPS run,
g(r), update, checkpoint) behind the ``cgmob-ibi`` console script.
"""

from .driver import (
    DEFAULT_SETTINGS,
    IbiInputError,
    IbiRun,
    initial_potential,
    run_ibi,
    validate_input,
    validate_settings,
    write_ibi_input,
)
from .update import direct_correlation, hnc_potential, potential_update, pressure_ramp, rms_error, smooth

__all__ = [
    'DEFAULT_SETTINGS', 'IbiInputError', 'IbiRun', 'direct_correlation', 'hnc_potential', 'initial_potential',
    'potential_update', 'pressure_ramp', 'rms_error', 'run_ibi', 'smooth', 'validate_input', 'validate_settings',
    'write_ibi_input',
]
