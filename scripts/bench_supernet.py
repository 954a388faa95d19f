"""Benchmark: the supernet's mixed edge vs naive per-op-neuron mixing, forward + backward, on CPU.

Both variants run the same five candidate op modules (same weights) on one input
``[T, B, C, H, W]`` (default [4, 256, 16, 16, 16]) with edge weights ``softmax(alpha)``:

  mixed       ``snnas.supernet._net.MixedEdge`` as the supernet builds it: the neuron-ending
              candidates (conv_3x3, conv_5x5, dil_conv_3x3) are summed before the neuron,
              ``neuron(sum_k w_k body_k(x))`` (one neuron per edge), plus the weighted outputs of
              the others (avg_pool_3x3, skip); the weighted conv bodies are one autograd node
              (``_RecomputeBodies``: w_k folded into each BN affine, conv_k(x) recomputed in
              backward from x and the saved per-channel batch statistics, convs run on slices of
              the batch) and the pool term recomputes pool(x) in backward (``_RecomputeScaled``)
  mixed_save  the same edge with ``recompute_bodies=False``: each conv body is
              ``SpikingConv.body_scaled`` (w_k folded into the BN affine), its conv output saved
  naive       what the public SpikeDHS / DARTS code does: ``sum_k w_k op_k(x)``, every op running its
              own neuron

Memory, each variant in a fresh child process (glibc malloc told to keep freed memory, so it is
reused): peak RSS (``ru_maxrss``) during one forward+backward minus the peak before it (modules,
input, small-batch warm-up done); peak bytes of live tensor storages during the step (`LiveBytes`);
bytes autograd saves for backward (``saved_tensors_hooks``, deduplicated by storage, input
excluded). Time: median forward+backward (loss = out.sum()) of ``--repeats`` interleaved repeats.

Usage: python scripts/bench_supernet.py [--batch 256] [--channels 16] [--size 16] [--time-steps 4]
       [--repeats 9] [--mem-runs 5] [--threads 2] [--quiet] [--out results/]
Writes bench_supernet.csv and bench_supernet.md into --out.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import weakref
from pathlib import Path

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from snnas.space._architecture import NeuronSpec
from snnas.supernet._net import _CHUNK_BYTES, MixedEdge, _chunks, _Current

OPS = ("conv_3x3", "conv_5x5", "dil_conv_3x3", "avg_pool_3x3", "skip")
VARIANTS = ("mixed", "mixed_save", "naive")
TARGET = 0.4
TUNED_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "68719476736"}


class NaiveEdge(nn.Module):
    """``sum_k w_k op_k(x)`` over the same op modules as ``edge``, each op with its own neuron."""

    def __init__(self, edge: MixedEdge):
        super().__init__()
        self.ops, self.silent, self._current = edge.ops, edge.silent, edge._current

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self._current.edges[0]
        out = None
        for k, op in enumerate(self.ops):
            if k not in self.silent:
                y = w[k] * op(x)
                out = y if out is None else out + y
        return out


class LiveBytes(TorchDispatchMode):
    """Peak bytes of the tensor storages that ops allocate while active (freed ones are subtracted
    when their storage dies; outputs that alias an input, views and in-place ops, add nothing)."""

    def __init__(self):
        super().__init__()
        self.live = self.peak = 0
        self.seen: set[int] = set()

    def _free(self, key: int, nbytes: int) -> None:
        self.seen.discard(key)
        self.live -= nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {t.untyped_storage().data_ptr() for t in tree_leaves((args, kwargs))
                  if isinstance(t, torch.Tensor)}
        for st in (t.untyped_storage() for t in tree_leaves(out) if isinstance(t, torch.Tensor)):
            key = st.data_ptr()
            if key not in inputs and key not in self.seen and st.nbytes():
                self.seen.add(key)
                self.live += st.nbytes()
                weakref.finalize(st, self._free, key, st.nbytes())
        self.peak = max(self.peak, self.live)
        return out


def build(args) -> tuple[dict[str, nn.Module], nn.Parameter, _Current]:
    torch.manual_seed(0)
    cfg = NeuronSpec(kind="lif", tau=2.0, v_threshold=1.0, v_reset=0.0, surrogate="sigmoid",
                     alpha=4.0).to_config(args.time_steps)
    current = _Current()
    mixed = MixedEdge(0, OPS, args.channels, cfg, current)
    alpha = nn.Parameter(1e-3 * torch.randn(len(OPS)))
    save = MixedEdge(0, OPS, args.channels, cfg, current, recompute_bodies=False)
    save.ops = mixed.ops  # the same modules (weights, BN buffers)
    return {"mixed": mixed, "mixed_save": save, "naive": NaiveEdge(mixed)}, alpha, current


def make_input(args, batch: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    shape = (args.time_steps, batch, args.channels, args.size, args.size)
    return (torch.randn(shape, generator=g) + 0.5).requires_grad_(True)


def step(edge: nn.Module, alpha: nn.Parameter, current: _Current, x: torch.Tensor) -> None:
    """One forward + backward, as a supernet training step sees the edge."""
    current.edges = torch.softmax(alpha, -1).unsqueeze(0)
    edge(x).sum().backward()
    x.grad = None


def child(args) -> None:
    """Peak memory of one forward+backward of ``args.child`` in this fresh process."""
    torch.set_num_threads(args.threads)
    edges, alpha, current = build(args)
    edge = edges[args.child]
    small = make_input(args, 2)
    for _ in range(2):  # lazy inits (oneDNN, thread pool, neuron kernel) before the baseline
        step(edge, alpha, current, small)
    x = make_input(args, args.batch)
    seen: dict[int, int] = {}
    skip = x.untyped_storage().data_ptr()

    def pack(t):
        st = t.untyped_storage()
        if st.data_ptr() != skip:
            seen[st.data_ptr()] = st.nbytes()
        return t

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    current.edges = torch.softmax(alpha, -1).unsqueeze(0)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = edge(x).sum()
    loss.backward()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    x.grad = None
    with LiveBytes() as live:
        step(edge, alpha, current, x)
    print("RESULT " + json.dumps({"peak_mb": (peak - before) / 1024, "live_mb": live.peak / 2**20,
                                  "saved_mb": sum(seen.values()) / 2**20}))


def measure_memory(args, variant: str) -> dict:
    cmd = [sys.executable, __file__, "--child", variant, "--batch", str(args.batch), "--channels",
           str(args.channels), "--size", str(args.size), "--time-steps", str(args.time_steps),
           "--threads", str(args.threads)]
    proc = subprocess.run(cmd, env={**os.environ, **TUNED_ENV}, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise SystemExit(f"memory child for {variant} failed:\n{proc.stdout}\n{proc.stderr}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--size", type=int, default=16)
    p.add_argument("--time-steps", type=int, default=4)
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--mem-runs", type=int, default=5, help="memory children per variant (median)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--out", type=Path, default=Path("results"))
    p.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args)

    import pandas as pd
    from tqdm import tqdm

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    bar = tqdm(total=len(VARIANTS) * (args.mem_runs + 1 + args.repeats), disable=args.quiet, desc="bench")
    runs: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    for _ in range(args.mem_runs):
        for v in VARIANTS:
            runs[v].append(measure_memory(args, v))
            bar.update()
    mem = {v: {k: statistics.median(r[k] for r in runs[v]) for k in runs[v][0]} for v in VARIANTS}
    rss = {v: f"{min(r['peak_mb'] for r in runs[v]):.0f}-{max(r['peak_mb'] for r in runs[v]):.0f}" for v in VARIANTS}
    edges, alpha, current = build(args)
    x = make_input(args, args.batch)
    # sanity check, with autograd on (recompute_bodies acts in training only): mixed and mixed_save
    # give the same output bit for bit, naive an output of the same shape
    current.edges = torch.softmax(alpha, -1).unsqueeze(0).detach()
    y = {v: edges[v](x).detach() for v in VARIANTS}
    assert y["mixed"].shape == y["naive"].shape, (y["mixed"].shape, y["naive"].shape)
    same = torch.equal(y["mixed"], y["mixed_save"])
    assert same, "mixed and mixed_save differ"
    max_diff = float((y["mixed"] - y["naive"]).abs().max())
    del y
    for v in VARIANTS:  # warm-up
        step(edges[v], alpha, current, x)
        bar.update()
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for r in range(args.repeats):
        for v in (VARIANTS if r % 2 == 0 else VARIANTS[::-1]):  # alternate who goes first
            t0 = time.perf_counter()
            step(edges[v], alpha, current, x)
            times[v].append(time.perf_counter() - t0)
            bar.update()
    bar.close()

    act_mb = x.numel() * x.element_size() / 2**20
    df = pd.DataFrame([{"variant": v, "peak_rss_mb": mem[v]["peak_mb"], "peak_live_mb": mem[v]["live_mb"],
                        "saved_mb": mem[v]["saved_mb"], "ms": statistics.median(times[v]) * 1e3,
                        "min_ms": min(times[v]) * 1e3} for v in VARIANTS])
    cols = ("peak_rss_mb", "peak_live_mb", "saved_mb", "ms")
    for c in cols:
        df[f"{c}_ratio"] = df[c] / df.loc[df.variant == "naive", c].item()
    ratio = {c: df.loc[df.variant == "mixed", f"{c}_ratio"].item() for c in cols}
    ratio_save = {c: df.loc[df.variant == "mixed_save", f"{c}_ratio"].item() for c in cols}
    cost = statistics.median(times["mixed"]) / statistics.median(times["mixed_save"])
    saved_a = {v: mem[v]["saved_mb"] / act_mb for v in VARIANTS}
    live_a = {v: mem[v]["live_mb"] / act_mb for v in VARIANTS}
    rss_a = {v: mem[v]["peak_mb"] / act_mb for v in VARIANTS}
    met = ratio["peak_rss_mb"] <= TARGET
    args.out.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out / "bench_supernet.csv", index=False, float_format="%.4g")
    head = ["variant", "peak RSS MB", "ratio", "peak live MB", "ratio", "saved MB", "ratio", "fwd+bwd ms",
            "ratio", "min ms"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in df.itertuples():
        cells = [r.variant] + [f"{getattr(r, c):.1f} | {getattr(r, c + '_ratio'):.2f}" for c in cols]
        lines.append("| " + " | ".join(cells + [f"{r.min_ms:.1f}"]) + " |")
    table = "\n".join(lines)
    verdict = (f"mixed / naive: peak RSS {ratio['peak_rss_mb']:.2f}x, peak live tensors "
               f"{ratio['peak_live_mb']:.2f}x, saved for backward {ratio['saved_mb']:.2f}x, time "
               f"{ratio['ms']:.2f}x (mixed_save: {ratio_save['peak_rss_mb']:.2f}x, {ratio_save['peak_live_mb']:.2f}x, "
               f"{ratio_save['saved_mb']:.2f}x, {ratio_save['ms']:.2f}x; recomputing costs {cost:.2f}x its time). "
               f"Target peak memory <= {TARGET}x naive (peak RSS): {'met' if met else 'NOT met'}.")
    print(table + "\n" + verdict)

    command = "python scripts/bench_supernet.py " + " ".join(sys.argv[1:])
    ranges = ", ".join(f"{v} {rss[v]} MB" for v in VARIANTS)
    n = args.time_steps * args.batch
    slices = len(_chunks(n, x[0, :1].numel() * x.element_size()))
    md = f"""# Supernet mixed edge vs naive per-op-neuron mixing (forward + backward, CPU)

