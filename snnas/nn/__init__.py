"""Spiking network building blocks: the op registry, cells, transformer blocks and `build_network`.

Importing this package registers every op in `OPS`; a network is built from an Architecture only
through `build_network` / `build_from_architecture`, so searches and exports share one code path.
"""

from snnas.nn import _conv_ops, _attention, _blocks  # noqa: F401, I001  (registers the ops, in this order)
from snnas.nn._attention import SDSA, SSA, QKChannelAttention, QKTokenAttention, attention_neuron
from snnas.nn._baseline import SpikingCNN, baseline_cnn
from snnas.nn._blocks import PatchEmbed, SpikingMLP, TransformerBlock
from snnas.nn._build import CELL_FIXED, TRANSFORMER_FIXED, build_from_architecture, build_network
from snnas.nn._cells import Cell, CellNetwork, Resample, cell_op, cell_op_neuron, check_cell, live_states
from snnas.nn._conv_ops import NeuronConv, SeqPool, Zero
from snnas.nn._dag import DagCell, DagDown, DagNetwork, check_dag
from snnas.nn._layers import (
    FactorizedReduce,
    SpikeMask,
    SpikingConv,
    SpikingLinear,
    seq_apply,
    upsample2x,
)
from snnas.nn._registry import DEFAULT_NEURON, OPS, OpRegistry, OpVariant, neuron_config, ops_of_kind, variant_neuron
from snnas.nn._transformer import SpikingTransformer
from snnas.space._names import ATTENTION_ALIASES  # re-exported: a word of the space language

__all__ = [
    "ATTENTION_ALIASES",
    "CELL_FIXED",
    "DEFAULT_NEURON",
    "OPS",
    "OpRegistry",
    "OpVariant",
    "SDSA",
    "SSA",
    "TRANSFORMER_FIXED",
    "Cell",
    "CellNetwork",
    "DagCell",
    "DagDown",
    "DagNetwork",
    "FactorizedReduce",
    "NeuronConv",
    "PatchEmbed",
    "QKChannelAttention",
    "QKTokenAttention",
    "Resample",
    "SeqPool",
    "SpikeMask",
    "SpikingCNN",
    "SpikingConv",
    "SpikingLinear",
    "SpikingMLP",
    "SpikingTransformer",
    "TransformerBlock",
    "Zero",
    "attention_neuron",
    "baseline_cnn",
    "build_from_architecture",
    "build_network",
    "cell_op",
    "cell_op_neuron",
    "check_cell",
    "check_dag",
    "live_states",
    "neuron_config",
    "ops_of_kind",
    "seq_apply",
    "upsample2x",
    "variant_neuron",
]
