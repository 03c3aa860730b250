"""Statistics of correlated MD time series, shared by every kernel (no AiiDA import)."""

from __future__ import annotations

import numpy as np

__all__ = ['block_average']


def block_average(values: np.ndarray, n_blocks: int = 5) -> tuple[float, float]:
    """Return the mean and the standard error of the mean of a correlated series from contiguous block means.

    The series is cut into ``n_blocks`` equal blocks (the last ``len % n_blocks`` values only count in the mean);
    the error is the standard deviation of the block means over sqrt(n_blocks).  It is NaN when a block would
    hold fewer than 2 values: such a series is too short to say (a naive error would pretend it is uncorrelated).
    The mean of an empty series is NaN too.  Units: those of ``values``.
    """
    values = np.asarray(values, dtype=float)
    mean = float(values.mean()) if values.size else float('nan')
    if values.size // n_blocks < 2:
        return mean, float('nan')
    usable = values[: values.size - values.size % n_blocks]
    means = usable.reshape(n_blocks, -1).mean(axis=1)
    return mean, float(means.std(ddof=1) / np.sqrt(n_blocks))
