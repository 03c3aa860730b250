"""The flat HDF5 file of the database (aiida_cgmob.dataset.hdf5) and the torch dataset, without AiiDA nodes."""

from __future__ import annotations

import json
import re

import h5py
import numpy as np
import pytest

from aiida_cgmob import dataset
from aiida_cgmob.dataset import hdf5


def make_rows(n: int = 4, cutoff: float = 1.4) -> list[dict]:
    """``n`` rows on the common g grid and the U grid of ``cutoff``, with every kind of column and missing values."""
    g_grid, u_grid = dataset.G_GRID, dataset.u_grid_spec(cutoff)
    rng = np.random.default_rng(3)
    rows = []
    for index in range(n):
        rows.append({
            'uuid': f'{index:08d}-0000-4000-8000-000000000000', 'molecule': ['EtBz', '3MePe', 'ümlaut'][index % 3],
            'sample_seed': index, 'mass_index': index % 2, 'origin': 'final_potential', 'ensemble': 'nvt',
            'ibi_status': 'converged', 'protocol': None, 'mass': 20.0 + 10 * index, 'D': 1.0 + index,
            'D_error': 0.1, 'pressure': None if index == 0 else 5.0, 'mass_scaling_ok': [True, False, None][index % 3],
            'synthetic': True, 'g': rng.random(g_grid.n_points), 'g_error': None if index == 1 else
            rng.random(g_grid.n_points), 'u': rng.random(u_grid.n_points), 'g_grid': g_grid.as_dict(),
            'u_grid': u_grid.as_dict(),
        })
    return rows


def test_round_trip_keeps_every_value_unit_and_uuid(tmp_path):
    rows = make_rows()
    path = dataset.write_rows(tmp_path / 'db.h5', rows, source='test rows')
    table = dataset.read(path)
    assert table['format'] == 'cgmob-database' and table['format_version'] == 1 and table['source'] == 'test rows'
    assert table['created'].endswith('+00:00')
    np.testing.assert_array_equal(table['r_g'], dataset.G_GRID.r)
    np.testing.assert_array_equal(table['r_u'], dataset.u_grid_spec(1.4).r)
    np.testing.assert_array_equal(table['g'], [row['g'] for row in rows])
    np.testing.assert_array_equal(table['u'], [row['u'] for row in rows])
    assert np.isnan(table['g_error'][1]).all() and np.array_equal(table['g_error'][0], rows[0]['g_error'])
    assert list(table['uuid']) == [row['uuid'] for row in rows]
    assert list(table['molecule']) == ['EtBz', '3MePe', 'ümlaut', 'EtBz']  # UTF-8
    assert list(table['protocol']) == [''] * 4  # missing string
    assert np.isnan(table['pressure'][0]) and table['pressure'][1] == 5.0  # missing float
    assert list(table['mass_scaling_ok']) == [1, 0, -1, 1]  # flag: yes, no, not known
    assert list(table['sample_seed']) == [0, 1, 2, 3] and table['sample_seed'].dtype == np.int64
    assert (table['mass_index'] >= 0).all()
    assert np.all(table['box_length'] != table['box_length'])  # absent column: NaN
    assert table['g_grid'] == dataset.G_GRID.as_dict() and table['u_grid'] == dataset.u_grid_spec(1.4).as_dict()
    assert table['units']['u'] == 'kJ/mol' and table['units']['D'] == '1e-9 m^2/s' and table['units']['mass'] == 'g/mol'
    with h5py.File(path) as handle:  # the documented layout, readable by plain h5py
        assert handle.attrs['format'] == 'cgmob-database' and handle.attrs['n_rows'] == 4
        assert json.loads(handle.attrs['units'])['D_sqrt_m'] == '1e-9 m^2/s (g/mol)^0.5'
        assert json.loads(handle.attrs['u_grid']) == {'r_min': 0.3, 'r_max': 1.4, 'n_points': 551}
        for name in ('r_g', 'r_u', 'g', 'g_error', 'u', *dataset.COLUMNS):
            assert 'units' in handle[name].attrs, name
            assert handle[name].compression == 'gzip', name
        assert handle['g'].shape == (4, 481) and handle['u'].shape == (4, 551) and handle['mass'].shape == (4,)
        assert handle['r_u'].attrs['units'] == 'nm' and handle['temperature'].attrs['units'] == 'K'


@pytest.mark.parametrize('cutoff, which', [(1.0, 'U(r) grids: 0.3-1.4 nm, 551 points'), (None, 'g(r) grids')])
def test_rows_on_different_grids_are_refused_naming_both(tmp_path, cutoff, which):
    rows = make_rows(2)
    other = make_rows(1, cutoff or 1.4)[0]
    if cutoff is None:
        other['g_grid'] = dataset.GridSpec(0.1, 2.0, 381).as_dict()
        other['g'] = np.ones(381)
    other['uuid'] = 'the-odd-one'
    with pytest.raises(dataset.GridError, match=re.escape(which)) as error:
        dataset.write_rows(tmp_path / 'x.h5', [*rows, other])
    assert rows[0]['uuid'] in str(error.value) and 'the-odd-one' in str(error.value)
    assert ('0.3-1 nm, 351 points' if cutoff else '0.1-2 nm, 381 points') in str(error.value)
    assert not (tmp_path / 'x.h5').exists()


