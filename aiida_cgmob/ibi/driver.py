"""The iterative inversion loop in one process (no AiiDA): LAMMPS run, g(r), update, checkpoint, repeat.

Everything lives in one working directory so a scheduler job killed at its walltime can be resumed by
running the driver again in (a copy of) the same directory: ``ibi_state.json`` is rewritten after every
completed iteration and the loop continues from it.

Files (the contract with the ``cgmob.ibi`` CalcJob and its parser):

* in: ``ibi_input.json`` (see :func:`validate_input`), ``target.npz`` (r nm, g), optionally
  ``initial_potential.json`` (Potential.to_dict) and ``start.data`` (a LAMMPS data file to start from).
* progress: ``iterations/NNN/`` (one LAMMPS run each; trajectories of all but the last are deleted),
  ``ibi_state.json`` (checkpoint), ``ibi.log`` (one line per iteration).
* out: ``ibi_history.npz`` (arrays, see :func:`write_history`), ``ibi_result.json`` (status, message,
  figures), ``final_potential.json`` / ``final_potential.table`` (LAMMPS, real units), and when the
  final run allows it ``descriptors.npz``/``.json`` (or ``descriptors_error.json``) of that run.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis import DescriptorError, compute_descriptors
from ..analysis import files as descriptor_files
from ..analysis.descriptors import radial_distribution
from ..analysis.descriptors import validate_settings as validate_descriptor_settings
from ..analysis.trajectory import read_beads
from ..lammps import LammpsError, LammpsInputError, lattice_configuration, prepare_run, run_lammps
from ..lammps import validate_settings as validate_lammps_settings
from ..lammps.inputs import FINAL_DATA, MINIMUM_TIMESTEP, TRAJECTORY_NAME, read_data
from ..potentials import (
    BOLTZMANN_KJ,
    Potential,
    PotentialError,
    boltzmann_inversion,
    cosine_switch,
    potential_with_wall,
    write_lammps_table,
)
from . import control
from .update import (
    METHODS,
    hnc_potential,
    potential_update,
    pressure_ramp,
    rms_error,
    smooth,
    virial_pressure_ramp,
)

#: How far the measured g(r) enters the iterative-HNC step (the setting ``ihnc_range``).
IHNC_RANGES = ('box', 'cutoff')
INPUT_FILE = 'ibi_input.json'
TARGET_FILE = 'target.npz'
INITIAL_POTENTIAL_FILE = 'initial_potential.json'
START_DATA_FILE = 'start.data'
STATE_FILE = 'ibi_state.json'
HISTORY_FILE = 'ibi_history.npz'
RESULT_FILE = 'ibi_result.json'
LOG_FILE = 'ibi.log'
FINAL_POTENTIAL_JSON = 'final_potential.json'
STDOUT_FILE = 'cgmob-ibi.out'  # the script's stdout and stderr, as the jobs capture them
FINAL_POTENTIAL_TABLE = 'final_potential.table'
ITERATIONS_DIR = 'iterations'

# exit statuses of the console script, one per outcome (the parser maps them to CalcJob exit codes)
EXIT_CONVERGED, EXIT_BAD_INPUT, EXIT_NOT_CONVERGED, EXIT_DIVERGED, EXIT_ENGINE = 0, 2, 3, 4, 5

DEFAULT_SETTINGS: dict[str, Any] = {
    'temperature': 298.15,  # K
    'cutoff': 1.4,  # nm, potential cutoff
    'fit_range': None,  # [r0, r1] nm over which RMS(g - g_target) is measured; default [first g_t > 0.05, cutoff]
    'bin_width': 0.01,  # nm, g(r) grid of target and runs
    'max_iterations': 30,
    'tolerance': 0.01,  # RMS(g - g_target) below which the loop stops (converged)
    'method': 'ihnc',  # 'ihnc' (Newton step with the HNC Jacobian) or 'ibi'
    'alpha': 1.0,  # step scaling
    's_floor': 0.3,  # ihnc: S(k) is held >= this in the Ornstein-Zernike step (regularisation)
    'ihnc_range': 'cutoff',  # ihnc: the measured g(r) enters the Ornstein-Zernike step up to the cutoff, the target's
    # beyond ('box': the measured one up to half the box; it stalled on 234TriMePe, see docs/ibi.rst)
    'initial_guess': 'pmf',  # 'pmf' (-kT ln g_target) or 'hnc' (HNC inversion: good for simple fluids, poor for dense
    # molecular liquids: for 3-methylpentane beads it starts at RMS 0.34 instead of 0.10)
    'smoothing': 3,  # points of the running mean applied to each update (1: none)
    'g_min': 1e-3,  # below this g carries no information: the core is extrapolated (repulsive wall)
    'tail_width': 0.1,  # nm, cosine switch of U to 0 at the cutoff
    'pressure_target': None,  # bar; None: no pressure correction
    'pressure_method': 'virial',  # 'virial': ramp sized by the virial to remove the pressure error in one step
    # (times pressure_fraction); 'simple': VOTCA's ramp, at most pressure_max_amplitude kT per iteration
    'pressure_fraction': 0.5,
    'pressure_max_amplitude': 0.1,  # of kT ('simple')
    'pressure_scale': 3e-3,  # per bar ('simple': amplitude = max_amplitude kT min(1, scale |dP|))
    'divergence_factor': 3.0,  # diverged when RMS exceeds this times the best RMS (and 0.05) twice in a row
    'step_control': 'adaptive',  # 'adaptive': damp, back-track, fall back and stop when stalled (ibi.control);
    # 'fixed': every update alpha x (method) from the last iteration, as VOTCA does
    'alpha_min': 0.125,  # adaptive: the step is never damped below this
    'backtrack_factor': 1.25,  # adaptive: an iteration this much worse than the best restarts from the best
    'stall_iterations': 6,  # adaptive: this many iterations without a new best (by 2 %) count as a stall
    'fallback_method': 'ibi',  # adaptive: the method a stalled inversion continues with; None: stop at the stall
    'keep_trajectories': False,  # keep every iteration's xtc (large); the last one is always kept
    'final_descriptors': True,  # D, g(r), density of the final potential's run (needs a long enough run)
    'descriptor_settings': {},  # passed to compute_descriptors for the final run
}


class IbiInputError(ValueError):
    """The input cannot make a valid inversion; the message names the field."""


@dataclass
class Target:
    """The target g(r) of an inversion.

    Attributes
    ----------
    r : numpy.ndarray
        Bin centres (nm).
    g : numpy.ndarray
        Target g(r) on them.
    """

    r: np.ndarray  # nm, bin centres
    g: np.ndarray

    @classmethod
    def read(cls, path: str | Path) -> Target:
        """Read a target from an ``.npz`` file with arrays ``r`` (nm) and ``g``; IbiInputError if they are missing."""
        with np.load(path) as data:
            if 'r' not in data or 'g' not in data:
                raise IbiInputError(f'{path}: the target needs arrays r (nm) and g, found {sorted(data.files)}')
            return cls(np.asarray(data['r'], dtype=float), np.asarray(data['g'], dtype=float))


def validate_settings(settings: dict | None) -> dict:
    """Complete IBI settings with :data:`DEFAULT_SETTINGS`; raise IbiInputError naming a bad field.

    Parameters
    ----------
    settings
        Settings to override the defaults (units as commented in :data:`DEFAULT_SETTINGS`: K, nm, bar).

    Returns
    -------
    dict
        Every setting, defaults filled in.
    """
    settings = dict(settings or {})
    unknown = sorted(set(settings) - set(DEFAULT_SETTINGS))
    if unknown:
        raise IbiInputError(f'unknown IBI settings {unknown}; known: {sorted(DEFAULT_SETTINGS)}')
    s = {**DEFAULT_SETTINGS, **settings}
    if s['pressure_method'] not in ('virial', 'simple'):
        raise IbiInputError(f"pressure_method must be 'virial' or 'simple', got {s['pressure_method']!r}")
    if s['method'] not in METHODS:
        raise IbiInputError(f'method must be one of {METHODS}, got {s["method"]!r}')
    if s['fallback_method'] is not None and s['fallback_method'] not in METHODS:
        raise IbiInputError(f'fallback_method must be one of {METHODS} or null, got {s["fallback_method"]!r}')
    if s['step_control'] not in control.STEP_CONTROLS:
        raise IbiInputError(f'step_control must be one of {control.STEP_CONTROLS}, got {s["step_control"]!r}')
    if s['ihnc_range'] not in IHNC_RANGES:
        raise IbiInputError(f'ihnc_range must be one of {IHNC_RANGES}, got {s["ihnc_range"]!r}')
    if s['initial_guess'] not in ('hnc', 'pmf'):
        raise IbiInputError(f"initial_guess must be 'hnc' or 'pmf', got {s['initial_guess']!r}")
    def number(name: str, minimum: float | None = 0.0, strict: bool = True) -> None:
        value = s[name]
        ok = not isinstance(value, bool) and isinstance(value, (int, float)) and np.isfinite(value)
        if ok and minimum is not None:
            ok = value > minimum if strict else value >= minimum
        if not ok:
            bound = '' if minimum is None else f' {">" if strict else ">="} {minimum:g}'
            raise IbiInputError(f'{name} must be a number{bound}, got {value!r}')

    for name in ('temperature', 'cutoff', 'bin_width', 'tolerance', 'alpha', 's_floor', 'g_min', 'divergence_factor',
                 'pressure_fraction', 'pressure_max_amplitude', 'pressure_scale', 'alpha_min'):
        number(name)
    number('backtrack_factor', 1.0)
    if not s['alpha_min'] <= s['alpha']:
        raise IbiInputError(f'alpha_min ({s["alpha_min"]!r}) must not exceed alpha ({s["alpha"]!r})')
    for name in ('max_iterations', 'stall_iterations'):
        if isinstance(s[name], bool) or not isinstance(s[name], int) or s[name] < 1:
            raise IbiInputError(f'{name} must be an integer >= 1, got {s[name]!r}')
    number('tail_width', 0.0, strict=False)
    if isinstance(s['smoothing'], bool) or not isinstance(s['smoothing'], int) or s['smoothing'] < 1 \
            or s['smoothing'] % 2 == 0:
        raise IbiInputError(f'smoothing must be an odd integer >= 1 (points), got {s["smoothing"]!r}')
    if not s['tail_width'] < s['cutoff']:
        raise IbiInputError(f'tail_width must be < cutoff ({s["cutoff"]} nm), got {s["tail_width"]!r}')
    if s['fit_range'] is not None:
        value = s['fit_range']
        valid = (isinstance(value, (list, tuple)) and len(value) == 2
                 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
                 and 0 <= value[0] < value[1] <= s['cutoff'] + 1e-9)
        if not valid:
            raise IbiInputError(f'fit_range must be [r0, r1] nm with 0 <= r0 < r1 <= cutoff, got {value!r}')
    if s['pressure_target'] is not None:
        number('pressure_target', None)
    for name in ('keep_trajectories', 'final_descriptors'):
        if not isinstance(s[name], bool):
            raise IbiInputError(f'{name} must be true or false, got {s[name]!r}')
    if not isinstance(s['descriptor_settings'], dict):
        raise IbiInputError(f'descriptor_settings must be a dictionary, got {s["descriptor_settings"]!r}')
    try:
        validate_descriptor_settings(s['descriptor_settings'])
    except (ValueError, TypeError) as exception:
        raise IbiInputError(f'descriptor_settings: {exception}') from exception
    return s


def validate_input(data: dict) -> dict:
    """Return the contents of ``ibi_input.json`` completed with defaults; IbiInputError names a bad field.

    Fields: ``settings`` (DEFAULT_SETTINGS), ``lammps_settings`` (aiida_cgmob.lammps.DEFAULT_SETTINGS,
    one iteration's run), ``mass`` (g/mol), ``number_density`` (nm^-3), ``n_beads`` (lattice start;
    not needed with start.data), ``lmp`` (executable), ``threads``, ``seed``.
    """
    known = {'settings', 'lammps_settings', 'mass', 'n_beads', 'number_density', 'lmp', 'threads', 'seed'}
    unknown = sorted(set(data) - known)
    if unknown:
        raise IbiInputError(f'unknown fields in {INPUT_FILE}: {unknown}; known: {sorted(known)}')
    result = {'settings': validate_settings(data.get('settings'))}
    lammps_settings = dict(data.get('lammps_settings') or {})
    temperature = result['settings']['temperature']
    if lammps_settings.setdefault('temperature', temperature) != temperature:
        raise IbiInputError(f'lammps_settings temperature {lammps_settings["temperature"]!r} K differs from the '
                            f'inversion temperature {temperature!r} K: kT of the updates must match the thermostat')
    try:
        result['lammps_settings'] = validate_lammps_settings(lammps_settings)
    except LammpsInputError as exception:
        raise IbiInputError(f'lammps_settings: {exception}') from exception
    for name, kind in (('mass', 'g/mol'), ('number_density', 'nm^-3')):
        value = data.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise IbiInputError(f'{name} must be a number > 0 ({kind}), got {value!r}')
        result[name] = float(value)
    n_beads = data.get('n_beads')
    if n_beads is not None and (isinstance(n_beads, bool) or not isinstance(n_beads, int) or n_beads < 2):
        raise IbiInputError(f'n_beads must be an integer >= 2, got {n_beads!r}')
    result['n_beads'] = n_beads
    result['lmp'] = str(data.get('lmp', 'lmp'))
    for name, default in (('threads', 1), ('seed', 1)):
        value = data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise IbiInputError(f'{name} must be an integer >= 1, got {value!r}')
        result[name] = value
    return result


def inversion_grid(settings: dict, target: Target, box: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Return the inversion's g(r) grid ``r`` (nm), the target on it and the fit range (nm), checked against the box.

    ``settings`` are validated IBI settings and ``box`` the CG box edges (nm).  IbiInputError when the cutoff
    exceeds half the box, the target ends before the cutoff, or g is not finite and >= 0.  The job and the
    validation of its inputs (before submission, no files) both use it.
    """
    half_box = float(np.min(box)) / 2
    if settings['cutoff'] > half_box:
        raise IbiInputError(f'cutoff {settings["cutoff"]} nm exceeds half the CG box ({half_box:.4g} nm): '
                            'use more beads or a shorter cutoff')
    target_edge = float(target.r[-1] + (target.r[-1] - target.r[-2]) / 2)
    r = grid(settings['bin_width'], min(target_edge, half_box))
    if r.size < 10 or r[-1] < settings['cutoff']:
        raise IbiInputError(f'the target g(r) ends at {target_edge:.4g} nm, before the cutoff {settings["cutoff"]} nm')
    if not np.all(np.isfinite(target.g)) or np.any(target.g < 0):
        raise IbiInputError('g_target must be finite and >= 0')
    g_target = np.interp(r, target.r, target.g)
    fit_range = settings['fit_range']
    if fit_range is None:
        above = np.flatnonzero(g_target > 0.05)
        fit_range = [float(r[above[0]]) if above.size else 0.0, settings['cutoff']]
    return r, g_target, tuple(float(value) for value in fit_range)


