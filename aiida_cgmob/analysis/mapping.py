"""One-bead centre-of-mass mapping of whole molecules, vectorised over frames and molecules.

Units: nm for positions and box lengths, degrees for box angles, g/mol for masses.  A box is given
as MDAnalysis-style dimensions ``[a, b, c, alpha, beta, gamma]``; all periodic arithmetic goes
through :func:`box_vectors` so orthorhombic and triclinic cells are treated alike.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

__all__ = ['MoleculeMap', 'box_vectors', 'box_volumes', 'centres_of_mass', 'minimum_image', 'unwrap_in_time',
           'wrap_into_cell']


def box_vectors(dimensions: np.ndarray) -> np.ndarray:
    """Return triclinic box matrices (..., 3, 3) with rows a, b, c from dimensions (..., 6).

    Parameters
    ----------
    dimensions
        ``[a, b, c, alpha, beta, gamma]`` per frame: lengths in nm, angles in degrees.

    Returns
    -------
    numpy.ndarray
        Box vectors in nm, in the GROMACS convention (a along x, b in the xy plane).
    """
    dimensions = np.asarray(dimensions, dtype=np.float64)
    lengths, (alpha, beta, gamma) = dimensions[..., :3], np.radians(np.moveaxis(dimensions[..., 3:6], -1, 0))
    vectors = np.zeros(dimensions.shape[:-1] + (3, 3))
    vectors[..., 0, 0] = lengths[..., 0]
    vectors[..., 1, 0] = lengths[..., 1] * np.cos(gamma)
    vectors[..., 1, 1] = lengths[..., 1] * np.sin(gamma)
    cx = np.cos(beta)
    cy = (np.cos(alpha) - np.cos(beta) * np.cos(gamma)) / np.sin(gamma)
    vectors[..., 2, 0] = lengths[..., 2] * cx
    vectors[..., 2, 1] = lengths[..., 2] * cy
    vectors[..., 2, 2] = lengths[..., 2] * np.sqrt(np.clip(1.0 - cx**2 - cy**2, 0.0, None))
    # Exact zeros for right angles, so orthorhombic boxes take the cheap path below.
    vectors[np.abs(vectors) < 1e-9 * lengths.max()] = 0.0
    return vectors


def box_volumes(dimensions: np.ndarray) -> np.ndarray:
    """Cell volumes (nm^3) of dimensions (..., 6)."""
    return np.abs(np.linalg.det(box_vectors(dimensions)))


def minimum_image(vectors: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Shortest periodic images of difference vectors (F, ..., 3) in boxes (F, 3, 3).

    Exact for orthorhombic cells; for triclinic cells exact for vectors shorter than half the
    smallest box width, which is all that bonds and frame-to-frame displacements need.
    """
    boxes = np.asarray(boxes)
    if _orthorhombic(boxes):
        shape = (boxes.shape[0],) + (1,) * (vectors.ndim - 2) + (3,)
        lengths = np.diagonal(boxes, axis1=1, axis2=2).reshape(shape)
        return vectors - lengths * np.round(vectors / lengths)
    fractional = np.einsum('f...i,fij->f...j', vectors, np.linalg.inv(boxes))
    fractional -= np.round(fractional)
    return np.einsum('f...i,fij->f...j', fractional, boxes)


def _orthorhombic(boxes: np.ndarray) -> bool:
    return not np.any(boxes - boxes * np.eye(3))


