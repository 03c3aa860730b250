"""Build an OPLS-AA all-atom model of a hydrocarbon from a SMILES string.

Supported chemistry: saturated hydrocarbons (chains, branches, rings) and alkyl-substituted
benzenes (including fused benzene rings).  Anything else is refused with a message that says why,
before any simulation runs.  Units: nm, degrees, kJ/mol, g/mol, e.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .oplsaa import ForceField, load_oplsaa

__all__ = ['BUILTIN_MOLECULES', 'Molecule', 'MoleculeError', 'build_molecule', 'resolve_smiles']


class MoleculeError(ValueError):
    """The molecule cannot be modelled by this builder; the message says why."""


@dataclass(frozen=True)
class BuiltinMolecule:
    smiles: str
    iupac: str
    resname: str
    density: float | None = None  # experimental liquid density near 298 K and 1 bar, kg/m^3


#: Training molecules of the synthetic database and validation liquids.
BUILTIN_MOLECULES: dict[str, BuiltinMolecule] = {
    '234TriMePe': BuiltinMolecule('CC(C)C(C)C(C)C', '2,3,4-trimethylpentane', 'TMP', 719.0),
    'EtBz': BuiltinMolecule('CCc1ccccc1', 'ethylbenzene', 'EBZ', 867.0),
    '3MePe': BuiltinMolecule('CCC(C)CC', '3-methylpentane', 'MPE', 664.0),
    'Bz': BuiltinMolecule('c1ccccc1', 'benzene', 'BNZ'),
    'NeoPe': BuiltinMolecule('CC(C)(C)C', 'neopentane', 'NEO'),
    'Mes': BuiltinMolecule('Cc1cc(C)cc(C)c1', 'mesitylene', 'MES'),
    '23DiMeBu': BuiltinMolecule('CC(C)C(C)C', '2,3-dimethylbutane', 'DMB'),
    '3EtHex': BuiltinMolecule('CCCC(CC)CC', '3-ethylhexane', 'EHX'),
}


@dataclass(frozen=True)
class Atom:
    name: str
    type: str  # OPLS-AA atom type, e.g. opls_135
    bond_type: str  # OPLS-AA bonded class, e.g. CT
    element: str
    mass: float  # g/mol
    charge: float  # e


@dataclass(frozen=True)
class Bond:
    atoms: tuple[int, int]
    b0: float  # nm
    kb: float  # kJ/mol/nm^2


@dataclass(frozen=True)
class Angle:
    atoms: tuple[int, int, int]
    theta0: float  # degrees
    k: float  # kJ/mol/rad^2


@dataclass(frozen=True)
class Dihedral:
    """Proper dihedral in Ryckaert-Bellemans form (GROMACS function type 3)."""

    atoms: tuple[int, int, int, int]
    c: tuple[float, float, float, float, float, float]  # C0..C5, kJ/mol


@dataclass(frozen=True)
class Improper:
    """Periodic improper (GROMACS function type 4); the third atom is the planar centre."""

    atoms: tuple[int, int, int, int]
    phi0: float  # degrees
    k: float  # kJ/mol
    multiplicity: int


@dataclass
class Molecule:
    """An OPLS-AA all-atom model of one molecule: atoms, a 3D structure and every bonded term.

    Atom indices in the bonded terms and ``pairs`` are zero-based indices into ``atoms``.

    Attributes
    ----------
    name : str
        Built-in name, or 'MOL' for a molecule given as SMILES.
    smiles : str
        The SMILES string it was built from.
    resname : str
        Residue name in the GROMACS files.
    atoms : list of Atom
        Atoms with their OPLS-AA types, masses (g/mol) and charges (e).
    positions : numpy.ndarray
        Atom positions (n_atoms, 3) in nm, centred at the origin.
    bonds, angles, dihedrals, impropers : list
        Bonded terms with their parameters (``Bond``, ``Angle``, ``Dihedral``, ``Improper``; nm, degrees,
        kJ/mol).
    pairs : list of tuple of (int, int)
        1-4 pairs: the end atoms of the dihedrals, less those that are bonded or the ends of an angle.
    note : str
        Free text written as comments above the ``[ moleculetype ]`` block (e.g. the seed of synthetic
        bonded parameters).
    parameter_source : dict
        Where the parameters come from (force field and its path).
    """

    name: str
    smiles: str
    resname: str
    atoms: list[Atom]
    positions: np.ndarray  # nm, shape (n_atoms, 3), centred at the origin
    bonds: list[Bond]
    angles: list[Angle]
    dihedrals: list[Dihedral]
    impropers: list[Improper]
    pairs: list[tuple[int, int]]
    note: str = ''
    parameter_source: dict = field(default_factory=dict)

    @property
    def mass(self) -> float:
        """Molar mass in g/mol."""
        return float(sum(atom.mass for atom in self.atoms))

    @property
    def charge(self) -> float:
        """Net charge in e (the sum of the atoms' partial charges)."""
        return float(sum(atom.charge for atom in self.atoms))

    def term_class(self, atoms: tuple[int, ...]) -> str:
        """Name of the parameter class of a bonded term: its OPLS atom types, read in canonical order."""
        types = [self.atoms[i].type.replace('opls_', '') for i in atoms]
        return '-'.join(min(types, types[::-1]))


def resolve_smiles(name_or_smiles: str) -> tuple[str, str, str]:
    """Return (name, smiles, resname) for a built-in name or a SMILES string."""
    if name_or_smiles in BUILTIN_MOLECULES:
        builtin = BUILTIN_MOLECULES[name_or_smiles]
        return name_or_smiles, builtin.smiles, builtin.resname
    lowered = {key.lower(): key for key in BUILTIN_MOLECULES}
    lowered.update({value.iupac: key for key, value in BUILTIN_MOLECULES.items()})
    if name_or_smiles.lower() in lowered:
        return resolve_smiles(lowered[name_or_smiles.lower()])
    return 'MOL', name_or_smiles, 'MOL'


def _check_chemistry(mol, smiles: str) -> None:
    from rdkit import Chem

    elements = sorted({atom.GetSymbol() for atom in mol.GetAtoms()} - {'C', 'H'})
    if elements:
        raise MoleculeError(f'SMILES {smiles!r} contains {", ".join(elements)}: only hydrocarbons (C, H) are supported')
    if mol.GetNumAtoms() == 0:
        raise MoleculeError(f'SMILES {smiles!r} contains no atoms')
    charged = [a.GetIdx() for a in mol.GetAtoms() if a.GetFormalCharge() != 0]
    if charged:
        raise MoleculeError(f'SMILES {smiles!r} is charged (atoms {charged}): only neutral molecules are supported')
    radicals = [a.GetIdx() for a in mol.GetAtoms() if a.GetNumRadicalElectrons() > 0]
    if radicals:
        raise MoleculeError(f'SMILES {smiles!r} is a radical (unpaired electrons on atoms {radicals})')
    if len(Chem.GetMolFrags(mol)) > 1:
        raise MoleculeError(f'SMILES {smiles!r} holds more than one molecule')
    for bond in mol.GetBonds():
        if not bond.GetIsAromatic() and bond.GetBondType() != Chem.BondType.SINGLE:
            raise MoleculeError(
                f'SMILES {smiles!r} has a {str(bond.GetBondType()).lower()} bond between atoms '
                f'{bond.GetBeginAtomIdx()} and {bond.GetEndAtomIdx()}: alkenes and alkynes are not supported '
                '(saturated hydrocarbons and alkylbenzenes are)'
            )
    ring_info = mol.GetRingInfo()
    for atom in mol.GetAtoms():
        if atom.GetIsAromatic() and not ring_info.IsAtomInRingOfSize(atom.GetIdx(), 6):
            raise MoleculeError(
                f'SMILES {smiles!r}: aromatic atom {atom.GetIdx()} is not in a six-membered (benzene) ring'
            )


def _opls_type(atom) -> str:
    """OPLS-AA type of one atom of a hydrogen-complete RDKit molecule."""
    if atom.GetSymbol() == 'H':
        (carbon,) = atom.GetNeighbors()
        return 'opls_146' if carbon.GetIsAromatic() else 'opls_140'
    neighbours = atom.GetNeighbors()
    n_h = sum(n.GetSymbol() == 'H' for n in neighbours)
    n_aromatic = sum(n.GetIsAromatic() for n in neighbours)
    if atom.GetIsAromatic():
        if n_h == 1:
            return 'opls_145'  # aromatic CH
        if n_aromatic == 3:
            if all(b.GetIsAromatic() for b in atom.GetBonds()):
                return 'opls_147'  # fusion carbon (naphthalene-like)
            raise MoleculeError(f'atom {atom.GetIdx()} joins two aromatic rings (biaryl): not supported')
        return 'opls_145'  # ring carbon bearing an alkyl group (ipso)
    if n_aromatic == 0:
        return {4: 'opls_138', 3: 'opls_135', 2: 'opls_136', 1: 'opls_137', 0: 'opls_139'}[n_h]
    if n_aromatic == 1:
        return {3: 'opls_148', 2: 'opls_149', 1: 'opls_515', 0: 'opls_516'}[n_h]  # benzylic
    raise MoleculeError(
        f'carbon {atom.GetIdx()} is bonded to {n_aromatic} aromatic rings: OPLS-AA has no type for it here'
    )


def build_molecule(
    name_or_smiles: str, seed: int = 0, forcefield: ForceField | None = None
) -> Molecule:
    """Build a typed OPLS-AA molecule with a 3D structure from a built-in name or a SMILES string.

    :param name_or_smiles: one of :data:`BUILTIN_MOLECULES` or a hydrocarbon SMILES.
    :param seed: seed of the RDKit 3D embedding (same seed, same coordinates).
    :raises MoleculeError: invalid SMILES or chemistry outside the supported set.
    """
    from rdkit import Chem, RDLogger
    from rdkit.Chem import AllChem

    ff = forcefield or load_oplsaa()
    name, smiles, resname = resolve_smiles(name_or_smiles)
    RDLogger.DisableLog('rdApp.*')
    try:
        mol = Chem.MolFromSmiles(smiles)
    finally:
        RDLogger.EnableLog('rdApp.*')
    if mol is None:
        raise MoleculeError(f'{name_or_smiles!r} is neither a built-in molecule name nor a valid SMILES string')
    _check_chemistry(mol, smiles)
    mol = Chem.AddHs(mol)
    if AllChem.EmbedMolecule(mol, randomSeed=int(seed)) != 0:
        raise MoleculeError(f'RDKit could not build 3D coordinates for {smiles!r}')
    AllChem.MMFFOptimizeMolecule(mol)

    atoms: list[Atom] = []
    counters: dict[str, int] = {}
    for rd_atom in mol.GetAtoms():
        opls = _opls_type(rd_atom)
        atomtype = ff.atomtypes[opls]
        element = rd_atom.GetSymbol()
        counters[element] = counters.get(element, 0) + 1
        atoms.append(Atom(f'{element}{counters[element]}', opls, atomtype.bond_type, element, atomtype.mass,
                          atomtype.charge))
    total_charge = sum(atom.charge for atom in atoms)
    if abs(total_charge) > 1e-6:
        raise MoleculeError(f'OPLS-AA charges of {smiles!r} sum to {total_charge:+.4f} e, not zero')

    positions = mol.GetConformer().GetPositions() / 10.0  # Angstrom -> nm
    positions -= positions.mean(axis=0)

    neighbours = [[n.GetIdx() for n in a.GetNeighbors()] for a in mol.GetAtoms()]
    bt = [a.bond_type for a in atoms]
    bonds = []
    for rd_bond in mol.GetBonds():
        i, j = sorted((rd_bond.GetBeginAtomIdx(), rd_bond.GetEndAtomIdx()))
        bonds.append(Bond((i, j), *ff.bond(bt[i], bt[j])))
    angles = []
    for j, nbrs in enumerate(neighbours):
        for a in range(len(nbrs)):
            for b in range(a + 1, len(nbrs)):
                i, k = sorted((nbrs[a], nbrs[b]))
                angles.append(Angle((i, j, k), *ff.angle(bt[i], bt[j], bt[k])))
    dihedrals = []
    for bond in bonds:
        j, k = bond.atoms
        for i in neighbours[j]:
            for m in neighbours[k]:
                if i in (j, k) or m in (j, k) or i == m:
                    continue
                dihedrals.append(Dihedral((i, j, k, m), ff.dihedral(bt[i], bt[j], bt[k], bt[m])))
    close = {tuple(sorted(b.atoms)) for b in bonds} | {(a.atoms[0], a.atoms[2]) for a in angles}
    pairs = sorted({tuple(sorted((d.atoms[0], d.atoms[3]))) for d in dihedrals} - close)

    impropers = []
    phi0, k_improper, multiplicity = ff.defines['improper_Z_CA_X_Y']
    for rd_atom in mol.GetAtoms():
        if not rd_atom.GetIsAromatic():
            continue
        centre = rd_atom.GetIdx()
        ring = [n for n in neighbours[centre] if mol.GetBondBetweenAtoms(centre, n).GetIsAromatic()]
        other = [n for n in neighbours[centre] if n not in ring[:2]]
        impropers.append(Improper((ring[0], ring[1], centre, other[0]), phi0, k_improper, int(multiplicity)))

    return Molecule(
        name=name, smiles=smiles, resname=resname, atoms=atoms, positions=positions, bonds=bonds,
        angles=angles, dihedrals=dihedrals, impropers=impropers, pairs=pairs,
        parameter_source={'forcefield': 'OPLS-AA', 'path': str(ff.path)},
    )
