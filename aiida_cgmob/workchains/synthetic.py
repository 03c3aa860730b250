"""``cgmob.synthetic.sample`` and ``cgmob.synthetic.database``: the synthetic database, one sample at a time.

A sample: molecule + seed -> sampled bonded parameters -> liquid -> ``cgmob.gromacs.base`` (all-atom, with
descriptors) -> ``cgmob.ibi.base`` (the one-bead g(r) inverted, pressure-corrected to the all-atom pressure) ->
K x ``cgmob.lammps.cg.base`` at bead masses drawn from the seed (NVT at the all-atom number density) -> K rows
(:class:`~aiida_cgmob.data.RowData`) on the common grids, and the check that D sqrt(m) is the same for all K.

A database: every (molecule, seed) pair as a sample, at most ``max_concurrent`` in flight; each finished row goes
into the Group ``group_label``, each failed sample too (its node carries the reason), so a build can be
extended with new seeds and never holds a row twice.
"""

from __future__ import annotations

import math

from aiida import orm
from aiida.common import AttributeDict
from aiida.common.links import LinkType
from aiida.engine import ToContext, WorkChain, while_

from aiida_cgmob import dataset
from aiida_cgmob.calculations.functions import (
    build_liquid,
    check_mass_scaling,
    draw_masses,
    make_row,
    sample_bonded_parameters,
)
from aiida_cgmob.data import RowData
from aiida_cgmob.exit_codes import define_exit_codes
from aiida_cgmob.lammps import validate_settings as validate_lammps_settings
from aiida_cgmob.protocols import ProtocolMixin
from aiida_cgmob.units import MASS_DENSITY_FACTOR

from .gromacs_base import GromacsBaseWorkChain, with_state_point
from .ibi_base import IbiBaseWorkChain, ibi_inputs_from_descriptors
from .lammps_cg_base import LammpsCgBaseWorkChain

__all__ = ['TRAINING_MOLECULES', 'SyntheticDatabaseWorkChain', 'SyntheticSampleWorkChain', 'cg_beads',
           'check_build_inputs', 'check_sample_inputs', 'sample_values']

#: the molecules of the published database (built-in names)
TRAINING_MOLECULES = ('234TriMePe', 'EtBz', '3MePe')
#: the CG box of a row holds at least this many beads, however dilute the liquid
MINIMUM_CG_BEADS = 500
#: g(r) of a row's CG run: bins this wide (nm), measured to a little beyond the end of the common grid
CG_BIN_WIDTH = 0.005
NOT_CONVERGED = IbiBaseWorkChain.exit_codes.ERROR_NOT_CONVERGED.status


def _value(node_or_value):
    return node_or_value.value if isinstance(node_or_value, orm.BaseType) else node_or_value


def _get(inputs, path: str, default=None):
    """Return the value at the dotted ``path`` of a (possibly nested) mapping of inputs, or ``default``."""
    for key in path.split('.'):
        if inputs is None or key not in inputs:
            return default
        inputs = inputs[key]
    return inputs


def cg_beads(number_density: float, g_grid: dataset.GridSpec, minimum: int = MINIMUM_CG_BEADS) -> int:
    """Beads of a row's CG box: enough for a box whose g(r) reaches the end of ``g_grid`` at ``number_density``."""
    return max(minimum, math.ceil(number_density * (dataset.minimum_box(g_grid, CG_BIN_WIDTH) + 0.05) ** 3))


