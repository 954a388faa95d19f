"""The Evaluator: train, then measure accuracy and energy; failures come back as Metrics."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from snnas.errors import UnknownNameError
from snnas.evaluate import Evaluator, Metrics, TrainConfig, count_energy, encode, load_dataset
from snnas.spiking import make_neuron


class DigitsSNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 32)
        self.sn = make_neuron("if")
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc2(self.sn(self.fc1(x.flatten(2)))).mean(0)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _model() -> DigitsSNN:
    torch.manual_seed(0)
    return DigitsSNN()


def test_train_and_evaluate(digits):
    cfg = TrainConfig(epochs=2, lr=1e-2, time_steps=3, quiet=True)
    m = Evaluator(digits, cfg).train_and_evaluate(_model())
    assert m.failed is None and m.accuracy > 0.4
    assert m.params == 64 * 32 + 32 + 32 * 10 + 10 and m.time_steps == 3 and m.wall_time_s > 0
    assert m.macs == 3 * 64 * 32  # first layer on real-valued direct input
    assert m.acs == pytest.approx(3 * 32 * 10 * m.firing_rates["sn"], rel=1e-6)
    assert m.energy_mj == pytest.approx((m.macs * 4.6 + m.acs * 0.9) * 1e-9)
    assert m.mean_firing_rate == m.firing_rates["sn"]
    again = Evaluator(digits, cfg).train_and_evaluate(_model())
    assert (again.accuracy, again.acs) == (m.accuracy, m.acs)  # deterministic end to end


def test_energy_batch_is_the_fixed_head_of_the_split(digits):
    model, cfg = _model(), TrainConfig(time_steps=2, quiet=True)
    m = Evaluator(digits, cfg, energy_samples=100).evaluate(model, split="test")
    rep = count_energy(model, encode(digits.test.tensors[0][:100], 2, "direct"))
    assert (m.macs, m.acs, m.firing_rates) == (rep.macs, rep.acs, rep.firing_rates)


def test_poisson_encoding_and_other_hardware(digits):
    cfg = TrainConfig(time_steps=2, quiet=True, encoding="poisson")
    m = Evaluator(digits, cfg, hardware="45nm-int8").evaluate(_model())
    assert m.macs == 0.0 and m.acs > 0
    assert m.energy_mj == pytest.approx(m.acs * 0.03e-9)


def test_diverged_training_is_a_failed_metric(digits):
    class Inf(DigitsSNN):
        def forward(self, x):
            return super().forward(x) * float("inf")

    m = Evaluator(digits, TrainConfig(epochs=1, time_steps=1, quiet=True)).train_and_evaluate(Inf())
    assert m.failed == "non-finite loss at epoch 1 batch 1"
    assert math.isnan(m.accuracy) and math.isnan(m.energy_mj) and m.params > 0
    d = m.to_dict()
    assert d["energy_mj"] is None and d["accuracy"] is None  # strict JSON: null, never NaN
    json.dumps(d, allow_nan=False)
    assert math.isnan(Metrics.from_dict(d).energy_mj)


def test_metrics_round_trip_through_json(digits):
    m = Evaluator(digits, TrainConfig(time_steps=2, quiet=True)).evaluate(_model())
    back = Metrics.from_dict(json.loads(json.dumps(m.to_dict())))
    assert back == m
    assert Metrics.from_dict({**m.to_dict(), "future_field": 1}) == m
    f = Metrics.failure("boom", params=3)
    assert Metrics.from_dict(f.to_dict()) == f


def test_unknown_split(digits):
    with pytest.raises(UnknownNameError, match="unknown split 'validation'"):
        Evaluator(digits, TrainConfig(quiet=True)).train_and_evaluate(_model(), split="validation")


def test_event_data_end_to_end(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    for i in range(16):
        n = 200
        np.savez(tmp_path / f"{i}.npz", x=rng.integers(0, 4, n), y=rng.integers(0, 4, n),
                 t=np.sort(rng.random(n)), p=np.full(n, i % 2), label=np.int64(i % 2))
    data = load_dataset("events", root=tmp_path, time_steps=4, val_fraction=0.25, test_fraction=0.25)

    class Conv(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 4, 3, padding=1)
            self.sn = make_neuron("lif")
            self.fc = nn.Linear(4 * 16, 2)

        def forward(self, x):  # [T, B, 2, 4, 4]
            T, B = x.shape[:2]
            s = self.sn(self.conv(x.flatten(0, 1)).unflatten(0, (T, B)))
            return self.fc(s.flatten(2)).mean(0)

    torch.manual_seed(0)
    cfg = TrainConfig(epochs=5, lr=5e-2, time_steps=2, batch_size=4, quiet=True)
    m = Evaluator(data, cfg).train_and_evaluate(Conv())
    assert m.failed is None and m.macs == 0.0 and m.acs > 0  # event frames are spike input
    assert m.accuracy >= 0.75  # polarity alone gives the label (4 val samples)
