"""AiiDA data types of aiida-cgmob."""

from .bonded_parameters import BondedParametersData

__all__ = ['BondedParametersData']
