"""Every registered surrogate: Heaviside forward, backward == grad(), grad == documented formula."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from snnas.errors import UnknownNameError
from snnas.spiking import SURROGATES, Surrogate, make_surrogate

# name -> (SpikingJelly-style default alpha, pseudo-derivative written independently in float64)
FORMULAS = {
    "sigmoid": (4.0, lambda x, a: a * (1 / (1 + np.exp(-a * x))) * (1 - 1 / (1 + np.exp(-a * x)))),
    "atan": (2.0, lambda x, a: a / 2 / (1 + (math.pi / 2 * a * x) ** 2)),
    "piecewise_quadratic": (1.0, lambda x, a: np.where(np.abs(x) <= 1 / a, -(a**2) * np.abs(x) + a, 0.0)),
    "erf": (2.0, lambda x, a: a / math.sqrt(math.pi) * np.exp(-((a * x) ** 2))),
    "rect": (1.0, lambda x, a: np.where(np.abs(x) < 1 / (2 * a), a, 0.0)),
    "triangle": (1.0, lambda x, a: np.maximum(0.0, a * (1 - a * np.abs(x)))),
    "dspike": (3.0, lambda x, a: np.where(np.abs(x) <= 0.5,
                                          a / (2 * math.tanh(a / 2)) * (1 - np.tanh(a * x) ** 2), 0.0)),
}

NAMES = SURROGATES.names()


def _grid() -> torch.Tensor:
    # avoid the exact window edges of rect/pwq/dspike, where float32 and float64 may disagree
    x = torch.linspace(-3.0, 3.0, 1201, dtype=torch.float32)
    return x + 1e-4


def test_expected_names_registered():
    assert set(FORMULAS) <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_has_documented_formula(name):
    assert name in FORMULAS, f"add the documented formula of surrogate '{name}' to FORMULAS"
    assert SURROGATES.meta(name).get("formula"), "register surrogates with formula=... metadata"


@pytest.mark.parametrize("name", NAMES)
def test_forward_is_heaviside(name):
    s = make_surrogate(name)
    x = torch.tensor([-2.0, -1e-6, 0.0, 1e-6, 3.0])
    y = s(x)
    assert y.dtype == x.dtype
    assert torch.equal(y, torch.tensor([0.0, 0.0, 1.0, 1.0, 1.0]))


@pytest.mark.parametrize("name", NAMES)
def test_backward_equals_grad(name):
    s = make_surrogate(name)
    x = _grid().requires_grad_(True)
    g = torch.randn_like(x)
    s(x).backward(g)
    assert torch.allclose(x.grad, g * s.grad(x.detach()), rtol=0, atol=0)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("alpha", [None, 1.7])
def test_grad_matches_formula(name, alpha):
    default, formula = FORMULAS[name]
    s = make_surrogate(name, alpha)
    a = default if alpha is None else alpha
    assert isinstance(s, Surrogate) and s.name == name and s.alpha == pytest.approx(a)
    x = _grid()
    expected = formula(x.double().numpy(), a)
    np.testing.assert_allclose(s.grad(x).double().numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_grad_has_unit_area(name):
    """Every surrogate is the derivative of a smoothed step from 0 to 1."""
    x = torch.linspace(-200.0, 200.0, 2_000_001, dtype=torch.float64)
    area = torch.trapezoid(make_surrogate(name).grad(x), x).item()
    assert area == pytest.approx(1.0, abs=3e-3)


def test_unknown_surrogate_lists_valid_names():
    with pytest.raises(UnknownNameError) as e:
        make_surrogate("sigmod")
    assert "sigmoid" in str(e.value) and "dspike" in str(e.value)


@pytest.mark.parametrize("alpha", [0.0, -1.0, float("nan")])
def test_bad_alpha_rejected(alpha):
    with pytest.raises(ValueError):
        make_surrogate("atan", alpha)


def test_dspike_width_is_a_movable_buffer():
    s = make_surrogate("dspike", 2.0)
    assert "b" in dict(s.named_buffers()) and not list(s.parameters())
    assert "b" in s.state_dict()
    x = torch.tensor([0.2])
    g2 = s.grad(x).item()
    s.b.fill_(6.0)  # what DGS does during training
    assert s.alpha == 6.0
    assert s.grad(x).item() == pytest.approx(FORMULAS["dspike"][1](np.array([0.2]), 6.0)[0], rel=1e-5)
    assert s.grad(x).item() != pytest.approx(g2)
