"""Hand-written malformed documents: each gives one SpaceError naming file:line and field path."""

from __future__ import annotations

import pytest

from snnas.errors import SpaceError
from snnas.space import load_space, load_space_text, space_from_dict

CELL = """\
task:
  dataset: digits
  input_shape: [1, 8, 8]
  num_classes: 10
  time_steps: [2, 4]
family: cell
cell:
  nodes: 2
  ops: [skip, conv_3x3]
  layers: 3
  levels: [1, 1/2]
  transitions: [-1, 0, 1]
neuron:
  kind: [lif, plif]
  tau: [1.5, 2.0]
surrogate:
  family: sigmoid
  width: 4.0
objectives: {accuracy: max, energy_mj: min}
constraints: ['energy_mj <= 1']
hardware: 45nm-fp32
search:
  budget: 10
"""

TRANSFORMER = """\
task:
  dataset: digits
  input_shape: [1, 8, 8]
  num_classes: 10
family: transformer
transformer:
  embed_dim: [16, 32]
  depth: [1, 2]
  heads: [2, 4]
  mlp_ratio: [2, 4]
  patch_size: 2
  stem_stages: 2
"""


def edit(base: str, line: int, text: str) -> str:
    """Replace 1-based ``line`` of ``base`` with ``text`` (which may hold several lines)."""
    lines = base.splitlines()
    lines[line - 1] = text
    return "\n".join(lines) + "\n"


