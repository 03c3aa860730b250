"""``cgmob.lammps.cg``: MD of a one-bead CG liquid with a tabulated pair potential in LAMMPS, in one job.

The job writes the LAMMPS input itself (``aiida_cgmob.lammps``), runs ``lmp`` (minimisation,
equilibration, production with an xtc trajectory and restart files) and, optionally, the package's
``cgmob-descriptors`` on the trajectory in the same job.  The trajectory and restart files stay in the
remote folder; the log, the final configuration and the descriptor files are retrieved.

Starting points (exactly one): a lattice of ``n_beads`` at ``number_density``; a ``configuration``
(e.g. an all-atom run's final frame mapped to centres of mass by :func:`cg_configuration_from_aa`);
or ``parent_folder``, the remote folder of an interrupted ``cgmob.lammps.cg`` run, continued from its
newest restart file.  A continuation also links the trajectories of the runs before it, so its
descriptors and thermodynamic averages cover the whole production.
"""

from __future__ import annotations

import numpy as np
from aiida import orm
from aiida.common import datastructures
from aiida.engine import CalcJob, calcfunction

from aiida_cgmob.data import PotentialData
from aiida_cgmob.lammps import Configuration, LammpsInputError, lattice_configuration, parse_log, prepare_run
from aiida_cgmob.lammps import validate_settings as validate_lammps_settings
from aiida_cgmob.lammps.aa_start import configuration_from_gromacs
from aiida_cgmob.lammps.inputs import (
    DATA_NAME,
    FINAL_DATA,
    FINAL_RESTART,
    LOG_NAME,
    RESTART_NAMES,
    TABLE_NAME,
    TRAJECTORY_NAME,
)
from aiida_cgmob.lammps.outputs import LammpsLog, discard_incomplete_restarts
from aiida_cgmob.lammps.run import lammps_command
from aiida_cgmob.parsers.descriptors import DESCRIPTOR_FILES, define_descriptor_outputs

from .descriptors import descriptor_command, descriptors_codeinfo, validate_descriptor_settings_node

__all__ = ['LammpsCgCalculation', 'cg_configuration_from_aa', 'configuration_node', 'continuation_chain']

PROCESS_TYPE = 'aiida.calculations:cgmob.lammps.cg'
STDOUT_NAME = 'lammps.out'
#: restart files of the k-th job back in the chain are copied as parent<k>.<name>: the new run writes its own
RESTART_COPY = 'parent{}.{}'
#: how many jobs back restart files are taken from: enough when a job or two were killed before writing one
RESTART_GENERATIONS = 3
SEGMENT_NAME = 'segment_{:02d}.xtc'
#: share of max_wallclock_seconds after which LAMMPS stops itself (more is left when descriptors follow)
TIMEOUT_FRACTION = 0.9
TIMEOUT_FRACTION_WITH_DESCRIPTORS = 0.8
#: settings that a continuation must share with the run it continues (same steps, same ensemble)
CONTINUATION_KEYS = ('timestep', 'equilibration', 'frame_interval', 'ensemble', 'temperature', 'pressure')


# ---------------------------------------------------------------------------------------------------- helpers


def configuration_node(configuration: Configuration) -> orm.ArrayData:
    """An (unstored) ArrayData with ``positions`` (N, 3) and ``box`` (3,) in nm."""
    node = orm.ArrayData()
    node.set_array('positions', np.asarray(configuration.positions, dtype=float))
    node.set_array('box', np.asarray(configuration.box, dtype=float))
    node.base.attributes.set_many({'n_beads': configuration.n_beads, 'number_density': configuration.number_density,
                                   'units': {'positions': 'nm', 'box': 'nm', 'number_density': 'nm^-3'}})
    return node


def configuration_of(node: orm.ArrayData) -> Configuration:
    """The kernel Configuration of an ArrayData with arrays ``positions`` and ``box`` (LammpsInputError if not)."""
    names = set(node.get_arraynames())
    if not {'positions', 'box'} <= names:
        raise LammpsInputError(f'needs arrays "positions" (N, 3) and "box" (3,) in nm, got {sorted(names)}')
    return Configuration(node.get_array('positions'), node.get_array('box'))


