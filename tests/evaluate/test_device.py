"""Device names: checked without torch, resolved per machine, clear errors when CUDA is missing;
on a CUDA machine a candidate trains there and its energy count equals the CPU count."""

from __future__ import annotations

import pytest
import torch

from snnas.errors import SnnasError
from snnas.evaluate import check_device_name, count_energy, resolve_device

CUDA = torch.cuda.is_available()


@pytest.mark.parametrize("name", ["auto", "cpu", "cuda", "cuda:1"])
def test_valid_names(name):
    assert check_device_name(name) == name


@pytest.mark.parametrize("name", ["gpu", "cuda:x", "CPU", "", "cuda:"])
def test_invalid_names_are_one_line_errors(name):
    with pytest.raises(SnnasError, match="use auto, cpu, cuda or cuda:N"):
        check_device_name(name, "--device")


def test_auto_resolves_to_what_this_machine_has():
    assert resolve_device("auto") == ("cuda" if CUDA else "cpu")
    assert resolve_device("cpu") == "cpu"


@pytest.mark.skipif(CUDA, reason="checks the error on a machine without CUDA")
def test_cuda_without_a_gpu_says_so():
    with pytest.raises(SnnasError, match="no CUDA device is available"):
        resolve_device("cuda", "--device")


@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_a_candidate_trains_on_cuda_and_counts_like_cpu():
    import numpy as np

    from snnas.nn import build_network
    from snnas.search import eval_config_for, evaluate_candidate
    from snnas.space import load_space

    space = load_space("digits")
    arch = space.sample(np.random.default_rng(0))
    cfg = dict(eval_config_for(space, epochs=1, max_batches=2, device="cuda"), seed=0)
    out = evaluate_candidate(str(space.path), arch.to_json(), cfg)
    assert out["failed"] is None and out["energy_mj"] > 0
    torch.manual_seed(0)
    model = build_network(space, arch).eval()
    x = (torch.rand(arch.time_steps, 8, *space.input_shape) * 3)
    cpu = count_energy(model, x)
    gpu = count_energy(model.cuda(), x.cuda())
    assert gpu.macs == cpu.macs and gpu.acs == pytest.approx(cpu.acs, rel=1e-6)
