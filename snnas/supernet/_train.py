"""Training a cell supernet: first-order bi-level optimisation, energy term, learned tau and DGS.

Each epoch walks the train split in a seeded order (weights: Adam on cross-entropy) and, after the
warm-up epochs, interleaves one architecture step per batch on the val split (Adam on
``CE + lambda * E[energy] / E_ref``, see ``_energy``). Learned time constants are ordinary weights,
clamped to the space's bounds after every step. The test split is never touched.

DGS (differentiable surrogate-gradient search, SpikeDHS' schedule): after each epoch, for each layer
(one width for all layers when the space shares its neuron), the candidate widths ``b - step``, ``b``
and ``b + step`` each take one weight step from the same snapshot on the same train batch; their
val losses after the step, through a softmax at temperature 0.1 x their spread, weigh the candidates, b moves
to the weighted mean, clamped to the bounds, and the snapshot is restored. A width only changes
gradients, never the forward, which is why it must be scored after a step.

Everything a run needs to continue exactly is in `SupernetTrainer.state` (weights, both optimizers,
widths, history, measured energy parts, E_ref): epoch ``k`` depends only on the seed, lambda and
epochs before it, so a run resumed from its checkpoint equals an uninterrupted one.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from snnas.evaluate import emits_spikes, encode, iter_batches
from snnas.evaluate._data import DataSplits
from snnas.supernet._energy import SupernetEnergy
from snnas.supernet._net import CellSupernet, SupernetSpec


@dataclass(frozen=True)
class DHSConfig:
    """The recipe of one supernet training (``energy_lambda`` is its point of the sweep)."""

    energy_lambda: float = 0.0
    warmup: int = 2
    batch_size: int = 64
    lr: float = 0.005
    arch_lr: float = 0.003
    arch_weight_decay: float = 1e-3
    max_batches: int | None = None
    energy_samples: int = 64
    seed: int = 0
    encoding: str = "direct"
    hardware: str = "45nm-fp32"
    device: str = "cpu"
    dgs: dict[str, Any] | None = None
    """The space's DGS spec ``{init, bounds, step}`` (None: widths stay fixed)."""


def _gen(*key: int) -> torch.Generator:
    g = torch.Generator()
    seed = 0
    for k in key:
        seed = (seed * 1_000_003 + int(k)) % (2**63)
    return g.manual_seed(seed)