CASES = [
    # (base, line, replacement, expected message prefix)
    (CELL, 15, "  tau: {range: [0.5, 2.0]}", "x.yaml:15 neuron.tau.range: lower bound 0.5 must be >= 1"),
    (CELL, 15, "  tau: {range: [3, 2]}",
     "x.yaml:15 neuron.tau.range: lower bound 3 must be <= upper bound 2"),
    (CELL, 15, "  tau: {range: [1.5, 2], step: 0.00001}",
     "x.yaml:15 neuron.tau.step: range [1.5, 2] with step 1e-05 gives more than 1000 values"),
    (CELL, 15, "  tau: {rang: [1.5, 2]}", "x.yaml:15 neuron.tau.rang: a value mapping needs one of the "
     "keys choice, range, learnable; got 'rang' (did you mean 'range'?)"),
    (CELL, 15, "  tau: {range: [1.5, 2], steps: 1}",
     "x.yaml:15 neuron.tau.steps: unknown key 'steps' in a range value (did you mean 'step'?)"),
    (CELL, 15, "  tau: [1, 2]", "x.yaml:15 neuron.tau: tau 1 must be > 1 for plif"),
    (CELL, 15, "  tau: [2, 2.0]", "x.yaml:15 neuron.tau[1]: duplicate choice 2.0"),
    (CELL, 15, "  tau: []", "x.yaml:15 neuron.tau: the choice list is empty"),
    (CELL, 15, "  tau: .nan", "x.yaml:15 neuron.tau: value nan must be a finite number"),
    (CELL, 15, "  tau: {learnable: true, init: 2, bounds: [3, 8]}",
     "x.yaml:15 neuron.tau.init: init 2 is outside bounds [3, 8]"),
    (CELL, 15, "  tau: {learnable: yes}", "x.yaml:15 neuron.tau: 'learnable' needs an 'init' value"),
    (CELL, 18, "  width: {dgs: true, init: 3, bounds: [1, 10]}",
     "x.yaml:18 surrogate.width: 'dgs' needs a 'step'"),
    (CELL, 18, "  width: {dgs: true, init: 3, bounds: [1, 2], step: 5}",
     "x.yaml:18 surrogate.width.init: init 3 is outside bounds [1, 2]"),
    (CELL, 18, "  width: -1", "x.yaml:18 surrogate.width: value -1 must be > 0"),
    (CELL, 18, "  width: {learnable: true, init: 3}",
     "x.yaml:18 surrogate.width.learnable: 'learnable' is not allowed here"),
    (CELL, 10, "  layrs: 3", "x.yaml:10 cell.layrs: unknown key 'layrs' in 'cell' (did you mean 'layers'?)"),
    (CELL, 10, "  layers: three", "x.yaml:10 cell.layers: expected an integer, got 'three' (string)"),
    (CELL, 10, "  layers: 2.5", "x.yaml:10 cell.layers: expected an integer, got 2.5 (number)"),
    (CELL, 10, "  layers: 0", "x.yaml:10 cell.layers: value 0 must be >= 1"),
    (CELL, 10, "  layers: 3\n  layers: 4", "x.yaml:11 cell.layers: duplicate key 'layers'"),
    (CELL, 10, "  layers: [3", "x.yaml:11: invalid YAML: while parsing a flow sequence"),
    (CELL, 10, "\tlayers: 3", "x.yaml:10: invalid YAML: while scanning for the next token, found "
     "character '\\t'"),
    (CELL, 9, "  ops: [skip, conv3x3]", "x.yaml:9 cell.ops[1]: unknown cell op 'conv3x3' (did you "
     "mean 'conv_3x3'?); valid: "),
    (CELL, 9, "  ops: [skip, ssa]", "x.yaml:9 cell.ops[1]: 'ssa' is registered but is not a cell op"),
    (CELL, 9, "  ops: [skip, skip]", "x.yaml:9 cell.ops[1]: duplicate entry 'skip'"),
    (CELL, 9, "  ops: skip", "x.yaml:9 cell.ops: expected a list, got 'skip' (string)"),
    (CELL, 9, "  ops: []", "x.yaml:9 cell.ops: expected at least 1 entry"),
    (CELL, 9, "  ops: [skip, {a: 1}]", "x.yaml:9 cell.ops[1]: expected a name, or an op variant like "
     "conv_3x3: {width: 5}, got {'a': 1} (mapping)"),
    (CELL, 11, "  levels: [1, 1/4]", "x.yaml:11 cell.levels[1]: levels must start at 1 and halve at "
     "each entry: expected 1/2, got '1/4'"),
    (CELL, 11, "  levels: [1, 3/4]", "x.yaml:11 cell.levels[1]: level '3/4' must be one of 1, 1/2"),
    (CELL, 11, "  levels: [1, 1/2, 1/4, 1/8, 1/16]", "x.yaml:11 cell.levels: input 8x8 is not "
     "divisible by 16 (stem_stride 1 x 2^4 for level 1/16)"),
    (CELL, 12, "  transitions: [1]", "x.yaml:12 cell.transitions: the trellis never reaches the head"),
    (CELL, 12, "  transitions: [0]\n  head_levels: [1/2]", "x.yaml:13 cell.head_levels: the trellis "
     "never reaches the head: no path of 3 layer(s) from level 1 with moves [0]"),
    (CELL, 12, "  transitions: [2]", "x.yaml:12 cell.transitions[0]: value 2 must be <= 1"),
    (CELL, 12, "  head_levels: [1/4]", "x.yaml:12 cell.head_levels[0]: level 1/4 is not in levels [1, 1/2]"),
    (CELL, 8, "  nodes: 2\n  multiplier: 3", "x.yaml:9 cell.multiplier: multiplier 3 must be <= nodes 2"),
    (CELL, 8, "  nodes: 2\n  edges_per_node: 3", "x.yaml:9 cell.edges_per_node: value 3 must be <= 2"),
    (CELL, 8, "  nodes: 2\n  stem_stride: 4", "x.yaml:9 cell.stem_stride: value 4 must be <= 2"),
    (CELL, 14, "  kind: [lif, plf]", "x.yaml:14 neuron.kind[1]: unknown neuron kind 'plf' (did you "
     "mean 'plif'?); valid: "),
    (CELL, 14, "  kind: {range: [1, 2]}", "x.yaml:14 neuron.kind.range: 'range' is not allowed here"),
    (CELL, 17, "  family: sigmod", "x.yaml:17 surrogate.family: unknown surrogate gradient 'sigmod' "
     "(did you mean 'sigmoid'?); valid: "),
    (CELL, 2, "  dataset: digit", "x.yaml:2 task.dataset: unknown dataset 'digit' (did you mean "
     "'digits'?); valid: "),
    (CELL, 2, "  dataset: digits\n  encoding: posson", "x.yaml:3 task.encoding: unknown encoding "
     "'posson' (did you mean 'poisson'?); valid: "),
    (CELL, 3, "  input_shape: [1, 8]", "x.yaml:3 task.input_shape: expected 3 entries, got 2"),
    (CELL, 3, "  input_shape: [1, 0, 8]", "x.yaml:3 task.input_shape[1]: value 0 must be >= 1"),
    (CELL, 4, "  num_classes: 1", "x.yaml:4 task.num_classes: value 1 must be >= 2"),
    (CELL, 4, "  nm_classes: 10", "x.yaml:4 task.nm_classes: unknown key 'nm_classes' in 'task' "
     "(did you mean 'num_classes'?)"),
    (CELL, 5, "  time_steps: [0, 4]", "x.yaml:5 task.time_steps[0]: value 0 must be >= 1"),
    (CELL, 6, "family: cnn", "x.yaml:6 family: unknown family 'cnn'; valid: cell, transformer"),
    (CELL, 6, "family: transformer", "x.yaml:7 cell: 'cell' is only used when family is cell (family "
     "here is transformer)"),
    (CELL, 6, "", "x.yaml:1: missing required key 'family'"),
    (CELL, 19, "objectives: {accuracy: max, energy: min}", "x.yaml:19 objectives.energy: unknown "
     "metric 'energy' (did you mean 'energy_mj'?)"),
    (CELL, 19, "objectives: {accuracy: up}", "x.yaml:19 objectives.accuracy: unknown direction 'up'"),
    (CELL, 19, "objectives: []", "x.yaml:19 objectives: expected a mapping metric: max|min"),
    (CELL, 20, "constraints: ['energy_mj < 1']", "x.yaml:20 constraints[0]: expected '<metric> <= "
     "<number>' or '<metric> >= <number>', got 'energy_mj < 1'"),
    (CELL, 20, "constraints: ['params <= many']", "x.yaml:20 constraints[0]: expected a number, got 'many'"),
    (CELL, 20, "constraints: ['time_steps <= 1']", "x.yaml:20 constraints[0]: no task.time_steps "
     "choice satisfies 'time_steps <= 1'"),
    (CELL, 20, "constraints: ['latency <= 1']", "x.yaml:20 constraints[0]: unknown metric 'latency'"),
    (CELL, 21, "hardware: 45nm-fp33", "x.yaml:21 hardware: unknown hardware profile '45nm-fp33' (did "
     "you mean '45nm-fp32'?); valid: "),
    (CELL, 23, "  budget: -1", "x.yaml:23 search.budget: value -1 must be >= 1"),
    (CELL, 23, "  lr: 0", "x.yaml:23 search.lr: value 0 must be > 0"),
    (CELL, 23, "  final_lr: -1", "x.yaml:23 search.final_lr: value -1 must be > 0"),
    (CELL, 23, "  supernet_ensemble: 0", "x.yaml:23 search.supernet_ensemble: value 0 must be >= 1"),
    (CELL, 23, "  prescreen: 101", "x.yaml:23 search.prescreen: value 101 must be <= 100"),
    (CELL, 23, "  supernet_split: neuron.tau", "x.yaml:23 search.supernet_split: expected a list"),
    (CELL, 23, "  supernet_time_steps: 3", "x.yaml:23 search.supernet_time_steps: 3 is not one of the "
     "space's time steps (2, 4)"),
    (CELL, 12, "  head: max", "x.yaml:12 cell.head: unknown cell head 'max'"),
    (CELL, 23, "  budjet: 10", "x.yaml:23 search.budjet: unknown key 'budjet' in 'search' (did you "
     "mean 'budget'?)"),
    (CELL, 23, "  - 10", "x.yaml:22 search: expected a mapping of keys"),
    (CELL, 22, "serch:", "x.yaml:22 serch: unknown key 'serch' at the top level (did you mean 'search'?)"),
    (CELL, 1, "task: !!python/object:os.system", "x.yaml:1 task: unsupported YAML tag"),
    (CELL, 1, "? [a, b]\n: 1\ntask:", "x.yaml:1: mapping keys must be plain names"),
    (CELL, 1, "1: x\ntask:", "x.yaml:1: mapping key 1 is not a name"),
    (TRANSFORMER, 9, "  heads: [2, 3]", "x.yaml:9 transformer.heads: heads 3 does not divide embed_dim 16"),
    (TRANSFORMER, 10, "  mlp_ratio: [2, 4.1]", "x.yaml:10 transformer.mlp_ratio: mlp_ratio 4.1 x "
     "embed_dim 16 = 65.6 is not a whole number of hidden units"),
    (TRANSFORMER, 11, "  patch_size: 16", "x.yaml:11 transformer.patch_size: patch_size 16 does not "
     "divide the input 8x8"),
    (TRANSFORMER, 11, "  patch_size: 3", "x.yaml:11 transformer.patch_size: value 3 must be a power of 2"),
    (TRANSFORMER, 12, "  stem_stages: 0", "x.yaml:12 transformer.stem_stages: value 0 must be >= 1"),
    (TRANSFORMER, 11, "  patch_size: 8", "x.yaml:12 transformer.stem_stages: "
     "patch_size 8 needs at least 3 stem stages, got 2"),
    (TRANSFORMER, 12, "  attention: [ssa, sda]", "x.yaml:12 transformer.attention[1]: unknown attention "
     "kind 'sda' (did you mean 'sdsa'?); valid: "),
    (TRANSFORMER, 12, "  stem: spss", "x.yaml:12 transformer.stem: unknown patch embedding 'spss' (did "
     "you mean 'sps'?); valid: sps, cml"),
    (TRANSFORMER, 7, "  embd_dim: 16", "x.yaml:7 transformer.embd_dim: unknown key 'embd_dim' in "
     "'transformer' (did you mean 'embed_dim'?)"),
    (TRANSFORMER, 6, "transformr:", "x.yaml:6 transformr: unknown key 'transformr' at the top level "
     "(did you mean 'transformer'?)"),
    (TRANSFORMER, 5, "family: cell", "x.yaml:5 family: family cell needs a 'cell' section"),
    (CELL, 6, "family: transformer\ntransformer: {embed_dim: 8, depth: 1, heads: 1}",
     "x.yaml:8 cell: 'cell' is only used when family is cell (family here is transformer)"),
]


