"""Sphinx configuration of the aiida-cgmob documentation."""

project = 'aiida-cgmob'
author = 'aiida-cgmob developers'
release = '0.1.0'
extensions = []
exclude_patterns = ['_build']
html_theme = 'alabaster'
