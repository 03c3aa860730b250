"""A production AiiDA profile: PostgreSQL storage (``core.psql_dos``), RabbitMQ broker and several daemon workers.

The services are the Debian 12 packages ``postgresql`` (15) and ``rabbitmq-server`` (3.10), run as system services;
the profile, like the one of :func:`aiida_cgmob.profile.setup_profile`, lives inside one folder of the caller's choosing
(its own ``AIIDA_PATH``), so no other AiiDA configuration is read or changed.

PostgreSQL runs as the Debian system cluster ``15/main`` (``pg_ctlcluster 15 main start``).  A cluster of our own in a
folder would need ``initdb`` run as a non-root user in a folder that user owns, a port and a socket directory of its
own, and a server per folder; the system cluster is the one a real server runs (under systemd) and is reached the same
way.  Each profile gets its own role and database (``aiida_<profile>_<random>``) with a random password, so profiles
of different folders never share data.  The role is created with a SCRAM-SHA-256 verifier computed here: the plain
password is never sent to the server (it cannot end up in a server log) nor put on a command line (where ``ps`` would
show it); it lives only in the profile's ``config.json`` (mode 0600).

RabbitMQ is started detached (``rabbitmq-server -detached``, then ``rabbitmqctl await_startup``).  RabbitMQ >= 3.8.15
closes the channel of a consumer that holds a message longer than ``consumer_timeout`` (30 min by default), which
kills long AiiDA processes: :func:`start_rabbitmq` disables it in ``/etc/rabbitmq/advanced.config`` (what the AiiDA
documentation recommends) when that file does not exist yet.

Creating and removing profiles, starting services and restarting RabbitMQ need root (the ``postgres`` superuser is
reached through ``runuser -u postgres``); :func:`missing_requirements` says what is missing and the command to run.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import unquote, urlparse

from .profile import DEFAULT_PROFILE, setup_profile, verdi

__all__ = [
    'APT_PACKAGES', 'DEFAULT_WORKERS', 'ServiceError', 'daemon_processes', 'missing_requirements', 'postgres_running',
    'profile_files', 'rabbitmq_running', 'remove_production_profile', 'restart_rabbitmq', 'scram_sha256_verifier',
    'setup_production_profile', 'start_daemon', 'start_postgres', 'start_rabbitmq', 'stop_daemon', 'stop_rabbitmq',
]

#: Debian packages of the services.
APT_PACKAGES = ('postgresql', 'rabbitmq-server')
#: Debian's PostgreSQL major version and the name of its system cluster.
PG_VERSION = '15'
PG_CLUSTER = 'main'
PG_HOST = 'localhost'
PG_PORT = 5432
RABBITMQ_HOST = '127.0.0.1'
RABBITMQ_PORT = 5672
#: RabbitMQ's advanced configuration: no consumer timeout (AiiDA holds a task for the whole life of a process).
RABBITMQ_ADVANCED_CONFIG = Path('/etc/rabbitmq/advanced.config')
CONSUMER_TIMEOUT_CONFIG = '[{rabbit, [{consumer_timeout, undefined}]}].\n'
#: Daemon workers started by default: two, as many as the cores of our machines; see docs/production.rst.
DEFAULT_WORKERS = 2
INSTALL = 'apt-get install -y postgresql rabbitmq-server'


class ServiceError(RuntimeError):
    """A service or a permission is missing; the message names the command that fixes it."""


def _is_root() -> bool:
    return os.geteuid() == 0


def _run(command: list[str], check: bool = True, input: str | None = None, timeout: float | None = None,
         cwd: str = '/') -> subprocess.CompletedProcess:
    """Run a system command (never with a secret on its command line); ServiceError with its output on failure."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, input=input, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired as exception:
        raise ServiceError(f'`{" ".join(command)}` did not end within {timeout:.0f} s') from exception
    if check and result.returncode != 0:
        raise ServiceError(f'`{" ".join(command)}` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}')
    return result


