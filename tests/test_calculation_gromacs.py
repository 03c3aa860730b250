"""``cgmob.gromacs`` run for real on a tiny liquid: success, every exit code, and port validation."""

from __future__ import annotations

import pytest
from aiida import orm
from aiida.engine import run_get_node
from conftest import tiny_stages

from aiida_cgmob.calculations.gromacs import GromacsCalculation


def run_gromacs(code, liquid, stages, settings=None, **options):
    structure, topology = liquid
    inputs = {
        'code': code, 'structure': structure, 'topology': topology,
        'parameters': orm.Dict({'stages': stages}),
        'metadata': {'options': {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 2}, **options}},
    }
    if settings:
        inputs['settings'] = orm.Dict(settings)
    return run_get_node(GromacsCalculation, **inputs)


def test_success_outputs_and_units(gmx_code, tiny_liquid):
    results, node = run_gromacs(gmx_code, tiny_liquid, tiny_stages(nvt_steps=500, npt_steps=1000))
    assert node.is_finished_ok, node.exit_message
    report = results['output_parameters'].get_dict()
    assert [s['status'] for s in report['stages']] == ['finished'] * 3
    assert report['production_time'] == pytest.approx(2.0)  # 1000 steps x 2 fs
    assert report['n_atoms'] == 40 * 18
    # The box starts at 500 kg/m^3; 2 ps of NPT cannot move it far, but it must be a liquid-like number.
    assert 300 < report['density'] < 1000
    assert report['units']['density'] == 'kg/m^3'
    assert 200 < report['temperature'] < 400
    assert report['stages'][-1]['ns_per_day'] > 0
    energy = results['energy']
    assert energy.get_array('time').shape == energy.get_array('density').shape
    assert energy.base.attributes.get('units')['pressure'] == 'bar'
    assert results['structure'].get_content().splitlines()[1].strip() == str(40 * 18)
    # Trajectories and checkpoints stay in the remote folder.
    retrieved = node.outputs.retrieved.base.repository.list_object_names()
    assert not any(name.endswith(('.xtc', '.trr', '.cpt', '.edr')) for name in retrieved)
    remote = node.outputs.remote_folder.listdir()
    assert 'production.cpt' in remote and 'production.edr' in remote


def test_grompp_error_420(gmx_code, tiny_liquid):
    """dt = 10 fs: grompp warns that bonds oscillate faster than 5 steps, and warnings are errors."""
    _, node = run_gromacs(gmx_code, tiny_liquid, tiny_stages(dt=0.01))
    assert node.exit_status == GromacsCalculation.exit_codes.ERROR_INPUT_REFUSED.status
    assert 'nvt' in node.exit_message and 'oscillational period' in node.exit_message


def test_unstable_integration_410(gmx_code, tiny_liquid):
    """dt = 8 fs with the grompp warning waived: LINCS fails within a few steps."""
    _, node = run_gromacs(gmx_code, tiny_liquid, tiny_stages(dt=0.008), settings={'grompp_maxwarn': 1})
    assert node.exit_status == GromacsCalculation.exit_codes.ERROR_UNSTABLE_INTEGRATION.status
    assert 'LINCS' in node.exit_message or 'not finite' in node.exit_message
    stages = node.outputs.output_parameters['stages']
    assert stages[1]['status'] == 'unstable' and node.outputs.output_parameters['failed_stage'] == 'nvt'


def test_mdrun_error_430(gmx_code, tiny_liquid):
    """OMP_NUM_THREADS contradicting -ntomp is an mdrun fatal error unrelated to the physics."""
    _, node = run_gromacs(gmx_code, tiny_liquid, tiny_stages(), environment_variables={'OMP_NUM_THREADS': '3'})
    assert node.exit_status == GromacsCalculation.exit_codes.ERROR_ENGINE.status
    assert 'OMP_NUM_THREADS' in node.exit_message


