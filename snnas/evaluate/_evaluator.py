"""The one scorer every search strategy uses: accuracy plus estimated energy of a module.

The evaluator is deliberately ignorant of search: it gets a module and returns ``Metrics``.
Energy comes from one counting pass on a fixed slice of the scored split (the first
``energy_samples`` samples, same encoding noise every time), so candidates are compared on the
same inputs.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

from torch import nn

from snnas.evaluate._data import DataSplits
from snnas.evaluate._encoding import emits_spikes, encode
from snnas.evaluate._energy import EnergyReport, count_energy
from snnas.evaluate._hardware import HardwareProfile, get_hardware
from snnas.evaluate._trainer import TrainConfig, _encoding_name, _generator, _is_oom, accuracy, train


@dataclass
class Metrics:
    """What a candidate scored; ``failed`` holds the reason when training or measuring failed."""

    accuracy: float
    energy_mj: float
    macs: float
    acs: float
    firing_rates: dict[str, float] = field(default_factory=dict)
    mean_firing_rate: float = 0.0
    params: int = 0
    time_steps: int = 0
    wall_time_s: float = 0.0
    failed: str | None = None

    def to_dict(self) -> dict:
        """Plain data for JSON files and the run store; unmeasured (NaN) values become None."""
        d = dataclasses.asdict(self)
        return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict) -> Metrics:
        """Inverse of ``to_dict``; unknown keys (from newer versions) are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        for k in ("accuracy", "energy_mj", "macs", "acs", "mean_firing_rate"):
            if k in kw and kw[k] is None:
                kw[k] = math.nan
        kw["firing_rates"] = {str(k): float(v) for k, v in (kw.get("firing_rates") or {}).items()}
        return cls(**kw)

    @classmethod
    def failure(cls, reason: str, params: int = 0, time_steps: int = 0, wall_time_s: float = 0.0) -> Metrics:
        """Nothing measured: accuracy, energy and counts are NaN (None in ``to_dict``), so code that
        forgets to check ``failed`` never mistakes a failed candidate for the most efficient one."""
        nan = math.nan
        return cls(nan, nan, nan, nan, {}, nan, params, time_steps, wall_time_s, reason)


ENERGY_SEED = 3
"""Seed of the energy batch's encoding noise: the same for every candidate (not the training seed)."""


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class Evaluator:
    """Scores modules on ``data`` with the training recipe ``train`` and a hardware profile."""

    def __init__(self, data: DataSplits, train: TrainConfig, hardware: str | HardwareProfile = "45nm-fp32",
                 energy_samples: int = 256):
        self.data, self.train_cfg = data, train
        self.hardware = get_hardware(hardware)
        self.energy_samples = energy_samples
        self.encoding = _encoding_name(train, data.default_encoding)

    def energy(self, model: nn.Module, split: str = "val") -> EnergyReport:
        """Operation counts and energy per sample on the fixed energy batch of ``split``."""
        cfg = self.train_cfg
        x = self.data.split(split).tensors[0][: self.energy_samples].to(cfg.device)
        x_seq = encode(x, cfg.time_steps, self.encoding, _generator(ENERGY_SEED, cfg.device))
        model.to(cfg.device)
        return count_energy(model, x_seq, input_is_spike=emits_spikes(self.encoding),
                            hardware=self.hardware, chunk_size=max(cfg.batch_size, 64))

    def evaluate(self, model: nn.Module, split: str = "val", _start: float | None = None) -> Metrics:
        """Measure ``model`` as it is (no training): accuracy, energy, params, time steps."""
        start = time.perf_counter() if _start is None else _start
        dataset = self.data.split(split)
        params, T = count_params(model), self.train_cfg.time_steps
        try:
            acc = accuracy(model, dataset, self.train_cfg, self.encoding)
            rep = self.energy(model, split)
        except RuntimeError as e:
            if not _is_oom(e):
                raise
            return Metrics.failure(f"out of memory while evaluating: {str(e).splitlines()[0]}", params, T,
                                   time.perf_counter() - start)
        values = (rep.energy_mj, rep.macs, rep.acs, rep.mean_firing_rate)
        if not all(math.isfinite(v) for v in values):
            return Metrics.failure("non-finite energy estimate", params, T, time.perf_counter() - start)
        return Metrics(acc, rep.energy_mj, rep.macs, rep.acs, dict(rep.firing_rates), rep.mean_firing_rate,
                       params, T, time.perf_counter() - start)

    def train_and_evaluate(self, model: nn.Module, split: str = "val") -> Metrics:
        """Train with the config, then :meth:`evaluate`; a diverged run returns ``failed=reason``."""
        start = time.perf_counter()
        self.data.split(split)  # a bad split name fails before spending time on training
        result = train(model, self.data, self.train_cfg)
        if not result.ok:
            return Metrics.failure(result.reason or "training failed", count_params(model),
                                   self.train_cfg.time_steps, time.perf_counter() - start)
        return self.evaluate(model, split, _start=start)
