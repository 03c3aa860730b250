"""``cgmob.lammps.cg`` run for real (LAMMPS, 1 thread) on 256-bead Lennard-Jones liquids: physics, every exit code
that a real run can produce, continuation from restart files, and validation at the ports.

The potential is a 12-6 Lennard-Jones table (sigma 0.373 nm as methane, epsilon 2.5 kJ/mol so that 298 K is a
liquid; cut at 1.2 nm), the bead mass 16.04 g/mol, 13 beads/nm^3 (about 0 bar at 298 K).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node

from aiida_cgmob.calculations.lammps_cg import LammpsCgCalculation, cg_configuration_from_aa
from aiida_cgmob.data import PotentialData
from aiida_cgmob.lammps import parse_log
from aiida_cgmob.lammps.outputs import production_thermo, thermo_averages
from aiida_cgmob.potentials import lennard_jones
from aiida_cgmob.units import AVOGADRO

MASS = 16.04  # g/mol
SIGMA = 0.373  # nm
N_BEADS = 256
DENSITY = 13.0  # beads/nm^3
RESOURCES = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1}}
#: 5 ps equilibration + 20 ps production, a frame every 0.1 ps; about 1 s of LAMMPS
SHORT = {'equilibration': 5.0, 'production': 20.0, 'frame_interval': 0.1, 'thermo_interval': 0.25,
         'restart_interval': 5.0}
DESCRIPTOR_SETTINGS = {'fit_window': [1.0, 8.0], 'bin_width': 0.01}
_RUNS: dict[str, int] = {}  # runs shared by the tests of this module (the profile lives for the session)


def lj_potential(epsilon: float = 2.5, r_min: float = 0.3) -> PotentialData:
    r = np.linspace(r_min, 1.2, int(round((1.2 - r_min) / 0.001)) + 1)
    return PotentialData(lennard_jones(r, epsilon=epsilon, sigma=SIGMA, cutoff=1.2))


def cg_inputs(code, settings=None, descriptors_code=None, descriptor_settings=None, potential=None, start=None,
              **options) -> dict:
    inputs = {
        'code': code, 'potential': potential or lj_potential(), 'mass': orm.Float(MASS),
        'settings': orm.Dict({**SHORT, **(settings or {})}),
        'metadata': {'options': {**RESOURCES, **options}},
    }
    inputs.update(start if start is not None else {'n_beads': orm.Int(N_BEADS), 'number_density': orm.Float(DENSITY)})
    if descriptors_code is not None:
        inputs['descriptors'] = {'code': descriptors_code,
                                 'settings': orm.Dict(descriptor_settings or DESCRIPTOR_SETTINGS)}
    return inputs


def run_cg(code, **kwargs):
    return run_get_node(LammpsCgCalculation, **cg_inputs(code, **kwargs))


@pytest.fixture
def nvt_with_descriptors(lmp_code, descriptors_code):
    """An NVT run that computed its descriptors in the same job (run once per module)."""
    if 'nvt' not in _RUNS:
        _, node = run_cg(lmp_code, descriptors_code=descriptors_code)
        assert node.is_finished_ok, node.exit_message
        _RUNS['nvt'] = node.pk
    return orm.load_node(_RUNS['nvt'])


def test_nvt_run_thermodynamics_and_outputs(nvt_with_descriptors):
    node = nvt_with_descriptors
    thermo = node.outputs.thermo.get_dict()
    assert thermo['status'] == 'finished' and thermo['ensemble'] == 'nvt'
    assert thermo['last_step'] == thermo['total_steps'] == 5000  # 25 ps at 5 fs
    # Nose-Hoover keeps the target temperature: 256 beads fluctuate by ~5 %, the mean is within 2 %
    assert thermo['temperature_K'] == pytest.approx(298.15, rel=0.02)
    # the density LAMMPS reports is N m / V of the box, in kg/m^3
    box = node.outputs.final_configuration.get_array('box')
    expected = N_BEADS * MASS * 1e-3 / AVOGADRO / (np.prod(box) * 1e-27)
    assert thermo['density_kg_m3'] == pytest.approx(expected, rel=1e-5)
    assert np.prod(box) == pytest.approx(N_BEADS / DENSITY, rel=1e-6)
    assert thermo['n_samples'] == 80  # production rows after its first: 20 ps / 0.25 ps
    assert thermo['sampled_ps'] == pytest.approx([5.25, 25.0])
    assert np.isfinite(thermo['pressure_bar']) and thermo['pressure_bar_error'] > 0
    assert thermo['potential_energy_per_bead_kJ_mol'] < 0  # a liquid: the beads sit in each other's wells
    assert thermo['ns_per_day'] > 0 and thermo['wall_time_s'] is not None
    assert thermo['n_segments'] == 1 and thermo['n_warnings'] >= len(thermo['warnings'])
    positions = node.outputs.final_configuration.get_array('positions')
    assert positions.shape == (N_BEADS, 3) and np.all((positions >= 0) & (positions < box))
    # The trajectory and the restart files stay in the remote folder.
    retrieved = node.outputs.retrieved.base.repository.list_object_names()
    assert not any(name.endswith(('.xtc', '.restart')) for name in retrieved)
    remote = node.outputs.remote_folder.listdir()
    assert {'production.xtc', 'final.restart', 'restart.a', 'in.lammps', 'potential.table'} <= set(remote)
    # the input script is kept with the node; the table and the lattice are made from input nodes
    stored = node.base.repository.list_object_names()
    assert 'in.lammps' in stored and 'potential.table' not in stored and 'beads.data' not in stored
    script = node.base.repository.get_object_content('_aiidasubmit.sh')
    assert 'export OMP_NUM_THREADS=1' in script and "'-sf' 'omp' '-pk' 'omp' '1'" in script


def test_descriptors_in_the_same_job(nvt_with_descriptors):
    out = nvt_with_descriptors.outputs.descriptors
    thermo = nvt_with_descriptors.outputs.thermo
    r, g = out.rdf.get_x()[1], out.rdf.get_y()[0][1]
    # g(r): nothing inside the core, the first peak near the Lennard-Jones minimum 2^(1/6) sigma
    assert np.all(g[r < 0.8 * SIGMA] == 0)
    assert r[np.argmax(g)] == pytest.approx(2 ** (1 / 6) * SIGMA, abs=0.03)
    assert 1.8 < g.max() < 4.0 and g[-20:].mean() == pytest.approx(1.0, abs=0.1)
    diffusion = out.diffusion.get_dict()
    assert np.isfinite(diffusion['D']) and 0 < diffusion['D_si'] < 50
    # the whole production: 201 frames from 5 to 25 ps
    assert diffusion['n_frames'] == 201 and diffusion['time_span'] == pytest.approx([5.0, 25.0])
    assert out.mass.value == MASS
    assert out.density['n_beads'] == N_BEADS
    assert out.density['number_density'] == pytest.approx(DENSITY, rel=1e-5)
    assert out.density['mass_density'] == pytest.approx(thermo['density_kg_m3'], rel=1e-4)


def test_npt_barostat_reaches_the_target_pressure(lmp_code):
    """Start at 12 beads/nm^3 (about 0 bar), ask for 300 bar: the box shrinks until the pressure matches.

    A 256-bead box fluctuates by ~250 bar, so the average is compared within its block standard error.
    The density at 300 bar, about 372 kg/m^3, is where NVT runs of this potential give 300 bar."""
    start = {'n_beads': orm.Int(N_BEADS), 'number_density': orm.Float(12.0)}
    settings = {'ensemble': 'npt', 'pressure': 300.0, 'barostat_damping': 0.5, 'equilibration': 10.0}
    results, node = run_cg(lmp_code, settings=settings, start=start)
    assert node.is_finished_ok, node.exit_message
    thermo = results['thermo'].get_dict()
    assert thermo['ensemble'] == 'npt' and thermo['pressure_target_bar'] == 300.0
    assert thermo['volume_nm3'] < 0.95 * N_BEADS / 12.0  # the barostat compressed the box
    assert thermo['volume_nm3_std'] > 0
    assert abs(thermo['pressure_bar'] - 300.0) < max(3 * thermo['pressure_bar_error'], 100.0)
    assert thermo['density_kg_m3'] == pytest.approx(372.0, rel=0.05)
    assert thermo['temperature_K'] == pytest.approx(298.15, rel=0.03)


def test_unstable_integration_410(lmp_code):
    """30 fs is too long a step for this steep core: two beads get inside the table's inner cutoff."""
    _, node = run_cg(lmp_code, settings={'timestep': 0.03, 'frame_interval': 0.3})
    assert node.exit_status == LammpsCgCalculation.exit_codes.ERROR_UNSTABLE_INTEGRATION.status
    assert 'Pair distance < table inner cutoff' in node.exit_message
    assert node.outputs.thermo['status'] == 'failed'
    assert node.outputs.thermo['error'].startswith('ERROR')


