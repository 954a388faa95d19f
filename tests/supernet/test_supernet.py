"""The SpikeDHS supernet: trellis decoding, derivation, one-hot equality with build_network (outputs
and energy), the energy term's gradient, learned tau, DGS, and a dhs search through the CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from snnas.cli import main
from snnas.errors import SpaceError
from snnas.evaluate import count_energy, load_dataset
from snnas.nn import build_network
from snnas.space import load_space, load_space_text
from snnas.space._architecture import NeuronSpec
from snnas.supernet import (
    CellSupernet,
    DHSConfig,
    SupernetEnergy,
    SupernetTrainer,
    derive,
    derive_cell,
    supernet_spec,
    viterbi,
)

DIGITS = "search_spaces/digits.yaml"


def test_viterbi_returns_the_known_best_path():
    # 3 levels, 3 layers; from level 0 the best first move is up (0.7), then stay (0.9), then down
    q = [torch.tensor([[0.3, 0.7, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]),
         torch.tensor([[0.5, 0.5, 0.0], [0.05, 0.9, 0.05], [0.0, 0.0, 0.0]]),
         torch.tensor([[1.0, 0.0, 0.0], [0.8, 0.2, 0.0], [0.0, 0.5, 0.5]])]
    assert viterbi(q, heads=(0, 1, 2)) == (1, 1, 0)
    # only level 1 may end the network: the last move must land there
    assert viterbi(q, heads=(1,)) == (1, 1, 1)


def test_derive_cell_ranks_edges_by_their_strongest_non_zero_op_skip_included():
    ops = ("zero", "skip", "conv_3x3")
    # node 0: sources 0, 1; node 1: sources 0, 1, 2
    w = torch.tensor([[0.9, 0.04, 0.06],   # n0 <- 0: zero dominates; its strongest real op is conv
                      [0.1, 0.6, 0.3],     # n0 <- 1: skip
                      [0.2, 0.1, 0.7],     # n1 <- 0: conv
                      [0.0, 0.5, 0.5],     # n1 <- 1: tie -> the first listed (skip)
                      [0.1, 0.8, 0.1]])    # n1 <- 2: skip (strongest of node 1)
    cell = derive_cell(w, ops, nodes=2, edges_per_node=2)
    assert cell == (((0, "conv_3x3"), (1, "skip")), ((0, "conv_3x3"), (2, "skip")))


@pytest.fixture(scope="module")
def digits_space():
    return load_space(DIGITS)


@pytest.mark.parametrize("head", ["flatten", "gap"])
def test_one_hot_supernet_computes_build_network_outputs_and_energy(head):
    space = load_space_text(open(DIGITS).read().replace("head: flatten", f"head: {head}"), name=head)
    assert space.fixed["head"] == head
    spec = replace(supernet_spec(space, time_steps=2), tau_bounds=None)
    torch.manual_seed(0)
    net = CellSupernet(spec)
    # a few training steps so BN statistics and weights are not at their initial values
    opt = torch.optim.Adam(net.weight_parameters(), lr=0.01)
    x = torch.rand(2, 16, 1, 8, 8) * 2
    for _ in range(2):
        opt.zero_grad()
        net(x).sum().backward()
        opt.step()
    net.eval()
    energy = SupernetEnergy(net)
    for seed in range(6):
        arch = replace(space.sample(np.random.default_rng(seed)), time_steps=2, neurons=spec.neurons)
        net.override = net.one_hot(arch)
        model = build_network(space, arch).eval()
        model.load_state_dict(net.subnet_state(arch, model))
        with torch.no_grad():
            assert torch.equal(net(x), model(x)), arch.summary()
        energy.measure(x)
        want = count_energy(model, x).energy_mj
        assert float(energy.expected()) == pytest.approx(want, rel=1e-5), arch.summary()


def test_energy_term_gradient_reaches_alpha_and_beta(digits_space):
    net = CellSupernet(supernet_spec(digits_space, time_steps=2))
    energy = SupernetEnergy(net)
    energy.measure(torch.rand(2, 8, 1, 8, 8) * 2)
    energy.expected().backward()
    assert net.alpha.grad is not None and net.alpha.grad.abs().sum() > 0
    assert net.beta.grad is not None and net.beta.grad.abs().sum() > 0


HETERO = open(DIGITS).read().replace("shared: true", "shared: false").replace(
    "width: 4.0", "width: {dgs: true, init: 4.0, bounds: [2.0, 6.0], step: 1.0}")


@pytest.fixture(scope="module")
def trained():
    space = load_space_text(HETERO, name="hetero")
    data = load_dataset("digits")
    spec = supernet_spec(space, time_steps=2)
    cfg = DHSConfig(energy_lambda=1.0, warmup=0, batch_size=32, max_batches=4, dgs=space.dgs)
    t = SupernetTrainer(spec, data, cfg)
    t.train_epoch()
    t.train_epoch()
    return space, t


def test_learned_tau_differs_across_layers_and_stays_in_bounds(trained):
    space, t = trained
    taus = t.net.taus()
    lo, hi = t.spec.tau_bounds
    assert len(set(round(v, 6) for v in taus)) == len(taus), taus
    assert all(lo - 1e-6 <= v <= hi + 1e-6 for v in taus)
    with torch.no_grad():
        for w in t.net.tau_w:
            w.fill_(-50.0)  # tau = 1 + e^50, far above the bounds
    t.net.clamp_tau()
    assert all(v == pytest.approx(hi, rel=1e-5) for v in t.net.taus())
    # the derived architecture is a member of the space, taus snapped to its choices
    arch = derive(t.net, space)
    assert {n.tau for n in arch.neurons} <= set(space.choices("layer0.neuron.tau"))
    assert space.decode(space.encode(arch)).cell == arch.cell
    assert space.satisfies_static(arch)  # its learned DGS widths ride beside the genome
    outside = replace(arch, neurons=tuple(replace(n, alpha=9.0) for n in arch.neurons))
    assert not space.satisfies_static(outside)  # beyond the DGS bounds [2, 6]


def test_dgs_moves_widths_within_bounds(trained):
    space, t = trained
    widths = [h["width"] for h in t.history]
    assert all(2.0 <= w <= 6.0 for row in widths for w in row)
    assert any(w != 4.0 for w in widths[-1]), widths


def _readme_dhs_command() -> list[str]:
    """The README's dhs command line, as arguments of `snnas`."""
    import shlex

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    line = next(ln for ln in readme.splitlines() if ln.startswith("snnas search ") and "--strategy dhs" in ln)
    return shlex.split(line.split("#")[0])[1:]


