"""The restart handlers of the three chains, on fake failed CalcJobNodes (no engine runs).

As aiida-quantumespresso's ``tests/workflows/pw/test_base.py``: each chain is instantiated with valid inputs, set up,
given a finished-but-failed child node carrying an exit status, a message and outputs, and ``inspect_process`` is
called as the outline would.  The result (the exit code the chain would end with, 0 for "run again") and what the
handler changed in ``ctx.inputs`` are checked.  The real-engine tests of the chains are in test_workchain_*.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import ExitCode
from conftest import tiny_stages

from aiida_cgmob.calculations.gromacs import GromacsCalculation
from aiida_cgmob.calculations.ibi import IbiCalculation
from aiida_cgmob.calculations.lammps_cg import LammpsCgCalculation
from aiida_cgmob.protocols import load_protocol_file
from aiida_cgmob.workchains.gromacs_base import GromacsBaseWorkChain
from aiida_cgmob.workchains.ibi_base import IbiBaseWorkChain
from aiida_cgmob.workchains.lammps_cg_base import LammpsCgBaseWorkChain

#: aiida-core's exit status of a job the scheduler killed at its wall time
SCHEDULER_OUT_OF_WALLTIME = 120
CHAINS = ('gromacs', 'lammps', 'ibi')


# ----------------------------------------------------------------------------------------------------- inputs


@pytest.fixture(scope='module')
def etbz_liquid():
    from aiida_cgmob.topology import build_liquid

    return build_liquid('EtBz', 40)


def lj_potential():
    from aiida_cgmob.data import PotentialData
    from aiida_cgmob.potentials import lennard_jones

    return PotentialData(lennard_jones(np.linspace(0.3, 1.2, 901), epsilon=2.5, sigma=0.373, cutoff=1.2))


def lj_like_target() -> orm.XyData:
    """A smooth liquid-like g(r) out to 2 nm (only its shape is checked when the chain is built)."""
    r = np.arange(0.005, 2.0, 0.01)
    g = np.where(r < 0.33, 0.0, 1.0 + 0.8 * np.exp(-((r - 0.42) / 0.05) ** 2) - 0.2 * np.exp(-((r - 0.6) / 0.1) ** 2))
    target = orm.XyData()
    target.set_x(r, 'r', 'nm')
    target.set_y([np.clip(g, 0.0, None)], ['g'], ['dimensionless'])
    return target


@pytest.fixture
def builders(aiida_code_installed, etbz_liquid):
    """Chain name -> a function returning a builder of that chain (``protocol``, ``overrides`` as keywords)."""
    gmx = aiida_code_installed(label='gmx-never-run', default_calc_job_plugin='cgmob.gromacs',
                               filepath_executable='/bin/true')
    lmp = aiida_code_installed(label='lmp-never-run', filepath_executable='/bin/true')
    ibi = aiida_code_installed(label='cgmob-ibi-never-run', filepath_executable='/bin/true')
    structure = orm.SinglefileData.from_string(etbz_liquid.gro, filename='conf.gro')
    topology = orm.SinglefileData.from_string(etbz_liquid.top, filename='topol.top')
    potential, target = lj_potential(), lj_like_target()

    def gromacs(protocol='fast', overrides=None):
        overrides = overrides if overrides is not None else {'gromacs': {'parameters': {'stages': tiny_stages()}}}
        return GromacsBaseWorkChain.get_builder_from_protocol(gmx, structure, topology, protocol, overrides)

    def lammps(protocol='fast', overrides=None):
        return LammpsCgBaseWorkChain.get_builder_from_protocol(lmp, potential, 16.04, protocol, overrides,
                                                               n_beads=256, number_density=13.0)

    def ibi_(protocol='fast', overrides=None):
        return IbiBaseWorkChain.get_builder_from_protocol(ibi, lmp, target, protocol, overrides, mass=16.04,
                                                          number_density=12.0)

    return {'gromacs': gromacs, 'lammps': lammps, 'ibi': ibi_}


@pytest.fixture
def generate_workchain(builders):
    """Instantiate chain ``name`` from its fast-protocol builder and run its ``setup`` step."""
    from aiida.engine.utils import instantiate_process
    from aiida.manage import get_manager

    def factory(name: str):
        builder = builders[name]()
        process = instantiate_process(get_manager().get_runner(), builder.process_class, **builder)
        process.setup()
        return process

    return factory


# ------------------------------------------------------------------------------------------- fake failed jobs


@pytest.fixture
def failed_job(aiida_localhost):
    """A finished CalcJobNode of ``process_class`` with ``exit_code`` (an ExitCode or a bare status) and outputs.

    ``outputs`` (link label -> unstored node) are linked as CREATE links, as the engine links a job's outputs.
    """
    from plumpy import ProcessState

    def factory(process_class, exit_code, outputs=None, remote=True):
        node = orm.CalcJobNode(computer=aiida_localhost, process_type=process_class.build_process_type())
        node.set_process_label(process_class.__name__)
        node.set_option('resources', {'num_machines': 1, 'num_mpiprocs_per_machine': 1})
        node.store()
        outputs = dict(outputs or {})
        if remote:
            outputs['remote_folder'] = orm.RemoteData(computer=aiida_localhost, remote_path='/tmp/cgmob-fake-job')
        outputs['retrieved'] = orm.FolderData()
        for label, output in outputs.items():
            output.base.links.add_incoming(node, link_type=LinkType.CREATE, link_label=label)
            output.store()
        node.set_process_state(ProcessState.FINISHED)
        if isinstance(exit_code, ExitCode):
            node.set_exit_status(exit_code.status)
            node.set_exit_message(exit_code.message)
        else:
            node.set_exit_status(exit_code)
        return node

    return factory


def inspect(process, node):
    """Give ``process`` the finished ``node`` as its next child and inspect it, as the outline does."""
    process.ctx.children = [*process.ctx.get('children', []), node]
    process.ctx.iteration = len(process.ctx.children)
    return process.inspect_process()


#: chain name -> its CalcJob
CALCULATIONS = {'gromacs': GromacsCalculation, 'lammps': LammpsCgCalculation, 'ibi': IbiCalculation}


def stopped_outputs(name: str, progress: int) -> dict:
    """The outputs a job of chain ``name`` leaves when it stops at ``progress`` (a step, or IBI iterations)."""
    if name == 'gromacs':
        return {'output_parameters': orm.Dict({
            'failed_stage': 'production',
            'stages': [{'name': 'em', 'status': 'finished'}, {'name': 'nvt', 'status': 'finished'},
                       {'name': 'production', 'status': 'interrupted', 'last_step': progress}]})}
    if name == 'lammps':
        return {'thermo': orm.Dict({'status': 'interrupted', 'last_step': progress, 'total_steps': 12000})}
    return {'result': orm.Dict({'status': 'interrupted', 'converged': False, 'iterations': progress})}


def wall_time_stop(name: str, message: str = 'the job stopped') -> ExitCode:
    return CALCULATIONS[name].exit_codes.ERROR_OUT_OF_WALLTIME.format(message=message)


#: chain name -> the outputs a finished job of it has besides remote_folder and retrieved (its required ones)
FINISHED_OUTPUTS = {
    'gromacs': lambda: {'output_parameters': orm.Dict({'density': 850.0}), 'structure': orm.SinglefileData.from_string(
        'x\n0\n1 1 1\n', 'confout.gro')},
    'lammps': lambda: {'thermo': orm.Dict({'status': 'finished', 'last_step': 5000}),
                       'final_configuration': orm.ArrayData()},
    'ibi': lambda: {'result': orm.Dict({'status': 'converged', 'iterations': 2})},
}


# ------------------------------------------------------------------------------------------- shared handlers


def test_setup_exposes_the_job_inputs(generate_workchain):
    for name in CHAINS:
        process = generate_workchain(name)
        assert 'code' in process.ctx.inputs and process.ctx.last_progress is None
        assert 'parent_folder' not in process.ctx.inputs


@pytest.mark.parametrize('name', CHAINS)
@pytest.mark.parametrize('stopped_by', ['job', 'scheduler'])
def test_wall_time_stop_is_continued_from_the_remote_folder(generate_workchain, failed_job, name, stopped_by):
    """The engine's own stop (400) and the scheduler's kill (aiida-core's 120) reach the same handler."""
    process = generate_workchain(name)
    calculation = CALCULATIONS[name]
    if stopped_by == 'job':
        node = failed_job(calculation, wall_time_stop(name), stopped_outputs(name, 1000))
    else:  # a scheduler kill: the parser may not have said how far the job got
        node = failed_job(calculation, SCHEDULER_OUT_OF_WALLTIME)
    result = inspect(process, node)
    assert result.status == 0, result.message  # handled: run again
    if name == 'ibi' and stopped_by == 'scheduler':  # no result: no checkpoint to continue from, start again
        assert 'parent_folder' not in process.ctx.inputs
        return
    assert process.ctx.inputs.parent_folder.pk == node.outputs.remote_folder.pk
    if name == 'gromacs':  # the interrupted stage, or the production when the parser did not say
        assert process.ctx.inputs.resume_stage.value == 'production'
        assert process.ctx.inputs.parameters.pk == process.inputs.gromacs.parameters.pk  # the same plan
    if name == 'lammps':  # a continuation starts from the restart file, not from a lattice
        assert 'n_beads' not in process.ctx.inputs and 'number_density' not in process.ctx.inputs
    assert process.ctx.last_progress == ({'gromacs': ('production', 1000), 'lammps': 1000, 'ibi': 1000}[name]
                                         if stopped_by == 'job' else None)


def test_gromacs_continues_the_stage_that_was_interrupted(generate_workchain, failed_job):
    process = generate_workchain('gromacs')
    outputs = {'output_parameters': orm.Dict({'failed_stage': 'nvt', 'stages': [
        {'name': 'em', 'status': 'finished'}, {'name': 'nvt', 'status': 'interrupted', 'last_step': 200}]})}
    assert inspect(process, failed_job(GromacsCalculation, wall_time_stop('gromacs'), outputs)).status == 0
    assert process.ctx.inputs.resume_stage.value == 'nvt'


@pytest.mark.parametrize('name', CHAINS)
def test_a_continuation_that_made_no_progress_stops_with_412(generate_workchain, failed_job, name):
    process = generate_workchain(name)
    calculation = CALCULATIONS[name]
    assert inspect(process, failed_job(calculation, wall_time_stop(name), stopped_outputs(name, 3))).status == 0
    assert inspect(process, failed_job(calculation, wall_time_stop(name), stopped_outputs(name, 4))).status == 0
    stuck = failed_job(calculation, wall_time_stop(name), stopped_outputs(name, 4))
    result = inspect(process, stuck)
    assert result.status == process.exit_codes.ERROR_NO_PROGRESS.status
    assert 'stopped again at' in result.message and 'longer wall time' in result.message
    assert process.ctx.inputs.parent_folder.pk != stuck.outputs.remote_folder.pk  # not continued again


@pytest.mark.parametrize('name', CHAINS)
def test_a_wall_time_stop_without_remote_folder_stops_with_300(generate_workchain, failed_job, name):
    process = generate_workchain(name)
    node = failed_job(CALCULATIONS[name], wall_time_stop(name), stopped_outputs(name, 5), remote=False)
    result = inspect(process, node)
    assert result.status == process.exit_codes.ERROR_UNRECOVERABLE_FAILURE.status
    assert f'<{node.pk}>' in result.message and 'parent_folder' not in process.ctx.inputs


@pytest.mark.parametrize('name', CHAINS)
def test_descriptors_failure_keeps_the_outputs_and_ends_with_350_and_the_jobs_message(generate_workchain,
                                                                                     failed_job, name):
    process = generate_workchain(name)
    calculation = CALCULATIONS[name]
    exit_code = calculation.exit_codes.ERROR_DESCRIPTORS.format(message='box_too_small: r_max = 2.5 nm exceeds')
    outputs = FINISHED_OUTPUTS[name]()
    node = failed_job(calculation, exit_code, outputs)
    result = inspect(process, node)
    assert result.status == process.exit_codes.ERROR_DESCRIPTORS.status == exit_code.status
    assert result.message == exit_code.message  # the job's message, as it is
    assert result.message.count('box_too_small') == 1 and result.message.count('descriptors failed') == 1
    for label in [*outputs, 'remote_folder']:
        assert process.outputs[label].pk == node.outputs[label].pk  # the run's outputs are the chain's


@pytest.mark.parametrize('name, label', [('gromacs', 'ERROR_ENGINE'), ('gromacs', 'ERROR_INPUT_REFUSED'),
                                         ('gromacs', 'ERROR_STAGE_NOT_REACHED'), ('lammps', 'ERROR_ENGINE'),
                                         ('lammps', 'ERROR_OUTPUT_MISSING'), ('ibi', 'ERROR_ENGINE'),
                                         ('ibi', 'ERROR_SCRIPT_CRASHED'), ('ibi', 'ERROR_INPUT_REFUSED')])
def test_an_unknown_failure_ends_with_300_naming_the_job(generate_workchain, failed_job, name, label):
    process = generate_workchain(name)
    calculation = CALCULATIONS[name]
    exit_code = calculation.exit_codes[label].format(message='the cause, said once')
    node = failed_job(calculation, exit_code)
    result = inspect(process, node)
    assert result.status == process.exit_codes.ERROR_UNRECOVERABLE_FAILURE.status
    assert f'{calculation.__name__}<{node.pk}> exit {exit_code.status}' in result.message
    assert result.message.count('the cause, said once') == 1
    assert process.outputs['remote_folder'].pk == node.outputs.remote_folder.pk  # what the job made is kept


# ------------------------------------------------------------------------------------------ unstable integration


def test_gromacs_unstable_integration_halves_dt_and_reruns_every_stage(generate_workchain, failed_job):
    process = generate_workchain('gromacs')
    process.ctx.inputs.parent_folder = orm.RemoteData(computer=process.ctx.inputs.code.computer, remote_path='/x')
    process.ctx.inputs.resume_stage = orm.Str('production')  # as after an earlier continuation
    exit_code = GromacsCalculation.exit_codes.ERROR_UNSTABLE_INTEGRATION.format(message="stage 'nvt': LINCS")
    assert inspect(process, failed_job(GromacsCalculation, exit_code)).status == 0
    stages = process.ctx.inputs.parameters.get_dict()['stages']
    assert [stage['mdp']['dt'] for stage in stages[1:]] == [pytest.approx(0.001)] * 2
    assert [stage['mdp']['nsteps'] for stage in stages] == [1000, 1000, 1000]  # same simulated time
    assert 'parent_folder' not in process.ctx.inputs and 'resume_stage' not in process.ctx.inputs  # from the start


def test_gromacs_stops_with_411_below_the_minimum_time_step(generate_workchain, failed_job):
    process = generate_workchain('gromacs')
    minimum = process.defaults.minimum_timestep
    stages = tiny_stages(dt=1.5 * minimum)  # half of it is below the minimum
    process.ctx.inputs.parameters = orm.Dict({'stages': stages})
    exit_code = GromacsCalculation.exit_codes.ERROR_UNSTABLE_INTEGRATION.format(message="stage 'nvt': LINCS")
    result = inspect(process, failed_job(GromacsCalculation, exit_code))
    assert result.status == process.exit_codes.ERROR_TIME_STEP_TOO_SMALL.status
    assert f'below {minimum:g} ps' in result.message
    assert process.ctx.inputs.parameters.get_dict()['stages'] == stages  # nothing run with it


def test_lammps_unstable_integration_starts_afresh_with_half_the_time_step(generate_workchain, failed_job):
    process = generate_workchain('lammps')
    timestep = process.ctx.inputs.settings['timestep']
    # as after an earlier continuation: the start replaced by a restart folder
    process.ctx.inputs.parent_folder = orm.RemoteData(computer=process.ctx.inputs.code.computer, remote_path='/x')
    start = {name: process.ctx.inputs.pop(name).pk for name in ('n_beads', 'number_density')}
    exit_code = LammpsCgCalculation.exit_codes.ERROR_UNSTABLE_INTEGRATION.format(message='after step 120: ERROR')
    assert inspect(process, failed_job(LammpsCgCalculation, exit_code, stopped_outputs('lammps', 120))).status == 0
    settings = process.ctx.inputs.settings.get_dict()
    assert settings['timestep'] == pytest.approx(timestep * process.defaults.timestep_factor)
    assert settings['minimise'] is True and settings['production'] == 50.0  # intervals in ps stay
    assert 'parent_folder' not in process.ctx.inputs
    assert {name: process.ctx.inputs[name].pk for name in start} == start  # the original lattice


def test_lammps_stops_with_411_below_the_minimum_time_step(generate_workchain, failed_job):
    process = generate_workchain('lammps')
    minimum = process.defaults.minimum_timestep
    process.ctx.inputs.settings = orm.Dict({**process.ctx.inputs.settings.get_dict(), 'timestep': 1.5 * minimum})
    exit_code = LammpsCgCalculation.exit_codes.ERROR_UNSTABLE_INTEGRATION.format(message='after step 12: ERROR')
    result = inspect(process, failed_job(LammpsCgCalculation, exit_code))
    assert result.status == process.exit_codes.ERROR_TIME_STEP_TOO_SMALL.status
    assert f'below {minimum:g} ps' in result.message
    assert process.ctx.inputs.settings['timestep'] == 1.5 * minimum


def test_minimum_time_steps_are_the_engines(generate_workchain):
    from aiida_cgmob.gromacs.mdp import MINIMUM_TIMESTEP as GROMACS_MINIMUM
    from aiida_cgmob.lammps.inputs import MINIMUM_TIMESTEP as LAMMPS_MINIMUM

    assert GromacsBaseWorkChain.defaults.minimum_timestep == GROMACS_MINIMUM
    assert LammpsCgBaseWorkChain.defaults.minimum_timestep == LAMMPS_MINIMUM
    assert IbiBaseWorkChain.defaults.minimum_timestep is None  # the IBI script shortens dt itself
    assert 'ERROR_TIME_STEP_TOO_SMALL' not in IbiBaseWorkChain.exit_codes


# ------------------------------------------------------------------------------------------- chain-specific


def test_lammps_without_restart_file_starts_afresh(generate_workchain, failed_job):
    """405: the continued run found no restart file; start again from the original lattice."""
    process = generate_workchain('lammps')
    first = failed_job(LammpsCgCalculation, wall_time_stop('lammps'), stopped_outputs('lammps', 40))
    assert inspect(process, first).status == 0 and 'n_beads' not in process.ctx.inputs
    exit_code = LammpsCgCalculation.exit_codes.ERROR_NO_RESTART_FILE.format(message='no restart file to continue from')
    assert inspect(process, failed_job(LammpsCgCalculation, exit_code)).status == 0
    assert 'parent_folder' not in process.ctx.inputs
    assert process.ctx.inputs.n_beads.value == 256 and process.ctx.inputs.number_density.value == 13.0


@pytest.mark.parametrize('label', ['ERROR_NOT_CONVERGED', 'ERROR_DIVERGED'])
def test_ibi_outcome_ends_with_the_jobs_code_and_message_once(generate_workchain, failed_job, label):
    """441/440 are outcomes, not errors to fix: the chain ends with the job's own code and message, said once
    (the demo printed 'Not converged ...: Not converged ...' before), keeping the best potential."""
    from aiida_cgmob.data import PotentialData
    from aiida_cgmob.potentials import lennard_jones

    process = generate_workchain('ibi')
    exit_code = IbiCalculation.exit_codes[label].format(
        message='RMS(g - g_target) did not fall below 0.0001 within 1 iterations; best 0.099 at iteration 0')
    outputs = {'result': orm.Dict({'status': 'not_converged', 'iterations': 1}),
               'potential': PotentialData(lennard_jones(np.linspace(0.3, 1.4, 111), cutoff=1.4))}
    node = failed_job(IbiCalculation, exit_code, outputs)
    result = inspect(process, node)
    assert result.status == process.exit_codes[label].status == exit_code.status
    assert result.message == exit_code.message
    template = IbiCalculation.exit_codes[label].message.split('{message}')[0].strip()
    assert result.message.count(template) == 1 and result.message.count('(best potential attached)') == 1
    assert result.message.count('did not fall below') == 1
    assert process.outputs['potential'].pk == node.outputs.potential.pk
    assert process.outputs['result'].pk == node.outputs.result.pk


# ------------------------------------------------------------------------------------------------- protocols


@pytest.mark.parametrize('name, protocol_file', [('gromacs', 'gromacs'), ('lammps', 'lammps_cg'), ('ibi', 'ibi')])
def test_max_iterations_comes_from_the_protocol(builders, name, protocol_file):
    """aiida's default of 5 jobs would stop a production needing a sixth continuation with 401."""
    data = load_protocol_file(protocol_file)
    for protocol in ('fast', 'moderate', 'precise'):
        expected = data['protocols'][protocol].get('max_iterations', data['default_inputs']['max_iterations'])
        assert builders[name](protocol).max_iterations.value == expected > 5
    assert builders[name]('fast', {'max_iterations': 33}).max_iterations.value == 33


def test_protocol_values_of_max_iterations():
    """The values the YAML files set (see their comments for the wall-time arithmetic behind them)."""
    assert GromacsBaseWorkChain.get_protocol_inputs('fast')['max_iterations'] == 10
    assert GromacsBaseWorkChain.get_protocol_inputs('moderate')['max_iterations'] == 20
    assert GromacsBaseWorkChain.get_protocol_inputs('precise')['max_iterations'] == 40
    assert IbiBaseWorkChain.get_protocol_inputs('fast')['max_iterations'] == 10
    for chain in (GromacsBaseWorkChain, LammpsCgBaseWorkChain, IbiBaseWorkChain):
        assert chain.spec().inputs['max_iterations'].default().value == chain.defaults.max_iterations > 5


@pytest.mark.parametrize('name, overrides, path', [
    ('gromacs', {'gromacs': {'paramters': {'stages': []}}}, 'gromacs.paramters'),
    ('gromacs', {'stages': []}, 'stages'),  # the structure before issue 8
    ('gromacs', {'gromacs': {'metadata': {'optons': {}}}}, 'gromacs.metadata.optons'),
    ('lammps', {'lammps': {'setings': {'timestep': 0.002}}}, 'lammps.setings'),
    ('lammps', {'settings': {'timestep': 0.002}}, 'settings'),
    ('ibi', {'ibi': {'lammps_setings': {}}}, 'ibi.lammps_setings'),
    ('ibi', {'seed': 3}, 'seed'),
    ('ibi', {'max_iteration': 3}, 'max_iteration'),
])
def test_an_unknown_override_key_is_refused_naming_its_path(builders, name, overrides, path):
    with pytest.raises(ValueError, match=rf"overrides: '{path}' is not an input of this work chain"):
        builders[name]('fast', overrides)


def test_overrides_mirror_the_builder_namespace(builders):
    builder = builders['lammps']('fast', {'lammps': {'settings': {'ensemble': 'npt', 'temperature': 310.0}}})
    settings = builder.lammps.settings.get_dict()
    assert settings['ensemble'] == 'npt' and settings['temperature'] == 310.0
    assert settings['timestep'] == 0.005 and settings['production'] == 50.0  # the rest of the protocol's, merged
    builder = builders['ibi']('fast', {'ibi': {'settings': {'method': 'ibi'}, 'seed': 3}})
    assert builder.ibi.settings['method'] == 'ibi' and builder.ibi.settings['max_iterations'] == 5
    assert builder.ibi.seed.value == 3
    stages = tiny_stages(dt=0.001)
    builder = builders['gromacs']('fast', {'gromacs': {'parameters': {'stages': stages}}})
    assert [stage['mdp']['dt'] for stage in builder.gromacs.parameters['stages'][1:]] == [0.001, 0.001]  # replaced


@pytest.mark.parametrize('name', ['gromacs', 'lammps'])
def test_a_new_time_step_is_not_taken_for_no_progress(generate_workchain, failed_job, name):
    """After a restart with a smaller time step, steps count differently: a wall-time stop at the same step as
    before the restart is progress, not a stuck continuation (412)."""
    process = generate_workchain(name)
    calculation = CALCULATIONS[name]
    assert inspect(process, failed_job(calculation, wall_time_stop(name), stopped_outputs(name, 800))).status == 0
    unstable = calculation.exit_codes.ERROR_UNSTABLE_INTEGRATION.format(message='blew up')
    assert inspect(process, failed_job(calculation, unstable)).status == 0
    again = failed_job(calculation, wall_time_stop(name), stopped_outputs(name, 800))
    assert inspect(process, again).status == 0
    assert process.ctx.inputs.parent_folder.pk == again.outputs.remote_folder.pk


def test_lammps_jobs_that_never_reach_a_restart_file_stop_with_412(generate_workchain, failed_job):
    """400 -> 405 (start afresh) -> 400 -> 405 again would loop until max_iterations: the second 405 stops the
    chain with 412, naming restart_interval."""
    process = generate_workchain('lammps')
    no_restart = LammpsCgCalculation.exit_codes.ERROR_NO_RESTART_FILE.format(message='no restart file to continue from')
    assert inspect(process, failed_job(LammpsCgCalculation, no_restart)).status == 0
    result = inspect(process, failed_job(LammpsCgCalculation, no_restart))
    assert result.status == process.exit_codes.ERROR_NO_PROGRESS.status
    assert 'restart_interval' in result.message


def test_protocol_builder_takes_whole_numbers_for_float_ports_and_leaves_overrides_alone(aiida_code_installed):
    """mass=72 (an int, or numpy.int64) is a bead mass in g/mol like 72.0; the caller's overrides are not changed."""
    import copy

    from aiida_cgmob.workchains.lammps_cg_base import LammpsCgBaseWorkChain

    code = aiida_code_installed(label='lmp-whole-numbers', filepath_executable='/bin/true')
    overrides = {'lammps': {'settings': {'production': 20.0}}}
    given = copy.deepcopy(overrides)
    from aiida_cgmob.data import PotentialData
    from aiida_cgmob.potentials import lennard_jones

    potential = PotentialData(lennard_jones(np.linspace(0.3, 1.4, 111), cutoff=1.4))
    builder = LammpsCgBaseWorkChain.get_builder_from_protocol(code, potential, np.int64(72), 'moderate', overrides,
                                                              number_density=8, n_beads=np.int64(500),
                                                              descriptors_code=code)
    assert isinstance(builder.lammps.mass, orm.Float) and builder.lammps.mass.value == 72.0
    assert isinstance(builder.lammps.number_density, orm.Float) and builder.lammps.n_beads.value == 500
    assert overrides == given


def test_gromacs_killed_before_a_stage_ran_starts_again(generate_workchain, failed_job):
    """A scheduler kill between stages: the stage that never ran has no checkpoint, so the chain starts again."""
    process = generate_workchain('gromacs')
    outputs = {'output_parameters': orm.Dict({'failed_stage': 'nvt', 'stages': [
        {'name': 'em', 'status': 'finished'}, {'name': 'nvt', 'status': 'not reached'}]})}
    assert inspect(process, failed_job(GromacsCalculation, wall_time_stop('gromacs'), outputs)).status == 0
    assert 'parent_folder' not in process.ctx.inputs and 'resume_stage' not in process.ctx.inputs


@pytest.mark.parametrize('parser_name', ['cgmob.lammps.cg', 'cgmob.ibi'])
def test_a_job_the_scheduler_killed_before_any_output_is_a_wall_time_stop(failed_job, parser_name):
    """The scheduler's 120 with nothing retrieved: the parser says 400 (continue or start again), not 310."""
    from aiida.plugins import ParserFactory

    calculation = {'cgmob.lammps.cg': LammpsCgCalculation, 'cgmob.ibi': IbiCalculation}[parser_name]
    killed = failed_job(calculation, SCHEDULER_OUT_OF_WALLTIME)
    _, parse = ParserFactory(parser_name).parse_from_node(killed, store_provenance=False)
    assert parse.exit_status == calculation.exit_codes.ERROR_OUT_OF_WALLTIME.status
    assert 'scheduler stopped the job at its wall time' in parse.exit_message
    not_killed = failed_job(calculation, 0)
    _, parse = ParserFactory(parser_name).parse_from_node(not_killed, store_provenance=False)
    assert parse.exit_status == calculation.exit_codes.ERROR_NO_OUTPUT.status


# ------------------------------------------------------------------------------------------ a replayed results step

@pytest.mark.parametrize('name', CHAINS)
def test_a_replayed_results_step_registers_the_outputs_it_finds_linked(generate_workchain, failed_job, name):
    """A daemon killed as the chain entered FINISHED (outputs linked, state not yet set) replays ``results``.

    aiida-core's step skips the outputs already linked: the replayed process registered none and ended with 11
    (ERROR_MISSING_OUTPUT), which failed a sample of a database build in CI.
    """
    process = generate_workchain(name)
    node = failed_job(CALCULATIONS[name], 0, FINISHED_OUTPUTS[name]())
    assert inspect(process, node) is None
    assert process.results() is None
    process.update_outputs()  # the links the engine makes on entering FINISHED, then the kill
    linked = process.node.base.links.get_outgoing(link_type=LinkType.RETURN).all_link_labels()
    assert {'remote_folder', 'retrieved'} <= set(linked)
    process._outputs = {}  # what a process reloaded from the checkpoint before this step has registered
    assert process.results() is None
    assert process.spec().outputs.validate(process.outputs) is None
    assert sorted(process.node.base.links.get_outgoing(link_type=LinkType.RETURN).all_link_labels()) == sorted(linked)
    for label in linked:
        assert process.outputs[label].pk == node.outputs[label].pk
