"""AiiDA data types of aiida-cgmob."""

from .bonded_parameters import BondedParametersData
from .configuration import configuration_node, configuration_of
from .potential import PotentialData
from .row import RowData

__all__ = ['BondedParametersData', 'PotentialData', 'RowData', 'configuration_node', 'configuration_of']