def test_dhs_search_through_the_cli(tmp_path, ray_local):
    """The README's dhs command as written (--budget, --workers, --final-seeds ...), on a copy of its
    space with the supernet epochs cut to one per derivation and the final stage off."""
    text = open(DIGITS).read()
    text = text.replace("time_steps: [2, 4]", "time_steps: 2").replace("proxy_epochs: 2", "proxy_epochs: 1")
    for key, value in (("energy_lambda", "[0, 0.3, 1, 3]"), ("supernet_warmup", "3"), ("derive_every", "4")):
        assert f"  {key}: {value}" in text
    text = text.replace("supernet_warmup: 3", "supernet_warmup: 0").replace("derive_every: 4", "derive_every: 1")
    text += "  final_top_k: 0\n"
    space = tmp_path / "dhs.yaml"
    space.write_text(text)
    run = tmp_path / "run"
    args = _readme_dhs_command()
    assert args[args.index("--space") + 1] == DIGITS
    args[args.index("--space") + 1], args[args.index("--out") + 1] = str(space), str(run)
    assert main(args + ["-q", "--batch-size", "128", "--lambda", "0", "2"]) == 0  # --lambda overrides the sweep
    rows = (run / "candidates.csv").read_text().splitlines()
    assert len(rows) == 1 + int(args[args.index("--budget") + 1])  # two rounds of one derivation per lambda
    assert (run / "search_dynamics.png").stat().st_size > 0
    hist = json.loads((run / "checkpoints" / "supernet" / "lambda1-history.json").read_text())
    assert hist["energy_lambda"] == 2.0 and hist["history"][0]["derived"]


