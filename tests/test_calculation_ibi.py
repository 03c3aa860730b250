"""``cgmob.ibi`` and ``cgmob.ibi.base`` run for real: cgmob-ibi + LAMMPS on 200 Lennard-Jones beads.

The target is the g(r) of LAMMPS with a known tabulated potential (methane-like 12-6 LJ, 12 beads/nm^3,
T* = 2: a dense fluid), so every inversion here can be checked against the potential that made it.
Iterations are 2 ps + 8 ps at 4 fs on one thread (about a second each).
"""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node

from aiida_cgmob.calculations.ibi import IbiCalculation
from aiida_cgmob.data import PotentialData
from aiida_cgmob.potentials import lennard_jones
from aiida_cgmob.workchains.ibi_base import IbiBaseWorkChain, descriptor_outputs, ibi_inputs_from_descriptors

BIN = Path(sys.executable).parent
MASS, DENSITY, N_BEADS, CUTOFF = 16.04, 12.0, 200, 1.0
LAMMPS_SETTINGS = {'timestep': 0.004, 'equilibration': 2.0, 'production': 8.0, 'frame_interval': 0.1,
                   'thermo_interval': 0.4, 'restart_interval': 8.0}
#: -kT ln g as the first guess is far off (RMS ~0.1): one iterative-HNC step brings it to ~0.03, below 0.06
SETTINGS = {'cutoff': CUTOFF, 'initial_guess': 'pmf', 'max_iterations': 3, 'tolerance': 0.06,
            'descriptor_settings': {'fit_window': [0.5, 3.0]}}
OPTIONS = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1}, 'threads': 1}
_NODES: dict[str, int] = {}  # nodes shared by the tests of this module (the profile lives for the session)

#: cgmob-ibi stopped from outside right after its first checkpoint, as a scheduler does at the wall time
#: (the whole process group: the script and its LAMMPS); a continuation (checkpoint present) runs normally
KILLED_AFTER_FIRST_CHECKPOINT = """#!/bin/bash
if [ -f ibi_state.json ]; then exec {script} "$@"; fi
set -m
{script} "$@" &
pid=$!
while [ ! -f ibi_state.json ] && kill -0 $pid 2>/dev/null; do sleep 0.02; done
kill -KILL -- -$pid
wait $pid
"""

#: cgmob-ibi with a bug after its loop: the checkpoint exists, but this must not pass for a wall-time stop
CRASHING_AFTER_THE_LOOP = """#!/bin/bash
exec {python} -c "import sys; from aiida_cgmob.ibi import driver; driver.IbiRun._finish = None; \\
from aiida_cgmob.ibi.cli import main; sys.exit(main(sys.argv[1:]))" "$@"
"""


@pytest.fixture(scope='module')
def lj_target_arrays(tmp_path_factory):
    """r (nm) and g of a real LAMMPS run with the tabulated LJ potential (2 + 24 ps, a frame every 0.1 ps)."""
    from aiida_cgmob.analysis.descriptors import radial_distribution
    from aiida_cgmob.analysis.trajectory import read_beads
    from aiida_cgmob.lammps import lattice_configuration, prepare_run, run_lammps
    from aiida_cgmob.lammps.inputs import TRAJECTORY_NAME

    directory = tmp_path_factory.mktemp('lj_target')
    prepare_run(directory, lj_potential(), MASS, {**LAMMPS_SETTINGS, 'production': 24.0},
                configuration=lattice_configuration(N_BEADS, DENSITY, seed=3))
    run_lammps(directory, str(BIN / 'lmp'), threads=1)
    rdf = radial_distribution(read_beads(directory / TRAJECTORY_NAME, MASS), r_max=1.25, bin_width=0.01)
    return rdf.r, rdf.g


def lj_potential():
    return lennard_jones(np.linspace(0.2, CUTOFF, 801), cutoff=CUTOFF)


