"""Step control of the inversion loop (damping, back-tracking, fall-back, stall) on a model liquid.

The model replaces the LAMMPS run of an iteration (a fake engine, for the control logic only; the real
inversions run LAMMPS in test_ibi.py and test_calculation_ibi.py): g(r) = g_target exp(-gain (U - U*) / kT)
responds to the potential U like a dilute gas whose response is ``gain`` times stronger, so plain IBI with a
full step overshoots by a factor 1 - gain.  U* is the potential that reproduces the target.
"""

import json

import numpy as np
import pytest

from aiida_cgmob.ibi import IbiRun, write_ibi_input
from aiida_cgmob.ibi.driver import IterationRecord
from aiida_cgmob.potentials import BOLTZMANN_KJ, Potential

TEMPERATURE = 298.15
KT = BOLTZMANN_KJ * TEMPERATURE
STATE = {'mass': 50.0, 'number_density': 5.0, 'n_beads': 1000}


def target_grid():
    r = 0.01 * (np.arange(250) + 0.5)
    lj = 4 * 2.0 * ((0.4 / r) ** 12 - (0.4 / r) ** 6)
    g_target = np.exp(-np.clip(lj, None, 50) / KT)
    return r, g_target


class ModelRun(IbiRun):
    """An IbiRun whose iterations are the model liquid instead of LAMMPS."""

    gain = 1.0
    noise = 0.0

    def _run_iteration(self, iteration, potential: Potential, configuration_source, timestep):
        u = np.interp(self.r, potential.r, potential.energy, right=0.0)
        u_star = np.interp(self.r, self.u_star.r, self.u_star.energy, right=0.0)
        g = self.g_target * np.exp(-self.gain * (u - u_star) / KT)
        g = g + self.noise * np.random.default_rng(iteration).standard_normal(g.size) * (self.g_target > 0.05)
        rms = float(np.sqrt(np.mean((g - self.g_target)[(self.r >= self.fit_range[0]) & (self.r <= self.fit_range[1])]
                                    ** 2)))
        record = IterationRecord(iteration=iteration, rms=rms, pressure_bar=100.0, pressure_std_bar=1.0,
                                 temperature_K=TEMPERATURE, number_density=STATE['number_density'], timestep_ps=0.002,
                                 lammps_seconds=0.0, analysis_seconds=0.0, ns_per_day=0.0)
        return record, g


def model_run(directory, gain: float, noise: float = 0.0, **settings) -> dict:
    r, g_target = target_grid()
    settings = {'cutoff': 1.4, 'smoothing': 1, 'tail_width': 0.1, 'final_descriptors': False, 'tolerance': 0.005,
                'max_iterations': 30, **settings}
    write_ibi_input(directory, r, g_target, settings=settings, **STATE)
    run = ModelRun(directory)
    run.gain, run.noise = gain, noise
    # U*: the -kT ln g start plus a 0.4 kT bump at 0.8 nm, so iteration 0 is off by a known amount
    start = Potential.from_dict(json.loads(json.dumps(_initial(run).to_dict())))
    bump = 0.4 * KT * np.exp(-((start.r - 0.8) / 0.08) ** 2) * (start.r < 1.2)
    run.u_star = Potential.from_energy(start.r, start.energy + bump, shift=True)
    return run.run()


def _initial(run):
    from aiida_cgmob.ibi.driver import initial_potential

    return initial_potential(run.r, run.g_target, run.settings, STATE['number_density'])


def history(directory):
    with np.load(directory / 'ibi_history.npz') as data:
        return {key: data[key] for key in data.files}


def test_fixed_full_steps_of_an_overshooting_response_diverge(tmp_path):
    """gain 2.5: each full IBI step overshoots by 1.5x; VOTCA-style fixed steps diverge (the baseline)."""
    result = model_run(tmp_path, gain=2.5, method='ibi', step_control='fixed')
    assert result['status'] == 'diverged'


