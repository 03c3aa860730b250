"""The base of every aiida-cgmob CalcJob, and the ``descriptors`` namespace the MD jobs share.

:class:`CgmobCalcJob` gives each job the same defaults (one machine, one process), the same rule for
OpenMP threads, the package's exit codes (:mod:`aiida_cgmob.exit_codes`) and, for jobs that declare it,
an optional ``descriptors`` namespace: ``cgmob-descriptors`` run on the production trajectory in the
same scheduler job, with the same file contract as a separate ``cgmob.descriptors`` job.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping

from aiida import orm
from aiida.common import datastructures
from aiida.common.datastructures import StashMode
from aiida.engine import CalcJob

from aiida_cgmob.analysis import files as descriptor_files
from aiida_cgmob.analysis.descriptors import validate_settings as validate_descriptor_settings

__all__ = [
    'DEFAULT_RESOURCES',
    'CgmobCalcJob',
    'define_descriptor_outputs',
    'descriptor_arguments',
    'continuation_chain',
    'omp_threads',
    'port_validator',
    'positive_value',
    'retrieved_text',
    'same_computer_error',
    'stash_options',
    'validate_descriptor_settings_node',
]

#: what a job asks the scheduler for unless told otherwise
DEFAULT_RESOURCES = {'num_machines': 1, 'num_mpiprocs_per_machine': 1}


def omp_threads(options: Mapping) -> int:
    """OpenMP threads of one engine process under ``metadata.options``.

    An explicit ``threads`` option wins; with MPI each rank gets its ``num_cores_per_mpiproc``; without
    MPI the one process gets every core of the job (``num_mpiprocs_per_machine`` x ``num_cores_per_mpiproc``).
    """
    if options.get('threads'):
        return int(options['threads'])
    resources = options.get('resources') or {}
    per_rank = int(resources.get('num_cores_per_mpiproc') or 1)
    if options.get('withmpi'):
        return per_rank
    per_machine = resources.get('num_mpiprocs_per_machine') or resources.get('tot_num_mpiprocs') or 1
    return int(per_machine) * per_rank


def stash_options(target_base: str, mode: str = 'copy') -> dict:
    """``metadata.options.stash``: keep a finished job's folder in ``target_base`` on the job's computer.

    Every file of the folder but the hidden ``.aiida``.  aiida-core stashes after the job ends and before retrieval:
    ``copy`` into ``target_base/uu/id/<rest of the UUID>/``, a ``tar*`` mode into one archive
    ``target_base/<UUID>.tar*``; the job gets a ``remote_stash`` output.  The whole folder, not a list of names: an
    archive mode stashes nothing when one name or pattern matches no file (a job killed before its final files, a
    continuation without the start file), and the folder is the trajectory and a few small files anyway.  ValueError
    names a relative ``target_base`` or an unknown ``mode``.
    """
    if not str(target_base).startswith('/'):
        raise ValueError(f'stash target {target_base!r} is not an absolute path on the computer')
    modes = [stash_mode.value for stash_mode in StashMode if stash_mode is not StashMode.SUBMIT_CUSTOM_CODE]
    if mode not in modes:  # submit_custom_code runs a script of the user's instead of copying
        raise ValueError(f'stash mode {mode!r} is not one of {", ".join(modes)}')
    options = {'target_base': str(target_base), 'source_list': ['*'], 'stash_mode': mode}
    if mode != StashMode.COPY.value:
        options['dereference'] = False  # aiida-core requires it of an archive: the job's files are no links
    return options


def same_computer_error(what: str, node: orm.Node, code: orm.AbstractCode | None, why: str) -> str | None:
    """Return an error when ``node`` (a code or a remote folder, named ``what``) is not on ``code``'s computer."""
    if code is None or code.computer is None or getattr(node, 'computer', None) is None:
        return None
    if node.computer.pk == code.computer.pk:
        return None
    return (f'{what} is on computer {node.computer.label!r} but code {code.full_label!r} runs on '
            f'{code.computer.label!r}: {why}')