- command: `{command.strip()}`
- machine: {os.cpu_count()} cores ({platform.machine()}), {args.threads} torch threads, shared with other \
jobs; load average (1/5/15 min) before: {" ".join(f"{v:.2f}" for v in load_before)}
- torch {torch.__version__}, Python {platform.python_version()}, date {datetime.datetime.now():%Y-%m-%d %H:%M}
- input [T, B, C, H, W] = [{args.time_steps}, {args.batch}, {args.channels}, {args.size}, {args.size}] \
float32 (one activation A = {act_mb:.0f} MB), requires grad; ops: {", ".join(OPS)}; LIF tau 2, \
threshold 1, hard reset, sigmoid surrogate alpha 4; edge weights softmax(alpha); loss = out.sum()
- mixed = `snnas.supernet._net.MixedEdge` as the supernet builds it (`recompute_bodies=True`, the \
default: one neuron fed by the weighted sum of the three conv bodies, which are recomputed in \
backward, plus the weighted pool and skip); mixed_save = the same edge with `recompute_bodies=False` \
(conv outputs saved); naive = sum_k w_k op_k(x) over the same modules (3 neurons)
- peak RSS (primary): peak RSS during one forward+backward minus the peak before it, median of \
{args.mem_runs} fresh child processes per variant (range: {ranges}) \
with {" ".join(f"{k}={v}" for k, v in TUNED_ENV.items())}; peak live: \
peak bytes of tensor storages alive during the step (a TorchDispatchMode tracker: no allocator \
slack); saved: distinct storages autograd saves for backward, input excluded \
({", ".join(f"{v} {saved_a[v]:.2f} A" for v in VARIANTS)})
- time: median of {args.repeats} interleaved repeats after one warm-up each
- mixed and mixed_save outputs: bit for bit equal ({same}); mixed vs naive differ by design (one \
neuron over summed bodies vs a sum of spikes): shapes equal, max |mixed - naive| = {max_diff:.3g}

