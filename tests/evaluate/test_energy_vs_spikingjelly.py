"""Per-layer MACs and ACs against SpikingJelly's ``op_counter`` (SynOpCounter, MACCounter).

Networks from both shipped space families (cell and transformer, every attention op) and the
baseline CNN are counted by snnas and by SpikingJelly on the same input in eval mode. Every
conv/linear layer (and every attention module's own products) must agree within 1 %. BN and the
neurons' own state updates are excluded from SpikingJelly's count (snnas folds BN into the conv
and counts synaptic operations only). SpikingJelly recognises spikes by their values (0/1), so it
prices sums of spikes (a cell node, a residual) as MACs; for those layers the reference is
SpikingJelly's own conv weight-use rule applied to the spike counts (the count-weighted rule).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

import numpy as np
import pytest
import torch
from torch import nn

from snnas.evaluate import count_energy
from snnas.nn import baseline_cnn, build_network
from snnas.space import load_space
from snnas.spiking import BaseNeuron

op_counter = pytest.importorskip("spikingjelly.activation_based.op_counter",
                                 reason="spikingjelly is not installed (make test installs it --no-deps)")
from spikingjelly.activation_based.op_counter.neuromorphic_memory_access import (  # noqa: E402
    _spike_conv_weight_uses_from_tensors,
)

B = 16
ATTENTIONS = ["ssa", "sdsa", "qk_token", "qk_channel"]


def _calibrated(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """Give BN real running statistics (one cumulative pass), so deep layers fire as after training."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = None
    model.train()
    with torch.no_grad():
        model(x)
    return model.eval()


def _networks():
    cells = load_space("digits")
    rng = np.random.default_rng(7)
    for i in range(6):
        arch = cells.sample(rng)
        yield f"digits-cell-{i}", cells, arch
    tf = load_space("digits_transformer")
    base = tf.sample(np.random.default_rng(0))
    for att in ATTENTIONS:
        yield f"digits-transformer-{att}", tf, dataclasses.replace(base, attention=att, depth=2,
                                                                   neurons=base.neurons[:1] * 2)
    yield "baseline-cnn", None, None


NETWORKS = list(_networks())


def _build(space, arch):
    torch.manual_seed(0)
    if space is None:
        return baseline_cnn(), 4, (1, 8, 8)
    return build_network(space, arch), arch.time_steps, tuple(space.input_shape)


def _spikingjelly_counts(model: nn.Module, x: torch.Tensor):
    """SynOps and MACs per scope ("Class.path"), plus each conv/linear's input for count-valued ones."""
    ignore = [nn.modules.batchnorm._BatchNorm, BaseNeuron]
    syn = op_counter.SynOpCounter(extra_ignore_modules=ignore)
    mac = op_counter.MACCounter(extra_ignore_modules=ignore)
    inputs: dict[str, list[torch.Tensor]] = defaultdict(list)
    hooks = [m.register_forward_hook(lambda mod, i, o, n=n: inputs[n].append(i[0]))
             for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad(), op_counter.DispatchCounterMode([syn, mac]):
        model(x)
    for h in hooks:
        h.remove()
    total = {c: {k: sum(v.values()) for k, v in c.get_counts().items()} for c in (syn, mac)}
    return total[syn], total[mac], inputs


def _count_weighted(module: nn.Module, xs: list[torch.Tensor]) -> float:
    """SpikingJelly's spike-driven weight uses, applied to spike counts (each unit one event)."""
    total = 0.0
    for x in xs:
        assert torch.equal(x, x.round()) and x.min() >= 0, "a MAC layer that snnas prices as AC must see counts"
        if isinstance(module, nn.Conv2d):
            total += _spike_conv_weight_uses_from_tensors(x, module.weight, module.stride, module.padding,
                                                          module.dilation, module.groups)
        else:
            total += float(x.sum()) * module.out_features
    return total


@pytest.mark.parametrize(("name", "space", "arch"), NETWORKS, ids=[n for n, _, _ in NETWORKS])
def test_per_layer_counts_match_spikingjelly(name, space, arch):
    model, T, shape = _build(space, arch)
    x = torch.rand(T, B, *shape, generator=torch.Generator().manual_seed(1))
    _calibrated(model, x)
    rep = count_energy(model, x)
    syn, mac, inputs = _spikingjelly_counts(model, x)
    prefix = type(model).__name__
    modules = dict(model.named_modules())

    ours: dict[str, dict[str, float]] = defaultdict(lambda: {"AC": 0.0, "MAC": 0.0})
    for r in rep.rows:
        ours[r.module][r.kind] += (r.coincidences if r.kind == "AC" else r.dense) * B
    fired, seen_syn, seen_mac = 0, 0, 0
    for module, counts in ours.items():
        scope = f"{prefix}.{module}"
        m = modules[module]
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            ref_ac, ref_mac = syn.get(scope, 0), mac.get(scope, 0)
            seen_syn, seen_mac = seen_syn + ref_ac, seen_mac + ref_mac
            if counts["AC"] and not ref_ac and ref_mac:  # fed by sums of spikes: the count-weighted rule
                ref_ac, ref_mac = _count_weighted(m, inputs[module]), 0
        else:  # an attention module's own products: its scope minus its conv/linear children
            children = [f"{prefix}.{n}" for n, c in modules.items()
                        if n.startswith(module + ".") and isinstance(c, (nn.Conv2d, nn.Linear))]
            ref_ac = syn.get(scope, 0) - sum(syn.get(c, 0) for c in children)
            ref_mac = mac.get(scope, 0) - sum(mac.get(c, 0) for c in children)
            seen_syn, seen_mac = seen_syn + ref_ac, seen_mac + ref_mac
        assert counts["AC"] == pytest.approx(ref_ac, rel=0.01, abs=0.5), (name, module, "AC")
        assert counts["MAC"] == pytest.approx(ref_mac, rel=0.01, abs=0.5), (name, module, "MAC")
        fired += counts["AC"] > 0
    assert fired >= 2, f"{name}: too few layers saw events for the comparison to mean anything"
    # SpikingJelly found no work outside the layers snnas reported
    assert (seen_syn, seen_mac) == (syn.get("Global", 0), mac.get("Global", 0)), name
