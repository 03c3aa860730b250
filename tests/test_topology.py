"""Science kernel: OPLS-AA typing, explicit parameters, synthetic parameter sampling and liquid boxes.

Everything here runs without an AiiDA profile; the acceptance tests at the end run the real ``gmx grompp``
through the ``aiida-cgmob molecule build`` command.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from fractions import Fraction
from itertools import combinations

import numpy as np
import pytest
from click.testing import CliRunner

from aiida_cgmob.cli import cmd_root
from aiida_cgmob.topology import (
    BUILTIN_MOLECULES,
    BoxTooSmallError,
    MoleculeError,
    PackingError,
    apply_bonded_parameters,
    box_length_for_density,
    build_liquid,
    build_molecule,
    check_box_for_cutoff,
    expected_liquid_density,
    minimum_molecules,
    pack_liquid,
    sample_bonded_parameters,
    validate_ranges,
    write_itp,
    write_top,
)
from aiida_cgmob.topology.oplsaa import load_oplsaa
from aiida_cgmob.topology.sampler import fourier_to_rb
from aiida_cgmob.units import AVOGADRO

# OPLS-AA atom types expected from the chemistry of each built-in molecule (Jorgensen et al. 1996):
# alkane CH3 135, CH2 136, CH 137, C 139, H on aliphatic C 140; benzene C (CH and alkyl-bearing ipso C) 145,
# benzene H 146; CH3 on a ring (toluene-like) 148; CH2 on a ring (ethylbenzene) 149.
EXPECTED_TYPES = {
    '234TriMePe': {'opls_135': 5, 'opls_137': 3, 'opls_140': 18},  # CC(C)C(C)C(C)C
    'EtBz': {'opls_135': 1, 'opls_149': 1, 'opls_145': 6, 'opls_146': 5, 'opls_140': 5},
    '3MePe': {'opls_135': 3, 'opls_136': 2, 'opls_137': 1, 'opls_140': 14},  # CCC(C)CC
    'Bz': {'opls_145': 6, 'opls_146': 6},
    'NeoPe': {'opls_139': 1, 'opls_135': 4, 'opls_140': 12},  # C(CH3)4
    'Mes': {'opls_148': 3, 'opls_145': 6, 'opls_146': 3, 'opls_140': 9},  # 1,3,5-trimethylbenzene
    '23DiMeBu': {'opls_135': 4, 'opls_137': 2, 'opls_140': 14},
    '3EtHex': {'opls_135': 3, 'opls_136': 4, 'opls_137': 1, 'opls_140': 18},  # CCCC(CC)CC
}

# Molar masses from IUPAC standard atomic weights (C 12.011, H 1.008), g/mol.
KNOWN_MOLAR_MASSES = {'3MePe': 86.18, 'EtBz': 106.17, '234TriMePe': 114.23, 'Bz': 78.11, 'Mes': 120.19}


@pytest.fixture(scope='module')
def mepe():
    return build_molecule('3MePe')


@pytest.fixture(scope='module')
def etbz():
    return build_molecule('EtBz')


def graph_distances(molecule) -> dict[tuple[int, int], int]:
    """Topological distance of every atom pair (breadth-first search on the bond list)."""
    n = len(molecule.atoms)
    neighbours = {i: set() for i in range(n)}
    for bond in molecule.bonds:
        i, j = bond.atoms
        neighbours[i].add(j)
        neighbours[j].add(i)
    distances = {}
    for start in range(n):
        seen, frontier, depth = {start}, [start], 0
        while frontier:
            depth += 1
            frontier = [m for k in frontier for m in neighbours[k] if m not in seen]
            seen.update(frontier)
            for m in frontier:
                if start < m:
                    distances[(start, m)] = depth
    return distances


# ---------------------------------------------------------------------------------------------------------------
# OPLS-AA typing and chemistry of the built-in molecules
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize('name', sorted(BUILTIN_MOLECULES))
def test_builtin_atom_types(name):
    molecule = build_molecule(name)
    assert Counter(atom.type for atom in molecule.atoms) == EXPECTED_TYPES[name]


@pytest.mark.parametrize('name', sorted(BUILTIN_MOLECULES))
def test_builtin_total_charge_is_exactly_zero(name):
    molecule = build_molecule(name)
    # Exact decimal arithmetic: OPLS charges are given to three decimals, so the sum must vanish exactly.
    assert sum(Fraction(str(atom.charge)) for atom in molecule.atoms) == 0
    assert molecule.charge == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize('name', ['3MePe', 'NeoPe', '234TriMePe', '3EtHex', 'Bz'])
def test_each_ch_group_is_neutral_in_alkanes_and_benzene(name):
    """OPLS-AA alkane and benzene charges are designed so that every CHn group is neutral."""
    molecule = build_molecule(name)
    group = {i: Fraction(str(atom.charge)) for i, atom in enumerate(molecule.atoms) if atom.element == 'C'}
    for bond in molecule.bonds:
        i, j = bond.atoms
        carbon, hydrogen = (i, j) if molecule.atoms[i].element == 'C' else (j, i)
        if molecule.atoms[hydrogen].element == 'H':
            group[carbon] += Fraction(str(molecule.atoms[hydrogen].charge))
    assert set(group.values()) == {0}


def test_alkylbenzene_types_ipso_benzylic_and_toluene_like(etbz):
    types = [atom.type for atom in etbz.atoms]
    neighbours = {i: [] for i in range(len(types))}
    for bond in etbz.bonds:
        i, j = bond.atoms
        neighbours[i].append(j)
        neighbours[j].append(i)
    (benzylic,) = [i for i, t in enumerate(types) if t == 'opls_149']
    n_h = sum(etbz.atoms[k].element == 'H' for k in neighbours[benzylic])
    assert n_h == 2
    (ipso,) = [k for k in neighbours[benzylic] if types[k] == 'opls_145']  # alkyl-bearing ring carbon
    assert all(etbz.atoms[k].element == 'C' for k in neighbours[ipso])
    (methyl,) = [k for k in neighbours[benzylic] if types[k] == 'opls_135']
    assert sum(etbz.atoms[k].element == 'H' for k in neighbours[methyl]) == 3
    # mesitylene: every methyl sits on a ring carbon and is typed like toluene's CH3
    mesitylene = build_molecule('Mes')
    methyls = [i for i, atom in enumerate(mesitylene.atoms) if atom.type == 'opls_148']
    ring_neighbours = {
        j for b in mesitylene.bonds for i, j in (b.atoms, b.atoms[::-1]) if i in methyls and j not in methyls
        and mesitylene.atoms[j].element == 'C'
    }
    assert len(methyls) == 3
    assert {mesitylene.atoms[j].type for j in ring_neighbours} == {'opls_145'}


@pytest.mark.parametrize('name, mass', sorted(KNOWN_MOLAR_MASSES.items()))
def test_molar_mass(name, mass):
    assert build_molecule(name).mass == pytest.approx(mass, abs=0.01)


def test_resolve_names_case_and_iupac():
    assert build_molecule('ethylbenzene').name == 'EtBz'
    assert build_molecule('etbz').name == 'EtBz'
    assert build_molecule('CCCC').name == 'MOL'


def test_butane_term_counts():
    """n-butane C4H10: 13 bonds, 24 angles (6 per carbon), 27 proper dihedrals (9 per C-C bond), 27 1-4 pairs."""
    butane = build_molecule('CCCC')
    assert len(butane.atoms) == 14
    assert (len(butane.bonds), len(butane.angles), len(butane.dihedrals)) == (13, 24, 27)
    assert len(butane.pairs) == 27
    assert butane.impropers == []


def test_benzene_impropers_and_pairs():
    benzene = build_molecule('Bz')
    assert len(benzene.impropers) == 6
    # 1-4 pairs: 3 para C-C, 12 C-H(meta), 6 H-H(ortho); the two ring paths to a para carbon give one pair.
    assert len(benzene.pairs) == 21
    assert len(benzene.dihedrals) == 24
    for improper in benzene.impropers:
        centre = improper.atoms[2]
        bonded = {j for b in benzene.bonds for i, j in (b.atoms, b.atoms[::-1]) if i == centre}
        assert set(improper.atoms) - {centre} == bonded  # a planar centre and its three neighbours
        assert (improper.phi0, improper.k, improper.multiplicity) == (180.0, 4.6024, 2)


@pytest.mark.parametrize('smiles', ['CCC(C)CC', 'CCc1ccccc1', 'C1CCCC1', 'C1CCCCC1', 'CC(C)(C)C'])
def test_bonded_terms_match_the_bond_graph(smiles):
    """Angles, dihedrals and 1-4 pairs enumerated independently from the bond graph."""
    molecule = build_molecule(smiles)
    distances = graph_distances(molecule)
    bonded = {pair for pair, d in distances.items() if d == 1}
    assert {tuple(sorted(b.atoms)) for b in molecule.bonds} == bonded
    expected_angles = {
        (min(i, k), j, max(i, k))
        for j in range(len(molecule.atoms))
        for i, k in combinations([m for m in range(len(molecule.atoms)) if tuple(sorted((m, j))) in bonded], 2)
    }
    assert sorted(tuple(a.atoms) for a in molecule.angles) == sorted(expected_angles)
    degree = Counter(i for pair in bonded for i in pair)
    assert len(molecule.dihedrals) == sum((degree[i] - 1) * (degree[j] - 1) for i, j in bonded)
    # 1-4 pairs: exactly the atom pairs three bonds apart and not closer along another path
    assert set(molecule.pairs) == {pair for pair, d in distances.items() if d == 3}
    assert not set(molecule.pairs) & {pair for pair, d in distances.items() if d <= 2}


def test_cyclopentane_has_no_carbon_carbon_pairs():
    """In a five-membered ring every C-C pair is 1-2 or 1-3, so no C-C 1-4 pair may be generated."""
    molecule = build_molecule('C1CCCC1')
    carbons = {i for i, atom in enumerate(molecule.atoms) if atom.element == 'C'}
    assert not [pair for pair in molecule.pairs if set(pair) <= carbons]
    assert len(molecule.dihedrals) > 0


# ---------------------------------------------------------------------------------------------------------------
# Parameters come from oplsaa.ff and are written explicitly
# ---------------------------------------------------------------------------------------------------------------


def test_forcefield_numbers_are_read_from_oplsaa_ff():
    ff = load_oplsaa()
    text = (ff.path / 'ffbonded.itp').read_text()
    line = re.search(r'^\s*CT\s+CT\s+1\s+(\S+)\s+(\S+)', text, re.M)
    assert ff.bond('CT', 'CT') == (float(line.group(1)), float(line.group(2))) == (0.1529, 224262.4)
    assert ff.dihedral('CT', 'CT', 'CT', 'CT') == (2.9288, -1.4644, 0.2092, -1.6736, 0.0, 0.0)
    assert ff.angle('HC', 'CT', 'HC') == (107.8, 276.144)
    assert ff.defaults == (1, 3, 'yes', 0.5, 0.5)
    assert ff.atomtypes['opls_135'].sigma == 0.35
    assert ff.atomtypes['opls_135'].epsilon == pytest.approx(0.276144)


def test_itp_writes_opls_numbers_explicitly(mepe):
    itp = write_itp(mepe)
    bond_lines = re.findall(r'^\s*\d+\s+\d+\s+1\s+(\S+)\s+(\S+)\s*$', itp.split('[ bonds ]')[1].split('[ pairs ]')[0],
                            re.M)
    assert len(bond_lines) == 19
    assert ('0.152900', '224262.4000') in bond_lines  # CT-CT
    assert ('0.109000', '284512.0000') in bond_lines  # CT-HC
    dihedral_section = itp.split('[ dihedrals ]')[1]
    assert re.search(r'\s3\s+2\.92880\s+-1\.46440\s+0\.20920\s+-1\.67360\s+0\.00000\s+0\.00000\s*$', dihedral_section,
                     re.M)
    assert 'CT' not in dihedral_section  # no type look-ups, numbers only


def test_top_is_self_contained(mepe):
    top = write_top(mepe, 7)
    assert '#include' not in top
    assert 'oplsaa.ff/forcefield.itp' not in top
    for section in ('[ defaults ]', '[ atomtypes ]', '[ moleculetype ]', '[ system ]', '[ molecules ]'):
        assert section in top
    assert re.search(r'^1 3 yes 0\.5 0\.5$', top, re.M)
    assert re.search(r'^opls_135\s+CT\s+6\s+12\.01100\s+-0\.1800\s+A\s+3\.50000e-01\s+2\.76144e-01$', top, re.M)
    assert top.rstrip().endswith('MPE      7')
    with_include = write_top(mepe, 7, itp_name='MPE.itp')
    assert '#include "MPE.itp"' in with_include
    assert '[ moleculetype ]' not in with_include


# ---------------------------------------------------------------------------------------------------------------
# Refused chemistry
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize('smiles, message', [
    ('C1CC', 'neither a built-in molecule name nor a valid SMILES'),
    ('CCO', r'contains O: only hydrocarbons'),
    ('CCCl', r'contains Cl'),
    ('[CH3+]', r'is charged'),
    ('C[CH2-]', r'is charged'),
    ('[CH3]', r'is a radical'),
    ('C=CC', r'double bond'),
    ('C#C', r'triple bond'),
    ('C.C', r'more than one molecule'),
    ('c1ccccc1-c1ccccc1', r'biaryl'),
    ('c1ccccc1Cc1ccccc1', r'bonded to 2 aromatic rings'),
])
def test_refused_molecules(smiles, message):
    with pytest.raises(MoleculeError, match=message):
        build_molecule(smiles)


# ---------------------------------------------------------------------------------------------------------------
# Synthetic bonded parameters
# ---------------------------------------------------------------------------------------------------------------


def test_sampler_is_deterministic(mepe):
    first = json.dumps(sample_bonded_parameters(mepe, 7), sort_keys=True)
    assert json.dumps(sample_bonded_parameters(mepe, 7), sort_keys=True) == first
    assert json.dumps(sample_bonded_parameters(mepe, 8), sort_keys=True) != first
    # the 3D embedding seed changes coordinates, never the sampled parameters
    other_conformer = build_molecule('3MePe', seed=5)
    assert not np.allclose(other_conformer.positions, mepe.positions)
    assert json.dumps(sample_bonded_parameters(other_conformer, 7), sort_keys=True) == first


def test_sampler_golden_value_pins_the_generator(mepe):
    # Pins NumPy's PCG64 stream through SeedSequence(42): if this changes (NumPy upgrade, a change in the order the
    # classes are drawn), every synthetic database built so far can no longer be regenerated from its seeds.
    sampled = sample_bonded_parameters(mepe, 42)
    assert sorted(sampled['bonds'])[0] == '135-136'
    assert sampled['bonds']['135-136']['b0'] == pytest.approx(0.21180598583299648, rel=1e-12)
    assert apply_bonded_parameters(mepe, sampled).bonds[0].b0 == pytest.approx(0.21180598583299648, rel=1e-12)


@pytest.mark.parametrize('fixture', ['mepe', 'etbz'])
def test_every_bonded_class_is_perturbed_within_ranges(fixture, request):
    molecule = request.getfixturevalue(fixture)
    sampled = sample_bonded_parameters(molecule, 11)
    for kind in ('bonds', 'angles', 'dihedrals', 'impropers'):
        terms = getattr(molecule, kind)
        assert set(sampled[kind]) == {molecule.term_class(term.atoms) for term in terms}, kind
    assert (len(sampled['impropers']) > 0) == (fixture == 'etbz')
    for bond in molecule.bonds:
        values = sampled['bonds'][molecule.term_class(bond.atoms)]
        assert 0.65 <= values['b0'] / bond.b0 <= 1.6
        assert 0.5 <= values['kb'] / bond.kb <= 2.0
    for angle in molecule.angles:
        values = sampled['angles'][molecule.term_class(angle.atoms)]
        assert 70.0 <= values['theta0'] <= 140.0
        assert 0.5 <= values['k'] / angle.k <= 2.0
    for values in sampled['dihedrals'].values():
        assert all(-10.0 <= values[k] <= 10.0 for k in ('K1', 'K2', 'K3'))
        assert values['C'] == pytest.approx(list(fourier_to_rb(values['K1'], values['K2'], values['K3'])))
    for improper in molecule.impropers:
        assert 0.5 <= sampled['impropers'][molecule.term_class(improper.atoms)]['k'] / improper.k <= 2.0


def test_user_ranges_are_respected(mepe):
    sampled = sample_bonded_parameters(mepe, 3, {'angle_theta0': [100.0, 101.0], 'dihedral_fourier': [0.0, 0.5]})
    assert all(100.0 <= v['theta0'] <= 101.0 for v in sampled['angles'].values())
    assert all(0.0 <= v[k] <= 0.5 for v in sampled['dihedrals'].values() for k in ('K1', 'K2', 'K3'))
    assert sampled['ranges']['bond_b0_scale'] == [0.65, 1.6]  # defaults kept for what was not given


def test_fourier_to_rb_reproduces_opls_alkane_torsion():
    # OPLS-AA CT-CT-CT-CT: V1 = 1.3, V2 = -0.05, V3 = 0.2 kcal/mol = 5.4392, -0.2092, 0.8368 kJ/mol
    rb = fourier_to_rb(5.4392, -0.2092, 0.8368)
    assert rb == pytest.approx(load_oplsaa().dihedral('CT', 'CT', 'CT', 'CT'), abs=1e-9)
    assert rb == pytest.approx((2.9288, -1.4644, 0.2092, -1.6736, 0.0, 0.0), abs=1e-9)


def test_fourier_and_rb_forms_give_the_same_energy():
    """V_F(phi) = 1/2 [K1(1+cos phi) + K2(1-cos 2phi) + K3(1+cos 3phi)] equals sum C_n cos^n(phi - 180)."""
    rng = np.random.default_rng(0)
    phi = np.linspace(-np.pi, np.pi, 73)
    for k1, k2, k3 in rng.uniform(-10, 10, size=(5, 3)):
        fourier = 0.5 * (k1 * (1 + np.cos(phi)) + k2 * (1 - np.cos(2 * phi)) + k3 * (1 + np.cos(3 * phi)))
        psi = phi - np.pi
        rb = sum(c * np.cos(psi) ** n for n, c in enumerate(fourier_to_rb(k1, k2, k3)))
        np.testing.assert_allclose(rb, fourier, atol=1e-10)


def test_apply_bonded_parameters_changes_the_itp(mepe):
    sampled = sample_bonded_parameters(mepe, 42)
    perturbed = apply_bonded_parameters(mepe, sampled)
    itp = write_itp(perturbed)
    assert '0.152900' not in itp and '224262.4000' not in itp
    assert '2.92880' not in itp
    first = perturbed.bonds[0]
    assert f'{first.b0:10.6f}  {first.kb:14.4f}' in itp
    assert 'synthetic bonded parameters: seed 42' in itp
    # chemically equivalent terms keep equal parameters: the molecule keeps its symmetry
    by_class: dict[str, set] = {}
    for bond in perturbed.bonds:
        by_class.setdefault(perturbed.term_class(bond.atoms), set()).add((bond.b0, bond.kb))
    assert all(len(values) == 1 for values in by_class.values())
    # the original molecule is untouched, the non-bonded part too
    assert mepe.bonds[0].b0 == 0.1529
    assert perturbed.atoms == mepe.atoms


def test_apply_parameters_of_another_molecule_is_refused(mepe, etbz):
    with pytest.raises(ValueError, match=r"hold no bonds class '135-149' of EtBz"):
        apply_bonded_parameters(etbz, sample_bonded_parameters(mepe, 1))


@pytest.mark.parametrize('ranges, message', [
    ({'bond_length': [0.9, 1.1]}, r"unknown range 'bond_length'"),
    ({'bond_b0_scale': [1.2, 0.9]}, r"'bond_b0_scale' must satisfy low <= high"),
    ({'bond_k_scale': [-0.5, 2.0]}, r"'bond_k_scale' is a scale factor and must be positive"),
    ({'improper_k_scale': [0.0, 2.0]}, r"'improper_k_scale' is a scale factor"),
    ({'angle_theta0': [100.0, 180.0]}, r"'angle_theta0' must lie strictly between 0 and 180"),
    ({'angle_theta0': [100.0]}, r"'angle_theta0' must be a pair"),
    ({'dihedral_fourier': [-1.0, float('inf')]}, r"'dihedral_fourier' must satisfy"),
])
def test_validate_ranges_names_the_field(ranges, message):
    with pytest.raises(ValueError, match=message):
        validate_ranges(ranges)


@pytest.mark.parametrize('seed', [-1, True, 1.5, '3'])
def test_bad_seed_is_refused(mepe, seed):
    with pytest.raises(ValueError, match='seed must be a non-negative integer'):
        sample_bonded_parameters(mepe, seed)


# ---------------------------------------------------------------------------------------------------------------
# Liquid boxes
# ---------------------------------------------------------------------------------------------------------------


def test_box_length_for_density_analytic():
    expected_m = (1000 * 0.1 / 6.02214076e23 / 1000.0) ** (1 / 3)
    assert box_length_for_density(100.0, 1000, 1000.0) == pytest.approx(expected_m * 1e9, rel=1e-12)
    # eight times the molecules at the same density: twice the edge
    assert box_length_for_density(86.18, 800, 664.0) == pytest.approx(2 * box_length_for_density(86.18, 100, 664.0))
    with pytest.raises(ValueError, match='density must be positive'):
        box_length_for_density(100.0, 10, 0.0)


@pytest.fixture(scope='module')
def packed(mepe):
    return pack_liquid(mepe, 60, 500.0, seed=1)


def test_packed_box_has_the_requested_density(mepe, packed):
    mass_kg = 60 * mepe.mass * 1e-3 / AVOGADRO
    volume_m3 = (packed.box * 1e-9) ** 3
    assert mass_kg / volume_m3 == pytest.approx(500.0, rel=1e-9)
    assert packed.n_molecules == 60
    assert packed.positions.shape == (60, len(mepe.atoms), 3)


def test_packed_molecules_do_not_overlap_and_stay_rigid(mepe, packed):
    atoms = packed.positions.reshape(-1, 3)
    molecule_of = np.repeat(np.arange(packed.n_molecules), len(mepe.atoms))
    delta = atoms[:, None, :] - atoms[None, :, :]
    delta -= packed.box * np.round(delta / packed.box)  # minimum image
    distance = np.linalg.norm(delta, axis=-1)
    intermolecular = molecule_of[:, None] != molecule_of[None, :]
    assert distance[intermolecular].min() >= 0.15
    # each copy is a rigid rotation of the built molecule: its internal distances are unchanged
    reference = np.linalg.norm(mepe.positions[:, None] - mepe.positions[None, :], axis=-1)
    for copy in packed.positions:
        np.testing.assert_allclose(np.linalg.norm(copy[:, None] - copy[None, :], axis=-1), reference, atol=1e-9)


def test_packing_is_deterministic(mepe, packed):
    np.testing.assert_array_equal(pack_liquid(mepe, 60, 500.0, seed=1).positions, packed.positions)
    assert not np.allclose(pack_liquid(mepe, 60, 500.0, seed=2).positions, packed.positions)


def test_impossible_density_raises_packing_error(mepe):
    with pytest.raises(PackingError, match=r'placed \d+ of 100 molecules of 3MePe at 2000.0 kg/m\^3'):
        pack_liquid(mepe, 100, 2000.0, seed=0, max_attempts=1000)
    with pytest.raises(PackingError, match='too small for a molecule'):
        pack_liquid(mepe, 1, 500.0)


def test_build_liquid_gro_matches_box_and_atom_count():
    liquid = build_liquid('3MePe', 30, seed=4)
    lines = liquid.gro.strip().splitlines()
    assert int(lines[1]) == 30 * 20 == len(lines) - 3
    assert [float(v) for v in lines[-1].split()] == pytest.approx([liquid.box.box] * 3, abs=1e-5)
    assert math.isclose(liquid.box.density, 500.0)
    assert '#include' not in liquid.top


# ---------------------------------------------------------------------------------------------------------------
# GROMACS acceptance through the command line (real gmx grompp, warnings are errors)
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize('name', sorted(BUILTIN_MOLECULES))
def test_cli_builds_liquid_accepted_by_grompp(name, tmp_path, gmx_executable):
    result = CliRunner().invoke(cmd_root, ['molecule', 'build', name, '-n', '150', '-o', str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert 'gmx grompp: accepted without warnings' in result.output
    gro = (tmp_path / 'conf.gro').read_text().splitlines()
    assert int(gro[1]) == 150 * len(build_molecule(name).atoms)
    assert (tmp_path / 'topol.top').is_file()


def test_cli_synthetic_parameters_accepted_by_grompp(tmp_path, gmx_executable):
    result = CliRunner().invoke(cmd_root, ['molecule', 'build', 'EtBz', '-n', '150', '-o', str(tmp_path),
                                           '--sample-seed', '3'])
    assert result.exit_code == 0, result.output
    assert 'gmx grompp: accepted without warnings' in result.output
    sampled = json.loads((tmp_path / 'bonded_parameters.json').read_text())
    assert sampled['seed'] == 3
    itp = (tmp_path / 'EBZ.itp').read_text()
    assert 'synthetic bonded parameters: seed 3' in itp
    assert '0.152900' not in itp


@pytest.mark.parametrize('smiles, reason', [
    ('C1CC', 'neither a built-in molecule name nor a valid SMILES'),
    ('CCO', 'contains O'),
])
def test_cli_refuses_bad_molecule(smiles, reason, tmp_path):
    result = CliRunner().invoke(cmd_root, ['molecule', 'build', smiles, '-n', '150', '-o', str(tmp_path / 'out')])
    assert result.exit_code != 0
    assert reason in result.output
    assert not (tmp_path / 'out').exists()


# ---------------------------------------------------------------------------------------------------------------
# The box against twice the cut-off, at the liquid density NPT brings it to (issue 8, defect 5)
# ---------------------------------------------------------------------------------------------------------------

M_3MEPE = 86.18  # g/mol, 3-methylpentane
RHO_3MEPE = 664.0  # kg/m^3, experimental liquid density near 298 K


def test_minimum_molecules_of_3_methylpentane():
    """V = N M / (rho N_A): a 2.2 nm box at 664 kg/m^3 holds 49.4 molecules, a 2.31 nm one (5 % margin) 57.2."""
    assert minimum_molecules(M_3MEPE, RHO_3MEPE, 1.1, margin=0.0) == 50
    assert minimum_molecules(M_3MEPE, RHO_3MEPE, 1.1) == 58
    assert box_length_for_density(M_3MEPE, 58, RHO_3MEPE) == pytest.approx(2.3208, abs=1e-4)
    assert box_length_for_density(M_3MEPE, 57, RHO_3MEPE) < 2 * 1.1 * 1.05 <= box_length_for_density(M_3MEPE, 58,
                                                                                                       RHO_3MEPE)
    assert minimum_molecules(M_3MEPE, RHO_3MEPE, 0.9) == 32  # 1.89 nm
    assert minimum_molecules(M_3MEPE, 1.0, 1.1) == 1  # a dilute gas: one molecule spans the box


def test_check_box_for_cutoff_names_molecules_edge_cutoff_and_the_minimum():
    with pytest.raises(BoxTooSmallError) as error:
        check_box_for_cutoff(M_3MEPE, 30, 1.1, 500.0, RHO_3MEPE, name='3MePe')
    message = str(error.value)
    for part in ('30 3MePe molecules', '1.863 nm', 'expected liquid density, 664 kg/m^3', '(1.1 nm)', '2.310 nm',
                 'Use at least 58 molecules'):
        assert part in message, (part, message)
    assert check_box_for_cutoff(M_3MEPE, 58, 1.1, 500.0, RHO_3MEPE) == pytest.approx(2.3208, abs=1e-4)


def test_check_box_for_cutoff_uses_the_densest_state():
    """45 molecules: 2.34 nm as built at 500 kg/m^3 (grompp would accept it), 2.13 nm once NPT reaches 664."""
    assert check_box_for_cutoff(M_3MEPE, 45, 1.1, 500.0) == pytest.approx(2.3440, abs=1e-4)  # built box only
    with pytest.raises(BoxTooSmallError, match='at least 58 molecules'):
        check_box_for_cutoff(M_3MEPE, 45, 1.1, 500.0, RHO_3MEPE)
    with pytest.raises(BoxTooSmallError, match=r'starting density, 900 kg/m\^3.*at least 78 molecules'):
        check_box_for_cutoff(M_3MEPE, 70, 1.1, 900.0, RHO_3MEPE)  # packed denser than the liquid


@pytest.mark.parametrize('name_or_smiles, density, source', [
    ('3MePe', 664.0, 'experimental'),
    ('CC(CC)CC', 664.0, 'experimental'),  # 3-methylpentane written another way
    ('EtBz', 867.0, 'experimental'),
    ('CCCCCC', 800.0, 'upper bound of acyclic saturated hydrocarbons'),
    ('C1CCCCC1', 900.0, 'upper bound of cyclic saturated hydrocarbons'),
    ('Bz', 1050.0, 'upper bound of aromatic hydrocarbons'),  # built-in without a recorded density
])
def test_expected_liquid_density(name_or_smiles, density, source):
    assert expected_liquid_density(build_molecule(name_or_smiles)) == (density, source)
