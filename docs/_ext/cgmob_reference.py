"""Sphinx extension of the aiida-cgmob documentation: reference pages generated from the installed package.

Nothing in the reference pages is typed by hand; each directive below reads the code when the docs are
built, so a process, exit code, data type or kernel module added later appears by itself.

``.. cgmob-processes::``
    One section per ``cgmob.*`` entry point of ``aiida.calculations`` and ``aiida.workflows``, each
    documented with aiida-core's ``aiida-calcjob`` / ``aiida-workchain`` directive (ports, outline)
    plus the process's exit codes.
``.. cgmob-exit-codes::``
    One table of the exit codes of every process of the package, grouped by hundreds (1xx scheduler,
    3xx output missing or unreadable, 4xx physics or run failures a handler may fix), with the
    processes that use each code and the numbers that carry more than one meaning.  With an entry
    point name as argument (and ``:package-only:``), the codes of one process.
``:cgmob-exit:`LABEL```
    The number of an exit code (linked to the table), for narrative text that must not go stale.
``.. cgmob-data-types::``
    ``autoclass`` of every ``cgmob.*`` entry point of ``aiida.data``.
``.. cgmob-kernels::``
    ``automodule`` of every module of the science kernels: every top-level module or package of
    ``aiida_cgmob`` that is not part of the AiiDA layer (``AIIDA_LAYER``).

The processes are imported with a temporary in-memory AiiDA profile (``core.sqlite_temp`` storage, no
broker) inside a temporary ``AIIDA_PATH``: a documentation build never reads or writes a user's AiiDA
configuration.  The entry points are those of the installed metadata (``importlib.metadata``); the build
warns (an error under ``-W``) when ``pyproject.toml`` declares one that the installation lacks.
"""

from __future__ import annotations

import atexit
import copy
import importlib
import importlib.metadata
import inspect
import os
import pkgutil
import shutil
import sys
import tempfile
import warnings
from collections import defaultdict
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx import addnodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

LOGGER = logging.getLogger(__name__)

#: Entry-point groups of processes: group -> (section title, aiida directive).
PROCESS_GROUPS = {
    'aiida.calculations': ('Calculation jobs', 'aiida-calcjob'),
    'aiida.workflows': ('Work chains', 'aiida-workchain'),
}
#: Only entry points whose name starts with this prefix belong to the package.
ENTRY_POINT_PREFIX = 'cgmob.'
#: Top-level modules of ``aiida_cgmob`` that form the AiiDA layer; every other one is a science kernel.
#: Keep in step with ``AIIDA_LAYER`` of ``tests/test_layering.py``.
AIIDA_LAYER = frozenset({'calculations', 'parsers', 'workchains', 'cli', 'data', 'protocols', 'profile', 'demo',
                         'launch', 'exit_codes', 'database', 'cluster', 'services'})
#: Exit-code groups by hundreds: first digit -> heading.
EXIT_CODE_GROUPS = {
    0: '0xx: generic process failures (aiida-core)',
    1: '1xx: scheduler and engine failures (aiida-core)',
    3: '3xx: output missing or unreadable',
    4: '4xx: physics or run failures (a restart handler may fix them)',
}


# --------------------------------------------------------------------------------------------------- AiiDA
def _isolate_aiida_configuration() -> None:
    """Point ``AIIDA_PATH`` at a temporary folder (removed at exit) before aiida is imported."""
    if 'aiida' in sys.modules:
        return
    path = tempfile.mkdtemp(prefix='cgmob-docs-aiida-')
    (Path(path) / '.aiida').mkdir()  # aiida warns when it has to create the folder itself
    os.environ['AIIDA_PATH'] = path
    atexit.register(shutil.rmtree, path, ignore_errors=True)


def _load_documentation_profile() -> None:
    """Load a temporary in-memory profile unless one is loaded: building a process spec needs a profile."""
    from aiida.manage import get_manager
    from aiida.manage.configuration.profile import Profile

    manager = get_manager()
    if manager.get_profile() is None:
        manager.load_profile(Profile('cgmob-docs', {
            'storage': {'backend': 'core.sqlite_temp', 'config': {}},
            'process_control': {'backend': None, 'config': {}},
        }))


def package_entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
    """Return the ``cgmob.*`` entry points of ``group`` in the installed metadata, sorted by name."""
    unique = {ep.name: ep for ep in importlib.metadata.entry_points(group=group)
              if ep.name.startswith(ENTRY_POINT_PREFIX)}
    return [unique[name] for name in sorted(unique)]


