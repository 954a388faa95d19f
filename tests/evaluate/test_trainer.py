"""BPTT training of a real (small) spiking network on the embedded digits data."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from snnas.errors import UnknownNameError
from snnas.evaluate import OPTIMIZERS, SCHEDULES, TrainConfig, accuracy, load_dataset, train
from snnas.spiking import make_neuron


class DigitsSNN(nn.Module):
    """Linear -> LIF -> Linear on flattened 8x8 digits; logits averaged over time."""

    def __init__(self, hidden: int = 64):
        super().__init__()
        self.fc1 = nn.Linear(64, hidden)
        self.sn = make_neuron("lif", tau=2.0)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x):  # [T, B, 1, 8, 8]
        return self.fc2(self.sn(self.fc1(x.flatten(2)))).mean(0)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _model(seed: int = 0) -> DigitsSNN:
    torch.manual_seed(seed)
    return DigitsSNN()


def test_spiking_net_learns_digits(digits):
    cfg = TrainConfig(epochs=3, lr=1e-2, time_steps=4, quiet=True)
    model = _model()
    res = train(model, digits, cfg)
    assert res.ok and res.reason is None and res.epochs_done == 3
    assert [h["epoch"] for h in res.history] == [1, 2, 3]
    assert res.history[-1]["loss"] < res.history[0]["loss"]
    assert res.history[-1]["lr"] == pytest.approx(0.0, abs=1e-9)  # cosine annealed to zero
    assert accuracy(model, digits.val, cfg) > 0.6  # chance is 0.1


def test_same_seed_gives_identical_weights(digits):
    cfg = TrainConfig(epochs=1, lr=5e-3, time_steps=2, quiet=True, encoding="poisson", optimizer="adamw",
                      weight_decay=1e-4, max_batches=5, seed=7)
    a, b = _model(), _model()
    train(a, digits, cfg)
    train(b, digits, cfg)
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb)
    assert accuracy(a, digits.val, cfg) == accuracy(b, digits.val, cfg)
    c = _model()
    train(c, digits, TrainConfig(**{**cfg.__dict__, "seed": 8}))
    assert not torch.equal(a.fc1.weight, c.fc1.weight)


def test_global_rng_is_left_alone(digits):
    model = _model()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train(model, digits, TrainConfig(epochs=1, max_batches=1, time_steps=1, quiet=True))
    assert torch.equal(torch.rand(3), expected)


def test_divergence_is_a_result_not_an_exception(digits):
    class Linear(nn.Module):  # no neuron to saturate: a huge SGD step overflows the logits at once
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            return self.fc(x.flatten(2)).mean(0)

    torch.manual_seed(0)
    res = train(Linear(), digits, TrainConfig(epochs=3, lr=1e38, optimizer="sgd", time_steps=2, quiet=True,
                                              max_batches=10))
    assert not res.ok and res.reason.startswith("non-finite loss at epoch 1 batch ")
    res = train(_model(), digits, TrainConfig(epochs=3, lr=1e38, time_steps=2, quiet=True, max_batches=10))
    assert not res.ok and res.reason.startswith(("non-finite loss at epoch 1", "overflow at epoch 1"))

    class Inf(DigitsSNN):
        def forward(self, x):
            return super().forward(x) * float("inf")

    res = train(Inf(), digits, TrainConfig(epochs=2, time_steps=1, quiet=True))
    assert (res.ok, res.reason, res.epochs_done) == (False, "non-finite loss at epoch 1 batch 1", 0)


def test_out_of_memory_is_a_result(digits):
    class Oom(DigitsSNN):
        def forward(self, x):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    res = train(Oom(), digits, TrainConfig(epochs=1, time_steps=1, quiet=True))
    assert not res.ok and res.reason.startswith("out of memory at epoch 1 batch 1: CUDA out of memory")

    class Bug(DigitsSNN):
        def forward(self, x):
            raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        train(Bug(), digits, TrainConfig(epochs=1, time_steps=1, quiet=True))


@pytest.mark.parametrize("field,value,kind", [("optimizer", "adamm", "optimizer"),
                                              ("encoding", "rate", "encoding"),
                                              ("schedule", "step", "lr schedule")])
def test_unknown_names(digits, field, value, kind):
    with pytest.raises(UnknownNameError, match=f"unknown {kind} '{value}'"):
        train(_model(), digits, TrainConfig(epochs=1, quiet=True, **{field: value}))


@pytest.mark.parametrize("opt", OPTIMIZERS.names())
@pytest.mark.parametrize("sched", SCHEDULES.names())
def test_every_optimizer_and_schedule_runs(digits, opt, sched):
    cfg = TrainConfig(epochs=2, max_batches=2, time_steps=1, quiet=True, optimizer=opt, schedule=sched)
    res = train(_model(), digits, cfg)
    assert res.ok and res.epochs_done == 2
