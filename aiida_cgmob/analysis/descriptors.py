"""Descriptors of a bead trajectory: g(r), MSD(t), self-diffusion coefficient, densities.

Units: r nm, t ps, MSD nm^2, D nm^2/ps (x1000 gives 1e-9 m^2/s), number density nm^-3, mass
density kg/m^3, masses g/mol.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..units import BOLTZMANN, MASS_DENSITY_FACTOR
from .files import STEM
from .mapping import box_vectors, box_volumes
from .pairs import orthorhombic, pair_counts
from .statistics import block_average
from .trajectory import BeadTrajectory, DescriptorError

__all__ = ['DEFAULT_SETTINGS', 'Descriptors', 'Diffusion', 'RDF', 'MSD', 'compute_descriptors', 'fit_diffusion',
           'half_box_width', 'mean_squared_displacement', 'radial_distribution', 'read_descriptors',
           'validate_settings', 'yeh_hummer_correction']

YEH_HUMMER_XI = 2.837297  # cubic lattice constant of the Yeh-Hummer correction
NM2_PER_PS_IN_SI = 1e-6  # 1 nm^2/ps = 1e-6 m^2/s

DEFAULT_SETTINGS = {
    'r_max': None,  # nm; None: 2.5 nm or half the smallest box width, whichever is smaller
    'bin_width': 0.005,  # nm
    'begin': None,  # ps; frames before are skipped
    'end': None,  # ps
    'fit_window': None,  # [t_start, t_end] in ps; None: chosen from the log-log slope
    'tail_fraction': 0.5,  # automatic window ends at this fraction of the trajectory (few time origins beyond)
    'slope_tolerance': 0.1,  # automatic window: |d ln MSD / d ln t - 1| below this
    'temperature': None,  # K, only for the Yeh-Hummer correction
    'viscosity': None,  # Pa s; when given, a Yeh-Hummer corrected D is reported next to the raw one
}
DEFAULT_R_MAX = 2.5  # nm


def validate_settings(settings: dict) -> dict:
    """Complete ``settings`` with defaults; raise ValueError naming the offending key and value."""
    unknown = set(settings) - set(DEFAULT_SETTINGS)
    if unknown:
        raise ValueError(f'unknown descriptor setting(s) {sorted(unknown)}; allowed: {sorted(DEFAULT_SETTINGS)}')
    merged = {**DEFAULT_SETTINGS, **settings}

    def positive(key, allow_none=True):
        value = merged[key]
        if value is None and allow_none:
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f'{key} must be a positive number, got {value!r}')

    for key in ('r_max', 'temperature', 'viscosity'):
        positive(key)
    positive('bin_width', allow_none=False)
    for key in ('begin', 'end'):
        value = merged[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise ValueError(f'{key} must be a time >= 0 in ps, got {value!r}')
    if merged['begin'] is not None and merged['end'] is not None and merged['end'] <= merged['begin']:
        raise ValueError(f'end ({merged["end"]} ps) must be later than begin ({merged["begin"]} ps)')
    if merged['r_max'] is not None and merged['bin_width'] >= merged['r_max']:
        raise ValueError(f'bin_width ({merged["bin_width"]} nm) must be smaller than r_max ({merged["r_max"]} nm)')
    window = merged['fit_window']
    if window is not None:
        if (not isinstance(window, (list, tuple)) or len(window) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in window)
                or not 0 <= window[0] < window[1]):
            raise ValueError(f'fit_window must be [t_start, t_end] in ps with 0 <= t_start < t_end, got {window!r}')
    fraction = merged['tail_fraction']
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise ValueError(f'tail_fraction must be in (0, 1], got {fraction!r}')
    tolerance = merged['slope_tolerance']
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 < tolerance < 1:
        raise ValueError(f'slope_tolerance must be in (0, 1), got {tolerance!r}')
    if (merged['viscosity'] is None) != (merged['temperature'] is None):
        raise ValueError('the Yeh-Hummer correction needs both temperature (K) and viscosity (Pa s); '
                         f'got temperature={merged["temperature"]!r}, viscosity={merged["viscosity"]!r}')
    return merged


def half_box_width(dimensions: np.ndarray) -> float:
    """Half the smallest perpendicular width over all frames (nm): the largest r the minimum image allows."""
    vectors = box_vectors(np.atleast_2d(dimensions))
    volumes = np.abs(np.linalg.det(vectors))
    widths = [volumes / np.linalg.norm(np.cross(vectors[:, j], vectors[:, k]), axis=-1)
              for j, k in ((1, 2), (2, 0), (0, 1))]
    return float(np.min(widths) / 2)


@dataclass
class RDF:
    """A bead-bead radial distribution function g(r).

    Attributes
    ----------
    r : numpy.ndarray
        Bin centres (nm).
    g : numpy.ndarray
        g(r) in each bin (dimensionless; 1 for an ideal gas).
    bin_width : float
        Width of the bins (nm).
    r_max : float
        Upper edge of the last bin (nm).
    n_frames : int
        Number of frames averaged.
    g_error : numpy.ndarray or None
        Standard error of g in each bin from 5 contiguous blocks of frames (NaN with fewer than 10 frames).
    """

    r: np.ndarray  # bin centres, nm
    g: np.ndarray
    bin_width: float
    r_max: float
    n_frames: int
    g_error: np.ndarray | None = None


def radial_distribution(trajectory: BeadTrajectory, r_max: float | None = None, bin_width: float = 0.005) -> RDF:
    """Bead-bead g(r) on bins of ``bin_width`` from 0 to ``r_max`` (nm), averaged over frames.

    Normalised by the ideal-gas pair count N(N-1)/2 x shell volume / V of each frame, so an ideal gas
    gives 1 at every r.  ``r_max=None`` takes 2.5 nm or half the smallest box width, whichever is
    smaller; an explicit r_max beyond half the box is an error.  Either is rounded down to whole bins.
    """
    limit = half_box_width(trajectory.dimensions)
    if r_max is None:
        r_max = min(DEFAULT_R_MAX, limit)
        r_max = np.floor(r_max / bin_width + 1e-9) * bin_width
    elif r_max > limit + 1e-9:
        raise DescriptorError('box_too_small', f'r_max = {r_max} nm exceeds half the smallest box width '
                                               f'({limit:.4f} nm): the box must be at least 2 x r_max')
    n_bins = int(np.floor(r_max / bin_width + 1e-9))  # down: the last bin must not reach past r_max (or the box)
    if n_bins < 1:
        raise ValueError(f'r_max = {r_max} nm holds no bin of width {bin_width} nm')
    edges = np.linspace(0.0, n_bins * bin_width, n_bins + 1)
    g, g_error = pair_correlation(trajectory, edges, error=True)
    return RDF(r=0.5 * (edges[1:] + edges[:-1]), g=g, bin_width=bin_width, r_max=float(edges[-1]),
               n_frames=trajectory.n_frames, g_error=g_error)


def pair_correlation(trajectory: BeadTrajectory, edges: np.ndarray, error: bool = False):
    """g(r) on the bins between ``edges`` (nm, increasing, >= 0): pair counts over the ideal-gas count.

    Uniform bins from 0 in orthorhombic boxes (every LAMMPS run, our GROMACS boxes) go to the compiled
    histogram (:func:`aiida_cgmob.analysis.pairs.pair_counts`, 28x faster than a pair list); other bins
    and triclinic boxes to MDAnalysis' capped-distance search.  With ``error`` it returns (g, g_error):
    the standard error of g per bin from the g(r) of 5 contiguous blocks of frames (NaN with fewer than 10).
    """
    edges = np.asarray(edges, dtype=np.float64)
    widths = np.diff(edges)
    if edges[0] == 0 and np.allclose(widths, widths[0], rtol=1e-9, atol=0) and orthorhombic(trajectory.dimensions):
        counts = pair_counts(trajectory.positions, trajectory.dimensions[:, :3], float(widths[0]), len(widths))
    else:
        counts = _pair_list_counts(trajectory, edges)
    ideal = ideal_pair_counts(trajectory, edges)
    g = counts.sum(axis=0) / ideal.sum(axis=0)
    if not error:
        return g
    n_blocks = 5
    if trajectory.n_frames // n_blocks < 2:
        return g, np.full_like(g, np.nan)
    blocks = np.array_split(np.arange(trajectory.n_frames), n_blocks)
    g_blocks = np.array([counts[block].sum(axis=0) / ideal[block].sum(axis=0) for block in blocks])
    return g, g_blocks.std(axis=0, ddof=1) / np.sqrt(n_blocks)


def ideal_pair_counts(trajectory: BeadTrajectory, edges: np.ndarray) -> np.ndarray:
    """Ideal-gas pairs per bin between ``edges`` (nm) of each frame (F, bins): N(N-1)/2 x shell volume / V."""
    n = trajectory.n_beads
    shells = 4.0 / 3.0 * np.pi * np.diff(np.asarray(edges, dtype=np.float64) ** 3)
    return 0.5 * n * (n - 1) * shells[None, :] / box_volumes(trajectory.dimensions)[:, None]


def _pair_list_counts(trajectory: BeadTrajectory, edges: np.ndarray) -> np.ndarray:
    """Pairs per bin between ``edges`` (nm) of each frame (F, bins), from MDAnalysis' pair list (any box)."""
    from MDAnalysis.lib.distances import self_capped_distance

    counts = np.zeros((trajectory.n_frames, len(edges) - 1))
    for frame, (xyz, box) in enumerate(zip(trajectory.positions, trajectory.dimensions, strict=True)):
        xyz, box = xyz.astype(np.float32), box.astype(np.float32)
        try:
            _, distances = self_capped_distance(xyz, edges[-1], box=box)
        except ValueError:
            # MDAnalysis' grid search caps the cut-off below half the box width in skewed triclinic cells
            # (0.31 a instead of 0.35 a for a rhombic dodecahedron); brute force is exact up to half the width.
            _, distances = self_capped_distance(xyz, edges[-1], box=box, method='bruteforce')
        counts[frame] = np.histogram(distances, bins=edges)[0]
    return counts