{table}

**{verdict}**

## What the mixed edge saves for backward

In activations A ({act_mb:.0f} MB). Naive keeps, per conv op, the conv output (for BN's backward),
its neuron's membrane trace H (the fused LIF saves only H) and its spikes (saved by `w_k * spikes`
for the gradient of w_k): 3 A; plus the pool output (for w_pool): 10 A
(measured {saved_a["naive"]:.2f} A). `MixedEdge` keeps:

- for the three conv bodies, nothing of activation size: `_RecomputeBodies` computes
  `sum_k bn_k(conv_k(x))` with w_k folded into each BN affine (`native_batch_norm(conv_k(x),
  running stats, w_k * gamma_k, w_k * beta_k)`, the kernel `SpikingConv.body_scaled` runs, so the
  sum is bit for bit the same) and saves x (alive anyway), the parameters and each BN's batch mean
  and inverse std ({args.channels} floats each). Backward reruns conv_k(x) with `F.conv2d` (no
  module call, no BN forward: the running statistics are updated once, in forward), applies BN's
  backward kernel with the saved statistics and the conv's backward kernel, one body at a time;
  mixed_save keeps each conv output instead (3 A);
- one H for the shared neuron (1 A);
- nothing for the pool: `MixedEdge._RecomputeScaled` saves x and w_pool and recomputes pool(x)
  in backward (pools have no parameters or buffers, so that is exact);