def g_range(settings: dict, r: np.ndarray) -> float:
    """Return how far (nm) each iteration's g(r) is measured: as far as the updates need, no further.

    Plain IBI updates U(r) from g(r) at the same r, so the cutoff suffices.  The iterative-HNC step goes
    through the Ornstein-Zernike transform, which couples every r; with ``ihnc_range`` 'cutoff' (the default)
    it takes the target's g(r) beyond the cutoff, so the runs measure to the cutoff only.  Only with 'box'
    (the measured g up to half the box) does an iteration measure the whole grid.
    """
    methods = {settings['method']}
    if settings['step_control'] == 'adaptive' and settings['fallback_method'] is not None:
        methods.add(settings['fallback_method'])
    edge = float(r[-1] + settings['bin_width'] / 2)
    if 'ihnc' in methods and settings['ihnc_range'] == 'box':
        return edge
    return min(edge, settings['bin_width'] * np.ceil(settings['cutoff'] / settings['bin_width'] - 1e-9))


def grid(bin_width: float, r_max: float) -> np.ndarray:
    """Bin centres (k + 1/2) bin_width of the g(r) histograms up to ``r_max`` (nm)."""
    return bin_width * (np.arange(int(np.floor(r_max / bin_width + 1e-9))) + 0.5)


def potential_grid(r: np.ndarray, cutoff: float) -> np.ndarray:
    """Return the potential's grid (nm): the g(r) bin centres below the cutoff, then the cutoff itself."""
    return np.r_[r[r < cutoff - 1e-9], cutoff]


