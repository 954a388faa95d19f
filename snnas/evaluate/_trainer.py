"""Backpropagation-through-time training of a time-first network.

The network takes an encoded batch ``[T, B, ...]`` and returns logits ``[B, classes]``. Training
is seeded end to end (shuffling, Poisson encoding, dropout via a forked RNG), so on CPU the same
seed gives bit-identical weights. A diverging candidate is a normal outcome of a search, not a
crash: a non-finite loss or running out of memory ends training with ``ok=False`` and a reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset
from tqdm.auto import tqdm

from snnas.evaluate._data import DataSplits
from snnas.evaluate._encoding import ENCODINGS, encode
from snnas.registry import Registry

OPTIMIZERS: Registry[Callable[..., torch.optim.Optimizer]] = Registry("optimizer")
OPTIMIZERS.add("adam", lambda p, lr, wd: torch.optim.Adam(p, lr=lr, weight_decay=wd))
OPTIMIZERS.add("adamw", lambda p, lr, wd: torch.optim.AdamW(p, lr=lr, weight_decay=wd))
OPTIMIZERS.add("sgd", lambda p, lr, wd: torch.optim.SGD(p, lr=lr, momentum=0.9, weight_decay=wd))

SCHEDULES: Registry[Callable[[torch.optim.Optimizer, int], torch.optim.lr_scheduler.LRScheduler]] = \
    Registry("lr schedule")
SCHEDULES.add("cosine", lambda opt, steps: torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1)))
SCHEDULES.add("none", lambda opt, steps: torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0))


def _shaped(base: Callable[[int, int], float], steps: int, warmup: int, floor: float) -> Callable[[int], float]:
    """LR factor at step ``k``: linear warm-up over ``warmup`` steps (from 1/(warmup+1) up to 1), then
    ``base(k - warmup, steps - warmup)`` mapped from [0, 1] onto [floor, 1]."""
    rest = max(steps - warmup, 1)

    def factor(k: int) -> float:
        if k < warmup:
            return (k + 1) / (warmup + 1)
        return floor + (1.0 - floor) * base(min(k - warmup, rest), rest)

    return factor


_BASE_FACTORS: dict[str, Callable[[int, int], float]] = {
    "cosine": lambda k, n: 0.5 * (1.0 + math.cos(math.pi * k / n)),
    "none": lambda k, n: 1.0,
}


def make_schedule(opt: torch.optim.Optimizer, cfg: TrainConfig, steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    """The LR schedule of ``cfg`` over ``steps`` optimizer steps. Without warm-up and floor it is the
    registered schedule itself (``SCHEDULES``, bit-identical to earlier versions); with them a
    ``LambdaLR`` of the same shape (cosine or constant) after a linear warm-up, ending at
    ``lr_floor x lr`` instead of 0."""
    if not (cfg.warmup_steps or cfg.lr_floor) or cfg.schedule not in _BASE_FACTORS:
        return SCHEDULES.get(cfg.schedule)(opt, steps)
    return torch.optim.lr_scheduler.LambdaLR(
        opt, _shaped(_BASE_FACTORS[cfg.schedule], steps, int(cfg.warmup_steps), float(cfg.lr_floor)))


@dataclass
class TrainConfig:
    """How to train (and encode inputs for) a candidate.

    ``encoding=None`` uses the data set's default; ``max_batches`` caps batches per epoch for cheap
    proxy training; the cosine schedule anneals per batch over ``epochs x batches``.

    Short (proxy) trainings: ``warmup_steps`` ramps the LR up linearly over the first steps (a high
    LR from step one makes fresh BN + spiking layers diverge or die), ``lr_floor`` ends the cosine at
    that fraction of ``lr`` instead of 0 (so the last steps still learn), and ``bn_recalibrate``
    re-estimates every BatchNorm's running statistics after training from that many training
    batches (forward only, a plain average), so evaluation uses statistics of the final weights,
    not a running average that lags a fast-moving short training. All three default off.
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    schedule: str = "cosine"
    time_steps: int = 4
    encoding: str | None = None
    seed: int = 0
    quiet: bool = False
    max_batches: int | None = None
    device: str = "cpu"
    warmup_steps: int = 0
    lr_floor: float = 0.0
    bn_recalibrate: int = 0


@dataclass
class TrainResult:
    """``history`` holds one dict per finished epoch: epoch, loss, acc (train), lr."""

    ok: bool
    reason: str | None = None
    history: list[dict] = field(default_factory=list)
    epochs_done: int = 0


def iter_batches(dataset: TensorDataset, batch_size: int, generator: torch.Generator | None = None,
                 limit: int | None = None) -> Iterator[tuple[torch.Tensor, ...]]:
    """Mini-batches of a ``TensorDataset``, shuffled by ``generator`` when given, at most ``limit``."""
    n = len(dataset)
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    for k, start in enumerate(range(0, n, batch_size)):
        if limit is not None and k >= limit:
            return
        idx = order[start:start + batch_size]
        yield tuple(t[idx] for t in dataset.tensors)


