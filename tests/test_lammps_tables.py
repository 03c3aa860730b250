"""LAMMPS itself reads the tables the package writes for its runs: no 'inconsistent with -dE/dr' warning, and the
energies and forces LAMMPS computes (``pair_write``, a frozen liquid's energy and pressure) are the potential's own;
a table written elsewhere (VOTCA, not shifted), which LAMMPS accepts with that warning, runs once shifted.

Real ``lmp`` runs of 256 beads, a second or two each.  LAMMPS units real: Å, kcal/mol, atm.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from potential_tables import (
    EPSILON_LIQUID,
    SIGMA,
    lammps_flagged,
    noisy_ibi_potential,
    read_like_lammps,
    votca_lammps_table,
)

from aiida_cgmob.lammps import lattice_configuration, prepare_run, run_lammps
from aiida_cgmob.lammps.inputs import read_data
from aiida_cgmob.potentials import energy_to_real, force_to_real, lennard_jones, read_lammps_table

MASS = 16.04  # g/mol
DENSITY = 13.0  # beads/nm^3
#: 1 ps equilibration and 2 ps production at 5 fs after the minimisation: a liquid configuration in ~1 s
SHORT = {'equilibration': 1.0, 'production': 2.0, 'frame_interval': 0.5, 'thermo_interval': 0.5,
         'restart_interval': 1.0}
WARNING = 'inconsistent with -dE/dr'
NKTV2P = 68568.415  # LAMMPS units real: pressure in atm from kcal/mol/Å^3


def potentials() -> dict:
    return {'noisy_ibi': noisy_ibi_potential(),
            'lennard_jones': lennard_jones(np.linspace(0.3, 1.2, 901), epsilon=EPSILON_LIQUID, sigma=SIGMA)}


def run_script(directory: Path, lmp: str, script: str) -> str:
    """Run a LAMMPS script in ``directory``; its log."""
    (directory / 'in.check').write_text(script)
    completed = subprocess.run([lmp, '-in', 'in.check', '-log', 'log.check', '-screen', 'none', '-nocite'],
                               cwd=directory, capture_output=True, text=True, timeout=120)
    log = (directory / 'log.check').read_text()
    assert completed.returncode == 0, log[-2000:]
    return log


def pair_write(directory: Path, lmp: str, table: str, keyword: str, r_a: tuple[float, float], n: int = 3000):
    """(r Å, E kcal/mol, F kcal/mol/Å) that LAMMPS computes with ``pair_style table linear 2000`` from ``table``."""
    log = run_script(directory, lmp, f"""units real
atom_style atomic
region box block 0 40 0 40 0 40
create_box 1 box
mass 1 {MASS}
pair_style table linear 2000
pair_coeff 1 1 {table} {keyword}
pair_write 1 1 {n} r {r_a[0]} {r_a[1]} pair_write.table PW
""")
    data = np.loadtxt(directory / 'pair_write.table', skiprows=5)
    return data[:, 1], data[:, 2], data[:, 3], log


@pytest.mark.parametrize('name', ['noisy_ibi', 'lennard_jones'])
def test_run_tables_give_no_force_warning(tmp_path, lmp_executable, name):
    """The table of a real run (prepare_run, run_lammps): LAMMPS does not warn.  The first release's writer made
    LAMMPS warn for both (54 of 121 values of the noisy IBI potential; 1 of 901 for LJ, at its inflection point)."""
    potential = potentials()[name]
    prepare_run(tmp_path, potential, MASS, settings=SHORT, configuration=lattice_configuration(256, DENSITY))
    run_lammps(tmp_path, lmp=lmp_executable)
    log = (tmp_path / 'log.lammps').read_text()
    assert 'pair_style table linear 2000' in log
    assert WARNING not in log and 'distance values' not in log
    r, energy, force = read_like_lammps(tmp_path / 'potential.table')
    assert r.size == 2000 and lammps_flagged(r, energy, force) == 0


def test_lammps_computes_the_potential_itself(tmp_path, lmp_executable):
    """What LAMMPS makes of the run's table is the potential (its cubic Hermite interpolation): pair energies and
    forces (pair_write), and the energy and virial pressure of a frozen liquid equal sums over pairs in Python."""
    potential = noisy_ibi_potential()
    prepare_run(tmp_path, potential, MASS, settings=SHORT, configuration=lattice_configuration(256, DENSITY))
    run_lammps(tmp_path, lmp=lmp_executable)

    r, energy, force, _ = pair_write(tmp_path, lmp_executable, 'potential.table', 'CG', (3.3, 11.99))
    u, f = potential(r / 10)
    u, f = energy_to_real(u), force_to_real(f)
    scale = np.sqrt(np.mean(f ** 2))  # 3.5 kcal/mol/A over 3.3-12 A
    # linear interpolation in r^2 between 2000 points: rms 0.0095 kcal/mol/A, max 0.0034 kcal/mol (the first
    # release's table: 0.13 and 0.035)
    assert np.sqrt(np.mean((force - f) ** 2)) < 0.02 * scale
    assert np.max(np.abs(energy - u)) < 0.01  # kcal/mol

    configuration, _ = read_data(tmp_path / 'final.data')
    log = run_script(tmp_path, lmp_executable, """units real
