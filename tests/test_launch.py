"""The public Python API (``aiida_cgmob.launch``): bad input fails before any node is stored, naming the field;
``run_or_submit`` runs here or submits; ``import aiida_cgmob`` stays cheap and exports the launchers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import WorkChain

from aiida_cgmob import launch

MOLECULE_CUTOFF_12 = [{'name': 'em', 'type': 'minimise', 'mdp': {'rvdw': 1.2, 'rcoulomb': 1.2}},
                      {'name': 'production', 'type': 'npt', 'mdp': {'nsteps': 10}}]


def stored_nodes() -> int:
    return orm.QueryBuilder().append(orm.Node).count()


@pytest.fixture
def codes(aiida_code_installed):
    """Codes that are never run: every call below fails before it would launch anything."""
    return {name: aiida_code_installed(label=f'{name}-never-run', default_calc_job_plugin=plugin)
            for name, plugin in (('gmx', 'cgmob.gromacs'), ('lmp', 'cgmob.lammps.cg'), ('ibi', 'cgmob.ibi'),
                                 ('descriptors', 'cgmob.descriptors'))}


@pytest.fixture
def nodes(aiida_localhost):
    """Stored inputs: a potential, a target g(r), a process without descriptors or remote folder, a Dict."""
    from aiida_cgmob.data import PotentialData
    from aiida_cgmob.potentials import lennard_jones

    r = np.linspace(0.3, 1.2, 901)
    potential = PotentialData(lennard_jones(r, epsilon=2.5, sigma=0.37, cutoff=1.2)).store()
    target = orm.XyData()
    target.set_x(np.linspace(0.0, 1.2, 121), 'r', 'nm')
    target.set_y(np.ones(121), 'g', '1')
    target.store()
    process = orm.CalcJobNode(computer=aiida_localhost, process_type='aiida.calculations:cgmob.lammps.cg')
    process.store()
    process.seal()
    return {'potential': potential, 'target': target, 'process': process, 'dict': orm.Dict({'a': 1}).store()}


def _cases():
    """(launcher, arguments, keywords, part of the message): every one must fail before storing anything."""
    aa = [
        (('CCO', 40), {}, 'only hydrocarbons'),
        (('3MePe', 1), {}, 'n_molecules must be an integer >= 2, got 1'),
        (('3MePe', 100), {'temperature': -5.0}, 'temperature must be a positive number (K), got -5.0'),
        (('3MePe', 100), {'density': 0}, 'density must be a positive number'),
        (('3MePe', 100), {'ranges': {'bogus': [1, 2]}}, "unknown range 'bogus'"),
        (('3MePe', 100, 'sloppy'), {}, "protocol 'sloppy'"),
        (('3MePe', 100, None, {'gromacs': {'stagez': []}}), {}, "'gromacs.stagez' is not an input"),
        (('3MePe', 100, None, {'gromacs': {'descriptors': {'settings': {'bin_width': 0.01}}}}), {},
         'without a descriptors code'),
        (('3MePe', 100, None, None, {'max_wallclock_seconds': 'long'}), {}, 'max_wallclock_seconds'),
        # the box check: 30 molecules are too few for the default 1.1 nm cut-off ...
        (('3MePe', 30), {}, 'n_molecules: 30 3MePe molecules'),
        # ... and 60 (enough at 1.1 nm) for the 1.2 nm of the stages that will run (the overrides' stages)
        (('3MePe', 60, 'fast', {'gromacs': {'parameters': {'stages': MOLECULE_CUTOFF_12}}}), {},
         'largest cut-off (1.2 nm)'),
        (('3MePe', 60), {'liquid_density': 2000.0}, '2000 kg/m^3'),
        (('CCCCCCCC', 20), {}, 'give liquid_density (--liquid-density) if you know it'),
    ]
    cg = [
        (('dict', 16.0), {'number_density': 13.0}, 'potential must be a cgmob.potential node, got Dict'),
        (('potential', 16.0), {}, 'number_density (beads/nm^3) is needed for a lattice start, or give from_aa'),
        (('potential',), {'number_density': 13.0}, 'mass (g/mol) is needed'),
        (('potential', -1.0), {'number_density': 13.0}, 'mass must be a positive number (g/mol), got -1.0'),
        (('potential', 16.0), {'number_density': 13.0, 'n_beads': 1}, 'n_beads must be an integer >= 2'),
        (('potential', 16.0, None, {'lammps': {'settings': {'timestep': 0}}}), {'number_density': 13.0},
         'timestep must be a number > 0, got 0'),
        (('potential', 16.0, 'sloppy'), {'number_density': 13.0}, "protocol 'sloppy'"),
        (('potential',), {'from_aa': 'process', 'number_density': 13.0}, 'give neither n_beads nor number_density'),
        (('potential',), {'from_aa': 'process'}, 'is not a cgmob.gromacs calculation or work chain'),
    ]
    ibi = [
        (('dict',), {}, 'source: Dict<'),
        (('target',), {'mass': 16.0}, 'number_density: needed with a target g(r)'),
        (('target',), {}, 'mass and number_density: needed'),
        (('target', None, {'ibi': {'setings': {}}}), {'mass': 16.0, 'number_density': 13.0},
         "'ibi.setings' is not an input"),
        (('target',), {'mass': 16.0, 'number_density': 13.0, 'temperature': 0.0}, 'temperature must be a positive'),
        (('process',), {}, 'has no descriptor outputs (found none)'),
        (('process',), {'mass': 16.0}, 'mass: taken from the descriptors of'),
    ]
    descriptors = [
        (('process',), {}, 'has no remote_folder output to analyse'),
        (('dict',), {}, 'Dict<'),
        (('process',), {'bead_mass': -1.0}, 'bead_mass must be a positive number'),
    ]
    return ([('aa', *case) for case in aa] + [('cg', *case) for case in cg] + [('ibi', *case) for case in ibi]
            + [('descriptors', *case) for case in descriptors])


@pytest.mark.parametrize('which, args, kwargs, message', _cases())
def test_bad_input_fails_before_any_node_is_stored(which, args, kwargs, message, codes, nodes):
    def resolve(value):
        return nodes[value] if isinstance(value, str) and value in nodes else value

    if which == 'aa':
        call = (launch.launch_aa, codes['gmx'], *args)
    elif which == 'cg':
        call = (launch.launch_cg, codes['lmp'], *map(resolve, args))
    elif which == 'ibi':
        call = (launch.launch_ibi, codes['ibi'], codes['lmp'], *map(resolve, args))
    else:
        call = (launch.launch_descriptors, codes['descriptors'], *map(resolve, args))
    kwargs = {key: resolve(value) for key, value in kwargs.items()}
    before = stored_nodes()
    with pytest.raises(ValueError) as error:
        call[0](*call[1:], **kwargs)
    assert message in str(error.value), str(error.value)
    assert stored_nodes() == before


def test_descriptors_settings_are_checked_before_submission(codes, nodes, aiida_localhost):
    run = orm.CalcJobNode(computer=aiida_localhost, process_type='aiida.calculations:cgmob.lammps.cg').store()
    remote = orm.RemoteData(computer=aiida_localhost, remote_path='/tmp')
    remote.base.links.add_incoming(run, LinkType.CREATE, 'remote_folder')
    remote.store()
    run.seal()
    before = stored_nodes()
    with pytest.raises(ValueError, match='settings: bin_width must be a positive number'):
        launch.launch_descriptors(codes['descriptors'], run, {'bin_width': -1.0}, bead_mass=16.0)
    assert stored_nodes() == before
    assert launch.remote_folder_of(run).pk == remote.pk == launch.remote_folder_of(remote).pk


class Double(WorkChain):
    """A work chain that runs in a blink: result = 2 x."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input('x', valid_type=orm.Int)
        spec.output('result', valid_type=orm.Int)
        spec.outline(cls.double)

    def double(self):
        self.out('result', orm.Int(2 * self.inputs.x.value).store())


