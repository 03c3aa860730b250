"""One exit-code table for the package: one number, one label, one meaning across every process.

The processes are found as users find them, through the ``cgmob.*`` entry points of ``aiida.calculations`` and
``aiida.workflows``, so a process added later is checked without editing this file.
"""

from __future__ import annotations

import inspect
import re
import string
from collections import defaultdict
from importlib.metadata import entry_points

import pytest
from aiida.engine import BaseRestartWorkChain, CalcJob, WorkChain
from aiida.plugins import ParserFactory

from aiida_cgmob.exit_codes import EXIT_CODES, RESERVED


def package_processes() -> dict[str, type]:
    """Entry point (``group:name``) -> process class, for every ``cgmob.*`` calculation and work flow."""
    found = {}
    for group in ('aiida.calculations', 'aiida.workflows'):
        for entry_point in entry_points(group=group):
            if entry_point.name.startswith('cgmob.'):
                found[f'{group}:{entry_point.name}'] = entry_point.load()
    return found


PROCESSES = package_processes()
CALCULATIONS = {name: process for name, process in PROCESSES.items() if issubclass(process, CalcJob)}
WORKCHAINS = {name: process for name, process in PROCESSES.items() if issubclass(process, BaseRestartWorkChain)}
#: work chains that orchestrate others (the synthetic sample and database), not restart chains
ORCHESTRATORS = {name: process for name, process in PROCESSES.items()
                 if issubclass(process, WorkChain) and name not in WORKCHAINS}


def core_codes(process: type) -> dict[str, object]:
    """The exit codes aiida-core itself declares on the kind of process ``process`` is."""
    core = CalcJob if issubclass(process, CalcJob) else (
        BaseRestartWorkChain if issubclass(process, BaseRestartWorkChain) else WorkChain)
    return dict(core.spec().exit_codes.items())


def package_codes(process: type) -> dict[str, object]:
    """The exit codes the package declares on ``process`` (everything aiida-core does not)."""
    core = core_codes(process)
    return {label: code for label, code in process.spec().exit_codes.items() if label not in core}


def test_every_process_is_found():
    names = {key.split(':', 1)[1] for key in PROCESSES}
    assert {'cgmob.gromacs', 'cgmob.descriptors', 'cgmob.lammps.cg', 'cgmob.ibi', 'cgmob.gromacs.base',
            'cgmob.lammps.cg.base', 'cgmob.ibi.base'} <= names
    assert {'cgmob.synthetic.sample', 'cgmob.synthetic.database'} <= {key.split(':', 1)[1] for key in ORCHESTRATORS}
    assert set(CALCULATIONS) | set(WORKCHAINS) | set(ORCHESTRATORS) == set(PROCESSES)


@pytest.mark.parametrize('name', sorted(ORCHESTRATORS))
def test_orchestrators_return_declared_codes(name):
    """A work chain that runs others returns only the codes it declares (from the package's table)."""
    chain = ORCHESTRATORS[name]
    source = inspect.getsource(chain)
    returned = set(re.findall(r'exit_codes\.(ERROR_[A-Z_]+)', source))
    assert returned and returned <= set(chain.spec().exit_codes)


def test_one_label_and_one_message_per_number():
    """All processes using a number share its label and message template (aiida-core's codes included)."""
    meanings = defaultdict(lambda: defaultdict(list))  # status -> (label, message) -> processes
    for name, process in PROCESSES.items():
        for label, code in process.spec().exit_codes.items():
            meanings[code.status][(label, code.message)].append(name)
    shared = {status: dict(found) for status, found in meanings.items() if len(found) > 1}
    assert not shared, f'numbers with more than one meaning: {shared}'


def test_every_package_code_is_the_tables():
    """A process declares the package's codes from aiida_cgmob.exit_codes and nothing typed by hand."""
    for name, process in PROCESSES.items():
        for label, code in package_codes(process).items():
            assert label in EXIT_CODES, f'{name}: {label} ({code.status}) is not in aiida_cgmob.exit_codes'
            entry = EXIT_CODES[label]
            assert (code.status, code.message, code.invalidates_cache) == \
                (entry.status, entry.message, entry.invalidates_cache), f'{name}: {label}'


def test_table_has_one_label_per_number():
    statuses = [entry.status for entry in EXIT_CODES.values()]
    assert len(statuses) == len(set(statuses))
    assert all(300 <= status < 500 for status in statuses)  # 1xx are aiida-core's scheduler codes


