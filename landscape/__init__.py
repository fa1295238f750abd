"""landscape: loss landscapes of sparse (masked) neural networks, in JAX.

Everything public is re-exported here; modules hold the details (``landscape.trials``,
``landscape.theory``, ...). ``landscape.plot`` and the experiments are imported on demand
(they pull in matplotlib).
"""

__version__ = "0.1.0"

from landscape.activations import ACTIVATIONS as ACTIVATIONS
from landscape.activations import get_activation as get_activation
from landscape.activations import polynomial as polynomial
from landscape.nets import apply as apply
from landscape.nets import apply_masks as apply_masks
from landscape.nets import dense_masks as dense_masks
from landscape.nets import hidden_outputs as hidden_outputs
from landscape.nets import init as init
from landscape.nets import loss as loss
from landscape.nets import masks_from_weights as masks_from_weights
from landscape.nets import MLP as MLP
from landscape.trials import keep_masked_zero as keep_masked_zero
from landscape.trials import train as train
from landscape.trials import TrainConfig as TrainConfig
from landscape.trials import TrialsResult as TrialsResult
from landscape.masks import check_chain as check_chain
from landscape.masks import from_flax as from_flax
from landscape.masks import layer_rates as layer_rates
from landscape.masks import magnitude_masks as magnitude_masks
from landscape.masks import overparameterized_patterns as overparameterized_patterns
from landscape.masks import pattern_decomposition as pattern_decomposition
from landscape.masks import random_masks as random_masks
from landscape.masks import to_flax as to_flax
from landscape.structure import check_theorems as check_theorems
from landscape.structure import compact as compact
from landscape.structure import effective_masks as effective_masks
from landscape.structure import effective_neurons as effective_neurons
from landscape.structure import is_effective as is_effective
from landscape.structure import network_class as network_class
from landscape.structure import structure_report as structure_report
from landscape.structure import StructureReport as StructureReport
from landscape.conditions import assumption1 as assumption1
from landscape.conditions import assumption2 as assumption2
from landscape.conditions import Check as Check
from landscape.conditions import Condition as Condition
from landscape.conditions import dim_star as dim_star
from landscape.conditions import dim_star_evidence as dim_star_evidence
from landscape.conditions import DimStar as DimStar
from landscape.conditions import monomial_count as monomial_count
from landscape.conditions import polynomial_features as polynomial_features
from landscape.conditions import polynomial_lift as polynomial_lift
from landscape.conditions import numerical_rank as numerical_rank
from landscape.conditions import rank_check as rank_check
from landscape.conditions import remark2 as remark2
from landscape.conditions import theorem1_conditions as theorem1_conditions
from landscape.conditions import theorem2_conditions as theorem2_conditions
from landscape.conditions import theorem3_conditions as theorem3_conditions
from landscape.conditions import theorem4_conditions as theorem4_conditions
from landscape.conditions import theorem5_conditions as theorem5_conditions
from landscape.conditions import theorem6_conditions as theorem6_conditions
from landscape.data import cifar10 as cifar10
from landscape.data import digits as digits
from landscape.data import least_squares_loss as least_squares_loss
from landscape.data import synthetic as synthetic
from landscape.ranks import hidden_ranks as hidden_ranks
from landscape.ranks import stable_rank as stable_rank
from landscape.ranks import train_with_ranks as train_with_ranks
from landscape.theory import better_point as better_point
from landscape.theory import certify_valley as certify_valley
from landscape.theory import invert_activation as invert_activation
from landscape.theory import Theorem6 as Theorem6
from landscape.theory import theorem6_certificate as theorem6_certificate
from landscape.theory import theorem6_global_min as theorem6_global_min
from landscape.theory import theorem6_labels as theorem6_labels
from landscape.theory import valley_point as valley_point
from landscape.theory import ValleyCertificate as ValleyCertificate
from landscape.theory import Theorem6Certificate as Theorem6Certificate
from landscape.verdicts import Evidence as Evidence
from landscape.verdicts import Judgement as Judgement
from landscape.bounds import enclose as enclose
from landscape.bounds import Enclosure as Enclosure
from landscape.evaluate import default_batch_size as default_batch_size
from landscape.evaluate import evaluate_points as evaluate_points
from landscape.evaluate import Evaluator as Evaluator
from landscape.evaluate import evaluator as evaluator
from landscape.evaluate import map_points as map_points
from landscape.paths import Bezier as Bezier
from landscape.paths import from_points as from_points
from landscape.paths import loss_along as loss_along
from landscape.paths import Path as Path
from landscape.paths import Polyline as Polyline
from landscape.paths import sample as sample_curve
from landscape.paths import PathReport as PathReport
from landscape.paths import verify as verify
from landscape.property_p import lemma1 as lemma1
from landscape.property_p import lemma2_path as lemma2_path
from landscape.property_p import property_p_path as property_p_path
from landscape.property_p import theorem1_path as theorem1_path
from landscape.property_p import theorem2_path as theorem2_path
from landscape.property_p import theorem3_path as theorem3_path
from landscape.property_p import theorem4_path as theorem4_path
from landscape.property_p import theorem5_path as theorem5_path
from landscape.property_p import verified_path as verified_path
from landscape.connectivity import barrier_matrix as barrier_matrix
from landscape.connectivity import BarrierMatrix as BarrierMatrix
from landscape.connectivity import bezier_path as bezier_path
from landscape.connectivity import chain_path as chain_path
from landscape.connectivity import connect as connect
from landscape.connectivity import elastic_band as elastic_band
from landscape.connectivity import linear_path as linear_path
from landscape.connectivity import minimum_spanning_tree as minimum_spanning_tree
from landscape.connectivity import PathResult as PathResult
from landscape.connectivity import ProbeConfig as ProbeConfig
from landscape.curvature import classify_critical_point as classify_critical_point
from landscape.curvature import Objective as Objective
from landscape.curvature import CriticalPoint as CriticalPoint
from landscape.curvature import free_space as free_space
from landscape.curvature import FreeSpace as FreeSpace
from landscape.curvature import hessian as hessian
from landscape.curvature import hutchinson_trace as hutchinson_trace
from landscape.curvature import hvp as hvp
from landscape.curvature import lanczos as lanczos
from landscape.curvature import lanczos_extremes as lanczos_extremes
from landscape.curvature import masked_objective as masked_objective
from landscape.curvature import spectral_density as spectral_density
from landscape.solutions import group_solutions as group_solutions
from landscape.solutions import label_solutions as label_solutions
from landscape.solutions import Solutions as Solutions
from landscape import slices as slices
from landscape import distributed as distributed
from landscape.slices import evaluate as evaluate_grid
from landscape.slices import Grid as Grid
from landscape.slices import line_through as line_through
from landscape.slices import make_plane as make_plane
from landscape.slices import pca_plane as pca_plane
from landscape.slices import Plane as Plane
from landscape.slices import plane_through as plane_through
from landscape.slices import random_direction as random_direction
from landscape.slices import random_plane as random_plane