def missing_requirements() -> list[str]:
    """Return what is missing to run :func:`setup_production_profile` here, each with the command that provides it.

    Returns
    -------
    list of str
        Empty when everything is in place: root, PostgreSQL 15 (``pg_ctlcluster``, the ``15/main`` cluster),
        RabbitMQ (``rabbitmq-server``, ``rabbitmqctl``) and ``runuser``.
    """
    missing = []
    if not _is_root():
        missing.append(f'root: creating PostgreSQL roles and starting the services need it; run as root '
                       f'(install the services with `sudo {INSTALL}`)')
    if shutil.which('pg_ctlcluster') is None or not Path(f'/etc/postgresql/{PG_VERSION}/{PG_CLUSTER}').is_dir():
        missing.append(f'PostgreSQL {PG_VERSION} and its cluster {PG_VERSION}/{PG_CLUSTER}: '
                       '`sudo apt-get install -y postgresql`')
    if shutil.which('rabbitmq-server') is None or shutil.which('rabbitmqctl') is None:
        missing.append('RabbitMQ: `sudo apt-get install -y rabbitmq-server`')
    if shutil.which('runuser') is None:
        missing.append('runuser (util-linux): `sudo apt-get install -y util-linux`')
    return missing


def _require(*what: str) -> None:
    """ServiceError naming every requirement missing among ``what`` (``root``, ``postgres``, ``rabbitmq``)."""
    missing = [line for line in missing_requirements()
               if any(line.lower().startswith(name) for name in what)]
    if missing:
        raise ServiceError('missing: ' + '; '.join(missing))


def postgres_running(host: str = PG_HOST, port: int = PG_PORT) -> bool:
    """Whether a PostgreSQL server accepts connections at ``host:port`` (``pg_isready``; any user may ask)."""
    if shutil.which('pg_isready') is None:
        return _port_open(host, port)
    return _run(['pg_isready', '-q', '-h', host, '-p', str(port)], check=False, timeout=30).returncode == 0


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def rabbitmq_running(host: str = RABBITMQ_HOST, port: int = RABBITMQ_PORT) -> bool:
    """Whether something accepts connections on RabbitMQ's AMQP port (a TCP probe; any user may ask)."""
    return _port_open(host, port)


def start_postgres(echo: Callable[[str], None] = print, timeout: float = 120.0) -> bool:
    """Start the system cluster ``15/main`` unless it runs already (``pg_ctlcluster 15 main start``).

    Parameters
    ----------
    echo
        Called with one line of text per step taken.
    timeout
        Seconds to wait for the server to accept connections.

    Returns
    -------
    bool
        True when it was started now, False when it was running already.

    Raises
    ------
    ServiceError
        When it is not running and cannot be started here (not root, not installed), naming the command to run.
    """
    status = _run(['pg_ctlcluster', PG_VERSION, PG_CLUSTER, 'status'], check=False) \
        if shutil.which('pg_ctlcluster') else None
    if status is not None and status.returncode == 0 and postgres_running():
        echo(f'PostgreSQL {PG_VERSION}/{PG_CLUSTER} is running')
        return False
    if not _is_root():
        raise ServiceError(f'PostgreSQL is not running: run `sudo pg_ctlcluster {PG_VERSION} {PG_CLUSTER} start` '
                           f'(install it first with `sudo apt-get install -y postgresql` if needed)')
    _require('postgresql')
    if status is None or status.returncode != 0:
        _run(['pg_ctlcluster', PG_VERSION, PG_CLUSTER, 'start'], timeout=timeout)
    _wait(postgres_running, timeout, 'PostgreSQL to accept connections')
    echo(f'started PostgreSQL {PG_VERSION}/{PG_CLUSTER} (pg_ctlcluster {PG_VERSION} {PG_CLUSTER} start)')
    return True


def _wait(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.5) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise ServiceError(f'timed out after {timeout:.0f} s waiting for {what}')
        time.sleep(interval)


def _configure_rabbitmq(echo: Callable[[str], None]) -> None:
    """Disable the consumer timeout in ``/etc/rabbitmq/advanced.config`` unless that file exists (then say so)."""
    if not RABBITMQ_ADVANCED_CONFIG.exists():
        RABBITMQ_ADVANCED_CONFIG.write_text(CONSUMER_TIMEOUT_CONFIG)
        echo(f'wrote {RABBITMQ_ADVANCED_CONFIG}: {CONSUMER_TIMEOUT_CONFIG.strip()}')
    elif 'consumer_timeout' not in RABBITMQ_ADVANCED_CONFIG.read_text():
        echo(f'warning: {RABBITMQ_ADVANCED_CONFIG} exists without consumer_timeout: processes that run longer than '
             f'30 min lose their task; add {{consumer_timeout, undefined}} to its rabbit section')


