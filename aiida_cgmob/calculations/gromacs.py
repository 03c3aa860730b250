"""``cgmob.gromacs``: all stages of an all-atom GROMACS run (grompp + mdrun each) in one scheduler job."""

from __future__ import annotations

from aiida import orm
from aiida.common import datastructures
from aiida.engine import CalcJob

from aiida_cgmob.gromacs import StageError, grompp_arguments, plan_stages, write_mdp
from aiida_cgmob.parsers.descriptors import DESCRIPTOR_FILES, define_descriptor_outputs

from .descriptors import descriptor_command, descriptors_codeinfo, validate_descriptor_settings_node

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
    if value is None:
        return None
    with value.open() as handle:
        lines = handle.read().strip().splitlines()
    try:
        n_atoms = int(lines[1])
        box = [float(v) for v in lines[-1].split()[:3]]
    except (IndexError, ValueError):
        return f'structure {value.filename!r} is not a .gro file (atom count on line 2, box on the last line)'
    if len(lines) != n_atoms + 3:
        return f'structure {value.filename!r} declares {n_atoms} atoms but holds {len(lines) - 3} atom lines'
    if len(box) != 3 or min(box) <= 0:
        return f'structure {value.filename!r} has no valid box on its last line: {lines[-1]!r}'
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
    code = inputs['descriptors']['code']
    if code.computer is not None and 'code' in inputs and code.computer.pk != inputs['code'].computer.pk:
        return (f'descriptors.code {code.full_label!r} is not on the computer of code {inputs["code"].full_label!r}: '
                'both run in the same job')
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


