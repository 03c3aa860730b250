"""What one synthetic sample costs, through the daemon: wall time and core-seconds per row, by part.

Runs one ``cgmob.synthetic.sample`` (``--protocol``, ``--molecule``, ``--seed``) in an isolated profile
(SQLite, ZeroMQ broker; under ``--path``, never a user's) through the daemon.  Every executable the jobs start
(gmx, lmp, cgmob-descriptors, cgmob-ibi) is a timing wrapper that logs its start, end and CPU time (user + sys of
it and its children) with the job folder it ran in, so each second is attributed to a job and a part:

* **AA**: gmx in the all-atom job; **IBI**: LAMMPS inside the inversion job; **CG**: LAMMPS of the CG jobs;
* **analysis**: cgmob-descriptors in every job, and the inversion's own work outside LAMMPS (g(r), updates;
  its CPU time only: its wall time is spent waiting for LAMMPS);
* **AiiDA overhead**: wall time of the sample when no engine or analysis process was running (submission,
  polling, retrieval, parsing, calcfunctions) and the CPU time of the daemon worker.

Prints a table (and writes it to ``--report`` if given).  The AA and IBI jobs get ``--threads`` OpenMP threads,
each CG job one (K of them run side by side).

``--aa-fraction F`` (< 1) runs the all-atom MD stages (NVT, NPT, production; not the minimisation) for a fraction F
of the protocol's steps, for a protocol too long for the machine at hand (``moderate``: about 3 h of all-atom MD on
2 cores).  The table of the run is printed as measured, then a second one with the all-atom MD runs and the
all-atom job's descriptors (``gmx mdrun`` of those stages, ``cgmob-descriptors`` over the trajectory) scaled by
1/F: GROMACS's cost per step of a given system is constant, and the descriptors' is per frame.  The inversion, the
CG runs and AiiDA's work are measured in full either way (the AA g(r) target of the shorter run is noisier).

    .venv/bin/python benchmarks/sample_cost.py --protocol fast --threads 2
    .venv/bin/python benchmarks/sample_cost.py --protocol moderate --aa-fraction 0.25
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

WRAPPER = """#!/bin/bash
start=$(date +%s.%N)
{real} "$@"
rc=$?
end=$(date +%s.%N)
cpu=$(mktemp)
times > "$cpu"  # in this shell (a $(times) subshell has no children): user and sys of the program and its children
echo "{label} $PWD $start $end $(tail -n 1 "$cpu") $*" >> {log}
rm -f "$cpu"
exit $rc
"""
TIME_PATTERN = re.compile(r'(\d+)m([\d.]+)s')


def seconds(text: str) -> float:
    """Seconds of a bash ``times`` field such as ``1m2.345s``."""
    minutes, secs = TIME_PATTERN.fullmatch(text).groups()
    return 60 * int(minutes) + float(secs)


def read_log(path: Path) -> list[dict]:
    """The wrapper log: one entry per program run (label, folder, start, end, cpu seconds, its arguments)."""
    entries = []
    for line in path.read_text().splitlines() if path.exists() else []:
        label, folder, start, end, user, system, *arguments = line.split()
        entries.append({'label': label, 'folder': folder, 'start': float(start), 'end': float(end),
                        'cpu': seconds(user) + seconds(system), 'arguments': arguments})
    return entries


def scaled_by_fraction(entry: dict, part: str) -> bool:
    """Whether ``entry`` is work that ``--aa-fraction`` shortened: an all-atom MD stage or the AA job's descriptors."""
    if part != 'AA':
        return False
    if entry['label'] == 'cgmob-descriptors':
        return True
    arguments = entry['arguments']
    return entry['label'] == 'gmx' and 'mdrun' in arguments and 'em' not in arguments


def union_length(intervals: list[tuple[float, float]]) -> float:
    """Total length covered by ``intervals`` (s)."""
    total, current_start, current_end = 0.0, None, None
    for start, end in sorted(intervals):
        if current_end is None or start > current_end:
            if current_end is not None:
                total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None:
        total += current_end - current_start
    return total


