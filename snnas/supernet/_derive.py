"""From supernet weights to a discrete `Architecture` of the space, and from a space to a supernet.

Edges (DARTS' rule, with SpikeDHS's bug fixed): each node keeps the ``edges_per_node`` incoming
edges whose strongest op *other than* ``zero`` weighs most, and each kept edge takes that op; ``skip``
competes like any other op (the public SpikeDHS code skips it while ranking, its comment says
"none"). Trellis: the Viterbi path of the move probabilities. Neurons: each layer's learned tau
(snapped to the space's choices when it lists them) and surrogate width, everything else as the
space's first choice; where the space lists ``ann``, a layer whose hybrid gate favours the
non-spiking path (P > 0.5) becomes an ``ann`` layer.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import torch

from snnas.errors import SpaceError
from snnas.space._architecture import Architecture, NeuronSpec
from snnas.supernet._net import CellSupernet, SupernetSpec
from snnas.supernet._paths import viterbi


def derive_cell(weights: torch.Tensor, ops: tuple[str, ...], nodes: int,
                edges_per_node: int) -> tuple[tuple[tuple[int, str], ...], ...]:
    """The genotype of edge weights ``[edges, ops]`` (rows in `edge_list` order)."""
    usable = [k for k, op in enumerate(ops) if op != "zero"]
    if not usable:
        raise SpaceError("a cell needs at least one op other than 'zero'")
    w = weights.detach().cpu()
    cell, row = [], 0
    for j in range(nodes):
        n_src = 2 + j
        block = w[row:row + n_src][:, usable]
        row += n_src
        best_w, best_k = block.max(dim=1)
        order = sorted(range(n_src), key=lambda s: (-float(best_w[s]), s))[:edges_per_node]
        cell.append(tuple((s, ops[usable[int(best_k[s])]]) for s in sorted(order)))
    return tuple(cell)


def _nearest(value: float, choices: tuple) -> float:
    return min(choices, key=lambda c: (abs(float(c) - value), float(c)))


def supernet_spec(space: Any, time_steps: int | None = None, stem_channels: int | None = None) -> SupernetSpec:
    """The supernet of a cell space: the space's ops, nodes, trellis and neurons (first choices),
    at ``time_steps`` / ``stem_channels`` (default: the largest choice). Tau is learned per layer
    (shared when the space shares its neuron) when the space lists several values or says
    ``learnable``, within its bounds (the list's range)."""
    if space.family != "cell":
        raise SpaceError(f"the dhs supernet needs a cell space; '{space.name}' is {space.family}")
    if space.settings.get("topology", "darts") != "darts":
        raise SpaceError(f"the dhs supernet searches darts cells on a resolution trellis; '{space.name}' has "
                         f"cell.topology {space.settings['topology']} (use --strategy evolution or random)",
                         file=str(space.path) if space.path else None, path="cell.topology")
    f = space.settings
    base = space.decode([0] * space.n_genes)
    T = int(time_steps or max(space.choices("time_steps")))
    C = int(stem_channels or max(space.choices("stem_channels")))
    prefix = "neuron." if space.shared_neuron else "layer0.neuron."
    taus = space.choices(prefix + "tau")
    listed = space.choices(prefix + "kind")
    kinds = [k for k in listed if k != "ann"]
    if not kinds:
        raise SpaceError("the dhs supernet needs a spiking neuron kind (hybrids need one beside 'ann')")
    kind = "lif" if "lif" in kinds else kinds[0]
    bounds = space.tau_bounds or ((float(min(taus)), float(max(taus))) if len(taus) > 1 else None)
    uses_tau = kind in ("lif", "plif")
    neurons = []
    for n in base.neurons:
        tau0 = float(sorted(taus)[len(taus) // 2]) if uses_tau else None
        neurons.append(replace(n, kind=kind, tau=tau0, learn_tau=kind == "plif" or space.tau_learnable)
                       if uses_tau else replace(n, kind=kind))
    return SupernetSpec(
        in_channels=int(space.input_shape[0]), num_classes=int(space.num_classes),
        ops=tuple(f["ops"]),
        nodes=int(f["nodes"]), edges_per_node=int(f["edges_per_node"]), layers=int(f["layers"]),
        n_levels=int(f["n_levels"]), moves=tuple(f["transitions"]), heads=tuple(f["head_levels"]),
        stem_channels=C, time_steps=T, neurons=tuple(neurons), multiplier=space.fixed.get("multiplier"),
        stem=space.fixed.get("stem", "conv_3x3"), stem_stride=int(space.fixed.get("stem_stride", 1)),
        tau_bounds=bounds if uses_tau else None, shared_neuron=space.shared_neuron, hybrid="ann" in listed,
        head=str(space.fixed.get("head", "gap")), input_size=(int(space.input_shape[1]), int(space.input_shape[2])))


def derive(net: CellSupernet, space: Any) -> Architecture:
    """The discrete architecture of ``net``'s current weights, as a member of ``space``."""
    spec = net.spec
    cell = derive_cell(net.edge_weights(), spec.ops, spec.nodes, spec.edges_per_node)
    qs = net.table.matrices(net.move_probabilities().detach())
    trellis = viterbi(qs, net.trellis.heads)
    prefix = "neuron." if space.shared_neuron else "layer0.neuron."
    tau_choices = space.choices(prefix + "tau")
    ann = (net.kind_probabilities().detach()[:, 1] > 0.5).tolist()
    neurons: list[NeuronSpec] = []
    for n, tau, width, is_ann in zip(spec.neurons, net.taus(), net.widths(), ann, strict=True):
        if is_ann:  # the hybrid gate chose the non-spiking layer: a ReLU has no tau or surrogate
            neurons.append(NeuronSpec(kind="ann", tau=None))
            continue
        if n.tau is not None and tau is not None:
            tau = float(tau) if space.tau_learnable else float(_nearest(tau, tau_choices))
            n = replace(n, tau=_round(tau))
        if width is not None and n.alpha is not None:
            n = replace(n, alpha=_round(width))
        neurons.append(n)
    return Architecture(family="cell", time_steps=spec.time_steps, neurons=tuple(neurons), cell=cell,
                        trellis=trellis, stem_channels=spec.stem_channels)


def _round(x: float) -> float:
    """Learned values rounded to 4 significant digits: stable ids across tiny float noise."""
    return float(f"{x:.4g}") if math.isfinite(x) else x
