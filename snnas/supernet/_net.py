"""The SpikeDHS cell supernet: mixed edges, a resolution trellis of cells, one head per level.

Every cell (layer i, level s of the trellis) is an ``snnas.nn.Cell`` whose edges are `MixedEdge`s
(node j reads every earlier state) and whose two inputs are `MixedResample`s over the levels the
previous layers may be at. The candidate ops are built by the registry constructors the discrete
network uses; a mixed edge sums the bodies of its candidates that end in a neuron, weighted by
softmax(alpha), into one neuron (per distinct neuron config), and adds the weighted outputs of the
others (skip, pools; ``zero`` adds nothing). With one-hot weights the supernet therefore computes
exactly what ``build_network`` of the derived architecture computes, weights copied by
`CellSupernet.subnet_state`.

Architecture parameters: ``alpha`` ``[edges, ops]`` shared by every cell (the same cell is used at
every layer), ``beta`` ``[layers, levels, moves]`` over the trellis (`MoveTable`), per-layer neuron
time constants (PLIF ``w``, shared by every neuron of a layer, clamped to the space's bounds) and
surrogate widths (moved by DGS, see ``_dgs``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from snnas.errors import SpaceError
from snnas.nn._cells import Cell, Resample, cell_op, level_size
from snnas.nn._layers import SpikingConv, split_neuron
from snnas.nn._registry import OPS
from snnas.space._architecture import Architecture, NeuronSpec
from snnas.spiking import BaseNeuron, PLIFNode, Surrogate
from snnas.supernet._paths import MoveTable, input_weights, marginals

MIXED = "mixed"
"""The op name a supernet cell puts on every edge (its edge factory builds a `MixedEdge`)."""


class _Current:
    """What one forward of the supernet uses: edge weights ``[E, K]``, per-layer input weights and
    level marginals. A plain object (not a module), shared by reference with every edge."""

    edges: torch.Tensor
    inputs: list[tuple[torch.Tensor, torch.Tensor]]
    marginals: list[torch.Tensor]
    kinds: torch.Tensor | None = None  # [layers, 2]: P(spiking), P(ann) per layer (hybrid gate)
    active: _Active | None = None
    """What a fixed ``override`` weighs (None: run everything, as under softmax weights)."""


@dataclass(frozen=True)
class _Active:
    """The parts a fixed override gives non-zero weight: per edge row the candidate indices, per
    layer the trellis levels, the head levels. Everything else contributes exact zeros."""

    edges: tuple[frozenset[int], ...]
    levels: tuple[frozenset[int], ...]
    heads: frozenset[int]


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """PC-DARTS' channel shuffle on ``[T, B, C, H, W]``: interleave ``groups`` blocks of channels."""
    t, b, c, h, w = x.shape
    return x.view(t, b, groups, c // groups, h, w).transpose(2, 3).reshape(t, b, c, h, w)


def _bn_factor(bn: nn.BatchNorm2d) -> float:
    """What ``nn.BatchNorm2d.forward`` (and ``SpikingConv.scaled_bn``) does to ``bn``'s buffers
    before a training-mode batch norm: counts the batch, returns the running-average factor."""
    factor = 0.0 if bn.momentum is None else bn.momentum
    if bn.track_running_stats and bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
        factor = 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum
    return factor


_CHUNK_BYTES = 2 << 20
"""`_RecomputeBodies` runs its convolutions on slices of the batch of about this many input bytes:
oneDNN's reorder buffers and scratch then take a slice's size instead of a few activations'."""


def _chunks(n: int, row_bytes: int) -> list[slice]:
    step = max(1, _CHUNK_BYTES // max(1, row_bytes))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def _conv(conv: nn.Conv2d, z: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``conv``'s convolution of ``z`` by ``weight``, slice by slice of the batch (the same values:
    each sample's output depends on that sample alone, and the kernels are chosen per shape)."""
    parts = _chunks(z.shape[0], z[:1].numel() * z.element_size())
    out = None
    for sl in parts:
        c = F.conv2d(z[sl], weight, None, conv.stride, conv.padding, conv.dilation, conv.groups)
        if len(parts) == 1:
            return c
        if out is None:
            out = c.new_empty((z.shape[0], *c.shape[1:]))
        out[sl] = c
        del c
    return out


class _RecomputeBodies(torch.autograd.Function):
    """``sum_k w_k bn_k(conv_k(x))`` over spiking convs without a pool (training-mode BN, ``w_k``
    folded into the BN affine as `SpikingConv.scaled_bn` does), saving for backward only ``x``
    (alive anyway), the parameters and each BN's batch mean and inverse std (``C`` floats): backward
    reruns ``conv_k(x)`` (no module call, so no hooks, and no BN forward, so the running statistics
    are updated once, in forward) and applies BN's and the conv's backward kernels to it, one body
    at a time. The convolutions run on slices of the batch (`_CHUNK_BYTES`). Forward computes what
    `SpikingConv.body_scaled` summed in order computes, bit for bit (the same kernels), backward the
    same gradients up to float rounding (BN parameters bit for bit; a conv weight's gradient summed
    over the slices, ``x``'s and ``w_k``'s over the bodies in another order). ``z``: ``x`` as
    ``[T*B, C, H, W]``; ``params``: per body ``w_k``, conv weight, BN weight, BN bias. Not twice
    differentiable."""

    @staticmethod
    def forward(ctx, ops: tuple[SpikingConv, ...], z: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        u, stats = None, []
        for i, op in enumerate(ops):
            w, weight, gamma, beta = params[4 * i:4 * i + 4]
            bn = op.bn
            c = _conv(op.conv, z, weight)
            track = bn.track_running_stats
            y, mean, invstd = torch.ops.aten.native_batch_norm(
                c, w * gamma, w * beta, bn.running_mean if track else None,
                bn.running_var if track else None, True, _bn_factor(bn), bn.eps)
            del c
            stats += [mean, invstd]
            u = y if u is None else u.add_(y)
            del y
        ctx.ops = ops
        ctx.save_for_backward(z, *params, *stats)
        return u

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        z, *rest = ctx.saved_tensors
        n = len(ctx.ops)
        params, stats = rest[:4 * n], rest[4 * n:]
        need = ctx.needs_input_grad
        need_z = need[1]
        gz, grads = None, [None] * (4 * n)
        for i in reversed(range(n)):  # the order autograd runs the summed bodies' backward in
            op = ctx.ops[i]
            conv, bn = op.conv, op.bn
            w, weight, gamma, beta = params[4 * i:4 * i + 4]
            mean, invstd = stats[2 * i:2 * i + 2]
            n_w, n_k, n_g, n_b = need[2 + 4 * i:6 + 4 * i]
            n_c = need_z or n_k
            if not (n_c or n_w or n_g or n_b):
                continue
            c = _conv(conv, z, weight)
            gc, gws, gbs = torch.ops.aten.native_batch_norm_backward(
                grad, c, w * gamma, None, None, mean, invstd, True, bn.eps,
                [n_c, n_w or n_g, n_w or n_b])
            del c
            if n_w:  # d/dw of (w * gamma, w * beta)
                grads[4 * i] = (gws * gamma).sum() + (gbs * beta).sum()
            if n_g:
                grads[4 * i + 2] = gws * w
            if n_b:
                grads[4 * i + 3] = gbs * w
            del gws, gbs
            if not n_c:
                continue
            first = gz is None
            if need_z and first:
                gz = torch.empty(z.shape, dtype=z.dtype, device=z.device)
            gk = None
            for sl in _chunks(z.shape[0], z[:1].numel() * z.element_size()):
                gi, gks, _ = torch.ops.aten.convolution_backward(
                    gc[sl], z[sl], weight, None, conv.stride, conv.padding, conv.dilation, False,
                    [0, 0], conv.groups, [need_z, n_k, False])
                if need_z and first:
                    gz[sl].copy_(gi)
                elif need_z:
                    gz[sl].add_(gi)
                if n_k:
                    gk = gks if gk is None else gk.add_(gks)
                del gi, gks
            grads[4 * i + 1] = gk
            del gc
        return None, gz, *grads


class MixedEdge(nn.Module):
    """One cell edge over candidate ops: ``sum_k w_k op_k(x)`` with the neuron-ending candidates
    combined before their neuron, ``neuron_g(sum_{k in g} w_k body_k(x))``, one neuron per group ``g``
    of candidates whose neurons are configured alike (a group's neuron is its first member's own
    neuron; op variants with another surrogate width form their own group).

    ``partial`` K > 1 is PC-DARTS' partial-channel connection: the candidates see the first C/K
    channels only (built C/K wide), the other channels pass through unchanged, and the result is
    channel-shuffled so the next edge mixes another part. It cuts the mixed edge's memory and time by
    about K; the supernet then no longer equals a discrete network, which is always built full width.

    Memory: autograd keeps little per candidate. A body with ``body_scaled`` (spiking convs) gets
    ``w_k`` folded into its BN affine, so only its BN input is saved (``w_k * body_k(x)`` would also
    keep the BN output for the gradient of ``w_k``). With ``recompute_bodies`` (the default), a
    group's plain spiking convs (conv -> BN, no pool) are summed in training by `_RecomputeBodies`,
    which saves not even the BN inputs: only ``x`` and per-channel batch statistics; it reruns each
    conv in backward (the edge's forward + backward then takes about 1.2x as long with SpikeDHS'
    three convs, see scripts/bench_supernet.py), runs its convolutions on slices of the batch
    (oneDNN's scratch then stays small) and updates the BN running statistics once, in forward. A
    candidate without parameters or buffers (pools) is mixed by `_RecomputeScaled`, which saves
    nothing but ``x`` and ``w_k`` and recomputes ``op_k(x)`` in backward; skip's ``w_k * x`` keeps
    only ``x``, which is alive anyway. A group's neuron keeps its membrane trace. Forward drops its
    temporaries as soon as they are summed and adds into its own partial sums in place. Same values
    (bit for bit at one-hot weights, and with or without ``recompute_bodies``), gradients (up to
    float rounding) and BN running statistics as the plain ``sum_k w_k op_k(x)`` with the
    neuron-ending bodies summed before the neuron."""

    class _RecomputeScaled(torch.autograd.Function):
        """``w * op(x)`` for a scalar ``w`` and an ``op`` without parameters or buffers: saves ``x``
        and ``w`` only and reruns ``op(x)`` in backward (exact, no side effects) for the gradients
        of ``w`` and ``x``, instead of saving ``op(x)`` (so forward hooks on ``op`` run again in
        backward). Not twice differentiable."""

        @staticmethod
        def forward(ctx, op: nn.Module, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
            ctx.op = op
            ctx.save_for_backward(x, w)
            y = op(x)
            fresh = y.untyped_storage().data_ptr() != x.untyped_storage().data_ptr()
            # a fresh tensor that is no view (detach: not of op's own intermediate, e.g. an
            # unflatten), so that MixedEdge may add to it in place
            return y.mul_(w).detach() if fresh and y.shape == torch.broadcast_shapes(y.shape, w.shape) else w * y

        @staticmethod
        @torch.autograd.function.once_differentiable
        def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
            x, w = ctx.saved_tensors
            need_x, need_w = ctx.needs_input_grad[1], ctx.needs_input_grad[2]
            with torch.enable_grad():
                xd = x.detach().requires_grad_(need_x)
                y = ctx.op(xd)
            gx = torch.autograd.grad(y, xd, grad * w)[0] if need_x else None
            gw = None
            if need_w:  # y is free once x's gradient is out: reuse its memory for grad * y
                y = y.detach()
                fresh = y.untyped_storage().data_ptr() != x.untyped_storage().data_ptr()
                gw = (y.mul_(grad) if fresh and y.shape == grad.shape else y * grad).sum()
            return None, gx, gw

    def __init__(self, index: int, ops: Sequence[str], channels: int, neuron: dict[str, Any],
                 current: _Current, partial: int = 1, recompute_bodies: bool = True):
        super().__init__()
        if partial < 1 or channels % partial:
            raise SpaceError(f"K = {partial} must be >= 1 and divide every edge's channels ({channels} here)",
                             path="search.partial_channels")
        self.index, self.names, self.partial = index, tuple(ops), int(partial)
        width = channels // self.partial
        self.ops = nn.ModuleList(cell_op(op)(width, width, 1, neuron) for op in ops)
        self.silent = tuple(k for k, op in enumerate(ops) if not OPS.meta(op).get("reads_input", True))
        groups: dict[str, list[int]] = {}
        for k, m in enumerate(self.ops):
            n = split_neuron(m)
            if n is not None and k not in self.silent:
                groups.setdefault(repr(n), []).append(k)
        self.groups = tuple(tuple(g) for g in groups.values())
        self.spiking = tuple(k for g in self.groups for k in g)
        self.recompute = tuple(
            k for k, m in enumerate(self.ops) if k not in self.silent and k not in self.spiking
            and not isinstance(m, nn.Identity) and next(m.parameters(), None) is None
            and next(m.buffers(), None) is None)
        """Candidates mixed by `_RecomputeScaled` (pools: no parameters, no buffers)."""
        self.recompute_bodies = bool(recompute_bodies)
        """Sum the plain spiking convs' bodies of a group with `_RecomputeBodies` in training."""
        self._current = current

    def _recomputable(self, k: int) -> bool:
        """Whether candidate k's body is conv -> training-mode BN as `_RecomputeBodies` computes it:
        a `SpikingConv` without pool, a plain zero-padded conv without bias or hooks, an affine BN."""
        op = self.ops[k]
        if not (self.recompute_bodies and type(op) is SpikingConv and op.pool is None):
            return False
        conv, bn = op.conv, op.bn
        return (type(conv) is nn.Conv2d and conv.bias is None and conv.padding_mode == "zeros"
                and not isinstance(conv.padding, str) and not (conv._forward_hooks or conv._forward_pre_hooks)
                and bn.training and bn.weight is not None and bn.bias is not None)

    @staticmethod
    def _add(acc: torch.Tensor | None, own: bool, t: torch.Tensor, t_own: bool = False) -> tuple[torch.Tensor, bool]:
        """``acc + t`` and whether the result is ours to add to in place: a sum made here or a
        `_RecomputeScaled` output (``own``, ``t_own``), never another op's output, which autograd
        may have saved. Adding in place saves an allocation."""
        if acc is None:
            return t, t_own
        if own:
            return acc.add_(t), True
        return (t.add_(acc) if t_own else acc + t), True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self._current.edges[self.index]
        active = self._current.active
        keep = None if active is None else active.edges[self.index]
        rest = None
        if self.partial > 1:
            c = x.shape[2] // self.partial
            x, rest = x[:, :, :c], x[:, :, c:]
        out, own = None, False
        # the others first: backward runs last-made first, so theirs then runs after the convs' is
        # done and their saved tensors are freed
        for k, op in enumerate(self.ops):
            if k in self.silent or k in self.spiking or (keep is not None and k not in keep):
                continue
            if k in self.recompute:
                out, own = self._add(out, own, self._RecomputeScaled.apply(op, x, w[k]), True)
            else:
                out, own = self._add(out, own, w[k] * op(x))
        for g in self.groups:
            if keep is not None:
                g = tuple(k for k in g if k in keep)
                if not g:
                    continue
            u, u_own = None, False
            fused = [k for k in g if self._recomputable(k)] if torch.is_grad_enabled() else []
            if fused:  # one autograd node for these bodies: it saves x and BN statistics only
                params = [t for k in fused for t in (w[k], self.ops[k].conv.weight, self.ops[k].bn.weight,
                                                     self.ops[k].bn.bias)]
                ops = tuple(self.ops[k] for k in fused)
                u, u_own = _RecomputeBodies.apply(ops, x.flatten(0, 1), *params).unflatten(0, x.shape[:2]), True
            for k in g:
                if k in fused:
                    continue
                op = self.ops[k]
                b = op.body_scaled(x, w[k]) if hasattr(op, "body_scaled") else w[k] * op.body(x)
                u, u_own = self._add(u, u_own, b)
                del b
            s = split_neuron(self.ops[g[0]])(u)
            del u
            out, own = self._add(out, own, s)
            del s
        if out is None:  # only silent candidates (or, under an override, none weighed)
            out = self.ops[0](x) if keep is None else torch.zeros_like(x)
        if rest is not None:
            out = channel_shuffle(torch.cat([out, rest], dim=2), self.partial)
        return out


class MixedResample(nn.Module):
    """A cell input as the weighted sum of the resampled states of the levels it may come from."""

    def __init__(self, sources: Sequence[tuple[int, int]], channels: int, level: int,
                 neuron: dict[str, Any]):
        super().__init__()
        self.levels = tuple(lv for _, lv in sources)
        self.resample = nn.ModuleList(Resample(c, channels, lv, level, neuron) for c, lv in sources)

    def forward(self, x: Sequence[tuple[torch.Tensor, torch.Tensor | None]], size: tuple[int, int]) -> torch.Tensor:
        """``x``: (weight, state) per source level; a None state (a level the supernet skipped
        under an override, whose weight is zero) is left out."""
        out = None
        for (w, state), res in zip(x, self.resample, strict=True):
            if state is None:
                continue
            y = w * res(state, size)
            out = y if out is None else out + y
        return out


@dataclass(frozen=True)
class SupernetSpec:
    """Everything a cell supernet is built from (plain values; `supernet_spec` reads a space)."""

    in_channels: int
    num_classes: int
    ops: tuple[str, ...]
    nodes: int
    edges_per_node: int
    layers: int
    n_levels: int
    moves: tuple[int, ...]
    heads: tuple[int, ...]
    stem_channels: int
    time_steps: int
    neurons: tuple[NeuronSpec, ...]
    multiplier: int | None = None
    stem: str = "conv_3x3"
    stem_stride: int = 1
    tau_bounds: tuple[float, float] | None = None
    """Learn one tau per layer within these bounds (None: tau is fixed)."""
    shared_neuron: bool = False
    partial_channels: int = 1
    """PC-DARTS' K: each mixed edge runs its candidates on 1/K of the channels (`MixedEdge`)."""
    recompute_bodies: bool = True
    """Mixed edges recompute their spiking convs in backward instead of saving their outputs
    (`MixedEdge`, `_RecomputeBodies`): same values and gradients, less memory, more time."""
    head: str = "gap"
    input_size: tuple[int, int] | None = None
    """Input height and width (a ``flatten`` head's width depends on it)."""
    hybrid: bool = False
    """Gate every layer between its spiking neurons and non-spiking ones (ReLU, the ``ann`` kind)."""


def edge_list(nodes: int) -> list[tuple[int, int]]:
    """(node, source) of every supernet edge, in alpha's row order."""
    return [(j, src) for j in range(nodes) for src in range(2 + j)]


def _tau_w(tau: float) -> float:
    return -math.log(tau - 1.0)  # PLIF: 1 / tau = sigmoid(w)


class CellSupernet(nn.Module):
    """Takes ``[T, B, C, H, W]``, returns logits ``[B, num_classes]`` (mean over T)."""

    def __init__(self, spec: SupernetSpec):
        super().__init__()
        from snnas.space._trellis import Trellis

        self.spec = spec
        self.trellis = Trellis(spec.n_levels, spec.moves, spec.heads, spec.layers)
        self.table = MoveTable(self.trellis)
        self.edges = edge_list(spec.nodes)
        self.alpha = nn.Parameter(1e-3 * torch.randn(len(self.edges), len(spec.ops)))
        self.beta = nn.Parameter(1e-3 * torch.randn(self.table.mask.shape))
        self._current = _Current()
        self.override: dict[str, torch.Tensor] | None = None
        """Fixed weights instead of softmax(alpha) / softmax(beta): ``{"edges", "moves"}``."""
        self.skip_unused = True
        """Under an ``override``, run only what it weighs: the non-zero candidates of each edge, the
        cells of the levels the trellis weights reach, their heads (others add exact zeros, so the
        values are the same). At ``one_hot(arch)`` that is ``arch``'s path alone, the cost of one
        discrete network; untaken ops get no gradient (None, so Adam leaves them alone) and no BN
        update: single-path training. `SupernetEnergy` turns it off to capture every part."""
        learn = spec.tau_bounds is not None
        n_tau = (1 if spec.shared_neuron else spec.layers) if learn else 0
        self.tau_w = nn.ParameterList(
            nn.Parameter(torch.tensor(_tau_w(spec.neurons[i].tau or 2.0))) for i in range(n_tau))
        configs = [self._config(i) for i in range(spec.layers)]
        C, mult_n = spec.stem_channels, spec.multiplier or spec.nodes
        self.stem = cell_op(spec.stem)(spec.in_channels, C, spec.stem_stride, configs[0])
        cell_nodes = [[(src, MIXED) for src in range(2 + j)] for j in range(spec.nodes)]
        index = {e: n for n, e in enumerate(self.edges)}
        out_ch = {lv: mult_n * C * 2 ** lv for lv in range(spec.n_levels)}
        states: list[list[int]] = [[0], [0]]  # levels of layers i-2, i-1 (the stem at first)
        channels = [{0: C}, {0: C}]
        self.cells = nn.ModuleList()
        self.sources: list[dict[int, tuple[list[int], list[int]]]] = []
        for i in range(spec.layers):
            row, srcs = nn.ModuleDict(), {}
            for s in self.table.reachable[i]:
                width = C * 2 ** s
                from1 = [lv for lv in states[1] if s - lv in self.trellis.feasible(i, lv)]
                from0 = states[0] if i < 2 else [
                    a for a in states[0]
                    if any(b - a in self.trellis.feasible(i - 1, a) and s - b in self.trellis.feasible(i, b)
                           for b in states[1])]
                cfg = configs[i]

                def edge(j: int, src: int, _op: str, width=width, cfg=cfg) -> nn.Module:
                    return MixedEdge(index[(j, src)], spec.ops, width, cfg, self._current, spec.partial_channels,
                                     spec.recompute_bodies)

                def pre(k: int, levels: list[int], width=width, s=s, cfg=cfg, ch=channels) -> nn.Module:
                    return MixedResample([(ch[k][lv], lv) for lv in levels], width, s, cfg)

                row[str(s)] = Cell(cell_nodes, width, from0, from1, s, cfg, spec.multiplier, edge=edge, pre=pre)
                srcs[s] = (from0, from1)
            self.cells.append(row)
            self.sources.append(srcs)
            states = [states[1], self.table.reachable[i]]
            channels = [channels[1], {lv: out_ch[lv] for lv in self.table.reachable[i]}]
        self.head_levels = [h for h in self.table.reachable[-1] if h in self.trellis.heads]
        self.flatten = spec.head == "flatten"
        area = {h: math.prod(level_size(spec.input_size, spec.stem_stride, h)) if self.flatten else 1
                for h in self.head_levels}
        self.heads = nn.ModuleDict({str(h): nn.Linear(out_ch[h] * area[h], spec.num_classes)
                                    for h in self.head_levels})
        self._tie_neurons()
        self.gamma = None
        """Hybrid gate logits ``[gates, 2]`` (spiking, ann): one per layer, or one shared."""
        self.force_kind: int | None = None
        """0 / 1: run every layer spiking / non-spiking whatever the gate says (energy measurement)."""
        if spec.hybrid:
            self.gamma = nn.Parameter(1e-3 * torch.randn(1 if spec.shared_neuron else spec.layers, 2))
            for i in range(spec.layers):
                for mod in self.layer_modules(i):
                    for m in mod.modules():
                        if isinstance(m, BaseNeuron):
                            m.register_forward_hook(functools.partial(self._gate, i))

    def _gate(self, layer: int, module: nn.Module, args: tuple, out: torch.Tensor) -> torch.Tensor:
        """A hybrid layer's neuron: ``P(spiking) * spikes + P(ann) * relu(input)`` (exactly one of
        them at one-hot gates: what ``build_network`` builds for a ``lif`` or an ``ann`` layer)."""
        p = self._current.kinds[layer]
        return p[0] * out + p[1] * torch.relu(args[0])

    # ---- neurons ----------------------------------------------------------------------------
    def _config(self, i: int) -> dict[str, Any]:
        n = self.spec.neurons[i]
        if self.spec.tau_bounds is not None:  # learned: PLIF whose w is tied per layer below
            n = replace(n, kind="plif", learn_tau=True)
        return n.to_config(self.spec.time_steps)

    def layer_modules(self, i: int) -> list[nn.Module]:
        """The modules whose neurons belong to layer i (the stem belongs to layer 0)."""
        mods: list[nn.Module] = list(self.cells[i].values())
        return [self.stem, *mods] if i == 0 else mods

    def _tie_neurons(self) -> None:
        if not len(self.tau_w):
            return
        for i in range(self.spec.layers):
            w = self.tau_w[0 if self.spec.shared_neuron else i]
            for mod in self.layer_modules(i):
                for m in mod.modules():
                    if isinstance(m, PLIFNode):
                        m.w = w

    def clamp_tau(self) -> None:
        """Keep every learned tau inside the space's bounds (called after each optimizer step)."""
        if self.spec.tau_bounds is None:
            return
        lo, hi = self.spec.tau_bounds
        with torch.no_grad():
            for w in self.tau_w:  # tau = 1 + exp(-w): larger w, smaller tau
                w.clamp_(_tau_w(hi), _tau_w(lo))

    def taus(self) -> list[float | None]:
        """The time constant of each layer (learned or fixed)."""
        if not len(self.tau_w):
            return [n.tau for n in self.spec.neurons]
        return [float(1.0 / torch.sigmoid(self.tau_w[0 if self.spec.shared_neuron else i].detach()))
                for i in range(self.spec.layers)]

    def surrogates(self, i: int) -> list[Surrogate]:
        return [m for mod in self.layer_modules(i) for m in mod.modules() if isinstance(m, Surrogate)]

    def widths(self) -> list[float | None]:
        """The surrogate width of each layer (what DGS moves)."""
        out = []
        for i in range(self.spec.layers):
            s = self.surrogates(i)
            out.append(s[0].alpha if s else None)
        return out

    def set_width(self, i: int, width: float) -> None:
        for s in self.surrogates(i):
            s.set_alpha(width)

    # ---- architecture weights -----------------------------------------------------------------
    def weight_parameters(self) -> list[nn.Parameter]:
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def arch_parameters(self) -> list[nn.Parameter]:
        return [self.alpha, self.beta] + ([self.gamma] if self.gamma is not None else [])

    def kind_probabilities(self) -> torch.Tensor:
        """``[layers, 2]``: per layer the probability of spiking neurons and of non-spiking ones
        (``[1, 0]`` everywhere for a supernet without the hybrid gate)."""
        L = self.spec.layers
        if self.force_kind is not None or self.gamma is None:
            k = 0 if self.force_kind is None else self.force_kind
            return torch.eye(2, device=self.alpha.device)[k].expand(L, 2)
        if self.override is not None and "kinds" in self.override:
            return self.override["kinds"]
        return torch.softmax(self.gamma, dim=-1).expand(L, 2)

    def edge_weights(self) -> torch.Tensor:
        if self.override is not None:
            return self.override["edges"]
        return torch.softmax(self.alpha, dim=-1)

    def move_probabilities(self) -> torch.Tensor:
        if self.override is not None:
            return self.override["moves"]
        return self.table.probabilities(self.beta)

    def refresh(self) -> _Current:
        """Compute this forward's weights (edges, input weights, level marginals)."""
        cur = self._current
        cur.edges = self.edge_weights()
        qs = self.table.matrices(self.move_probabilities())
        cur.marginals = marginals(qs)
        cur.inputs = [input_weights(qs, cur.marginals, i) for i in range(self.spec.layers)]
        cur.kinds = self.kind_probabilities() if self.gamma is not None else None
        cur.active = None
        if self.override is not None and self.skip_unused:
            nz = (cur.edges != 0).cpu().tolist()
            levels = [(p != 0).cpu().tolist() for p in cur.marginals[1:]]
            cur.active = _Active(
                edges=tuple(frozenset(k for k, on in enumerate(row) if on) for row in nz),
                levels=tuple(frozenset(lv for lv, on in enumerate(row) if on) for row in levels),
                heads=frozenset(h for h in self.head_levels if levels[-1][h]))
        return cur

    def one_hot(self, arch: Architecture) -> dict[str, torch.Tensor]:
        """The fixed weights under which this supernet computes ``arch`` (its cell and trellis)."""
        edges = torch.zeros(len(self.edges), len(self.spec.ops))
        row = {e: n for n, e in enumerate(self.edges)}
        for j, node in enumerate(arch.cell or ()):
            for src, op in node:
                edges[row[(j, src)], self.spec.ops.index(op)] = 1.0
        out = {"edges": edges, "moves": self.table.one_hot(tuple(arch.trellis or ()))}
        if self.gamma is not None:
            out["kinds"] = torch.tensor([[0.0, 1.0] if n.kind == "ann" else [1.0, 0.0] for n in arch.neurons])
        return out

    # ---- forward ----------------------------------------------------------------------------
    def forward(self, x):
        cur = self.refresh()
        s = self.stem(x)
        sizes = [(s.shape[-2], s.shape[-1])]
        for _ in range(self.spec.n_levels - 1):
            h, w = sizes[-1]
            sizes.append(((h + 1) // 2, (w + 1) // 2))
        prev: list[dict[int, torch.Tensor]] = [{0: s}, {0: s}]
        act = cur.active
        for i, row in enumerate(self.cells):
            w0, w1 = cur.inputs[i]
            out = {}
            for key, cell in row.items():
                lv = int(key)
                if act is not None and lv not in act.levels[i]:
                    continue
                from0, from1 = self.sources[i][lv]
                in0 = [(w0[a, lv], prev[0].get(a)) for a in from0]
                in1 = [(w1[b, lv], prev[1].get(b)) for b in from1]
                out[lv] = cell(in0, in1, sizes[lv])
            prev = [prev[1], out]
        p_last = cur.marginals[-1]
        logits = None
        for h in self.head_levels:
            if act is not None and h not in act.heads:
                continue
            s = prev[1][h]
            y = p_last[h] * self.heads[str(h)](s.flatten(2) if self.flatten else s.mean(dim=(-2, -1))).mean(0)
            logits = y if logits is None else logits + y
        return logits

    # ---- a derived network's weights ----------------------------------------------------------
    def subnet_keys(self, arch: Architecture, model: nn.Module) -> dict[str, str]:
        """For every state-dict key of ``model = build_network(space, arch)``, the key of this
        supernet's state dict it is taken from (the path's cells, the chosen ops, the shared
        neurons, the head). Structure only: works on a supernet and a model on the meta device. A
        neuron key may name a tensor the supernet lacks (a PLIF's ``w`` under a LIF supernet)."""
        if self.spec.partial_channels > 1:
            raise ValueError("a partial-channel supernet (K > 1) holds C/K-wide ops: train the derived "
                             "network from scratch instead of inheriting its weights")
        out: dict[str, str] = {}
        target = list(model.state_dict().keys())

        def take(dst_prefix: str, src_prefix: str) -> None:
            for k in target:
                if k.startswith(dst_prefix):
                    out[k] = src_prefix + k[len(dst_prefix):]

        take("stem.", "stem.")
        levels = list(arch.trellis or ())
        prev = [0, 0]
        for i, lv in enumerate(levels):
            if not model.live[i]:
                prev = [prev[1], lv]
                continue
            base = f"cells.{i}.{lv}."
            from0, from1 = self.sources[i][lv]
            take(f"cells.{i}.pre0.layers.", f"{base}pre0.resample.{from0.index(prev[0])}.layers.")
            take(f"cells.{i}.pre1.layers.", f"{base}pre1.resample.{from1.index(prev[1])}.layers.")
            for j, node in enumerate(arch.cell or ()):
                for k, (src, op) in enumerate(node):
                    edge = f"{base}ops.{j}.{src}."
                    op_i = self.spec.ops.index(op)
                    mixed = self.get_submodule(f"cells.{i}.{lv}.ops.{j}.{src}")
                    group = next((g for g in mixed.groups if op_i in g), (op_i,))
                    take(f"cells.{i}.ops.{j}.{k}.neuron.", f"{edge}ops.{group[0]}.neuron.")
                    p = f"cells.{i}.ops.{j}.{k}."
                    for key in target:
                        if key.startswith(p) and not key.startswith(p + "neuron."):
                            out[key] = f"{edge}ops.{op_i}.{key[len(p):]}"
            prev = [prev[1], lv]
        take("head.", f"heads.{levels[-1]}.")
        missing = sorted(set(target) - set(out))
        if missing:
            raise KeyError(f"no supernet weights for {', '.join(missing[:5])}")
        return out

    def subnet_state(self, arch: Architecture, model: nn.Module) -> dict[str, torch.Tensor]:
        """The state dict for ``model = build_network(space, arch)`` taken from this supernet's
        shared weights (`subnet_keys`)."""
        own = self.state_dict()
        keys = self.subnet_keys(arch, model)
        absent = [src for src in keys.values() if src not in own]
        if absent:
            raise KeyError(f"no supernet weights for {', '.join(absent[:5])}")
        return {k: own[src] for k, src in keys.items()}
