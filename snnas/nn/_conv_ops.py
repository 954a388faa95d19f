"""Cell ops (SpikeDHS candidate operations): ``op(c_in, c_out, stride, neuron) -> Module``.

Every op maps ``[T, B, c_in, H, W]`` to ``[T, B, c_out, ceil(H/stride), ceil(W/stride)]``, so any op
can sit on any cell edge and the mixed ops of a supernet can sum their outputs. Meta ``neuron=True``
marks the ops that have a neuron of their own (so op variants may set it). All but one end in it
(``forward(x) == op.neuron(op.body(x))``, see ``split_neuron``): a supernet edge sums those
candidates' bodies into one neuron, as SpikeDHS does. ``neuron_conv_3x3`` (meta ``neuron_first``)
starts with its neuron instead, so it reads spikes whatever its input is, and is mixed whole. ``events=False``
marks ops whose output is not spikes (averages), which makes their consumers multiply.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from snnas.nn._layers import FactorizedReduce, SpikingConv, seq_apply
from snnas.nn._registry import OPS, neuron_config
from snnas.spiking import make_neuron

_CONV = "conv: AC when fed by spikes, MAC otherwise; BN folded into the conv"


def _check_stride(name: str, stride: int) -> None:
    if stride not in (1, 2):
        raise ValueError(f"op '{name}' supports stride 1 or 2, got {stride}")


class Zero(nn.Module):
    """The "no edge" op: zeros of the output shape, computed from nothing (so it costs nothing).

    ``emits_events``: its output carries no events, so a node summing it with spikes still holds
    spike counts for the energy counter (it is not a neuron: no firing rate is recorded).
    """

    emits_events = True

    def __init__(self, c_out: int, stride: int):
        super().__init__()
        self.c_out, self.stride = c_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stride
        return torch.zeros_like(x[:, :, :1, ::s, ::s]).expand(-1, -1, self.c_out, -1, -1).contiguous()

    def extra_repr(self) -> str:
        return f"c_out={self.c_out}, stride={self.stride}"


class SeqPool(nn.Module):
    """A 2-D pool applied frame by frame (pools have no time dynamics)."""

    def __init__(self, pool: nn.Module):
        super().__init__()
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return seq_apply(self.pool, x)


@OPS.register("skip", kind="cell", energy="free when shapes match; else a spiking 1x1 conv (" + _CONV + ")")
def skip(c_in: int, c_out: int, stride: int, neuron: dict[str, Any] | None = None) -> nn.Module:
    """Identity; a spiking 1x1 conv (factorized reduce for stride 2) when the shape must change."""
    _check_stride("skip", stride)
    if stride == 1 and c_in == c_out:
        return nn.Identity()
    if stride == 1:
        return SpikingConv(c_in, c_out, 1, neuron=neuron)
    return FactorizedReduce(c_in, c_out, neuron)


@OPS.register("zero", kind="cell", energy="none: outputs zeros without reading its input",
              reads_input=False)
def zero(c_in: int, c_out: int, stride: int, neuron: dict[str, Any] | None = None) -> nn.Module:
    _check_stride("zero", stride)
    return Zero(c_out, stride)


@OPS.register("conv_3x3", kind="cell", energy=_CONV, neuron=True)
def conv_3x3(c_in: int, c_out: int, stride: int, neuron: dict[str, Any] | None = None) -> nn.Module:
    _check_stride("conv_3x3", stride)
    return SpikingConv(c_in, c_out, 3, stride, neuron=neuron)


@OPS.register("conv_5x5", kind="cell", energy=_CONV, neuron=True)
def conv_5x5(c_in: int, c_out: int, stride: int, neuron: dict[str, Any] | None = None) -> nn.Module:
    _check_stride("conv_5x5", stride)
    return SpikingConv(c_in, c_out, 5, stride, neuron=neuron)


@OPS.register("dil_conv_3x3", kind="cell", energy=_CONV, neuron=True)
def dil_conv_3x3(c_in: int, c_out: int, stride: int, neuron: dict[str, Any] | None = None) -> nn.Module:
    """3x3 conv with dilation 2: a 5x5 receptive field for the cost of a 3x3."""
    _check_stride("dil_conv_3x3", stride)
    return SpikingConv(c_in, c_out, 3, stride, dilation=2, neuron=neuron)


@OPS.register("avg_pool_3x3", kind="cell", events=False,
              energy="pool: free; the 1x1 spiking conv used when channels change: " + _CONV)
def avg_pool_3x3(c_in: int, c_out: int, stride: int, neuron: dict[str, Any] | None = None) -> nn.Module:
    """3x3 average pool. The channel-changing 1x1 conv runs before the pool, on spikes (AC), since
    averaging turns spikes into fractions that a later conv would have to multiply."""
    _check_stride("avg_pool_3x3", stride)
    pool = SeqPool(nn.AvgPool2d(3, stride, padding=1, count_include_pad=False))
    if c_in == c_out:
        return pool
    return nn.Sequential(SpikingConv(c_in, c_out, 1, neuron=neuron), pool)


@OPS.register("max_pool_3x3", kind="cell",
              energy="pool: free; the 1x1 spiking conv used when channels change: " + _CONV)
def max_pool_3x3(c_in: int, c_out: int, stride: int, neuron: dict[str, Any] | None = None) -> nn.Module:
    """3x3 max pool. The max of spikes is a spike, so the channel-changing 1x1 conv runs after the
    pool, on fewer pixels and still on spikes."""
    _check_stride("max_pool_3x3", stride)
    pool = SeqPool(nn.MaxPool2d(3, stride, padding=1))
    if c_in == c_out:
        return pool
    return nn.Sequential(pool, SpikingConv(c_in, c_out, 1, neuron=neuron))


@OPS.register("cml_down", kind="cell", energy=_CONV + "; max-pool free", neuron=True)
def cml_down(c_in: int, c_out: int, stride: int, neuron: dict[str, Any] | None = None) -> nn.Module:
    """CML downsampling (Zhou et al. 2023): conv3x3 -> BN -> max-pool -> neuron.

    Pooling membrane inputs before the neuron, instead of pooling spikes after it, gives the max
    its precise gradient; the stride comes from the 3x3 max-pool, the conv keeps the resolution.
    """
    _check_stride("cml_down", stride)
    return SpikingConv(c_in, c_out, 3, 1, neuron=neuron, pool=nn.MaxPool2d(3, stride, padding=1))


class NeuronConv(nn.Module):
    """neuron -> conv -> BN on ``[T, B, C, H, W]``: the edge op of SNASNet and SpikeNAS-Bench (LIF ->
    conv3x3 -> BN, DARTS' ReLU-conv-BN with a neuron for the ReLU). The neuron comes first, so the
    conv always reads spikes (AC) and the output is a real-valued current that a dag node sums."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1,
                 neuron: dict[str, Any] | None = None):
        super().__init__()
        self.neuron = make_neuron(**neuron_config(neuron))
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.neuron(x)
        return self.bn(self.conv(s.flatten(0, 1))).unflatten(0, s.shape[:2])


@OPS.register("neuron_conv_3x3", kind="cell", neuron=True, neuron_first=True,
              energy="its own neuron's spikes into the 3x3 conv: AC, whatever the input; BN folded")
def neuron_conv_3x3(c_in: int, c_out: int, stride: int, neuron: dict[str, Any] | None = None) -> nn.Module:
    """SpikeNAS-Bench's ops 2-4 are this op with firing thresholds 0.5, 1 and 1.5:
    ``neuron_conv_3x3{threshold: 0.5}`` ... (op variants)."""
    _check_stride("neuron_conv_3x3", stride)
    return NeuronConv(c_in, c_out, 3, stride, neuron=neuron)
