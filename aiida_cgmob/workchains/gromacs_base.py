"""``cgmob.gromacs.base``: run ``cgmob.gromacs`` and recover from the failures MD really has."""

from __future__ import annotations

import copy

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import ProcessHandlerReport, process_handler
from aiida.plugins import CalculationFactory

from aiida_cgmob.gromacs import stage_mdp
from aiida_cgmob.gromacs.mdp import MINIMUM_TIMESTEP

from .base import CgmobBaseRestartWorkChain, exit_code

__all__ = ['GromacsBaseWorkChain', 'scale_time_step', 'with_state_point']

GromacsCalculation = CalculationFactory('cgmob.gromacs')

_OUTPUT_INTERVALS = ('nstcalcenergy', 'nstenergy', 'nstlog', 'nstxout-compressed')


def with_state_point(parameters: orm.Dict, temperature: float, pressure: float) -> orm.Dict:
    """Return ``parameters`` with ``temperature`` (K) in every MD stage and ``pressure`` (bar) in every NPT stage."""
    stages = [dict(stage, mdp=dict(stage.get('mdp') or {})) for stage in parameters['stages']]
    for stage in stages:
        if stage['type'] != 'minimise':
            stage['mdp']['ref-t'] = temperature
        if stage['type'] == 'npt':
            stage['mdp']['ref-p'] = pressure
    return orm.Dict({**parameters.get_dict(), 'stages': stages})


def scale_time_step(stages: list[dict], factor: float = 0.5) -> tuple[list[dict], float]:
    """Stages with dt times ``factor`` (< 1) in every MD stage, the same simulated time and output times.

    The step counts and output intervals grow by 1/factor (rounded), a minimisation in front runs 1/factor as
    long (one is added when the stages do not start with one).  Returns the stages and the new smallest dt (ps).
    """
    stages = copy.deepcopy(stages)
    multiple = round(1 / factor)
    smallest = None
    for stage in stages:
        mdp = stage.setdefault('mdp', {})
        if stage['type'] == 'minimise':
            mdp['nsteps'] = multiple * int(stage_mdp(stage)['nsteps'])
            continue
        full = stage_mdp(stage)
        mdp['dt'] = float(full['dt']) / multiple
        mdp['nsteps'] = multiple * int(full['nsteps'])
        for key in _OUTPUT_INTERVALS:
            if full.get(key):
                mdp[key] = multiple * int(full[key])
        smallest = mdp['dt'] if smallest is None else min(smallest, mdp['dt'])
    if stages[0]['type'] != 'minimise':
        stages.insert(0, {'name': 'reminimise', 'type': 'minimise', 'mdp': {}})
    return stages, smallest