def table(title: str, head: str, entries: list[dict], jobs: dict[str, str], wall: float, cpu_aiida: float,
          rows: int, scale: float = 1.0) -> list[str]:
    """The cost table: busy wall time and CPU time of each part; ``scale`` multiplies the work ``--aa-fraction``
    shortened (its wall time is added to the sample's: the all-atom job runs before anything else of the sample)."""
    parts = {name: {'wall': [], 'cpu': 0.0, 'extra_wall': 0.0} for name in ('AA', 'IBI', 'CG', 'analysis')}
    for entry in entries:
        part = next((jobs[folder] for folder in jobs if entry['folder'].startswith(folder)), None)
        if part is None:
            continue
        factor = scale if scaled_by_fraction(entry, part) else 1.0
        if entry['label'] == 'cgmob-ibi':  # the inversion's own work: its CPU time less its LAMMPS runs' (below)
            parts['analysis']['cpu'] += entry['cpu']
            continue
        name = 'analysis' if entry['label'] == 'cgmob-descriptors' else part
        parts[name]['wall'].append((entry['start'], entry['end']))
        parts[name]['extra_wall'] += (factor - 1.0) * (entry['end'] - entry['start'])
        parts[name]['cpu'] += factor * entry['cpu']
    ibi_lammps_cpu = parts['IBI']['cpu']
    ibi_total = [entry for entry in entries if entry['label'] == 'cgmob-ibi']
    # cgmob-ibi's CPU includes its LAMMPS children: count that part once, as IBI engine
    parts['analysis']['cpu'] -= min(ibi_lammps_cpu, sum(entry['cpu'] for entry in ibi_total))
    busy_wall = {name: union_length(part['wall']) + part['extra_wall'] for name, part in parts.items()}
    engine_busy = union_length([i for name in ('AA', 'IBI', 'CG') for i in parts[name]['wall']]) + sum(
        parts[name]['extra_wall'] for name in ('AA', 'IBI', 'CG'))
    busy = union_length([(entry['start'], entry['end']) for entry in entries])
    extra = sum(part['extra_wall'] for part in parts.values())
    overhead_wall = wall - busy
    wall += extra
    per_row = (lambda value: value / rows) if rows else (lambda value: float('nan'))
    lines = [title, f'{head}, wall {wall:.1f} s', '',
             f'{"part":<16}{"busy wall s":>12}{"core-s":>10}{"core-s/row":>12}']
    for name in ('AA', 'IBI', 'CG', 'analysis'):
        cpu = parts[name]['cpu']
        lines.append(f'{name:<16}{busy_wall[name]:>12.1f}{cpu:>10.1f}{per_row(cpu):>12.1f}')
    lines.append(f'{"AiiDA overhead":<16}{overhead_wall:>12.1f}{cpu_aiida:>10.1f}{per_row(cpu_aiida):>12.1f}')
    total_cpu = sum(part['cpu'] for part in parts.values()) + cpu_aiida
    engine_cpu = sum(parts[name]['cpu'] for name in ('AA', 'IBI', 'CG'))
    return lines + [
        f'{"total":<16}{wall:>12.1f}{total_cpu:>10.1f}{per_row(total_cpu):>12.1f}',
        '',
        f'wall time per row: {per_row(wall):.1f} s',
        f'AiiDA overhead / engine time (wall, nothing running / some engine running): {overhead_wall:.1f} / '
        f'{engine_busy:.1f} s = {overhead_wall / engine_busy:.3f}',
        f'AiiDA overhead / engine time (core-seconds of the daemon / of the engines): {cpu_aiida:.1f} / '
        f'{engine_cpu:.1f} = {cpu_aiida / max(engine_cpu, 1e-9):.3f}',
    ]


def make_codes(path: Path, log: Path) -> dict:
    """Timing wrappers around the real executables, as codes ``<label>-timed@localhost``."""
    import shutil

    from aiida import orm

    from aiida_cgmob.launch import find_code

    codes = {}
    for label, plugin in (('gmx', 'cgmob.gromacs'), ('lmp', 'cgmob.lammps.cg'),
                          ('cgmob-descriptors', 'cgmob.descriptors'), ('cgmob-ibi', 'cgmob.ibi')):
        real = shutil.which(label) or str(Path(sys.executable).with_name(label))
        wrapper = path / f'{label}-timed'
        wrapper.write_text(WRAPPER.format(real=real, label=label, log=log))
        wrapper.chmod(0o755)
        code = find_code(f'{label}-timed')
        if code is None:
            code = orm.InstalledCode(computer=orm.load_computer('localhost'), filepath_executable=str(wrapper),
                                     label=f'{label}-timed', default_calc_job_plugin=plugin).store()
        codes[label] = code
    return codes


def worker_cpu(client) -> float:
    """CPU seconds (user + sys) used so far by the daemon's processes."""
    import psutil

    pid = client.get_daemon_pid()
    total = 0.0
    if pid is None:
        return total
    arbiter = psutil.Process(pid)
    for process in [arbiter, *arbiter.children(recursive=True)]:
        times = process.cpu_times()
        total += times.user + times.system
    return total