def test_lammps_error_430_carries_the_error_line(lmp_code):
    """A run whose job deletes the table first: LAMMPS' own ERROR line becomes the message."""
    _, node = run_cg(lmp_code, prepend_text='rm -f potential.table')
    assert node.exit_status == LammpsCgCalculation.exit_codes.ERROR_ENGINE.status
    assert 'potential.table' in node.exit_message and 'ERROR' in node.exit_message


def test_no_log_310_missing_final_configuration_312_and_unreadable_313(lmp_code):
    _, node = run_cg(lmp_code, prepend_text='exit 0')
    assert node.exit_status == LammpsCgCalculation.exit_codes.ERROR_NO_OUTPUT.status
    assert 'LAMMPS wrote no log' in node.exit_message
    _, node = run_cg(lmp_code, append_text='rm -f final.data')
    assert node.exit_status == LammpsCgCalculation.exit_codes.ERROR_OUTPUT_MISSING.status
    assert 'final.data' in node.exit_message
    _, node = run_cg(lmp_code, append_text='rm -f log.lammps')  # it ran: a lost log, not "did not start"
    assert node.exit_status == LammpsCgCalculation.exit_codes.ERROR_OUTPUT_MISSING.status
    assert 'the log log.lammps: LAMMPS ran to the end' in node.exit_message
    _, node = run_cg(lmp_code, append_text='echo garbage > final.data')
    assert node.exit_status == LammpsCgCalculation.exit_codes.ERROR_OUTPUT_UNREADABLE.status
    assert 'final.data' in node.exit_message