@pytest.mark.parametrize("base, line, text, expected", CASES,
                         ids=[f"{'cell' if b is CELL else 'tf'}:{n}:{t.strip()[:30]}"
                              for b, n, t, _ in CASES])
def test_malformed_document(base, line, text, expected):
    with pytest.raises(SpaceError) as info:
        load_space_text(edit(base, line, text), file="x.yaml")
    assert str(info.value).startswith(expected), str(info.value)
    assert info.value.file == "x.yaml"


def test_bases_are_valid():
    assert load_space_text(CELL, file="x.yaml").family == "cell"
    assert load_space_text(TRANSFORMER, file="x.yaml").family == "transformer"


def test_registry_errors_list_valid_names():
    with pytest.raises(SpaceError) as info:
        load_space_text(edit(CELL, 9, "  ops: [skip, conv3x3]"), file="x.yaml")
    assert "conv_3x3" in str(info.value).split("valid: ")[1]
    assert "ssa" not in str(info.value).split("valid: ")[1]  # only cell ops are listed


@pytest.mark.parametrize("text, expected", [
    ("", "x.yaml: the document is empty"),
    ("# only a comment\n", "x.yaml: the document is empty"),
    ("- a\n- b\n", "x.yaml:1: a search space must be a mapping"),
    ("a: 1\n---\nb: 2\n", "x.yaml:2: invalid YAML: expected a single document"),
    ("a: &a [*a]\n", "x.yaml:1 a[0]: recursive YAML alias"),
    ("a: &a [1,2,3,4,5,6,7,8,9,10]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
     "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
     "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n",
     "document too large"),
    ("a: !!int abc\n", "x.yaml:1 a: cannot read value 'abc'"),
    ("a: \x00\n", "x.yaml: invalid YAML"),
    ("[" * 5000, "x.yaml"),
])
def test_malformed_yaml(text, expected):
    with pytest.raises(SpaceError) as info:
        load_space_text(text, file="x.yaml")
    assert expected in str(info.value)


