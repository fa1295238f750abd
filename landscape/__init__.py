"""landscape: loss landscapes of sparse (masked) neural networks, in JAX."""

__version__ = "0.1.0"

from landscape.activations import ACTIVATIONS as ACTIVATIONS
from landscape.activations import get_activation as get_activation
from landscape.activations import polynomial as polynomial
from landscape.nets import MLP as MLP
from landscape.nets import apply as apply
from landscape.nets import apply_masks as apply_masks
from landscape.nets import dense_masks as dense_masks
from landscape.nets import hidden_outputs as hidden_outputs
from landscape.nets import init as init
from landscape.nets import loss as loss
from landscape.nets import masks_from_weights as masks_from_weights
from landscape.trials import TrainConfig as TrainConfig
from landscape.trials import TrialsResult as TrialsResult
from landscape.trials import keep_masked_zero as keep_masked_zero
from landscape.trials import train as train
