"""Science kernel ``aiida_cgmob.analysis`` against analytic results on synthetic trajectories.

No GROMACS and no AiiDA: ideal gases, Brownian and Langevin beads, barostat-rescaled boxes and hand-built
molecules, each with a known answer.  Units: nm, ps, g/mol; D in nm^2/ps.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.signal import lfilter

from aiida_cgmob.analysis import (
    DEFAULT_SETTINGS,
    BeadTrajectory,
    DescriptorError,
    MoleculeMap,
    centres_of_mass,
    compute_descriptors,
    fit_diffusion,
    mean_squared_displacement,
    radial_distribution,
    read_descriptors,
    unwrap_in_time,
    validate_settings,
    yeh_hummer_correction,
)
from aiida_cgmob.analysis.descriptors import MSD, automatic_window
from aiida_cgmob.analysis.mapping import box_vectors, box_volumes, minimum_image

AVOGADRO = 6.02214076e23  # 1/mol
BOLTZMANN = 1.380649e-23  # J/K
GAS_CONSTANT = BOLTZMANN * AVOGADRO * 1e-3  # kJ/(mol K); kJ/mol per g/mol is nm^2/ps^2
WATER_MASS = 18.015  # g/mol
WATER_D = 0.0023  # nm^2/ps (2.3e-9 m^2/s)
TRICLINIC = [3.0, 3.2, 3.5, 70.0, 80.0, 65.0]


def boxes(dimensions, n_frames: int, rng=None, jitter: float = 0.0) -> np.ndarray:
    """(F, 6) box dimensions, the lengths scaled per frame by 1 + jitter x N(0, 1) (an NPT-like box)."""
    frames = np.tile(np.asarray(dimensions, dtype=np.float64), (n_frames, 1))
    if jitter:
        frames[:, :3] *= 1.0 + jitter * rng.standard_normal((n_frames, 1))
    return frames


def cubic_boxes(length: float, n_frames: int) -> np.ndarray:
    return boxes([length, length, length, 90.0, 90.0, 90.0], n_frames)


def dodecahedron(d: float) -> list[float]:
    """GROMACS' xy-square rhombic dodecahedron of image distance d (half width d / (2 sqrt 2) < d / 2)."""
    return [d, d, d, 60.0, 60.0, 90.0]


