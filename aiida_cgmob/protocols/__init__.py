"""Protocols (``fast``, ``moderate``, ``precise``): YAML files whose inputs mirror a work chain's ports.

Each file has ``default_inputs`` (valid for every protocol), ``default_protocol`` and ``protocols``, each with
a ``description`` and the inputs it changes.  :class:`ProtocolMixin` merges them recursively (mappings are
merged key by key, anything else, lists included, is replaced), then merges the user's ``overrides`` the same
way after checking every key against the work chain's input spec, so a misspelt key fails with its path.
This follows aiida-quantumespresso's ``ProtocolMixin``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import yaml

__all__ = ['ProtocolMixin', 'check_overrides', 'load_protocol_file', 'protocol_names', 'recursive_merge']


@cache
def _load(name: str) -> dict:
    return yaml.safe_load((Path(__file__).parent / f'{name}.yaml').read_text())


def load_protocol_file(name: str) -> dict:
    """Return a copy of the protocol file ``<name>.yaml`` next to this module."""
    return copy.deepcopy(_load(name))


def protocol_names(name: str) -> dict[str, str]:
    """Return the protocols of the file ``name`` and their descriptions (for command-line choices)."""
    return {key: value['description'] for key, value in _load(name)['protocols'].items()}


def recursive_merge(base: Mapping, update: Mapping) -> dict:
    """``update`` merged into a copy of ``base``: mappings key by key, any other value (lists too) replaced."""
    merged = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(value, Mapping):  # a copy also where base has no such key: the caller's dict stays theirs
            merged[key] = recursive_merge(merged[key] if isinstance(merged.get(key), Mapping) else {}, value)
        else:
            merged[key] = value
    return merged


def check_overrides(namespace, overrides: Mapping, path: str = '') -> None:
    """ValueError naming the first key of ``overrides`` that is not a port of the input ``namespace``.

    Keys inside a port that is not a namespace (the content of a Dict, say) are checked by that port's validator
    when the process is built, not here.
    """
    from aiida.engine.processes.ports import PortNamespace

    for key, value in overrides.items():
        where = f'{path}{key}'
        if key not in namespace:  # strict also in namespaces exposed as dynamic: overrides name real ports
            raise ValueError(f'overrides: {where!r} is not an input of this work chain; the inputs here are: '
                             f'{", ".join(sorted(namespace)) or "none"}')
        port = namespace[key]
        if isinstance(port, PortNamespace):
            if not isinstance(value, Mapping):
                raise ValueError(f'overrides: {where!r} is a namespace and needs a mapping, got {value!r}')
            check_overrides(port, value, f'{where}.')


class ProtocolMixin:
    """Protocol support for a work chain: set ``_protocol_file`` to the name of its YAML file."""

    _protocol_file: str

    @classmethod
    def get_default_protocol(cls) -> str:
        """Return the protocol used when none is named."""
        return _load(cls._protocol_file)['default_protocol']

    @classmethod
    def get_available_protocols(cls) -> dict[str, dict]:
        """Protocol name -> ``{'description': ...}``."""
        protocols = _load(cls._protocol_file)['protocols']
        return {name: {'description': value['description']} for name, value in protocols.items()}

    @classmethod
    def get_protocol_inputs(cls, protocol: str | None = None, overrides: Mapping | None = None) -> dict:
        """Return the inputs of ``protocol`` (default: the default protocol) with ``overrides`` merged over them."""
        data = load_protocol_file(cls._protocol_file)
        protocol = protocol or data['default_protocol']
        if protocol not in data['protocols']:
            raise ValueError(f'protocol {protocol!r} is not one of {sorted(data["protocols"])}')
        chosen = {key: value for key, value in data['protocols'][protocol].items() if key != 'description'}
        inputs = recursive_merge(data.get('default_inputs') or {}, chosen)
        if overrides:
            if not isinstance(overrides, Mapping):
                raise ValueError(f'overrides must be a mapping of inputs, got {overrides!r}')
            check_overrides(cls.spec().inputs, overrides)
            inputs = recursive_merge(inputs, overrides)
        return inputs

    @classmethod
    def builder_from_inputs(cls, inputs: Mapping):
        """Return a builder holding ``inputs``; plain values become nodes where their port takes a node."""
        builder = cls.get_builder()
        _fill(builder, cls.spec().inputs, inputs)
        return builder


def _fill(builder, namespace, inputs: Mapping) -> None:
    from aiida import orm
    from aiida.engine.processes.ports import PortNamespace

    for key, value in inputs.items():
        port = namespace.get(key) if key in namespace else None
        if isinstance(port, PortNamespace) and isinstance(value, Mapping):
            _fill(builder[key], port, value)
            continue
        if port is not None and not isinstance(value, orm.Node) and _takes_node(port.valid_type):
            value = _to_node(value, port.valid_type)
        setattr(builder, key, value)


def _to_node(value, valid_type):
    """Return the node of a plain value for a port of ``valid_type`` (a whole number for a Float port: a Float)."""
    import numbers

    from aiida import orm

    types = valid_type if isinstance(valid_type, tuple) else (valid_type,)
    if orm.Float in types and isinstance(value, numbers.Real) and not isinstance(value, bool):
        return orm.Float(float(value))
    if orm.Int in types and isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return orm.Int(int(value))
    return orm.to_aiida_type(value)


def _takes_node(valid_type) -> bool:
    from aiida import orm

    types = valid_type if isinstance(valid_type, tuple) else (valid_type,)
    return any(isinstance(kind, type) and issubclass(kind, orm.Node) for kind in types)
