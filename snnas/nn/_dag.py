"""DAG cell networks (SNASNet, SpikeNAS-Bench): one searched DAG cell in a fixed macro layout.

A dag cell has nodes 0 .. n-1; node 0 is the cell input, node j sums ``op(i, j)(node i)`` over every
i < j, the output is the last node. Every edge carries one op of the space (``zero`` allowed), so
the cell's Architecture lists, for each node j >= 1, one edge from each earlier node.

The network around it is SpikeNAS-Bench's (Sun et al., IEEE TAI 2024; SNASNet's forward cell),
scaled by ``stem_channels`` C: a 3x3 conv + BN stem to C channels (no neuron: the cell's edges fire
it), then ``layers`` cells, cell i at ``C * 2**i`` channels and resolution 1/2**i; before each
later cell BN -> neuron -> 3x3 conv to twice the channels -> BN -> 2x2 average pool; after the
last cell BN -> neuron -> 2x2 average pool, a linear layer to ``8 * C`` (no bias), a neuron and a
linear layer to ``VOTES`` output neurons per class whose mean is the class score (the benchmark's
voting layer), averaged over T. At C = 128 on 3x32x32 with 2 layers this is the benchmark's
network, parameter for parameter (benchmark id 10000 has 17,917,668); the benchmark applies its
stem once to the static image, this network per time step (the same values for direct encoding).

Edges whose op ignores its input (``zero``) are not built and cost nothing. Every other edge is
built and computed, as the benchmark did, even where its node reaches no output; a node all of whose
edges are ``zero`` holds zeros (a `Zero` module, so the energy counter sees no events in it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from snnas.errors import SpaceError
from snnas.nn._cells import cell_op
from snnas.nn._conv_ops import Zero
from snnas.nn._layers import seq_apply
from snnas.nn._registry import OPS, neuron_config
from snnas.spiking import make_neuron

VOTES = 10
"""Output neurons per class (SpikeNAS-Bench's CIFAR-10 network: 100 outputs, mean per 10)."""

HIDDEN_PER_STEM_CHANNEL = 8
"""Width of the classifier's hidden layer per stem channel (1024 at 128)."""

DagNode = Sequence[tuple[int, str]]


def check_dag(nodes: Sequence[DagNode], ops: bool = True) -> tuple[tuple[tuple[int, str], ...], ...]:
    """Validate a dag cell (node j = 1 .. n-1 lists one edge from each of nodes 0 .. j-1); returns it
    as nested tuples with each node's edges sorted by source."""
    cell = tuple(tuple(sorted((int(s), str(op)) for s, op in node)) for node in nodes)
    if not cell:
        raise SpaceError("a dag cell needs at least one node after its input")
    for j, node in enumerate(cell, start=1):
        if [s for s, _ in node] != list(range(j)):
            raise SpaceError(f"dag cell node {j}: expected one edge from each of nodes {list(range(j))}, "
                             f"got sources {[s for s, _ in node]}")
        if ops:
            for _, op in node:
                cell_op(op)
    return cell


def _reads(op: str) -> bool:
    return bool(OPS.meta(op).get("reads_input", True))


class DagCell(nn.Module):
    """node 0 = the input; node j = the sum of its edges' ops on earlier nodes; output = the last node.
    Maps ``[T, B, C, H, W]`` to the same shape (every op runs at stride 1, C to C)."""

    def __init__(self, nodes: Sequence[DagNode], channels: int, neuron: dict[str, Any] | None = None):
        super().__init__()
        self.nodes = check_dag(nodes)
        self.channels = channels
        self.sources = tuple(tuple(s for s, op in node if _reads(op)) for node in self.nodes)
        self.edges = nn.ModuleList(
            nn.ModuleList(cell_op(op)(channels, channels, 1, neuron) for _, op in node if _reads(op))
            for node in self.nodes)
        self.empty = Zero(channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states = [x]
        for sources, ops in zip(self.sources, self.edges, strict=True):
            out = None
            for src, op in zip(sources, ops, strict=True):
                y = op(states[src])
                out = y if out is None else out + y
            states.append(self.empty(x) if out is None else out)
        return states[-1]


class DagDown(nn.Module):
    """Between two dag cells: BN -> neuron -> 3x3 conv to ``c_out`` -> BN -> 2x2 average pool."""

    def __init__(self, c_in: int, c_out: int, neuron: dict[str, Any] | None = None):
        super().__init__()
        self.bn_in = nn.BatchNorm2d(c_in)
        self.neuron = make_neuron(**neuron_config(neuron))
        self.conv = nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.pool = nn.AvgPool2d(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.neuron(seq_apply(self.bn_in, x))
        return self.pool(self.bn(self.conv(s.flatten(0, 1)))).unflatten(0, s.shape[:2])


class DagNetwork(nn.Module):
    """The SpikeNAS-Bench network of one dag cell (see the module docstring). ``neurons[i]`` is the
    neuron config of layer i: its cell's edges and the down block before it; the last layer's also
    drives the head. Takes ``[T, B, C, H, W]``, returns ``[B, num_classes]``."""

    def __init__(self, in_channels: int, num_classes: int, cell: Sequence[DagNode], layers: int,
                 stem_channels: int, neurons: Sequence[dict[str, Any]], stem_stride: int = 1,
                 input_size: tuple[int, int] = (32, 32)):
        super().__init__()
        if layers < 1 or len(neurons) != layers:
            raise SpaceError(f"need one neuron per cell layer: {layers} layers, {len(neurons)} neurons")
        C = int(stem_channels)
        self.num_classes = int(num_classes)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, stem_stride, 1, bias=False), nn.BatchNorm2d(C))
        h, w = (-(-int(v) // int(stem_stride)) for v in input_size)
        downs: list[nn.Module] = []
        cells: list[nn.Module] = []
        for i in range(layers):
            width = C * 2**i
            if i:
                downs.append(DagDown(width // 2, width, neurons[i]))
                h, w = h // 2, w // 2
            else:
                downs.append(nn.Identity())
            cells.append(DagCell(cell, width, neurons[i]))
        self.downs, self.cells = nn.ModuleList(downs), nn.ModuleList(cells)
        last = C * 2 ** (layers - 1)
        h, w = h // 2, w // 2
        if h < 1 or w < 1:
            raise SpaceError(f"input {tuple(input_size)} is too small for {layers} dag layer(s) and the "
                             "head's 2x2 pool", path="input_shape")
        self.last_bn = nn.BatchNorm2d(last)
        self.last_neuron = make_neuron(**neuron_config(neurons[-1]))
        self.pool = nn.AvgPool2d(2, 2)
        hidden = HIDDEN_PER_STEM_CHANNEL * C
        self.fc1 = nn.Linear(last * h * w, hidden, bias=False)
        self.fc_neuron = make_neuron(**neuron_config(neurons[-1]))
        self.fc2 = nn.Linear(hidden, VOTES * self.num_classes)

    def forward(self, x):  # unannotated: torch.fx would copy the hints into exported source
        s = seq_apply(self.stem, x)
        for down, cell in zip(self.downs, self.cells, strict=True):
            s = cell(down(s))
        s = seq_apply(self.pool, self.last_neuron(seq_apply(self.last_bn, s)))
        y = self.fc2(self.fc_neuron(self.fc1(s.flatten(2))))
        return y.unflatten(-1, (self.num_classes, VOTES)).mean(-1).mean(0)