atom_style atomic
read_data final.data
pair_style table linear 2000
pair_coeff 1 1 potential.table CG 12.0
velocity all set 0.0 0.0 0.0
thermo_style custom step pe press
thermo_modify norm no
run 0
print "FROZEN $(pe:%.10e) $(press:%.10e)"
""")
    pe, press = (float(x) for x in re.search(r'^FROZEN (\S+) (\S+)$', log, re.M).groups())
    positions, box = configuration.positions, configuration.box
    i, j = np.triu_indices(len(positions), k=1)
    delta = positions[i] - positions[j]
    distance = np.linalg.norm(delta - box * np.round(delta / box), axis=1)
    near = distance < potential.cutoff
    u_pairs, f_pairs = potential(distance[near])
    expected_pe = energy_to_real(np.sum(u_pairs))  # kcal/mol
    virial = np.sum(distance[near] * 10 * force_to_real(f_pairs))  # kcal/mol
    volume = np.prod(box * 10)  # A^3
    expected_press = virial / (3 * volume) * NKTV2P  # atm, no kinetic part
    repulsion = np.sum((distance[near] * 10 * force_to_real(f_pairs))[f_pairs > 0]) / (3 * volume) * NKTV2P
    # measured: pe -678.20 vs -678.23 kcal/mol, pressure -319.9 vs -321.1 atm (repulsive part 8100 atm), the
    # error of LAMMPS' linear interpolation between 2000 points (0.01 atm with 20000); the first release's
    # table gave +0.48 kcal/mol and +73 atm
    assert pe == pytest.approx(expected_pe, abs=0.1)
    assert press == pytest.approx(expected_press, abs=5e-4 * repulsion)


def test_a_shifted_foreign_table_runs_with_its_own_forces(tmp_path, lmp_executable):
    """A VOTCA-made table (U(r_c) != 0, forces 1 % off -dE/dr): LAMMPS runs it as it is, warning; read with
    shift=True it runs through the package without the warning and with the forces LAMMPS gets from the file."""
    votca_lammps_table(tmp_path / 'CG-CG.table')
    raw = tmp_path / 'raw'
    raw.mkdir()
    (raw / 'CG-CG.table').write_text((tmp_path / 'CG-CG.table').read_text())
    r_file, e_file, f_file, log = pair_write(raw, lmp_executable, 'CG-CG.table', 'VOTCA', (3.2, 11.99))
    assert re.search(r'WARNING: \d+ of 91 force values in table VOTCA are inconsistent with -dE/dr', log)

    potential = read_lammps_table(tmp_path / 'CG-CG.table', 'VOTCA', shift=True)
    run = tmp_path / 'run'
    prepare_run(run, potential, MASS, settings=SHORT, configuration=lattice_configuration(256, DENSITY))
    lammps_log = run_lammps(run, lmp=lmp_executable)
    assert lammps_log.completed and WARNING not in (run / 'log.lammps').read_text()
    r, energy, force, log = pair_write(run, lmp_executable, 'potential.table', 'CG', (3.2, 11.99))
    assert WARNING not in log
    np.testing.assert_allclose(r, r_file)
    shift = energy_to_real(potential.treatment['energy_shift_kJ_mol'])  # kcal/mol
    assert np.max(np.abs(energy - (e_file + shift))) < 2e-3  # kcal/mol: the same energies, shifted
    # forces: LAMMPS' spline through the file's forces and our Hermite interpolation agree to the file's noise
    assert np.sqrt(np.mean((force - f_file) ** 2)) < 0.01 * np.sqrt(np.mean(f_file ** 2))


def test_a_cutoff_with_many_digits_runs(tmp_path, lmp_executable):
    """pair_coeff prints the cutoff as the table header prints rhi: the first release printed 12.34567891 for a
    1.23456789051 nm cutoff against rhi = 12.345678905 and LAMMPS stopped ('Pair table cutoff outside of table')."""
    potential = lennard_jones(np.linspace(0.3, 1.3, 1001), epsilon=EPSILON_LIQUID, sigma=SIGMA, cutoff=1.23456789051)
    prepare_run(tmp_path, potential, MASS, settings=SHORT, configuration=lattice_configuration(256, DENSITY))
    assert run_lammps(tmp_path, lmp=lmp_executable).completed
    assert 'pair_coeff 1 1 potential.table CG 1.2345678905e+01' in (tmp_path / 'in.lammps').read_text()
