"""Sphinx configuration of the aiida-cgmob documentation.

The reference pages (``docs/reference/``) are generated from the installed package at build time by the
local extension ``docs/_ext/cgmob_reference.py``.  No extension reaches the internet (no intersphinx).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / '_ext'))

project = 'aiida-cgmob'
author = 'aiida-cgmob developers'
from aiida_cgmob import __version__ as release  # noqa: E402 (the installed package, cheap to import)

version = release
extensions = [
    'cgmob_reference',  # first: it isolates AiiDA's configuration before aiida.sphinxext imports aiida
    'sphinx.ext.autodoc',
    'sphinx.ext.napoleon',
    'aiida.sphinxext',
]
exclude_patterns = ['_build']
html_theme = 'alabaster'

# autodoc: members in source order, type hints in the description rather than the signature.
autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
autodoc_default_options = {'show-inheritance': True}

# napoleon: numpy-style docstrings only (the convention ruff's pydocstyle rules check).
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
