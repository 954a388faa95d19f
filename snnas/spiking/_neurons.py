"""Multi-step spiking neurons (IF, LIF, PLIF, PSN) and the non-spiking stand-in.

All neurons take a time-first ``[T, B, ...]`` tensor and return spikes of the same shape. State
(the membrane potential) lives only inside one ``forward`` call, so no ``reset_net`` is ever
needed and a module can be reused across batches, Ray workers and exported models alike.
IF/LIF/PLIF run the fused C kernel (``_fused``) when eligible and the pure-torch reference
(``_reference``) otherwise; both give bit-identical spikes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from snnas.registry import Registry
from snnas.space._names import NEURON_NAMES
from snnas.spiking import _fused, _portable, _reference
from snnas.spiking._portable import channel_view
from snnas.spiking._surrogate import Surrogate, make_surrogate

NEURONS: Registry[type[BaseNeuron]] = Registry("neuron", names=NEURON_NAMES)


def _as_surrogate(surrogate: str | Surrogate, alpha: float | None) -> Surrogate:
    if isinstance(surrogate, Surrogate):
        return surrogate
    return make_surrogate(surrogate, alpha)


class BaseNeuron(nn.Module):
    """A multi-step neuron: ``forward(x_seq [T, B, ...]) -> [T, B, ...]``.

    ``is_spiking`` tells the energy counter whether outputs are binary spikes (their consumers
    then count accumulates, not multiply-accumulates); only the ``ann`` stand-in sets it False.

    ``runtime`` is the torch-only twin (``_portable``) an exported model.py builds in this
    neuron's place, ``runtime_args()`` its constructor arguments: the exporter asks the neuron, so
    a new neuron exports the moment it names a twin.
    """

    is_spiking: bool = True
    runtime: ClassVar[type[nn.Module] | None] = None

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise TypeError(f"{type(self).__name__} must implement forward()")

    def runtime_args(self) -> dict[str, Any]:
        """Keyword arguments of ``runtime`` that reproduce this neuron (plain values, tensors or
        ``Surrogate`` modules); the twin then loads this neuron's state dict unchanged."""
        raise TypeError(f"{type(self).__name__} does not implement runtime_args()")


class _ResetNeuron(BaseNeuron):
    """Shared charge-fire-reset machinery of IF, LIF and PLIF."""

    mode: int = _reference.MODE_IF
    runtime = _portable.ResetNeuron

    def __init__(self, v_threshold: float, v_reset: float | None, surrogate: str | Surrogate,
                 alpha: float | None, detach_reset: bool, decay_input: bool = True):
        super().__init__()
        self.v_threshold = float(v_threshold)
        self.v_reset = None if v_reset is None else float(v_reset)
        self.surrogate = _as_surrogate(surrogate, alpha)
        self.detach_reset = bool(detach_reset)
        self.decay_input = bool(decay_input)

    def _coef(self, ndim: int) -> float | torch.Tensor | None:
        """tau (LIF) or sigmoid(w) (PLIF), shaped to broadcast over one time step."""
        return None

    def runtime_args(self) -> dict[str, Any]:
        return {"mode": self.mode, "surrogate": self.surrogate, "v_threshold": self.v_threshold,
                "v_reset": self.v_reset, "detach_reset": self.detach_reset, "decay_input": self.decay_input}

    def _check_channels(self, x_seq: torch.Tensor, c: int) -> None:
        dim = 2 if x_seq.ndim == 5 else x_seq.ndim - 1
        if x_seq.ndim < 2 or x_seq.shape[dim] != c:
            raise ValueError(f"{type(self).__name__}: {c} per-channel values but input shape "
                             f"{tuple(x_seq.shape)} has {x_seq.shape[dim] if x_seq.ndim >= 2 else 0} "
                             f"channels on dim {dim}")

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if x_seq.ndim < 2:
            raise ValueError(f"{type(self).__name__} expects a time-first [T, B, ...] tensor, "
                             f"got shape {tuple(x_seq.shape)}")
        coef = self._coef(x_seq.ndim)
        if isinstance(coef, torch.Tensor) and coef.ndim:
            self._check_channels(x_seq, coef.numel())
        out = _fused.multi_step(x_seq, self.mode, coef, self.decay_input, self.v_threshold,
                                self.v_reset, self.surrogate, self.detach_reset)
        if out is not None:
            return out
        return _reference.multi_step(x_seq, self.mode, coef, self.decay_input, self.v_threshold,
                                     self.v_reset, self.surrogate, self.detach_reset)

    def extra_repr(self) -> str:
        return (f"v_threshold={self.v_threshold:g}, v_reset={self.v_reset}, "
                f"detach_reset={self.detach_reset}")


@NEURONS.register("if", description="integrate-and-fire: H = V + X")
class IFNode(_ResetNeuron):
    """Integrate-and-fire (no leak), SpikingJelly ``IFNode`` semantics."""

    mode = _reference.MODE_IF

    def __init__(self, v_threshold: float = 1.0, v_reset: float | None = 0.0,
                 surrogate: str | Surrogate = "sigmoid", alpha: float | None = None,
                 detach_reset: bool = False):
        super().__init__(v_threshold, v_reset, surrogate, alpha, detach_reset)