def initial_potential(r: np.ndarray, g_target: np.ndarray, settings: dict, number_density: float) -> Potential:
    """U_0 from the target: HNC inversion (default) or -kT ln g, with the repulsive wall and the tail."""
    cutoff, temperature = settings['cutoff'], settings['temperature']
    if settings['initial_guess'] == 'pmf':
        return boltzmann_inversion(r, g_target, temperature, cutoff=cutoff, g_min=settings['g_min'],
                                   tail_width=settings['tail_width'])
    hnc = hnc_potential(r, g_target, temperature, number_density)
    r_pot = potential_grid(r, cutoff)
    data = np.interp(r_pot, r, np.where(np.isfinite(hnc), hnc, np.nan))
    g_pot = np.interp(r_pot, r, g_target)
    peak = int(np.argmax(g_pot))
    low = np.flatnonzero(g_pot[: peak + 1] <= settings['g_min'])
    start = int(low[-1]) + 1 if low.size else 0
    if r_pot.size - start < 3 or not np.all(np.isfinite(data[start:])):
        raise IbiInputError('g_target has too few points above g_min below the cutoff for an HNC inversion')
    return potential_with_wall(r_pot, data[start:], start, peak, temperature, tail_width=settings['tail_width'],
                               reason=f'g_target <= {settings["g_min"]:g} there',
                               method=f'HNC inversion kT(-ln g + h - c), T = {temperature:g} K, '
                                      f'rho = {number_density:.5g} nm^-3',
                               origin='initial guess: hnc_potential(g_target)')


