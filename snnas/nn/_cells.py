"""SpikeDHS cell networks: one searched cell repeated along a resolution trellis.

A layer works at resolution level ``l`` (1/2**l of the stem's size) with ``C_l = C_stem * 2**l``
channels per node. Its two inputs, the outputs of the two previous layers, may live at other
levels, so each is first resampled by spiking 1x1 convs (factorized reduce per level down, conv
then nearest upsampling per level up). Upsampling after the conv-BN-neuron is the same function as
before it (all three are pointwise and BN statistics are unchanged by pixel replication), costs a
quarter of the work per level, and keeps the result a spike tensor for the energy counter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from snnas.errors import SpaceError, UnknownNameError
from snnas.nn._layers import FactorizedReduce, SpikingConv, upsample2x
from snnas.nn._registry import OPS, ops_of_kind, variant_neuron

Node = Sequence[tuple[int, str]]


def cell_op(name: str) -> Any:
    """The constructor of the cell op ``name``, or of an op variant ``conv_3x3{width:5}`` (the base
    op with its neuron's settings changed, see ``OPS``); unknown or non-cell names list the valid ones."""
    base, _ = OPS.split(name)
    if base not in ops_of_kind("cell"):
        raise UnknownNameError("cell op", base, ops_of_kind("cell"))
    return OPS.get(name)


def cell_op_neuron(name: str, neuron: dict[str, Any] | None) -> dict[str, Any]:
    """The neuron config the cell op ``name`` gives its neuron in a layer whose config is ``neuron``:
    the layer's, changed by an op variant's parameters (``conv_3x3{width:5}``). Ops on one supernet
    edge whose configs differ cannot share one neuron."""
    return variant_neuron(neuron, OPS.split(name)[1])


class Resample(nn.Module):
    """Spiking 1x1 resampling of a state from one trellis level (and width) to another."""

    def __init__(self, c_in: int, c_out: int, from_level: int, to_level: int,
                 neuron: dict[str, Any] | None = None):
        super().__init__()
        down = max(0, to_level - from_level)
        self.up = max(0, from_level - to_level)
        if down:
            layers = [FactorizedReduce(c_in if i == 0 else c_out, c_out, neuron) for i in range(down)]
        else:
            layers = [SpikingConv(c_in, c_out, 1, neuron=neuron)]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        x = self.layers(x)
        for _ in range(self.up):
            x = upsample2x(x)
        return x[..., : size[0], : size[1]] if self.up else x


def live_states(nodes: Sequence[Node], multiplier: int) -> set[int]:
    """Indices of the cell states (0, 1 = inputs, 2 + j = node j) that can affect the cell output.

    Edges whose op does not read its input (meta ``reads_input=False``: ``zero``) do not make their
    source live. Dead states are never computed, so a sampled cell that ignores an input or leaves
    a node unused costs no energy for it and leaves no parameters without gradients. If only zero
    ops read the inputs, input 1 is kept as the shape reference of their zeros.
    """
    n = len(nodes)
    live = set(range(2 + n - multiplier, 2 + n))
    for j in reversed(range(n)):
        if 2 + j in live:
            live.update(src for src, op in nodes[j]
                        if op not in OPS or OPS.meta(op).get("reads_input", True))
    if not live & {0, 1}:
        live.add(1)
    return live


Genotype = tuple[tuple[tuple[int, str], ...], ...]


def check_cell(nodes: Sequence[Node], multiplier: int | None, ops: bool = True) -> tuple[Genotype, int]:
    """Validate a cell genotype; returns it as nested tuples and the resolved multiplier.
    ``ops=False`` checks the structure only (a supernet's edges are not registry ops)."""
    cell = tuple(tuple((int(s), str(op)) for s, op in node) for node in nodes)
    if not cell:
        raise SpaceError("a cell needs at least one node")
    for j, node in enumerate(cell):
        if not node:
            raise SpaceError(f"cell node {j} has no incoming edge")
        for src, op in node:
            if ops:
                cell_op(op)
            if not 0 <= src < 2 + j:
                raise SpaceError(f"cell node {j}: edge source {src} is not one of 0..{1 + j} "
                                 "(the two cell inputs and earlier nodes)")
    mult = len(cell) if multiplier is None else int(multiplier)
    if not 1 <= mult <= len(cell):
        raise SpaceError(f"multiplier {mult} must be in 1..{len(cell)} (nodes)")
    return cell, mult


EdgeFactory = Callable[[int, int, str], nn.Module]
"""``edge(node, source, op) -> Module`` on ``[T, B, C, H, W]``: what sits on one cell edge."""
PreFactory = Callable[[int, Any], nn.Module]
"""``pre(input, spec) -> Module`` called ``module(x, size)``: preprocesses cell input 0 or 1."""


class Cell(nn.Module):
    """One layer: preprocess both inputs, then each node sums its edges' ops; output = concat of
    the last ``multiplier`` nodes (``multiplier * channels`` channels). Only live states (see
    `live_states`) are built and computed; ``reads`` says which of the two inputs are used.

    ``in0``/``in1`` are the inputs' (channels, level). ``edge`` and ``pre`` build the edge ops and
    the input preprocessing; the defaults are the discrete network's (the registry op named on the
    edge, a `Resample` of the input). A supernet passes its mixed edges and mixed resamplings
    instead, with whatever ``in0``/``in1`` specs its ``pre`` understands.
    """

    def __init__(self, nodes: Sequence[Node], channels: int, in0: Any, in1: Any, level: int,
                 neuron: dict[str, Any] | None = None, multiplier: int | None = None,
                 edge: EdgeFactory | None = None, pre: PreFactory | None = None):
        super().__init__()
        self.nodes, self.multiplier = check_cell(nodes, multiplier, ops=edge is None)
        self.channels, self.level = channels, level
        if edge is None:
            def edge(_j: int, _src: int, op: str) -> nn.Module:
                return cell_op(op)(channels, channels, 1, neuron)
        if pre is None:
            def pre(_i: int, spec: tuple[int, int]) -> nn.Module:
                return Resample(spec[0], channels, spec[1], level, neuron)
        live = live_states(self.nodes, self.multiplier)
        self.reads = (0 in live, 1 in live)
        self.pre0 = pre(0, in0) if self.reads[0] else None
        self.pre1 = pre(1, in1) if self.reads[1] else None
        self.ops = nn.ModuleList(
            nn.ModuleList(edge(j, src, op) for src, op in node) if 2 + j in live else nn.ModuleList()
            for j, node in enumerate(self.nodes))

    @property
    def out_channels(self) -> int:
        return self.multiplier * self.channels

    def forward(self, s0: torch.Tensor | None, s1: torch.Tensor | None,
                size: tuple[int, int]) -> torch.Tensor:
        states: list[torch.Tensor | None] = [
            self.pre0(s0, size) if self.pre0 is not None else None,
            self.pre1(s1, size) if self.pre1 is not None else None]
        ref = states[0] if states[0] is not None else states[1]
        for node, ops in zip(self.nodes, self.ops, strict=True):
            out = None
            for (src, _), op in zip(node, ops, strict=False):  # dead node: no ops, stays None
                x = states[src]
                y = op(ref if x is None else x)  # x is None only for ops that ignore it (zero)
                out = y if out is None else out + y
            states.append(out)
        return torch.cat(states[-self.multiplier:], dim=2)


HEADS = ("gap", "flatten")
"""What a cell network's classifier reads: the last state averaged over H, W, or all of it."""


def level_size(input_size: Sequence[int], stem_stride: int, level: int) -> tuple[int, int]:
    """Height and width at trellis ``level`` (ceil halvings, as every stride-2 op gives)."""
    h, w = (-(-int(v) // int(stem_stride)) for v in input_size)
    for _ in range(level):
        h, w = (h + 1) // 2, (w + 1) // 2
    return h, w


class CellNetwork(nn.Module):
    """Stem, ``len(trellis)`` cells, then the head (``gap``: average over H, W; ``flatten``: every
    position) -> linear -> mean over T.

    ``neurons[i]`` is the neuron config of every neuron in layer i (the stem uses layer 0's).
    A layer whose output no later layer reads (the same cell ignores one of its inputs) is not
    built (an ``nn.Identity`` placeholder keeps layer indices) and not computed.
    Takes ``[T, B, C, H, W]``, returns ``[B, num_classes]``.
    """

    def __init__(self, in_channels: int, num_classes: int, cell: Sequence[Node],
                 trellis: Sequence[int], stem_channels: int, neurons: Sequence[dict[str, Any]],
                 multiplier: int | None = None, stem: str = "conv_3x3", stem_stride: int = 1,
                 head: str = "gap", input_size: tuple[int, int] | None = None):
        super().__init__()
        if head not in HEADS:
            raise SpaceError(f"unknown cell head '{head}'; valid: {', '.join(HEADS)}", path="head")
        if head == "flatten" and input_size is None:
            raise SpaceError("a flatten head needs the input size", path="head")
        if len(neurons) != len(trellis) or not trellis:
            raise SpaceError(f"need one neuron per cell layer: {len(trellis)} layers, "
                             f"{len(neurons)} neurons")
        self.trellis = tuple(int(t) for t in trellis)
        self.stem = cell_op(stem)(in_channels, stem_channels, stem_stride, neurons[0])
        cell, mult = check_cell(cell, multiplier)
        states = live_states(cell, mult)
        n = len(self.trellis)
        live = [False] * n
        for i in reversed(range(n)):
            live[i] = (i == n - 1 or (live[i + 1] and 1 in states)
                       or (i + 2 < n and live[i + 2] and 0 in states))
        self.live = tuple(live)
        prev = [(stem_channels, 0), (stem_channels, 0)]
        cells: list[nn.Module] = []
        for level, neuron, is_live in zip(self.trellis, neurons, self.live, strict=True):
            width = stem_channels * 2 ** level
            cells.append(Cell(cell, width, prev[0], prev[1], level, neuron, mult)
                         if is_live else nn.Identity())
            prev = [prev[1], (mult * width, level)]
        self.cells = nn.ModuleList(cells)
        self.flatten = head == "flatten"
        features = prev[1][0]
        if self.flatten:
            h, w = level_size(input_size, stem_stride, self.trellis[-1])
            features *= h * w
        self.head = nn.Linear(features, num_classes)

    def forward(self, x):  # unannotated: torch.fx would copy the hints into exported source
        s = self.stem(x)
        sizes = [(s.shape[-2], s.shape[-1])]
        for _ in range(max(self.trellis)):
            h, w = sizes[-1]
            sizes.append(((h + 1) // 2, (w + 1) // 2))  # ceil: what every stride-2 op gives
        s0, s1 = s, s
        for cell, level, is_live in zip(self.cells, self.trellis, self.live, strict=True):
            s0, s1 = s1, (cell(s0, s1, sizes[level]) if is_live else None)
        return self.head(s1.flatten(2) if self.flatten else s1.mean(dim=(-2, -1))).mean(0)
