"""Pair-distance histograms of periodic bead configurations, compiled with numba (no AiiDA import).

The one costly step of the descriptors: g(r) to 2.5 nm of a 1000-bead liquid counts ~150 000 pairs
per frame.  MDAnalysis' capped-distance search spent 36 ms per frame building the pair list before
any counting (issue 9: the descriptors of a CG run cost 0.8 of its LAMMPS time); this kernel counts
without a pair list, all frames in one compiled call, frames in parallel, and returns the counts of
every frame (so g(r) gets a block error for free).

Orthorhombic boxes only (what LAMMPS and our GROMACS boxes are); :func:`pair_counts` refuses others and
the caller falls back to MDAnalysis.  Per frame it takes all N(N-1)/2 pairs when the box is small next to
r_max (the cheaper choice below ~4.3 r_max), otherwise a cell list of cells no smaller than r_max/2
(5 x 5 x 5 stencil), so the cost grows as N, not N^2, for large boxes.

Units: nm.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ['CELL_LIST_FACTOR', 'orthorhombic', 'pair_counts', 'set_threads']

#: A cell list is used when every box edge is at least this many r_max: it visits 15.6 r_max^3 per bead against
#: L^3 / 2 for all pairs, at ~5x the cost per visit (measured: equal at L = 4.3 r_max for 1000 beads; at
#: L = 4.8 r_max and 4000 beads the cell list takes half the time).
CELL_LIST_FACTOR = 4.3


def orthorhombic(dimensions: np.ndarray) -> bool:
    """Whether every frame's box ``[a, b, c, alpha, beta, gamma]`` (nm, degrees) has right angles."""
    return bool(np.allclose(np.atleast_2d(dimensions)[:, 3:], 90.0, atol=1e-4))


def set_threads(threads: int | None = None) -> int:
    """Set numba's thread count: ``threads``, else ``OMP_NUM_THREADS`` (a job's share), else all; return it.

    A job that asked the scheduler for k cores exports OMP_NUM_THREADS=k; numba would otherwise start one
    thread per core of the node.
    """
    import numba

    if 'NUMBA_THREADING_LAYER' not in os.environ:
        # numba would pick GNU OpenMP, which aborts a process that forks after using it (multiprocessing's
        # default on Linux: a pool started after the descriptors were computed); its own queue is fork-safe
        numba.config.THREADING_LAYER = 'workqueue'
    if threads is None:
        value = os.environ.get('OMP_NUM_THREADS', '')
        threads = int(value) if value.isdigit() and int(value) > 0 else numba.config.NUMBA_NUM_THREADS
    threads = max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(threads)
    return threads


def pair_counts(positions: np.ndarray, edges: np.ndarray, bin_width: float, n_bins: int,
                threads: int | None = None, cell_list: bool | None = None) -> np.ndarray:
    """Return the number of distinct pairs per bin and frame, (F, n_bins) int64.

    Bins are [k w, (k + 1) w) for k < ``n_bins`` (w = ``bin_width``, nm); distances are minimum-image
    distances in each frame's orthorhombic box.

    Parameters
    ----------
    positions
        (F, N, 3) bead positions (nm), any periodic image.
    edges
        (F, 3) box edges a, b, c of each frame (nm); ``n_bins * bin_width`` must not exceed half the smallest.
    bin_width
        Width w of the bins (nm).
    n_bins
        Number of bins from r = 0.
    threads
        Threads (see :func:`set_threads`).
    cell_list
        Force the cell list (True; needs every edge >= 2.5 r_max) or all pairs (False); None: the cell list when
        every edge is at least :data:`CELL_LIST_FACTOR` r_max.
    """
    positions = np.ascontiguousarray(positions, dtype=np.float64)
    edges = np.ascontiguousarray(edges, dtype=np.float64)
    if positions.ndim != 3 or positions.shape[2] != 3 or edges.shape != (positions.shape[0], 3):
        raise ValueError(f'positions must be (F, N, 3) and edges (F, 3); got {positions.shape} and {edges.shape}')
    r_max = n_bins * bin_width
    if r_max > 0.5 * edges.min() * (1 + 1e-9):
        raise ValueError(f'r_max = {r_max:g} nm exceeds half the smallest box edge ({0.5 * edges.min():g} nm)')
    factor = {None: CELL_LIST_FACTOR, True: 2.5, False: np.inf}[cell_list]
    if cell_list and edges.min() < factor * r_max:
        raise ValueError(f'a cell list needs box edges >= 2.5 r_max = {2.5 * r_max:g} nm, got {edges.min():g} nm')
    set_threads(threads)
    counts = np.zeros((positions.shape[0], n_bins + 1), dtype=np.int64)  # + 1: beyond r_max
    from ._pair_kernels import all_frames  # compiles on first use (or loads numba's cache)

    all_frames(positions, edges, float(bin_width), counts, float(factor))
    return counts[:, :n_bins]
