"""Export: the written model.py imports only torch and reproduces the in-package module bit for bit,
checked in a fresh interpreter that cannot import snnas, for sampled architectures and for EVERY
registered neuron, surrogate, cell op and attention op (a new registry entry is tested the moment it
is registered); and
the energy counter counts an exported module exactly as it counts the in-package one."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from snnas.evaluate import count_energy
from snnas.export import ExportError, export_module, load_source
from snnas.nn import SpikingConv, build_from_architecture, build_network, ops_of_kind
from snnas.space import Architecture, NeuronSpec, load_space
from snnas.spiking import NEURONS, SURROGATES

FRESH = r"""
import importlib.util, json, sys
from pathlib import Path
sys.modules["snnas"] = None          # any import of snnas now fails
import torch
for i, folder in enumerate(sys.argv[1:]):
    folder = Path(folder)
    spec = importlib.util.spec_from_file_location(f"model_{i}", folder / "model.py")
    model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model)
    net = model.Network()
    net.load_state_dict(torch.load(folder / "weights.pt", weights_only=True))
    net.eval()
    with torch.no_grad():
        torch.save(net(torch.load(folder / "x.pt", weights_only=True)), folder / "y.pt")
print(json.dumps(sorted(m for m, mod in sys.modules.items() if mod is not None)))
"""

CELL = (((0, "conv_3x3"), (1, "skip")), ((2, "max_pool_3x3"), (1, "avg_pool_3x3")))
SHAPE = (1, 8, 8)


def _randomise_state(model: torch.nn.Module, seed: int = 0) -> None:
    """Give BN running stats and neuron parameters non-default values, as training would."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.dtype.is_floating_point and ("running_var" in name):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif t.dtype.is_floating_point and ("running_mean" in name or name.endswith(".w")):
                t.copy_(torch.randn(t.shape, generator=g) * 0.3)


def _cell(neurons: tuple[NeuronSpec, ...]) -> tuple[torch.nn.Module, Architecture, tuple]:
    arch = Architecture("cell", 4, neurons, cell=CELL, trellis=(0, 1, 1, 0), stem_channels=8)
    return build_from_architecture(arch, SHAPE, 10), arch, SHAPE


def _neuron_case(kind: str):
    """Kind ``kind`` in three layers (soft reset + dspike, hard reset + detach, defaults) beside a LIF."""
    return _cell((NeuronSpec(kind, 1.5, False, 0.8, None, "dspike", 4.0), NeuronSpec("lif"),
                  NeuronSpec(kind, 3.0, False, 1.0, 0.0, "atan", 2.5, True), NeuronSpec(kind)))


def _surrogate_case(name: str):
    """Surrogate ``name`` (non-default width) on a LIF, a PLIF and a PSN layer."""
    return _cell((NeuronSpec("lif", 2.0, False, 1.0, 0.0, name, 1.7), NeuronSpec("lif", 2.0, True, 1.0, 0.0, name),
                  NeuronSpec("psn", None, False, 1.0, 0.0, name, 2.3), NeuronSpec("lif", 2.0, False, 0.9, None, name)))


def _cell_op_case(op: str, **fixed):
    """Cell op ``op`` on every edge, at both strides (the trellis goes down and up)."""
    arch = Architecture("cell", 4, (NeuronSpec("lif"),) * 4, cell=(((0, op), (1, op)), ((2, op), (1, op))),
                        trellis=(0, 1, 1, 0), stem_channels=8)
    return build_from_architecture(arch, SHAPE, 10, **fixed), arch, SHAPE


def _sampled_case(space_name: str, **change):
    space = load_space(space_name)
    arch = dataclasses.replace(space.sample(np.random.default_rng(3)), **change)
    return build_network(space, arch), arch, tuple(space.input_shape)


def _per_channel_tau_case():
    """Heterogeneous LIF (one tau per channel), as spatial-temporal search learns it."""
    model = torch.nn.Sequential(SpikingConv(1, 4, 3, neuron={"kind": "lif", "tau": [1.5, 2.0, 3.0, 8.0]}),
                                torch.nn.Flatten(2))
    return model, None, SHAPE