def _positive_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def check_sample_inputs(values: dict) -> str | None:
    """Return the first problem of a sample's plain inputs, naming the field; None when they can make a sample.

    ``values``: molecule, seed, n_molecules, mass_range, n_masses, mass_distribution, g_grid (dict), cutoff (the
    inversion's, nm), aa_cutoff (largest cut-off of the all-atom stages, nm), cg_n_beads (or None), ranges.
    Checks every field a sample would otherwise fail on after submission: the molecule, the mass range, K, the
    grids, and whether the all-atom and CG boxes at the expected liquid density can hold the cut-offs and grid.
    """
    from aiida_cgmob.topology import build_molecule, check_box_for_cutoff, expected_liquid_density, validate_ranges

    molecule = values.get('molecule')
    try:
        built = build_molecule(molecule)
    except Exception as exception:  # noqa: BLE001 - any refusal of the builder names the molecule's problem
        return f'molecule: {molecule!r} cannot be built: {exception}'
    seed = values.get('seed')
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        return f'seed: must be an integer >= 0, got {seed!r}'
    try:
        validate_ranges(values.get('ranges'))
    except ValueError as exception:
        return f'ranges: {exception}'
    mass_range = values.get('mass_range')
    if (not isinstance(mass_range, (list, tuple)) or len(mass_range) != 2
            or not all(_positive_number(m) for m in mass_range) or not mass_range[0] < mass_range[1]):
        return (f'mass_range: needs [m_min, m_max] with 0 < m_min < m_max < inf (g/mol), got {mass_range!r}')
    n_masses = values.get('n_masses')
    if isinstance(n_masses, bool) or not isinstance(n_masses, int) or n_masses < 1:
        return f'n_masses: the number of CG runs (K) must be an integer >= 1, got {n_masses!r}'
    if values.get('mass_distribution') not in dataset.MASS_DISTRIBUTIONS:
        return (f'mass_distribution: must be one of {dataset.MASS_DISTRIBUTIONS}, got '
                f'{values.get("mass_distribution")!r}')
    try:
        g_grid = dataset.GridSpec.from_dict(values.get('g_grid') or dataset.G_GRID.as_dict())
        cutoff = float(values.get('cutoff') or 1.4)
        dataset.u_grid_spec(cutoff)
    except (dataset.GridError, KeyError, TypeError, ValueError) as exception:
        return f'g_grid or ibi.ibi.settings.cutoff: {exception}'
    density, source = expected_liquid_density(built)
    n_molecules = values.get('n_molecules')
    # the all-atom box must hold the engine's cut-off and reach the inversion's cut-off with its g(r)
    needed = max(float(values.get('aa_cutoff') or 0.0), cutoff)
    try:
        check_box_for_cutoff(built.mass, n_molecules, needed, density, density, name=str(molecule))
    except ValueError as exception:
        return (f'n_molecules: {exception} (the all-atom g(r) must reach the inversion cut-off {cutoff:g} nm; '
                f'density: {source})')
    n_beads = values.get('cg_n_beads')
    if n_beads is not None:
        number_density = density / (built.mass * MASS_DENSITY_FACTOR)
        box = (n_beads / number_density) ** (1 / 3)
        if box < dataset.minimum_box(g_grid, CG_BIN_WIDTH):
            return (f'cg_n_beads: {n_beads} beads make a {box:.2f} nm box at {density:g} kg/m^3 ({source}); the '
                    f'g(r) grid to {g_grid.r_max:g} nm needs at least {dataset.minimum_box(g_grid, CG_BIN_WIDTH):.2f} '
                    f'nm: give at least {cg_beads(number_density, g_grid, 0)} beads or leave it to the sample')
    return None


def sample_values(inputs) -> dict:
    """Return the plain values :func:`check_sample_inputs` needs, from a sample's (possibly partial) inputs."""
    from aiida_cgmob.gromacs import largest_cutoff

    stages = _get(inputs, 'aa.gromacs.parameters')
    try:
        aa_cutoff = largest_cutoff(stages['stages']) if stages is not None else None
    except (KeyError, TypeError, ValueError):
        aa_cutoff = None
    settings = _get(inputs, 'ibi.ibi.settings')
    return {
        'molecule': _value(inputs.get('molecule')), 'seed': _value(inputs.get('seed')),
        'n_molecules': _value(inputs.get('n_molecules')),
        'ranges': inputs['ranges'].get_dict() if 'ranges' in inputs else None,
        'mass_range': inputs['mass_range'].get_list() if 'mass_range' in inputs else None,
        'n_masses': _value(inputs.get('n_masses')), 'mass_distribution': _value(inputs.get('mass_distribution')),
        'g_grid': inputs['g_grid'].get_dict() if 'g_grid' in inputs else None,
        'cutoff': settings.get('cutoff') if settings is not None else None, 'aa_cutoff': aa_cutoff,
        'cg_n_beads': _value(inputs.get('cg_n_beads')),
    }


def validate_sample_inputs(inputs, _):
    """Refuse a sample that cannot work before it is submitted (see :func:`check_sample_inputs`)."""
    if 'molecule' not in inputs:  # exposed in a database: the database checks each molecule itself
        return None
    return check_sample_inputs(sample_values(inputs))


