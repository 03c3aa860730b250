"""GROMACS kernel: stage validation and .mdp files, reading GROMACS output, and the parser on real outputs.

The output fixtures under ``tests/fixtures/gromacs/<scenario>/`` are what ``cgmob.gromacs`` retrieves from real
GROMACS 2022.5 runs of a 40-molecule ethylbenzene box; ``tests/fixtures/gromacs/make_fixtures.py`` regenerates
them and documents each scenario.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from aiida_cgmob.gromacs import StageError, largest_cutoff, plan_stages, validate_stages, write_mdp
from aiida_cgmob.gromacs.outputs import (
    block_average,
    fatal_error,
    gro_box,
    grompp_errors,
    grompp_failure,
    grompp_warnings,
    mdrun_status,
    read_xvg,
    topology_mass,
)
from aiida_cgmob.topology import build_liquid, build_molecule, write_top
from aiida_cgmob.units import AVOGADRO

FIXTURES = Path(__file__).parent / 'fixtures' / 'gromacs'
_spec = importlib.util.spec_from_file_location('make_fixtures', FIXTURES / 'make_fixtures.py')
make_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_fixtures)

TINY = {'rcoulomb': 0.9, 'rvdw': 0.9}


def read(scenario: str, filename: str) -> str:
    return (FIXTURES / scenario / filename).read_text()


def performance_line(text: str) -> float:
    """ns/day read the simple way: the last 'Performance:' line, second field."""
    return float([line for line in text.splitlines() if line.startswith('Performance:')][-1].split()[1])


# ---------------------------------------------------------------------------------------------------------------
# Stage validation: every error names the stage and the field
# ---------------------------------------------------------------------------------------------------------------


def md(name='prod', kind='npt', **mdp):
    return {'name': name, 'type': kind, 'mdp': mdp}


EM = {'name': 'em', 'type': 'minimise', 'mdp': {}}


@pytest.mark.parametrize('stages, message', [
    ([], r'stages must be a non-empty list'),
    ([EM, {'name': 'prod', 'type': 'nve'}], r"stage 'prod': type 'nve' is not one of \['minimise', 'npt', 'nvt'\]"),
    ([md('a', 'nvt'), md('a')], r"stage 1: name 'a' is used twice"),
    ([md('1st')], r"stage 0: name '1st' must start with a letter"),
    ([md('with space')], r"name 'with space' must start with a letter and hold only letters"),
    ([{**md(), 'temperature': 300}], r"stage 0: unknown field\(s\) \['temperature'\]"),
    ([md(dt=0)], r"stage 'prod': dt must be a positive number, got 0"),
    ([md(dt=-0.001)], r"stage 'prod': dt must be a positive number"),
    ([md(dt=0.05)], r"stage 'prod': dt = 0.05 ps is far beyond any all-atom time step"),
    ([md(nsteps=-1)], r"stage 'prod': nsteps = -1 \(run forever\)"),
    ([md(nsteps=1.5)], r"stage 'prod': nsteps must be a non-negative integer, got 1.5"),
    ([md(nsteps=-2)], r"stage 'prod': nsteps must be a non-negative integer, got -2"),
    ([md(nstenergy=150, nstcalcenergy=100)], r"stage 'prod': nstenergy \(150\) must be a multiple of nstcalcenergy "
                                             r"\(100\)"),
    ([md('nvt', 'nvt'), {**EM, 'name': 'final_em'}], r"the last stage \('final_em'\) is the production stage and "
                                                       r'must be nvt or npt'),
    ([md(rvdw=1.2, rcoulomb=1.1)], r"stage 'prod': with PME, rvdw \(1.2\) may not exceed rcoulomb \(1.1\)"),
    ([md(ref_t='warm')], r"stage 'prod': ref-t must be a positive number, got 'warm'"),
])
def test_validate_stages_errors_name_the_field(stages, message):
    with pytest.raises(StageError, match=message):
        validate_stages(stages)


def test_stage_error_is_a_value_error():
    assert issubclass(StageError, ValueError)


def test_validate_stages_normalises_keys():
    (stage,) = validate_stages([md(ref_t=310.0, Tau_T=0.5, dispcorr='no')])
    assert stage['mdp'] == {'ref-t': 310.0, 'tau-t': 0.5, 'DispCorr': 'no'}


def test_rvdw_above_rcoulomb_is_allowed_without_pme():
    assert validate_stages([md(rvdw=1.2, rcoulomb=1.0, coulombtype='Reaction-Field')])


def test_time_step_guard_applies_to_every_dynamics_integrator():
    with pytest.raises(StageError, match='dt'):
        validate_stages([md(integrator='sd', dt=0.05)])


# ---------------------------------------------------------------------------------------------------------------
# Stage chaining
# ---------------------------------------------------------------------------------------------------------------


def test_plan_stages_chains_coordinates_and_checkpoints():
    planned = plan_stages([EM, md('nvt', 'nvt'), md('prod', 'npt')], input_structure='start.gro')
    assert [p['coordinates'] for p in planned] == ['start.gro', 'em.gro', 'nvt.gro']
    assert [p['checkpoint'] for p in planned] == [None, None, 'nvt.cpt']
    em, nvt, prod = (p['mdp'] for p in planned)
    assert em['integrator'] == 'steep' and 'gen-vel' not in em
    assert em['constraints'] == 'none'
    # velocities generated once, right after minimisation; the next stage continues from the checkpoint
    assert (nvt['gen-vel'], nvt['continuation']) == ('yes', 'no')
    assert (prod['gen-vel'], prod['continuation']) == ('no', 'yes')
    assert prod['pcoupl'] == 'C-rescale' and nvt['pcoupl'] == 'no'


def test_plan_stages_generates_velocities_for_npt_after_minimisation():
    _, prod = plan_stages([EM, md('prod', 'npt', ref_t=350.0)])
    assert prod['checkpoint'] is None
    assert (prod['mdp']['gen-vel'], prod['mdp']['continuation']) == ('yes', 'no')
    assert prod['mdp']['gen-temp'] == 350.0  # drawn at the thermostat temperature


def test_plan_stages_first_md_stage_generates_velocities():
    (prod,) = plan_stages([md('prod', 'npt')])
    assert (prod['mdp']['gen-vel'], prod['mdp']['continuation']) == ('yes', 'no')
    assert prod['coordinates'] == 'conf.gro' and prod['checkpoint'] is None


def test_plan_stages_keeps_user_choice():
    _, nvt, _ = plan_stages([EM, md('nvt', 'nvt', gen_vel='no', continuation='yes'), md()])
    assert (nvt['mdp']['gen-vel'], nvt['mdp']['continuation']) == ('no', 'yes')


def test_plan_stages_second_nvt_continues_from_the_checkpoint():
    _, _, second, _ = plan_stages([EM, md('nvt1', 'nvt'), md('nvt2', 'nvt'), md()])
    assert second['checkpoint'] == 'nvt1.cpt'
    assert (second['mdp']['gen-vel'], second['mdp']['continuation']) == ('no', 'yes')


def test_write_mdp_renders_booleans_lists_and_numbers():
    text = write_mdp({'gen-vel': True, 'continuation': False, 'tc-grps': ['A', 'B'], 'ref-t': [300, 310.5],
                      'dt': 0.002})
    lines = dict(line.split(' = ') for line in text.splitlines())
    assert {key.strip(): value for key, value in lines.items()} == {
        'gen-vel': 'yes', 'continuation': 'no', 'tc-grps': 'A B', 'ref-t': '300 310.5', 'dt': '0.002'}
    assert text.endswith('\n')


# ---------------------------------------------------------------------------------------------------------------
# Reading GROMACS output (real fixture texts)
# ---------------------------------------------------------------------------------------------------------------


def test_fatal_error_of_grompp():
    assert fatal_error(read('grompp_dt', 'nvt_grompp.log')) == (
        'Too many warnings (1). If you are sure all warnings are harmless, use the -maxwarn option.')
    # later stages of the same job fail because the earlier one left no coordinates
    assert "File 'em.gro' does not exist" in fatal_error(read('omp_threads', 'nvt_grompp.log'))


def test_fatal_error_of_mdrun():
    assert fatal_error(read('lincs', 'nvt_mdrun.log')).startswith('Too many LINCS warnings (113) If you know what')
    assert fatal_error(read('omp_threads', 'em_mdrun.log')) == (
        'Environment variable OMP_NUM_THREADS (3) and the number of threads requested on the command line (2) have '
        'different values. Either omit one, or set them both to the same value.')
    assert fatal_error(read('user_input', 'em_mdrun.log')) == (  # framed as 'Error in user input:'
        'Invalid command-line options In command-line option -ddorder Invalid value: foo')


@pytest.mark.parametrize('filename', sorted(p.name for p in (FIXTURES / 'finished').glob('*.log')))
def test_no_fatal_error_in_a_finished_run(filename):
    assert fatal_error(read('finished', filename)) is None


def test_fatal_error_file_input_output():
    assert fatal_error(read('io_error', 'production_mdrun.log')) == 'production.edr'


def test_grompp_warnings():
    (warning,) = grompp_warnings(read('grompp_dt', 'nvt_grompp.log'))
    assert 'estimated oscillational period of 2.5e-02 ps' in warning
    assert 'less than 5 times the time step of 1.0e-02 ps' in warning
    (accepted,) = grompp_warnings(read('lincs', 'nvt_grompp.log'))  # accepted with -maxwarn 1
    assert 'time step of 8.0e-03 ps' in accepted
    assert grompp_warnings(read('finished', 'nvt_grompp.log')) == []  # a NOTE is not a warning


BOX_CAUSE = ('The cut-off length is longer than half the shortest box vector or longer than the smallest box diagonal '
             'element. Increase the box size or decrease rlist.')


def test_grompp_failure_gives_the_cause_not_the_count():
    """grompp's fatal error only counts the errors; the cause is in its 'ERROR 1 [file ..., line ...]:' block."""
    text = read('grompp_box', 'em_grompp.log')
    assert fatal_error(text) == 'There was 1 error in input file(s)'  # all that was shown before
    assert grompp_errors(text) == [BOX_CAUSE]
    assert grompp_failure(text) == f'{BOX_CAUSE} (There was 1 error in input file(s))'


