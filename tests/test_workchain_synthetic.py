"""``cgmob.synthetic.sample`` and ``cgmob.synthetic.database`` with the real engines on tiny systems."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from tiny_sample import OPTIONS, TINY

BIN = Path(sys.executable).parent

@pytest.fixture
def codes(gmx_code, lmp_code, descriptors_code, aiida_code_installed):
    ibi = aiida_code_installed(label='cgmob-ibi', default_calc_job_plugin='cgmob.ibi',
                               filepath_executable=str(BIN / 'cgmob-ibi'))
    return {'gmx': gmx_code, 'lmp': lmp_code, 'cgmob-descriptors': descriptors_code, 'cgmob-ibi': ibi}


#: nodes made once per module: tests read them, none changes them
_NODES: dict[str, int] = {}


def row_keys(label: str) -> list[tuple]:
    from aiida_cgmob.data import RowData

    query = orm.QueryBuilder().append(orm.Group, filters={'label': label}, tag='group')
    query.append(RowData, with_group='group', project=['attributes.molecule', 'attributes.sample_seed',
                                                       'attributes.mass_index'])
    return sorted(tuple(key) for key in query.all())


@pytest.fixture
def first_build(codes):
    """A database of one tiny sample (2 rows), built here (run once per module)."""
    from aiida_cgmob.launch import launch_database

    if 'first' not in _NODES:
        _NODES['first'] = launch_database(codes, 'tiny', [1], ['3MePe'], 'fast', TINY, OPTIONS, daemon=False).pk
    return orm.load_node(_NODES['first'])



def test_rows_on_the_common_grids_with_provenance_to_the_seed(first_build):
    from aiida_cgmob.data import RowData
    from aiida_cgmob.dataset import G_GRID

    assert first_build.is_finished_ok, (first_build.exit_status, first_build.exit_message)
    assert first_build.outputs.summary['rows_added'] == 2
    assert row_keys('tiny') == [('3MePe', 1, 0), ('3MePe', 1, 1)]
    sample = next(node for node in first_build.called if node.process_label == 'SyntheticSampleWorkChain')
    rows = [sample.outputs.rows[name] for name in sorted(sample.outputs.rows)]
    for row in rows:
        assert row.g.shape == (G_GRID.n_points,) and np.all(np.isfinite(row.g)) and np.all(np.isfinite(row.u))
        assert np.allclose(row.r_g, G_GRID.r) and row.u[-1] == 0.0 and row.r_u[-1] == pytest.approx(1.0)
        assert row.g[-20:].mean() == pytest.approx(1.0, abs=0.05)  # g -> 1 at 2.4-2.5 nm: the box held the grid
        attributes = row.base.attributes.all
        assert attributes['ensemble'] == 'nvt' and attributes['temperature'] == 298.15
        assert attributes['cg_production'] == 10.0 and attributes['n_beads'] >= 500
        assert attributes['D_sqrt_m'] == pytest.approx(attributes['D'] * attributes['mass'] ** 0.5)
        assert attributes['mass_density'] == pytest.approx(
            attributes['number_density'] * attributes['mass'] / 0.602214076)
        assert attributes['units']['D'] == '1e-9 m^2/s' and 'mass_scaling_ok' in row.base.extras.all
        # provenance: seed -> parameters -> topology -> AA -> IBI -> CG -> row; seed -> masses -> CG
        ancestors = orm.QueryBuilder().append(RowData, filters={'id': row.pk}, tag='row').append(
            orm.ProcessNode, with_descendants='row', project='process_type').all(flat=True)
        for kind in ('cgmob.gromacs', 'cgmob.ibi', 'cgmob.lammps.cg', 'sample_bonded_parameters', 'build_liquid',
                     'draw_masses', 'make_row'):
            assert any(str(found).endswith(kind) for found in ancestors), (kind, ancestors)
        mass = row.creator.inputs.mass
        assert mass.creator.process_label == 'draw_masses' and mass.creator.inputs.seed.value == 1
    masses = [row.base.attributes.get('mass') for row in rows]
    assert all(20.0 <= mass <= 200.0 for mass in masses) and masses[0] != masses[1]
    scaling = sample.outputs.mass_scaling
    assert scaling['n'] == 2 and scaling['rows'] == ['row_0', 'row_1']



def test_a_replayed_rows_step_reuses_the_rows_it_made(first_build):
    """A daemon killed inside a sample's rows step (rows stored, the next checkpoint not yet saved) makes the
    restarted daemon run the step again: the rows and the mass-scaling check of the first pass are reused, so the
    database holds no row that no sample returns.  The step is run twice on a new process over the finished
    sample's real CG runs."""
    from aiida.engine.utils import instantiate_process
    from aiida.manage import get_manager

    from aiida_cgmob.workchains.synthetic import SyntheticSampleWorkChain

    sample = next(node for node in first_build.called if node.process_label == 'SyntheticSampleWorkChain')
    process = instantiate_process(get_manager().get_runner(), SyntheticSampleWorkChain,
                                  **sample.get_builder_restart())
    process.setup()
    process.ctx.ibi_status = 'not_converged'
    process.ctx.summary['ibi'] = {'rms': 0.01}
    process.ctx.masses = {f'mass_{index}': sample.outputs.rows[f'row_{index}'].creator.inputs.mass
                          for index in range(2)}
    for link in sample.base.links.get_outgoing(link_label_filter='cg_%').all():
        process.ctx[link.link_label] = link.node

    def made(function):
        return sorted(node.pk for node in process.node.called if node.process_label == function)

    def inspect_cg():  # as the engine runs a step: the process is current, so its calcfunctions are its calls
        with process._process_scope():
            return process.inspect_cg()

    assert inspect_cg() is None
    first = {name: row.pk for name, row in process.outputs['rows'].items()}
    calls = made('make_row'), made('check_mass_scaling')
    assert len(first) == 2 and len(calls[0]) == 2 and len(calls[1]) == 1
    process._outputs = {}  # what a process reloaded from the checkpoint before the step has registered
    assert inspect_cg() is None
    assert {name: row.pk for name, row in process.outputs['rows'].items()} == first
    assert (made('make_row'), made('check_mass_scaling')) == calls
    assert process.outputs['mass_scaling'].creator.pk == calls[1][0]