def test_out_of_walltime_400(gmx_code, tiny_liquid):
    """mdrun -maxh stops production cleanly before the job's wall time runs out."""
    stages = tiny_stages(npt_steps=500000)
    _, node = run_gromacs(gmx_code, tiny_liquid, stages, max_wallclock_seconds=8)
    assert node.exit_status == GromacsCalculation.exit_codes.ERROR_OUT_OF_WALLTIME.status
    assert node.outputs.output_parameters['failed_stage'] == 'production'
    assert 'production.cpt' in node.outputs.remote_folder.listdir()


def test_stage_not_reached_311(gmx_code, tiny_liquid):
    """A job that dies before its first command (here: the job script exits at once)."""
    _, node = run_gromacs(gmx_code, tiny_liquid, tiny_stages(), prepend_text='exit 0')
    assert node.exit_status == GromacsCalculation.exit_codes.ERROR_STAGE_NOT_REACHED.status
    assert 'em' in node.exit_message


def test_missing_structure_and_energy_312(gmx_code, tiny_liquid):
    _, node = run_gromacs(gmx_code, tiny_liquid, tiny_stages(), append_text='rm -f production.gro')
    assert node.exit_status == GromacsCalculation.exit_codes.ERROR_OUTPUT_MISSING.status
    assert 'production.gro' in node.exit_message
    _, node = run_gromacs(gmx_code, tiny_liquid, tiny_stages(), append_text='rm -f energy.xvg')
    assert node.exit_status == GromacsCalculation.exit_codes.ERROR_OUTPUT_MISSING.status
    assert 'energy time series' in node.exit_message


@pytest.mark.parametrize('stages, settings, message', [
    ([{'name': 'em', 'type': 'minimise'}], None, 'production stage'),
    ([{'name': 'md', 'type': 'nvt', 'mdp': {'dt': -0.002}}], None, 'dt must be a positive number'),
    ([{'name': 'md', 'type': 'nvt', 'mdp': {'nstenergy': 150, 'nstcalcenergy': 100}}], None, 'multiple'),
    ([{'name': 'md', 'type': 'anneal'}], None, "type 'anneal'"),
    ([{'name': 'md', 'type': 'nvt'}], {'grompp_maxwarn': -1}, 'grompp_maxwarn'),
    ([{'name': 'md', 'type': 'nvt'}], {'keep_everything': True}, 'keep_everything'),
])
def test_bad_input_is_refused_at_the_port(gmx_code, tiny_liquid, stages, settings, message):
    with pytest.raises(ValueError, match=message):
        run_gromacs(gmx_code, tiny_liquid, stages, settings=settings)


def test_bad_structure_and_mpi_are_refused(gmx_code, tiny_liquid):
    structure, topology = tiny_liquid
    broken = orm.SinglefileData.from_string('title\n   5\n', filename='conf.gro')
    with pytest.raises(ValueError, match='structure'):
        run_gromacs(gmx_code, (broken, topology), tiny_stages())
    with pytest.raises(ValueError, match='withmpi'):
        run_gromacs(gmx_code, tiny_liquid, tiny_stages(), withmpi=True)


def test_grompp_error_message_names_the_real_cause(gmx_code, tiny_liquid):
    """A 2.4 nm box with 1.3 nm cut-offs: grompp's ERROR block, not just 'There was 1 error in input file(s)'."""
    cutoffs = {'rcoulomb': 1.3, 'rvdw': 1.3}
    stages = [{'name': 'em', 'type': 'minimise', 'mdp': cutoffs},
              {'name': 'md', 'type': 'nvt', 'mdp': {**cutoffs, 'nsteps': 10}}]
    _, node = run_gromacs(gmx_code, tiny_liquid, stages)
    assert node.exit_status == GromacsCalculation.exit_codes.ERROR_INPUT_REFUSED.status
    assert 'cut-off length is longer than half the shortest box vector' in node.exit_message
