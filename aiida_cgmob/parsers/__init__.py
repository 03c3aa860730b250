"""Parsers of aiida-cgmob, one per CalcJob."""
