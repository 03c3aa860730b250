"""A database build under load: many tiny samples through the loopback Slurm cluster, production against embedded.

Builds ``--samples`` tiny synthetic samples (``tests/tiny_sample.py``: every step of a sample, seconds each; the
three training molecules in turn, seeds 1, 2, ...) with at most ``--concurrency`` samples in flight, every job
submitted with ``sbatch`` over SSH to the loopback Slurm cluster (``aiida_cgmob.cluster``, one node of 2 CPUs), by a
daemon of ``--workers`` workers, on each profile kind asked for:

* ``production``: PostgreSQL + RabbitMQ (``aiida_cgmob.services``; needs root, PostgreSQL 15 and RabbitMQ);
* ``embedded``: SQLite + the ZeroMQ broker (what ``aiida-cgmob setup`` makes).

Each job's script writes when it started and ended (``prepend_text`` / ``append_text``) and the Slurm job's
``SubmitTime`` into its remote folder, so the life of each CalcJob splits into Slurm queue wait, run, and the rest:
**AiiDA overhead per job** = CalcJob lifetime (node created -> sealed) - (job end - Slurm submit time), i.e. upload,
``sbatch``, noticing the end through ``squeue`` polls, retrieval and parsing.

Checks that every planned row is in the Group exactly once (by molecule, seed and mass index) and prints one table.

    sudo .venv/bin/python benchmarks/build_load.py --samples 51 --concurrency 8 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / 'tests'))

from _common import cpu_model, format_table  # noqa: E402

PROFILE = 'load'
#: written into each job's remote folder by its script (epoch seconds; Slurm's SubmitTime, local time, 1 s resolution)
TIMING_OPTIONS = {
    'prepend_text': 'date +%s.%N > .cgmob_job_start\n'
                    'scontrol show job "$SLURM_JOB_ID" -o | grep -o "SubmitTime=[^ ]*" > .cgmob_job_submit || true',
    'append_text': 'date +%s.%N > .cgmob_job_end',
}


def job_timing(calc) -> dict | None:
    """Slurm submit, start and end of a finished job (epoch s), from the files its script wrote; None if missing."""
    try:
        remote = Path(calc.outputs.remote_folder.get_remote_path())
        start = float((remote / '.cgmob_job_start').read_text())
        end = float((remote / '.cgmob_job_end').read_text())
        submit_text = (remote / '.cgmob_job_submit').read_text().strip().split('=', 1)[1]
    except (AttributeError, OSError, ValueError, IndexError):
        return None
    submit = datetime.fromisoformat(submit_text).timestamp()  # local time of this machine, as Slurm writes it
    return {'submit': submit, 'start': start, 'end': end}


#: where a job's time goes, from the node's timestamps and its script's: (name, what it covers)
PHASES = {
    'to upload': 'node created -> remote folder made (waiting for a transport, then the upload)',
    'to sbatch': 'remote folder made -> Slurm SubmitTime (the submit task, sbatch over SSH)',
    'queue': 'Slurm SubmitTime -> job script started (waiting for a free CPU of the node)',
    'run': 'job script started -> ended (the engine and the in-job descriptors)',
    'to retrieve': 'job ended -> retrieval began (squeue polls until the job is gone, then a transport)',
    'retrieve+parse': 'retrieval began -> node sealed (copying the files back, the parser, the outputs stored)',
}


def job_phases(calc, timing: dict) -> dict:
    """The seconds of each of :data:`PHASES` for one finished job (``timing`` from :func:`job_timing`)."""
    uploaded = calc.outputs.remote_folder.ctime.timestamp()
    retrieving = calc.outputs.retrieved.ctime.timestamp()
    marks = [calc.ctime.timestamp(), uploaded, timing['submit'], timing['start'], timing['end'], retrieving,
             calc.mtime.timestamp()]
    return {name: later - earlier for name, earlier, later in zip(PHASES, marks, marks[1:], strict=False)}


def run_build(args) -> dict:
    """Set up one profile kind, build, return the figures (runs in its own interpreter: one profile per process)."""
    from aiida_cgmob.cluster import LoopbackCluster, create_computer

    path = Path(args.path).resolve() / args.kind
    aiida_path = path / 'aiida'
    os.environ['AIIDA_PATH'] = str(aiida_path)
    os.environ['PATH'] = f'{Path(sys.executable).parent}{os.pathsep}{os.environ.get("PATH", "")}'
    from aiida_cgmob import services
    from aiida_cgmob.profile import setup_profile

    quiet = lambda line: None  # noqa: E731
    if args.kind == 'production':
        services.setup_production_profile(aiida_path, PROFILE, echo=quiet)
    else:
        setup_profile(aiida_path, PROFILE, echo=quiet)
    from aiida import load_profile, orm

    load_profile(PROFILE, allow_switch=True)
    from tiny_sample import OPTIONS, TINY

    from aiida_cgmob.data import RowData
    from aiida_cgmob.launch import find_codes, launch_database
    from aiida_cgmob.workchains.synthetic import TRAINING_MOLECULES

    cluster = LoopbackCluster(Path(args.path).resolve() / 'cluster')
    cluster.start()
    computer = create_computer(cluster, label=f'loopback-slurm{"-login" if args.login_shell else ""}',
                               safe_interval=0.0, job_poll_interval=1.0, use_login_shell=args.login_shell)
    codes = find_codes(computer)

    molecules = list(TRAINING_MOLECULES)
    seeds = list(range(1, -(-args.samples // len(molecules)) + 1))
    label = f'load-{args.kind}-{int(time.time())}'
    planned = len(seeds) * len(molecules) * TINY['n_masses']

    services.start_daemon(aiida_path, PROFILE, args.workers, echo=quiet)
    try:
        start = time.time()
        build = launch_database(codes, label, seeds, molecules, 'fast', TINY, {**OPTIONS, **TIMING_OPTIONS},
                                max_concurrent=args.concurrency, daemon=True)
        last = 0.0
        restart = None
        while not (node := orm.load_node(build.pk)).is_terminated:
            if time.time() - start > args.timeout:
                raise RuntimeError(f'the build did not end within {args.timeout:.0f} s')
            restart_due = args.restart_rabbitmq_at is not None and time.time() - start > args.restart_rabbitmq_at
            if restart_due and restart is None:
                restart = restart_rabbitmq_under_load(aiida_path, label, start)
            if time.time() - last > 60:
                rows = orm.QueryBuilder().append(orm.Group, filters={'label': label}, tag='g').append(
                    RowData, with_group='g').count()
                print(f'[{args.kind}] {time.time() - start:6.0f} s: {rows}/{planned} rows', file=sys.stderr,
                      flush=True)
                last = time.time()
            time.sleep(2)
        wall = time.time() - start
    finally:
        services.stop_daemon(aiida_path, PROFILE, echo=quiet)

    keys = orm.QueryBuilder().append(orm.Group, filters={'label': label}, tag='g').append(
        RowData, with_group='g', project=['attributes.molecule', 'attributes.sample_seed', 'attributes.mass_index']
    ).all()
    calcs = orm.QueryBuilder().append(orm.CalcJobNode, filters={'ctime': {'>': build.ctime}}).all(flat=True)
    overheads = []
    phases = {name: [] for name in PHASES}
    for calc in calcs:
        timing = job_timing(calc)
        if timing is None or not calc.is_sealed:
            continue
        lifetime = calc.mtime.timestamp() - calc.ctime.timestamp()
        overheads.append(lifetime - (timing['end'] - timing['submit']))
        for name, seconds in job_phases(calc, timing).items():
            phases[name].append(seconds)
    phases_mean = {name: statistics.fmean(values) if values else None for name, values in phases.items()}
    summary = node.outputs.summary.get_dict() if 'summary' in node.outputs else {}
    return {
        'kind': args.kind, 'exit_status': node.exit_status, 'samples': len(seeds) * len(molecules),
        'planned_rows': planned, 'rows': len(keys), 'distinct_rows': len({tuple(key) for key in keys}),
        'rows_added': summary.get('rows_added'), 'samples_ok': summary.get('samples_ok'),
        'failed_samples': summary.get('samples_failed'), 'failures': summary.get('failures'),
        'wall_s': wall, 'jobs': len(calcs), 'jobs_timed': len(overheads),
        'jobs_per_min': 60 * len(calcs) / wall,
        'overhead_mean_s': statistics.fmean(overheads) if overheads else None,
        'overhead_median_s': statistics.median(overheads) if overheads else None,
        'queue_wait_mean_s': phases_mean['queue'], 'run_mean_s': phases_mean['run'], 'phases_mean_s': phases_mean,
        'rabbitmq_restart': restart,
    }


def restart_rabbitmq_under_load(aiida_path: Path, label: str, start: float) -> dict:
    """Restart RabbitMQ by the documented procedure (``services.restart_rabbitmq``: the daemon stopped first, started
    again after) while the build runs; return when it began, how long RabbitMQ and the daemon were away, and the
    rows and processes in flight at that moment."""
    from aiida import orm

    from aiida_cgmob import services
    from aiida_cgmob.data import RowData

    rows = orm.QueryBuilder().append(orm.Group, filters={'label': label}, tag='g').append(
        RowData, with_group='g').count()
    active = orm.QueryBuilder().append(orm.ProcessNode, filters={
        'attributes.process_state': {'in': ['created', 'waiting', 'running']}}).count()
    began = time.time()
    unreachable = services.restart_rabbitmq(echo=lambda line: print(f'[rabbitmq] {line}', file=sys.stderr,
                                                                     flush=True),
                                            down=5.0, daemons=[(aiida_path, PROFILE)])
    daemon_away = time.time() - began
    print(f'[rabbitmq] restarted at {began - start:.0f} s with {rows} rows made and {active} processes active; '
          f'RabbitMQ away {unreachable:.1f} s, daemon away {daemon_away:.1f} s', file=sys.stderr, flush=True)
    return {'at_s': began - start, 'rows_before': rows, 'active_processes': active,
            'rabbitmq_away_s': unreachable, 'daemon_away_s': daemon_away}


def main(argv=None) -> int:
    """Run the build on each kind (each in a fresh interpreter), print the comparison table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--samples', type=int, default=51, help='samples (over the three training molecules)')
    parser.add_argument('--concurrency', type=int, default=8, help='samples in flight at most')
    parser.add_argument('--workers', type=int, default=2, help='daemon workers')
    parser.add_argument('--kinds', nargs='+', default=['production', 'embedded'], choices=('production', 'embedded'))
    parser.add_argument('--kind', help=argparse.SUPPRESS)  # internal: run one kind in this interpreter
    parser.add_argument('--path', default='benchmarks/results/build_load', help='work folder (profiles, cluster)')
    parser.add_argument('--timeout', type=float, default=4 * 3600.0, help='seconds one build may take')
    parser.add_argument('--report', help='also write the table to this file')
    parser.add_argument('--restart-rabbitmq-at', type=float, default=None, metavar='S',
                        help='production only: restart RabbitMQ S seconds into the build, by the documented procedure '
                             '(the daemon stopped first and started again after; services.restart_rabbitmq)')
    parser.add_argument('--login-shell', action='store_true',
                        help="run the cluster's commands in login shells (AiiDA's default; here each one reads "
                             "root's login files, 1.2 s with pyenv in ~/.bashrc)")
    args = parser.parse_args(argv)
    if args.kind:
        print(json.dumps(run_build(args)))
        return 0

    from aiida_cgmob.cluster import LoopbackCluster, requirements_problem

    if problem := requirements_problem():
        sys.exit(f'build_load: {problem}')
    results = []
    try:
        for kind in args.kinds:
            command = [sys.executable, __file__, '--kind', kind, '--samples', str(args.samples), '--concurrency',
                       str(args.concurrency), '--workers', str(args.workers), '--path', args.path,
                       '--timeout', str(args.timeout), *(['--login-shell'] if args.login_shell else []),
                       *(['--restart-rabbitmq-at', str(args.restart_rabbitmq_at)]
                         if args.restart_rabbitmq_at is not None and kind == 'production' else [])]
            done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
            if done.returncode != 0:
                sys.exit(f'build_load: the {kind} build failed (exit {done.returncode})')
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    finally:
        LoopbackCluster(Path(args.path).resolve() / 'cluster').stop()

    def fmt(value, digits=1):
        return '-' if value is None else f'{value:.{digits}f}'

    rows = [[r['kind'], r['samples'], f'{r["rows"]}/{r["planned_rows"]}', r['distinct_rows'], r['failed_samples'],
             r['jobs'], fmt(r['wall_s'], 0), fmt(r['jobs_per_min']), fmt(r['overhead_mean_s']),
             fmt(r['overhead_median_s']), fmt(r['queue_wait_mean_s']), fmt(r['run_mean_s'])] for r in results]
    lines = [
        f'build_load: {args.samples} tiny samples, concurrency {args.concurrency}, {args.workers} daemon workers, '
        f'loopback Slurm (1 node, 2 CPUs) over SSH, {"" if args.login_shell else "no "}login shell; {cpu_model()}, '
        f'{os.cpu_count()} cores',
        '',
        format_table(['profile', 'samples', 'rows', 'distinct', 'failed', 'jobs', 'wall s', 'jobs/min',
                      'overhead/job s', 'median s', 'queue wait s', 'run s'], rows),
        '',
        'overhead/job: CalcJob lifetime - (job end - Slurm submit time): upload, sbatch, squeue polls (1 s minimum '
        'interval), retrieval, parsing',
    ]
    lines += ['', 'mean seconds of a job in each phase:',
              format_table(['profile', *PHASES], [[r['kind'], *(fmt(r['phases_mean_s'][name]) for name in PHASES)]
                                                    for r in results]),
              *(f'  {name}: {what}' for name, what in PHASES.items())]
    for result in results:
        if restart := result.get('rabbitmq_restart'):
            lines.append(f'{result["kind"]}: RabbitMQ restarted {restart["at_s"]:.0f} s into the build, with '
                         f'{restart["rows_before"]} rows made and {restart["active_processes"]} processes active: '
                         f'RabbitMQ away {restart["rabbitmq_away_s"]:.1f} s, the daemon (stopped first) away '
                         f'{restart["daemon_away_s"]:.1f} s')
    if len(results) == 2:
        a, b = results
        lines.append(f'wall {a["kind"]} / {b["kind"]}: {a["wall_s"] / b["wall_s"]:.2f}; overhead per job '
                     f'{a["kind"]} / {b["kind"]}: {fmt(a["overhead_mean_s"] / b["overhead_mean_s"], 2)}'
                     if a['overhead_mean_s'] and b['overhead_mean_s'] else '')
    text = '\n'.join(lines)
    print(text)
    if args.report:
        Path(args.report).write_text(text + '\n')
    for result in results:
        if result['failures']:
            print(f'{result["kind"]}: failed samples and why: {result["failures"]}')
    # nothing lost: every sample ended (made its rows or failed with a reason) and the Group holds what they added
    lost = [r['kind'] for r in results if r['exit_status'] != 0 or r['rows'] != r['rows_added']
            or (r['samples_ok'] or 0) + (r['failed_samples'] or 0) != r['samples']]
    duplicated = [r['kind'] for r in results if r['distinct_rows'] != r['rows']]
    if lost or duplicated:
        print(f'LOST in {lost}, DUPLICATED in {duplicated}')
    return 1 if lost or duplicated else 0


if __name__ == '__main__':
    sys.exit(main())
