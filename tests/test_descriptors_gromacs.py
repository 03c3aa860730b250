"""Descriptors on a real all-atom GROMACS run: cross-checks against ``gmx rdf`` and MDAnalysis, CG round trips,
and the ``cgmob-descriptors`` script.

One small run (150 x 3-methylpentane: minimisation, 2 ps NVT, 10 ps NPT, 20 ps NPT production writing an xtc
frame every 0.1 ps) is made once per session with ``gmx grompp``/``gmx mdrun`` (about 45 s on 2 cores).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from aiida_cgmob.analysis import compute_descriptors, map_gromacs, radial_distribution, read_beads
from aiida_cgmob.analysis.descriptors import half_box_width, pair_correlation
from aiida_cgmob.analysis.mapping import box_vectors, minimum_image
from aiida_cgmob.analysis.trajectory import write_lammps_dump, write_xtc
from aiida_cgmob.gromacs import run_stages
from aiida_cgmob.topology import build_liquid

pytestmark = pytest.mark.gromacs

N_MOLECULES = 150
START_DENSITY = 580.0  # kg/m^3: near the densest the packer manages for 150 x 3MePe (NPT then compresses)
TINY_CUTOFFS = {'rcoulomb': 0.9, 'rvdw': 0.9}  # the box is ~2.8 nm
MD = {**TINY_CUTOFFS, 'nstcalcenergy': 10, 'nstenergy': 10, 'nstlog': 1000}
STAGES = [
    {'name': 'em', 'type': 'minimise', 'mdp': {**TINY_CUTOFFS, 'nsteps': 2000}},
    # NVT first: NPT straight after the minimisation blows the packed box up to ~510 kg/m^3.
    {'name': 'nvt', 'type': 'nvt', 'mdp': {**MD, 'nsteps': 1000}},
    {'name': 'npt', 'type': 'npt', 'mdp': {**MD, 'nsteps': 5000, 'tau-p': 1.0}},
    {'name': 'production', 'type': 'npt', 'mdp': {**MD, 'nsteps': 10000, 'nstxout-compressed': 50}},
]
FRAME_INTERVAL = 0.1  # ps
PRODUCTION_PS = 20.0
FIT_WINDOW = [2.0, 10.0]  # ps: 20 ps is too short for the automatic window (it needs t_end >= 2 t_start)
LAMMPS_TIMESTEP = 0.002  # ps, used to turn times into LAMMPS step numbers and back
SCRIPT = Path(sys.executable).with_name('cgmob-descriptors')


@dataclass(frozen=True)
class AARun:
    directory: Path
    tpr: Path
    xtc: Path


def _gmx(executable: str, arguments: list[str], cwd: Path) -> subprocess.CompletedProcess:
    process = subprocess.run([executable, '-nobackup', '-quiet', *arguments], cwd=cwd, capture_output=True,
                             text=True)
    if process.returncode:
        pytest.fail(f'gmx {" ".join(arguments)} exited {process.returncode}:\n{process.stderr[-3000:]}')
    return process


@pytest.fixture(scope='session')
def aa_run(tmp_path_factory, gmx_executable) -> AARun:
    """A short all-atom NPT production of 150 x 3MePe at 298.15 K, 1 bar (tpr + xtc)."""
    directory = tmp_path_factory.mktemp('aa-3mepe')
    build_liquid('3MePe', N_MOLECULES, density=START_DENSITY, seed=1).write(directory)
    try:
        run_stages(directory, STAGES, gmx_executable, threads=2)
    except RuntimeError as exception:
        pytest.fail(str(exception))
    return AARun(directory, directory / 'production.tpr', directory / 'production.xtc')


@pytest.fixture(scope='session')
def mapped(aa_run):
    return map_gromacs(aa_run.tpr, aa_run.xtc)


def test_mapped_run_shape(mapped):
    assert mapped.n_beads == N_MOLECULES
    assert mapped.n_frames == int(round(PRODUCTION_PS / FRAME_INTERVAL)) + 1
    np.testing.assert_allclose(np.diff(mapped.times), FRAME_INTERVAL, atol=1e-4)
    assert mapped.bead_mass == pytest.approx(86.18, abs=0.02)  # C6H14, g/mol


def test_rdf_agrees_with_gmx_rdf(aa_run, mapped, gmx_executable):
    """(a) Our g(r) against ``gmx rdf`` on molecular centres of mass, on gmx's own bins.

    gmx writes g at r = k dr for the bin [r - dr/2, r + dr/2] (the first clipped at 0) and normalises
    with N^2 pairs (it tends to (N-1)/N), ours with N(N-1) (an ideal gas gives 1).
    """
    bin_width = 0.005
    r_max = np.floor(min(1.3, half_box_width(mapped.dimensions)) / bin_width) * bin_width
    _gmx(gmx_executable, ['rdf', '-s', aa_run.tpr.name, '-f', aa_run.xtc.name, '-selrpos', 'mol_com', '-seltype',
                          'mol_com', '-ref', 'all', '-sel', 'all', '-bin', str(bin_width), '-rmax', f'{r_max:.3f}',
                          '-o', 'rdf.xvg'], aa_run.directory)
    lines = (aa_run.directory / 'rdf.xvg').read_text().splitlines()
    table = np.loadtxt([line for line in lines if line and line[0] not in '@#'])
    r, g_gmx = table[:, 0], table[:, 1]
    np.testing.assert_allclose(r, bin_width * np.arange(len(r)), atol=1e-6)
    edges = np.r_[r - bin_width / 2, r[-1] + bin_width / 2].clip(0)
    g_ours = pair_correlation(mapped, edges)
    n = mapped.n_beads
    assert g_ours.max() > 1.5  # a liquid's first peak, not an empty comparison
    assert np.abs(g_ours - g_gmx).max() < 0.02
    # What remains is gmx's 3-decimal xvg and its single-precision COM/distances moving a few pairs across bin
    # edges on the steep side of the first peak (one pair there is ~3e-4 in g): 0.0013 and 0.0031 in two runs.
    assert np.abs(g_ours * (n - 1) / n - g_gmx).max() < 0.005
    # Our radial_distribution on its own grid (centres at (k + 1/2) dr) is the same function.
    rdf = radial_distribution(mapped, r_max=1.0, bin_width=0.01)
    np.testing.assert_allclose(rdf.g, pair_correlation(mapped, np.linspace(0, 1.0, 101)))
    assert 0.55 < rdf.r[np.argmax(rdf.g)] < 0.75  # first shell of 3MePe centres of mass (~0.64 nm)


def test_centres_of_mass_match_mdanalysis(aa_run, mapped):
    """(b) map_gromacs against the per-frame MDAnalysis baseline (residue = molecule here)."""
    import MDAnalysis as mda

    universe = mda.Universe(str(aa_run.tpr), str(aa_run.xtc))
    assert len(universe.residues) == N_MOLECULES
    baseline = np.array([universe.atoms.center_of_mass(compound='residues', unwrap=True) / 10.0
                         for _ in universe.trajectory])
    assert baseline.shape == mapped.positions.shape
    deviation = np.linalg.norm(minimum_image(mapped.positions - baseline, box_vectors(mapped.dimensions)), axis=-1)
    assert deviation.max() < 1e-4
    # The same image too (not only the same point modulo the box): both follow the molecule's first atom.
    assert np.abs(mapped.positions - baseline).max() < 1e-4


@pytest.fixture(scope='session')
def cg_copies(mapped, tmp_path_factory):
    """The mapped COM trajectory written as CG trajectories and read back: {format: (path, BeadTrajectory)}."""
    directory = tmp_path_factory.mktemp('cg-copies')
    xtc, dump = directory / 'beads.xtc', directory / 'beads.lammpstrj'
    write_xtc(xtc, mapped.positions, mapped.dimensions, mapped.times)
    steps = np.round(mapped.times / LAMMPS_TIMESTEP).astype(np.int64)
    write_lammps_dump(dump, mapped.positions, mapped.dimensions, steps)
    return {
        'xtc': (xtc, read_beads(xtc, mapped.bead_mass)),
        'lammps': (dump, read_beads(dump, mapped.bead_mass, timestep=LAMMPS_TIMESTEP)),
    }


@pytest.mark.parametrize('fmt, precision', [('xtc', 1e-3), ('lammps', 1e-6)])
def test_cg_copy_holds_the_same_beads(mapped, cg_copies, fmt, precision):
    _, copy = cg_copies[fmt]
    assert (copy.n_frames, copy.n_beads) == (mapped.n_frames, mapped.n_beads)
    np.testing.assert_allclose(copy.times, mapped.times, atol=1e-4)
    np.testing.assert_allclose(copy.dimensions, mapped.dimensions, atol=precision)
    # Written wrapped into the cell, so compare through the minimum image; xtc rounds to 0.001 nm.
    shift = minimum_image(copy.positions - mapped.positions, box_vectors(mapped.dimensions))
    assert np.abs(shift).max() <= precision / 2 + 1e-6


@pytest.mark.parametrize('fmt', ['xtc', 'lammps'])
def test_cg_copy_gives_the_same_descriptors(mapped, cg_copies, fmt):
    """(c) One sample, measured from the AA run and from its own COM trajectory as a CG run."""
    _, copy = cg_copies[fmt]
    aa = compute_descriptors(mapped, fit_window=FIT_WINDOW)
    cg = compute_descriptors(copy, fit_window=FIT_WINDOW)
    assert 600.0 < aa.mass_density < 720.0  # a liquid near the experimental 664 kg/m^3, not a gas or a glass
    assert cg.mass_density == pytest.approx(aa.mass_density, rel=1e-5)
    assert cg.number_density == pytest.approx(aa.number_density, rel=1e-5)
    assert aa.rdf.r_max == cg.rdf.r_max == pytest.approx(np.floor(half_box_width(mapped.dimensions) / 0.005) * 0.005)
    # g(r): rounding each coordinate to 0.001 nm (xtc) moves ~5 % of the pairs across 0.005 nm bin edges,
    # so compare xtc on 0.02 nm bins; the LAMMPS dump keeps 1e-6 nm and agrees bin by bin.  What is left on 0.02 nm
    # bins is the counting noise of the pairs that cross an edge, independent from bin to bin: the largest of the 65
    # bins reached 0.004 to 0.011 in different runs.  A systematic error (a box or unit mistake) would shift every bin
    # the same way: the mean over the liquid's bins must stay near zero.
    if fmt == 'xtc':
        coarse = [radial_distribution(t, r_max=1.3, bin_width=0.02).g for t in (mapped, copy)]
        difference = coarse[0] - coarse[1]
        assert np.abs(difference).max() < 0.02
        assert abs(difference[coarse[0] > 0.5].mean()) < 0.002
        assert np.abs(aa.rdf.g - cg.rdf.g).max() < 0.08
    else:
        assert np.abs(aa.rdf.g - cg.rdf.g).max() < 0.005
    # D: the AA centres lie wherever each molecule's first atom is (some outside the cell), the copy is wrapped;
    # both are unwrapped from the primary cell, so under NPT they follow the same path (to the file's precision).
    assert aa.diffusion.fit_window == cg.diffusion.fit_window == FIT_WINDOW
    assert cg.diffusion.D == pytest.approx(aa.diffusion.D, rel=2e-3)
    np.testing.assert_allclose(cg.diffusion.D_xyz, aa.diffusion.D_xyz, rtol=2e-3)
    np.testing.assert_allclose(cg.msd.t, aa.msd.t, atol=1e-6)
    # A light alkane liquid at 298 K (n-hexane: about 4e-9 m^2/s); a 2.8 nm box lowers D by ~10 % (Yeh-Hummer).
    assert 1.0 < aa.diffusion.D_si < 10.0


def test_xtc_copy_is_read_by_gromacs(cg_copies, gmx_executable, mapped):
    path, _ = cg_copies['xtc']
    report = _gmx(gmx_executable, ['check', '-f', path.name], path.parent)
    text = report.stdout + report.stderr
    assert f'# Atoms  {mapped.n_beads}' in text
    assert 'Precision 0.001 (nm)' in text


def _descriptors_script(arguments: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *arguments], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_script_writes_descriptors(aa_run, mapped, tmp_path):
    """(d) ``cgmob-descriptors`` on the AA run: arrays, scalars and units; same numbers as in-process."""
    (tmp_path / 'settings.json').write_text(json.dumps({'fit_window': FIT_WINDOW}))
    process = _descriptors_script([str(aa_run.xtc), '--topology', str(aa_run.tpr), '--settings', 'settings.json',
                                   '--output', 'out/descriptors'], tmp_path)
    assert process.returncode == 1  # out/ does not exist: refused before reading the trajectory
    assert 'does not exist' in process.stderr and 'Traceback' not in process.stderr
    (tmp_path / 'out').mkdir()
    process = _descriptors_script([str(aa_run.xtc), '--topology', str(aa_run.tpr), '--settings', 'settings.json',
                                   '--output', 'out/descriptors'], tmp_path)
    assert process.returncode == 0, process.stderr
    assert 'mass density' in process.stdout
    summary = json.loads((tmp_path / 'out' / 'descriptors.json').read_text())
    with np.load(tmp_path / 'out' / 'descriptors.npz') as arrays:
        assert set(arrays.files) == {'r', 'g', 'g_error', 't', 'msd'}
        assert arrays['msd'].shape == (mapped.n_frames, 3)
        assert arrays['g_error'].shape == arrays['g'].shape and np.nanmax(arrays['g_error']) > 0
        g = arrays['g']
    assert not (tmp_path / 'out' / 'descriptors_error.json').exists()
    assert summary['units']['D'] == 'nm^2/ps'
    assert summary['units']['mass_density'] == 'kg/m^3'
    assert summary['units']['r'] == 'nm'
    assert summary['n_beads'] == N_MOLECULES
    assert summary['n_frames'] == mapped.n_frames
    assert summary['time_span'] == pytest.approx([0.0, PRODUCTION_PS])
    assert summary['diffusion']['fit_window'] == FIT_WINDOW
    assert summary['diffusion']['window_chosen'] == 'given'
    expected = compute_descriptors(mapped, fit_window=FIT_WINDOW)
    assert summary['mass_density'] == pytest.approx(expected.mass_density)
    assert summary['diffusion']['D'] == pytest.approx(expected.diffusion.D)
    np.testing.assert_allclose(g, expected.rdf.g)


def test_script_reports_missing_trajectory(aa_run, tmp_path):
    process = _descriptors_script([str(tmp_path / 'absent.xtc'), '--topology', str(aa_run.tpr)], tmp_path)
    assert process.returncode == 2
    error = json.loads((tmp_path / 'descriptors_error.json').read_text())
    assert error['kind'] == 'missing_file'
    assert 'absent.xtc' in error['message']
    assert not (tmp_path / 'descriptors.json').exists()


def test_script_reports_box_too_small(aa_run, mapped, tmp_path):
    r_max = round(half_box_width(mapped.dimensions) + 0.2, 2)
    (tmp_path / 'settings.json').write_text(json.dumps({'r_max': r_max}))
    process = _descriptors_script([str(aa_run.xtc), '--topology', str(aa_run.tpr), '--settings', 'settings.json',
                                   '--output', 'big'], tmp_path)
    assert process.returncode == 2
    error = json.loads((tmp_path / 'big_error.json').read_text())
    assert error['kind'] == 'box_too_small'
    assert f'r_max = {r_max} nm' in error['message']
    assert not (tmp_path / 'big.json').exists()


def test_script_on_cg_copies(mapped, cg_copies, tmp_path):
    """The script's CG path (every particle a bead): the same numbers as in-process; a dump needs --timestep."""
    (tmp_path / 'settings.json').write_text(json.dumps({'fit_window': FIT_WINDOW}))
    xtc, copy = cg_copies['xtc']
    process = _descriptors_script([str(xtc), '--bead-mass', str(mapped.bead_mass), '--settings', 'settings.json'],
                                  tmp_path)
    assert process.returncode == 0, process.stderr
    summary = json.loads((tmp_path / 'descriptors.json').read_text())
    expected = compute_descriptors(copy, fit_window=FIT_WINDOW)
    assert summary['diffusion']['D'] == pytest.approx(expected.diffusion.D)
    assert summary['mass_density'] == pytest.approx(expected.mass_density)

    dump, _ = cg_copies['lammps']
    process = _descriptors_script([str(dump), '--bead-mass', str(mapped.bead_mass), '--output', 'dump'], tmp_path)
    assert process.returncode == 1
    assert 'time step' in process.stderr and 'Traceback' not in process.stderr
    assert not (tmp_path / 'dump_error.json').exists()