@NEURONS.register("lif", description="leaky integrate-and-fire, fixed tau (scalar or per channel)")
class LIFNode(_ResetNeuron):
    """Leaky integrate-and-fire, SpikingJelly ``LIFNode`` semantics.

    ``tau`` is a float or a length-C sequence/1-D tensor (heterogeneous neurons, one time constant
    per channel, as SpikeDHS's spatial-temporal search learns per layer); it broadcasts on dim 2
    of 5-D input and on the last dim otherwise.
    """

    mode = _reference.MODE_LIF

    def __init__(self, tau: float | Sequence[float] | torch.Tensor | None = 2.0,
                 decay_input: bool = True, v_threshold: float = 1.0,
                 v_reset: float | None = 0.0, surrogate: str | Surrogate = "sigmoid",
                 alpha: float | None = None, detach_reset: bool = False):
        super().__init__(v_threshold, v_reset, surrogate, alpha, detach_reset, decay_input)
        tau = 2.0 if tau is None else tau
        if isinstance(tau, (int, float)):
            if not float(tau) > 1.0:
                raise ValueError(f"LIFNode: tau must be > 1, got {tau!r}")
            self.tau: float | torch.Tensor = float(tau)
        else:
            t = torch.as_tensor(tau, dtype=torch.float32).detach().clone().reshape(-1)
            if t.numel() == 0 or not bool((t > 1.0).all()):
                raise ValueError(f"LIFNode: every per-channel tau must be > 1, got {t.tolist()}")
            self.register_buffer("tau", t)

    def _coef(self, ndim: int) -> float | torch.Tensor:
        return channel_view(self.tau, ndim) if isinstance(self.tau, torch.Tensor) else self.tau

    def runtime_args(self) -> dict[str, Any]:
        return {**super().runtime_args(), "tau": self.tau}

    def extra_repr(self) -> str:
        tau = f"{self.tau:g}" if isinstance(self.tau, float) else f"per-channel[{self.tau.numel()}]"
        return f"tau={tau}, decay_input={self.decay_input}, " + super().extra_repr()


@NEURONS.register("plif", description="parametric LIF: learnable 1/tau = sigmoid(w)")
class PLIFNode(_ResetNeuron):
    """Parametric LIF (Fang et al. 2021), SpikingJelly ``ParametricLIFNode`` semantics.

    ``w`` starts at ``-log(init_tau - 1)`` so that ``1/tau = sigmoid(w)`` starts at ``1/init_tau``;
    ``channels=C`` learns one ``w`` per channel instead of one per layer.
    """

    mode = _reference.MODE_PLIF

    def __init__(self, init_tau: float = 2.0, decay_input: bool = True, v_threshold: float = 1.0,
                 v_reset: float | None = 0.0, surrogate: str | Surrogate = "sigmoid",
                 alpha: float | None = None, detach_reset: bool = False,
                 channels: int | None = None):
        super().__init__(v_threshold, v_reset, surrogate, alpha, detach_reset, decay_input)
        if not float(init_tau) > 1.0:
            raise ValueError(f"PLIFNode: init_tau must be > 1, got {init_tau!r}")
        w0 = -math.log(float(init_tau) - 1.0)
        shape = () if channels is None else (int(channels),)
        self.w = nn.Parameter(torch.full(shape, w0, dtype=torch.float32))

    def _coef(self, ndim: int) -> torch.Tensor:
        return channel_view(self.w.sigmoid(), ndim)

    def runtime_args(self) -> dict[str, Any]:
        return {**super().runtime_args(), "w_shape": tuple(self.w.shape)}

    def extra_repr(self) -> str:
        return f"decay_input={self.decay_input}, w_shape={tuple(self.w.shape)}, " + super().extra_repr()


@NEURONS.register("psn", description="parallel spiking neuron: H = W[T,T] X + b, no reset")
class PSN(BaseNeuron):
    """Parallel Spiking Neuron (Fang et al., NeurIPS 2023), SpikingJelly ``PSN`` semantics:
    all T steps at once through a learnable [T, T] mixing matrix, no reset, so it needs a fixed T."""

    runtime = _portable.PSN

    def __init__(self, T: int, surrogate: str | Surrogate = "atan", alpha: float | None = None):
        super().__init__()
        if T is None or int(T) < 1:
            raise ValueError(f"PSN needs the number of time steps T >= 1, got {T!r}")
        self.T = int(T)
        self.surrogate = _as_surrogate(surrogate, alpha)
        self.weight = nn.Parameter(torch.zeros(self.T, self.T))
        self.bias = nn.Parameter(torch.zeros(self.T, 1))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        nn.init.constant_(self.bias, -1.0)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if x_seq.ndim < 2 or x_seq.shape[0] != self.T:
            raise ValueError(f"PSN was built for T={self.T} but got input shape {tuple(x_seq.shape)}")
        h_seq = torch.addmm(self.bias, self.weight, x_seq.flatten(1))
        return self.surrogate(h_seq).view(x_seq.shape)

    def runtime_args(self) -> dict[str, Any]:
        return {"T": self.T, "surrogate": self.surrogate}

    def extra_repr(self) -> str:
        return f"T={self.T}"


@NEURONS.register("ann", description="non-spiking ReLU stand-in for hybrid SNN/ANN layers")
class NonSpiking(BaseNeuron):
    """ReLU in place of a neuron: the layer becomes an ANN layer (``is_spiking=False``), so its
    consumers are counted as MACs. Used where a search decides spikes cost more accuracy than
    the energy they save."""

    is_spiking = False
    runtime = _portable.NonSpiking

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return torch.relu(x_seq)

    def runtime_args(self) -> dict[str, Any]:
        return {}


def make_neuron(kind: str, T: int | None = None, **params) -> BaseNeuron:
    """Build the neuron registered as ``kind`` from a plain config dict.

    ``T`` (time steps) is only used by ``psn``; other kinds accept and ignore it so callers can
    pass it uniformly. Unknown kinds raise ``UnknownNameError`` listing the valid ones.
    """
    cls = NEURONS.get(kind)
    if cls is PSN:
        params["T"] = T
    return cls(**params)
