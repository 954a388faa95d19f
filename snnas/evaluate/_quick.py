"""Quick measurements without a search: the baseline CNN's scores, and the cost of an untrained network.

``snnas evaluate`` and ``snnas space show/sample`` print these; they live here, beside the
``Evaluator`` and the energy counter they use, so the command line only formats their results and
the same numbers are available from Python.
"""

from __future__ import annotations

from typing import Any


def evaluate_baseline(epochs: int = 20, time_steps: int = 4, neuron: str = "lif", surrogate: str = "sigmoid",
                      hardware: str = "45nm-fp32", seed: int = 0, quiet: bool = False,
                      device: str = "auto") -> dict[str, Any]:
    """Train the default baseline spiking CNN on digits; return its val and test ``Metrics`` and the
    trained ``model``: the reference point every search result is compared with."""
    import torch

    from snnas.evaluate._data import load_dataset
    from snnas.evaluate._device import resolve_device
    from snnas.evaluate._evaluator import Evaluator
    from snnas.evaluate._hardware import get_hardware
    from snnas.evaluate._trainer import TrainConfig
    from snnas.nn import baseline_cnn
    from snnas.space import NeuronSpec
    from snnas.spiking import make_neuron

    get_hardware(hardware)  # unknown names fail before any training
    dev = resolve_device(device)
    cfg = NeuronSpec(kind=neuron, surrogate=surrogate).to_config(time_steps)
    make_neuron(**cfg)  # unknown neuron/surrogate names fail here, listing valid ones
    data = load_dataset("digits", seed=0)
    torch.manual_seed(seed)
    model = baseline_cnn(data.input_shape, data.num_classes, neuron=cfg)
    ev = Evaluator(data, TrainConfig(epochs=epochs, time_steps=time_steps, seed=seed, quiet=quiet, device=dev),
                   hardware=hardware)
    test = ev.train_and_evaluate(model, split="test")
    return {"val": ev.evaluate(model, split="val"), "test": test, "model": model}


def static_cost(space: Any, arch: Any, seed: int = 0) -> dict[str, float]:
    """Params, MACs, ACs and energy per sample of ``arch`` untrained (one forward at batch 1, random
    input): what a space's architectures cost before anything is trained. ACs and energy depend on
    the untrained firing, so they only indicate; params and dense MACs are exact."""
    import torch

    from snnas.evaluate._energy import count_energy
    from snnas.evaluate._evaluator import count_params
    from snnas.nn import build_network

    torch.manual_seed(seed)
    model = build_network(space, arch)
    x = torch.rand(arch.time_steps, 1, *space.input_shape)
    rep = count_energy(model, x, hardware=space.hardware)
    return {"params": count_params(model), "macs": rep.macs, "acs": rep.acs, "energy_mj": rep.energy_mj}
