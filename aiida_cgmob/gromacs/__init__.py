"""Science kernel for GROMACS runs: stage definitions, .mdp files and output reading (no AiiDA)."""

from __future__ import annotations

from .mdp import MD_INTEGRATORS, STAGE_TYPES, StageError, stage_mdp, validate_stages, write_mdp

__all__ = ['MD_INTEGRATORS', 'STAGE_TYPES', 'StageError', 'plan_stages', 'stage_mdp', 'validate_stages', 'write_mdp']


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
