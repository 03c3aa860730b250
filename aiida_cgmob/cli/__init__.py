"""The ``aiida-cgmob`` command line, built on aiida's ``VerdiCommandGroup`` (``--help`` everywhere)."""

from __future__ import annotations

import click
from aiida.cmdline.groups import VerdiCommandGroup

__all__ = ['cmd_root']


@click.group('aiida-cgmob', cls=VerdiCommandGroup, context_settings={'help_option_names': ['-h', '--help']})
def cmd_root():
    """aiida-cgmob: synthetic MD databases and mobility-preserving coarse-grained potentials on AiiDA."""


from . import cmd_aa, cmd_cg, cmd_descriptors, cmd_ibi, cmd_molecule, cmd_setup  # noqa: E402,F401  (sub-commands)
