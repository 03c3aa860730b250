"""An isolated AiiDA profile for aiida-cgmob, all inside one folder of the caller's choosing.

The profile has SQLite storage, the built-in ZeroMQ broker, a localhost computer and codes for
``gmx``, ``lmp`` and the package's scripts (``cgmob-descriptors``, ``cgmob-ibi``).

Everything goes through ``verdi`` in a subprocess whose ``AIIDA_PATH`` points at that folder, so no
other AiiDA configuration or profile is ever read or changed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ['DEFAULT_PROFILE', 'clear_stale_broker_endpoint', 'setup_profile', 'verdi']

DEFAULT_PROFILE = 'cgmob'
#: (label, executable, default plugin) of the codes made on localhost when the executable exists.
CODES = (('gmx', 'gmx', 'cgmob.gromacs'), ('lmp', 'lmp', None),
         ('cgmob-descriptors', 'cgmob-descriptors', 'cgmob.descriptors'), ('cgmob-ibi', 'cgmob-ibi', 'cgmob.ibi'))


def verdi(path: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``verdi ARGS`` against the configuration in ``path`` only."""
    executable = Path(sys.executable).with_name('verdi')
    command = [str(executable) if executable.exists() else 'verdi', *args]
    env = {**os.environ, 'AIIDA_PATH': str(path)}
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f'`verdi {" ".join(args)}` failed:\n{result.stdout}\n{result.stderr}')
    return result


def _profiles(path: Path) -> list[str]:
    config = path / '.aiida' / 'config.json'
    if not config.exists():
        return []
    return list(json.loads(config.read_text()).get('profiles', {}))


def setup_profile(path: str | Path, profile: str = DEFAULT_PROFILE, echo=print) -> dict:
    """Create (or reuse) the isolated profile ``profile`` in ``path``; return what exists there.

    Parameters
    ----------
    path
        Folder that holds the AiiDA configuration (created if missing).
    profile
        Name of the profile.
    echo
        Called with one line of text per step taken.

    Returns
    -------
    dict
        ``path``, ``profile`` and ``codes`` (label -> executable of each code that exists).
    """
    path = Path(path).resolve()
    path.mkdir(parents=True, exist_ok=True)
    if profile in _profiles(path):
        echo(f'profile {profile!r} already exists in {path}')
    else:
        verdi(path, 'presto', '--profile-name', profile, '--use-zeromq')
        # every command AiiDA runs on localhost (mkdir, submit, ps) would start a login shell and read the login
        # profile: 1.2 s per command on a machine with pyenv in ~/.bashrc, most of a fast sample's AiiDA overhead.
        # The codes are absolute paths and the jobs inherit the daemon's environment: no login shell is needed.
        verdi(path, '-p', profile, 'computer', 'configure', 'core.local', 'localhost', '--non-interactive',
              '--safe-interval', '0', '--no-use-login-shell')
        # circus must answer `verdi daemon stop` within daemon.timeout: 2 s by default, too short on a loaded machine
        verdi(path, '-p', profile, 'config', 'set', 'daemon.timeout', '20')
        echo(f'created profile {profile!r} (SQLite storage, ZeroMQ broker) in {path}')
    existing = verdi(path, '-p', profile, 'code', 'list', '--raw', '-P', 'label', check=False).stdout.split()
    codes = {}
    for label, executable, plugin in CODES:
        found = shutil.which(executable) or (
            str(Path(sys.executable).with_name(executable)) if Path(sys.executable).with_name(executable).exists()
            else None)
        if found is None:
            echo(f'{executable} not found on PATH: no code {label!r} (install it and run setup again)')
            continue
        codes[label] = found
        if label in existing:
            continue
        args = ['-p', profile, 'code', 'create', 'core.code.installed', '--non-interactive', '--label', label,
                '--computer', 'localhost', '--filepath-executable', found]
        if plugin:
            args += ['--default-calc-job-plugin', plugin]
        verdi(path, *args)
        echo(f'created code {label}@localhost -> {found}')
    return {'path': str(path), 'profile': profile, 'codes': codes}


