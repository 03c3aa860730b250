"""The compiled loops behind :func:`aiida_cgmob.analysis.pairs.pair_counts` (numba; imported on first use).

Units: nm.  ``counts`` has one bin more than asked for: every pair beyond r_max lands in it, which keeps
the inner loop free of unpredictable branches (twice as fast as testing r < r_max first).  The minimum
image is taken with rint for the same reason.
"""

import numpy as np
from numba import njit, prange

SUBDIVISIONS = 2  # cells per r_max: a stencil of 2 x 2 + 1 = 5 cells per direction


@njit(cache=True, inline='always')
def _count(xyz, i, j, lx, ly, lz, inverse, inverse_width, counts):
    dx = xyz[j, 0] - xyz[i, 0]
    dy = xyz[j, 1] - xyz[i, 1]
    dz = xyz[j, 2] - xyz[i, 2]
    dx -= lx * np.rint(dx * inverse[0])
    dy -= ly * np.rint(dy * inverse[1])
    dz -= lz * np.rint(dz * inverse[2])
    overflow = counts.shape[0] - 1
    counts[min(int(np.sqrt(dx * dx + dy * dy + dz * dz) * inverse_width), overflow)] += 1


@njit(cache=True)
def frame_all_pairs(xyz, box, inverse_width, counts):
    """Add every pair i < j of one frame to ``counts``."""
    lx, ly, lz = box[0], box[1], box[2]
    inverse = 1.0 / box
    n = xyz.shape[0]
    for i in range(n - 1):
        for j in range(i + 1, n):
            _count(xyz, i, j, lx, ly, lz, inverse, inverse_width, counts)


@njit(cache=True)
def frame_cells(xyz, box, inverse_width, cells, counts):
    """Add the pairs i < j of one frame to ``counts``, visiting the 5 x 5 x 5 cells around each bead.

    ``cells`` per edge must be >= 5 (each neighbour cell then appears once) and no smaller than r_max / 2.
    """
    lx, ly, lz = box[0], box[1], box[2]
    inverse = 1.0 / box
    n = xyz.shape[0]
    nx, ny, nz = cells[0], cells[1], cells[2]
    cell_of = np.empty(n, dtype=np.int64)
    for i in range(n):
        cx = min(int(xyz[i, 0] / lx * nx), nx - 1)  # min: a position rounded onto the upper edge
        cy = min(int(xyz[i, 1] / ly * ny), ny - 1)
        cz = min(int(xyz[i, 2] / lz * nz), nz - 1)
        cell_of[i] = (cx * ny + cy) * nz + cz
    order = np.argsort(cell_of)
    start = np.zeros(nx * ny * nz + 1, dtype=np.int64)
    for i in range(n):
        start[cell_of[i] + 1] += 1
    for c in range(nx * ny * nz):
        start[c + 1] += start[c]
    for i in range(n):
        cx = cell_of[i] // (ny * nz)
        cy = (cell_of[i] // nz) % ny
        cz = cell_of[i] % nz
        for ox in range(-SUBDIVISIONS, SUBDIVISIONS + 1):
            for oy in range(-SUBDIVISIONS, SUBDIVISIONS + 1):
                for oz in range(-SUBDIVISIONS, SUBDIVISIONS + 1):
                    c = (((cx + ox) % nx) * ny + (cy + oy) % ny) * nz + (cz + oz) % nz
                    for slot in range(start[c], start[c + 1]):
                        j = order[slot]
                        if j > i:
                            _count(xyz, i, j, lx, ly, lz, inverse, inverse_width, counts)


@njit(parallel=True, cache=True)
def all_frames(positions, edges, bin_width, counts, cell_list_factor):
    """Fill ``counts`` (F, n_bins + 1) with the pair histogram of every frame, frames in parallel."""
    r_max = (counts.shape[1] - 1) * bin_width
    inverse_width = 1.0 / bin_width
    for f in prange(positions.shape[0]):
        box = edges[f].copy()
        xyz = positions[f] - box * np.floor(positions[f] / box)
        if np.min(box) >= cell_list_factor * r_max:
            cells = np.empty(3, dtype=np.int64)
            for d in range(3):
                cells[d] = int(box[d] / (r_max / SUBDIVISIONS))
            frame_cells(xyz, box, inverse_width, cells, counts[f])
        else:
            frame_all_pairs(xyz, box, inverse_width, counts[f])