def test_grompp_failure_after_too_many_warnings_gives_the_warning():
    text = read('grompp_dt', 'nvt_grompp.log')
    message = grompp_failure(text)
    assert message.startswith('Too many warnings (1).')
    assert 'Warnings: ' in message and 'estimated oscillational period of 2.5e-02 ps' in message
    assert grompp_failure(text, warnings=False) == fatal_error(text)


@pytest.mark.parametrize('scenario', ['finished', 'lincs'])  # 'lincs': a warning accepted with -maxwarn 1
def test_grompp_failure_is_none_when_grompp_succeeded(scenario):
    assert grompp_failure(read(scenario, 'nvt_grompp.log')) is None


def test_grompp_failure_of_a_real_grompp_on_a_too_small_box(tmp_path, gmx_executable):
    """30 molecules of 3-methylpentane at 500 kg/m^3 (2.05 nm) with 1.1 nm cut-offs, the box check bypassed."""
    import subprocess

    build_liquid('3MePe', 30).write(tmp_path)
    (stage,) = plan_stages([{'name': 'em', 'type': 'minimise'}, {'name': 'md', 'type': 'nvt'}])[:1]
    (tmp_path / 'em.mdp').write_text(write_mdp(stage['mdp']))
    process = subprocess.run([gmx_executable, '-nobackup', '-quiet', 'grompp', '-f', 'em.mdp', '-c', 'conf.gro',
                              '-p', 'topol.top', '-o', 'em.tpr', '-maxwarn', '0'], cwd=tmp_path, capture_output=True,
                             text=True)
    assert process.returncode != 0
    assert grompp_failure(process.stdout + process.stderr) == f'{BOX_CAUSE} (There was 1 error in input file(s))'


