"""AiiDA data types of aiida-cgmob."""

from .bonded_parameters import BondedParametersData
from .configuration import configuration_node, configuration_of
from .potential import PotentialData
from .row import RowData
from .training_set import TrainingSetData

__all__ = ['BondedParametersData', 'PotentialData', 'RowData', 'TrainingSetData', 'configuration_node',
           'configuration_of']