class GromacsCalculation(CalcJob):
    """Run minimisation, equilibration and production of an all-atom liquid with GROMACS in one job.

    Each stage is ``gmx grompp`` + ``gmx mdrun``; after the last (production) stage ``gmx energy``
    extracts the thermodynamic time series that the parser averages.  Trajectories stay in the
    remote folder.
    """

    _INPUT_STRUCTURE = 'conf.gro'
    _INPUT_TOPOLOGY = 'topol.top'
    _ENERGY_XVG = 'energy.xvg'

    @classmethod
    def define(cls, spec):
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
        spec.input_namespace('descriptors', required=False, populate_defaults=False,
                             help='Compute the descriptors of the production trajectory in the same job.')
        spec.input('descriptors.code', valid_type=orm.AbstractCode, required=False,
                   help='The cgmob-descriptors code, on the same computer as code.')
        spec.input('descriptors.settings', valid_type=orm.Dict, required=False,
                   validator=validate_descriptor_settings_node,
                   help='Settings of cgmob-descriptors (as for cgmob.descriptors).')
        spec.inputs.validator = validate_inputs
        spec.inputs['metadata']['options']['resources'].default = {'num_machines': 1, 'num_mpiprocs_per_machine': 1}
        spec.inputs['metadata']['options']['parser_name'].default = 'cgmob.gromacs'

        spec.output('output_parameters', valid_type=orm.Dict,
                    help='Per-stage status and ns/day; production averages with standard errors and units.')
        spec.output('structure', valid_type=orm.SinglefileData, help='Final coordinates of production (.gro).')
        spec.output('energy', valid_type=orm.ArrayData, required=False,
                    help='Production time series: time (ps), potential (kJ/mol), temperature (K), pressure (bar), '
                         'density (kg/m^3).')
        define_descriptor_outputs(spec, namespace='descriptors', required=False)
        spec.default_output_node = 'output_parameters'

        # 3xx: outputs missing or unreadable
        spec.exit_code(301, 'ERROR_STAGE_NOT_REACHED', invalidates_cache=True,
                       message='Stage {stage} left no output: the job stopped before it ran.')
        spec.exit_code(302, 'ERROR_OUTPUT_STRUCTURE_MISSING', invalidates_cache=True,
                       message='The final structure {filename} of the production stage is missing.')
        spec.exit_code(303, 'ERROR_ENERGY_OUTPUT_MISSING', invalidates_cache=True,
                       message='The energy time series of the production stage is missing or unreadable: {error}')
        spec.exit_code(350, 'ERROR_DESCRIPTORS',
                       message='The run finished but its descriptors failed ({kind}): {error}')
        # 4xx: run failures
        spec.exit_code(400, 'ERROR_OUT_OF_WALLTIME', invalidates_cache=True,
                       message='Stage {stage} stopped at step {step} when the wall time ran out; its checkpoint is in '
                               'the remote folder.')
        spec.exit_code(401, 'ERROR_GROMPP', invalidates_cache=True,
                       message='grompp refused stage {stage}: {error}')
        spec.exit_code(410, 'ERROR_UNSTABLE_INTEGRATION', invalidates_cache=True,
                       message='The integration became unstable in stage {stage}: {error}')
        spec.exit_code(420, 'ERROR_MDRUN', invalidates_cache=True,
                       message='mdrun failed in stage {stage}: {error}')

    def _settings(self) -> dict:
        settings = dict(DEFAULT_SETTINGS)
        if 'settings' in self.inputs:
            settings.update(self.inputs.settings.get_dict())
        return settings

    def _mdrun_threads(self) -> int:
        resources = self.inputs.metadata.options.resources
        per_machine = resources.get('num_mpiprocs_per_machine') or resources.get('tot_num_mpiprocs') or 1
        return int(per_machine) * int(resources.get('num_cores_per_mpiproc') or 1)

    def prepare_for_submission(self, folder):
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
        code_uuid = self.inputs.code.uuid
        for index, stage in enumerate(stages[first:], start=first):
            name = stage['name']
            with folder.open(f'{name}.mdp', 'w') as handle:
                handle.write(write_mdp(stage['mdp']))
            if index != first or not resume:
                grompp = ['-nobackup', *grompp_arguments(stage, self._INPUT_TOPOLOGY, settings['grompp_maxwarn'])]
                codes_info.append(self._codeinfo(code_uuid, grompp, f'{name}_grompp.log'))
            mdrun = ['-nobackup', 'mdrun', '-deffnm', name, '-ntmpi', '1', '-ntomp', str(self._mdrun_threads())]
            if stage['type'] != 'minimise':
                # -cpi starts afresh when the checkpoint does not exist and continues when it does.
                mdrun += ['-cpi', f'{name}.cpt', '-cpt', str(settings['checkpoint_minutes'])]
            mdrun += maxh
            codes_info.append(self._codeinfo(code_uuid, mdrun, f'{name}_mdrun.log'))

        production = names[-1]
        with folder.open(ENERGY_TERMS_FILE, 'w') as handle:
            handle.write('\n'.join(ENERGY_TERMS) + '\n\n')
        energy = self._codeinfo(code_uuid, ['-nobackup', 'energy', '-f', f'{production}.edr', '-o', self._ENERGY_XVG],
                                'energy.log')
        energy.stdin_name = ENERGY_TERMS_FILE
        codes_info.append(energy)
        if 'code' in self.inputs.get('descriptors', {}):
            codes_info.append(self._descriptors_codeinfo(folder, production))

        calcinfo.codes_info = codes_info
        calcinfo.codes_run_mode = datastructures.CodeRunMode.SERIAL
        retrieve = [self._ENERGY_XVG, 'energy.log', f'{production}.gro']
        for name in names:
            retrieve += [f'{name}_grompp.log', f'{name}_mdrun.log', f'{name}.log']
        if 'code' in self.inputs.get('descriptors', {}):
            retrieve += list(DESCRIPTOR_FILES)
        if settings['retrieve_trajectory']:
            retrieve.append(f'{production}.xtc')
        calcinfo.retrieve_list = retrieve
        return calcinfo

    def _descriptors_codeinfo(self, folder, production: str) -> datastructures.CodeInfo:
        """cgmob-descriptors on the production trajectory, exactly as a cgmob.descriptors job would run it."""
        return descriptors_codeinfo(folder, self.inputs.descriptors.code, self.inputs.descriptors.get('settings'),
                                    descriptor_command(f'{production}.xtc', f'{production}.tpr'))

    @staticmethod
    def _codeinfo(code_uuid: str, cmdline: list[str], log: str) -> datastructures.CodeInfo:
        codeinfo = datastructures.CodeInfo()
        codeinfo.code_uuid = code_uuid
        codeinfo.cmdline_params = cmdline
        codeinfo.stdout_name = log
        codeinfo.join_files = True
        return codeinfo

