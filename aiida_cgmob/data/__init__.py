"""AiiDA data types of aiida-cgmob."""

from .bonded_parameters import BondedParametersData
from .potential import PotentialData

__all__ = ['BondedParametersData', 'PotentialData']