@pytest.fixture
def target(lj_target_arrays):
    if 'target' not in _NODES:
        node = orm.XyData()
        node.set_x(lj_target_arrays[0], 'r', 'nm')
        node.set_y([lj_target_arrays[1]], ['g'], ['dimensionless'])
        _NODES['target'] = node.store().pk
    return orm.load_node(_NODES['target'])


@pytest.fixture
def ibi_code(aiida_code_installed):
    return aiida_code_installed(label='cgmob-ibi', default_calc_job_plugin='cgmob.ibi',
                                filepath_executable=str(BIN / 'cgmob-ibi'))


@pytest.fixture
def lammps_code(aiida_code_installed):
    return aiida_code_installed(label='lmp', filepath_executable=str(BIN / 'lmp'))


@pytest.fixture
def killed_ibi_code(aiida_code_installed, tmp_path):
    wrapper = tmp_path / 'cgmob-ibi-killed'
    wrapper.write_text(KILLED_AFTER_FIRST_CHECKPOINT.format(script=BIN / 'cgmob-ibi'))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return aiida_code_installed(label='cgmob-ibi-killed', filepath_executable=str(wrapper))


def ibi_inputs(code, lammps_code, target, settings: dict | None = None, **extra) -> dict:
    inputs = {'code': code, 'lammps_code': lammps_code, 'target': target, 'mass': orm.Float(MASS),
              'number_density': orm.Float(DENSITY), 'n_beads': orm.Int(N_BEADS),
              'settings': orm.Dict({**SETTINGS, **(settings or {})}), 'lammps_settings': orm.Dict(LAMMPS_SETTINGS),
              'seed': orm.Int(2), 'metadata': {'options': OPTIONS}}
    inputs.update(extra)
    return inputs


def remote_file(node, name: str) -> str:
    return (Path(node.outputs.remote_folder.get_remote_path()) / name).read_text()


def u_error(potential: np.ndarray, r: np.ndarray, g_target_on_r: np.ndarray) -> float:
    """max |U - U_LJ| (kJ/mol) where g_target > 0.3."""
    where = g_target_on_r > 0.3
    return float(np.max(np.abs(potential[where] - lj_potential()(r[where])[0])))


@pytest.fixture
def converged(ibi_code, lammps_code, target):
    """Iteration 0 from -kT ln g, iteration 1 after one iterative-HNC step: converged (run once per module)."""
    if 'converged' not in _NODES:
        _, node = run_get_node(IbiCalculation, **ibi_inputs(ibi_code, lammps_code, target))
        _NODES['converged'] = node.pk
    return orm.load_node(_NODES['converged'])


@pytest.fixture
def not_converged(ibi_code, lammps_code, target):
    """One iteration with a tolerance it cannot reach (run once per module)."""
    if 'not_converged' not in _NODES:
        _, node = run_get_node(IbiCalculation, **ibi_inputs(ibi_code, lammps_code, target,
                                                            {'max_iterations': 1, 'tolerance': 1e-4}))
        _NODES['not_converged'] = node.pk
    return orm.load_node(_NODES['not_converged'])


