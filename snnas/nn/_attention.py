"""Spiking self-attention ops on tokens ``[T, B, N, D]``: ``op(dim, heads, neuron) -> Module``.

All four follow their papers' forward pass with linear layers in place of the 1x1 conv1d (the same
map). Every product that does arithmetic goes through ``@``/``einsum`` with a spike operand, so the
energy counter prices it as accumulates; scales are applied after the matmul, never to a spike.
The attention-map neuron gets half the layer's threshold, as Spikformer/QKFormer/SDT use 0.5.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from snnas.nn._layers import SpikeMask, SpikingLinear
from snnas.nn._registry import OPS, neuron_config
from snnas.spiking import make_neuron

_THRESHOLDED = ("if", "lif", "plif")


def attention_neuron(neuron: dict[str, Any] | None) -> dict[str, Any]:
    """The layer's neuron config with half its threshold (the papers' ``v_threshold=0.5``)."""
    cfg = neuron_config(neuron)
    if cfg.get("kind") in _THRESHOLDED:
        cfg["v_threshold"] = 0.5 * float(cfg.get("v_threshold", 1.0))
    return cfg


def _check_heads(name: str, dim: int, heads: int) -> None:
    if heads < 1 or dim % heads:
        raise ValueError(f"attention '{name}': dim {dim} is not divisible by heads {heads}")


class _SpikeAttention(nn.Module):
    """Shared parts: spiking Q/K(/V) projections, attention neuron, spiking output projection."""

    def __init__(self, name: str, dim: int, heads: int, neuron: dict[str, Any] | None, qkv: str):
        super().__init__()
        _check_heads(name, dim, heads)
        self.dim, self.heads = dim, heads
        self.proj_in = nn.ModuleDict({p: SpikingLinear(dim, dim, neuron) for p in qkv})
        self.attn_neuron = make_neuron(**attention_neuron(neuron))
        self.proj = SpikingLinear(dim, dim, neuron)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        """[T, B, N, D] -> [T, B, heads, N, D/heads]."""
        return x.unflatten(-1, (self.heads, -1)).transpose(2, 3)

    def _merge(self, x: torch.Tensor) -> torch.Tensor:
        """[T, B, heads, N, d] -> [T, B, N, heads*d]."""
        return x.transpose(2, 3).flatten(-2)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, heads={self.heads}"


class SSA(_SpikeAttention):
    """Spikformer spiking self-attention: ``SN(Q K^T V * s)`` with spike Q, K, V and no softmax
    (spikes are non-negative, so the map needs no normalisation beyond the fixed scale)."""

    def __init__(self, dim: int, heads: int, neuron: dict[str, Any] | None = None, scale: float = 0.125):
        super().__init__("ssa", dim, heads, neuron, "qkv")
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = (self._split(self.proj_in[p](x)) for p in "qkv")
        attn = q @ k.transpose(-2, -1)
        y = (attn @ v) * self.scale
        return self.proj(self.attn_neuron(self._merge(y)))


class SDSA(_SpikeAttention):
    """Spike-driven Transformer (v1) self-attention: ``V * SN(sum_tokens(Q * K))``.

    Linear in the number of tokens; the Hadamard-and-sum is one einsum (accumulates of spikes),
    the mask is an AND of two spike tensors. Heads do not change the map (it is per channel).
    """

    def __init__(self, dim: int, heads: int, neuron: dict[str, Any] | None = None):
        super().__init__("sdsa", dim, heads, neuron, "qkv")
        self.mask = SpikeMask()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = (self.proj_in[p](x) for p in "qkv")
        qk = torch.einsum("tbnd,tbnd->tbd", q, k).unsqueeze(2)     # [T, B, 1, D]
        return self.proj(self.mask(v, self.attn_neuron(qk)))


class QKTokenAttention(_SpikeAttention):
    """QKFormer Q-K token attention: per head, ``A = SN(sum_channels Q)`` gates tokens of K."""

    def __init__(self, dim: int, heads: int, neuron: dict[str, Any] | None = None):
        super().__init__("qk_token", dim, heads, neuron, "qk")
        self.mask = SpikeMask()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k = (self._split(self.proj_in[p](x)) for p in "qk")          # [T, B, H, N, d]
        ones = q.new_ones(q.shape[-1], 1)
        a = self.attn_neuron(q @ ones)                                  # [T, B, H, N, 1]
        return self.proj(self._merge(self.mask(k, a)))


class QKChannelAttention(_SpikeAttention):
    """QKFormer Q-K channel attention: ``A = SN(sum_tokens Q)`` gates channels of K."""

    def __init__(self, dim: int, heads: int, neuron: dict[str, Any] | None = None):
        super().__init__("qk_channel", dim, heads, neuron, "qk")
        self.mask = SpikeMask()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k = (self.proj_in[p](x) for p in "qk")                       # [T, B, N, D]
        ones = q.new_ones(1, q.shape[-2])
        a = self.attn_neuron(ones @ q)                                  # [T, B, 1, D]
        return self.proj(self.mask(k, a))


_ENERGY = "Q/K/V/out linear: AC on spike input, MAC otherwise; attention products: AC (spike operand)"
OPS.add("ssa", SSA, kind="attention", energy=_ENERGY)
OPS.add("sdsa", SDSA, kind="attention", energy=_ENERGY)
OPS.add("qk_token", QKTokenAttention, kind="attention", energy=_ENERGY)
OPS.add("qk_channel", QKChannelAttention, kind="attention", energy=_ENERGY)