def continuation_chain(parent: orm.RemoteData, process_type: str) -> list[orm.CalcJobNode]:
    """Return the runs of ``process_type`` that a continuation from ``parent`` extends, oldest first.

    ``parent``'s creator comes last; ValueError (naming the node) when a folder of the chain was made by
    anything else.
    """
    entry_point = process_type.rsplit(':', 1)[-1]
    chain = []
    node = parent.creator
    if node is None:
        raise ValueError(f'parent_folder: RemoteData<{parent.pk}> was not made by a calculation; continue only the '
                         f'remote folder of a {entry_point} run')
    while node is not None:
        if node.process_type != process_type:
            raise ValueError(f'parent_folder: RemoteData<{parent.pk}> comes from {node.process_type or "no process"} '
                             f'<{node.pk}>, not from a {entry_point} run')
        chain.append(node)
        folder = node.inputs.parent_folder if 'parent_folder' in node.inputs else None
        node = folder.creator if folder is not None else None
    return chain[::-1]


def retrieved_text(calculation: orm.CalcJobNode, name: str) -> str | None:
    """Return the text of the file ``name`` that ``calculation`` retrieved, or None."""
    if 'retrieved' not in calculation.outputs:
        return None
    repository = calculation.outputs.retrieved.base.repository
    if name not in repository.list_object_names():
        return None
    return repository.get_object_content(name)


def port_validator(check: Callable[[orm.Node], object], field: str | None = None,
                   errors: tuple[type[Exception], ...] = (ValueError,)) -> Callable:
    """Make a port validator that runs ``check(node)``; an exception of ``errors`` becomes its message.

    The kernels raise errors that name the offending value; this puts the port's name ``field`` in front.
    """
    def validator(value, _=None) -> str | None:
        if value is None:
            return None
        try:
            check(value)
        except errors as exception:
            return f'{field}: {exception}' if field else str(exception)
        return None

    return validator


def positive_value(field: str, unit: str, minimum: float = 0.0) -> Callable:
    """Make a port validator of a Float/Int node that must be finite and above ``minimum`` (in ``unit``)."""
    def validator(value, _=None) -> str | None:
        if value is not None and not (math.isfinite(value.value) and value.value > minimum):
            return f'{field} must be > {minimum:g} {unit}, got {value.value!r}'
        return None

    return validator


#: Port validator of a ``cgmob-descriptors`` settings Dict (the kernel's own checks).
validate_descriptor_settings_node = port_validator(lambda node: validate_descriptor_settings(node.get_dict()),
                                                   'settings')


def descriptor_arguments(trajectories: list[str], topology: str | None = None, bead_mass: float | None = None,
                         timestep: float | None = None) -> list[str]:
    """Command-line arguments of ``cgmob-descriptors`` as every job runs it (settings file and output stem fixed).

    ``trajectories`` are joined in order (segments of a continued run); ``topology`` (a GROMACS .tpr) maps an
    all-atom run to centres of mass; ``bead_mass`` (g/mol) makes every particle a bead; ``timestep`` (ps)
    converts the steps of a LAMMPS text dump to ps.
    """
    arguments = list(trajectories)
    if topology:
        arguments += ['--topology', topology]
    if bead_mass is not None:
        arguments += ['--bead-mass', repr(float(bead_mass))]
    if timestep is not None:
        arguments += ['--timestep', repr(float(timestep))]
    return arguments + ['--settings', descriptor_files.SETTINGS_FILE, '--output', descriptor_files.STEM]


def define_descriptor_outputs(spec, namespace: str | None = None, required: bool = True) -> None:
    """Declare the output ports ``rdf``, ``msd``, ``diffusion``, ``density`` and ``mass`` (in ``namespace``)."""
    prefix = f'{namespace}.' if namespace else ''
    if namespace:
        spec.output_namespace(namespace, required=False, help='Descriptors of the production trajectory.')
    spec.output(f'{prefix}rdf', valid_type=orm.XyData, required=required,
                help='Bead-bead g(r): x = r (nm, bin centres), y = g; attributes r_max, bin_width, n_frames.')
    spec.output(f'{prefix}msd', valid_type=orm.XyData, required=required,
                help='Mean squared displacement: x = t (ps); y = msd_x, msd_y, msd_z and their sum msd (nm^2).')
    spec.output(f'{prefix}diffusion', valid_type=orm.Dict, required=required,
                help='Self-diffusion: D, D_error, D_xyz in nm^2/ps and as D_si... in 1e-9 m^2/s; fit_window (ps), '
                     'box_length (nm); D_yeh_hummer only when a viscosity was given.')
    spec.output(f'{prefix}density', valid_type=orm.Dict, required=required,
                help='number_density (nm^-3), mass_density and mass_density_error (kg/m^3), n_beads.')
    spec.output(f'{prefix}mass', valid_type=orm.Float, required=required,
                help='Bead (molecular) mass in g/mol.')