def start_rabbitmq(echo: Callable[[str], None] = print, timeout: float = 120.0) -> bool:
    """Start RabbitMQ detached unless it runs already, and wait until it has booted.

    Runs ``rabbitmq-server -detached`` (as the ``rabbitmq`` user, through Debian's wrapper) and ``rabbitmqctl
    await_startup``; before that, writes ``/etc/rabbitmq/advanced.config`` with the consumer timeout disabled if the
    file does not exist.

    Parameters
    ----------
    echo
        Called with one line of text per step taken.
    timeout
        Seconds to wait for the node to boot.

    Returns
    -------
    bool
        True when it was started now, False when it was running already.

    Raises
    ------
    ServiceError
        When it is not running and cannot be started here, naming the command to run.
    """
    if rabbitmq_running():
        if _is_root() and shutil.which('rabbitmqctl'):
            _run(['rabbitmqctl', 'await_startup', '--timeout', str(int(timeout))], timeout=timeout + 30)
            limit = _run(['rabbitmqctl', 'eval', 'application:get_env(rabbit, consumer_timeout).'], check=False)
            if re.search(r'\{ok,\s*\d+\}', limit.stdout):  # a running node started before our advanced.config
                echo(f'warning: this RabbitMQ closes a task held longer than its consumer_timeout '
                     f'({limit.stdout.strip()} ms), and AiiDA holds one for the life of a process: disable it in '
                     f'{RABBITMQ_ADVANCED_CONFIG} ({CONSUMER_TIMEOUT_CONFIG.strip()}) and restart RabbitMQ '
                     '(restart_rabbitmq writes the file if missing)')
        echo('RabbitMQ is running')
        return False
    if not _is_root():
        raise ServiceError('RabbitMQ is not running: run `sudo rabbitmq-server -detached` (install it first with '
                           '`sudo apt-get install -y rabbitmq-server` if needed)')
    _require('rabbitmq')
    _configure_rabbitmq(echo)
    # -detached returns at once; a node still shutting down (a restart) refuses to start, so try again
    end = time.monotonic() + timeout
    while True:
        _run(['rabbitmq-server', '-detached'], check=False, timeout=60)
        waited = _run(['rabbitmqctl', 'await_startup', '--timeout', str(int(max(10, end - time.monotonic())))],
                      check=False, timeout=timeout + 30)
        if waited.returncode == 0 and rabbitmq_running():
            break
        if time.monotonic() > end:
            raise ServiceError(f'RabbitMQ did not start within {timeout:.0f} s:\n{waited.stdout}\n{waited.stderr}\n'
                               'see /var/log/rabbitmq/')
        time.sleep(1)
    echo('started RabbitMQ (rabbitmq-server -detached; rabbitmqctl await_startup)')
    return True


def stop_rabbitmq(echo: Callable[[str], None] = print, timeout: float = 120.0) -> bool:
    """Stop the RabbitMQ node and wait until its process has exited (``rabbitmqctl shutdown``).

    Returns
    -------
    bool
        True when it was stopped now, False when it was not running.
    """
    if not rabbitmq_running():
        return False
    if not _is_root():
        raise ServiceError('stopping RabbitMQ needs root: run `sudo rabbitmqctl shutdown`')
    _run(['rabbitmqctl', 'shutdown', '--timeout', str(int(timeout))], timeout=timeout + 30)
    _wait(lambda: not rabbitmq_running(), timeout, 'RabbitMQ to stop')
    echo('stopped RabbitMQ (rabbitmqctl shutdown)')
    return True


