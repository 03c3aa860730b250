"""``cgmob.gromacs``: all stages of an all-atom GROMACS run (grompp + mdrun each) in one scheduler job."""

from __future__ import annotations

from aiida import orm
from aiida.common import datastructures

from aiida_cgmob.analysis import files as descriptor_files
from aiida_cgmob.exit_codes import define_exit_codes
from aiida_cgmob.gromacs import StageError, grompp_arguments, plan_stages, write_mdp
from aiida_cgmob.gromacs.outputs import read_gro

from .base import CgmobCalcJob, descriptor_arguments

__all__ = ['GromacsCalculation']

ENERGY_TERMS = ('Potential', 'Temperature', 'Pressure', 'Density')
ENERGY_TERMS_FILE = 'energy_terms.txt'
DEFAULT_SETTINGS = {
    'grompp_maxwarn': 0,  # grompp warnings are errors unless the user says otherwise
    'retrieve_trajectory': False,  # trajectories stay in the remote folder
    'checkpoint_minutes': 15.0,  # mdrun -cpt
}


def validate_parameters(value, _):
    if value is None:
        return None
    try:
        plan_stages(value.get_dict().get('stages'))
    except StageError as exception:
        return f'parameters.stages: {exception}'
    unknown = set(value.get_dict()) - {'stages'}
    if unknown:
        return f'parameters: unknown key(s) {sorted(unknown)}; only "stages" is allowed'
    return None


def validate_settings(value, _):
    if value is None:
        return None
    settings = value.get_dict()
    unknown = set(settings) - set(DEFAULT_SETTINGS)
    if unknown:
        return f'settings: unknown key(s) {sorted(unknown)}; allowed: {sorted(DEFAULT_SETTINGS)}'
    maxwarn = settings.get('grompp_maxwarn', 0)
    if isinstance(maxwarn, bool) or not isinstance(maxwarn, int) or maxwarn < 0:
        return f'settings.grompp_maxwarn must be a non-negative integer, got {maxwarn!r}'
    if not isinstance(settings.get('retrieve_trajectory', False), bool):
        return f'settings.retrieve_trajectory must be true or false, got {settings["retrieve_trajectory"]!r}'
    minutes = settings.get('checkpoint_minutes', 15.0)
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or minutes <= 0:
        return f'settings.checkpoint_minutes must be a positive number, got {minutes!r}'
    return None


def validate_structure(value, _):
    """Port validator of the starting structure: a .gro file the one reader accepts."""
    if value is None:
        return None
    try:
        read_gro(value.get_content())
    except ValueError as exception:
        return f'structure {value.filename!r}: {exception}'
    return None


def validate_topology(value, _):
    if value is None:
        return None
    text = value.get_content()
    includes = [line.split()[1].strip('"<>') for line in text.splitlines() if line.strip().startswith('#include')]
    local = [name for name in includes if '.ff/' not in name]
    if local:
        return (f'topology {value.filename!r} includes {local}: pass a self-contained topology (molecules written '
                'inline), as the build_liquid calcfunction produces')
    if '[ molecules ]' not in text.replace('[molecules]', '[ molecules ]'):
        return f'topology {value.filename!r} has no [ molecules ] section'
    return None


def validate_descriptors(inputs) -> str | None:
    """Descriptors in the same job need a trajectory from production and the script on the same computer."""
    error = CgmobCalcJob.validate_descriptors_code(inputs)
    if error:
        return error
    stages = plan_stages(inputs['parameters'].get_dict()['stages'])
    production = stages[-1]
    if not int(production['mdp'].get('nstxout-compressed', 0) or 0):
        return (f'descriptors: the production stage {production["name"]!r} writes no trajectory; set its mdp '
                'nstxout-compressed > 0')
    return None


def validate_inputs(inputs, _):
    options = inputs['metadata']['options']
    if options.get('withmpi'):
        return ('metadata.options.withmpi = True is not supported: grompp must not run under mpirun. Use a '
                'thread-MPI gmx and set resources (num_mpiprocs_per_machine / num_cores_per_mpiproc) for threads')
    if 'resume_stage' in inputs:
        if 'parent_folder' not in inputs:
            return 'resume_stage needs a parent_folder holding the checkpoint of that stage'
        names = [stage['name'] for stage in inputs['parameters'].get_dict()['stages']]
        if inputs['resume_stage'].value not in names:
            return f'resume_stage {inputs["resume_stage"].value!r} is not one of the stages {names}'
    if 'code' in inputs.get('descriptors', {}):
        return validate_descriptors(inputs)
    return None


