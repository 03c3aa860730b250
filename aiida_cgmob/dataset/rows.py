"""Rows of the synthetic database as plain data: what one CG run contributes, and the checks made on them.

A row is one CG LAMMPS run with a tabulated potential: inputs (bead mass m, the run's own g(r) and D with its
error, number density, temperature, pressure, ensemble) and label U(r), g and U on the common grids
(:mod:`aiida_cgmob.dataset.grids`).  For Newtonian dynamics g(r) does not depend on m and D scales as m^-1/2,
so each row also carries D*sqrt(m), the mass-independent mobility; :func:`mass_scaling_check` tests that
invariance across the rows of one potential.

No AiiDA import.  Units in :data:`ROW_UNITS`.
"""

from __future__ import annotations

import math

import numpy as np

from ..units import MASS_DENSITY_FACTOR
from .grids import G_GRID, GridSpec, resample_g, resample_u, u_grid_spec

__all__ = ['MASS_DISTRIBUTIONS', 'ROW_UNITS', 'build_row', 'draw_masses', 'mass_scaling_check']

#: units of a row's scalars and arrays
ROW_UNITS = {
    'mass': 'g/mol', 'D': '1e-9 m^2/s', 'D_error': '1e-9 m^2/s', 'D_sqrt_m': '1e-9 m^2/s (g/mol)^0.5',
    'D_sqrt_m_error': '1e-9 m^2/s (g/mol)^0.5', 'number_density': 'nm^-3', 'mass_density': 'kg/m^3',
    'temperature': 'K', 'pressure': 'bar', 'pressure_error': 'bar', 'cutoff': 'nm', 'r_core': 'nm',
    'box_length': 'nm', 'cg_production': 'ps', 'r': 'nm', 'g': 'dimensionless', 'g_error': 'dimensionless',
    'u': 'kJ/mol',
}

#: how bead masses are drawn: uniformly in m, or uniformly in ln m (as many light as heavy beads per decade)
MASS_DISTRIBUTIONS = ('uniform', 'log-uniform')


def draw_masses(seed: int, count: int, mass_min: float = 20.0, mass_max: float = 200.0,
                distribution: str = 'uniform') -> list[float]:
    """``count`` bead masses (g/mol) in [mass_min, mass_max], drawn from ``distribution`` with ``seed``.

    The generator is seeded with (seed, 20): the stream differs from the one that drew the bonded parameters
    with the same seed, and is the same on every machine (numpy's PCG64).
    """
    if count < 1:
        raise ValueError(f'count must be >= 1, got {count}')
    if not (0 < mass_min < mass_max < math.inf):
        raise ValueError(f'the mass range needs 0 < mass_min < mass_max < inf, got [{mass_min}, {mass_max}] g/mol')
    if distribution not in MASS_DISTRIBUTIONS:
        raise ValueError(f'distribution must be one of {MASS_DISTRIBUTIONS}, got {distribution!r}')
    rng = np.random.default_rng([int(seed), 20])
    if distribution == 'uniform':
        values = rng.uniform(mass_min, mass_max, count)
    else:
        values = np.exp(rng.uniform(math.log(mass_min), math.log(mass_max), count))
    return [round(float(value), 4) for value in values]