def test_walltime_400_then_continuation_covers_the_whole_production(lmp_code, descriptors_code):
    """LAMMPS stops itself at 80 % of a 2 s wall time (timer timeout; the local scheduler would not kill it)
    and writes final.restart there; a continuation from the remote folder finishes the production, and its
    descriptors and averages span all of it: the frames of the first job are linked in, not lost."""
    settings = {'equilibration': 2.0, 'production': 100.0}
    _, first = run_cg(lmp_code, settings=settings, descriptors_code=descriptors_code, max_wallclock_seconds=2)
    assert first.exit_status == LammpsCgCalculation.exit_codes.ERROR_OUT_OF_WALLTIME.status, first.exit_message
    assert 'wall-time limit' in first.exit_message
    thermo = first.outputs.thermo
    assert thermo['status'] == 'interrupted' and 0 < thermo['last_step'] < thermo['total_steps'] == 20400
    assert 'final.restart' in first.outputs.remote_folder.listdir()
    assert 'timer timeout 1 every 100' in first.base.repository.get_object_content('in.lammps')

    inputs = cg_inputs(lmp_code, settings=settings, descriptors_code=descriptors_code,
                       start={'parent_folder': first.outputs.remote_folder})
    results, second = run_get_node(LammpsCgCalculation, **inputs)
    assert second.is_finished_ok, second.exit_message
    remote = second.outputs.remote_folder.listdir()
    assert 'parent1.final.restart' in remote and 'beads.data' not in remote
    script = second.base.repository.get_object_content('_aiidasubmit.sh')
    assert 'discarded incomplete restart file parent1.restart.a' in script  # the check runs before lmp
    log = parse_log(second.outputs.retrieved.base.repository.get_object_content('log.lammps'))
    # LAMMPS went on from the step the first job reached
    assert log.runs[0].columns['Step'][0] == thermo['last_step']
    diffusion = results['descriptors']['diffusion'].get_dict()
    assert diffusion['time_span'] == pytest.approx([2.0, 102.0])
    assert diffusion['n_frames'] == 1001  # every frame once: the repeated ones of the first job dropped
    final = results['thermo'].get_dict()
    assert final['n_segments'] == 2 and final['sampled_ps'] == pytest.approx([2.25, 102.0])
    assert final['n_samples'] == 400


