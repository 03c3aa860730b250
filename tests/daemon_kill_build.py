"""Kill the daemon (SIGKILL, by pid) in the middle of a database build, start it again, check nothing is lost or twice.

Runs in its own isolated profile (SQLite, ZeroMQ broker) under ``--path``, never a user's, or in the existing
profile ``--profile`` of ``--path`` (tests/test_services.py: its PostgreSQL + RabbitMQ one, ``--workers 2``).
A tiny database build (``tests/tiny_sample.py``: 3-methylpentane, ``--seeds`` samples of 2 rows, one sample at a
time) is submitted; once the first rows are in the Group and a job of the next sample is running, every daemon
process (the circus arbiter and its workers, the ZeroMQ broker among them) gets SIGKILL.  After ``--pause`` seconds
the daemon is started again (after ``clear_stale_broker_endpoint``: the killed broker's endpoint file would otherwise
catch the new worker) and the build must finish with every planned row in the Group exactly once; then the processes
the kill left unsealed are sealed (``seal_orphaned_processes``).  Prints one JSON line of figures (with the failures
of the build's summary); exit status 0 when all holds; on a time-out, the process tree and the daemon and broker
logs go to stderr.

    python tests/daemon_kill_build.py --path /tmp/kill-test
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def wait_for(condition, timeout: float, what: str, interval: float = 1.0):
    """Poll ``condition`` until it returns something true; RuntimeError naming ``what`` after ``timeout`` s."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise RuntimeError(f'timed out after {timeout:.0f} s waiting for {what}')


def daemon_pids(client) -> list[int]:
    """The circus arbiter of the profile's daemon and its descendants (workers, broker), short-lived shells apart.

    A shell a worker runs for a transport command is not the daemon; killed inside ``pyenv rehash`` (a login shell's
    profile on some machines) it leaves a lock that makes every later login shell wait 60 s.
    """
    import psutil

    pid = client.get_daemon_pid()
    if pid is None:
        return []
    pids = [pid]
    try:
        for child in psutil.Process(pid).children(recursive=True):
            try:
                if child.name() not in ('bash', 'sh'):
                    pids.append(child.pid)
            except psutil.NoSuchProcess:
                pass
    except psutil.NoSuchProcess:
        return []
    return pids


def diagnostics(client, build_pk: int) -> str:
    """What a hung build looks like: its process tree with states, and the tails of the daemon and broker logs."""
    from aiida import orm

    lines = []

    def tree(node, depth=0):
        state = node.process_state.value if node.process_state else '?'
        lines.append(f'{"  " * depth}{node.process_label}<{node.pk}> {state} exit={node.exit_status} '
                     f'paused={node.paused} checkpoint={node.checkpoint is not None}')
        for child in node.called:
            tree(child, depth + 1)

    tree(orm.load_node(build_pk))
    paths = client._config.filepaths(client.profile)
    for name in (paths['daemon']['log'], paths['circus']['log'], paths['broker_service']['log']):
        path = Path(name)
        text = path.read_text(errors='replace').splitlines()[-40:] if path.exists() else ['(missing)']
        lines += [f'--- {path}'] + text
    broker = Path(paths['broker_service']['dir'])
    lines += [f'--- broker tasks: {[str(p.relative_to(broker)) for p in broker.rglob("*.json")]}']
    return '\n'.join(lines)


