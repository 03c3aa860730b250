"""``cgmob.gromacs.base``: run ``cgmob.gromacs`` and recover from the failures MD really has."""

from __future__ import annotations

import copy

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import BaseRestartWorkChain, ProcessHandlerReport, process_handler, while_
from aiida.plugins import CalculationFactory

from aiida_cgmob.gromacs import stage_mdp
from aiida_cgmob.protocols import load_protocol

__all__ = ['GromacsBaseWorkChain']

GromacsCalculation = CalculationFactory('cgmob.gromacs')

#: The smallest time step (ps) the unstable-integration handler will try before giving up.
MINIMUM_TIME_STEP = 0.00025
_OUTPUT_INTERVALS = ('nstcalcenergy', 'nstenergy', 'nstlog', 'nstxout-compressed')


def halve_time_step(stages: list[dict]) -> tuple[list[dict], float]:
    """Return stages with dt halved in every MD stage (same simulated time, same output times) and a
    minimisation in front that runs twice as long; also return the new smallest dt (ps)."""
    stages = copy.deepcopy(stages)
    smallest = None
    for stage in stages:
        mdp = stage.setdefault('mdp', {})
        if stage['type'] == 'minimise':
            mdp['nsteps'] = 2 * int(stage_mdp(stage)['nsteps'])
            continue
        full = stage_mdp(stage)
        mdp['dt'] = float(full['dt']) / 2
        mdp['nsteps'] = 2 * int(full['nsteps'])
        for key in _OUTPUT_INTERVALS:
            if full.get(key):
                mdp[key] = 2 * int(full[key])
        smallest = mdp['dt'] if smallest is None else min(smallest, mdp['dt'])
    if stages[0]['type'] != 'minimise':
        stages.insert(0, {'name': 'reminimise', 'type': 'minimise', 'mdp': {}})
    return stages, smallest