class GromacsCalculation(CgmobCalcJob):
    """Run minimisation, equilibration and production of an all-atom liquid with GROMACS in one job.

    Each stage is ``gmx grompp`` + ``gmx mdrun``; after the last (production) stage ``gmx energy``
    extracts the thermodynamic time series that the parser averages.  Trajectories stay in the
    remote folder.
    """

    _INPUT_STRUCTURE = 'conf.gro'
    _INPUT_TOPOLOGY = 'topol.top'
    _ENERGY_XVG = 'energy.xvg'
    _parser_name = 'cgmob.gromacs'

    @classmethod
    def define(cls, spec):
        """Ports, outputs and exit codes (see :mod:`aiida_cgmob.exit_codes`)."""
        super().define(spec)
        spec.input('structure', valid_type=orm.SinglefileData, validator=validate_structure,
                   help='Starting coordinates (.gro, nm).')
        spec.input('topology', valid_type=orm.SinglefileData, validator=validate_topology,
                   help='Self-contained GROMACS topology (.top).')
        spec.input('parameters', valid_type=orm.Dict, validator=validate_parameters,
                   help='{"stages": [{"name", "type": minimise|nvt|npt, "mdp": {...}}]}; the last is production.')
        spec.input('settings', valid_type=orm.Dict, required=False, validator=validate_settings,
                   help=f'Optional settings: {sorted(DEFAULT_SETTINGS)}.')
        spec.input('bonded_parameters', valid_type=orm.Dict, required=False,
                   help='The sampled bonded parameters this topology was built with (provenance).')
        spec.input('parent_folder', valid_type=orm.RemoteData, required=False,
                   help='Remote folder of an interrupted run to continue from its checkpoint.')
        spec.input('resume_stage', valid_type=orm.Str, required=False,
                   help='Stage to continue from the checkpoint in parent_folder; earlier stages are reused.')
        cls.define_descriptors_namespace(spec)
        spec.inputs.validator = validate_inputs

        spec.output('output_parameters', valid_type=orm.Dict,
                    help='Per-stage status and ns/day; production averages with standard errors and units.')
        spec.output('structure', valid_type=orm.SinglefileData, help='Final coordinates of production (.gro).')
        spec.output('energy', valid_type=orm.ArrayData, required=False,
                    help='Production time series: time (ps), potential (kJ/mol), temperature (K), pressure (bar), '
                         'density (kg/m^3).')
        spec.default_output_node = 'output_parameters'
        define_exit_codes(spec, 'ERROR_STAGE_NOT_REACHED', 'ERROR_OUTPUT_MISSING', 'ERROR_DESCRIPTORS',
                              'ERROR_OUT_OF_WALLTIME', 'ERROR_INPUT_REFUSED', 'ERROR_UNSTABLE_INTEGRATION',
                              'ERROR_ENGINE')

    def _settings(self) -> dict:
        settings = dict(DEFAULT_SETTINGS)
        if 'settings' in self.inputs:
            settings.update(self.inputs.settings.get_dict())
        return settings

    def prepare_for_submission(self, folder):
        """Write each stage's mdp; grompp + mdrun per stage, gmx energy, optionally the descriptors."""
        settings = self._settings()
        stages = plan_stages(self.inputs.parameters.get_dict()['stages'], self._INPUT_STRUCTURE)
        names = [stage['name'] for stage in stages]
        resume = self.inputs.resume_stage.value if 'resume_stage' in self.inputs else None
        first = names.index(resume) if resume else 0

        calcinfo = datastructures.CalcInfo()
        calcinfo.local_copy_list = [
            (self.inputs.structure.uuid, self.inputs.structure.filename, self._INPUT_STRUCTURE),
            (self.inputs.topology.uuid, self.inputs.topology.filename, self._INPUT_TOPOLOGY),
        ]
        calcinfo.remote_copy_list = []
        if resume:
            parent = self.inputs.parent_folder
            source = parent.get_remote_path()
            for name in names[: first + 1]:
                for pattern in (f'{name}.*', f'{name}_*'):  # this stage's files only, not a namesake's
                    calcinfo.remote_copy_list.append((parent.computer.uuid, f'{source}/{pattern}', '.'))

        walltime = self.inputs.metadata.options.get('max_wallclock_seconds')
        maxh = []
        if walltime:
            # mdrun stops itself (and checkpoints) before the scheduler would kill the job.
            maxh = ['-maxh', f'{0.9 * walltime / 3600:.6f}']

        codes_info = []
        for index, stage in enumerate(stages[first:], start=first):
            name = stage['name']
            with folder.open(f'{name}.mdp', 'w') as handle:
                handle.write(write_mdp(stage['mdp']))
            if index != first or not resume:
                grompp = ['-nobackup', *grompp_arguments(stage, self._INPUT_TOPOLOGY, settings['grompp_maxwarn'])]
                codes_info.append(self.engine_codeinfo(self.inputs.code, grompp, f'{name}_grompp.log'))
            mdrun = ['-nobackup', 'mdrun', '-deffnm', name, '-ntmpi', '1', '-ntomp', str(self.threads)]
            if stage['type'] != 'minimise':
                # -cpi starts afresh when the checkpoint does not exist and continues when it does.
                mdrun += ['-cpi', f'{name}.cpt', '-cpt', str(settings['checkpoint_minutes'])]
            mdrun += maxh
            codes_info.append(self.engine_codeinfo(self.inputs.code, mdrun, f'{name}_mdrun.log'))

        production = names[-1]
        with folder.open(ENERGY_TERMS_FILE, 'w') as handle:
            handle.write('\n'.join(ENERGY_TERMS) + '\n\n')
        energy = self.engine_codeinfo(
            self.inputs.code, ['-nobackup', 'energy', '-f', f'{production}.edr', '-o', self._ENERGY_XVG], 'energy.log')
        energy.stdin_name = ENERGY_TERMS_FILE
        codes_info.append(energy)
        if self.with_descriptors:
            # exactly as a cgmob.descriptors job would run it on this folder
            codes_info.append(self.descriptors_codeinfo(
                folder, descriptor_arguments([f'{production}.xtc'], f'{production}.tpr')))

        calcinfo.codes_info = codes_info
        calcinfo.codes_run_mode = datastructures.CodeRunMode.SERIAL
        if self.with_descriptors:  # the same count as -ntomp, so mdrun sees no contradiction
            calcinfo.prepend_text = self.thread_export
        retrieve = [self._ENERGY_XVG, 'energy.log', f'{production}.gro']
        for name in names:
            retrieve += [f'{name}_grompp.log', f'{name}_mdrun.log', f'{name}.log']
        if self.with_descriptors:
            retrieve += list(descriptor_files.OUTPUT_FILES)
        if settings['retrieve_trajectory']:
            retrieve.append(f'{production}.xtc')
        calcinfo.retrieve_list = retrieve
        return calcinfo
