"""Options shared by the ``aiida-cgmob`` commands, defined once (aiida's ``OverridableOption``).

Use them as decorators, ``@DAEMON()``; a command may override a keyword, e.g. ``@THREADS(help='...')``.
``PROTOCOL(family)`` takes its choices, default and help from the protocol file of ``family``.
"""

from __future__ import annotations

from collections.abc import Callable

import click
from aiida.cmdline.params.options.overridable import OverridableOption
from aiida.common.datastructures import StashMode

from ..protocols import load_protocol_file, protocol_names

__all__ = ['DAEMON', 'DESCRIPTORS', 'LIQUID_DENSITY', 'PROTOCOL', 'STASH', 'STASH_MODE', 'THREADS', 'WALLTIME',
           'job_options']

DAEMON = OverridableOption('-D', '--daemon', is_flag=True, default=False,
                           help='Submit to the daemon instead of running here.')

THREADS = OverridableOption('--threads', type=click.IntRange(min=1), default=1, show_default=True,
                            help='OpenMP threads of the engine.')

WALLTIME = OverridableOption('--walltime', type=click.IntRange(min=60), default=None,
                             help='Wall time of each job, seconds.')

DESCRIPTORS = OverridableOption('--descriptors/--no-descriptors', default=True, show_default=True,
                                help='Compute g(r), MSD, D and density of production in the same job, with the code '
                                     'cgmob-descriptors@<computer of CODE>.')


def _absolute_path(ctx, param, value):
    if value is not None and not value.startswith('/'):
        raise click.BadParameter(f'{value!r} is not an absolute path on the computer', ctx, param)
    return value


STASH = OverridableOption(
    '--stash', metavar='DIR', default=None, callback=_absolute_path,
    help='After each job, copy its folder (trajectories, run inputs, checkpoints, logs) to DIR on the computer (an '
         'absolute path outside the scratch space, e.g. project storage): the job gets a remote_stash output. '
         '[default: no stash]')

#: aiida-core's stash modes that copy files (submit_custom_code runs a script of the user's instead)
COPYING_STASH_MODES = [mode.value for mode in StashMode if mode is not StashMode.SUBMIT_CUSTOM_CODE]

STASH_MODE = OverridableOption(
    '--stash-mode', type=click.Choice(COPYING_STASH_MODES), default='copy', show_default=True,
    help='copy: the files into DIR/uu/id/<rest of the job UUID>/; tar*: one archive DIR/<job UUID>.tar* per job.')

LIQUID_DENSITY = OverridableOption(
    '--liquid-density', type=click.FloatRange(min=0, min_open=True), default=None,
    help='Liquid density NPT will bring the box to, kg/m^3, for the box check. [default: experimental for built-in '
         'molecules that have one (see `molecule list`), else an upper bound]')


def PROTOCOL(family: str, **kwargs) -> Callable:
    """Return the ``--protocol`` option of the protocol file ``family`` (``gromacs``, ``lammps_cg``, ``ibi``).

    Named like the other options (a decorator factory): ``@PROTOCOL('gromacs')``.
    """
    names = protocol_names(family)
    option = OverridableOption('--protocol', type=click.Choice(list(names)),
                               default=load_protocol_file(family)['default_protocol'], show_default=True,
                               help='; '.join(f'{name}: {text}' for name, text in names.items()))
    return option(**kwargs)


def job_options(threads: int, walltime: int | None, threads_option: bool = False, stash: str | None = None,
                stash_mode: str = 'copy') -> dict:
    """``metadata.options`` for ``--threads``, ``--walltime`` and ``--stash``/``--stash-mode``.

    The threads become the processes per machine (one engine process gets every core of the job), or, with
    ``threads_option``, the job's own ``threads`` option on one process (``cgmob.ibi``).
    """
    if threads_option:
        options = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1}, 'threads': threads}
    else:
        options = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': threads}}
    if walltime:
        options['max_wallclock_seconds'] = walltime
    if stash:
        from ..calculations.base import stash_options  # imports aiida.engine: not at the command line's start

        options['stash'] = stash_options(stash, stash_mode)
    return options
