"""Figures of descriptors: g(r) and MSD(t) with the diffusion fit (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ['plot_descriptors']


def plot_descriptors(path: str | Path, r: np.ndarray, g: np.ndarray, t: np.ndarray, msd: np.ndarray,
                     diffusion: dict, title: str = '') -> Path:
    """Write a two-panel figure: g(r), and MSD(t) on log-log axes with the fit window and the fitted line.

    ``msd`` is the total MSD (nm^2); ``diffusion`` holds ``D`` (nm^2/ps), ``fit_window`` (ps) and
    optionally ``D_error``.
    """
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    left.plot(r, g, lw=1.2)
    left.axhline(1.0, color='0.6', lw=0.8, ls='--')
    left.set_xlabel('r / nm')
    left.set_ylabel('g(r)')
    left.set_xlim(0, r[-1])

    positive = t > 0
    right.loglog(t[positive], msd[positive], lw=1.2, label='MSD')
    start, end = diffusion['fit_window']
    right.axvspan(start, end, color='tab:orange', alpha=0.15, label='fit window')
    inside = positive & (t >= start) & (t <= end)
    if np.any(inside):
        intercept = np.mean(msd[inside] - 6 * diffusion['D'] * t[inside])
        right.loglog(t[inside], 6 * diffusion['D'] * t[inside] + intercept, color='tab:orange', lw=2,
                     label=f'6Dt + c, D = {diffusion["D"] * 1e3:.3g} x 1e-9 m$^2$/s')
    right.set_xlabel('t / ps')
    right.set_ylabel('MSD / nm$^2$')
    right.legend(loc='upper left', fontsize=8)
    return save_figure(figure, path, title)


def save_figure(figure, path: str | Path, title: str | None = None) -> Path:
    """Give ``figure`` its ``title``, write it to ``path`` (PNG at 120 dpi), close it and return the path."""
    import matplotlib.pyplot as plt

    if title:
        figure.suptitle(title)
    path = Path(path)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
