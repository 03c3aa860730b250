"""``cgmob.ibi``: the whole iterative inversion (IBI or iterative HNC) in one scheduler job.

The job writes ``ibi_input.json`` and ``target.npz`` with the kernel's own writer
(:func:`aiida_cgmob.ibi.write_ibi_input`) and runs the package's ``cgmob-ibi`` script, which calls
LAMMPS (``lammps_code``, on the same computer) once per iteration and checkpoints after each
(``ibi_state.json``).  Only summaries and arrays come back: the iteration directories stay in the
remote folder.  A job killed at its wall time is continued by a new job with ``parent_folder``: the
checkpoint and the iteration directories are copied (never linked: the new job must not write into the
old folder) and the loop goes on from the last completed iteration.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from aiida import orm
from aiida.common import datastructures

from aiida_cgmob.analysis import files as descriptor_files
from aiida_cgmob.data import PotentialData, configuration_of
from aiida_cgmob.exit_codes import EXIT_CODES, define_exit_codes
from aiida_cgmob.ibi import IbiInputError, initial_potential, validate_settings, write_ibi_input
from aiida_cgmob.ibi.driver import (
    FINAL_POTENTIAL_JSON,
    HISTORY_FILE,
    ITERATIONS_DIR,
    LOG_FILE,
    RESULT_FILE,
    START_DATA_FILE,
    STATE_FILE,
    STDOUT_FILE,
    Target,
    inversion_grid,
    validate_input,
)
from aiida_cgmob.lammps import LammpsInputError, lattice_configuration, write_data
from aiida_cgmob.lammps import validate_settings as validate_lammps_settings
from aiida_cgmob.potentials import PotentialError

from .base import (
    CgmobCalcJob,
    define_descriptor_outputs,
    omp_threads,
    port_validator,
    same_computer_error,
)

__all__ = ['IbiCalculation', 'ibi_settings', 'target_arrays']

PROCESS_TYPE = 'aiida.calculations:cgmob.ibi'
#: what a continuation copies from the interrupted job (its inputs are written afresh from this job's inputs)
RESUME_FILES = (STATE_FILE, LOG_FILE, ITERATIONS_DIR)
#: IBI settings a continuation must share with the job it continues: they fix the grids and the target range
RESUME_KEYS = ('cutoff', 'bin_width', 'temperature', 'fit_range', 'g_min', 'tail_width')
#: exit statuses of a parent a continuation can start from: a checkpoint whose next potential is worth running
#: (not ERROR_DIVERGED: the checkpoint of a diverged run holds the potential that diverged; start afresh from the
#: best one); 120 is aiida-core's scheduler wall-time kill, which the restart chain continues as it does 400
RESUMABLE_STATUSES = (0, 120, *(EXIT_CODES[label].status for label in (
    'ERROR_DESCRIPTORS', 'ERROR_OUT_OF_WALLTIME', 'ERROR_ENGINE', 'ERROR_NOT_CONVERGED')))


# ---------------------------------------------------------------------------------------------------- helpers


def target_arrays(target: orm.XyData) -> tuple[np.ndarray, np.ndarray]:
    """(r nm, g) of a target XyData (x = r in nm, first y = g); ValueError naming the problem."""
    try:
        x_name, r, x_unit = target.get_x()
        (_, g, _), *_ = target.get_y()
    except (AttributeError, KeyError, ValueError, TypeError) as exception:
        raise ValueError(f'target <{target.pk}> needs x = r (nm) and y = g: {exception}') from exception
    if x_unit and x_unit != 'nm':
        raise ValueError(f'target: x must be r in nm, got {x_name!r} in {x_unit!r}')
    r, g = np.asarray(r, dtype=float), np.asarray(g, dtype=float)
    if r.ndim != 1 or r.shape != g.shape or r.size < 10:
        raise ValueError(f'target: r and g must be 1-D of the same length >= 10, got {r.shape} and {g.shape}')
    if not np.all(np.isfinite(r)) or not np.all(np.diff(r) > 0):
        raise ValueError('target: r must be finite and strictly increasing')
    if not np.all(np.isfinite(g)) or np.any(g < 0):
        raise ValueError('target: g must be finite and >= 0')
    return r, g


def ibi_settings(inputs) -> dict:
    """Return the IBI settings of ``inputs`` merged over the kernel's defaults (IbiInputError if invalid)."""
    return validate_settings(inputs['settings'].get_dict() if 'settings' in inputs else None)