def test_aiida_cores_restart_codes_are_not_reused():
    """301/302/401/402 belong to BaseRestartWorkChain: the table knows them as aiida-core names them and no
    package code takes their numbers, in the table or on any process."""
    restart = {code.status: label for label, code in BaseRestartWorkChain.spec().exit_codes.items()
               if code.status >= 300}
    assert restart == RESERVED
    assert not {entry.status for entry in EXIT_CODES.values()} & set(RESERVED)
    for name, process in PROCESSES.items():
        for label, code in process.spec().exit_codes.items():
            if code.status in RESERVED:
                assert label == RESERVED[code.status], f'{name} declares {code.status} as {label}'


def test_invalidates_cache_is_derived_from_the_number():
    """A missing or unreadable output (< 400) is never reused by caching; a failed run (4xx) may be, unless the
    machine stopped it (wall time, engine crash): max_wallclock_seconds is not hashed, so a rerun with a longer
    wall time must not be handed the truncated job."""
    transient = {label for label, entry in EXIT_CODES.items() if entry.transient}
    assert transient == {'ERROR_OUT_OF_WALLTIME', 'ERROR_ENGINE'}
    for name, process in PROCESSES.items():
        for label, code in package_codes(process).items():
            transient = EXIT_CODES[label].transient if label in EXIT_CODES else False
            assert code.invalidates_cache == (code.status < 400 or transient), f'{name}: {label} ({code.status})'


@pytest.mark.parametrize('label', sorted(EXIT_CODES))
def test_every_message_has_one_message_placeholder(label):
    fields = [field for _, field, _, _ in string.Formatter().parse(EXIT_CODES[label].message) if field is not None]
    assert fields == ['message'], f'{label}: {EXIT_CODES[label].message!r}'
    assert EXIT_CODES[label].message.format(message='CAUSE').count('CAUSE') == 1


def test_format_fills_the_message_once():
    """What the parsers and chains do: ``exit_codes.LABEL.format(message=...)``."""
    for process in PROCESSES.values():
        for code in package_codes(process).values():
            assert code.format(message='the cause').message.count('the cause') == 1


#: labels named in source code: ``exit_codes.LABEL``, ``exit_code('LABEL')`` and string constants 'ERROR_...'
_NAMED = re.compile(r"exit_codes\.(ERROR_[A-Z_]+)|exit_code\('(ERROR_[A-Z_]+)'\)|'(ERROR_[A-Z_]+)'")


def named_labels(obj) -> set[str]:
    """The exit-code labels named in the source of the module of ``obj``."""
    source = inspect.getsource(inspect.getmodule(obj))
    return {label for match in _NAMED.finditer(source) for label in match.groups() if label}


@pytest.mark.parametrize('name', sorted(CALCULATIONS))
def test_parsers_return_only_codes_their_calculation_declares(name):
    """``self.exit_codes.X`` of a parser is the CalcJob's: an undeclared label is an AttributeError at parse time,
    i.e. an excepted job instead of a failed one with a message."""
    process = CALCULATIONS[name]
    parser = ParserFactory(process.spec().inputs['metadata']['options']['parser_name'].default)
    named = named_labels(parser)
    if 'attach_descriptors' in inspect.getsource(inspect.getmodule(parser)):
        named.add('ERROR_DESCRIPTORS')  # returned by CgmobParser.attach_descriptors
    missing = named - set(process.spec().exit_codes)
    assert not missing, f'{parser.__name__} returns {sorted(missing)}, which {process.__name__} does not declare'


@pytest.mark.parametrize('name', sorted(WORKCHAINS))
def test_chains_handle_and_return_declared_codes(name):
    """The codes a chain's handlers react to are its CalcJob's; the codes it returns are its own."""
    from aiida_cgmob.workchains import base

    chain = WORKCHAINS[name]
    calculation = chain._process_class
    handled = set(re.findall(r"exit_code\('(ERROR_[A-Z_]+)'\)", inspect.getsource(inspect.getmodule(chain))))
    handled |= set(re.findall(r"exit_code\('(ERROR_[A-Z_]+)'\)", inspect.getsource(base)))
    assert handled - set(calculation.spec().exit_codes) == set()
    returned = set(re.findall(r'exit_codes\.(ERROR_[A-Z_]+)', inspect.getsource(inspect.getmodule(chain))))
    assert returned - set(chain.spec().exit_codes) == set()
    for label in ('ERROR_UNRECOVERABLE_FAILURE', 'ERROR_DESCRIPTORS', 'ERROR_NO_PROGRESS'):
        assert label in chain.spec().exit_codes
    if chain.defaults.minimum_timestep is not None:  # a chain that shortens the time step can give up on it
        assert 'ERROR_TIME_STEP_TOO_SMALL' in chain.spec().exit_codes
