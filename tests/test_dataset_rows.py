"""The database kernels: common grids, rows, bead masses and the mass-scaling check (no AiiDA, no MD)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aiida_cgmob.dataset import (
    G_GRID,
    GridError,
    GridSpec,
    build_row,
    draw_masses,
    mass_scaling_check,
    minimum_box,
    resample_g,
    resample_u,
    u_grid_spec,
)
from aiida_cgmob.potentials.inversion import lennard_jones


def test_the_published_g_grid_and_the_box_it_needs():
    assert G_GRID.r[0] == 0.1 and G_GRID.r[-1] == 2.5 and G_GRID.r.size == 481
    assert G_GRID.step == pytest.approx(0.005)
    assert minimum_box(G_GRID, 0.005) == pytest.approx(5.02)
    grid = u_grid_spec(1.4)
    assert (grid.r_min, grid.r_max, grid.n_points) == (0.3, 1.4, 551) and grid.step == pytest.approx(0.002)
    with pytest.raises(GridError, match='whole number'):
        u_grid_spec(1.4011)
    with pytest.raises(GridError):
        GridSpec(1.0, 0.5, 10)


def test_resample_g_is_exact_for_a_linear_function_and_refuses_short_data():
    r = 0.0025 + 0.005 * np.arange(504)  # bin centres to 2.5175 nm
    values = 0.3 + 2.0 * r
    assert np.allclose(resample_g(r, values), 0.3 + 2.0 * G_GRID.r)
    with pytest.raises(GridError, match='5.02 nm'):
        resample_g(r[:400], values[:400])  # ends at ~2 nm: the box was too small for the grid
    bad = values.copy()
    bad[300] = np.nan
    with pytest.raises(GridError, match='non-finite'):
        resample_g(r, bad)


def test_resample_u_follows_the_analytic_potential_and_ends_at_zero():
    """Lennard-Jones tabulated on 801 points, read on the U grid: the cubic Hermite is within 1e-3 kJ/mol."""
    potential = lennard_jones(np.linspace(0.2, 1.4, 801), cutoff=1.4)
    grid = u_grid_spec(1.4)
    values = resample_u(potential.r, potential.energy, potential.force, grid)
    exact = potential(grid.r)[0]
    inside = grid.r >= 0.34  # away from the steep core, where the table's spacing matters
    assert np.max(np.abs(values[inside] - exact[inside])) < 1e-3
    assert values[-1] == 0.0
    wider = GridSpec(0.3, 1.6, 651)
    assert np.all(resample_u(potential.r, potential.energy, potential.force, wider)[wider.r > 1.4] == 0.0)
    with pytest.raises(GridError, match='starts at'):
        resample_u(potential.r[200:], potential.energy[200:], potential.force[200:], grid)


def test_build_row_units_and_mass_independent_mobility():
    potential = lennard_jones(np.linspace(0.2, 1.4, 801), cutoff=1.4)
    r = 0.0025 + 0.005 * np.arange(504)
    arrays, scalars = build_row(
        r=r, g=np.ones_like(r), g_error=np.full_like(r, 0.01), mass=86.18, D=12.0, D_error=0.3,
        number_density=4.64, temperature=298.15, pressure=5.0, pressure_error=2.0, potential_r=potential.r,
        potential_energy=potential.energy, potential_force=potential.force, r_core=0.45, box_length=5.1)
    assert arrays['g'].shape == (481,) and arrays['u'].shape == (551,)
    assert scalars['D_sqrt_m'] == pytest.approx(12.0 * math.sqrt(86.18))
    assert scalars['mass_density'] == pytest.approx(664.0, rel=0.01)  # 3-methylpentane's number density
    assert scalars['units']['D'] == '1e-9 m^2/s' and scalars['ensemble'] == 'nvt' and scalars['cutoff'] == 1.4
    with pytest.raises(ValueError, match='D must be positive'):
        build_row(r=r, g=np.ones_like(r), g_error=None, mass=86.18, D=0.0, D_error=0.0, number_density=4.64,
                  temperature=298.15, pressure=None, pressure_error=None, potential_r=potential.r,
                  potential_energy=potential.energy, potential_force=potential.force)


def test_masses_are_reproducible_in_range_and_follow_their_distribution():
    first = draw_masses(7, 5)
    assert first == draw_masses(7, 5) and first != draw_masses(8, 5)
    assert all(20.0 <= mass <= 200.0 for mass in first)
    uniform = np.array(draw_masses(1, 20000, 20.0, 200.0, 'uniform'))
    logs = np.log(draw_masses(1, 20000, 20.0, 200.0, 'log-uniform'))
    assert uniform.mean() == pytest.approx(110.0, rel=0.02)
    assert logs.mean() == pytest.approx((math.log(20.0) + math.log(200.0)) / 2, rel=0.01)
    for bad in ((1, 0), (1, 3, 0.0, 10.0), (1, 3, 50.0, 50.0), (1, 3, 20.0, math.inf)):
        with pytest.raises(ValueError):
            draw_masses(*bad)
    with pytest.raises(ValueError, match='distribution'):
        draw_masses(1, 3, distribution='normal')


def test_mass_scaling_check_flags_only_real_deviations():
    masses = np.array([30.0, 60.0, 90.0, 150.0, 200.0])
    x = 120.0  # D sqrt(m), 1e-9 m^2/s (g/mol)^0.5
    exact = x / np.sqrt(masses)
    result = mass_scaling_check(masses, exact, 0.02 * exact)
    assert result['ok'] and result['mean'] == pytest.approx(x) and result['relative_spread'] < 1e-12
    off = exact.copy()
    off[2] *= 1.3  # 30 % too fast at 90 g/mol, 15 standard errors: flagged
    result = mass_scaling_check(masses, off, 0.02 * exact)
    assert result['flagged'] == [False, False, True, False, False] and not result['ok']
    noisy = mass_scaling_check(masses, off, 0.2 * exact)  # the same deviation within 3 errors: not flagged
    assert noisy['ok']