class CgmobCalcJob(CalcJob):
    """Shared defaults of the package's CalcJobs.

    Subclasses set ``_parser_name`` (their entry point), declare their codes with
    :func:`aiida_cgmob.exit_codes.define_exit_codes` and, if they can compute descriptors in the same job, call
    :meth:`define_descriptors_namespace`.
    """

    _parser_name: str | None = None

    @classmethod
    def define(cls, spec) -> None:
        """Default resources (one machine, one process) and the parser of the entry point."""
        super().define(spec)
        spec.inputs['metadata']['options']['resources'].default = dict(DEFAULT_RESOURCES)
        if cls._parser_name:
            spec.inputs['metadata']['options']['parser_name'].default = cls._parser_name

    @classmethod
    def define_descriptors_namespace(cls, spec) -> None:
        """Declare inputs ``descriptors.code``/``descriptors.settings`` and outputs ``descriptors.*`` (optional)."""
        spec.input_namespace('descriptors', required=False, populate_defaults=False,
                             help='Compute the descriptors of the production trajectory in the same job.')
        spec.input('descriptors.code', valid_type=orm.AbstractCode, required=False,
                   help='The cgmob-descriptors code, on the same computer as code.')
        spec.input('descriptors.settings', valid_type=orm.Dict, required=False,
                   validator=validate_descriptor_settings_node,
                   help='Settings of cgmob-descriptors (as for cgmob.descriptors).')
        define_descriptor_outputs(spec, namespace='descriptors', required=False)

    @staticmethod
    def validate_descriptors_code(inputs: Mapping) -> str | None:
        """Check that the descriptors code is on the engine's computer: both run in the same job."""
        descriptors_code = inputs.get('descriptors', {}).get('code')
        if descriptors_code is None:
            return None
        return same_computer_error('descriptors.code', descriptors_code, inputs.get('code'), 'both run in the same job')

    @property
    def threads(self) -> int:
        """OpenMP threads of one engine process (see :func:`omp_threads`)."""
        return omp_threads(self.inputs.metadata.options)

    @property
    def thread_export(self) -> str:
        """The job script line that gives every OpenMP or numba library of the job its threads.

        The descriptors' compiled g(r) reads it; without it numba would start one thread per core of the node.
        """
        return f'export OMP_NUM_THREADS={self.threads}'

    @property
    def with_descriptors(self) -> bool:
        """Whether this job runs ``cgmob-descriptors`` after the engine."""
        return 'code' in self.inputs.get('descriptors', {})

    def descriptors_codeinfo(self, folder, arguments: list[str], code: orm.AbstractCode | None = None,
                             settings: orm.Dict | None = None) -> datastructures.CodeInfo:
        """Write the settings file into ``folder``; return the CodeInfo running ``cgmob-descriptors`` ``arguments``.

        ``code`` and ``settings`` default to the ``descriptors`` namespace; the script is serial (never mpirun).
        """
        if code is None:
            code = self.inputs.descriptors.code
            settings = self.inputs.descriptors.get('settings')
        with folder.open(descriptor_files.SETTINGS_FILE, 'w') as handle:
            json.dump(settings.get_dict() if settings is not None else {}, handle)
        codeinfo = datastructures.CodeInfo()
        codeinfo.code_uuid = code.uuid
        codeinfo.cmdline_params = arguments
        codeinfo.stdout_name = descriptor_files.LOG_FILE
        codeinfo.join_files = True
        codeinfo.withmpi = False
        return codeinfo

    @staticmethod
    def engine_codeinfo(code: orm.AbstractCode, arguments: list[str], stdout: str) -> datastructures.CodeInfo:
        """Return a CodeInfo running ``code`` with ``arguments``, stdout and stderr joined into ``stdout``."""
        codeinfo = datastructures.CodeInfo()
        codeinfo.code_uuid = code.uuid
        codeinfo.cmdline_params = arguments
        codeinfo.stdout_name = stdout
        codeinfo.join_files = True
        return codeinfo