def test_largest_cutoff():
    assert largest_cutoff() == 1.1  # nm, the defaults of every stage type
    assert largest_cutoff([{'name': 'em', 'type': 'minimise', 'mdp': {'rvdw': 0.9, 'rcoulomb': 1.2}},
                           {'name': 'md', 'type': 'nvt', 'mdp': TINY}]) == 1.2
    assert largest_cutoff([{'name': 'md', 'type': 'npt', 'mdp': {'rvdw': 1.0}}]) == 1.1  # rcoulomb default


def test_mdrun_status_finished():
    log = read('finished', 'production.log')
    status = mdrun_status(log, read('finished', 'production_mdrun.log'))
    assert status.finished and not status.unstable and not status.stopped_by_maxh
    assert status.error is None
    assert status.last_step == 300
    assert status.ns_per_day == performance_line(log) > 0
    assert mdrun_status(read('finished', 'em.log'), read('finished', 'em_mdrun.log')).finished


def test_mdrun_status_stopped_by_maxh():
    status = mdrun_status(read('maxh', 'production.log'), read('maxh', 'production_mdrun.log'))
    assert status.stopped_by_maxh
    assert not status.finished and not status.unstable and status.error is None
    assert status.last_step is not None and 0 < status.last_step < 200000


def test_mdrun_status_lincs_fatal_error():
    status = mdrun_status(read('lincs', 'nvt.log'), read('lincs', 'nvt_mdrun.log'))
    assert status.unstable and not status.finished
    assert status.error.startswith('Too many LINCS warnings')


