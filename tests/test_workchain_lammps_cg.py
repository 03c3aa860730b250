"""``cgmob.lammps.cg.base`` run for real (LAMMPS, 1 thread, 256 beads): recovery from unstable integration and from
jobs killed mid-run, clean stops, the protocol builder and the ``aiida-cgmob cg`` command line."""

from __future__ import annotations

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from click.testing import CliRunner
from test_calculation_lammps_cg import DENSITY, MASS, N_BEADS, SHORT, killing_lmp_wrapper, lj_potential

from aiida_cgmob.calculations.lammps_cg import LammpsCgCalculation
from aiida_cgmob.cli import cmd_root
from aiida_cgmob.lammps import parse_log
from aiida_cgmob.potentials import write_lammps_table
from aiida_cgmob.workchains.lammps_cg_base import LammpsCgBaseWorkChain

RESOURCES = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1}}


def run_chain(code, settings=None, potential=None, descriptors_code=None, descriptor_settings=None,
              max_iterations=5):
    builder = LammpsCgBaseWorkChain.get_builder()
    builder.lammps.code = code
    builder.lammps.potential = potential or lj_potential()
    builder.lammps.mass = orm.Float(MASS)
    builder.lammps.settings = orm.Dict({**SHORT, **(settings or {})})
    builder.lammps.n_beads = orm.Int(N_BEADS)
    builder.lammps.number_density = orm.Float(DENSITY)
    if descriptors_code is not None:
        builder.lammps.descriptors.code = descriptors_code
        builder.lammps.descriptors.settings = orm.Dict(descriptor_settings or {'fit_window': [1.0, 8.0]})
    builder.lammps.metadata.options = RESOURCES
    if max_iterations is not None:  # None: the chain's own default
        builder.max_iterations = orm.Int(max_iterations)
    return run_get_node(builder)


def calculations(node):
    return sorted(node.called, key=lambda n: n.ctime)


def log_text(calculation) -> str:
    return calculation.outputs.retrieved.base.repository.get_object_content('log.lammps')


def report_text(node) -> str:
    return '\n'.join(log.message for log in orm.Log.collection.get_logs_for(node))


#: The chain's jobs are killed at these steps, one each (the seventh runs to the end): in the equilibration after
#: its first restart file, right after a restart file, right after a frame, right before a frame and a restart
#: file, before the job wrote any restart file, and at a restart step before its frames were closed.  Restart
#: files every 200 steps, frames every 20, the production from step 400 to 10400.
KILL_STEPS = [300, 2201, 4020, 6199, 6100, 8400, 9901]
#: the step each continuation starts from: the newest whole restart file (the fifth job wrote none)
STARTS = [200, 2200, 4000, 6000, 6000, 8200, 9800]


@pytest.fixture
def killing_lmp(aiida_code_installed, lmp_executable, tmp_path):
    """lmp that the 'scheduler' kills with SIGKILL at KILL_STEPS, one step per job: no ERROR line, no final restart."""
    wrapper = killing_lmp_wrapper(tmp_path, lmp_executable, KILL_STEPS)
    return aiida_code_installed(label='lmp-killed-at-steps-chain', filepath_executable=str(wrapper))


def test_recovers_from_unstable_integration_by_halving_the_time_step(lmp_code):
    """dt = 30 fs blows up (exit 410); the handler starts again at 15 fs, which works; intervals stay in ps."""
    results, node = run_chain(lmp_code, settings={'timestep': 0.03, 'frame_interval': 0.3})
    assert node.is_finished_ok, node.exit_message
    first, second = calculations(node)
    assert first.exit_status == LammpsCgCalculation.exit_codes.ERROR_UNSTABLE_INTEGRATION.status
    assert second.is_finished_ok
    assert second.inputs.settings['timestep'] == pytest.approx(0.015)
    assert second.inputs.settings['frame_interval'] == 0.3 and second.inputs.settings['minimise'] is True
    assert 'n_beads' in second.inputs and 'parent_folder' not in second.inputs  # a fresh start
    assert 'dt = 0.015 ps' in report_text(node)
    thermo = results['thermo'].get_dict()
    assert thermo['timestep_ps'] == pytest.approx(0.015)
    assert thermo['last_step'] == thermo['total_steps'] == 333 + 1333  # 5 ps + 20 ps at 15 fs, whole steps
    assert thermo['temperature_K'] == pytest.approx(298.15, rel=0.03)


