"""The loopback Slurm cluster (``aiida_cgmob.cluster``): slurmctld + slurmd + munged + sshd on 127.0.0.1, all in a
temporary folder, reached by AiiDA through ``core.ssh_async`` (openssh backend) and ``core.slurm`` like a remote
cluster.  Real services, real jobs, no mocks; skipped when not root or when the Debian packages are missing."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from aiida_cgmob.cluster import (
    DEFAULT_COMPUTER,
    INSTALL_COMMAND,
    SERVICES,
    LoopbackCluster,
    create_computer,
    requirements_problem,
)

PROBLEM = requirements_problem()
pytestmark = pytest.mark.skipif(PROBLEM is not None, reason=f'loopback Slurm cluster: {PROBLEM} '
                                f'(as root: `{INSTALL_COMMAND}`)')
BIN = Path(sys.executable).parent
#: the environment of a user's shell that knows nothing of the cluster: no SLURM_CONF, no AIIDA_PATH
CLEAN_ENV = {key: value for key, value in os.environ.items() if key not in ('SLURM_CONF', 'AIIDA_PATH')}


@pytest.fixture(scope='session')
def cluster(tmp_path_factory):
    """One loopback cluster for the session, stopped (every process) at its end."""
    cluster = LoopbackCluster(tmp_path_factory.mktemp('cluster'))
    cluster.start()
    yield cluster
    cluster.stop()


def system_ssh(cluster: LoopbackCluster, command: str) -> subprocess.CompletedProcess:
    """``ssh HOST COMMAND`` exactly as AiiDA's openssh backend calls it: the host alias, no option, no -F."""
    return subprocess.run(['ssh', cluster.host_alias, command], capture_output=True, text=True, timeout=60,
                          env=CLEAN_ENV, stdin=subprocess.DEVNULL)


def wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, 'timed out'
        time.sleep(0.25)
    return result