@dataclass(frozen=True)
class MoleculeMap:
    """How atoms form molecules: the bond tree used to make each molecule whole, and the masses.

    ``levels`` holds, for each depth of a breadth-first traversal from every molecule's first atom,
    the (child, parent) atom index pairs at that depth; placing every child at the minimum image of
    its parent, level by level, makes all molecules whole at once.
    """

    n_atoms: int
    molecule_of_atom: np.ndarray  # (A,) molecule index of every atom
    masses: np.ndarray  # (A,) g/mol
    levels: tuple[tuple[np.ndarray, np.ndarray], ...]

    @property
    def n_molecules(self) -> int:
        """Number of molecules."""
        return int(self.molecule_of_atom.max()) + 1

    @property
    def molecular_masses(self) -> np.ndarray:
        """Mass of every molecule (g/mol)."""
        return np.bincount(self.molecule_of_atom, weights=self.masses, minlength=self.n_molecules)

    @classmethod
    def from_bonds(cls, n_atoms: int, bonds: np.ndarray, masses: np.ndarray) -> MoleculeMap:
        """Molecules are the connected components of the bond graph, numbered by their first atom."""
        masses = np.asarray(masses, dtype=np.float64)
        if masses.shape != (n_atoms,):
            raise ValueError(f'masses: expected {n_atoms} values, got shape {masses.shape}')
        if np.any(masses <= 0):
            raise ValueError(f'masses: atom {int(np.argmin(masses))} has mass {masses.min()} (must be > 0)')
        neighbours: list[list[int]] = [[] for _ in range(n_atoms)]
        for i, j in np.asarray(bonds, dtype=np.int64).reshape(-1, 2):
            neighbours[i].append(int(j))
            neighbours[j].append(int(i))
        molecule = np.full(n_atoms, -1, dtype=np.int64)
        depth = np.zeros(n_atoms, dtype=np.int64)
        parent = np.full(n_atoms, -1, dtype=np.int64)
        count = 0
        for root in range(n_atoms):
            if molecule[root] >= 0:
                continue
            molecule[root] = count
            queue = deque([root])
            while queue:
                atom = queue.popleft()
                for other in neighbours[atom]:
                    if molecule[other] < 0:
                        molecule[other], parent[other], depth[other] = count, atom, depth[atom] + 1
                        queue.append(other)
            count += 1
        levels = tuple((np.flatnonzero(depth == d), parent[depth == d]) for d in range(1, int(depth.max()) + 1))
        return cls(n_atoms=n_atoms, molecule_of_atom=molecule, masses=masses, levels=levels)

    def make_whole(self, positions: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Positions (F, A, 3) with every molecule whole around its first atom (which stays put)."""
        whole = np.array(positions, dtype=np.float64)
        for children, parents in self.levels:
            bond = minimum_image(whole[:, children] - whole[:, parents], boxes)
            whole[:, children] = whole[:, parents] + bond
        return whole


def centres_of_mass(positions: np.ndarray, dimensions: np.ndarray, molecules: MoleculeMap) -> np.ndarray:
    """Centres of mass (F, M, 3) of whole molecules from positions (F, A, 3) in boxes (F, 6); nm."""
    positions = np.asarray(positions)
    if positions.ndim != 3 or positions.shape[1:] != (molecules.n_atoms, 3):
        raise ValueError(f'positions: expected (frames, {molecules.n_atoms}, 3), got {positions.shape}')
    whole = molecules.make_whole(positions, box_vectors(dimensions))
    weighted = whole * molecules.masses[None, :, None]
    order = molecules.molecule_of_atom
    if np.all(np.diff(order) >= 0):
        # The usual layout (each molecule's atoms consecutive): one reduceat sums all molecules at once.
        sums = np.add.reduceat(weighted, np.flatnonzero(np.r_[True, np.diff(order) != 0]), axis=1)
    else:
        sums = np.zeros((positions.shape[0], molecules.n_molecules, 3))
        np.add.at(sums, (slice(None), order), weighted)
    return sums / molecules.molecular_masses[None, :, None]


def wrap_into_cell(positions: np.ndarray, dimensions: np.ndarray) -> np.ndarray:
    """Positions (F, N, 3) moved into the primary cell [0, 1)^3 (fractional) of their frame's box (F, 6)."""
    boxes = box_vectors(dimensions)
    fractional = np.einsum('fni,fij->fnj', positions, np.linalg.inv(boxes))
    return np.einsum('fni,fij->fnj', fractional - np.floor(fractional), boxes)


def unwrap_in_time(positions: np.ndarray, dimensions: np.ndarray) -> np.ndarray:
    """Remove periodic jumps from bead trajectories (F, N, 3).

    Frames are first wrapped into their primary cells: under NPT the path depends on the image a
    bead is stored in (a bead k cells out moves k times each box change), and a mapped centre of
    mass sits wherever its molecule's first atom lies.  Then each step adds the minimum-image
    displacement between consecutive wrapped frames, measured in the new frame's box (the scheme of
    von Bülow, Bullerjahn and Hummer, J. Chem. Phys. 153, 021101 (2020), which stays correct under
    NPT box fluctuations).  Valid while no bead moves more than half a box width between frames.
    """
    positions = wrap_into_cell(np.asarray(positions, dtype=np.float64), dimensions)
    if len(positions) < 2:
        return positions
    steps = minimum_image(np.diff(positions, axis=0), box_vectors(np.asarray(dimensions)[1:]))
    unwrapped = np.empty_like(positions)
    unwrapped[0] = positions[0]
    np.cumsum(steps, axis=0, out=unwrapped[1:])
    unwrapped[1:] += positions[0]
    return unwrapped
