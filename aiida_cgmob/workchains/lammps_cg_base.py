"""``cgmob.lammps.cg.base``: run ``cgmob.lammps.cg`` and recover from the failures CG MD really has."""

from __future__ import annotations

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import BaseRestartWorkChain, ProcessHandlerReport, process_handler, while_
from aiida.plugins import CalculationFactory

from aiida_cgmob.lammps import validate_settings as validate_lammps_settings
from aiida_cgmob.protocols import load_protocol

__all__ = ['LammpsCgBaseWorkChain']

LammpsCgCalculation = CalculationFactory('cgmob.lammps.cg')

#: The smallest time step (ps) the unstable-integration handler will try before giving up.
MINIMUM_TIME_STEP = 0.0005
#: Inputs that say where a run starts; a continuation replaces them by parent_folder.
START_INPUTS = ('n_beads', 'number_density', 'configuration')


class LammpsCgBaseWorkChain(BaseRestartWorkChain):
    """Restart chain around :class:`~aiida_cgmob.calculations.lammps_cg.LammpsCgCalculation`.

    * unstable integration (exit 410): start again from the original starting point, minimised, with
      half the time step (intervals are in ps and stay); below 0.5 fs it stops with 310;
    * out of wall time or killed (exit 400): continue from the newest restart file in the remote folder;
      the continuation links the earlier trajectories, so descriptors cover the whole production;
    * no restart file to continue from (exit 401): start again from the original starting point;
    * descriptors failed after a good run (exit 350): attach the MD outputs and stop;
    * anything else: stop at once, carrying LAMMPS' message.
    """

    _process_class = LammpsCgCalculation

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.expose_inputs(LammpsCgCalculation, namespace='lammps', exclude=('parent_folder',))
        spec.expose_outputs(LammpsCgCalculation)
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
        spec.exit_code(310, 'ERROR_TIME_STEP_TOO_SMALL',
                       message='Integration still unstable at dt = {dt} ps: the potential or the start is probably '
                               'broken.')
        spec.exit_code(350, 'ERROR_DESCRIPTORS',
                       message='The MD finished (its outputs are attached) but the descriptors failed: {message}')

    @classmethod
    def get_builder_from_protocol(
        cls,
        code: orm.AbstractCode,
        potential: orm.Data,
        mass: float,
        protocol: str | None = None,
        n_beads: int | None = None,
        number_density: float | None = None,
        configuration: orm.ArrayData | None = None,
        descriptors_code: orm.AbstractCode | None = None,
        descriptor_settings: dict | None = None,
        overrides: dict | None = None,
        options: dict | None = None,
    ):
        """Return a builder filled from a protocol (``fast``, ``moderate`` (default), ``precise``).

        :param potential: a ``cgmob.potential`` node; ``mass``: bead mass in g/mol.
        :param n_beads: lattice start with the protocol's bead count unless given; needs ``number_density``
            (beads/nm^3).  Or give ``configuration`` (positions/box in nm) instead of both.
        :param descriptors_code: the ``cgmob-descriptors`` code: descriptors of the production in the same
            job, with ``descriptor_settings`` over the protocol's.
        :param overrides: ``{'settings': {...}}`` over the protocol's LAMMPS settings (e.g. ensemble,
            temperature in K, pressure in bar, timestep in ps).
        :param options: ``metadata.options`` of the calculation (resources, wall time, ...).
        """
        overrides = dict(overrides or {})
        unknown = set(overrides) - {'settings'}
        if unknown:
            raise ValueError(f'overrides: unknown key(s) {sorted(unknown)}; allowed: settings')
        values = load_protocol('lammps_cg', protocol)
        settings = {**values.get('settings', {}), **(overrides.get('settings') or {})}
        validate_lammps_settings(settings)  # fails here, naming the field, rather than at submission
        if configuration is None and number_density is None:
            raise ValueError('number_density (beads/nm^3) is needed for a lattice start, or give a configuration')
        if configuration is not None and (n_beads is not None or number_density is not None):
            raise ValueError('give either a configuration or n_beads/number_density, not both')
        builder = cls.get_builder()
        builder.lammps.code = code
        builder.lammps.potential = potential
        builder.lammps.mass = orm.Float(mass)
        builder.lammps.settings = orm.Dict(settings)
        if configuration is not None:
            builder.lammps.configuration = configuration
        else:
            builder.lammps.n_beads = orm.Int(n_beads if n_beads is not None else values['n_beads'])
            builder.lammps.number_density = orm.Float(number_density)
        if descriptors_code is not None:
            builder.lammps.descriptors.code = descriptors_code
            merged = {**values.get('descriptor_settings', {}), **(descriptor_settings or {})}
            if merged:
                builder.lammps.descriptors.settings = orm.Dict(merged)
        elif descriptor_settings:
            raise ValueError('descriptor_settings were given without a descriptors_code to run them')
        builder.lammps.metadata.options = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1},
                                           **(options or {})}
        return builder

    def setup(self):
        super().setup()
        self.ctx.inputs = AttributeDict(self.exposed_inputs(LammpsCgCalculation, 'lammps'))
        # kept aside: a fresh start after an unstable continuation needs the original starting point
        self.ctx.start = {name: self.ctx.inputs[name] for name in START_INPUTS if name in self.ctx.inputs}

    def _start_afresh(self) -> None:
        self.ctx.inputs.pop('parent_folder', None)
        self.ctx.inputs.update(self.ctx.start)

    def _settings(self) -> dict:
        return validate_lammps_settings(self.ctx.inputs.settings.get_dict() if 'settings' in self.ctx.inputs else None)

    def report_error_handled(self, calculation, action: str) -> None:
        self.report(f'{calculation.process_label}<{calculation.pk}> failed with exit status '
                    f'{calculation.exit_status}: {calculation.exit_message}')
        self.report(f'Action taken: {action}')

    @process_handler(priority=600, exit_codes=[LammpsCgCalculation.exit_codes.ERROR_UNSTABLE_INTEGRATION])
    def handle_unstable_integration(self, calculation):
        """Start again, minimised, with half the time step: the state at a restart file may already be hot."""
        settings = self._settings()
        timestep = settings['timestep'] / 2
        if timestep < MINIMUM_TIME_STEP:
            self.report_error_handled(calculation, 'none: the time step cannot be reduced further')
            return ProcessHandlerReport(True, self.exit_codes.ERROR_TIME_STEP_TOO_SMALL.format(dt=timestep))
        given = self.ctx.inputs.settings.get_dict() if 'settings' in self.ctx.inputs else {}
        self.ctx.inputs.settings = orm.Dict({**given, 'timestep': timestep, 'minimise': True})
        self._start_afresh()
        self.report_error_handled(calculation, f'start again from the original configuration with dt = {timestep} ps')
        return ProcessHandlerReport(True)

    @process_handler(priority=500, exit_codes=[LammpsCgCalculation.exit_codes.ERROR_OUT_OF_WALLTIME])
    def handle_out_of_walltime(self, calculation):
        """Continue from the newest restart file in the remote folder (the run's earlier steps are kept)."""
        for name in START_INPUTS:
            self.ctx.inputs.pop(name, None)
        self.ctx.inputs.parent_folder = calculation.outputs.remote_folder
        step = calculation.outputs.thermo.get('last_step') if 'thermo' in calculation.outputs else None
        self.report_error_handled(calculation, f'continue from the newest restart file (the run reached step {step})')
        return ProcessHandlerReport(True)

    @process_handler(priority=450, exit_codes=[LammpsCgCalculation.exit_codes.ERROR_NO_RESTART_FILE])
    def handle_no_restart_file(self, calculation):
        """The interrupted run wrote no restart file before it stopped: nothing to continue, start again."""
        self._start_afresh()
        self.report_error_handled(calculation, 'start again from the original configuration')
        return ProcessHandlerReport(True)

    @process_handler(priority=400, exit_codes=[LammpsCgCalculation.exit_codes.ERROR_DESCRIPTORS])
    def handle_descriptor_failure(self, calculation):
        """The MD is fine: keep its outputs and stop; rerunning MD would not change the trajectory."""
        self.out_many(self.exposed_outputs(calculation, LammpsCgCalculation))
        self.report_error_handled(calculation, 'none: MD outputs attached; compute the descriptors again with '
                                               'other settings (cgmob-descriptors on the remote folder)')
        return ProcessHandlerReport(True, self.exit_codes.ERROR_DESCRIPTORS.format(message=calculation.exit_message))

    @process_handler(priority=0)
    def handle_unrecoverable_failure(self, calculation):
        """Catch-all: any other failure stops the work chain cleanly with LAMMPS' message."""
        if not calculation.is_failed:
            return None
        self.report_error_handled(calculation, 'none: no handler can fix this failure, stopping')
        message = f'{calculation.process_label}<{calculation.pk}> exit {calculation.exit_status}: ' \
                  f'{calculation.exit_message}'
        return ProcessHandlerReport(True, self.exit_codes.ERROR_UNRECOVERABLE_FAILURE.format(message=message))