class SyntheticSampleWorkChain(ProtocolMixin, WorkChain):
    """One sample of the synthetic database: a synthetic molecule made into K rows (see the module docstring).

    Each step is a child process (``verdi process status`` shows the tree); the rows come out in ``rows``
    (``row_0`` ... ``row_K-1``), made by the calcfunction ``make_row`` from each CG run, so
    ``verdi node graph generate ROW`` shows seed -> parameters -> topology -> AA run -> IBI -> CG run -> row.
    A failed step stops the sample with an exit code naming the step and carrying the child's message; a CG run
    that fails loses only its row (reported; 463 when none is left).
    """

    _protocol_file = 'synthetic'

    @classmethod
    def define(cls, spec):
        """Define the inputs of the sample and the exposed inputs of its three chains; rows out."""
        super().define(spec)
        spec.input('molecule', valid_type=orm.Str, help='A built-in name (`aiida-cgmob molecule list`) or a '
                   'hydrocarbon SMILES.')
        spec.input('seed', valid_type=orm.Int, help='Sample seed: draws the bonded parameters and the bead masses.')
        spec.input('ranges', valid_type=orm.Dict, required=False,
                   help='Sampling ranges over the defaults (aiida_cgmob.topology.DEFAULT_RANGES).')
        spec.input('n_molecules', valid_type=orm.Int, default=lambda: orm.Int(150),
                   help='Molecules of the all-atom box.')
        spec.input('start_density', valid_type=orm.Float, default=lambda: orm.Float(500.0),
                   help='Density of the starting all-atom box, kg/m^3 (NPT brings it to the liquid density).')
        spec.input('structure_seed', valid_type=orm.Int, default=lambda: orm.Int(0),
                   help='Seed of the 3D structure and of the molecule placement.')
        spec.input('temperature', valid_type=orm.Float, default=lambda: orm.Float(298.15),
                   help='K: every all-atom MD stage, the inversion (kT) and every CG run.')
        spec.input('pressure', valid_type=orm.Float, default=lambda: orm.Float(1.0),
                   help='bar: the all-atom NPT stages; the inversion corrects the CG pressure towards it.')
        spec.input('n_masses', valid_type=orm.Int, default=lambda: orm.Int(5),
                   help='K: CG runs (rows) per potential, each at its own bead mass.')
        spec.input('mass_range', valid_type=orm.List, default=lambda: orm.List([20.0, 200.0]),
                   help='[m_min, m_max] of the bead masses, g/mol.')
        spec.input('mass_distribution', valid_type=orm.Str, default=lambda: orm.Str('uniform'),
                   help=f'How the masses are drawn: one of {dataset.MASS_DISTRIBUTIONS}.')
        spec.input('g_grid', valid_type=orm.Dict, default=lambda: orm.Dict(dataset.G_GRID.as_dict()),
                   help='The common g(r) grid of the rows: r_min, r_max (nm), n_points.')
        spec.input('cg_n_beads', valid_type=orm.Int, required=False,
                   help='Beads of each CG run [default: enough for a box twice the g grid, at least 500].')
        spec.input('protocol', valid_type=orm.Str, required=False,
                   help='Name of the protocol the inputs came from: recorded on every row.')
        spec.expose_inputs(GromacsBaseWorkChain, namespace='aa',
                           exclude=('gromacs.structure', 'gromacs.topology', 'gromacs.bonded_parameters'))
        spec.expose_inputs(IbiBaseWorkChain, namespace='ibi', exclude=('ibi.target', 'ibi.mass', 'ibi.number_density'))
        spec.expose_inputs(LammpsCgBaseWorkChain, namespace='cg',
                           exclude=('lammps.potential', 'lammps.mass', 'lammps.number_density', 'lammps.n_beads',
                                    'lammps.configuration'))
        spec.inputs.validator = validate_sample_inputs
        spec.outline(
            cls.setup,
            cls.run_aa,
            cls.inspect_aa,
            cls.run_ibi,
            cls.inspect_ibi,
            cls.run_cg,
            cls.inspect_cg,
            cls.results,
        )
        spec.output_namespace('rows', valid_type=RowData, dynamic=True, help='One row per CG run that finished.')
        spec.output('mass_scaling', valid_type=orm.Dict, required=False,
                    help='D sqrt(m) across the rows (aiida_cgmob.dataset.mass_scaling_check), with each row uuid.')
        spec.output('summary', valid_type=orm.Dict, help='What the sample made and what failed, with units.')
        define_exit_codes(spec, 'ERROR_SAMPLE_SETUP', 'ERROR_SAMPLE_AA', 'ERROR_SAMPLE_IBI', 'ERROR_SAMPLE_CG')

    @classmethod
    def get_builder_from_protocol(
        cls,
        codes: dict[str, orm.AbstractCode],
        molecule: str,
        seed: int,
        protocol: str | None = None,
        overrides: dict | None = None,
        options: dict | None = None,
    ):
        """Return a builder for one sample from a protocol (``fast``, ``moderate`` (default), ``precise``).

        :param codes: ``gmx``, ``lmp``, ``cgmob-descriptors`` and ``cgmob-ibi`` (keys), on one computer.
        :param molecule: built-in name or hydrocarbon SMILES; ``seed``: the sample seed.
        :param protocol: see ``aiida_cgmob/protocols/synthetic.yaml``: it names the protocol of each chain
            and what the sample changes in them.
        :param overrides: inputs merged over the protocol's, as the builder's namespace (``aa``, ``ibi``, ``cg``
            as those chains' own inputs), e.g. ``{'n_masses': 8, 'ibi': {'ibi': {'settings': {'cutoff': 1.2}}}}``.
        :param options: merged over ``metadata.options`` of every job (resources, wall time, ...).
        """
        inputs = cls.inputs_from_protocol(codes, protocol, overrides, options)
        inputs.update(molecule=molecule, seed=seed)
        builder = cls.builder_from_inputs(inputs)
        builder.metadata.label = f'{molecule} seed {seed}'
        return builder

    @classmethod
    def inputs_from_protocol(cls, codes: dict[str, orm.AbstractCode], protocol: str | None = None,
                             overrides: dict | None = None, options: dict | None = None) -> dict:
        """Return the inputs of a sample from a protocol, but molecule and seed (see get_builder_from_protocol)."""
        missing = sorted({'gmx', 'lmp', 'cgmob-descriptors', 'cgmob-ibi'} - set(codes))
        if missing:
            raise ValueError(f'codes: {", ".join(missing)} missing; give gmx, lmp, cgmob-descriptors and cgmob-ibi')
        inputs = cls.get_protocol_inputs(protocol, overrides)
        protocols = inputs.pop('protocols')
        chains = (('aa', GromacsBaseWorkChain, 'gromacs'), ('ibi', IbiBaseWorkChain, 'ibi'),
                  ('cg', LammpsCgBaseWorkChain, 'lammps'))
        for name, chain, namespace in chains:
            sub = chain.get_protocol_inputs(protocols[name], inputs.get(name))
            jobs = sub.setdefault(namespace, {})
            # ``options`` go to every job; options in the overrides of one chain win for that chain's jobs
            given = _get(inputs.get(name) or {}, f'{namespace}.metadata.options', {})
            jobs.setdefault('metadata', {}).setdefault('options', {}).update({**(options or {}), **given})
            if name == 'cg':
                jobs.pop('n_beads', None)  # the sample sizes the CG box for the g grid
            inputs[name] = sub
        inputs['aa']['gromacs']['code'] = codes['gmx']
        inputs['aa']['gromacs'].setdefault('descriptors', {})['code'] = codes['cgmob-descriptors']
        inputs['ibi']['ibi'].update(code=codes['cgmob-ibi'], lammps_code=codes['lmp'])
        inputs['cg']['lammps']['code'] = codes['lmp']
        inputs['cg']['lammps'].setdefault('descriptors', {})['code'] = codes['cgmob-descriptors']
        inputs['protocol'] = protocol or cls.get_default_protocol()
        return inputs

    # ------------------------------------------------------------------------------------------------- the steps
    def _child_failed(self, child: orm.ProcessNode) -> str:
        return f'{child.process_label}<{child.pk}> exit {child.exit_status}: {child.exit_message}'

    def setup(self):
        """Record what the sample is on its own node (extras: queryable while it runs and after it failed)."""
        self.ctx.summary = {'molecule': self.inputs.molecule.value, 'seed': self.inputs.seed.value,
                            'protocol': self.inputs.protocol.value if 'protocol' in self.inputs else None}
        self.node.base.extras.set_many({'cgmob_molecule': self.inputs.molecule.value,
                                        'cgmob_seed': self.inputs.seed.value})

    def run_aa(self):
        """Sample the bonded parameters, build the liquid and run it through ``cgmob.gromacs.base``."""
        try:
            bonded = sample_bonded_parameters(self.inputs.molecule, self.inputs.seed, self.inputs.get('ranges'))
            liquid = build_liquid(self.inputs.molecule, self.inputs.n_molecules, self.inputs.start_density,
                                  self.inputs.structure_seed, bonded_parameters=bonded)
        except Exception as exception:  # noqa: BLE001 - the sample stops cleanly, naming why
            self.ctx.setup_error = f'{type(exception).__name__}: {exception}'
            return None
        inputs = AttributeDict(self.exposed_inputs(GromacsBaseWorkChain, 'aa'))
        inputs.gromacs = AttributeDict(inputs.gromacs)
        inputs.gromacs.update(structure=liquid['structure'], topology=liquid['topology'], bonded_parameters=bonded)
        inputs.gromacs.parameters = with_state_point(inputs.gromacs.parameters, self.inputs.temperature.value,
                                                     self.inputs.pressure.value)
        inputs.metadata = {'call_link_label': 'aa', 'label': f'AA {self.node.label}'}
        node = self.submit(GromacsBaseWorkChain, **inputs)
        self.report(f'all-atom run {node.process_label}<{node.pk}>: {self.inputs.n_molecules.value} molecules')
        return ToContext(aa=node)

    def inspect_aa(self):
        """Stop (461) unless the all-atom run finished with its descriptors."""
        if 'setup_error' in self.ctx:
            return self.exit_codes.ERROR_SAMPLE_SETUP.format(message=self.ctx.setup_error)
        aa = self.ctx.aa
        if not aa.is_finished_ok or 'descriptors' not in aa.outputs:
            return self.exit_codes.ERROR_SAMPLE_AA.format(message=self._child_failed(aa))
        density = aa.outputs.descriptors.density
        self.ctx.summary['aa'] = {'pk': aa.pk, 'number_density': density['number_density'],
                                  'mass_density': density.get('mass_density'),
                                  'D_aa': aa.outputs.descriptors.diffusion['D_si']}
        return None

    def run_ibi(self):
        """Invert the all-atom g(r) at its density and temperature, correcting the pressure towards the AA one."""
        found = ibi_inputs_from_descriptors(self.ctx.aa)
        inputs = AttributeDict(self.exposed_inputs(IbiBaseWorkChain, 'ibi'))
        inputs.ibi = AttributeDict(inputs.ibi)
        inputs.ibi.update(target=found['target'], mass=found['mass'], number_density=found['number_density'])
        temperature = self.inputs.temperature.value
        settings = inputs.ibi['settings'].get_dict() if 'settings' in inputs.ibi else {}
        settings['temperature'] = temperature
        if 'pressure_target' not in settings and 'pressure' in found:
            settings['pressure_target'] = found['pressure']
        inputs.ibi.settings = orm.Dict(settings)
        lammps_settings = inputs.ibi['lammps_settings'].get_dict() if 'lammps_settings' in inputs.ibi else {}
        inputs.ibi.lammps_settings = orm.Dict({**lammps_settings, 'temperature': temperature})
        inputs.metadata = {'call_link_label': 'ibi', 'label': f'IBI {self.node.label}'}
        self.ctx.number_density = found['number_density']
        node = self.submit(IbiBaseWorkChain, **inputs)
        self.report(f'inversion {node.process_label}<{node.pk}>')
        return ToContext(ibi=node)

    def inspect_ibi(self):
        """Go on with the potential of a converged inversion, or the best one of an unconverged one (441)."""
        ibi = self.ctx.ibi
        usable = ibi.is_finished_ok or ibi.exit_status == NOT_CONVERGED
        if not usable or 'potential' not in ibi.outputs:
            return self.exit_codes.ERROR_SAMPLE_IBI.format(message=self._child_failed(ibi))
        result = ibi.outputs.result.get_dict() if 'result' in ibi.outputs else {}
        self.ctx.ibi_status = 'converged' if ibi.is_finished_ok else 'not_converged'
        self.ctx.summary['ibi'] = {'pk': ibi.pk, 'status': self.ctx.ibi_status, 'rms': result.get('rms_final'),
                                   'iterations': result.get('iterations'),
                                   'pressure_bar': result.get('pressure_final_bar')}
        if not ibi.is_finished_ok:
            self.report(f'inversion not converged ({ibi.exit_message}): going on with its best potential')
        return None

    def run_cg(self):
        """K CG runs with the potential, NVT at the all-atom number density, each at a mass drawn from the seed."""
        masses = draw_masses(self.inputs.seed, self.inputs.n_masses, self.inputs.mass_range,
                             self.inputs.mass_distribution)
        g_grid = dataset.GridSpec.from_dict(self.inputs.g_grid.get_dict())
        density = self.ctx.number_density.value
        n_beads = self.inputs.cg_n_beads.value if 'cg_n_beads' in self.inputs else cg_beads(density, g_grid)
        self.ctx.masses = masses
        launched = {}
        for index in range(self.inputs.n_masses.value):
            inputs = AttributeDict(self.exposed_inputs(LammpsCgBaseWorkChain, 'cg'))
            inputs.lammps = AttributeDict(inputs.lammps)
            settings = inputs.lammps['settings'].get_dict() if 'settings' in inputs.lammps else {}
            inputs.lammps.settings = orm.Dict({**settings, 'temperature': self.inputs.temperature.value})
            descriptors = AttributeDict(inputs.lammps.get('descriptors', {}))
            if 'code' in descriptors:  # g(r) to just beyond the end of the common grid
                given = descriptors['settings'].get_dict() if 'settings' in descriptors else {}
                descriptors.settings = orm.Dict({'bin_width': CG_BIN_WIDTH, **given,
                                                 'r_max': round(g_grid.r_max + 2 * CG_BIN_WIDTH, 6)})
                inputs.lammps.descriptors = descriptors
            inputs.lammps.update(potential=self.ctx.ibi.outputs.potential, mass=masses[f'mass_{index}'],
                                 number_density=self.ctx.number_density, n_beads=orm.Int(n_beads))
            inputs.metadata = {'call_link_label': f'cg_{index}',
                               'label': f'CG {self.node.label} m={masses[f"mass_{index}"].value:g}'}
            launched[f'cg_{index}'] = self.submit(LammpsCgBaseWorkChain, **inputs)
        self.report(f'{len(launched)} CG runs of {n_beads} beads: '
                    + ', '.join(f'{node.process_label}<{node.pk}>' for node in launched.values()))
        return ToContext(**launched)

    def inspect_cg(self):
        """One row per CG run that finished with its descriptors; the mass-scaling check across them."""
        labels = {'molecule': self.inputs.molecule.value, 'sample_seed': self.inputs.seed.value,
                  'origin': 'final_potential', 'synthetic': True, 'temperature': self.inputs.temperature.value,
                  'aa_pressure': self.inputs.pressure.value, 'ibi_status': self.ctx.ibi_status,
                  'ibi_rms': self.ctx.summary['ibi']['rms'],
                  'protocol': self.inputs.protocol.value if 'protocol' in self.inputs else None}
        rows, failed = {}, {}
        earlier = self._rows_made_before()
        for index in range(self.inputs.n_masses.value):
            cg = self.ctx[f'cg_{index}']
            if not cg.is_finished_ok or 'descriptors' not in cg.outputs:
                failed[f'cg_{index}'] = self._child_failed(cg)
                self.report(f'no row from CG run {index}: {failed[f"cg_{index}"]}')
                continue
            settings = validate_lammps_settings(
                cg.inputs.lammps.settings.get_dict() if 'settings' in cg.inputs.lammps else None)
            descriptors = cg.outputs.descriptors
            if descriptors.rdf.pk in earlier:
                rows[f'row_{index}'] = earlier[descriptors.rdf.pk]
                continue
            try:
                row = make_row(descriptors.rdf, descriptors.diffusion, descriptors.density,
                               cg.inputs.lammps.mass, cg.inputs.lammps.potential, cg.outputs.thermo,
                               orm.Dict({**labels, 'mass_index': index, 'ensemble': settings['ensemble'],
                                         # what the run was: its length (ps) and size, also on the row
                                         'cg_production': settings['production'],
                                         'n_beads': cg.outputs.thermo.get('n_beads')}))
            except Exception as exception:  # noqa: BLE001 - a row that cannot be made is that run's failure
                failed[f'cg_{index}'] = f'make_row: {type(exception).__name__}: {exception}'
                self.report(f'no row from CG run {index}: {failed[f"cg_{index}"]}')
                continue
            rows[f'row_{index}'] = row
        self.ctx.summary.update(n_rows=len(rows), failed_cg=failed,
                                masses=[node.value for node in self.ctx.masses.values()])
        if not rows:
            return self.exit_codes.ERROR_SAMPLE_CG.format(message='; '.join(failed.values()))
        self.out_many({f'rows.{name}': row for name, row in rows.items()})
        if len(rows) > 1:
            scaling = self._mass_scaling_made_before(rows) or check_mass_scaling(**rows)
            self.out('mass_scaling', scaling)
            checked = dict(zip(scaling['rows'], zip(scaling['flagged'], scaling['deviations'], strict=True),
                               strict=True))
            for name, row in rows.items():
                flagged, deviation = checked[name]
                row.base.extras.set_many({'mass_scaling_ok': not flagged, 'mass_scaling_deviation': deviation})
            self.ctx.summary['mass_scaling'] = {'ok': scaling['ok'], 'relative_spread': scaling['relative_spread'],
                                                'mean': scaling['mean']}
            if not scaling['ok']:
                self.report(f'D sqrt(m) is not the same across the masses: deviations {scaling["deviations"]}')
        return None

    def _earlier_calls(self, function: str) -> list[orm.CalcFunctionNode]:
        """Return the calls of the calcfunction ``function`` by this sample that finished OK, oldest first."""
        calls = [node for node in self.node.called if isinstance(node, orm.CalcFunctionNode)
                 and node.process_label == function and node.is_finished_ok]
        return sorted(calls, key=lambda node: node.pk)

    def _rows_made_before(self) -> dict[int, RowData]:
        """Rows this step made before a daemon kill replayed it, by the pk of their CG run's g(r).

        A kill inside this step (after a ``make_row`` was stored, before the next checkpoint) makes the restarted
        daemon run the step again: reusing those rows keeps the database free of rows that no sample returns.
        """
        return {call.inputs.rdf.pk: call.outputs.result for call in self._earlier_calls('make_row')}

    def _mass_scaling_made_before(self, rows: dict[str, RowData]) -> orm.Dict | None:
        """Return the mass-scaling check of exactly these rows if a replayed step made it already, else None."""
        wanted = {name: row.pk for name, row in rows.items()}
        for call in self._earlier_calls('check_mass_scaling'):
            inputs = call.base.links.get_incoming(link_type=LinkType.INPUT_CALC).all()
            if {link.link_label: link.node.pk for link in inputs} == wanted:
                return call.outputs.result
        return None

    def results(self):
        """Attach the summary: what was made, what failed and why."""
        self.out('summary', orm.Dict({**self.ctx.summary, 'units': {
            'number_density': 'nm^-3', 'mass_density': 'kg/m^3', 'D_aa': '1e-9 m^2/s', 'masses': 'g/mol',
            'pressure_bar': 'bar', 'mean': '1e-9 m^2/s (g/mol)^0.5'}}).store())