@dataclass
class MSD:
    """A mean squared displacement per Cartesian direction, averaged over beads and time origins.

    Attributes
    ----------
    t : numpy.ndarray
        Lag times (ps).
    msd : numpy.ndarray
        (lags, 3): the x, y and z components (nm^2).
    """

    t: np.ndarray  # lag times, ps
    msd: np.ndarray  # (lags, 3): x, y, z components, nm^2 (the total is their sum)

    @property
    def total(self) -> np.ndarray:
        """The MSD summed over x, y and z (nm^2)."""
        return self.msd.sum(axis=1)


def _frame_interval(times: np.ndarray) -> float:
    if len(times) < 3:
        raise DescriptorError('too_short', f'{len(times)} frames are too few for an MSD')
    steps = np.diff(times)
    # xtc stores times as float32: at 5 ns one ulp is 0.5 fs, so the rounding alone spreads the intervals by up
    # to two ulps of the latest time (a 0.1 ps frame interval at 2 ns would otherwise look uneven)
    rounding = 4 * float(np.spacing(np.float32(np.max(np.abs(times)))))
    if np.ptp(steps) > 1e-3 * steps.mean() + rounding:
        raise DescriptorError('uneven_frames', f'frames are not evenly spaced in time (intervals {steps.min():g}-'
                                               f'{steps.max():g} ps); the MSD needs a constant interval')
    return float(steps.mean())


