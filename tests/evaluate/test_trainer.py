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


def test_default_schedule_is_unchanged_by_the_proxy_knobs():
    from snnas.evaluate._trainer import make_schedule

    p = [nn.Parameter(torch.zeros(1))]
    opt = torch.optim.Adam(p, lr=1.0)
    assert isinstance(make_schedule(opt, TrainConfig(), 10), torch.optim.lr_scheduler.CosineAnnealingLR)


def test_warmup_and_floor_shape_the_lr():
    from snnas.evaluate._trainer import make_schedule

    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = make_schedule(opt, TrainConfig(lr=0.1, warmup_steps=3, lr_floor=0.2), 13)
    lrs = []
    for _ in range(13):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    lrs.append(opt.param_groups[0]["lr"])
    assert lrs[:4] == pytest.approx([0.025, 0.05, 0.075, 0.1])  # linear warm-up, then the peak
    assert all(a >= b for a, b in zip(lrs[3:], lrs[4:], strict=False))  # cosine down ...
    assert lrs[-1] == pytest.approx(0.02)  # ... to the floor, not to zero
    sched = make_schedule(opt, TrainConfig(lr=0.1, schedule="none", warmup_steps=1), 5)
    assert isinstance(sched, torch.optim.lr_scheduler.LambdaLR)


def test_bn_recalibration_uses_the_final_weights(digits):
    class BNNet(DigitsSNN):
        def __init__(self):
            super().__init__()
            self.bn = nn.BatchNorm1d(64)

        def forward(self, x):  # [T, B, 1, 8, 8]
            h = self.fc1(x.flatten(2))
            h = self.bn(h.flatten(0, 1)).view_as(h)
            return self.fc2(self.sn(h)).mean(0)

    cfg = TrainConfig(epochs=1, lr=1e-2, time_steps=2, quiet=True, max_batches=6, bn_recalibrate=3)
    models = []
    for bn in (0, 3, 3):
        torch.manual_seed(0)
        m = BNNet()
        assert train(m, digits, TrainConfig(**{**cfg.__dict__, "bn_recalibrate": bn})).ok
        models.append(m)
    plain, a, b = models
    assert torch.equal(plain.fc1.weight, a.fc1.weight)  # weights untouched, only the statistics
    assert not torch.allclose(plain.bn.running_mean, a.bn.running_mean)
    assert torch.equal(a.bn.running_mean, b.bn.running_mean)  # seeded like the rest of training
    assert a.bn.momentum == 0.1  # restored
    with torch.no_grad():  # statistics of the final weights: near the mean of fc1's output on train
        x = digits.train.tensors[0]
        h = torch.nn.functional.linear(x.flatten(1), a.fc1.weight, a.fc1.bias).mean(0)
    assert (a.bn.running_mean - h).abs().mean() < 0.5 * (plain.bn.running_mean - h).abs().mean()