class GromacsBaseWorkChain(BaseRestartWorkChain):
    """Restart chain around :class:`~aiida_cgmob.calculations.gromacs.GromacsCalculation`.

    * unstable integration (exit 410): re-minimise and rerun with half the time step;
    * out of wall time (exit 400): continue the interrupted stage from its checkpoint;
    * anything else: stop at once, carrying the engine's message.
    """

    _process_class = GromacsCalculation

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.expose_inputs(GromacsCalculation, namespace='gromacs', exclude=('parent_folder', 'resume_stage'))
        spec.expose_outputs(GromacsCalculation)
        spec.outline(
            cls.setup,
            while_(cls.should_run_process)(
                cls.run_process,
                cls.inspect_process,
            ),
            cls.results,
        )
        spec.exit_code(300, 'ERROR_UNRECOVERABLE_FAILURE',
                       message='The calculation failed with an error no handler can fix: {message}')
        spec.exit_code(350, 'ERROR_DESCRIPTORS',
                       message='The MD finished (its outputs are attached) but the descriptors failed: {message}')
        spec.exit_code(310, 'ERROR_TIME_STEP_TOO_SMALL',
                       message='Integration still unstable at dt = {dt} ps: the model itself is probably broken.')

    @classmethod
    def get_builder_from_protocol(
        cls,
        code: orm.AbstractCode,
        structure: orm.SinglefileData,
        topology: orm.SinglefileData,
        protocol: str | None = None,
        temperature: float = 298.15,
        pressure: float = 1.0,
        options: dict | None = None,
        bonded_parameters: orm.Dict | None = None,
        overrides: dict | None = None,
        descriptors_code: orm.AbstractCode | None = None,
        descriptor_settings: dict | None = None,
    ):
        """Return a builder filled from a protocol (``fast``, ``moderate`` (default), ``precise``).

        :param temperature: K, applied to every MD stage (and to velocity generation).
        :param pressure: bar, applied to every NPT stage.
        :param options: ``metadata.options`` of the calculation (resources, wall time, ...).
        :param overrides: ``{'stages': [...]}`` replaces the protocol's stages (temperature and
            pressure are still applied); ``{'settings': {...}}`` sets the calculation's settings.
        :param descriptors_code: the ``cgmob-descriptors`` code: compute the descriptors of the
            production trajectory in the same job, with ``descriptor_settings``.
        """
        if temperature <= 0:
            raise ValueError(f'temperature must be positive (K), got {temperature}')
        overrides = dict(overrides or {})
        unknown = set(overrides) - {'stages', 'settings'}
        if unknown:
            raise ValueError(f'overrides: unknown key(s) {sorted(unknown)}; allowed: stages, settings')
        stages = overrides.get('stages') or load_protocol('gromacs', protocol)['stages']
        stages = [dict(stage, mdp=dict(stage.get('mdp') or {})) for stage in stages]
        for stage in stages:
            mdp = stage.setdefault('mdp', {})
            if stage['type'] != 'minimise':
                mdp['ref-t'] = temperature
            if stage['type'] == 'npt':
                mdp['ref-p'] = pressure
        builder = cls.get_builder()
        builder.gromacs.code = code
        builder.gromacs.structure = structure
        builder.gromacs.topology = topology
        builder.gromacs.parameters = orm.Dict({'stages': stages})
        if bonded_parameters is not None:
            builder.gromacs.bonded_parameters = bonded_parameters
        if descriptors_code is not None:
            builder.gromacs.descriptors.code = descriptors_code
            if descriptor_settings:
                builder.gromacs.descriptors.settings = orm.Dict(descriptor_settings)
        elif descriptor_settings:
            raise ValueError('descriptor_settings were given without a descriptors_code to run them')
        if overrides.get('settings'):
            builder.gromacs.settings = orm.Dict(overrides['settings'])
        builder.gromacs.metadata.options = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1},
                                            **(options or {})}
        return builder

    def setup(self):
        super().setup()
        self.ctx.inputs = AttributeDict(self.exposed_inputs(GromacsCalculation, 'gromacs'))

    def report_error_handled(self, calculation, action: str) -> None:
        self.report(f'{calculation.process_label}<{calculation.pk}> failed with exit status '
                    f'{calculation.exit_status}: {calculation.exit_message}')
        self.report(f'Action taken: {action}')

    @process_handler(priority=600, exit_codes=[GromacsCalculation.exit_codes.ERROR_UNSTABLE_INTEGRATION])
    def handle_unstable_integration(self, calculation):
        """Re-minimise from the starting structure and rerun every stage with half the time step."""
        stages, smallest = halve_time_step(self.ctx.inputs.parameters.get_dict()['stages'])
        if smallest < MINIMUM_TIME_STEP:
            self.report_error_handled(calculation, 'none: the time step cannot be reduced further')
            return ProcessHandlerReport(True, self.exit_codes.ERROR_TIME_STEP_TOO_SMALL.format(dt=smallest))
        self.ctx.inputs.parameters = orm.Dict({'stages': stages})
        self.ctx.inputs.pop('parent_folder', None)
        self.ctx.inputs.pop('resume_stage', None)
        self.report_error_handled(calculation, f're-minimise and rerun all stages with dt = {smallest} ps')
        return ProcessHandlerReport(True)

    @process_handler(priority=500, exit_codes=[GromacsCalculation.exit_codes.ERROR_OUT_OF_WALLTIME])
    def handle_out_of_walltime(self, calculation):
        """Continue the interrupted stage from the checkpoint in the remote folder."""
        stage = calculation.outputs.output_parameters.get('failed_stage')
        self.ctx.inputs.parent_folder = calculation.outputs.remote_folder
        self.ctx.inputs.resume_stage = orm.Str(stage)
        self.report_error_handled(calculation, f'continue stage {stage!r} from its checkpoint')
        return ProcessHandlerReport(True)

    @process_handler(priority=400, exit_codes=[GromacsCalculation.exit_codes.ERROR_DESCRIPTORS])
    def handle_descriptor_failure(self, calculation):
        """The MD is fine: keep its outputs and stop; rerunning MD would not change the trajectory."""
        self.out_many(self.exposed_outputs(calculation, GromacsCalculation))
        remote = calculation.outputs.remote_folder.pk
        self.report_error_handled(calculation, 'none: MD outputs attached; compute the descriptors again with '
                                               f'cgmob.descriptors on RemoteData<{remote}> and other settings')
        return ProcessHandlerReport(True, self.exit_codes.ERROR_DESCRIPTORS.format(message=calculation.exit_message))

    @process_handler(priority=0)
    def handle_unrecoverable_failure(self, calculation):
        """Catch-all: any other failure stops the work chain cleanly with the engine's message."""
        if not calculation.is_failed:
            return None
        self.report_error_handled(calculation, 'none: no handler can fix this failure, stopping')
        message = f'{calculation.process_label}<{calculation.pk}> exit {calculation.exit_status}: ' \
                  f'{calculation.exit_message}'
        return ProcessHandlerReport(True, self.exit_codes.ERROR_UNRECOVERABLE_FAILURE.format(message=message))
