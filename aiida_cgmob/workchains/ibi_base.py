"""``cgmob.ibi.base``: run ``cgmob.ibi`` and continue it from its checkpoint when the wall time stops it."""

from __future__ import annotations

from aiida import orm
from aiida.engine import calcfunction, process_handler
from aiida.plugins import CalculationFactory

from aiida_cgmob.exit_codes import define_exit_codes
from aiida_cgmob.protocols import recursive_merge

from .base import CgmobBaseRestartWorkChain, exit_code

__all__ = ['IbiBaseWorkChain', 'descriptor_outputs', 'ibi_inputs_from_descriptors', 'number_density_of']

IbiCalculation = CalculationFactory('cgmob.ibi')

DESCRIPTOR_NAMES = ('rdf', 'msd', 'diffusion', 'density', 'mass')


@calcfunction
def number_density_of(density: orm.Dict) -> orm.Float:
    """Return the number density (nm^-3) of a descriptors ``density`` output, as a node with provenance."""
    return orm.Float(density['number_density'])


def descriptor_outputs(node: orm.ProcessNode) -> dict:
    """Return the descriptor outputs (rdf, msd, diffusion, density, mass) of ``node``.

    ``node`` is a cgmob.descriptors job, or an MD calculation or work chain that computed them in its
    ``descriptors`` namespace; ValueError if it has none.
    """
    if not isinstance(node, orm.ProcessNode):
        raise ValueError(f'{node.__class__.__name__}<{node.pk}> has no descriptor outputs: give a cgmob.descriptors '
                         'calculation, or an MD calculation or work chain that computed its descriptors')
    outputs = node.outputs.descriptors if 'descriptors' in node.outputs else node.outputs
    found = {name: outputs[name] for name in DESCRIPTOR_NAMES if name in outputs}
    if set(found) != set(DESCRIPTOR_NAMES):
        raise ValueError(f'{node.__class__.__name__}<{node.pk}> has no descriptor outputs (found '
                         f'{sorted(found) or "none"}); compute them with `aiida-cgmob descriptors run {node.pk}`')
    return found


def _gromacs_production(node: orm.ProcessNode) -> dict | None:
    """Return the complete mdp of the production stage of the cgmob.gromacs run behind ``node``, or None."""
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
        return plan_stages(parameters.get_dict()['stages'])[-1]['mdp']
    except (KeyError, ValueError, IndexError, TypeError):
        return None


def _mdp_number(mdp: dict, key: str) -> float | None:
    try:
        return float(str(mdp[key]).split()[0])  # one value per coupling group: they are equal here
    except (KeyError, ValueError, IndexError):
        return None


def _gromacs_state(node: orm.ProcessNode) -> dict:
    """Return the state point of the production stage of the cgmob.gromacs run behind ``node``.

    ``temperature`` (K, ref-t) and, at constant pressure, ``pressure`` (bar, ref-p); unknown keys are left out.
    """
    mdp = _gromacs_production(node)
    if mdp is None:
        return {}
    state = {'temperature': _mdp_number(mdp, 'ref-t')}
    if str(mdp.get('pcoupl', 'no')).lower() not in ('no', 'none'):
        state['pressure'] = _mdp_number(mdp, 'ref-p')
    return {name: value for name, value in state.items() if value is not None}


def ibi_inputs_from_descriptors(node: orm.ProcessNode) -> dict:
    """Return ``target``, ``mass`` and ``number_density`` of a descriptors-producing node.

    Also its ``temperature`` (K) when it was a cgmob.gromacs run, and its ``pressure`` (bar) when that run's
    production held the pressure: the all-atom g(r) becomes the target of the inversion at its density,
    temperature and pressure.
    """
    outputs = descriptor_outputs(node)
    result = {'target': outputs['rdf'], 'mass': outputs['mass'],
              'number_density': number_density_of(outputs['density'])}
    return {**result, **_gromacs_state(node)}


