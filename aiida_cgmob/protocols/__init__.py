"""Protocols (``fast``, ``moderate``, ``precise``) stored as YAML next to this file."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path

import yaml

__all__ = ['load_protocol', 'protocol_names']


@cache
def _load(name: str) -> dict:
    return yaml.safe_load((Path(__file__).parent / f'{name}.yaml').read_text())


def protocol_names(name: str) -> dict[str, str]:
    """Available protocols of the family ``name`` and their descriptions."""
    return {key: value['description'] for key, value in _load(name)['protocols'].items()}


def load_protocol(name: str, protocol: str | None = None) -> dict:
    """Return a copy of one protocol of the family ``name`` (default protocol if ``protocol`` is None)."""
    data = _load(name)
    protocol = protocol or data['default_protocol']
    if protocol not in data['protocols']:
        raise ValueError(f'protocol {protocol!r} is not one of {sorted(data["protocols"])}')
    return copy.deepcopy(data['protocols'][protocol])
