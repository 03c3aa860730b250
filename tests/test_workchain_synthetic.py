"""``cgmob.synthetic.sample`` and ``cgmob.synthetic.database`` with the real engines on tiny systems."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node

from conftest import tiny_stages

BIN = Path(sys.executable).parent

#: a sample in seconds: 60 molecules, 5 ps of production, 2 inversion iterations, 2 CG runs of 10 ps
TINY = {
    'n_molecules': 60, 'n_masses': 2, 'start_density': 500.0,
    'aa': {'gromacs': {'parameters': {'stages': tiny_stages(500, 2500, **{"nstxout-compressed": 50})},
                       'descriptors': {'settings': {'fit_window': [0.5, 2.0]}}}},
    'ibi': {'ibi': {'n_beads': 200, 'settings': {'cutoff': 1.0, 'max_iterations': 2, 'tolerance': 0.05},
                    'lammps_settings': {'timestep': 0.004, 'equilibration': 1.0, 'production': 5.0,
                                        'frame_interval': 0.1, 'thermo_interval': 0.2, 'restart_interval': 5.0}}},
    'cg': {'lammps': {'settings': {'timestep': 0.005, 'equilibration': 2.0, 'production': 10.0,
                                   'frame_interval': 0.1, 'thermo_interval': 0.2, 'restart_interval': 10.0},
                      'descriptors': {'settings': {'fit_window': [0.5, 3.0]}}}},
}
OPTIONS = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1}, 'max_wallclock_seconds': 600}


@pytest.fixture
def codes(gmx_code, lmp_code, descriptors_code, aiida_code_installed):
    ibi = aiida_code_installed(label='cgmob-ibi', default_calc_job_plugin='cgmob.ibi',
                               filepath_executable=str(BIN / 'cgmob-ibi'))
    return {'gmx': gmx_code, 'lmp': lmp_code, 'cgmob-descriptors': descriptors_code, 'cgmob-ibi': ibi}


def test_sample_makes_rows_with_provenance(codes):
    from aiida_cgmob.workchains.synthetic import SyntheticSampleWorkChain

    builder = SyntheticSampleWorkChain.get_builder_from_protocol(codes, '3MePe', 1, 'fast', TINY, OPTIONS)
    _, node = run_get_node(builder)
    assert node.is_finished_ok, (node.exit_status, node.exit_message)
    rows = node.outputs.rows
    assert sorted(rows) == ['row_0', 'row_1']
    row = rows.row_0
    assert row.g.shape == (481,) and np.all(np.isfinite(row.u))
    print(node.outputs.summary.get_dict())
