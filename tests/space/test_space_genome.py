"""Genome properties: decode/encode round trips, canonical forms, mutation and crossover in bounds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snnas.errors import SpaceError
from snnas.space import Architecture, NeuronSpec, load_space, load_space_text, shipped_spaces

SPACES = {name: load_space(path) for name, path in shipped_spaces().items()}
FAST = settings(max_examples=40, deadline=2000, suppress_health_check=[HealthCheck.too_slow])


def genomes(space):
    return st.tuples(*(st.integers(0, len(d.choices) - 1) for d in space.decisions)).map(list)


@pytest.mark.parametrize("name", sorted(SPACES))
@FAST
@given(data=st.data())
def test_decode_encode_round_trip(name, data):
    space = SPACES[name]
    g = data.draw(genomes(space))
    arch = space.decode(g)
    canon = space.encode(arch)
    assert space.decode(canon) == arch
    assert space.encode(space.decode(canon)) == canon
    assert space.canonical(g) == canon
    assert space.satisfies_static(arch)
    again = Architecture.from_json(arch.to_json())
    assert again == arch and again.id == arch.id and space.encode(again) == canon
    assert arch.family == space.family and arch.time_steps in space.choices("time_steps")
    if space.family == "cell" and space.settings["topology"] == "dag":
        s = space.settings
        assert arch.topology == "dag" and arch.trellis == tuple(range(s["layers"])) == tuple(range(len(arch.neurons)))
        assert [[src for src, _ in node] for node in arch.cell] == [list(range(j)) for j in range(1, s["nodes"])]
    elif space.family == "cell":
        s = space.settings
        assert len(arch.trellis) == s["layers"] == len(arch.neurons)
        assert arch.trellis[-1] in s["head_levels"]
        assert all(abs(b - a) <= 1 for a, b in zip((0, *arch.trellis), arch.trellis, strict=False))
        for j, node in enumerate(arch.cell):
            srcs = [e[0] for e in node]
            assert len(set(srcs)) == len(srcs) == s["edges_per_node"] and max(srcs) < 2 + j
    else:
        assert len(arch.heads) == len(arch.mlp_ratio) == len(arch.neurons) == arch.depth
        assert all(arch.embed_dim % h == 0 for h in arch.heads)


@pytest.mark.parametrize("name", sorted(SPACES))
@FAST
@given(seed=st.integers(0, 2**32 - 1), prob=st.sampled_from([None, 0.0, 0.3, 1.0]))
def test_mutation_and_crossover_stay_valid(name, seed, prob):
    space = SPACES[name]
    rng = np.random.default_rng(seed)
    lo, hi = space.bounds()
    a, b = space.random_genome(rng), space.random_genome(rng)
    child = space.mutate(a, rng, prob)
    kids = space.crossover(a, child, rng) + space.crossover(a, b, rng)
    for g in (a, b, child, *kids):
        assert len(g) == len(lo) and all(lo[i] <= g[i] <= hi[i] for i in range(len(g)))
        assert all(type(x) is int for x in g)
        assert space.satisfies_static(space.decode(g)) and space.canonical(g) == g
    if space.size() > 1:
        assert space.decode(child) != space.decode(a)  # mutation changes the architecture


def test_sample_is_seeded():
    space = SPACES["digits"]
    assert space.sample(np.random.default_rng(3)) == space.sample(np.random.default_rng(3))
    assert len({space.sample(np.random.default_rng(s)).id for s in range(20)}) > 10


def test_pymoo_style_float_genomes_are_accepted():
    space = SPACES["digits"]
    g = space.random_genome(0)
    assert space.decode(np.asarray(g, dtype=float)) == space.decode(g)


@pytest.mark.parametrize("genome, match", [
    ([0], r"genome has 1 genes; space 'digits' has \d+"),
    ("x" * 11, r"gene 0 \(time_steps\) = 'x' is not an integer in \[0, 1\]"),
    ([5] + [0] * 10, r"gene 0 \(time_steps\) = 5 is not an integer in \[0, 1\]"),
    ([0.5] + [0] * 10, r"gene 0 \(time_steps\) = 0.5 is not an integer"),
    (None, "genome must be a sequence"),
])
def test_bad_genomes(genome, match):
    with pytest.raises(SpaceError, match=match):
        SPACES["digits"].decode(genome)


def test_trellis_moves_are_repaired():
    space = load_space_text("""