- nothing for skip: `w * x` saves x.

1 A against 10 A (measured {saved_a["mixed"]:.2f} A; mixed_save {saved_a["mixed_save"]:.2f} A).
Outputs are bit for bit those of mixed_save and, at one-hot weights, of the chosen op; gradients
match mixed_save to float rounding (BN parameters bit for bit; a conv weight's gradient is summed
over the batch slices, x's and w_k's over the bodies in another order) and the running statistics
exactly (tests/supernet/test_mixed_memory.py).

## Where the peak comes from

Peak live tensors ({live_a["mixed"]:.1f} A vs {live_a["naive"]:.1f} A, {ratio["peak_live_mb"]:.2f}x) are
4 A, reached at four points: in forward at the second and third body's BN (the pool + skip
partial sum, the body sum, the conv output, the BN output) and while the neuron runs (partial
sum, body sum, H, spikes); in backward at BN's backward of the second and first body (the
incoming gradient, x's gradient so far, the recomputed conv output, its gradient) and at the
end, in the pool's recomputed backward (x's accumulated gradient, pool(x), the gradient times
w_pool, the pool's input gradient). The pool and skip terms are still run first so that their
backward runs last: run after the neuron, they would lower forward to 3 A but put x's gradient
buffer under every body's backward (5 A, by count). mixed_save peaks at {live_a["mixed_save"]:.1f} A (three saved
conv outputs + body sum + H + spikes + partial sum).

Peak RSS ({rss_a["mixed"]:.1f} A vs {rss_a["naive"]:.1f} A, {ratio["peak_rss_mb"]:.2f}x; mixed_save
{rss_a["mixed_save"]:.1f} A) adds what the live-tensor tracker does not see: the reorder and scratch buffers
of oneDNN's convolutions (about 2 A for a full-batch conv forward, 3 to 4 A for its backward) and
heap fragmentation (glibc is told to keep freed memory; a buffer that fits none of the holes that
tensors of other lifetimes leave extends the heap). `_RecomputeBodies` runs its convolutions
forward and backward on slices of the batch of about {_CHUNK_BYTES / 2**20:.0f} MB of input
(`_CHUNK_BYTES`: {slices} slices of {-(-n // slices)} samples here; the same output values, since a
sample's output depends on that sample alone), so their buffers are about 1/{slices} of an
activation instead of several activations. Fragmentation still moves the peak by up to a few A
from one child process to the next (the ranges above).

## Time

Recomputing costs one more forward convolution per conv body (3 here) and the slicing a few
percent: mixed takes {cost:.2f}x the time of mixed_save and {ratio["ms"]:.2f}x naive's
({statistics.median(times["mixed"]) * 1e3:.0f} ms vs {statistics.median(times["mixed_save"]) * 1e3:.0f} ms \
and {statistics.median(times["naive"]) * 1e3:.0f} ms, medians on a machine shared with other jobs). In a
torch.profiler run of mixed (not part of this script) the convolutions, forward, recomputed and
backward, took about half of the step and the 3x3 average pool (forward, recomputed, backward)
about a quarter.
"""
    if not met:
        md += f"""
## Target not met

Peak RSS {ratio["peak_rss_mb"]:.2f}x naive > {TARGET}x; saved for backward {ratio["saved_mb"]:.2f}x, peak live
{ratio["peak_live_mb"]:.2f}x.
"""
    (args.out / "bench_supernet.md").write_text(md)


if __name__ == "__main__":
    main()