def test_stops_when_the_time_step_cannot_help(lmp_code):
    """A table that starts at 0.5 nm cannot hold a lattice with 0.425 nm spacing at any time step: after one
    halving to the 0.5 fs floor the chain stops with 411 instead of trying forever."""
    _, node = run_chain(lmp_code, settings={'timestep': 0.001}, potential=lj_potential(r_min=0.5))
    assert node.exit_status == LammpsCgBaseWorkChain.exit_codes.ERROR_TIME_STEP_TOO_SMALL.status
    unstable = LammpsCgCalculation.exit_codes.ERROR_UNSTABLE_INTEGRATION.status
    assert [calc.exit_status for calc in calculations(node)] == [unstable, unstable]


def test_continues_jobs_killed_mid_run_until_the_production_is_complete(killing_lmp, descriptors_code):
    """Seven jobs are killed (SIGKILL at chosen steps, as a scheduler does at the wall time): no ERROR line and no
    final restart, only the alternating restart files.  Each continuation starts from the newest whole one of the
    last jobs (LAMMPS picks it by its step) and links the earlier trajectories: the descriptors and averages span
    the whole production, every frame once, evenly spaced.  (Killed after 3 s of wall time instead, on a loaded
    machine, a job could die after a restart file while frames before it were still in LAMMPS' xtc buffer, and
    the joined trajectory missed one: intervals 0.1 and 0.2 ps, descriptors refused with uneven_frames.)"""
    settings = {'equilibration': 2.0, 'production': 50.0, 'restart_interval': 1.0}
    # seven continuations finish within the chain's default max_iterations (the aiida-core default of 5 did not)
    results, node = run_chain(killing_lmp, settings=settings, descriptors_code=descriptors_code, max_iterations=None)
    assert node.is_finished_ok, node.exit_message
    assert node.inputs.max_iterations.value == LammpsCgBaseWorkChain.defaults.max_iterations >= 8
    calcs = calculations(node)
    assert len(calcs) == len(KILL_STEPS) + 1 and all(calc.exit_status == 400 for calc in calcs[:-1])
    assert all('killed' in calc.exit_message for calc in calcs[:-1])
    assert [parse_log(log_text(calc)).last_step for calc in calcs[:-1]] == KILL_STEPS
    for previous, calc in zip(calcs, calcs[1:], strict=False):
        assert calc.inputs.parent_folder.pk == previous.outputs.remote_folder.pk
        assert 'n_beads' not in calc.inputs
    assert [int(parse_log(log_text(calc)).runs[0].columns['Step'][0]) for calc in calcs[1:]] == STARTS
    assert 'continue from the newest restart file' in report_text(node)

    thermo = results['thermo'].get_dict()
    assert thermo['n_segments'] == len(calcs) and thermo['last_step'] == thermo['total_steps'] == 10400
    assert thermo['sampled_ps'] == pytest.approx([2.25, 52.0]) and thermo['n_samples'] == 200
    diffusion = results['descriptors']['diffusion'].get_dict()
    assert diffusion['time_span'] == pytest.approx([2.0, 52.0])
    assert diffusion['n_frames'] == 501  # each of the 501 production frames once
    assert np.isfinite(diffusion['D']) and diffusion['D'] > 0
    # the query of docs/cg.rst: chains by their D and bead mass
    qb = orm.QueryBuilder()
    qb.append(LammpsCgBaseWorkChain, filters={'id': node.pk}, tag='cg', project='id')
    qb.append(orm.Dict, with_incoming='cg', edge_filters={'label': 'descriptors__diffusion'},
              filters={'attributes.D_si': {'>': 0.0}}, project='attributes.D_si')
    qb.append(orm.Float, with_outgoing='cg', edge_filters={'label': 'lammps__mass'}, project='attributes.value')
    assert qb.all() == [[node.pk, diffusion['D_si'], MASS]]