def test_mdrun_status_lincs_crash_without_error_block():
    """GROMACS 2022.5 segfaults after a few LINCS warnings here, before its own fatal error."""
    stdout = read('lincs_crash', 'nvt_mdrun.log')
    assert 'Fatal error' not in stdout and 'LINCS WARNING' in stdout
    status = mdrun_status(read('lincs_crash', 'nvt.log'), stdout)
    assert status.unstable and not status.finished
    assert 'LINCS WARNING' in status.error


def test_mdrun_status_user_error_is_not_unstable():
    status = mdrun_status(read('omp_threads', 'em.log'), read('omp_threads', 'em_mdrun.log'))
    assert not status.unstable and not status.finished
    assert 'OMP_NUM_THREADS' in status.error


def test_mdrun_status_killed_at_wall_time_is_not_unstable():
    status = mdrun_status(read('interrupted', 'production.log'), read('interrupted', 'production_mdrun.log'))
    assert not status.finished and not status.stopped_by_maxh
    assert status.error is None and not status.unstable


def test_read_xvg_legends_and_data():
    text = read('finished', 'energy.xvg')
    data, legends = read_xvg(text)
    assert legends == ['Potential', 'Temperature', 'Pressure', 'Density']
    np.testing.assert_array_equal(data, np.loadtxt(FIXTURES / 'finished' / 'energy.xvg', comments=('#', '@')))
    assert data.shape == (31, 5)
    np.testing.assert_allclose(np.diff(data[:, 0]), 0.02, atol=1e-6)  # nstenergy 10 x dt 0.002 ps
    broken = text.replace('@ s3 legend "Density"\n', '')
    with pytest.raises(ValueError, match='xvg holds 5 columns for 3 legends'):
        read_xvg(broken)
    empty, no_legends = read_xvg('# nothing here\n')
    assert empty.shape == (0, 1) and no_legends == []


def test_final_box_density_matches_the_energy_file():
    """Density from the final .gro box and the topology mass equals GROMACS' last Density frame."""
    top = build_liquid('EtBz', 40).top  # the topology of the fixture runs
    box = gro_box(read('finished', 'production.gro'))
    density = topology_mass(top) * 1e-3 / AVOGADRO / (np.prod(box) * 1e-27)
    data, legends = read_xvg(read('finished', 'energy.xvg'))
    assert density == pytest.approx(data[-1, 1 + legends.index('Density')], rel=1e-4)


def test_block_average_of_iid_series():
    rng = np.random.default_rng(2024)
    sigma, n = 2.0, 2000
    series = rng.normal(5.0, sigma, size=n)
    mean, error = block_average(series)
    assert mean == pytest.approx(series.mean())
    assert 0.5 < error / (sigma / np.sqrt(n)) < 2.0
    # over many series the estimate is unbiased in variance: RMS error -> sigma / sqrt(n)
    errors = np.array([block_average(rng.normal(0.0, sigma, size=n))[1] for _ in range(300)])
    assert np.sqrt(np.mean(errors ** 2)) == pytest.approx(sigma / np.sqrt(n), rel=0.1)