def _input_data(inputs, lmp: str = 'lmp') -> dict:
    """Return the keyword arguments of write_ibi_input (besides the directory) from ``inputs``."""
    r, g = target_arrays(inputs['target'])
    return {
        'target_r': r, 'target_g': g, 'mass': inputs['mass'].value, 'number_density': inputs['number_density'].value,
        'n_beads': inputs['n_beads'].value if 'n_beads' in inputs else None,
        'settings': inputs['settings'].get_dict() if 'settings' in inputs else {},
        'lammps_settings': inputs['lammps_settings'].get_dict() if 'lammps_settings' in inputs else {},
        'lmp': lmp, 'threads': omp_threads(inputs['metadata']['options']),
        'seed': inputs['seed'].value if 'seed' in inputs else 1,
        'initial': inputs['initial_potential'].potential if 'initial_potential' in inputs else None,
    }


def write_job_input(directory: str | Path, inputs, lmp: str) -> None:
    """``ibi_input.json``, ``target.npz`` and the optional ``initial_potential.json`` and ``start.data``."""
    data = _input_data(inputs, lmp)
    write_ibi_input(directory, **data)
    if 'configuration' in inputs:
        write_data(Path(directory) / START_DATA_FILE, configuration_of(inputs['configuration']), data['mass'])


# ------------------------------------------------------------------------------------------------- validators


validate_settings_node = port_validator(lambda node: validate_settings(node.get_dict()), 'settings', (IbiInputError,))
validate_lammps_settings_node = port_validator(lambda node: validate_lammps_settings(node.get_dict()),
                                               'lammps_settings', (LammpsInputError,))
validate_target = port_validator(target_arrays)
validate_configuration = port_validator(configuration_of, 'configuration', (LammpsInputError,))


def _validate_codes(inputs) -> str | None:
    code, lammps = inputs.get('code'), inputs.get('lammps_code')
    if code is None or lammps is None:
        return None
    if not isinstance(lammps, orm.InstalledCode):
        return (f'lammps_code {lammps.full_label!r} is a {type(lammps).__name__}: it must be an InstalledCode, whose '
                'executable path the cgmob-ibi script calls')
    return same_computer_error(f'lammps_code {lammps.full_label!r}', lammps, code,
                               'cgmob-ibi calls LAMMPS in the same job')


def _validate_parent(inputs) -> str | None:
    """Check that a continuation starts from the checkpoint of a cgmob.ibi job with the same system and grids."""
    parent = inputs['parent_folder']
    error = same_computer_error('parent_folder', parent, inputs.get('code'),
                                'the checkpoint is copied on the computer itself')
    if error:
        return error
    previous = parent.creator
    if previous is None or previous.process_type != PROCESS_TYPE:
        source = f'{previous.process_type or "no process"} <{previous.pk}>' if previous is not None else 'no process'
        return f'parent_folder: RemoteData<{parent.pk}> comes from {source}, not from a cgmob.ibi calculation'
    if previous.is_finished and previous.exit_status not in RESUMABLE_STATUSES:
        return (f'parent_folder: calculation <{previous.pk}> ended with exit status {previous.exit_status} '
                f'({previous.exit_message}) and left no checkpoint to continue from')
    for name in ('mass', 'number_density', 'n_beads'):
        ours = inputs[name].value if name in inputs else None
        theirs = previous.inputs[name].value if name in previous.inputs else None
        if ours != theirs:
            return f'{name} = {ours!r} differs from {theirs!r} of the calculation being continued (<{previous.pk}>)'
    ours_target, theirs_target = inputs['target'], previous.inputs.target
    if ours_target.uuid != theirs_target.uuid and not all(
            np.array_equal(a, b) for a, b in zip(target_arrays(ours_target), target_arrays(theirs_target),
                                                 strict=True)):
        return (f'target <{ours_target.pk}> is not the target <{theirs_target.pk}> of the calculation being '
                f'continued (<{previous.pk}>)')
    ours, theirs = ibi_settings(inputs), ibi_settings(previous.inputs)
    for key in RESUME_KEYS:
        if ours[key] != theirs[key]:
            return (f'settings.{key} = {ours[key]!r} differs from {theirs[key]!r} of the calculation being continued '
                    f'(<{previous.pk}>); a continuation keeps the grids (start afresh to change them)')
    return None


