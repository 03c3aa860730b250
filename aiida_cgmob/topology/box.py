"""Fill a cubic periodic box with randomly placed and rotated copies of a molecule.

Random sequential insertion with an exact periodic overlap test (k-d tree): deterministic for a
given seed and independent of any engine.  The minimum intermolecular atom distance
(0.15 nm by default) is of the same order as ``gmx insert-molecules`` with its default scaled
van der Waals radii; energy minimisation removes the remaining close contacts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from ..units import AVOGADRO
from .molecule import BUILTIN_MOLECULES, Molecule

__all__ = ['AVOGADRO', 'BOX_MARGIN', 'DENSITY_BOUNDS', 'BoxTooSmallError', 'LiquidBox', 'PackingError',
           'box_length_for_density', 'check_box_for_cutoff', 'expected_liquid_density', 'minimum_molecules',
           'pack_liquid']

#: Relative margin of the box check: every edge must be at least 2 x cut-off x (1 + BOX_MARGIN).
#: 5 % of the edge covers the pair-list buffer grompp and mdrun add to the cut-off (rlist 1.118 nm for
#: 1.1 nm cut-offs, 3-methylpentane at 298 K, nstlist 20) and the volume fluctuations of NPT (about
#: 1 % of the edge for 50 molecules).
BOX_MARGIN = 0.05

#: Liquid densities (kg/m^3) assumed by the box check when a molecule's own is not known: upper bounds
#: of hydrocarbon liquids near 298 K (n-eicosane ~ 790, decalin ~ 896, 1-methylnaphthalene ~ 1020), so
#: that the check errs on the safe side: a box too small for its cut-off is otherwise found by mdrun, mid-NPT.
DENSITY_BOUNDS = {'acyclic saturated': 800.0, 'cyclic saturated': 900.0, 'aromatic': 1050.0}



class PackingError(RuntimeError):
    """The requested number of molecules does not fit at the requested density."""


class BoxTooSmallError(ValueError):
    """The box is (or will become, once NPT brings it to the liquid density) shorter than twice the cut-off."""


@dataclass
class LiquidBox:
    """A liquid packed by :func:`pack_liquid`: copies of one molecule in a cubic periodic box.

    Attributes
    ----------
    positions : numpy.ndarray
        Atom positions (n_molecules, n_atoms, 3) in nm, each molecule whole (not wrapped into the box).
    box : float
        Edge of the cubic box (nm).
    density : float
        Mass density the box was sized for (kg/m^3).
    """

    positions: np.ndarray  # nm, (n_molecules, n_atoms, 3), molecules whole
    box: float  # nm, cubic edge
    density: float  # kg/m^3

    @property
    def n_molecules(self) -> int:
        """Number of molecules in the box."""
        return self.positions.shape[0]


def box_length_for_density(molar_mass: float, n_molecules: int, density: float) -> float:
    """Edge (nm) of the cubic box holding ``n_molecules`` of ``molar_mass`` (g/mol) at ``density`` (kg/m^3)."""
    if density <= 0:
        raise ValueError(f'density must be positive, got {density} kg/m^3')
    volume_m3 = n_molecules * molar_mass * 1e-3 / AVOGADRO / density
    return float(volume_m3 ** (1 / 3) * 1e9)


def minimum_molecules(molar_mass: float, density: float, cutoff: float, margin: float = BOX_MARGIN) -> int:
    """Fewest molecules whose cubic box at ``density`` is at least 2 x ``cutoff`` x (1 + ``margin``) across.

    Parameters
    ----------
    molar_mass
        g/mol.
    density
        kg/m^3: the densest state the box will reach (the liquid density after NPT).
    cutoff
        Largest non-bonded cut-off, nm (max of rvdw and rcoulomb).
    margin
        Relative margin on the box edge (see :data:`BOX_MARGIN`).

    Returns
    -------
    int
        E.g. 58 for 3-methylpentane (86.18 g/mol, 664 kg/m^3) with 1.1 nm cut-offs: a 2.31 nm box.
    """
    if molar_mass <= 0 or cutoff <= 0 or margin < 0:
        raise ValueError(f'need molar_mass > 0, cutoff > 0 and margin >= 0, got {molar_mass}, {cutoff}, {margin}')
    required = 2 * cutoff * (1 + margin)  # nm
    molecule_kg = molar_mass * 1e-3 / AVOGADRO
    n_molecules = max(1, math.ceil(density * (required * 1e-9) ** 3 / molecule_kg))
    # ceil() of a rounded product can land one short (or over) the exact boundary: settle it on the edge itself.
    while box_length_for_density(molar_mass, n_molecules, density) < required:
        n_molecules += 1
    while n_molecules > 1 and box_length_for_density(molar_mass, n_molecules - 1, density) >= required:
        n_molecules -= 1
    return n_molecules


def expected_liquid_density(molecule: Molecule) -> tuple[float, str]:
    """Liquid density (kg/m^3) near 298 K and 1 bar to check the box at, and where the value comes from.

    Parameters
    ----------
    molecule
        A built molecule (built-in name or SMILES).

    Returns
    -------
    tuple of (float, str)
        The experimental density of a built-in molecule that has one ('experimental'), otherwise the
        upper bound of :data:`DENSITY_BOUNDS` for its class ('upper bound of aromatic hydrocarbons').
        Synthetic bonded parameters change the density; :data:`BOX_MARGIN` absorbs some of that.
    """
    from rdkit import Chem

    canonical = Chem.CanonSmiles(molecule.smiles)  # 'CC(CC)CC' is 3MePe too
    for builtin in BUILTIN_MOLECULES.values():
        if builtin.density and Chem.CanonSmiles(builtin.smiles) == canonical:
            return builtin.density, 'experimental'
    if any(atom.bond_type == 'CA' for atom in molecule.atoms):
        kind = 'aromatic'
    else:  # a connected molecule holds bonds - atoms + 1 rings
        kind = 'cyclic saturated' if len(molecule.bonds) >= len(molecule.atoms) else 'acyclic saturated'
    return DENSITY_BOUNDS[kind], f'upper bound of {kind} hydrocarbons'


def check_box_for_cutoff(
    molar_mass: float,
    n_molecules: int,
    cutoff: float,
    density: float,
    liquid_density: float | None = None,
    margin: float = BOX_MARGIN,
    name: str = '',
) -> float:
    """Refuse a liquid whose cubic box is, or will become, too short for its cut-off.

    GROMACS requires the cut-off to be shorter than half the shortest box edge: grompp refuses the
    starting box otherwise, and mdrun stops when NPT shrinks the box below it.  The box is checked at
    the densest of the starting and the expected liquid density.

    Parameters
    ----------
    molar_mass
        g/mol.
    n_molecules
        Molecules in the box.
    cutoff
        Largest non-bonded cut-off, nm (:func:`aiida_cgmob.gromacs.largest_cutoff` of the stages).
    density
        Starting density of the built box, kg/m^3.
    liquid_density
        Expected liquid density, kg/m^3 (:func:`expected_liquid_density`); None checks the built box only.
    margin
        Relative margin on the box edge (see :data:`BOX_MARGIN`).
    name
        Molecule name for the message (optional).

    Returns
    -------
    float
        The shortest box edge the liquid reaches, nm.

    Raises
    ------
    BoxTooSmallError
        Naming the number of molecules, the box edge, the cut-off and the fewest molecules that fit.
    """
    densest = max(density, liquid_density or 0.0)
    edge = box_length_for_density(molar_mass, n_molecules, densest)
    required = 2 * cutoff * (1 + margin)
    if edge < required:
        where = (f'the expected liquid density, {densest:g} kg/m^3, that NPT brings it to' if densest != density
                 else f'the starting density, {density:g} kg/m^3')
        needed = minimum_molecules(molar_mass, densest, cutoff, margin)
        what = f'{name} molecules' if name else 'molecules'
        raise BoxTooSmallError(
            f'{n_molecules} {what} ({molar_mass:.2f} g/mol) fill a cubic box of {edge:.3f} nm at {where}; '
            f'GROMACS needs every edge longer than twice the largest cut-off ({cutoff:g} nm), here with a '
            f'{margin:.0%} margin: {required:.3f} nm. Use at least {needed} molecules (or shorter cut-offs).'
        )
    return edge


def pack_liquid(
    molecule: Molecule,
    n_molecules: int,
    density: float,
    seed: int = 0,
    min_distance: float = 0.15,
    max_attempts: int = 5000,
) -> LiquidBox:
    """Insert ``n_molecules`` copies of ``molecule`` in a cubic box at ``density`` (kg/m^3).

    :raises PackingError: if a molecule cannot be placed in ``max_attempts`` tries; lower the density.
    """
    if n_molecules < 1:
        raise ValueError(f'n_molecules must be at least 1, got {n_molecules}')
    rng = np.random.default_rng(seed)
    box = box_length_for_density(molecule.mass, n_molecules, density)
    extent = float(np.max(np.linalg.norm(molecule.positions, axis=1)))
    if 2 * extent + min_distance > box:
        raise PackingError(f'a box of {box:.3f} nm is too small for a molecule {2 * extent:.3f} nm across; '
                           'use more molecules')

    placed = np.empty((n_molecules, len(molecule.atoms), 3))
    tree = None
    for m in range(n_molecules):
        for _ in range(max_attempts):
            rotated = Rotation.random(random_state=rng).apply(molecule.positions)
            candidate = rotated + rng.uniform(0.0, box, size=3)
            if tree is None:
                break
            distances, _ = tree.query(np.mod(candidate, box), k=1, distance_upper_bound=min_distance)
            if np.all(np.isinf(distances)):
                break
        else:
            raise PackingError(f'placed {m} of {n_molecules} molecules of {molecule.name} at {density} kg/m^3 in '
                               f'a {box:.3f} nm box; lower the starting density')
        placed[m] = candidate
        # Rebuilding on acceptance only keeps this exact and fast enough (~5 s for 1000 molecules).
        tree = cKDTree(np.mod(placed[: m + 1].reshape(-1, 3), box), boxsize=box)
    return LiquidBox(placed, box, density)