def _declared_entry_points(pyproject: Path) -> dict[str, set[str]]:
    """Return the entry-point names per group that ``pyproject.toml`` declares (empty without tomllib)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        return {}
    if not pyproject.is_file():
        return {}
    declared = tomllib.loads(pyproject.read_text()).get('project', {}).get('entry-points', {})
    return {group: set(names) for group, names in declared.items()}


def check_installed_entry_points(app) -> None:
    """Warn when ``pyproject.toml`` and the installed metadata disagree (the package needs reinstalling)."""
    declared = _declared_entry_points(Path(app.confdir).parent / 'pyproject.toml')
    for group in (*PROCESS_GROUPS, 'aiida.data'):
        wanted = {name for name in declared.get(group, ()) if name.startswith(ENTRY_POINT_PREFIX)}
        installed = {ep.name for ep in package_entry_points(group)}
        if wanted and wanted != installed:
            LOGGER.warning('entry points of %s: pyproject.toml declares %s, the installed package has %s; '
                           'reinstall it (pip install -e .) so that the reference pages list every plugin',
                           group, sorted(wanted), sorted(installed), type='cgmob', subtype='entry_points')


def process_class(entry_point: importlib.metadata.EntryPoint) -> type:
    """Return the process class of an entry point (the process class of a calcfunction or workfunction)."""
    loaded = entry_point.load()
    return loaded if isinstance(loaded, type) else loaded.process_class


def load_processes(group: str, location) -> list[tuple[importlib.metadata.EntryPoint, type]]:
    """Return (entry point, process class) of the package in ``group``; warn about those that do not load."""
    processes = []
    for entry_point in package_entry_points(group):
        try:
            process = process_class(entry_point)
            process.spec()
        except Exception as exception:  # an import error or a broken spec: say which plugin, keep building
            LOGGER.warning('cannot document %s (%s): %s: %s', entry_point.name, entry_point.value,
                           type(exception).__name__, exception, location=location, type='cgmob', subtype='process')
            continue
        processes.append((entry_point, process))
    return processes


def exit_code_origin(process: type, label: str) -> str:
    """Return ``'aiida-core'`` when aiida-core's nearest base class of ``process`` defines exit code ``label``."""
    for base in process.__mro__[1:]:
        if base.__module__.split('.')[0] == 'aiida' and hasattr(base, 'spec'):
            return 'aiida-core' if label in base.spec().exit_codes else 'aiida-cgmob'
    return 'aiida-cgmob'


def process_label(entry_point_name: str) -> str:
    """Return the cross-reference label of the section that documents a process."""
    return f'cgmob-process-{entry_point_name}'


def _port_signature(port) -> tuple:
    """Return what the documentation shows of a port: valid type, help, required and default."""
    default = None
    if port.has_default():  # a callable default (a fresh dict or list) is compared by its value
        default = repr(port.default() if callable(port.default) else port.default)
    return port.valid_type, port.help, port.required, default


def _collect_ports(namespace, relative: tuple, known: dict) -> None:
    from aiida.engine.processes.ports import PortNamespace

    for name, port in namespace.items():
        if isinstance(port, PortNamespace):
            _collect_ports(port, (*relative, name), known)
        else:
            known[(*relative, name)] = _port_signature(port)


def aiida_metadata_ports() -> dict[tuple, tuple]:
    """Return aiida-core's own ``metadata`` inputs (of CalcJob and WorkChain): path in metadata -> signature."""
    from aiida.engine import CalcJob, WorkChain

    known = {}
    for process in (CalcJob, WorkChain):
        _collect_ports(process.spec().inputs['metadata'], (), known)
    return known


def prune_metadata(namespace, known: dict, relative: tuple | None = None):
    """Return a copy of an input namespace without the ``metadata`` inputs that aiida-core defines unchanged.

    ``relative`` is the path inside the nearest ``metadata`` namespace (None outside of one).  A metadata
    namespace left empty is dropped (None is returned); the package's own or changed metadata inputs stay.
    """
    from aiida.engine.processes.ports import PortNamespace

    kept = {}
    for name, port in namespace.items():
        if isinstance(port, PortNamespace):
            inner = (() if name == 'metadata' else None) if relative is None else (*relative, name)
            port = prune_metadata(port, known, inner)
            if port is None:
                continue
        elif relative is not None and known.get((*relative, name)) == _port_signature(port):
            continue
        kept[name] = port
    if relative is not None and not kept:
        return None
    pruned = copy.copy(namespace)
    pruned._ports = kept  # plumpy's PortNamespace (aiida's base class) keeps its ports in this dict
    return pruned


