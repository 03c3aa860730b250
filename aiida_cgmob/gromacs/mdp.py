"""GROMACS run stages: validated .mdp parameters with sane defaults for OPLS-AA hydrocarbon liquids.

A *stage* is ``{'name': str, 'type': 'minimise' | 'nvt' | 'npt', 'mdp': {key: value}}``.  The
``mdp`` entries override the defaults of the stage type.  Units are those of GROMACS: ps, K, bar,
nm, kJ/mol.  Keys are normalised to lower case with dashes (``ref_t`` == ``ref-t``).
"""

from __future__ import annotations

import math
import re

__all__ = ['MD_INTEGRATORS', 'STAGE_TYPES', 'StageError', 'largest_cutoff', 'stage_mdp', 'validate_stages',
           'write_mdp']


class StageError(ValueError):
    """A stage definition is invalid; the message names the stage, the field and the value."""


_COMMON = {
    'cutoff-scheme': 'Verlet',
    'nstlist': 20,
    'pbc': 'xyz',
    'coulombtype': 'PME',
    'rcoulomb': 1.1,
    'vdwtype': 'Cut-off',
    'vdw-modifier': 'Potential-shift',
    'rvdw': 1.1,
    'DispCorr': 'EnerPres',  # long-range dispersion correction: needed for liquid densities
    'fourierspacing': 0.12,
}

_MD = {
    'integrator': 'md',
    'dt': 0.002,
    'nsteps': 50000,
    'constraints': 'h-bonds',
    'constraint-algorithm': 'LINCS',
    'tcoupl': 'V-rescale',
    'tc-grps': 'System',
    'tau-t': 0.1,
    'ref-t': 298.15,
    'nstcalcenergy': 100,
    'nstenergy': 500,
    'nstlog': 5000,
    'nstxout-compressed': 0,
    'comm-mode': 'Linear',
}

STAGE_TYPES: dict[str, dict] = {
    # No constraints while minimising: synthetic bond lengths can be far from the built geometry.
    'minimise': {'integrator': 'steep', 'nsteps': 5000, 'emtol': 500.0, 'emstep': 0.001, 'constraints': 'none',
                 'nstenergy': 500, 'nstlog': 500},
    'nvt': {**_MD, 'pcoupl': 'no', 'gen-vel': 'yes', 'gen-temp': 298.15, 'gen-seed': 1, 'continuation': 'no'},
    'npt': {**_MD, 'pcoupl': 'C-rescale', 'pcoupltype': 'isotropic', 'tau-p': 2.0, 'ref-p': 1.0,
            'compressibility': 1.0e-4, 'gen-vel': 'no', 'continuation': 'yes'},
}

#: Integrators that propagate dynamics (time step, velocities); the others minimise.
MD_INTEGRATORS = ('md', 'md-vv', 'md-vv-avek', 'sd', 'bd')
#: The smallest all-atom time step (ps) worth trying when integration is unstable (8x below the usual 2 fs).
MINIMUM_TIMESTEP = 0.00025

_POSITIVE = ('dt', 'ref-t', 'tau-t', 'tau-p', 'compressibility', 'rcoulomb', 'rvdw', 'emstep', 'gen-temp')
_INTEGER = ('nsteps', 'nstcalcenergy', 'nstenergy', 'nstlog', 'nstxout-compressed', 'nstlist', 'gen-seed')
_NAME = re.compile(r'^[A-Za-z][A-Za-z0-9_]{0,31}$')


def _key(key: str) -> str:
    key = str(key).strip().replace('_', '-')
    return 'DispCorr' if key.lower() == 'dispcorr' else key.lower()


def stage_mdp(stage: dict) -> dict:
    """Return the full mdp dictionary of one (validated) stage: defaults overlaid by the stage's entries."""
    mdp = {**_COMMON, **STAGE_TYPES[stage['type']]}
    for key, value in (stage.get('mdp') or {}).items():
        mdp[_key(key)] = value
    if mdp.get('integrator') in MD_INTEGRATORS and 'gen-temp' in mdp and 'gen-temp' not in {
        _key(k) for k in (stage.get('mdp') or {})
    }:
        mdp['gen-temp'] = mdp['ref-t']
    return mdp


