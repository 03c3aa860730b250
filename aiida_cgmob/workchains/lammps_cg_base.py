"""``cgmob.lammps.cg.base``: run ``cgmob.lammps.cg`` and recover from the failures CG MD really has."""

from __future__ import annotations

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import ProcessHandlerReport, process_handler
from aiida.plugins import CalculationFactory

from aiida_cgmob.lammps import validate_settings as validate_lammps_settings
from aiida_cgmob.lammps.inputs import MINIMUM_TIMESTEP

from .base import CgmobBaseRestartWorkChain, exit_code

__all__ = ['LammpsCgBaseWorkChain']

LammpsCgCalculation = CalculationFactory('cgmob.lammps.cg')

#: Inputs that say where a run starts; a continuation replaces them by parent_folder.
START_INPUTS = ('n_beads', 'number_density', 'configuration')


class LammpsCgBaseWorkChain(CgmobBaseRestartWorkChain):
    """Restart chain around :class:`~aiida_cgmob.calculations.lammps_cg.LammpsCgCalculation`.

    * unstable integration (410): start again from the original starting point, minimised, with half the time
      step (intervals are in ps and stay); below ``defaults.minimum_timestep`` it stops with 411;
    * out of wall time or killed (400, or the scheduler's 120): continue from the newest restart file in the
      remote folder; the continuation links the earlier trajectories, so descriptors cover the whole production;
    * no restart file to continue from (405): start again from the original starting point;
    * descriptors failed after a good run (350): attach the MD outputs and stop;
    * anything else: stop at once (300), carrying LAMMPS' message.
    """

    _process_class = LammpsCgCalculation
    _namespace = 'lammps'
    _expose_exclude = ('parent_folder',)
    _protocol_file = 'lammps_cg'
    defaults = AttributeDict({**CgmobBaseRestartWorkChain.defaults, 'minimum_timestep': MINIMUM_TIMESTEP})

    @classmethod
    def get_builder_from_protocol(
        cls,
        code: orm.AbstractCode,
        potential: orm.Data,
        mass: float | orm.Float,
        protocol: str | None = None,
        overrides: dict | None = None,
        options: dict | None = None,
        *,
        n_beads: int | None = None,
        number_density: float | orm.Float | None = None,
        configuration: orm.ArrayData | None = None,
        descriptors_code: orm.AbstractCode | None = None,
    ):
        """Return a builder filled from a protocol (``fast``, ``moderate`` (default), ``precise``).

        :param code: the ``lmp`` code; ``potential``: a ``cgmob.potential`` node; ``mass``: bead mass in g/mol.
        :param protocol: see ``aiida_cgmob/protocols/lammps_cg.yaml``.
        :param overrides: inputs merged over the protocol's, as the builder's namespace, e.g.
            ``{'lammps': {'settings': {'ensemble': 'npt', 'production': 500.0}}}`` (temperature in K, pressure in
            bar, times in ps); an unknown key raises ValueError naming it.
        :param options: merged over ``lammps.metadata.options`` (resources, wall time, ...).
        :param n_beads: lattice start with the protocol's bead count unless given; needs ``number_density``
            (beads/nm^3).  Or give ``configuration`` (positions/box in nm) instead of both.
        :param descriptors_code: the ``cgmob-descriptors`` code: descriptors of the production in the same job
            (the protocol's descriptor settings, or ``overrides={'lammps': {'descriptors': {'settings': ...}}}``).
        """
        if configuration is None and number_density is None:
            raise ValueError('number_density (beads/nm^3) is needed for a lattice start, or give a configuration')
        if configuration is not None and (n_beads is not None or number_density is not None):
            raise ValueError('give either a configuration or n_beads/number_density, not both')
        inputs = {'code': code, 'potential': potential, 'mass': mass}
        if configuration is not None:
            inputs['configuration'] = configuration
        else:
            inputs['number_density'] = number_density
            if n_beads is not None:
                inputs['n_beads'] = n_beads
        builder = cls.protocol_builder(protocol, overrides, options, inputs, descriptors_code)
        if configuration is not None:
            builder.lammps.pop('n_beads', None)
        return builder

    def setup(self):
        """Keep the starting point aside: a fresh start after an unstable continuation needs it."""
        super().setup()
        self.ctx.start = {name: self.ctx.inputs[name] for name in START_INPUTS if name in self.ctx.inputs}

    def _start_afresh(self) -> None:
        self.ctx.inputs.pop('parent_folder', None)
        self.ctx.inputs.update(self.ctx.start)

    def _settings(self) -> dict:
        return validate_lammps_settings(self.ctx.inputs.settings.get_dict() if 'settings' in self.ctx.inputs else None)

    def continue_from(self, calculation):
        """Continue from the newest restart file in the remote folder (the run's earlier steps are kept)."""
        for name in START_INPUTS:
            self.ctx.inputs.pop(name, None)
        self.ctx.inputs.parent_folder = calculation.outputs.remote_folder
        return f'continue from the newest restart file (the run reached step {self.progress(calculation)})'

    def progress(self, calculation):
        """Return the last step the job reached."""
        return calculation.outputs.thermo.get('last_step') if 'thermo' in calculation.outputs else None

    @process_handler(priority=600, exit_codes=[exit_code('ERROR_UNSTABLE_INTEGRATION')])
    def handle_unstable_integration(self, calculation):
        """Start again, minimised, with a smaller time step: the state at a restart file may already be hot."""
        timestep, stop = self.reduced_time_step(calculation, self._settings()['timestep'])
        if stop:
            return stop
        given = self.ctx.inputs.settings.get_dict() if 'settings' in self.ctx.inputs else {}
        self.ctx.inputs.settings = orm.Dict({**given, 'timestep': timestep, 'minimise': True})
        self._start_afresh()
        self.ctx.last_progress = None  # steps of the new time step are not comparable with the old ones
        self.report_error_handled(calculation, f'start again from the original configuration with dt = {timestep} ps')
        return ProcessHandlerReport(True)

    @process_handler(priority=450, exit_codes=[exit_code('ERROR_NO_RESTART_FILE')])
    def handle_no_restart_file(self, calculation):
        """Start again when the interrupted run wrote no restart file before it stopped: nothing to continue.

        The second time (the fresh start was stopped before its first restart file too) more of the same would loop
        until max_iterations: stop with 412 instead, naming what to change.
        """
        self.ctx.no_restart_count = self.ctx.get('no_restart_count', 0) + 1
        if self.ctx.no_restart_count > 1:
            self.report_error_handled(calculation, 'none: jobs stop before their first restart file')
            return ProcessHandlerReport(True, self.exit_codes.ERROR_NO_PROGRESS.format(
                message='jobs are stopped before they write their first restart file: make settings.restart_interval '
                        '(ps) shorter than what one job completes, or give each job a longer wall time'))
        self._start_afresh()
        self.report_error_handled(calculation, 'start again from the original configuration')
        return ProcessHandlerReport(True)
