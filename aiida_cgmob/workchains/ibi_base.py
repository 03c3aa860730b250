"""``cgmob.ibi.base``: run ``cgmob.ibi`` and continue it from its checkpoint when the wall time stops it."""

from __future__ import annotations

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import BaseRestartWorkChain, ProcessHandlerReport, calcfunction, process_handler, while_
from aiida.plugins import CalculationFactory

from aiida_cgmob.protocols import load_protocol

__all__ = ['IbiBaseWorkChain', 'descriptor_outputs', 'ibi_inputs_from_descriptors', 'number_density_of']

IbiCalculation = CalculationFactory('cgmob.ibi')

DESCRIPTOR_NAMES = ('rdf', 'msd', 'diffusion', 'density', 'mass')
OVERRIDE_KEYS = ('settings', 'lammps_settings', 'seed')


@calcfunction
def number_density_of(density: orm.Dict) -> orm.Float:
    """The number density (nm^-3) of a descriptors ``density`` output, as a node with provenance."""
    return orm.Float(density['number_density'])


def descriptor_outputs(node: orm.ProcessNode) -> dict:
    """The descriptor outputs (rdf, msd, diffusion, density, mass) of ``node``: a cgmob.descriptors job, or an
    MD calculation or work chain that computed them in its ``descriptors`` namespace; ValueError if none."""
    if not isinstance(node, orm.ProcessNode):
        raise ValueError(f'{node.__class__.__name__}<{node.pk}> has no descriptor outputs: give a cgmob.descriptors '
                         'calculation, or an MD calculation or work chain that computed its descriptors')
    outputs = node.outputs.descriptors if 'descriptors' in node.outputs else node.outputs
    found = {name: outputs[name] for name in DESCRIPTOR_NAMES if name in outputs}
    if set(found) != set(DESCRIPTOR_NAMES):
        raise ValueError(f'{node.__class__.__name__}<{node.pk}> has no descriptor outputs (found '
                         f'{sorted(found) or "none"}); compute them with `aiida-cgmob descriptors run {node.pk}`')
    return found


def _gromacs_temperature(node: orm.ProcessNode) -> float | None:
    """ref-t (K) of the production stage of the cgmob.gromacs run behind ``node``, or None if there is none."""
    from aiida_cgmob.gromacs import plan_stages

    if (node.process_type or '').endswith(':cgmob.descriptors') and 'parent_folder' in node.inputs:
        node = node.inputs.parent_folder.creator or node
    process_type = node.process_type or ''
    if process_type.endswith(':cgmob.gromacs'):
        parameters = node.inputs.parameters
    elif process_type.endswith(':cgmob.gromacs.base'):
        parameters = node.inputs.gromacs.parameters
    else:
        return None
    try:
        value = plan_stages(parameters.get_dict()['stages'])[-1]['mdp']['ref-t']
        return float(str(value).split()[0])
    except (KeyError, ValueError, IndexError, TypeError):
        return None


def ibi_inputs_from_descriptors(node: orm.ProcessNode) -> dict:
    """``target``, ``mass`` and ``number_density`` of a descriptors-producing node (and its ``temperature``, K,
    when it was a cgmob.gromacs run): the all-atom g(r) becomes the target of the inversion at its density."""
    outputs = descriptor_outputs(node)
    result = {'target': outputs['rdf'], 'mass': outputs['mass'],
              'number_density': number_density_of(outputs['density'])}
    temperature = _gromacs_temperature(node)
    if temperature is not None:
        result['temperature'] = temperature
    return result


