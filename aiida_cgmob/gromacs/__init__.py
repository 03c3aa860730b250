"""Science kernel for GROMACS runs: stage definitions, .mdp files and output reading (no AiiDA)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from .mdp import MD_INTEGRATORS, STAGE_TYPES, StageError, largest_cutoff, stage_mdp, validate_stages, write_mdp

__all__ = ['MD_INTEGRATORS', 'STAGE_TYPES', 'StageError', 'grompp_arguments', 'largest_cutoff', 'plan_stages',
           'run_stages', 'stage_mdp', 'validate_stages', 'write_mdp']


def plan_stages(stages: list[dict], input_structure: str = 'conf.gro') -> list[dict]:
    """Chain validated stages: each starts from the previous one's coordinates (and velocities).

    Returns one dict per stage with ``name``, ``type``, ``mdp`` (complete), ``coordinates`` (the .gro
    to start from) and ``checkpoint`` (the .cpt carrying velocities, or None).  An MD stage that
    follows a minimisation (or starts the chain) generates velocities unless told otherwise.
    """
    planned = []
    previous = None
    for stage in validate_stages(stages):
        mdp = stage_mdp(stage)
        fresh = previous is None or previous['type'] == 'minimise'
        if mdp.get('integrator') in MD_INTEGRATORS:
            # Velocities: generated after a minimisation, carried over (grompp -t) after MD.
            defaults = {'gen-vel': 'yes', 'continuation': 'no'} if fresh else {'gen-vel': 'no', 'continuation': 'yes'}
            for key, value in defaults.items():
                if key not in stage['mdp']:
                    mdp[key] = value
            if fresh:
                mdp.setdefault('gen-temp', mdp.get('ref-t', 298.15))
                mdp.setdefault('gen-seed', 1)
        planned.append({
            'name': stage['name'],
            'type': stage['type'],
            'mdp': mdp,
            'coordinates': f'{previous["name"]}.gro' if previous else input_structure,
            'checkpoint': None if fresh else f'{previous["name"]}.cpt',
        })
        previous = stage
    return planned


def grompp_arguments(stage: dict, topology: str = 'topol.top', maxwarn: int = 0) -> list[str]:
    """``gmx grompp`` arguments of a planned stage (see :func:`plan_stages`)."""
    name = stage['name']
    arguments = ['grompp', '-f', f'{name}.mdp', '-c', stage['coordinates'], '-p', topology, '-o', f'{name}.tpr',
                 '-po', f'{name}_mdout.mdp', '-maxwarn', str(maxwarn)]
    if stage['checkpoint']:
        arguments += ['-t', stage['checkpoint']]
    return arguments


def run_stages(directory: str | Path, stages: list[dict], gmx: str = 'gmx', threads: int = 1,
               topology: str = 'topol.top', after_stage: Callable[[str], None] | None = None) -> None:
    """Run stages with a local ``gmx`` in ``directory`` (which holds conf.gro and the topology), no AiiDA.

    For tests, benchmarks and notebooks; the ``cgmob.gromacs`` CalcJob is the way with restarts and
    provenance.  Raises RuntimeError with the end of gmx's output when a command fails.
    """
    directory = Path(directory)
    for stage in plan_stages(stages):
        name = stage['name']
        (directory / f'{name}.mdp').write_text(write_mdp(stage['mdp']))
        for arguments in (grompp_arguments(stage, topology),
                          ['mdrun', '-deffnm', name, '-ntmpi', '1', '-ntomp', str(threads)]):
            process = subprocess.run([gmx, '-nobackup', '-quiet', *arguments], cwd=directory, capture_output=True,
                                     text=True)
            if process.returncode:
                raise RuntimeError(f'gmx {arguments[0]} ({name}) failed in {directory}:\n{process.stderr[-3000:]}')
        if after_stage is not None:
            after_stage(name)
