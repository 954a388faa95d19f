"""Every registered neuron: shapes, gradients, statelessness; LIF/PLIF dynamics and per-channel tau."""

from __future__ import annotations

import math

import pytest
import torch

from snnas.errors import UnknownNameError
from snnas.spiking import NEURONS, PSN, BaseNeuron, LIFNode, PLIFNode, make_neuron

T = 4
SHAPES = [(T, 2, 3, 5, 4), (T, 3, 7), (T, 2, 5, 6)]


@pytest.fixture(params=["fused", "reference"])
def path(request, monkeypatch):
    """Run each test through the fused kernel and through the pure-torch reference."""
    monkeypatch.setenv("SNNAS_FUSED", "1" if request.param == "fused" else "0")
    return request.param


def _x(shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g) * 1.5 + 0.6


@pytest.mark.parametrize("kind", NEURONS.names())
@pytest.mark.parametrize("shape", SHAPES)
def test_shape_values_and_backward(kind, shape, path):
    n = make_neuron(kind, T=T)
    assert isinstance(n, BaseNeuron)
    x = _x(shape).requires_grad_(True)
    y = n(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    if n.is_spiking:
        assert set(y.unique().tolist()) <= {0.0, 1.0}
        assert 0 < y.mean().item() < 1
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for name, p in n.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize("kind", NEURONS.names())
def test_stateless_across_calls(kind, path):
    n = make_neuron(kind, T=T)
    x1, x2 = _x(SHAPES[0], 1), _x(SHAPES[0], 2)
    y1 = n(x1)
    n(x2)
    assert torch.equal(n(x1), y1)
    fresh = make_neuron(kind, T=T)
    fresh.load_state_dict(n.state_dict())
    assert torch.equal(fresh(x2), n(x2))  # nothing but the state_dict carries over


def test_is_spiking_flags():
    assert not make_neuron("ann").is_spiking
    for kind in ("if", "lif", "plif"):
        assert make_neuron(kind).is_spiking
    assert make_neuron("psn", T=2).is_spiking


def test_lif_hand_computed(path):
    # tau=2, V0=0: H1=0.75, H2=0.75+(0.5-0.75)/2=0.625, H3=0.625+(2.5-0.625)/2=1.5625 -> spike
    x = torch.tensor([1.5, 0.5, 2.5, 0.0]).view(4, 1, 1)
    assert LIFNode()(x).flatten().tolist() == [0.0, 0.0, 1.0, 0.0]
    # soft reset keeps the excess: V3 = 0.5625, H4 = 0.5625 + (4 - 0.5625)/2 >= 1 with x4 = 4
    x = torch.tensor([1.5, 0.5, 2.5, 4.0]).view(4, 1, 1)
    assert LIFNode(v_reset=None)(x).flatten().tolist() == [0.0, 0.0, 1.0, 1.0]
    # decay_input=False: H = V - V/2 + X: H1 = 0.8, H2 = 1.2 (spike, V=0), H3 = 0.8, H4 = 0.4
    x = torch.tensor([0.8, 0.8, 0.8, 0.0]).view(4, 1, 1)
    assert LIFNode(decay_input=False)(x).flatten().tolist() == [0.0, 1.0, 0.0, 0.0]


def test_if_hand_computed(path):
    x = torch.tensor([0.4, 0.6, 0.3, 0.9]).view(4, 1, 1)  # H = 0.4, 1.0 (fires at threshold), 0.3, 1.2
    assert make_neuron("if")(x).flatten().tolist() == [0.0, 1.0, 0.0, 1.0]


@pytest.mark.parametrize("shape", [(T, 2, 3, 5, 4), (T, 2, 3), (T, 2, 6, 3)])
def test_per_channel_tau_equals_per_channel_neurons(shape, path):
    taus = [1.5, 2.0, 7.0]
    x = _x(shape)
    y = LIFNode(tau=taus, v_reset=None)(x)
    dim = 2 if len(shape) == 5 else len(shape) - 1
    for c, tau in enumerate(taus):
        xc = x.select(dim, c)
        assert torch.equal(y.select(dim, c), LIFNode(tau=tau, v_reset=None)(xc.contiguous()))
    assert torch.equal(LIFNode(tau=torch.tensor(taus))(x), LIFNode(tau=taus)(x))


@pytest.mark.parametrize("shape", [(T, 2, 3, 5, 4), (T, 4, 3)])
def test_plif_per_channel(shape, path):
    n = PLIFNode(channels=3, decay_input=False)
    with torch.no_grad():
        n.w.copy_(torch.tensor([-1.0, 0.0, 2.0]))
    x = _x(shape).requires_grad_(True)
    y = n(x)
    dim = 2 if len(shape) == 5 else len(shape) - 1
    for c in range(3):
        m = PLIFNode(init_tau=1.0 + math.exp(-n.w[c].item()), decay_input=False)
        with torch.no_grad():
            m.w.copy_(n.w[c])
        assert torch.equal(y.select(dim, c), m(x.detach().select(dim, c).contiguous()))
    y.sum().backward()
    assert n.w.grad.shape == (3,) and torch.isfinite(n.w.grad).all()


def test_plif_init_matches_tau():
    for tau in (1.5, 2.0, 5.0):
        assert PLIFNode(init_tau=tau).w.sigmoid().item() == pytest.approx(1 / tau, rel=1e-6)


def test_channel_mismatch_is_an_error():
    with pytest.raises(ValueError, match="per-channel"):
        LIFNode(tau=[2.0, 3.0])(torch.zeros(T, 2, 3, 4, 4))


def test_bad_parameters():
    with pytest.raises(ValueError):
        LIFNode(tau=1.0)
    with pytest.raises(ValueError):
        LIFNode(tau=[2.0, 0.5])
    with pytest.raises(ValueError):
        PLIFNode(init_tau=0.9)
    with pytest.raises(ValueError):
        make_neuron("psn")  # no T
    with pytest.raises(ValueError, match="T=4"):
        PSN(T=4)(torch.zeros(3, 2, 5))
    with pytest.raises(ValueError):
        LIFNode()(torch.zeros(5))


def test_make_neuron_from_config_dicts():
    cfg = {"kind": "lif", "tau": 2.0, "v_threshold": 1.0, "v_reset": 0.0, "surrogate": "dspike",
           "alpha": 3.0, "detach_reset": False}
    n = make_neuron(**cfg)
    assert isinstance(n, LIFNode) and n.surrogate.name == "dspike" and n.surrogate.alpha == 3.0
    n = make_neuron(kind="plif", init_tau=3.0, v_reset=None, surrogate="atan", alpha=None, T=8)
    assert isinstance(n, PLIFNode) and n.v_reset is None
    n = make_neuron(kind="psn", T=8, surrogate="atan", alpha=None)
    assert isinstance(n, PSN) and n.weight.shape == (8, 8) and torch.all(n.bias == -1.0)
    assert make_neuron(kind="ann", T=8)(torch.tensor([-1.0, 2.0])).tolist() == [0.0, 2.0]


def test_unknown_neuron_lists_valid_names():
    with pytest.raises(UnknownNameError) as e:
        make_neuron("lf")
    assert "lif" in str(e.value) and "psn" in str(e.value)
    with pytest.raises(UnknownNameError):
        make_neuron("lif", surrogate="nope")


def test_surrogate_width_reaches_gradients(path):
    n = LIFNode(surrogate="dspike", alpha=1.0)
    x = _x(SHAPES[0]).requires_grad_(True)
    n(x).sum().backward()
    g1 = x.grad.clone()
    x.grad = None
    n.surrogate.b.fill_(5.0)
    n(x).sum().backward()
    assert not torch.allclose(g1, x.grad)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("kind", NEURONS.names())
def test_cuda_matches_cpu(kind):
    """On CUDA the neurons run the torch reference (the fused kernel is CPU-only)."""
    torch.manual_seed(0)
    params = {"tau": [1.5, 2.0, 7.0]} if kind == "lif" else {"channels": 3} if kind == "plif" else {}
    n = make_neuron(kind, T=T, **params)
    x = _x(SHAPES[0][:2] + (3, 5, 4))
    y_cpu = n(x)
    y_gpu = n.cuda()(x.cuda()).cpu()
    if kind == "psn":  # a matmul: CUDA may round differently, so only the shape is comparable
        assert y_gpu.shape == y_cpu.shape
    else:  # elementwise IEEE float32 arithmetic in the same order: identical spikes
        assert torch.equal(y_gpu, y_cpu)