def validate_inputs(inputs, _):
    """Check the whole input as the script will see it, with the kernel, before anything is submitted."""
    required = ('code', 'lammps_code', 'target', 'mass', 'number_density')
    if any(name not in inputs for name in required):
        return None  # the ports report it
    if inputs['metadata']['options'].get('withmpi'):
        return ('metadata.options.withmpi = True is not supported: cgmob-ibi is serial and runs LAMMPS with OpenMP '
                'threads (set metadata.options.threads or the resources)')
    error = _validate_codes(inputs)
    if error:
        return error
    if 'n_beads' not in inputs and 'configuration' not in inputs:
        return 'n_beads: give the number of beads of the lattice start (or a start configuration)'
    if 'n_beads' in inputs and 'configuration' in inputs:
        return 'give either n_beads (lattice start) or configuration, not both'
    try:
        if 'configuration' in inputs:
            density = configuration_of(inputs['configuration']).number_density
            if not np.isclose(density, inputs['number_density'].value, rtol=1e-3):
                return (f'number_density = {inputs["number_density"].value} nm^-3 but the configuration '
                        f'<{inputs["configuration"].pk}> holds {density:.6g} nm^-3: the inversion runs at the '
                        'density of its box')
        settings = ibi_settings(inputs)
        lammps_settings = validate_lammps_settings(
            inputs['lammps_settings'].get_dict() if 'lammps_settings' in inputs else None)
        if abs(settings['temperature'] - lammps_settings['temperature']) > 1e-9:
            return (f'settings.temperature = {settings["temperature"]} K (kT of the updates) differs from '
                    f'lammps_settings.temperature = {lammps_settings["temperature"]} K (the thermostat): set both')
        # what the job's IbiRun will check, in memory: target grid and cutoff against the box, initial guess
        data = _input_data(inputs, inputs['lammps_code'].filepath_executable.as_posix())
        checked = validate_input({key: value for key, value in data.items()
                                  if key not in ('target_r', 'target_g', 'initial')})
        if 'configuration' in inputs:
            box = configuration_of(inputs['configuration']).box
        else:
            box = lattice_configuration(checked['n_beads'], checked['number_density'], seed=checked['seed']).box
        r, g_target, _ = inversion_grid(checked['settings'], Target(data['target_r'], data['target_g']), box)
        if 'parent_folder' not in inputs and 'initial_potential' not in inputs:
            initial_potential(r, g_target, checked['settings'], checked['number_density'])
    except (IbiInputError, LammpsInputError, PotentialError, ValueError) as exception:
        return str(exception)
    if 'parent_folder' in inputs:
        return _validate_parent(inputs)
    return None


# ---------------------------------------------------------------------------------------------------- CalcJob


