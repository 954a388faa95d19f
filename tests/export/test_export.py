"""Export: the written model.py imports only torch and reproduces the in-package module bit for bit,
checked in a fresh interpreter that cannot import snnas."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from snnas.export import ExportError, export_module
from snnas.nn import build_network
from snnas.space import Architecture, NeuronSpec, load_space

FRESH = r"""
import json, sys
sys.modules["snnas"] = None          # any import of snnas now fails
sys.path.insert(0, sys.argv[1])
import torch
import model
net = model.Network()
net.load_state_dict(torch.load(sys.argv[1] + "/weights.pt", weights_only=True))
net.eval()
x = torch.load(sys.argv[2], weights_only=True)
with torch.no_grad():
    y = net(x)
torch.save(y, sys.argv[3])
print(json.dumps(sorted(m for m, mod in sys.modules.items() if mod is not None)))
"""


def _randomise_state(model: torch.nn.Module, seed: int = 0) -> None:
    """Give BN running stats and neuron parameters non-default values, as training would."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.dtype.is_floating_point and ("running_var" in name):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif t.dtype.is_floating_point and ("running_mean" in name or name.endswith(".w")):
                t.copy_(torch.randn(t.shape, generator=g) * 0.3)


def _export_and_compare(model, arch, shape, tmp_path):
    _randomise_state(model)
    model.eval()
    x = torch.rand(arch.time_steps, 3, *shape, generator=torch.Generator().manual_seed(1)) * 2
    paths = export_module(model, tmp_path / "export", architecture=arch, example_input=x)
    assert set(paths) == {"model", "weights", "architecture"}
    assert Architecture.from_json(paths["architecture"].read_text()) == arch
    assert "snnas" not in paths["model"].read_text().split('"""', 2)[2].split("class Network")[0].replace(
        "snnas.", "")  # runtime block names no snnas module
    torch.save(x, tmp_path / "x.pt")
    proc = subprocess.run([sys.executable, "-I", "-c", FRESH, str(tmp_path / "export"), str(tmp_path / "x.pt"),
                           str(tmp_path / "y.pt")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    imported = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not [m for m in imported if m.startswith("snnas")]
    with torch.no_grad():
        ref = model(x)
    got = torch.load(tmp_path / "y.pt", weights_only=True)
    assert torch.equal(ref, got)  # bit for bit


@pytest.mark.parametrize("space_name", ["digits", "digits_transformer"])
def test_export_sampled_architectures_bit_identical(space_name, tmp_path):
    space = load_space(space_name)
    arch = space.sample(np.random.default_rng(3))
    torch.manual_seed(0)
    model = build_network(space, arch)
    _export_and_compare(model, arch, space.input_shape, tmp_path)


def test_export_every_neuron_kind_and_surrogate(tmp_path):
    """Hybrid, PSN, PLIF, soft reset, dspike, per-layer differences: all baked into model.py."""
    neurons = (NeuronSpec("lif", 1.5, False, 0.8, None, "dspike", 4.0),
               NeuronSpec("lif", 2.0, True, 1.0, 0.0, "atan", 2.0, True),
               NeuronSpec("psn", None, False, 1.0, 0.0, "erf", 2.0),
               NeuronSpec("ann", None))
    cell = (((0, "conv_3x3"), (1, "skip")), ((2, "max_pool_3x3"), (1, "avg_pool_3x3")))
    arch = Architecture("cell", 4, neurons, cell=cell,
                        trellis=(0, 1, 1, 0), stem_channels=8)
    from snnas.nn import build_from_architecture

    torch.manual_seed(0)
    model = build_from_architecture(arch, (1, 8, 8), 10)
    _export_and_compare(model, arch, (1, 8, 8), tmp_path)
    source = (tmp_path / "export" / "model.py").read_text()
    for cls in ("DSpikeSurrogate", "ATanSurrogate", "ErfSurrogate", "PSN(4", "NonSpiking()"):
        assert cls in source


def test_export_refuses_untraceable_module(tmp_path):
    class DataDependent(torch.nn.Module):
        def forward(self, x):
            return x * 2 if x.sum() > 0 else x

    with pytest.raises(ExportError, match="cannot trace"):
        export_module(DataDependent(), tmp_path)