def test_block_average_sees_correlation():
    """An AR(1) series with phi = 0.9 has a standard error sqrt((1 + phi) / (1 - phi)) ~ 4.4 times the naive one."""
    rng = np.random.default_rng(7)
    phi, n = 0.9, 20000
    noise = rng.normal(size=n)
    series = np.empty(n)
    series[0] = noise[0]
    for i in range(1, n):
        series[i] = phi * series[i - 1] + noise[i]
    naive = series.std(ddof=1) / np.sqrt(n)
    _, error = block_average(series)
    assert error > 2.0 * naive


def test_block_average_edge_cases():
    assert block_average(np.full(100, 3.7)) == (pytest.approx(3.7), pytest.approx(0.0, abs=1e-12))
    # fewer than 2 values per block: too short to say, not a naive (uncorrelated) error
    for short in (np.array([1.0, 3.0]), np.array([4.0]), np.arange(9.0)):
        mean, error = block_average(short)
        assert mean == pytest.approx(short.mean()) and np.isnan(error)
    assert np.isfinite(block_average(np.arange(10.0))[1])
    mean, error = block_average(np.array([]))
    assert np.isnan(mean) and np.isnan(error)


def test_topology_mass():
    liquid = build_liquid('3MePe', 30)
    assert topology_mass(liquid.top) == pytest.approx(30 * liquid.molecule.mass, rel=1e-9)
    assert topology_mass(build_liquid('EtBz', 40).top) == pytest.approx(40 * 106.168, abs=1e-3)
    with pytest.raises(ValueError, match=r"molecule types \['MPE'\] are not defined inline"):
        topology_mass(write_top(build_molecule('3MePe'), 30, itp_name='MPE.itp'))


# ---------------------------------------------------------------------------------------------------------------
# The parser on what a calculation retrieves
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope='module')
def fixture_liquid():
    return build_liquid('EtBz', 40)  # the box of the fixture runs


@pytest.fixture
def parse(aiida_localhost, fixture_liquid):
    """Parse a fixture folder as the ``retrieved`` output of a ``cgmob.gromacs`` CalcJobNode; return the node."""
    from aiida import orm
    from aiida.common.links import LinkType

    from aiida_cgmob.parsers.gromacs import GromacsParser

    def factory(scenario: str, stages: list[dict] | None = None):
        node = orm.CalcJobNode(computer=aiida_localhost, process_type='aiida.calculations:cgmob.gromacs')
        node.set_option('resources', {'num_machines': 1, 'num_mpiprocs_per_machine': 1})
        inputs = {
            'parameters': orm.Dict({'stages': stages or make_fixtures.STAGES[scenario]}),
            'topology': orm.SinglefileData.from_string(fixture_liquid.top, filename='topol.top'),
            'structure': orm.SinglefileData.from_string(fixture_liquid.gro, filename='conf.gro'),
        }
        for label, value in inputs.items():
            node.base.links.add_incoming(value.store(), link_type=LinkType.INPUT_CALC, link_label=label)
        node.store()
        retrieved = orm.FolderData()
        if (FIXTURES / scenario).is_dir():
            retrieved.base.repository.put_object_from_tree(str(FIXTURES / scenario))
        retrieved.base.links.add_incoming(node, link_type=LinkType.CREATE, link_label='retrieved')
        retrieved.store()
        results, calcfunction = GromacsParser.parse_from_node(node, store_provenance=False)
        return results, calcfunction

    return factory


def test_parser_finished_run(parse):
    results, calcfunction = parse('finished')
    assert calcfunction.exit_status == 0
    report = results['output_parameters'].get_dict()
    assert [stage['status'] for stage in report['stages']] == ['finished'] * 3
    data, legends = read_xvg(read('finished', 'energy.xvg'))
    for key, legend in (('density', 'Density'), ('temperature', 'Temperature'), ('potential_energy', 'Potential')):
        assert report[key] == pytest.approx(data[:, 1 + legends.index(legend)].mean())
        assert report[f'{key}_error'] > 0
    assert 400 < report['density'] < 600  # a box started at 500 kg/m^3 and run for 0.6 ps
    assert report['production_time'] == pytest.approx(0.6)
    assert (report['n_frames'], report['n_atoms']) == (31, 720)
    assert report['ns_per_day'] == performance_line(read('finished', 'production.log'))
    assert report['units']['density'] == 'kg/m^3'
    np.testing.assert_allclose(results['energy'].get_array('time'), data[:, 0])
    assert results['structure'].get_content() == read('finished', 'production.gro')


