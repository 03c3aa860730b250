"""Potentials from structure: Boltzmann inversion of g(r) with a repulsive wall and a smooth tail (no AiiDA import).

Units: r nm, U kJ/mol, F kJ/mol/nm, T K.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..units import BOLTZMANN_KJ
from .table import Potential, PotentialError, check_finite, check_grid

__all__ = ['BOLTZMANN_KJ', 'WALLS', 'boltzmann_inversion', 'cosine_switch', 'lennard_jones', 'potential_with_wall']

WALLS = ('exponential', 'quadratic')


def _grid_to_cutoff(r: np.ndarray, cutoff: float | None) -> np.ndarray:
    """``r`` up to ``cutoff`` (nm), with a point at the cutoff itself."""
    if cutoff is None:
        return r
    if not r[0] < cutoff <= r[-1] + 1e-12:
        raise PotentialError(f'cutoff {cutoff} nm must lie in ({r[0]}, {r[-1]}] nm, the range of the r grid')
    return np.append(r[r < cutoff - 1e-12], cutoff)


def cosine_switch(r: np.ndarray, start: float, end: float) -> np.ndarray:
    """1 below ``start``, (1 + cos(pi (r - start)/(end - start)))/2 up to ``end``, 0 beyond.

    Value and slope are continuous at both ends (slope 0 there), so U x S keeps U and F continuous
    and gives U(end) = F(end) = 0 whatever U is at ``end``.
    """
    x = np.clip((np.asarray(r, dtype=float) - start) / (end - start), 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * x))


def lennard_jones(r: Any, epsilon: float = 1.23, sigma: float = 0.373, cutoff: float | None = None) -> Potential:
    """12-6 Lennard-Jones, shifted to 0 at the cutoff (default r[-1]), with its analytic force.

    Defaults are methane-like (epsilon 1.23 kJ/mol, sigma 0.373 nm).  The force jumps to 0 beyond
    the cutoff (energy shift only), as with LAMMPS ``pair_modify shift yes``.
    """
    r = np.array(r, dtype=float)
    check_grid(r)
    if r[0] <= 0:
        raise PotentialError(f'Lennard-Jones is infinite at r = 0: start the grid at r > 0, got r[0] = {r[0]}')
    r = _grid_to_cutoff(r, cutoff)
    x6 = (sigma / r) ** 6
    energy = 4 * epsilon * (x6 * x6 - x6)
    force = 24 * epsilon * (2 * x6 * x6 - x6) / r
    return Potential.from_arrays(r, energy, force, treatment={
        'short_range': 'analytic 12-6 Lennard-Jones', 'tail': f'energy shifted to 0 at {r[-1]:g} nm (force not)',
    }, origin=f'lennard_jones(epsilon={epsilon:g} kJ/mol, sigma={sigma:g} nm)')


def _wall(r: np.ndarray, r_j: float, u_j: float, f_j: float, scale: float, form: str) -> np.ndarray:
    """Repulsive extrapolation for r < r_j matching U(r_j) = u_j and F(r_j) = f_j > 0."""
    d = r_j - r  # > 0 inside the wall
    if form == 'exponential':
        # U = u_j + scale (exp(f_j d / scale) - 1): F = f_j exp(f_j d / scale) grows inwards.  With
        # scale = u_j (u_j >= kT) this is VOTCA's pure exponential U = A exp(-B r).
        return u_j + scale * np.expm1(f_j * d / scale)
    # quadratic: F = f_j + K d grows linearly inwards, K = f_j^2/scale (the exponential's curvature at r_j)
    return u_j + f_j * d + 0.5 * (f_j * f_j / scale) * d * d


def boltzmann_inversion(r: Any, g: Any, temperature: float, cutoff: float | None = None, g_min: float = 1e-3,
                        wall: str = 'exponential', tail_width: float = 0.1) -> Potential:
    """U(r) = -kT ln g(r), made usable for MD: a repulsive wall where g is too small, a smooth tail.

    - Data: the inversion is used from the first point past the core where g > ``g_min`` stays true up
      to the first peak (the maximum of g); g <= g_min beyond the first peak is an error.
    - Wall (``wall``: 'exponential' or 'quadratic'): below the junction r_j the potential is replaced
      by a function that matches U and the slope there (F continuous) and whose force is positive and
      grows inwards.  The slope at r_j is the second-order one-sided difference of the inverted data;
      if it is not repulsive, r_j moves out until it is.  Scale: max(U(r_j), kT).
    - Tail: U is multiplied by a cosine switch over the last ``tail_width`` nm, so U(r_c) = 0 and
      F(r_c) = 0 with U, F continuous; ``tail_width = 0`` only shifts U (force jumps at r_c).
    - Force: -dU/dr of the assembled energy by second-order finite differences.

    Default cutoff: the last r of g.  Both treatments are recorded in ``treatment``.
    """
    r = np.array(r, dtype=float)
    g = np.array(g, dtype=float)
    check_grid(r)
    if g.shape != r.shape:
        raise PotentialError(f'g has {g.size} values but r has {r.size}')
    check_finite('g', g)
    if np.any(g < 0):
        i = int(np.flatnonzero(g < 0)[0])
        raise PotentialError(f'g(r) must be >= 0, got g[{i}] = {g[i]} at r = {r[i]} nm')
    if not temperature > 0:
        raise PotentialError(f'temperature must be > 0 K, got {temperature!r}')
    if wall not in WALLS:
        raise PotentialError(f'unknown wall {wall!r}; choose one of {WALLS}')
    if not 0 < g_min < 1:
        raise PotentialError(f'g_min must be in (0, 1), got {g_min!r}')
    if cutoff is not None:
        r_new = _grid_to_cutoff(r, cutoff)
        g = np.append(g[: r_new.size - 1], np.interp(cutoff, r, g))
        r = r_new
    kT = BOLTZMANN_KJ * temperature

    peak = int(np.argmax(g))
    beyond = np.flatnonzero(g[peak:] <= g_min)
    if beyond.size:
        i = peak + int(beyond[0])
        raise PotentialError(f'g(r) = {g[i]} <= g_min = {g_min} at r = {r[i]} nm, beyond the first peak '
                             f'(r = {r[peak]} nm): not a liquid g(r), or too noisy')
    low = np.flatnonzero(g[: peak + 1] <= g_min)
    start = int(low[-1]) + 1 if low.size else 0
    if r.size - start < 3:
        raise PotentialError(f'g(r) > g_min = {g_min} at fewer than 3 points: nothing to invert')
    return potential_with_wall(r, -kT * np.log(g[start:]), start, peak, temperature, wall=wall,
                               tail_width=tail_width, reason=f'g <= {g_min:g} there',
                               method=f'Boltzmann inversion -kT ln g, T = {temperature:g} K',
                               origin=f'boltzmann_inversion(T={temperature:g} K, g_min={g_min:g})')


def potential_with_wall(r: np.ndarray, inverted: np.ndarray, start: int, peak: int, temperature: float,
                        wall: str = 'exponential', tail_width: float = 0.1, reason: str = '', method: str = '',
                        origin: str = '') -> Potential:
    """Assemble a usable potential on ``r`` (ending at the cutoff) from data ``inverted`` = U(r[start:]).

    Below the first point up to ``peak`` (index of the first g maximum) where the data are repulsive,
    a wall matching U and F; a cosine switch over the last ``tail_width`` nm (see boltzmann_inversion).
    """
    kT = BOLTZMANN_KJ * temperature
    if wall not in WALLS:
        raise PotentialError(f'unknown wall {wall!r}; choose one of {WALLS}')
    slope = np.gradient(inverted, r[start:], edge_order=2)
    energy = np.empty_like(r)
    # noise at small g can make the inverted slope attractive right at the edge: move the junction out
    repulsive = np.flatnonzero(-slope[: peak - start + 1] > 0)
    if not repulsive.size:
        raise PotentialError(f'the inverted potential never decreases between r = {r[start]} nm and the first peak '
                             f'(r = {r[peak]} nm): no repulsive core to extend')
    junction = start + int(repulsive[0])
    energy[junction:] = inverted[junction - start:]
    r_j, u_j, f_j = r[junction], inverted[junction - start], -slope[junction - start]
    energy[:junction] = _wall(r[:junction], r_j, u_j, f_j, max(u_j, kT), wall)
    if junction > 0:
        short_range = (f'{wall} wall below {r_j:.4g} nm ({reason}), U and F matched at the junction '
                       f'(U = {u_j:.4g} kJ/mol, F = {f_j:.4g} kJ/mol/nm)')
    else:
        short_range = f'none: data on the whole grid from {r[0]:.4g} nm'

    rc = r[-1]
    if tail_width > 0:
        switch_start = rc - tail_width
        if switch_start <= r_j:
            raise PotentialError(f'tail_width {tail_width} nm reaches the wall junction at {r_j:.4g} nm')
        energy = energy * cosine_switch(r, switch_start, rc)
        tail = (f'cosine switch {switch_start:.4g}-{rc:.4g} nm '
                f'(U x (1 + cos(pi (r - {switch_start:.4g})/{tail_width:g}))/2)')
    else:
        switch_start = rc
        tail = f'shifted to 0 at {rc:.4g} nm (force not smoothed)'
    treatment = {'method': method, 'short_range': short_range,
                 'tail': tail, 'fitted_range_nm': [float(r_j), float(switch_start)]}
    return Potential.from_energy(r, energy, shift=True, treatment=treatment, origin=origin)