def updated_potential(potential: Potential, r: np.ndarray, delta: np.ndarray, settings: dict,
                      iteration: int, step: str | None = None) -> Potential:
    """Return U + dU (kJ/mol) on the potential's grid.

    dU comes from the bins below the cutoff, smoothed, held constant into the core (where g carried no
    information) and switched off over the tail, so that U(r_c) and F(r_c) stay 0.

    Parameters
    ----------
    potential
        The potential U of the last iteration.
    r, delta
        The g(r) grid (nm) and the raw update dU on it (kJ/mol).
    settings
        Validated IBI settings (``smoothing``, ``tail_width``, ``method``, ``alpha``).
    iteration
        Number of the iteration, recorded as the potential's origin.
    step
        The update that made ``delta`` (method, step, base iteration); default ``method x alpha`` of ``settings``.
    """
    r_pot, cutoff = potential.r, potential.cutoff
    below = r < cutoff - 1e-9
    delta = delta[below]
    valid = np.isfinite(delta)
    if not valid.any():
        raise ValueError('the update is undefined everywhere below the cutoff (g or g_target is 0)')
    first = int(np.flatnonzero(valid)[0])
    delta = np.where(valid, delta, 0.0)
    delta[:first] = delta[first]  # VOTCA's rule: the core moves with its edge
    delta = smooth(delta, settings['smoothing'])
    delta = np.r_[delta, 0.0]
    if settings['tail_width'] > 0:
        delta = delta * cosine_switch(r_pot, cutoff - settings['tail_width'], cutoff)
    treatment = dict(potential.treatment)
    step = step or f'{settings["method"]} x{settings["alpha"]:g}'
    treatment['update'] = (f'{step}, running mean over {settings["smoothing"]} points, constant into the core, '
                           'switched off over the tail')
    return Potential.from_energy(r_pot, potential.energy + delta, shift=True, treatment=treatment,
                                 origin=f'iteration {iteration}: {step}')