class SupernetTrainer:
    def __init__(self, spec: SupernetSpec, data: DataSplits, cfg: DHSConfig):
        self.spec, self.data, self.cfg = spec, data, cfg
        self.device = torch.device(cfg.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            self.net = CellSupernet(spec).to(self.device)
        if cfg.dgs is not None:
            init = cfg.dgs["init"]
            for i in range(spec.layers):
                self.net.set_width(i, float(init[0] if isinstance(init, (list, tuple)) else init))
        self.opt_w = torch.optim.Adam(self.net.weight_parameters(), lr=cfg.lr)
        self.opt_a = torch.optim.Adam(self.net.arch_parameters(), lr=cfg.arch_lr, betas=(0.5, 0.999),
                                      weight_decay=cfg.arch_weight_decay)
        self.energy = SupernetEnergy(self.net, cfg.hardware)
        self.e_ref: float | None = None
        self.epoch = 0
        self.history: list[dict[str, Any]] = []

    # ---- data ---------------------------------------------------------------------------------
    def _x(self, x: torch.Tensor, g: torch.Generator | None = None) -> torch.Tensor:
        return encode(x.to(self.device), self.spec.time_steps, self.cfg.encoding, g)

    def _batches(self, split: str, *key: int):
        return iter_batches(self.data.split(split), self.cfg.batch_size, _gen(self.cfg.seed, *key),
                            self.cfg.max_batches)

    def _energy_batch(self) -> torch.Tensor:
        x = self.data.train.tensors[0][: self.cfg.energy_samples]
        return self._x(x, _gen(self.cfg.seed, 7))

    # ---- one epoch ----------------------------------------------------------------------------
    def train_epoch(self) -> dict[str, Any]:
        cfg, net, e = self.cfg, self.net, self.epoch
        arch_on = e >= cfg.warmup
        if arch_on:  # rates follow the weights: re-measure the parts every epoch
            self.energy.measure(self._energy_batch(), emits_spikes(cfg.encoding))
            if self.e_ref is None:
                self.e_ref = float(self.energy.expected().detach())
        net.train()
        noise = _gen(cfg.seed, e, 3)
        val = self._batches("val", e, 2)
        loss_sum = correct = seen = 0.0
        a_loss = a_seen = 0.0
        for x, y in self._batches("train", e, 1):
            if arch_on:
                try:
                    xv, yv = next(val)
                except StopIteration:
                    val = self._batches("val", e, 2, int(seen))
                    xv, yv = next(val)
                yv = yv.to(self.device)
                loss_a = F.cross_entropy(net(self._x(xv, noise)), yv)
                if cfg.energy_lambda:
                    loss_a = loss_a + cfg.energy_lambda * self.energy.expected() / self.e_ref
                self.opt_a.zero_grad(set_to_none=True)
                loss_a.backward()
                self.opt_a.step()
                a_loss += float(loss_a.detach()) * len(yv)
                a_seen += len(yv)
            y = y.to(self.device)
            logits = net(self._x(x, noise))
            loss = F.cross_entropy(logits, y)
            self.opt_w.zero_grad(set_to_none=True)
            loss.backward()
            self.opt_w.step()
            net.clamp_tau()
            loss_sum += float(loss.detach()) * len(y)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
        if cfg.dgs is not None:
            self._dgs_step()
        self.epoch += 1
        row = self._record(loss_sum / max(seen, 1), correct / max(seen, 1), a_loss / a_seen if a_seen else None)
        self.history.append(row)
        return row

    def _record(self, loss: float, acc: float, arch_loss: float | None) -> dict[str, Any]:
        net = self.net
        energy = float(self.energy.expected().detach()) if self.energy.measured else None
        return {"epoch": self.epoch, "train_loss": loss, "train_acc": acc, "arch_loss": arch_loss,
                "energy_mj": energy, "alpha": net.edge_weights().detach().cpu().tolist(),
                "beta": net.move_probabilities().detach().cpu().tolist(), "tau": net.taus(),
                "width": net.widths(), "p_ann": net.kind_probabilities().detach()[:, 1].cpu().tolist()}

    # ---- DGS ----------------------------------------------------------------------------------
    def _dgs_step(self) -> None:
        cfg, net = self.cfg, self.net
        assert cfg.dgs is not None
        lo, hi = cfg.dgs["bounds"]
        step = float(cfg.dgs["step"])
        x, y = next(iter(self._batches("train", self.epoch, 5)))
        xv, yv = next(iter(self._batches("val", self.epoch, 6)))
        x, xv = self._x(x), self._x(xv)
        y, yv = y.to(self.device), yv.to(self.device)
        groups = [list(range(self.spec.layers))] if self.spec.shared_neuron else [[i] for i in range(self.spec.layers)]
        saved_net = copy.deepcopy(net.state_dict())
        saved_opt = copy.deepcopy(self.opt_w.state_dict())
        for layers in groups:
            b = net.widths()[layers[0]]
            if b is None:
                continue
            cands = sorted({min(max(b + d * step, lo), hi) for d in (-1, 0, 1)})
            losses = []
            for c in cands:
                for i in layers:
                    net.set_width(i, c)
                net.train()
                loss = F.cross_entropy(net(x), y)
                self.opt_w.zero_grad(set_to_none=True)
                loss.backward()
                self.opt_w.step()
                with torch.no_grad():
                    losses.append(float(F.cross_entropy(net(xv), yv)))
                net.load_state_dict(saved_net)
                self.opt_w.load_state_dict(saved_opt)
            t = torch.tensor(losses)
            w = torch.softmax(-(t - t.min()) / (0.1 * float(t.max() - t.min()) + 1e-12), dim=0)
            new = float(min(max(float((w * torch.tensor(cands)).sum()), lo), hi))
            for i in layers:
                net.set_width(i, new)
        self.opt_w.zero_grad(set_to_none=True)

    # ---- checkpoints --------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "net": self.net.state_dict(), "opt_w": self.opt_w.state_dict(),
                "opt_a": self.opt_a.state_dict(), "widths": self.net.widths(), "history": self.history,
                "energy": self.energy.state(), "e_ref": self.e_ref}

    def load_state(self, st: dict[str, Any]) -> None:
        self.net.load_state_dict(st["net"])
        self.opt_w.load_state_dict(st["opt_w"])
        self.opt_a.load_state_dict(st["opt_a"])
        for i, w in enumerate(st["widths"]):
            if w is not None:
                self.net.set_width(i, float(w))
        self.epoch = int(st["epoch"])
        self.history = list(st["history"])
        self.energy.load_state(st["energy"])
        self.e_ref = None if st["e_ref"] is None else float(st["e_ref"])
