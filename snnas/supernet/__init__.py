"""Supernets: one network holding every candidate of a space, trained once, decoded into candidates.

``CellSupernet`` is the SpikeDHS supernet of a cell space (mixed edges over the space's ops, a
resolution trellis decoded by Viterbi, per-layer learned tau and DGS widths), ``SupernetEnergy`` its
differentiable expected energy, ``SupernetTrainer`` the bi-level training, ``derive`` the discrete
architecture of its weights. The ``dhs`` strategy (``snnas.search``) drives them.
``TransformerSupernet`` is the weight-entangled (Auto-Spikformer) supernet of a transformer space:
subnets are leading slices of its weights (``subnet_state_dict``, ``extract_subnet``), trained by
``SandwichTrainer`` and scored after ``recalibrate_subnet``. ``SinglePathTrainer`` trains the cell
supernet one-shot (uniform single paths, alpha and beta unused) and ``extract_cell_subnet`` builds a
cell architecture with its path's weights, scored the same way.
"""

from snnas.supernet._derive import derive, derive_cell, supernet_spec
from snnas.supernet._energy import SupernetEnergy
from snnas.supernet._entangled import (
    SandwichConfig,
    SandwichTrainer,
    TransformerSupernet,
    WeightSharingError,
    check_weight_sharing,
    extract_subnet,
    largest_architecture,
    recalibrate_subnet,
    smallest_architecture,
    subnet_state_dict,
)
from snnas.supernet._net import CellSupernet, MixedEdge, MixedResample, SupernetSpec, edge_list
from snnas.supernet._paths import MoveTable, input_weights, marginals, viterbi
from snnas.supernet._plot import plot_dynamics
from snnas.supernet._single_path import (
    SinglePathConfig,
    SinglePathTrainer,
    extract_cell_subnet,
    single_path_spec,
)
from snnas.supernet._train import DHSConfig, SupernetTrainer

__all__ = [
    "CellSupernet",
    "DHSConfig",
    "MixedEdge",
    "MixedResample",
    "MoveTable",
    "SandwichConfig",
    "SandwichTrainer",
    "SinglePathConfig",
    "SinglePathTrainer",
    "SupernetEnergy",
    "SupernetSpec",
    "SupernetTrainer",
    "TransformerSupernet",
    "WeightSharingError",
    "check_weight_sharing",
    "derive",
    "derive_cell",
    "edge_list",
    "extract_cell_subnet",
    "extract_subnet",
    "input_weights",
    "largest_architecture",
    "marginals",
    "plot_dynamics",
    "recalibrate_subnet",
    "single_path_spec",
    "smallest_architecture",
    "subnet_state_dict",
    "supernet_spec",
    "viterbi",
]