@dataclass
class IterationRecord:
    """What one iteration measured: RMS error of g(r), pressure (bar), temperature (K), density, timings.

    ``number_density`` is N / <V> (nm^-3), ``timestep_ps`` the integration step (ps), the times in s;
    ``g_error_rms`` the statistical error of the iteration's own g(r) (RMS over the fit range of its block
    standard error): below it no update can tell the target from noise.
    """

    iteration: int
    rms: float
    pressure_bar: float
    pressure_std_bar: float
    temperature_K: float
    number_density: float  # nm^-3, N / <V>
    timestep_ps: float
    lammps_seconds: float
    analysis_seconds: float
    ns_per_day: float
    g_error_rms: float = float('nan')

    def to_dict(self) -> dict:
        """Return the record as a JSON-serialisable dictionary."""
        return dict(self.__dict__)


class IbiRun:
    """One inversion in ``directory`` (see the module docstring for the files)."""

    def __init__(self, directory: str | Path, lmp: str | None = None, threads: int | None = None):
        self.directory = Path(directory).resolve()
        self.input = validate_input(json.loads((self.directory / INPUT_FILE).read_text()))
        if lmp:
            self.input['lmp'] = lmp
        if threads:
            self.input['threads'] = threads
        self.settings = self.input['settings']
        target = Target.read(self.directory / TARGET_FILE)
        self.configuration = self._start_configuration()
        self.r, self.g_target, self.fit_range = inversion_grid(self.settings, target, self.configuration.box)
        self.g_range = g_range(self.settings, self.r)
        self.kT = BOLTZMANN_KJ * self.settings['temperature']

    def _start_configuration(self):
        start = self.directory / START_DATA_FILE
        if start.is_file():
            configuration, _ = read_data(start)
            return configuration
        if self.input['n_beads'] is None:
            raise IbiInputError(f'give n_beads (lattice start) or a {START_DATA_FILE}')
        return lattice_configuration(self.input['n_beads'], self.input['number_density'], seed=self.input['seed'])

    # ------------------------------------------------------------------ state
    def _load_state(self) -> dict | None:
        path = self.directory / STATE_FILE
        return json.loads(path.read_text()) if path.is_file() else None

    def _save_state(self, state: dict) -> None:
        temporary = self.directory / (STATE_FILE + '.tmp')
        temporary.write_text(json.dumps(state))
        temporary.replace(self.directory / STATE_FILE)  # atomic: a kill never leaves half a checkpoint

    def _log(self, line: str) -> None:
        with (self.directory / LOG_FILE).open('a') as handle:
            handle.write(line + '\n')

    # ------------------------------------------------------------------ one iteration
    def _run_iteration(self, iteration: int, potential: Potential, configuration_source: str | None,
                       timestep: float) -> tuple[IterationRecord, np.ndarray]:
        run_directory = self.directory / ITERATIONS_DIR / f'{iteration:03d}'
        if run_directory.exists():
            shutil.rmtree(run_directory)  # an iteration interrupted before its checkpoint: redo it
        settings = dict(self.input['lammps_settings'], timestep=timestep,
                        seed=self.input['seed'] + iteration)
        if configuration_source is None:
            configuration = self.configuration
        else:
            configuration, _ = read_data(self.directory / configuration_source)
            settings['minimise'] = False
        start = time.perf_counter()
        prepare_run(run_directory, potential, self.input['mass'], settings, configuration=configuration)
        log = run_lammps(run_directory, self.input['lmp'], self.input['threads'])
        lammps_seconds = time.perf_counter() - start
        start = time.perf_counter()
        trajectory = read_beads(run_directory / TRAJECTORY_NAME, self.input['mass'])
        rdf = radial_distribution(trajectory, r_max=self.g_range, bin_width=self.settings['bin_width'])
        g, g_error = self._on_grid(rdf.g), self._on_grid(rdf.g_error)
        averages = log.averages()
        density = trajectory.n_beads / averages['volume_nm3'] if 'volume_nm3' in averages else float('nan')
        inside = (self.r >= self.fit_range[0]) & (self.r <= self.fit_range[1])
        record = IterationRecord(
            iteration=iteration, rms=rms_error(self.r, g, self.g_target, self.fit_range),
            g_error_rms=float(np.sqrt(np.mean(g_error[inside] ** 2))),
            pressure_bar=averages.get('pressure_bar', float('nan')),
            pressure_std_bar=averages.get('pressure_bar_std', float('nan')),
            temperature_K=averages.get('temperature_K', float('nan')), number_density=density,
            timestep_ps=timestep, lammps_seconds=lammps_seconds, analysis_seconds=time.perf_counter() - start,
            ns_per_day=log.performance_ns_day[-1] if log.performance_ns_day else float('nan'))
        return record, g

    def _on_grid(self, values: np.ndarray) -> np.ndarray:
        """``values`` of a g(r) measured to ``g_range`` on the iteration grid, NaN beyond (not measured, not needed)."""
        padded = np.full(self.r.size, np.nan)
        padded[: values.size] = values[: self.r.size]
        return padded

    # ------------------------------------------------------------------ the loop
    def run(self) -> dict:
        """Iterate until converged, diverged, failed or out of iterations; returns the result dictionary."""
        s = self.settings
        state = self._load_state()
        if state is None:
            potential = (Potential.from_dict(json.loads((self.directory / INITIAL_POTENTIAL_FILE).read_text()))
                         if (self.directory / INITIAL_POTENTIAL_FILE).is_file()
                         else initial_potential(self.r, self.g_target, s, self.input['number_density']))
            if abs(potential.cutoff - s['cutoff']) > 1e-9:
                potential = potential.shifted(s['cutoff']) if potential.cutoff > s['cutoff'] else potential
            state = {'next_iteration': 0, 'potential': potential.to_dict(), 'records': [], 'potentials': [],
                     'g': [], 'configuration': None, 'timestep': self.input['lammps_settings']['timestep'],
                     'best': None, 'rising': 0, 'started': time.time()}
            self._log(f'# IBI ({s["method"]}, alpha {s["alpha"]:g}) fit range {self.fit_range} nm, '
                      f'tolerance {s["tolerance"]:g}; iteration rms pressure/bar seconds')
        else:
            self._log(f'# resumed at iteration {state["next_iteration"]} from {STATE_FILE}')
        status, message = None, ''
        while status is None:
            iteration = state['next_iteration']
            if iteration >= s['max_iterations']:
                status = 'not_converged'
                best = state['records'][state['best'] if state['best'] is not None else -1]
                message = (f'RMS(g - g_target) did not fall below {s["tolerance"]:g} within {s["max_iterations"]} '
                           f'iterations; best {best["rms"]:.4g} at iteration {best["iteration"]}')
                break
            potential = Potential.from_dict(state['potential'])
            try:
                record, g = self._run_iteration(iteration, potential, state['configuration'], state['timestep'])
            except LammpsError as exception:
                unstable = exception.log is not None and exception.log.unstable
                if unstable and state['timestep'] / 2 >= MINIMUM_TIMESTEP:
                    state['timestep'] /= 2  # the failure MD really has: a too-long step for this potential
                    self._log(f'# iteration {iteration}: {exception}; retrying with time step {state["timestep"]} ps')
                    continue
                status, message = 'engine_failure', str(exception)
                break
            except (DescriptorError, ValueError) as exception:
                status, message = 'engine_failure', f'iteration {iteration}: {exception}'
                break
            state['records'].append(record.to_dict())
            state['potentials'].append(state['potential'])
            state['g'].append(g.tolist())
            state['configuration'] = str(Path(ITERATIONS_DIR) / f'{iteration:03d}' / FINAL_DATA)
            status, message, note = control.assess(state, s)
            if note:
                self._log(note)
            if status is None:
                try:
                    state['potential'] = self._next_potential(state).to_dict()
                except (ValueError, PotentialError) as exception:
                    status, message = 'diverged', f'update after iteration {iteration} failed: {exception}'
            step = state['records'][-1].get('next_step') or {}
            self._log(f'{iteration:4d} {record.rms:.5f} {record.pressure_bar:10.1f} '
                      f'{record.lammps_seconds + record.analysis_seconds:8.1f}'
                      + (f'  next: {step["method"]} x{step["alpha"]:g} from {step["from_iteration"]}' if step else ''))
            state['next_iteration'] = iteration + 1
            self._prune_trajectories(state)
            self._save_state(state)
        return self._finish(state, status, message)

    def _next_potential(self, state: dict) -> Potential:
        """Return the next iteration's potential: the update that :func:`control.next_step` chooses."""
        s, records = self.settings, state['records']
        base, method, alpha = control.next_step(state, s)
        origin = records[base]
        g = np.asarray(state['g'][base])
        delta = potential_update(self.r, g, self.g_target, s['temperature'], origin['number_density'], method, alpha,
                                 s['s_floor'], coupled_range=s['cutoff'] if s['ihnc_range'] == 'cutoff' else None)
        if s['pressure_target'] is not None and s['pressure_method'] == 'virial':
            delta = delta + virial_pressure_ramp(self.r, g, s['cutoff'], origin['pressure_bar'], s['pressure_target'],
                                                 origin['number_density'], s['pressure_fraction'])
        elif s['pressure_target'] is not None:
            delta = delta + pressure_ramp(self.r, s['cutoff'], origin['pressure_bar'], s['pressure_target'],
                                          s['temperature'], s['pressure_max_amplitude'], s['pressure_scale'])
        step = f'{method} x{alpha:g} from iteration {origin["iteration"]}'
        return updated_potential(Potential.from_dict(state['potentials'][base]), self.r, delta, s,
                                 records[-1]['iteration'] + 1, step=step)

    def _prune_trajectories(self, state: dict) -> None:
        """Keep the xtc of the latest and the best iteration (the final descriptors need it)."""
        if self.settings['keep_trajectories']:
            return
        keep = {state['records'][index]['iteration'] for index in (state['best'], len(state['records']) - 1)
                if index is not None}
        for record in state['records']:
            if record['iteration'] not in keep:
                (self.directory / ITERATIONS_DIR / f'{record["iteration"]:03d}' / TRAJECTORY_NAME).unlink(
                    missing_ok=True)

    def _finish(self, state: dict, status: str, message: str) -> dict:
        records = state['records']
        result = {'status': status, 'message': message, 'converged': status == 'converged',
                  'step_control': self.settings['step_control'], 'ihnc_range': self.settings['ihnc_range'],
                  'iterations': len(records), 'fit_range_nm': list(self.fit_range),
                  'tolerance': self.settings['tolerance'], 'method': self.settings['method'],
                  'units': {'pressure': 'bar', 'rms': 'dimensionless (g)', 'time': 's', 'number_density': 'nm^-3'}}
        if records:
            final_index = len(records) - 1 if status == 'converged' or state['best'] is None else state['best']
            final = records[final_index]
            final_potential = Potential.from_dict(state['potentials'][final_index])
            (self.directory / FINAL_POTENTIAL_JSON).write_text(json.dumps(final_potential.to_dict()))
            write_lammps_table(self.directory / FINAL_POTENTIAL_TABLE, final_potential)
            seconds = [record['lammps_seconds'] + record['analysis_seconds'] for record in records]
            result.update({
                'final_iteration': final['iteration'], 'rms_final': final['rms'], 'rms_last': records[-1]['rms'],
                'pressure_final_bar': final['pressure_bar'], 'number_density_final': final['number_density'],
                'seconds_per_iteration': float(np.mean(seconds)),
                'fallback_iteration': state.get('fallback_iteration'),
                'lammps_seconds_per_iteration': float(np.mean([record['lammps_seconds'] for record in records])),
            })
            write_history(self.directory / HISTORY_FILE, self.r, self.g_target, state)
            if self.settings['final_descriptors']:
                self._final_descriptors(final['iteration'])
        (self.directory / RESULT_FILE).write_text(json.dumps(result, indent=1))
        return result

    def _final_descriptors(self, iteration: int) -> None:
        """g(r), D and density of the final potential's own run: same kernel as every descriptor."""
        for name in (*descriptor_files.RESULT_FILES, descriptor_files.ERROR_FILE):
            (self.directory / name).unlink(missing_ok=True)
        trajectory_path = self.directory / ITERATIONS_DIR / f'{iteration:03d}' / TRAJECTORY_NAME
        try:
            trajectory = read_beads(trajectory_path, self.input['mass'])
            descriptors = compute_descriptors(trajectory, **self.settings['descriptor_settings'])
        except (DescriptorError, ValueError) as exception:
            kind = exception.kind if isinstance(exception, DescriptorError) else 'invalid_settings'
            error = {'kind': kind, 'message': str(exception)}
            (self.directory / descriptor_files.ERROR_FILE).write_text(json.dumps(error))
            return
        descriptors.write(self.directory)


