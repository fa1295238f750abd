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
from landscape.theory import Theorem6 as Theorem6
from landscape.theory import ValleyCertificate as ValleyCertificate
from landscape.theory import assumption1 as assumption1
from landscape.theory import assumption2_orders as assumption2_orders
from landscape.theory import better_point as better_point
from landscape.theory import certify_valley as certify_valley
from landscape.theory import dim_star as dim_star
from landscape.theory import monomial_count as monomial_count
from landscape.theory import rank_check as rank_check
from landscape.theory import theorem6_global_min as theorem6_global_min
from landscape.theory import valley_point as valley_point
from landscape.paths import Path as Path
from landscape.paths import PathReport as PathReport
from landscape.paths import from_points as from_points
from landscape.paths import loss_along as loss_along
from landscape.paths import verify as verify
from landscape.property_p import lemma1 as lemma1
from landscape.property_p import lemma2_path as lemma2_path
from landscape.property_p import property_p_path as property_p_path
from landscape.property_p import theorem1_path as theorem1_path
from landscape.property_p import theorem4_path as theorem4_path
from landscape.property_p import verified_path as verified_path
