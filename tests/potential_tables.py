"""Tables for the tests of potential files: a noisy IBI-like potential as the demo makes them, a LAMMPS table as
VOTCA writes one, and LAMMPS' own reading of a section (its distances and its force check), written out here
independently of the package so that the tests do not trust the code they test.

Units: r nm, U kJ/mol, F kJ/mol/nm, unless a name says Å or kcal.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.interpolate import CubicSpline

from aiida_cgmob.potentials import BOLTZMANN_KJ, Potential, boltzmann_inversion

TEMPERATURE = 298.15  # K
KT = BOLTZMANN_KJ * TEMPERATURE
SIGMA = 0.373  # nm, methane-like
EPSILON_LIQUID = 2.5  # kJ/mol: a liquid at 13 beads/nm^3 and 298 K (tests/test_calculation_lammps_cg.py)
U_CUT = -0.000912519  # kJ/mol: U at the cutoff of the published table in issue 8


def lj_energy_force(r: np.ndarray, epsilon: float = EPSILON_LIQUID) -> tuple[np.ndarray, np.ndarray]:
    """12-6 Lennard-Jones U and F = -dU/dr (sigma SIGMA), unshifted."""
    x6 = (SIGMA / np.asarray(r, dtype=float)) ** 6
    return 4 * epsilon * (x6 * x6 - x6), 24 * epsilon * (2 * x6 * x6 - x6) / np.asarray(r, dtype=float)


def noisy_ibi_potential(seed: int = 1, noise: float = 0.02) -> Potential:
    """A potential like the demo's IBI ones: -kT ln g of a noisy g(r) on the bin centres (0.01 nm) below the
    cutoff 1.2 nm plus the cutoff itself (an uneven last step), with its repulsive wall and cosine tail.

    g is the low-density g(r) of the liquid LJ (exp(-U/kT)) with 2 % noise per bin; the force is -dU/dr by
    finite differences, so the noise gives the potential many inflection points.
    """
    r = (np.arange(250) + 0.5) * 0.01
    g = np.exp(-lj_energy_force(r)[0] / KT) * (1 + noise * np.random.default_rng(seed).standard_normal(r.size))
    return boltzmann_inversion(r, np.clip(g, 0, None), TEMPERATURE, cutoff=1.2)


def votca_lammps_table(path: Path, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Write a LAMMPS table as VOTCA's ``csg_call convert_potential lammps`` writes one, in units real.

    Keyword ``VOTCA``, header ``N n R rlo rhi`` printed with %f, lines ``%i %15.10e %15.10e %15.10e``
    (csg's table_to_tab.pl), comments and an unrelated section (with FPRIME) first.  An IBI-like potential
    from 0.3 to 1.2 nm: 12-6 with noise of 0.01 kT per point, not shifted (U(r_c) = U_CUT), its force column
    the derivative of a cubic spline through the energies (as ``csg_resample --der``), which the noise's
    inflection points put outside the secants: LAMMPS accepts the table and warns that force values are
    inconsistent with -dE/dr.  Returns the table's r (nm), U (kJ/mol) and F (kJ/mol/nm).
    """
    r = np.linspace(0.3, 1.2, 91)
    energy = lj_energy_force(r)[0] + 0.01 * KT * np.random.default_rng(seed).standard_normal(r.size)
    energy = energy - energy[-1] + U_CUT
    force = -CubicSpline(r, energy)(r, 1)
    lines = ['# LAMMPS table written by VOTCA csg (convert_potential lammps) from CG-CG.pot.new', '',
             'OTHER  an unrelated section', 'N 2 R 1.000000 2.000000 FPRIME 0.0 0.0', '',
             '1 1.0 1.0 0.0', '2 2.0 0.0 0.0', '',
             'VOTCA', f'N {r.size} R {r[0] * 10:f} {r[-1] * 10:f}', '']
    lines += [f'{i} {r_a:15.10e} {e:15.10e} {f:15.10e}'
              for i, (r_a, e, f) in enumerate(zip(r * 10, energy / 4.184, force / 41.84, strict=True), start=1)]
    path.write_text('\n'.join(lines) + '\n')
    return r, energy, force


def read_like_lammps(path: Path, keyword: str = 'CG') -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(r Å, e kcal/mol, f kcal/mol/Å) of a section as LAMMPS holds them (pair_table.cpp ``read_table``).

    With ``R``/``RSQ rlo rhi`` the distances are recomputed from the header with LAMMPS' arithmetic;
    otherwise the r column is used.  Numbers as printed.
    """
    lines = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith('#')]
    start = next(i for i, line in enumerate(lines) if line.split()[0] == keyword)
    words = lines[start + 1].split()
    n = int(words[words.index('N') + 1])
    data = np.array([[float(x) for x in line.split()[:4]] for line in lines[start + 2:start + 2 + n]])
    i = np.arange(n, dtype=float)
    if 'R' in words:
        rlo, rhi = (float(x) for x in words[words.index('R') + 1:words.index('R') + 3])
        r = rlo + (rhi - rlo) * i / (n - 1)
    elif 'RSQ' in words:
        rlo, rhi = (float(x) for x in words[words.index('RSQ') + 1:words.index('RSQ') + 3])
        r = np.sqrt(rlo * rlo + (rhi * rhi - rlo * rlo) * i / (n - 1))
    else:
        r = data[:, 1]
    return r, data[:, 2], data[:, 3]


def lammps_flagged(r: np.ndarray, energy: np.ndarray, force: np.ndarray) -> int:
    """How many force values LAMMPS calls 'inconsistent with -dE/dr': outside both secants around them."""
    left = -(energy[1:-1] - energy[:-2]) / (r[1:-1] - r[:-2])
    right = -(energy[2:] - energy[1:-1]) / (r[2:] - r[1:-1])
    inner = force[1:-1]
    return int(np.count_nonzero((inner < left) & (inner < right)) + np.count_nonzero((inner > left) & (inner > right)))
