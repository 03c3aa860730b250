"""Recovery of a profile after a daemon crash: ``aiida_cgmob.profile.seal_orphaned_processes``."""

from __future__ import annotations


def _process(cls, state, caller=None, label='CALL'):
    from aiida.common.links import LinkType
    from aiida.orm import WorkflowNode

    node = cls()
    if state is not None:
        node.set_process_state(state)
    if caller is not None:
        node.base.links.add_incoming(caller, LinkType.CALL_WORK if isinstance(node, WorkflowNode)
                                     else LinkType.CALL_CALC, label)
    return node.store()


def test_orphans_of_ended_callers_are_sealed_as_killed_and_nothing_else(aiida_profile):
    """Orphans: a Created child, a calcfunction left running, of a caller that has ended.  Left alone: children of a
    caller that still runs, a calculation that ran (its task may be revived), top-level processes."""
    from aiida import orm
    from aiida.engine import ProcessState

    from aiida_cgmob.profile import seal_orphaned_processes

    ended = _process(orm.WorkChainNode, ProcessState.FINISHED)
    never_ran = _process(orm.CalcJobNode, ProcessState.CREATED, ended, 'iteration_01')
    stateless = _process(orm.CalcJobNode, None, ended, 'iteration_01')  # killed between its store and its state
    function = _process(orm.CalcFunctionNode, ProcessState.RUNNING, ended)
    replacement = _process(orm.CalcJobNode, ProcessState.FINISHED, ended, 'iteration_01')
    ran = _process(orm.CalcJobNode, ProcessState.WAITING, ended, 'iteration_02')
    waiting = _process(orm.WorkChainNode, ProcessState.WAITING)
    awaited = _process(orm.WorkChainNode, ProcessState.CREATED, waiting, 'sample_2')
    in_progress = _process(orm.CalcFunctionNode, ProcessState.RUNNING, waiting)
    top_level = _process(orm.WorkChainNode, ProcessState.CREATED)
    _process(orm.WorkChainNode, None)

    expected = sorted([never_ran.pk, stateless.pk, function.pk])
    assert sorted(seal_orphaned_processes(dry_run=True)) == expected
    assert not never_ran.is_sealed
    assert sorted(seal_orphaned_processes()) == expected
    for node, state in ((never_ran, 'created'), (stateless, 'without a state'), (function, 'running')):
        assert node.is_sealed and node.process_state == ProcessState.KILLED
        assert f'orphaned by a daemon crash (left {state})' in node.process_status
        assert f'<{ended.pk}> has ended' in node.process_status
    for node in (replacement, ran, awaited, in_progress, top_level):
        assert not node.is_sealed and node.process_state != ProcessState.KILLED
    assert seal_orphaned_processes() == []