def _settings(inputs) -> dict:
    return validate_lammps_settings(inputs['settings'].get_dict() if 'settings' in inputs else None)


def continuation_chain(parent: orm.RemoteData) -> list[orm.CalcJobNode]:
    """The ``cgmob.lammps.cg`` runs a continuation from ``parent`` extends, oldest first (``parent``'s creator last)."""
    chain = []
    node = parent.creator
    if node is None:
        raise ValueError(f'parent_folder: RemoteData<{parent.pk}> was not made by a calculation; continue only the '
                         'remote folder of a cgmob.lammps.cg run')
    while node is not None:
        if node.process_type != PROCESS_TYPE:
            raise ValueError(f'parent_folder: RemoteData<{parent.pk}> comes from {node.process_type or "no process"} '
                             f'<{node.pk}>, not from a cgmob.lammps.cg run')
        chain.append(node)
        folder = node.inputs.parent_folder if 'parent_folder' in node.inputs else None
        node = folder.creator if folder is not None else None
    return chain[::-1]


def retrieved_log(calculation: orm.CalcJobNode) -> LammpsLog | None:
    """The parsed LAMMPS log a run retrieved, or None."""
    if 'retrieved' not in calculation.outputs:
        return None
    retrieved = calculation.outputs.retrieved
    if LOG_NAME not in retrieved.base.repository.list_object_names():
        return None
    return parse_log(retrieved.base.repository.get_object_content(LOG_NAME))


def _remote_folder(calculation: orm.CalcJobNode) -> orm.RemoteData:
    return calculation.outputs.remote_folder


@calcfunction
def cg_configuration_from_aa(structure: orm.SinglefileData, topology: orm.SinglefileData) -> dict:
    """One bead per molecule at its centre of mass from an all-atom .gro frame and its self-contained .top.

    Returns ``configuration`` (ArrayData: positions, box in nm) and ``mass`` (Float, the molecular mass
    in g/mol): give both to ``cgmob.lammps.cg`` (the mass may also be any other bead mass).
    """
    configuration, mass = configuration_from_gromacs(structure.get_content(), topology.get_content())
    return {'configuration': configuration_node(configuration), 'mass': orm.Float(mass)}


# ------------------------------------------------------------------------------------------------- validators


def validate_settings(value, _):
    if value is None:
        return None
    try:
        validate_lammps_settings(value.get_dict())
    except LammpsInputError as exception:
        return f'settings: {exception}'
    return None


def validate_mass(value, _):
    if value is not None and not (np.isfinite(value.value) and value.value > 0):
        return f'mass must be a bead mass > 0 g/mol, got {value.value!r}'
    return None


def validate_n_beads(value, _):
    if value is not None and value.value < 2:
        return f'n_beads must be at least 2, got {value.value}'
    return None


def validate_number_density(value, _):
    if value is not None and not (np.isfinite(value.value) and value.value > 0):
        return f'number_density must be > 0 beads/nm^3, got {value.value!r}'
    return None


def validate_configuration(value, _):
    if value is None:
        return None
    try:
        configuration_of(value)
    except LammpsInputError as exception:
        return f'configuration: {exception}'
    return None


def _start(inputs) -> tuple[str | None, str | None]:
    """(the starting point given, or None; an error message, or None)."""
    lattice = [name for name in ('n_beads', 'number_density') if name in inputs]
    if len(lattice) == 1:
        missing = 'number_density' if lattice[0] == 'n_beads' else 'n_beads'
        return None, f'{missing} is missing: a lattice start needs both n_beads and number_density (nm^-3)'
    given = (['lattice'] if lattice else []) + [name for name in ('configuration', 'parent_folder') if name in inputs]
    if len(given) != 1:
        return None, ('give exactly one starting point: n_beads + number_density (lattice), configuration, or '
                      f'parent_folder (continuation); got {", ".join(given) or "none"}')
    return given[0], None


