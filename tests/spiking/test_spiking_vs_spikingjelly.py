"""Same numbers as SpikingJelly 2.0: exact spikes, input (and parameter) gradients to rounding.

Skipped when spikingjelly is not installed (it is an optional benchmark peer).
"""

from __future__ import annotations

import itertools

import pytest
import torch

from snnas.spiking import PSN, IFNode, LIFNode, PLIFNode

sj = pytest.importorskip("spikingjelly")
from spikingjelly.activation_based import neuron as sjn  # noqa: E402
from spikingjelly.activation_based import surrogate as sjs  # noqa: E402

SURROGATES = {"sigmoid": lambda: sjs.Sigmoid(alpha=4.0), "atan": lambda: sjs.ATan(alpha=2.0)}
SHAPE = (6, 3, 4, 5, 5)


@pytest.fixture(params=["fused", "reference"])
def path(request, monkeypatch):
    monkeypatch.setenv("SNNAS_FUSED", "1" if request.param == "fused" else "0")
    return request.param


def _compare(ours, theirs, params=()):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(SHAPE, generator=g) * 1.5 + 0.5
    x[0, 0, 0, 0, :3] = torch.tensor([1.0, 2.0, 0.5])  # exact threshold hits
    grad = torch.randn(SHAPE, generator=g)
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ya, yb = ours(xa), theirs(xb)
    assert torch.equal(ya, yb), "spikes differ from SpikingJelly"
    assert 0.02 < ya.mean().item() < 0.9
    (ya * grad).sum().backward()
    (yb * grad).sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-4, atol=1e-5)
    for pa, pb in params:
        torch.testing.assert_close(pa.grad, pb.grad, rtol=1e-4, atol=1e-4)


LIF_CASES = list(itertools.product(SURROGATES, [True, False], [0.0, None], [False, True], [2.0, 3.0]))


@pytest.mark.parametrize("sur,decay_input,v_reset,detach,tau", LIF_CASES)
def test_lif(sur, decay_input, v_reset, detach, tau, path):
    ours = LIFNode(tau=tau, decay_input=decay_input, v_reset=v_reset, surrogate=sur,
                   detach_reset=detach)
    theirs = sjn.LIFNode(tau=tau, decay_input=decay_input, v_reset=v_reset,
                         surrogate_function=SURROGATES[sur](), detach_reset=detach, step_mode="m")
    _compare(ours, theirs)


@pytest.mark.parametrize("sur,v_reset,detach",
                         list(itertools.product(SURROGATES, [0.0, None], [False, True])))
def test_if(sur, v_reset, detach, path):
    ours = IFNode(v_reset=v_reset, surrogate=sur, detach_reset=detach)
    theirs = sjn.IFNode(v_reset=v_reset, surrogate_function=SURROGATES[sur](), detach_reset=detach,
                        step_mode="m")
    _compare(ours, theirs)


@pytest.mark.parametrize("sur,decay_input,v_reset,detach,tau", LIF_CASES)
def test_plif(sur, decay_input, v_reset, detach, tau, path):
    ours = PLIFNode(init_tau=tau, decay_input=decay_input, v_reset=v_reset, surrogate=sur,
                    detach_reset=detach)
    theirs = sjn.ParametricLIFNode(init_tau=tau, decay_input=decay_input, v_reset=v_reset,
                                   surrogate_function=SURROGATES[sur](), detach_reset=detach,
                                   step_mode="m")
    assert torch.equal(ours.w.detach(), theirs.w.detach())
    _compare(ours, theirs, [(ours.w, theirs.w)])


@pytest.mark.parametrize("sur", SURROGATES)
def test_psn(sur):
    T = SHAPE[0]
    ours = PSN(T=T, surrogate=sur)
    theirs = sjn.PSN(T=T, surrogate_function=SURROGATES[sur]())
    with torch.no_grad():
        theirs.weight.copy_(ours.weight)
        theirs.bias.copy_(ours.bias)
    _compare(ours, theirs, [(ours.weight, theirs.weight), (ours.bias, theirs.bias)])


def test_psn_init_distribution_matches():
    torch.manual_seed(3)
    ours = PSN(T=8)
    torch.manual_seed(3)
    theirs = sjn.PSN(T=8)
    assert torch.equal(ours.weight.detach(), theirs.weight.detach())
    assert torch.equal(ours.bias.detach(), theirs.bias.detach())