@pytest.mark.parametrize('scenario, label, stage, gromacs_message', [
    ('lincs', 'ERROR_UNSTABLE_INTEGRATION', 'nvt', 'Too many LINCS warnings (113)'),
    ('lincs_crash', 'ERROR_UNSTABLE_INTEGRATION', 'nvt', 'LINCS WARNING'),
    ('grompp_dt', 'ERROR_INPUT_REFUSED', 'nvt', 'estimated oscillational period of 2.5e-02 ps'),
    ('omp_threads', 'ERROR_ENGINE', 'em',
     'Environment variable OMP_NUM_THREADS (3) and the number of threads requested'),
    ('user_input', 'ERROR_ENGINE', 'em',
     'Invalid command-line options In command-line option -ddorder Invalid value: foo'),
    ('maxh', 'ERROR_OUT_OF_WALLTIME', 'production', 'stopped at step'),
    ('empty', 'ERROR_STAGE_NOT_REACHED', 'em', 'left no output'),
    ('interrupted', 'ERROR_OUT_OF_WALLTIME', 'production', 'stopped at step'),
    ('restart_omp', 'ERROR_ENGINE', 'production', 'OMP_NUM_THREADS (3)'),
    ('io_error', 'ERROR_ENGINE', 'production', 'production.edr'),
])
def test_parser_exit_codes(parse, scenario, label, stage, gromacs_message):
    from aiida_cgmob.calculations.gromacs import GromacsCalculation

    results, calcfunction = parse(scenario, make_fixtures.STAGES['finished'] if scenario == 'empty' else None)
    assert calcfunction.exit_status == GromacsCalculation.exit_codes[label].status, calcfunction.exit_message
    assert gromacs_message in calcfunction.exit_message
    assert f'stage {stage!r}' in calcfunction.exit_message
    assert calcfunction.exit_message.count('remote folder') <= 1  # one message, said once
    report = results['output_parameters'].get_dict()
    assert report['failed_stage'] == stage
    assert 'energy' not in results and 'structure' not in results


def test_parser_names_the_cause_of_a_grompp_error(parse):
    """The exit message carries grompp's ERROR block, not only 'There was 1 error in input file(s)'."""
    from aiida_cgmob.calculations.gromacs import GromacsCalculation

    results, calcfunction = parse('grompp_box')
    assert calcfunction.exit_status == GromacsCalculation.exit_codes.ERROR_INPUT_REFUSED.status
    assert f'{BOX_CAUSE} (There was 1 error in input file(s))' in calcfunction.exit_message
    report = results['output_parameters'].get_dict()
    assert report['failed_stage'] == 'em'
    assert report['stages'][0]['error'].startswith(BOX_CAUSE)


def test_parser_reports_the_first_failing_stage(parse):
    """After a failed minimisation the job script carries on: the next grompp fails too, the first failure counts."""
    results, calcfunction = parse('omp_threads')
    stages = results['output_parameters'].get_dict()['stages']
    assert [s['name'] for s in stages] == ['em']
    assert stages[0]['status'] == 'mdrun failed'
    assert 'em.gro' in fatal_error(read('omp_threads', 'nvt_grompp.log'))


def test_read_gro_is_the_one_reader_and_names_what_is_wrong(fixture_liquid):
    """The validator of cgmob.gromacs, the CG start from an AA frame and the parser's box all read .gro here."""
    from aiida_cgmob.gromacs.outputs import read_gro

    positions, box = read_gro(fixture_liquid.gro)
    assert positions.shape == (int(fixture_liquid.gro.splitlines()[1]), 3) and box.size == 3 and np.all(box > 0)
    lines = fixture_liquid.gro.strip().splitlines()
    for text, message in (('title\nforty\n', 'atom count on line 2'),
                          ('\n'.join(lines[:-2] + lines[-1:]), 'atom lines'),
                          ('\n'.join(lines[:-1] + ['0 0 0']), 'no valid box')):
        with pytest.raises(ValueError, match=message):
            read_gro(text)
