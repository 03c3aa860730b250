"""A tabulated pair potential U(r) with its force, validated on construction (no AiiDA import).

Units: r nm, energy kJ/mol, force F = -dU/dr kJ/mol/nm.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.interpolate import CubicHermiteSpline

__all__ = ['CUTOFF_ENERGY_TOLERANCE', 'Potential', 'PotentialError']

#: Largest ``abs(U(r_c))`` allowed on a potential (kJ/mol): zero up to round-off (and to what a text table prints).
CUTOFF_ENERGY_TOLERANCE = 1e-8


class PotentialError(ValueError):
    """A potential (or the data it is made from) is unusable; the message names the problem and where."""


def _as_1d(name: str, values: Any) -> np.ndarray:
    array = np.array(values, dtype=float)  # a copy: the caller's array may change later, ours must not
    if array.ndim != 1:
        raise PotentialError(f'{name} must be one-dimensional, got shape {array.shape}')
    array.setflags(write=False)
    return array


def check_finite(name: str, values: np.ndarray) -> None:
    """Raise PotentialError naming the first NaN/inf in ``values``."""
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        i = int(bad[0])
        raise PotentialError(f'{name} has {bad.size} non-finite value(s); the first is {name}[{i}] = {values[i]}')


def check_grid(r: np.ndarray) -> None:
    """Raise PotentialError unless ``r`` is finite, starts at r >= 0 and increases strictly."""
    if r.size < 2:
        raise PotentialError(f'the r grid needs at least 2 points, got {r.size}')
    check_finite('r', r)
    if r[0] < 0:
        raise PotentialError(f'the r grid must start at r >= 0 nm, got r[0] = {r[0]}')
    steps = np.diff(r)
    bad = np.flatnonzero(steps <= 0)
    if bad.size:
        i = int(bad[0]) + 1
        raise PotentialError(f'the r grid is not strictly increasing: r[{i}] = {r[i]} <= r[{i - 1}] = {r[i - 1]} nm')


@dataclass(frozen=True)
class Potential:
    """U(r) and F(r) = -dU/dr on a strictly increasing grid r (nm) that ends at the cutoff, where U = 0.

    ``treatment`` says how regions that the data did not determine were filled in (e.g.
    ``{'short_range': 'exponential wall below 0.35 nm', 'tail': 'cosine switch 1.3-1.4 nm'}``);
    ``origin`` says where the potential came from.  Every instance is valid: construction raises
    PotentialError on non-finite values, a bad grid, unequal lengths or U(r_c) != 0.
    """

    r: np.ndarray
    energy: np.ndarray
    force: np.ndarray
    treatment: dict = field(default_factory=dict)
    origin: str = ''

    def __post_init__(self) -> None:
        """Convert the arrays to read-only float copies and validate."""
        # frozen: convert through object.__setattr__ so callers may pass lists
        for name in ('r', 'energy', 'force'):
            object.__setattr__(self, name, _as_1d(name, getattr(self, name)))
        object.__setattr__(self, 'treatment', dict(self.treatment))
        self.validate()

    @property
    def cutoff(self) -> float:
        """The cutoff r_c, nm: the last point of the grid."""
        return float(self.r[-1])

    def validate(self) -> None:
        """Raise PotentialError naming the first problem (also run on construction)."""
        check_grid(self.r)
        for name in ('energy', 'force'):
            values = getattr(self, name)
            if values.shape != self.r.shape:
                raise PotentialError(f'{name} has {values.size} values but r has {self.r.size}')
            check_finite(name, values)
        if abs(self.energy[-1]) > CUTOFF_ENERGY_TOLERANCE:
            raise PotentialError(f'U(r_c) = {self.energy[-1]:.6g} kJ/mol at the cutoff r_c = {self.cutoff} nm '
                                 f'(index {self.r.size - 1}) must be 0: shift the potential '
                                 '(Potential.from_energy(..., shift=True) or .shifted())')
        if not isinstance(self.origin, str):
            raise PotentialError(f'origin must be a string, got {self.origin!r}')

    @classmethod
    def from_energy(cls, r: Any, energy: Any, *, shift: bool = True, treatment: dict | None = None,
                    origin: str = '') -> Potential:
        """Make a potential whose force is -dU/dr by second-order finite differences of ``energy``.

        Central differences inside, one-sided second-order ones at both ends (``np.gradient`` with
        ``edge_order=2``, also on a non-uniform grid).  ``shift`` subtracts U(r_c) first.
        """
        r, energy = _as_1d('r', r), _as_1d('energy', energy)
        check_grid(r)
        if energy.shape != r.shape:
            raise PotentialError(f'energy has {energy.size} values but r has {r.size}')
        check_finite('energy', energy)
        if shift:
            energy = energy - energy[-1]
        force = -np.gradient(energy, r, edge_order=2)
        return cls(r, energy, force, treatment or {}, origin)

    @classmethod
    def from_arrays(cls, r: Any, energy: Any, force: Any, *, shift: bool = True, treatment: dict | None = None,
                    origin: str = '') -> Potential:
        """Make a potential from given energy and force (e.g. analytic ones); ``shift`` subtracts U(r_c)."""
        energy = _as_1d('energy', energy)
        if shift and energy.size:
            energy = energy - energy[-1]
        return cls(r, energy, force, treatment or {}, origin)

    def shifted(self, cutoff: float | None = None) -> Potential:
        """Return a copy with U(r_c) = 0 exactly, optionally truncated at a shorter ``cutoff`` (nm).

        A cutoff between grid points gets its own point, interpolated as in :meth:`on_grid`.
        """
        if cutoff is None or np.isclose(cutoff, self.cutoff, rtol=0, atol=1e-12):
            return replace(self, energy=self.energy - self.energy[-1])
        if not self.r[0] < cutoff < self.cutoff:
            raise PotentialError(f'cutoff {cutoff} nm must lie inside the grid ({self.r[0]}, {self.cutoff}] nm')
        keep = self.r[self.r < cutoff - 1e-12]
        energy, force = self._interpolate(np.append(keep, cutoff))
        treatment = {**self.treatment, 'tail': f'truncated and shifted at {cutoff:g} nm '
                                               f'(was: {self.treatment.get("tail", "none")})'}
        return Potential(np.append(keep, cutoff), energy - energy[-1], force, treatment, self.origin)

    def on_grid(self, r_new: Any) -> Potential:
        """Interpolate the potential onto another grid inside [r[0], r_c] that ends at the cutoff.

        Cubic Hermite interpolation through U and its slope -F at every node: U stays exact at the
        nodes, and the new force is -dU/dr of the interpolant (consistent with the new energy, and
        continuous).  No extrapolation; use :meth:`shifted` for a shorter cutoff.
        """
        r_new = _as_1d('r_new', r_new)
        check_grid(r_new)
        if r_new[0] < self.r[0] - 1e-12:
            raise PotentialError(f'r_new[0] = {r_new[0]} nm is below the first point of the potential '
                                 f'({self.r[0]} nm): no extrapolation')
        if not np.isclose(r_new[-1], self.cutoff, rtol=0, atol=1e-9):
            raise PotentialError(f'r_new must end at the cutoff {self.cutoff} nm, got r_new[-1] = {r_new[-1]} nm '
                                 '(use shifted(cutoff) for a shorter one)')
        energy, force = self._interpolate(r_new)
        return Potential(r_new, energy, force, self.treatment, self.origin)

    def _interpolate(self, r_new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        spline = CubicHermiteSpline(self.r, self.energy, -self.force)
        r_new = np.clip(r_new, self.r[0], self.r[-1])  # round-off at the ends only; callers checked the range
        energy = spline(r_new)
        energy[np.isclose(r_new, self.cutoff, rtol=0, atol=1e-12)] = 0.0
        return energy, -spline(r_new, 1)

    def __call__(self, r: Any) -> tuple[np.ndarray, np.ndarray]:
        """(U, F) at distances ``r`` inside the grid, by the interpolation of :meth:`on_grid`; 0 beyond r_c."""
        shape = np.shape(r)
        r = np.atleast_1d(np.asarray(r, dtype=float)).ravel()
        if np.any(r < self.r[0] - 1e-12):
            raise PotentialError(f'r = {r.min()} nm is below the first point of the potential ({self.r[0]} nm)')
        energy, force = self._interpolate(np.minimum(r, self.cutoff))
        outside = r > self.cutoff
        energy[outside] = 0.0
        force[outside] = 0.0
        return energy.reshape(shape), force.reshape(shape)

    def to_dict(self) -> dict:
        """Plain lists and strings (JSON-serialisable), for storage; :meth:`from_dict` inverts it."""
        return {'r': self.r.tolist(), 'energy': self.energy.tolist(), 'force': self.force.tolist(),
                'treatment': dict(self.treatment), 'origin': self.origin,
                'units': {'r': 'nm', 'energy': 'kJ/mol', 'force': 'kJ/mol/nm'}}

    @classmethod
    def from_dict(cls, data: dict) -> Potential:
        """Rebuild a potential from :meth:`to_dict` output (validated)."""
        missing = {'r', 'energy', 'force'} - set(data)
        if missing:
            raise PotentialError(f'potential dictionary lacks {sorted(missing)}')
        return cls(data['r'], data['energy'], data['force'], data.get('treatment', {}), data.get('origin', ''))

    def __eq__(self, other: object) -> bool:
        """Compare grids, energies, forces (exactly), treatment and origin."""
        # dataclass equality would compare arrays elementwise and fail on truth-testing
        if not isinstance(other, Potential):
            return NotImplemented
        return (np.array_equal(self.r, other.r) and np.array_equal(self.energy, other.energy)
                and np.array_equal(self.force, other.force) and self.treatment == other.treatment
                and self.origin == other.origin)
