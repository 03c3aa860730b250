"""Write GROMACS topology (.itp/.top) and coordinate (.gro) files for a :class:`Molecule` liquid.

Every bonded parameter is written as a number on its own line, never as a type look-up, so the
file records exactly the (possibly perturbed) parameters that were simulated.  The non-bonded
atom types and [ defaults ] are copied from the force field, which makes ``topol.top``
self-contained: the remote computer needs no ``oplsaa.ff``.
"""

from __future__ import annotations

import numpy as np

from .molecule import Molecule
from .oplsaa import ForceField, load_oplsaa

__all__ = ['write_gro', 'write_itp', 'write_top']


def write_itp(molecule: Molecule, nrexcl: int = 3) -> str:
    """Return the ``[ moleculetype ]`` block of one molecule with explicit bonded parameters."""
    lines = [f'; {molecule.name}  SMILES {molecule.smiles}  M = {molecule.mass:.4f} g/mol']
    if molecule.note:
        lines += [f'; {line}' for line in molecule.note.splitlines()]
    lines += ['', '[ moleculetype ]', '; name  nrexcl', f'{molecule.resname:<8s} {nrexcl}', '', '[ atoms ]',
              ';  nr  type      resnr residue atom  cgnr   charge      mass']
    for index, atom in enumerate(molecule.atoms, start=1):
        lines.append(f'{index:5d}  {atom.type:<9s} 1  {molecule.resname:<6s} {atom.name:<5s} {index:5d} '
                     f'{atom.charge:9.4f} {atom.mass:10.4f}')
    lines += ['', '[ bonds ]', ';  ai    aj funct   b0 (nm)     kb (kJ/mol/nm^2)']
    for bond in molecule.bonds:
        i, j = (a + 1 for a in bond.atoms)
        lines.append(f'{i:5d} {j:5d}   1  {bond.b0:10.6f}  {bond.kb:14.4f}')
    lines += ['', '[ pairs ]', ';  ai    aj funct']
    lines += [f'{i + 1:5d} {j + 1:5d}   1' for i, j in molecule.pairs]
    lines += ['', '[ angles ]', ';  ai    aj    ak funct   theta0 (deg)  k (kJ/mol/rad^2)']
    for angle in molecule.angles:
        i, j, k = (a + 1 for a in angle.atoms)
        lines.append(f'{i:5d} {j:5d} {k:5d}   1  {angle.theta0:10.4f}  {angle.k:12.4f}')
    lines += ['', '[ dihedrals ]', '; Ryckaert-Bellemans, C0..C5 in kJ/mol',
              ';  ai    aj    ak    al funct']
    for dihedral in molecule.dihedrals:
        idx = ' '.join(f'{a + 1:5d}' for a in dihedral.atoms)
        coefficients = ' '.join(f'{c:10.5f}' for c in dihedral.c)
        lines.append(f'{idx}   3  {coefficients}')
    if molecule.impropers:
        lines += ['', '[ dihedrals ]', '; periodic impropers keeping aromatic rings planar: phi0 (deg), k (kJ/mol), n',
                  ';  ai    aj    ak    al funct']
        for improper in molecule.impropers:
            idx = ' '.join(f'{a + 1:5d}' for a in improper.atoms)
            lines.append(f'{idx}   4  {improper.phi0:8.3f} {improper.k:10.5f} {improper.multiplicity:d}')
    return '\n'.join(lines) + '\n'


def write_top(
    molecule: Molecule, n_molecules: int, itp_name: str | None = None, forcefield: ForceField | None = None
) -> str:
    """Return a self-contained ``topol.top``.

    :param itp_name: include the molecule from this file name instead of writing it inline.
    """
    ff = forcefield or load_oplsaa()
    nbfunc, comb, gen_pairs, fudge_lj, fudge_qq = ff.defaults
    lines = [f'; {molecule.name}: {n_molecules} molecules, OPLS-AA non-bonded from {ff.path}', '',
             '[ defaults ]', '; nbfunc comb-rule gen-pairs fudgeLJ fudgeQQ',
             f'{nbfunc} {comb} {gen_pairs} {fudge_lj} {fudge_qq}', '', '[ atomtypes ]',
             '; name  bond_type  at.num   mass      charge  ptype  sigma (nm)  epsilon (kJ/mol)']
    for name in sorted({atom.type for atom in molecule.atoms}):
        t = ff.atomtypes[name]
        lines.append(f'{t.name:<9s} {t.bond_type:<4s} {t.atomic_number:3d} {t.mass:10.5f} {t.charge:8.4f}  A  '
                     f'{t.sigma:.5e} {t.epsilon:.5e}')
    lines.append('')
    lines.append(f'#include "{itp_name}"' if itp_name else write_itp(molecule))
    lines += ['', '[ system ]', f'{molecule.name} liquid', '', '[ molecules ]',
              f'{molecule.resname:<8s} {n_molecules}']
    return '\n'.join(lines) + '\n'


def write_gro(molecule: Molecule, positions: np.ndarray, box: float | np.ndarray, title: str = '') -> str:
    """Return a .gro file for ``positions`` (nm) of shape (n_molecules, n_atoms, 3) in a box (nm)."""
    positions = np.asarray(positions, dtype=float)
    n_molecules, n_atoms, _ = positions.shape
    box = np.broadcast_to(np.asarray(box, dtype=float), (3,))
    lines = [title or f'{molecule.name} liquid', f'{n_molecules * n_atoms:5d}']
    serial = 0
    for m in range(n_molecules):
        for a, atom in enumerate(molecule.atoms):
            serial += 1
            x, y, z = positions[m, a]
            lines.append(f'{(m + 1) % 100000:5d}{molecule.resname:<5.5s}{atom.name:>5.5s}{serial % 100000:5d}'
                         f'{x:8.3f}{y:8.3f}{z:8.3f}')
    lines.append(f'{box[0]:10.5f}{box[1]:10.5f}{box[2]:10.5f}')
    return '\n'.join(lines) + '\n'