def test_converges_and_recovers_the_potential(converged, lammps_code):
    node = converged
    assert node.is_finished_ok, node.exit_message
    history, result = node.outputs.history, node.outputs.result.get_dict()
    iteration, rms = history.get_array('iteration'), history.get_array('rms')
    # the physics: the update improves g(r), and U(r) comes closer to the LJ that made the target
    assert list(iteration) == [0, 1]
    assert rms[1] < 0.06 < rms[0]
    r_potential, potential = history.get_array('r_potential'), history.get_array('potential')
    g_target = np.interp(r_potential, history.get_array('r'), history.get_array('g_target'))
    assert u_error(potential[1], r_potential, g_target) < min(1.0, u_error(potential[0], r_potential, g_target))
    assert history.get_array('g').shape == (2, history.get_array('r').size)
    assert potential.shape == history.get_array('force').shape == (2, r_potential.size)
    assert np.allclose(history.get_array('number_density'), DENSITY, rtol=1e-6)  # NVT at the target density
    assert np.all(history.get_array('pressure_bar') > 0)  # T* = 2: a dense, hot fluid under pressure
    units = history.base.attributes.get('units')
    assert units['r'] == units['r_potential'] == 'nm' and units['potential'] == 'kJ/mol'
    assert units['pressure_bar'] == 'bar' and units['seconds'] == 's'

    # result: the script's scalars, queryable
    assert result['status'] == 'converged' and result['converged'] is True and result['iterations'] == 2
    assert result['final_iteration'] == 1 and result['rms_final'] == pytest.approx(rms[1])
    assert result['resumed_at'] == [] and result['units']['pressure'] == 'bar'
    assert result['method'] == 'ihnc' and result['fit_range_nm'][1] == CUTOFF

    # the potential: validated on storing, the one of the last iteration, ending at the cutoff
    potential_node = node.outputs.potential
    assert isinstance(potential_node, PotentialData) and potential_node.is_stored
    assert potential_node.cutoff == CUTOFF and potential_node.origin == 'iteration 1: ihnc x1 from iteration 0'
    assert np.allclose(potential_node.get_array('energy'), potential[1])
    assert potential_node.base.attributes.get('units')['energy'] == 'kJ/mol'

    # the final potential's own run: descriptors with units, the same nodes as every descriptors run
    descriptors = node.outputs.descriptors
    assert descriptors.mass.value == MASS
    assert descriptors.density['number_density'] == pytest.approx(DENSITY, rel=1e-6)
    assert descriptors.diffusion['fit_window'] == [0.5, 3.0] and descriptors.diffusion['D_si'] > 0
    assert descriptors.rdf.get_x()[2] == 'nm'

    # heavy files stay remote: no iteration directories, no trajectory in the repository
    retrieved = node.outputs.retrieved.base.repository.list_object_names()
    assert 'iterations' not in retrieved and 'ibi_state.json' not in retrieved
    assert {'ibi_result.json', 'ibi_history.npz', 'final_potential.json', 'ibi.log'} <= set(retrieved)
    # the job's input: the LAMMPS code's executable and one thread
    job_input = json.loads(node.base.repository.get_object_content('ibi_input.json'))
    assert job_input['lmp'] == str(lammps_code.filepath_executable) and job_input['threads'] == 1
    assert 'export OMP_NUM_THREADS=1' in node.base.repository.get_object_content('_aiidasubmit.sh')  # its g(r)


def test_result_is_queryable(converged):
    qb = orm.QueryBuilder()
    qb.append(IbiCalculation, filters={'id': converged.pk}, tag='ibi')
    qb.append(orm.Dict, with_incoming='ibi', edge_filters={'label': 'result'},
              filters={'attributes.converged': True, 'attributes.rms_final': {'<': 0.06}},
              project=['attributes.iterations'])
    assert qb.all(flat=True) == [2]


def test_not_converged_keeps_the_best_potential(not_converged):
    node = not_converged
    assert node.exit_status == IbiCalculation.exit_codes.ERROR_NOT_CONVERGED.status
    assert 'did not fall below 0.0001 within 1 iterations' in node.exit_message
    assert node.outputs.result['converged'] is False and node.outputs.result['status'] == 'not_converged'
    assert list(node.outputs.history.get_array('iteration')) == [0]
    assert node.outputs.potential.origin.startswith('boltzmann_inversion(T=298.15 K')  # the -kT ln g guess
    assert np.allclose(node.outputs.potential.get_array('energy'), node.outputs.history.get_array('potential')[0])
    assert 'descriptors' in node.outputs  # of the best potential's run


def test_which_parents_a_continuation_accepts():
    """By label: a checkpoint is worth continuing after a wall-time stop (the job's 400 or the scheduler's 120), a
    LAMMPS failure, a descriptors failure or no convergence, not after divergence."""
    from aiida_cgmob.calculations.ibi import RESUMABLE_STATUSES

    codes = IbiCalculation.exit_codes
    assert set(RESUMABLE_STATUSES) == {0, 120, codes.ERROR_OUT_OF_WALLTIME.status, codes.ERROR_ENGINE.status,
                                       codes.ERROR_DESCRIPTORS.status, codes.ERROR_NOT_CONVERGED.status}
    assert codes.ERROR_DIVERGED.status not in RESUMABLE_STATUSES