class IbiBaseWorkChain(CgmobBaseRestartWorkChain):
    """Restart chain around :class:`~aiida_cgmob.calculations.ibi.IbiCalculation`.

    * out of wall time (400, or the scheduler's 120): continue from the checkpoint in the remote folder
      (parent_folder); the next job starts at the first iteration the checkpoint did not complete; a
      continuation that completed no iteration stops with 412;
    * not converged (441) or diverged (440): stop with that exit code and the job's message, keeping the outputs
      (the best potential and the history): a recorded, queryable outcome;
    * final descriptors failed (350): stop with 350, keeping the outputs;
    * anything else: stop (300) with the calculation's message, keeping what the iterations made.
    """

    _process_class = IbiCalculation
    _namespace = 'ibi'
    _protocol_file = 'ibi'

    @classmethod
    def define(cls, spec):
        """Define the base chain plus the outcomes of an inversion that ran but did not reach its tolerance."""
        super().define(spec)
        define_exit_codes(spec, 'ERROR_DIVERGED', 'ERROR_NOT_CONVERGED')

    @classmethod
    def get_builder_from_protocol(
        cls,
        code: orm.AbstractCode,
        lammps_code: orm.AbstractCode,
        target: orm.XyData,
        protocol: str | None = None,
        overrides: dict | None = None,
        options: dict | None = None,
        *,
        mass: float | orm.Float,
        number_density: float | orm.Float,
        n_beads: int | orm.Int | None = None,
        temperature: float | None = None,
        initial_potential: orm.Data | None = None,
    ):
        """Return a builder filled from a protocol (``fast``, ``moderate`` (default), ``precise``; see ibi.yaml).

        :param code: the ``cgmob-ibi`` code; ``lammps_code``: ``lmp`` on the same computer.
        :param target: the target g(r) (x = r in nm, y = g), e.g. the ``rdf`` of a descriptors run.
        :param overrides: inputs merged over the protocol's, as the builder's namespace, e.g.
            ``{'ibi': {'settings': {'method': 'ibi'}, 'lammps_settings': {...}, 'seed': 3}}``; an unknown key
            raises ValueError naming it.
        :param options: merged over ``ibi.metadata.options`` (resources, wall time, threads, ...).
        :param mass: bead mass (g/mol); ``number_density``: beads per nm^3; nodes are used as they are
            (provenance), numbers become new nodes.
        :param n_beads: beads of the CG box [default: the protocol's].
        :param temperature: K, for both the inversion (kT) and the LAMMPS thermostat [default 298.15].
        :param initial_potential: a PotentialData to start from instead of the initial guess.
        """
        inputs = {'code': code, 'lammps_code': lammps_code, 'target': target, 'mass': mass,
                  'number_density': number_density}
        if n_beads is not None:
            inputs['n_beads'] = n_beads
        if initial_potential is not None:
            inputs['initial_potential'] = initial_potential
        if temperature is not None and not temperature > 0:
            raise ValueError(f'temperature must be positive (K), got {temperature}')
        builder = cls.protocol_builder(protocol, overrides, options, inputs)
        if temperature is not None:  # kT of the updates and the thermostat: one temperature
            for name in ('settings', 'lammps_settings'):
                given = builder.ibi[name].get_dict() if name in builder.ibi else {}
                builder.ibi[name] = orm.Dict({**given, 'temperature': float(temperature)})
        return builder

    @classmethod
    def get_builder_from_descriptors(cls, code: orm.AbstractCode, lammps_code: orm.AbstractCode,
                                     node: orm.ProcessNode, protocol: str | None = None,
                                     overrides: dict | None = None, options: dict | None = None, *,
                                     n_beads: int | None = None, temperature: float | None = None):
        """Return a protocol builder whose target, mass, number density (and temperature) come from ``node``.

        ``node`` is a cgmob.descriptors job, or a cgmob.gromacs run or work chain with descriptors; the temperature
        is read from a GROMACS run's production stage.  When that stage held the pressure (NPT), the inversion
        corrects the CG pressure towards it (``settings.pressure_target``, bar): without the correction the CG
        liquid holds the all-atom density at ~1000 bar, so a CG run at 1 bar would not keep it (measured in
        docs/ibi.rst).  ``overrides={'ibi': {'settings': {'pressure_target': None}}}`` switches it off.
        """
        found = ibi_inputs_from_descriptors(node)
        settings = ((overrides or {}).get('ibi') or {}).get('settings') or {}
        if 'pressure' in found and 'pressure_target' not in settings:
            overrides = recursive_merge({'ibi': {'settings': {'pressure_target': found['pressure']}}}, overrides or {})
        return cls.get_builder_from_protocol(
            code, lammps_code, found['target'], protocol, overrides, options, mass=found['mass'],
            number_density=found['number_density'], n_beads=n_beads,
            temperature=temperature if temperature is not None else found.get('temperature'))

    def continue_from(self, calculation):
        """Continue from the checkpoint: the next job starts where this one stopped (or again, without one)."""
        if not self.progress(calculation):  # stopped before the first iteration ended: no checkpoint
            self.ctx.inputs.pop('parent_folder', None)
            return 'start again: the job was stopped before its first iteration ended'
        self.ctx.inputs.parent_folder = calculation.outputs.remote_folder
        return (f'continue from the checkpoint after {self.progress(calculation)} iteration(s) in '
                f'RemoteData<{calculation.outputs.remote_folder.pk}>')

    def progress(self, calculation):
        """Completed iterations."""
        return calculation.outputs.result.get('iterations') if 'result' in calculation.outputs else None

    @process_handler(priority=500, exit_codes=[exit_code('ERROR_NOT_CONVERGED'), exit_code('ERROR_DIVERGED')])
    def handle_not_converged(self, calculation):
        """Stop with the job's own 441/440 and message, keeping the best potential and the history."""
        remote = calculation.outputs.remote_folder.pk if 'remote_folder' in calculation.outputs else None
        if calculation.exit_status == exit_code('ERROR_DIVERGED').status:
            action = ('none: best potential attached; restart from it with a smaller alpha or longer runs per '
                      'iteration')
        else:
            action = ('none: best potential attached; continue with a larger settings.max_iterations and '
                      f'parent_folder = RemoteData<{remote}>')
        return self.stop_keeping_outputs(calculation, action)