def test_write_refuses_bad_tables(tmp_path):
    table = dataset.stack_rows(make_rows(2))
    with pytest.raises(dataset.DatabaseFileError, match='no rows'):
        dataset.write(tmp_path / 'x.h5', {**table, 'g': np.empty((0, 481)), 'u': np.empty((0, 551))})
    with pytest.raises(dataset.DatabaseFileError, match='lacks D'):
        dataset.write(tmp_path / 'x.h5', {key: value for key, value in table.items() if key != 'D'})
    with pytest.raises(dataset.DatabaseFileError, match='column mass has shape'):
        dataset.write(tmp_path / 'x.h5', {**table, 'mass': np.ones(3)})
    with pytest.raises(dataset.GridError, match='r_u'):
        dataset.write(tmp_path / 'x.h5', {**table, 'u_grid': dataset.u_grid_spec(1.2).as_dict()})


def test_read_checks_the_format_name_and_version(tmp_path):
    path = dataset.write_rows(tmp_path / 'db.h5', make_rows(1))
    with h5py.File(path, 'a') as handle:
        handle.attrs['format_version'] = 2
    with pytest.raises(dataset.DatabaseFileError, match='format version 2; this aiida-cgmob reads version 1'):
        dataset.read(path)
    with h5py.File(tmp_path / 'other.h5', 'w') as handle:
        handle['x'] = [1, 2]
    with pytest.raises(dataset.DatabaseFileError, match="not a cgmob-database file .*None"):
        dataset.read(tmp_path / 'other.h5')
    (tmp_path / 'text.h5').write_text('not hdf5')
    with pytest.raises(dataset.DatabaseFileError, match='not an HDF5 file'):
        dataset.read(tmp_path / 'text.h5')


def test_row_dataset_gives_float32_inputs_and_labels(tmp_path):
    import torch

    from aiida_cgmob.dataset.torch_dataset import RowDataset

    table = dataset.read(dataset.write_rows(tmp_path / 'db.h5', make_rows(5)))
    rows = RowDataset(table)
    assert len(rows) == 5
    inputs, label = rows[2]
    assert inputs['mass'].shape == () and inputs['D'].shape == () and inputs['g'].shape == (481,)
    assert label.shape == (551,) and label.dtype == torch.float32 and inputs['g'].dtype == torch.float32
    assert float(inputs['mass']) == 40.0 and float(inputs['D']) == 3.0
    batch_inputs, batch_labels = next(iter(torch.utils.data.DataLoader(rows, batch_size=4)))
    assert batch_inputs['g'].shape == (4, 481) and batch_inputs['mass'].shape == (4,)
    assert batch_labels.shape == (4, 551)
    assert rows.uuid[0] == table['uuid'][0] and rows.r_u.size == 551
    with pytest.raises(ValueError, match='same number of rows'):
        RowDataset({**table, 'D': table['D'][:3]})


def test_plot_row_writes_three_panels(tmp_path):
    r_g, r_u = dataset.G_GRID.r, dataset.u_grid_spec(1.4).r
    t = np.linspace(0, 10, 11)
    from aiida_cgmob.dataset.plots import plot_row

    path = plot_row(tmp_path / 'row.png', r_g, np.ones_like(r_g), r_u, np.zeros_like(r_u), t, 0.01 * t, D=1.0,
                    r_core=0.35, title='row')
    assert path.stat().st_size > 10_000
    path = plot_row(tmp_path / 'no-msd.png', r_g, np.ones_like(r_g), r_u, np.zeros_like(r_u))
    assert path.exists()


def test_column_kinds_are_documented():
    """Every column has a kind the writer knows and a unit string (empty only for labels, identifiers and flags)."""
    for name, (kind, unit) in dataset.COLUMNS.items():
        assert kind in ('str', 'int', 'float', 'flag'), name
        assert (unit == '') == (kind != 'float'), name
    assert hdf5.ARRAY_NAMES == ('r_g', 'r_u', 'g', 'g_error', 'u')


def test_a_row_without_grids_is_named():
    rows = make_rows(2)
    rows[1]['u_grid'] = None
    with pytest.raises(dataset.GridError, match='row 00000001-.* records no usable g_grid and u_grid'):
        dataset.stack_rows([{**row, 'uuid': f'row {row["uuid"]}'} for row in rows])


def test_the_docs_describe_every_dataset_of_the_file():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / 'docs' / 'database.rst').read_text()
    schema = text[text.index('The HDF5 file'):text.index('Import as a training set')]
    for name in (*hdf5.ARRAY_NAMES, *dataset.COLUMNS):
        assert f'``{name}``' in schema, name
    assert 'format_version' in schema and 'cgmob-database' in schema