# --------------------------------------------------------------------------------------------- docutils
def _cell(content) -> nodes.entry:
    entry = nodes.entry()
    if isinstance(content, nodes.Node):
        entry += content
    elif isinstance(content, list):
        paragraph = nodes.paragraph()
        paragraph.extend(content)
        entry += paragraph
    else:
        entry += nodes.paragraph(text=str(content))
    return entry


def build_table(header: list[str], rows: list, widths: list[int]) -> nodes.table:
    """Return a docutils table; a row is a list of cells or a string spanning all columns (a group heading)."""
    table = nodes.table(classes=['cgmob-table'])
    group = nodes.tgroup(cols=len(header))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    row = nodes.row()
    row.extend(_cell(text) for text in header)
    head += row
    group += head
    body = nodes.tbody()
    for content in rows:
        row = nodes.row()
        if isinstance(content, str):
            entry = nodes.entry(morecols=len(header) - 1)
            entry += nodes.paragraph('', '', nodes.strong(text=content))
            row += entry
        else:
            row.extend(_cell(cell) for cell in content)
        body += row
    group += body
    return table


def _reference(entry_point_name: str) -> addnodes.pending_xref:
    """Return a link to the section of a process on the processes page."""
    xref = addnodes.pending_xref('', refdomain='std', reftype='ref', reftarget=process_label(entry_point_name),
                                 refexplicit=True, refwarn=True)
    xref += nodes.literal(text=entry_point_name)
    return xref


# ------------------------------------------------------------------------------------- process directives
def _process_directive(base: type) -> type:
    """Return aiida-core's process directive ``base`` extended: docstring as reStructuredText, exit codes."""

    class Directive(base):
        """aiida-core's process directive with the docstring rendered as reStructuredText and exit codes."""

        def initialize(self):
            _load_documentation_profile()
            super().initialize()

        def build_doctree(self, title, port_namespace):
            if title == 'Inputs:':
                port_namespace = prune_metadata(port_namespace, aiida_metadata_ports())
            return super().build_doctree(title, port_namespace)

        def build_content(self):
            content = super().build_content()
            # aiida-core puts the raw docstring into one paragraph: render it as reStructuredText instead.
            if len(content) and isinstance(content[0], nodes.paragraph):
                content.remove(content[0])
                content.insert(0, self.docstring_nodes())
            content += self.build_exit_codes()
            return content

        def docstring_nodes(self) -> nodes.container:
            from sphinx.ext.napoleon import NumpyDocstring

            docstring = inspect.getdoc(self.process) or ''
            text = str(NumpyDocstring(docstring, self.config, self.env.app, 'class', self.process_name, self.process))
            container = nodes.container()
            container.extend(self.parse_text_to_nodes(text))
            return container

        def build_exit_codes(self) -> nodes.paragraph:
            paragraph = nodes.paragraph()
            paragraph += nodes.strong(text='Exit codes:')
            exit_codes = sorted(self.process_spec.exit_codes.items(), key=lambda item: (item[1].status, item[0]))
            rows = [[str(code.status), nodes.literal(text=label), code.message,
                     'yes' if code.invalidates_cache else 'no', exit_code_origin(self.process, label)]
                    for label, code in exit_codes]
            paragraph += build_table(['Status', 'Label', 'Message', 'Invalidates cache', 'Defined by'], rows,
                                     [6, 28, 60, 8, 10])
            return paragraph

    Directive.__name__ = Directive.__qualname__ = f'Cgmob{base.__name__}'
    return Directive


class ProcessesDirective(SphinxDirective):
    """``.. cgmob-processes::``: one section per CalcJob and WorkChain entry point of the package."""

    def run(self) -> list[nodes.Node]:
        from aiida.engine import CalcJob, WorkChain

        _load_documentation_profile()
        lines = []
        for group, (title, directive) in PROCESS_GROUPS.items():
            processes = load_processes(group, self.get_location())
            lines += [title, '-' * len(title), '']
            if not processes:
                lines += ['None yet.', '']
            for entry_point, process in processes:
                module, _, name = entry_point.value.partition(':')
                if not (isinstance(process, type) and issubclass(process, (CalcJob, WorkChain))):
                    directive = 'aiida-process'
                heading = f'``{entry_point.name}``'
                lines += [f'.. _{process_label(entry_point.name)}:', '', heading, '~' * len(heading), '',
                          f'.. {directive}:: {name}', f'   :module: {module}', '']
        return self.parse_text_to_nodes('\n'.join(lines), allow_section_headings=True)