def test_continuation_without_restart_file_405(lmp_code, aiida_code_installed, lmp_executable, tmp_path):
    """A job killed (SIGKILL, as a scheduler does) before its first restart file: nothing to continue from."""
    wrapper = killing_lmp_wrapper(tmp_path, lmp_executable, [300])  # in the equilibration
    killed = aiida_code_installed(label='lmp-killed-at-300', filepath_executable=str(wrapper))
    settings = {'equilibration': 2.0, 'production': 500.0, 'restart_interval': 500.0}
    _, first = run_cg(killed, settings=settings)
    assert first.exit_status == LammpsCgCalculation.exit_codes.ERROR_OUT_OF_WALLTIME.status
    assert 'killed' in first.exit_message
    _, second = run_cg(lmp_code, settings=settings, start={'parent_folder': first.outputs.remote_folder})
    assert second.exit_status == LammpsCgCalculation.exit_codes.ERROR_NO_RESTART_FILE.status
    assert 'no restart file to continue from' in second.exit_message


def test_start_from_an_all_atom_frame(lmp_code, aiida_profile):
    """100 3-methylpentane molecules (as cgmob.gromacs would start from): one bead per molecule at its centre
    of mass, with the molecular mass, and a CG run from there."""
    from aiida_cgmob.calculations.functions import build_liquid

    liquid = build_liquid(orm.Str('3MePe'), orm.Int(100), orm.Float(600.0), orm.Int(0))
    mapped = cg_configuration_from_aa(liquid['structure'], liquid['topology'])
    configuration, mass = mapped['configuration'], mapped['mass']
    assert mass.value == pytest.approx(6 * 12.011 + 14 * 1.008, abs=0.01)
    assert configuration.get_array('positions').shape == (100, 3)
    box = configuration.get_array('box')
    assert 100 * mass.value * 1e-3 / AVOGADRO / (np.prod(box) * 1e-27) == pytest.approx(600.0, rel=0.01)
    assert configuration.creator.inputs.structure.uuid == liquid['structure'].uuid  # provenance

    inputs = cg_inputs(lmp_code, settings={'equilibration': 1.0, 'production': 2.0}, start={'configuration':
                       configuration})
    inputs['mass'] = mass
    _, node = run_get_node(LammpsCgCalculation, **inputs)
    assert node.is_finished_ok, node.exit_message
    assert node.outputs.thermo['n_beads'] == 100


# ----------------------------------------------------------------------------------------- validation at the ports


@pytest.mark.parametrize('port, value, message', [
    ('mass', -16.0, r'mass must be > 0 g/mol \(bead mass\), got -16.0'),
    ('settings', {'timestep': -0.005}, 'timestep must be a number > 0, got -0.005'),
    ('settings', {'ensemble': 'nve'}, "ensemble must be one of .* got 'nve'"),
    ('settings', {'tempertaure': 300}, r"unknown LAMMPS CG settings \['tempertaure'\]"),
    ('settings', {'production': 0.1}, 'production = 0.1 ps gives fewer than 2 frames at frame_interval = 0.5 ps'),
    ('n_beads', 1, 'n_beads must be > 1 beads, got 1'),
    ('number_density', 0.0, r'number_density must be > 0 beads/nm\^3, got 0.0'),
    ('n_beads', 50, r'cutoff 1.2 nm exceeds half the box \(0.78.. nm for 50 beads at 13 nm\^-3\)'),
])
def test_bad_input_is_refused_at_the_port(lmp_code, port, value, message):
    inputs = cg_inputs(lmp_code)
    kinds = {'mass': orm.Float, 'settings': orm.Dict, 'n_beads': orm.Int, 'number_density': orm.Float}
    inputs[port] = kinds[port](value)
    with pytest.raises(ValueError, match=message):
        run_get_node(LammpsCgCalculation, **inputs)


def test_starting_points_are_exclusive_and_complete(lmp_code):
    configuration = orm.ArrayData()
    configuration.set_array('positions', np.zeros((3, 3)))
    configuration.set_array('box', np.full(3, 3.0))
    for start, message in (
            ({'n_beads': orm.Int(256)}, 'number_density is missing'),
            ({}, 'give exactly one starting point.*got none'),
            ({'n_beads': orm.Int(256), 'number_density': orm.Float(13.0), 'configuration': configuration},
             'got lattice, configuration'),
    ):
        with pytest.raises(ValueError, match=message):
            run_get_node(LammpsCgCalculation, **cg_inputs(lmp_code, start=start))
    configuration = orm.ArrayData()
    configuration.set_array('positions', np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r'configuration: needs arrays "positions" \(N, 3\) and "box"'):
        run_get_node(LammpsCgCalculation, **cg_inputs(lmp_code, start={'configuration': configuration}))


