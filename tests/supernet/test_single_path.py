"""Single-path one-shot training of the cell supernet on real digits batches: the supernet under
``one_hot(arch)`` equals the extracted subnet, only the sampled path is trained, a resumed trainer
continues bit for bit, and recalibrating an extracted subnet leaves the supernet alone."""

from __future__ import annotations

import io
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from snnas.evaluate import load_dataset
from snnas.space import load_space
from snnas.spiking import PLIFNode
from snnas.supernet import SinglePathConfig, SinglePathTrainer, extract_cell_subnet, recalibrate_subnet

DIGITS = "search_spaces/digits.yaml"
CFG = SinglePathConfig(batch_size=32, lr=0.01, max_batches=3, time_steps=2, seed=3)


@pytest.fixture(scope="module")
def space():
    return load_space(DIGITS)


@pytest.fixture(scope="module")
def data():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def trained(space, data):
    t = SinglePathTrainer(space, data, CFG)
    t.train_epoch()
    t.train_epoch()
    return t


def _same_neurons(t: SinglePathTrainer, arch):
    return replace(arch, neurons=t.spec.neurons)


def test_the_supernet_under_one_hot_weights_equals_the_extracted_subnet(space, trained):
    net = trained.supernet.eval()
    state = trained.subnet_state()
    x = torch.rand(2, 16, 1, 8, 8) * 2
    seen_ops, seen_paths = set(), set()
    try:
        for seed in range(8):
            arch = _same_neurons(trained, space.sample(np.random.default_rng([11, seed])))
            seen_ops.update(op for node in arch.cell for _, op in node)
            seen_paths.add(arch.trellis)
            net.override = net.one_hot(arch)
            model = extract_cell_subnet(space, arch, state).eval()
            with torch.no_grad():
                assert torch.equal(net(x), model(x)), arch.summary()
            # copies: the subnet's tensors are not the supernet's
            assert all(v.data_ptr() != w.data_ptr() for v in model.state_dict().values() for w in state.values()
                       if v.numel() > 1)
    finally:
        net.override = None
        net.train()
    assert len(seen_ops) >= 3 and len(seen_paths) >= 2


def test_an_arch_with_other_neurons_keeps_its_own_neuron_parameters(space, trained):
    """The supernet is LIF at tau 2 (digits lists lif first): a PLIF arch inherits every conv,
    BN and head tensor but its ``w`` stays the built network's own (1/tau = sigmoid(w) at its tau)."""
    state = trained.subnet_state()
    base = space.sample(np.random.default_rng(5))
    arch = replace(base, neurons=tuple(replace(n, kind="plif", tau=4.0, learn_tau=True) for n in trained.spec.neurons))
    model = extract_cell_subnet(space, arch, state).eval()
    plifs = [m for m in model.modules() if isinstance(m, PLIFNode)]
    assert plifs and all(float(m.w.detach()) == pytest.approx(-math.log(4.0 - 1.0)) for m in plifs)
    same = extract_cell_subnet(space, _same_neurons(trained, arch), state)
    theirs = same.state_dict()
    inherited = [k for k, v in model.state_dict().items() if k in theirs and ".neuron." not in k]
    assert inherited and all(torch.equal(model.state_dict()[k], theirs[k]) for k in inherited)
    x = torch.rand(arch.time_steps, 4, 1, 8, 8) * 2
    with torch.no_grad():
        y = model(x)
    assert y.shape == (4, 10) and torch.isfinite(y).all()
    with pytest.raises(ValueError, match="one-shot scoring of a cell space needs one stem width"):
        extract_cell_subnet(space, replace(arch, stem_channels=8), state)


def test_only_the_sampled_path_is_trained(space, data):
    """One step on one path: its ops move, every other candidate keeps its weights and BN
    statistics (single-path training, not a softmax mixture with zero weights)."""
    t = SinglePathTrainer(space, data, replace(CFG, max_batches=1))
    before = {k: v.clone() for k, v in t.subnet_state().items()}
    (arch,) = t.paths(0, 0)
    t.train_epoch()
    after = t.subnet_state()
    level = arch.trellis[0]
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    chosen = {(src, t.spec.ops.index(op)) for src, op in arch.cell[0]}
    for j in range(len(arch.cell)):
        for src in range(2 + j):
            for k, op in enumerate(t.spec.ops):
                prefix = f"cells.0.{level}.ops.{j}.{src}.ops.{k}."
                keys = [key for key in before if key.startswith(prefix)]
                if not keys:
                    continue
                moved = any(key in changed for key in keys)
                if j == 0 and (src, k) in chosen and op == "conv_3x3":
                    assert moved, prefix
                elif j == 0 and (src, k) not in chosen:
                    assert not moved, prefix
    other_levels = [lv for lv in t.supernet.table.reachable[0] if lv != level]
    for lv in other_levels:
        assert not any(k.startswith(f"cells.0.{lv}.") for k in changed), lv
    assert not any(k in changed for k in ("alpha", "beta"))


def test_a_resumed_trainer_continues_bit_identically(space, data, trained):
    part = SinglePathTrainer(space, data, CFG)
    part.train_epoch()
    buf = io.BytesIO()
    torch.save(part.state(), buf)
    buf.seek(0)
    again = SinglePathTrainer(space, data, CFG)
    again.load_state(torch.load(buf, weights_only=True))
    again.train_epoch()
    a, b = again.state(), trained.state()
    assert a["epoch"] == b["epoch"] == 2
    assert a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in a["history"]]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in b["history"]]
    assert trained.history[0]["loss"] != trained.history[1]["loss"]


def test_recalibrating_an_extracted_subnet_never_changes_the_supernet(space, data, trained):
    state = trained.subnet_state()
    before = {k: v.clone() for k, v in state.items()}
    arch = space.sample(np.random.default_rng(2))
    model = extract_cell_subnet(space, arch, state)
    stats = {k: v.clone() for k, v in model.state_dict().items() if "running_mean" in k}
    recalibrate_subnet(model, data, batch_size=32, batches=2)
    assert not model.training
    assert any(not torch.equal(stats[k], model.state_dict()[k]) for k in stats), "BN re-estimated"
    now = trained.subnet_state()
    assert all(torch.equal(before[k], now[k]) for k in before)
