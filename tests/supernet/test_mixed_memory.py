"""MixedEdge's memory savings (BN-folded edge weights, recomputed pools, conv bodies recomputed in
backward) change nothing else: the same outputs (bit for bit at one-hot weights), gradients and BN
running statistics (updated once per forward) as the plain ``sum_k w_k op_k(x)`` formulation, and
fewer bytes saved for backward."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
import torch
from torch import nn

from snnas.nn._layers import FactorizedReduce, SpikingConv, split_neuron
from snnas.space import load_space
from snnas.space._architecture import NeuronSpec
from snnas.supernet import supernet_spec
from snnas.supernet._net import CellSupernet, MixedEdge, _Current, channel_shuffle

T, B, C, S = 2, 3, 4, 6
OPS = ("conv_3x3", "conv_5x5", "dil_conv_3x3", "cml_down", "avg_pool_3x3", "max_pool_3x3", "skip", "zero")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These tensors are tiny: a second intra-op thread only adds contention (seconds, not ms)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def reference(edge: MixedEdge, x: torch.Tensor) -> torch.Tensor:
    """The formulation before the memory savings: ``w_k * op_k(x)`` and ``w_k * body_k(x)``."""
    w = edge._current.edges[edge.index]
    rest = None
    if edge.partial > 1:
        c = x.shape[2] // edge.partial
        x, rest = x[:, :, :c], x[:, :, c:]
    out = None
    for k, op in enumerate(edge.ops):
        if k in edge.silent or k in edge.spiking:
            continue
        y = w[k] * op(x)
        out = y if out is None else out + y
    for g in edge.groups:
        u = None
        for k in g:
            b = w[k] * edge.ops[k].body(x)
            u = b if u is None else u + b
        s = split_neuron(edge.ops[g[0]])(u)
        out = s if out is None else out + s
    if rest is not None:
        out = channel_shuffle(torch.cat([out, rest], dim=2), edge.partial)
    return out


def make_edge(ops=OPS, partial: int = 1, seed: int = 0, recompute: bool = True) -> tuple[MixedEdge, nn.Parameter]:
    torch.manual_seed(seed)
    cfg = NeuronSpec(kind="lif", tau=2.0, v_threshold=1.0, v_reset=0.0, surrogate="sigmoid",
                     alpha=4.0).to_config(T)
    edge = MixedEdge(0, ops, C, cfg, _Current(), partial, recompute_bodies=recompute)
    for m in edge.modules():  # non-trivial affine parameters
        if isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.2, 0.2)
    return edge, nn.Parameter(torch.randn(len(ops)))


def make_input(seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(T, B, C, S, S, generator=g) + 0.5).requires_grad_(True)


def run(edge: MixedEdge, alpha: nn.Parameter, x: torch.Tensor, fn) -> tuple[torch.Tensor, dict]:
    """One forward + backward with weights softmax(alpha); returns the output and every gradient."""
    edge.zero_grad(set_to_none=True)
    alpha.grad = x.grad = None
    edge._current.edges = torch.softmax(alpha, -1).unsqueeze(0)
    out = fn(edge, x)
    (out * torch.linspace(-1, 2, out.numel()).view_as(out)).sum().backward()
    grads = {n: p.grad for n, p in edge.named_parameters()}
    grads |= {"alpha": alpha.grad, "x": x.grad}
    return out.detach(), grads


def buffers(edge: nn.Module) -> dict[str, torch.Tensor]:
    return {n: b.clone() for n, b in edge.named_buffers()}


def test_uses_the_memory_savings():
    edge, _ = make_edge()
    names = [edge.names[k] for k in edge.recompute]
    assert names == ["avg_pool_3x3", "max_pool_3x3"]  # not skip (nn.Identity), not zero (silent)
    assert all(hasattr(edge.ops[k], "body_scaled") for k in edge.spiking)
    # the plain convs' bodies are recomputed in backward; cml_down (a max pool after BN) is not
    assert [edge.names[k] for k in edge.spiking if edge._recomputable(k)] == ["conv_3x3", "conv_5x5", "dil_conv_3x3"]
    assert not any(edge.eval()._recomputable(k) for k in edge.spiking)  # eval: BN is an affine map
    off, _ = make_edge(recompute=False)
    assert not any(off._recomputable(k) for k in off.spiking)


# surrogate-width variants: three neuron groups, the in-place sums across groups
VARIANTS = ("conv_3x3{width:3}", "conv_3x3{width:5}", "dil_conv_3x3", "avg_pool_3x3", "skip")


@pytest.mark.parametrize(("ops", "partial"), [(OPS, 1), (OPS, 2), (VARIANTS, 1)], ids=["all", "partial", "groups"])
def test_gradients_and_running_stats_match_the_plain_formulation(ops, partial):
    edge, alpha = make_edge(ops, partial=partial)
    if ops == VARIANTS:
        assert len(edge.groups) == 3
    ref, ref_alpha = copy.deepcopy(edge), nn.Parameter(alpha.detach().clone())
    ref._current = _Current()
    x, xr = make_input(), make_input()
    opt = torch.optim.SGD([*edge.parameters(), alpha], lr=0.1)
    for step in range(2):
        y, g = run(edge, alpha, x, MixedEdge.forward)
        yr, gr = run(ref, ref_alpha, xr, reference)
        torch.testing.assert_close(y, yr, atol=1e-5, rtol=1e-5)
        assert g.keys() == gr.keys()
        for name in g:
            assert g[name] is not None, name
            torch.testing.assert_close(g[name], gr[name], atol=1e-5, rtol=1e-5, msg=name)
        bufs, bufs_ref = buffers(edge), buffers(ref)
        assert bufs.keys() == bufs_ref.keys()
        for name in bufs:
            assert torch.equal(bufs[name], bufs_ref[name]), name
        assert int(bufs["ops.0.bn.num_batches_tracked"]) == step + 1
        opt.step()
        with torch.no_grad():  # both on the same new weights (their gradients differ by rounding)
            for p, q in zip(edge.parameters(), ref.parameters(), strict=True):
                q.copy_(p)
            ref_alpha.copy_(alpha)
    edge.eval()
    ref.eval()
    with torch.no_grad():  # eval: normalized by the running statistics
        edge._current.edges = ref._current.edges = torch.softmax(alpha, -1).unsqueeze(0)
        torch.testing.assert_close(edge(x), reference(ref, xr), atol=1e-5, rtol=1e-5)


def test_one_hot_weights_compute_the_chosen_op_exactly():
    edge, _ = make_edge()
    x = make_input()
    for training in (True, False):
        for k in range(len(OPS)):
            if k in edge.silent:
                continue
            a, b = copy.deepcopy(edge).train(training), copy.deepcopy(edge).train(training)
            a._current.edges = nn.functional.one_hot(torch.tensor([k]), len(OPS)).float()
            with torch.no_grad():
                assert torch.equal(a(x), b.ops[k](x)), (training, OPS[k])
            assert all(torch.equal(u, v) for u, v in zip(a.ops[k].buffers(), b.ops[k].buffers(), strict=True))


@pytest.mark.parametrize("config", [dict(), dict(momentum=None), dict(affine=False),
                                    dict(track_running_stats=False)])
@pytest.mark.parametrize("training", [True, False])
def test_scaled_bn_is_w_times_bn(config, training):
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(C, **config)
    if bn.affine:
        nn.init.uniform_(bn.weight, 0.5, 1.5)
        nn.init.uniform_(bn.bias, -0.2, 0.2)
    if bn.track_running_stats:
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    ref = copy.deepcopy(bn)
    bn.train(training)
    ref.train(training)
    for step in range(3):
        y = torch.randn(B, C, S, S)
        w = torch.tensor(0.3 + step, requires_grad=True)
        wr = w.detach().clone().requires_grad_(True)
        got, want = SpikingConv.scaled_bn(bn, y, w), wr * ref(y)
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
        got.sum().backward()
        want.sum().backward()
        torch.testing.assert_close(w.grad, wr.grad, atol=1e-4, rtol=1e-5)
        for (n, a), b in zip(bn.named_buffers(), ref.buffers(), strict=True):
            assert torch.equal(a, b), n
    one = torch.tensor(1.0)
    assert torch.equal(SpikingConv.scaled_bn(bn.eval(), y, one), ref.eval()(y))


def test_factorized_reduce_body_scaled():
    torch.manual_seed(0)
    cfg = NeuronSpec(kind="lif", tau=2.0).to_config(T)
    fr = FactorizedReduce(C, C, cfg)
    x = make_input()
    w = torch.tensor(0.7)
    torch.testing.assert_close(fr.body_scaled(x, w), w * copy.deepcopy(fr).body(x), atol=1e-6, rtol=1e-6)
    assert torch.equal(fr.eval().body_scaled(x, torch.tensor(1.0)), fr.body(x))


def saved_bytes(fn, x: torch.Tensor, params=()) -> int:
    """Bytes of the distinct storages autograd saves for backward during ``fn(x)``, ``x`` and
    ``params`` excluded."""
    seen: dict[int, int] = {}
    skip = {t.untyped_storage().data_ptr() for t in (x, *params)}

    def pack(t):
        st = t.untyped_storage()
        if st.data_ptr() not in skip:
            seen[st.data_ptr()] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn(x)
    out.sum().backward()
    return sum(seen.values())


@pytest.mark.parametrize("recompute", [True, False])
def test_saves_fewer_bytes_for_backward(recompute):
    ops = ("conv_3x3", "conv_5x5", "dil_conv_3x3", "avg_pool_3x3", "skip")
    edge, alpha = make_edge(ops, recompute=recompute)
    x = make_input()
    act = x.numel() * x.element_size()

    def weighted(fn):
        def call(v):
            edge._current.edges = torch.softmax(alpha, -1).unsqueeze(0)
            return fn(v)
        return call

    new = saved_bytes(weighted(edge), x, edge.parameters())
    old = saved_bytes(weighted(lambda v: reference(edge, v)), x, edge.parameters())
    # old: 2 activations per conv (BN input and output), the pool output, the neuron's trace: 8
    # without recompute: the BN inputs and the trace: 4 (plus per-channel statistics)
    # with recompute: the trace alone: 1 (plus per-channel statistics)
    assert new < old
    assert old / act == pytest.approx(8, abs=0.5)
    assert new / act == pytest.approx(1 if recompute else 4, abs=0.5)


@pytest.mark.parametrize(("ops", "partial"), [(OPS, 1), (OPS, 2), (VARIANTS, 1)], ids=["all", "partial", "groups"])
def test_recomputed_bodies_match_saved_bodies(ops, partial):
    """Recomputing the conv bodies in backward: the same outputs (bit for bit), conv and BN
    parameter gradients (bit for bit), x and alpha gradients (float rounding: summed in another
    order) and running statistics, updated once per step, as saving them."""
    edge, alpha = make_edge(ops, partial=partial)
    ref, _ = make_edge(ops, partial=partial, recompute=False)
    ref.load_state_dict(edge.state_dict())
    ref_alpha = nn.Parameter(alpha.detach().clone())
    fused = [k for k in edge.spiking if edge._recomputable(k)]
    assert len(fused) >= 2
    x, xr = make_input(), make_input()
    opt = torch.optim.SGD([*edge.parameters(), alpha], lr=0.1)
    for step in range(2):
        y, g = run(edge, alpha, x, MixedEdge.forward)
        yr, gr = run(ref, ref_alpha, xr, MixedEdge.forward)
        assert torch.equal(y, yr)
        for name in g:
            assert g[name] is not None, name
            if name.startswith(tuple(f"ops.{k}." for k in fused)):
                assert torch.equal(g[name], gr[name]), name
            else:
                torch.testing.assert_close(g[name], gr[name], atol=1e-6, rtol=1e-6, msg=name)
        bufs, bufs_ref = buffers(edge), buffers(ref)
        for name in bufs:
            assert torch.equal(bufs[name], bufs_ref[name]), name
        for k in fused:
            assert int(edge.ops[k].bn.num_batches_tracked) == step + 1
        opt.step()
        with torch.no_grad():
            for p, q in zip(edge.parameters(), ref.parameters(), strict=True):
                q.copy_(p)
            ref_alpha.copy_(alpha)


def test_recompute_in_slices_of_the_batch(monkeypatch):
    """Convolutions on slices of the batch: the same outputs bit for bit, gradients up to rounding
    (a conv weight's gradient is summed over the slices)."""
    import snnas.supernet._net as net

    ops = ("conv_3x3", "conv_5x5", "dil_conv_3x3", "skip")
    edge, alpha = make_edge(ops)
    ref, _ = make_edge(ops)
    row = C * S * S * 4
    assert len(net._chunks(T * B, row)) == 1
    monkeypatch.setattr(net, "_CHUNK_BYTES", 4 * row)  # slices of 4, 2 samples
    assert [s.stop - s.start for s in net._chunks(T * B, row)] == [4, 2]
    y, g = run(edge, alpha, make_input(), MixedEdge.forward)
    monkeypatch.setattr(net, "_CHUNK_BYTES", 2 << 20)
    yr, gr = run(ref, alpha, make_input(), MixedEdge.forward)
    assert torch.equal(y, yr)
    for name in g:
        torch.testing.assert_close(g[name], gr[name], atol=1e-6, rtol=1e-6, msg=name)
    assert all(torch.equal(a, b) for a, b in zip(edge.buffers(), ref.buffers(), strict=True))


def test_recompute_updates_running_stats_once_in_forward():
    """Backward reruns the convs but no BN forward: buffers after backward are those after forward,
    which are one momentum step from the initial ones towards the batch statistics."""
    edge, alpha = make_edge(("conv_3x3", "conv_5x5", "skip"))
    x = make_input()
    bns = [edge.ops[k].bn for k in (0, 1)]
    plain = [copy.deepcopy(bn) for bn in bns]
    edge._current.edges = torch.softmax(alpha, -1).unsqueeze(0)
    out = edge(x)
    after_forward = buffers(edge)
    out.sum().backward()
    assert all(torch.equal(b, after_forward[n]) for n, b in edge.named_buffers())
    for k, bn in zip((0, 1), plain, strict=True):  # one BN forward on the conv output does the same
        with torch.no_grad():
            bn(edge.ops[k].conv(x.detach().flatten(0, 1)))
        for (n, a), b in zip(edge.ops[k].bn.named_buffers(), bn.buffers(), strict=True):
            assert torch.equal(a, b), (k, n)
        assert int(bn.num_batches_tracked) == 1


@pytest.mark.parametrize("config", ["momentum_none", "untracked"])
def test_recompute_with_other_bn_configs(config):
    """A cumulative running average (momentum None) and BN without running statistics."""
    ops = ("conv_3x3", "conv_5x5", "skip")
    edge, alpha = make_edge(ops)
    ref, _ = make_edge(ops, recompute=False)
    ref.load_state_dict(edge.state_dict())
    for e in (edge, ref):
        for k in (0, 1):
            bn = e.ops[k].bn
            if config == "momentum_none":
                bn.momentum = None
            else:
                bn.track_running_stats = False
                bn.running_mean = bn.running_var = bn.num_batches_tracked = None
    assert all(edge._recomputable(k) for k in (0, 1))
    for _ in range(3):
        y, g = run(edge, alpha, make_input(), MixedEdge.forward)
        yr, gr = run(ref, alpha, make_input(), MixedEdge.forward)
        assert torch.equal(y, yr)
        for name in g:
            torch.testing.assert_close(g[name], gr[name], atol=1e-6, rtol=1e-6, msg=name)
        bufs, bufs_ref = buffers(edge), buffers(ref)
        assert bufs.keys() == bufs_ref.keys()
        assert all(torch.equal(bufs[n], bufs_ref[n]) for n in bufs)


@pytest.mark.parametrize("frozen", ["x", "alpha", "weights"])
def test_recompute_with_inputs_that_need_no_gradient(frozen):
    edge, alpha = make_edge(("conv_3x3", "dil_conv_3x3", "avg_pool_3x3"))
    ref, _ = make_edge(("conv_3x3", "dil_conv_3x3", "avg_pool_3x3"), recompute=False)
    ref.load_state_dict(edge.state_dict())
    grads = []
    for e in (edge, ref):
        x = make_input().requires_grad_(frozen != "x")
        a = alpha.detach().clone().requires_grad_(frozen != "alpha")
        for p in e.parameters():
            p.requires_grad_(frozen != "weights")
        e._current.edges = torch.softmax(a, -1).unsqueeze(0)
        e(x).sum().backward()
        grads.append([x.grad, a.grad, *(p.grad for p in e.parameters())])
    for u, v in zip(*grads, strict=True):
        assert (u is None) == (v is None)
        if u is not None:
            torch.testing.assert_close(u, v, atol=1e-6, rtol=1e-6)
    assert sum(u is not None for u in grads[0]) > 0


def test_supernet_spec_sets_recompute():
    spec = supernet_spec(load_space("search_spaces/digits.yaml"), time_steps=2)
    assert spec.recompute_bodies
    for on in (True, False):
        net = CellSupernet(replace(spec, recompute_bodies=on))
        assert all(m.recompute_bodies == on for m in net.modules() if isinstance(m, MixedEdge))