def restart_rabbitmq(echo: Callable[[str], None] = print, down: float = 0.0, timeout: float = 120.0,
                     daemons: Iterable[tuple[str | Path, str]] = ()) -> float:
    """Restart RabbitMQ safely: stop the daemons that use it, stop it, start it, start the daemons again.

    With aiida-core 2.9.4, RabbitMQ going away under a daemon of several workers is not harmless: each worker keeps
    running its processes in memory, the broker puts their tasks (never acknowledged) back in the queue, and when the
    workers reconnect another worker can take such a task and run the same process a second time, at the same time.
    We saw it in 2 of 4 trials with 2 workers: a work chain excepted (``already has an outgoing RETURN link``) or
    got two ``retrieved`` outputs.  Stopping the daemons first avoids it: a stopped worker hands its tasks back, and the
    new workers continue every process once, from its checkpoint (``tests/test_services.py``).

    Parameters
    ----------
    echo
        Called with one line of text per step taken.
    down
        Seconds to wait between the stop and the start.
    timeout
        Seconds to wait for each of the stop and the start.
    daemons
        ``(path, profile)`` of every profile whose daemon uses this RabbitMQ: each running daemon is stopped before and
        started again after, with as many workers as it had.

    Returns
    -------
    float
        Seconds between the node going away and its port accepting connections again.
    """
    running = []
    for path, profile in daemons:
        workers = len(daemon_processes(path, profile)['workers'])
        if workers and stop_daemon(path, profile, echo):
            running.append((path, profile, workers))
    try:
        stop_rabbitmq(echo, timeout)
        stopped = time.monotonic()
        time.sleep(down)
        start_rabbitmq(echo, timeout)
        unreachable = time.monotonic() - stopped
    finally:  # the daemons stopped here start again even if RabbitMQ did not: they wait for it and say so in their log
        for path, profile, workers in running:
            start_daemon(path, profile, workers, echo)
    return unreachable


def scram_sha256_verifier(password: str, salt: bytes | None = None, iterations: int = 4096) -> str:
    """Return the SCRAM-SHA-256 verifier PostgreSQL stores for ``password`` (RFC 5802/7677, as ``libpq`` makes it).

    ``CREATE ROLE ... PASSWORD '<verifier>'`` sets the password without the server ever seeing it.  ``password`` must
    be ASCII without control characters (SASLprep leaves it unchanged then), as :func:`secrets.token_urlsafe` gives.
    """
    salt = os.urandom(16) if salt is None else salt
    salted = hashlib.pbkdf2_hmac('sha256', password.encode(), salt, iterations)
    client_key = hmac.new(salted, b'Client Key', 'sha256').digest()
    server_key = hmac.new(salted, b'Server Key', 'sha256').digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f'SCRAM-SHA-256${iterations}:{b64(salt)}${b64(hashlib.sha256(client_key).digest())}:{b64(server_key)}'


def _psql(sql: str, database: str = 'postgres') -> str:
    """Run SQL (given on stdin, never on the command line) as the ``postgres`` superuser; return its output."""
    command = ['runuser', '-u', 'postgres', '--', 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
               '-d', database]
    return _run(command, input=sql, timeout=120).stdout


def _config(path: Path) -> dict:
    config = path / '.aiida' / 'config.json'
    return json.loads(config.read_text()) if config.exists() else {}


def profile_files(path: str | Path, profile: str = DEFAULT_PROFILE) -> dict[str, Path]:
    """Files of a profile's daemon in ``path``: ``config``, ``circus_pid``, ``daemon_log``, ``circus_log``."""
    aiida = Path(path).resolve() / '.aiida'
    return {'config': aiida / 'config.json', 'circus_pid': aiida / 'daemon' / f'circus-{profile}.pid',
            'daemon_log': aiida / 'daemon' / 'log' / f'aiida-{profile}.log',
            'circus_log': aiida / 'daemon' / 'log' / f'circus-{profile}.log'}


def _safe_name(profile: str) -> str:
    return re.sub(r'[^a-z0-9]+', '_', profile.lower()).strip('_')[:30] or 'profile'


def _remove_config_backups(path: Path) -> list[Path]:
    """Remove AiiDA's copies ``config.json.<time>`` of earlier configurations that hold a database password.

    The password then lives in ``config.json`` only.
    """
    passwords = [profile['storage']['config'].get('database_password') for profile in
                 _config(path).get('profiles', {}).values() if profile['storage']['backend'] == 'core.psql_dos']
    passwords = [password.encode() for password in passwords if password]
    removed = []
    for backup in (path / '.aiida').glob('config.json.*'):
        if any(password in backup.read_bytes() for password in passwords):
            backup.unlink()
            removed.append(backup)
    return removed


