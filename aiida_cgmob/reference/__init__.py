"""The reference synthetic database that ships with the package, made by this pipeline (``README.md`` here says how).

Two files with the same rows: ``reference_database.h5`` (the flat HDF5 file of :mod:`aiida_cgmob.dataset.hdf5`,
readable without AiiDA) and ``reference_database.aiida`` (an AiiDA archive of the Group with the provenance of
every row: ``verdi archive import`` it, then ``aiida-cgmob database stats cgmob/reference``).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ['ARCHIVE', 'GROUP_LABEL', 'HDF5', 'read_reference']

#: the folder of the shipped files
DIRECTORY = Path(__file__).parent
#: the flat HDF5 file
HDF5 = DIRECTORY / 'reference_database.h5'
#: the AiiDA archive (rows, failed samples and their provenance)
ARCHIVE = DIRECTORY / 'reference_database.aiida'
#: label of the Group in the archive
GROUP_LABEL = 'cgmob/reference'


def read_reference() -> dict:
    """Return the reference database's table and metadata (:func:`aiida_cgmob.dataset.read` of :data:`HDF5`)."""
    from aiida_cgmob.dataset import read

    return read(HDF5)