def test_continue_with_more_iterations_from_parent_folder(not_converged, ibi_code, lammps_code, target):
    """A finished job continued with a larger max_iterations starts at iteration 1, not 0."""
    parent = not_converged.outputs.remote_folder
    _, node = run_get_node(IbiCalculation, **ibi_inputs(ibi_code, lammps_code, target,
                                                        {'max_iterations': 2, 'tolerance': 1e-4},
                                                        parent_folder=parent))
    assert node.exit_status == IbiCalculation.exit_codes.ERROR_NOT_CONVERGED.status, node.exit_message
    assert list(node.outputs.history.get_array('iteration')) == [0, 1]
    assert node.outputs.result['resumed_at'] == [1]
    log = node.outputs.retrieved.base.repository.get_object_content('ibi.log')
    assert '# resumed at iteration 1 from ibi_state.json' in log and log.count('\n   0 ') == 1
    # iteration 0 is the parent's (copied), only iteration 1 ran here; the parent's folder is untouched
    assert node.outputs.history.get_array('rms')[0] == not_converged.outputs.history.get_array('rms')[0]
    assert not (Path(parent.get_remote_path()) / 'iterations' / '001').exists()
    assert (Path(node.outputs.remote_folder.get_remote_path()) / 'iterations' / '001' / 'log.lammps').is_file()


def test_interrupted_job_is_continued_by_the_work_chain(killed_ibi_code, lammps_code, target):
    builder = IbiBaseWorkChain.get_builder_from_protocol(
        killed_ibi_code, lammps_code, target, protocol='fast',
        overrides={'ibi': {'settings': SETTINGS, 'lammps_settings': LAMMPS_SETTINGS, 'seed': 2}}, options=OPTIONS,
        mass=MASS, number_density=DENSITY, n_beads=N_BEADS)
    _, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    first, second = node.called
    # the first job was killed after its first checkpoint: 400, with how far it got
    assert first.exit_status == IbiCalculation.exit_codes.ERROR_OUT_OF_WALLTIME.status
    assert first.outputs.result['status'] == 'interrupted' and first.outputs.result['iterations'] == 1
    assert 'potential' not in first.outputs
    # the second continued from it at iteration 1 and converged there
    assert second.inputs.parent_folder.pk == first.outputs.remote_folder.pk
    assert second.outputs.result['resumed_at'] == [1]
    assert list(node.outputs.history.get_array('iteration')) == [0, 1]
    assert node.outputs.result['converged'] is True
    assert node.outputs.potential.origin == 'iteration 1: ihnc x1 from iteration 0'
    log = second.outputs.retrieved.base.repository.get_object_content('ibi.log')
    assert log.index('   0 ') < log.index('# resumed at iteration 1') < log.index('   1 ')


def test_script_crash_314_is_not_taken_for_a_wall_time_stop(aiida_code_installed, lammps_code, target, tmp_path):
    wrapper = tmp_path / 'cgmob-ibi-crashing'
    wrapper.write_text(CRASHING_AFTER_THE_LOOP.format(python=sys.executable))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    code = aiida_code_installed(label='cgmob-ibi-crashing', filepath_executable=str(wrapper))
    _, node = run_get_node(IbiCalculation, **ibi_inputs(code, lammps_code, target, {'tolerance': 1.0}))
    assert (Path(node.outputs.remote_folder.get_remote_path()) / 'ibi_state.json').is_file()
    assert node.exit_status == IbiCalculation.exit_codes.ERROR_SCRIPT_CRASHED.status
    assert "TypeError: 'NoneType' object is not callable" in node.exit_message