def _drop_database(name: str, role: str) -> None:
    _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);\nDROP ROLE IF EXISTS "{role}";\n')


#: Run in the profile: its options (as ``verdi -p P config set OPTION VALUE``) and the localhost computer exactly as
#: ``verdi presto`` makes it (which ``setup_profile`` relies on); one interpreter instead of one ``verdi`` per step.
CONFIGURE_PROFILE = '''
import sys
from aiida import load_profile, orm
from aiida.common.exceptions import NotExistent
from aiida.manage import get_config
name, scratch = sys.argv[1:3]
config = get_config()
for option, value in (('warnings.rabbitmq_version', False), ('runner.poll.interval', 1),
                      ('daemon.timeout', 20)):
    if config.get_option(option, scope=name) != value:
        config.set_option(option, value, scope=name)
        print(f'verdi -p {name} config set {option} {value}')
config.store()
load_profile(name)
try:
    orm.load_computer('localhost')
except NotExistent:
    computer = orm.Computer(label='localhost', hostname='localhost',
                            description='Localhost automatically created by `verdi presto`',
                            transport_type='core.local', scheduler_type='core.direct', workdir=scratch).store()
    computer.configure(safe_interval=0, use_login_shell=False)  # as aiida_cgmob.profile.setup_profile
    computer.set_minimum_job_poll_interval(1)
    computer.set_default_mpiprocs_per_machine(1)
    print(f'created computer localhost (core.local, core.direct, work directory {scratch})')
'''


def _configure_profile(path: Path, profile: str, echo: Callable[[str], None]) -> None:
    """Set the profile's options and create its localhost computer (:data:`CONFIGURE_PROFILE`)."""
    scratch = path / '.aiida' / 'scratch' / profile
    result = subprocess.run([sys.executable, '-c', CONFIGURE_PROFILE, profile, str(scratch)], capture_output=True,
                            text=True, env={**os.environ, 'AIIDA_PATH': str(path)})
    if result.returncode != 0:
        raise ServiceError(f'configuring profile {profile!r} failed:\n{result.stdout}\n{result.stderr}')
    for line in result.stdout.splitlines():
        echo(line)


