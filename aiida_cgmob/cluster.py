"""A one-node Slurm cluster reached through SSH on 127.0.0.1, all inside one folder of the caller's choosing.

It is the HPC path of aiida-cgmob on one machine: ``slurmctld`` + ``slurmd`` (one node, 2 CPUs, Debian's
``slurm-wlm``), ``munged`` with its own key and socket, and an ``sshd`` on a free port of 127.0.0.1 that accepts
only a key made for the cluster.  An AiiDA computer with ``core.ssh_async`` + ``core.slurm`` reaches it like a
remote cluster; its work directory (``FOLDER/remote-work``) is not the local profile's.

Every configuration file, key, socket, pid file, log and state folder lives in the folder; nothing in
``/etc/munge``, ``/etc/slurm`` or ``~/.ssh`` is read or written.  One file lies outside it while the cluster runs:
``/etc/ssh/ssh_config.d/cgmob-cluster-<hash>.conf``, one ``Include`` line of the folder's ``ssh/ssh_config``,
because ``core.ssh_async`` passes AiiDA nothing but a host name to ``ssh`` (see :func:`LoopbackCluster.start`).
Running it needs root and the packages in :data:`PACKAGES`.

The module is plain Python: AiiDA is imported only by the functions that create computers and codes.

Examples
--------
>>> cluster = LoopbackCluster('/tmp/cluster')        # doctest: +SKIP
>>> cluster.start()                                   # doctest: +SKIP
>>> computer = create_computer(cluster)               # in the loaded profile  # doctest: +SKIP
>>> cluster.stop()                                    # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

__all__ = [
    'DEFAULT_COMPUTER', 'INSTALL_COMMAND', 'PACKAGES', 'LoopbackCluster', 'cluster_codes', 'create_computer',
    'missing_packages', 'requirements_problem', 'verdi_commands',
]

#: Debian packages that provide the cluster's programs.
PACKAGES = ('slurm-wlm', 'munge', 'openssh-server')
#: The command that installs them.
INSTALL_COMMAND = 'sudo apt-get install -y ' + ' '.join(PACKAGES)
#: program -> Debian package that provides it (openssh-client comes with openssh-server).
PROGRAMS = {
    'slurmctld': 'slurm-wlm', 'slurmd': 'slurm-wlm', 'sbatch': 'slurm-wlm', 'squeue': 'slurm-wlm',
    'scancel': 'slurm-wlm', 'sinfo': 'slurm-wlm', 'scontrol': 'slurm-wlm', 'munged': 'munge', 'munge': 'munge',
    'sshd': 'openssh-server', 'ssh': 'openssh-server', 'scp': 'openssh-server', 'ssh-keygen': 'openssh-server',
}
#: Label of the AiiDA computer made by :func:`create_computer`.
DEFAULT_COMPUTER = 'loopback-slurm'
#: CPUs of the one node: two 1-CPU jobs run at once.
NODE_CPUS = 2
#: The PATH of the daemons (the caller's environment is not passed on to them).
SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
#: Drop-in folder of OpenSSH's system-wide client configuration (Debian includes ``*.conf`` from it).
SSH_CLIENT_DROPIN_DIR = Path('/etc/ssh/ssh_config.d')
#: Unix sockets (munge, ssh) must fit in sun_path (108 bytes on Linux).
_MAX_SOCKET_PATH = 100
#: The services in the order they start (and the reverse order they stop).
SERVICES = ('munged', 'slurmctld', 'slurmd', 'sshd')


def which(program: str) -> str | None:
    """Return the absolute path of ``program`` on PATH or in the system folders (``/usr/sbin`` for daemons)."""
    return shutil.which(program, path=os.pathsep.join([os.environ.get('PATH', ''), SYSTEM_PATH]))


def missing_packages() -> list[str]:
    """Return the Debian packages of :data:`PACKAGES` whose programs are missing (empty when all are there)."""
    missing = {package for program, package in PROGRAMS.items() if which(program) is None}
    return [package for package in PACKAGES if package in missing]


def requirements_problem() -> str | None:
    """Return why the loopback cluster cannot run here, naming the command that fixes it, or ``None``.

    Returns
    -------
    str or None
        A message when the process is not root or a package is missing; ``None`` when the cluster can start.
    """
    problems = []
    if os.geteuid() != 0:
        problems.append('the loopback Slurm cluster runs slurmd and sshd as root: run as root')
    missing = missing_packages()
    if missing:
        problems.append(f'missing Debian packages {", ".join(missing)}: run `{INSTALL_COMMAND}`')
    return '; '.join(problems) or None


def _free_ports(count: int) -> list[int]:
    """Return ``count`` distinct TCP ports that are free on 127.0.0.1 now (the kernel picks them)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(('127.0.0.1', 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(('0.0.0.0', port))
        except OSError:
            return False
    return True


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not: PID 1 of a container may be slow to reap daemons)."""
    try:
        stat = Path(f'/proc/{pid}/stat').read_text()
    except OSError:
        return False
    return stat.rsplit(')', 1)[1].split()[0] not in ('Z', 'X')


def _process_name(pid: int) -> str:
    try:
        return Path(f'/proc/{pid}/comm').read_text().strip()
    except OSError:
        return ''


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids of every process now."""
    children: dict[int, list[int]] = {}
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / 'stat').read_text().rsplit(')', 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def _descendants(pid: int) -> list[int]:
    """All processes below ``pid`` (children first found, grandchildren after)."""
    tree, found, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _terminate(pids: list[int], timeout: float = 10.0) -> None:
    """SIGTERM ``pids``, wait until they are gone, SIGKILL whatever is left after ``timeout``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
            time.sleep(0.1)
        pids = [pid for pid in pids if _alive(pid)]
        if not pids:
            return


def _wait_for(condition, timeout: float, what: str, log: Path | None = None, interval: float = 0.25):
    """Call ``condition`` until it returns something true; raise a ``TimeoutError`` naming ``what`` and the log."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            tail = ''
            if log is not None and log.exists():
                tail = '\n' + '\n'.join(log.read_text(errors='replace').splitlines()[-20:])
            raise TimeoutError(f'{what} within {timeout:.0f} s{f" (log {log}):" if log else ""}{tail}')
        time.sleep(interval)


class LoopbackCluster:
    """A one-node Slurm cluster behind SSH on 127.0.0.1, kept entirely in ``folder``.

    Parameters
    ----------
    folder
        Where its configuration, keys, sockets, logs, state and remote work directory live (created if missing).

    Notes
    -----
    Layout of the folder::

        cluster.json      ports, node name and SSH host alias chosen at the first start (kept for restarts)
        munge/            munge.key, munged's socket, pid, log and seed
        slurm/            slurm.conf, plugstack.conf, state/, spool/, pid files and logs of slurmctld and slurmd
        ssh/              sshd_config, host key, the client key (id_ed25519), authorized_keys, known_hosts,
                          ssh_config (the client side: port, key and known hosts of the host alias), pid and log
        remote-work/      the AiiDA computer's work directory (mode 0700)
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder).resolve()
        self.munge_dir = self.folder / 'munge'
        self.slurm_dir = self.folder / 'slurm'
        self.ssh_dir = self.folder / 'ssh'
        self.work_dir = self.folder / 'remote-work'
        self.slurm_conf = self.slurm_dir / 'slurm.conf'
        self.munge_socket = self.munge_dir / 'munge.socket.2'
        self.ssh_config = self.ssh_dir / 'ssh_config'
        self.client_key = self.ssh_dir / 'id_ed25519'
        self.known_hosts = self.ssh_dir / 'known_hosts'
        digest = hashlib.sha1(str(self.folder).encode()).hexdigest()[:10]
        #: The SSH host name of the cluster, defined only by the folder's ssh_config (and the drop-in including it).
        self.host_alias = f'cgmob-cluster-{digest}'
        self.ssh_dropin = SSH_CLIENT_DROPIN_DIR / f'{self.host_alias}.conf'
        # the shared connection's socket: one host, one user, one port, so no %C hash is needed (sun_path is short)
        self._control_path = self.ssh_dir / 'cm'

    def __repr__(self) -> str:  # noqa: D105
        return f'LoopbackCluster({str(self.folder)!r})'

    # -- configuration ------------------------------------------------------------------------------------------------

    @property
    def settings(self) -> dict:
        """Ports, node name and user chosen at the first :meth:`configure` (read from ``cluster.json``)."""
        return json.loads((self.folder / 'cluster.json').read_text())

    def configure(self) -> dict:
        """Write the keys and configuration files that do not exist yet; return :attr:`settings`.

        Ports are chosen once (free on 127.0.0.1 at that moment, never Slurm's or SSH's defaults) and kept, so a
        computer made for this folder stays valid across restarts.
        """
        problem = requirements_problem()
        if problem:
            raise RuntimeError(f'the loopback cluster cannot run here: {problem}')
        if len(str(self.munge_socket)) > _MAX_SOCKET_PATH:
            raise ValueError(f'{self.folder} is too long a path for the unix sockets of the cluster: use a shorter one')
        for folder in (self.folder, self.munge_dir, self.slurm_dir, self.ssh_dir, self.work_dir,
                       self.slurm_dir / 'state', self.slurm_dir / 'spool'):
            folder.mkdir(parents=True, exist_ok=True)
        # keys and state are root's alone; the work directory is user-only like a shared cluster's should be; munged
        # wants its socket's folder open to all for traversal (0711: nobody else can list it, the key is 0600)
        for folder in (self.slurm_dir, self.ssh_dir, self.work_dir):
            folder.chmod(0o700)
        self.munge_dir.chmod(0o711)
        settings_file = self.folder / 'cluster.json'
        if not settings_file.exists():
            ctld, slurmd, sshd = _free_ports(3)
            settings = {'slurmctld_port': ctld, 'slurmd_port': slurmd, 'ssh_port': sshd,
                        'node': socket.gethostname().split('.')[0], 'user': 'root', 'cpus': NODE_CPUS,
                        'partition': 'loopback', 'host_alias': self.host_alias}
            settings_file.write_text(json.dumps(settings, indent=2) + '\n')
        settings = self.settings
        self._write_munge_key()
        self._write_slurm_conf(settings)
        self._write_ssh_files(settings)
        return settings

    def _write_munge_key(self) -> None:
        key = self.munge_dir / 'munge.key'
        if not key.exists():
            # munge needs only random bytes (>= 32); this key is the folder's own, never /etc/munge/munge.key
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, 'wb') as stream:
                stream.write(os.urandom(1024))

    def _write_slurm_conf(self, settings: dict) -> None:
        slurm = self.slurm_dir
        node = settings['node']
        (slurm / 'plugstack.conf').write_text('# no SPANK plugins (not /etc/slurm/plugstack.conf)\n')
        self.slurm_conf.write_text(f"""\
# Loopback Slurm cluster of aiida_cgmob.cluster in {self.folder}: one node, all files in this folder.
ClusterName=cgmob
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={settings['slurmctld_port']}
SlurmdPort={settings['slurmd_port']}
SlurmUser={settings['user']}
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
# no cgroups: processes tracked by their parents, no task binding (works in containers and VMs)
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
# cores are the consumable resource, so two 1-CPU jobs run side by side on the 2-CPU node
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# the node's CPUs as written here even if the machine has fewer; back in service after a slurmd restart
SlurmdParameters=config_overrides
ReturnToService=2
StateSaveLocation={slurm / 'state'}
SlurmdSpoolDir={slurm / 'spool'}
SlurmctldPidFile={slurm / 'slurmctld.pid'}
SlurmdPidFile={slurm / 'slurmd.pid'}
SlurmctldLogFile={slurm / 'slurmctld.log'}
SlurmdLogFile={slurm / 'slurmd.log'}
PlugStackConfig={slurm / 'plugstack.conf'}
MailProg=/bin/true
# short so that tests are fast: cancelled jobs die 2 s after SIGTERM, finished jobs leave squeue after 2 s
KillWait=2
MinJobAge=2
MessageTimeout=10
SlurmdTimeout=300
InactiveLimit=0
Waittime=0
NodeName={node} NodeHostname={node} NodeAddr=127.0.0.1 CPUs={settings['cpus']} State=UNKNOWN
PartitionName={settings['partition']} Nodes={node} Default=YES MaxTime=INFINITE State=UP
""")

    def _write_ssh_files(self, settings: dict) -> None:
        ssh = self.ssh_dir
        keygen = which('ssh-keygen')
        host_key = ssh / 'ssh_host_ed25519_key'
        for key, comment in ((host_key, 'host'), (self.client_key, 'client')):
            if not key.exists():
                subprocess.run([keygen, '-q', '-t', 'ed25519', '-N', '', '-C', f'{self.host_alias}-{comment}',
                                '-f', str(key)], check=True, capture_output=True)
        # the client key made for this cluster is the only key that logs in
        (ssh / 'authorized_keys').write_text(Path(f'{self.client_key}.pub').read_text())
        (ssh / 'authorized_keys').chmod(0o600)
        host_public = Path(f'{host_key}.pub').read_text().split()
        self.known_hosts.write_text(f'[127.0.0.1]:{settings["ssh_port"]} {host_public[0]} {host_public[1]}\n')
        (ssh / 'sshd_config').write_text(f"""\
# sshd of the loopback cluster of aiida_cgmob.cluster in {self.folder}
ListenAddress 127.0.0.1:{settings['ssh_port']}
HostKey {host_key}
PidFile {ssh / 'sshd.pid'}
AuthorizedKeysFile {ssh / 'authorized_keys'}
AllowUsers {settings['user']}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# the folder may lie under /tmp (mode 1777), which StrictModes refuses; ssh/ itself is 0700
StrictModes no
PermitUserEnvironment no
X11Forwarding no
AllowAgentForwarding no
AllowTcpForwarding no
PrintMotd no
PrintLastLog no
# AiiDA's openssh backend opens one connection per operation, several at once
MaxStartups 100
MaxSessions 100
# files and folders made over SFTP are user-only, like everything made by the sessions (sshd runs with umask 077)
Subsystem sftp internal-sftp -u 077
# the Slurm commands of every session (sbatch, squeue, scancel) use this cluster's slurm.conf
SetEnv SLURM_CONF={self.slurm_conf}
LogLevel INFO
""")
        self.ssh_config.write_text(f"""\
# ssh client side of the loopback cluster of aiida_cgmob.cluster in {self.folder}
# use it as `ssh -F {self.ssh_config} {self.host_alias}`; AiiDA's core.ssh_async reads it through {self.ssh_dropin}
Host {self.host_alias}
    HostName 127.0.0.1
    Port {settings['ssh_port']}
    User {settings['user']}
    IdentityFile {self.client_key}
    IdentitiesOnly yes
    IdentityAgent none
    UserKnownHostsFile {self.known_hosts}
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    CheckHostIP no
    UpdateHostKeys no
    BatchMode yes
    ConnectTimeout 10
    LogLevel ERROR
    # AiiDA's openssh backend runs one ssh or scp per operation: share one connection (closed by stop())
    ControlMaster auto
    ControlPath {self._control_path}
    ControlPersist 30
""")

    # -- processes ---------------------------------------------------------------------------------------------------

    def _pid_file(self, service: str) -> Path:
        return {'munged': self.munge_dir / 'munged.pid', 'slurmctld': self.slurm_dir / 'slurmctld.pid',
                'slurmd': self.slurm_dir / 'slurmd.pid', 'sshd': self.ssh_dir / 'sshd.pid'}[service]

    def _log_file(self, service: str) -> Path:
        return {'munged': self.munge_dir / 'munged.log', 'slurmctld': self.slurm_dir / 'slurmctld.log',
                'slurmd': self.slurm_dir / 'slurmd.log', 'sshd': self.ssh_dir / 'sshd.log'}[service]

    def pid(self, service: str) -> int | None:
        """Return the pid of ``service`` (one of :data:`SERVICES`) from its pid file, ``None`` if it is not running."""
        try:
            pid = int(self._pid_file(service).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        # a pid file left by a crash may name a process that is someone else's now
        return pid if _alive(pid) and _process_name(pid).startswith(service) else None

    def env(self) -> dict[str, str]:
        """Return the environment of the daemons and local Slurm commands: system PATH, this cluster's slurm.conf."""
        return {'PATH': SYSTEM_PATH, 'SLURM_CONF': str(self.slurm_conf), 'LC_ALL': 'C.UTF-8', 'HOME': '/root'}

    def _command(self, service: str) -> list[str]:
        settings = self.settings
        if service == 'munged':
            m = self.munge_dir
            # --force: munged refuses a socket below a folder that others cannot traverse (pytest's tmp is 0700)
            return [which('munged'), '--force', f'--socket={self.munge_socket}', f'--key-file={m / "munge.key"}',
                    f'--pid-file={m / "munged.pid"}', f'--log-file={m / "munged.log"}',
                    f'--seed-file={m / "munged.seed"}']
        if service == 'slurmctld':
            return [which('slurmctld'), '-f', str(self.slurm_conf)]
        if service == 'slurmd':
            return [which('slurmd'), '-f', str(self.slurm_conf), '-N', settings['node']]
        # sshd must be started by its absolute path (it re-executes itself for each connection)
        return [which('sshd'), '-f', str(self.ssh_dir / 'sshd_config'), '-E', str(self._log_file('sshd'))]

    def _start_service(self, service: str, timeout: float = 30.0) -> int:
        pid = self.pid(service)
        if pid is not None:
            return pid
        if service == 'sshd':
            # sshd's privilege separation directory is compiled in; Debian's service unit would make it
            Path('/run/sshd').mkdir(mode=0o755, exist_ok=True)
            port = self.settings['ssh_port']
            if not _port_is_free(port):
                raise RuntimeError(f'port {port} of the cluster\'s sshd is taken by another process')
        self._pid_file(service).unlink(missing_ok=True)
        # each daemon forks into the background and writes its pid file; umask 077 makes whatever the SSH sessions
        # and the jobs create user-only (sbatch passes the session's umask on to the job)
        result = subprocess.run(self._command(service), env=self.env(), umask=0o077, capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f'{service} did not start ({result.returncode}): {result.stdout}{result.stderr}')
        return _wait_for(lambda: self.pid(service), timeout, f'{service} wrote no pid file',
                         self._log_file(service))

    def _stop_service(self, service: str, timeout: float = 10.0) -> None:
        pid = self.pid(service)
        if pid is None:
            return
        # sshd leaves one process per connection behind its listener: a server that goes down takes them along
        others = _descendants(pid) if service == 'sshd' else []
        _terminate([pid], timeout)
        _terminate([other for other in others if _alive(other)], timeout)
        self._pid_file(service).unlink(missing_ok=True)

    # -- waiting on the services -------------------------------------------------------------------------------------

    def run_slurm(self, *args: str, check: bool = True, timeout: float = 30.0) -> subprocess.CompletedProcess:
        """Run a Slurm client command (``sinfo``, ``squeue``, ``scancel``, ``scontrol`` ...) here, on this cluster."""
        result = subprocess.run([which(args[0]) or args[0], *args[1:]], env=self.env(), capture_output=True,
                                text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError(f'`{shlex.join(args)}` failed: {result.stderr.strip()}')
        return result

    def jobs(self) -> list[dict]:
        """Return the jobs in the queue now, oldest first: ``{'id', 'state', 'work_dir'}`` each (``squeue``).

        ``state`` is Slurm's long form (``PENDING``, ``RUNNING``, ``COMPLETING``, ``TIMEOUT`` ...); the list is empty
        when the queue is, or when slurmctld does not answer.
        """
        try:
            result = self.run_slurm('squeue', '--noheader', '--sort=i', '--format=%i|%T|%Z', check=False, timeout=15)
        except subprocess.TimeoutExpired:
            return []
        jobs = []
        for line in result.stdout.splitlines() if result.returncode == 0 else []:
            job_id, state, work_dir = line.strip().split('|', 2)
            jobs.append({'id': job_id, 'state': state, 'work_dir': work_dir})
        return jobs

    def job_processes(self, job_id: str | int) -> list[int]:
        """Return the processes of job ``job_id`` of this cluster: its batch script and what that started.

        Those whose environment names this cluster's slurm.conf and the job; not its ``slurmstepd``.
        """
        markers = {f'SLURM_CONF={self.slurm_conf}'.encode(), f'SLURM_JOB_ID={job_id}'.encode()}
        found = []
        for entry in Path('/proc').iterdir():
            if not entry.name.isdigit() or _process_name(int(entry.name)) == 'slurmstepd':
                continue
            try:
                if markers <= set((entry / 'environ').read_bytes().split(b'\0')):
                    found.append(int(entry.name))
            except OSError:
                continue
        return [pid for pid in found if _alive(pid)]

    def node_state(self) -> str:
        """Return the node's state as ``sinfo --format=%t`` shows it, ``''`` when slurmctld does not answer.

        ``idle``, ``mix``, ``alloc``; a trailing ``*`` when slurmd has stopped answering.
        """
        try:
            result = self.run_slurm('sinfo', '--noheader', '--Node', '--format=%t', check=False, timeout=15)
        except subprocess.TimeoutExpired:
            return ''
        return result.stdout.strip() if result.returncode == 0 else ''

    def _node_ready(self) -> bool:
        # %t: a trailing '*' marks a node whose slurmd does not answer, '~'/'#'/'%' power states
        return self.node_state() in ('idle', 'mix', 'alloc')

    def ssh(self, command: str, check: bool = True, timeout: float = 30.0) -> subprocess.CompletedProcess:
        """Run ``command`` on the cluster through its SSH server, as AiiDA does (``ssh HOST``, the folder's config).

        Parameters
        ----------
        command
            A shell command line, run by the login shell of the session.
        check
            Raise ``RuntimeError`` when it fails.
        timeout
            Seconds before the ``ssh`` client is killed.
        """
        result = subprocess.run([which('ssh'), '-F', str(self.ssh_config), self.host_alias, command],
                                capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise RuntimeError(f'`ssh {self.host_alias} {command}` failed ({result.returncode}): '
                               f'{result.stdout}{result.stderr}')
        return result

    def _ssh_ready(self) -> bool:
        try:
            result = self.ssh('echo "$SLURM_CONF"', check=False, timeout=15)
        except subprocess.TimeoutExpired:
            return False
        return result.returncode == 0 and result.stdout.strip() == str(self.slurm_conf)

    # -- public lifecycle --------------------------------------------------------------------------------------------

    def start(self, timeout: float = 90.0) -> dict:
        """Start what does not run yet (munged, slurmctld, slurmd, sshd) and wait until the cluster answers.

        It answers when ``sinfo`` shows the node idle and an ``ssh`` command sees this cluster's ``SLURM_CONF``.
        Calling it again on a running cluster changes nothing.

        ``core.ssh_async`` hands ``ssh``/``scp`` only a host name (its ``asyncssh`` backend reads nothing but
        ``~/.ssh``), so the client settings of :attr:`host_alias` (port, key, known hosts) reach it through
        OpenSSH's system-wide drop-in folder: :attr:`ssh_dropin` holds one ``Include`` of the folder's
        ``ssh/ssh_config``, whose only ``Host`` is the alias (nothing else changes for other hosts).  It is
        removed by :meth:`stop`.

        Parameters
        ----------
        timeout
            Seconds to wait for each service.

        Returns
        -------
        dict
            :meth:`status`.
        """
        self.configure()
        self._start_service('munged', timeout)
        self._start_service('slurmctld', timeout)
        self._start_service('slurmd', timeout)
        _wait_for(self._node_ready, timeout, f'the node of {self.slurm_conf} was not idle',
                  self._log_file('slurmd'))
        self.start_sshd(timeout)
        self._install_ssh_dropin()
        return self.status()

    def _install_ssh_dropin(self) -> None:
        if SSH_CLIENT_DROPIN_DIR.is_dir():
            self.ssh_dropin.write_text(f'# loopback cluster of aiida_cgmob in {self.folder} (removed when it stops)\n'
                                       f'Include {self.ssh_config}\n')
            self.ssh_dropin.chmod(0o644)

    def stop(self, timeout: float = 30.0) -> None:
        """Cancel every job and stop every process the cluster started; nothing is left running.

        The jobs are cancelled first (their processes are killed by slurmd), then sshd and its sessions, slurmd,
        whatever ``slurmstepd`` of this cluster is still there, slurmctld and munged.  Calling it on a stopped
        cluster changes nothing.  Files in the folder stay (a later :meth:`start` reuses ports and keys).
        """
        if not (self.folder / 'cluster.json').exists():
            return
        self.ssh_dropin.unlink(missing_ok=True)
        self.stop_sshd(timeout)
        if self.pid('slurmctld') and self.pid('slurmd') and self.pid('munged'):
            self.run_slurm('scancel', '--full', f'--partition={self.settings["partition"]}', check=False)
            try:
                _wait_for(lambda: not self.run_slurm('squeue', '--noheader', check=False).stdout.strip(),
                          timeout, 'the cancelled jobs did not leave the queue')
            except TimeoutError:
                pass  # whatever remains is killed below
        self._stop_service('slurmd', timeout)
        _terminate(self._step_processes(), timeout)
        self._stop_service('slurmctld', timeout)
        self._stop_service('munged', timeout)

    def _step_processes(self) -> list[int]:
        """Return the ``slurmstepd`` processes of this cluster (their environment names its slurm.conf), their jobs."""
        marker = f'SLURM_CONF={self.slurm_conf}'.encode()
        steps = []
        for entry in Path('/proc').iterdir():
            if entry.name.isdigit() and _process_name(int(entry.name)) == 'slurmstepd':
                try:
                    if marker in (entry / 'environ').read_bytes().split(b'\0'):
                        steps.append(int(entry.name))
                except OSError:
                    continue
        return [pid for step in steps for pid in (*_descendants(step), step)]

    def status(self) -> dict:
        """Return what runs.

        Returns
        -------
        dict
            ``{service: pid or None}`` for :data:`SERVICES`, ``folder``, the settings (ports, node, host alias),
            ``node_state``, ``ssh`` (whether an SSH command works now) and ``running`` (all services run).
        """
        pids = {service: self.pid(service) for service in SERVICES}
        configured = (self.folder / 'cluster.json').exists()
        return {
            'folder': str(self.folder), **pids, **(self.settings if configured else {}),
            'node_state': self.node_state() if pids['slurmctld'] and pids['munged'] else '',
            'ssh': bool(pids['sshd']) and self._ssh_ready(),
            'running': all(pids.values()),
        }

    def stop_slurmd(self, timeout: float = 30.0) -> None:
        """Stop slurmd alone (running jobs go on in their ``slurmstepd``; new jobs wait), as a node daemon crash."""
        self._stop_service('slurmd', timeout)

    def start_slurmd(self, timeout: float = 90.0) -> None:
        """Start slurmd again and wait until slurmctld sees the node answer."""
        self._start_service('slurmd', timeout)
        _wait_for(self._node_ready, timeout, 'the node did not answer after slurmd started',
                  self._log_file('slurmd'))

    def stop_sshd(self, timeout: float = 30.0) -> None:
        """Stop the SSH server and its open sessions (connections are refused until :meth:`start_sshd`)."""
        self._stop_service('sshd', timeout)
        # the client's shared connection (ControlPersist) ends with its session; make sure its process is gone
        if self._control_path.exists():
            subprocess.run([which('ssh'), '-F', str(self.ssh_config), '-O', 'exit', self.host_alias],
                           capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def start_sshd(self, timeout: float = 90.0) -> None:
        """Start the SSH server again (same port and host key) and wait until an SSH command works."""
        self._start_service('sshd', timeout)
        _wait_for(self._ssh_ready, timeout, f'ssh {self.host_alias} did not work', self._log_file('sshd'))


# -- AiiDA -------------------------------------------------------------------------------------------------------------

def cluster_codes() -> dict[str, tuple[str, str | None]]:
    """Label -> (absolute executable, default calc job plugin) of the codes on the cluster that exist here.

    The same executables as the localhost codes of :func:`aiida_cgmob.profile.setup_profile`: ``gmx`` from PATH,
    ``lmp`` and the package's scripts from the virtual environment (next to ``sys.executable``) first.
    """
    from .profile import CODES

    codes = {}
    for label, executable, plugin in CODES:
        beside = Path(sys.executable).with_name(executable)
        found = str(beside) if beside.exists() else shutil.which(executable)
        if found is not None:
            codes[label] = (found, plugin)
    return codes


def verdi_commands(cluster: LoopbackCluster, label: str = DEFAULT_COMPUTER, safe_interval: float = 0.5,
                   codes: dict[str, tuple[str, str | None]] | None = None) -> list[list[str]]:
    """Return the ``verdi`` commands that create the cluster's computer and codes (the same as for a real cluster).

    Parameters
    ----------
    cluster
        The loopback cluster (configured: its host alias and work directory are used).
    label
        Label of the computer.
    safe_interval
        Seconds between two SSH connections (AiiDA's default, 15 s, spares a real login node; loopback needs none).
    codes
        Label -> (executable, default plugin); :func:`cluster_codes` when ``None``.

    Returns
    -------
    list of list of str
        The argument lists after ``verdi``: ``computer setup``, ``computer configure core.ssh_async`` and one
        ``code create core.code.installed`` per code.
    """
    commands = [
        ['computer', 'setup', '--non-interactive', '--label', label, '--hostname', cluster.host_alias,
         '--description', f'loopback Slurm cluster in {cluster.folder}', '--transport', 'core.ssh_async',
         '--scheduler', 'core.slurm', '--work-dir', str(cluster.work_dir), '--mpiprocs-per-machine', str(NODE_CPUS),
         '--mpirun-command', 'mpirun -np {tot_num_mpiprocs}', '--shebang', '#!/bin/bash'],
        # openssh backend: `ssh`/`scp` read the host alias' port, key and known hosts from the OpenSSH configuration
        ['computer', 'configure', 'core.ssh_async', label, '--non-interactive', '--host', cluster.host_alias,
         '--backend', 'openssh', '--use-login-shell', '--safe-interval', str(safe_interval)],
    ]
    for code_label, (executable, plugin) in (cluster_codes() if codes is None else codes).items():
        command = ['code', 'create', 'core.code.installed', '--non-interactive', '--label', code_label,
                   '--computer', label, '--filepath-executable', executable]
        if plugin:
            command += ['--default-calc-job-plugin', plugin]
        commands.append(command)
    return commands


def create_computer(cluster: LoopbackCluster, label: str = DEFAULT_COMPUTER, safe_interval: float = 0.5,
                    job_poll_interval: float | None = None, codes: dict[str, tuple[str, str | None]] | None = None,
                    use_login_shell: bool = True):
    """Create (or return) the cluster's computer and its codes in the loaded AiiDA profile.

    The same settings as :func:`verdi_commands`: ``core.ssh_async`` (openssh backend, host alias of the cluster) and
    ``core.slurm``, work directory ``FOLDER/remote-work``, 2 MPI processes per machine, codes ``gmx``, ``lmp``,
    ``cgmob-descriptors``, ``cgmob-ibi`` (those whose executable exists).  The SSH key is referred to by path, in the
    folder's ``ssh_config``: no key, port or path of it is stored in the profile.

    Parameters
    ----------
    cluster
        The loopback cluster (configured).
    label
        Label of the computer; an existing computer of that label is reused.
    safe_interval
        Seconds between two SSH connections.
    job_poll_interval
        Minimum seconds between two ``squeue`` polls (AiiDA's default, 10 s, when ``None``).
    codes
        Label -> (executable, default plugin); :func:`cluster_codes` when ``None``.
    use_login_shell
        Run each command in a login shell (``bash -l``), as :func:`verdi_commands` does.  ``False`` saves the
        reading of the login files on every command (the fault tests use it: dozens of commands per job).

    Returns
    -------
    aiida.orm.Computer
        The computer, configured for the default user.
    """
    from aiida import orm
    from aiida.common.exceptions import NotExistent

    try:
        computer = orm.Computer.collection.get(label=label)
    except NotExistent:
        computer = orm.Computer(label=label, hostname=cluster.host_alias,
                                description=f'loopback Slurm cluster in {cluster.folder}',
                                transport_type='core.ssh_async', scheduler_type='core.slurm',
                                workdir=str(cluster.work_dir)).store()
        computer.set_default_mpiprocs_per_machine(NODE_CPUS)
        computer.set_mpirun_command(['mpirun', '-np', '{tot_num_mpiprocs}'])
        computer.set_shebang('#!/bin/bash')
    if job_poll_interval is not None:
        computer.set_minimum_job_poll_interval(job_poll_interval)
    computer.configure(host=cluster.host_alias, backend='openssh', use_login_shell=use_login_shell,
                       safe_interval=safe_interval)
    existing = {code.label for code in orm.InstalledCode.collection.find({'dbcomputer_id': computer.pk})}
    for code_label, (executable, plugin) in (cluster_codes() if codes is None else codes).items():
        if code_label in existing:
            continue
        code = orm.InstalledCode(label=code_label, computer=computer, filepath_executable=executable,
                                 default_calc_job_plugin=plugin)
        code.store()
    return computer