def _encoding_name(cfg: TrainConfig, default: str | None) -> str:
    name = cfg.encoding or default or "direct"
    ENCODINGS.get(name)
    return name


def _generator(seed: int, device: str) -> torch.Generator:
    g = torch.Generator(device=torch.device(device))
    g.manual_seed(seed)
    return g


def _is_oom(e: BaseException) -> bool:
    return isinstance(e, torch.OutOfMemoryError) or "out of memory" in str(e).lower()


def train(model: nn.Module, splits: DataSplits, cfg: TrainConfig) -> TrainResult:
    """Train ``model`` on ``splits.train`` with BPTT and cross-entropy; never raises on divergence."""
    make_opt = OPTIMIZERS.get(cfg.optimizer)
    SCHEDULES.get(cfg.schedule)
    enc = _encoding_name(cfg, splits.default_encoding)
    device = torch.device(cfg.device)
    model.to(device)
    n_batches = math.ceil(len(splits.train) / cfg.batch_size)
    if cfg.max_batches is not None:
        n_batches = min(n_batches, cfg.max_batches)
    opt = make_opt([p for p in model.parameters() if p.requires_grad], cfg.lr, cfg.weight_decay)
    sched = make_schedule(opt, cfg, cfg.epochs * n_batches)
    shuffle = torch.Generator().manual_seed(cfg.seed)
    noise = _generator(cfg.seed + 1, cfg.device)
    result = TrainResult(ok=True)
    devices = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(cfg.seed)
        bar = tqdm(range(cfg.epochs), desc="train", unit="epoch", disable=cfg.quiet, leave=False)
        for epoch in bar:
            model.train()
            loss_sum, correct, seen = 0.0, 0, 0
            b = 0
            try:
                for b, (x, y) in enumerate(iter_batches(splits.train, cfg.batch_size, shuffle, n_batches), 1):
                    x, y = x.to(device), y.to(device)
                    logits = model(encode(x, cfg.time_steps, enc, noise))
                    loss = F.cross_entropy(logits, y)
                    if not torch.isfinite(loss):
                        result.ok, result.reason = False, f"non-finite loss at epoch {epoch + 1} batch {b}"
                        break
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
                    loss_sum += float(loss.detach()) * len(y)
                    correct += int((logits.argmax(1) == y).sum())
                    seen += len(y)
            except RuntimeError as e:  # only resource exhaustion and overflow are a candidate's fault
                what = "out of memory" if _is_oom(e) else "overflow" if "overflow" in str(e) else None
                if what is None:
                    raise
                result.ok = False
                result.reason = f"{what} at epoch {epoch + 1} batch {b}: {str(e).splitlines()[0]}"
            if not result.ok:
                break
            row = {"epoch": epoch + 1, "loss": loss_sum / max(seen, 1), "acc": correct / max(seen, 1),
                   "lr": opt.param_groups[0]["lr"]}
            result.history.append(row)
            result.epochs_done = epoch + 1
            bar.set_postfix(loss=f"{row['loss']:.3f}", acc=f"{row['acc']:.3f}")
        bar.close()
        if result.ok and cfg.bn_recalibrate > 0:
            recalibrate_bn(model, splits, cfg, enc, shuffle, noise)
    return result


_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


@torch.no_grad()
def recalibrate_bn(model: nn.Module, splits: DataSplits, cfg: TrainConfig, enc: str,
                   shuffle: torch.Generator, noise: torch.Generator) -> None:
    """Recompute BatchNorm running statistics of the trained ``model`` from ``cfg.bn_recalibrate``
    training batches (cumulative average: momentum None), leaving weights untouched."""
    bns = [m for m in model.modules() if isinstance(m, _BN) and m.track_running_stats]
    if not bns:
        return
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    device = torch.device(cfg.device)
    model.train()
    try:
        for x, _ in iter_batches(splits.train, cfg.batch_size, shuffle, cfg.bn_recalibrate):
            model(encode(x.to(device), cfg.time_steps, enc, noise))
    finally:
        for m, mom in zip(bns, saved, strict=True):
            m.momentum = mom


@torch.no_grad()
def accuracy(model: nn.Module, dataset: TensorDataset, cfg: TrainConfig,
             encoding: str | None = None) -> float:
    """Top-1 accuracy of ``model`` on ``dataset`` in eval mode (Poisson noise seeded by ``cfg.seed``)."""
    enc = encoding or _encoding_name(cfg, None)
    device = torch.device(cfg.device)
    model.to(device)
    was_training = model.training
    model.eval()
    noise = _generator(cfg.seed + 2, cfg.device)
    correct = 0
    try:
        for x, y in iter_batches(dataset, max(cfg.batch_size, 256)):
            logits = model(encode(x.to(device), cfg.time_steps, enc, noise))
            correct += int((logits.argmax(1) == y.to(device)).sum())
    finally:
        model.train(was_training)
    return correct / max(len(dataset), 1)
