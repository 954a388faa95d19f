"""SpikeDHS cell networks: one searched cell repeated along a resolution trellis.

A layer works at resolution level ``l`` (1/2**l of the stem's size) with ``C_l = C_stem * 2**l``
channels per node. Its two inputs, the outputs of the two previous layers, may live at other
levels, so each is first resampled by spiking 1x1 convs (factorized reduce per level down, conv
then nearest upsampling per level up). Upsampling after the conv-BN-neuron is the same function as
before it (all three are pointwise and BN statistics are unchanged by pixel replication), costs a
quarter of the work per level, and keeps the result a spike tensor for the energy counter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from snnas.errors import SpaceError, UnknownNameError
from snnas.nn._layers import FactorizedReduce, SpikingConv, upsample2x
from snnas.nn._registry import OPS, ops_of_kind

Node = Sequence[tuple[int, str]]


def cell_op(name: str) -> Any:
    """The constructor of the cell op ``name``; unknown or non-cell names list the valid ones."""
    if name not in ops_of_kind("cell"):
        raise UnknownNameError("cell op", name, ops_of_kind("cell"))
    return OPS.get(name)


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


class Cell(nn.Module):
    """One layer: preprocess both inputs, then each node sums its edges' ops; output = concat of
    the last ``multiplier`` nodes (``multiplier * channels`` channels)."""

    def __init__(self, nodes: Sequence[Node], channels: int, in0: tuple[int, int],
                 in1: tuple[int, int], level: int, neuron: dict[str, Any] | None = None,
                 multiplier: int | None = None):
        super().__init__()
        self.nodes = tuple(tuple((int(s), str(op)) for s, op in node) for node in nodes)
        for j, node in enumerate(self.nodes):
            if not node:
                raise SpaceError(f"cell node {j} has no incoming edge")
            for src, _ in node:
                if not 0 <= src < 2 + j:
                    raise SpaceError(f"cell node {j}: edge source {src} is not one of 0..{1 + j} "
                                     "(the two cell inputs and earlier nodes)")
        self.multiplier = len(self.nodes) if multiplier is None else int(multiplier)
        if not 1 <= self.multiplier <= len(self.nodes):
            raise SpaceError(f"multiplier {self.multiplier} must be in 1..{len(self.nodes)} (nodes)")
        self.channels, self.level = channels, level
        self.pre0 = Resample(in0[0], channels, in0[1], level, neuron)
        self.pre1 = Resample(in1[0], channels, in1[1], level, neuron)
        self.ops = nn.ModuleList(
            nn.ModuleList(cell_op(op)(channels, channels, 1, neuron) for _, op in node)
            for node in self.nodes)

    @property
    def out_channels(self) -> int:
        return self.multiplier * self.channels

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        states = [self.pre0(s0, size), self.pre1(s1, size)]
        for node, ops in zip(self.nodes, self.ops, strict=True):
            out = ops[0](states[node[0][0]])
            for (src, _), op in zip(node[1:], ops[1:], strict=True):
                out = out + op(states[src])
            states.append(out)
        return torch.cat(states[-self.multiplier:], dim=2)


class CellNetwork(nn.Module):
    """Stem, ``len(trellis)`` cells, then global average pool -> linear -> mean over T.

    ``neurons[i]`` is the neuron config of every neuron in layer i (the stem uses layer 0's).
    Takes ``[T, B, C, H, W]``, returns ``[B, num_classes]``.
    """

    def __init__(self, in_channels: int, num_classes: int, cell: Sequence[Node],
                 trellis: Sequence[int], stem_channels: int, neurons: Sequence[dict[str, Any]],
                 multiplier: int | None = None, stem: str = "conv_3x3", stem_stride: int = 1):
        super().__init__()
        if len(neurons) != len(trellis) or not trellis:
            raise SpaceError(f"need one neuron per cell layer: {len(trellis)} layers, "
                             f"{len(neurons)} neurons")
        self.trellis = tuple(int(t) for t in trellis)
        self.stem = cell_op(stem)(in_channels, stem_channels, stem_stride, neurons[0])
        prev = [(stem_channels, 0), (stem_channels, 0)]
        cells = []
        for level, neuron in zip(self.trellis, neurons, strict=True):
            c = Cell(cell, stem_channels * 2 ** level, prev[0], prev[1], level, neuron, multiplier)
            cells.append(c)
            prev = [prev[1], (c.out_channels, level)]
        self.cells = nn.ModuleList(cells)
        self.head = nn.Linear(prev[1][0], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stem(x)
        sizes = [tuple(s.shape[-2:])]
        for _ in range(max(self.trellis)):
            h, w = sizes[-1]
            sizes.append((math.ceil(h / 2), math.ceil(w / 2)))
        s0 = s1 = s
        for cell, level in zip(self.cells, self.trellis, strict=True):
            s0, s1 = s1, cell(s0, s1, sizes[level])
        return self.head(s1.mean(dim=(-2, -1))).mean(0)
