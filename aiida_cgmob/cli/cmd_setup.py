"""``aiida-cgmob setup``, ``demo`` and ``cluster``: an isolated profile, the end-to-end demo, a loopback cluster."""

from __future__ import annotations

import os
import subprocess
import sys

import click

from ..profile import DEFAULT_PROFILE, setup_profile, verdi
from . import cmd_root

PATH_OPTION = click.option('--path', type=click.Path(file_okay=False), default='.aiida-cgmob', show_default=True,
                           help='Folder of the isolated AiiDA configuration (its AIIDA_PATH).')
PROFILE_OPTION = click.option('--profile-name', default=DEFAULT_PROFILE, show_default=True,
                              help='Name of the profile created in that folder.')


CLUSTER_FOLDER = click.argument('folder', type=click.Path(file_okay=False))


@cmd_root.command('setup')
@PATH_OPTION
@PROFILE_OPTION
@click.option('--cluster', 'cluster_folder', type=click.Path(file_okay=False), default=None,
              help='Also start a loopback Slurm cluster (SSH on 127.0.0.1) in this folder and add the computer '
                   '`loopback-slurm` (core.ssh_async + core.slurm) and its codes. Needs root and the Debian packages '
                   'slurm-wlm, munge and openssh-server.')
def cmd_setup(path, profile_name, cluster_folder):
    """Create an isolated AiiDA profile (SQLite, built-in broker) with a localhost computer and codes.

    No other AiiDA configuration is read or changed. Use it afterwards with
    `AIIDA_PATH=PATH verdi -p PROFILE ...`. With --cluster, the HPC path runs on this machine too:
    the cluster's computer is set up with the same verdi commands as a real cluster's (see the docs).
    """
    from ..cluster import DEFAULT_COMPUTER, LoopbackCluster, requirements_problem, verdi_commands

    if cluster_folder is not None and (problem := requirements_problem()):
        raise click.ClickException(f'--cluster: {problem}')
    result = setup_profile(path, profile_name, echo=click.echo)
    if cluster_folder is not None:
        root = result['path']
        cluster = LoopbackCluster(cluster_folder)
        settings = cluster.start()
        click.echo(f'started the loopback Slurm cluster in {cluster.folder}: node {settings["node"]}, '
                   f'ssh {cluster.host_alias} (127.0.0.1:{settings["ssh_port"]})')
        # a second `setup --cluster` keeps the computer and codes that exist
        exists = verdi(root, '-p', profile_name, 'computer', 'show', DEFAULT_COMPUTER, check=False).returncode == 0
        codes = set(verdi(root, '-p', profile_name, 'code', 'list', '--raw', '-P', 'label', '-Y', DEFAULT_COMPUTER,
                          check=False).stdout.split()) if exists else set()
        for args in verdi_commands(cluster):
            if exists and args[:2] == ['computer', 'setup'] or args[:2] == ['code', 'create'] and (
                    args[args.index('--label') + 1] in codes):
                continue
            verdi(root, '-p', profile_name, *args)
            click.echo(f'verdi {" ".join(args[:3])} ... done')
        click.echo(f'computer {DEFAULT_COMPUTER}: work directory {cluster.work_dir}\n'
                   f'Stop the cluster with:  aiida-cgmob cluster stop {cluster.folder}\n'
                   f'Start it again with:    aiida-cgmob cluster start {cluster.folder}')
    click.echo(f'\nUse it with:  export AIIDA_PATH={result["path"]}; verdi -p {profile_name} process list -a')


@cmd_root.group('cluster')
def cmd_cluster():
    """Start, stop or inspect the loopback Slurm cluster of `aiida-cgmob setup --cluster FOLDER`."""


@cmd_cluster.command('start')
@CLUSTER_FOLDER
def cmd_cluster_start(folder):
    """Start the loopback cluster in FOLDER (what does not run yet) and wait until it answers."""
    from ..cluster import LoopbackCluster, requirements_problem

    if problem := requirements_problem():
        raise click.ClickException(problem)
    _echo_status(LoopbackCluster(folder).start())


@cmd_cluster.command('stop')
@CLUSTER_FOLDER
def cmd_cluster_stop(folder):
    """Cancel the jobs of the loopback cluster in FOLDER and stop every process it started."""
    from ..cluster import LoopbackCluster

    cluster = LoopbackCluster(folder)
    cluster.stop()
    click.echo(f'stopped the loopback cluster in {cluster.folder}')


@cmd_cluster.command('status')
@CLUSTER_FOLDER
def cmd_cluster_status(folder):
    """Show which services of the loopback cluster in FOLDER run, its ports and the node's state."""
    from ..cluster import LoopbackCluster

    _echo_status(LoopbackCluster(folder).status())


def _echo_status(status: dict) -> None:
    for key, value in status.items():
        click.echo(f'{key + ":":16s}{value}')


@cmd_root.command('demo')
@PATH_OPTION
@PROFILE_OPTION
@click.option('--molecule', default='3MePe', show_default=True, help='Built-in name or hydrocarbon SMILES.')
@click.option('-n', '--n-molecules', default=100, show_default=True, type=click.IntRange(min=2),
              help='Molecules per box (at least ~100 with the default 1.1 nm cut-offs).')
@click.option('--sample-seed', type=click.IntRange(min=0), default=7, show_default=True,
              help='Seed of the synthetic bonded parameters of the second run.')
def cmd_demo(path, profile_name, molecule, n_molecules, sample_seed):
    """Run the largest pipeline that exists, end to end, on the isolated profile.

    Builds a liquid (pristine OPLS-AA and one synthetic parameter set), runs both through the
    GROMACS restart chain and prints the provenance and the results.
    """
    result = setup_profile(path, profile_name, echo=click.echo)
    env = {**os.environ, 'AIIDA_PATH': result['path']}
    command = [sys.executable, '-m', 'aiida_cgmob.demo', '--profile', profile_name, '--molecule', molecule,
               '--n-molecules', str(n_molecules), '--sample-seed', str(sample_seed)]
    sys.exit(subprocess.run(command, env=env).returncode)
