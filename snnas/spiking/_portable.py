"""Torch-only twins of the neurons: the classes an exported ``model.py`` builds in their place.

Each in-package neuron names its twin (``runtime``) and the constructor arguments that give the
twin its behaviour (``runtime_args()``); the exporter copies the twin's source verbatim (with the
reference dynamics of ``_reference`` and the surrogate classes), so the export asks the neuron,
never a list of known neuron types, and a new neuron exports once it names a twin. A twin takes
plain values, loads the neuron's state dict unchanged, and carries the same ``is_spiking`` mark,
so ``count_energy`` counts an exported module exactly like the in-package one.

The source here may use only ``torch``, ``nn``, ``math`` and the names the exported runtime block
defines (``multi_step``, ``channel_view``, ``MODE_*``, the surrogates): it runs without snnas.
"""

from __future__ import annotations

import torch
from torch import nn

from snnas.spiking._reference import MODE_PLIF, multi_step


def channel_view(p: torch.Tensor, ndim: int) -> torch.Tensor:
    """Shape a per-channel parameter [C] to broadcast against one time step of a ``ndim``-D
    sequence: on dim 2 of ``[T, B, C, H, W]`` (i.e. ``[C, 1, 1]``), on the last dim otherwise."""
    if p.ndim == 0:
        return p
    return p.view(-1, 1, 1) if ndim == 5 else p.view(-1)


class ResetNeuron(nn.Module):
    """IF (mode 0), LIF (mode 1, fixed tau) and PLIF (mode 2, learnable 1/tau = sigmoid(w))."""

    is_spiking = True

    def __init__(self, mode, surrogate, v_threshold=1.0, v_reset=0.0, detach_reset=False,
                 decay_input=True, tau=None, w_shape=None):
        super().__init__()
        self.mode, self.surrogate = mode, surrogate
        self.v_threshold, self.v_reset = v_threshold, v_reset
        self.detach_reset, self.decay_input = detach_reset, decay_input
        if isinstance(tau, (list, tuple)):
            self.register_buffer("tau", torch.tensor(tau, dtype=torch.float32))
        else:
            self.tau = tau
        if w_shape is not None:
            self.w = nn.Parameter(torch.zeros(w_shape))

    def forward(self, x_seq):
        if self.mode == MODE_PLIF:
            coef = channel_view(self.w.sigmoid(), x_seq.ndim)
        elif isinstance(self.tau, torch.Tensor):
            coef = channel_view(self.tau, x_seq.ndim)
        else:
            coef = self.tau
        return multi_step(x_seq, self.mode, coef, self.decay_input, self.v_threshold,
                          self.v_reset, self.surrogate, self.detach_reset)


class PSN(nn.Module):
    """Parallel spiking neuron: H = W[T, T] X + b over all T steps at once, no reset."""

    is_spiking = True

    def __init__(self, T, surrogate):
        super().__init__()
        self.surrogate = surrogate
        self.weight = nn.Parameter(torch.zeros(T, T))
        self.bias = nn.Parameter(torch.zeros(T, 1))

    def forward(self, x_seq):
        return self.surrogate(torch.addmm(self.bias, self.weight, x_seq.flatten(1))).view(x_seq.shape)


class NonSpiking(nn.Module):
    """ReLU stand-in of a non-spiking (ANN) layer of an SNN/ANN hybrid."""

    is_spiking = False

    def forward(self, x_seq):
        return torch.relu(x_seq)
