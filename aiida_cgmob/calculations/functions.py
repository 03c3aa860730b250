"""Calculation functions that record how data were made: seed -> parameters -> topology; seed -> masses; run -> row."""

from __future__ import annotations

from aiida import orm
from aiida.engine import calcfunction

from aiida_cgmob import dataset, topology
from aiida_cgmob.data import BondedParametersData, PotentialData, RowData

__all__ = ['build_liquid', 'check_mass_scaling', 'draw_masses', 'make_row', 'sample_bonded_parameters']


@calcfunction
def sample_bonded_parameters(molecule: orm.Str, seed: orm.Int, ranges: orm.Dict | None = None) -> BondedParametersData:
    """Draw synthetic bonded parameters for ``molecule`` (built-in name or SMILES) with ``seed``."""
    built = topology.build_molecule(molecule.value)
    sampled = topology.sample_bonded_parameters(built, seed.value, ranges.get_dict() if ranges else None)
    return BondedParametersData(sampled)


@calcfunction
def build_liquid(
    molecule: orm.Str,
    n_molecules: orm.Int,
    density: orm.Float,
    seed: orm.Int,
    bonded_parameters: orm.Dict | None = None,
) -> dict[str, orm.SinglefileData]:
    """Build ``n_molecules`` at ``density`` (kg/m^3): a .gro and a self-contained .top."""
    liquid = topology.build_liquid(molecule.value, n_molecules.value, density.value, seed.value,
                                   bonded_parameters.get_dict() if bonded_parameters else None)
    return {
        'structure': orm.SinglefileData.from_string(liquid.gro, filename='conf.gro'),
        'topology': orm.SinglefileData.from_string(liquid.top, filename='topol.top'),
    }


@calcfunction
def draw_masses(seed: orm.Int, count: orm.Int, mass_range: orm.List, distribution: orm.Str) -> dict[str, orm.Float]:
    """Draw ``count`` bead masses (g/mol) in ``mass_range`` from ``distribution`` with ``seed``: mass_0, mass_1, ..."""
    masses = dataset.draw_masses(seed.value, count.value, *mass_range.get_list(), distribution.value)
    return {f'mass_{index}': orm.Float(mass) for index, mass in enumerate(masses)}


@calcfunction
def make_row(rdf: orm.XyData, diffusion: orm.Dict, density: orm.Dict, mass: orm.Float, potential: PotentialData,
             thermo: orm.Dict, labels: orm.Dict) -> RowData:
    """One database row from a CG run's descriptors (rdf, diffusion, density), thermo, mass and potential.

    ``labels`` carry what the run does not know about itself: molecule, sample_seed, mass_index, origin,
    temperature (K), ensemble, protocol, ibi_status, ...; they become attributes of the row as they are.
    """
    r = rdf.get_x()[1]
    columns = {name: values for name, values, _ in rdf.get_y()}
    potential_table = potential.potential
    fitted = potential_table.treatment.get('fitted_range_nm') or [None]
    thermo_values = thermo.get_dict()
    labels_dict = labels.get_dict()
    arrays, scalars = dataset.build_row(
        r=r, g=columns['g'], g_error=columns.get('g_error'), mass=mass.value, D=diffusion['D_si'],
        D_error=diffusion['D_error_si'], number_density=density['number_density'],
        temperature=labels_dict.get('temperature', thermo_values.get('temperature_K')),
        pressure=thermo_values.get('pressure_bar'), pressure_error=thermo_values.get('pressure_bar_error'),
        potential_r=potential_table.r, potential_energy=potential_table.energy, potential_force=potential_table.force,
        r_core=fitted[0], ensemble=labels_dict.pop('ensemble', 'nvt'), box_length=diffusion.get('box_length'))
    scalars['temperature_measured'] = thermo_values.get('temperature_K')
    return RowData(arrays, {**scalars, **labels_dict})


@calcfunction
def check_mass_scaling(**rows: RowData) -> orm.Dict:
    """D*sqrt(m) across the rows of one potential (:func:`aiida_cgmob.dataset.mass_scaling_check`).

    ``rows`` lists the input names in the order of ``deviations`` and ``flagged`` (names, not uuids: a result
    reused by caching belongs to the new rows through its input links).
    """
    names = sorted(rows, key=lambda name: (len(name), name))  # row_2 before row_10
    get = [rows[name].base.attributes.get for name in names]
    result = dataset.mass_scaling_check([g('mass') for g in get], [g('D') for g in get], [g('D_error') for g in get])
    result['rows'] = names
    return orm.Dict(result)