def test_extend_with_new_seeds_and_caching_recomputes_nothing(first_build, codes):
    """The same Group with seeds [1, 2] adds only seed 2; another Group of seed 1 with caching reuses every job."""
    from aiida.manage.caching import enable_caching

    from aiida_cgmob.launch import launch_database

    extended = launch_database(codes, 'tiny', [1, 2], ['3MePe'], 'fast', TINY, OPTIONS, daemon=False)
    assert extended.is_finished_ok
    summary = extended.outputs.summary.get_dict()
    assert (summary['skipped'], summary['rows_added'], summary['rows_in_group']) == (1, 2, 4)
    assert row_keys('tiny') == [('3MePe', 1, 0), ('3MePe', 1, 1), ('3MePe', 2, 0), ('3MePe', 2, 1)]

    with enable_caching():
        again = launch_database(codes, 'tiny-again', [1], ['3MePe'], 'fast', TINY, OPTIONS, daemon=False)
    assert again.is_finished_ok and row_keys('tiny-again') == [('3MePe', 1, 0), ('3MePe', 1, 1)]
    jobs = [node for node in again.called_descendants if isinstance(node, orm.CalcJobNode)]
    assert len(jobs) == 4 and all(job.base.caching.is_created_from_cache for job in jobs)  # AA, IBI, 2 x CG