def test_adaptive_steps_damp_the_overshoot_and_converge(tmp_path):
    """The same response under adaptive control: halved steps after a worse iteration, back to the best, converge."""
    result = model_run(tmp_path, gain=2.5, method='ibi')
    assert result['status'] == 'converged', result['message']
    steps = history(tmp_path)
    assert steps['next_alpha'][0] == 1.0  # the first update is a full step
    assert np.nanmin(steps['next_alpha']) < 1.0  # then damped
    assert result['iterations'] < 15


def test_adaptive_steps_keep_full_steps_where_they_work(tmp_path):
    """gain 1: one full IBI step is exact; adaptive control changes nothing (converged at iteration 1)."""
    result = model_run(tmp_path, gain=1.0, method='ibi')
    assert result['status'] == 'converged' and result['iterations'] == 2


def test_a_stall_falls_back_once_then_ends_with_the_best_potential(tmp_path):
    """Noise of 0.03 per bin keeps RMS above 0.02: ihnc stalls, falls back to ibi, stalls again, ends 'stalled'."""
    result = model_run(tmp_path, gain=1.0, noise=0.03, tolerance=0.02, stall_iterations=3, max_iterations=40)
    assert result['status'] == 'stalled', result['message']
    assert 'stalled at' in result['message'] and 'falling back to ibi' in result['message']
    assert result['fallback_iteration'] is not None
    assert result['iterations'] < 40  # ended by the stall, not by max_iterations
    steps = history(tmp_path)
    assert 'ibi' in set(steps['next_method'][result['fallback_iteration']:])
    best = int(np.argmin(steps['rms']))
    final = Potential.from_dict(json.loads((tmp_path / 'final_potential.json').read_text()))
    np.testing.assert_array_equal(final.energy, steps['potential'][best])
    assert '# stalled: no new best' in (tmp_path / 'ibi.log').read_text()


def test_fixed_control_never_stalls_out(tmp_path):
    """step_control 'fixed' runs to max_iterations (the VOTCA behaviour) and still returns the best potential."""
    result = model_run(tmp_path, gain=1.0, noise=0.03, tolerance=0.02, stall_iterations=3, max_iterations=8,
                       step_control='fixed', method='ibi')
    assert result['status'] == 'not_converged' and result['iterations'] == 8


@pytest.mark.parametrize('settings, field', [
    ({'step_control': 'smart'}, 'step_control'),
    ({'fallback_method': 'votca'}, 'fallback_method'),
    ({'ihnc_range': 'half'}, 'ihnc_range'),
    ({'alpha_min': 2.0}, 'alpha_min'),
    ({'stall_iterations': 0}, 'stall_iterations'),
    ({'backtrack_factor': 0.9}, 'backtrack_factor'),
])
def test_bad_step_control_settings_name_the_field(tmp_path, settings, field):
    from aiida_cgmob.ibi import IbiInputError

    r, g_target = target_grid()
    with pytest.raises(IbiInputError, match=field):
        write_ibi_input(tmp_path, r, g_target, settings=settings, **STATE)


@pytest.mark.parametrize('settings, expected', [
    ({}, 1.4),  # ihnc (falling back to ibi): the target's g beyond the cutoff, so the cutoff
    ({'ihnc_range': 'box'}, 2.5),  # the measured g in the Ornstein-Zernike step up to half the box: the whole grid
    ({'method': 'ibi', 'step_control': 'fixed'}, 1.4),  # plain IBI: the cutoff
    ({'method': 'ibi'}, 1.4),  # ibi falling back to ibi
    ({'method': 'ibi', 'fallback_method': 'ihnc'}, 1.4),
    ({'method': 'ibi', 'fallback_method': 'ihnc', 'ihnc_range': 'box'}, 2.5),
])
def test_g_is_measured_only_as_far_as_the_update_needs(settings, expected):
    from aiida_cgmob.ibi.driver import g_range, validate_settings

    r = 0.01 * (np.arange(250) + 0.5)
    assert g_range(validate_settings(settings), r) == pytest.approx(expected)



