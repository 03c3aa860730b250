"""Parser of ``cgmob.ibi``: final potential, history arrays, result scalars, final descriptors, exit codes.

Whatever the inversion produced is attached also when it failed (not converged, diverged, LAMMPS
failure after some iterations): the best potential and the history are the point of the job.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
from aiida import orm

from aiida_cgmob.data import PotentialData
from aiida_cgmob.ibi.driver import FINAL_POTENTIAL_JSON, HISTORY_FILE, LOG_FILE, RESULT_FILE, STATE_FILE, STDOUT_FILE
from aiida_cgmob.parsers.base import READ_ERRORS, CgmobParser, json_clean, log_tail
from aiida_cgmob.potentials import Potential

__all__ = ['HISTORY_UNITS', 'IbiParser', 'history_node']

#: units of the arrays of ibi_history.npz (stored on the history node as the attribute ``units``)
HISTORY_UNITS = {
    'iteration': '1', 'rms': 'dimensionless (g)', 'g_error_rms': 'dimensionless (g)', 'pressure_bar': 'bar',
    'pressure_std_bar': 'bar',
    'number_density': 'nm^-3', 'timestep_ps': 'ps', 'seconds': 's', 'r_potential': 'nm', 'potential': 'kJ/mol',
    'force': 'kJ/mol/nm', 'r': 'nm', 'g': 'dimensionless', 'g_target': 'dimensionless', 'next_method': '-',
    'next_alpha': 'dimensionless', 'next_from_iteration': '1',
}
#: script status -> exit code label (None: success)
STATUS_EXIT_CODES = {
    'converged': None, 'not_converged': 'ERROR_NOT_CONVERGED', 'stalled': 'ERROR_NOT_CONVERGED',
    'diverged': 'ERROR_DIVERGED', 'engine_failure': 'ERROR_ENGINE', 'bad_input': 'ERROR_INPUT_REFUSED',
}
TRACEBACK = 'Traceback (most recent call last):'
RESUMED = re.compile(r'^# resumed at iteration (\d+)', re.MULTILINE)


def history_node(npz: bytes, result: dict) -> orm.ArrayData:
    """Return an ArrayData with every array of ``ibi_history.npz``; units, method and fit range as attributes."""
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


class IbiParser(CgmobParser):
    """Map the ``ibi_result.json`` status of ``cgmob-ibi`` onto the exit codes of IbiCalculation."""

    def parse(self, retrieved_temporary_folder: str | None = None, **kwargs):
        """Attach what the inversion made (also when it failed); the exit code of its status."""
        text = self._read(RESULT_FILE)
        if text is None:
            return self._no_result(retrieved_temporary_folder)
        try:
            result = json.loads(text)
            status = result['status']
            label = STATUS_EXIT_CODES[status]
        except (ValueError, KeyError) as exception:
            return self.exit_codes.ERROR_OUTPUT_UNREADABLE.format(message=f'{RESULT_FILE}: {exception!r}')
        if status == 'bad_input':
            self.out('result', orm.Dict(json_clean(result)))
            return self.exit_codes.ERROR_INPUT_REFUSED.format(message=f'cgmob-ibi: {result.get("message", "")}')

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
        """Return the exit code of a job that wrote no result.

        A checkpoint means the job was stopped from outside (wall time) and can be continued, unless the script
        itself crashed (a Python traceback in its output).
        """
        output = self._read(STDOUT_FILE) or ''
        if TRACEBACK in output:
            return self.exit_codes.ERROR_SCRIPT_CRASHED.format(message=log_tail(output.split(TRACEBACK)[-1], 1))
        state_path = Path(temporary) / STATE_FILE if temporary else None
        if state_path is not None and state_path.is_file():
            try:
                state = json.loads(state_path.read_text())
                iterations = int(state['next_iteration'])
                rms = [record['rms'] for record in state['records']]
            except (ValueError, KeyError, TypeError) as exception:
                return self.exit_codes.ERROR_OUTPUT_UNREADABLE.format(message=f'{STATE_FILE}: {exception!r}')
            log = self._read(LOG_FILE) or ''
            self.out('result', orm.Dict(json_clean({
                'status': 'interrupted', 'converged': False, 'iterations': iterations,
                'message': f'stopped after {iterations} completed iteration(s); continue from the checkpoint',
                'rms_last': rms[-1] if rms else None, 'resumed_at': [int(v) for v in RESUMED.findall(log)]})))
            return self.exit_codes.ERROR_OUT_OF_WALLTIME.format(message=f'{iterations} iteration(s) completed')
        if self.killed_by_scheduler:  # no checkpoint: the chain starts the inversion again
            return self.exit_codes.ERROR_OUT_OF_WALLTIME.format(
                message='the scheduler stopped the job at its wall time before its first iteration ended')
        return self.exit_codes.ERROR_NO_OUTPUT.format(
            message='cgmob-ibi left neither a result nor a checkpoint (no iteration completed): '
                    + log_tail((self._read(LOG_FILE) or '') + '\n' + output))

    def _attach_inversion(self, result: dict):
        try:
            potential = Potential.from_dict(json.loads(self._read(FINAL_POTENTIAL_JSON) or 'null') or {})
            history = history_node(self._read(HISTORY_FILE, mode='rb') or b'', result)
        except READ_ERRORS as exception:  # PotentialError is a ValueError
            return self.exit_codes.ERROR_OUTPUT_UNREADABLE.format(
                message=f'{FINAL_POTENTIAL_JSON} or {HISTORY_FILE}: {exception}')
        self.out('potential', PotentialData(potential))
        self.out('history', history)
        return None

    def _attach_descriptors(self, result: dict):
        """Attach the final potential's own g(r), MSD, D and density when the settings asked for them."""
        settings = self.node.inputs.settings.get_dict() if 'settings' in self.node.inputs else {}
        if not settings.get('final_descriptors', True) or not result.get('iterations'):
            return None
        return self.attach_descriptors(report=result)