from landscape.atlas import AtlasConfig as AtlasConfig
from landscape.atlas import AtlasResult as AtlasResult
from landscape.atlas import Contradiction as Contradiction
from landscape.atlas import Enumeration as Enumeration
from landscape.atlas import Structure as Structure
from landscape.atlas import StructureResult as StructureResult
from landscape.atlas import data_symmetries as data_symmetries
from landscape.atlas import enumerate_structures as enumerate_structures
from landscape.atlas import run_atlas as run_atlas
from landscape.atlas import symmetry_group as symmetry_group
__all__ = [
    "ACTIVATIONS",
    "get_activation",
    "polynomial",
    "apply",
    "apply_masks",
    "dense_masks",
    "hidden_outputs",
    "init",
    "loss",
    "masks_from_weights",
    "MLP",
    "keep_masked_zero",
    "train",
    "TrainConfig",
    "TrialsResult",
    "check_chain",
    "from_flax",
    "layer_rates",
    "magnitude_masks",
    "overparameterized_patterns",
    "pattern_decomposition",
    "random_masks",
    "to_flax",
    "check_theorems",
    "compact",
    "effective_masks",
    "effective_neurons",
    "is_effective",
    "network_class",
    "structure_report",
    "StructureReport",
    "assumption1",
    "assumption2",
    "Check",
    "Condition",
    "dim_star",
    "dim_star_evidence",
    "DimStar",
    "monomial_count",
    "polynomial_features",
    "polynomial_lift",
    "numerical_rank",
    "rank_check",
    "remark2",
    "theorem1_conditions",
    "theorem2_conditions",
    "theorem3_conditions",
    "theorem4_conditions",
    "theorem5_conditions",
    "theorem6_conditions",
    "cifar10",
    "digits",
    "least_squares_loss",
    "synthetic",
    "hidden_ranks",
    "stable_rank",
    "train_with_ranks",
    "better_point",
    "certify_valley",
    "invert_activation",
    "Theorem6",
    "theorem6_certificate",
    "theorem6_global_min",
    "theorem6_labels",
    "valley_point",
    "ValleyCertificate",
    "Theorem6Certificate",
    "Evidence",
    "Judgement",
    "enclose",
    "Enclosure",
    "Objective",
    "default_batch_size",
    "evaluate_points",
    "Evaluator",
    "evaluator",
    "map_points",
    "Bezier",
    "from_points",
    "loss_along",
    "Path",
    "Polyline",
    "sample_curve",
    "PathReport",
    "verify",
    "lemma1",
    "lemma2_path",
    "property_p_path",
    "theorem1_path",
    "theorem2_path",
    "theorem3_path",
    "theorem4_path",
    "theorem5_path",
    "verified_path",
    "barrier_matrix",
    "BarrierMatrix",
    "bezier_path",
    "chain_path",
    "connect",
    "elastic_band",
    "linear_path",
    "minimum_spanning_tree",
    "PathResult",
    "ProbeConfig",
    "classify_critical_point",
    "CriticalPoint",
    "free_space",
    "FreeSpace",
    "hessian",
    "hutchinson_trace",
    "hvp",
    "lanczos",
    "lanczos_extremes",
    "masked_objective",
    "spectral_density",
    "group_solutions",
    "label_solutions",
    "Solutions",
    "slices",
    "distributed",
    "evaluate_grid",
    "Grid",
    "line_through",
    "make_plane",
    "pca_plane",
    "Plane",
    "plane_through",
    "random_direction",
    "random_plane",
    "AtlasConfig",
    "AtlasResult",
    "Contradiction",
    "Enumeration",
    "Structure",
    "StructureResult",
    "data_symmetries",
    "enumerate_structures",
    "run_atlas",
    "symmetry_group",
]
