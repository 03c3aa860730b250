"""Benchmark: how often the restart chain gets a synthetic (randomly perturbed) molecule through.

For one molecule and a list of sampling seeds, draw bonded parameters from the (default: wide)
sampling ranges, build N molecules and run the ``cgmob.gromacs.base`` restart chain: minimise ->
NVT -> NPT -> NPT production.  Per seed: exit status, whether it finished, how many calculations
(restarts) the chain needed, the final time step, the density if it finished and, for failures, the
reason.  Runs in an isolated AiiDA profile in benchmarks/results/aiida; the table is printed and
written to benchmarks/results/synthetic_seeds.txt.  Always exits 0 (a benchmark, not a test).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

NAME = 'synthetic_seeds'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--molecule', default='3MePe', help='built-in name or SMILES (default: %(default)s)')
    parser.add_argument('--seeds', type=int, nargs='+', default=list(range(10)), metavar='SEED',
                        help='sampling seeds (default: 0 1 ... 9)')
    parser.add_argument('-n', '--n-molecules', type=int, default=100, help='molecules per box (default: %(default)s)')
    parser.add_argument('--ranges', type=Path, default=None,
                        help='JSON file of sampling ranges overriding the defaults (default: the wide defaults)')
    _common.add_run_arguments(parser, 10.0, 20.0, 20.0, 1800)
    parser.add_argument('--packing-seed', type=int, default=0, help='seed of the box packing (default: %(default)s)')
    return parser.parse_args(argv)


def _calc_label(status):
    from aiida_cgmob.calculations.gromacs import GromacsCalculation

    for code in GromacsCalculation.exit_codes.values():
        if code.status == status:
            return code.label
    return str(status)


def main(argv=None) -> int:
    args = parse_args(argv)
    total = _common.Stopwatch()
    ranges = json.loads(args.ranges.read_text()) if args.ranges else None
    code = _common.load_bench_profile()

    stages, options = _common.stages_and_options(args)
    header = (f'synthetic_seeds: {args.molecule} x{args.n_molecules}, sampling ranges '
              f'{"from " + str(args.ranges) if ranges else "default (wide)"}, seeds {args.seeds}, '
              f'{args.temperature} K, {args.pressure} bar, {args.threads} threads; stages: minimise, '
              f'{args.nvt_ps:g} ps NVT, {args.npt_ps:g} ps NPT, {args.production_ps:g} ps NPT production '
              f'(dt {_common.DEFAULT_DT} ps)')
    print(header, flush=True)

    rows, messages = [], []
    reasons = collections.Counter()
    finished = 0
    for seed in args.seeds:
        print(f'\n== seed {seed}: started {time.strftime("%H:%M:%S")}', flush=True)
        watch = _common.Stopwatch()
        try:
            node = _common.launch(code, args.molecule, args.n_molecules, stages, options, seed=args.packing_seed,
                                  sample_seed=seed, ranges=ranges, temperature=args.temperature,
                                  pressure=args.pressure, label=f'synthetic_seeds {args.molecule} seed {seed}')
        except Exception:  # noqa: BLE001 - a benchmark reports and goes on
            tb = traceback.format_exc()
            print(tb, flush=True)
            rows.append([seed, '-', 'CRASH', '-', '-', '-', '-', _common.hms(watch.elapsed), '-'])
            reasons['exception in the launch (see below)'] += 1
            messages.append(f'seed {seed}: exception:\n{tb}')
            continue
        wall = watch.elapsed
        calcs = _common.calculations(node)
        dt = _common.final_dt(node)
        params = node.outputs.output_parameters.get_dict() if 'output_parameters' in node.outputs else {}
        print(f'   {node.process_label}<{node.pk}> {node.process_state.value} exit {node.exit_status} '
              f'{node.exit_message or ""} after {wall:.0f} s', flush=True)
        calc_exits = ','.join(str(c.exit_status) for c in calcs)
        if node.is_finished_ok:
            finished += 1
            error = params.get('density_error')
            density = (f'{params["density"]:.1f} +- {error if error is not None else float("nan"):.1f}'
                       if 'density' in params else '?')
            rows.append([seed, node.exit_status, 'yes', len(calcs), calc_exits, _fmt_dt(dt), density,
                         _common.hms(wall), node.pk])
        else:
            last = calcs[-1] if calcs else None
            last_params = (last.outputs.output_parameters.get_dict()
                           if last is not None and 'output_parameters' in last.outputs else {})
            stage = last_params.get('failed_stage', '?')
            if last is None:
                reason = f'chain {node.exit_status}, no calculation ran'
            else:
                reason = (f'chain {node.exit_status} <- calc {last.exit_status} {_calc_label(last.exit_status)} '
                          f'in stage {stage}')
            reasons[reason] += 1
            rows.append([seed, node.exit_status, 'no', len(calcs), calc_exits, _fmt_dt(dt), '-',
                         _common.hms(wall), node.pk])
            messages.append(f'seed {seed}: {reason}\n    {node.exit_message}')

    table = _common.format_table(
        ['seed', 'exit', 'finished', 'calcs', 'calc exits', 'final dt ps', 'density kg/m^3', 'wall', 'pk'],
        rows, align='rrlrllrrr')
    lines = [header, '', table, '', f'{finished} of {len(args.seeds)} finished; '
             f'total wall time {_common.hms(total.elapsed)}']
    if reasons:
        lines += ['', 'Failure reasons:'] + [f'  {count} x {reason}' for reason, count in reasons.most_common()]
    if messages:
        lines += ['', 'Exit messages of the failures:'] + [f'  {m}' for m in messages]
    return _common.report(NAME, lines)


def _fmt_dt(dt):
    return '-' if dt is None else f'{dt:g}'


if __name__ == '__main__':
    sys.exit(main())