def _validate_continuation(inputs, settings: dict) -> str | None:
    parent = inputs['parent_folder']
    code = inputs.get('code')
    if code is not None and code.computer is not None and parent.computer.pk != code.computer.pk:
        return (f'parent_folder is on computer {parent.computer.label!r} but code {code.full_label!r} runs on '
                f'{code.computer.label!r}: the restart file is copied on the computer itself')
    try:
        chain = continuation_chain(parent)
    except ValueError as exception:
        return str(exception)
    previous = chain[-1]
    theirs = _settings(previous.inputs)
    for key in CONTINUATION_KEYS:
        if key == 'pressure' and settings['ensemble'] == 'nvt':
            continue  # not used at constant volume
        if theirs[key] != settings[key]:
            return (f'settings.{key} = {settings[key]!r} differs from {theirs[key]!r} of the run being continued '
                    f'({previous.pk}); a continuation keeps its steps and ensemble (start afresh to change them)')
    if not np.isclose(previous.inputs.mass.value, inputs['mass'].value, rtol=1e-12):
        return (f'mass = {inputs["mass"].value} g/mol differs from {previous.inputs.mass.value} g/mol of the run '
                f'being continued ({previous.pk})')
    ours, theirs = inputs['potential'], previous.inputs.potential
    if ours.uuid != theirs.uuid and not all(
            np.array_equal(ours.get_array(name), theirs.get_array(name)) for name in ('r', 'energy', 'force')):
        return f'potential <{ours.pk}> is not the potential <{theirs.pk}> of the run being continued ({previous.pk})'
    return None


def validate_inputs(inputs, _):
    if 'potential' not in inputs or 'mass' not in inputs:
        return None  # their ports report it
    start, error = _start(inputs)
    if error:
        return error
    try:
        settings = _settings(inputs)
    except LammpsInputError:
        return None  # the settings port reports it
    code = inputs.get('code')
    descriptors_code = inputs.get('descriptors', {}).get('code')
    if descriptors_code is not None and code is not None and descriptors_code.computer is not None \
            and code.computer is not None and descriptors_code.computer.pk != code.computer.pk:
        return (f'descriptors.code {descriptors_code.full_label!r} is not on the computer of code '
                f'{code.full_label!r}: both run in the same job')
    if start == 'parent_folder':
        return _validate_continuation(inputs, settings)
    cutoff = inputs['potential'].cutoff
    if start == 'lattice':
        box = np.full(3, (inputs['n_beads'].value / inputs['number_density'].value) ** (1.0 / 3.0))
        where = f'{inputs["n_beads"].value} beads at {inputs["number_density"].value:g} nm^-3'
    else:
        try:
            box = configuration_of(inputs['configuration']).box
        except LammpsInputError:
            return None  # the configuration port reports it
        where = f'the configuration, box {" x ".join(f"{edge:.4g}" for edge in box)} nm'
    if cutoff > box.min() / 2:
        return (f'potential cutoff {cutoff:g} nm exceeds half the box ({box.min() / 2:.4g} nm for {where}): use more '
                'beads or a potential with a shorter cutoff')
    return None


# ---------------------------------------------------------------------------------------------------- CalcJob