def mean_squared_displacement(trajectory: BeadTrajectory, chunk_beads: int = 256) -> MSD:
    """Return the MSD per Cartesian direction, averaged over beads and all time origins.

    The FFT algorithm (Calandrini et al., Collection SFN 12, 201 (2011)) costs O(F log F) per bead
    instead of O(F^2).  Positions are unwrapped first; frames must be evenly spaced in time.

    Parameters
    ----------
    trajectory
        Bead positions (nm) and frame times (ps).
    chunk_beads
        Beads transformed at once (bounds the memory use).

    Returns
    -------
    MSD
        Lag times (ps) and the x, y, z components (nm^2).
    """
    dt = _frame_interval(trajectory.times)
    positions = trajectory.unwrapped()
    n_frames = positions.shape[0]
    size = 1 << (2 * n_frames - 1).bit_length()
    counts = n_frames - np.arange(n_frames)
    total = np.zeros((n_frames, 3))
    for start in range(0, positions.shape[1], chunk_beads):
        x = positions[:, start:start + chunk_beads] - positions[0, start:start + chunk_beads]  # (F, n, 3)
        spectrum = np.fft.rfft(x, n=size, axis=0)
        s2 = np.fft.irfft(spectrum * spectrum.conj(), n=size, axis=0)[:n_frames] / counts[:, None, None]
        squares = np.einsum('fnd,fnd->fd', x, x)  # sum over beads of x^2 per frame and direction
        # S1(m) = sum_{k=0}^{F-m-1} [x(k)^2 + x(k+m)^2] / (F - m), by a running subtraction
        head = np.cumsum(np.vstack([np.zeros((1, 3)), squares[:-1]]), axis=0)  # sum_{k<m} x(k)^2
        tail = np.cumsum(np.vstack([np.zeros((1, 3)), squares[::-1][:-1]]), axis=0)  # sum_{k>F-1-m} x(k)^2
        s1 = (2 * squares.sum(axis=0) - head - tail) / counts[:, None]
        total += s1 - 2 * s2.sum(axis=1)
    return MSD(t=dt * np.arange(n_frames), msd=total / positions.shape[1])