def wrap(positions: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Positions (..., N, 3) put into the primary cell of boxes (..., 3, 3) (rows a, b, c)."""
    fractional = positions @ np.linalg.inv(vectors)
    return (fractional - np.floor(fractional)) @ vectors


def smallest_width(vectors: np.ndarray) -> float:
    """Smallest distance between opposite faces of a cell (3, 3)."""
    volume = abs(np.linalg.det(vectors))
    return min(volume / np.linalg.norm(np.cross(vectors[j], vectors[k])) for j, k in ((1, 2), (2, 0), (0, 1)))


def ideal_gas(rng, n_beads: int, dimensions: np.ndarray) -> BeadTrajectory:
    """Independent uniform points in every frame's cell."""
    positions = rng.uniform(size=(len(dimensions), n_beads, 3)) @ box_vectors(dimensions)
    return BeadTrajectory(positions, dimensions, np.arange(len(dimensions), dtype=float), WATER_MASS)


def brownian_trajectory(rng, n_beads: int, n_frames: int, diffusion: float, dt: float,
                        box_length: float) -> BeadTrajectory:
    """Free diffusion (Gaussian steps of variance 2 D dt per direction), every frame wrapped into a cubic box."""
    path = np.concatenate([rng.uniform(0.0, box_length, size=(1, n_beads, 3)),
                           rng.normal(scale=np.sqrt(2 * diffusion * dt), size=(n_frames - 1, n_beads, 3))])
    np.cumsum(path, axis=0, out=path)
    np.mod(path, box_length, out=path)
    return BeadTrajectory(path, cubic_boxes(box_length, n_frames), dt * np.arange(n_frames), WATER_MASS)


def langevin_trajectory(rng, n_beads: int, n_frames: int, kt_over_m: float, tau: float, dt: float,
                        box_length: float) -> BeadTrajectory:
    """Ornstein-Uhlenbeck (Langevin) velocities of correlation time tau = 1/gamma, sampled every dt:
    v_k = a v_(k-1) + sqrt((1 - a^2) kT/m) xi_k with a = exp(-dt/tau), and x_(k+1) = x_k + dt v_k."""
    a = np.exp(-dt / tau)
    kicks = rng.normal(scale=np.sqrt(kt_over_m), size=(n_frames, n_beads, 3))
    kicks[1:] *= np.sqrt(1.0 - a**2)  # row 0 stays a Maxwell velocity: the beads start in equilibrium
    velocities = lfilter([1.0], [1.0, -a], kicks, axis=0)
    path = np.empty_like(velocities)
    path[0] = rng.uniform(0.0, box_length, size=(n_beads, 3))
    path[1:] = path[0] + dt * np.cumsum(velocities[:-1], axis=0)
    np.mod(path, box_length, out=path)
    return BeadTrajectory(path, cubic_boxes(box_length, n_frames), dt * np.arange(n_frames), WATER_MASS)


def langevin_msd(lags: np.ndarray, kt_over_m: float, tau: float, dt: float) -> np.ndarray:
    """Exact 3D MSD of :func:`langevin_trajectory` after ``lags`` frames: 3 kT/m dt^2 sum_(i,j<n) a^|i-j|,
    i.e. 3 kT/m t^2 (ballistic) for t << tau and 6 D t + const for t >> tau."""
    a = np.exp(-dt / tau)
    return 3 * kt_over_m * dt**2 * (lags * (1 + a) / (1 - a) - 2 * a * (1 - a**lags) / (1 - a) ** 2)


def langevin_diffusion(kt_over_m: float, tau: float, dt: float) -> float:
    """D of :func:`langevin_trajectory`: (dt kT/2m) coth(dt/2tau) = kT/(m gamma) (1 + dt^2/(12 tau^2) + ...)."""
    return 0.5 * dt * kt_over_m / np.tanh(dt / (2 * tau))


def barostat_trajectory(rng, n_beads: int, dimensions: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Beads taking Gaussian steps (nm) while a barostat rescales the box, and with it their coordinates.

    Returns (wrapped, true): the frames as a trajectory stores them (each in its own cell) and the continuous
    path, whose every displacement is the rescaling plus the step (the reference of von Bülow et al. 2020).
    """
    vectors = box_vectors(dimensions)
    wrapped = np.empty((len(dimensions), n_beads, 3))
    true = np.empty_like(wrapped)
    wrapped[0] = true[0] = rng.uniform(size=(n_beads, 3)) @ vectors[0]
    for frame in range(1, len(dimensions)):
        rescaled = wrapped[frame - 1] @ np.linalg.inv(vectors[frame - 1]) @ vectors[frame]
        moved = rescaled + rng.normal(scale=step, size=(n_beads, 3))
        true[frame] = true[frame - 1] + moved - wrapped[frame - 1]
        wrapped[frame] = wrap(moved, vectors[frame])
    return wrapped, true


def assert_no_diffusive_regime(msd: MSD):
    with pytest.raises(DescriptorError) as error:
        automatic_window(msd)
    assert error.value.kind == 'no_diffusive_regime'
    with pytest.raises(DescriptorError) as error:
        fit_diffusion(msd, box_length=3.0)
    assert error.value.kind == 'no_diffusive_regime'


# --- boxes ------------------------------------------------------------------------------------------------------------


def test_box_vectors_follow_the_gromacs_convention():
    a, b, c, alpha, beta, gamma = TRICLINIC
    vectors = box_vectors(np.array(TRICLINIC))
    assert vectors[0, 1] == vectors[0, 2] == vectors[1, 2] == 0.0  # a along x, b in the xy plane
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), [a, b, c], rtol=1e-12)
    for (j, k), angle in zip(((1, 2), (0, 2), (0, 1)), (alpha, beta, gamma), strict=True):
        cosine = vectors[j] @ vectors[k] / (np.linalg.norm(vectors[j]) * np.linalg.norm(vectors[k]))
        assert np.degrees(np.arccos(cosine)) == pytest.approx(angle, rel=1e-12)
    # The GROMACS manual's xy-square rhombic dodecahedron of image distance d, volume d^3 / sqrt(2)
    d = 4.0
    np.testing.assert_allclose(box_vectors(np.array(dodecahedron(d))),
                               [[d, 0, 0], [0, d, 0], [d / 2, d / 2, d / np.sqrt(2)]], atol=1e-12)
    assert box_volumes(np.array(dodecahedron(d))) == pytest.approx(d**3 / np.sqrt(2), rel=1e-12)


@pytest.mark.parametrize('dimensions', [TRICLINIC, dodecahedron(3.0), [3.0, 3.5, 4.0, 90.0, 90.0, 90.0]],
                         ids=['triclinic', 'dodecahedron', 'orthorhombic'])
def test_minimum_image_is_the_shortest_periodic_image(dimensions):
    rng = np.random.default_rng(10)
    vectors = box_vectors(np.array([dimensions]))
    # Short vectors (below half the smallest width, where the kernel promises exactness) moved by lattice vectors
    directions = rng.normal(size=(500, 3))
    lengths = rng.uniform(0.0, 0.499 * smallest_width(vectors[0]), size=(500, 1))
    short = directions / np.linalg.norm(directions, axis=1, keepdims=True) * lengths
    shifted = short + rng.integers(-2, 3, size=(500, 3)) @ vectors[0]
    # Brute force: the shortest of all neighbour images
    translations = np.array(list(itertools.product(range(-3, 4), repeat=3))) @ vectors[0]
    images = shifted[:, None, :] + translations[None]
    shortest = images[np.arange(500), np.argmin(np.linalg.norm(images, axis=-1), axis=1)]
    result = minimum_image(shifted[None], vectors)[0]
    np.testing.assert_allclose(result, shortest, atol=1e-9)
    np.testing.assert_allclose(result, short, atol=1e-9)


# --- one-bead mapping -------------------------------------------------------------------------------------------------


def toy_molecules(rng, n_molecules: int, dimensions: np.ndarray):
    """Bent 3-atom chains (bonds 0-1, 1-2 of 0.1-0.15 nm) with unequal atom masses, the first atom of each
    molecule placed on a cell face, edge or corner so that wrapping breaks most molecules.

    Returns whole positions (F, 3M, 3) with molecule m made of atoms 3m..3m+2, masses (3M,), bonds (2M, 2)
    and the analytic centres of mass (F, M, 3).
    """
    n_frames = len(dimensions)
    fractional = rng.uniform(size=(n_frames, n_molecules, 3))
    on_face = rng.uniform(size=fractional.shape) < 0.5
    fractional[on_face] = rng.uniform(-0.03, 0.03, size=on_face.sum())
    first = fractional @ box_vectors(dimensions)
    bonds = rng.normal(size=(n_frames, n_molecules, 2, 3))
    bonds *= rng.uniform(0.1, 0.15, size=(n_frames, n_molecules, 2, 1)) / np.linalg.norm(bonds, axis=-1, keepdims=True)
    whole = np.cumsum(np.concatenate([first[:, :, None], bonds], axis=2), axis=2)  # (F, M, 3 atoms, 3)
    masses = rng.uniform(1.0, 32.0, size=(n_molecules, 3))
    centres = np.einsum('fmad,ma->fmd', whole, masses) / masses.sum(axis=1)[None, :, None]
    atom_bonds = np.array([[3 * m + k, 3 * m + k + 1] for m in range(n_molecules) for k in (0, 1)])
    return whole.reshape(n_frames, 3 * n_molecules, 3), masses.ravel(), atom_bonds, centres


@pytest.mark.parametrize('shuffle', [False, True], ids=['contiguous', 'interleaved'])
@pytest.mark.parametrize('dimensions', [[3.0, 3.4, 3.8, 90.0, 90.0, 90.0], TRICLINIC],
                         ids=['orthorhombic', 'triclinic'])
def test_centres_of_mass_of_molecules_broken_across_the_boundaries(dimensions, shuffle):
    rng = np.random.default_rng(20)
    frames = boxes(dimensions, 4, rng, jitter=0.02)
    vectors = box_vectors(frames)
    whole, masses, bonds, centres = toy_molecules(rng, 30, frames)
    positions = wrap(whole, vectors)
    molecule_of_atom = np.repeat(np.arange(30), 3)
    broken = np.ptp(positions.reshape(4, 30, 3, 3), axis=2).max(axis=-1) > 1.0
    assert broken.mean() > 0.5  # most molecules are split by the wrapping: the test exercises make_whole
    if shuffle:  # atoms of a molecule scattered through the list, bonds given the other way round
        order = rng.permutation(len(masses))
        new_index = np.argsort(order)
        positions, masses, molecule_of_atom = positions[:, order], masses[order], molecule_of_atom[order]
        bonds = new_index[bonds][:, ::-1]
    # The kernel numbers molecules by their first atom
    expected_order = np.argsort([np.flatnonzero(molecule_of_atom == m)[0] for m in range(30)])

    molecules = MoleculeMap.from_bonds(len(masses), bonds, masses)
    result = centres_of_mass(positions, frames, molecules)

    assert molecules.n_molecules == 30
    np.testing.assert_allclose(molecules.molecular_masses,
                               np.bincount(molecule_of_atom, weights=masses)[expected_order], rtol=1e-12)
    offsets = minimum_image(result - centres[:, expected_order], vectors)
    np.testing.assert_allclose(offsets, 0.0, atol=1e-9)


# --- unwrapping -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize('dimensions', [[3.0, 3.3, 3.6, 90.0, 90.0, 90.0], TRICLINIC],
                         ids=['orthorhombic', 'triclinic'])
def test_unwrap_in_time_under_npt_recovers_the_true_displacements(dimensions):
    rng = np.random.default_rng(30)
    frames = boxes(dimensions, 200)
    frames[:, :3] *= np.exp(np.cumsum(rng.normal(scale=0.005, size=(200, 3)), axis=0))  # anisotropic barostat
    wrapped, true = barostat_trajectory(rng, 200, frames, step=0.1)
    # Under NPT the true path is not whole box vectors away from the wrapped frames, so the usual
    # 'wrapped + image count x current box' unwrapping would be wrong here.
    lattice = (true - wrapped) @ np.linalg.inv(box_vectors(frames))
    assert np.abs(lattice - np.round(lattice)).max() > 0.05

    np.testing.assert_allclose(unwrap_in_time(wrapped, frames), true, atol=1e-9)


# --- g(r) -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(('dimensions', 'jitter'), [([4.0, 4.0, 4.0, 90.0, 90.0, 90.0], 0.0),
                                                    (dodecahedron(4.6), 0.02)], ids=['cubic-NVT', 'dodecahedron-NPT'])
def test_ideal_gas_has_flat_rdf(dimensions, jitter):
    rng = np.random.default_rng(40)
    frames = boxes(dimensions, 200, rng, jitter)
    n_beads = 300
    # Coarse bins: even the first expects ~600 pairs, so the Poisson noise is Gaussian and the plain mean over
    # bins (dominated by the first ones) is good to 0.25 %
    rdf = radial_distribution(ideal_gas(rng, n_beads, frames), bin_width=0.1)
    edges = np.r_[0.0, rdf.r + rdf.bin_width / 2]
    expected_pairs = (0.5 * n_beads * (n_beads - 1) * 4 / 3 * np.pi * np.diff(edges**3)
                      * np.sum(1 / np.abs(np.linalg.det(box_vectors(frames)))))

    half_width = min(smallest_width(vectors) for vectors in box_vectors(frames)) / 2
    assert half_width - rdf.bin_width < rdf.r_max <= half_width + 1e-9  # the default reaches as far as the box allows
    assert rdf.g.mean() == pytest.approx(1.0, abs=0.01)
    sigmas = (rdf.g - 1.0) * np.sqrt(expected_pairs)
    assert np.abs(sigmas).max() < 4.0


def test_rdf_normalises_by_distinct_pairs():
    """20 beads have N(N-1)/2 pairs: an N^2/2 normalisation would give g = 1 - 1/N = 0.95 for an ideal gas."""
    rng = np.random.default_rng(41)
    rdf = radial_distribution(ideal_gas(rng, 20, cubic_boxes(4.0, 5000)), bin_width=0.1)
    edges = np.r_[0.0, rdf.r + rdf.bin_width / 2]
    # Weighted by shell volume the mean is all pairs within r_max over the ideal count (~5e5 pairs: 0.15 % noise)
    assert np.average(rdf.g, weights=np.diff(edges**3)) == pytest.approx(1.0, abs=0.006)


@pytest.mark.parametrize(('box_length', 'bin_width', 'r_max', 'n_bins'), [
    (7.0, 0.005, 2.5, 500),  # the 2.5 nm cap
    (7.0, 0.045, 2.475, 55),  # 2.5 nm is 55.6 bins of 0.045 nm: down, not to the nearest
    (4.338, 0.005, 2.165, 433),  # half the box, 2.169 nm, is 433.8 bins
    (4.338, 0.03, 2.16, 72),
])
def test_default_r_max_is_the_smaller_of_2_5_nm_and_half_the_box_in_whole_bins(box_length, bin_width, r_max, n_bins):
    rdf = radial_distribution(ideal_gas(np.random.default_rng(42), 30, cubic_boxes(box_length, 2)), bin_width=bin_width)
    assert rdf.r_max == pytest.approx(r_max, abs=1e-9)
    assert len(rdf.r) == len(rdf.g) == n_bins
    assert rdf.r[-1] == pytest.approx(r_max - bin_width / 2, abs=1e-9)


def test_explicit_r_max_is_rounded_down_to_whole_bins():
    # 2.0 nm is 6.7 bins of 0.3 nm: a 7th bin would reach 2.1 nm, past half the 4 nm box
    rdf = radial_distribution(ideal_gas(np.random.default_rng(44), 30, cubic_boxes(4.0, 2)), r_max=2.0, bin_width=0.3)
    assert rdf.r_max == pytest.approx(1.8)
    np.testing.assert_allclose(rdf.r, 0.15 + 0.3 * np.arange(6))


@pytest.mark.parametrize(('dimensions', 'allowed', 'too_large'), [
    ([4.0, 4.0, 4.0, 90.0, 90.0, 90.0], 2.0, 2.05),
    (dodecahedron(4.0), 1.4, 1.45),  # half width 4 / (2 sqrt 2) = 1.414 nm, although every edge is 4 nm long
], ids=['cubic', 'dodecahedron'])
def test_explicit_r_max_beyond_half_the_box_width_is_refused(dimensions, allowed, too_large):
    trajectory = ideal_gas(np.random.default_rng(43), 200, boxes(dimensions, 2))
    assert radial_distribution(trajectory, r_max=allowed, bin_width=0.05).r_max == pytest.approx(allowed)
    with pytest.raises(DescriptorError) as error:
        radial_distribution(trajectory, r_max=too_large, bin_width=0.05)
    assert error.value.kind == 'box_too_small'


# --- MSD and D --------------------------------------------------------------------------------------------------------


def test_fft_msd_equals_the_direct_average_over_time_origins():
    rng = np.random.default_rng(50)
    n_frames = 60
    positions = 10.0 + np.cumsum(rng.normal(scale=0.3, size=(n_frames, 7, 3)), axis=0)  # never near a 50 nm wall
    trajectory = BeadTrajectory(positions, cubic_boxes(50.0, n_frames), 2.0 * np.arange(n_frames), WATER_MASS)
    direct = np.array([np.mean((positions[lag:] - positions[:n_frames - lag]) ** 2, axis=(0, 1))
                       for lag in range(n_frames)])

    msd = mean_squared_displacement(trajectory, chunk_beads=3)  # 3 + 3 + 1 beads: the chunks add up

    np.testing.assert_allclose(msd.t, 2.0 * np.arange(n_frames), rtol=1e-12)
    np.testing.assert_allclose(msd.msd[1:], direct[1:], rtol=1e-10)
    np.testing.assert_allclose(msd.total[1:], direct[1:].sum(axis=1), rtol=1e-10)
    assert np.abs(msd.msd[0]).max() < 1e-12 * direct.max()  # zero lag: zero up to FFT round-off


def test_brownian_diffusion_coefficient_from_the_automatic_window():
    rng = np.random.default_rng(51)
    box_length, dt = 4.0, 5.0
    # With the default tail fraction the noise of D depends on the number of beads only (~1.7 %/sqrt(N/1000))
    trajectory = brownian_trajectory(rng, 10000, 400, WATER_D, dt, box_length)
    jumps = np.abs(np.diff(trajectory.positions, axis=0)) > box_length / 2
    assert jumps.sum() > trajectory.n_beads  # beads cross the walls often: the MSD relies on unwrapping

    msd = mean_squared_displacement(trajectory)
    diffusion = fit_diffusion(msd, box_length=box_length)

    assert diffusion.window_chosen == 'automatic'
    assert diffusion.fit_window[1] == pytest.approx(0.5 * msd.t[-1])  # default tail fraction
    assert diffusion.D == pytest.approx(WATER_D, rel=0.02)
    assert diffusion.D_xyz == pytest.approx([WATER_D] * 3, rel=0.04)
    assert diffusion.D_si == pytest.approx(1e3 * diffusion.D)
    lags = np.arange(1, np.count_nonzero(msd.t <= diffusion.fit_window[1]))
    np.testing.assert_allclose(msd.total[lags], 6 * WATER_D * msd.t[lags], rtol=0.03)  # Einstein: 6 D t


def test_ballistic_start_is_left_out_of_the_fit():
    rng = np.random.default_rng(52)
    tau, dt = 0.1, 0.025  # ps: velocity correlation time 1/gamma, frame interval
    kt_over_m = GAS_CONSTANT * 300.0 / WATER_MASS  # nm^2/ps^2
    trajectory = langevin_trajectory(rng, 10000, 400, kt_over_m, tau, dt, box_length=2.0)

    msd = mean_squared_displacement(trajectory)
    diffusion = fit_diffusion(msd, box_length=2.0)

    assert np.log(msd.total[2] / msd.total[1]) / np.log(2) > 1.8  # MSD ~ t^2 at the start
    lags = np.arange(1, np.count_nonzero(msd.t <= diffusion.fit_window[1]))
    np.testing.assert_allclose(msd.total[lags], langevin_msd(lags, kt_over_m, tau, dt), rtol=0.03)
    assert diffusion.window_chosen == 'automatic'
    # d ln MSD / d ln t ~ 1 + tau/t only reaches 1.1 near 10 tau: the fit must start several tau in
    assert diffusion.fit_window[0] >= 5 * tau
    assert diffusion.D == pytest.approx(langevin_diffusion(kt_over_m, tau, dt), rel=0.03)
    assert langevin_diffusion(kt_over_m, tau, dt) == pytest.approx(kt_over_m * tau, rel=0.01)  # kT / (m gamma)


def test_too_short_trajectory_has_no_diffusive_regime():
    trajectory = brownian_trajectory(np.random.default_rng(53), 100, 12, WATER_D, 5.0, 3.0)
    assert_no_diffusive_regime(mean_squared_displacement(trajectory))


def test_ballistic_trajectory_has_no_diffusive_regime():
    rng = np.random.default_rng(54)
    velocities = rng.normal(scale=0.4, size=(200, 3))  # nm/ps, never changing
    times = 0.01 * np.arange(300)
    path = rng.uniform(0.0, 3.0, size=(200, 3)) + times[:, None, None] * velocities
    trajectory = BeadTrajectory(np.mod(path, 3.0), cubic_boxes(3.0, 300), times, WATER_MASS)

    msd = mean_squared_displacement(trajectory)

    np.testing.assert_allclose(msd.msd, np.outer(times**2, np.mean(velocities**2, axis=0)), rtol=1e-9, atol=1e-12)
    assert_no_diffusive_regime(msd)


def test_slope_excursion_within_its_own_noise_is_accepted_but_a_shared_one_is_not():
    """Near the end of the window a small box's slope wanders; the directions then disagree, and the
    window is kept. The same dip in all three directions is systematic, and no window is found."""
    t = 0.1 * np.arange(1001)  # ps
    dip = np.where(t > 30.0, (np.maximum(t, 30.0) / 30.0) ** -0.4, 1.0)  # slope 0.6 beyond 30 ps
    diffusive = 2 * WATER_D * t
    one_direction = MSD(t=t, msd=np.column_stack([diffusive * dip, diffusive, diffusive]))
    start, end = automatic_window(one_direction)
    assert start < 0.3 and end == 50.0  # from the first lags with a defined slope to the end of the window
    all_directions = MSD(t=t, msd=np.outer(diffusive * dip, [1.0, 1.0, 1.0]))
    with pytest.raises(DescriptorError) as error:
        automatic_window(all_directions)
    assert error.value.kind == 'no_diffusive_regime'


def test_uneven_frame_times_are_refused():
    trajectory = brownian_trajectory(np.random.default_rng(55), 10, 50, WATER_D, 2.0, 3.0)
    trajectory.times[30:] += 1.0  # one 3 ps interval among 2 ps ones, as when two runs are joined
    with pytest.raises(DescriptorError) as error:
        mean_squared_displacement(trajectory)
    assert error.value.kind == 'uneven_frames'


def test_an_exact_einstein_msd_gives_its_d_exactly():
    t = 2.0 * np.arange(1000)
    msd = MSD(t=t, msd=np.outer(0.05 + 2 * WATER_D * t, [1.0, 1.0, 1.0]))  # offset: what a ballistic start leaves
    diffusion = fit_diffusion(msd, box_length=3.0)
    assert diffusion.window_chosen == 'automatic'
    assert diffusion.D == pytest.approx(WATER_D, rel=1e-9)
    assert diffusion.D_xyz == pytest.approx([WATER_D] * 3, rel=1e-9)
    assert diffusion.D_error == pytest.approx(0.0, abs=1e-12)
    given = fit_diffusion(msd, box_length=3.0, fit_window=[100.0, 500.0])
    assert given.window_chosen == 'given' and given.fit_window == [100.0, 500.0]
    assert given.D == pytest.approx(WATER_D, rel=1e-9)


# --- settings ---------------------------------------------------------------------------------------------------------


def test_validate_settings_completes_the_defaults():
    assert validate_settings({}) == DEFAULT_SETTINGS
    settings = validate_settings({'r_max': 1.2, 'fit_window': [10, 100], 'temperature': 300, 'viscosity': 1e-3})
    assert settings == {**DEFAULT_SETTINGS, 'r_max': 1.2, 'fit_window': [10, 100], 'temperature': 300,
                        'viscosity': 1e-3}


@pytest.mark.parametrize(('settings', 'named'), [
    ({'rmax': 2.0}, 'rmax'),
    ({'bin_width': 0}, 'bin_width'),
    ({'bin_width': True}, 'bin_width'),
    ({'r_max': 'large'}, 'r_max'),
    ({'r_max': -1.0}, 'r_max'),
    ({'r_max': 0.004}, 'bin_width'),  # the default 0.005 nm bins do not fit
    ({'begin': -5.0}, 'begin'),
    ({'begin': 100.0, 'end': 50.0}, 'end'),
    ({'fit_window': [50.0, 10.0]}, 'fit_window'),
    ({'fit_window': [1.0, 2.0, 3.0]}, 'fit_window'),
    ({'tail_fraction': 1.5}, 'tail_fraction'),
    ({'slope_tolerance': 1.0}, 'slope_tolerance'),
    ({'temperature': 300.0}, 'viscosity'),  # Yeh-Hummer needs both
    ({'temperature': 300.0, 'viscosity': -1e-3}, 'viscosity'),
])
def test_validate_settings_names_the_offending_key(settings, named):
    with pytest.raises(ValueError, match=rf'\b{named}\b'):
        validate_settings(settings)


def test_compute_descriptors_validates_its_settings():
    trajectory = brownian_trajectory(np.random.default_rng(56), 10, 50, WATER_D, 2.0, 3.0)
    with pytest.raises(ValueError, match=r'\bbinwidth\b'):
        compute_descriptors(trajectory, binwidth=0.01)


# --- finite-size correction -------------------------------------------------------------------------------------------


def yeh_hummer_by_hand(box_length: float, temperature: float, viscosity: float) -> float:
    """k_B T xi / (6 pi eta L) in m^2/s (xi = 2.837297 for a cubic lattice), converted to nm^2/ps."""
    si = BOLTZMANN * temperature * 2.837297 / (6 * np.pi * viscosity * box_length * 1e-9)
    return si / 1e-6  # 1 nm^2/ps = 1e-6 m^2/s


def test_yeh_hummer_correction_by_hand():
    # Water at 298 K (0.89 mPa s) in a 3 nm box: 0.23e-9 m^2/s, about a tenth of water's D
    correction = yeh_hummer_correction(3.0, 298.15, 0.89e-3)
    assert correction == pytest.approx(yeh_hummer_by_hand(3.0, 298.15, 0.89e-3), rel=1e-12)
    assert 1e3 * correction == pytest.approx(0.232, abs=0.001)  # in 1e-9 m^2/s
    assert yeh_hummer_correction(6.0, 298.15, 0.89e-3) == pytest.approx(correction / 2, rel=1e-12)  # ~ 1/L


def test_fit_diffusion_reports_yeh_hummer_only_when_viscosity_is_given():
    t = 2.0 * np.arange(1000)
    msd = MSD(t=t, msd=np.outer(2 * WATER_D * t, [1.0, 1.0, 1.0]))
    raw = fit_diffusion(msd, box_length=3.0)
    corrected = fit_diffusion(msd, box_length=3.0, temperature=298.15, viscosity=0.89e-3)

    assert raw.D_yeh_hummer is None and raw.yeh_hummer == {}
    assert corrected.D == raw.D  # D itself stays uncorrected
    assert corrected.D_yeh_hummer == pytest.approx(raw.D + yeh_hummer_by_hand(3.0, 298.15, 0.89e-3), rel=1e-12)
    assert corrected.yeh_hummer == {'correction': pytest.approx(yeh_hummer_by_hand(3.0, 298.15, 0.89e-3)),
                                    'temperature': 298.15, 'viscosity': 0.89e-3}


def test_yeh_hummer_is_refused_for_a_non_cubic_box():
    """xi = 2.837297 is the cubic-lattice constant: an orthorhombic box gets an error, not a wrong correction."""
    msd = MSD(t=2.0 * np.arange(100), msd=np.outer(2 * WATER_D * 2.0 * np.arange(100), [1.0, 1.0, 1.0]))
    with pytest.raises(DescriptorError, match='cubic boxes only') as error:
        fit_diffusion(msd, box_length=3.0, fit_window=[10, 100], temperature=298.15, viscosity=0.89e-3, cubic=False)
    assert error.value.kind == 'non_cubic_box'
    assert fit_diffusion(msd, box_length=3.0, fit_window=[10, 100], cubic=False).D == pytest.approx(WATER_D)


# --- densities and files ----------------------------------------------------------------------------------------------


@pytest.fixture(scope='module')
def water_like():
    """1000 water-mass beads diffusing in an NPT-like box around 29.9 nm^3 (about 1000 kg/m^3), and their
    descriptors with the Yeh-Hummer correction."""
    rng = np.random.default_rng(60)
    frames = boxes([3.1, 3.1, 3.1, 90.0, 90.0, 90.0], 200, rng, jitter=0.01)
    wrapped, _ = barostat_trajectory(rng, 1000, frames, step=0.05)
    trajectory = BeadTrajectory(wrapped, frames, 0.5 * np.arange(200), WATER_MASS, source='water-like')
    descriptors = compute_descriptors(trajectory, r_max=0.6, bin_width=0.02, temperature=298.15, viscosity=0.89e-3)
    return trajectory, descriptors


def test_densities_from_bead_count_mass_and_volume(water_like):
    trajectory, descriptors = water_like
    volumes = np.prod(trajectory.dimensions[:, :3], axis=1)  # nm^3, orthorhombic
    mass_kg = 1000 * WATER_MASS / AVOGADRO * 1e-3
    assert descriptors.number_density == pytest.approx(np.mean(1000 / volumes), rel=1e-12)
    assert descriptors.mass_density == pytest.approx(np.mean(mass_kg / (volumes * 1e-27)), rel=1e-12)
    assert descriptors.mass_density == pytest.approx(1000.0, rel=0.01)
    assert (descriptors.n_beads, descriptors.n_frames, descriptors.bead_mass) == (1000, 200, WATER_MASS)
    assert descriptors.time_span == [0.0, 99.5]
    # The finite-size correction uses the cube root of the mean volume
    assert descriptors.diffusion.box_length == pytest.approx(np.cbrt(volumes.mean()), rel=1e-12)
    assert descriptors.diffusion.D_yeh_hummer - descriptors.diffusion.D == pytest.approx(
        yeh_hummer_by_hand(np.cbrt(volumes.mean()), 298.15, 0.89e-3), rel=1e-9)


def test_descriptors_round_trip_through_files(water_like, tmp_path):
    _, descriptors = water_like
    written = descriptors.write(tmp_path)
    assert sorted(path.name for path in written) == ['descriptors.json', 'descriptors.npz']

    arrays, summary = read_descriptors(tmp_path)

    np.testing.assert_array_equal(arrays['r'], descriptors.rdf.r)
    np.testing.assert_array_equal(arrays['g'], descriptors.rdf.g)
    np.testing.assert_array_equal(arrays['t'], descriptors.msd.t)
    np.testing.assert_array_equal(arrays['msd'], descriptors.msd.msd)
    assert summary == descriptors.summary()
    assert summary['diffusion']['D'] == descriptors.diffusion.D
    assert summary['units']['D'] == 'nm^2/ps' and summary['units']['mass_density'] == 'kg/m^3'


# --- trajectory segments of a continued CG run ------------------------------------------------------------------------


def brownian_segments(tmp_path, restart_frames=(40, 70), n_frames=101, dt=0.5):
    """One Brownian trajectory (nm, ps) written as xtc segments the way continued LAMMPS runs leave them: each
    segment runs past the frame at which the next one restarts (the repeated frames are equal here, as a
    restart reproduces them), the last one to the end.  Returns (whole trajectory, segment paths)."""
    from aiida_cgmob.analysis.trajectory import write_xtc

    whole = brownian_trajectory(np.random.default_rng(7), 50, n_frames, WATER_D * 100, dt, 2.5)
    starts = [0, *restart_frames]
    ends = [*(frame + 12 for frame in restart_frames), n_frames]  # killed 12 frames after the restart file
    paths = []
    for k, (start, end) in enumerate(zip(starts, ends, strict=True)):
        path = tmp_path / f'segment_{k}.xtc'
        write_xtc(path, whole.positions[start:end], whole.dimensions[start:end], whole.times[start:end])
        paths.append(path)
    return whole, paths


def test_segments_join_into_one_trajectory_without_repeats(tmp_path):
    from aiida_cgmob.analysis import read_beads

    whole, paths = brownian_segments(tmp_path)
    joined = read_beads(paths, WATER_MASS)
    np.testing.assert_allclose(joined.times, whole.times, atol=1e-4)
    # xtc keeps 3 decimals (nm) and wraps into the box: compare the wrapped positions
    np.testing.assert_allclose(joined.positions, np.mod(whole.positions, 2.5), atol=6e-4)
    assert joined.source == 'segment_0.xtc+segment_1.xtc+segment_2.xtc'
    # begin/end apply to the joined time axis
    window = read_beads(paths, WATER_MASS, begin=30.0, end=40.0)
    assert window.times[0] == pytest.approx(30.0) and window.times[-1] == pytest.approx(40.0)
    # descriptors of the joined segments are those of the uninterrupted trajectory
    descriptors = compute_descriptors(joined, r_max=1.0, bin_width=0.05, fit_window=[2.0, 10.0])
    reference = compute_descriptors(read_beads(_whole_xtc(tmp_path, whole), WATER_MASS), r_max=1.0, bin_width=0.05,
                                    fit_window=[2.0, 10.0])
    assert descriptors.diffusion.D == pytest.approx(reference.diffusion.D, rel=1e-9)


def _whole_xtc(tmp_path, whole):
    from aiida_cgmob.analysis.trajectory import write_xtc

    path = tmp_path / 'whole.xtc'
    write_xtc(path, whole.positions, whole.dimensions, whole.times)
    return path


def test_empty_and_truncated_segments(tmp_path):
    """A job killed before its first frame leaves an empty xtc; one killed while writing leaves half a frame."""
    from aiida_cgmob.analysis import read_beads

    whole, paths = brownian_segments(tmp_path, restart_frames=(60,))
    empty = tmp_path / 'empty.xtc'
    empty.write_bytes(b'')
    truncated = tmp_path / 'truncated.xtc'
    data = paths[0].read_bytes()
    truncated.write_bytes(data[:-100])  # the last frame (time 36 ps) cut short
    first = read_beads(truncated, WATER_MASS)
    assert first.n_frames == 72 - 1 and first.times[-1] == pytest.approx(35.0)
    joined = read_beads([truncated, empty, paths[1]], WATER_MASS)
    np.testing.assert_allclose(joined.times, whole.times, atol=1e-4)
    with pytest.raises(DescriptorError) as error:
        read_beads([empty], WATER_MASS)
    assert error.value.kind == 'empty_trajectory'


def _float32_segments(tmp_path, pieces):
    """A 0.1 ps trajectory from 150 ps (xtc times are float32: consecutive frames 0.0999908-0.100006 ps apart)
    written as segments whole[start:stop] for (start, stop) in ``pieces``; returns (whole, segment paths)."""
    from aiida_cgmob.analysis.trajectory import write_xtc

    whole = brownian_trajectory(np.random.default_rng(11), 20, 41, WATER_D * 100, 0.1, 2.5)
    whole.times = (150.0 + 0.1 * np.arange(41)).astype(np.float32).astype(float)
    paths = []
    for k, (start, stop) in enumerate(pieces):
        paths.append(tmp_path / f'segment_{k}.xtc')
        paths[-1].write_bytes(b'')
        if stop > start:
            write_xtc(paths[-1], whole.positions[start:stop], whole.dimensions[start:stop], whole.times[start:stop])
    return whole, paths


@pytest.mark.parametrize('pieces', [
    [(0, 11), (11, 41)],  # the continuation's first frame is the one after the last frame on disk
    [(0, 11), (10, 41)],  # it repeats the last frame
    [(0, 30), (12, 41)],  # it repeats many (a continuation from an older restart file)
    [(0, 20), (5, 6), (5, 41)],  # a job killed after its first frame, continued from the same restart file
    [(0, 20), (20, 20), (15, 41)],  # a job killed before its first frame (empty file)
], ids=['adjacent', 'one repeated', 'many repeated', 'one-frame segment repeated', 'empty segment'])
def test_segments_join_into_the_uninterrupted_float32_times(tmp_path, pieces):
    """Whatever frame a continuation starts at, the joined frames are the uninterrupted run's, each once."""
    from aiida_cgmob.analysis import read_beads

    whole, paths = _float32_segments(tmp_path, pieces)
    joined = read_beads(paths, WATER_MASS)
    np.testing.assert_array_equal(joined.times, whole.times)
    np.testing.assert_allclose(joined.positions, np.mod(whole.positions, 2.5), atol=6e-4)


def test_a_gap_between_segments_is_refused(tmp_path):
    """A continuation that starts after a frame its predecessor never wrote (its restart file newer than the
    trajectory on disk) would leave a 0.2 ps interval in a 0.1 ps trajectory: refused, naming both files."""
    from aiida_cgmob.analysis import read_beads

    _, paths = _float32_segments(tmp_path, [(0, 10), (11, 41)])
    with pytest.raises(DescriptorError, match=r'segment_1.xtc starts at 151.1 ps but segment_0.xtc ends at 150.9 ps'
                                              r' \(frames every 0.1 ps\): the frames in between are missing') as error:
        read_beads(paths, WATER_MASS)
    assert error.value.kind == 'missing_frames'
    _, paths = _float32_segments(tmp_path, [(0, 10), (9, 10), (11, 41)])  # also after a segment of one frame
    with pytest.raises(DescriptorError, match='segment_2.xtc starts at 151.1 ps but segment_1.xtc ends at 150.9'):
        read_beads(paths, WATER_MASS)

def test_segments_with_different_bead_counts_are_refused(tmp_path):
    from aiida_cgmob.analysis import read_beads
    from aiida_cgmob.analysis.trajectory import write_xtc

    whole, paths = brownian_segments(tmp_path, restart_frames=(60,))
    other = tmp_path / 'other.xtc'
    write_xtc(other, whole.positions[60:, :40], whole.dimensions[60:], whole.times[60:])
    with pytest.raises(DescriptorError, match='segment_0.xtc: 50, other.xtc: 40') as error:
        read_beads([paths[0], other], WATER_MASS)
    assert error.value.kind == 'segments_differ'


def test_descriptor_script_takes_segments(tmp_path):
    """``cgmob-descriptors seg1.xtc seg2.xtc ... --bead-mass M``: the same files as one joined trajectory."""
    import json

    from aiida_cgmob.analysis.cli import main

    _, paths = brownian_segments(tmp_path)
    settings = tmp_path / 'settings.json'
    settings.write_text(json.dumps({'r_max': 1.0, 'bin_width': 0.05, 'fit_window': [2.0, 10.0]}))
    status = main([*map(str, paths), '--bead-mass', str(WATER_MASS), '--settings', str(settings),
                   '--output', str(tmp_path / 'out')])
    assert status == 0
    summary = json.loads((tmp_path / 'out.json').read_text())
    assert summary['n_frames'] == 101 and summary['time_span'] == [0.0, 50.0]
    assert main([str(paths[0]), str(paths[1]), '--topology', 'run.tpr', '--output', str(tmp_path / 'x')]) == 1


def test_frame_times_rounded_to_float32_in_a_long_run_count_as_even():
    """xtc stores float32 times: 5 ns of 0.1 ps frames must not be refused as uneven, a missing frame still is."""
    from aiida_cgmob.analysis.descriptors import _frame_interval
    from aiida_cgmob.analysis.trajectory import DescriptorError

    times = np.arange(50001) * 0.1
    assert _frame_interval(times.astype(np.float32).astype(float)) == pytest.approx(0.1, rel=1e-5)
    with pytest.raises(DescriptorError, match='evenly spaced'):
        _frame_interval(np.delete(times, 30000).astype(np.float32).astype(float))