class ExitCodesDirective(SphinxDirective):
    """``.. cgmob-exit-codes::``: one table of the exit codes of every process of the package.

    With an argument (an entry point name, e.g. ``cgmob.gromacs``) the table holds that process's codes
    only; the flag ``:package-only:`` leaves out the codes aiida-core defines.
    """

    optional_arguments = 1
    option_spec = {'package-only': directives.flag}

    def run(self) -> list[nodes.Node]:
        _load_documentation_profile()
        only = self.arguments[0] if self.arguments else None
        users = defaultdict(list)  # (status, label, message, invalidates cache) -> entry points
        origins = {}
        for group in PROCESS_GROUPS:
            for entry_point, process in load_processes(group, self.get_location()):
                if only is not None and entry_point.name != only:
                    continue
                for label, code in process.spec().exit_codes.items():
                    key = (code.status, label, code.message, code.invalidates_cache)
                    origin = exit_code_origin(process, label)
                    if 'package-only' in self.options and origin == 'aiida-core':
                        continue
                    users[key].append(entry_point.name)
                    origins[key] = origin
        if only is not None and not users:
            LOGGER.warning('no exit codes of a process %r of the package', only, location=self.get_location(),
                           type='cgmob', subtype='process')
            return []
        rows, heading = [], None
        for key in sorted(users, key=lambda key: (key[0], key[1], key[2])):
            status, label, message, invalidates_cache = key
            group = EXIT_CODE_GROUPS.get(status // 100, f'{status // 100}xx: other')
            if group != heading:
                rows.append(group)
                heading = group
            used_by = []
            for name in users[key]:
                used_by += [_reference(name), nodes.Text(', ')]
            row = [str(status), nodes.literal(text=label), message, 'yes' if invalidates_cache else 'no']
            rows.append(row if only else [*row, origins[key], used_by[:-1]])
        if only:
            return [build_table(['Status', 'Label', 'Message', 'Invalidates cache'], rows, [6, 30, 60, 8])]
        table = build_table(['Status', 'Label', 'Message', 'Invalidates cache', 'Defined by', 'Used by'], rows,
                            [6, 26, 50, 8, 10, 20])
        return [*self.conflicts(users), table]

    @staticmethod
    def conflicts(users: dict) -> list[nodes.Node]:
        """Return a note listing the numbers that carry more than one label, or nothing."""
        labels = defaultdict(lambda: defaultdict(list))
        for (status, label, _, _), names in users.items():
            labels[status][label] += names
        shared = {status: meanings for status, meanings in sorted(labels.items()) if len(meanings) > 1}
        if not shared:
            return []
        items = nodes.bullet_list()
        for status, meanings in shared.items():
            paragraph = nodes.paragraph(text=f'{status}: ')
            for index, (label, names) in enumerate(sorted(meanings.items())):
                paragraph += nodes.Text('; ' if index else '')
                paragraph += nodes.literal(text=label)
                paragraph += nodes.Text(f' ({", ".join(sorted(set(names)))})')
            items += nodes.list_item('', paragraph)
        note = nodes.note()
        note += nodes.paragraph(text=f'{len(shared)} numbers carry more than one meaning (label) across the '
                                     'processes of the package:')
        note += items
        return [note]


_STATUS_OF_LABEL: dict[str, set[int]] = {}


def status_of_label() -> dict[str, set[int]]:
    """Return the exit statuses that each exit-code label has across the processes of the package (cached)."""
    if not _STATUS_OF_LABEL:
        _load_documentation_profile()
        for group in PROCESS_GROUPS:
            for _, process in load_processes(group, None):
                for label, code in process.spec().exit_codes.items():
                    _STATUS_OF_LABEL.setdefault(label, set()).add(code.status)
    return _STATUS_OF_LABEL


def exit_code_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``:cgmob-exit:`LABEL```: the number of an exit code, taken from the process specs, linked to the table.

    Narrative text that names exit codes this way never goes stale when codes are renumbered; an unknown
    label, or one with more than one number, is an error.
    """
    statuses = status_of_label().get(text.strip(), set())
    if len(statuses) != 1:
        problem = 'is not an exit code of the package' if not statuses else f'has several numbers {sorted(statuses)}'
        message = inliner.reporter.error(f'exit code {text!r} {problem}', line=lineno)
        return [inliner.problematic(rawtext, rawtext, message)], [message]
    xref = addnodes.pending_xref('', refdomain='std', reftype='doc', reftarget='/reference/exit_codes',
                                 refexplicit=True)
    xref += nodes.Text(str(next(iter(statuses))))
    return [xref], []


class DataTypesDirective(SphinxDirective):
    """``.. cgmob-data-types::``: ``autoclass`` of every ``cgmob.*`` data entry point."""

    def run(self) -> list[nodes.Node]:
        _load_documentation_profile()
        lines = []
        for entry_point in package_entry_points('aiida.data'):
            module, _, name = entry_point.value.partition(':')
            heading = f'``{entry_point.name}``'
            lines += [heading, '-' * len(heading), '', f'.. automodule:: {module}', '',
                      f'.. autoclass:: {module}.{name}', '   :members:', '   :show-inheritance:', '']
        return self.parse_text_to_nodes('\n'.join(lines), allow_section_headings=True)


def kernel_modules() -> dict[str, list[str]]:
    """Return the science kernels: top-level module name -> that module and its submodules (imported)."""
    package = importlib.import_module('aiida_cgmob')
    kernels = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name):
        if info.name in AIIDA_LAYER or info.name.startswith('_'):
            continue
        name = f'aiida_cgmob.{info.name}'
        modules = [name]
        if info.ispkg:
            module = importlib.import_module(name)
            modules += sorted(sub.name for sub in pkgutil.walk_packages(module.__path__, prefix=f'{name}.')
                              if not sub.name.rpartition('.')[2].startswith('_'))
        kernels[name] = modules
    return kernels


class KernelsDirective(SphinxDirective):
    """``.. cgmob-kernels::``: one section per science kernel with ``automodule`` of each of its modules."""

    def run(self) -> list[nodes.Node]:
        lines = []
        for name, modules in kernel_modules().items():
            heading = f'``{name}``'
            lines += [heading, '-' * len(heading), '']
            for module in modules:
                if module != name:
                    lines += [f'``{module}``', '~' * (len(module) + 4), '']
                # Members only where defined (ignore __all__): a package re-exports what its modules document.
                lines += [f'.. automodule:: {module}', '   :members:', '   :ignore-module-all:', '']
        return self.parse_text_to_nodes('\n'.join(lines), allow_section_headings=True)


def _skip_generated_models(app, what, name, obj, skip, options):
    """Skip the pydantic models that aiida-core generates inside every node class (not the package's API)."""
    try:
        from pydantic import BaseModel
    except ImportError:
        return None
    if what == 'class' and isinstance(obj, type) and issubclass(obj, BaseModel):
        return True
    return None


def _always_outdated(app, env, added, changed, removed) -> list[str]:
    """Re-read the reference pages on every build: what they show comes from the code, not their source."""
    return [docname for docname in env.found_docs if docname.startswith('reference/')]


def setup(app):
    """Register the directives (after aiida-core's, whose process directives they extend)."""
    _isolate_aiida_configuration()
    from aiida.common.warnings import AiidaDeprecationWarning
    from aiida.manage.configuration import get_config

    # autodoc inspects every attribute of the data classes, deprecated ones of aiida-core's included.  The
    # filter goes after get_config, which sets one for AiidaDeprecationWarning when it first loads.
    get_config(create=True)
    warnings.filterwarnings('ignore', category=AiidaDeprecationWarning)
    app.setup_extension('sphinx.ext.autodoc')
    app.setup_extension('sphinx.ext.napoleon')
    app.setup_extension('aiida.sphinxext')
    from aiida.sphinxext.calcjob import AiidaCalcJobDirective
    from aiida.sphinxext.process import AiidaProcessDirective
    from aiida.sphinxext.workchain import AiidaWorkchainDirective

    for base in (AiidaProcessDirective, AiidaCalcJobDirective, AiidaWorkchainDirective):
        directive = _process_directive(base)
        app.add_directive_to_domain('py', directive_name(base), directive, override=True)
    app.add_directive('cgmob-processes', ProcessesDirective)
    app.add_directive('cgmob-exit-codes', ExitCodesDirective)
    app.add_directive('cgmob-data-types', DataTypesDirective)
    app.add_directive('cgmob-kernels', KernelsDirective)
    app.add_role('cgmob-exit', exit_code_role)
    app.connect('builder-inited', check_installed_entry_points)
    app.connect('env-get-outdated', _always_outdated)
    app.connect('autodoc-skip-member', _skip_generated_models)
    return {'version': '1', 'parallel_read_safe': True, 'parallel_write_safe': True}


def directive_name(base: type) -> str:
    """Return the name under which aiida-core registers a process directive class."""
    return {'CalcJob': 'aiida-calcjob', 'WorkChain': 'aiida-workchain'}.get(base.signature, 'aiida-process')