@dataclass
class Diffusion:
    """A self-diffusion coefficient from the Einstein relation, with its error and fit window.

    Attributes
    ----------
    D : float
        Mean over x, y and z (nm^2/ps; x1000 gives 1e-9 m^2/s).
    D_error : float
        Standard error of the mean over the three directions (nm^2/ps).
    D_xyz : list of float
        D of each direction (nm^2/ps).
    fit_window : list of float
        Start and end of the fitted lag times (ps).
    window_chosen : str
        ``'automatic'`` or ``'given'``.
    box_length : float
        Cube root of the mean box volume (nm), for a finite-size correction.
    D_yeh_hummer : float or None
        D with the Yeh-Hummer correction added (nm^2/ps); only when a viscosity was given.
    yeh_hummer : dict
        The correction (nm^2/ps) and the temperature (K) and viscosity (Pa s) it used.
    """

    D: float  # nm^2/ps, mean over x, y, z
    D_error: float  # nm^2/ps, standard error of the mean over the three directions
    D_xyz: list[float]  # nm^2/ps
    fit_window: list[float]  # ps
    window_chosen: str  # 'automatic' or 'given'
    box_length: float  # nm, cube root of the mean volume (for a finite-size correction)
    D_yeh_hummer: float | None = None  # nm^2/ps, only when a viscosity was supplied
    yeh_hummer: dict = field(default_factory=dict)

    @property
    def D_si(self) -> float:
        """D in 1e-9 m^2/s."""
        return self.D * 1e3