def group_members(group: orm.Group) -> tuple[set, set]:
    """(keys of the rows, (molecule, seed) of the failed samples) already in ``group``."""
    query = orm.QueryBuilder().append(orm.Group, filters={'id': group.pk}, tag='group')
    query.append(RowData, with_group='group', project=['attributes.molecule', 'attributes.sample_seed',
                                                       'attributes.mass_index', 'attributes.origin'])
    rows = {tuple(key) for key in query.all()}
    query = orm.QueryBuilder().append(orm.Group, filters={'id': group.pk}, tag='group')
    query.append(orm.WorkflowNode, with_group='group', project=['extras.cgmob_molecule', 'extras.cgmob_seed'])
    return rows, {tuple(key) for key in query.all()}


def add_sample_to_group(group: orm.Group, sample: orm.WorkflowNode) -> tuple[int, str | None]:
    """Add what a terminated sample made to ``group``: its rows (each once), or the sample itself when it failed.

    Idempotent (a step replayed after a daemon restart adds nothing twice).  Returns (rows added, failure reason
    or None).
    """
    present, failed = group_members(group)
    if not sample.is_finished_ok:
        key = (sample.base.extras.get('cgmob_molecule', None), sample.base.extras.get('cgmob_seed', None))
        if key not in failed:
            group.add_nodes(sample)
        if sample.is_excepted:
            lines = (sample.exception or 'no traceback').strip().splitlines()
            return 0, f'excepted: {lines[-1] if lines else "no traceback"}'
        status = sample.exit_status if sample.is_finished else sample.process_state.value
        return 0, f'exit {status}: {sample.exit_message or "no message"}'
    rows = [node for node in sample.outputs.rows.values()] if 'rows' in sample.outputs else []
    new = [row for row in rows if row.key not in present]
    if new:
        group.add_nodes(new)
    return len(new), None


