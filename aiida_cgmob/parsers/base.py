"""The base of every aiida-cgmob parser, and the one place that turns ``cgmob-descriptors`` files into nodes.

Descriptors computed inside an MD job (GROMACS, LAMMPS, the final run of an inversion) and by a separate
``cgmob.descriptors`` job go through :func:`read_descriptor_outcome`, so they end up as identical nodes.
"""

from __future__ import annotations

import io
import json
import math
import zipfile

import numpy as np
from aiida import orm
from aiida.engine import ExitCode
from aiida.parsers import Parser

from aiida_cgmob.analysis import files as descriptor_files

#: what reading a truncated or malformed retrieved file raises (a truncated npz is a bad zip file)
READ_ERRORS = (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile)

__all__ = ['READ_ERRORS', 'CgmobParser', 'json_clean', 'log_tail', 'parse_descriptor_files',
           'read_descriptor_outcome']


def json_clean(value):
    """``value`` with NaN and infinities replaced by None (the database stores JSON, which has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_clean(item) for item in value]
    return value


def log_tail(log: str, lines: int = 5) -> str:
    """Return the last ``lines`` non-empty lines of ``log`` joined by `` | `` (for exit messages)."""
    tail = ' | '.join(line.strip() for line in log.strip().splitlines()[-lines:] if line.strip())
    return tail or 'the program printed nothing'


def _xy(x: np.ndarray, x_name: str, x_unit: str, ys: list[np.ndarray], y_names: list[str],
        y_unit: str) -> orm.XyData:
    node = orm.XyData()
    node.set_x(np.asarray(x), x_name, x_unit)
    node.set_y([np.asarray(y) for y in ys], y_names, [y_unit] * len(ys))
    return node


def parse_descriptor_files(npz: bytes, summary_text: str) -> dict[str, orm.Data]:
    """Nodes (unstored) from the ``descriptors.npz`` bytes and ``descriptors.json`` text of the script."""
    with np.load(io.BytesIO(npz)) as data:
        arrays = {key: data[key] for key in data.files}
    summary = json.loads(summary_text)

    # g_error: standard error of g per bin from 5 blocks of frames (files written before it existed lack it)
    names = ['g', 'g_error'] if 'g_error' in arrays else ['g']
    rdf = _xy(arrays['r'], 'r', 'nm', [arrays[name] for name in names], names, 'dimensionless')
    for key in ('r_max', 'bin_width', 'n_frames'):
        rdf.base.attributes.set(key, summary['rdf'][key])
    msd_xyz = arrays['msd']
    msd = _xy(arrays['t'], 't', 'ps', [msd_xyz[:, 0], msd_xyz[:, 1], msd_xyz[:, 2], msd_xyz.sum(axis=1)],
              ['msd_x', 'msd_y', 'msd_z', 'msd'], 'nm^2')

    fit = summary['diffusion']
    diffusion = {
        'D': fit['D'], 'D_error': fit['D_error'], 'D_xyz': fit['D_xyz'],
        # 1 nm^2/ps = 1e-6 m^2/s = 1000 x 1e-9 m^2/s
        'D_si': fit['D'] * 1e3, 'D_error_si': fit['D_error'] * 1e3, 'D_xyz_si': [v * 1e3 for v in fit['D_xyz']],
        'fit_window': fit['fit_window'], 'window_chosen': fit['window_chosen'], 'box_length': fit['box_length'],
        'n_frames': summary['n_frames'], 'time_span': summary['time_span'],
        'units': {'D': 'nm^2/ps', 'D_error': 'nm^2/ps', 'D_xyz': 'nm^2/ps', 'D_si': '1e-9 m^2/s',
                  'D_error_si': '1e-9 m^2/s', 'D_xyz_si': '1e-9 m^2/s', 'fit_window': 'ps', 'box_length': 'nm',
                  'time_span': 'ps'},
    }
    if fit.get('D_yeh_hummer') is not None:
        diffusion['D_yeh_hummer'] = fit['D_yeh_hummer']
        diffusion['D_yeh_hummer_si'] = fit['D_yeh_hummer'] * 1e3
        diffusion['yeh_hummer'] = fit['yeh_hummer']
        diffusion['units'].update({'D_yeh_hummer': 'nm^2/ps', 'D_yeh_hummer_si': '1e-9 m^2/s'})
    density = {
        'number_density': summary['number_density'], 'mass_density': summary['mass_density'],
        'mass_density_error': summary['mass_density_error'], 'n_beads': summary['n_beads'],
        'units': {'number_density': 'nm^-3', 'mass_density': 'kg/m^3', 'mass_density_error': 'kg/m^3'},
    }
    # NaN (an error too short to estimate) becomes None: JSON has no NaN
    return {'rdf': rdf, 'msd': msd, 'diffusion': orm.Dict(json_clean(diffusion)),
            'density': orm.Dict(json_clean(density)), 'mass': orm.Float(summary['bead_mass'])}


def read_descriptor_outcome(retrieved: orm.FolderData) -> tuple[dict | None, dict | None, str]:
    """(nodes or None, error report or None, log text) of a ``cgmob-descriptors`` run in ``retrieved``."""
    repository = retrieved.base.repository
    names = set(repository.list_object_names())
    log = repository.get_object_content(descriptor_files.LOG_FILE) if descriptor_files.LOG_FILE in names else ''
    if descriptor_files.ERROR_FILE in names:
        return None, json.loads(repository.get_object_content(descriptor_files.ERROR_FILE)), log
    npz_name, summary_name = descriptor_files.RESULT_FILES
    if {npz_name, summary_name} <= names:
        npz = repository.get_object_content(npz_name, mode='rb')
        return parse_descriptor_files(npz, repository.get_object_content(summary_name)), None, log
    return None, None, log


class CgmobParser(Parser):
    """Shared reading of retrieved files and of the descriptors computed in the same job."""

    def _read(self, name: str, mode: str = 'r') -> str | bytes | None:
        """Content of the retrieved file ``name``, or None when it was not retrieved."""
        try:
            return self.retrieved.base.repository.get_object_content(name, mode=mode)
        except (FileNotFoundError, OSError):
            return None

    @property
    def killed_by_scheduler(self) -> bool:
        """Whether the scheduler reported that it stopped the job at its wall time (aiida-core's 120).

        A job killed before it wrote anything is then a wall-time stop (400), which the restart chains continue
        or start again, rather than a job that left no output (310/311).
        """
        return self.node.exit_status == 120

    @property
    def descriptors_requested(self) -> bool:
        """Whether the job ran ``cgmob-descriptors`` (a ``descriptors.code`` input)."""
        return 'descriptors__code' in self.node.base.links.get_incoming().all_link_labels()

    def attach_descriptors(self, namespace: str = 'descriptors', report: dict | None = None) -> ExitCode | None:
        """Attach the descriptor nodes in ``namespace``; ERROR_DESCRIPTORS naming the failure if there are none.

        The failure (kind and message) is also written into ``report`` when one is given.
        """
        try:
            nodes, error, log = read_descriptor_outcome(self.retrieved)
        except READ_ERRORS as exception:
            nodes, error, log = None, {'kind': 'unreadable output', 'message': repr(exception)}, ''
        if nodes is None and error is None:
            error = {'kind': 'no output', 'message': log_tail(log)}
        if error is not None:
            if report is not None:
                report['descriptors_error'] = error
            return self.exit_codes.ERROR_DESCRIPTORS.format(message=f'{error["kind"]}: {error["message"]}')
        for name, node in nodes.items():
            self.out(f'{namespace}.{name}' if namespace else name, node)
        return None