def setup_production_profile(path: str | Path, profile: str = DEFAULT_PROFILE,
                             echo: Callable[[str], None] = print) -> dict:
    """Create (or reuse) the isolated profile ``profile`` in ``path`` on PostgreSQL and RabbitMQ.

    Starts both services if needed, creates a role and a database ``aiida_<profile>_<random>`` with a random password
    (``LC_COLLATE``/``LC_CTYPE`` ``C.UTF-8``, ``TEMPLATE template0``), runs ``verdi profile setup core.psql_dos
    --non-interactive --broker core.rabbitmq`` (the options, password included, from a YAML file of mode 0600 that is
    removed at once), sets the profile's options ``warnings.rabbitmq_version False``, ``runner.poll.interval 1`` (as
    ``verdi presto``) and ``daemon.timeout 20`` (2 s by default: too short for circus to answer a loaded machine), what
    ``verdi -p P config set`` does, and makes the localhost computer and the
    codes as :func:`aiida_cgmob.profile.setup_profile` does.  A profile that exists already is reused (only the
    computer, codes and options are checked).

    Parameters
    ----------
    path
        Folder that holds the AiiDA configuration (created if missing).
    profile
        Name of the profile.
    echo
        Called with one line of text per step taken; the password is never passed to it.

    Returns
    -------
    dict
        ``path``, ``profile``, ``codes`` (label -> executable), ``storage`` and ``broker`` (the backends),
        ``database`` and ``database_user`` (names, not the password) and ``created`` (False when reused).

    Raises
    ------
    ServiceError
        When something is missing (not root, a package not installed), naming the command to run; or when a step
        failed (its output, never the password).
    """
    path = Path(path).resolve()
    path.mkdir(parents=True, exist_ok=True)
    start_postgres(echo)
    start_rabbitmq(echo)
    existing = _config(path).get('profiles', {}).get(profile)
    created = existing is None
    if existing is None:
        _require('root', 'postgresql')
        name = f'aiida_{_safe_name(profile)}_{secrets.token_hex(4)}'
        password = secrets.token_urlsafe(24)
        _psql(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{scram_sha256_verifier(password)}';\n"
              f"CREATE DATABASE \"{name}\" OWNER \"{name}\" ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' "
              f'TEMPLATE template0;\n')
        echo(f'created PostgreSQL role and database {name} (C.UTF-8, template0)')
        options = {'email': 'aiida@localhost', 'first_name': 'aiida-cgmob',
                   'last_name': 'production', 'institution': 'localhost', 'broker': 'core.rabbitmq',
                   'database_engine': 'postgresql_psycopg', 'database_hostname': PG_HOST, 'database_port': PG_PORT,
                   'database_username': name, 'database_password': password, 'database_name': name,
                   'repository_uri': (path / '.aiida' / 'repository' / profile).as_uri(),
                   'set_as_default': True}
        (path / '.aiida').mkdir(exist_ok=True)
        descriptor, options_file = tempfile.mkstemp(prefix='profile-', suffix='.yaml', dir=path / '.aiida')
        try:
            with os.fdopen(descriptor, 'w') as handle:  # mode 0600 from mkstemp
                json.dump(options, handle)  # JSON is YAML
            verdi(path, 'profile', 'setup', 'core.psql_dos', '--non-interactive', '--profile-name', profile,
                  '--config', options_file)
        except RuntimeError as exception:
            _drop_database(name, name)
            raise ServiceError(str(exception).replace(password, '***')) from None
        finally:
            Path(options_file).unlink(missing_ok=True)
            del password
        echo(f'created profile {profile!r} (PostgreSQL storage core.psql_dos, RabbitMQ broker) in {path}')
    else:
        echo(f'profile {profile!r} already exists in {path}')
    stored = _config(path)['profiles'][profile]
    if stored['storage']['backend'] != 'core.psql_dos' or stored['process_control']['backend'] != 'core.rabbitmq':
        raise ServiceError(f'profile {profile!r} in {path} is not on core.psql_dos + core.rabbitmq: '
                           f'{stored["storage"]["backend"]} + {stored["process_control"]["backend"]}')
    _configure_profile(path, profile, echo)
    info = setup_profile(path, profile, echo=lambda line: None if line.startswith('profile ') else echo(line))
    _remove_config_backups(path)
    database = stored['storage']['config']
    return {**info, 'storage': 'core.psql_dos', 'broker': 'core.rabbitmq', 'database': database['database_name'],
            'database_user': database['database_username'], 'created': created}


def remove_production_profile(path: str | Path, profile: str = DEFAULT_PROFILE,
                              echo: Callable[[str], None] = print) -> bool:
    """Stop the profile's daemon, delete the profile, its repository and scratch, its database and its role.

    Parameters
    ----------
    path
        Folder of the AiiDA configuration.
    profile
        Name of the profile.
    echo
        Called with one line of text per step taken.

    Returns
    -------
    bool
        False when there was no such profile.
    """
    path = Path(path).resolve()
    stored = _config(path).get('profiles', {}).get(profile)
    if stored is None:
        return False
    _require('root')
    start_postgres(echo)
    database = stored['storage']['config']
    stop_daemon(path, profile, echo)
    _drop_database(database['database_name'], database['database_username'])
    # --keep-data: with --delete-data, aiida-core 2.9.4 drops the database through pgsu, which needs `sudo`
    verdi(path, 'profile', 'delete', '--force', '--keep-data', profile)
    repository = urlparse(database.get('repository_uri', ''))
    if repository.scheme == 'file':
        shutil.rmtree(unquote(repository.path), ignore_errors=True)
    shutil.rmtree(path / '.aiida' / 'scratch' / profile, ignore_errors=True)
    secret = (database.get('database_password') or '').encode()
    for backup in (path / '.aiida').glob('config.json.*'):
        if secret and secret in backup.read_bytes():
            backup.unlink()
    echo(f'removed profile {profile!r}, its database and role {database["database_name"]}')
    return True


def _verdi_env(path: Path) -> dict[str, str]:
    """Return the daemon's environment: this configuration, and this interpreter's scripts first on PATH."""
    return {**os.environ, 'AIIDA_PATH': str(path),
            'PATH': f'{Path(sys.executable).parent}{os.pathsep}{os.environ.get("PATH", "")}'}


