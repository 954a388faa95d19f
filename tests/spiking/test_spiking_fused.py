"""The fused C kernel against the pure-torch reference: bit-identical spikes, gradients to rounding.

The exporter writes pure-torch models and checks bit-equality with the searched network, so the
fused forward must reproduce the reference's float32 arithmetic exactly, for every surrogate,
neuron kind, decay_input, reset mode, detach_reset and scalar / per-channel time constant.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from snnas.spiking import SURROGATES, IFNode, LIFNode, PLIFNode, Surrogate, _fused

pytestmark = pytest.mark.skipif(_fused.library() is None,
                                reason=f"fused kernel unavailable: {_fused.build_error()}")

SHAPE = (5, 3, 4, 6, 5)  # channel dim 2 has 4 channels


def _x(shape=SHAPE, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g) * 1.5 + 0.6
    flat = x.view(-1)
    flat[::17] = 1.0  # exact threshold crossings for IF from rest
    flat[::23] = 2.0  # exact for LIF tau=2 from rest
    return x


def _neurons(kind: str, sur: str):
    """Every configuration of one kind with one surrogate."""
    for decay, v_reset, detach in itertools.product([True, False], [0.0, None, -0.3], [False, True]):
        common = dict(v_reset=v_reset, surrogate=sur, detach_reset=detach)
        if kind == "if":
            if decay:
                yield IFNode(**common)
                yield IFNode(v_threshold=0.45, **common)
        elif kind == "lif":
            for tau in (2.0, 3.0, [1.5, 2.5, 7.0, 3.3]):
                yield LIFNode(tau=tau, decay_input=decay, **common)
            yield LIFNode(tau=2.3, decay_input=decay, v_threshold=0.7, **common)  # inexact floats
        else:
            yield PLIFNode(init_tau=3.0, decay_input=decay, **common)
            n = PLIFNode(decay_input=decay, channels=4, **common)
            with torch.no_grad():
                n.w.copy_(torch.tensor([0.3, -0.5, 1.2, 0.0]))
            yield n


def _run(n, x, grad, fused: bool, monkeypatch):
    monkeypatch.setenv("SNNAS_FUSED", "1" if fused else "0")
    for p in n.parameters():
        p.grad = None
    xr = x.clone().requires_grad_(True)
    y = n(xr)
    assert ("Fused" in type(y.grad_fn).__name__) == fused
    (y * grad).sum().backward()
    return y.detach(), xr.grad, [p.grad.clone() for p in n.parameters()]


@pytest.mark.parametrize("kind", ["if", "lif", "plif"])
@pytest.mark.parametrize("sur", SURROGATES.names())
def test_fused_matches_reference(kind, sur, monkeypatch):
    x = _x()
    grad = torch.randn(SHAPE, generator=torch.Generator().manual_seed(1))
    for n in _neurons(kind, sur):
        ys, gs, ps = _run(n, x, grad, True, monkeypatch)
        yr, gr, pr = _run(n, x, grad, False, monkeypatch)
        assert torch.equal(ys, yr), f"spikes differ: {n}"
        assert 0 < ys.mean() < 1
        torch.testing.assert_close(gs, gr, rtol=1e-4, atol=1e-5, msg=lambda m, n=n: f"{n}: {m}")
        for a, b in zip(ps, pr, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("sur", SURROGATES.names())
def test_extreme_inputs_keep_gradients_finite(sur, monkeypatch):
    """Membrane potentials far from threshold (IF integrating for many steps, huge inputs)."""
    g = torch.Generator().manual_seed(4)
    x = torch.randn(40, 3, 37, generator=g) * torch.tensor([1.0, 1e3, 1e6]).view(1, 3, 1)
    grad = torch.randn(x.shape, generator=g)
    for n in (IFNode(v_reset=None, surrogate=sur), LIFNode(surrogate=sur)):
        ys, gs, _ = _run(n, x, grad, True, monkeypatch)
        yr, gr, _ = _run(n, x, grad, False, monkeypatch)
        assert torch.equal(ys, yr) and torch.isfinite(gs).all()
        torch.testing.assert_close(gs, gr, rtol=1e-4, atol=1e-5)


def test_fused_is_the_default_and_env_turns_it_off(monkeypatch):
    x = _x().requires_grad_(True)
    monkeypatch.delenv("SNNAS_FUSED", raising=False)
    assert "Fused" in type(LIFNode()(x).grad_fn).__name__
    monkeypatch.setenv("SNNAS_FUSED", "0")
    assert "Fused" not in type(LIFNode()(x).grad_fn).__name__


def test_inference_large_and_noncontiguous(monkeypatch):
    """no_grad path (no H saved), the multi-threaded path, and strided inputs."""
    x = _x((4, 8, 16, 24, 24), seed=3)  # > 65536 elements: OpenMP path
    xt = x.transpose(3, 4)
    for n in (LIFNode(tau=[2.0 + i / 4 for i in range(16)]), PLIFNode(v_reset=None), IFNode()):
        outs = []
        for fused in ("1", "0"):
            monkeypatch.setenv("SNNAS_FUSED", fused)
            with torch.no_grad():
                outs.append((n(x), n(xt)))
        assert torch.equal(outs[0][0], outs[1][0]) and torch.equal(outs[0][1], outs[1][1])


@pytest.mark.parametrize("shape", [(3, 2, 16, 8, 8), (3, 5, 7, 3)])  # aligned rows / odd sizes
def test_streaming_stores_path(shape, monkeypatch):
    """Outputs above SNNAS_NT_BYTES are written with non-temporal stores: same values."""
    x = _x(shape, seed=5)
    grad = torch.randn(shape, generator=torch.Generator().manual_seed(2))
    n = PLIFNode(v_reset=None, surrogate="erf")
    monkeypatch.setattr(_fused, "_NT_BYTES", 0)
    ys, gs, ps = _run(n, x, grad, True, monkeypatch)
    yr, gr, pr = _run(n, x, grad, False, monkeypatch)
    assert torch.equal(ys, yr)
    torch.testing.assert_close(gs, gr, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ps[0], pr[0], rtol=1e-4, atol=1e-4)


def test_non_float32_and_foreign_surrogates_fall_back(monkeypatch):
    monkeypatch.setenv("SNNAS_FUSED", "1")
    x = _x().double().requires_grad_(True)
    y = LIFNode()(x)
    assert y.dtype == torch.float64 and "Fused" not in type(y.grad_fn).__name__
    y.sum().backward()

    class Box(Surrogate):  # a user surrogate with no C version (kernel_id -1)
        name = "box"

        def grad(self, u):
            return (u.abs() < 0.5).to(u.dtype)

    x32 = _x().requires_grad_(True)
    y = LIFNode(surrogate=Box())(x32)
    assert "Fused" not in type(y.grad_fn).__name__
    monkeypatch.setenv("SNNAS_FUSED", "0")
    assert torch.equal(y, LIFNode()(x32))


def test_dspike_width_read_at_forward_time(monkeypatch):
    x = _x().requires_grad_(True)
    grads = []
    for fused in ("1", "0"):
        monkeypatch.setenv("SNNAS_FUSED", fused)
        n = LIFNode(surrogate="dspike", alpha=3.0)
        n.surrogate.b.fill_(1.5)
        n(x).sum().backward()
        grads.append(x.grad.clone())
        x.grad = None
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-5)


def test_build_into_fresh_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SNNAS_CACHE_DIR", str(tmp_path))
    lib = _fused._build()
    assert lib.snnas_lif_abi() == _fused._ABI
    assert len(list(tmp_path.glob("snnas_lif_*.so"))) == 1


def test_no_compiler_warns_once_and_falls_back(monkeypatch):
    monkeypatch.setattr(_fused, "_lib", None)
    monkeypatch.setattr(_fused, "_failed", None)
    monkeypatch.setattr(_fused, "_compiler", lambda: None)
    monkeypatch.setenv("SNNAS_CACHE_DIR", "/nonexistent-snnas-cache")
    x = _x()
    with pytest.warns(RuntimeWarning, match="pure-torch"):
        y = LIFNode()(x)
    monkeypatch.setenv("SNNAS_FUSED", "0")
    assert torch.equal(y, LIFNode()(x))
    assert "compiler" in _fused.build_error()
