"""``cgmob.descriptors`` and descriptors inside the GROMACS job, run for real on a tiny GROMACS liquid."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from conftest import tiny_stages

from aiida_cgmob.calculations.descriptors import DescriptorsCalculation
from aiida_cgmob.calculations.gromacs import GromacsCalculation
from aiida_cgmob.workchains.gromacs_base import GromacsBaseWorkChain

pytestmark = pytest.mark.gromacs

#: explicit window: a 4 ps production is too short for the automatic one
SETTINGS = {'fit_window': [0.5, 2.0], 'bin_width': 0.01}
RESOURCES = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 2}}
_RUNS: dict[str, int] = {}  # MD runs shared by the tests of this module (the profile lives for the session)


def production_stages(nstxout_compressed: int = 20) -> list[dict]:
    """em, 1 ps NVT, 4 ps NPT production writing a frame every 40 fs."""
    return tiny_stages(nvt_steps=500, npt_steps=2000, **{'nstxout-compressed': nstxout_compressed})


@pytest.fixture
def descriptors_code(aiida_code_installed):
    executable = shutil.which('cgmob-descriptors') or str(Path(sys.executable).with_name('cgmob-descriptors'))
    return aiida_code_installed(label='cgmob-descriptors', default_calc_job_plugin='cgmob.descriptors',
                                filepath_executable=executable)


def gromacs_inputs(gmx_code, liquid, stages, descriptors_code=None, descriptor_settings=None) -> dict:
    structure, topology = liquid
    inputs = {'code': gmx_code, 'structure': structure, 'topology': topology,
              'parameters': orm.Dict({'stages': stages}), 'metadata': {'options': RESOURCES}}
    if descriptors_code is not None:
        inputs['descriptors'] = {'code': descriptors_code}
        if descriptor_settings is not None:
            inputs['descriptors']['settings'] = orm.Dict(descriptor_settings)
    return inputs


@pytest.fixture
def md_with_descriptors(gmx_code, descriptors_code, tiny_liquid):
    """A real GROMACS run that computed its descriptors in the same job (run once per module)."""
    if 'in_job' not in _RUNS:
        _, node = run_get_node(GromacsCalculation, **gromacs_inputs(gmx_code, tiny_liquid, production_stages(),
                                                                    descriptors_code, SETTINGS))
        assert node.is_finished_ok, node.exit_message
        _RUNS['in_job'] = node.pk
    return orm.load_node(_RUNS['in_job'])


def run_descriptors(code, parent: orm.RemoteData, settings: dict | None = None, **inputs):
    inputs = {'code': code, 'parent_folder': parent, 'metadata': {'options': RESOURCES}, **inputs}
    if settings is not None:
        inputs['settings'] = orm.Dict(settings)
    return run_get_node(DescriptorsCalculation, **inputs)


def test_in_job_and_separate_job_give_identical_descriptors(md_with_descriptors, descriptors_code):
    md = md_with_descriptors
    in_job = md.outputs.descriptors
    results, node = run_descriptors(descriptors_code, md.outputs.remote_folder, SETTINGS)
    assert node.is_finished_ok, node.exit_message
    # Provenance: the descriptors hang off the MD run's remote folder.
    assert node.inputs.parent_folder.creator.pk == md.pk

    assert np.array_equal(results['rdf'].get_x()[1], in_job.rdf.get_x()[1])
    assert np.array_equal(results['rdf'].get_y()[0][1], in_job.rdf.get_y()[0][1])
    for (_, separate, _), (_, same, _) in zip(results['msd'].get_y(), in_job.msd.get_y(), strict=True):
        assert np.array_equal(separate, same)
    assert results['diffusion'].get_dict() == in_job.diffusion.get_dict()
    assert results['density'].get_dict() == in_job.density.get_dict()
    assert results['mass'].value == in_job.mass.value
    # both jobs give the compiled g(r) the job's thread count, not one thread per core of the node
    for job in (md, node):
        assert 'export OMP_NUM_THREADS=' in job.base.repository.get_object_content('_aiidasubmit.sh')


def test_outputs_units_and_physics(md_with_descriptors):
    out = md_with_descriptors.outputs.descriptors
    r, g = out.rdf.get_x()[1], out.rdf.get_y()[0][1]
    assert out.rdf.get_x()[2] == 'nm' and out.rdf.base.attributes.get('bin_width') == 0.01
    # 40 ethylbenzene molecules: the default r_max is half the box, not 2.5 nm.
    assert r[-1] < 1.5 and out.rdf.base.attributes.get('r_max') <= 1.5
    assert np.all(g[r < 0.3] == 0)  # no two molecular centres closer than 0.3 nm
    assert g.max() > 1.2  # a first-neighbour peak
    t, names = out.msd.get_x()[1], [name for name, _, _ in out.msd.get_y()]
    assert names == ['msd_x', 'msd_y', 'msd_z', 'msd'] and out.msd.get_y()[3][2] == 'nm^2'
    assert t[0] == 0 and np.isclose(t[1], 0.04)  # a frame every 20 steps of 2 fs

    diffusion = out.diffusion.get_dict()
    assert diffusion['units']['D_si'] == '1e-9 m^2/s' and diffusion['units']['D'] == 'nm^2/ps'
    assert diffusion['D_si'] == pytest.approx(diffusion['D'] * 1000)
    assert diffusion['fit_window'] == [0.5, 2.0] and diffusion['window_chosen'] == 'given'
    assert 0 < diffusion['D_si'] < 50  # a liquid/dense gas, not a crystal or an explosion
    assert 'D_yeh_hummer' not in diffusion  # never applied silently

    # The mass is ethylbenzene's (C8H10) and the density the one GROMACS reports for the same run.
    assert out.mass.value == pytest.approx(8 * 12.011 + 10 * 1.008, abs=0.01)
    gromacs_density = md_with_descriptors.outputs.output_parameters['density']
    assert out.density['mass_density'] == pytest.approx(gromacs_density, rel=0.02)
    assert out.density['n_beads'] == 40


def test_diffusion_is_queryable(md_with_descriptors):
    """Scalars people filter on are attributes: find the MD run by its diffusion coefficient."""
    qb = orm.QueryBuilder()
    qb.append(GromacsCalculation, filters={'id': md_with_descriptors.pk}, tag='md')
    qb.append(orm.Dict, with_incoming='md', edge_filters={'label': 'descriptors__diffusion'},
              filters={'attributes.D_si': {'>': 0}}, project=['attributes.D_si'])
    assert qb.all(flat=True) == [md_with_descriptors.outputs.descriptors.diffusion['D_si']]


def test_too_short_for_automatic_window_451(md_with_descriptors, descriptors_code):
    _, node = run_descriptors(descriptors_code, md_with_descriptors.outputs.remote_folder)
    assert node.exit_status == DescriptorsCalculation.exit_codes.ERROR_NO_DIFFUSIVE_REGIME.status
    assert 'run a longer production' in node.exit_message


def test_box_too_small_450(md_with_descriptors, descriptors_code):
    _, node = run_descriptors(descriptors_code, md_with_descriptors.outputs.remote_folder,
                              {**SETTINGS, 'r_max': 2.5})
    assert node.exit_status == DescriptorsCalculation.exit_codes.ERROR_BOX_TOO_SMALL.status
    assert 'r_max = 2.5 nm exceeds half the smallest box width' in node.exit_message


def test_missing_trajectory_320(md_with_descriptors, descriptors_code):
    _, node = run_descriptors(descriptors_code, md_with_descriptors.outputs.remote_folder, SETTINGS,
                              trajectory=orm.Str('nvt.xtc'), topology=orm.Str('nvt.tpr'))
    assert node.exit_status == DescriptorsCalculation.exit_codes.ERROR_INPUT_FILE_MISSING.status
    assert 'nvt.xtc' in node.exit_message


def test_descriptor_failure_in_job_keeps_md_outputs(gmx_code, descriptors_code, tiny_liquid):
    """A bad descriptor setting fails the descriptors (350) but not the MD, whose outputs the work chain keeps."""
    builder = GromacsBaseWorkChain.get_builder_from_protocol(
        gmx_code, *tiny_liquid, options=RESOURCES,
        overrides={'gromacs': {'parameters': {'stages': production_stages()},
                               'descriptors': {'settings': {**SETTINGS, 'r_max': 2.5}}}},
        descriptors_code=descriptors_code)
    _, node = run_get_node(builder)
    assert node.exit_status == GromacsBaseWorkChain.exit_codes.ERROR_DESCRIPTORS.status
    assert 'box_too_small' in node.exit_message
    calculation = node.called[-1]
    assert calculation.exit_status == GromacsCalculation.exit_codes.ERROR_DESCRIPTORS.status
    assert node.exit_message == calculation.exit_message  # the job's message, once
    assert len(node.called) == 1  # MD is not rerun for a descriptor failure
    assert 'density' in node.outputs.output_parameters.get_dict()
    assert 'remote_folder' in node.outputs and 'descriptors' not in node.outputs


def test_validation_names_the_problem(gmx_code, descriptors_code, tiny_liquid, md_with_descriptors):
    remote = md_with_descriptors.outputs.remote_folder
    with pytest.raises(ValueError, match='fit_window must be'):
        run_descriptors(descriptors_code, remote, {'fit_window': [3, 1]})
    with pytest.raises(ValueError, match=r"unknown descriptor setting\(s\) \['rmax'\]"):
        run_descriptors(descriptors_code, remote, {'rmax': 1.0})
    with pytest.raises(ValueError, match='bead_mass: the CG trajectory'):
        run_descriptors(descriptors_code, remote, SETTINGS, trajectory=orm.Str('production.xtc'),
                        topology=orm.Str(''))
    with pytest.raises(ValueError, match='timestep: the LAMMPS text dump'):
        run_descriptors(descriptors_code, remote, SETTINGS, trajectory=orm.Str('beads.lammpstrj'),
                        bead_mass=orm.Float(86.0))
    with pytest.raises(ValueError, match=r'timestep = 5.0 ps is not an MD time step .*it was fs in 0.1.0'):
        run_descriptors(descriptors_code, remote, SETTINGS, trajectory=orm.Str('beads.lammpstrj'),
                        bead_mass=orm.Float(86.0), timestep=orm.Float(5.0))
    # Descriptors need a trajectory: a production without nstxout-compressed is refused before submission.
    with pytest.raises(ValueError, match="production stage 'production' writes no trajectory"):
        run_get_node(GromacsCalculation, **gromacs_inputs(gmx_code, tiny_liquid, production_stages(0),
                                                          descriptors_code))
    with pytest.raises(ValueError, match='settings: bin_width must be a positive number'):
        run_get_node(GromacsCalculation, **gromacs_inputs(gmx_code, tiny_liquid, production_stages(),
                                                          descriptors_code, {'bin_width': -1}))


def test_cli_run_show_and_plot(md_with_descriptors, descriptors_code, tmp_path):
    from click.testing import CliRunner

    from aiida_cgmob.cli import cmd_root

    runner = CliRunner()
    result = runner.invoke(cmd_root, ['descriptors', 'run', str(md_with_descriptors.pk), '-X',
                                      descriptors_code.full_label, '--fit-window', '0.5', '2', '--bin-width', '0.01'])
    assert result.exit_code == 0, result.output
    assert 'exit 0' in result.output and '1e-9 m^2/s' in result.output and 'fit 0.5-2 ps, given' in result.output
    figure = tmp_path / 'descriptors.png'
    result = runner.invoke(cmd_root, ['descriptors', 'show', str(md_with_descriptors.pk), '--plot', str(figure)])
    assert result.exit_code == 0, result.output
    assert 'mass density' in result.output and figure.stat().st_size > 10_000
    # A run without descriptors says how to get them.
    result = runner.invoke(cmd_root, ['descriptors', 'show', str(md_with_descriptors.inputs.structure.pk)])
    assert result.exit_code != 0 and 'has no descriptor outputs' in result.output