def test_run_or_submit_returns_the_node(aiida_profile, monkeypatch):
    builder = Double.get_builder()
    builder.x = orm.Int(21)
    node = launch.run_or_submit(builder)
    assert isinstance(node, orm.WorkflowNode) and node.is_finished_ok and node.outputs.result.value == 42

    submitted = []

    def fake_submit(builder):
        submitted.append(builder)
        return node

    monkeypatch.setattr('aiida.engine.submit', fake_submit)
    assert launch.run_or_submit(builder, daemon=True) is node and submitted == [builder]


def test_find_code(codes, aiida_localhost):
    assert launch.find_code('gmx-never-run').pk == codes['gmx'].pk
    assert launch.find_code('gmx-never-run', aiida_localhost).pk == codes['gmx'].pk
    assert launch.find_code('no-such-code') is None


def test_package_exports_the_launchers_and_stays_cheap():
    """``import aiida_cgmob`` loads neither AiiDA nor a profile; the launchers come on first use."""
    import importlib.metadata

    import aiida_cgmob

    assert aiida_cgmob.__version__ == importlib.metadata.version('aiida-cgmob')
    for name in ('launch_aa', 'launch_cg', 'launch_ibi', 'launch_descriptors', 'run_or_submit'):
        assert getattr(aiida_cgmob, name) is getattr(launch, name)
        assert name in aiida_cgmob.__all__ and name in dir(aiida_cgmob)
    with pytest.raises(AttributeError):
        aiida_cgmob.no_such_name  # noqa: B018
    code = ('import sys, aiida_cgmob; '
            'loaded = sorted(m for m in sys.modules if m == "aiida" or m.startswith("aiida.")); '
            'print(aiida_cgmob.__version__, loaded)')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == f'{aiida_cgmob.__version__} []'
