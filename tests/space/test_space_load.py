"""Shipped spaces load, describe themselves, round-trip through to_dict, and match the docs."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from snnas.errors import SpaceError
from snnas.space import (
    SearchSpace,
    describe,
    load_space,
    load_space_text,
    schema_markdown,
    shipped_spaces,
    space_from_dict,
    validate_file,
)

ROOT = Path(__file__).resolve().parents[2]
REQUIRED_SPACES = {"digits", "digits_transformer", "spikedhs_cifar10", "autospikformer_cifar100",
                   "dvs_gesture"}


def test_all_required_spaces_are_shipped():
    assert REQUIRED_SPACES <= set(shipped_spaces())


def test_shipped_space_is_valid(shipped: SearchSpace):
    assert isinstance(validate_file(shipped.path), SearchSpace)
    assert shipped.name == Path(shipped.path).stem
    assert shipped.size() >= 1 and shipped.log10_size() == pytest.approx(np.log10(shipped.size()))
    lo, hi = shipped.bounds()
    assert len(lo) == len(hi) == len(shipped.decisions) and (hi >= 1).all() and (lo == 0).all()
    text = describe(shipped)
    assert shipped.name in text and "size:" in text and "example:" in text
    for d in shipped.decisions:
        assert d.name in text


def test_to_dict_reloads_to_the_same_space(shipped: SearchSpace):
    doc = shipped.to_dict()
    again = space_from_dict(doc, name=shipped.name)
    from_text = load_space_text(yaml.safe_dump(doc, sort_keys=False), file="copy.yaml")
    for other in (again, from_text):
        assert other.decisions == shipped.decisions
        assert other.size() == shipped.size()
        assert other.fixed == shipped.fixed and other.defaults == shipped.defaults
        assert other.to_dict() == doc


def test_paper_spaces_have_the_paper_settings():
    dhs = load_space("spikedhs_cifar10")
    assert dhs.settings["nodes"] == 3 and dhs.settings["layers"] == 8
    assert dhs.settings["n_levels"] == 4 and dhs.settings["stem_channels"] == 48
    # the paper's candidates: skip_connect, snn_b3, snn_b5 (a 3x3 conv with dspike width 3 / 5)
    assert dhs.settings["ops"] == ["skip", "conv_3x3{width:3}", "conv_3x3{width:5}"]
    assert dhs.shared_neuron and dhs.defaults["strategy"] == "dhs"
    arch = dhs.sample(np.random.default_rng(1))
    assert arch.time_steps == 6 and {n.surrogate for n in arch.neurons} == {"dspike"}
    assert {n.alpha for n in arch.neurons} == {3.0}  # the layer's width; snn_b5 sets its own
    auto = load_space("autospikformer_cifar100")
    choices = {d.name: d.choices for d in auto.decisions}
    assert choices["depth"] == (2, 3, 4) and choices["embed_dim"] == (192, 240, 336, 384)
    assert choices["block0.mlp_ratio"] == (3.0, 3.5, 4.0) and choices["block0.heads"] == (6, 12)
    assert choices["block0.neuron.tau"] == (1.25, 2.0, 10.0)
    assert choices["time_steps"] == (2, 3, 4, 5, 6)
    dvs = load_space("dvs_gesture")
    assert dvs.dataset == "events" and dvs.input_shape == (2, 128, 128) and dvs.num_classes == 11
    assert dvs.dgs is not None and dvs.dgs["bounds"] == (1.0, 10.0)


def test_default_space_is_small():
    space = load_space("digits")
    assert space.family == "cell" and space.input_shape == (1, 8, 8) and space.num_classes == 10
    assert space.size() < 10**6 and space.defaults["proxy_epochs"] <= 5


def test_docs_are_generated_from_the_schema():
    committed = (ROOT / "docs" / "search_spaces.md").read_text()
    assert committed == schema_markdown(), "regenerate: python -m snnas.space > docs/search_spaces.md"


def test_importing_space_does_not_import_torch():
    code = "import sys, snnas.space; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_missing_file_and_names():
    with pytest.raises(SpaceError, match=r"nope\.yaml: no such file; shipped spaces: .*digits"):
        load_space("nope.yaml")
    with pytest.raises(SpaceError, match="cannot read"):
        load_space(ROOT / "search_spaces")
    assert load_space("digits").path.endswith("digits.yaml")


TINY_CELL = """
task: {dataset: digits, input_shape: [1, 8, 8], num_classes: 10, time_steps: [1, 2]}
family: cell
cell: {nodes: 2, ops: [skip, zero], layers: 2, levels: [1, 1/2]}
neuron: {kind: [if, lif, ann], tau: [2, 3], reset: [hard, soft]}
surrogate: {family: [sigmoid, atan]}
"""
TINY_TRANSFORMER = """
task: {dataset: digits, input_shape: [1, 8, 8], num_classes: 10}
family: transformer
transformer: {embed_dim: [8, 16], depth: [1, 2], heads: [1, 2], mlp_ratio: [1, 2], patch_size: 2}
neuron: {kind: [lif, ann], tau: [2, 3], shared: false}
"""


@pytest.mark.parametrize("text", [TINY_CELL, TINY_TRANSFORMER])
def test_size_counts_distinct_architectures(text):
    space = load_space_text(text, file="tiny.yaml")
    ids = {space.decode(list(g)).id
           for g in itertools.product(*(range(len(d.choices)) for d in space.decisions))}
    assert len(ids) == space.size()


def test_shipped_samples_build_and_run():
    torch = pytest.importorskip("torch")
    from snnas.nn import build_network

    for name in ("digits", "digits_transformer"):
        space = load_space(name)
        rng = np.random.default_rng(0)
        for _ in range(2):
            arch = space.sample(rng)
            net = build_network(space, arch).eval()
            x = torch.zeros(arch.time_steps, 2, *space.input_shape)
            with torch.no_grad():
                assert net(x).shape == (2, space.num_classes)