def check_build_inputs(group_label, molecules: list, seeds: list, max_concurrent) -> str | None:
    """Return the first problem of a build's own inputs, naming the field; None when they are fine."""
    if not seeds:
        return 'seeds: the list of sample seeds is empty'
    if any(isinstance(seed, bool) or not isinstance(seed, int) or seed < 0 for seed in seeds):
        return f'seeds: every seed must be an integer >= 0, got {seeds}'
    repeated = sorted({seed for seed in seeds if seeds.count(seed) > 1})
    if repeated:
        return f'seeds: {repeated} given more than once'
    if not molecules:
        return 'molecules: the list of molecules is empty'
    repeated = sorted({molecule for molecule in molecules if molecules.count(molecule) > 1})
    if repeated:
        return f'molecules: {repeated} given more than once'
    if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, int) or max_concurrent < 1:
        return f'max_concurrent: must be an integer >= 1, got {max_concurrent!r}'
    if not isinstance(group_label, str) or not group_label.strip():
        return f'group_label: needs a non-empty label, got {group_label!r}'
    return None


def validate_database_inputs(inputs, _):
    """Refuse a build that cannot work before anything is submitted, naming the field."""
    seeds = inputs['seeds'].get_list() if 'seeds' in inputs else []
    molecules = inputs['molecules'].get_list() if 'molecules' in inputs else []
    problem = check_build_inputs(_value(inputs.get('group_label')), molecules, seeds,
                                 _value(inputs.get('max_concurrent', 1)))
    if problem:
        return problem
    values = sample_values(inputs.get('sample', {}))
    for molecule in molecules:
        problem = check_sample_inputs({**values, 'molecule': molecule, 'seed': seeds[0]})
        if problem:
            return problem if problem.startswith('molecule') else f'sample.{problem}'
    return None


