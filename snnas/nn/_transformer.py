"""The spiking-transformer network (Spikformer family) assembled from registered ops."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from snnas.nn._registry import OPS


class SpikingTransformer(nn.Module):
    """patch_embed stem -> blocks -> mean over tokens -> linear -> mean over T.

    Block i uses ``heads[i]``, ``mlp_ratios[i]`` and neuron config ``neurons[i]``; the stem uses
    block 0's neuron. Takes ``[T, B, C, H, W]``, returns ``[B, num_classes]``.
    """

    def __init__(self, in_channels: int, num_classes: int, embed_dim: int, heads: Sequence[int],
                 mlp_ratios: Sequence[float], neurons: Sequence[dict[str, Any]],
                 attention: str = "ssa", patch_size: int = 4, stem_stages: int = 4,
                 stem: str = "sps"):
        super().__init__()
        if not (len(heads) == len(mlp_ratios) == len(neurons)) or not heads:
            raise ValueError(f"heads ({len(heads)}), mlp_ratios ({len(mlp_ratios)}) and neurons "
                             f"({len(neurons)}) need one entry per block, at least one block")
        self.patch_embed = OPS.get("patch_embed")(in_channels, embed_dim, neurons[0],
                                                  patch_size=patch_size, stages=stem_stages,
                                                  order=stem)
        block = OPS.get("block")
        self.blocks = nn.ModuleList(block(embed_dim, h, r, n, attention=attention)
                                    for h, r, n in zip(heads, mlp_ratios, neurons, strict=True))
        self.head = nn.Linear(embed_dim, num_classes)

    def forward(self, x):  # unannotated: torch.fx would copy the hints into exported source
        t = self.patch_embed(x)
        for blk in self.blocks:
            t = blk(t)
        return self.head(t.mean(2)).mean(0)
