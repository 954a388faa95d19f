"""Transformer parts: spiking MLP, SPS patch embedding stem, and the attention+MLP block."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from snnas.errors import UnknownNameError
from snnas.nn._layers import SpikingConv, SpikingLinear
from snnas.nn._registry import OPS, ops_of_kind


@OPS.register("mlp", kind="mlp", energy="linear: AC on spike input, MAC otherwise; BN folded")
class SpikingMLP(nn.Module):
    """Spikformer MLP: linear-BN-neuron to ``ratio * dim`` hidden units, linear-BN-neuron back."""

    def __init__(self, dim: int, ratio: float = 4.0, neuron: dict[str, Any] | None = None):
        super().__init__()
        hidden = max(1, int(round(dim * ratio)))
        self.fc1 = SpikingLinear(dim, hidden, neuron)
        self.fc2 = SpikingLinear(hidden, dim, neuron)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.fc1(x))


@OPS.register("patch_embed", kind="stem",
              energy="conv: MAC on real-valued input frames, AC on spikes; max-pool free")
class PatchEmbed(nn.Module):
    """Spikformer's spiking patch splitting (SPS): ``[T,B,C,H,W] -> [T,B,N,D]`` tokens.

    ``stages`` conv3x3-BN-neuron stages widen to ``embed_dim`` (the last one has ``embed_dim``
    channels, each earlier one half of the next); the last ``log2(patch_size)`` stages end with a
    3x3 stride-2 max-pool, so the token grid is ``H/patch_size x W/patch_size``. ``order="sps"``
    pools spikes after the neuron (Spikformer), ``order="cml"`` pools BN outputs before it (CML).
    A relative-position conv-BN-neuron is added to the features (SEW-style spike addition).
    """

    def __init__(self, in_channels: int, embed_dim: int, neuron: dict[str, Any] | None = None,
                 patch_size: int = 4, stages: int = 4, order: str = "sps"):
        super().__init__()
        pools = int(patch_size).bit_length() - 1
        if patch_size < 1 or 2 ** pools != patch_size:
            raise ValueError(f"patch_embed: patch_size must be a power of 2, got {patch_size}")
        if pools > stages:
            raise ValueError(f"patch_embed: patch_size {patch_size} needs at least {pools} stages, "
                             f"got {stages}")
        if order not in ("sps", "cml"):
            raise ValueError(f"patch_embed: order must be 'sps' or 'cml', got {order!r}")
        self.patch_size, self.order = patch_size, order
        widths = [max(1, embed_dim // 2 ** (stages - 1 - i)) for i in range(stages)]
        layers: list[nn.Module] = []
        c = in_channels
        for i, w in enumerate(widths):
            down = i >= stages - pools
            if down and order == "cml":
                layers.append(OPS.get("cml_down")(c, w, 2, neuron))
            else:
                layers.append(SpikingConv(c, w, 3, neuron=neuron))
                if down:
                    layers.append(OPS.get("max_pool_3x3")(w, w, 2, neuron))
            c = w
        self.stages = nn.Sequential(*layers)
        self.rpe = SpikingConv(embed_dim, embed_dim, 3, neuron=neuron)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(x)
        x = x + self.rpe(x)
        return x.flatten(3).transpose(2, 3)   # [T, B, D, H', W'] -> [T, B, N, D]


@OPS.register("block", kind="block", energy="sum of its attention op and its mlp")
class TransformerBlock(nn.Module):
    """Spikformer encoder block: ``x + attn(x)``, then ``x + mlp(x)`` (SEW-style spike addition).

    ``attention`` names any registered attention op, so a new attention is usable in blocks and
    in built networks the moment it is registered.
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0,
                 neuron: dict[str, Any] | None = None, attention: str = "ssa"):
        super().__init__()
        if attention not in ops_of_kind("attention"):
            raise UnknownNameError("attention op", attention, ops_of_kind("attention"))
        attn_op = OPS.get(attention)
        self.attn = attn_op(dim, heads, neuron)
        self.mlp = OPS.get("mlp")(dim, mlp_ratio, neuron)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        return x + self.mlp(x)
