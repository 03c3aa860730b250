"""Query, export and import the synthetic database: the ``cgmob.row`` nodes of a Group, on QueryBuilder.

A database is a plain AiiDA Group (label chosen at the build): it holds the rows
(:class:`~aiida_cgmob.data.RowData`) and the ``cgmob.synthetic.sample`` nodes of the samples that failed.
Every helper here is one QueryBuilder query, shown in its docstring, so the same selection can be made by hand
(``verdi shell``) or extended.  The selection filters, all optional and combined with AND:

=====================  ====================================================================================
``group``              the Group (``orm.Group``, label, pk or UUID); None: every row of the profile
``molecule``           name, or a list of names (``attributes.molecule``)
``mass``               ``(min, max)`` in g/mol, either bound None for open (``attributes.mass``)
``D``                  ``(min, max)`` in 1e-9 m^2/s (``attributes.D``)
``seed``               sample seed, or a list (``attributes.sample_seed``)
``converged``          True: rows of a converged inversion; False: of an unconverged one (``attributes.ibi_status``)
``mass_scaling_ok``    True / False: the sample's D sqrt(m) check passed / flagged the row (``extras``)
``origin``             ``final_potential``, or a list (``attributes.origin``)
``cutoff``             the potential's cut-off in nm (``attributes.cutoff``; the U grid ends there)
``limit``              at most this many rows (by pk)
=====================  ====================================================================================

Rows of one table share the grids: :func:`to_arrays` and the exports refuse rows on different g or U grids
(a GridError naming both grids and a row on each; select one ``cutoff``).
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from aiida import orm
from aiida.common import exceptions
from aiida.engine import calcfunction

from . import dataset
from .data import RowData, TrainingSetData

if TYPE_CHECKING:
    from .dataset.torch_dataset import RowDataset

__all__ = ['FailedSample', 'RowDataset', 'count_rows', 'export_archive', 'export_hdf5', 'failed_samples',
           'import_hdf5', 'load_database', 'provenance', 'row_dataset', 'row_filters', 'rows', 'select_rows',
           'summary', 'to_arrays', 'training_set_from_hdf5']

#: the process type of a sample ends so (``aiida.workflows:cgmob.synthetic.sample``)
SAMPLE_PROCESS = 'cgmob.synthetic.sample'
#: the row arrays read by :func:`to_arrays`
ROW_ARRAYS = ('g', 'g_error', 'u')
#: rows within this of ``cutoff`` (nm) match it
CUTOFF_TOLERANCE = 1e-6


def __getattr__(name: str):
    """Give :class:`~aiida_cgmob.dataset.torch_dataset.RowDataset` on first use: torch is imported only then."""
    if name == 'RowDataset':
        from .dataset.torch_dataset import RowDataset

        return RowDataset
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def load_database(group: orm.Group | str | int) -> orm.Group:
    """Return the Group of a database from the Group itself, its label, pk or UUID; ValueError when there is none."""
    if isinstance(group, orm.Group):
        return group
    try:
        return orm.load_group(group)
    except (exceptions.NotExistent, exceptions.MultipleObjectsError, ValueError) as exception:
        raise ValueError(f'group {group!r}: {exception}') from exception


# --------------------------------------------------------------------------------------------------- selection
def _one_or_many(name: str, value) -> dict:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return {'==': value}
    values = list(value)
    if not values:
        raise ValueError(f'{name}: an empty list matches nothing')
    return {'in': values}


def _between(name: str, bounds, unit: str) -> dict:
    try:
        low, high = bounds
    except (TypeError, ValueError):
        raise ValueError(f'{name}: give (min, max) in {unit}, either None for open, got {bounds!r}') from None
    if low is not None and high is not None and float(low) > float(high):
        raise ValueError(f'{name}: min {low} > max {high} ({unit})')
    conditions = [{operator: float(value)} for operator, value in (('>=', low), ('<=', high)) if value is not None]
    return conditions[0] if len(conditions) == 1 else {'and': conditions}


def row_filters(*, molecule: str | Sequence[str] | None = None, mass: tuple | None = None, D: tuple | None = None,
                seed: int | Sequence[int] | None = None, converged: bool | None = None,
                mass_scaling_ok: bool | None = None, origin: str | Sequence[str] | None = None,
                cutoff: float | None = None) -> dict:
    """Return the QueryBuilder filters on ``cgmob.row`` nodes of the selection (see the module docstring).

    Examples
    --------
    >>> row_filters(molecule=['EtBz', '3MePe'], mass=(50, None))
    {'attributes.molecule': {'in': ['EtBz', '3MePe']}, 'attributes.mass': {'>=': 50.0}}
    """
    filters: dict = {}
    if molecule is not None:
        filters['attributes.molecule'] = _one_or_many('molecule', molecule)
    if mass is not None:
        filters['attributes.mass'] = _between('mass', mass, 'g/mol')
    if D is not None:
        filters['attributes.D'] = _between('D', D, '1e-9 m^2/s')
    if seed is not None:
        filters['attributes.sample_seed'] = _one_or_many('seed', seed)
    if converged is not None:
        filters['attributes.ibi_status'] = {'==': 'converged' if converged else 'not_converged'}
    if mass_scaling_ok is not None:
        filters['extras.mass_scaling_ok'] = bool(mass_scaling_ok)
    if origin is not None:
        filters['attributes.origin'] = _one_or_many('origin', origin)
    if cutoff is not None:
        filters['attributes.cutoff'] = _between('cutoff', (cutoff - CUTOFF_TOLERANCE, cutoff + CUTOFF_TOLERANCE), 'nm')
    return filters


def select_rows(group: orm.Group | str | int | None = None, *, limit: int | None = None, project='*',
                **selection) -> orm.QueryBuilder:
    """Return the QueryBuilder of the rows of the selection, ordered by pk, projecting ``project``.

    Parameters
    ----------
    group
        The database (Group, label, pk or UUID); None: rows of every group and of none.
    limit
        At most this many rows.
    project
        What the query returns per row: ``'*'`` (the node), or attribute paths such as
        ``['uuid', 'attributes.mass', 'attributes.D']``.
    **selection
        The filters of :func:`row_filters`: ``molecule``, ``mass``, ``D``, ``seed``, ``converged``,
        ``mass_scaling_ok``, ``origin``, ``cutoff``.

    Notes
    -----
    ``select_rows('db', molecule='EtBz', mass=(50, 150))`` is::

        from aiida import orm
        from aiida_cgmob.data import RowData

        query = orm.QueryBuilder()
        query.append(orm.Group, filters={'label': 'db'}, tag='group')
        query.append(RowData, with_group='group', tag='row', project='*', filters={
            'attributes.molecule': {'==': 'EtBz'},
            'attributes.mass': {'and': [{'>=': 50.0}, {'<=': 150.0}]}})
        query.order_by({'row': {'id': 'asc'}})
    """
    filters = row_filters(**selection)
    query = orm.QueryBuilder()
    if group is not None:
        query.append(orm.Group, filters={'id': load_database(group).pk}, tag='group')
        query.append(RowData, with_group='group', filters=filters, tag='row', project=project)
    else:
        query.append(RowData, filters=filters, tag='row', project=project)
    query.order_by({'row': {'id': 'asc'}})
    if limit is not None:
        query.limit(int(limit))
    return query


def rows(group: orm.Group | str | int | None = None, **selection) -> list[RowData]:
    """Return the rows of the selection (:func:`select_rows`), ordered by pk: ``select_rows(...).all(flat=True)``."""
    return select_rows(group, **selection).all(flat=True)


def count_rows(group: orm.Group | str | int | None = None, **selection) -> int:
    """Return how many rows the selection holds: ``select_rows(...).count()``, counted by the database."""
    return select_rows(group, **selection).count()


class FailedSample(NamedTuple):
    """A sample that made no rows: its node, what it was and why it failed."""

    node: orm.WorkflowNode
    molecule: str | None
    seed: int | None
    exit_status: int | None
    message: str


def failed_samples(group: orm.Group | str | int | None = None) -> list[FailedSample]:
    """Return the failed ``cgmob.synthetic.sample`` nodes of ``group`` (None: of the whole profile), by pk.

    Notes
    -----
    The query::

        query = orm.QueryBuilder()
        query.append(orm.Group, filters={'label': 'db'}, tag='group')
        query.append(orm.WorkflowNode, with_group='group', tag='sample', project='*', filters={
            'process_type': {'like': '%cgmob.synthetic.sample'},
            'or': [{'attributes.exit_status': {'>': 0}},
                   {'attributes.process_state': {'in': ['excepted', 'killed']}}]})
    """
    filters = {'process_type': {'like': f'%{SAMPLE_PROCESS}'},
               'or': [{'attributes.exit_status': {'>': 0}},
                      {'attributes.process_state': {'in': ['excepted', 'killed']}}]}
    query = orm.QueryBuilder()
    if group is not None:
        query.append(orm.Group, filters={'id': load_database(group).pk}, tag='group')
        query.append(orm.WorkflowNode, with_group='group', filters=filters, tag='sample', project='*')
    else:
        query.append(orm.WorkflowNode, filters=filters, tag='sample', project='*')
    query.order_by({'sample': {'id': 'asc'}})
    found = []
    for node in query.all(flat=True):
        extras = node.base.extras
        message = node.exit_message or (f'{node.process_state.value}' if node.process_state else 'no message')
        found.append(FailedSample(node, extras.get('cgmob_molecule', None), extras.get('cgmob_seed', None),
                                  node.exit_status, message))
    return found


def summary(group: orm.Group | str | int) -> dict:
    """Return what a database holds: rows and samples per molecule, ranges, inversions, failures by exit status.

    Returns
    -------
    dict
        ``group`` (label), ``n_rows``, ``n_failed``, ``molecules`` ({molecule: {rows, samples, failed}}),
        ``mass``, ``D``, ``D_sqrt_m`` ((min, max) or None), ``ibi_status`` ({status: rows}),
        ``mass_scaling`` ({'ok', 'flagged', 'unchecked': rows}), ``failures`` ({exit status: {count, messages}}),
        ``units``.

    Notes
    -----
    One projection of the rows::

        query = select_rows('db', project=['attributes.molecule', 'attributes.sample_seed', 'attributes.mass',
                                           'attributes.D', 'attributes.D_sqrt_m', 'attributes.ibi_status',
                                           'extras.mass_scaling_ok'])

    and :func:`failed_samples`.
    """
    group = load_database(group)
    projected = select_rows(group, project=['attributes.molecule', 'attributes.sample_seed', 'attributes.mass',
                                            'attributes.D', 'attributes.D_sqrt_m', 'attributes.ibi_status',
                                            'extras.mass_scaling_ok']).all()
    failed = failed_samples(group)
    molecules: dict = defaultdict(lambda: {'rows': 0, 'samples': 0, 'failed': 0})
    seeds = defaultdict(set)
    for molecule, seed, *_ in projected:
        molecules[molecule]['rows'] += 1
        seeds[molecule].add(seed)
    for molecule, found in seeds.items():
        molecules[molecule]['samples'] = len(found)
    for sample in failed:
        molecules[sample.molecule]['failed'] += 1
    failures: dict = {}
    for sample in failed:
        entry = failures.setdefault(sample.exit_status, {'count': 0, 'messages': []})
        entry['count'] += 1
        if sample.message not in entry['messages']:
            entry['messages'].append(sample.message)

    def span(index):
        values = [row[index] for row in projected if row[index] is not None]
        return (min(values), max(values)) if values else None

    # sqlite gives a projected JSON boolean as 1/0
    scaling = Counter('unchecked' if row[6] is None else ('ok' if row[6] else 'flagged') for row in projected)
    return {
        'group': group.label, 'n_rows': len(projected), 'n_failed': len(failed),
        'molecules': {name: dict(value) for name, value in sorted(molecules.items(), key=lambda item: str(item[0]))},
        'mass': span(2), 'D': span(3), 'D_sqrt_m': span(4),
        'ibi_status': dict(Counter(row[5] for row in projected)),
        'mass_scaling': {key: scaling.get(key, 0) for key in ('ok', 'flagged', 'unchecked')},
        'failures': failures,
        'units': {key: dataset.ROW_UNITS[key] for key in ('mass', 'D', 'D_sqrt_m')},
    }


# ------------------------------------------------------------------------------------------------------ arrays
def _read_arrays_in_bulk(keys: list[dict[str, str]], out: dict[str, np.ndarray], uuids: list[str]) -> None:
    """Fill ``out[name][i]`` with the array whose repository key is ``keys[i][name]``, reading each object once.

    The objects are streamed from the repository in one pass (disk-objectstore reads packed ones in file
    order), not node by node; rows with identical arrays (an all-NaN g_error) share one object.
    """
    from aiida.manage import get_manager

    targets: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for index, row_keys in enumerate(keys):
        for name, key in row_keys.items():
            targets[key].append((name, index))
    repository = get_manager().get_profile_storage().get_repository()
    for key, stream in repository.iter_object_streams(list(targets)):
        array = np.load(io.BytesIO(stream.read()), allow_pickle=False)
        for name, index in targets[key]:
            if array.shape != out[name].shape[1:]:
                raise dataset.GridError(f'row {uuids[index]}: array {name} has shape {array.shape}, its grid '
                                        f'{out[name].shape[1:]}')
            out[name][index] = array


def _read_arrays_node_by_node(uuids: list[str], out: dict[str, np.ndarray]) -> None:
    """Fill ``out`` loading each row node and its arrays one by one (the slow way, kept to measure against)."""
    for index, uuid in enumerate(uuids):
        node = orm.load_node(uuid)
        for name in out:
            out[name][index] = node.get_array(name)


def to_arrays(group: orm.Group | str | int | None = None, *, limit: int | None = None, bulk: bool = True,
              **selection) -> dict:
    """Return the rows of the selection as one table of numpy arrays on their common grids.

    Parameters
    ----------
    group, limit, **selection
        As :func:`select_rows`.
    bulk
        Read the arrays' objects from the repository in one pass (default) instead of loading each node.

    Returns
    -------
    dict
        ``r_g`` (G,) and ``r_u`` (U,) in nm; ``g``, ``g_error`` (N, G); ``u`` (N, U) in kJ/mol; one (N,) array
        per column of :data:`aiida_cgmob.dataset.COLUMNS` (``uuid``, ``molecule``, ``mass``, ``D``, ``D_sqrt_m``,
        ...; missing values NaN, -1 or ''), ``pk`` (N,); ``g_grid``, ``u_grid`` and ``units``.  The shape
        :func:`aiida_cgmob.dataset.write` takes.

    Raises
    ------
    ValueError
        When the selection holds no row.
    aiida_cgmob.dataset.GridError
        For rows on different grids: the message names both grids and a row on each.

    Notes
    -----
    One query projects every row's attributes, extras and repository metadata (the keys of its ``g.npy``,
    ``g_error.npy`` and ``u.npy`` objects)::

        query = select_rows(group, project=['id', 'uuid', 'attributes', 'extras', 'repository_metadata'])

    and the objects are then read straight from the repository, without making a node per row.
    """
    records = select_rows(group, limit=limit, project=['id', 'uuid', 'attributes', 'extras',
                                                       'repository_metadata'], **selection).all()
    if not records:
        raise ValueError(f'no rows match the selection (group {group!r}, {selection or "no filters"})')
    uuids = [uuid for _, uuid, *_ in records]
    g_grid, u_grid = dataset.check_common_grids(
        ((attributes.get('g_grid'), attributes.get('u_grid')) for _, _, attributes, *_ in records),
        [f'row {uuid}' for uuid in uuids])
    n = len(records)
    out = {'g': np.empty((n, g_grid.n_points)), 'g_error': np.empty((n, g_grid.n_points)),
           'u': np.empty((n, u_grid.n_points))}
    if bulk:
        try:
            keys = [{name: metadata['o'][f'{name}.npy']['k'] for name in ROW_ARRAYS}
                    for *_, metadata in records]
        except (KeyError, TypeError) as exception:
            raise ValueError(f'a row lacks one of the arrays {ROW_ARRAYS}: {exception}') from exception
        _read_arrays_in_bulk(keys, out, uuids)
    else:
        _read_arrays_node_by_node(uuids, out)
    table = {'r_g': g_grid.r, 'r_u': u_grid.r, **out, 'pk': np.array([pk for pk, *_ in records], dtype=np.int64)}
    for name, (kind, _) in dataset.COLUMNS.items():
        if name == 'uuid':
            values = uuids
        elif name.startswith('mass_scaling_'):  # set by the sample's check, as extras
            values = [dataset.hdf5.column_value(name, extras.get(name)) for _, _, _, extras, _ in records]
        else:
            values = [dataset.hdf5.column_value(name, attributes.get(name)) for _, _, attributes, _, _ in records]
        table[name] = (np.array(values, dtype=str) if kind == 'str'
                       else np.array(values, dtype={'int': np.int64, 'float': np.float64, 'flag': np.int8}[kind]))
    table.update(g_grid=g_grid.as_dict(), u_grid=u_grid.as_dict(), units=dataset.table_units())
    return table


def row_dataset(group: orm.Group | str | int | None = None, **selection) -> RowDataset:
    """Return the rows of the selection as a PyTorch dataset (:class:`RowDataset` of :func:`to_arrays`)."""
    from .dataset.torch_dataset import RowDataset

    return RowDataset(to_arrays(group, **selection))


# ---------------------------------------------------------------------------------------------- export, import
def _describe(selection: Mapping, n_rows: int) -> str:
    """One line saying where the rows of an export came from."""
    from aiida import __version__ as aiida_version
    from aiida.manage import get_manager

    from . import __version__

    profile = get_manager().get_profile()
    parts = [f'{n_rows} rows of AiiDA profile {profile.name!r}' if profile else f'{n_rows} rows']
    group = selection.get('group')
    if group is not None:
        group = load_database(group)
        parts.append(f'group {group.label!r} (uuid {group.uuid})')
    filters = {key: value for key, value in selection.items() if key != 'group' and value is not None}
    if filters:
        parts.append('selection ' + ', '.join(f'{key}={value!r}' for key, value in filters.items()))
    parts.append(f'aiida-cgmob {__version__}, aiida-core {aiida_version}')
    return '; '.join(parts)


def export_hdf5(selection: orm.Group | str | int | Mapping, path: str | Path) -> Path:
    """Write the rows of ``selection`` to the flat HDF5 file ``path`` (format ``cgmob-database`` 1); return it.

    Parameters
    ----------
    selection
        A database (Group, label, pk or UUID), or a mapping of :func:`select_rows` keywords, e.g.
        ``{'group': 'db', 'molecule': 'EtBz', 'converged': True}``.
    path
        The file to write (overwritten).

    Notes
    -----
    ``dataset.write(path, to_arrays(**selection), source=...)``; the file's ``source`` attribute names the
    profile, the group, the filters and the versions.
    """
    selection = dict(selection) if isinstance(selection, Mapping) else {'group': selection}
    table = to_arrays(**selection)
    return dataset.write(path, table, source=_describe(selection, table['g'].shape[0]))


@calcfunction
def training_set_from_hdf5(file: orm.SinglefileData) -> TrainingSetData:
    """Make a ``cgmob.training_set`` of the rows of a ``cgmob-database`` HDF5 file (recorded: file -> set)."""
    with file.as_path() as path:
        return TrainingSetData(dataset.read(path))


def import_hdf5(path: str | Path, label: str | None = None) -> TrainingSetData:
    """Store an HDF5 file of rows as ``SinglefileData`` and make a ``cgmob.training_set`` node from it.

    The file is checked first (format name and version, readable table), so a wrong file leaves no node behind;
    then :func:`training_set_from_hdf5` records the provenance file -> training set.

    Parameters
    ----------
    path
        A file written by :func:`export_hdf5` or :func:`aiida_cgmob.dataset.write`.
    label
        Label of the file node and of the training set [default: the file's name].

    Raises
    ------
    aiida_cgmob.dataset.DatabaseFileError
        For a file that is not a ``cgmob-database`` file of a version this code reads.
    """
    path = Path(path)
    table = dataset.read(path)
    label = label or path.name
    file = orm.SinglefileData(path.resolve())
    file.label = label
    file.description = table.get('source', '')
    file.store()
    training_set = training_set_from_hdf5(file, metadata={'label': f'import {label}'})
    training_set.label = label
    return training_set


def export_archive(group: orm.Group | str | int, path: str | Path, overwrite: bool = False) -> Path:
    """Write an AiiDA archive of the database ``group`` with its provenance; return its path.

    ``verdi archive import`` of the file into any profile gives the Group back with every row, every failed
    sample and, by aiida's export rules, everything they were made from (make_row, the CG runs with their
    descriptors, potentials, inversions, all-atom runs, seeds) and the processes that called them.

    Notes
    -----
    ``aiida.tools.archive.create_archive([group], filename=path)``, as ``verdi archive create --groups GROUP``.
    A process left unsealed by a killed daemon makes it fail: the ValueError says how to seal such processes.
    """
    from aiida.tools.archive import create_archive
    from aiida.tools.archive.exceptions import ExportValidationError

    try:
        return Path(create_archive([load_database(group)], filename=Path(path), overwrite=overwrite))
    except ExportValidationError as exception:
        if 'must be sealed' not in str(exception):
            raise
        raise ValueError(f'{exception} If a daemon was killed during the build, these are what it left unfinished: '
                         f'seal them with aiida_cgmob.profile.seal_orphaned_processes() (docs: production, '
                         f'"A killed daemon"), then export again.') from exception


def provenance(row: RowData) -> dict:
    """Return the nodes a row was made from; None for a link the row lacks (a row made without MD).

    Keys: ``make_row`` (the calcfunction), ``cg`` (the CG LAMMPS job whose descriptors it read), ``msd`` (that
    job's MSD), ``potential``, ``ibi`` (the job that made the potential), ``sample`` (the work chain that called
    make_row).
    """
    found: dict = dict.fromkeys(('make_row', 'cg', 'msd', 'potential', 'ibi', 'sample'))
    creator = row.creator
    if creator is None:
        return found
    found['make_row'] = creator
    found['sample'] = creator.caller
    inputs = {link.link_label: link.node for link in creator.base.links.get_incoming().all()}
    if 'rdf' in inputs:
        found['cg'] = inputs['rdf'].creator
    if 'potential' in inputs:
        found['potential'] = inputs['potential']
        found['ibi'] = inputs['potential'].creator
    if found['cg'] is not None:
        msd = found['cg'].base.links.get_outgoing(link_label_filter='descriptors__msd').all()
        found['msd'] = msd[0].node if msd else None
    return found
