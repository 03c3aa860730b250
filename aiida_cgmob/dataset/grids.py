"""The common grids of the database: every row's g(r) and U(r) live on them, so rows compare and train as they are.

* g(r): ``G_GRID`` = 0.1-2.5 nm, 481 points (0.005 nm apart), the published database's grid.  A CG run must
  measure g to 2.5 nm, so its box must be at least twice that long (:func:`minimum_box`).
* U(r): from ``U_R_MIN`` = 0.3 nm to the potential's cut-off, ``U_STEP`` = 0.002 nm apart, U = 0 at the cut-off.
  Below the last r where the target g(r) carried information (g <= g_min, recorded per row as ``r_core``) the
  values are the inversion's repulsive wall (an exponential matched in U and F at ``r_core``), not data.

No AiiDA import.  Units: nm, kJ/mol.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ['G_GRID', 'U_R_MIN', 'U_STEP', 'GridError', 'GridSpec', 'minimum_box', 'resample_g', 'resample_u',
           'u_grid_spec']


class GridError(ValueError):
    """Data that do not cover a common grid, or a grid that makes no sense; the message names which."""


@dataclass(frozen=True)
class GridSpec:
    """An evenly spaced grid: ``n_points`` from ``r_min`` to ``r_max`` (nm), both included."""

    r_min: float
    r_max: float
    n_points: int

    def __post_init__(self) -> None:
        """Refuse a grid that is not increasing or has fewer than two points."""
        if not (0 <= self.r_min < self.r_max) or int(self.n_points) < 2:
            raise GridError(f'a grid needs 0 <= r_min < r_max and at least 2 points, got {self}')

    @property
    def r(self) -> np.ndarray:
        """The grid points, nm."""
        return np.linspace(self.r_min, self.r_max, int(self.n_points))

    @property
    def step(self) -> float:
        """Spacing of the points, nm."""
        return (self.r_max - self.r_min) / (int(self.n_points) - 1)

    def as_dict(self) -> dict:
        """``{'r_min', 'r_max', 'n_points'}``: how rows record their grid."""
        return {key: (int(value) if key == 'n_points' else float(value)) for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> GridSpec:
        """Return the grid a row recorded with :meth:`as_dict`."""
        return cls(float(data['r_min']), float(data['r_max']), int(data['n_points']))


#: the g(r) grid of every row (0.1-2.5 nm, 481 points), as in the published database
G_GRID = GridSpec(0.1, 2.5, 481)
#: U(r) of every row starts here (nm) ...
U_R_MIN = 0.3
#: ... and has a point every U_STEP nm up to the cut-off
U_STEP = 0.002


def u_grid_spec(cutoff: float, r_min: float = U_R_MIN, step: float = U_STEP) -> GridSpec:
    """Return the U(r) grid of a potential cut at ``cutoff`` (nm): ``r_min`` to the cut-off, ``step`` apart."""
    n = round((cutoff - r_min) / step)
    if n < 1 or abs(r_min + n * step - cutoff) > 1e-6:
        raise GridError(f'the cut-off {cutoff} nm must lie a whole number of {step} nm steps above {r_min} nm')
    return GridSpec(r_min, cutoff, n + 1)


def minimum_box(grid: GridSpec = G_GRID, bin_width: float = 0.005) -> float:
    """Return the shortest cubic box (nm) whose g(r) reaches the end of ``grid``.

    The run measures g(r) to ``r_max + 2 bin_width``, so that the last grid point lies between two bin centres;
    half the box must reach that far.
    """
    return 2.0 * (grid.r_max + 2 * bin_width)


def resample_g(r: np.ndarray, values: np.ndarray, grid: GridSpec = G_GRID, name: str = 'g') -> np.ndarray:
    """``values`` on bin centres ``r`` (nm), interpolated linearly onto ``grid``; GridError when r does not cover it.

    Non-finite values inside the grid's range (a bin with no pairs has g = 0, never NaN) are refused too.
    """
    r, values = np.asarray(r, float), np.asarray(values, float)
    if r.size < 2 or r[0] > grid.r_min + 1e-9 or r[-1] < grid.r_max - 1e-9:
        span = f'{r[0]:.4g}-{r[-1]:.4g} nm' if r.size else 'nothing'
        raise GridError(f'{name}(r) covers {span}, not the common grid {grid.r_min:g}-{grid.r_max:g} nm: the box '
                        f'must be at least {minimum_box(grid):.3g} nm long')
    inside = (r >= grid.r_min - 1.0 * np.diff(r).max()) & (r <= grid.r_max + np.diff(r).max())
    if not np.all(np.isfinite(values[inside])):
        raise GridError(f'{name}(r) has non-finite values between {grid.r_min:g} and {grid.r_max:g} nm')
    return np.interp(grid.r, r, values)


def resample_u(r: np.ndarray, energy: np.ndarray, force: np.ndarray, grid: GridSpec) -> np.ndarray:
    """U(r) (kJ/mol) of a table (r, energy, force = -dU/dr) on ``grid``: cubic Hermite inside, 0 beyond the cut-off.

    The table must start at or below the grid's first point; past its last point (the cut-off) U is 0.
    """
    from scipy.interpolate import CubicHermiteSpline

    r, energy, force = (np.asarray(a, float) for a in (r, energy, force))
    if r[0] > grid.r_min + 1e-9:
        raise GridError(f'the potential starts at {r[0]:.4g} nm, above the first point of the U grid '
                        f'({grid.r_min:g} nm)')
    points = grid.r
    values = np.zeros_like(points)
    inside = points < r[-1] - 1e-9  # U(r_c) = 0 exactly, not 0 up to round-off
    values[inside] = CubicHermiteSpline(r, energy, -force)(points[inside])
    if not np.all(np.isfinite(values)):
        raise GridError('U(r) is not finite on the common grid')
    return values