def write_history(path: Path, r: np.ndarray, g_target: np.ndarray, state: dict) -> None:
    """Write all iterations as arrays into an ``.npz`` file.

    Per-iteration scalars (I,), the potential used (I, R) on ``r_potential``, the g(r) it gave (I, G) on
    ``r`` next to ``g_target``; the update made after each iteration (``next_method``, ``next_alpha``,
    ``next_from_iteration``: '' / NaN / -1 when none followed).  Units: r nm, potential kJ/mol, force
    kJ/mol/nm, pressure bar, time ps (``timestep_ps``) and s (``seconds``), number density nm^-3.
    """
    records = state['records']
    potentials = [Potential.from_dict(item) for item in state['potentials']]
    np.savez_compressed(
        path,
        iteration=np.array([record['iteration'] for record in records]),
        rms=np.array([record['rms'] for record in records]),
        pressure_bar=np.array([record['pressure_bar'] for record in records]),
        pressure_std_bar=np.array([record['pressure_std_bar'] for record in records]),
        g_error_rms=np.array([record.get('g_error_rms', np.nan) for record in records]),
        number_density=np.array([record['number_density'] for record in records]),
        timestep_ps=np.array([record['timestep_ps'] for record in records]),
        seconds=np.array([record['lammps_seconds'] + record['analysis_seconds'] for record in records]),
        r_potential=potentials[0].r, potential=np.array([p.energy for p in potentials]),
        force=np.array([p.force for p in potentials]),
        r=r, g=np.array(state['g']), g_target=g_target,
        next_method=np.array([record.get('next_step', {}).get('method', '') for record in records]),
        next_alpha=np.array([record.get('next_step', {}).get('alpha', np.nan) for record in records]),
        next_from_iteration=np.array([record.get('next_step', {}).get('from_iteration', -1) for record in records]),
    )


