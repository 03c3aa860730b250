"""``cgmob.potential``: storage, validation at the port of entry, exports in every table format."""

import numpy as np
import pytest
from aiida import orm
from aiida.plugins import DataFactory

from aiida_cgmob.potentials import PotentialError, lennard_jones, read_lammps_table, read_votca_table


@pytest.fixture
def lj():
    return lennard_jones(np.linspace(0.3, 1.2, 181), cutoff=1.2)


def test_entry_point_stores_and_round_trips(aiida_profile, lj):
    PotentialData = DataFactory('cgmob.potential')
    node = PotentialData(lj).store()
    loaded = orm.load_node(node.pk)
    assert loaded.potential == lj
    assert loaded.cutoff == pytest.approx(1.2)
    assert loaded.base.attributes.get('units')['energy'] == 'kJ/mol'
    found = orm.QueryBuilder().append(PotentialData, filters={'attributes.cutoff': {'<': 1.3}}).all(flat=True)
    assert node.pk in [n.pk for n in found]


def test_exports_match_the_kernel_writers(aiida_profile, lj, tmp_path):
    PotentialData = DataFactory('cgmob.potential')
    node = PotentialData(lj)
    node.export(tmp_path / 'u.table', fileformat='lammps')
    back = read_lammps_table(tmp_path / 'u.table')
    assert back.r.size == 2000  # at least LAMMPS_TABLE_POINTS: the interpolation between the nodes is resolved
    np.testing.assert_allclose(back.energy, lj(back.r)[0], atol=1e-6)
    node.export(tmp_path / 'u.xvg', fileformat='votca')
    np.testing.assert_allclose(read_votca_table(tmp_path / 'u.xvg').energy, lj.energy, atol=1e-8)


def test_refuses_bad_values_before_storing(aiida_profile, lj):
    PotentialData = DataFactory('cgmob.potential')
    node = PotentialData(lj)
    energy = lj.energy.copy()
    energy[5] = np.nan
    node.set_array('energy', energy)
    with pytest.raises(PotentialError, match='energy'):
        node.store()
    with pytest.raises(TypeError, match='Potential'):
        PotentialData({'r': [1, 2]})