def test_descriptor_failure_keeps_the_md_outputs_and_stops(lmp_code, descriptors_code):
    """A fit window past the end of the trajectory: the MD is fine, the descriptors are not (350)."""
    results, node = run_chain(lmp_code, descriptors_code=descriptors_code,
                              descriptor_settings={'fit_window': [500.0, 1000.0]})
    assert node.exit_status == LammpsCgBaseWorkChain.exit_codes.ERROR_DESCRIPTORS.status
    assert len(calculations(node)) == 1
    assert 'no_diffusive_regime' in node.exit_message
    assert results['thermo']['status'] == 'finished' and 'final_configuration' in results


def test_protocol_builder(lmp_code, descriptors_code):
    potential = lj_potential()
    builder = LammpsCgBaseWorkChain.get_builder_from_protocol(
        lmp_code, potential, 16.04, protocol='fast', number_density=13.0, descriptors_code=descriptors_code,
        overrides={'lammps': {'settings': {'ensemble': 'npt', 'temperature': 310.0}}},
        options={'max_wallclock_seconds': 600})
    settings = builder.lammps.settings.get_dict()
    assert settings['production'] == 50.0 and settings['ensemble'] == 'npt' and settings['temperature'] == 310.0
    assert builder.lammps.n_beads.value == 256 and builder.lammps.number_density.value == 13.0
    assert builder.lammps.descriptors.settings['bin_width'] == 0.01
    assert builder.lammps.metadata.options['max_wallclock_seconds'] == 600
    moderate = LammpsCgBaseWorkChain.get_builder_from_protocol(lmp_code, potential, 50.0, number_density=5.0)
    assert moderate.lammps.n_beads.value == 1000 and moderate.lammps.settings['production'] == 200.0
    for kwargs, message in (({'protocol': 'sloppy', 'number_density': 13.0}, "protocol 'sloppy'"),
                            ({}, 'number_density'),
                            ({'number_density': 13.0, 'overrides': {'lammps': {'settings': {'timestep': 0}}}},
                             'timestep must be a number > 0, got 0'),
                            ({'number_density': 13.0, 'overrides': {'settings': {'timestep': 0.002}}},
                             "overrides: 'settings' is not an input of this work chain"),
                            ({'number_density': 13.0, 'overrides': {'stages': []}},
                             "overrides: 'stages' is not an input of this work chain")):
        with pytest.raises(ValueError, match=message):
            LammpsCgBaseWorkChain.get_builder_from_protocol(lmp_code, potential, 16.04, **kwargs)