def test_lammps_failure_430_carries_the_error(ibi_code, aiida_code_installed, target):
    broken = aiida_code_installed(label='lmp-false', filepath_executable='/bin/false')
    _, node = run_get_node(IbiCalculation, **ibi_inputs(ibi_code, broken, target))
    assert node.exit_status == IbiCalculation.exit_codes.ERROR_ENGINE.status
    assert 'LAMMPS failed in' in node.exit_message and 'iterations/000 (exit 1)' in node.exit_message
    assert node.outputs.result['status'] == 'engine_failure' and 'potential' not in node.outputs


def test_final_descriptors_failure_350_keeps_the_potential(ibi_code, lammps_code, target):
    settings = {'tolerance': 1.0, 'descriptor_settings': {'r_max': 2.0}}  # converged at 0; r_max > half box
    _, node = run_get_node(IbiCalculation, **ibi_inputs(ibi_code, lammps_code, target, settings))
    assert node.exit_status == IbiCalculation.exit_codes.ERROR_DESCRIPTORS.status
    assert 'box_too_small' in node.exit_message and 'r_max = 2.0 nm exceeds half' in node.exit_message
    assert node.outputs.result['converged'] is True and node.outputs.result['descriptors_error']['kind'] == \
        'box_too_small'
    assert 'potential' in node.outputs and 'descriptors' not in node.outputs


def test_bad_input_is_refused_before_submission(ibi_code, lammps_code, target, aiida_computer_local,
                                                aiida_code_installed, not_converged):
    elsewhere = aiida_code_installed(label='lmp-elsewhere', computer=aiida_computer_local(label='elsewhere'),
                                     filepath_executable=str(BIN / 'lmp'))
    angstrom = orm.XyData()
    angstrom.set_x(target.get_x()[1] * 10, 'r', 'Angstrom')
    angstrom.set_y([target.get_y()[0][1]], ['g'], ['dimensionless'])
    short = orm.XyData()
    short.set_x(target.get_x()[1][:60], 'r', 'nm')
    short.set_y([target.get_y()[0][1][:60]], ['g'], ['dimensionless'])
    from aiida_cgmob.lammps import lattice_configuration

    sparse = lattice_configuration(N_BEADS, 10.0)
    configuration = orm.ArrayData()
    configuration.set_array('positions', sparse.positions)
    configuration.set_array('box', sparse.box)
    cases = [
        ({'settings': orm.Dict({**SETTINGS, 'max_iterations': 0})},
         'settings: max_iterations must be an integer >= 1, got 0'),
        ({'settings': orm.Dict({**SETTINGS, 'mehtod': 'ibi'})}, r"settings: unknown IBI settings \['mehtod'\]"),
        ({'settings': orm.Dict({**SETTINGS, 'fit_range': 0.5})}, "settings: fit_range must be .* got 0.5"),
        ({'settings': orm.Dict({**SETTINGS, 'descriptor_settings': {'rmax': 1.0}})},
         r'settings: descriptor_settings: unknown descriptor setting\(s\) \[.rmax.\]'),
        ({'lammps_settings': orm.Dict({**LAMMPS_SETTINGS, 'timestep': -1})},
         'lammps_settings: timestep must be a number > 0, got -1'),
        ({'mass': orm.Float(-1.0)}, r'mass must be a number > 0 \(g/mol\), got -1.0'),
        ({'settings': orm.Dict({**SETTINGS, 'cutoff': 1.4})}, r'cutoff 1.4 nm exceeds half the CG box \(1.277 nm\)'),
        ({'target': short}, r'the target g\(r\) ends at 0.6 nm, before the cutoff 1.0 nm'),
        ({'target': angstrom}, "target: x must be r in nm, got 'r' in 'Angstrom'"),
        ({'settings': orm.Dict({**SETTINGS, 'temperature': 300.0})},
         r'settings.temperature = 300.0 K \(kT of the updates\) differs from lammps_settings.temperature = 298.15'),
        ({'lammps_code': elsewhere}, "lammps_code 'lmp-elsewhere@elsewhere' is on computer 'elsewhere'"),
        ({'metadata': {'options': {**OPTIONS, 'withmpi': True}}}, 'withmpi = True is not supported'),
        ({'configuration': configuration}, 'give either n_beads .lattice start. or configuration, not both'),
        ({'configuration': configuration, 'n_beads': None},
         r'number_density = 12.0 nm\^-3 but the configuration <None> holds 10 nm\^-3'),
        ({'parent_folder': orm.RemoteData(computer=ibi_code.computer, remote_path='/tmp')},
         'parent_folder: RemoteData<None> comes from no process, not from a cgmob.ibi calculation'),
        ({'parent_folder': not_converged.outputs.remote_folder, 'settings': orm.Dict({**SETTINGS, 'cutoff': 0.9})},
         r'settings.cutoff = 0.9 differs from 1.0 of the calculation being continued'),
        ({'parent_folder': not_converged.outputs.remote_folder, 'mass': orm.Float(20.0)},
         'mass = 20.0 differs from 16.04 of the calculation being continued'),
    ]
    before = orm.QueryBuilder().append(IbiCalculation).count()
    for change, message in cases:
        with pytest.raises(ValueError, match=message):
            inputs = {**ibi_inputs(ibi_code, lammps_code, target), **change}
            run_get_node(IbiCalculation, **{key: value for key, value in inputs.items() if value is not None})
    inputs = ibi_inputs(ibi_code, lammps_code, target)
    inputs.pop('n_beads')
    with pytest.raises(ValueError, match='n_beads: give the number of beads of the lattice start'):
        run_get_node(IbiCalculation, **inputs)
    assert orm.QueryBuilder().append(IbiCalculation).count() == before  # nothing was created


