"""The figure of one database row: g(r), U(r) and the MSD(t) of its CG run (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ['plot_row']


def plot_row(path: str | Path, r_g: np.ndarray, g: np.ndarray, r_u: np.ndarray, u: np.ndarray,
             t: np.ndarray | None = None, msd: np.ndarray | None = None, D: float | None = None,
             r_core: float | None = None, title: str = '') -> Path:
    """Write a three-panel figure: g(r) on the g grid, U(r) on the U grid, MSD(t) of the CG run.

    Parameters
    ----------
    path
        The PNG to write.
    r_g, g
        The row's g(r) (nm, dimensionless).
    r_u, u
        The row's U(r) (nm, kJ/mol).
    t, msd
        Time (ps) and total MSD (nm^2) of the row's CG run; None: the panel says there is none.
    D
        The row's D (1e-9 m^2/s), drawn as 6Dt next to the MSD.
    r_core
        Below this r (nm) U(r) is the inversion's wall, not data: shaded.
    title
        Title of the figure.
    """
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from ..analysis.plots import save_figure  # here: aiida_cgmob.analysis imports MDAnalysis

    figure, (left, middle, right) = plt.subplots(1, 3, figsize=(13, 4), constrained_layout=True)
    left.plot(r_g, g, lw=1.2)
    left.axhline(1.0, color='0.6', lw=0.8, ls='--')
    left.set_xlabel('r / nm')
    left.set_ylabel('g(r)')
    left.set_xlim(0, r_g[-1])

    middle.plot(r_u, u, lw=1.2)
    middle.axhline(0.0, color='0.6', lw=0.8, ls='--')
    finite = u[np.isfinite(u)]
    if finite.size:  # the wall rises steeply: show the well, not the wall's top
        middle.set_ylim(min(finite.min(), 0) * 1.2 - 0.5, max(min(finite.max(), 10.0), 1.0))
    if r_core is not None:
        middle.axvspan(r_u[0], r_core, color='0.85', label='wall (no data)')
        middle.legend(loc='upper right', fontsize=8)
    middle.set_xlabel('r / nm')
    middle.set_ylabel('U(r) / kJ mol$^{-1}$')

    if t is None or msd is None:
        right.text(0.5, 0.5, 'no CG run in the provenance', ha='center', va='center', transform=right.transAxes)
        right.set_axis_off()
    else:
        positive = t > 0
        right.loglog(t[positive], msd[positive], lw=1.2, label='MSD')
        if D is not None:
            # 1e-9 m^2/s = 1e-3 nm^2/ps
            right.loglog(t[positive], 6 * D * 1e-3 * t[positive], color='tab:orange', lw=1, ls='--',
                         label=f'6Dt, D = {D:.3g} x 1e-9 m$^2$/s')
        right.set_xlabel('t / ps')
        right.set_ylabel('MSD / nm$^2$')
        right.legend(loc='upper left', fontsize=8)
    return save_figure(figure, path, title)
