"""``cgmob.gromacs.base`` run for real: recovery from unstable integration and wall time, clean stops."""

from __future__ import annotations

import pytest
from aiida import orm
from aiida.engine import run_get_node
from conftest import tiny_stages

from aiida_cgmob.calculations.gromacs import GromacsCalculation
from aiida_cgmob.workchains.gromacs_base import GromacsBaseWorkChain, scale_time_step


def run_chain(code, liquid, stages, settings=None, max_iterations=5, **options):
    structure, topology = liquid
    builder = GromacsBaseWorkChain.get_builder()
    builder.gromacs.code = code
    builder.gromacs.structure = structure
    builder.gromacs.topology = topology
    builder.gromacs.parameters = orm.Dict({'stages': stages})
    if settings:
        builder.gromacs.settings = orm.Dict(settings)
    builder.max_iterations = orm.Int(max_iterations)
    builder.gromacs.metadata.options = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 2}, **options}
    return run_get_node(builder)


def calculations(node):
    return sorted(node.called, key=lambda n: n.ctime)


def report_text(node) -> str:
    from aiida.orm import Log

    return '\n'.join(log.message for log in Log.collection.get_logs_for(node))


def test_scale_time_step_keeps_simulated_time_and_output_times():
    stages, smallest = scale_time_step(tiny_stages(dt=0.004, nvt_steps=100, npt_steps=200))
    assert smallest == pytest.approx(0.002)
    nvt, production = stages[1]['mdp'], stages[2]['mdp']
    assert nvt['dt'] * nvt['nsteps'] == pytest.approx(0.4)
    assert production['dt'] * production['nsteps'] == pytest.approx(0.8)
    assert production['nstenergy'] == 20 and production['nstcalcenergy'] == 20
    assert stages[0]['mdp']['nsteps'] == 1000  # minimisation doubled
    no_minimisation, _ = scale_time_step(tiny_stages()[1:])
    assert no_minimisation[0]['type'] == 'minimise'
    quarter, smallest = scale_time_step(tiny_stages(dt=0.004, nvt_steps=100), factor=0.25)
    assert smallest == pytest.approx(0.001) and quarter[1]['mdp']['nsteps'] == 400
    assert quarter[2]['mdp']['nstenergy'] == 40 and quarter[0]['mdp']['nsteps'] == 2000


def test_recovers_from_unstable_integration(gmx_code, tiny_liquid):
    """dt = 8 fs blows up (exit 410); the handler re-minimises and reruns at 4 fs, which works."""
    results, node = run_chain(gmx_code, tiny_liquid, tiny_stages(dt=0.008), settings={'grompp_maxwarn': 1})
    assert node.is_finished_ok, node.exit_message
    first, second = calculations(node)
    assert first.exit_status == GromacsCalculation.exit_codes.ERROR_UNSTABLE_INTEGRATION.status
    assert second.is_finished_ok
    nvt = second.inputs.parameters['stages'][1]['mdp']
    assert nvt['dt'] == pytest.approx(0.004) and nvt['nsteps'] == 1000
    assert 're-minimise' in report_text(node)
    assert results['output_parameters']['production_time'] == pytest.approx(4.0)  # 1000 steps x 4 fs


def test_continues_from_checkpoint_after_walltime(gmx_code, tiny_liquid):
    """Production outlives the job's wall time; the chain continues it from the checkpoint until done.

    How many continuations that takes depends on the machine's speed (two on an idle CI machine).
    """
    npt_steps = 25000
    results, node = run_chain(gmx_code, tiny_liquid, tiny_stages(npt_steps=npt_steps), max_iterations=40,
                              max_wallclock_seconds=10)
    assert node.is_finished_ok, node.exit_message
    calcs = calculations(node)
    assert len(calcs) >= 2 and calcs[0].exit_status == GromacsCalculation.exit_codes.ERROR_OUT_OF_WALLTIME.status
    assert calcs[1].inputs.resume_stage.value == 'production'
    assert calcs[1].inputs.parent_folder.pk == calcs[0].outputs.remote_folder.pk
    # Earlier stages were not run again: the resumed job holds no grompp of its own for them.
    assert 'checkpoint' in report_text(node)
    final = results['output_parameters']
    assert final['stages'][-1]['last_step'] == npt_steps
    # The energy file was appended across the restarts: it spans the whole production.
    assert final['production_time'] == pytest.approx(npt_steps * 0.002)


def test_unrecoverable_failure_stops_with_the_engine_message(gmx_code, tiny_liquid):
    _, node = run_chain(gmx_code, tiny_liquid, tiny_stages(dt=0.01))
    assert node.exit_status == GromacsBaseWorkChain.exit_codes.ERROR_UNRECOVERABLE_FAILURE.status
    assert 'oscillational period' in node.exit_message
    assert len(calculations(node)) == 1


def test_protocol_builder_and_provenance(gmx_code, tiny_liquid):
    """A synthetic liquid: seed -> sampled parameters -> topology -> AA run, reachable by QueryBuilder."""
    from aiida_cgmob.data import BondedParametersData
    from aiida_cgmob.launch import launch_aa

    builder = GromacsBaseWorkChain.get_builder_from_protocol(
        gmx_code, *tiny_liquid, protocol='fast', temperature=310.0, pressure=2.0)
    stages = builder.gromacs.parameters['stages']
    assert [s['type'] for s in stages] == ['minimise', 'nvt', 'npt', 'npt']
    assert all(s['mdp']['ref-t'] == 310.0 for s in stages[1:]) and stages[-1]['mdp']['ref-p'] == 2.0
    with pytest.raises(ValueError, match='protocol'):
        GromacsBaseWorkChain.get_builder_from_protocol(gmx_code, *tiny_liquid, protocol='sloppy')
    with pytest.raises(ValueError, match='only hydrocarbons'):
        launch_aa(gmx_code, 'CCO', 40)

    node = launch_aa(gmx_code, '3MePe', 50, 'fast', {'gromacs': {'parameters': {'stages': tiny_stages()}}},
                     {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 2}}, sample_seed=11)
    assert node.process_label == 'GromacsBaseWorkChain'
    query = orm.QueryBuilder()
    query.append(BondedParametersData, filters={'attributes.seed': 11}, tag='params')
    query.append(orm.CalcJobNode, with_incoming='params', project='id')
    assert node.called[0].pk in [row[0] for row in query.all()]
    topology = node.inputs.gromacs.topology
    assert topology.creator.inputs.bonded_parameters.seed == 11
    assert 'seed 11' in topology.get_content()