def run_ibi(directory: str | Path, lmp: str | None = None, threads: int | None = None) -> dict:
    """Run (or resume) the inversion in ``directory``; the result dictionary (also in ibi_result.json)."""
    return IbiRun(directory, lmp, threads).run()


def write_ibi_input(directory: str | Path, target_r: np.ndarray, target_g: np.ndarray, mass: float,
                    number_density: float, n_beads: int | None = None, settings: dict | None = None,
                    lammps_settings: dict | None = None, lmp: str = 'lmp', threads: int = 1, seed: int = 1,
                    initial: Potential | None = None) -> Path:
    """Write ``ibi_input.json`` and ``target.npz`` (and ``initial_potential.json``) into ``directory``.

    The input is validated first, so a bad field fails here and not in the scheduler queue.

    Parameters
    ----------
    directory
        Folder to write into (created if missing).
    target_r, target_g
        The target g(r): bin centres (nm) and values.
    mass
        Bead mass (g/mol).
    number_density
        Bead number density of the CG runs (nm^-3).
    n_beads
        Number of beads of a lattice start (not needed when the directory holds ``start.data``).
    settings, lammps_settings
        IBI settings (:data:`DEFAULT_SETTINGS`) and the settings of one iteration's LAMMPS run.
    lmp, threads, seed
        LAMMPS executable, OpenMP threads, random seed.
    initial
        Initial potential; None: made from the target (``initial_guess``).

    Returns
    -------
    pathlib.Path
        The path of ``ibi_input.json``.
    """
    data = {'settings': settings or {}, 'lammps_settings': lammps_settings or {}, 'mass': mass,
            'number_density': number_density, 'n_beads': n_beads, 'lmp': lmp, 'threads': threads, 'seed': seed}
    validate_input(data)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / INPUT_FILE).write_text(json.dumps(data, indent=1))
    np.savez(directory / TARGET_FILE, r=np.asarray(target_r, dtype=float), g=np.asarray(target_g, dtype=float))
    if initial is not None:
        (directory / INITIAL_POTENTIAL_FILE).write_text(json.dumps(initial.to_dict()))
    return directory / INPUT_FILE