def test_a_failed_sample_is_recorded_and_the_others_go_on(codes):
    """A liquid that cannot be packed fails its sample (460) at once; the build records it and finishes the rest."""
    from aiida_cgmob.launch import launch_database

    overrides = {**TINY, 'start_density': 2000.0}  # no room for the molecules: the liquid cannot be built
    build = launch_database(codes, 'failing', [5, 6], ['3MePe'], 'fast', overrides, OPTIONS, daemon=False)
    assert build.exit_status == 470  # every sample failed, each for a reason
    failures = build.outputs.summary['failures']
    assert len(failures) == 2 and all('460' in reason and 'PackingError' in reason for reason in failures.values())
    group = orm.load_group('failing')
    members = list(group.nodes)
    assert len(members) == 2 and all(node.exit_status == 460 for node in members)
    assert {node.base.extras.get('cgmob_seed') for node in members} == {5, 6}


def test_database_build_survives_a_killed_daemon(tmp_path):
    """SIGKILL every daemon process in the middle of a build, start it again: no row lost, none twice."""
    import json
    import os
    import subprocess

    script = Path(__file__).with_name('daemon_kill_build.py')
    result = subprocess.run([sys.executable, str(script), '--path', str(tmp_path / 'aiida')], capture_output=True,
                            text=True, timeout=1500, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-12000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures['killed_pids'] >= 2 and figures['rows_before_kill'] < figures['rows_planned']
    assert figures['rows_in_group'] == figures['distinct_rows_in_group'] == figures['rows_planned']
    # the killed broker left its endpoint file behind: the restart must not connect the new worker to it
    assert figures['stale_broker_endpoint_removed']


@pytest.mark.parametrize(('change', 'field'), [
    ({'molecules': ['NotAMolecule']}, 'molecule'),
    ({'seeds': []}, 'seeds'),
    ({'seeds': [1, 2, 1]}, 'seeds'),
    ({'seeds': [-1]}, 'seeds'),
    ({'overrides': {'mass_range': [0.0, 100.0]}}, 'mass_range'),
    ({'overrides': {'mass_range': [100.0, 100.0]}}, 'mass_range'),
    ({'overrides': {'mass_range': [50.0, float('inf')]}}, 'mass_range'),
    ({'overrides': {'n_masses': 0}}, 'n_masses'),
    ({'max_concurrent': 0}, 'max_concurrent'),
    ({'overrides': {'cg_n_beads': 100}}, 'cg_n_beads'),
    ({'overrides': {'g_grid': {'r_min': 0.1, 'r_max': 2.5, 'n_points': 1}}}, 'g_grid'),
    ({'overrides': {'n_molecules': 20}}, 'n_molecules'),
    ({'overrides': {'mass_distribution': 'normal'}}, 'mass_distribution'),
])
def test_bad_input_is_refused_before_anything_is_stored(codes, change, field):
    from aiida_cgmob.launch import launch_database

    arguments = {'seeds': [1, 2], 'molecules': ['3MePe', 'EtBz'], 'overrides': {}, 'max_concurrent': 2}
    arguments.update(change)
    before = orm.QueryBuilder().append(orm.Node).count()
    with pytest.raises(ValueError, match=field):
        launch_database(codes, 'refused', arguments.pop('seeds'), arguments.pop('molecules'), 'fast',
                        arguments.pop('overrides'), OPTIONS, daemon=False, **arguments)
    assert orm.QueryBuilder().append(orm.Node).count() == before
    assert not orm.QueryBuilder().append(orm.Group, filters={'label': 'refused'}).count()


def test_the_ports_refuse_what_the_launcher_refuses(codes):
    """A builder made by hand is refused at submission too, naming the field."""
    from aiida_cgmob.workchains.synthetic import SyntheticSampleWorkChain

    builder = SyntheticSampleWorkChain.get_builder_from_protocol(codes, '3MePe', 1, 'fast', {'n_masses': 0})
    with pytest.raises(ValueError, match='n_masses'):
        run_get_node(builder)


def test_cli_build_parses_seeds_and_refuses_bad_input_before_submitting(codes):
    from click.testing import CliRunner

    from aiida_cgmob.cli.cmd_database import cmd_database, parse_seeds, progress_line

    assert parse_seeds('1-3,7, 9-10') == [1, 2, 3, 7, 9, 10]
    with pytest.raises(ValueError, match='seeds'):
        parse_seeds('1-x')
    line = progress_line({'rows_in_group': 12, 'rows_at_start': 2, 'rows_planned': 20, 'samples_planned': 4,
                          'samples_ended': 2, 'samples_failed': 1, 'samples_running': 2}, 125.0)
    assert line == 'rows 10/20, samples 2/4 ended (1 failed, 2 running), 2:05 elapsed, ~2 min left'
    before = orm.QueryBuilder().append(orm.Node).count()
    for arguments, field in ((['--seeds', '1,1'], 'seeds'), (['--seeds', '1', '-m', 'Xx'], 'molecule'),
                             (['--seeds', '1', '-K', '0'], 'n_masses'), (['--seeds', '1', '--concurrency', '0'],
                                                                        'max_concurrent'),
                             (['--seeds', '1', '--mass-range', '50', '20'], 'mass_range')):
        result = CliRunner().invoke(cmd_database, ['build', 'refused', '--protocol', 'fast', *arguments])
        assert result.exit_code != 0 and field in result.output, (arguments, result.output)
    assert orm.QueryBuilder().append(orm.Node).count() == before


def test_options_reach_every_job_and_chain_overrides_win(codes):
    from aiida_cgmob.workchains.synthetic import SyntheticSampleWorkChain

    one = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1}}
    inputs = SyntheticSampleWorkChain.inputs_from_protocol(
        codes, 'fast', {'cg': {'lammps': {'metadata': {'options': one}}}},
        {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 2}, 'max_wallclock_seconds': 900})
    assert inputs['aa']['gromacs']['metadata']['options']['resources']['num_mpiprocs_per_machine'] == 2
    assert inputs['ibi']['ibi']['metadata']['options']['max_wallclock_seconds'] == 900
    assert inputs['cg']['lammps']['metadata']['options']['resources']['num_mpiprocs_per_machine'] == 1
    assert inputs['cg']['lammps']['metadata']['options']['max_wallclock_seconds'] == 900


