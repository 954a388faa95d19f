"""Dag-topology cell spaces (SNASNet / SpikeNAS-Bench): genes, round trips, ids and one-line errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
import yaml
from tiny_dag import TINY_DAG as DAG

from snnas.errors import SpaceError
from snnas.space import Architecture, load_space, load_space_text, space_from_dict

EDGES = ["edge01.op", "edge02.op", "edge03.op", "edge12.op", "edge13.op", "edge23.op"]


def dag(**changes) -> str:
    doc = yaml.safe_load(DAG)
    for key, value in changes.items():
        section, name = key.split("__")
        if value is None:
            doc[section].pop(name)
        else:
            doc[section][name] = value
    return yaml.safe_dump(doc, sort_keys=False)


def test_genes_are_the_edges_in_id_order():
    space = load_space_text(DAG, file="dag.yaml")
    assert [d.name for d in space.decisions] == EDGES
    assert space.edges == ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
    assert space.size() == 5**6 and space.trellis is None
    assert space.settings["topology"] == "dag" and space.fixed == {"nodes": 4, "stem_stride": 1}


def test_decode_lists_every_edge_and_records_the_topology():
    space = load_space_text(DAG)
    ops = space.settings["ops"]
    arch = space.decode([0, 1, 2, 3, 4, 0])
    assert arch.cell == (((0, ops[0]),), ((0, ops[1]), (1, ops[3])), ((0, ops[2]), (1, ops[4]), (2, ops[0])))
    assert arch.topology == "dag" and arch.extra == (("topology", "dag"),) and arch.trellis == (0, 1)
    assert len(arch.neurons) == 2 and arch.neurons[0].v_threshold == 1.0 and arch.neurons[0].surrogate == "atan"
    assert "dag [" in arch.summary()


def test_round_trip_json_and_id():
    space = load_space_text(DAG)
    for seed in range(20):
        arch = space.sample(np.random.default_rng(seed))
        g = space.encode(arch)
        assert space.decode(g) == arch and space.satisfies_static(arch)
        again = Architecture.from_json(arch.to_json())
        assert again == arch and again.id == arch.id and space.encode(again) == g
    a, b = space.decode([0] * 6), space.decode([0] * 5 + [1])
    assert a.id != b.id and len(a.id) == 12
    # the id depends on the topology: the same cell without it is another architecture
    darts_like = Architecture.from_dict({k: v for k, v in a.to_dict().items() if k != "extra"})
    assert darts_like.id != a.id and darts_like.topology == "darts"


def test_darts_ids_did_not_change():
    """Ids of darts architectures from before dag cells existed (the shipped spaces' samples)."""
    expected = {"digits": ["c1d4907a4793", "a3d74ef5f8bd", "05f35e21d98c"],
                "spikedhs_cifar10": ["25e371dfc746", "1ee0407aa794", "845e4b8b482c"]}
    for name, ids in expected.items():
        space = load_space(name)
        assert [space.sample(np.random.default_rng(k)).id for k in range(3)] == ids
        assert space.settings["topology"] == "darts"


def test_encode_rejects_architectures_of_the_other_topology():
    dag_space, digits = load_space_text(DAG), load_space("digits")
    with pytest.raises(SpaceError, match="topology is dag, the space's is darts"):
        digits.encode(dag_space.decode([0] * 6))
    with pytest.raises(SpaceError, match="topology is darts, the space's is dag"):
        dag_space.encode(digits.sample(np.random.default_rng(0)))
    arch = dag_space.decode([1] * 6)
    d = arch.to_dict()
    missing = Architecture.from_dict({**d, "cell": [[[0, "skip"]], [[0, "skip"]], d["cell"][2]]})
    with pytest.raises(SpaceError, match=r"cell node 2 has edges from \[0\], expected one from each of nodes \[0, 1\]"):
        dag_space.encode(missing)
    moved = Architecture.from_dict({**arch.to_dict(), "trellis": [0, 0]})
    with pytest.raises(SpaceError, match=r"trellis \[0, 0\] must be \[0, 1\]"):
        dag_space.encode(moved)


def test_to_dict_drops_darts_only_keys_and_reloads():
    space = load_space_text(DAG)
    doc = space.to_dict()
    assert doc["cell"]["topology"] == "dag" and "levels" not in doc["cell"] and "edges_per_node" not in doc["cell"]
    again = space_from_dict(doc)
    assert again.decisions == space.decisions and again.to_dict() == doc


def test_per_layer_neurons():
    space = load_space_text(dag(neuron__shared=False, neuron__threshold=[0.5, 1.0]))
    names = [d.name for d in space.decisions]
    assert names == EDGES + ["layer0.neuron.threshold", "layer1.neuron.threshold"]
    arch = space.decode([0] * 6 + [0, 1])
    assert [n.v_threshold for n in arch.neurons] == [0.5, 1.0]


@pytest.mark.parametrize("changes,message", [
    ({"cell__topology": "tree"}, "cell.topology: unknown cell topology 'tree'; valid: darts, dag"),
    ({"cell__topology": 3}, "cell.topology: expected a name, got 3 (integer)"),
    ({"cell__nodes": 1}, "cell.nodes: a dag cell needs at least 2 nodes (node 0 is its input), got 1"),
    ({"cell__levels": [1, "1/2"]}, "cell.levels: 'levels' is only used with topology darts"),
    ({"cell__edges_per_node": 2}, "cell.edges_per_node: 'edges_per_node' is only used with topology darts"),
    ({"cell__head": "flatten"}, "cell.head: 'head' is only used with topology darts"),
    ({"cell__layers": 4}, "cell.layers: input 8x8 is not divisible by 16 (stem_stride 1 x 2^4"),
    ({"cell__ops": ["skip", "neuron_conv_3x3{width: 0}"]}, "cell.ops[1]: neuron_conv_3x3 width: value 0 must be > 0"),
])
def test_errors_are_one_line_and_name_the_field(changes, message):
    with pytest.raises(SpaceError) as e:
        load_space_text(dag(**changes), file="dag.yaml")
    text = str(e.value)
    assert message in text and "\n" not in text
    assert re.match(r"dag\.yaml:\d+ cell\.", text), text


def test_bad_topology_names_the_file_line_and_field():
    with pytest.raises(SpaceError) as e:
        load_space_text(DAG.replace("topology: dag", "topology: dagg"), file="x.yaml")
    assert str(e.value) == ("x.yaml:4 cell.topology: unknown cell topology 'dagg' (did you mean 'dag'?); "
                            "valid: darts, dag")


def test_shipped_benchmark_space():
    space = load_space("spikenas_bench_cifar10")
    assert space.settings["topology"] == "dag" and space.settings["nodes"] == 4 and space.settings["layers"] == 2
    assert space.settings["ops"] == ["zero", "skip", "neuron_conv_3x3{threshold:0.5}",
                                     "neuron_conv_3x3{threshold:1}", "neuron_conv_3x3{threshold:1.5}"]
    assert space.choices("time_steps") == (5,) and space.input_shape == (3, 32, 32) and space.dataset == "cifar10"
    assert space.settings["stem_channels"] == 128 and space.size() == 15625
    assert space.defaults["strategy"] == "evolution" and space.defaults["budget"] == 200
    n = space.decode([0] * 6).neurons[0]
    assert n.kind == "lif" and n.tau == pytest.approx(4 / 3) and n.v_reset == 0.0 and n.detach_reset
