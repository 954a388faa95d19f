"""Surrogate gradients: a Heaviside spike forward, a smooth pseudo-derivative backward.

Names and ``alpha`` meanings follow SpikingJelly (``atan``, ``sigmoid``, ``piecewise_quadratic``,
``erf``, ``rect``) so a user moving from it gets the same gradients; ``triangle`` and ``dspike``
(Li et al. 2021, the surrogate SpikeDHS/DGS evolve) are added. Every surrogate is a module whose
``grad(x)`` is the pure-torch pseudo-derivative at ``x = h - v_threshold``; the autograd function
below and the fused C kernel (by ``kernel_id``) both implement exactly that formula.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from snnas.registry import Registry
from snnas.space._names import SURROGATE_NAMES

SURROGATES: Registry[type[Surrogate]] = Registry("surrogate", names=SURROGATE_NAMES)


class _SpikeFn(torch.autograd.Function):
    """Heaviside forward (``x >= 0`` -> 1.0), ``grad_output * surrogate.grad(x)`` backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, surrogate: Surrogate) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad_output * ctx.surrogate.grad(x), None


class Surrogate(nn.Module):
    """Base of all surrogates: ``forward`` spikes, ``grad`` is d spike / d x.

    Subclasses set ``name``, ``default_alpha`` and ``kernel_id`` (the case of the fused C kernel
    that computes the same pseudo-derivative inline; -1 means "no fused version", which makes the
    neurons fall back to the pure-torch path for that surrogate).
    """

    name: str = ""
    default_alpha: float = 1.0
    kernel_id: int = -1

    def __init__(self, alpha: float | None = None):
        super().__init__()
        a = self.default_alpha if alpha is None else float(alpha)
        if not a > 0 or not math.isfinite(a):
            raise ValueError(f"surrogate '{self.name}': alpha must be a positive number, got {alpha!r}")
        self._alpha = a

    @property
    def alpha(self) -> float:
        return self._alpha

    def set_alpha(self, alpha: float) -> None:
        """Move the width in place (DGS): the next forward's gradient uses it."""
        a = float(alpha)
        if not a > 0 or not math.isfinite(a):
            raise ValueError(f"surrogate '{self.name}': alpha must be a positive number, got {alpha!r}")
        self._alpha = a

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _SpikeFn.apply(x, self)

    def grad(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise TypeError(f"{type(self).__name__} must implement grad()")

    def extra_repr(self) -> str:
        return f"alpha={self.alpha:g}"


@SURROGATES.register("sigmoid", formula="alpha * s * (1 - s), s = sigmoid(alpha * x)")
class SigmoidSurrogate(Surrogate):
    """SpikingJelly ``Sigmoid``: derivative of sigmoid(alpha x); peak alpha/4 at 0."""

    name, default_alpha, kernel_id = "sigmoid", 4.0, 0

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        s = torch.sigmoid(x * self.alpha)
        return (1.0 - s) * s * self.alpha


@SURROGATES.register("atan", formula="alpha / 2 / (1 + (pi / 2 * alpha * x)^2)")
class ATanSurrogate(Surrogate):
    """SpikingJelly ``ATan``: derivative of atan(pi/2 alpha x)/pi + 1/2; PSN's default."""

    name, default_alpha, kernel_id = "atan", 2.0, 1

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        a = self.alpha / 2
        ax = math.pi * a * x
        return a / (1 + ax * ax)


@SURROGATES.register("piecewise_quadratic", formula="alpha - alpha^2 |x| for |x| <= 1/alpha, else 0")
class PiecewiseQuadraticSurrogate(Surrogate):
    """SpikingJelly ``PiecewiseQuadratic`` (its primitive is piecewise quadratic, its gradient a
    triangle of height alpha and half-width 1/alpha)."""

    name, default_alpha, kernel_id = "piecewise_quadratic", 1.0, 2

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        ax = x.abs()
        g = -(self.alpha**2) * ax + self.alpha
        return g.masked_fill(ax > 1 / self.alpha, 0.0)


@SURROGATES.register("erf", formula="alpha / sqrt(pi) * exp(-(alpha x)^2)")
class ErfSurrogate(Surrogate):
    """SpikingJelly ``Erf``: derivative of (1 + erf(alpha x)) / 2, a Gaussian of area 1."""

    name, default_alpha, kernel_id = "erf", 2.0, 3

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(-((x * self.alpha) ** 2)) * (self.alpha / math.sqrt(math.pi))


@SURROGATES.register("rect", formula="alpha for |x| < 1 / (2 alpha), else 0")
class RectSurrogate(Surrogate):
    """SpikingJelly ``Rect``: a box of height alpha and width 1/alpha (area 1)."""

    name, default_alpha, kernel_id = "rect", 1.0, 4

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        return (x.abs() < 0.5 / self.alpha).to(x.dtype) * self.alpha


@SURROGATES.register("triangle", formula="max(0, alpha * (1 - alpha |x|))")
class TriangleSurrogate(Surrogate):
    """Triangle of height alpha and half-width 1/alpha (area 1), the name papers use (e.g. Bellec
    et al. 2018, Esser et al. 2016). Same shape as ``piecewise_quadratic``'s gradient but written
    as ``alpha * (1 - alpha |x|)`` clipped at 0."""

    name, default_alpha, kernel_id = "triangle", 1.0, 5

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        return ((1.0 - x.abs() * self.alpha) * self.alpha).clamp_min(0.0)


@SURROGATES.register("dspike", formula="b / (2 tanh(b/2)) * (1 - tanh(b x)^2) for |x| <= 1/2, else 0")
class DSpikeSurrogate(Surrogate):
    """Dspike (Li et al., NeurIPS 2021): derivative of a tanh-shaped step on the window
    ``|x| <= 1/2``, normalised to area 1. The width ``b`` (``alpha``) is a *buffer* so DGS
    (differentiable surrogate-gradient search) can move it in place with ``.fill_``/``.copy_``
    during training; larger b = sharper, closer to the true step."""

    name, default_alpha, kernel_id = "dspike", 3.0, 6

    def __init__(self, alpha: float | None = None):
        super().__init__(alpha)
        self.register_buffer("b", torch.tensor(self._alpha, dtype=torch.float32))

    @property
    def alpha(self) -> float:
        return float(self.b)

    def set_alpha(self, alpha: float) -> None:
        super().set_alpha(alpha)
        self.b.fill_(self._alpha)

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        b = self.alpha
        t = torch.tanh(x * b)
        g = (1.0 - t * t) * (b / (2.0 * math.tanh(b / 2.0)))
        return g.masked_fill(x.abs() > 0.5, 0.0)


def make_surrogate(name: str, alpha: float | None = None) -> Surrogate:
    """Build the surrogate registered as ``name`` (unknown names list the valid ones)."""
    return SURROGATES.get(name)(alpha)