def test_stash_reaches_the_all_atom_and_cg_jobs_of_every_sample(codes):
    """``database build --stash DIR``: the sample's all-atom and CG jobs stash to DIR, the inversion does not; the
    builder of the whole build passes the ports' validation (aiida-core's own check of the stash options)."""
    from aiida_cgmob.calculations.base import stash_options
    from aiida_cgmob.workchains.synthetic import SyntheticDatabaseWorkChain

    stash = stash_options('/project/me/cgmob', 'tar.gz')
    overrides = {'aa': {'gromacs': {'metadata': {'options': {'stash': stash}}}},
                 'cg': {'lammps': {'metadata': {'options': {'stash': stash}}}}}
    builder = SyntheticDatabaseWorkChain.get_builder_from_protocol(
        codes, 'stashed', [1, 2], ['3MePe'], 'fast', overrides, {'max_wallclock_seconds': 900}, max_concurrent=2)
    sample = builder.sample
    assert sample.aa.gromacs.metadata.options.stash == stash == sample.cg.lammps.metadata.options.stash
    assert sample.aa.gromacs.metadata.options.max_wallclock_seconds == 900
    assert not sample.ibi.ibi.metadata.options.stash  # an empty namespace: no stash
    assert SyntheticDatabaseWorkChain.spec().inputs.validate(builder._inputs(prune=True)) is None
    with pytest.raises(ValueError, match='stash.target_base` should be an absolute filepath, got: project'):
        sample.aa.gromacs.metadata.options.stash = {**stash, 'target_base': 'project'}