def test_bad_continuations_and_computers_are_refused(lmp_code, descriptors_code, aiida_computer_local,
                                                     aiida_code_installed, nvt_with_descriptors):
    orphan = orm.RemoteData(computer=lmp_code.computer, remote_path='/tmp')
    with pytest.raises(ValueError, match='was not made by a calculation'):
        run_get_node(LammpsCgCalculation, **cg_inputs(lmp_code, start={'parent_folder': orphan}))
    parent = nvt_with_descriptors.outputs.remote_folder
    with pytest.raises(ValueError, match=r'settings.timestep = 0.0025 differs from 0.005'):
        run_get_node(LammpsCgCalculation, **cg_inputs(lmp_code, settings={'timestep': 0.0025},
                                                      start={'parent_folder': parent}))
    inputs = cg_inputs(lmp_code, start={'parent_folder': parent})
    inputs['mass'] = orm.Float(20.0)
    with pytest.raises(ValueError, match='mass = 20.0 g/mol differs from 16.04'):
        run_get_node(LammpsCgCalculation, **inputs)
    with pytest.raises(ValueError, match='is not the potential'):
        run_get_node(LammpsCgCalculation, **cg_inputs(lmp_code, potential=lj_potential(epsilon=2.0),
                                                      start={'parent_folder': parent}))
    elsewhere = aiida_code_installed(label='cgmob-descriptors-elsewhere', computer=aiida_computer_local(),
                                     filepath_executable='/bin/true')
    with pytest.raises(ValueError, match=r"descriptors.code is on computer .* but code 'lmp@localhost' runs on"):
        run_get_node(LammpsCgCalculation, **cg_inputs(lmp_code, descriptors_code=elsewhere))


# ------------------------------------------------------------------------------------------ log parsing (kernel)

LOG = """LAMMPS (22 Jul 2025 - Update 4)
minimize 1.0e-4 1.0e-6 1000 10000
  Step Time Temp Press PotEng KinEng TotEng Volume Density
  0 0 0 587.9 -268.8 0 -268.8 21333.333 0.31962053
  30 150 0 -438.0 -462.3 0 -462.3 21333.333 0.31962053
Loop time of 0.129346 on 1 procs for 30 steps with 256 atoms
reset_timestep 0
run 400
  Step Time Temp Press PotEng KinEng TotEng Volume Density
  0 0 298.15 47.6 -462.3 226.6 -235.7 21333.333 0.31962053
  400 2000 303.8 1055.7 -259.5 230.9 -28.5 21333.333 0.31962053
Loop time of 0.0916522 on 1 procs for 400 steps with 256 atoms

Performance: 1885.389 ns/day, 0.013 hours/ns, 4364.326 timesteps/s, 1.117 Matom-step/s
dump trajectory all xtc 20 production.xtc
run 2400 upto
  Step Time Temp Press PotEng KinEng TotEng Volume Density
  400 2000 303.8 1055.7 -259.5 230.9 -28.5 21333.333 0.31962053
  500 2500 300.0 100.0 -260.0 230.0 -30.0 21333.333 0.31962053
  600 3000 296.0 300.0 -261.0 226.0 -35.0 21333.333 0.31962053
WARNING: Wall time limit reached (src/src/timer.cpp:201)
Loop time of 0.86 on 1 procs for 240 steps with 256 atoms

Performance: 1932.111 ns/day, 0.012 hours/ns, 4472.480 timesteps/s, 1.145 Matom-step/s
write_restart final.restart
Total wall time: 0:01:02
"""

CONTINUATION = """LAMMPS (22 Jul 2025 - Update 4)
run 2400 upto
  Step Time Temp Press PotEng KinEng TotEng Volume Density
  640 3200 298.0 200.0 -262.0 227.0 -35.0 21333.333 0.31962053
  700 3500 298.0 400.0 -263.0 227.0 -36.0 21333.333 0.31962053
Loop time of 0.5 on 1 procs for 60 steps with 256 atoms
Total wall time: 0:00:01
"""