def clear_stale_broker_endpoint(profile=None) -> Path | None:
    """Remove the endpoint file of a ZeroMQ broker that was killed, before the daemon is started again.

    A broker killed with SIGKILL (with the daemon, by the OOM killer, a reboot) leaves ``broker.sockets`` naming its
    dead socket.  With aiida-core 2.9.4, a worker of the next ``verdi daemon start`` that reads the file before the
    new broker rewrites it connects to the dead socket and never receives a task: every process stays ``Waiting``.
    Without the file the worker waits for the new broker's.  Nothing is removed while the broker runs.

    Parameters
    ----------
    profile
        The profile (a name or a ``Profile``); the loaded one when ``None``.

    Returns
    -------
    Path or None
        The file removed, or ``None`` when there was nothing stale (or the profile has another broker).
    """
    from aiida.brokers.zeromq import ZeromqBroker
    from aiida.manage import get_config, get_manager

    config = get_config()
    profile = get_manager().get_profile() if profile is None else profile
    profile = config.get_profile(profile) if isinstance(profile, str) else profile
    if 'zeromq' not in (profile.process_control_backend or ''):
        return None
    endpoint = Path(config.filepaths(profile)['broker_service']['dir']) / 'broker.sockets'
    if not endpoint.exists() or ZeromqBroker(profile).check_service_reachable():
        return None
    endpoint.unlink(missing_ok=True)
    return endpoint


def seal_orphaned_processes(dry_run: bool = False) -> list[int]:
    """Mark as killed (and seal) the processes a daemon crash left behind, once their callers have ended.

    Two kinds are left by a worker killed at the wrong moment; its caller, restarted from its last checkpoint, runs
    that step again and launches a replacement, so nothing is lost, but the orphan stays unsealed for good and
    ``verdi archive create`` refuses unsealed processes:

    * a child stored but not yet handed to the broker: ``Created`` (or without a state yet), it never ran (no job
      reached a scheduler);
    * a calcfunction or workfunction that was running in the worker: process functions are never continued.

    Only children of a caller that has ended are touched: a ``Created`` process that its caller still waits for may
    yet run (``verdi process repair`` gives one without a task its task again).  Needs the loaded profile.

    Parameters
    ----------
    dry_run
        Only find the orphans.

    Returns
    -------
    list of int
        The pks of the orphans (sealed unless ``dry_run``).
    """
    from aiida import orm
    from aiida.common.links import LinkType
    from aiida.engine import ProcessState

    active = [ProcessState.CREATED.value, ProcessState.RUNNING.value, ProcessState.WAITING.value]
    terminal = [ProcessState.FINISHED.value, ProcessState.EXCEPTED.value, ProcessState.KILLED.value]
    # a node stored just before the kill may not have a process state yet
    query = orm.QueryBuilder().append(orm.ProcessNode, tag='orphan', project=['*'], filters={'or': [
        {'attributes.process_state': {'in': active}}, {'attributes': {'!has_key': 'process_state'}}]})
    query.append(orm.ProcessNode, with_outgoing='orphan', project=['id', 'attributes.process_label'],
                 filters={'attributes.process_state': {'in': terminal}},
                 edge_filters={'type': {'in': [LinkType.CALL_CALC.value, LinkType.CALL_WORK.value]}})
    orphans = []
    for node, caller_pk, caller_label in query.all():
        function = isinstance(node, (orm.CalcFunctionNode, orm.WorkFunctionNode))
        if node.process_state not in (None, ProcessState.CREATED) and not function:
            continue  # a calculation or work chain that ran: it has a task, or had one (verdi process repair)
        orphans.append(node.pk)
        if not dry_run:
            state = node.process_state.value if node.process_state else 'without a state'
            node.set_process_state(ProcessState.KILLED)
            node.set_process_status(f'orphaned by a daemon crash (left {state}); its caller '
                                    f'{caller_label}<{caller_pk}> has ended')
            node.seal()
    return orphans
