"""The public Python API: launch the package's work chains and jobs from a protocol, as the command line does.

Every launcher takes its codes and required inputs, then ``protocol``, ``overrides`` and ``options`` (as the work
chains' ``get_builder_from_protocol``), then keyword-only physics; it checks its input before any node is created
(a ``ValueError`` naming the field) and returns the process node: finished when run here, submitted to the daemon
with ``daemon=True``.  The ``aiida-cgmob`` command line, the demo and the benchmarks all launch through this module.

Examples
--------
>>> from aiida import load_profile, orm
>>> from aiida_cgmob.launch import launch_aa, launch_ibi, launch_cg
>>> load_profile()
>>> aa = launch_aa(orm.load_code('gmx@localhost'), '3MePe', 200, 'fast',
...                descriptors_code=orm.load_code('cgmob-descriptors@localhost'))
>>> ibi = launch_ibi(orm.load_code('cgmob-ibi@localhost'), orm.load_code('lmp@localhost'), aa, 'fast')
>>> cg = launch_cg(orm.load_code('lmp@localhost'), ibi.outputs.potential, 86.18, 'fast',
...                number_density=aa.outputs.descriptors.density['number_density'])
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiida import orm
    from aiida.engine import ProcessBuilder

__all__ = ['run_or_submit', 'launch_aa', 'launch_ibi', 'launch_cg', 'launch_descriptors', 'launch_sample',
           'launch_database', 'find_code', 'find_codes', 'remote_folder_of', 'aa_files']


def run_or_submit(builder: ProcessBuilder, daemon: bool = False) -> orm.ProcessNode:
    """Run ``builder`` here until it ends, or submit it to the daemon; return its process node.

    Parameters
    ----------
    builder
        A filled process builder.
    daemon
        Submit to the daemon (returns at once) instead of running in this interpreter.

    Returns
    -------
    aiida.orm.ProcessNode
        The finished node, or the submitted one with ``daemon``.
    """
    from aiida.engine import run_get_node, submit

    if daemon:
        return submit(builder)
    return run_get_node(builder).node


def find_code(label: str, computer: orm.Computer | str = 'localhost') -> orm.AbstractCode | None:
    """Return the code ``label@computer`` (as ``aiida-cgmob setup`` names its codes), or None if there is none.

    Parameters
    ----------
    label
        Code label, e.g. ``gmx``, ``lmp``, ``cgmob-descriptors``, ``cgmob-ibi``.
    computer
        A computer or its label.
    """
    from aiida import orm
    from aiida.common import exceptions

    computer_label = computer if isinstance(computer, str) else computer.label
    try:
        return orm.load_code(f'{label}@{computer_label}')
    except exceptions.NotExistent:
        return None


#: the codes a synthetic sample needs, by label
SAMPLE_CODES = ('gmx', 'lmp', 'cgmob-descriptors', 'cgmob-ibi')


def find_codes(computer: orm.Computer | str = 'localhost', labels=SAMPLE_CODES) -> dict[str, orm.AbstractCode]:
    """Return the codes ``labels`` on ``computer`` (as ``aiida-cgmob setup`` names them), label -> code.

    Raises
    ------
    ValueError
        Naming every missing code.
    """
    found = {label: find_code(label, computer) for label in labels}
    missing = [label for label, code in found.items() if code is None]
    if missing:
        where = computer if isinstance(computer, str) else computer.label
        raise ValueError(f'codes: no {", ".join(f"{label}@{where}" for label in missing)}; run `aiida-cgmob setup` '
                         'or create them with `verdi code create`')
    return found


def remote_folder_of(node: orm.Node) -> orm.RemoteData:
    """Return the RemoteData holding the trajectory of ``node`` (a RemoteData, an MD calculation or its work chain).

    Raises
    ------
    ValueError
        When ``node`` has no ``remote_folder`` output.
    """
    from aiida import orm

    if isinstance(node, orm.RemoteData):
        return node
    if isinstance(node, orm.ProcessNode) and 'remote_folder' in node.outputs:
        return node.outputs.remote_folder
    raise ValueError(f'{node.__class__.__name__}<{node.pk}> has no remote_folder output to analyse')


def aa_files(node: orm.ProcessNode) -> tuple[orm.SinglefileData, orm.SinglefileData]:
    """Return (final .gro, topology) of a ``cgmob.gromacs`` calculation or ``cgmob.gromacs.base`` work chain.

    Raises
    ------
    ValueError
        When ``node`` is not such a run, or has no final structure.
    """
    process_type = getattr(node, 'process_type', '') or ''
    if process_type.endswith('cgmob.gromacs'):
        topology = node.inputs.topology
    elif process_type.endswith('cgmob.gromacs.base'):
        topology = node.inputs.gromacs.topology
    else:
        raise ValueError(f'from_aa: node {node.pk} is not a cgmob.gromacs calculation or work chain')
    if 'structure' not in node.outputs:
        raise ValueError(f'from_aa: {node.process_label}<{node.pk}> has no final structure (it failed?)')
    return node.outputs.structure, topology


def _plain(value):
    """Return the Python value of a number or of a Float/Int node."""
    return getattr(value, 'value', value)


def _positive(field: str, value, unit: str) -> None:
    value = _plain(value)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (math.isfinite(value) and value > 0):
        raise ValueError(f'{field} must be a positive number ({unit}), got {value!r}')


def _count(field: str, value, minimum: int) -> None:
    value = _plain(value)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f'{field} must be an integer >= {minimum}, got {value!r}')


def _overrides(overrides: Mapping | None) -> Mapping | None:
    if overrides is not None and not isinstance(overrides, Mapping):
        raise ValueError(f'overrides must be a mapping of inputs, got {overrides!r}')
    return overrides


def launch_aa(
    code: orm.AbstractCode,
    molecule: str,
    n_molecules: int,
    protocol: str | None = None,
    overrides: Mapping | None = None,
    options: Mapping | None = None,
    *,
    temperature: float = 298.15,
    pressure: float = 1.0,
    density: float = 500.0,
    seed: int = 0,
    sample_seed: int | None = None,
    ranges: Mapping | None = None,
    liquid_density: float | None = None,
    descriptors_code: orm.AbstractCode | None = None,
    label: str | None = None,
    daemon: bool = False,
) -> orm.WorkflowNode:
    """Build a liquid (optionally synthetic) with provenance and run ``cgmob.gromacs.base`` on it.

    Parameters
    ----------
    code
        The ``gmx`` code.
    molecule
        A built-in name (``aiida-cgmob molecule list``) or a hydrocarbon SMILES.
    n_molecules
        Molecules in the box (at least 2); the box must stay longer than twice the largest cut-off.
    protocol
        ``fast``, ``moderate`` (default) or ``precise`` (``aiida_cgmob/protocols/gromacs.yaml``).
    overrides
        Inputs merged over the protocol's, as the work chain's namespace, e.g.
        ``{'gromacs': {'parameters': {'stages': [...]}}}`` (replaces the stages) or
        ``{'gromacs': {'descriptors': {'settings': {'fit_window': [5.0, 50.0]}}}}``.
    options
        Merged over ``gromacs.metadata.options`` (resources, ``max_wallclock_seconds``, ...).
    temperature
        K, written into every MD stage.
    pressure
        bar, written into every NPT stage.
    density
        Starting density of the box, kg/m^3 (NPT brings it to the liquid density).
    seed
        Seed of the 3D structure and of the molecule placement.
    sample_seed
        Run a synthetic molecule: bonded parameters sampled with this seed (``ranges`` over the defaults).
    ranges
        Sampling ranges overriding the defaults, e.g. ``{'angle_theta0': [90, 130]}``.
    liquid_density
        kg/m^3, for the box check [default: experimental for built-in molecules that have one, else an upper
        bound of the molecule's class].
    descriptors_code
        The ``cgmob-descriptors`` code: g(r), MSD, D and density of production in the same job.
    label
        Label of the work chain [default: molecule, count and sample seed].
    daemon
        Submit instead of running here.

    Returns
    -------
    aiida.orm.WorkflowNode
        The ``cgmob.gromacs.base`` node.

    Raises
    ------
    ValueError
        Before any node is created, naming the field: unsupported molecule, bad ranges, protocol or overrides,
        a box shorter than twice the largest cut-off of the stages that will run, ...
    """
    from aiida import orm

    from aiida_cgmob.calculations.functions import build_liquid, sample_bonded_parameters
    from aiida_cgmob.gromacs import largest_cutoff
    from aiida_cgmob.topology import build_molecule, check_box_for_cutoff, expected_liquid_density, validate_ranges
    from aiida_cgmob.workchains.gromacs_base import GromacsBaseWorkChain

    _count('n_molecules', n_molecules, 2)
    _count('seed', seed, 0)
    _count('sample_seed', sample_seed, 0)
    _positive('temperature', temperature, 'K')
    _positive('density', density, 'kg/m^3')
    _positive('liquid_density', liquid_density, 'kg/m^3')
    if isinstance(pressure, bool) or not isinstance(pressure, numbers.Real) or not math.isfinite(pressure):
        raise ValueError(f'pressure must be a number (bar), got {pressure!r}')
    built = build_molecule(molecule)  # fails here, with the reason, for unsupported molecules
    validate_ranges(dict(ranges) if ranges else None)
    # the protocol, the overrides, the options and the stages that will run, checked on a builder that stores nothing
    dry = GromacsBaseWorkChain.protocol_builder(protocol, _overrides(overrides), options, {}, descriptors_code)
    stages = dry.gromacs.parameters['stages']
    cutoff = largest_cutoff(stages)
    source = 'given'
    if liquid_density is None:
        liquid_density, source = expected_liquid_density(built)
    try:
        check_box_for_cutoff(built.mass, n_molecules, cutoff, density, liquid_density, name=molecule)
    except ValueError as exception:
        hint = '' if source in ('experimental', 'given') else (
            f' The liquid density is not known: {liquid_density:g} kg/m^3 is the {source}; give liquid_density '
            '(--liquid-density) if you know it.')
        raise ValueError(f'n_molecules: {exception}{hint}') from exception

    bonded = None
    if sample_seed is not None:
        bonded = sample_bonded_parameters(orm.Str(molecule), orm.Int(sample_seed),
                                          orm.Dict(dict(ranges)) if ranges else None)
    liquid = build_liquid(orm.Str(molecule), orm.Int(n_molecules), orm.Float(density), orm.Int(seed),
                          **({'bonded_parameters': bonded} if bonded else {}))
    builder = GromacsBaseWorkChain.get_builder_from_protocol(
        code, liquid['structure'], liquid['topology'], protocol, overrides, options, temperature=temperature,
        pressure=pressure, bonded_parameters=bonded, descriptors_code=descriptors_code)
    synthetic = f' synthetic seed {sample_seed}' if bonded else ''
    builder.metadata.label = label or f'{built.name} x{n_molecules}{synthetic}'
    return run_or_submit(builder, daemon)


def launch_cg(
    code: orm.AbstractCode,
    potential: orm.Data,
    mass: float | None = None,
    protocol: str | None = None,
    overrides: Mapping | None = None,
    options: Mapping | None = None,
    *,
    n_beads: int | None = None,
    number_density: float | None = None,
    from_aa: orm.ProcessNode | None = None,
    descriptors_code: orm.AbstractCode | None = None,
    label: str | None = None,
    daemon: bool = False,
) -> orm.WorkflowNode:
    """Run (or submit) ``cgmob.lammps.cg.base``: a one-bead CG liquid with a tabulated potential.

    Parameters
    ----------
    code
        The ``lmp`` code.
    potential
        A ``cgmob.potential`` node (:class:`~aiida_cgmob.data.PotentialData`).
    mass
        Bead mass, g/mol; with ``from_aa`` it defaults to the molecular mass.
    protocol
        ``fast``, ``moderate`` (default) or ``precise`` (``aiida_cgmob/protocols/lammps_cg.yaml``).
    overrides
        Inputs merged over the protocol's, e.g. ``{'lammps': {'settings': {'ensemble': 'npt', 'temperature':
        310.0}}}`` (K, bar, ps) or ``{'lammps': {'descriptors': {'settings': {'fit_window': [2.0, 25.0]}}}}``.
    options
        Merged over ``lammps.metadata.options``.
    n_beads
        Lattice start: number of beads [default: the protocol's].
    number_density
        Lattice start: beads/nm^3.
    from_aa
        Start instead from the final frame of this ``cgmob.gromacs`` calculation or work chain (one bead per
        molecule at its centre of mass; provenance through a calcfunction).
    descriptors_code
        The ``cgmob-descriptors`` code: descriptors of production in the same job.
    label
        Label of the work chain [default: potential, mass and start].
    daemon
        Submit instead of running here.

    Returns
    -------
    aiida.orm.WorkflowNode
        The ``cgmob.lammps.cg.base`` node.

    Raises
    ------
    ValueError
        Before any node is created, naming the field.
    """
    from aiida_cgmob.calculations.lammps_cg import cg_configuration_from_aa
    from aiida_cgmob.data import PotentialData
    from aiida_cgmob.workchains.lammps_cg_base import LammpsCgBaseWorkChain

    if not isinstance(potential, PotentialData):
        raise ValueError(f'potential must be a cgmob.potential node, got {potential.__class__.__name__}')
    _positive('mass', mass, 'g/mol')
    _count('n_beads', n_beads, 2)
    _positive('number_density', number_density, 'beads/nm^3')
    if from_aa is not None:
        if number_density is not None or n_beads is not None:
            raise ValueError('from_aa takes the beads and the box from the all-atom run: give neither n_beads nor '
                             'number_density')
        structure, topology = aa_files(from_aa)
    elif number_density is None:
        raise ValueError('number_density (beads/nm^3) is needed for a lattice start, or give from_aa')
    elif mass is None:
        raise ValueError('mass (g/mol) is needed for a lattice start')
    start = {'n_beads': n_beads, 'number_density': number_density, 'mass': mass}
    LammpsCgBaseWorkChain.protocol_builder(protocol, _overrides(overrides), options,
                                           {key: value for key, value in start.items() if value is not None},
                                           descriptors_code)  # checks everything; stores nothing

    configuration = None
    if from_aa is not None:
        mapped = cg_configuration_from_aa(structure, topology)
        configuration = mapped['configuration']
        mass = mass if mass is not None else mapped['mass'].value
    builder = LammpsCgBaseWorkChain.get_builder_from_protocol(
        code, potential, mass, protocol, overrides, options, n_beads=n_beads, number_density=number_density,
        configuration=configuration, descriptors_code=descriptors_code)
    where = f'from AA <{from_aa.pk}>' if from_aa is not None else f'{builder.lammps.n_beads.value} beads'
    builder.metadata.label = label or f'CG {potential.label or potential.pk} m={float(_plain(mass)):g} {where}'
    return run_or_submit(builder, daemon)


def launch_ibi(
    code: orm.AbstractCode,
    lammps_code: orm.AbstractCode,
    source: orm.ProcessNode | orm.XyData,
    protocol: str | None = None,
    overrides: Mapping | None = None,
    options: Mapping | None = None,
    *,
    n_beads: int | None = None,
    temperature: float | None = None,
    mass: float | orm.Float | None = None,
    number_density: float | orm.Float | None = None,
    initial_potential: orm.Data | None = None,
    label: str | None = None,
    daemon: bool = False,
) -> orm.WorkflowNode:
    """Invert a one-bead g(r) into a CG pair potential with ``cgmob.ibi.base`` (iterative HNC or IBI).

    Parameters
    ----------
    code
        The ``cgmob-ibi`` code.
    lammps_code
        The ``lmp`` code, on the computer of ``code``.
    source
        A descriptors-producing node (a ``cgmob.descriptors`` calculation, or a GROMACS/LAMMPS run or work chain
        that computed its descriptors): its g(r) is the target, at its number density and bead mass (and, for
        a GROMACS run, its temperature; for an NPT one, its pressure becomes ``settings.pressure_target`` unless
        ``overrides`` set it, None switching the correction off).  Or the target g(r) itself (XyData: x = r in
        nm, y = g), with ``mass`` and ``number_density``.
    protocol
        ``fast``, ``moderate`` (default) or ``precise`` (``aiida_cgmob/protocols/ibi.yaml``).
    overrides
        Inputs merged over the protocol's, e.g. ``{'ibi': {'settings': {'cutoff': 1.2, 'pressure_target': 1.0},
        'lammps_settings': {...}, 'seed': 3}}``.
    options
        Merged over ``ibi.metadata.options`` (resources, wall time, ``threads``).
    n_beads
        Beads of the CG box [default: the protocol's].
    temperature
        K, for kT and the thermostat [default: the all-atom run's for a GROMACS source, else 298.15].
    mass
        Bead mass, g/mol: only with a target ``source``.
    number_density
        Beads/nm^3: only with a target ``source``.
    initial_potential
        A ``cgmob.potential`` to start from instead of the initial guess.
    label
        Label of the work chain [default: ``IBI of <source>``].
    daemon
        Submit instead of running here.

    Returns
    -------
    aiida.orm.WorkflowNode
        The ``cgmob.ibi.base`` node.

    Raises
    ------
    ValueError
        Before any node is created, naming the field.
    """
    from aiida import orm

    from aiida_cgmob.workchains.ibi_base import IbiBaseWorkChain, descriptor_outputs

    _count('n_beads', n_beads, 2)
    _positive('temperature', temperature, 'K')
    _overrides(overrides)
    if isinstance(source, orm.XyData):
        missing = [name for name, value in (('mass', mass), ('number_density', number_density)) if value is None]
        if missing:
            raise ValueError(f'{" and ".join(missing)}: needed with a target g(r) as source (a descriptors-producing '
                             'node brings its own)')
        builder = IbiBaseWorkChain.get_builder_from_protocol(
            code, lammps_code, source, protocol, overrides, options, mass=mass, number_density=number_density,
            n_beads=n_beads, temperature=temperature, initial_potential=initial_potential)
        name = source.label or source.__class__.__name__
    elif isinstance(source, orm.ProcessNode):
        for field, value in (('mass', mass), ('number_density', number_density)):
            if value is not None:
                raise ValueError(f'{field}: taken from the descriptors of {source.process_label}<{source.pk}>; give '
                                 'it only with a target g(r) as source')
        outputs = descriptor_outputs(source)
        IbiBaseWorkChain.get_builder_from_protocol(  # checks everything; stores nothing
            code, lammps_code, outputs['rdf'], protocol, overrides, options, mass=outputs['mass'],
            number_density=float(outputs['density']['number_density']), n_beads=n_beads, temperature=temperature,
            initial_potential=initial_potential)
        builder = IbiBaseWorkChain.get_builder_from_descriptors(code, lammps_code, source, protocol, overrides,
                                                                options, n_beads=n_beads, temperature=temperature)
        if initial_potential is not None:
            builder.ibi.initial_potential = initial_potential
        name = source.label or source.process_label
    else:
        raise ValueError(f'source: {source.__class__.__name__}<{source.pk}> is neither a descriptors-producing '
                         'process nor a target g(r) (XyData)')
    builder.metadata.label = label or f'IBI of {name}<{source.pk}>'
    return run_or_submit(builder, daemon)


def launch_descriptors(
    code: orm.AbstractCode,
    source: orm.Node,
    settings: Mapping | None = None,
    options: Mapping | None = None,
    *,
    trajectory: str | None = None,
    topology: str | None = None,
    bead_mass: float | None = None,
    timestep: float | None = None,
    label: str | None = None,
    daemon: bool = False,
) -> orm.CalcJobNode:
    """Compute the one-bead descriptors (g(r), MSD, D, density) of a trajectory where it lies (``cgmob.descriptors``).

    Parameters
    ----------
    code
        The ``cgmob-descriptors`` code, on the computer that holds the trajectory.
    source
        An MD calculation, its work chain, or a RemoteData holding the trajectory.
    settings
        Settings of ``cgmob-descriptors``: ``r_max``, ``bin_width`` (nm); ``begin``, ``end``, ``fit_window`` (ps);
        ``temperature`` (K) and ``viscosity`` (Pa s) for a Yeh-Hummer correction; ...
    options
        ``metadata.options`` of the job (resources, wall time, ...).
    trajectory
        Trajectory file in the remote folder [default for a ``cgmob.gromacs`` run: ``<production>.xtc``].
    topology
        GROMACS ``.tpr`` in the remote folder (all-atom mapping to molecular centres of mass).
    bead_mass
        g/mol, for a CG trajectory.
    timestep
        ps (integration time step, as in the LAMMPS settings), for a LAMMPS text dump.
    label
        Label of the job.
    daemon
        Submit instead of running here.

    Returns
    -------
    aiida.orm.CalcJobNode
        The ``cgmob.descriptors`` node.

    Raises
    ------
    ValueError
        Before any node is created, naming the field.
    """
    from aiida import orm

    from aiida_cgmob.calculations.descriptors import DescriptorsCalculation

    _positive('bead_mass', bead_mass, 'g/mol')
    _positive('timestep', timestep, 'ps')
    parent = remote_folder_of(source)
    builder = DescriptorsCalculation.get_builder()
    builder.code = code
    builder.parent_folder = parent
    if settings is not None:
        builder.settings = orm.Dict(dict(settings))
    for key, value, kind in (('trajectory', trajectory, orm.Str), ('topology', topology, orm.Str),
                             ('bead_mass', bead_mass, orm.Float), ('timestep', timestep, orm.Float)):
        if value is not None:
            setattr(builder, key, kind(value))
    if options:
        builder.metadata.options = dict(options)
    if label:
        builder.metadata.label = label
    return run_or_submit(builder, daemon)


def _check_sample_builder(builder, molecules: list[str], seeds: list[int]) -> None:
    """ValueError naming the field when a sample (or each sample of a build) would be refused at submission."""
    from aiida_cgmob.workchains.synthetic import check_sample_inputs, sample_values

    values = sample_values(builder)
    for molecule in molecules:
        problem = check_sample_inputs({**values, 'molecule': molecule, 'seed': seeds[0] if seeds else None})
        if problem:
            raise ValueError(problem)


def launch_sample(
    codes: Mapping[str, orm.AbstractCode],
    molecule: str,
    seed: int,
    protocol: str | None = None,
    overrides: Mapping | None = None,
    options: Mapping | None = None,
    *,
    daemon: bool = False,
) -> orm.WorkflowNode:
    """Run (or submit) one ``cgmob.synthetic.sample``: molecule + seed -> K rows.

    Parameters
    ----------
    codes
        ``gmx``, ``lmp``, ``cgmob-descriptors`` and ``cgmob-ibi`` (:func:`find_codes` finds them).
    molecule
        A built-in name or a hydrocarbon SMILES.
    seed
        The sample seed (bonded parameters and bead masses).
    protocol
        ``fast``, ``moderate`` (default) or ``precise`` (``aiida_cgmob/protocols/synthetic.yaml``).
    overrides
        Inputs merged over the protocol's, e.g. ``{'n_masses': 8, 'mass_range': [40, 120]}``.
    options
        Merged over ``metadata.options`` of every job.
    daemon
        Submit instead of running here.

    Raises
    ------
    ValueError
        Before any node is created, naming the field.
    """
    from aiida_cgmob.workchains.synthetic import SyntheticSampleWorkChain

    _count('seed', seed, 0)
    builder = SyntheticSampleWorkChain.get_builder_from_protocol(dict(codes), molecule, seed, protocol,
                                                                 _overrides(overrides), options)
    _check_sample_builder(builder, [molecule], [seed])
    return run_or_submit(builder, daemon)


def launch_database(
    codes: Mapping[str, orm.AbstractCode],
    group_label: str,
    seeds: list[int],
    molecules: list[str] | None = None,
    protocol: str | None = None,
    overrides: Mapping | None = None,
    options: Mapping | None = None,
    *,
    max_concurrent: int = 4,
    daemon: bool = True,
) -> orm.WorkflowNode:
    """Build or extend the synthetic database ``group_label``: each molecule sampled with each seed.

    Parameters
    ----------
    codes
        ``gmx``, ``lmp``, ``cgmob-descriptors`` and ``cgmob-ibi`` (:func:`find_codes` finds them).
    group_label
        The Group of the database; made if new; a (molecule, seed) already in it is skipped.
    seeds
        Sample seeds (integers >= 0, each once).
    molecules
        Built-in names or hydrocarbon SMILES [default: the three training molecules].
    protocol, overrides, options
        Of each sample (see :func:`launch_sample`).
    max_concurrent
        At most this many samples in flight.
    daemon
        Submit to the daemon (default: a build takes long) instead of running here.

    Raises
    ------
    ValueError
        Before any node is created, naming the field.
    """
    from aiida_cgmob.workchains.synthetic import TRAINING_MOLECULES, SyntheticDatabaseWorkChain, check_build_inputs

    seeds = list(seeds) if seeds is not None else []
    molecules = list(molecules) if molecules is not None else list(TRAINING_MOLECULES)
    problem = check_build_inputs(group_label, molecules, seeds, max_concurrent)
    if problem:
        raise ValueError(problem)
    builder = SyntheticDatabaseWorkChain.get_builder_from_protocol(
        dict(codes), group_label, seeds, molecules, protocol, _overrides(overrides), options,
        max_concurrent=max_concurrent)
    _check_sample_builder(builder.sample, molecules, seeds)
    return run_or_submit(builder, daemon)