def main(argv=None) -> int:
    """Run the sample, attribute its time, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--protocol', default='fast', choices=('fast', 'moderate', 'precise'))
    parser.add_argument('--molecule', default='3MePe')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--threads', type=int, default=2, help='OpenMP threads of the AA and IBI jobs')
    parser.add_argument('--aa-fraction', type=float, default=1.0,
                        help='run the all-atom MD stages for this fraction of their steps (0 < F <= 1), see above')
    parser.add_argument('--path', default='benchmarks/results/sample_cost', help='work folder (profile, logs)')
    parser.add_argument('--report', help='also write the table to this file')
    args = parser.parse_args(argv)

    path = Path(args.path).resolve() / args.protocol
    path.mkdir(parents=True, exist_ok=True)
    os.environ['AIIDA_PATH'] = str(path / 'aiida')
    os.environ['PATH'] = f'{Path(sys.executable).parent}{os.pathsep}{os.environ.get("PATH", "")}'
    from aiida_cgmob.profile import setup_profile

    setup_profile(path / 'aiida', 'cost', echo=lambda line: None)
    from aiida import load_profile, orm
    from aiida.engine import submit
    from aiida.engine.daemon.client import get_daemon_client

    load_profile('cost', allow_switch=True)
    from aiida_cgmob.workchains.synthetic import SyntheticSampleWorkChain

    log = path / f'timing-{int(time.time())}.log'
    codes = make_codes(path, log)
    many = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': args.threads},
            'max_wallclock_seconds': 24 * 3600}
    builder = SyntheticSampleWorkChain.get_builder_from_protocol(codes, args.molecule, args.seed, args.protocol,
                                                                 options=many)
    builder.cg.lammps.metadata.options.resources = {'num_machines': 1, 'num_mpiprocs_per_machine': 1}
    if not 0.0 < args.aa_fraction <= 1.0:
        parser.error(f'--aa-fraction must be in (0, 1], not {args.aa_fraction}')
    if args.aa_fraction < 1.0:
        parameters = builder.aa.gromacs.parameters.get_dict()
        for stage in parameters['stages']:
            if stage['type'] != 'minimise':
                stage['mdp']['nsteps'] = round(stage['mdp']['nsteps'] * args.aa_fraction)
        builder.aa.gromacs.parameters = orm.Dict(parameters)
    client = get_daemon_client('cost')
    if client.is_daemon_running:
        client.stop_daemon(wait=True)
    client.start_daemon(number_workers=1)
    cpu_before = worker_cpu(client)
    node = submit(builder)
    while not node.is_terminated:
        time.sleep(2.0)
    cpu_aiida = worker_cpu(client) - cpu_before
    client.stop_daemon(wait=True)

    node = orm.load_node(node.pk)
    wall = (node.mtime - node.ctime).total_seconds()
    rows = len(node.outputs.rows) if 'rows' in node.outputs else 0
    jobs = {}
    for job in node.called_descendants:
        if isinstance(job, orm.CalcJobNode) and job.get_remote_workdir():
            part = {'cgmob.gromacs': 'AA', 'cgmob.ibi': 'IBI', 'cgmob.lammps.cg': 'CG'}[job.process_type.split(':')[-1]]
            jobs[job.get_remote_workdir()] = part
    entries = read_log(log)
    title = (f'sample_cost: {args.molecule} seed {args.seed}, protocol {args.protocol}, through the daemon '
             f'({os.cpu_count()} cores; AA and IBI jobs {args.threads} threads, CG jobs 1 thread each)')
    head = f'sample <{node.pk}>: exit {node.exit_status}, {rows} rows'
    if args.aa_fraction == 1.0:
        lines = table(title, head, entries, jobs, wall, cpu_aiida, rows)
    else:
        lines = table(f'{title}\nthe all-atom MD stages run for {args.aa_fraction:g} of the protocol\'s steps, '
                      'as measured:', head, entries, jobs, wall, cpu_aiida, rows)
        lines += ['', '=' * 60, ''] + table(
            f'the same sample at the full protocol: the all-atom MD stages and their descriptors scaled by '
            f'1/{args.aa_fraction:g}, the rest as measured:', head, entries, jobs, wall, cpu_aiida, rows,
            scale=1.0 / args.aa_fraction)
    text = '\n'.join(lines)
    print(text)
    if args.report:
        Path(args.report).write_text(text + '\n')
    return 0 if node.is_finished_ok else 1


if __name__ == '__main__':
    sys.exit(main())
