"""The rows of a table as a PyTorch dataset: inputs (m, D, g(r)) -> label U(r), float32.

A table is what :func:`aiida_cgmob.dataset.hdf5.read` returns, or ``aiida_cgmob.database.to_arrays``, or
``TrainingSetData.as_table()``.  Importing this module imports torch; nothing else in the package does.
No AiiDA import.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ['RowDataset']


class RowDataset(Dataset):
    """Map-style dataset of database rows: ``dataset[i]`` is ``(inputs, label)``.

    ``inputs`` is a dict of float32 tensors ``mass`` () in g/mol, ``D`` () in 1e-9 m^2/s and ``g`` (G,) on
    :attr:`r_g`; ``label`` is U(r) (U,) in kJ/mol on :attr:`r_u`.  A ``DataLoader`` batches them as
    ``({'mass': (B,), 'D': (B,), 'g': (B, G)}, (B, U))``.  The tensors are made once, here, so indexing costs
    nothing.

    Parameters
    ----------
    table
        ``g`` (N, G), ``u`` (N, U), ``mass`` (N,), ``D`` (N,), ``r_g``, ``r_u``; ``uuid`` and ``units`` if present.
    """

    def __init__(self, table: Mapping):
        self.mass = torch.as_tensor(np.asarray(table['mass'], dtype=np.float32))
        self.D = torch.as_tensor(np.asarray(table['D'], dtype=np.float32))
        self.g = torch.as_tensor(np.asarray(table['g'], dtype=np.float32))
        self.u = torch.as_tensor(np.asarray(table['u'], dtype=np.float32))
        n = len(self.mass)
        if not (self.D.shape == (n,) and self.g.shape[0] == n and self.u.shape[0] == n):
            raise ValueError(f'mass {tuple(self.mass.shape)}, D {tuple(self.D.shape)}, g {tuple(self.g.shape)} and '
                             f'u {tuple(self.u.shape)} must hold the same number of rows')
        #: the grids, nm
        self.r_g = np.asarray(table['r_g'], dtype=float)
        self.r_u = np.asarray(table['r_u'], dtype=float)
        #: each row's node UUID (empty strings for a table without them)
        self.uuid = np.asarray(table['uuid'], dtype=str) if 'uuid' in table else np.full(n, '', dtype=str)
        #: units of the tensors
        self.units = {'mass': 'g/mol', 'D': '1e-9 m^2/s', 'g': 'dimensionless', 'u': 'kJ/mol', 'r_g': 'nm',
                      'r_u': 'nm'}

    def __len__(self) -> int:
        """Return the number of rows."""
        return len(self.mass)

    def __getitem__(self, index: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """``({'mass', 'D', 'g'}, u)`` of row ``index``."""
        return {'mass': self.mass[index], 'D': self.D[index], 'g': self.g[index]}, self.u[index]
