"""Op variants (``conv_3x3{width:5}``): both spellings give one canonical string, every bad entry is a
one-line SpaceError naming file, line and field, and a variant works end to end: genome and JSON round
trips with spelling-independent ids, `build_network` gives only that op's neuron the variant's
settings, the energy counter prices it as its base op, and an export reproduces it (width included)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from snnas.errors import SnnasError, SpaceError
from snnas.evaluate import count_energy
from snnas.export import export_module, load_source
from snnas.nn import OPS, SpikingConv, build_network, cell_op, cell_op_neuron, live_states
from snnas.nn._layers import split_neuron
from snnas.space import Architecture, NeuronSpec, describe, load_space, load_space_text, space_from_dict
from snnas.space._ops import number, op_string, parse_op
from snnas.spiking import Surrogate

BASE = """\
task:
  dataset: digits
  input_shape: [1, 8, 8]
  num_classes: 10
  time_steps: 2
family: cell
cell:
  nodes: 2
  ops: [skip, conv_3x3]
  layers: 3
  levels: [1, 1/2]
neuron:
  kind: [lif, plif]
  tau: [1.5, 2.0]
surrogate:
  family: dspike
  width: 3
"""
OPS_LINE = 9


def with_ops(ops: str, base: str = BASE) -> str:
    """``base`` with its ops line replaced by ``ops`` (which may span several lines)."""
    lines = base.splitlines()
    lines[OPS_LINE - 1] = ops
    return "\n".join(lines) + "\n"


def load(ops: str, base: str = BASE):
    return load_space_text(with_ops(ops, base), file="x.yaml")


# ---- the language -------------------------------------------------------------------------------
def test_both_spellings_give_one_canonical_string():
    space = load("  ops: [skip, 'conv_3x3{ width : 5 }', {conv_3x3: {width: 3.0}},\n"
                 "        'conv_3x3{width: 2.5, threshold: 5e-1}', {dil_conv_3x3: {tau: 4, width: 1e-3}}]")
    assert space.settings["ops"] == ["skip", "conv_3x3{width:5}", "conv_3x3{width:3}",
                                     "conv_3x3{threshold:0.5,width:2.5}", "dil_conv_3x3{tau:4,width:0.001}"]
    block = load("  ops:\n    - skip\n    - conv_3x3: {width: 5}\n    - 'conv_3x3{width:3}'")
    assert block.settings["ops"] == ["skip", "conv_3x3{width:5}", "conv_3x3{width:3}"]
    for written in ("conv_3x3{width: 5}", "conv_3x3{width:5.0}", " conv_3x3 {width: 5} ", {"conv_3x3": {"width": 5}}):
        base, params = parse_op(written)
        assert op_string(base, params) == "conv_3x3{width:5}", written
    assert parse_op("conv_3x3") == ("conv_3x3", ())
    # canonical numbers round-trip exactly, so ids never depend on how a value was written
    for x in (5.0, 0.5, 1e-5, 2.0 / 3.0, 123456.789):
        assert float(number(x)) == x
    # the normalised document loads back to the same space
    again = space_from_dict(space.to_dict())
    assert again.settings["ops"] == space.settings["ops"] and again.decisions == space.decisions


def test_a_variant_stem_is_accepted():
    space = load_space_text(BASE.replace("  layers: 3", "  layers: 3\n  stem: {conv_5x5: {width: 2}}"), file="x.yaml")
    assert space.fixed["stem"] == "conv_5x5{width:2}"


BAD = [
    # (ops line(s), expected message prefix)
    ("  ops: [skip, 'cnv_3x3{width: 5}']", "x.yaml:9 cell.ops[1]: unknown cell op 'cnv_3x3' (did you mean "
     "'conv_3x3'?); valid: skip, zero, conv_3x3"),
    ("  ops: [skip, {cnv_3x3: {width: 5}}]", "x.yaml:9 cell.ops[1].cnv_3x3: unknown cell op 'cnv_3x3'"),
    ("  ops: [skip, 'ssa{width: 5}']", "x.yaml:9 cell.ops[1]: 'ssa' is registered but is not a cell op"),
    ("  ops: [skip, 'conv_3x3{widht: 5}']", "x.yaml:9 cell.ops[1]: unknown op parameter 'widht' (did you "
     "mean 'width'?); valid: tau, threshold, width"),
    ("  ops: [skip, {conv_3x3: {alpha: 5}}]", "x.yaml:9 cell.ops[1].conv_3x3.alpha: unknown op parameter "
     "'alpha'; valid: tau, threshold, width"),
    ("  ops: [conv_3x3, 'skip{width: 5}']", "x.yaml:9 cell.ops[1]: 'skip' does not end in a neuron, so it "
     "takes no parameters (width); ops that do: conv_3x3, conv_5x5, dil_conv_3x3, cml_down"),
    ("  ops: [conv_3x3, {max_pool_3x3: {threshold: 0.5}}]", "x.yaml:9 cell.ops[1].max_pool_3x3: "
     "'max_pool_3x3' does not end in a neuron"),
    ("  ops: [skip, 'conv_3x3{width: wide}']", "x.yaml:9 cell.ops[1]: conv_3x3 width: expected a number, "
     "got 'wide' (string)"),
    ("  ops: [skip, {conv_3x3: {width: [3, 5]}}]", "x.yaml:9 cell.ops[1].conv_3x3.width: conv_3x3 width: "
     "expected a number, got [3, 5] (list)"),
    ("  ops: [skip, {conv_3x3: {width: true}}]", "x.yaml:9 cell.ops[1].conv_3x3.width: conv_3x3 width: "
     "expected a number, got True (boolean)"),
    ("  ops: [skip, 'conv_3x3{width: 0}']", "x.yaml:9 cell.ops[1]: conv_3x3 width: value 0 must be > 0"),
    ("  ops: [skip, {conv_3x3: {width: 2000}}]", "x.yaml:9 cell.ops[1].conv_3x3.width: conv_3x3 width: "
     "value 2000 must be <= 1000"),
    ("  ops: [skip, {conv_3x3: {threshold: -1}}]", "x.yaml:9 cell.ops[1].conv_3x3.threshold: conv_3x3 "
     "threshold: value -1 must be > 0"),
    ("  ops: [skip, {conv_3x3: {tau: 0.5}}]", "x.yaml:9 cell.ops[1].conv_3x3.tau: conv_3x3 tau: value 0.5 "
     "must be >= 1"),
    ("  ops: [skip, {conv_3x3: {width: .nan}}]", "x.yaml:9 cell.ops[1].conv_3x3.width: conv_3x3 width: "
     "value nan must be a finite number"),
    ("  ops: [skip, {conv_3x3: {tau: 1}}]", "x.yaml:9 cell.ops[1]: conv_3x3{tau:1}: tau 1 must be > 1 for plif"),
    ("  ops: [skip, 'conv_3x3{width: 5}', {conv_3x3: {width: 5.0}}]",
     "x.yaml:9 cell.ops[2]: duplicate entry 'conv_3x3{width:5}'"),
    ("  ops:\n    - skip\n    - conv_3x3: {width: 5}\n    - conv_3x3: {width: 5}",
     "x.yaml:12 cell.ops[2]: duplicate entry 'conv_3x3{width:5}'"),
    ("  ops: [skip, 'conv_3x3{width: 5, width: 3}']", "x.yaml:9 cell.ops[1]: 'conv_3x3{width: 5, width: 3}': "
     "duplicate parameter 'width'"),
    ("  ops: [skip, 'conv_3x3{width: 5']", "x.yaml:9 cell.ops[1]: 'conv_3x3{width: 5' is not an op variant"),
    ("  ops: [skip, 'conv_3x3{width 5}']", "x.yaml:9 cell.ops[1]: 'conv_3x3{width 5}': expected 'parameter: "
     "value' entries"),
    ("  ops: [skip, 'conv_3x3{}']", "x.yaml:9 cell.ops[1]: 'conv_3x3{}' has no parameters; write the plain "
     "name 'conv_3x3'"),
    ("  ops: [skip, {conv_3x3: {}}]", "x.yaml:9 cell.ops[1].conv_3x3: {conv_3x3: {}} has no parameters"),
    ("  ops: [skip, {conv_3x3: {width: 5}, conv_5x5: {width: 5}}]", "x.yaml:9 cell.ops[1]: expected a name, "
     "or an op variant like conv_3x3: {width: 5}, got"),
    # unquoted in a block list, YAML reads `conv_3x3{width: 5}` as the mapping {'conv_3x3{width': '5}'}
    ("  ops:\n    - skip\n    - conv_3x3{width: 5}", "x.yaml:11 cell.ops[1]: got {'conv_3x3{width': '5}'} "
     "(mapping): quote an op variant written as a string"),
]


@pytest.mark.parametrize("ops, expected", BAD, ids=[b[0].strip() for b in BAD])
def test_bad_variant_is_one_line_naming_file_line_and_field(ops, expected):
    with pytest.raises(SpaceError) as info:
        load(ops)
    message = str(info.value)
    assert message.startswith(expected), message
    assert "\n" not in message and info.value.file == "x.yaml"


def test_a_variant_may_not_fix_a_width_that_dgs_moves():
    base = BASE.replace("  width: 3", "  width: {dgs: true, init: 3, bounds: [1, 10], step: 0.5}")
    with pytest.raises(SpaceError) as info:
        load("  ops: [skip, {conv_3x3: {width: 5}}]", base)
    assert str(info.value).startswith("x.yaml:9 cell.ops[1]: conv_3x3{width:5} sets its own surrogate width, "
                                      "but surrogate.width is moved by DGS"), str(info.value)
    load("  ops: [skip, {conv_3x3: {threshold: 0.5}}]", base)  # DGS moves widths only


def test_a_variant_may_not_fix_a_learned_tau():
    base = BASE.replace("  kind: [lif, plif]\n  tau: [1.5, 2.0]", "  kind: lif\n  tau: {learnable: true, init: 2}")
    with pytest.raises(SpaceError) as info:
        load("  ops: [skip, {conv_3x3: {tau: 3}}]", base)
    assert str(info.value).startswith("x.yaml:9 cell.ops[1]: conv_3x3{tau:3} sets its own tau, but neuron.tau "
                                      "is learnable"), str(info.value)
    load("  ops: [skip, {conv_3x3: {width: 5}}]", base)
    with pytest.raises(SpaceError, match=r"^x.yaml:11 cell.stem: conv_5x5\{tau:3\} sets its own tau"):
        load_space_text(base.replace("  layers: 3", "  layers: 3\n  stem: 'conv_5x5{tau: 3}'"), file="x.yaml")


def test_the_error_names_a_shipped_file():
    text = Path("search_spaces/spikedhs_cifar10.yaml").read_text()
    text = text.replace("conv_3x3: {width: 5}", "conv_3x3: {width: -5}")
    with pytest.raises(SpaceError) as info:
        load_space_text(text, file="spikedhs_cifar10.yaml")
    assert str(info.value).startswith("spikedhs_cifar10.yaml:26 cell.ops[2].conv_3x3.width: conv_3x3 width: "
                                      "value -5 must be > 0"), str(info.value)


@pytest.mark.parametrize("name, error", [
    ("cnv_3x3{width:5}", "unknown cell op 'cnv_3x3'"),
    ("skip{width:5}", "'skip' does not end in a neuron"),
    ("conv_3x3{w:5}", "unknown op parameter 'w'"),
    ("conv_3x3{width:-1}", "conv_3x3 width: value -1 must be > 0"),
    ("conv_3x3{width:5", "is not an op variant"),
])
def test_the_registry_refuses_bad_variants_with_one_line(name, error):
    with pytest.raises(SnnasError, match=error):
        cell_op(name)
    assert name not in OPS


def test_registry_meta_of_a_variant_is_its_base_ops():
    assert OPS.meta("conv_3x3{width:5}") == OPS.meta("conv_3x3")
    assert "conv_3x3{width: 5}" in OPS and "conv_3x3{width:5}" in OPS
    assert live_states((((0, "conv_3x3{width:5}"), (1, "zero")),), 1) == {0, 2}


# ---- architectures ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dhs():
    return load_space("spikedhs_cifar10")


def test_genome_and_json_round_trips_and_a_spelling_independent_id(dhs):
    text = Path("search_spaces/spikedhs_cifar10.yaml").read_text()
    text = text.replace("- conv_3x3: {width: 3}", "- 'conv_3x3{width: 3.0}'")
    as_strings = load_space_text(text.replace("- conv_3x3: {width: 5}", "- 'conv_3x3{ width:5 }'"), file="s.yaml")
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(20):
        genome = dhs.random_genome(rng)
        arch = dhs.decode(genome)
        seen.update(op for node in arch.cell for _, op in node)
        assert dhs.encode(arch) == genome
        assert Architecture.from_json(arch.to_json()) == arch
        other = as_strings.decode(genome)
        assert other == arch and other.id == arch.id
    assert seen == {"skip", "conv_3x3{width:3}", "conv_3x3{width:5}"}
    # a hand-written spelling encodes to the same genome; a width that is not a choice is refused
    spelled = replace(arch, cell=tuple(tuple((s, op.replace(":", ": ")) for s, op in node) for node in arch.cell))
    assert "{width: " in spelled.to_json() and dhs.encode(spelled) == dhs.encode(arch)
    stray = replace(arch, cell=(((0, "conv_3x3{width:4}"), (1, "skip")),) + arch.cell[1:])
    with pytest.raises(SpaceError, match=r"node0.op0 = 'conv_3x3\{width:4\}' is not a choice"):
        dhs.encode(stray)


def test_space_show_displays_variants(dhs):
    text = describe(dhs)
    assert "skip | conv_3x3{width:3} | conv_3x3{width:5}" in text
    assert "ops=['skip', 'conv_3x3{width:3}', 'conv_3x3{width:5}']" in text


# ---- networks -----------------------------------------------------------------------------------
CELL = (((0, "conv_3x3{width:5}"), (1, "conv_3x3")), ((2, "conv_3x3{threshold:0.5,width:2}"), (1, "skip")))
TRELLIS = (0, 1, 1, 0)
SHAPE = (1, 8, 8)


def _arch(cell=CELL, surrogate="dspike") -> Architecture:
    return Architecture("cell", 3, (NeuronSpec("lif", 2.0, surrogate=surrogate, alpha=3.0),) * len(TRELLIS),
                        cell=cell, trellis=TRELLIS, stem_channels=4)


def _plain(cell):
    """The cell with every variant replaced by its base op."""
    return tuple(tuple((s, op.split("{")[0]) for s, op in node) for node in cell)


class _Space:
    input_shape, num_classes, fixed = SHAPE, 10, {"nodes": 2}


def _edge_neuron(model, layer: int, node: int, k: int):
    return split_neuron(model.cells[layer].ops[node][k])


def test_build_network_gives_only_the_variant_its_settings():
    model = build_network(_Space(), _arch())
    for i in range(len(TRELLIS)):
        v5, plain = _edge_neuron(model, i, 0, 0), _edge_neuron(model, i, 0, 1)
        v2 = _edge_neuron(model, i, 1, 0)
        assert v5.surrogate.alpha == 5.0 and v5.v_threshold == 1.0
        assert plain.surrogate.alpha == 3.0 and plain.v_threshold == 1.0
        assert v2.surrogate.alpha == 2.0 and v2.v_threshold == 0.5
        assert isinstance(model.cells[i].ops[0][0], SpikingConv)
    # every other neuron (stem, resampling) keeps the layer's width
    variant_ids = {id(_edge_neuron(model, i, j, 0)) for i in range(len(TRELLIS)) for j in range(2)}
    others = [m.surrogate.alpha for m in model.modules()
              if hasattr(m, "surrogate") and isinstance(m.surrogate, Surrogate) and id(m) not in variant_ids]
    assert others and set(others) == {3.0}
    # the widths survive a state-dict round trip (dspike's b is a buffer)
    again = build_network(_Space(), _arch())
    again.load_state_dict(model.state_dict())
    assert _edge_neuron(again, 0, 0, 0).surrogate.alpha == 5.0


def test_a_variant_sets_what_the_layer_kind_uses_and_ignores_the_rest():
    lif = {"kind": "lif", "tau": 2.0, "v_threshold": 1.0, "v_reset": 0.0, "surrogate": "atan", "alpha": 2.0}
    assert cell_op_neuron("conv_3x3{tau:4,threshold:0.5,width:3}", lif) == {**lif, "tau": 4.0, "v_threshold": 0.5,
                                                                           "alpha": 3.0}
    assert cell_op_neuron("conv_3x3", lif) == lif
    plif = {"kind": "plif", "init_tau": 2.0, "surrogate": "sigmoid"}
    assert cell_op_neuron("conv_3x3{tau:4}", plif) == {**plif, "init_tau": 4.0}
    assert cell_op_neuron("conv_3x3{tau:4,width:2}", {"kind": "if"}) == {"kind": "if", "alpha": 2.0}
    assert cell_op_neuron("conv_3x3{tau:4,width:2}", {"kind": "psn", "T": 2}) == {"kind": "psn", "T": 2, "alpha": 2.0}
    assert cell_op_neuron("conv_3x3{tau:4,threshold:2,width:2}", {"kind": "ann"}) == {"kind": "ann"}
    assert lif["alpha"] == 2.0  # the layer's config is never changed
    op = cell_op("conv_3x3{tau:4}")(2, 2, 1, plif)
    assert float(1 / op.neuron.w.detach().sigmoid()) == pytest.approx(4.0)


def test_a_variant_costs_what_its_base_op_costs():
    """Same weights, same input: the same events, MACs, ACs and energy (the width changes gradients only)."""
    torch.manual_seed(0)
    variant = build_network(_Space(), _arch(surrogate="sigmoid")).eval()
    plain = build_network(_Space(), _arch(_plain(CELL), surrogate="sigmoid")).eval()
    plain.load_state_dict(variant.state_dict())
    x = torch.rand(3, 4, *SHAPE) * 2
    a, b = count_energy(variant, x), count_energy(plain, x)
    assert (a.macs, a.acs, a.energy_mj) == (b.macs, b.acs, b.energy_mj)
    assert a.firing_rates == b.firing_rates and a.acs > 0


def _input_grad(model, x):
    x = x.clone().requires_grad_(True)
    model(x).sum().backward()
    return x.grad


def test_export_reproduces_a_variant_width_included(tmp_path):
    torch.manual_seed(0)
    arch = _arch(surrogate="atan")  # atan's gradient reaches the input everywhere, so widths show in it
    model = build_network(_Space(), arch).eval()
    x = torch.rand(3, 2, *SHAPE, generator=torch.Generator().manual_seed(1)) * 2
    paths = export_module(model, tmp_path, architecture=arch, example_input=x)
    assert Architecture.from_json(paths["architecture"].read_text()) == arch
    source = paths["model"].read_text()
    assert "ATanSurrogate(5.0)" in source and "ATanSurrogate(2.0)" in source
    net = load_source(source).Network()
    net.load_state_dict(torch.load(paths["weights"], weights_only=True))
    net.eval()
    with torch.no_grad():
        assert torch.equal(net(x), model(x))
    widths = sorted(float(m.alpha) for m in net.modules() if type(m).__name__.endswith("Surrogate"))
    assert widths == sorted(m.alpha for m in model.modules() if isinstance(m, Surrogate))
    # backward uses the widths: the exported network's input gradient is the variant network's, and
    # differs from that of the same weights with plain ops
    # (the backward of the exported twins may round differently from the fused kernels' backward)
    want = _input_grad(model, x)
    scale = float(want.abs().max())
    assert scale > 0
    assert torch.allclose(_input_grad(net, x), want, rtol=1e-4, atol=1e-5 * scale)
    plain = build_network(_Space(), _arch(_plain(CELL), surrogate="atan")).eval()
    plain.load_state_dict(model.state_dict())
    assert not torch.allclose(_input_grad(plain, x), want, rtol=1e-2, atol=1e-2 * scale)