def test_anchors_and_merge_keys_work():
    text = CELL.replace("neuron:\n  kind: [lif, plif]\n", "neuron:\n  <<: {kind: &k [lif, plif]}\n")
    space = load_space_text(text, file="x.yaml")
    assert space.choices("neuron.kind") == ("lif", "plif")
    text = CELL.replace("neuron:\n", "base: &n {kind: lif}\nneuron:\n", 1)
    with pytest.raises(SpaceError, match=r"x.yaml:13 base: unknown key 'base' at the top level"):
        load_space_text(text, file="x.yaml")


def test_dict_documents_have_paths_but_no_file():
    import yaml

    doc = yaml.safe_load(CELL)
    doc["neuron"]["tau"] = {"range": [0.5, 2]}
    with pytest.raises(SpaceError) as info:
        space_from_dict(doc)
    assert str(info.value) == "neuron.tau.range: lower bound 0.5 must be >= 1"


def test_file_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"task: \xff\xfe\n")
    with pytest.raises(SpaceError, match="bad.yaml: not UTF-8"):
        load_space(bad)
    bad.write_text(edit(CELL, 10, "  layers: 0"))
    with pytest.raises(SpaceError, match=r"bad\.yaml:10 cell\.layers: value 0 must be >= 1"):
        load_space(bad)


def test_empty_sections_mean_defaults():
    space = load_space_text(CELL.replace("search:\n  budget: 10\n", "search:\n  # budget: 10\n"),
                            file="x.yaml")
    assert space.defaults["budget"] == 20
    with pytest.raises(SpaceError, match=r"x.yaml:7 cell: missing required key 'ops'"):
        load_space_text(CELL.split("cell:")[0] + "cell:\nneuron: {kind: lif}\n", file="x.yaml")