def build_row(*, r: np.ndarray, g: np.ndarray, g_error: np.ndarray | None, mass: float, D: float, D_error: float,
              number_density: float, temperature: float, pressure: float | None, pressure_error: float | None,
              potential_r: np.ndarray, potential_energy: np.ndarray, potential_force: np.ndarray,
              r_core: float | None = None, ensemble: str = 'nvt', g_grid: GridSpec = G_GRID,
              box_length: float | None = None) -> tuple[dict, dict]:
    """Return (arrays, scalars) of one row from a CG run's descriptors and its potential.

    Parameters
    ----------
    r, g, g_error
        The run's g(r) on bin centres (nm) and its standard error (None: unknown, stored as NaN).
    mass
        Bead mass, g/mol.
    D, D_error
        The run's self-diffusion coefficient and its standard error, 1e-9 m^2/s.
    number_density
        Beads per nm^3.
    temperature, pressure, pressure_error
        K; mean pressure over production and its standard error (block averages), bar (None: not measured).
    potential_r, potential_energy, potential_force
        The tabulated potential the run used (nm, kJ/mol, kJ/mol/nm); its last point is the cut-off.
    r_core
        Below this r (nm) the potential is the inversion's wall, not data.
    ensemble
        ``nvt`` or ``npt``.
    g_grid
        The common g(r) grid.
    box_length
        Edge of the cubic box, nm.

    Raises
    ------
    aiida_cgmob.dataset.grids.GridError
        When g(r) does not reach across the grid (box too small) or U is not finite on its grid.
    ValueError
        For a non-positive mass or D, or an unknown ensemble.
    """
    if not mass > 0:
        raise ValueError(f'mass must be positive (g/mol), got {mass}')
    if not (np.isfinite(D) and D > 0):
        raise ValueError(f'D must be positive (1e-9 m^2/s), got {D}')
    if ensemble not in ('nvt', 'npt'):
        raise ValueError(f"ensemble must be 'nvt' or 'npt', got {ensemble!r}")
    cutoff = float(potential_r[-1])
    u_grid = u_grid_spec(round(cutoff, 6))
    arrays = {
        'g': resample_g(r, g, g_grid),
        'g_error': (resample_g(r, g_error, g_grid, 'g_error') if g_error is not None and np.all(np.isfinite(g_error))
                    else np.full(g_grid.n_points, np.nan)),
        'u': resample_u(potential_r, potential_energy, potential_force, u_grid),
    }
    sqrt_m = math.sqrt(mass)
    scalars = {
        'mass': float(mass), 'D': float(D), 'D_error': float(D_error),
        'D_sqrt_m': float(D) * sqrt_m, 'D_sqrt_m_error': float(D_error) * sqrt_m,
        'number_density': float(number_density),
        'mass_density': float(number_density) * float(mass) * MASS_DENSITY_FACTOR,
        'temperature': float(temperature), 'ensemble': ensemble,
        'pressure': None if pressure is None else float(pressure),
        'pressure_error': None if pressure_error is None else float(pressure_error),
        'cutoff': cutoff, 'r_core': None if r_core is None else float(r_core),
        'box_length': None if box_length is None else float(box_length),
        'g_grid': g_grid.as_dict(), 'u_grid': u_grid.as_dict(), 'units': dict(ROW_UNITS),
    }
    return arrays, scalars


def mass_scaling_check(masses, D, D_error, tolerance: float = 0.1, sigmas: float = 3.0) -> dict:
    """Test D*sqrt(m) = const across the CG runs of one potential (Newtonian dynamics: D ~ m^-1/2).

    Each run's x = D sqrt(m) is compared with the error-weighted mean of all of them; a run is flagged when
    it deviates by more than ``tolerance`` (relative) *and* by more than ``sigmas`` of its standard error, so a
    noisy run is not flagged for its noise, nor a precise one for a deviation too small to matter.

    Returns
    -------
    dict
        ``mean`` (1e-9 m^2/s (g/mol)^0.5), ``relative_spread`` (std / mean), ``deviations`` (relative, per run),
        ``flagged`` (per run), ``ok`` (no run flagged), ``tolerance``, ``sigmas``, ``n``.
    """
    m, d, e = (np.asarray(a, float) for a in (masses, D, D_error))
    x, x_error = d * np.sqrt(m), e * np.sqrt(m)
    weights = np.where(x_error > 0, 1.0 / np.maximum(x_error, 1e-12) ** 2, 0.0)
    mean = float(np.average(x, weights=weights)) if weights.sum() > 0 else float(x.mean())
    deviation = x / mean - 1.0
    flagged = (np.abs(deviation) > tolerance) & (np.abs(x - mean) > sigmas * x_error)
    return {
        'mean': mean, 'relative_spread': float(x.std(ddof=1) / mean) if x.size > 1 else 0.0,
        'deviations': [float(v) for v in deviation], 'flagged': [bool(v) for v in flagged],
        'ok': not bool(flagged.any()), 'tolerance': tolerance, 'sigmas': sigmas, 'n': int(x.size),
        'units': {'mean': '1e-9 m^2/s (g/mol)^0.5'},
    }
