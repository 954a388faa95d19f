"""The weight-entangled transformer supernet: subnets are leading slices of the largest network's
tensors, run exactly as the extracted `build_network` module; sandwich training and its resume;
BN recalibration of extracted subnets only."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from snnas.evaluate import load_dataset
from snnas.nn import build_network
from snnas.space import load_space, load_space_text
from snnas.spiking import BaseNeuron
from snnas.supernet import (
    SandwichConfig,
    SandwichTrainer,
    TransformerSupernet,
    WeightSharingError,
    extract_subnet,
    largest_architecture,
    recalibrate_subnet,
    smallest_architecture,
    subnet_state_dict,
)

TINY = """
description: tiny transformer space for tests
task: {dataset: digits, input_shape: [1, 8, 8], num_classes: 10, time_steps: [1, 2], encoding: direct}
family: transformer
transformer:
  embed_dim: [8, 16]
  depth: [1, 2]
  heads: [1, 2]
  mlp_ratio: [1, 2]
  attention: {ATTENTION}
  patch_size: 2
  stem_stages: 2
neuron: {kind: {KIND}, tau: [2.0, 4.0], threshold: [0.5, 1.0], reset: hard, detach_reset: true, shared: false}
surrogate: {family: sigmoid, width: 4.0}
objectives: {accuracy: max, energy_mj: min}
"""


def tiny(attention: str = "[ssa, sdsa]", kind: str = "lif"):
    return load_space_text(TINY.replace("{ATTENTION}", attention).replace("{KIND}", kind), name="tiny")


@pytest.fixture(scope="module")
def space():
    return tiny()


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def supernet(space, seed: int = 0) -> TransformerSupernet:
    torch.manual_seed(seed)
    return TransformerSupernet(space)


def arch_of(space, genes: dict):
    """The largest architecture with some genes set by value (``{"block1.neuron.threshold": 0.5}``)."""
    genome = space.encode(largest_architecture(space))
    names = [d.name for d in space.decisions]
    for key, value in genes.items():
        i = names.index(key)
        genome[i] = space.decisions[i].choices.index(value)
    return space.decode(genome)


def x_for(arch, batch: int = 6, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(arch.time_steps, batch, 1, 8, 8, generator=g)


def test_extremes_and_subnet_tensors_are_views_of_the_supernet(space):
    big, small = largest_architecture(space), smallest_architecture(space)
    assert (big.embed_dim, big.depth, big.heads, big.mlp_ratio, big.time_steps) == (16, 2, (2, 2), (2.0, 2.0), 2)
    assert (small.embed_dim, small.depth, small.heads, small.mlp_ratio, small.time_steps) == (8, 1, (1,), (1.0,), 1)
    net = supernet(space)
    full = net.net.state_dict()
    views = subnet_state_dict(space, small, full)
    with torch.device("meta"):
        expected = build_network(space, small).state_dict()
    assert {k: v.shape for k, v in views.items()} == {k: v.shape for k, v in expected.items()}
    assert not any(k.startswith("blocks.1.") for k in views)                       # depth truncation
    assert views["patch_embed.stages.0.conv.weight"].shape == (4, 1, 3, 3)       # stem width 8 // 2
    assert views["blocks.0.mlp.fc1.fc.weight"].shape == (8, 8)
    smaller = 0
    for k, v in views.items():
        assert v.untyped_storage().data_ptr() == full[k].untyped_storage().data_ptr(), k
        assert v.data_ptr() == full[k].data_ptr(), k                               # a *leading* slice
        assert torch.equal(v, full[k][tuple(slice(0, s) for s in v.shape)])
        smaller += v.shape != full[k].shape
    assert smaller > len(views) // 2
    # a TransformerSupernet's own state dict (keys net.*) gives the same views
    assert subnet_state_dict(space, small, net.state_dict()).keys() == views.keys()


def test_supernet_equals_the_extracted_subnet_in_train_and_eval_mode(space, digits):
    archs = [largest_architecture(space), smallest_architecture(space),
             *(space.sample(s) for s in range(8))]
    assert {a.depth for a in archs} == {1, 2} and {a.attention for a in archs} == {"ssa", "sdsa"}
    assert {a.time_steps for a in archs} == {1, 2}
    assert len({(n.tau, n.v_threshold) for a in archs for n in a.neurons}) == 4
    net = supernet(space).train()
    for a in archs:
        sub = extract_subnet(space, a, net.shared_state()).train()
        x = x_for(a)
        with net.subnet(a):
            y = net(x)
        assert torch.equal(y, sub(x)), a.summary()
    # gradients: the supernet's are the subnet's on the slices and zero elsewhere
    a = space.sample(3)
    sub = extract_subnet(space, a, net.shared_state()).train()
    net.zero_grad()
    with net.subnet(a):
        net(x_for(a)).square().sum().backward()
    sub(x_for(a)).square().sum().backward()
    params = net._tensors(a)  # net's parameters, the BN affines as a's switchable copies
    for name, p in sub.named_parameters():
        g = params[name].grad
        view = g[tuple(slice(0, s) for s in p.shape)]
        assert torch.allclose(view, p.grad, atol=1e-6, rtol=1e-5), name
        assert float(g.abs().sum()) == pytest.approx(float(view.abs().sum()), rel=1e-6), name
    # after some sandwich training the running statistics are non-trivial: eval mode too
    t = SandwichTrainer(space, digits, SandwichConfig(batch_size=32, lr=0.01, max_batches=3))
    t.train_epoch()
    net = t.supernet.eval()
    for a in archs:
        sub = extract_subnet(space, a, net.shared_state()).eval()
        x = x_for(a, seed=1)
        with torch.no_grad(), net.subnet(a):
            y = net(x)
        assert torch.equal(y, sub(x)), a.summary()


def test_bn_affines_switch_with_the_neuron_setting(space, digits):
    net = supernet(space)
    genes = [d.name for d in space.decisions]
    assert "block0.neuron.threshold" in genes  # per-block neuron genes: copies per block
    n_bn = sum(2 for m in net.net.modules() if isinstance(m, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d))
    assert len(net.switch) == 4 * n_bn  # tau x threshold choices of the block that follows each BN
    a = space.sample(5)
    g = list(space.encode(a))
    g[genes.index("block0.neuron.threshold")] ^= 1
    b = space.decode(g)
    ta, tb = net._tensors(a), net._tensors(b)
    key = "blocks.0.mlp.fc1.bn.weight"
    assert ta[key] is not tb[key] and ta["blocks.0.mlp.fc1.fc.weight"] is tb["blocks.0.mlp.fc1.fc.weight"]
    # training a's setting moves its copy, not b's block-0 copy
    t = SandwichTrainer(space, digits, SandwichConfig(batch_size=32, lr=0.01, max_batches=2, ema=0.0))
    before = {k: v.detach().clone() for k, v in t.supernet.switch.items()}
    t.sandwich = lambda e, s: [a]  # one subnet per step
    t.train_epoch()
    moved = {k for k, v in t.supernet.switch.items() if not torch.equal(v, before[k])}
    block0 = [genes.index("block0.neuron.tau"), genes.index("block0.neuron.threshold")]
    ka, kb = (f"{key}@{'-'.join(str(x[i]) for i in block0)}".replace(".", ":") for x in (space.encode(a), g))
    assert ka in moved and kb not in moved
    # without: no copies, net's own affines
    plain = TransformerSupernet(space, switchable_bn=False)
    assert not len(plain.switch) and plain._tensors(a)[key] is dict(plain.net.named_parameters())[key]


def test_heads_change_the_attention(space):
    net = supernet(space).train()
    x = x_for(largest_architecture(space))
    outs = []
    for heads in (1, 2):
        a = arch_of(space, {"attention": "ssa", "block0.heads": heads, "block1.heads": heads})
        with torch.no_grad(), net.subnet(a):
            outs.append(net(x))
    assert not torch.allclose(outs[0], outs[1])


def _neurons(module):
    return [m for m in module.modules() if isinstance(m, BaseNeuron)]


def test_block_neuron_settings_reach_every_neuron_of_the_block(space):
    a = arch_of(space, {"block0.neuron.threshold": 0.5, "block0.neuron.tau": 4.0,
                        "block1.neuron.threshold": 1.0, "block1.neuron.tau": 2.0})
    sub = extract_subnet(space, a, supernet(space).net.state_dict())
    for module, (tau, thr) in ((sub.patch_embed, (4.0, 0.5)), (sub.blocks[0], (4.0, 0.5)),
                               (sub.blocks[1], (2.0, 1.0))):
        neurons = _neurons(module)
        assert len(neurons) >= 3
        for n in neurons:
            half = n is getattr(getattr(module, "attn", None), "attn_neuron", None)
            assert n.v_threshold == (0.5 * thr if half else thr) and n.tau == tau
    assert len(_neurons(sub.blocks[1])) == 7                 # q, k, v, attention, proj, fc1, fc2
    # and the supernet's output follows each block's gene
    net = supernet(space).train()
    x = x_for(a)
    outs = []
    for thr in (0.5, 1.0):
        with torch.no_grad(), net.subnet(replace(a, neurons=(a.neurons[0], replace(a.neurons[1], v_threshold=thr)))):
            outs.append(net(x))
    assert not torch.allclose(outs[0], outs[1])


def test_attention_kinds_must_share_their_parameters():
    with pytest.raises(WeightSharingError, match="qk_token") as e:
        TransformerSupernet(tiny("[ssa, qk_token]"))
    assert isinstance(e.value, ValueError)
    with pytest.raises(ValueError, match="plif"):
        TransformerSupernet(tiny(kind="[lif, plif]"))
    TransformerSupernet(tiny("[qk_token, qk_channel]", kind="[lif, if]"))


def _loss(net, arch, x, y):
    with torch.no_grad(), net.subnet(arch):
        return float(F.cross_entropy(net(x[: arch.time_steps]), y))


def test_sandwich_steps_reduce_the_loss(space, digits):
    cfg = SandwichConfig(batch_size=32, lr=0.01, max_batches=4, seed=1)
    t = SandwichTrainer(space, digits, cfg)
    assert [a.summary() for a in t.sandwich(0, 0)] == [a.summary() for a in t.sandwich(0, 0)]
    archs = t.sandwich(0, 0)
    assert len(archs) == 4
    names = [d.name for d in space.decisions]
    sizes = [n for n in names if n in ("embed_dim", "depth", "time_steps")
             or n.endswith((".heads", ".mlp_ratio"))]
    for got, end in zip(archs[:2], (t.largest, t.smallest), strict=True):
        g, e = (dict(zip(names, space.encode(x), strict=True)) for x in (got, end))
        assert sizes and all(g[n] == e[n] for n in sizes), "the ends keep the extreme sizes"
    # their attention and neuron genes are drawn per step, not fixed at the first choices
    rest = {tuple(v for n, v in zip(names, space.encode(a), strict=True) if n not in sizes)
            for e in range(4) for a in t.sandwich(e, 0)[:2]}
    assert len(rest) > 1
    x, y = digits.train.tensors[0][:128], digits.train.tensors[1][:128]
    x = x.unsqueeze(0).expand(2, *x.shape)
    net = t.supernet.train()
    before = {a: _loss(net, a, x, y) for a in (t.largest, t.smallest)}
    w0 = {k: v.clone() for k, v in net.net.state_dict().items()}
    for _ in range(3):
        row = t.train_epoch()
    assert t.epoch == 3 and len(t.history) == 3 and row["seconds"] > 0
    assert 0.0 <= row["acc"] <= 1.0 and row["loss"] < t.history[0]["loss"]
    net.train()
    for a, b in before.items():
        assert _loss(net, a, x, y) < b - 0.05, a.summary()
    changed = [k for k, v in net.net.state_dict().items() if not torch.equal(v, w0[k])]
    assert any(k.startswith("blocks.1.") for k in changed) and "head.weight" in changed


def test_resumed_training_equals_uninterrupted(space, digits):
    cfg = SandwichConfig(batch_size=32, lr=0.01, max_batches=2, seed=3)
    a = SandwichTrainer(space, digits, cfg)
    for _ in range(2):
        a.train_epoch()
    b = SandwichTrainer(space, digits, cfg)
    b.train_epoch()
    buf = io.BytesIO()
    torch.save(b.state(), buf)
    buf.seek(0)
    torch.manual_seed(123)  # global RNG state must not matter
    c = SandwichTrainer(space, digits, replace(cfg))
    c.load_state(torch.load(buf, weights_only=True))
    c.train_epoch()
    sa, sc = a.state(), c.state()
    assert sa["epoch"] == sc["epoch"] == 2
    for part in ("model", "switch", "ema"):
        for k, v in sa[part].items():
            assert torch.equal(v, sc[part][k]), (part, k)
    for pid, st in sa["optimizer"]["state"].items():
        for key, v in st.items():
            assert torch.equal(v, sc["optimizer"]["state"][pid][key]), (pid, key)
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in sa["history"]]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in sc["history"]]
    # another seed trains other subnets on other batches
    d = SandwichTrainer(space, digits, replace(cfg, seed=4))
    d.train_epoch()
    d.train_epoch()
    assert not torch.equal(d.state()["model"]["head.weight"], sa["model"]["head.weight"])


def test_candidates_inherit_the_weight_average(space, digits):
    cfg = SandwichConfig(batch_size=32, lr=0.01, max_batches=3, seed=2, ema=0.5)
    t = SandwichTrainer(space, digits, cfg)
    w0 = {k: v.detach().clone() for k, v in t.supernet.live_parameters().items()}
    t.train_epoch()
    live = t.supernet.shared_state()  # net's state dict and the switchable BN copies
    inherited = t.subnet_state()
    assert inherited.keys() == live.keys() and any("@" in k for k in live)
    params = t.supernet.live_parameters()
    moved = [k for k in params if not torch.equal(live[k], w0[k])]
    assert moved and "head.weight" in moved
    for k in moved:  # strictly between the start and the last step: an average of the path
        assert not torch.equal(inherited[k], live[k]) and not torch.equal(inherited[k], w0[k]), k
    assert all(torch.equal(inherited[k], live[k]) for k in live if k not in params), "BN statistics are live"
    # ema=0: the last step's weights; a decay outside [0, 1) is refused
    plain = SandwichTrainer(space, digits, replace(cfg, ema=0.0))
    plain.train_epoch()
    assert all(torch.equal(v, plain.supernet.shared_state()[k]) for k, v in plain.subnet_state().items())
    with pytest.raises(ValueError, match="ema"):
        SandwichTrainer(space, digits, replace(cfg, ema=1.0))
    # a checkpoint without the average (written before it existed) resumes with it started there
    old = {k: v for k, v in t.state().items() if k != "ema"}
    r = SandwichTrainer(space, digits, cfg)
    r.load_state(old)
    assert all(torch.equal(r.ema[k], live[k]) for k in params)
    # one written before the switchable BN copies: they start from net's affines, Adam restarts
    older = {k: v for k, v in old.items() if k != "switch"}
    r = SandwichTrainer(space, digits, cfg)
    r.load_state(older)
    key = next(k for k in r.supernet.switch)
    assert torch.equal(r.supernet.switch[key], older["model"][key.replace(":", ".").split("@")[0]])
    assert not r.opt.state


def test_recalibration_changes_only_the_extracted_subnet(space, digits):
    t = SandwichTrainer(space, digits, SandwichConfig(batch_size=32, lr=0.01, max_batches=2))
    t.train_epoch()
    state = t.supernet.net.state_dict()
    saved = {k: v.clone() for k, v in state.items()}
    a, other = space.sample(5), space.sample(6)
    first = recalibrate_subnet(extract_subnet(space, a, state), digits, batch_size=32, batches=2)
    recalibrate_subnet(extract_subnet(space, other, state), digits, batch_size=32, batches=2)
    again = recalibrate_subnet(extract_subnet(space, a, state), digits, batch_size=32, batches=2)
    for k, v in t.supernet.net.state_dict().items():
        assert torch.equal(v, saved[k]), k
    views = subnet_state_dict(space, a, state)
    stats = [k for k in views if k.endswith("running_mean")]
    assert all(not torch.equal(first.state_dict()[k], views[k]) for k in stats)
    for k, v in first.state_dict().items():   # any order gives the same statistics
        assert torch.equal(v, again.state_dict()[k]), k
    assert not first.training


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_supernet_and_training(space, digits):
    t = SandwichTrainer(space, digits, SandwichConfig(batch_size=32, max_batches=2, device="cuda"))
    t.train_epoch()
    net = t.supernet.eval()
    for s in range(4):
        a = space.sample(s)
        sub = extract_subnet(space, a, net.net.state_dict())
        assert next(sub.parameters()).is_cuda
        x = x_for(a).cuda()
        with torch.no_grad(), net.subnet(a):
            assert torch.allclose(net(x), sub(x), atol=1e-5)
    recalibrate_subnet(sub, digits, batch_size=32, batches=2, device="cuda")


def test_shipped_digits_transformer_space():
    sp = load_space("search_spaces/digits_transformer.yaml")
    net = supernet(sp).train()
    for s in range(3):
        a = sp.sample(s)
        x = x_for(a, batch=4)
        with torch.no_grad(), net.subnet(a):
            y = net(x)
        assert torch.equal(y, extract_subnet(sp, a, net.net.state_dict()).train()(x))
