"""The mathematics of structure-based coarse-graining (no AiiDA, no LAMMPS): errors and potential updates.

Units: r nm, U kJ/mol, T K, number density nm^-3.  g(r) of the CG run and the target are on the same
grid (bin centres).

Two update rules:

* ``ibi``: U <- U + alpha kT ln(g/g_target)  (Reith, Pütz, Müller-Plathe 2003).
* ``ihnc``: U <- U + alpha [U_HNC(g_target) - U_HNC(g)], with U_HNC(g) = kT (-ln g + h - c) the
  hypernetted-chain inversion (h = g - 1, c from the Ornstein-Zernike equation).  The difference of
  two HNC inversions is a Newton step with the HNC Jacobian: it accounts for how a change of U at one
  distance moves g at all the others, which plain IBI ignores (iterative HNC: Bernhardt, Hanke and van der
  Vegt, J. Chem. Phys. 154, 084118, 2021).  We hold S(k) >= ``s_floor`` in the Ornstein-Zernike step:
  for dense molecular liquids the unregularised step diverges.  Same cost per iteration as IBI; it removes
  most of the slow long-wavelength error IBI leaves.
"""

from __future__ import annotations

import numpy as np
from scipy.fft import dst

from ..potentials import BOLTZMANN_KJ

METHODS = ('ibi', 'ihnc')


def rms_error(r: np.ndarray, g: np.ndarray, g_target: np.ndarray, fit_range: tuple[float, float]) -> float:
    """sqrt(mean((g - g_target)^2)) over the bins whose centres lie in ``fit_range`` (nm)."""
    inside = (r >= fit_range[0]) & (r <= fit_range[1])
    if not inside.any():
        raise ValueError(f'no g(r) bins inside the fit range {fit_range} nm')
    return float(np.sqrt(np.mean((g[inside] - g_target[inside]) ** 2)))


def _uniform(r: np.ndarray) -> float:
    spacing = np.diff(r)
    if not np.allclose(spacing, spacing[0], rtol=1e-6, atol=1e-9):
        raise ValueError('the Ornstein-Zernike transform needs a uniform r grid')
    return float(spacing[0])


#: Smallest structure factor S(k) used in the Ornstein-Zernike step (see :func:`potential_update`).
S_FLOOR = 0.3


def direct_correlation(r: np.ndarray, g: np.ndarray, number_density: float, padding: int = 4,
                       s_floor: float = S_FLOOR) -> np.ndarray:
    """c(r) from the Ornstein-Zernike equation c^ = h^ / (1 + rho h^), by radial (Fourier-Bessel) transforms.

    ``r`` uniform bin centres from dr/2; h = g - 1 is taken as 0 beyond the last bin, and the grid is
    zero-padded ``padding`` times for k resolution.  The transform pair is the exact discrete sine
    transform pair on r_i = i dr: f^(k_j) = (4 pi dr / k_j) sum_i r_i f_i sin(k_j r_i), k_j = j pi/(N dr).
    S(k) = 1 + rho h^(k) is held at ``s_floor`` or above: at small k it is tiny for a dense liquid and the
    truncation of g(r) at half the box (and a far-from-converged g) can push it to or below 0.
    """
    dr = _uniform(r)
    h = np.asarray(g, dtype=float) - 1.0
    # on the DST grid r_i = i dr (i = 1 .. N-1): interpolate from bin centres, h(0) = -1 (a hard core)
    n = padding * (len(r) + 1)
    grid = dr * np.arange(1, n)
    h_grid = np.interp(grid, np.r_[0.0, r], np.r_[-1.0, h], right=0.0)
    k = np.pi * np.arange(1, n) / (n * dr)
    # scipy's DST-I is y_j = 2 sum_i x_i sin(pi i j / n) for i, j = 1 .. n-1
    h_hat = 4.0 * np.pi * dr / k * 0.5 * dst(grid * h_grid, type=1)
    c_hat = h_hat / np.maximum(1.0 + number_density * h_hat, s_floor)
    dk = np.pi / (n * dr)
    c_grid = dk / (2.0 * np.pi**2 * grid) * 0.5 * dst(k * c_hat, type=1)
    return np.interp(r, grid, c_grid)


def hnc_potential(r: np.ndarray, g: np.ndarray, temperature: float, number_density: float) -> np.ndarray:
    """U_HNC(r) = kT (-ln g + h - c) in kJ/mol (NaN where g <= 0)."""
    kT = BOLTZMANN_KJ * temperature
    with np.errstate(divide='ignore', invalid='ignore'):
        log_g = np.where(g > 0, np.log(np.where(g > 0, g, 1.0)), np.nan)
    return kT * (-log_g + (g - 1.0) - direct_correlation(r, g, number_density))


