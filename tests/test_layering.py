"""The layering of the package (DESIGN.md, Architecture): two layers, one direction of dependency.

* The science kernels (every top-level module or package of ``aiida_cgmob`` outside ``AIIDA_LAYER``)
  import without AiiDA: checked by importing each of them in a fresh interpreter where ``aiida`` cannot
  be imported, and by reading every import statement of theirs (function-level ones included; the
  package root, which may re-export the launch API lazily, only by the import).
* Parsers and calculations meet only through the bases: no module of ``parsers/`` imports a module of
  ``calculations/`` or the reverse, unless the module imported is a ``base`` module.

Every failure names the module, the line and what it imports.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = 'aiida_cgmob'
#: Top-level modules of the package that form the AiiDA layer; every other one is a science kernel.
#: A new top-level module is a kernel unless it is added here.  Keep in step with ``AIIDA_LAYER`` of
#: ``docs/_ext/cgmob_reference.py`` (the reference pages document the kernels by the same rule).
AIIDA_LAYER = frozenset({'calculations', 'parsers', 'workchains', 'cli', 'data', 'protocols', 'profile', 'demo',
                         'launch', 'exit_codes', 'database', 'cluster', 'services'})
#: The two sub-packages that may import each other only through their ``base`` modules.
SEPARATED = ('calculations', 'parsers')


def package_directory() -> Path:
    """Return the directory of the package without importing it (its ``__init__`` may need AiiDA)."""
    spec = importlib.util.find_spec(PACKAGE)
    return Path(next(iter(spec.submodule_search_locations)))


def module_files() -> dict[str, Path]:
    """Return every module of the package: dotted name -> file."""
    root = package_directory()
    modules = {}
    for path in sorted(root.rglob('*.py')):
        parts = (PACKAGE, *path.relative_to(root).with_suffix('').parts)
        if parts[-1] == '__init__':
            parts = parts[:-1]
        modules['.'.join(parts)] = path
    return modules


def layer(module: str) -> str | None:
    """Return the top-level part of the package a module belongs to (None for the package itself)."""
    parts = module.split('.')
    return parts[1] if len(parts) > 1 else None


def is_kernel(module: str) -> bool:
    """Return whether a module belongs to the science kernels (the package root counts: it is imported first)."""
    return layer(module) not in AIIDA_LAYER


MODULES = module_files()
KERNEL_MODULES = sorted(module for module in MODULES if is_kernel(module))


def imports_of(module: str, path: Path) -> list[tuple[int, str]]:
    """Return (line, imported module) of every import statement of a module, nested ones included.

    Relative imports are resolved; ``from package import name`` counts as importing ``package.name``
    when that is a module of the package, and ``package`` otherwise.
    """
    is_package = path.name == '__init__.py'
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split('.')
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                target = '.'.join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            for alias in node.names:
                submodule = f'{target}.{alias.name}'
                found.append((node.lineno, submodule if submodule in MODULES else target))
    return list(dict.fromkeys(found))


def test_the_package_has_kernels_and_an_aiida_layer():
    """Guard against an empty parametrisation (a moved package directory would make every check pass)."""
    assert f'{PACKAGE}.topology' in KERNEL_MODULES and f'{PACKAGE}.units' in KERNEL_MODULES
    assert f'{PACKAGE}.calculations.base' in MODULES and f'{PACKAGE}.parsers.base' in MODULES


# A fresh interpreter with a finder in front of all others that refuses ``aiida`` and ``aiida.*`` and says
# which module of the package asked for it.  It imports each module given and prints {module: error or None}.
IMPORT_WITHOUT_AIIDA = r'''
import importlib, json, sys, traceback

class BlockAiida:
    def find_spec(self, name, path=None, target=None):
        if name != 'aiida' and not name.startswith('aiida.'):
            return None
        frame = sys._getframe(1)
        while frame is not None and not frame.f_globals.get('__name__', '').startswith('aiida_cgmob'):
            frame = frame.f_back
        where = f"{frame.f_globals['__name__']} line {frame.f_lineno}" if frame is not None else 'outside the package'
        raise ImportError(f'{name!r} imported by {where} (aiida is made unimportable in this test)')

sys.meta_path.insert(0, BlockAiida())
results = {}
for module in json.loads(sys.argv[1]):
    try:
        importlib.import_module(module)
        results[module] = None
    except BaseException as exception:
        results[module] = f'{type(exception).__name__}: {exception}'
print(json.dumps(results))
'''


@pytest.fixture(scope='module')
def imported_without_aiida() -> dict[str, str | None]:
    """Import every kernel module (and ``aiida`` itself, which must fail) in one interpreter without AiiDA."""
    modules = ['aiida', *KERNEL_MODULES]
    process = subprocess.run([sys.executable, '-c', IMPORT_WITHOUT_AIIDA, json.dumps(modules)], capture_output=True,
                             text=True, timeout=600)
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads(process.stdout.strip().splitlines()[-1])


def test_aiida_is_unimportable_in_the_kernel_interpreter(imported_without_aiida):
    """The blocker works: otherwise the kernel imports below would prove nothing."""
    assert imported_without_aiida['aiida'] is not None
    assert 'aiida is made unimportable' in imported_without_aiida['aiida']


@pytest.mark.parametrize('module', KERNEL_MODULES)
def test_kernel_imports_without_aiida(imported_without_aiida, module):
    """Every kernel module imports in an interpreter where ``aiida`` cannot be imported."""
    error = imported_without_aiida[module]
    assert error is None, f'kernel module {module} does not import without AiiDA: {error}'


@pytest.mark.parametrize('module', [module for module in KERNEL_MODULES if module != PACKAGE])
def test_kernel_never_imports_aiida_or_the_aiida_layer(module):
    """No import statement of a kernel, function-level ones included, reaches AiiDA or the AiiDA layer.

    The package root is left to the import test above: it may re-export the public launch API lazily
    (a module ``__getattr__``), as long as importing it does not import AiiDA.
    """
    bad = [f'line {line}: {target}' for line, target in imports_of(module, MODULES[module])
           if target.split('.')[0] == 'aiida'
           or (target.split('.')[0] == PACKAGE and not is_kernel(target))]
    assert not bad, f'kernel module {module} imports AiiDA or the AiiDA layer: {"; ".join(bad)}'


def crossings(module: str, path: Path) -> list[str]:
    """Return the imports of ``module`` that cross between calculations/ and parsers/ other than into a base."""
    other = {SEPARATED[0]: SEPARATED[1], SEPARATED[1]: SEPARATED[0]}[layer(module)]
    return [f'line {line}: {target}' for line, target in imports_of(module, path)
            if target.startswith(f'{PACKAGE}.') and layer(target) == other and target.split('.')[-1] != 'base']


@pytest.mark.parametrize('module', sorted(module for module in MODULES if layer(module) in SEPARATED))
def test_parsers_and_calculations_meet_only_through_the_bases(module):
    """A parser never imports a calculation module nor the reverse; importing the other side's ``base`` is allowed."""
    found = crossings(module, MODULES[module])
    assert not found, f'{module} imports across calculations/parsers (only base modules may be imported): ' \
                      f'{"; ".join(found)}'


def test_the_import_graph_check_sees_a_crossing(tmp_path):
    """Relative, absolute, ``from package import module`` and function-level imports are all resolved."""
    path = tmp_path / 'probe.py'
    path.write_text('from ..calculations import gromacs\n'
                    'from aiida_cgmob.calculations.base import CgmobCalcJob\n'
                    'def f():\n    import aiida_cgmob.calculations.ibi\n')
    module = f'{PACKAGE}.parsers.probe'
    assert sorted(imports_of(module, path)) == [
        (1, f'{PACKAGE}.calculations.gromacs'), (2, f'{PACKAGE}.calculations.base'), (4, f'{PACKAGE}.calculations.ibi')]
    assert crossings(module, path) == [f'line 1: {PACKAGE}.calculations.gromacs', f'line 4: {PACKAGE}.calculations.ibi']
