"""``aiida-cgmob setup`` and ``aiida-cgmob demo``: an isolated profile and the end-to-end demo."""

from __future__ import annotations

import os
import subprocess
import sys

import click

from ..profile import DEFAULT_PROFILE, setup_profile
from . import cmd_root

PATH_OPTION = click.option('--path', type=click.Path(file_okay=False), default='.aiida-cgmob', show_default=True,
                           help='Folder of the isolated AiiDA configuration (its AIIDA_PATH).')
PROFILE_OPTION = click.option('--profile-name', default=DEFAULT_PROFILE, show_default=True,
                              help='Name of the profile created in that folder.')


@cmd_root.command('setup')
@PATH_OPTION
@PROFILE_OPTION
def cmd_setup(path, profile_name):
    """Create an isolated AiiDA profile (SQLite, built-in broker) with a localhost computer and codes.

    No other AiiDA configuration is read or changed. Use it afterwards with
    `AIIDA_PATH=PATH verdi -p PROFILE ...`.
    """
    result = setup_profile(path, profile_name, echo=click.echo)
    click.echo(f'\nUse it with:  export AIIDA_PATH={result["path"]}; verdi -p {profile_name} process list -a')


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
