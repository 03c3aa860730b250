"""Read OPLS-AA parameters from the GROMACS ``oplsaa.ff`` force-field folder.

The numbers are taken from the installed force field rather than retyped, and are then written
explicitly into each molecule's topology so that they can be perturbed.  Units are GROMACS units:
nm, degrees, kJ/mol, kJ/mol/nm^2, kJ/mol/rad^2, g/mol, e.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

__all__ = ['AtomType', 'ForceField', 'find_oplsaa_dir', 'load_oplsaa']


class ForceFieldError(ValueError):
    """A parameter that the molecule needs is missing from the force field."""


@dataclass(frozen=True)
class AtomType:
    """One OPLS-AA atom type of ``ffnonbonded.itp``.

    Attributes
    ----------
    name : str
        Type name, e.g. opls_135.
    bond_type : str
        Bonded type, e.g. CT: the name used by bonded parameter look-ups.
    atomic_number : int
        Atomic number of the element.
    mass : float
        Mass (g/mol).
    charge : float
        Partial charge (e).
    sigma : float
        Lennard-Jones sigma (nm).
    epsilon : float
        Lennard-Jones epsilon (kJ/mol).
    """

    name: str  # e.g. opls_135
    bond_type: str  # e.g. CT: the name used by bonded parameter look-ups
    atomic_number: int
    mass: float  # g/mol
    charge: float  # e
    sigma: float  # nm
    epsilon: float  # kJ/mol


@dataclass
class ForceField:
    """The subset of ``oplsaa.ff`` that an all-atom hydrocarbon topology needs."""

    path: Path
    defaults: tuple[int, int, str, float, float]  # nbfunc, comb-rule, gen-pairs, fudgeLJ, fudgeQQ
    atomtypes: dict[str, AtomType] = field(default_factory=dict)
    bondtypes: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    angletypes: dict[tuple[str, str, str], tuple[float, float]] = field(default_factory=dict)
    # Ryckaert-Bellemans coefficients C0..C5 (kJ/mol), keyed by bond types, 'X' is a wildcard.
    dihedraltypes: list[tuple[tuple[str, str, str, str], tuple[float, ...]]] = field(default_factory=list)
    defines: dict[str, tuple[float, ...]] = field(default_factory=dict)

    def bond(self, a: str, b: str) -> tuple[float, float]:
        """Return (b0 / nm, kb / kJ mol^-1 nm^-2) for two bond types."""
        for key in ((a, b), (b, a)):
            if key in self.bondtypes:
                return self.bondtypes[key]
        raise ForceFieldError(f'no OPLS-AA bond parameters for {a}-{b} in {self.path}')

    def angle(self, a: str, b: str, c: str) -> tuple[float, float]:
        """Return (theta0 / deg, k / kJ mol^-1 rad^-2) for three bond types."""
        for key in ((a, b, c), (c, b, a)):
            if key in self.angletypes:
                return self.angletypes[key]
        raise ForceFieldError(f'no OPLS-AA angle parameters for {a}-{b}-{c} in {self.path}')

    def dihedral(self, a: str, b: str, c: str, d: str) -> tuple[float, ...]:
        """Return RB coefficients C0..C5 (kJ/mol), preferring the match with the fewest wildcards.

        This is the rule grompp applies to ``[ dihedraltypes ]`` of function type 3.
        """
        best: tuple[int, tuple[float, ...]] | None = None
        for key, coefficients in self.dihedraltypes:
            for query in ((a, b, c, d), (d, c, b, a)):
                if all(k in ('X', q) for k, q in zip(key, query, strict=False)):
                    wildcards = key.count('X')
                    if best is None or wildcards < best[0]:
                        best = (wildcards, coefficients)
        if best is None:
            raise ForceFieldError(f'no OPLS-AA dihedral parameters for {a}-{b}-{c}-{d} in {self.path}')
        return best[1]


def find_oplsaa_dir() -> Path:
    """Locate ``oplsaa.ff``: ``$CGMOB_OPLSAA_DIR``, ``$GMXDATA/top``, next to ``gmx``, or /usr/share."""
    candidates = []
    if os.environ.get('CGMOB_OPLSAA_DIR'):
        candidates.append(Path(os.environ['CGMOB_OPLSAA_DIR']))
    if os.environ.get('GMXDATA'):
        candidates.append(Path(os.environ['GMXDATA']) / 'top' / 'oplsaa.ff')
    for exe in ('gmx', 'gmx_mpi'):
        found = shutil.which(exe)
        if found:
            candidates.append(Path(found).resolve().parent.parent / 'share' / 'gromacs' / 'top' / 'oplsaa.ff')
    candidates.append(Path('/usr/share/gromacs/top/oplsaa.ff'))
    for candidate in candidates:
        if (candidate / 'ffnonbonded.itp').is_file():
            return candidate
    raise FileNotFoundError(
        'cannot find the GROMACS oplsaa.ff force field; install GROMACS (apt-get install gromacs) '
        'or set CGMOB_OPLSAA_DIR to the oplsaa.ff folder. Looked in: ' + ', '.join(map(str, candidates))
    )


def _active_lines(path: Path):
    """Yield (section, fields) for the lines grompp would read with no -D defines set."""
    section = None
    active = [True]
    for raw in path.read_text().splitlines():
        line = raw.split(';', 1)[0].strip()
        if not line:
            continue
        if line.startswith('#ifdef') or line.startswith('#ifndef'):
            active.append(active[-1] and line.startswith('#ifndef'))
            continue
        if line.startswith('#else'):
            active[-1] = (not active[-1]) and active[-2]
            continue
        if line.startswith('#endif'):
            active.pop()
            continue
        if not active[-1]:
            continue
        if line.startswith('['):
            section = line.strip('[] ').lower()
            continue
        yield section, line.split()


@lru_cache(maxsize=4)
def load_oplsaa(path: str | Path | None = None) -> ForceField:
    """Parse the OPLS-AA force field found at ``path`` (default: :func:`find_oplsaa_dir`)."""
    ffdir = Path(path) if path else find_oplsaa_dir()
    forcefield = None
    for section, fields in _active_lines(ffdir / 'forcefield.itp'):
        if section == 'defaults' and not fields[0].startswith('#'):
            nbfunc, comb, gen_pairs, fudge_lj, fudge_qq = fields[:5]
            forcefield = ForceField(ffdir, (int(nbfunc), int(comb), gen_pairs, float(fudge_lj), float(fudge_qq)))
    if forcefield is None:
        raise ForceFieldError(f'no [ defaults ] in {ffdir / "forcefield.itp"}')

    for section, fields in _active_lines(ffdir / 'ffnonbonded.itp'):
        if section == 'atomtypes' and len(fields) >= 8 and not fields[0].startswith('#'):
            name, bond_type, z, mass, charge, _ptype, sigma, epsilon = fields[:8]
            forcefield.atomtypes.setdefault(
                name, AtomType(name, bond_type, int(z), float(mass), float(charge), float(sigma), float(epsilon))
            )

    for section, fields in _active_lines(ffdir / 'ffbonded.itp'):
        if fields[0] == '#define':
            try:
                forcefield.defines[fields[1]] = tuple(float(v) for v in fields[2:])
            except ValueError:
                pass
            continue
        if fields[0].startswith('#'):
            continue
        if section == 'bondtypes' and len(fields) >= 5 and fields[2] == '1':
            forcefield.bondtypes.setdefault((fields[0], fields[1]), (float(fields[3]), float(fields[4])))
        elif section == 'angletypes' and len(fields) >= 6 and fields[3] == '1':
            key = (fields[0], fields[1], fields[2])
            forcefield.angletypes.setdefault(key, (float(fields[4]), float(fields[5])))
        elif section == 'dihedraltypes' and len(fields) >= 11 and fields[4] == '3':
            key = (fields[0], fields[1], fields[2], fields[3])
            forcefield.dihedraltypes.append((key, tuple(float(v) for v in fields[5:11])))
    return forcefield
