"""The reference database that ships with the package: readable without AiiDA, physically sane, one archive."""

from __future__ import annotations

import numpy as np
import pytest

from aiida_cgmob import reference
from aiida_cgmob.dataset import G_GRID, read


@pytest.fixture(scope='module')
def table():
    return read(reference.HDF5)


def test_files_ship_and_stay_small():
    assert reference.HDF5.is_file() and reference.ARCHIVE.is_file()
    assert (reference.HDF5.stat().st_size + reference.ARCHIVE.stat().st_size) <= 50 * 1024**2
    assert (reference.DIRECTORY / 'README.md').is_file()


def test_the_acceptance_floor_and_common_grids(table):
    """At least 9 samples over the three training molecules, each with at least 5 masses; one g grid."""
    molecules = set(table['molecule'])
    assert molecules == {'234TriMePe', 'EtBz', '3MePe'}
    samples = {(molecule, seed) for molecule, seed in zip(table['molecule'], table['sample_seed'], strict=True)}
    assert len(samples) >= 9
    assert table['g_grid'] == G_GRID.as_dict() and table['g'].shape == (len(table['mass']), G_GRID.n_points)
    assert np.all(np.isfinite(table['g'])) and np.all(np.isfinite(table['u']))
    assert len(set(table['uuid'])) == len(table['uuid'])


def test_rows_are_physical(table):
    mass, D = table['mass'], table['D']
    assert np.all((mass >= 20.0) & (mass <= 200.0))
    assert np.all(D > 0) and np.allclose(table['D_sqrt_m'], D * np.sqrt(mass))
    # liquids (or dense gases) at 298 K: g -> 1 at the end of the grid, a first peak above 1
    assert np.all(np.abs(table['g'][:, -40:].mean(axis=1) - 1.0) < 0.05)
    assert np.all(table['g'].max(axis=1) > 1.0)
    assert np.all(np.abs(table['u'][:, -1]) < 1e-12)  # U(r_c) = 0 (rows made before 92bc00b: up to round-off)
    assert np.allclose(table['temperature'], 298.15)


def test_the_archive_holds_the_same_rows():
    """Read the archive's own database (no import): the same row UUIDs as the HDF5 file."""
    from aiida.storage.sqlite_zip.backend import SqliteZipBackend

    from aiida_cgmob.data import RowData

    storage = SqliteZipBackend(SqliteZipBackend.create_profile(reference.ARCHIVE))
    try:
        from aiida.orm import QueryBuilder

        uuids = QueryBuilder(backend=storage).append(RowData, project='uuid').all(flat=True)
    finally:
        storage.close()
    assert sorted(uuids) == sorted(read(reference.HDF5)['uuid'])