CASES = {
    **{f"neuron-{k}": (lambda k=k: _neuron_case(k)) for k in NEURONS.names()},
    **{f"surrogate-{s}": (lambda s=s: _surrogate_case(s)) for s in SURROGATES.names()},
    **{f"cell-op-{op}": (lambda op=op: _cell_op_case(op)) for op in ops_of_kind("cell")},
    **{f"attention-{a}": (lambda a=a: _sampled_case("digits_transformer", attention=a))
       for a in ops_of_kind("attention")},
    "sampled-digits": lambda: _sampled_case("digits"),
    "sampled-digits_transformer": lambda: _sampled_case("digits_transformer"),
    "lif-per-channel-tau": _per_channel_tau_case,
    "cell-head-flatten": lambda: _cell_op_case("conv_3x3", head="flatten"),
}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These networks are tiny: torch's thread pool only costs time, a lot on a shared machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, one_thread):
    """Every case exported to its own folder, then all run by ONE fresh interpreter without snnas."""
    root = tmp_path_factory.mktemp("exports")
    cases = {}
    for name, make in CASES.items():
        torch.manual_seed(0)
        model, arch, shape = make()
        _randomise_state(model)
        model.eval()
        t = arch.time_steps if arch is not None else 4
        x = torch.rand(t, 3, *shape, generator=torch.Generator().manual_seed(1)) * 2
        folder = root / name
        paths = export_module(model, folder, architecture=arch, example_input=x)
        torch.save(x, folder / "x.pt")
        cases[name] = (model, arch, x, folder, paths)
    proc = subprocess.run([sys.executable, "-I", "-c", FRESH, *(str(c[3]) for c in cases.values())],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr
    imported = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not [m for m in imported if m.startswith("snnas")]
    return cases


@pytest.mark.parametrize("case", list(CASES))
def test_exported_module_is_bit_identical_in_a_fresh_interpreter(case, exported):
    model, arch, x, folder, paths = exported[case]
    assert set(paths) == ({"model", "weights", "architecture"} if arch is not None else {"model", "weights"})
    if arch is not None:
        assert Architecture.from_json(paths["architecture"].read_text()) == arch
    runtime = paths["model"].read_text().split('"""', 2)[2].split("class Network")[0]
    assert "snnas" not in runtime.replace("snnas.", "")  # the runtime block names no snnas module
    with torch.no_grad():
        ref = model(x)
    assert torch.equal(ref, torch.load(folder / "y.pt", weights_only=True))  # bit for bit


@pytest.mark.parametrize("case", list(CASES))
def test_exported_module_counts_the_same_energy(case, exported):
    """Exported neurons carry the in-package energy mark (``is_spiking``), so MACs, ACs, energy and
    firing rates of the exported module equal the in-package ones (module names differ)."""
    model, _, x, folder, paths = exported[case]
    net = load_source(Path(paths["model"]).read_text()).Network()
    net.load_state_dict(torch.load(folder / "weights.pt", weights_only=True))
    ours, theirs = count_energy(model, x), count_energy(net, x)
    assert (theirs.macs, theirs.acs, theirs.energy_mj) == (ours.macs, ours.acs, ours.energy_mj)
    assert sorted(theirs.firing_rates.values()) == sorted(ours.firing_rates.values())
    assert theirs.mean_firing_rate == ours.mean_firing_rate


def test_every_neuron_twin_carries_the_energy_mark():
    for kind in NEURONS.names():
        cls = NEURONS.get(kind)
        assert cls.runtime is not None, f"neuron '{kind}' names no runtime twin"
        assert cls.runtime.is_spiking is cls.is_spiking, kind


def test_every_surrogate_and_neuron_is_written_into_model_py(exported):
    sources = "\n".join(c[4]["model"].read_text() for c in exported.values())
    for name in SURROGATES.names():
        assert f"class {type(SURROGATES.get(name)()).__name__}(Surrogate)" in sources, name
    for kind in NEURONS.names():
        assert f"class {NEURONS.get(kind).runtime.__name__}(nn.Module)" in sources, kind


def test_a_neuron_without_a_runtime_twin_is_an_export_error(tmp_path):
    class Custom(NEURONS.get("if")):
        runtime = None

    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), Custom())
    with pytest.raises(ExportError, match="cannot export neuron type Custom"):
        export_module(model, tmp_path)


def test_export_refuses_untraceable_module(tmp_path):
    class DataDependent(torch.nn.Module):
        def forward(self, x):
            return x * 2 if x.sum() > 0 else x

    with pytest.raises(ExportError, match="cannot trace"):
        export_module(DataDependent(), tmp_path)
