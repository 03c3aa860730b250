"""Faults on the loopback Slurm cluster (``aiida_cgmob.cluster``), each with a real ``cgmob.lammps.cg`` job run through
AiiDA (``core.ssh_async`` + ``core.slurm``): a job cancelled mid-run, a job killed at its wall time, slurmd down, the
SSH server down, an output lost before retrieval, a stash target that is full or cannot be written, a work directory
that cannot be written.

The process runs in the main thread (the in-process runner: its event loop, all storage access); the fault is made
from a second thread that runs only cluster commands (``squeue``, ``scancel``, signals, stopping a daemon, a mount)
and, for a paused process, schedules ``Process.play`` on the runner's loop.  Every test ends with the chain (or
the calculation) finished or failed with a named exit code, the cluster's services all running and its queue empty.
Measured times are printed (``pytest -s``) and described in docs/hpc.rst (Faults).  The file takes 6.5 min on a
2-core VM loaded by other work (the rest of ``make test`` in the other worker): ten jobs of 15 to 20 s each, Slurm's
time-limit kill (60 to 90 s after the job starts: Slurm enforces limits every 30 s) and the backoff after the SSH
outage (5 s, then 10 s).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest
from aiida import orm
from test_calculation_lammps_cg import DENSITY, MASS, N_BEADS, RESOURCES, lj_potential

from aiida_cgmob.analysis.trajectory import read_beads
from aiida_cgmob.calculations.base import stash_options
from aiida_cgmob.cluster import (
    INSTALL_COMMAND,
    SERVICES,
    LoopbackCluster,
    cluster_codes,
    create_computer,
    requirements_problem,
)
from aiida_cgmob.lammps import parse_log
from aiida_cgmob.lammps.inputs import FINAL_DATA, LOG_NAME, RESTART_NAMES

PROBLEM = requirements_problem()
pytestmark = pytest.mark.skipif(PROBLEM is not None, reason=f'loopback Slurm cluster: {PROBLEM} '
                                f'(as root: `{INSTALL_COMMAND}`)')

#: not ``loopback-slurm``: tests/test_cluster.py makes that one for its own cluster in the same profile
COMPUTER = 'loopback-faults'
#: 2 ps equilibration (400 steps), then the production; a restart file every 5 ps (1000 steps)
SETTINGS = {'equilibration': 2.0, 'frame_interval': 1.0, 'thermo_interval': 1.0, 'restart_interval': 5.0}
#: a production that runs for seconds (10 000 steps, restart files every 1000): long enough to be hit mid-run
PRODUCTION = 50.0
TOTAL_STEPS = 400 + 10000


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    """A loopback cluster of this module, stopped (every process) at its end."""
    cluster = LoopbackCluster(tmp_path_factory.mktemp('faults'))
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope='module')
def lmp(cluster, aiida_profile):
    """The ``lmp`` code on the cluster's computer: squeue every 1 s, 0.1 s between SSH connections, no login shell
    (every command of a job would read root's login files, seconds per job on a loaded machine)."""
    computer = create_computer(cluster, label=COMPUTER, safe_interval=0.1, job_poll_interval=1.0,
                               codes={'lmp': cluster_codes()['lmp']}, use_login_shell=False)
    return orm.load_code(f'lmp@{computer.label}')


@pytest.fixture(autouse=True)
def healthy_cluster(cluster):
    """Every test starts and ends with all services running and no job in the queue (a fault never outlives its
    test)."""
    assert cluster.status()['running'] and not cluster.jobs()
    yield
    for service in ('slurmd', 'sshd'):
        if cluster.pid(service) is None:
            getattr(cluster, f'start_{service}')()
    assert all(cluster.pid(service) for service in SERVICES)
    left = cluster.jobs()
    if left:  # a failed test: clear the queue for the next one, then say so
        cluster.run_slurm('scancel', *(job['id'] for job in left), check=False)
    assert not left, left


@pytest.fixture
def transport_retries():
    """Set ``transport.task_retry_initial_interval`` and ``transport.task_maximum_attempts`` of the loaded profile
    for one test (aiida-core's defaults, 20 s and 5, are back afterwards)."""
    from aiida.manage import get_manager

    profile = get_manager().get_profile()
    names = ('transport.task_retry_initial_interval', 'transport.task_maximum_attempts')
    before = {name: profile.options[name] for name in names if name in profile.options}

    def set_retries(initial_interval: int, maximum_attempts: int):
        profile.set_option(names[0], initial_interval)
        profile.set_option(names[1], maximum_attempts)

    yield set_retries
    for name in names:
        profile.unset_option(name)
        if name in before:
            profile.set_option(name, before[name])


# -- running a process beside a fault --------------------------------------------------------------------------------

class Fault(threading.Thread):
    """The second thread: runs ``action(fault)`` while the process runs in the main thread.

    ``action`` uses cluster commands only (no AiiDA storage: that belongs to the main thread); :meth:`mark` records
    when something happened (seconds since the process started), :meth:`wait_for` polls a condition and gives up
    when the process has ended.
    """

    def __init__(self, action, process, loop):
        super().__init__(daemon=True)
        self.action, self.process, self.loop = action, process, loop
        self.error: BaseException | None = None
        self.events: dict[str, float] = {}
        self.ended = threading.Event()
        self.start_time = time.monotonic()

    def run(self):
        try:
            self.action(self)
        except BaseException as exception:  # re-raised in the main thread
            self.error = exception

    def mark(self, event: str) -> None:
        self.events[event] = round(time.monotonic() - self.start_time, 1)

    def wait_for(self, condition, what: str, timeout: float = 300.0, interval: float = 0.25):
        deadline = time.monotonic() + timeout
        while not (result := condition()):
            if self.ended.is_set():
                raise RuntimeError(f'the process ended before {what}')
            if time.monotonic() > deadline:
                raise TimeoutError(f'no {what} within {timeout:.0f} s')
            time.sleep(interval)
        return result

    def sleep(self, seconds: float) -> None:
        self.ended.wait(seconds)

    def in_loop(self, function, timeout: float = 60.0):
        """Return ``function()`` called in the main thread by the runner's loop (where the process and storage live)."""
        result = concurrent.futures.Future()

        def call():
            try:
                result.set_result(function())
            except BaseException as exception:
                result.set_exception(exception)

        self.loop.call_soon_threadsafe(call)
        return result.result(timeout)

    def play(self) -> None:
        """Play the paused process (``verdi process play`` does this through the broker; here the runner's loop)."""
        self.loop.call_soon_threadsafe(self.process.play)


def run_with_fault(builder, action):
    """Run ``builder`` to its end in this thread while ``action`` makes a fault; return (node, fault, seconds)."""
    from aiida.manage import get_manager

    runner = get_manager().get_runner()
    process = runner.instantiate_process(builder)
    fault = Fault(action, process, runner.loop)
    fault.start()
    try:
        _, node = runner.run_get_node(process)
    finally:
        fault.ended.set()
        fault.join(timeout=180)
    if fault.error is not None:
        raise fault.error
    return node, fault, round(time.monotonic() - fault.start_time, 1)


def chain_builder(code, production: float = PRODUCTION, max_iterations: int = 3, **options):
    from aiida_cgmob.workchains.lammps_cg_base import LammpsCgBaseWorkChain

    builder = LammpsCgBaseWorkChain.get_builder()
    builder.lammps.code = code
    builder.lammps.potential = lj_potential()
    builder.lammps.mass = orm.Float(MASS)
    builder.lammps.settings = orm.Dict({**SETTINGS, 'production': production})
    builder.lammps.n_beads = orm.Int(N_BEADS)
    builder.lammps.number_density = orm.Float(DENSITY)
    builder.lammps.metadata.options = {**RESOURCES, **options}
    builder.max_iterations = orm.Int(max_iterations)
    return builder


def calculation_builder(code, production: float = PRODUCTION, **options):
    from aiida_cgmob.calculations.lammps_cg import LammpsCgCalculation

    builder = LammpsCgCalculation.get_builder()
    builder.code = code
    builder.potential = lj_potential()
    builder.mass = orm.Float(MASS)
    builder.settings = orm.Dict({**SETTINGS, 'production': production})
    builder.n_beads = orm.Int(N_BEADS)
    builder.number_density = orm.Float(DENSITY)
    builder.metadata.options = {**RESOURCES, **options}
    return builder


def running_job(cluster: LoopbackCluster):
    """The job of the cluster once it runs (these tests run one job at a time), else None."""
    jobs = [job for job in cluster.jobs() if job['state'] == 'RUNNING']
    return jobs[0] if jobs else None


def restart_file_written(job: dict) -> bool:
    return any((Path(job['work_dir']) / name).exists() for name in RESTART_NAMES)


def calculations(chain):
    return sorted(chain.called, key=lambda node: node.ctime)


def retrieved(calculation, name: str) -> str:
    return calculation.outputs.retrieved.base.repository.get_object_content(name)


def first_step(calculation) -> int:
    return int(parse_log(retrieved(calculation, LOG_NAME)).runs[0].columns['Step'][0])


def logs(node) -> list:
    """The log entries of ``node``, oldest first (a failed transport task's entry is its traceback)."""
    return sorted(orm.Log.collection.get_logs_for(node), key=lambda log: log.time)


def log_messages(node) -> str:
    return '\n'.join(f'{log.levelname} {log.message}' for log in logs(node))


def assert_continued(chain, total_steps: int, reasons: tuple[str, ...] = ('killed',)):
    """The chain finished with two jobs: the first stopped mid-run (400), the second continued it to the end."""
    assert chain.is_finished_ok, (chain.exit_status, chain.exit_message)
    first, second = calculations(chain)
    assert first.exit_status == 400, (first.exit_status, first.exit_message)
    assert any(reason in first.exit_message for reason in reasons), first.exit_message
    assert second.is_finished_ok, (second.exit_status, second.exit_message)
    assert second.inputs.parent_folder.pk == first.outputs.remote_folder.pk and 'n_beads' not in second.inputs
    # it started from a restart file of the first job (the newest whole one), not from step 0
    start = first_step(second)
    assert 0 < start <= first.outputs.thermo['last_step']
    thermo = chain.outputs.thermo.get_dict()
    assert thermo['last_step'] == thermo['total_steps'] == total_steps and thermo['n_segments'] == 2
    return first, second


# -- the faults ------------------------------------------------------------------------------------------------------

@pytest.mark.timeout(600)
def test_scancel_mid_run_the_chain_continues_from_the_restart_file(cluster, lmp):
    """``scancel`` of the running job once it wrote a restart file: LAMMPS dies without its final files, the parser
    says 400 (killed), the chain continues in a second job from the newest restart file and finishes."""
    def cancel(fault):
        job = fault.wait_for(lambda: running_job(cluster), 'running job')
        fault.mark('running')
        fault.wait_for(lambda: restart_file_written(job), 'restart file')
        cluster.run_slurm('scancel', job['id'])
        fault.mark('scancel')

    stash = cluster.folder / 'stash'
    chain, fault, seconds = run_with_fault(
        chain_builder(lmp, stash=stash_options(str(stash))), cancel)
    first, second = assert_continued(chain, TOTAL_STEPS)
    assert f'continue from the newest restart file (the run reached step {first.outputs.thermo["last_step"]})' \
        in log_messages(chain)
    # each job stashed its folder (the killed one too); the chain's stash, the last job's, holds the whole production:
    # the first job's trajectory copied in as a segment, then the continuation's
    stashed = {job.pk: Path(job.outputs.remote_stash.target_basepath) for job in (first, second)}
    assert chain.outputs.remote_stash.pk == second.outputs.remote_stash.pk
    assert stashed[second.pk] == stash / second.uuid[:2] / second.uuid[2:4] / second.uuid[4:]
    assert (stashed[first.pk] / 'production.xtc').exists() and not (stashed[first.pk] / 'final.data').exists()
    last = stashed[second.pk]
    assert {'segment_01.xtc', 'production.xtc', 'in.lammps', 'final.data', 'final.restart'} <= {
        path.name for path in last.iterdir()}
    assert all(stat.S_IMODE(path.stat().st_mode) & 0o077 == 0 for path in (stash, *stash.rglob('*')))  # user-only
    frames = read_beads([last / 'segment_01.xtc', last / 'production.xtc'], MASS)
    assert frames.times[-1] - frames.times[0] == pytest.approx(PRODUCTION, abs=1e-6)
    print(f'\nscancel: {fault.events}, chain finished after {seconds} s, continued from step {first_step(second)}')


@pytest.mark.timeout(600)
def test_a_job_killed_at_its_wall_time_is_continued(cluster, lmp):
    """A job that hangs (SIGSTOP, as on a stalled file system) after its first restart file, with a wall time of
    60 s: Slurm kills it at its time limit (``--time=00:01:00``, checked every 30 s), the parser says 400, the
    chain continues in a second job from a restart file and finishes.

    Slurm's kill is SIGCONT, SIGTERM, SIGKILL 2 s later: the resumed LAMMPS may first see its own ``timer timeout``
    (0.9 x the wall time, long past) and print it before SIGTERM ends it; the parser then says "wall-time limit"
    instead of "killed", 400 either way.  (A LAMMPS that does not hang stops itself at that timer, before Slurm's
    limit: tested on localhost in test_calculation_lammps_cg.py.)"""
    def hang(fault):
        job = fault.wait_for(lambda: running_job(cluster), 'running job')
        fault.mark('running')
        fault.wait_for(lambda: restart_file_written(job), 'restart file')
        fault.job_id = job['id']
        for pid in cluster.job_processes(job['id']):
            os.kill(pid, signal.SIGSTOP)
        fault.mark('stopped')
        fault.wait_for(lambda: job['id'] not in {other['id'] for other in cluster.jobs()}, 'end of the job',
                       timeout=180)
        fault.mark('job gone')

    chain, fault, seconds = run_with_fault(chain_builder(lmp, max_wallclock_seconds=60), hang)
    first, second = assert_continued(chain, TOTAL_STEPS, reasons=('killed', 'wall-time limit'))
    assert first.get_job_id() == fault.job_id
    assert f'Time limit exhausted for JobId={fault.job_id}' in (cluster.slurm_dir / 'slurmctld.log').read_text()
    # Slurm says so in the job's stderr, which AiiDA retrieves (its slurm plugin reads 120 there; our parser's 400,
    # which names how far LAMMPS got, is what the node keeps)
    assert 'DUE TO TIME LIMIT' in retrieved(first, '_scheduler-stderr.txt')
    assert 'scheduler parser returned exit code<120>' in log_messages(first)
    print(f'\nwall time: {fault.events}, chain finished after {seconds} s, first job: {first.exit_message!r}, '
          f'continued from step {first_step(second)}')


@pytest.mark.timeout(600)
def test_slurmd_down_while_the_job_runs(cluster, lmp):
    """slurmd stopped for 20 s while the job runs: the job goes on in its slurmstepd, which reports its end to
    slurmctld; the job stays COMPLETING (AiiDA: still running) until slurmd is back and slurmctld has sent it the
    job's termination again; then it leaves the queue and the chain finishes with its one job."""
    def outage(fault):
        job = fault.wait_for(lambda: running_job(cluster), 'running job')
        cluster.stop_slurmd()
        fault.mark('slurmd stopped')
        try:
            end = time.monotonic() + 20
            while time.monotonic() < end:
                for other in cluster.jobs() or [{'id': job['id'], 'state': 'gone'}]:
                    if f'job {other["state"]}' not in fault.events:
                        fault.mark(f'job {other["state"]}')
                time.sleep(0.5)
        finally:
            cluster.start_slurmd()  # returns once slurmctld sees the node answer
            fault.mark('slurmd answers')

    chain, fault, seconds = run_with_fault(chain_builder(lmp), outage)
    assert chain.is_finished_ok, (chain.exit_status, chain.exit_message)
    (calculation,) = calculations(chain)
    assert calculation.outputs.thermo['last_step'] == TOTAL_STEPS
    assert 'slurmd answers' in fault.events
    print(f'\nslurmd: {fault.events}, chain finished after {seconds} s')


@pytest.mark.timeout(600)
def test_sshd_down_for_15_s_transport_tasks_retry(cluster, lmp, transport_retries):
    """The SSH server down for 15 s while the job runs: ``squeue`` over SSH fails, aiida-core retries the update
    task with exponential backoff (5 s, then 10 s, ... 5 attempts; its defaults are 20 s and 5) and the calculation
    finishes."""
    interval = 5
    transport_retries(interval, 5)

    def outage(fault):
        fault.wait_for(lambda: running_job(cluster), 'running job')
        cluster.stop_sshd()
        fault.mark('sshd stopped')
        try:
            fault.sleep(15)
        finally:
            cluster.start_sshd()
            fault.mark('sshd answers')

    chain, fault, seconds = run_with_fault(chain_builder(lmp), outage)
    assert chain.is_finished_ok, (chain.exit_status, chain.exit_message)
    (calculation,) = calculations(chain)
    assert calculation.outputs.thermo['last_step'] == TOTAL_STEPS
    # each failed attempt is logged on the node with its traceback: squeue over ssh refused, then the next try 5 s
    # later, 10 s after the second failure ...; never the 5th (which would pause the process)
    failures = [log for log in logs(calculation) if log.levelname == 'ERROR' and 'do_update' in log.message]
    assert 1 <= len(failures) < 5
    assert all('squeue returned exit code 255' in log.message for log in failures)
    times = [log.time for log in failures]
    gaps = [round((later - earlier).total_seconds(), 1) for earlier, later in zip(times, times[1:], strict=False)]
    assert all(gap >= interval * 2 ** index - 0.5 for index, gap in enumerate(gaps)), gaps
    assert not any('maximum attempts' in log.message for log in logs(calculation))
    print(f'\nsshd: {fault.events}, chain finished after {seconds} s; {len(failures)} failed squeue, '
          f'{gaps} s between them')


@pytest.mark.timeout(600)
def test_an_output_deleted_before_retrieval_is_named(cluster, lmp):
    """The job loses final.data before AiiDA retrieves it (its script deletes it after LAMMPS, ``append_text``): the
    parser returns 312 naming the file (no exception), and the chain stops cleanly with 300 carrying that message."""
    from aiida_cgmob.calculations.lammps_cg import LammpsCgCalculation
    from aiida_cgmob.workchains.lammps_cg_base import LammpsCgBaseWorkChain

    builder = chain_builder(lmp, production=20.0, append_text=f'rm -f {FINAL_DATA}')
    chain, _, seconds = run_with_fault(builder, lambda fault: None)
    (calculation,) = calculations(chain)
    missing = LammpsCgCalculation.exit_codes.ERROR_OUTPUT_MISSING
    assert calculation.exit_status == missing.status and FINAL_DATA in calculation.exit_message
    assert chain.exit_status == LammpsCgBaseWorkChain.exit_codes.ERROR_UNRECOVERABLE_FAILURE.status
    assert f'exit {missing.status}' in chain.exit_message and FINAL_DATA in chain.exit_message
    # what the job did make is kept: the log was retrieved, the remote folder (trajectory, restart files) is there
    assert 'remote_folder' in chain.outputs
    assert LOG_NAME in calculation.outputs.retrieved.base.repository.list_object_names()
    assert not Path(calculation.outputs.remote_folder.get_remote_path(), FINAL_DATA).exists()
    print(f'\noutput lost: {calculation.exit_status} {calculation.exit_message!r}; chain {chain.exit_status} after '
          f'{seconds} s')


@pytest.fixture
def full_storage(cluster):
    """A stash target on a file system that is full after 16 KiB (a tmpfs of that size: the project storage over its
    quota), unmounted at the end of the test."""
    folder = cluster.folder / 'full-project'
    folder.mkdir(exist_ok=True)
    mounted = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=16k,mode=0700', 'tmpfs', str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f'cannot mount a tmpfs on {folder} here: {mounted.stderr.strip()}')
    try:
        yield folder
    finally:
        subprocess.run(['umount', str(folder)], check=True, capture_output=True)


@pytest.mark.timeout(600)
def test_a_stash_into_full_storage_is_named_and_the_run_kept(cluster, lmp, full_storage):
    """The trajectory does not fit in the stash target: aiida-core removes the partial copy and ends the job with 160
    (ERROR_STASHING_FAILED) carrying the copy's error; the chain stops with 300 naming it.  The run itself is intact
    in the remote folder, which the chain returns: stash it again by hand once there is room."""
    from aiida_cgmob.workchains.lammps_cg_base import LammpsCgBaseWorkChain

    builder = chain_builder(lmp, production=20.0, stash=stash_options(str(full_storage)))
    chain, _, seconds = run_with_fault(builder, lambda fault: None)
    (calculation,) = calculations(chain)
    assert calculation.exit_status == 160, (calculation.exit_status, calculation.exit_message)
    # the openssh backend copies with scp, whose error on a full file system is a bare 'Failure': the paths say where
    assert f'to {full_storage}/' in calculation.exit_message and 'Failed to copy' in calculation.exit_message
    assert chain.exit_status == LammpsCgBaseWorkChain.exit_codes.ERROR_UNRECOVERABLE_FAILURE.status
    assert 'exit 160' in chain.exit_message and str(full_storage) in chain.exit_message
    assert not [path for path in full_storage.rglob('*') if not path.is_dir()]  # no partial stash left
    remote = Path(chain.outputs.remote_folder.get_remote_path())
    assert (remote / 'production.xtc').stat().st_size > 0 and (remote / FINAL_DATA).exists()
    print(f'\nstash into full storage: {calculation.exit_status} {calculation.exit_message!r}; chain '
          f'{chain.exit_status} after {seconds} s')


@contextlib.contextmanager
def read_only_mount(folder: Path):
    """Make ``folder`` read-only (a read-only bind mount: root, which AiiDA and the jobs run as here, ignores chmod
    500) until the returned function is called, or the block ends."""
    mounted = subprocess.run(['mount', '--bind', str(folder), str(folder)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f'cannot bind-mount {folder} read-only here: {mounted.stderr.strip()}')
    state = {'mounted': True}

    def restore():
        if state.pop('mounted', False):
            subprocess.run(['umount', str(folder)], check=True, capture_output=True)

    try:
        subprocess.run(['mount', '-o', 'remount,bind,ro', str(folder), str(folder)], check=True, capture_output=True)
        yield restore
    finally:
        restore()


@pytest.fixture
def read_only(cluster):
    """The computer's work directory read-only until the returned function is called, or the test ends."""
    with read_only_mount(cluster.work_dir) as restore:
        yield restore


@pytest.fixture
def read_only_stash(cluster):
    """A stash target that exists but cannot be written (folder, function that makes it writable)."""
    folder = cluster.folder / 'read-only-project'
    folder.mkdir(exist_ok=True)
    with read_only_mount(folder) as restore:
        yield folder, restore


@pytest.mark.timeout(600)
def test_a_stash_target_that_cannot_be_written_pauses_until_played(cluster, lmp, read_only_stash, transport_retries):
    """The job ran, but the folder for its stash cannot be made: aiida-core retries the stash task with backoff, then
    pauses the process.  Once the target is writable, playing it stashes, retrieves and finishes.  Retries here: 1 s,
    2 s (3 attempts)."""
    folder, restore = read_only_stash
    transport_retries(1, 3)

    def pause_then_play(fault):
        fault.wait_for(lambda: fault.process.paused, 'pause', timeout=180)
        fault.mark('paused')
        fault.paused_node = fault.in_loop(lambda: (fault.process.node.paused, fault.process.node.process_status))
        restore()
        fault.mark('writable')
        fault.play()

    builder = calculation_builder(lmp, production=20.0, stash=stash_options(str(folder)))
    node, fault, seconds = run_with_fault(builder, pause_then_play)
    paused, status = fault.paused_node
    assert paused and status == 'Pausing after failed transport task: stash_calculation failed 3 times consecutively'
    assert node.is_finished_ok, (node.exit_status, node.exit_message)
    stashed = Path(node.outputs.remote_stash.target_basepath)
    assert stashed.is_relative_to(folder) and (stashed / 'production.xtc').stat().st_size > 0
    print(f'\nread-only stash target: {fault.events}, finished after {seconds} s')


@pytest.mark.timeout(600)
def test_a_read_only_work_directory_pauses_the_calculation_until_played(cluster, lmp, read_only, transport_retries):
    """The upload cannot make the calculation's folder: aiida-core retries the upload task with backoff, then pauses
    the process (it neither crashes nor fails).  Once the directory is writable again, playing it (``verdi process
    play``) uploads, submits, and the calculation finishes.  Retries here: 1 s, 2 s (3 attempts)."""
    transport_retries(1, 3)

    def pause_then_play(fault):
        fault.wait_for(lambda: fault.process.paused, 'pause', timeout=120)
        fault.mark('paused')
        fault.paused_node = fault.in_loop(lambda: (fault.process.node.paused, fault.process.node.process_state.value,
                                                   fault.process.node.process_status))
        fault.sleep(1)
        read_only()
        fault.mark('writable')
        fault.play()

    node, fault, seconds = run_with_fault(calculation_builder(lmp, production=20.0), pause_then_play)
    paused, state, status = fault.paused_node
    assert paused and state == 'waiting'
    assert status == 'Pausing after failed transport task: upload_calculation failed 3 times consecutively'
    assert node.is_finished_ok, (node.exit_status, node.exit_message)
    messages = log_messages(node)
    assert 'maximum attempts 3 of calling do_upload, exceeded' in messages, messages
    assert f'Failed to create directory: {cluster.work_dir}' in messages
    assert Path(node.outputs.remote_folder.get_remote_path()).is_relative_to(cluster.work_dir)
    print(f'\nread-only: {fault.events}, finished after {seconds} s')
