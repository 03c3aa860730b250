"""aiida-cgmob: synthetic MD databases and mobility-preserving coarse-grained potentials on AiiDA.

The public Python API is :mod:`aiida_cgmob.launch`; its launchers are also available here
(``from aiida_cgmob import launch_aa``).  Importing the package itself is cheap: it imports neither AiiDA
nor a profile, so the science kernels (``aiida_cgmob.topology``, ``.analysis``, ...) stay free of AiiDA.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ['__version__', 'find_codes', 'launch_aa', 'launch_cg', 'launch_database', 'launch_descriptors', 'launch_ibi',
           'launch_sample', 'run_or_submit']

#: names of :mod:`aiida_cgmob.launch` re-exported here, imported on first use
_LAUNCH_API = ('find_codes', 'launch_aa', 'launch_cg', 'launch_database', 'launch_descriptors', 'launch_ibi',
               'launch_sample', 'run_or_submit')


def _version() -> str:
    """Return the installed distribution's version; in a source tree without metadata, pyproject.toml's."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version('aiida-cgmob')
    except PackageNotFoundError:
        pyproject = Path(__file__).resolve().parent.parent / 'pyproject.toml'
        found = re.search(r'^version\s*=\s*"([^"]+)"', pyproject.read_text(), re.MULTILINE) if pyproject.is_file() \
            else None
        return found.group(1) if found else '0+unknown'


__version__ = _version()


def __getattr__(name: str):
    """Return a launcher of :mod:`aiida_cgmob.launch`, imported (with AiiDA) only when first asked for."""
    if name in _LAUNCH_API:
        from . import launch

        return getattr(launch, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAUNCH_API})
