"""Parser of ``cgmob.lammps.cg``: thermodynamic averages, performance, final configuration, LAMMPS errors."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from aiida import orm

from aiida_cgmob.calculations.base import continuation_chain, retrieved_text
from aiida_cgmob.data import configuration_node
from aiida_cgmob.lammps import LammpsInputError, parse_log, total_steps, validate_settings
from aiida_cgmob.lammps.inputs import FINAL_DATA, LOG_NAME, NO_RESTART_MESSAGE, STDOUT_NAME, read_data
from aiida_cgmob.lammps.outputs import LammpsLog, production_thermo, thermo_averages
from aiida_cgmob.parsers.base import CgmobParser, json_clean, log_tail

__all__ = ['LammpsCgParser']

#: at most this many distinct LAMMPS warnings are stored (the count covers all)
MAX_WARNINGS = 10


def thermo_node(report: dict) -> orm.Dict:
    """Return the report as a Dict; NaN (e.g. no block error of a short run) stored as None (JSON has no NaN)."""
    return orm.Dict(json_clean(report))


class LammpsCgParser(CgmobParser):
    """The log decides: an ERROR line, an unfinished run, or a finished one whose outputs are read."""

    def parse(self, **kwargs):
        """Thermodynamic averages, final configuration and descriptors; the LAMMPS failure's exit code."""
        text = self._read(LOG_NAME)
        if text is None:
            if self.killed_by_scheduler:  # the continuation finds no restart file (405) and starts again
                return self.exit_codes.ERROR_OUT_OF_WALLTIME.format(
                    message='the scheduler stopped the job at its wall time before LAMMPS wrote its log')
            if self._read(FINAL_DATA) is not None:  # written at the end of the run: the log was lost afterwards
                return self.exit_codes.ERROR_OUTPUT_MISSING.format(
                    message=f'the log {LOG_NAME}: LAMMPS ran to the end (it wrote {FINAL_DATA}) but its log was not '
                            f'retrieved (deleted, or a full or failing file system)')
            return self.exit_codes.ERROR_NO_OUTPUT.format(
                message=f'LAMMPS wrote no log: it did not start. Its output: {log_tail(self._read(STDOUT_NAME) or "")}')
        log = parse_log(text)
        settings = validate_settings(self.node.inputs.settings.get_dict() if 'settings' in self.node.inputs else None)
        n_equil, n_total = total_steps(settings)
        report = self._report(log, settings, n_total)

        if log.error:
            report.update(status='failed', error=log.error)
            self.out('thermo', thermo_node(report))
            self.logger.error(f'LAMMPS failed: {log.error}')
            if NO_RESTART_MESSAGE in log.error:
                return self.exit_codes.ERROR_NO_RESTART_FILE.format(message=log.error)
            if log.unstable:
                return self.exit_codes.ERROR_UNSTABLE_INTEGRATION.format(
                    message=f'after step {log.last_step or 0}: {log.error}')
            return self.exit_codes.ERROR_ENGINE.format(message=f'LAMMPS: {log.error}')

        last = log.last_step or 0
        if not log.completed or log.timed_out or last < n_total:
            if log.timed_out:
                # it writes final.restart then, unless the job is killed first: the continuation takes the newest
                reason = 'it reached its wall-time limit (timer timeout)'
            else:
                reason = 'the job ended before LAMMPS finished (killed: no ERROR line, no final restart file)'
            report.update(status='interrupted', reason=reason)
            self.out('thermo', thermo_node(report))
            return self.exit_codes.ERROR_OUT_OF_WALLTIME.format(
                message=f'LAMMPS stopped at step {last} of {n_total}: {reason}')

        series = production_thermo(self._earlier_logs() + [log], n_equil)
        if not series:
            return self.exit_codes.ERROR_OUTPUT_MISSING.format(
                message='the log holds no thermodynamic output of the production')
        averages = thermo_averages(series)
        report.update(averages)
        # LAMMPS' Time column is in fs (units real)
        report['sampled_ps'] = [float(series['Time'][0]) / 1000.0, float(series['Time'][-1]) / 1000.0] \
            if 'Time' in series else None

        data = self._read(FINAL_DATA)
        if data is None:
            return self.exit_codes.ERROR_OUTPUT_MISSING.format(message=f'the final configuration {FINAL_DATA}')
        try:
            with tempfile.TemporaryDirectory() as directory:
                path = Path(directory) / FINAL_DATA
                path.write_text(data)
                configuration, _ = read_data(path)
        except (LammpsInputError, ValueError, IndexError) as exception:
            return self.exit_codes.ERROR_OUTPUT_UNREADABLE.format(
                message=f'the final configuration {FINAL_DATA}: {exception}')
        report['n_beads'] = configuration.n_beads
        if 'potential_energy_kJ_mol' in averages:
            report['potential_energy_per_bead_kJ_mol'] = averages['potential_energy_kJ_mol'] / configuration.n_beads
        report['status'] = 'finished'
        self.out('thermo', thermo_node(report))
        self.out('final_configuration', configuration_node(configuration))

        if self.descriptors_requested:
            return self.attach_descriptors()
        return None

    def _report(self, log: LammpsLog, settings: dict, n_total: int) -> dict:
        """Return what every outcome reports: the run's plan, how far it got, its speed and its warnings."""
        warnings = Counter(warning.strip() for warning in log.warnings)
        report = {
            'ensemble': settings['ensemble'],
            'temperature_target_K': settings['temperature'],
            'timestep_ps': settings['timestep'],
            'equilibration_ps': settings['equilibration'],
            'production_ps': settings['production'],
            'bead_mass_g_mol': self.node.inputs.mass.value,
            'last_step': log.last_step,
            'total_steps': n_total,
            'ns_per_day': log.performance_ns_day[-1] if log.performance_ns_day else None,
            'wall_time_s': log.wall_seconds,
            'n_warnings': len(log.warnings),
            'warnings': [f'{text} (x{count})' if count > 1 else text
                         for text, count in warnings.most_common(MAX_WARNINGS)],
            'n_segments': 1 + (len(self._chain()) if 'parent_folder' in self.node.inputs else 0),
        }
        if settings['ensemble'] == 'npt':
            report['pressure_target_bar'] = settings['pressure']
        return report

    def _chain(self) -> list[orm.CalcJobNode]:
        if 'parent_folder' not in self.node.inputs:
            return []
        try:
            return continuation_chain(self.node.inputs.parent_folder, self.node.process_type)
        except ValueError:
            return []

    def _earlier_logs(self) -> list[LammpsLog]:
        """Return the logs of the interrupted runs this one continues, oldest first (their production counts too)."""
        texts = (retrieved_text(calculation, LOG_NAME) for calculation in self._chain())
        return [parse_log(text) for text in texts if text is not None]