class IbiCalculation(CgmobCalcJob):
    """Iterative Boltzmann inversion / iterative HNC of a one-bead liquid against a target g(r), in one job.

    See the module docstring; the method, settings and files are described in ``docs/ibi.rst``.
    """

    _parser_name = 'cgmob.ibi'

    @classmethod
    def define(cls, spec):
        """Ports, outputs and exit codes (see :mod:`aiida_cgmob.exit_codes`)."""
        super().define(spec)
        spec.input('lammps_code', valid_type=orm.AbstractCode,
                   help='LAMMPS (lmp with OPENMP): an InstalledCode on the computer of code; cgmob-ibi calls its '
                        'executable once per iteration. Its prepend_text is added to the job script.')
        spec.input('target', valid_type=orm.XyData, validator=validate_target,
                   help='Target g(r): x = r (nm, bin centres), y = g, e.g. the rdf output of a descriptors run.')
        spec.input('mass', valid_type=orm.Float, help='Bead mass in g/mol.')
        spec.input('number_density', valid_type=orm.Float, help='Beads per nm^3 of the CG box (NVT iterations).')
        spec.input('n_beads', valid_type=orm.Int, required=False,
                   help='Number of beads of the lattice start (or give configuration).')
        spec.input('configuration', valid_type=orm.ArrayData, required=False, validator=validate_configuration,
                   help='Start configuration instead of a lattice: arrays positions (N, 3) and box (3,) in nm.')
        spec.input('settings', valid_type=orm.Dict, required=False, validator=validate_settings_node,
                   help='IBI settings over aiida_cgmob.ibi.DEFAULT_SETTINGS: method (ihnc|ibi), initial_guess '
                        '(hnc|pmf), max_iterations, tolerance, cutoff (nm), fit_range (nm), alpha, smoothing, '
                        'pressure_target (bar), final_descriptors, descriptor_settings, ...')
        spec.input('lammps_settings', valid_type=orm.Dict, required=False, validator=validate_lammps_settings_node,
                   help='One iteration\'s LAMMPS run over aiida_cgmob.lammps.DEFAULT_SETTINGS: timestep, '
                        'equilibration, production, frame_interval (ps), temperature (K), ...')
        spec.input('initial_potential', valid_type=PotentialData, required=False,
                   help='Start from this potential instead of the initial guess from the target.')
        spec.input('seed', valid_type=orm.Int, required=False,
                   help='Seed of the lattice and the velocities (iteration i uses seed + i); default 1.')
        spec.input('parent_folder', valid_type=orm.RemoteData, required=False,
                   help='Remote folder of an interrupted (or finished) cgmob.ibi job: continue from its checkpoint '
                        '(the new settings may raise max_iterations or change tolerance, method, alpha, ...).')
        spec.input('metadata.options.threads', valid_type=int, required=False,
                   help='OpenMP threads of LAMMPS [default: num_mpiprocs_per_machine x num_cores_per_mpiproc].')
        spec.inputs.validator = validate_inputs

        spec.output('potential', valid_type=PotentialData, required=False,
                    help='The final potential: the last iteration\'s when converged, else the best one.')
        spec.output('history', valid_type=orm.ArrayData, required=False,
                    help='Per iteration: iteration, rms, pressure_bar, pressure_std_bar, number_density, timestep_ps, '
                         'seconds (I,); potential, force (I, R) on r_potential (R,); g (I, G) on r (G,) and '
                         'g_target (G,). Units in the attribute "units".')
        spec.output('result', valid_type=orm.Dict, required=False,
                    help='status, message, converged, iterations, final_iteration, rms_final, rms_last, '
                         'pressure_final_bar, number_density_final, seconds_per_iteration, ... (units inside).')
        define_descriptor_outputs(spec, namespace='descriptors', required=False)
        spec.default_output_node = 'result'

        define_exit_codes(spec, 'ERROR_NO_OUTPUT', 'ERROR_OUTPUT_UNREADABLE', 'ERROR_SCRIPT_CRASHED',
                              'ERROR_DESCRIPTORS', 'ERROR_OUT_OF_WALLTIME', 'ERROR_INPUT_REFUSED', 'ERROR_ENGINE',
                              'ERROR_DIVERGED', 'ERROR_NOT_CONVERGED')

    def prepare_for_submission(self, folder):
        """Write the script's input files (copy the checkpoint of a continued job) and run ``cgmob-ibi``."""
        lammps = self.inputs.lammps_code
        write_job_input(folder.abspath, self.inputs, lammps.filepath_executable.as_posix())

        codeinfo = self.engine_codeinfo(self.inputs.code, ['.'], STDOUT_FILE)
        codeinfo.withmpi = False

        calcinfo = datastructures.CalcInfo()
        calcinfo.codes_info = [codeinfo]
        calcinfo.remote_copy_list = []
        if 'parent_folder' in self.inputs:
            parent = self.inputs.parent_folder
            source = parent.get_remote_path()
            # copies, not links: the iteration in progress when the parent stopped is redone in place
            calcinfo.remote_copy_list = [(parent.computer.uuid, f'{source}/{name}', name) for name in RESUME_FILES]
        prepend = [self.thread_export]  # the driver's own g(r) (numba) and LAMMPS
        if lammps.prepend_text and lammps.prepend_text != self.inputs.code.prepend_text:
            prepend.append(lammps.prepend_text)
        calcinfo.prepend_text = '\n'.join(prepend)
        calcinfo.retrieve_list = [RESULT_FILE, HISTORY_FILE, FINAL_POTENTIAL_JSON, LOG_FILE, STDOUT_FILE,
                                  *descriptor_files.RESULT_FILES, descriptor_files.ERROR_FILE]
        # the checkpoint only tells the parser whether the job can be continued: not stored
        calcinfo.retrieve_temporary_list = [STATE_FILE]
        return calcinfo