def potential_update(r: np.ndarray, g: np.ndarray, g_target: np.ndarray, temperature: float,
                     number_density: float, method: str = 'ihnc', alpha: float = 1.0,
                     s_floor: float = S_FLOOR, coupled_range: float | None = None) -> np.ndarray:
    """dU(r) (kJ/mol) on the grid ``r``; NaN where g or g_target is 0 (no information there).

    ``s_floor`` (ihnc) regularises the Newton step: where S(k) < s_floor the HNC Jacobian would amplify
    long-wavelength noise and truncation errors of g(r) by 1/S(k)^2 (S(0) of a dense liquid is ~0.01-0.1).
    ``coupled_range`` (nm, ihnc): the measured g enters the Ornstein-Zernike step only below it, the target's
    beyond (None: the measured g everywhere).
    """
    if method not in METHODS:
        raise ValueError(f'unknown update method {method!r}; choose one of {METHODS}')
    kT = BOLTZMANN_KJ * temperature
    valid = (g > 0) & (g_target > 0)
    with np.errstate(divide='ignore', invalid='ignore'):
        log_ratio = np.where(valid, np.log(np.where(valid, g, 1.0) / np.where(valid, g_target, 1.0)), np.nan)
    if method == 'ibi':
        return alpha * kT * log_ratio
    if coupled_range is not None:
        # beyond it the target's own g: the step then answers only the differences the potential sets directly
        g = np.where(np.asarray(r) < coupled_range, g, g_target)
    c = direct_correlation(r, g, number_density, s_floor=s_floor)
    c_target = direct_correlation(r, g_target, number_density, s_floor=s_floor)
    return alpha * kT * (log_ratio - (g - g_target) + (c - c_target))


def pressure_ramp(r: np.ndarray, cutoff: float, pressure: float, target: float, temperature: float,
                  max_amplitude: float = 0.1, scale: float = 3e-3) -> np.ndarray:
    """Return a linear ramp A (1 - r/r_c) (kJ/mol) that moves the pressure towards ``target`` (bar).

    ``A = -sign(P - P_target) * max_amplitude * kT * min(1, scale * abs(P - P_target))`` (VOTCA's
    'simple' correction, ``scale`` per bar): too high a pressure makes the potential more attractive.

    Parameters
    ----------
    r
        Grid of the potential (nm).
    cutoff
        Cut-off r_c (nm); the ramp is 0 from there on.
    pressure, target
        Pressure of the last run and the pressure wanted (bar).
    temperature
        Temperature (K) that sets kT.
    max_amplitude
        Largest abs(A), in units of kT.
    scale
        Fraction of ``max_amplitude`` per bar of pressure difference (1/bar).
    """
    kT = BOLTZMANN_KJ * temperature
    difference = pressure - target
    amplitude = -np.sign(difference) * max_amplitude * kT * min(1.0, scale * abs(difference))
    return np.where(r < cutoff, amplitude * (1.0 - r / cutoff), 0.0)


BAR_PER_KJ_MOL_NM3 = 16.6054  # 1 kJ/mol/nm^3 in bar


def virial_pressure_ramp(r: np.ndarray, g: np.ndarray, cutoff: float, pressure: float, target: float,
                         number_density: float, fraction: float = 1.0) -> np.ndarray:
    """Return a linear ramp A (1 - r/r_c) (kJ/mol) whose virial would move the pressure to ``target`` (bar).

    To first order at fixed structure the ramp adds dP = (2 pi / 3) rho^2 (A / r_c) int_0^rc r^3 g dr,
    so A follows from the pressure difference in one step (``fraction`` of it); the structural update
    of the next iteration then corrects g.  VOTCA's ``simple`` correction (``pressure_ramp``) caps A at
    0.1 kT per iteration and needs tens of iterations to remove hundreds of bar.

    Parameters
    ----------
    r, g
        Grid (nm) and the g(r) of the last run on it.
    cutoff
        Cut-off r_c (nm); the ramp is 0 from there on.
    pressure, target
        Pressure of the last run and the pressure wanted (bar).
    number_density
        Bead number density rho (nm^-3).
    fraction
        Fraction of the pressure difference to remove in this step.
    """
    inside = r < cutoff
    moment = np.trapezoid(r[inside] ** 3 * g[inside], r[inside])  # nm^4
    per_amplitude = 2.0 * np.pi / 3.0 * number_density**2 * moment / cutoff * BAR_PER_KJ_MOL_NM3  # bar per kJ/mol
    amplitude = fraction * (target - pressure) / per_amplitude
    return np.where(inside, amplitude * (1.0 - r / cutoff), 0.0)


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Return the running mean over ``window`` points (odd; 1 or less: unchanged), shrinking at the ends."""
    if window <= 1:
        return values.copy()
    half = window // 2
    padded_sum = np.r_[0.0, np.cumsum(values)]
    n = len(values)
    start = np.clip(np.arange(n) - half, 0, n)
    end = np.clip(np.arange(n) + half + 1, 0, n)
    return (padded_sum[end] - padded_sum[start]) / (end - start)