def local_slopes(t: np.ndarray, values: np.ndarray, points_per_decade: int = 10,
                 half_width: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Return the log-log slopes d ln y / d ln t of each column of ``values`` (lags, k) on log-spaced lags.

    Each slope is a least-squares line over +-``half_width`` decades of lag; rows are NaN where fewer
    than three lags are that near.

    Parameters
    ----------
    t
        Lag times (ps); lags <= 0 and rows with a value <= 0 are left out.
    values
        (lags, k) positive values, e.g. MSD components (nm^2).
    points_per_decade
        Density of the log-spaced lags the slopes are given at.
    half_width
        Half width of the fitting window (decades).

    Returns
    -------
    tuple of numpy.ndarray
        The lags (ps) and the slopes (lags, k).
    """
    values = np.asarray(values, dtype=np.float64).reshape(len(t), -1)
    valid = (t > 0) & np.all(values > 0, axis=1)
    t, values = t[valid], values[valid]
    if len(t) < 3:
        return np.array([]), np.empty((0, values.shape[1]))
    log_t, log_y = np.log10(t), np.log10(values)
    centres = 10 ** np.arange(log_t[0], log_t[-1] + 1e-9, 1.0 / points_per_decade)
    slopes = np.full((len(centres), values.shape[1]), np.nan)
    for row, centre in enumerate(np.log10(centres)):
        near = np.abs(log_t - centre) <= half_width
        if near.sum() >= 3:
            slopes[row] = np.polyfit(log_t[near], log_y[near], 1)[0]
    return centres, slopes


def automatic_window(msd: MSD, tail_fraction: float = 0.5, tolerance: float = 0.1) -> list[float]:
    """Return the diffusive window [t_start, t_end] (ps) of an MSD.

    It runs from where the log-log slope of MSD(t) settles within 1 +- ``tolerance`` (after the
    ballistic and caged start) up to ``tail_fraction`` of the trajectory (fewer time origins make the
    tail noisy, so the slopes are measured on the MSD up to there only).

    Where the slope's statistical error (from the spread of the x, y and z slopes) exceeds half the
    tolerance, twice that error is allowed instead: in a small box the slope wanders by more than 0.1
    near the end of the window, while a systematic caging dip earlier still counts as off.
    """
    t_end = tail_fraction * msd.t[-1]
    usable = msd.t <= t_end
    centres, slopes = local_slopes(msd.t[usable], np.column_stack([msd.total, msd.msd])[usable])
    total, noise = slopes[:, 0], slopes[:, 1:].std(axis=1, ddof=1) / np.sqrt(3)
    off = np.flatnonzero(~(np.abs(total - 1.0) <= np.maximum(tolerance, 2 * noise)))
    if len(centres) == 0 or (len(off) and off[-1] == len(centres) - 1):
        reached = f'{total[~np.isnan(total)][-1]:.2f}' if np.any(~np.isnan(total)) else 'undefined'
        raise DescriptorError('no_diffusive_regime', f'no diffusive regime within the first {t_end:g} ps: the '
                                                     f'log-log slope of MSD(t) ends at {reached}, not 1 +- {tolerance} '
                                                     '(or twice its error); run a longer production')
    t_start = centres[off[-1] + 1] if len(off) else msd.t[1]
    n_points = np.count_nonzero((msd.t >= t_start) & (msd.t <= t_end))
    if t_end < 2 * t_start or n_points < 10:
        raise DescriptorError('no_diffusive_regime', f'the diffusive regime starts at {t_start:g} ps, too close to '
                                                     f'the end of the usable MSD ({t_end:g} ps, {n_points} points); '
                                                     'run a longer production')
    return [float(t_start), float(t_end)]


def yeh_hummer_correction(box_length: float, temperature: float, viscosity: float) -> float:
    """Return the finite-size correction (nm^2/ps) to add to D of a cubic periodic box.

    The correction is k_B T xi / (6 pi eta L) (Yeh and Hummer, J. Phys. Chem. B 108, 15873 (2004)).

    Parameters
    ----------
    box_length
        Edge L of the cubic box (nm).
    temperature
        Temperature T (K).
    viscosity
        Shear viscosity eta (Pa s).
    """
    si = BOLTZMANN * temperature * YEH_HUMMER_XI / (6 * np.pi * viscosity * box_length * 1e-9)
    return si / NM2_PER_PS_IN_SI


def fit_diffusion(msd: MSD, box_length: float, fit_window: list[float] | None = None, tail_fraction: float = 0.5,
                  slope_tolerance: float = 0.1, temperature: float | None = None,
                  viscosity: float | None = None, cubic: bool = True) -> Diffusion:
    """Fit D by a least-squares line MSD_a(t) = 2 D_a t + c_a in the diffusive window, per direction a.

    The intercept absorbs the ballistic/caged offset.  The reported error is the standard error of
    the mean over the three directions.  The Yeh-Hummer correction is reported separately and only
    when a viscosity (and temperature) is given, for a ``cubic`` box; D itself is never corrected.
    """
    window = list(fit_window) if fit_window is not None else automatic_window(msd, tail_fraction, slope_tolerance)
    chosen = 'given' if fit_window is not None else 'automatic'
    inside = (msd.t >= window[0] - 1e-9) & (msd.t <= window[1] + 1e-9)
    if np.count_nonzero(inside) < 3:
        raise DescriptorError('no_diffusive_regime', f'the fit window {window} ps holds {np.count_nonzero(inside)} '
                                                     f'MSD points (the trajectory spans {msd.t[-1]:g} ps)')
    slopes = np.polyfit(msd.t[inside], msd.msd[inside], 1)[0]
    d_xyz = slopes / 2.0
    result = Diffusion(D=float(d_xyz.mean()), D_error=float(d_xyz.std(ddof=1) / np.sqrt(3)),
                       D_xyz=[float(v) for v in d_xyz], fit_window=window, window_chosen=chosen,
                       box_length=float(box_length))
    if viscosity is not None:
        if not cubic:
            raise DescriptorError('non_cubic_box', 'the Yeh-Hummer constant xi = 2.837297 holds for cubic boxes '
                                                   'only; this box is not cubic, so no correction is computed')
        correction = yeh_hummer_correction(box_length, temperature, viscosity)
        result.D_yeh_hummer = result.D + correction
        result.yeh_hummer = {'correction': correction, 'temperature': temperature, 'viscosity': viscosity}
    return result


@dataclass
class Descriptors:
    """The one-bead descriptors of a trajectory: g(r), MSD, D and densities.

    Attributes
    ----------
    rdf : RDF
        Bead-bead g(r).
    msd : MSD
        Mean squared displacement.
    diffusion : Diffusion
        Self-diffusion coefficient.
    number_density : float
        Mean bead number density (nm^-3).
    mass_density, mass_density_error : float
        Mean mass density and its standard error from 5 blocks (kg/m^3).
    bead_mass : float
        Mass of a bead (g/mol).
    n_beads, n_frames : int
        Number of beads and of frames.
    time_span : list of float
        Times of the first and the last frame (ps).
    source : str
        Where the trajectory came from.
    """

    rdf: RDF
    msd: MSD
    diffusion: Diffusion
    number_density: float  # nm^-3
    mass_density: float  # kg/m^3
    mass_density_error: float  # kg/m^3, standard error from 5 blocks
    bead_mass: float  # g/mol
    n_beads: int
    n_frames: int
    time_span: list[float] = field(default_factory=list)  # ps
    source: str = ''

    def summary(self) -> dict:
        """All scalars with their units, as stored in ``descriptors.json``."""
        diffusion = asdict(self.diffusion)
        return {
            'source': self.source,
            'n_beads': self.n_beads,
            'n_frames': self.n_frames,
            'time_span': self.time_span,
            'bead_mass': self.bead_mass,
            'number_density': self.number_density,
            'mass_density': self.mass_density,
            'mass_density_error': self.mass_density_error,
            'rdf': {'r_max': self.rdf.r_max, 'bin_width': self.rdf.bin_width, 'n_frames': self.rdf.n_frames},
            'diffusion': diffusion,
            'units': UNITS,
        }

    def write(self, directory: str | Path, stem: str = STEM) -> list[Path]:
        """Write ``<stem>.npz`` (arrays) and ``<stem>.json`` (scalars, units)."""
        directory = Path(directory)
        arrays = directory / f'{stem}.npz'
        g_error = self.rdf.g_error if self.rdf.g_error is not None else np.full_like(self.rdf.g, np.nan)
        np.savez(arrays, r=self.rdf.r, g=self.rdf.g, g_error=g_error, t=self.msd.t, msd=self.msd.msd)
        summary = directory / f'{stem}.json'
        summary.write_text(json.dumps(self.summary(), indent=1))
        return [arrays, summary]


UNITS = {
    'r': 'nm', 'bin_width': 'nm', 'r_max': 'nm', 't': 'ps', 'msd': 'nm^2', 'D': 'nm^2/ps', 'D_si': '1e-9 m^2/s',
    'fit_window': 'ps', 'box_length': 'nm', 'number_density': 'nm^-3', 'mass_density': 'kg/m^3',
    'bead_mass': 'g/mol', 'time_span': 'ps', 'viscosity': 'Pa s', 'temperature': 'K',
}


def compute_descriptors(trajectory: BeadTrajectory, **settings) -> Descriptors:
    """Compute g(r), MSD, D and densities of a bead trajectory.

    Parameters
    ----------
    trajectory
        Bead positions (nm), boxes and frame times (ps).
    **settings
        As in :data:`DEFAULT_SETTINGS` (``begin``/``end`` apply when the trajectory is read, not here).
    """
    settings = validate_settings(settings)
    rdf = radial_distribution(trajectory, settings['r_max'], settings['bin_width'])
    msd = mean_squared_displacement(trajectory)
    volumes = box_volumes(trajectory.dimensions)
    dims = trajectory.dimensions
    cubic = bool(np.allclose(dims[:, 3:], 90.0) and np.all(np.ptp(dims[:, :3], axis=1) < 1e-3 * dims[:, 0]))
    diffusion = fit_diffusion(msd, float(np.cbrt(volumes.mean())), settings['fit_window'], settings['tail_fraction'],
                              settings['slope_tolerance'], settings['temperature'], settings['viscosity'], cubic)
    number_densities = trajectory.n_beads / volumes
    mass_densities = number_densities * trajectory.bead_mass * MASS_DENSITY_FACTOR
    return Descriptors(rdf=rdf, msd=msd, diffusion=diffusion, number_density=float(number_densities.mean()),
                       mass_density=float(mass_densities.mean()), mass_density_error=block_average(mass_densities)[1],
                       bead_mass=trajectory.bead_mass, n_beads=trajectory.n_beads, n_frames=trajectory.n_frames,
                       time_span=[float(trajectory.times[0]), float(trajectory.times[-1])], source=trajectory.source)


def read_descriptors(directory: str | Path, stem: str = STEM) -> tuple[dict, dict]:
    """(arrays, summary) as written by :meth:`Descriptors.write`."""
    directory = Path(directory)
    with np.load(directory / f'{stem}.npz') as data:
        arrays = {key: data[key] for key in data.files}
    return arrays, json.loads((directory / f'{stem}.json').read_text())
