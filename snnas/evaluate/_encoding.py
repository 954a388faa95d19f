"""Input encodings: turn a batch of samples into a time-first sequence ``[T, B, ...]``.

Each encoding declares whether it emits spikes, because the energy counter treats the first layer
differently: a conv fed by real-valued frames does MACs, one fed by binary spikes only ACs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from snnas.registry import Registry
from snnas.space._names import ENCODING_NAMES


@dataclass(frozen=True)
class Encoding:
    """``fn(x [B, ...], T, generator) -> [T, B, ...]``; ``emits_spikes`` is used for energy."""

    name: str
    emits_spikes: bool
    fn: Callable[[torch.Tensor, int, torch.Generator | None], torch.Tensor]
    description: str = ""


ENCODINGS: Registry[Encoding] = Registry("encoding", names=ENCODING_NAMES)


def _direct(x: torch.Tensor, T: int, generator: torch.Generator | None) -> torch.Tensor:
    return x.unsqueeze(0).expand(T, *x.shape).contiguous()


def _poisson(x: torch.Tensor, T: int, generator: torch.Generator | None) -> torch.Tensor:
    # Values are firing probabilities; normalised inputs (CIFAR) are clamped into [0, 1].
    p = x.clamp(0.0, 1.0).unsqueeze(0).expand(T, *x.shape)
    return (torch.rand(p.shape, generator=generator, device=x.device, dtype=x.dtype) < p).to(x.dtype)


def _events(x: torch.Tensor, T: int, generator: torch.Generator | None) -> torch.Tensor:
    # x is [B, T0, C, H, W] event counts in T0 equal time bins; merging k adjacent equal bins
    # gives exactly the counts of T0/k equal bins, so any divisor of T0 is available.
    if x.dim() < 3:
        raise ValueError(f"events encoding expects [B, T, C, ...] frames, got shape {tuple(x.shape)}")
    T0 = x.shape[1]
    if T0 % T:
        raise ValueError(f"events data holds {T0} frames per sample, which cannot be merged into "
                         f"time_steps={T}; load the data with time_steps={T} (or a multiple of it)")
    seq = x.transpose(0, 1)
    if T0 != T:
        seq = seq.reshape(T, T0 // T, *seq.shape[1:]).sum(1)
    return seq.contiguous()


for _e in (
    Encoding("direct", False, _direct, "repeat the real-valued frame at every time step"),
    Encoding("poisson", True, _poisson, "Bernoulli rate coding: spike with probability = pixel in [0,1]"),
    Encoding("events", True, _events, "pre-integrated event frames [B,T,2,H,W] passed through time-first"),
):
    ENCODINGS.add(_e.name, _e, emits_spikes=_e.emits_spikes, description=_e.description)


def encode(x: torch.Tensor, T: int, name: str, generator: torch.Generator | None = None) -> torch.Tensor:
    """Encode a batch ``x`` into ``[T, B, ...]`` with the registered encoding ``name``."""
    return ENCODINGS.get(name).fn(x, int(T), generator)


def emits_spikes(name: str) -> bool:
    """Whether the encoding's output is binary spikes (events are counts, treated as spikes)."""
    return ENCODINGS.get(name).emits_spikes
