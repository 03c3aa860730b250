"""Seeded random perturbation of the bonded parameters of a molecule (synthetic force fields).

Every bonded term *class* is perturbed: a class is the tuple of OPLS-AA atom types of the term
read in canonical order (e.g. bond ``135-136`` = CH3-CH2), so chemically equivalent terms keep
equal parameters and the molecule keeps its symmetry.  Non-bonded parameters are never touched.

Default ranges (all are inputs):

====================  =========================  ===============================================
quantity              default                    how
====================  =========================  ===============================================
bond b0               0.65 - 1.6 x OPLS          uniform scale factor
bond kb               0.5 - 2 x OPLS             log-uniform scale factor
angle theta0          70 - 140 degrees           uniform, absolute
angle k               0.5 - 2 x OPLS             log-uniform scale factor
dihedral K1, K2, K3   -10 - +10 kJ/mol           uniform, absolute, OPLS Fourier form (K4 = 0),
                                                 converted to Ryckaert-Bellemans for GROMACS
improper k            0.5 - 2 x OPLS             log-uniform scale factor
====================  =========================  ===============================================

The generator is NumPy's PCG64 seeded through ``SeedSequence(seed)`` and the classes are drawn in
sorted order, so the same seed gives the same parameters on any machine.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .molecule import Angle, Bond, Dihedral, Improper, Molecule

__all__ = ['DEFAULT_RANGES', 'apply_bonded_parameters', 'fourier_to_rb', 'sample_bonded_parameters',
           'validate_ranges']

DEFAULT_RANGES: dict[str, list[float]] = {
    'bond_b0_scale': [0.65, 1.6],
    'bond_k_scale': [0.5, 2.0],
    'angle_theta0': [70.0, 140.0],
    'angle_k_scale': [0.5, 2.0],
    'dihedral_fourier': [-10.0, 10.0],
    'improper_k_scale': [0.5, 2.0],
}

_UNITS = {
    'bond_b0_scale': 'factor', 'bond_k_scale': 'factor', 'angle_theta0': 'degree', 'angle_k_scale': 'factor',
    'dihedral_fourier': 'kJ/mol', 'improper_k_scale': 'factor',
}


def validate_ranges(ranges: dict | None) -> dict[str, list[float]]:
    """Merge ``ranges`` into the defaults and check them; the error names the bad field and value."""
    merged = {key: list(value) for key, value in DEFAULT_RANGES.items()}
    for key, value in (ranges or {}).items():
        if key not in DEFAULT_RANGES:
            raise ValueError(f'unknown range {key!r}; known: {", ".join(DEFAULT_RANGES)}')
        try:
            low, high = (float(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(f'range {key!r} must be a pair [low, high], got {value!r}') from None
        if not (np.isfinite(low) and np.isfinite(high)) or low > high:
            raise ValueError(f'range {key!r} must satisfy low <= high (finite), got {value!r}')
        if _UNITS[key] == 'factor' and low <= 0:
            raise ValueError(f'range {key!r} is a scale factor and must be positive, got {value!r}')
        if key == 'angle_theta0' and not (0 < low and high < 180):
            raise ValueError(f'range {key!r} must lie strictly between 0 and 180 degrees, got {value!r}')
        merged[key] = [low, high]
    return merged


def fourier_to_rb(k1: float, k2: float, k3: float, k4: float = 0.0) -> tuple[float, ...]:
    """OPLS Fourier coefficients (kJ/mol) to Ryckaert-Bellemans C0..C5 (GROMACS manual, eq. for type 5)."""
    return (k2 + 0.5 * (k1 + k3), 0.5 * (-k1 + 3 * k3), -k2 + 4 * k4, -2 * k3, -4 * k4, 0.0)


def _classes(molecule: Molecule, terms) -> list[str]:
    return sorted({molecule.term_class(term.atoms) for term in terms})


def _first(molecule: Molecule, terms, cls: str):
    return next(term for term in terms if molecule.term_class(term.atoms) == cls)


def sample_bonded_parameters(molecule: Molecule, seed: int, ranges: dict | None = None) -> dict:
    """Draw one synthetic parameter set for ``molecule``; return it as a JSON-serialisable dict."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'seed must be a non-negative integer, got {seed!r}')
    ranges = validate_ranges(ranges)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed))))

    def uniform(key):
        return float(rng.uniform(*ranges[key]))

    def log_uniform(key):
        low, high = ranges[key]
        return float(np.exp(rng.uniform(np.log(low), np.log(high))))

    sampled: dict = {'seed': int(seed), 'molecule': molecule.name, 'smiles': molecule.smiles, 'ranges': ranges,
                     'dihedral_form': 'OPLS Fourier K1..K3 (K4 = 0) in kJ/mol, written as Ryckaert-Bellemans',
                     'units': {'b0': 'nm', 'kb': 'kJ/mol/nm^2', 'theta0': 'degree', 'k_angle': 'kJ/mol/rad^2',
                               'dihedral': 'kJ/mol', 'k_improper': 'kJ/mol'},
                     'bonds': {}, 'angles': {}, 'dihedrals': {}, 'impropers': {}}
    for cls in _classes(molecule, molecule.bonds):
        ref = _first(molecule, molecule.bonds, cls)
        sampled['bonds'][cls] = {'b0': ref.b0 * uniform('bond_b0_scale'), 'kb': ref.kb * log_uniform('bond_k_scale')}
    for cls in _classes(molecule, molecule.angles):
        ref = _first(molecule, molecule.angles, cls)
        sampled['angles'][cls] = {'theta0': uniform('angle_theta0'), 'k': ref.k * log_uniform('angle_k_scale')}
    for cls in _classes(molecule, molecule.dihedrals):
        k1, k2, k3 = (uniform('dihedral_fourier') for _ in range(3))
        sampled['dihedrals'][cls] = {'K1': k1, 'K2': k2, 'K3': k3, 'C': list(fourier_to_rb(k1, k2, k3))}
    for cls in _classes(molecule, molecule.impropers):
        ref = _first(molecule, molecule.impropers, cls)
        sampled['impropers'][cls] = {'k': ref.k * log_uniform('improper_k_scale')}
    return sampled


def apply_bonded_parameters(molecule: Molecule, sampled: dict) -> Molecule:
    """Return a copy of ``molecule`` whose bonded terms carry the ``sampled`` parameters."""
    def lookup(kind: str, atoms):
        cls = molecule.term_class(atoms)
        try:
            return sampled[kind][cls]
        except KeyError:
            raise ValueError(f'sampled parameters hold no {kind} class {cls!r} of {molecule.name}') from None

    bonds = [Bond(b.atoms, lookup('bonds', b.atoms)['b0'], lookup('bonds', b.atoms)['kb']) for b in molecule.bonds]
    angles = [Angle(a.atoms, lookup('angles', a.atoms)['theta0'], lookup('angles', a.atoms)['k'])
              for a in molecule.angles]
    dihedrals = [Dihedral(d.atoms, tuple(lookup('dihedrals', d.atoms)['C'])) for d in molecule.dihedrals]
    impropers = [Improper(i.atoms, i.phi0, lookup('impropers', i.atoms)['k'], i.multiplicity)
                 for i in molecule.impropers]
    note = f'synthetic bonded parameters: seed {sampled.get("seed")}'
    return replace(molecule, bonds=bonds, angles=angles, dihedrals=dihedrals, impropers=impropers, note=note)
