"""The command line: entry points seen by verdi, --help everywhere, the isolated profile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from aiida_cgmob.cli import cmd_root

BIN = Path(sys.executable).parent



def test_help_everywhere():
    runner = CliRunner()
    for args in ([], ['setup'], ['demo'], ['molecule'], ['molecule', 'build'], ['molecule', 'list'], ['aa'],
                 ['aa', 'run'], ['descriptors'], ['descriptors', 'run'], ['descriptors', 'show'], ['cg'],
                 ['cg', 'run'], ['cg', 'show'], ['ibi'], ['ibi', 'run'], ['ibi', 'show'], ['database'],
                 ['database', 'build'], ['database', 'list'], ['database', 'show'], ['database', 'stats'],
                 ['database', 'export'], ['database', 'import']):
        result = runner.invoke(cmd_root, [*args, '--help'])
        assert result.exit_code == 0, (args, result.output)
        assert 'Usage:' in result.output


#: the shared options (cli/options.py) and the run commands that have them
SHARED_OPTIONS = {
    ('aa', 'run'): ('-D, --daemon', '--threads', '--walltime', '--protocol [fast|moderate|precise]',
                    '--descriptors / --no-descriptors', '--liquid-density', '--stash DIR', '--stash-mode'),
    ('cg', 'run'): ('-D, --daemon', '--threads', '--walltime', '--protocol [fast|moderate|precise]',
                    '--descriptors / --no-descriptors', '--stash DIR', '--stash-mode'),
    ('ibi', 'run'): ('-D, --daemon', '--threads', '--walltime', '--protocol [fast|moderate|precise]'),
    ('descriptors', 'run'): ('-D, --daemon',),
    ('molecule', 'build'): ('--liquid-density',),
    ('database', 'build'): ('--threads', '--walltime', '--protocol [fast|moderate|precise]', '--stash DIR',
                            '--stash-mode'),
}


def test_every_command_lists_its_shared_options():
    runner = CliRunner()
    for command, expected in SHARED_OPTIONS.items():
        result = runner.invoke(cmd_root, [*command, '--help'], terminal_width=200)
        assert result.exit_code == 0, result.output
        for option in expected:
            assert option in result.output, (command, option)
        if '-D, --daemon' in expected:
            assert 'Submit to the daemon instead of running here.' in result.output
        if '--protocol [fast|moderate|precise]' in expected:
            assert 'fast: ' in result.output and '[default: moderate]' in result.output


def test_shared_options_are_defined_once():
    """-D/--daemon, --threads, --walltime, --protocol, --descriptors and --liquid-density live in cli/options.py."""
    import aiida_cgmob.cli

    folder = Path(aiida_cgmob.cli.__file__).parent
    for declaration in ("'--daemon'", "'--threads'", "'--walltime'", "'--protocol'", "'--descriptors/--no-descriptors'",
                        "'--liquid-density'"):
        where = [path.name for path in sorted(folder.glob('*.py')) if declaration in path.read_text()]
        assert where == ['options.py'], (declaration, where)


def test_molecule_list_names_the_training_molecules():
    result = CliRunner().invoke(cmd_root, ['molecule', 'list'])
    assert result.exit_code == 0
    for name in ('234TriMePe', 'EtBz', '3MePe', 'Bz', 'NeoPe', 'Mes', '23DiMeBu', '3EtHex'):
        assert name in result.output


def test_entry_points_are_registered_with_verdi(tmp_path):
    env = {**os.environ, 'AIIDA_PATH': str(tmp_path)}
    for group, name in (('aiida.calculations', 'cgmob.gromacs'), ('aiida.parsers', 'cgmob.gromacs'),
                        ('aiida.workflows', 'cgmob.gromacs.base'), ('aiida.data', 'cgmob.bonded_parameters'),
                        ('aiida.calculations', 'cgmob.descriptors'), ('aiida.parsers', 'cgmob.descriptors')):
        result = subprocess.run([BIN / 'verdi', 'plugin', 'list', group], env=env, capture_output=True, text=True)
        assert name in result.stdout, (group, result.stdout, result.stderr)


def test_setup_creates_an_isolated_profile_with_codes(tmp_path):
    """Real `verdi presto` into a fresh folder; running setup twice reuses what exists."""
    path = tmp_path / 'aiida'
    for _ in range(2):
        result = subprocess.run([BIN / 'aiida-cgmob', 'setup', '--path', str(path), '--profile-name', 'cgtest'],
                                capture_output=True, text=True, env={**os.environ, 'AIIDA_PATH': str(tmp_path / 'x')})
        assert result.returncode == 0, result.stderr
    assert 'already exists' in result.stdout
    config = json.loads((path / '.aiida' / 'config.json').read_text())
    assert list(config['profiles']) == ['cgtest']
    profile = config['profiles']['cgtest']
    assert profile['storage']['backend'] == 'core.sqlite_dos'
    assert profile['process_control']['backend'] == 'core.zeromq'
    codes = subprocess.run([BIN / 'verdi', '-p', 'cgtest', 'code', 'list', '--raw', '-P', 'label'],
                           env={**os.environ, 'AIIDA_PATH': str(path)}, capture_output=True, text=True).stdout
    assert 'gmx' in codes.split() and 'cgmob-descriptors' in codes.split()



def test_a_killed_brokers_endpoint_is_cleared_and_a_live_ones_kept(tmp_path):
    """After a SIGKILL the broker's endpoint file names a dead socket: removed before a restart, never while it runs."""
    path = tmp_path / 'aiida'
    subprocess.run([BIN / 'aiida-cgmob', 'setup', '--path', str(path), '--profile-name', 'cgtest'], check=True,
                   capture_output=True, env={**os.environ, 'AIIDA_PATH': str(tmp_path / 'x')})
    config = json.loads((path / '.aiida' / 'config.json').read_text())
    broker = path / '.aiida' / 'broker' / f'{config["profiles"]["cgtest"]["PROFILE_UUID"]}-cgtest'
    broker.mkdir(parents=True, exist_ok=True)
    dead = subprocess.Popen(['true'])
    dead.wait()
    script = ('from aiida import load_profile; load_profile("cgtest");'
              'from aiida_cgmob.profile import clear_stale_broker_endpoint as c; print(c())')
    env = {**os.environ, 'AIIDA_PATH': str(path)}
    for pid, removed in ((dead.pid, True), (os.getpid(), False)):
        (broker / 'broker.sockets').write_text('/tmp/aiida_zeromq_gone')
        (broker / 'broker.pid').write_text(f'aiida-zeromq-broker {pid}')
        result = subprocess.run([sys.executable, '-c', script], env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert (broker / 'broker.sockets').exists() is not removed, (pid, result.stdout)
        assert ('broker.sockets' in result.stdout) is removed

@pytest.mark.parametrize('smiles, reason', [('CCO', 'only hydrocarbons'), ('C=CC', 'double'), ('C1CC', 'SMILES')])
def test_aa_run_refuses_bad_molecules_before_creating_nodes(smiles, reason, aiida_code_installed):
    code = aiida_code_installed(label='gmx-cli', default_calc_job_plugin='cgmob.gromacs')
    from aiida import orm

    before = orm.QueryBuilder().append(orm.Node).count()
    result = CliRunner().invoke(cmd_root, ['aa', 'run', smiles, '-X', code.full_label, '-n', '10'])
    assert result.exit_code != 0 and reason in result.output
    assert orm.QueryBuilder().append(orm.Node).count() == before


def test_aa_run_checks_the_box_before_creating_nodes(aiida_code_installed):
    """The launcher's box check (twice the largest cut-off of the protocol's stages, at the liquid density)."""
    code = aiida_code_installed(label='gmx-cli-box', default_calc_job_plugin='cgmob.gromacs')
    from aiida import orm

    before = orm.QueryBuilder().append(orm.Node).count()
    result = CliRunner().invoke(cmd_root, ['aa', 'run', '3MePe', '-X', code.full_label, '-n', '30'])
    assert result.exit_code != 0 and 'Use at least 58 molecules' in result.output, result.output
    result = CliRunner().invoke(cmd_root, ['aa', 'run', 'CCCCCCCC', '-X', code.full_label, '-n', '20',
                                           '--protocol', 'fast'])
    assert result.exit_code != 0 and '800 kg/m^3 is the upper bound' in result.output, result.output
    assert '--liquid-density' in result.output
    result = CliRunner().invoke(cmd_root, ['aa', 'run', '3MePe', '-X', code.full_label, '-n', '60',
                                           '--liquid-density', '1500'])
    assert result.exit_code != 0 and '1500 kg/m^3' in result.output, result.output
    assert orm.QueryBuilder().append(orm.Node).count() == before


# ---------------------------------------------------------------------------------------------------------------
# molecule build: the box against twice the cut-off, and grompp's own cause (issue 8, defect 5)
# ---------------------------------------------------------------------------------------------------------------


def test_molecule_build_refuses_a_box_shorter_than_twice_the_cutoff(tmp_path):
    """30 molecules of 3-methylpentane: 1.86 nm at 664 kg/m^3 < 2 x 1.1 nm; said before grompp, nothing written."""
    result = CliRunner().invoke(cmd_root, ['molecule', 'build', '3MePe', '-n', '30', '-o', str(tmp_path / 'out')])
    assert result.exit_code != 0
    for part in ('30 3MePe molecules', '1.863 nm', '664 kg/m^3', '(1.1 nm)', 'Use at least 58 molecules'):
        assert part in result.output, (part, result.output)
    assert 'There was 1 error' not in result.output
    assert not (tmp_path / 'out').exists()


def test_molecule_build_box_check_follows_cutoff_and_liquid_density(tmp_path, gmx_executable):
    args = ['molecule', 'build', '3MePe', '-n', '40', '-o', str(tmp_path / 'a')]
    assert 'Use at least 58 molecules' in CliRunner().invoke(cmd_root, args).output
    result = CliRunner().invoke(cmd_root, [*args, '--cutoff', '0.9'])  # 2.05 nm > 2 x 0.9 nm x 1.05; grompp too
    assert result.exit_code == 0, result.output
    assert 'gmx grompp: accepted without warnings' in result.output
    result = CliRunner().invoke(cmd_root, [*args, '--cutoff', '0.9', '--liquid-density', '1000'])
    assert result.exit_code != 0 and 'at least 48 molecules' in result.output, result.output


def test_molecule_build_unknown_density_says_it_is_a_bound(tmp_path):
    result = CliRunner().invoke(cmd_root, ['molecule', 'build', 'CCCCCC', '-n', '30', '-o', str(tmp_path / 'out')])
    assert result.exit_code != 0
    assert '800 kg/m^3 is the upper bound of acyclic saturated hydrocarbons' in result.output
    assert '--liquid-density' in result.output


def test_molecule_grompp_check_shows_grompps_cause(tmp_path, gmx_executable):
    """The box check bypassed (kernel build of 30 molecules, 2.05 nm): grompp's ERROR block, not only its count."""
    import click

    from aiida_cgmob.cli.cmd_molecule import grompp_check
    from aiida_cgmob.topology import build_liquid

    build_liquid('3MePe', 30).write(tmp_path)
    with pytest.raises(click.ClickException) as error:
        grompp_check(tmp_path)
    assert error.value.message == (
        'gmx grompp refused the liquid: The cut-off length is longer than half the shortest box vector or longer than '
        'the smallest box diagonal element. Increase the box size or decrease rlist. '
        '(There was 1 error in input file(s))')


def test_plus_minus_says_when_an_error_is_too_short_to_estimate():
    """A block error of a series shorter than 2 values per block is NaN in the kernel and None in the database."""
    from aiida_cgmob.cli.utils import plus_minus

    assert plus_minus(664.123, 1.25, '.1f') == '664.1 +- 1.2'
    for missing in (None, float('nan')):
        assert plus_minus(664.123, missing, '.1f') == '664.1 (error: series too short to estimate)'


@pytest.mark.parametrize('command', [['aa', 'run', '3MePe', '-X', 'gmx@localhost'], ['cg', 'run', '1', '-X', 'lmp@x'],
                                     ['database', 'build', 'db', '--seeds', '1']])
def test_stash_must_be_an_absolute_path_on_the_computer(command):
    result = CliRunner().invoke(cmd_root, [*command[:2], '--stash', 'project/stash', *command[2:]])  # checked first
    assert result.exit_code == 2
    assert "Invalid value for '--stash': 'project/stash' is not an absolute path on the computer" in result.output


def test_stash_options():
    """A job stashes its whole folder (an archive mode would stash nothing if one name matched no file); the options
    pass aiida-core's own validation; bad values name themselves."""
    from aiida.engine.processes.calcjobs.calcjob import validate_stash_options

    from aiida_cgmob.calculations.base import stash_options

    archive = stash_options('/project/me', 'tar.gz')
    assert archive == {'target_base': '/project/me', 'stash_mode': 'tar.gz', 'dereference': False, 'source_list': ['*']}
    copy = stash_options('/project/me')
    assert copy == {'target_base': '/project/me', 'stash_mode': 'copy', 'source_list': ['*']}
    assert validate_stash_options(archive, None) is None and validate_stash_options(copy, None) is None
    from aiida_cgmob.cli.options import job_options  # what aa run and cg run pass on

    assert job_options(2, 600, stash='/project/me', stash_mode='tar.gz')['stash'] == archive
    assert 'stash' not in job_options(2, 600)
    with pytest.raises(ValueError, match="stash target 'me' is not an absolute path"):
        stash_options('me')
    with pytest.raises(ValueError, match="stash mode 'submit_custom_code' is not one of copy, tar"):
        stash_options('/project', 'submit_custom_code')


def test_database_build_stashes_the_all_atom_and_cg_jobs(monkeypatch):
    """--stash goes to the all-atom and CG jobs of every sample (not to the inversion's), beside --threads."""
    import aiida_cgmob.launch

    seen = {}

    def launch_database(codes, label, seeds, molecules, protocol, overrides, options, **kwargs):
        seen.update(overrides=overrides, options=options)
        raise SystemExit(0)

    monkeypatch.setattr(aiida_cgmob.launch, 'find_codes', lambda computer: {})
    monkeypatch.setattr(aiida_cgmob.launch, 'launch_database', launch_database)
    result = CliRunner().invoke(cmd_root, ['database', 'build', 'db', '--seeds', '1-2', '--threads', '4',
                                           '--stash', '/project/me', '--stash-mode', 'tar'])
    assert result.exit_code == 0, result.output
    assert 'stash' not in seen['options']
    aa = seen['overrides']['aa']['gromacs']['metadata']['options']['stash']
    cg = seen['overrides']['cg']['lammps']['metadata']['options']
    assert aa['target_base'] == cg['stash']['target_base'] == '/project/me'
    assert aa['stash_mode'] == cg['stash']['stash_mode'] == 'tar'
    assert cg['resources'] == {'num_machines': 1, 'num_mpiprocs_per_machine': 1}
