"""Figure of an inversion: convergence, final g(r) against the target, first and final U(r) (no AiiDA)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..analysis.plots import save_figure

__all__ = ['plot_ibi']


def plot_ibi(path: str | Path, iteration: np.ndarray, rms: np.ndarray, r: np.ndarray, g_final: np.ndarray,
             g_target: np.ndarray, r_potential: np.ndarray, u_first: np.ndarray, u_final: np.ndarray,
             tolerance: float | None = None, labels: tuple[str, str] = ('iteration 0', 'final'),
             title: str = '') -> Path:
    """Write a three-panel figure to ``path``.

    Left: RMS(g - g_target) per iteration (log y), with the tolerance.  Middle: the final g(r) and the
    target on the same grid ``r`` (nm).  Right: U(r) (kJ/mol) of the first and the final iteration on
    ``r_potential`` (nm), the y range clipped to the well and a few kT of wall.
    """
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, (left, middle, right) = plt.subplots(1, 3, figsize=(14, 4), constrained_layout=True)
    left.semilogy(iteration, rms, 'o-', lw=1.2, ms=4)
    if tolerance:
        left.axhline(tolerance, color='tab:red', lw=0.8, ls='--', label=f'tolerance {tolerance:g}')
        left.legend(fontsize=8)
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_xlabel('iteration')
    left.set_ylabel('RMS(g - g$_{target}$)')

    middle.plot(r, g_target, color='k', lw=1.5, label='target')
    middle.plot(r, g_final, color='tab:orange', lw=1.0, ls='--', label=labels[1])
    middle.axhline(1.0, color='0.6', lw=0.8, ls=':')
    middle.set_xlim(0, r[-1])
    middle.set_xlabel('r / nm')
    middle.set_ylabel('g(r)')
    middle.legend(fontsize=8)

    right.plot(r_potential, u_first, color='tab:blue', lw=1.0, label=labels[0])
    right.plot(r_potential, u_final, color='tab:orange', lw=1.5, label=labels[1])
    right.axhline(0.0, color='0.6', lw=0.8, ls=':')
    low = float(min(np.min(u_first), np.min(u_final)))
    high = max(-low, 1.0) + 5.0
    visible = np.flatnonzero(np.minimum(u_first, u_final) < high)  # from where the wall enters the frame
    start = float(r_potential[visible[0]]) - 0.05 if visible.size else float(r_potential[0])
    right.set_ylim(low - 0.5, high)
    right.set_xlim(max(start, float(r_potential[0])), r_potential[-1])
    right.set_xlabel('r / nm')
    right.set_ylabel('U(r) / kJ mol$^{-1}$')
    right.legend(fontsize=8)
    return save_figure(figure, path, title)
