"""The compiled pair histogram (aiida_cgmob.analysis.pairs) against exact counts and a numpy reference."""

import numpy as np
import pytest

from aiida_cgmob.analysis import BeadTrajectory, radial_distribution
from aiida_cgmob.analysis.descriptors import _pair_list_counts
from aiida_cgmob.analysis.pairs import CELL_LIST_FACTOR, orthorhombic, pair_counts, set_threads


def numpy_counts(xyz: np.ndarray, box: np.ndarray, bin_width: float, n_bins: int) -> np.ndarray:
    """All pairs i < j by numpy, minimum image, the same binning."""
    delta = xyz[None, :, :] - xyz[:, None, :]
    delta -= box * np.rint(delta / box)
    distance = np.sqrt((delta**2).sum(-1))[np.triu_indices(len(xyz), 1)]
    return np.bincount(np.minimum((distance / bin_width).astype(int), n_bins), minlength=n_bins + 1)[:n_bins]


@pytest.mark.parametrize('edges, r_max, cell_list', [
    ((3.0, 3.0, 3.0), 1.4, None),  # all pairs (box < CELL_LIST_FACTOR r_max)
    ((4.1, 3.3, 5.0), 1.6, None),  # all pairs, a box with three different edges
    ((6.0, 6.5, 7.0), 1.0, None),  # cell list: 12-14 cells per edge
    ((4.0, 4.0, 9.0), 1.5, True),  # cell list: 5, 5 and 12 cells (the smallest stencil)
    ((6.0, 6.5, 7.0), 1.0, False),  # all pairs where a cell list would be chosen
])
def test_pair_counts_match_numpy(edges, r_max, cell_list):
    """Every pair is counted once, with its minimum-image distance, by both the all-pairs and the cell-list path."""
    rng = np.random.default_rng(3)
    box = np.array(edges)
    bin_width = 0.02
    n_bins = int(round(r_max / bin_width))
    frames = rng.uniform(-1.0, 2.0, size=(3, 300, 3)) * box  # any periodic image, as trajectories give them
    counts = pair_counts(frames, np.tile(box, (3, 1)), bin_width, n_bins, cell_list=cell_list)
    assert counts.shape == (3, n_bins)
    for frame, row in zip(frames, counts, strict=True):
        np.testing.assert_array_equal(row, numpy_counts(frame, box, bin_width, n_bins))
    if cell_list is None:  # the automatic choice of these cases
        assert (min(edges) >= CELL_LIST_FACTOR * r_max) == (edges[0] == 6.0)


def test_simple_cubic_lattice_shells():
    """An analytic case: a simple cubic lattice of spacing a has 6, 12, 8, 6 neighbours at a, a sqrt2, a sqrt3, 2a."""
    a, cells = 0.5, 10
    grid = a * np.stack(np.meshgrid(*[np.arange(cells)] * 3, indexing='ij'), -1).reshape(-1, 3)
    box = np.full(3, a * cells)
    n = len(grid)
    bin_width = 0.03  # no shell on a bin edge
    for n_bins, cell_list in ((35, True), (35, False), (55, None)):  # r_max 1.05 nm and 1.65 nm
        counts = pair_counts(grid[None] + 0.013, box[None], bin_width, n_bins, cell_list=cell_list)[0]
        for distance, neighbours in ((a, 6), (a * np.sqrt(2), 12), (a * np.sqrt(3), 8), (2 * a, 6)):
            assert counts[int(distance / bin_width)] == n * neighbours // 2, distance
        below = int(1.1 / bin_width)  # the next shell is at a sqrt5 = 1.118 nm
        assert counts[:below].sum() == n * (6 + 12 + 8 + 6) // 2


def test_pair_counts_agree_with_mdanalysis_pair_list():
    """g(r) of a random liquid-like configuration by the compiled kernel equals MDAnalysis' pair-list count."""
    rng = np.random.default_rng(11)
    positions = rng.uniform(0, 4.0, size=(4, 400, 3))
    dimensions = np.tile([4.0, 4.0, 4.0, 90.0, 90.0, 90.0], (4, 1))
    trajectory = BeadTrajectory(positions, dimensions, np.arange(4.0), 50.0)
    edges = np.linspace(0.0, 1.8, 181)
    compiled = pair_counts(positions, dimensions[:, :3], 0.01, 180).sum(axis=0)
    # float32 distances: a pair may sit on the other side of an edge
    reference = _pair_list_counts(trajectory, edges).sum(axis=0)
    assert abs(compiled.sum() - reference.sum()) <= 2
    assert np.abs(compiled - reference).max() <= 2
    g = radial_distribution(trajectory, r_max=1.8, bin_width=0.01).g
    assert abs(np.mean(g[50:]) - 1.0) < 0.02  # an ideal gas


def test_pair_counts_refuses_r_max_beyond_half_the_box():
    with pytest.raises(ValueError, match='exceeds half the smallest box edge'):
        pair_counts(np.zeros((1, 2, 3)), np.array([[3.0, 3.0, 2.0]]), 0.1, 11)
    with pytest.raises(ValueError, match='a cell list needs box edges >= 2.5 r_max'):
        pair_counts(np.zeros((1, 2, 3)), np.array([[3.0, 3.0, 3.0]]), 0.1, 13, cell_list=True)


def test_orthorhombic():
    assert orthorhombic(np.array([[3, 4, 5, 90, 90, 90]]))
    assert not orthorhombic(np.array([[3, 3, 3, 60, 60, 90]]))


def test_threads_follow_the_job(monkeypatch):
    """A job's OMP_NUM_THREADS bounds the kernel's threads (numba would start one per core of the node)."""
    import numba

    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    assert set_threads() == 1
    assert numba.get_num_threads() == 1
    assert set_threads(10**6) == numba.config.NUMBA_NUM_THREADS


def _count_in_child(seed: int) -> int:
    positions = np.random.default_rng(seed).uniform(0, 4, (2, 200, 3))
    return int(pair_counts(positions, np.full((2, 3), 4.0), 0.01, 150).sum())


def test_a_process_may_fork_after_counting():
    """GNU OpenMP aborts a process that forks after using it; the kernel's threading layer must allow it."""
    import concurrent.futures
    import multiprocessing

    assert _count_in_child(0) > 0
    context = multiprocessing.get_context('fork')
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        assert all(count > 0 for count in pool.map(_count_in_child, [1, 2]))


def test_block_error_of_g_is_the_poisson_error_of_an_ideal_gas():
    """Independent uniform frames: the 5-block standard error of g per bin is ~1/sqrt(pairs counted in the bin)."""
    rng = np.random.default_rng(5)
    frames = 50
    positions = rng.uniform(0, 4.0, size=(frames, 300, 3))
    trajectory = BeadTrajectory(positions, np.tile([4.0, 4.0, 4.0, 90.0, 90.0, 90.0], (frames, 1)),
                                np.arange(float(frames)), 50.0)
    rdf = radial_distribution(trajectory, r_max=1.5, bin_width=0.05)
    counts = pair_counts(positions, np.full((frames, 3), 4.0), 0.05, 30).sum(axis=0)
    ratio = rdf.g_error[5:] * np.sqrt(counts[5:])  # bins from 0.25 nm: thousands of pairs each
    assert 0.6 < np.mean(ratio) < 1.5
    short = BeadTrajectory(positions[:9], trajectory.dimensions[:9], trajectory.times[:9], 50.0)
    assert np.all(np.isnan(radial_distribution(short, r_max=1.5, bin_width=0.05).g_error))  # < 2 frames per block
