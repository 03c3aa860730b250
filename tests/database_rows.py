"""Database rows made without MD for the tests of the database: plain rows, rows with a (fake) CG run behind them
through the real ``make_row`` calcfunction, and failed sample nodes.

Units: nm, kJ/mol, g/mol, 1e-9 m^2/s.
"""

from __future__ import annotations

import numpy as np
from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import ProcessState

from aiida_cgmob import dataset
from aiida_cgmob.data import PotentialData, RowData
from aiida_cgmob.potentials import Potential

SIGMA, EPSILON = 0.5, 2.0  # nm, kJ/mol


def lj_potential(cutoff: float = 1.4) -> Potential:
    """A 12-6 LJ table from 0.05 nm to ``cutoff``, 0.002 nm apart, shifted to 0 at the cut-off."""
    r = np.linspace(0.05, cutoff, round((cutoff - 0.05) / 0.002) + 1)
    x6 = (SIGMA / r) ** 6
    energy = np.minimum(4 * EPSILON * (x6 * x6 - x6), 500.0)
    return Potential.from_energy(r, energy, treatment={'fitted_range_nm': [0.4, cutoff]}, origin='test LJ')


def model_g(r: np.ndarray, phase: float = 0.0) -> np.ndarray:
    """A liquid-like g(r): 0 inside the core, damped oscillations around 1 outside."""
    g = 1 + 1.5 * np.exp(-(r - 0.55) / 0.25) * np.cos(2 * np.pi * (r - 0.55) / 0.5 + phase)
    return np.where(r < 0.45, 0.0, g)


def row_arrays(mass: float, D: float, cutoff: float = 1.4, phase: float = 0.0) -> tuple[dict, dict]:
    """(arrays, scalars) of a row through the kernel's build_row, from model data."""
    r = np.arange(0.0025, 2.6, 0.005)
    potential = lj_potential(cutoff)
    return dataset.build_row(r=r, g=model_g(r, phase), g_error=np.full(r.size, 0.01), mass=mass, D=D,
                             D_error=0.02 * D, number_density=5.0, temperature=298.15, pressure=10.0,
                             pressure_error=2.0, potential_r=potential.r, potential_energy=potential.energy,
                             potential_force=potential.force, r_core=0.4, box_length=6.0)


def plain_row(molecule: str, seed: int, index: int, mass: float, D: float, cutoff: float = 1.4,
              ibi_status: str = 'converged', scaling_ok: bool | None = True) -> RowData:
    """A stored row made directly (no provenance), as a sample would label it."""
    arrays, scalars = row_arrays(mass, D, cutoff, phase=0.01 * (seed + index))
    row = RowData(arrays, {**scalars, 'molecule': molecule, 'sample_seed': seed, 'mass_index': index,
                           'origin': 'final_potential', 'synthetic': True, 'ibi_status': ibi_status,
                           'ibi_rms': 0.01, 'protocol': 'fast', 'aa_pressure': 1.0, 'temperature_measured': 298.0})
    row.store()
    if scaling_ok is not None:
        row.base.extras.set_many({'mass_scaling_ok': scaling_ok, 'mass_scaling_deviation': 0.0 if scaling_ok else 0.3})
    return row


def _output(node: orm.Data, creator: orm.ProcessNode, label: str) -> orm.Data:
    node.base.links.add_incoming(creator, LinkType.CREATE, label)
    return node.store()


def fake_cg_run(mass: float, D: float, cutoff: float = 1.4) -> dict:
    """A finished ``cgmob.lammps.cg`` job node with the outputs a real one has (descriptors, thermo), made by hand."""
    potential = PotentialData(lj_potential(cutoff)).store()
    mass_node = orm.Float(mass).store()
    job = orm.CalcJobNode(process_type='aiida.calculations:cgmob.lammps.cg')
    job.label = f'fake CG run m={mass:g}'
    job.base.links.add_incoming(potential, LinkType.INPUT_CALC, 'potential')
    job.base.links.add_incoming(mass_node, LinkType.INPUT_CALC, 'mass')
    job.set_process_state(ProcessState.FINISHED)
    job.set_exit_status(0)
    job.store()
    r = np.arange(0.0025, 2.6, 0.005)
    rdf = orm.XyData()
    rdf.set_x(r, 'r', 'nm')
    rdf.set_y([model_g(r), np.full(r.size, 0.01)], ['g', 'g_error'], ['dimensionless'] * 2)
    t = np.linspace(0, 50, 101)
    msd = orm.XyData()
    msd.set_x(t, 't', 'ps')
    per_axis = 2 * D * 1e-3 * t  # D in 1e-9 m^2/s = 1e-3 nm^2/ps
    msd.set_y([per_axis, per_axis, per_axis, 3 * per_axis], ['msd_x', 'msd_y', 'msd_z', 'msd'], ['nm^2'] * 4)
    outputs = {
        'rdf': _output(rdf, job, 'descriptors__rdf'), 'msd': _output(msd, job, 'descriptors__msd'),
        'diffusion': _output(orm.Dict({'D_si': D, 'D_error_si': 0.02 * D, 'box_length': 6.0}), job,
                             'descriptors__diffusion'),
        'density': _output(orm.Dict({'number_density': 5.0}), job, 'descriptors__density'),
        'thermo': _output(orm.Dict({'temperature_K': 298.0, 'pressure_bar': 10.0, 'pressure_bar_error': 2.0}), job,
                          'thermo'),
    }
    job.seal()
    return {'job': job, 'potential': potential, 'mass': mass_node, **outputs}


def row_with_provenance(molecule: str, seed: int, index: int, mass: float, D: float, cutoff: float = 1.4) -> RowData:
    """A row made by the real ``make_row`` from a fake CG run: row <- make_row <- rdf, ... <- CG job <- potential."""
    from aiida_cgmob.calculations.functions import make_row

    run = fake_cg_run(mass, D, cutoff)
    labels = {'molecule': molecule, 'sample_seed': seed, 'origin': 'final_potential', 'synthetic': True,
              'temperature': 298.15, 'aa_pressure': 1.0, 'ibi_status': 'converged', 'ibi_rms': 0.01,
              'protocol': 'fast', 'mass_index': index, 'ensemble': 'nvt'}
    return make_row(run['rdf'], run['diffusion'], run['density'], run['mass'], run['potential'], run['thermo'],
                    orm.Dict(labels))


def failed_sample(molecule: str, seed: int, exit_status: int, message: str) -> orm.WorkflowNode:
    """A finished, failed ``cgmob.synthetic.sample`` node as a database build leaves it in its Group."""
    node = orm.WorkflowNode(process_type='aiida.workflows:cgmob.synthetic.sample')
    node.label = f'{molecule} seed {seed}'
    node.set_process_state(ProcessState.FINISHED)
    node.set_exit_status(exit_status)
    node.set_exit_message(message)
    node.store()
    node.base.extras.set_many({'cgmob_molecule': molecule, 'cgmob_seed': seed})
    node.seal()
    return node