class GromacsBaseWorkChain(CgmobBaseRestartWorkChain):
    """Restart chain around :class:`~aiida_cgmob.calculations.gromacs.GromacsCalculation`.

    * unstable integration (410): re-minimise and rerun every stage with half the time step, down to
      ``defaults.minimum_timestep`` (411 below it);
    * out of wall time (400, or the scheduler's 120): continue the interrupted stage from its checkpoint;
    * descriptors failed after a good run (350): attach the MD outputs and stop;
    * anything else: stop at once (300), carrying the engine's message.
    """

    _process_class = GromacsCalculation
    _namespace = 'gromacs'
    _expose_exclude = ('parent_folder', 'resume_stage')
    _protocol_file = 'gromacs'
    defaults = AttributeDict({**CgmobBaseRestartWorkChain.defaults, 'minimum_timestep': MINIMUM_TIMESTEP})

    @classmethod
    def get_builder_from_protocol(
        cls,
        code: orm.AbstractCode,
        structure: orm.SinglefileData,
        topology: orm.SinglefileData,
        protocol: str | None = None,
        overrides: dict | None = None,
        options: dict | None = None,
        *,
        temperature: float = 298.15,
        pressure: float = 1.0,
        bonded_parameters: orm.Dict | None = None,
        descriptors_code: orm.AbstractCode | None = None,
    ):
        """Return a builder filled from a protocol (``fast``, ``moderate`` (default), ``precise``).

        :param code: the ``gmx`` code; ``structure`` (.gro) and ``topology`` (self-contained .top) of the liquid.
        :param protocol: see ``aiida_cgmob/protocols/gromacs.yaml``.
        :param overrides: inputs merged over the protocol's, as the builder's namespace, e.g.
            ``{'gromacs': {'parameters': {'stages': [...]}}}`` (a list replaces the protocol's) or
            ``{'max_iterations': 30}``; an unknown key raises ValueError naming it.
        :param options: merged over ``gromacs.metadata.options`` (resources, wall time, ...).
        :param temperature: K, written into every MD stage (and velocity generation).
        :param pressure: bar, written into every NPT stage.
        :param bonded_parameters: the sampled parameters the topology was built with (provenance).
        :param descriptors_code: the ``cgmob-descriptors`` code: descriptors of the production trajectory in the
            same job (their settings: ``overrides={'gromacs': {'descriptors': {'settings': {...}}}}``).
        """
        if not temperature > 0:
            raise ValueError(f'temperature must be positive (K), got {temperature}')
        inputs = {'code': code, 'structure': structure, 'topology': topology}
        if bonded_parameters is not None:
            inputs['bonded_parameters'] = bonded_parameters
        builder = cls.protocol_builder(protocol, overrides, options, inputs, descriptors_code)
        builder.gromacs.parameters = with_state_point(builder.gromacs.parameters, temperature, pressure)
        return builder

    def continue_from(self, calculation):
        """Continue the interrupted stage (the production, if the parser found none) from its checkpoint."""
        report = calculation.outputs.output_parameters.get_dict() if 'output_parameters' in calculation.outputs else {}
        stage = report.get('failed_stage') or self.ctx.inputs.parameters.get_dict()['stages'][-1]['name']
        status = {entry['name']: entry.get('status') for entry in report.get('stages', [])}
        if status.get(stage) == 'not reached':  # killed between stages: no checkpoint of this stage to resume
            self.ctx.inputs.pop('parent_folder', None)
            self.ctx.inputs.pop('resume_stage', None)
            return f'start again: the job was stopped before stage {stage!r} ran, which has no checkpoint'
        self.ctx.inputs.parent_folder = calculation.outputs.remote_folder
        self.ctx.inputs.resume_stage = orm.Str(stage)
        return f'continue stage {stage!r} from its checkpoint'

    def progress(self, calculation):
        """(stage, last step) where the job stopped."""
        if 'output_parameters' not in calculation.outputs:
            return None
        report = calculation.outputs.output_parameters.get_dict()
        steps = {entry['name']: entry.get('last_step') for entry in report.get('stages', [])}
        stage = report.get('failed_stage')
        return (stage, steps.get(stage)) if stage else None

    @process_handler(priority=600, exit_codes=[exit_code('ERROR_UNSTABLE_INTEGRATION')])
    def handle_unstable_integration(self, calculation):
        """Re-minimise from the starting structure and rerun every stage with a smaller time step."""
        stages, smallest = scale_time_step(self.ctx.inputs.parameters.get_dict()['stages'],
                                           self.defaults.timestep_factor)
        _, stop = self.reduced_time_step(calculation, smallest / self.defaults.timestep_factor)
        if stop:
            return stop
        self.ctx.inputs.parameters = orm.Dict({'stages': stages})
        self.ctx.inputs.pop('parent_folder', None)
        self.ctx.inputs.pop('resume_stage', None)
        self.ctx.last_progress = None  # steps of the new time step are not comparable with the old ones
        self.report_error_handled(calculation, f're-minimise and rerun all stages with dt = {smallest} ps')
        return ProcessHandlerReport(True)
