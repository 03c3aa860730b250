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
from aiida.engine import calcfunction

from aiida_cgmob.analysis import files as descriptor_files
from aiida_cgmob.data import PotentialData, configuration_node, configuration_of
from aiida_cgmob.exit_codes import define_exit_codes
from aiida_cgmob.lammps import Configuration, LammpsInputError, lattice_configuration, parse_log, prepare_run
from aiida_cgmob.lammps import validate_settings as validate_lammps_settings
from aiida_cgmob.lammps.aa_start import configuration_from_gromacs
from aiida_cgmob.lammps.inputs import (
    DATA_NAME,
    FINAL_DATA,
    FINAL_RESTART,
    LOG_NAME,
    RESTART_NAMES,
    STDOUT_NAME,
    TABLE_NAME,
    TRAJECTORY_NAME,
)
from aiida_cgmob.lammps.outputs import discard_incomplete_restarts
from aiida_cgmob.lammps.run import lammps_command

from .base import (
    CgmobCalcJob,
    continuation_chain,
    descriptor_arguments,
    port_validator,
    positive_value,
    retrieved_text,
    same_computer_error,
)

__all__ = ['LammpsCgCalculation', 'cg_configuration_from_aa']

PROCESS_TYPE = 'aiida.calculations:cgmob.lammps.cg'
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


def _settings(inputs) -> dict:
    return validate_lammps_settings(inputs['settings'].get_dict() if 'settings' in inputs else None)


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


validate_settings = port_validator(lambda node: validate_lammps_settings(node.get_dict()), 'settings',
                                   (LammpsInputError,))
validate_mass = positive_value('mass', 'g/mol (bead mass)')
validate_n_beads = positive_value('n_beads', 'beads', minimum=1)
validate_number_density = positive_value('number_density', 'beads/nm^3')
validate_configuration = port_validator(configuration_of, 'configuration', (LammpsInputError,))


def _start(inputs) -> tuple[str | None, str | None]:
    """Return (the starting point given, or None; an error message, or None)."""
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
    error = same_computer_error('parent_folder', parent, inputs.get('code'),
                                'the restart file is copied on the computer itself')
    if error:
        return error
    try:
        chain = continuation_chain(parent, PROCESS_TYPE)
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
    error = CgmobCalcJob.validate_descriptors_code(inputs)
    if error:
        return error
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


class LammpsCgCalculation(CgmobCalcJob):
    """One-bead CG liquid in LAMMPS with a tabulated potential: minimise, equilibrate, produce (module docstring)."""

    _parser_name = 'cgmob.lammps.cg'

    @classmethod
    def define(cls, spec):
        """Ports, outputs and exit codes (see :mod:`aiida_cgmob.exit_codes`)."""
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
        cls.define_descriptors_namespace(spec)
        spec.inputs.validator = validate_inputs

        spec.output('thermo', valid_type=orm.Dict,
                    help='Production averages (_std: standard deviation, _error: standard error from 5 blocks) with '
                         'units in the key names, n_samples, ensemble, ns_per_day, wall_time_s, warnings, status.')
        spec.output('final_configuration', valid_type=orm.ArrayData,
                    help='Final bead positions (N, 3) and box (3,) in nm, wrapped into the box.')
        spec.default_output_node = 'thermo'
        define_exit_codes(spec, 'ERROR_NO_OUTPUT', 'ERROR_OUTPUT_MISSING', 'ERROR_OUTPUT_UNREADABLE',
                              'ERROR_DESCRIPTORS', 'ERROR_OUT_OF_WALLTIME', 'ERROR_NO_RESTART_FILE',
                              'ERROR_UNSTABLE_INTEGRATION', 'ERROR_ENGINE')

    def _timeout_seconds(self) -> float | None:
        walltime = self.inputs.metadata.options.get('max_wallclock_seconds')
        if not walltime:
            return None
        fraction = TIMEOUT_FRACTION_WITH_DESCRIPTORS if self.with_descriptors else TIMEOUT_FRACTION
        return fraction * walltime

    def _configuration(self, settings: dict) -> Configuration:
        if 'configuration' in self.inputs:
            return configuration_of(self.inputs.configuration)
        return lattice_configuration(self.inputs.n_beads.value, self.inputs.number_density.value, seed=settings['seed'])

    def prepare_for_submission(self, folder):
        """Write the LAMMPS input, table and start (or copy restart files); run lmp, then optionally descriptors."""
        settings = _settings(self.inputs)
        calcinfo = datastructures.CalcInfo()
        calcinfo.local_copy_list = []
        calcinfo.remote_copy_list = []
        calcinfo.remote_symlink_list = []
        segments: list[str] = []
        configuration, restart_from, prepend = None, None, []
        if 'parent_folder' in self.inputs:
            chain = continuation_chain(self.inputs.parent_folder, PROCESS_TYPE)
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
                log = retrieved_text(calculation, LOG_NAME)
                if log is None or not parse_log(log).trajectory_opened:
                    continue  # stopped before production: no xtc
                segments.append(SEGMENT_NAME.format(len(segments) + 1))
                remote = _remote_folder(calculation)
                calcinfo.remote_symlink_list.append(
                    (remote.computer.uuid, f'{remote.get_remote_path()}/{TRAJECTORY_NAME}', segments[-1]))
        else:
            configuration = self._configuration(settings)
        prepare_run(folder.abspath, self.inputs.potential.potential, self.inputs.mass.value, settings,
                    configuration=configuration, restart_from=restart_from, timeout_seconds=self._timeout_seconds())

        threads = self.threads
        lammps = self.engine_codeinfo(self.inputs.code, lammps_command('lmp', threads)[1:], STDOUT_NAME)
        lammps.withmpi = bool(self.inputs.metadata.options.get('withmpi'))
        calcinfo.codes_info = [lammps]
        calcinfo.codes_run_mode = datastructures.CodeRunMode.SERIAL
        calcinfo.retrieve_list = [LOG_NAME, FINAL_DATA, STDOUT_NAME]
        # -pk omp sets LAMMPS' threads; the variable keeps libraries (and the descriptors) to the same
        calcinfo.prepend_text = '\n'.join([self.thread_export, *prepend])
        # the table and the starting beads are made from input nodes: no second copy in the repository
        calcinfo.provenance_exclude_list = [TABLE_NAME, DATA_NAME]
        if self.with_descriptors:
            # all production segments in order, every particle a bead of the run's mass
            arguments = descriptor_arguments([*segments, TRAJECTORY_NAME], bead_mass=self.inputs.mass.value)
            calcinfo.codes_info.append(self.descriptors_codeinfo(folder, arguments))
            calcinfo.retrieve_list += list(descriptor_files.OUTPUT_FILES)
        return calcinfo
