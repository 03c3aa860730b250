"""Small helpers the ``aiida-cgmob`` commands share: errors, launch messages, exit lines."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

__all__ = ['echo_submitted', 'exit_text', 'launch_errors', 'plus_minus']


@contextmanager
def launch_errors() -> Iterator[None]:
    """Turn the ``ValueError`` of a launcher or a lookup (it names the field) into a command-line error."""
    try:
        yield
    except ValueError as exception:
        raise click.ClickException(str(exception)) from exception


def echo_submitted(node) -> None:
    """Say that ``node`` went to the daemon, and how to follow it."""
    click.echo(f'submitted {node.process_label}<{node.pk}>; follow it with `verdi process report {node.pk}`')


def exit_text(node) -> str:
    """``exit N (message)`` of a finished process node (the message once, as the process gave it)."""
    return f'exit {node.exit_status}' + (f' ({node.exit_message})' if node.exit_message else '')


def plus_minus(value: float, error: float | None, spec: str) -> str:
    """Return ``value +- error`` formatted with ``spec``; a missing error (None or NaN: too short to say) is said."""
    if error is None or error != error:
        return f'{value:{spec}} (error: series too short to estimate)'
    return f'{value:{spec}} +- {error:{spec}}'