def daemon_processes(path: str | Path, profile: str = DEFAULT_PROFILE) -> dict:
    """Return the pids of the daemon's circus arbiter and of its descendants (the workers among them).

    Returns
    -------
    dict
        ``arbiter`` (pid or None) and ``workers`` (pids of the ``verdi ... daemon worker`` processes), ``all`` (the
        arbiter and every descendant of it).
    """
    import psutil

    pid_file = profile_files(path, profile)['circus_pid']
    try:
        arbiter = psutil.Process(int(pid_file.read_text().strip()))
        children = arbiter.children(recursive=True)
    except (FileNotFoundError, ValueError, psutil.NoSuchProcess):
        return {'arbiter': None, 'workers': [], 'all': []}
    workers = []
    for child in children:
        try:
            if 'worker' in child.cmdline():
                workers.append(child.pid)
        except psutil.NoSuchProcess:
            pass
    return {'arbiter': arbiter.pid, 'workers': sorted(workers), 'all': [arbiter.pid] + [c.pid for c in children]}


def start_daemon(path: str | Path, profile: str = DEFAULT_PROFILE, workers: int = DEFAULT_WORKERS,
                 echo: Callable[[str], None] = print, timeout: float = 120.0) -> list[int]:
    """Start the profile's daemon with ``workers`` workers (``verdi -p P daemon start N``), or scale a running one.

    Parameters
    ----------
    path
        Folder of the AiiDA configuration.
    profile
        Name of the profile.
    workers
        Number of daemon workers.
    echo
        Called with one line of text per step taken.
    timeout
        Seconds to wait for the workers to be up.

    Returns
    -------
    list of int
        The pids of the workers.
    """
    path = Path(path).resolve()
    env = _verdi_env(path)
    executable = Path(sys.executable).with_name('verdi')
    verdi_command = str(executable) if executable.exists() else 'verdi'
    running = daemon_processes(path, profile)
    if running['arbiter'] is None:
        result = subprocess.run([verdi_command, '-p', profile, 'daemon', 'start', str(workers)], env=env,
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise ServiceError(f'`verdi -p {profile} daemon start {workers}` failed:\n{result.stdout}\n{result.stderr}')
        echo(f'started the daemon of {profile!r} with {workers} workers')
    else:
        change = workers - len(running['workers'])
        if change:
            verb = 'incr' if change > 0 else 'decr'
            result = subprocess.run([verdi_command, '-p', profile, 'daemon', verb, str(abs(change))], env=env,
                                    capture_output=True, text=True)
            if result.returncode != 0:
                raise ServiceError(f'`verdi daemon {verb}` failed:\n{result.stdout}\n{result.stderr}')
            echo(f'daemon of {profile!r}: {len(running["workers"])} -> {workers} workers')
    end = time.monotonic() + timeout
    while len(pids := daemon_processes(path, profile)['workers']) != workers:
        if time.monotonic() > end:
            raise ServiceError(f'the daemon of {profile!r} has {len(pids)} workers, not {workers}, after {timeout} s')
        time.sleep(0.5)
    return pids


def stop_daemon(path: str | Path, profile: str = DEFAULT_PROFILE, echo: Callable[[str], None] = print,
                timeout: float = 120.0) -> bool:
    """Stop the profile's daemon (``verdi -p P daemon stop``) and wait until its processes are gone.

    Returns False when it was not running.  Workers that hold processes take a while to hand them back: on a loaded
    machine ``verdi daemon stop`` may answer "timed out" while circus is still stopping them, so the processes, not
    verdi's answer, decide; a ServiceError carries verdi's output when they outlive ``timeout`` seconds.
    """
    path = Path(path).resolve()
    if daemon_processes(path, profile)['arbiter'] is None:
        return False
    result = verdi(path, '-p', profile, 'daemon', 'stop', check=False)
    deadline = time.monotonic() + timeout
    while (left := daemon_processes(path, profile))['all']:
        if time.monotonic() > deadline:
            raise ServiceError(f'the daemon of {profile!r} still runs {timeout:.0f} s after `verdi daemon stop` '
                               f'(pids {left["all"]}):\n{result.stdout}\n{result.stderr}')
        time.sleep(0.5)
    echo(f'stopped the daemon of {profile!r}')
    return True
