"""Parser of ``cgmob.gromacs``: per-stage status, production averages, final structure, engine errors."""

from __future__ import annotations

import numpy as np
from aiida import orm

from aiida_cgmob.gromacs import plan_stages
from aiida_cgmob.gromacs.outputs import (
    block_average,
    fatal_error,
    gro_box,
    grompp_errors,
    grompp_warnings,
    mdrun_status,
    read_xvg,
    topology_mass,
)
from aiida_cgmob.parsers.base import CgmobParser, json_clean
from aiida_cgmob.units import AVOGADRO

__all__ = ['GromacsParser']

#: xvg legend -> (output name, unit)
ENERGY_COLUMNS = {
    'Potential': ('potential_energy', 'kJ/mol'),
    'Temperature': ('temperature', 'K'),
    'Pressure': ('pressure', 'bar'),
    'Density': ('density', 'kg/m^3'),
}


class GromacsParser(CgmobParser):
    """Walk the stages in order; the first one that failed decides the exit code."""

    def parse(self, **kwargs):
        """Per-stage status, production averages and time series, descriptors; the first failure's exit code."""
        stages = plan_stages(self.node.inputs.parameters.get_dict()['stages'])
        report: dict = {'stages': [], 'units': {name: unit for name, unit in ENERGY_COLUMNS.values()}}
        report['units'].update({'ns_per_day': 'ns/day', 'production_time': 'ps'})
        failure = None
        for stage in stages:
            failure = self._parse_stage(stage, report)
            if failure is not None:
                break

        if failure is None:
            failure = self._parse_production(stages[-1], report)
        if failure is None and self.descriptors_requested:
            failure = self.attach_descriptors(report=report)
        self.out('output_parameters', orm.Dict(json_clean(report)))  # NaN: too short to say
        return failure

    def _parse_stage(self, stage: dict, report: dict):
        name = stage['name']
        exit_codes = self.exit_codes
        grompp_log = self._read(f'{name}_grompp.log')
        mdrun_out = self._read(f'{name}_mdrun.log') or ''
        log = self._read(f'{name}.log') or ''
        entry = {'name': name, 'type': stage['type'], 'status': 'not reached'}
        report['stages'].append(entry)
        if grompp_log is None and not mdrun_out and not log:
            report['failed_stage'] = name
            if self.killed_by_scheduler:
                return exit_codes.ERROR_OUT_OF_WALLTIME.format(
                    message=f'the scheduler stopped the job at its wall time before stage {name!r} ran')
            return exit_codes.ERROR_STAGE_NOT_REACHED.format(message=f'stage {name!r} left no output')
        if grompp_log is not None:
            warnings = grompp_warnings(grompp_log)
            if warnings:
                entry['grompp_warnings'] = warnings
            error = fatal_error(grompp_log)
            causes = grompp_errors(grompp_log)
            if error and causes:
                error = f'{" | ".join(causes)} ({error})'
            if error:
                entry['status'] = 'grompp failed'
                entry['error'] = error
                report['failed_stage'] = name
                detail = error + (f' Warnings: {" | ".join(warnings)}' if warnings else '')
                self.logger.error(f'grompp failed in stage {name}: {detail}')
                return exit_codes.ERROR_INPUT_REFUSED.format(message=f'grompp refused stage {name!r}: {detail}')
        status = mdrun_status(log, mdrun_out)
        entry.update({'last_step': status.last_step, 'ns_per_day': status.ns_per_day})
        if status.error:
            entry['status'] = 'unstable' if status.unstable else 'mdrun failed'
            entry['error'] = status.error
            report['failed_stage'] = name
            self.logger.error(f'mdrun failed in stage {name}: {status.error}')
            if status.unstable:
                return exit_codes.ERROR_UNSTABLE_INTEGRATION.format(message=f'stage {name!r}: {status.error}')
            return exit_codes.ERROR_ENGINE.format(message=f'mdrun failed in stage {name!r}: {status.error}')
        if not status.finished:
            entry['status'] = 'interrupted'
            report['failed_stage'] = name
            return exit_codes.ERROR_OUT_OF_WALLTIME.format(
                message=f'stage {name!r} stopped at step {status.last_step}')
        entry['status'] = 'finished'
        return None

    def _parse_production(self, stage: dict, report: dict):
        name = stage['name']
        gro = self._read(f'{name}.gro')
        if gro is None:
            return self.exit_codes.ERROR_OUTPUT_MISSING.format(message=f'the final structure {name}.gro of production')
        try:
            data, legends = read_xvg(self._read('energy.xvg') or '')
            if data.shape[0] == 0:
                raise ValueError('energy.xvg holds no frames')
        except ValueError as exception:
            energy_log = self._read('energy.log') or ''
            error = fatal_error(energy_log) or str(exception)
            return self.exit_codes.ERROR_OUTPUT_MISSING.format(message=f'the energy time series of production: {error}')

        series = {'time': data[:, 0]}
        for column, legend in enumerate(legends, start=1):
            if legend in ENERGY_COLUMNS:
                series[ENERGY_COLUMNS[legend][0]] = data[:, column]
        if 'density' not in series:  # constant volume: density from the box and the topology
            mass_kg = topology_mass(self.node.inputs.topology.get_content()) * 1e-3 / AVOGADRO
            volume_m3 = float(np.prod(gro_box(gro))) * 1e-27
            series['density'] = np.full_like(series['time'], mass_kg / volume_m3)
            report['density_from'] = 'box volume (constant-volume production)'
        for key in ('potential_energy', 'temperature', 'pressure', 'density'):
            if key in series:
                mean, error = block_average(series[key])
                report[key], report[f'{key}_error'] = mean, error
        report['error_estimate'] = 'standard error from 5 contiguous block averages over the production stage'
        report['production_time'] = float(series['time'][-1] - series['time'][0])
        report['n_frames'] = int(series['time'].size)
        report['n_atoms'] = int(gro.splitlines()[1])
        report['ns_per_day'] = report['stages'][-1].get('ns_per_day')

        energy = orm.ArrayData()
        for key, values in series.items():
            energy.set_array(key, np.asarray(values, dtype=float))
        energy.base.attributes.set('units', {'time': 'ps', **{v[0]: v[1] for v in ENERGY_COLUMNS.values()}})
        self.out('energy', energy)
        self.out('structure', orm.SinglefileData.from_string(gro, filename=f'{name}.gro'))
        return None
