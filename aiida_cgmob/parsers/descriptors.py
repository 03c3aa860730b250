"""Parser of ``cgmob.descriptors``, and the one place that turns ``cgmob-descriptors`` files into nodes.

The GROMACS parser uses :func:`parse_descriptor_files` too, so descriptors computed inside the MD job
and by a separate ``cgmob.descriptors`` job end up as identical nodes.
"""

from __future__ import annotations

import io
import json

import numpy as np
from aiida import orm
from aiida.parsers import Parser

__all__ = ['DESCRIPTOR_FILES', 'DescriptorsParser', 'define_descriptor_outputs', 'parse_descriptor_files']

#: output stem of the ``cgmob-descriptors`` script as the calculations run it
STEM = 'descriptors'
DESCRIPTOR_FILES = (f'{STEM}.npz', f'{STEM}.json', f'{STEM}_error.json', f'{STEM}.log')


def define_descriptor_outputs(spec, namespace: str | None = None, required: bool = True) -> None:
    """Declare the output ports ``rdf``, ``msd``, ``diffusion``, ``density`` and ``mass`` (in ``namespace``)."""
    prefix = f'{namespace}.' if namespace else ''
    if namespace:
        spec.output_namespace(namespace, required=False, help='Descriptors of the production trajectory.')
    spec.output(f'{prefix}rdf', valid_type=orm.XyData, required=required,
                help='Bead-bead g(r): x = r (nm, bin centres), y = g; attributes r_max, bin_width, n_frames.')
    spec.output(f'{prefix}msd', valid_type=orm.XyData, required=required,
                help='Mean squared displacement: x = t (ps); y = msd_x, msd_y, msd_z and their sum msd (nm^2).')
    spec.output(f'{prefix}diffusion', valid_type=orm.Dict, required=required,
                help='Self-diffusion: D, D_error, D_xyz in nm^2/ps and as D_si... in 1e-9 m^2/s; fit_window (ps), '
                     'box_length (nm); D_yeh_hummer only when a viscosity was given.')
    spec.output(f'{prefix}density', valid_type=orm.Dict, required=required,
                help='number_density (nm^-3), mass_density and mass_density_error (kg/m^3), n_beads.')
    spec.output(f'{prefix}mass', valid_type=orm.Float, required=required,
                help='Bead (molecular) mass in g/mol.')


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

    rdf = _xy(arrays['r'], 'r', 'nm', [arrays['g']], ['g'], 'dimensionless')
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
    return {'rdf': rdf, 'msd': msd, 'diffusion': orm.Dict(diffusion), 'density': orm.Dict(density),
            'mass': orm.Float(summary['bead_mass'])}


def read_descriptor_outcome(retrieved: orm.FolderData) -> tuple[dict | None, dict | None, str]:
    """(nodes or None, error report or None, log text) of a ``cgmob-descriptors`` run in ``retrieved``."""
    names = set(retrieved.base.repository.list_object_names())
    log = retrieved.base.repository.get_object_content(f'{STEM}.log') if f'{STEM}.log' in names else ''
    if f'{STEM}_error.json' in names:
        return None, json.loads(retrieved.base.repository.get_object_content(f'{STEM}_error.json')), log
    if {f'{STEM}.npz', f'{STEM}.json'} <= names:
        npz = retrieved.base.repository.get_object_content(f'{STEM}.npz', mode='rb')
        return parse_descriptor_files(npz, retrieved.base.repository.get_object_content(f'{STEM}.json')), None, log
    return None, None, log


def log_tail(log: str, lines: int = 5) -> str:
    tail = ' | '.join(line.strip() for line in log.strip().splitlines()[-lines:] if line.strip())
    return tail or 'the script printed nothing'


class DescriptorsParser(Parser):
    """Arrays and scalars of ``cgmob-descriptors`` as nodes; its error report as an exit code."""

    #: error kinds reported by the script -> exit code labels of DescriptorsCalculation
    ERROR_KINDS = {
        'missing_file': 'ERROR_MISSING_INPUT_FILE',
        'box_too_small': 'ERROR_BOX_TOO_SMALL',
        'no_diffusive_regime': 'ERROR_NO_DIFFUSIVE_REGIME',
        'too_short': 'ERROR_NO_DIFFUSIVE_REGIME',
    }

    def parse(self, **kwargs):
        try:
            nodes, error, log = read_descriptor_outcome(self.retrieved)
        except (ValueError, KeyError, OSError) as exception:
            return self.exit_codes.ERROR_OUTPUT_UNREADABLE.format(error=str(exception))
        if error is not None:
            label = self.ERROR_KINDS.get(error['kind'], 'ERROR_TRAJECTORY_UNUSABLE')
            return getattr(self.exit_codes, label).format(error=error['message'])
        if nodes is None:
            return self.exit_codes.ERROR_NO_OUTPUT.format(log=log_tail(log))
        for name, node in nodes.items():
            self.out(name, node)
        return None