def largest_cutoff(stages: list[dict] | None = None) -> float:
    """Largest non-bonded cut-off (nm) of a list of stages: the one the box must be twice as long as.

    Parameters
    ----------
    stages
        Stage definitions as :func:`validate_stages` takes them; None means the defaults of every
        stage type (``rvdw`` = ``rcoulomb`` = 1.1 nm).

    Returns
    -------
    float
        max(rvdw, rcoulomb) over all stages, nm.  ``rlist`` is left out: with the Verlet scheme grompp
        sets it from the buffer tolerance (a few hundredths of a nm above the cut-off for these liquids).
    """
    if stages is None:
        stages = [{'name': kind, 'type': kind} for kind in STAGE_TYPES]
    return max(float(stage_mdp(stage)[key]) for stage in validate_stages(stages) for key in ('rvdw', 'rcoulomb'))


def validate_stages(stages) -> list[dict]:
    """Check a list of stages and return them normalised; raise :class:`StageError` naming what is wrong."""
    if not isinstance(stages, (list, tuple)) or not stages:
        raise StageError(f'stages must be a non-empty list, got {stages!r}')
    normalised = []
    seen = set()
    for index, stage in enumerate(stages):
        if not isinstance(stage, dict):
            raise StageError(f'stage {index} must be a dict with name, type and mdp, got {stage!r}')
        unknown = set(stage) - {'name', 'type', 'mdp'}
        if unknown:
            raise StageError(f'stage {index}: unknown field(s) {sorted(unknown)}; allowed: name, type, mdp')
        name = stage.get('name')
        if not isinstance(name, str) or not _NAME.match(name):
            raise StageError(f'stage {index}: name {name!r} must start with a letter and hold only letters, '
                             'digits and underscores (it becomes a file name)')
        if name in seen:
            raise StageError(f'stage {index}: name {name!r} is used twice')
        seen.add(name)
        if stage.get('type') not in STAGE_TYPES:
            raise StageError(f'stage {name!r}: type {stage.get("type")!r} is not one of {sorted(STAGE_TYPES)}')
        overrides = stage.get('mdp') or {}
        if not isinstance(overrides, dict):
            raise StageError(f'stage {name!r}: mdp must be a dict, got {overrides!r}')
        normalised.append({'name': name, 'type': stage['type'], 'mdp': {_key(k): v for k, v in overrides.items()}})
        _check_mdp(name, stage_mdp(normalised[-1]))
    if normalised[-1]['type'] == 'minimise':
        raise StageError(f'the last stage ({normalised[-1]["name"]!r}) is the production stage and must be nvt or npt')
    return normalised


def _check_mdp(name: str, mdp: dict) -> None:
    for key in _POSITIVE:
        if key in mdp:
            value = mdp[key]
            try:
                ok = math.isfinite(float(value)) and float(value) > 0
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise StageError(f'stage {name!r}: {key} must be a positive number, got {value!r}')
    for key in _INTEGER:
        if key in mdp:
            value = mdp[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < (-1 if key == 'nsteps' else 0):
                raise StageError(f'stage {name!r}: {key} must be a non-negative integer, got {value!r}')
    if mdp.get('integrator') in MD_INTEGRATORS:
        if float(mdp.get('dt', 0.001)) > 0.02:
            raise StageError(f'stage {name!r}: dt = {mdp["dt"]} ps is far beyond any all-atom time step '
                             '(at most 0.02 ps is accepted; 0.002 ps is usual with h-bond constraints)')
        if mdp.get('nsteps') == -1:
            raise StageError(f'stage {name!r}: nsteps = -1 (run forever) cannot finish a calculation')
        calc, energy = mdp.get('nstcalcenergy', 100), mdp.get('nstenergy', 0)
        if energy and calc and energy % calc:
            raise StageError(f'stage {name!r}: nstenergy ({energy}) must be a multiple of nstcalcenergy ({calc}); '
                             'grompp refuses otherwise')
    if mdp.get('rvdw') is not None and mdp.get('rcoulomb') is not None and mdp.get('coulombtype') == 'PME':
        if float(mdp['rvdw']) > float(mdp['rcoulomb']):
            raise StageError(f'stage {name!r}: with PME, rvdw ({mdp["rvdw"]}) may not exceed rcoulomb '
                             f'({mdp["rcoulomb"]})')


def write_mdp(mdp: dict) -> str:
    """Render an mdp dictionary as the text of a .mdp file."""
    def render(value):
        if isinstance(value, bool):
            return 'yes' if value else 'no'
        if isinstance(value, (list, tuple)):
            return ' '.join(render(v) for v in value)
        return str(value)

    return ''.join(f'{key:<24s} = {render(value)}\n' for key, value in mdp.items())
