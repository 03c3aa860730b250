"""The ``aiida-cgmob`` command line, built on aiida's ``VerdiCommandGroup`` (``--help`` everywhere)."""

from __future__ import annotations

from collections.abc import Callable

import click
from aiida.cmdline.groups import VerdiCommandGroup

__all__ = ['cmd_root', 'profile_group']


@click.group('aiida-cgmob', cls=VerdiCommandGroup, context_settings={'help_option_names': ['-h', '--help']})
def cmd_root():
    """aiida-cgmob: synthetic MD databases and mobility-preserving coarse-grained potentials on AiiDA."""


def profile_group(name: str) -> Callable:
    """Declare the sub-command group ``name`` of ``aiida-cgmob`` whose commands use the loaded profile (``-p``)."""
    from aiida.cmdline.params import options, types

    def decorator(function: Callable) -> click.Group:
        function = options.PROFILE(type=types.ProfileParamType(load_profile=True), expose_value=False)(function)
        return cmd_root.group(name)(function)

    return decorator


from . import cmd_aa, cmd_cg, cmd_database, cmd_descriptors, cmd_ibi, cmd_molecule, cmd_setup  # noqa: E402,F401