class SyntheticDatabaseWorkChain(ProtocolMixin, WorkChain):
    """Build (or extend) a synthetic database: every (molecule, seed) as a ``cgmob.synthetic.sample``.

    At most ``max_concurrent`` samples are in flight: the chain waits for the oldest, then collects every sample
    that has ended and fills the free places.  Each finished row goes into the Group ``group_label``, each failed
    sample too (its node carries the exit code and message); a (molecule, seed) already in the Group is skipped,
    so running again with more seeds extends the database and never duplicates a row.
    """

    _protocol_file = 'synthetic'

    @classmethod
    def define(cls, spec):
        """Define the build's own inputs and the sample's (but molecule and seed)."""
        super().define(spec)
        spec.input('group_label', valid_type=orm.Str, help='Label of the Group of the database (made if new).')
        spec.input('molecules', valid_type=orm.List, default=lambda: orm.List(list(TRAINING_MOLECULES)),
                   help='Built-in names or hydrocarbon SMILES [default: the three training molecules].')
        spec.input('seeds', valid_type=orm.List, help='Sample seeds: every molecule is sampled with each.')
        spec.input('max_concurrent', valid_type=orm.Int, default=lambda: orm.Int(4),
                   help='At most this many samples in flight (so a cluster queue is not flooded).')
        spec.expose_inputs(SyntheticSampleWorkChain, namespace='sample', exclude=('molecule', 'seed'))
        spec.inputs.validator = validate_database_inputs
        spec.outline(
            cls.setup,
            while_(cls.has_work)(
                cls.launch,
                cls.collect,
            ),
            cls.results,
        )
        spec.output('summary', valid_type=orm.Dict, help='Rows made, samples failed and why, samples skipped.')
        define_exit_codes(spec, 'ERROR_ALL_SAMPLES_FAILED')

    @classmethod
    def get_builder_from_protocol(cls, codes: dict[str, orm.AbstractCode], group_label: str, seeds: list[int],
                                  molecules: list[str] | None = None, protocol: str | None = None,
                                  overrides: dict | None = None, options: dict | None = None,
                                  max_concurrent: int = 4):
        """Return a builder of a database build; ``overrides`` and ``options`` apply to each sample.

        See :meth:`SyntheticSampleWorkChain.get_builder_from_protocol` for ``codes``, ``protocol``, ``overrides``.
        """
        inputs = {'sample': SyntheticSampleWorkChain.inputs_from_protocol(codes, protocol, overrides, options),
                  'group_label': group_label, 'seeds': list(seeds), 'max_concurrent': max_concurrent}
        if molecules is not None:
            inputs['molecules'] = list(molecules)
        builder = cls.builder_from_inputs(inputs)
        builder.metadata.label = f'database {group_label}'
        return builder

    def setup(self):
        """Make or load the Group; plan every (molecule, seed) not in it yet."""
        self.ctx.group_pk = orm.Group.collection.get_or_create(self.inputs.group_label.value)[0].pk
        rows, failed = group_members(orm.load_group(self.ctx.group_pk))
        done = {(molecule, seed) for molecule, seed, _, _ in rows} | failed
        planned = [(molecule, seed) for molecule in self.inputs.molecules.get_list()
                   for seed in self.inputs.seeds.get_list()]
        self.ctx.pending = [pair for pair in planned if pair not in done]
        self.ctx.running = []
        self.ctx.launched = 0
        self.ctx.counts = {'planned': len(self.ctx.pending), 'skipped': len(planned) - len(self.ctx.pending),
                           'samples_ok': 0, 'samples_failed': 0, 'rows_added': 0}
        self.ctx.failures = {}
        # where the build stands, for `aiida-cgmob database build`'s progress line
        self.node.base.extras.set_many({'cgmob_group': self.inputs.group_label.value,
                                        'cgmob_samples_planned': len(self.ctx.pending),
                                        'cgmob_rows_planned': len(self.ctx.pending) * self.inputs.sample.n_masses.value,
                                        'cgmob_rows_at_start': len(rows)})
        self.report(f'group {self.inputs.group_label.value!r}: {len(self.ctx.pending)} samples to run, '
                    f'{self.ctx.counts["skipped"]} already in it')

    def has_work(self):
        """Whether samples remain to launch or to collect."""
        return bool(self.ctx.pending or self.ctx.running)

    def launch(self):
        """Submit samples until ``max_concurrent`` are in flight; wait for the oldest."""
        while self.ctx.pending and len(self.ctx.running) < self.inputs.max_concurrent.value:
            molecule, seed = self.ctx.pending.pop(0)
            inputs = AttributeDict(self.exposed_inputs(SyntheticSampleWorkChain, 'sample'))
            inputs.update(molecule=orm.Str(molecule), seed=orm.Int(seed))
            self.ctx.launched += 1
            inputs.metadata = {'label': f'{molecule} seed {seed}', 'call_link_label': f'sample_{self.ctx.launched}'}
            node = self.submit(SyntheticSampleWorkChain, **inputs)
            self.ctx.running.append(node.pk)
            self.report(f'sample {molecule} seed {seed}: {node.process_label}<{node.pk}>')
        return ToContext(oldest=orm.load_node(self.ctx.running[0]))

    def collect(self):
        """Add what every ended sample made to the Group."""
        group = orm.load_group(self.ctx.group_pk)
        still = []
        for pk in self.ctx.running:
            sample = orm.load_node(pk)
            if not sample.is_terminated:
                still.append(pk)
                continue
            added, failure = add_sample_to_group(group, sample)
            self.ctx.counts['rows_added'] += added
            if failure is None:
                self.ctx.counts['samples_ok'] += 1
            else:
                self.ctx.counts['samples_failed'] += 1
                self.ctx.failures[f'{sample.label} <{sample.pk}>'] = failure
                self.report(f'sample {sample.label} <{sample.pk}> failed: {failure}')
        self.ctx.running = still

    def results(self):
        """Attach the counts: rows made, samples failed and why."""
        counts = self.ctx.counts
        rows, failed = group_members(orm.load_group(self.ctx.group_pk))
        summary = {**counts, 'failures': self.ctx.failures, 'rows_in_group': len(rows),
                   'failed_samples_in_group': len(failed), 'group': self.inputs.group_label.value}
        self.out('summary', orm.Dict(summary).store())
        self.report(f'{counts["rows_added"]} rows added from {counts["samples_ok"]} samples; '
                    f'{counts["samples_failed"]} samples failed; {counts["skipped"]} skipped')
        if counts['planned'] and not counts['samples_ok']:
            return self.exit_codes.ERROR_ALL_SAMPLES_FAILED.format(message='; '.join(self.ctx.failures.values()))
        return None
