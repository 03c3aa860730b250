"""Step control of the inversion loop: when to stop, and which update to take next (no AiiDA, no LAMMPS).

Pure functions of the loop's ``state`` (the checkpoint dictionary of :mod:`aiida_cgmob.ibi.driver`:
``records`` with each iteration's ``rms``, ``best``, counters) and the validated settings, so the rules
can be read and tested apart from the MD.  ``fixed`` control takes every update from the last iteration
with the step ``alpha``; ``adaptive`` control (the default) damps, back-tracks, falls back and stops:

* after an iteration worse than the one before, the next step is halved (down to ``alpha_min``); after an
  improvement it grows by 1.5 again (up to ``alpha``);
* after an iteration ``backtrack_factor`` times worse than the best, the next update starts again from the
  best iteration, with half the step;
* ``stall_iterations`` iterations without a best :data:`STALL_MARGIN` lower switch once to
  ``fallback_method`` (from the best iteration, full step) and, the second time, end the loop as
  ``stalled`` with the best potential as its result.
"""

from __future__ import annotations

import numpy as np

__all__ = ['STALL_MARGIN', 'STEP_CONTROLS', 'assess', 'next_step']

STEP_CONTROLS = ('adaptive', 'fixed')
#: an iteration is a new best (for the stall count) when its RMS is below (1 - this) x the best so far
STALL_MARGIN = 0.02


def assess(state: dict, settings: dict) -> tuple[str | None, str, str]:
    """Judge the iteration just appended to ``state['records']``.

    Updates ``best``, the divergence count ``rising``, the stall count ``since_best`` and, at the first
    stall, the method (``fallback_iteration`` records when).

    Returns
    -------
    tuple
        (status, message, note): status ``converged``, ``diverged`` or ``stalled`` when the loop ends, else
        None; ``note`` is a line for the log when the loop falls back ('' otherwise).
    """
    s, records = settings, state['records']
    record, previous_best = records[-1], state['best']
    if not np.isfinite(record['rms']):
        return 'diverged', f'iteration {record["iteration"]}: RMS(g - g_target) is not finite', ''
    if previous_best is None or record['rms'] < records[previous_best]['rms']:
        state['best'] = len(records) - 1
    new_best = previous_best is None or record['rms'] < (1 - STALL_MARGIN) * records[previous_best]['rms']
    state['since_best'] = 0 if new_best else state.get('since_best', 0) + 1
    best = records[state['best']]
    state['rising'] = state['rising'] + 1 if record['rms'] > max(s['divergence_factor'] * best['rms'], 0.05) else 0
    if record['rms'] < s['tolerance']:
        return 'converged', (f'RMS(g - g_target) = {record["rms"]:.4g} < {s["tolerance"]:g} at iteration '
                             f'{record["iteration"]}'), ''
    if state['rising'] >= 2:
        return 'diverged', (f'RMS(g - g_target) = {record["rms"]:.4g} at iteration {record["iteration"]}, more '
                            f'than {s["divergence_factor"]:g} x the best {best["rms"]:.4g} twice in a row'), ''
    if s['step_control'] != 'adaptive' or state['since_best'] < s['stall_iterations']:
        return None, '', ''
    method = state.get('method', s['method'])
    if s['fallback_method'] is not None and method != s['fallback_method'] and 'fallback_iteration' not in state:
        state.update(method=s['fallback_method'], alpha=s['alpha'], since_best=0, from_best=True,
                     fallback_iteration=record['iteration'])
        return None, '', (f'# stalled: no new best for {s["stall_iterations"]} iterations (best {best["rms"]:.4g} at '
                          f'iteration {best["iteration"]}); continuing with {s["fallback_method"]} from the best '
                          'potential')
    fell_back = f', also after falling back to {method}' if 'fallback_iteration' in state else ''
    noise = best.get('g_error_rms', float('nan'))
    noise = f'; the g(r) of one iteration is itself uncertain by {noise:.2g} (RMS)' if np.isfinite(noise) else ''
    return 'stalled', (f'RMS(g - g_target) stalled at {best["rms"]:.4g} (iteration {best["iteration"]}, tolerance '
                       f'{s["tolerance"]:g}): no iteration improved on it by {STALL_MARGIN:.0%} in the last '
                       f'{s["stall_iterations"]}{fell_back}{noise}; the best potential is the result'), ''


def next_step(state: dict, settings: dict) -> tuple[int, str, float]:
    """Choose the next update: (index of the record it starts from, method, step alpha).

    Stores the method and step in ``state`` (the next call starts from them) and, as ``next_step``, in the
    last record (the history shows it).
    """
    s, records = settings, state['records']
    last = len(records) - 1
    method, alpha, base = state.get('method', s['method']), state.get('alpha', s['alpha']), last
    if s['step_control'] == 'adaptive' and last > 0:
        if state.pop('from_best', False):
            base = state['best']
        elif records[last]['rms'] > s['backtrack_factor'] * records[state['best']]['rms']:
            base, alpha = state['best'], max(alpha / 2, s['alpha_min'])
        elif records[last]['rms'] > records[last - 1]['rms']:
            alpha = max(alpha / 2, s['alpha_min'])
        else:
            alpha = min(alpha * 1.5, s['alpha'])
    state['method'], state['alpha'] = method, alpha
    records[last]['next_step'] = {'method': method, 'alpha': alpha, 'from_iteration': records[base]['iteration']}
    return base, method, alpha
