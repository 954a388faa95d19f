"""The expected energy of a cell supernet, differentiable in its architecture weights.

`SupernetEnergy.measure` runs the supernet once (eval mode, no grad) on a batch, captures what every
candidate op, resampling, stem and head receives, and counts each one alone on that input with the
exact energy counter (``snnas.evaluate.count_energy``, input marked as events: a supernet state is an
expected spike count). Each part's rows are priced once (mJ per sample). `expected` then weighs them,
differentiably, by the probability that the derived network contains the part:

- op k on edge (j, src) of the cell at (layer i, level s): ``P_i(s) * live_i * softmax(alpha)[e, k]``
- a resampling of input 0/1 from level a: ``P_i(s) * live_i * reads_0/1 * P(a | s)``
- the stem always, the head of level h with ``P_{L-1}(h)``

where ``P_i`` are the trellis marginals, ``reads_0/1`` the probability that the cell reads that input
and ``live_i`` that layer i's output is read at all (the discrete network skips what nothing reads).
With one-hot weights this is exactly ``count_energy(build_network(derived))`` on the same batch; as
training goes, `measure` is called again so the firing rates follow the weights. With partial
channels (PC-DARTS) each candidate is counted on its C/K channels and scaled to full width (`_widen`).
A hybrid supernet (the space lists ``ann``) is counted twice, every layer spiking and every layer
non-spiking; a part then costs ``P(spiking) E_spiking + P(ann) E_ann`` of the layer that produces its
input (edges: their own layer; resamplings: the layer they read; the head: the last one). Exact at
one-hot gates for uniform networks; a spiking layer after an ann one is priced at the firing rates
of the all-spiking pass.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn

from snnas.evaluate import EnergyCounter, get_hardware
from snnas.evaluate._energy_rows import price_rows
from snnas.nn._registry import OPS
from snnas.spiking import BaseNeuron
from snnas.supernet._net import CellSupernet, MixedEdge, MixedResample
from snnas.supernet._paths import input_weights, marginals


def _widen(edge: MixedEdge, k: int) -> float:
    """From a partial-channel (PC-DARTS) candidate's energy to its full-width op's: a conv (an op
    ending in a neuron) has K times the input events and K times the output channels, a per-channel
    op (pool, skip) K times the channels. Exact for K = 1; an estimate otherwise (the events of the
    seen channels stand for the others')."""
    K = edge.partial
    return float(K * K if k in edge.spiking else K)


class SupernetEnergy:
    """Priced parts of one supernet (see the module doc); ``hardware`` is a profile name or object."""

    def __init__(self, net: CellSupernet, hardware: Any = "45nm-fp32"):
        self.net, self.hardware = net, get_hardware(hardware)
        self.stem_mj = 0.0
        # each [modes, ...]: one row, or two for a hybrid supernet (every layer spiking / non-spiking)
        self.ops: dict[tuple[int, int, int], torch.Tensor] = {}     # (layer, level, edge) -> [modes, K] mJ
        self.pre: dict[tuple[int, int, int], torch.Tensor] = {}     # (layer, level, input) -> [modes, sources]
        self.heads: dict[int, torch.Tensor] = {}   # level -> [modes] mJ
        self.measured = False

    @torch.no_grad()
    def measure(self, x_seq: torch.Tensor, input_is_spike: bool = False) -> None:
        """Count every part on what it receives when the supernet runs on ``x_seq`` ``[T, B, ...]``
        (one counting pass: the parts run one by one on their captured inputs). A hybrid supernet
        is counted twice, every layer spiking and every layer non-spiking (inputs dense: MACs)."""
        net = self.net
        modes = (0, 1) if net.gamma is not None else (0,)
        counts = [self._count(x_seq, input_is_spike, mode) for mode in modes]
        self.stem_mj = counts[0]["stem"]

        def rows(names: list[str]) -> torch.Tensor:
            return torch.tensor([[mj.get(n, 0.0) for n in names] for mj in counts])

        for i, row in enumerate(net.cells):
            for key, cell in row.items():
                base, lv = f"cells.{i}.{key}", int(key)
                for j, node_ops in enumerate(cell.ops):
                    for src, edge in enumerate(node_ops):
                        scale = torch.tensor([_widen(edge, k) for k in range(len(edge.ops))])
                        self.ops[(i, lv, edge.index)] = scale * rows(
                            [f"{base}.ops.{j}.{src}.ops.{k}" for k in range(len(edge.ops))])
                for n, pre in enumerate((cell.pre0, cell.pre1)):
                    self.pre[(i, lv, n)] = rows([f"{base}.pre{n}.resample.{a}" for a in range(len(pre.resample))])
        self.heads = {h: rows([f"heads.{h}"])[:, 0] for h in net.head_levels}
        self.measured = True

    def _count(self, x_seq: torch.Tensor, input_is_spike: bool, kind: int) -> dict[str, float]:
        """mJ per sample of every part (by name) with every layer's neurons of ``kind`` (0 spiking,
        1 non-spiking)."""
        net = self.net
        spikes = kind != 1  # what a part inside the cells receives: spikes, or dense ReLU outputs
        seen: dict[nn.Module, tuple] = {}
        hooks = [m.register_forward_pre_hook(lambda mod, args: seen.__setitem__(mod, args))
                 for m in net.modules() if isinstance(m, (MixedEdge, MixedResample, nn.Linear))]
        neurons = [m for m in net.modules() if isinstance(m, BaseNeuron)] if not spikes else []
        was, skipping = net.training, net.skip_unused
        net.eval()
        net.force_kind = kind
        net.skip_unused = False  # every part must run once to be captured, weighed or not
        parts: list[tuple[str, Any, torch.Tensor, bool]] = [("stem", net.stem, x_seq, input_is_spike)]
        counter = EnergyCounter(net)
        try:
            for m in neurons:  # ReLU outputs are no events: their consumers are MACs
                m.is_spiking = False
            net(x_seq)
            for i, row in enumerate(net.cells):
                for key, cell in row.items():
                    base = f"cells.{i}.{key}"
                    for j, node_ops in enumerate(cell.ops):
                        for src, edge in enumerate(node_ops):
                            (x,) = seen[edge]
                            x = x[:, :, : x.shape[2] // edge.partial]
                            parts += [(f"{base}.ops.{j}.{src}.ops.{k}", op, x, spikes)
                                      for k, op in enumerate(edge.ops) if k not in edge.silent]
                    for n, pre in enumerate((cell.pre0, cell.pre1)):
                        sources, size = seen[pre]
                        parts += [(f"{base}.pre{n}.resample.{a}", functools.partial(res, size=size), state, spikes)
                                  for a, ((_, state), res) in enumerate(zip(sources, pre.resample, strict=True))]
            # a flatten head reads the states themselves (events), a gap head their spatial means
            parts += [(f"heads.{h}", net.heads[str(h)], seen[net.heads[str(h)]][0], net.flatten and spikes)
                      for h in net.head_levels]
            counter.attach()
            with counter:
                for _, part, x, spike in parts:
                    if spike:
                        counter.mark(x)
                    part(x)
            counter.samples = x_seq.shape[1]
        finally:
            for h in hooks:
                h.remove()
            for m in neurons:
                del m.is_spiking
            counter.detach_hooks()
            net.force_kind = None
            net.skip_unused = skipping
            net.train(was)
        rows = counter.report(self.hardware).rows
        return {name: float(price_rows([r for r in rows if r.module == name or r.module.startswith(name + ".")],
                                       self.hardware)[2]) for name, *_ in parts}

    def expected(self) -> torch.Tensor:
        """Expected energy per sample in mJ under the current architecture weights (a scalar
        tensor with gradients to alpha and beta)."""
        if not self.measured:
            raise RuntimeError("call measure() first")
        net = self.net
        w = net.edge_weights()
        reads = torch.tensor([0.0 if not OPS.meta(op).get("reads_input", True) else 1.0 for op in net.spec.ops],
                             device=w.device)
        read_e = w @ reads  # per edge: probability that it reads its source
        src = torch.tensor([s for _, s in net.edges], device=w.device)
        r0, r1 = (1 - torch.prod(1 - read_e[src == n]) for n in (0, 1))
        reads_in = [r0, r1 + (1 - r0) * (1 - r1)]  # a cell reading neither keeps input 1 (shapes)
        qs = net.table.matrices(net.move_probabilities())
        ps = marginals(qs)
        L = net.spec.layers
        live: list[torch.Tensor] = [torch.ones((), device=w.device)] * L
        for i in range(L - 2, -1, -1):
            not1 = 1 - live[i + 1] * reads_in[1]
            not0 = 1 - live[i + 2] * reads_in[0] if i + 2 < L else torch.ones((), device=w.device)
            live[i] = 1 - not1 * not0
        pk = net.kind_probabilities()

        def mix(t: torch.Tensor, layer: int) -> torch.Tensor:
            """A part's energy under layer ``layer``'s kind probabilities (rows: spiking, ann)."""
            t = t.to(w.device)
            return t[0] if t.shape[0] == 1 else pk[layer] @ t

        total = torch.tensor(self.stem_mj, device=w.device)
        for i, row in enumerate(net.cells):
            w_in = input_weights(qs, ps, i)
            for key in row:
                lv = int(key)
                p = ps[i + 1][lv] * live[i]
                cell_mj = 0.0
                for e in range(len(net.edges)):
                    cell_mj = cell_mj + (w[e] * mix(self.ops[(i, lv, e)], i)).sum()
                for n in (0, 1):
                    levels = net.sources[i][lv][n]
                    cond = torch.stack([w_in[n][a, lv] for a in levels])
                    src_layer = max(i - 2 + n, 0)  # the stem's neurons are layer 0's
                    cell_mj = cell_mj + reads_in[n] * (cond * mix(self.pre[(i, lv, n)], src_layer)).sum()
                total = total + p * cell_mj
        for h in net.head_levels:
            total = total + ps[-1][h] * mix(self.heads[h][:, None], L - 1)[0]
        return total

    def state(self) -> dict[str, Any]:
        """Plain data for a checkpoint (`load_state` restores it)."""
        return {"stem": self.stem_mj, "ops": {f"{k[0]},{k[1]},{k[2]}": v.tolist() for k, v in self.ops.items()},
                "pre": {f"{k[0]},{k[1]},{k[2]}": v.tolist() for k, v in self.pre.items()},
                "heads": {str(h): v.tolist() for h, v in self.heads.items()}, "measured": self.measured}

    def load_state(self, d: dict[str, Any]) -> None:
        def key(s: str) -> tuple[int, int, int]:
            a, b, c = (int(v) for v in s.split(","))
            return a, b, c

        self.stem_mj = float(d["stem"])
        def rows(v: list) -> torch.Tensor:
            t = torch.tensor(v, dtype=torch.float32)
            return t[None] if t.dim() == 1 else t

        self.ops = {key(k): rows(v) for k, v in d["ops"].items()}
        self.pre = {key(k): rows(v) for k, v in d["pre"].items()}
        self.heads = {int(h): torch.tensor(v, dtype=torch.float32).reshape(-1) for h, v in d["heads"].items()}
        self.measured = bool(d["measured"])
