"""Parser of ``cgmob.ibi``: final potential, history arrays, result scalars, final descriptors, exit codes.

Whatever the inversion produced is attached also when it failed (not converged, diverged, LAMMPS
failure after some iterations): the best potential and the history are the point of the job.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from pathlib import Path

import numpy as np
from aiida import orm
from aiida.parsers import Parser

from aiida_cgmob.data import PotentialData
from aiida_cgmob.ibi.driver import HISTORY_FILE, LOG_FILE, RESULT_FILE, STATE_FILE
from aiida_cgmob.parsers.descriptors import log_tail, read_descriptor_outcome
from aiida_cgmob.potentials import Potential, PotentialError

__all__ = ['HISTORY_UNITS', 'IbiParser', 'history_node', 'json_clean']

FINAL_POTENTIAL_FILE = 'final_potential.json'
STDOUT_NAME = 'cgmob-ibi.out'
#: units of the arrays of ibi_history.npz (stored on the history node as the attribute ``units``)
HISTORY_UNITS = {
    'iteration': '1', 'rms': 'dimensionless (g)', 'pressure_bar': 'bar', 'pressure_std_bar': 'bar',
    'number_density': 'nm^-3', 'timestep_ps': 'ps', 'seconds': 's', 'r_potential': 'nm', 'potential': 'kJ/mol',
    'force': 'kJ/mol/nm', 'r': 'nm', 'g': 'dimensionless', 'g_target': 'dimensionless',
}
#: script status -> exit code label (None: success)
STATUS_EXIT_CODES = {
    'converged': None, 'not_converged': 'ERROR_NOT_CONVERGED', 'diverged': 'ERROR_DIVERGED',
    'engine_failure': 'ERROR_LAMMPS', 'bad_input': 'ERROR_INVALID_INPUT',
}
TRACEBACK = 'Traceback (most recent call last):'
RESUMED = re.compile(r'^# resumed at iteration (\d+)', re.MULTILINE)


def json_clean(value):
    """``value`` with NaN and infinities replaced by None (the database stores JSON, which has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_clean(item) for item in value]
    return value


def history_node(npz: bytes, result: dict) -> orm.ArrayData:
    """An ArrayData with every array of ``ibi_history.npz``; units, method and fit range as attributes."""
    node = orm.ArrayData()
    with np.load(io.BytesIO(npz)) as data:
        for name in data.files:
            node.set_array(name, data[name])
        names = list(data.files)
        n_iterations = int(data['iteration'].size) if 'iteration' in data.files else 0
    node.base.attributes.set_many({
        'units': {name: HISTORY_UNITS.get(name, '') for name in names},
        'n_iterations': n_iterations,
        'method': result.get('method'),
        'fit_range_nm': result.get('fit_range_nm'),
    })
    return node


class IbiParser(Parser):
    """Map the ``ibi_result.json`` status of ``cgmob-ibi`` onto the exit codes of IbiCalculation."""

    def _read(self, name: str, mode: str = 'r'):
        if name not in self.retrieved.base.repository.list_object_names():
            return None
        return self.retrieved.base.repository.get_object_content(name, mode=mode)

    def parse(self, retrieved_temporary_folder: str | None = None, **kwargs):
        text = self._read(RESULT_FILE)
        if text is None:
            return self._no_result(retrieved_temporary_folder)
        try:
            result = json.loads(text)
            status = result['status']
            label = STATUS_EXIT_CODES[status]
        except (ValueError, KeyError) as exception:
            return self.exit_codes.ERROR_OUTPUT_UNREADABLE.format(error=f'{RESULT_FILE}: {exception!r}')
        if status == 'bad_input':
            self.out('result', orm.Dict(json_clean(result)))
            return self.exit_codes.ERROR_INVALID_INPUT.format(message=result.get('message', ''))

        log = self._read(LOG_FILE) or ''
        result['resumed_at'] = [int(value) for value in RESUMED.findall(log)]
        if result.get('iterations'):
            failure = self._attach_inversion(result)
            if failure is not None:
                return failure
        descriptors_failure = self._attach_descriptors(result)
        self.out('result', orm.Dict(json_clean(result)))
        if label is not None:
            return getattr(self.exit_codes, label).format(message=result.get('message', ''))
        return descriptors_failure

    def _no_result(self, temporary: str | None):
        """No result: a checkpoint means the job was stopped from outside (wall time) and can be continued,
        unless the script itself crashed (a Python traceback in its output)."""
        output = self._read(STDOUT_NAME) or ''
        if TRACEBACK in output:
            return self.exit_codes.ERROR_SCRIPT_CRASHED.format(error=log_tail(output.split(TRACEBACK)[-1], 1))
        state_path = Path(temporary) / STATE_FILE if temporary else None
        if state_path is not None and state_path.is_file():
            try:
                state = json.loads(state_path.read_text())
                iterations = int(state['next_iteration'])
                rms = [record['rms'] for record in state['records']]
            except (ValueError, KeyError, TypeError) as exception:
                return self.exit_codes.ERROR_OUTPUT_UNREADABLE.format(error=f'{STATE_FILE}: {exception!r}')
            log = self._read(LOG_FILE) or ''
            self.out('result', orm.Dict(json_clean({
                'status': 'interrupted', 'converged': False, 'iterations': iterations,
                'message': f'stopped after {iterations} completed iteration(s); continue from the checkpoint',
                'rms_last': rms[-1] if rms else None, 'resumed_at': [int(v) for v in RESUMED.findall(log)]})))
            return self.exit_codes.ERROR_OUT_OF_WALLTIME.format(iterations=iterations)
        return self.exit_codes.ERROR_NO_OUTPUT.format(log=log_tail((self._read(LOG_FILE) or '') + '\n' + output))

    def _attach_inversion(self, result: dict):
        try:
            potential = Potential.from_dict(json.loads(self._read(FINAL_POTENTIAL_FILE) or 'null') or {})
            history = history_node(self._read(HISTORY_FILE, mode='rb') or b'', result)
        except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile, PotentialError) as exception:
            return self.exit_codes.ERROR_OUTPUT_UNREADABLE.format(
                error=f'{FINAL_POTENTIAL_FILE} or {HISTORY_FILE}: {exception}')
        self.out('potential', PotentialData(potential))
        self.out('history', history)
        return None

    def _attach_descriptors(self, result: dict):
        """The final potential's own g(r), MSD, D and density when the settings asked for them."""
        settings = self.node.inputs.settings.get_dict() if 'settings' in self.node.inputs else {}
        if not settings.get('final_descriptors', True) or not result.get('iterations'):
            return None
        try:
            nodes, error, _ = read_descriptor_outcome(self.retrieved)
        except (ValueError, KeyError, OSError) as exception:
            nodes, error = None, {'kind': 'unreadable output', 'message': str(exception)}
        if nodes is None and error is None:
            error = {'kind': 'no output', 'message': 'cgmob-ibi wrote neither descriptors nor an error report'}
        if error is not None:
            result['descriptors_error'] = error
            return self.exit_codes.ERROR_DESCRIPTORS.format(kind=error['kind'], error=error['message'])
        for name, node in nodes.items():
            self.out(f'descriptors.{name}', node)
        return None
