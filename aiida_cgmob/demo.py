"""The end-to-end demo behind ``make demo`` / ``aiida-cgmob demo`` (run with the isolated profile loaded).

Builds a pristine OPLS-AA liquid and a synthetic one (sampled bonded parameters), runs both through
``cgmob.gromacs.base`` with the ``fast`` protocol, and prints results and provenance.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--profile', required=True)
    parser.add_argument('--molecule', default='3MePe')
    parser.add_argument('--n-molecules', type=int, default=100)
    parser.add_argument('--sample-seed', type=int, default=7)
    args = parser.parse_args(argv)

    from aiida import load_profile, orm

    load_profile(args.profile)
    from aiida_cgmob.cli.cmd_aa import launch_aa, summarise
    from aiida_cgmob.cli.cmd_descriptors import descriptor_outputs_of, plot_descriptor_outputs

    code = orm.load_code('gmx@localhost')
    descriptors_code = orm.load_code('cgmob-descriptors@localhost')
    # 100 ps of 100 molecules is too noisy for the automatic diffusion window (it is refused about half
    # the time, rightly); the demo fixes the window inside the diffusive regime of these liquids instead.
    descriptor_settings = {'fit_window': [5.0, 50.0]}
    options = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 2}, 'max_wallclock_seconds': 3600}
    pristine_ok = True
    for label, seed in (('pristine OPLS-AA', None), (f'synthetic, sample seed {args.sample_seed}', args.sample_seed)):
        print(f'\n== {args.molecule} x{args.n_molecules}, {label}: minimise -> NVT -> NPT -> NPT production '
              '(protocol fast) ==', flush=True)
        start = time.time()
        node = launch_aa(code, args.molecule, args.n_molecules, 'fast', sample_seed=seed, options=options,
                         descriptors_code=descriptors_code, descriptor_settings=descriptor_settings)
        print(summarise(node))
        if 'descriptors' in node.outputs:
            figure = plot_descriptor_outputs(Path(os.environ.get('AIIDA_PATH', '.')) / f'descriptors_{node.pk}.png',
                                             descriptor_outputs_of(node), title=f'{node.label} <{node.pk}>')
            print(f'  g(r) and MSD(t) plotted in {figure} (`aiida-cgmob descriptors show {node.pk} --plot F`)')
        print(f'  wall time {time.time() - start:.0f} s; `verdi process report {node.pk}` shows the steps')
        if seed is None:
            pristine_ok = node.is_finished_ok
        elif not node.is_finished_ok:
            print('  (a synthetic force field may be unphysical: the chain reports why it stopped, as above)')
        if seed is not None:
            bonded = node.inputs.gromacs.bonded_parameters
            print(f'  provenance: seed {bonded.seed} -> {bonded.__class__.__name__}<{bonded.pk}> -> '
                  f'topology<{node.inputs.gromacs.topology.pk}> -> {node.process_label}<{node.pk}>')
    path = os.environ.get('AIIDA_PATH', '~')
    print(f'\nInspect with:  export AIIDA_PATH={path}; verdi -p {args.profile} process list -a')
    return 0 if pristine_ok else 1


if __name__ == '__main__':
    sys.exit(main())