def test_log_of_a_timed_out_run():
    log = parse_log(LOG)
    assert [table.kind for table in log.runs] == ['minimize', 'run', 'run']
    assert log.timed_out and log.completed and log.trajectory_opened
    # no thermo line at the step where the timer stopped the run: the loop count says where it was
    assert log.last_step == 640 and log.runs[-1].columns['Step'][-1] == 600
    assert log.wall_seconds == 62.0 and log.performance_ns_day[-1] == pytest.approx(1932.111)
    # a warning printed during a run does not end its thermo table
    lines = LOG.splitlines()
    at = lines.index(next(line for line in lines if line.strip().startswith('500 ')))
    log = parse_log('\n'.join([*lines[:at], 'WARNING: Dangerous builds', *lines[at:]]))
    assert log.runs[-1].columns['Step'].tolist() == [400, 500, 600] and log.warnings[0] == 'Dangerous builds'


def test_production_rows_of_a_run_and_its_continuation():
    """Rows after the equilibration (step 400); the first log's rows from the continuation's first step on
    would be counted twice and are dropped; the minimisation's steps are not MD steps."""
    series = production_thermo([parse_log(LOG), parse_log(CONTINUATION)], first_step=400)
    assert series['Step'].tolist() == [500, 600, 640, 700]
    averages = thermo_averages(series)
    assert averages['pressure_bar'] == pytest.approx(np.mean([100, 300, 200, 400]) * 1.01325)
    assert averages['potential_energy_kJ_mol'] == pytest.approx(np.mean([-260, -261, -262, -263]) * 4.184)
    assert averages['density_kg_m3'] == pytest.approx(319.62053) and averages['n_samples'] == 4
    assert production_thermo([parse_log(LOG)], first_step=5000) == {}


#: a production in segments (inputs.production_commands): each table starts with the row the one before ended with
SEGMENTED = """run 1200 upto post no every 400 "undump trajectory" "shell cat pending.xtc >> production.xtc"
  Step Time Temp Press PotEng KinEng TotEng Volume Density
  400 2000 303.8 1055.7 -259.5 230.9 -28.5 21333.333 0.31962053
  600 3000 296.0 300.0 -261.0 226.0 -35.0 21333.333 0.31962053
  800 4000 298.0 100.0 -262.0 227.0 -35.0 21333.333 0.31962053
Loop time of 0.1 on 1 procs for 400 steps with 256 atoms
undump trajectory
write_restart restart.b
  Step Time Temp Press PotEng KinEng TotEng Volume Density
  800 4000 298.0 100.0 -262.0 227.0 -35.0 21333.333 0.31962053
  1000 5000 299.0 200.0 -263.0 228.0 -35.0 21333.333 0.31962053
  1200 6000 297.0 400.0 -264.0 226.0 -38.0 21333.333 0.31962053
Loop time of 0.1 on 1 procs for 400 steps with 256 atoms
"""


def test_production_rows_of_segments_are_counted_once():
    """The row at a segment boundary is in both tables; it is one sample."""
    log = parse_log(SEGMENTED)
    assert len(log.runs) == 2 and log.last_step == 1200
    series = production_thermo([log], first_step=400)
    assert series['Step'].tolist() == [600, 800, 1000, 1200]
    assert thermo_averages(series)['n_samples'] == 4

def test_continuation_reads_the_restart_file_with_the_largest_step(tmp_path, lmp_executable):
    """Kernel, real LAMMPS: of several candidate restart files (copies, so their file times say nothing) the one
    holding the largest step is read; names that do not exist are skipped; none at all is an ERROR line."""
    import os
    import shutil

    from aiida_cgmob.lammps import LammpsError, lattice_configuration, prepare_run, run_lammps

    potential = lj_potential().potential
    # every 200 steps, alternating: restart.a at steps 200, 600, ... 5000 (the last), restart.b at 400, ... 4800
    settings = {**SHORT, 'restart_interval': 1.0}
    first = tmp_path / 'first'
    prepare_run(first, potential, MASS, settings, configuration=lattice_configuration(N_BEADS, DENSITY))
    run_lammps(first, lmp_executable)
    second = tmp_path / 'second'
    second.mkdir()
    shutil.copy(first / 'restart.b', second / 'older')
    shutil.copy(first / 'restart.a', second / 'newer')
    os.utime(second / 'newer', (1e9, 1e9))  # the newer state gets the older file time
    prepare_run(second, potential, MASS, {**settings, 'production': 25.0}, restart_from=['missing', 'older', 'newer'])
    log = run_lammps(second, lmp_executable)
    assert log.runs[0].columns['Step'][0] == 5000 and log.last_step == 6000
    text = (second / 'log.lammps').read_text()  # the steps LAMMPS found in the two files
    assert 'variable restart_step_1 equal 4800' in text and 'variable restart_step_2 equal 5000' in text
    third = tmp_path / 'third'
    third.mkdir()
    prepare_run(third, potential, MASS, settings, restart_from=['missing', 'also-missing'])
    with pytest.raises(LammpsError, match='no restart file to continue from'):
        run_lammps(third, lmp_executable)