def test_partial_channels_mix_a_quarter_and_keep_the_rest(digits_space):
    """PC-DARTS (K = 4): candidates are C/4 wide, the other channels pass through (shuffled), the
    energy term counts the candidates at full width, and weights are not inherited from it."""
    from snnas.supernet._net import MixedEdge, channel_shuffle

    torch.manual_seed(0)
    full = CellSupernet(supernet_spec(digits_space, time_steps=2))
    part = CellSupernet(replace(supernet_spec(digits_space, time_steps=2), partial_channels=4))
    edge = next(m for m in part.modules() if isinstance(m, MixedEdge))
    wide = next(m for m in full.modules() if isinstance(m, MixedEdge))
    conv = edge.names.index("conv_3x3")
    assert edge.ops[conv].conv.weight.shape[:2] == (4, 4)  # 16 / 4 channels in and out
    assert wide.ops[conv].conv.weight.shape[:2] == (16, 16)
    x = torch.rand(2, 3, 16, 8, 8)
    part.refresh()
    y = edge(x)
    assert y.shape == x.shape
    # channels 4.. come through untouched, at the places the shuffle puts them
    unshuffled = channel_shuffle(y, 16 // 4)  # the inverse of a shuffle with 4 groups
    assert torch.equal(unshuffled[:, :, 4:], x[:, :, 4:])
    xs = torch.rand(2, 8, 1, 8, 8) * 2
    part(xs).sum().backward()  # trains
    e_full, e_part = SupernetEnergy(full), SupernetEnergy(part)
    e_full.measure(xs)
    e_part.measure(xs)
    ratio = float(e_part.expected().detach()) / float(e_full.expected().detach())
    assert 0.3 < ratio < 3.0, ratio  # the same order of magnitude: candidates are scaled to full width
    with pytest.raises(SpaceError, match="partial_channels"):  # 16 channels: K = 3 cannot split them
        CellSupernet(replace(supernet_spec(digits_space, time_steps=2), partial_channels=3))
    with pytest.raises(ValueError, match="partial-channel"):
        arch = replace(digits_space.sample(0), time_steps=2)
        part.subnet_state(arch, build_network(digits_space, arch))


HYBRID = open(DIGITS).read().replace("kind: [lif, plif]", "kind: [lif, ann]").replace(
    "shared: true", "shared: false").replace("tau: [1.5, 2.0, 4.0]", "tau: 2.0")


def test_hybrid_gate_one_hot_equals_build_network_and_derives_ann_layers():
    """Where the space lists `ann`, each layer is gated between its spiking neurons and ReLUs: at
    one-hot gates the supernet is the discrete network with those layers non-spiking (outputs bit
    for bit; energy exact for uniform networks, where every part is counted as it will run), the
    energy term reaches the gate, and derive turns a layer the gate sends to `ann` into one."""
    space = load_space_text(HYBRID, name="hybrid")
    spec = supernet_spec(space, time_steps=2)
    assert spec.hybrid
    torch.manual_seed(0)
    net = CellSupernet(spec)
    assert any(p is net.gamma for p in net.arch_parameters())
    assert all(p is not net.gamma for p in net.weight_parameters())
    x = torch.rand(2, 8, 1, 8, 8) * 2
    energy = SupernetEnergy(net)
    energy.measure(x)
    energy.expected().backward()
    assert net.gamma.grad is not None and net.gamma.grad.abs().sum() > 0
    net.eval()
    # (a node of only `zero` edges emits "no events" in the discrete network, dense zeros here)
    base = replace(space.sample(np.random.default_rng(4)),
                   cell=(((0, "conv_3x3"), (1, "skip")), ((0, "max_pool_3x3"), (2, "conv_3x3"))))
    lif = next(n for seed in range(50) for n in space.sample(seed).neurons if n.kind == "lif")
    for kinds in ("sss", "aaa", "sas", "ass"):
        neurons = tuple(NeuronSpec(kind="ann", tau=None) if k == "a" else lif for k in kinds)
        arch = replace(base, time_steps=2, neurons=neurons)
        assert space.satisfies_static(arch)
        net.override = net.one_hot(arch)
        model = build_network(space, arch).eval()
        model.load_state_dict(net.subnet_state(arch, model))
        with torch.no_grad():
            assert torch.equal(net(x), model(x)), (kinds, arch.summary())
        energy.measure(x)
        want = count_energy(model, x).energy_mj
        got = float(energy.expected().detach())
        # a spiking layer after an ann one is counted at the all-spiking firing rates: an estimate
        assert got == pytest.approx(want, rel=1e-5 if kinds in ("sss", "aaa") else 0.5), (kinds, got, want)
    net.override = None
    with torch.no_grad():
        net.gamma.copy_(torch.tensor([[5.0, -5.0], [-5.0, 5.0], [5.0, -5.0]]))
    arch = derive(net, space)
    assert [n.kind for n in arch.neurons] == ["lif", "ann", "lif"]
    assert space.satisfies_static(arch)


def test_dhs_rejects_negative_or_missing_energy_weights_from_python():
    from snnas.search import DHSSearch

    assert DHSSearch(energy_lambda=0.5)._lambdas == [0.5]
    for bad in ([0, -1], [], float("nan")):
        with pytest.raises(ValueError, match="energy_lambda"):
            DHSSearch(energy_lambda=bad)
