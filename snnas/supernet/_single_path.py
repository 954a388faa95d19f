"""Single-path one-shot training of the cell supernet (SPOS: uniform path sampling) and subnet
extraction, so that cell spaces are scored with inherited weights like transformer spaces.

The supernet is the SpikeDHS `CellSupernet` of the space (`single_path_spec`: the space's ops,
trellis and first-choice neurons at fixed tau, full channels), but alpha and beta are never used:
every step samples architectures of the space uniformly (numpy generators seeded by (seed, epoch,
step), never global RNG state), sets ``override = one_hot(arch)`` and trains the weights on that
path alone (`CellSupernet.skip_unused`: the untaken ops are not run, get no gradient and keep their
BN statistics). ``paths_per_step`` > 1 accumulates several paths' gradients before one step.

`extract_cell_subnet` is ``build_network(space, arch)`` holding copies of the supernet's weights of
``arch``'s path (`CellSupernet.subnet_keys` on a per-process meta-device skeleton: no memory, no
RNG), so the supernet under ``one_hot(arch)`` and the extracted network agree bit for bit when the
arch's neurons are the supernet's. What the supernet does not hold for an arch stays as the built
network initialises it (seeded, so every worker gets the same): a neuron's own parameters, e.g. a
PLIF's ``w`` (from the arch's tau) under a LIF supernet. Time steps are the input's length, so an
arch runs at its own T on weights trained at the supernet's. The stem width must be the
supernet's (one stem width per space).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from snnas.evaluate import encode, iter_batches
from snnas.evaluate._data import DataSplits
from snnas.evaluate._trainer import OPTIMIZERS
from snnas.nn import build_network
from snnas.space._architecture import Architecture
from snnas.spiking import BaseNeuron
from snnas.supernet._derive import supernet_spec
from snnas.supernet._net import CellSupernet, SupernetSpec
from snnas.supernet._train import _gen


def single_path_spec(space: Any, time_steps: int | None = None) -> SupernetSpec:
    """The one-shot supernet of a cell space: `supernet_spec` (largest T and stem width unless
    given) with fixed-tau neurons (no learned per-layer tau: an arch's tau is its own) and full
    channels (a partial-channel supernet holds no discrete network's weights)."""
    return replace(supernet_spec(space, time_steps=time_steps), tau_bounds=None, partial_channels=1)


@dataclass(frozen=True)
class SinglePathConfig:
    """Single-path training settings (no epoch count: the trainer runs one epoch per call).

    ``time_steps=None`` trains at the supernet's T (the space's largest); the LR is constant.
    """

    batch_size: int = 64
    lr: float = 0.005
    optimizer: str = "adam"
    weight_decay: float = 0.0
    paths_per_step: int = 1
    seed: int = 0
    device: str = "cpu"
    encoding: str | None = None
    max_batches: int | None = None
    time_steps: int | None = None


class SinglePathTrainer:
    """Trains the `CellSupernet` of ``space`` one sampled path at a time on ``data.train`` (the
    search split's train half; ``data.val`` is for scoring, ``data.test`` is never read)."""

    def __init__(self, space: Any, data: DataSplits, cfg: SinglePathConfig | None = None):
        self.space, self.data, self.cfg = space, data, cfg or SinglePathConfig()
        if self.cfg.paths_per_step < 1:
            raise ValueError(f"paths_per_step must be >= 1, got {self.cfg.paths_per_step}")
        self.device = torch.device(self.cfg.device)
        self.encoding = self.cfg.encoding or data.default_encoding or space.encoding
        self.spec = single_path_spec(space, self.cfg.time_steps)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.cfg.seed)
            self.supernet = CellSupernet(self.spec).to(self.device)
        for p in self.supernet.arch_parameters():  # unused in one-shot mode
            p.requires_grad_(False)
        self.opt = OPTIMIZERS.get(self.cfg.optimizer)(self.supernet.weight_parameters(), self.cfg.lr,
                                                      self.cfg.weight_decay)
        self.epoch = 0
        self.history: list[dict[str, Any]] = []

    @property
    def time_steps(self) -> int:
        return self.spec.time_steps

    def paths(self, epoch: int, step: int) -> list[Architecture]:
        """The architectures of one step: uniform samples seeded by (seed, epoch, step)."""
        rng = np.random.default_rng([self.cfg.seed, epoch, step])
        return [self.space.sample(rng) for _ in range(self.cfg.paths_per_step)]

    def _override(self, arch: Architecture) -> dict[str, torch.Tensor]:
        return {k: v.to(self.device) for k, v in self.supernet.one_hot(arch).items()}

    def train_epoch(self) -> dict[str, Any]:
        """One epoch of single-path steps; returns (and appends to ``history``) its row: mean loss
        and accuracy over the paths trained, seconds."""
        cfg, net, e = self.cfg, self.supernet, self.epoch
        start = time.perf_counter()
        net.train()
        noise = _gen(cfg.seed, e, 3)
        loss_sum = correct = seen = 0.0
        batches = iter_batches(self.data.train, cfg.batch_size, _gen(cfg.seed, e, 1), cfg.max_batches)
        try:
            for step, (x, y) in enumerate(batches):
                y = y.to(self.device)
                xs = encode(x, self.time_steps, self.encoding, noise).to(self.device)  # on CPU: any device alike
                self.opt.zero_grad(set_to_none=True)
                for arch in self.paths(e, step):
                    net.override = self._override(arch)
                    logits = net(xs)
                    loss = F.cross_entropy(logits, y)
                    if not torch.isfinite(loss):
                        raise FloatingPointError(f"non-finite loss at epoch {e + 1} step {step} for "
                                                 f"{arch.summary()}")
                    loss.backward()
                    loss_sum += float(loss.detach()) * len(y)
                    correct += int((logits.argmax(1) == y).sum())
                    seen += len(y)
                self.opt.step()
        finally:
            net.override = None
        self.opt.zero_grad(set_to_none=True)
        self.epoch += 1
        n = max(seen, 1)
        row = {"epoch": self.epoch, "loss": loss_sum / n, "acc": correct / n,
               "lr": self.opt.param_groups[0]["lr"], "seconds": time.perf_counter() - start}
        self.history.append(row)
        return row

    def subnet_state(self) -> dict[str, torch.Tensor]:
        """The supernet's plain state dict (what `extract_cell_subnet` reads)."""
        return self.supernet.state_dict()

    def state(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "model": self.supernet.state_dict(),
                "optimizer": self.opt.state_dict(), "history": [dict(r) for r in self.history]}

    def load_state(self, state: Mapping[str, Any]) -> None:
        self.supernet.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.epoch = int(state["epoch"])
        self.history = [dict(r) for r in state["history"]]


@functools.lru_cache(maxsize=8)
def _skeleton(spec: SupernetSpec) -> CellSupernet:
    """The supernet of ``spec`` on the meta device: its structure (key names, edge groups,
    trellis sources), no memory, built once per process."""
    with torch.device("meta"):
        return CellSupernet(spec)


def _in_neuron(model: nn.Module, key: str) -> bool:
    """Whether state key ``key`` of ``model`` belongs to a neuron (or its surrogate)."""
    parts = key.split(".")[:-1]
    return any(isinstance(model.get_submodule(".".join(parts[:n])), BaseNeuron) for n in range(1, len(parts) + 1))


def extract_cell_subnet(space: Any, arch: Architecture, supernet_state: Mapping[str, torch.Tensor],
                        device: str | torch.device | None = None, *,
                        time_steps: int | None = None) -> nn.Module:
    """``build_network(space, arch)`` holding *copies* of ``arch``'s weights in ``supernet_state``
    (a `SinglePathTrainer`'s ``subnet_state()``; on ``device``, default the state's): its path's
    cells, chosen ops, resamplings, stem and head. Neuron tensors the supernet does not hold for
    ``arch`` (a PLIF's ``w`` under a LIF supernet, ...) keep the built network's own initial
    values. ``time_steps`` is the supernet's T (default: the space's largest; only neurons with
    T-shaped tensors, PSN, depend on it). Training or recalibrating the result never touches the
    supernet."""
    spec = single_path_spec(space, time_steps)
    if arch.stem_channels is not None and int(arch.stem_channels) != spec.stem_channels:
        raise ValueError(f"one-shot scoring of a cell space needs one stem width: the supernet's stem has "
                         f"{spec.stem_channels} channels, {arch.summary()} has {arch.stem_channels}; "
                         "list one cell.stem_channels choice or use scoring: proxy")
    skeleton = _skeleton(spec)
    with torch.device("meta"):
        meta = build_network(space, arch)
    params = {k: tuple(v.shape) for k, v in meta.named_parameters()}
    own: dict[str, torch.Tensor] = {}
    for k, src in skeleton.subnet_keys(arch, meta).items():
        t = supernet_state.get(src)
        if _in_neuron(meta, k):
            # a neuron's parameters are weights (inherited where the supernet holds them), its
            # buffers settings of the arch (a per-channel tau, a surrogate width): its own
            if k in params and t is not None and tuple(t.shape) == params[k]:
                own[k] = t
        elif t is None:
            raise KeyError(f"supernet state has no '{src}' (for '{k}'): is it the one-shot supernet of "
                           "this space?")
        else:
            own[k] = t
    if device is None:
        device = next(iter(supernet_state.values())).device if supernet_state else "cpu"
    if own.keys() == meta.state_dict().keys():
        model = meta.to_empty(device=device)
    else:  # some neuron tensors are the network's own: build it for real, seeded
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = build_network(space, arch)
        model.to(device)
    model.load_state_dict(own, strict=False)
    return model
