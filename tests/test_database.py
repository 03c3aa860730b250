"""The database API (aiida_cgmob.database) and ``aiida-cgmob database``: selection, arrays, torch, HDF5 export and
import as a training set, the archive round trip into a fresh profile, the commands.  Rows are made without MD
(tests/database_rows.py); one has a CG run behind it through the real make_row.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from aiida import orm
from click.testing import CliRunner
from database_rows import failed_sample, plain_row, row_with_provenance

from aiida_cgmob import database, dataset
from aiida_cgmob.cli import cmd_root
from aiida_cgmob.data import RowData, TrainingSetData

BIN = Path(sys.executable).parent
#: (molecule, seed, mass index, mass g/mol, ibi status, mass scaling ok) of the plain rows
PLAIN = [
    ('EtBz', 1, 0, 30.0, 'converged', True), ('EtBz', 1, 1, 90.0, 'converged', True),
    ('EtBz', 1, 2, 180.0, 'converged', False),
    ('EtBz', 2, 0, 50.0, 'not_converged', True), ('EtBz', 2, 1, 120.0, 'not_converged', True),
    ('3MePe', 1, 0, 40.0, 'converged', None),
]


def d_of(mass: float) -> float:
    """D (1e-9 m^2/s) of a bead of ``mass`` g/mol when D sqrt(m) = 18."""
    return 18.0 / np.sqrt(mass)


@pytest.fixture(scope='module')
def db(aiida_profile):
    """A database Group: 6 plain rows, 1 row with its CG run, 2 failed samples; and a row outside it."""
    group = orm.Group(label=f'db-test-{uuid.uuid4().hex[:8]}').store()
    rows = [plain_row(molecule, seed, index, mass, d_of(mass), ibi_status=status, scaling_ok=ok)
            for molecule, seed, index, mass, status, ok in PLAIN]
    made = row_with_provenance('EtBz', 3, 0, 80.0, d_of(80.0))
    failed = [failed_sample('3MePe', 2, 462, 'ERROR_SAMPLE_AA: GromacsBaseWorkChain<1> exit 300'),
              failed_sample('234TriMePe', 1, 463, 'ERROR_SAMPLE_CG: no CG run finished')]
    group.add_nodes([*rows, made, *failed])
    outside = plain_row('EtBz', 1, 0, 30.0, d_of(30.0))  # same key, another (unnamed) database
    return {'group': group, 'rows': rows, 'made': made, 'failed': failed, 'outside': outside}


# -------------------------------------------------------------------------------------------------- selection
def test_select_rows_filters(db):
    group = db['group']
    assert database.count_rows(group) == 7
    assert database.count_rows(group.label) == 7 and database.count_rows(group.pk) == 7
    assert database.count_rows(group, molecule='EtBz') == 6
    assert database.count_rows(group, molecule=['EtBz', '3MePe']) == 7
    assert database.count_rows(group, mass=(45, 130)) == 4  # 90, 50, 120, 80
    assert database.count_rows(group, mass=(None, 45)) == 2
    assert database.count_rows(group, D=(d_of(100.0), None)) == 5  # lighter than 100 g/mol: faster
    assert database.count_rows(group, seed=1) == 4 and database.count_rows(group, seed=[2, 3]) == 3
    assert database.count_rows(group, converged=False) == 2 and database.count_rows(group, converged=True) == 5
    assert database.count_rows(group, mass_scaling_ok=False) == 1
    assert database.count_rows(group, mass_scaling_ok=True) == 4
    assert database.count_rows(group, origin='final_potential') == 7 and database.count_rows(group, origin='x') == 0
    assert database.count_rows(group, cutoff=1.4) == 7 and database.count_rows(group, cutoff=1.0) == 0
    found = database.rows(group, molecule='EtBz', seed=1, converged=True)
    assert [row.base.attributes.get('mass') for row in found] == [30.0, 90.0, 180.0]
    assert all(isinstance(row, RowData) for row in found)
    assert len(database.rows(group, limit=2)) == 2
    # without a group: every row of the profile, the one outside the Group too
    assert db['outside'].pk in [row.pk for row in database.rows(molecule='EtBz', seed=1, mass=(29, 31))]


def test_select_rows_projects_and_refuses_bad_filters(db):
    query = database.select_rows(db['group'], molecule='3MePe', project=['uuid', 'attributes.mass'])
    assert query.all() == [[db['rows'][5].uuid, 40.0]]
    with pytest.raises(ValueError, match='mass: min 200 > max 20'):
        database.select_rows(db['group'], mass=(200, 20))
    with pytest.raises(ValueError, match=r'D: give \(min, max\) in 1e-9 m\^2/s'):
        database.select_rows(db['group'], D=2.0)
    with pytest.raises(ValueError, match='molecule: an empty list'):
        database.select_rows(db['group'], molecule=[])
    with pytest.raises(ValueError, match="group 'no-such-database'"):
        database.count_rows('no-such-database')
    with pytest.raises(TypeError):
        database.select_rows(db['group'], temperature=(1, 2))


def test_failed_samples_and_summary(db):
    failed = database.failed_samples(db['group'])
    assert [(sample.molecule, sample.seed, sample.exit_status) for sample in failed] == [
        ('3MePe', 2, 462), ('234TriMePe', 1, 463)]
    assert failed[0].node.pk == db['failed'][0].pk and 'exit 300' in failed[0].message
    assert {node.pk for node in db['failed']} <= {sample.node.pk for sample in database.failed_samples()}
    found = database.summary(db['group'])
    assert found['n_rows'] == 7 and found['n_failed'] == 2
    assert found['molecules'] == {'234TriMePe': {'rows': 0, 'samples': 0, 'failed': 1},
                                  '3MePe': {'rows': 1, 'samples': 1, 'failed': 1},
                                  'EtBz': {'rows': 6, 'samples': 3, 'failed': 0}}
    assert found['mass'] == (30.0, 180.0) and found['D'] == pytest.approx((d_of(180.0), d_of(30.0)))
    assert found['D_sqrt_m'] == pytest.approx((18.0, 18.0))
    assert found['ibi_status'] == {'converged': 5, 'not_converged': 2}
    assert found['mass_scaling'] == {'ok': 4, 'flagged': 1, 'unchecked': 2}
    assert found['failures'][462]['count'] == 1 and found['units']['D'] == '1e-9 m^2/s'


# ----------------------------------------------------------------------------------------------------- arrays
def test_to_arrays_matches_the_nodes(db):
    table = database.to_arrays(db['group'])
    nodes = database.rows(db['group'])
    assert table['g'].shape == (7, 481) and table['g_error'].shape == (7, 481) and table['u'].shape == (7, 551)
    np.testing.assert_array_equal(table['r_g'], dataset.G_GRID.r)
    np.testing.assert_array_equal(table['r_u'], nodes[0].r_u)
    assert list(table['uuid']) == [node.uuid for node in nodes] and list(table['pk']) == [node.pk for node in nodes]
    for index, node in enumerate(nodes):
        np.testing.assert_array_equal(table['g'][index], node.g)
        np.testing.assert_array_equal(table['u'][index], node.u)
        np.testing.assert_array_equal(table['g_error'][index], node.get_array('g_error'))
        for name in ('mass', 'D', 'D_sqrt_m', 'number_density', 'mass_density', 'temperature', 'pressure'):
            assert table[name][index] == node.base.attributes.get(name), name
        assert table['molecule'][index] == node.base.attributes.get('molecule')
    assert list(table['mass_scaling_ok']) == [1, 1, 0, 1, 1, -1, -1]
    assert table['units']['u'] == 'kJ/mol' and table['u_grid'] == {'r_min': 0.3, 'r_max': 1.4, 'n_points': 551}
    slow = database.to_arrays(db['group'], bulk=False)
    for name in ('g', 'g_error', 'u', 'mass', 'D'):
        np.testing.assert_array_equal(table[name], slow[name])
    selected = database.to_arrays(db['group'], molecule='EtBz', converged=False)
    assert list(selected['mass']) == [50.0, 120.0]
    with pytest.raises(ValueError, match='no rows match'):
        database.to_arrays(db['group'], molecule='nothing')


def test_rows_on_different_grids_are_refused(aiida_profile):
    group = orm.Group(label=f'mixed-{uuid.uuid4().hex[:8]}').store()
    wide, narrow = plain_row('EtBz', 1, 0, 50.0, 2.0), plain_row('EtBz', 1, 1, 60.0, 2.0, cutoff=1.0)
    group.add_nodes([wide, narrow])
    with pytest.raises(dataset.GridError) as error:
        database.to_arrays(group)
    message = str(error.value)
    assert '0.3-1.4 nm, 551 points' in message and '0.3-1 nm, 351 points' in message
    assert wide.uuid in message and narrow.uuid in message and 'cut-off' in message
    with pytest.raises(dataset.GridError):
        database.export_hdf5(group, aiida_profile_path(group) / 'never.h5')
    assert database.to_arrays(group, cutoff=1.0)['u'].shape == (1, 351)


def aiida_profile_path(group) -> Path:
    """A folder for files that must never be written (the export is refused before)."""
    return Path(os.environ['AIIDA_PATH'])


def test_row_dataset_has_torch_shapes(db):
    import torch

    rows = database.row_dataset(db['group'], molecule='EtBz')
    assert len(rows) == 6 and isinstance(rows, torch.utils.data.Dataset)
    assert isinstance(rows, database.RowDataset)
    inputs, label = rows[0]
    assert inputs['g'].shape == (481,) and label.shape == (551,) and label.dtype == torch.float32
    assert inputs['mass'].dtype == torch.float32 and float(inputs['mass']) == 30.0


# ----------------------------------------------------------------------------------------------- export, import
def test_hdf5_export_round_trip(db, tmp_path):
    path = database.export_hdf5(db['group'], tmp_path / 'db.h5')
    table, arrays = dataset.read(path), database.to_arrays(db['group'])
    for name in ('r_g', 'r_u', 'g', 'g_error', 'u', *dataset.COLUMNS):
        np.testing.assert_array_equal(table[name], arrays[name], err_msg=name)
    assert list(table['uuid']) == [row.uuid for row in database.rows(db['group'])]
    assert table['units']['D'] == '1e-9 m^2/s' and table['units']['r_u'] == 'nm'
    assert db['group'].label in table['source'] and '7 rows' in table['source']
    selected = dataset.read(database.export_hdf5({'group': db['group'].label, 'molecule': '3MePe'},
                                                 tmp_path / 'sel.h5'))
    assert list(selected['molecule']) == ['3MePe'] and "molecule='3MePe'" in selected['source']


def test_hdf5_import_makes_a_training_set_with_provenance(db, tmp_path):
    path = database.export_hdf5(db['group'], tmp_path / 'db.h5')
    training_set = database.import_hdf5(path, label='db-v1')
    assert isinstance(training_set, TrainingSetData) and training_set.is_stored and training_set.label == 'db-v1'
    assert training_set.n_rows == 7 and training_set.base.attributes.get('u_grid')['n_points'] == 551
    creator = training_set.creator
    assert creator.process_label == 'training_set_from_hdf5' and creator.is_finished_ok
    source = creator.inputs.file
    assert isinstance(source, orm.SinglefileData) and source.label == 'db-v1'
    assert source.get_content('rb') == path.read_bytes()
    table = training_set.as_table()
    expected = dataset.read(path)
    for name in ('g', 'u', 'mass', 'D', 'uuid', 'molecule', 'mass_scaling_ok'):
        np.testing.assert_array_equal(table[name], expected[name], err_msg=name)
    assert table['units'] == expected['units'] and table['format'] == 'cgmob-database'
    assert len(database.RowDataset(table)) == 7
    before = orm.QueryBuilder().append(orm.Node).count()
    (tmp_path / 'bad.h5').write_bytes(b'not a database')
    with pytest.raises(dataset.DatabaseFileError, match='not an HDF5 file'):
        database.import_hdf5(tmp_path / 'bad.h5')
    assert orm.QueryBuilder().append(orm.Node).count() == before


#: run in a new interpreter whose AIIDA_PATH is an empty folder: make a profile there, import the archive, check it
IMPORT_INTO_FRESH_PROFILE = r'''
import json, os, sys
from pathlib import Path

import aiida
from aiida.manage.configuration import create_profile, get_config

archive, label = sys.argv[1:3]
config = get_config(create=True)
create_profile(config, name='fresh', email='fresh@localhost', storage_backend='core.sqlite_dos',
               storage_config={'filepath': str(Path(os.environ['AIIDA_PATH']) / 'storage')})
config.set_default_profile('fresh', overwrite=True)
config.store()
aiida.load_profile('fresh')
from aiida import orm
from aiida.tools.archive import import_archive
from click.testing import CliRunner

from aiida_cgmob import database
from aiida_cgmob.cli import cmd_root

assert orm.QueryBuilder().append(orm.Node).count() == 0
import_archive(archive)
group = orm.load_group(label)
rows = database.rows(group)
made = [row for row in rows if row.creator is not None]
found = database.provenance(made[0])
stats = CliRunner().invoke(cmd_root, ['database', 'stats', label])
table = database.to_arrays(group)
print(json.dumps({
    'profile': aiida.get_profile().name, 'uuids': sorted(row.uuid for row in rows),
    'failed': sorted([sample.molecule, sample.seed, sample.exit_status] for sample in database.failed_samples(group)),
    'creator': made[0].creator.process_label, 'cg': found['cg'].process_type, 'msd': found['msd'].get_y()[3][0],
    'potential': found['potential'].uuid, 'stats': stats.output,
    'g': dict(zip(table['uuid'].tolist(), table['g'].tolist())),  # pks differ there: by uuid
}))
'''


def test_archive_round_trip_into_a_fresh_profile(db, tmp_path):
    """`database export --archive` of the Group, imported into a new profile in its own AIIDA_PATH (subprocess)."""
    archive = tmp_path / 'db.aiida'
    result = CliRunner().invoke(cmd_root, ['database', 'export', db['group'].label, '--archive', str(archive)])
    assert result.exit_code == 0, result.output
    env = {**os.environ, 'AIIDA_PATH': str(tmp_path / 'fresh')}  # never the test profile nor the user's
    process = subprocess.run([sys.executable, '-c', IMPORT_INTO_FRESH_PROFILE, str(archive), db['group'].label],
                             env=env, capture_output=True, text=True)
    assert process.returncode == 0, process.stderr[-3000:]
    imported = json.loads(process.stdout.splitlines()[-1])
    assert imported['profile'] == 'fresh'
    assert imported['uuids'] == sorted(row.uuid for row in database.rows(db['group']))
    assert imported['failed'] == [['234TriMePe', 1, 463], ['3MePe', 2, 462]]
    assert imported['creator'] == 'make_row' and imported['cg'] == 'aiida.calculations:cgmob.lammps.cg'
    assert imported['msd'] == 'msd' and imported['potential'] == database.provenance(db['made'])['potential'].uuid
    table = database.to_arrays(db['group'])
    for index, row_uuid in enumerate(table['uuid']):
        np.testing.assert_array_equal(imported['g'][row_uuid], table['g'][index])
    assert '7 rows from 4 samples; 2 failed samples' in imported['stats']


# ---------------------------------------------------------------------------------------------- command line
def invoke(*args):
    result = CliRunner().invoke(cmd_root, ['database', *[str(arg) for arg in args]], terminal_width=200)
    return result


def test_database_help():
    for command in ([], ['list'], ['show'], ['stats'], ['export'], ['import']):
        result = invoke(*command, '--help')
        assert result.exit_code == 0 and 'Usage:' in result.output, (command, result.output)


def test_cli_list_filters_and_failed(db):
    label = db['group'].label
    result = invoke('list', '-G', label)
    assert result.exit_code == 0, result.output
    assert '7 rows' in result.output and 'm/(g/mol)' in result.output and 'D/(1e-9 m2/s)' in result.output
    result = invoke('list', '-G', label, '--molecule', 'EtBz', '--mass-min', 45, '--mass-max', 130, '--seed', 2)
    assert result.exit_code == 0 and '2 rows' in result.output
    assert ' 50.00 ' in result.output and '120.00' in result.output and 'not_converged' in result.output
    result = invoke('list', '-G', label, '--D-min', d_of(100.0), '--converged')
    assert result.exit_code == 0 and '4 rows' in result.output
    result = invoke('list', '-G', label, '--failed')
    assert result.exit_code == 0 and '2 failed samples' in result.output
    assert '462' in result.output and 'ERROR_SAMPLE_CG: no CG run finished' in result.output
    result = invoke('list', '-G', label, '--mass-min', 100, '--mass-max', 10)
    assert result.exit_code != 0 and 'mass: min 100.0 > max 10.0 (g/mol)' in result.output


def test_cli_show_prints_units_and_provenance_and_plots(db, tmp_path):
    made = db['made']
    result = invoke('show', made.pk, '--plot', tmp_path / 'row.png')
    assert result.exit_code == 0, result.output
    for part in ('molecule          EtBz (seed 3, mass index 0', 'mass              80 g/mol', '1e-9 m^2/s',
                 'number density    5 nm^-3', 'temperature       298.15 K', 'bar (all-atom target 1 bar)',
                 'U grid            0.3-1.4 nm, 551 points', 'mass scaling      not checked',
                 f'made by           make_row<{made.creator.pk}>', 'CG run            ',
                 f'potential         PotentialData<{database.provenance(made)["potential"].pk}>'):
        assert part in result.output, (part, result.output)
    assert (tmp_path / 'row.png').stat().st_size > 10_000
    result = invoke('show', db['rows'][2].pk)
    assert result.exit_code == 0
    assert 'mass scaling      flagged (D sqrt(m) +30.0% from the sample mean)' in result.output
    assert 'none: the row was not made by make_row' in result.output
    result = invoke('show', db['failed'][0].pk)
    assert result.exit_code != 0 and 'is not a cgmob.row' in result.output


def test_cli_stats(db):
    result = invoke('stats', db['group'].label, '--bins', 5)
    assert result.exit_code == 0, result.output
    output = result.output
    assert '7 rows from 4 samples; 2 failed samples' in output
    assert 'EtBz                6        3       0' in output and '234TriMePe          0        0       1' in output
    assert 'inversions        converged 5, not_converged 2' in output
    assert 'mass / (g/mol): 30 - 180' in output and 'D / (1e-9 m^2/s): ' in output
    assert sum(line.count('|') for line in output.splitlines()) == 10  # two histograms of 5 bins
    assert '  462     1  ERROR_SAMPLE_AA' in output


def test_cli_export_and_import(db, tmp_path):
    label = db['group'].label
    path = tmp_path / 'db.h5'
    result = invoke('export', label, '--hdf5', path)
    assert result.exit_code == 0 and f'wrote 7 rows of {label!r}' in result.output, result.output
    result = invoke('export', label, '--hdf5', path)
    assert result.exit_code != 0 and 'pass --force' in result.output
    assert invoke('export', label).exit_code != 0
    result = invoke('import', path, '--label', 'from-cli')
    assert result.exit_code == 0, result.output
    assert '"from-cli": 7 rows, made by training_set_from_hdf5<' in result.output and 'SinglefileData<' in result.output
    (tmp_path / 'other.h5').write_bytes(b'x')
    result = invoke('import', tmp_path / 'other.h5')
    assert result.exit_code != 0 and 'not an HDF5 file' in result.output


# -------------------------------------------------------------------------------------------------- a real sample
def test_cli_on_the_rows_of_a_real_sample(gmx_code, lmp_code, descriptors_code, aiida_code_installed, tmp_path):
    """The rows of a tiny real sample (seconds of MD): show names the real provenance and plots its CG run's MSD."""
    from aiida.engine import run_get_node
    from tiny_sample import OPTIONS, TINY

    from aiida_cgmob.workchains.synthetic import SyntheticSampleWorkChain, add_sample_to_group

    ibi = aiida_code_installed(label='cgmob-ibi', default_calc_job_plugin='cgmob.ibi',
                               filepath_executable=str(BIN / 'cgmob-ibi'))
    codes = {'gmx': gmx_code, 'lmp': lmp_code, 'cgmob-descriptors': descriptors_code, 'cgmob-ibi': ibi}
    _, sample = run_get_node(SyntheticSampleWorkChain.get_builder_from_protocol(codes, '3MePe', 1, 'fast', TINY,
                                                                                OPTIONS))
    assert sample.is_finished_ok, (sample.exit_status, sample.exit_message)
    group = orm.Group(label=f'real-{uuid.uuid4().hex[:8]}').store()
    assert add_sample_to_group(group, sample) == (2, None)
    row = database.rows(group)[0]
    found = database.provenance(row)
    assert found['sample'].pk == sample.pk and found['cg'].process_label == 'LammpsCgCalculation'
    assert found['ibi'].process_label == 'IbiCalculation' and found['msd'].get_y()[3][0] == 'msd'
    result = invoke('show', row.pk, '--plot', tmp_path / 'row.png')
    assert result.exit_code == 0, result.output
    for part in (f'CG run            LammpsCgCalculation<{found["cg"].pk}>, MSD <{found["msd"].pk}>',
                 f'made by IbiCalculation<{found["ibi"].pk}>',
                 f'sample            SyntheticSampleWorkChain<{sample.pk}> "3MePe seed 1"',
                 'U grid            0.3-1 nm, 351 points', 'mass scaling      ok'):
        assert part in result.output, (part, result.output)
    assert (tmp_path / 'row.png').stat().st_size > 10_000
    table = database.to_arrays(group)
    assert table['u'].shape == (2, 351) and set(table['mass_scaling_ok']) <= {0, 1}
    assert '2 rows from 1 sample; 0 failed samples' in invoke('stats', group.label).output


def test_archive_names_the_fix_for_processes_a_killed_daemon_left_unsealed(aiida_profile, tmp_path):
    """A sample that called a job the daemon kill left Created: the export says how to seal it, and works after."""
    from aiida.common.links import LinkType
    from aiida.engine import ProcessState

    from aiida_cgmob.profile import seal_orphaned_processes

    sample = orm.WorkflowNode(process_type='aiida.workflows:cgmob.synthetic.sample')
    sample.set_process_state(ProcessState.FINISHED)
    sample.set_exit_status(462)
    sample.store()
    orphan = orm.CalcJobNode()
    orphan.set_process_state(ProcessState.CREATED)
    orphan.base.links.add_incoming(sample, LinkType.CALL_CALC, 'iteration_01')
    orphan.store()
    sample.seal()
    group = orm.Group(label=f'db-orphan-{uuid.uuid4().hex[:8]}').store()
    group.add_nodes([sample])
    with pytest.raises(ValueError, match=rf'{orphan.pk} is/are not sealed\. .*seal_orphaned_processes'):
        database.export_archive(group, tmp_path / 'a.aiida')
    assert orphan.pk in seal_orphaned_processes()
    assert database.export_archive(group, tmp_path / 'a.aiida').is_file()
