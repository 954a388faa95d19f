"""snnas's energy counts beside SpikingJelly's ``op_counter``, layer by layer.

One comparison serves the reference test (tests/evaluate/test_energy_vs_spikingjelly.py) and the
published table (scripts/energy_vs_spikingjelly.py). SpikingJelly (``SynOpCounter``,
``MACCounter``; BN and the neurons' own updates ignored, as snnas folds BN and counts synaptic
operations only) recognises spikes by their values, so a layer fed by sums of spikes (a cell node,
a residual) is compared with its weight-use rule applied to the spike counts (the count-weighted
rule). An attention module's own products are compared as its scope minus its conv/linear children.
Needs ``pip install --no-deps spikingjelly loguru``.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from snnas.evaluate import count_energy
from snnas.nn import baseline_cnn, build_network
from snnas.space import load_space
from snnas.spiking import BaseNeuron

ATTENTIONS = ("ssa", "sdsa", "qk_token", "qk_channel")
_COUNTED = (nn.Conv2d, nn.Linear)


def reference_networks() -> Iterator[tuple[str, nn.Module, int, tuple[int, ...]]]:
    """(name, model, T, input shape): 6 random digits cell networks, the digits transformer with
    every attention op, and the baseline CNN; weights seeded."""
    cells = load_space("digits")
    rng = np.random.default_rng(7)
    for i in range(6):
        arch = cells.sample(rng)
        torch.manual_seed(0)
        yield f"digits cell {i}", build_network(cells, arch), arch.time_steps, tuple(cells.input_shape)
    tf = load_space("digits_transformer")
    base = tf.sample(np.random.default_rng(0))
    for att in ATTENTIONS:
        arch = dataclasses.replace(base, attention=att, depth=2, neurons=base.neurons[:1] * 2)
        torch.manual_seed(0)
        yield f"transformer {att}", build_network(tf, arch), arch.time_steps, tuple(tf.input_shape)
    torch.manual_seed(0)
    yield "baseline CNN", baseline_cnn(), 4, (1, 8, 8)


def calibrate_bn(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """Give BN real running statistics (one cumulative pass), so deep layers fire as after training."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = None
    model.train()
    with torch.no_grad():
        model(x)
    return model.eval()


def _count_weighted(module: nn.Module, xs: list[torch.Tensor]) -> float:
    """SpikingJelly's spike-driven weight uses, applied to spike counts (each unit one event)."""
    from spikingjelly.activation_based.op_counter.neuromorphic_memory_access import (
        _spike_conv_weight_uses_from_tensors,
    )

    total = 0.0
    for x in xs:
        if not (torch.equal(x, x.round()) and x.min() >= 0):
            raise ValueError("a layer SpikingJelly prices as MAC and snnas as AC must be fed spike counts")
        if isinstance(module, nn.Conv2d):
            total += _spike_conv_weight_uses_from_tensors(x, module.weight, module.stride, module.padding,
                                                          module.dilation, module.groups)
        else:
            total += float(x.sum()) * module.out_features
    return total


def compare_with_spikingjelly(model: nn.Module, x: torch.Tensor) -> tuple[list[dict], tuple[float, float]]:
    """Per (layer, kind) rows, per sample: snnas's count (``coincidences`` for AC, SpikingJelly's
    rule; ``dense`` for MAC), SpikingJelly's, the rule used, and what the previous counter (dense x
    mean input) would have said; plus the SynOps and MACs SpikingJelly found outside those layers."""
    from spikingjelly.activation_based import op_counter

    rep = count_energy(model, x)
    ignore = [nn.modules.batchnorm._BatchNorm, BaseNeuron]
    syn_c = op_counter.SynOpCounter(extra_ignore_modules=ignore)
    mac_c = op_counter.MACCounter(extra_ignore_modules=ignore)
    inputs: dict[str, list[torch.Tensor]] = defaultdict(list)
    hooks = [m.register_forward_hook(lambda mod, i, o, n=n: inputs[n].append(i[0]))
             for n, m in model.named_modules() if isinstance(m, _COUNTED)]
    with torch.no_grad(), op_counter.DispatchCounterMode([syn_c, mac_c]):
        model(x)
    for h in hooks:
        h.remove()
    B = x.shape[1]
    syn, mac = ({k: sum(v.values()) / B for k, v in c.get_counts().items()} for c in (syn_c, mac_c))
    prefix, modules = type(model).__name__, dict(model.named_modules())
    ours: dict[str, dict[str, float]] = defaultdict(lambda: {"AC": 0.0, "MAC": 0.0, "events": 0.0, "dense": 0.0})
    for r in rep.rows:
        o = ours[r.module]
        o[r.kind] += r.coincidences if r.kind == "AC" else r.dense
        o["events"] += r.events
        o["dense"] += r.dense
    rows, seen_syn, seen_mac = [], 0.0, 0.0
    for module, o in ours.items():
        m, scope, rule = modules[module], f"{prefix}.{module}", "spikes"
        if isinstance(m, _COUNTED):
            ref = {"AC": syn.get(scope, 0.0), "MAC": mac.get(scope, 0.0)}
            seen_syn, seen_mac = seen_syn + ref["AC"], seen_mac + ref["MAC"]
            if o["AC"] and not ref["AC"] and ref["MAC"]:  # fed by sums of spikes
                ref, rule = {"AC": _count_weighted(m, inputs[module]) / B, "MAC": 0.0}, "spike counts"
        else:
            kids = [f"{prefix}.{n}" for n, c in modules.items()
                    if n.startswith(module + ".") and isinstance(c, _COUNTED)]
            ref = {"AC": syn.get(scope, 0.0) - sum(syn.get(k, 0.0) for k in kids),
                   "MAC": mac.get(scope, 0.0) - sum(mac.get(k, 0.0) for k in kids)}
            seen_syn, seen_mac = seen_syn + ref["AC"], seen_mac + ref["MAC"]
            rule = "spike x spike products"
        previous = float("nan")
        if inputs.get(module):
            xs = inputs[module]
            previous = o["dense"] * sum(float(t.sum()) for t in xs) / sum(t.numel() for t in xs)
        for kind in ("AC", "MAC"):
            if o[kind] or ref[kind]:
                rows.append({"layer": module, "kind": kind, "snnas": o[kind], "spikingjelly": ref[kind],
                             "snnas_events": o["events"] if kind == "AC" else 0.0, "snnas_dense": o["dense"],
                             "previous_rule": previous if kind == "AC" else float("nan"), "reference_rule": rule})
    return rows, (syn.get("Global", 0.0) - seen_syn, mac.get("Global", 0.0) - seen_mac)