class IbiBaseWorkChain(BaseRestartWorkChain):
    """Restart chain around :class:`~aiida_cgmob.calculations.ibi.IbiCalculation`.

    * out of wall time (exit 400): continue from the checkpoint in the remote folder (parent_folder);
      the next job starts at the first iteration the checkpoint did not complete;
    * not converged (430) or diverged (410): stop with that exit code, keeping the outputs (the best
      potential and the history);
    * final descriptors failed (350): stop with 350, keeping the outputs;
    * anything else: stop with the calculation's message.
    """

    _process_class = IbiCalculation

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.expose_inputs(IbiCalculation, namespace='ibi')
        spec.expose_outputs(IbiCalculation)
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
        spec.exit_code(310, 'ERROR_NO_PROGRESS',
                       message='The continued job stopped again without completing an iteration ({iterations} done): '
                               'give it a longer wall time or shorter iterations.')
        spec.exit_code(350, 'ERROR_DESCRIPTORS',
                       message='The inversion converged (outputs attached) but the final descriptors failed: {message}')
        spec.exit_code(410, 'ERROR_DIVERGED', message='The inversion diverged (best potential attached): {message}')
        spec.exit_code(430, 'ERROR_NOT_CONVERGED',
                       message='Not converged within max_iterations (best potential attached): {message}')

    @classmethod
    def get_builder_from_protocol(
        cls,
        code: orm.AbstractCode,
        lammps_code: orm.AbstractCode,
        target: orm.XyData,
        mass: float | orm.Float,
        number_density: float | orm.Float,
        n_beads: int | orm.Int | None = None,
        protocol: str | None = 'moderate',
        overrides: dict | None = None,
        options: dict | None = None,
        temperature: float | None = None,
        initial_potential: orm.Data | None = None,
    ):
        """Return a builder filled from a protocol (``fast``, ``moderate`` (default), ``precise``; see ibi.yaml).

        :param mass: bead mass (g/mol); :param number_density: beads per nm^3; nodes are used as they are
            (provenance), numbers become new nodes.
        :param n_beads: beads of the CG box [default: the protocol's].
        :param overrides: ``{'settings': {...}, 'lammps_settings': {...}}`` merged over the protocol's,
            ``{'seed': int}``.
        :param options: ``metadata.options`` of the calculation (resources, wall time, threads, ...).
        :param temperature: K, for both the inversion (kT) and the LAMMPS thermostat [default 298.15].
        :param initial_potential: a PotentialData to start from instead of the initial guess.
        """
        overrides = dict(overrides or {})
        unknown = set(overrides) - set(OVERRIDE_KEYS)
        if unknown:
            raise ValueError(f'overrides: unknown key(s) {sorted(unknown)}; allowed: {", ".join(OVERRIDE_KEYS)}')
        data = load_protocol('ibi', protocol)
        settings = {**data.get('settings', {}), **(overrides.get('settings') or {})}
        lammps_settings = {**data.get('lammps_settings', {}), **(overrides.get('lammps_settings') or {})}
        if temperature is not None:
            if not temperature > 0:
                raise ValueError(f'temperature must be positive (K), got {temperature}')
            settings['temperature'] = lammps_settings['temperature'] = float(temperature)
        builder = cls.get_builder()
        builder.ibi.code = code
        builder.ibi.lammps_code = lammps_code
        builder.ibi.target = target
        builder.ibi.mass = mass if isinstance(mass, orm.Float) else orm.Float(mass)
        builder.ibi.number_density = (number_density if isinstance(number_density, orm.Float)
                                      else orm.Float(number_density))
        n_beads = data['n_beads'] if n_beads is None else n_beads
        builder.ibi.n_beads = n_beads if isinstance(n_beads, orm.Int) else orm.Int(n_beads)
        builder.ibi.settings = orm.Dict(settings)
        builder.ibi.lammps_settings = orm.Dict(lammps_settings)
        if 'seed' in overrides:
            builder.ibi.seed = orm.Int(overrides['seed'])
        if initial_potential is not None:
            builder.ibi.initial_potential = initial_potential
        builder.ibi.metadata.options = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1},
                                        **(options or {})}
        return builder

    @classmethod
    def get_builder_from_descriptors(cls, code: orm.AbstractCode, lammps_code: orm.AbstractCode,
                                     node: orm.ProcessNode, n_beads: int | None = None, protocol: str | None = None,
                                     overrides: dict | None = None, options: dict | None = None,
                                     temperature: float | None = None):
        """A protocol builder whose target, mass and number density (and temperature, for a GROMACS run) are
        the descriptors of ``node``: a cgmob.descriptors job, or a cgmob.gromacs run or work chain with them."""
        found = ibi_inputs_from_descriptors(node)
        return cls.get_builder_from_protocol(
            code, lammps_code, found['target'], found['mass'], found['number_density'], n_beads, protocol,
            overrides, options, temperature if temperature is not None else found.get('temperature'))

    def setup(self):
        super().setup()
        self.ctx.inputs = AttributeDict(self.exposed_inputs(IbiCalculation, 'ibi'))
        self.ctx.checkpoint_iterations = None

    def report_error_handled(self, calculation, action: str) -> None:
        self.report(f'{calculation.process_label}<{calculation.pk}> failed with exit status '
                    f'{calculation.exit_status}: {calculation.exit_message}')
        self.report(f'Action taken: {action}')

    def _stop_keeping_outputs(self, calculation, exit_code, action: str) -> ProcessHandlerReport:
        self.out_many(self.exposed_outputs(calculation, IbiCalculation))
        self.report_error_handled(calculation, action)
        return ProcessHandlerReport(True, exit_code.format(message=calculation.exit_message))

    @process_handler(priority=600, exit_codes=[IbiCalculation.exit_codes.ERROR_OUT_OF_WALLTIME])
    def handle_out_of_walltime(self, calculation):
        """Continue from the checkpoint in the remote folder: the next job starts where this one stopped."""
        iterations = calculation.outputs.result['iterations'] if 'result' in calculation.outputs else None
        if iterations is not None and iterations == self.ctx.checkpoint_iterations:
            self.report_error_handled(calculation, 'none: no iteration completed since the last continuation')
            return ProcessHandlerReport(True, self.exit_codes.ERROR_NO_PROGRESS.format(iterations=iterations))
        self.ctx.checkpoint_iterations = iterations
        self.ctx.inputs.parent_folder = calculation.outputs.remote_folder
        self.report_error_handled(calculation, f'continue from the checkpoint after {iterations} iteration(s) in '
                                               f'RemoteData<{calculation.outputs.remote_folder.pk}>')
        return ProcessHandlerReport(True)

    @process_handler(priority=500, exit_codes=[IbiCalculation.exit_codes.ERROR_NOT_CONVERGED])
    def handle_not_converged(self, calculation):
        """Stop with 430, keeping the best potential and the history (continue with more iterations by hand)."""
        remote = calculation.outputs.remote_folder.pk
        return self._stop_keeping_outputs(calculation, self.exit_codes.ERROR_NOT_CONVERGED,
                                          'none: best potential attached; continue with a larger max_iterations and '
                                          f'parent_folder = RemoteData<{remote}>')

    @process_handler(priority=500, exit_codes=[IbiCalculation.exit_codes.ERROR_DIVERGED])
    def handle_diverged(self, calculation):
        """Stop with 410, keeping the best potential: a smaller alpha or more sampling is a decision for a person."""
        return self._stop_keeping_outputs(calculation, self.exit_codes.ERROR_DIVERGED,
                                          'none: best potential attached; restart from it with a smaller alpha or '
                                          'longer runs per iteration')

    @process_handler(priority=400, exit_codes=[IbiCalculation.exit_codes.ERROR_DESCRIPTORS])
    def handle_descriptor_failure(self, calculation):
        """The potential is fine: keep the outputs and stop; rerunning the inversion would not fix descriptors."""
        remote = calculation.outputs.remote_folder.pk
        return self._stop_keeping_outputs(calculation, self.exit_codes.ERROR_DESCRIPTORS,
                                          'none: outputs attached; compute the descriptors again with cgmob.lammps.cg '
                                          f'or cgmob.descriptors (the final run is in RemoteData<{remote}>)')

    @process_handler(priority=0)
    def handle_unrecoverable_failure(self, calculation):
        """Catch-all: any other failure stops the work chain cleanly with the calculation's message."""
        if not calculation.is_failed:
            return None
        self.out_many(self.exposed_outputs(calculation, IbiCalculation))  # what the iterations made, if any
        self.report_error_handled(calculation, 'none: no handler can fix this failure, stopping')
        message = f'{calculation.process_label}<{calculation.pk}> exit {calculation.exit_status}: ' \
                  f'{calculation.exit_message}'
        return ProcessHandlerReport(True, self.exit_codes.ERROR_UNRECOVERABLE_FAILURE.format(message=message))