def main(argv=None) -> int:
    """Run the build, kill and restart the daemon, check the Group; return 0 when nothing was lost or duplicated."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--path', required=True, help='folder of the isolated AiiDA configuration (made if new)')
    parser.add_argument('--seeds', type=int, default=2, help='samples in the build (seeds 1..N)')
    parser.add_argument('--pause', type=float, default=5.0, help='seconds without a daemon')
    parser.add_argument('--timeout', type=float, default=600.0, help='seconds the build may take in all')
    parser.add_argument('--profile', default='killtest', help='profile in --path (made if new: SQLite, ZeroMQ)')
    parser.add_argument('--workers', type=int, default=1, help='daemon workers')
    args = parser.parse_args(argv)
    os.environ['AIIDA_PATH'] = str(Path(args.path).resolve())
    # the daemon is started through `verdi` (and runs the jobs' console scripts) from this interpreter's environment
    os.environ['PATH'] = f'{Path(sys.executable).parent}{os.pathsep}{os.environ.get("PATH", "")}'

    from aiida_cgmob.profile import clear_stale_broker_endpoint, seal_orphaned_processes, setup_profile
    from aiida_cgmob.services import stop_daemon

    profile = args.profile
    setup_profile(args.path, profile, echo=lambda line: None)
    from aiida import load_profile, orm
    from aiida.engine.daemon.client import get_daemon_client

    load_profile(profile, allow_switch=True)
    from tiny_sample import OPTIONS, TINY

    from aiida_cgmob.data import RowData
    from aiida_cgmob.launch import find_codes, launch_database

    client = get_daemon_client(profile)
    if not client.is_daemon_running:
        client.start_daemon(number_workers=args.workers)
    label = f'killtest-{int(time.time())}'
    seeds = list(range(1, args.seeds + 1))
    start = time.monotonic()
    build = launch_database(find_codes(), label, seeds, ['3MePe'], 'fast', TINY, OPTIONS, max_concurrent=1,
                            daemon=True)
    planned = len(seeds) * TINY['n_masses']

    def rows_in_group() -> list:
        query = orm.QueryBuilder().append(orm.Group, filters={'label': label}, tag='group')
        query.append(RowData, with_group='group', project=['uuid', 'attributes.sample_seed', 'attributes.mass_index'])
        return query.all()

    def mid_build():
        running = orm.QueryBuilder().append(orm.CalcJobNode, filters={
            'attributes.process_state': {'in': ['waiting', 'running']}, 'ctime': {'>': build.ctime}}).count()
        return len(rows_in_group()) >= 1 and running > 0 and len(rows_in_group()) < planned

    wait_for(mid_build, args.timeout, 'the first rows and a running job of the next sample')
    rows_before = len(rows_in_group())
    pids = daemon_pids(client)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    killed_at = time.monotonic() - start
    time.sleep(args.pause)
    state_while_dead = orm.load_node(build.pk).process_state.value
    stale = clear_stale_broker_endpoint(profile)
    client.start_daemon(number_workers=args.workers)
    try:
        wait_for(lambda: orm.load_node(build.pk).is_terminated, args.timeout, 'the build to end after the restart', 2.0)
    except RuntimeError:
        print(diagnostics(client, build.pk), file=sys.stderr)
        raise
    build = orm.load_node(build.pk)
    # children a worker stored but never handed to the broker when it was killed: their callers replaced them
    orphans = seal_orphaned_processes()
    rows = rows_in_group()
    keys = [(seed, index) for _, seed, index in rows]
    all_rows = orm.QueryBuilder().append(RowData, filters={'ctime': {'>': build.ctime}}).count()
    figures = {
        'killed_pids': len(pids), 'killed_after_s': round(killed_at, 1), 'rows_before_kill': rows_before,
        'build_state_while_dead': state_while_dead, 'stale_broker_endpoint_removed': stale is not None,
        'build_exit_status': build.exit_status,
        'rows_planned': planned, 'rows_in_group': len(rows), 'distinct_rows_in_group': len(set(keys)),
        'rows_made_in_all': all_rows, 'wall_s': round(time.monotonic() - start, 1), 'group': label,
        'build_pk': build.pk, 'orphans_sealed': len(orphans),
        'failures': build.outputs.summary['failures'] if 'summary' in build.outputs else None,
    }
    print(json.dumps(figures), flush=True)
    # waits for the processes, not for circus' answer (which a loaded machine may not give within daemon.timeout)
    stop_daemon(args.path, profile, echo=lambda line: None)
    ok = build.is_finished_ok and len(rows) == planned and len(set(keys)) == planned
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