def test_restart_files_cut_short_by_a_kill_are_not_candidates(tmp_path, lmp_executable):
    """A job killed while LAMMPS writes a restart file leaves it without its end marker: read_restart would stop
    with 'Incomplete or corrupted LAMMPS restart file'.  newest_restart passes it over; in a job, the shell lines
    of discard_incomplete_restarts delete such copies before LAMMPS starts."""
    import subprocess

    from aiida_cgmob.lammps import lattice_configuration, newest_restart, prepare_run, run_lammps
    from aiida_cgmob.lammps.outputs import discard_incomplete_restarts, restart_is_whole

    run = tmp_path / 'run'
    prepare_run(run, lj_potential().potential, MASS, {**SHORT, 'restart_interval': 1.0},
                configuration=lattice_configuration(N_BEADS, DENSITY))
    run_lammps(run, lmp_executable)
    assert all(restart_is_whole(run / name) for name in ('restart.a', 'restart.b', 'final.restart'))
    whole = (run / 'restart.a').read_bytes()
    (run / 'final.restart').write_bytes(whole[: len(whole) // 2])  # killed halfway through writing it
    (run / 'restart.b').write_bytes(whole[:-1])
    assert not restart_is_whole(run / 'final.restart') and not restart_is_whole(run / 'restart.b')
    assert newest_restart(run) == run / 'restart.a'
    script = discard_incomplete_restarts(['final.restart', 'restart.a', 'restart.b', 'missing'])
    done = subprocess.run(['bash', '-c', script], cwd=run, capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == ''
    assert done.stdout.split('\n')[:2] == ['discarded incomplete restart file final.restart',
                                           'discarded incomplete restart file restart.b']
    assert (run / 'restart.a').exists() and not (run / 'restart.b').exists() and not (run / 'final.restart').exists()


# ------------------------------------------------------------------------ jobs killed at chosen steps (kernel)

#: A stand-in for ``lmp`` that a scheduler kills with SIGKILL at chosen MD steps, one step per call, read from a
#: JSON list in the file __PLAN__ (null or an empty list: run to the end).  The input is rewritten so that LAMMPS
#: halts at that step and, before any further command (a production segment's closing commands included),
#: freezes in a shell sleep; the wrapper then kills the whole process group.  What is on disk is what a kill
#: right after that step leaves: buffered output lost, no final restart file.  No wall-clock timing involved.
KILLING_LMP = r'''#!__PYTHON__
import json, os, re, signal, subprocess, sys, time
from pathlib import Path

plan = Path('__PLAN__')
steps = json.loads(plan.read_text())
step = steps.pop(0) if steps else None
plan.write_text(json.dumps(steps))
args = sys.argv[1:]
if step is not None:
    script = Path(args[args.index('-in') + 1])
    freeze = f"if '$(step) >= {step}' then 'shell touch __MARKER__' 'shell sleep 600'"
    lines = []
    for line in script.read_text().splitlines():
        if line.startswith('fix integrate '):
            lines += [f'variable cgmob_kill equal step>={step}',
                      'fix cgmob_kill all halt 1 v_cgmob_kill > 0.5 error continue message no']
        runs = line.startswith('run ') or '"run ' in line
        if runs and ' every ' in line:  # the freeze goes first among the commands that end a segment
            line = re.sub(r' every (\d+) ', lambda match: f' every {match[1]} "{freeze}" ', line, count=1)
        lines.append(line)
        if runs and ' every ' not in line:
            lines.append(freeze.replace("'", '"'))
    killed = script.with_name(script.name + '.killed')
    killed.write_text('\n'.join(lines) + '\n')
    args[args.index('-in') + 1] = killed.name
lammps = subprocess.Popen(['__LMP__', *args], start_new_session=True)
while lammps.poll() is None:
    if Path('__MARKER__').exists():
        os.killpg(lammps.pid, signal.SIGKILL)
        lammps.wait()
        sys.exit(137)
    time.sleep(0.01)
sys.exit(lammps.returncode)
'''


def killing_lmp_wrapper(directory, lmp_executable: str, kill_steps: list) -> Path:
    """Write the wrapper KILLING_LMP into ``directory``: its k-th call is killed at ``kill_steps[k]``."""
    import json
    import sys

    plan = directory / 'kill_steps.json'
    plan.write_text(json.dumps(list(kill_steps)))
    wrapper = directory / 'lmp-killed-at-steps'
    wrapper.write_text(KILLING_LMP.replace('__PYTHON__', sys.executable).replace('__PLAN__', str(plan))
                       .replace('__LMP__', lmp_executable).replace('__MARKER__', 'killed-by-test'))
    wrapper.chmod(0o755)
    return wrapper


#: 2 ps equilibration (400 steps) + 6 ps production (to step 1600): a frame every 20 steps, a restart file every
#: 200 (the first during the equilibration)
KILLED = {**SHORT, 'equilibration': 2.0, 'production': 6.0, 'restart_interval': 1.0}

#: where jobs are killed (one step per job; the last job runs to the end) -> the step each continuation starts at
KILL_POINTS = {
    'right after a restart file': ([601], [600]),
    'at a restart step, before its frames are closed and its file written': ([600], [400]),
    'right after a frame': ([620], [600]),
    'right before a frame': ([639], [600]),
    'in the equilibration, after its first restart file': ([300], [200]),
    'twice before a new restart file: the one of the job before is read': ([601, 700], [600, 600]),
    'just before the last step': ([1599], [1400]),
}


@pytest.mark.parametrize('kill_steps, starts', KILL_POINTS.values(), ids=KILL_POINTS.keys())
def test_a_run_killed_at_any_step_continues_into_the_frames_of_an_uninterrupted_run(tmp_path, lmp_executable,
                                                                                     kill_steps, starts):
    """Kernel, real LAMMPS: jobs SIGKILLed at chosen steps, each continued (as the CalcJob does) from the restart
    files of the last three jobs, the one with the largest step read.  LAMMPS buffers its xtc output: a restart
    file written while frames before its step were still in the buffer made their loss permanent, and the
    joined trajectory had a gap (intervals 0.1 and 0.2 ps).  Now the joined frames are those of an uninterrupted
    run, each once."""
    import shutil

    from aiida_cgmob.analysis import read_beads
    from aiida_cgmob.lammps import LammpsError, lattice_configuration, prepare_run, read_log, run_lammps
    from aiida_cgmob.lammps.inputs import FINAL_RESTART, RESTART_NAMES
    from aiida_cgmob.lammps.outputs import restart_is_whole

    potential = lj_potential().potential
    configuration = lattice_configuration(N_BEADS, DENSITY)
    reference = tmp_path / 'uninterrupted'
    prepare_run(reference, potential, MASS, KILLED, configuration=configuration)
    run_lammps(reference, lmp_executable)
    expected = read_beads(reference / 'production.xtc', MASS).times
    assert len(expected) == 61 and expected[0] == pytest.approx(2.0) and expected[-1] == pytest.approx(8.0)

    wrapper = killing_lmp_wrapper(tmp_path, lmp_executable, kill_steps)
    jobs = []
    for k in range(len(kill_steps) + 1):
        job = tmp_path / f'job{k}'
        if k == 0:
            prepare_run(job, potential, MASS, KILLED, configuration=configuration)
        else:
            job.mkdir()
            candidates = []
            for generation, earlier in enumerate(jobs[::-1][:3], start=1):
                for name in (FINAL_RESTART, *RESTART_NAMES):
                    if restart_is_whole(earlier / name):
                        candidates.append(f'parent{generation}.{name}')
                        shutil.copy(earlier / name, job / candidates[-1])
            prepare_run(job, potential, MASS, KILLED, restart_from=candidates)
        jobs.append(job)
        if k < len(kill_steps):
            with pytest.raises(LammpsError):
                run_lammps(job, str(wrapper))
            assert (job / 'killed-by-test').exists() and not (job / FINAL_RESTART).exists()
        else:
            run_lammps(job, str(wrapper))
    assert [int(read_log(job / 'log.lammps').runs[0].columns['Step'][0]) for job in jobs[1:]] == starts

    segments = [job / 'production.xtc' for job in jobs if (job / 'production.xtc').exists()]
    joined = read_beads(segments, MASS)
    np.testing.assert_array_equal(joined.times, expected)  # the same float32 times, each once
