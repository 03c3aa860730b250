"""Benchmark: liquid densities of unperturbed OPLS-AA against experiment.

For each molecule (default 3MePe, 234TriMePe, EtBz) build N molecules at a loose starting density and
run the ``cgmob.gromacs.base`` restart chain: minimise -> NVT -> NPT equilibration -> NPT production
at T and p; then compare the production density with the experimental one stored with the built-in
molecule.  Runs in an isolated AiiDA profile in benchmarks/results/aiida; the table is printed and
written to benchmarks/results/aa_density.txt.  Always exits 0 (a benchmark, not a test): failures are
marked FAILED in the table.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

NAME = 'aa_density'
MOLECULES = ('3MePe', '234TriMePe', 'EtBz')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--molecules', nargs='+', default=list(MOLECULES), metavar='NAME',
                        help='built-in molecules with an experimental density (default: %(default)s)')
    parser.add_argument('-n', '--n-molecules', type=int, default=200, help='molecules per box (default: %(default)s)')
    _common.add_run_arguments(parser, 20.0, 200.0, 150.0, 3600)
    parser.add_argument('--tolerance', type=float, default=3.0,
                        help='accepted |deviation| from experiment, %% (default: %(default)s)')
    parser.add_argument('--seed', type=int, default=0, help='packing seed (default: %(default)s)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    total = _common.Stopwatch()
    code = _common.load_bench_profile()

    from aiida_cgmob.topology import BUILTIN_MOLECULES

    stages, options = _common.stages_and_options(args)
    header = (f'aa_density: unperturbed OPLS-AA, {args.n_molecules} molecules, {args.temperature} K, '
              f'{args.pressure} bar, {args.threads} threads; stages: minimise, {args.nvt_ps:g} ps NVT, '
              f'{args.npt_ps:g} ps NPT, {args.production_ps:g} ps NPT production (dt {_common.DEFAULT_DT} ps)')
    print(header, flush=True)

    rows, notes, failures = [], [], 0
    for molecule in args.molecules:
        experiment = BUILTIN_MOLECULES[molecule].density if molecule in BUILTIN_MOLECULES else None
        print(f'\n== {molecule}: started {time.strftime("%H:%M:%S")}', flush=True)
        watch = _common.Stopwatch()
        try:
            node = _common.launch(code, molecule, args.n_molecules, stages, options, seed=args.seed,
                                  temperature=args.temperature, pressure=args.pressure,
                                  label=f'aa_density {molecule} x{args.n_molecules}')
        except Exception:  # noqa: BLE001 - a benchmark reports and goes on
            failures += 1
            tb = traceback.format_exc()
            print(tb, flush=True)
            rows.append([molecule, 'CRASH', '-', _fmt(experiment, '.0f'), '-', 'FAILED', '-', '-',
                         _common.hms(watch.elapsed), '-'])
            notes.append(f'{molecule}: exception while launching/running:\n{tb}')
            continue
        wall = watch.elapsed
        params = node.outputs.output_parameters.get_dict() if 'output_parameters' in node.outputs else {}
        n_calcs = len(_common.calculations(node))
        status = 'ok' if node.is_finished_ok else f'FAILED {node.exit_status}'
        print(f'   {node.process_label}<{node.pk}> {node.process_state.value} exit {node.exit_status} '
              f'{node.exit_message or ""} after {wall:.0f} s', flush=True)
        density, error = params.get('density'), params.get('density_error')
        if node.is_finished_ok and density is not None:
            deviation = (density - experiment) / experiment * 100 if experiment else None
            within = ('yes' if abs(deviation) <= args.tolerance else 'no') if deviation is not None else '-'
            rows.append([molecule, status, f'{density:.1f} +- {error:.1f}', _fmt(experiment, '.0f'),
                         _fmt(deviation, '+.2f'), within, _fmt(params.get('ns_per_day'), '.1f'), str(n_calcs),
                         _common.hms(wall), str(node.pk)])
        else:
            failures += 1
            calcs = _common.calculations(node)
            last = calcs[-1] if calcs else None
            if last is not None and 'output_parameters' in last.outputs:
                params = {**last.outputs.output_parameters.get_dict(), **params}
            rows.append([molecule, status, '-', _fmt(experiment, '.0f'), '-', 'FAILED',
                         _fmt(params.get('ns_per_day'), '.1f'), str(n_calcs), _common.hms(wall), str(node.pk)])
            notes.append(f'{molecule}: {node.process_label}<{node.pk}> exit {node.exit_status}: {node.exit_message}'
                         f' (failed stage: {params.get("failed_stage")})')

    table = _common.format_table(
        ['molecule', 'status', 'density kg/m^3', 'exp.', 'dev. %', f'within {args.tolerance:g}%', 'prod ns/day',
         'calcs', 'wall', 'pk'],
        rows, align='llrrrlrrrr')
    ok = sum(1 for r in rows if r[5] == 'yes')
    lines = [header, '', table, '',
             f'{ok} of {len(rows)} within {args.tolerance:g}% of experiment; {failures} failed; '
             f'total wall time {_common.hms(total.elapsed)}',
             'density +- standard error of 5 block averages over production; dev. = (sim - exp) / exp']
    if notes:
        lines += ['', 'Failures:'] + [f'  {note}' for note in notes]
    return _common.report(NAME, lines)


def _fmt(value, spec: str) -> str:
    return '-' if value is None else format(value, spec)


if __name__ == '__main__':
    sys.exit(main())