def user_only(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def tracked_files_containing(secret: bytes) -> list[str]:
    """The files of this repository (``git ls-files``) that contain ``secret``."""
    root = Path(__file__).parents[1]
    tracked = subprocess.run(['git', 'ls-files', '-z'], cwd=root, capture_output=True, check=False).stdout.split(b'\0')
    files = [root / name.decode() for name in tracked if name and (root / name.decode()).is_file()]
    return [str(file) for file in files if secret in file.read_bytes()]


def test_sbatch_over_ssh_runs_under_slurm(cluster):
    """A script submitted with sbatch in an SSH session runs as a Slurm job with this cluster's slurm.conf (set by
    the SSH server, not by the caller); two 1-CPU jobs run side by side on the 2-CPU node."""
    job_dir = cluster.work_dir / 'hello'
    script = ('#!/bin/bash\n#SBATCH --ntasks=1 --time=00:01:00 --output=hello.out\n'
              'echo "job=$SLURM_JOB_ID conf=$SLURM_CONF node=$SLURMD_NODENAME"\nsleep 4\n')
    result = system_ssh(cluster, f"mkdir -p {job_dir} && cd {job_dir} && cat > hello.sh <<'EOF'\n{script}EOF\n"
                                 'sbatch --parsable hello.sh && sbatch --parsable hello.sh')
    assert result.returncode == 0, result.stderr
    first, second = (int(line) for line in result.stdout.split())

    def both_running():
        states = cluster.run_slurm('squeue', '--noheader', '--format=%i %T').stdout.split('\n')
        return sorted(line for line in states if line) == [f'{first} RUNNING', f'{second} RUNNING']

    wait_for(both_running, timeout=30)
    wait_for(lambda: not cluster.run_slurm('squeue', '--noheader').stdout.strip(), timeout=60)
    output = (job_dir / 'hello.out').read_text()  # both jobs wrote the same file; the second one is there last
    assert f'conf={cluster.slurm_conf} node={cluster.settings["node"]}' in output
    assert f'job={second}' in output or f'job={first}' in output
    # what the session and its jobs create is user-only (sshd runs with umask 077, sbatch passes it on)
    assert user_only(job_dir) and user_only(job_dir / 'hello.sh') and user_only(job_dir / 'hello.out')


def test_lammps_cg_job_through_ssh_and_slurm(cluster, aiida_profile):
    """A real cgmob.lammps.cg job (256 beads, 25 ps) on the loopback computer: uploaded over SSH, submitted with
    sbatch, polled with squeue, stashed into a tar.gz outside the work directory, retrieved over SSH; its remote
    folder is under the cluster's work directory, user-only, and the profile holds the key's path at most, never the
    key."""
    from aiida import orm
    from aiida.engine import run_get_node
    from test_calculation_lammps_cg import cg_inputs

    from aiida_cgmob.calculations.base import stash_options
    from aiida_cgmob.calculations.lammps_cg import LammpsCgCalculation

    computer = create_computer(cluster, job_poll_interval=1.0)
    assert create_computer(cluster).pk == computer.pk  # a second call reuses it
    assert computer.transport_type == 'core.ssh_async' and computer.scheduler_type == 'core.slurm'
    assert computer.get_workdir() == str(cluster.work_dir)
    codes = {code.label for code in orm.InstalledCode.collection.find({'dbcomputer_id': computer.pk})}
    assert {'gmx', 'lmp', 'cgmob-descriptors', 'cgmob-ibi'} <= codes

    stash = cluster.folder / 'project' / 'stash'  # storage that outlives the scratch space
    stash.mkdir(parents=True, exist_ok=True)
    inputs = cg_inputs(orm.load_code(f'lmp@{DEFAULT_COMPUTER}'),
                       stash=stash_options(str(stash), 'tar.gz'))
    start = time.monotonic()
    _, node = run_get_node(LammpsCgCalculation, **inputs)
    elapsed = time.monotonic() - start
    assert node.is_finished_ok, node.exit_message
    assert node.computer.pk == computer.pk
    assert node.get_job_id().isdigit()  # sbatch's job id
    assert node.outputs.thermo['last_step'] == 5000
    print(f'\ncgmob.lammps.cg through ssh + slurm: {elapsed:.1f} s, job {node.get_job_id()}')

    remote = Path(node.outputs.remote_folder.get_remote_path())
    assert remote.is_relative_to(cluster.work_dir)
    assert not remote.is_relative_to(Path(os.environ['AIIDA_PATH']))  # nothing passes through the local profile
    # AiiDA makes remote folders with the remote umask (it never chmods them): 077 on this cluster
    made = [remote, *remote.parents][: len(remote.relative_to(cluster.work_dir).parts) + 1]
    assert all(user_only(path) for path in made), [oct(path.stat().st_mode) for path in made]
    assert all(user_only(path) for path in remote.iterdir())
    assert (remote / 'log.lammps').exists()

    # the stash: one archive named after the job, of its folder (trajectory, input, start, restart files, logs)
    archive = Path(node.outputs.remote_stash.target_basepath)
    assert archive == stash / f'{node.uuid}.tar.gz' and user_only(archive)
    with tarfile.open(archive) as handle:
        names = {Path(member.name).name: member for member in handle.getmembers()}
    assert {'production.xtc', 'in.lammps', 'beads.data', 'potential.table', 'final.data', 'final.restart'} <= set(
        names)
    assert names['production.xtc'].size == (remote / 'production.xtc').stat().st_size > 0
    assert not any(name.startswith('.aiida') for name in names)

    # the key is referred to by host alias only: nothing of it in the computer, its configuration or the node
    key = cluster.client_key.read_text().splitlines()[1]
    stored = [str(computer.get_authinfo(orm.User.collection.get_default()).get_auth_params()),
              str(computer.metadata), str(node.base.attributes.all)]
    assert not any(key in text or 'PRIVATE KEY' in text for text in stored)
    # nor in an archive of the job with its computer and authinfo, nor in a file of this repository
    from aiida.tools.archive import create_archive

    exported = create_archive([node], filename=cluster.folder / 'job.aiida', include_authinfos=True)
    with zipfile.ZipFile(exported) as handle:
        contents = [handle.read(name) for name in handle.namelist()]
    assert contents and not any(key.encode() in data or b'PRIVATE KEY' in data for data in contents)
    assert not tracked_files_containing(key.encode())


def test_slurmd_and_sshd_stop_and_start_alone(cluster):
    """The fault tests' levers: slurmd down (the controller still answers) and back; sshd down (connections
    refused, open sessions gone) and back on the same port and host key."""
    cluster.stop_slurmd()
    assert cluster.pid('slurmd') is None and cluster.pid('slurmctld') is not None
    cluster.start_slurmd()
    assert cluster.node_state() == 'idle'

    cluster.stop_sshd()
    assert cluster.pid('sshd') is None
    result = system_ssh(cluster, 'true')
    assert result.returncode == 255 and 'refused' in result.stderr
    cluster.start_sshd()
    assert system_ssh(cluster, 'echo $SLURM_CONF').stdout.strip() == str(cluster.slurm_conf)
    assert cluster.start()['running']  # starting a running cluster changes nothing


def test_setup_cluster_command_creates_the_computer_and_its_stop_stops_everything(tmp_path, request):
    """``aiida-cgmob setup --cluster F`` starts a second cluster and adds the computer and codes to the new
    profile with verdi; ``aiida-cgmob cluster stop F`` leaves no process of it and removes its ssh drop-in."""
    path, folder = tmp_path / 'aiida', tmp_path / 'cl'
    # `verdi daemon start` finds verdi on PATH
    env = {**CLEAN_ENV, 'AIIDA_PATH': str(path), 'PATH': f'{BIN}{os.pathsep}{CLEAN_ENV["PATH"]}'}
    request.addfinalizer(LoopbackCluster(folder).stop)  # whatever the assertions below say
    result = subprocess.run([BIN / 'aiida-cgmob', 'setup', '--path', str(path), '--profile-name', 'cgcluster',
                             '--cluster', str(folder)], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f'aiida-cgmob cluster stop {folder}' in result.stdout
    cluster = LoopbackCluster(folder)
    pids = {service: cluster.pid(service) for service in SERVICES}
    assert all(pids.values()), pids

    def verdi(*args):
        return subprocess.run([BIN / 'verdi', '-p', 'cgcluster', *args], env=env, capture_output=True, text=True,
                              timeout=120, check=True).stdout

    shown = verdi('computer', 'show', DEFAULT_COMPUTER)
    assert 'core.ssh_async' in shown and 'core.slurm' in shown and str(cluster.work_dir) in shown
    codes = verdi('code', 'list', '--raw', '-P', 'label', '-Y', DEFAULT_COMPUTER).split()
    assert {'gmx', 'lmp', 'cgmob-descriptors', 'cgmob-ibi'} <= set(codes)
    # the computer works: AiiDA's own connection test (transport, scheduler, work directory).  With the ZeroMQ broker,
    # aiida-core 2.9.4 opens a core.ssh_async transport through the runner, whose broker runs with the daemon only
    verdi('daemon', 'start', '1')
    try:
        tested = subprocess.run([BIN / 'verdi', '-p', 'cgcluster', 'computer', 'test', DEFAULT_COMPUTER], env=env,
                                capture_output=True, text=True, timeout=300)
    finally:
        verdi('daemon', 'stop')
    assert tested.returncode == 0 and 'Success' in tested.stdout, tested.stdout + tested.stderr

    stopped = subprocess.run([BIN / 'aiida-cgmob', 'cluster', 'stop', str(folder)], env=env, capture_output=True,
                             text=True, timeout=120)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    left = [f'{service} {pid}' for service, pid in pids.items() if Path(f'/proc/{pid}').exists()
            and Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0] != 'Z']
    assert not left
    assert not cluster.ssh_dropin.exists()
    assert not cluster.status()['running']