def test_command_line_runs_and_shows_a_cg_liquid(lmp_code, descriptors_code, tmp_path):
    """`aiida-cgmob cg run` from a LAMMPS table file (fast protocol, made shorter), then `cg show --plot`."""
    from aiida_cgmob.cli.cmd_cg import potential_node
    from aiida_cgmob.launch import launch_cg

    runner = CliRunner()
    for args in (['cg'], ['cg', 'run'], ['cg', 'show']):
        assert runner.invoke(cmd_root, [*args, '--help']).exit_code == 0
    table = tmp_path / 'lj.table'
    write_lammps_table(table, lj_potential().potential, keyword='LJ')
    result = runner.invoke(cmd_root, ['cg', 'run', str(table), '--keyword', 'LJ', '-X', lmp_code.full_label,
                                      '--mass', '16.04', '--protocol', 'fast', '--timestep', '0.0'])
    assert result.exit_code != 0 and 'timestep' in result.output  # refused before anything runs
    before = orm.QueryBuilder().append(orm.Node).count()
    result = runner.invoke(cmd_root, ['cg', 'run', str(table), '-X', lmp_code.full_label, '--mass', '16.04'])
    assert result.exit_code != 0 and 'give --number-density (beads/nm^3)' in result.output
    assert orm.QueryBuilder().append(orm.Node).count() == before  # the table was not even read into a node
    result = runner.invoke(cmd_root, ['cg', 'run', str(table), '-X', lmp_code.full_label, '--mass', '16.04',
                                      '--number-density', '13'])
    assert result.exit_code != 0 and "no section 'CG' (found: ['LJ'])" in result.output

    # the command's own launcher with a shorter production than the fast protocol's, then the CLI to show it
    potential = potential_node(str(table), keyword='LJ')
    assert potential.is_stored and potential.cutoff == pytest.approx(1.2)
    overrides = {'lammps': {'settings': {'equilibration': 2.0, 'production': 10.0},
                            'descriptors': {'settings': {'fit_window': [1.0, 4.0]}}}}
    node = launch_cg(lmp_code, potential, 16.04, 'fast', overrides, RESOURCES, number_density=DENSITY,
                     descriptors_code=descriptors_code)
    assert node.is_finished_ok, node.exit_message
    image = tmp_path / 'cg.png'
    result = runner.invoke(cmd_root, ['cg', 'show', str(node.pk), '--plot', str(image)])
    assert result.exit_code == 0, result.output
    for text in ('NVT at 298.15 K', 'temperature', 'mass density', 'ns/day', 'D ', 'first peak'):
        assert text in result.output
    assert image.stat().st_size > 0
    result = runner.invoke(cmd_root, ['cg', 'show', str(potential.pk)])
    assert result.exit_code != 0 and 'not a cgmob.lammps.cg run' in result.output


def test_command_line_starts_from_an_all_atom_run(lmp_code):
    """`cg run --from-aa PK`: the final frame of a (here: recorded, not rerun) cgmob.gromacs calculation, one bead
    per molecule with the molecular mass; the CG chain is reachable from the AA run in the provenance graph."""
    from aiida.common.links import LinkType

    from aiida_cgmob.calculations.functions import build_liquid

    liquid = build_liquid(orm.Str('3MePe'), orm.Int(100), orm.Float(600.0), orm.Int(0))
    aa = orm.CalcJobNode(computer=lmp_code.computer, process_type='aiida.calculations:cgmob.gromacs')
    aa.base.links.add_incoming(liquid['topology'], LinkType.INPUT_CALC, 'topology')
    aa.store()
    final = orm.SinglefileData.from_string(liquid['structure'].get_content(), filename='production.gro')
    final.base.links.add_incoming(aa, LinkType.CREATE, 'structure')
    final.store()
    aa.seal()

    potential = lj_potential().store()
    runner = CliRunner()
    result = runner.invoke(cmd_root, ['cg', 'run', str(potential.pk), '-X', lmp_code.full_label, '--from-aa',
                                      str(aa.pk), '--number-density', '13'])
    assert result.exit_code != 0 and 'drop --n-beads and --number-density' in result.output
    result = runner.invoke(cmd_root, ['cg', 'run', str(potential.pk), '-X', lmp_code.full_label, '--from-aa',
                                      str(aa.pk), '--protocol', 'fast', '--timestep', '0.01', '--no-descriptors'])
    assert result.exit_code == 0, result.output
    assert 'finished, exit 0' in result.output and 'NVT at 298.15 K; dt 0.01 ps' in result.output
    qb = orm.QueryBuilder()
    qb.append(orm.CalcJobNode, filters={'id': aa.pk}, tag='aa')
    qb.append(orm.SinglefileData, with_incoming='aa', tag='frame')
    qb.append(orm.CalcFunctionNode, with_incoming='frame', tag='mapping')
    qb.append(orm.ArrayData, with_incoming='mapping', tag='start')
    qb.append(LammpsCgBaseWorkChain, with_incoming='start')
    chain = qb.all(flat=True)
    assert len(chain) == 1
    cg = chain[0]
    assert cg.is_finished_ok and cg.inputs.lammps.mass.value == pytest.approx(86.178, abs=0.01)
    assert cg.outputs.thermo['n_beads'] == 100