def test_inputs_from_a_descriptors_producing_node(converged, ibi_code, lammps_code):
    """Target, mass and number density of any node with descriptor outputs (here: an IBI run's own)."""
    found = ibi_inputs_from_descriptors(converged)
    descriptors = converged.outputs.descriptors
    assert found['target'].pk == descriptors.rdf.pk and found['mass'].pk == descriptors.mass.pk
    assert found['number_density'].value == pytest.approx(DENSITY, rel=1e-6)
    assert found['number_density'].creator.inputs.density.pk == descriptors.density.pk  # provenance kept
    assert 'temperature' not in found  # not a GROMACS run
    builder = IbiBaseWorkChain.get_builder_from_descriptors(ibi_code, lammps_code, converged, protocol='moderate',
                                                            temperature=310.0)
    assert builder.ibi.n_beads.value == 1000 and builder.ibi.lammps_settings['production'] == 150.0
    assert builder.ibi.settings['temperature'] == builder.ibi.lammps_settings['temperature'] == 310.0
    with pytest.raises(ValueError, match=r'XyData<\d+> has no descriptor outputs'):
        ibi_inputs_from_descriptors(converged.inputs.target)
    with pytest.raises(ValueError, match=r'has no descriptor outputs \(found none\); compute them with'):
        ibi_inputs_from_descriptors(found['number_density'].creator)


def test_cli_run_and_show(converged, ibi_code, lammps_code, tmp_path):
    from click.testing import CliRunner

    from aiida_cgmob.cli import cmd_root

    runner = CliRunner()
    result = runner.invoke(cmd_root, ['ibi', 'show', str(converged.pk), '--plot', str(tmp_path / 'ibi.png')])
    assert result.exit_code == 0, result.output
    assert 'status            converged' in result.output and '<- final potential' in result.output
    assert 'step control adaptive, ihnc range cutoff' in result.output
    assert 'ihnc x1 from 0' in result.output  # the update that followed
    assert '1e-9 m^2/s' in result.output and 'mass density' in result.output
    assert (tmp_path / 'ibi.png').stat().st_size > 10_000
    # the CG run of the IBI is itself a descriptors-producing node: invert it again, one iteration
    result = runner.invoke(cmd_root, ['ibi', 'run', str(converged.pk), '-X', ibi_code.full_label, '--lammps-code',
                                      lammps_code.full_label, '--protocol', 'fast', '--n-beads', '200',
                                      '--cutoff', '1.0', '--max-iterations', '1'])
    assert result.exit_code == 0, result.output
    assert 'IbiBaseWorkChain<' in result.output and 'exit 441' in result.output
    assert 'iteration    RMS(g)' in result.output
    # the job's own message, once (defect 6 of issue 8: the demo and the CLI printed its prefix twice); the demo
    # prints the same summary (summarise_ibi) of its IBI chain
    summary = result.output[result.output.index('\nIbiBaseWorkChain<') + 1:]
    assert summary.count('(best potential attached)') == 1, summary
    assert summary.count('did not fall below') == 1, summary
    assert 'status            not_converged\n' in summary
    result = runner.invoke(cmd_root, ['ibi', 'show', str(converged.inputs.target.pk)])
    assert result.exit_code != 0 and 'is not a finished cgmob.ibi calculation' in result.output