class LammpsCgCalculation(CalcJob):
    """One-bead CG liquid in LAMMPS with a tabulated potential: minimise, equilibrate, produce (module docstring)."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input('potential', valid_type=PotentialData, help='Tabulated pair potential U(r) (nm, kJ/mol).')
        spec.input('mass', valid_type=orm.Float, validator=validate_mass, help='Bead mass in g/mol.')
        spec.input('settings', valid_type=orm.Dict, required=False, validator=validate_settings,
                   help='LAMMPS CG settings over aiida_cgmob.lammps.DEFAULT_SETTINGS: ensemble (nvt|npt), '
                        'temperature (K), pressure (bar), timestep, equilibration, production, frame_interval, '
                        'thermo_interval, restart_interval, thermostat_damping, barostat_damping (ps), minimise, '
                        'seed, table_points, neighbor_skin (nm).')
        spec.input('n_beads', valid_type=orm.Int, required=False, validator=validate_n_beads,
                   help='Lattice start: number of beads (with number_density).')
        spec.input('number_density', valid_type=orm.Float, required=False, validator=validate_number_density,
                   help='Lattice start: beads per nm^3 (with n_beads).')
        spec.input('configuration', valid_type=orm.ArrayData, required=False, validator=validate_configuration,
                   help='Start from these beads: arrays positions (N, 3) and box (3,) in nm (e.g. the output of '
                        'cg_configuration_from_aa, or final_configuration of another CG run).')
        spec.input('parent_folder', valid_type=orm.RemoteData, required=False,
                   help='Remote folder of an interrupted cgmob.lammps.cg run: continue from its newest restart file.')
        spec.input_namespace('descriptors', required=False, populate_defaults=False,
                             help='Compute the descriptors of the production trajectory in the same job.')
        spec.input('descriptors.code', valid_type=orm.AbstractCode, required=False,
                   help='The cgmob-descriptors code, on the same computer as code.')
        spec.input('descriptors.settings', valid_type=orm.Dict, required=False,
                   validator=validate_descriptor_settings_node,
                   help='Settings of cgmob-descriptors (as for cgmob.descriptors).')
        spec.inputs.validator = validate_inputs
        spec.inputs['metadata']['options']['resources'].default = {'num_machines': 1, 'num_mpiprocs_per_machine': 1}
        spec.inputs['metadata']['options']['parser_name'].default = 'cgmob.lammps.cg'

        spec.output('thermo', valid_type=orm.Dict,
                    help='Production averages (_std: standard deviation, _error: standard error from 5 blocks) with '
                         'units in the key names, n_samples, ensemble, ns_per_day, wall_time_s, warnings, status.')
        spec.output('final_configuration', valid_type=orm.ArrayData,
                    help='Final bead positions (N, 3) and box (3,) in nm, wrapped into the box.')
        define_descriptor_outputs(spec, namespace='descriptors', required=False)
        spec.default_output_node = 'thermo'

        # 3xx: outputs missing or unreadable
        spec.exit_code(301, 'ERROR_NO_LOG', invalidates_cache=True,
                       message='LAMMPS wrote no log: it did not start. Its output: {output}')
        spec.exit_code(302, 'ERROR_FINAL_CONFIGURATION_MISSING', invalidates_cache=True,
                       message='The run finished but its final configuration is missing or unreadable: {error}')
        spec.exit_code(303, 'ERROR_THERMO_MISSING', invalidates_cache=True,
                       message='The log holds no thermodynamic output of the production.')
        spec.exit_code(350, 'ERROR_DESCRIPTORS',
                       message='The run finished but its descriptors failed ({kind}): {error}')
        # 4xx: run failures
        spec.exit_code(400, 'ERROR_OUT_OF_WALLTIME', invalidates_cache=True,
                       message='LAMMPS stopped at step {step} of {total}: {reason}. Continue from the restart file '
                               'in the remote folder.')
        spec.exit_code(401, 'ERROR_NO_RESTART_FILE', invalidates_cache=True,
                       message='The run to continue left no restart file: {error}')
        spec.exit_code(410, 'ERROR_UNSTABLE_INTEGRATION', invalidates_cache=True,
                       message='The integration became unstable after step {step}: {error}')
        spec.exit_code(420, 'ERROR_LAMMPS', invalidates_cache=True, message='LAMMPS stopped with an error: {error}')

    def _threads(self) -> int:
        """OpenMP threads per LAMMPS process: all cores of the job without MPI, the cores of one rank with it."""
        options = self.inputs.metadata.options
        resources = options.resources
        per_rank = int(resources.get('num_cores_per_mpiproc') or 1)
        if options.get('withmpi'):
            return per_rank
        per_machine = resources.get('num_mpiprocs_per_machine') or resources.get('tot_num_mpiprocs') or 1
        return int(per_machine) * per_rank

    def _timeout_seconds(self) -> float | None:
        walltime = self.inputs.metadata.options.get('max_wallclock_seconds')
        if not walltime:
            return None
        fraction = TIMEOUT_FRACTION_WITH_DESCRIPTORS if self._with_descriptors() else TIMEOUT_FRACTION
        return fraction * walltime

    def _with_descriptors(self) -> bool:
        return 'code' in self.inputs.get('descriptors', {})

    def _configuration(self, settings: dict) -> Configuration:
        if 'configuration' in self.inputs:
            return configuration_of(self.inputs.configuration)
        return lattice_configuration(self.inputs.n_beads.value, self.inputs.number_density.value, seed=settings['seed'])

    def prepare_for_submission(self, folder):
        settings = _settings(self.inputs)
        calcinfo = datastructures.CalcInfo()
        calcinfo.local_copy_list = []
        calcinfo.remote_copy_list = []
        calcinfo.remote_symlink_list = []
        segments: list[str] = []
        configuration, restart_from, prepend = None, None, []
        if 'parent_folder' in self.inputs:
            chain = continuation_chain(self.inputs.parent_folder)
            # Copies, not links: LAMMPS must never write into an earlier job's folder.  The restart files of the
            # last jobs of the chain, newest job first; missing ones are skipped at the copy, ones cut short by
            # a kill are deleted before LAMMPS starts, and LAMMPS reads the one holding the largest step.
            restart_from = []
            for generation, calculation in enumerate(chain[::-1][:RESTART_GENERATIONS], start=1):
                remote = _remote_folder(calculation)
                for name in (FINAL_RESTART, *RESTART_NAMES):
                    restart_from.append(RESTART_COPY.format(generation, name))
                    calcinfo.remote_copy_list.append(
                        (remote.computer.uuid, f'{remote.get_remote_path()}/{name}', restart_from[-1]))
            prepend.append(discard_incomplete_restarts(restart_from))
            # earlier trajectory segments are linked (they can be large), oldest first
            for calculation in chain:
                log = retrieved_log(calculation)
                if log is None or not log.trajectory_opened:
                    continue  # stopped before production: no xtc
                segments.append(SEGMENT_NAME.format(len(segments) + 1))
                remote = _remote_folder(calculation)
                calcinfo.remote_symlink_list.append(
                    (remote.computer.uuid, f'{remote.get_remote_path()}/{TRAJECTORY_NAME}', segments[-1]))
        else:
            configuration = self._configuration(settings)
        prepare_run(folder.abspath, self.inputs.potential.potential, self.inputs.mass.value, settings,
                    configuration=configuration, restart_from=restart_from, timeout_seconds=self._timeout_seconds())

        threads = self._threads()
        lammps = datastructures.CodeInfo()
        lammps.code_uuid = self.inputs.code.uuid
        lammps.cmdline_params = lammps_command('lmp', threads)[1:]
        lammps.stdout_name = STDOUT_NAME
        lammps.join_files = True
        lammps.withmpi = bool(self.inputs.metadata.options.get('withmpi'))
        calcinfo.codes_info = [lammps]
        calcinfo.codes_run_mode = datastructures.CodeRunMode.SERIAL
        calcinfo.retrieve_list = [LOG_NAME, FINAL_DATA, STDOUT_NAME]
        # -pk omp sets LAMMPS' threads; the variable keeps libraries (and the descriptors' numpy) to the same
        calcinfo.prepend_text = '\n'.join([f'export OMP_NUM_THREADS={threads}', *prepend])
        # the table and the starting beads are made from input nodes: no second copy in the repository
        calcinfo.provenance_exclude_list = [TABLE_NAME, DATA_NAME]
        if self._with_descriptors():
            calcinfo.codes_info.append(self._descriptors_codeinfo(folder, segments))
            calcinfo.retrieve_list += list(DESCRIPTOR_FILES)
        return calcinfo

    def _descriptors_codeinfo(self, folder, segments: list[str]) -> datastructures.CodeInfo:
        """cgmob-descriptors on all production segments in order, every particle a bead of ``mass``."""
        arguments = segments + descriptor_command(TRAJECTORY_NAME, bead_mass=self.inputs.mass.value)
        codeinfo = descriptors_codeinfo(folder, self.inputs.descriptors.code, self.inputs.descriptors.get('settings'),
                                        arguments)
        codeinfo.withmpi = False  # a serial Python script, also when LAMMPS runs under mpirun
        return codeinfo
