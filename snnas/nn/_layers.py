"""Time-first building blocks shared by every op: spiking conv, spiking linear, factorized reduce.

Ops that end in a neuron expose ``body(x)`` (the pre-activation) beside ``neuron``, with
``forward(x) == neuron(body(x))`` (see `split_neuron`).

Convolutions and batch norm run on the merged ``[T*B, ...]`` view (one BN statistic over all time
steps, as in tdBN/Spikformer) and the result is reshaped back to ``[T, B, ...]`` before the neuron,
because neurons integrate over the leading time axis. Forwards have no Python control flow on
tensor shapes or values, so ``torch.fx`` can trace them for the exporter. Between a neuron and the
conv/linear that consumes its spikes only shape ops appear, so the energy counter can see that the
consumer is fed by spikes and price it as accumulates (AC) instead of multiply-accumulates (MAC).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from snnas.nn._registry import neuron_config
from snnas.spiking import BaseNeuron, make_neuron


def seq_apply(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run a per-frame module (conv, BN, pool) on ``[T, B, ...]`` by merging T and B."""
    return module(x.flatten(0, 1)).unflatten(0, x.shape[:2])


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour 2x upsampling of ``[..., H, W]`` built from stack/flatten only.

    ``F.interpolate`` would hide from the energy counter that the result of upsampling spikes is
    still a spike tensor; stack and flatten are shape ops it follows.
    """
    x = torch.stack((x, x), dim=-1).flatten(-2)        # [..., H, 2W]
    return torch.stack((x, x), dim=-2).flatten(-3, -2)  # [..., 2H, 2W]


class SpikeMask(nn.Module):
    """Elementwise product of two spike tensors (an AND gate: the attention masks of SDSA and QKFormer).

    The energy counter marks the product of two spike tensors as spikes, so the linear layer after
    the mask is priced as accumulates, as the papers do. It is only ever applied to two neuron outputs.
    """

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return x * mask


class SpikingConv(nn.Module):
    """conv -> BN -> (optional pool) -> neuron on ``[T, B, C, H, W]``: the "spiking conv".

    ``pool`` sits between BN and the neuron when given: that is CML's downsampling order
    (max-pool on membrane inputs, not on spikes), which keeps the gradient of the max exact.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1,
                 padding: int | None = None, dilation: int = 1, neuron: dict[str, Any] | None = None,
                 pool: nn.Module | None = None):
        super().__init__()
        if padding is None:
            padding = dilation * (kernel - 1) // 2
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding, dilation, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.pool = pool
        self.neuron = make_neuron(**neuron_config(neuron))

    def body(self, x: torch.Tensor) -> torch.Tensor:
        """The pre-activation (conv -> BN -> pool) that drives the neuron, ``[T, B, C, H', W']``."""
        y = self.bn(self.conv(x.flatten(0, 1)))
        if self.pool is not None:
            y = self.pool(y)
        return y.unflatten(0, x.shape[:2])

    def body_scaled(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """``w * body(x)`` for a scalar tensor ``w >= 0`` (a softmax or one-hot edge weight), with
        ``w`` folded into the BN affine (`scaled_bn`): autograd then saves only the BN input, not
        also the BN output that the product would keep for the gradient of ``w``. A max or average
        pool after the BN commutes with the positive scale (a max pool's gradient for ``w`` needs
        ``w > 0``: at ``w = 0`` its ties break elsewhere); another ``pool`` falls back to the
        product. Running statistics evolve exactly as under ``body``, and ``w = 1`` computes
        ``body(x)`` bit for bit."""
        if self.pool is not None and not isinstance(self.pool, (nn.MaxPool2d, nn.AvgPool2d)):
            return w * self.body(x)
        y = self.scaled_bn(self.bn, self.conv(x.flatten(0, 1)), w)
        if self.pool is not None:
            y = self.pool(y)
        return y.unflatten(0, x.shape[:2])

    @staticmethod
    def scaled_bn(bn: nn.BatchNorm2d, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """``w * bn(y)`` as one ``F.batch_norm`` with weight ``w * gamma`` and bias ``w * beta``,
        doing to ``bn``'s buffers what ``nn.BatchNorm2d.forward`` does (``num_batches_tracked`` and
        the cumulative average of ``momentum=None`` included). A BN without affine parameters
        computes ``w * bn(y)`` as it reads (a weight of ones would take another kernel path, not
        bit for bit ``bn(y)`` at ``w = 1``)."""
        if bn.weight is None or bn.bias is None:
            return w * bn(y)
        bn._check_input_dim(y)
        factor = 0.0 if bn.momentum is None else bn.momentum
        if bn.training and bn.track_running_stats and bn.num_batches_tracked is not None:
            bn.num_batches_tracked.add_(1)
            factor = 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum
        use_batch = bn.training or (bn.running_mean is None and bn.running_var is None)
        track = not bn.training or bn.track_running_stats
        return F.batch_norm(y, bn.running_mean if track else None, bn.running_var if track else None,
                            w * bn.weight, w * bn.bias, use_batch, factor, bn.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.neuron(self.body(x))


class SpikingLinear(nn.Module):
    """linear -> BN -> neuron on ``[T, B, ..., D]`` (BN over the feature dim, all tokens and steps)."""

    def __init__(self, d_in: int, d_out: int, neuron: dict[str, Any] | None = None):
        super().__init__()
        self.fc = nn.Linear(d_in, d_out, bias=False)
        self.bn = nn.BatchNorm1d(d_out)
        self.neuron = make_neuron(**neuron_config(neuron))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(x)
        y = self.bn(y.flatten(0, -2)).reshape(y.shape)
        return self.neuron(y)


class FactorizedReduce(nn.Module):
    """Stride-2 spiking 1x1 conv that sees both pixel phases (DARTS' FactorizedReduce, spiking).

    Half the output channels come from even pixels, half from the odd ones, so a stride-2 skip or
    trellis step down does not discard three quarters of its input. The odd phase is the input
    shifted by one pixel and zero-padded at the far edge, so the output is ``ceil(H/2) x ceil(W/2)``
    like every other stride-2 op, for odd sizes too.
    """

    def __init__(self, c_in: int, c_out: int, neuron: dict[str, Any] | None = None):
        super().__init__()
        half = c_out // 2
        self.conv_a = nn.Conv2d(c_in, half, 1, stride=2, bias=False) if half else None
        self.conv_b = nn.Conv2d(c_in, c_out - half, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.neuron = make_neuron(**neuron_config(neuron))

    def body(self, x: torch.Tensor) -> torch.Tensor:
        """The pre-activation (both phases' convs -> BN) that drives the neuron."""
        z = x.flatten(0, 1)
        b = self.conv_b(F.pad(z[..., 1:, 1:], (0, 1, 0, 1)))
        y = b if self.conv_a is None else torch.cat((self.conv_a(z), b), dim=1)
        return self.bn(y).unflatten(0, x.shape[:2])

    def body_scaled(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """``w * body(x)`` for a scalar tensor ``w``, ``w`` folded into the BN affine (see
        `SpikingConv.body_scaled`)."""
        z = x.flatten(0, 1)
        b = self.conv_b(F.pad(z[..., 1:, 1:], (0, 1, 0, 1)))
        y = b if self.conv_a is None else torch.cat((self.conv_a(z), b), dim=1)
        return SpikingConv.scaled_bn(self.bn, y, w).unflatten(0, x.shape[:2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.neuron(self.body(x))


def split_neuron(module: nn.Module) -> nn.Module | None:
    """The neuron ``module`` ends in when its forward is ``module.neuron(module.body(x))`` (the op
    contract of spiking convs: a supernet can then sum several candidates' bodies into one neuron),
    else None (identity, pools, zero: their outputs are mixed as they are)."""
    neuron = getattr(module, "neuron", None)
    return neuron if isinstance(neuron, BaseNeuron) and callable(getattr(module, "body", None)) else None