def _state(rms_values):
    """A loop state after the given RMS sequence, assessed iteration by iteration as the driver does."""
    from aiida_cgmob.ibi import control
    from aiida_cgmob.ibi.driver import validate_settings

    settings = validate_settings({'tolerance': 0.001})
    state = {'records': [], 'best': None, 'rising': 0}
    outcome = (None, '', '')
    for iteration, rms in enumerate(rms_values):
        state['records'].append({'iteration': iteration, 'rms': rms})
        outcome = control.assess(state, settings)
        if outcome[0] is None:
            control.next_step(state, settings)
    return state, settings, outcome


@pytest.mark.parametrize('rms_values, base, alpha', [
    ([0.1], 0, 1.0),  # the first update: a full step from iteration 0
    ([0.1, 0.05], 1, 1.0),  # better: keep the full step
    ([0.1, 0.05, 0.06], 2, 0.5),  # worse than the one before (1.2 x the best): halve the step
    ([0.1, 0.05, 0.07], 1, 0.5),  # 1.4 x the best: back to the best iteration, half the step
    ([0.1, 0.05, 0.06, 0.055], 3, 0.75),  # better again: the step grows by 1.5
    ([0.1, 0.05, 0.06, 0.07, 0.08, 0.09], 1, 0.125),  # repeated trouble: never below alpha_min
])
def test_next_step_rules(rms_values, base, alpha):
    state, _, outcome = _state(rms_values)
    assert outcome[0] is None
    step = state['records'][-1]['next_step']
    assert (step['from_iteration'], step['alpha']) == (base, pytest.approx(alpha))


def test_stall_falls_back_once_then_stops():
    flat = [0.1, 0.03] + [0.0301] * 6  # six iterations without a 2 % better best: the first stall
    state, _, outcome = _state(flat)
    assert outcome[0] is None and 'continuing with ibi' in outcome[2]
    assert state['method'] == 'ibi' and state['fallback_iteration'] == 7
    assert state['records'][-1]['next_step'] == {'method': 'ibi', 'alpha': 1.0, 'from_iteration': 1}
    state, _, outcome = _state(flat + [0.0299] * 6)  # 0.0299 is a better best, but by less than 2 %
    assert outcome[0] == 'stalled' and 'stalled at 0.0299' in outcome[1] and 'falling back to ibi' in outcome[1]
    state, _, outcome = _state(flat + [0.025] + [0.026] * 5)  # a real improvement after the fall-back resets
    assert outcome[0] is None


def test_fixed_control_changes_nothing():
    from aiida_cgmob.ibi import control
    from aiida_cgmob.ibi.driver import validate_settings

    settings = validate_settings({'step_control': 'fixed', 'alpha': 0.7, 'tolerance': 0.001})
    state = {'records': [], 'best': None, 'rising': 0}
    for iteration, rms in enumerate([0.1, 0.05, 0.07] + [0.06] * 10):
        state['records'].append({'iteration': iteration, 'rms': rms})
        assert control.assess(state, settings)[0] is None
        assert control.next_step(state, settings) == (iteration, 'ihnc', 0.7)


def test_a_stalled_inversion_is_exit_3_of_the_script_and_441_of_the_job(tmp_path, monkeypatch):
    """The outcome 'stalled' maps onto the script's 'not converged' exit status and the CalcJob's 441."""
    from aiida_cgmob.ibi import cli, driver
    from aiida_cgmob.parsers.ibi import STATUS_EXIT_CODES

    monkeypatch.setattr(driver, 'run_ibi', lambda *args, **kwargs: {'status': 'stalled', 'message': 'stalled at 0.02'})
    assert cli.main([str(tmp_path)]) == driver.EXIT_NOT_CONVERGED
    assert STATUS_EXIT_CODES['stalled'] == 'ERROR_NOT_CONVERGED'