task: {dataset: digits, input_shape: [1, 8, 8], num_classes: 10}
family: cell
cell: {ops: [skip, conv_3x3], layers: 4, levels: [1, 1/2, 1/4], transitions: [0, 1],
       head_levels: [1/4]}
""", file="t.yaml")
    names = [d.name for d in space.decisions]
    g = [0] * len(names)
    arch = space.decode(g)  # all moves 0 cannot reach 1/4: the last layers are forced down
    assert arch.trellis == (0, 0, 1, 2)
    g[names.index("layer0.move")] = g[names.index("layer1.move")] = 1
    g[names.index("layer2.move")] = 1
    assert space.decode(g).trellis == (1, 2, 2, 2)  # a 3rd +1 would leave the levels


def test_encode_rejects_foreign_architectures():
    space = SPACES["digits"]
    arch = space.sample(np.random.default_rng(0))
    bad = [
        (dataclasses.replace(arch, time_steps=3), r"time_steps = 3 is not a choice \(2, 4\)"),
        (dataclasses.replace(arch, family="transformer"), "family is transformer"),
        (dataclasses.replace(arch, trellis=(0, 2, 1)), "trellis"),
        (dataclasses.replace(arch, trellis=(0,)), "has 1 levels, expected 3"),
        (dataclasses.replace(arch, cell=arch.cell[:1]), "cell has 1 nodes, expected 2"),
        (dataclasses.replace(arch, cell=(((0, "skip"), (0, "skip")), arch.cell[1])),
         r"node0.inputs = \(0, 0\) is not a choice"),
        (dataclasses.replace(arch, cell=(((0, "conv_5x5"), (1, "skip")), arch.cell[1])),
         "node0.op0 = 'conv_5x5' is not a choice"),
        (dataclasses.replace(arch, stem_channels=32), "stem_channels = 32 is not a choice"),
        (dataclasses.replace(arch, neurons=(NeuronSpec(kind="if", tau=None),) * 3),
         "neuron.kind = 'if' is not a choice"),
        (dataclasses.replace(arch, neurons=arch.neurons[:2]), "has 2 neurons, expected 3"),
        (dataclasses.replace(arch, neurons=(NeuronSpec(tau=2.0), NeuronSpec(tau=4.0),
                                            NeuronSpec(tau=2.0))), "neurons differ"),
    ]
    for a, match in bad:
        with pytest.raises(SpaceError, match=match):
            space.encode(a)
        assert not space.satisfies_static(a)


def test_ignored_fields_are_canonicalised():
    space = load_space_text("""
task: {dataset: digits, input_shape: [1, 8, 8], num_classes: 10}
family: transformer
transformer: {embed_dim: 16, depth: [1, 2], heads: [1, 2], patch_size: 2}
neuron: {kind: [if, lif], tau: [2, 3]}
""", file="t.yaml")
    names = [d.name for d in space.decisions]
    g = [0] * len(names)
    g[names.index("neuron.tau")] = 1  # ignored by `if`
    g[names.index("block1.heads")] = 1  # ignored at depth 1
    arch = space.decode(g)
    assert arch.neurons[0].kind == "if" and arch.neurons[0].tau is None and arch.depth == 1
    assert space.encode(arch) == [0] * len(names)


def test_learnable_tau_and_dgs_width():
    space = load_space_text("""
task: {dataset: digits, input_shape: [1, 8, 8], num_classes: 10}
family: cell
cell: {ops: [skip, conv_3x3], layers: 2}
neuron: {kind: lif, tau: {learnable: true, init: [2, 4], bounds: [1.5, 8]}, shared: false}
surrogate: {family: dspike, width: {dgs: true, init: 3, bounds: [1, 10], step: 0.5}}
""", file="l.yaml")
    arch = space.sample(np.random.default_rng(0))
    assert all(n.learn_tau and n.tau in (2.0, 4.0) and n.alpha == 3.0 for n in arch.neurons)
    assert arch.neurons[0].to_config()["kind"] == "plif"
    assert space.tau_bounds == (1.5, 8.0) and space.dgs == {"init": (3.0,), "bounds": (1.0, 10.0),
                                                             "step": 0.5}
    wrong = dataclasses.replace(arch, neurons=tuple(dataclasses.replace(n, learn_tau=False)
                                                    for n in arch.neurons))
    with pytest.raises(SpaceError, match="learn_tau is False"):
        space.encode(wrong)