def test_temperature_of_a_gromacs_parent(aiida_localhost):
    """An all-atom GROMACS run gives the inversion its temperature (production ref-t), also through the
    cgmob.descriptors job that analysed it."""
    from aiida_cgmob.workchains.ibi_base import _gromacs_state

    descriptors, gromacs = _descriptors_of_a_gromacs_run(aiida_localhost, {'ref-t': 310.0})
    # an NPT production at 1 bar
    assert _gromacs_state(gromacs) == _gromacs_state(descriptors) == {'temperature': 310.0, 'pressure': 1.0}
    nvt, _ = _descriptors_of_a_gromacs_run(aiida_localhost, {'pcoupl': 'no'})
    assert 'pressure' not in _gromacs_state(nvt)


def _descriptors_of_a_gromacs_run(computer, production: dict, outputs: dict | None = None):
    """A finished-looking cgmob.descriptors job (with ``outputs``) on the remote folder of a cgmob.gromacs run."""
    from aiida.common.links import LinkType
    from conftest import tiny_stages

    stages = tiny_stages()
    stages[-1]['mdp'].update(production)
    gromacs = orm.CalcJobNode(computer=computer, process_type='aiida.calculations:cgmob.gromacs')
    gromacs.base.links.add_incoming(orm.Dict({'stages': stages}).store(), LinkType.INPUT_CALC, 'parameters')
    gromacs.store()
    remote = orm.RemoteData(computer=computer, remote_path='/tmp')
    remote.base.links.add_incoming(gromacs, LinkType.CREATE, 'remote_folder')
    remote.store()
    descriptors = orm.CalcJobNode(computer=computer, process_type='aiida.calculations:cgmob.descriptors')
    descriptors.base.links.add_incoming(remote, LinkType.INPUT_CALC, 'parent_folder')
    descriptors.store()
    for name, node in (outputs or {}).items():
        node.base.links.add_incoming(descriptors, LinkType.CREATE, name)
        node.store()
    return descriptors, gromacs


def test_an_npt_all_atom_target_sets_the_pressure_target(aiida_localhost, converged, ibi_code, lammps_code):
    """The all-atom run held 5 bar: the inversion corrects the CG pressure towards it unless told otherwise."""
    def outputs():
        return {name: node.clone() for name, node in descriptor_outputs(converged).items()}

    npt, _ = _descriptors_of_a_gromacs_run(aiida_localhost, {'ref-p': 5.0}, outputs())
    builder = IbiBaseWorkChain.get_builder_from_descriptors(ibi_code, lammps_code, npt, protocol='fast')
    assert builder.ibi.settings['pressure_target'] == 5.0
    builder = IbiBaseWorkChain.get_builder_from_descriptors(
        ibi_code, lammps_code, npt, protocol='fast', overrides={'ibi': {'settings': {'pressure_target': None}}})
    assert builder.ibi.settings['pressure_target'] is None
    nvt, _ = _descriptors_of_a_gromacs_run(aiida_localhost, {'pcoupl': 'no'}, outputs())
    builder = IbiBaseWorkChain.get_builder_from_descriptors(ibi_code, lammps_code, nvt, protocol='fast')
    assert 'pressure_target' not in builder.ibi.settings.get_dict()
