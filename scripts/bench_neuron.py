"""Benchmark: one multi-step LIF layer, forward + backward, on CPU.

Side by side in one process, at [T, 64, 64, 16, 16] for T = 4 and 8:
  floor       two passes of torch.add(a, b, out=c) into preallocated tensors of the same shape:
              the same bytes a fused forward (read x, write spikes and H) and backward (read grad
              and H, write grad x) must move, so no neuron implementation can beat it by much
  fused       snnas LIFNode, fused C kernel (the default)
  reference   snnas LIFNode, pure-torch reference path (SNNAS_FUSED=0)
  spikingjelly  SpikingJelly 2.0 LIFNode(step_mode='m') (CPU: its registered torch op)
  snntorch    snnTorch Leaky(beta=0.5) stepped in a Python loop over T

The whole set runs twice, each in a child process: once with glibc malloc told to keep freed
memory (MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=64GiB, so fresh 16-32 MB outputs do not page
fault) and once with the default allocator. Methods are interleaved within each repeat so load
drift on a shared machine hits all of them alike, and a 128 MB buffer is written before every
timed call so that each starts from cold caches (as a layer of a real network does; otherwise the
floor's three preallocated tensors stay partly in L3 and the comparison depends on luck of
placement); the median is reported.

Usage: python scripts/bench_neuron.py [--repeats 20] [--quiet]
Writes results/bench_neuron.csv and results/bench_neuron.md.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TUNED_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "68719476736"}
METHODS = ["floor", "fused", "reference", "spikingjelly", "snntorch"]


# ------------------------------------------------------------------------------------------------
# child: time every method in this process
def _saved_mb(fn) -> float:
    """MB of distinct storages autograd keeps for backward during one forward of ``fn``."""
    import torch

    seen: dict[int, int] = {}

    def pack(t):
        st = t.untyped_storage()
        seen[st.data_ptr()] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    del out
    return sum(seen.values()) / 2**20


def _methods(T: int, log) -> dict:
    import torch

    sys.path.insert(0, str(ROOT))
    from snnas.spiking import LIFNode

    shape = (T, 64, 64, 16, 16)
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(shape, generator=gen) + 0.5).requires_grad_(True)
    g = torch.randn(shape, generator=gen)
    # one allocation, so that a, b, c sit at the same offset within a 4 KiB page: separate heap
    # allocations land 16-48 bytes apart modulo 4 KiB, and the resulting 4K-aliasing stalls make
    # the floor up to 1.7x slower depending on the allocator (a floor should be the fast case)
    a, b, c = torch.randn((3, *shape), generator=gen).unbind(0)
    ours = LIFNode(tau=2.0)

    def floor():
        torch.add(a, b, out=c)
        torch.add(a, b, out=c)

    def fwd_fused():
        os.environ["SNNAS_FUSED"] = "1"
        return ours(x)

    def fwd_reference():
        os.environ["SNNAS_FUSED"] = "0"
        return ours(x)

    runs = {"floor": (floor, None)}
    for name, fwd in (("fused", fwd_fused), ("reference", fwd_reference)):
        runs[name] = (fwd, fwd)
    try:
        from spikingjelly.activation_based import neuron as sjn

        sj = sjn.LIFNode(tau=2.0, step_mode="m")

        def fwd_sj():
            sj.reset()
            return sj(x)

        runs["spikingjelly"] = (fwd_sj, fwd_sj)
    except ImportError as e:
        log(f"spikingjelly not importable, skipped ({e})")
    try:
        import snntorch as snn

        leaky = snn.Leaky(beta=0.5)

        def fwd_snntorch():
            mem = leaky.init_leaky()
            spikes = []
            for t in range(T):
                spk, mem = leaky(x[t], mem)
                spikes.append(spk)
            return torch.stack(spikes)

        runs["snntorch"] = (fwd_snntorch, fwd_snntorch)
    except ImportError as e:
        log(f"snntorch not installed, skipped ({e})")

    def step(fwd):
        if fwd is None:
            return
        y = fwd()
        y.backward(g)
        x.grad = None

    out = {}
    for name, (fn, fwd) in runs.items():
        call = fn if fwd is None else (lambda f=fwd: step(f))
        saved = _saved_mb(fwd) if fwd is not None else 0.0
        out[name] = (call, saved)
    os.environ["SNNAS_FUSED"] = "1"
    return out


def child(repeats: int, quiet: bool) -> None:
    def log(msg):
        if not quiet:
            print(msg, file=sys.stderr, flush=True)

    import torch

    rows = []
    flush = torch.empty(32 << 20)  # 128 MB, 4x the L3: written before every timed call
    for T in (4, 8):
        runs = _methods(T, log)
        for call, _ in runs.values():  # warm-up (also builds/loads the fused kernel)
            for _ in range(3):
                call()
        times: dict[str, list[float]] = {k: [] for k in runs}
        names = list(runs)
        for r in range(repeats):
            order = names[r % len(names):] + names[:r % len(names)]  # rotate who goes first
            for name in order:
                flush.fill_(float(r))  # every method starts from cold caches, as in a network
                t0 = time.perf_counter()
                runs[name][0]()
                times[name].append(time.perf_counter() - t0)
        for name in names:
            ms = statistics.median(times[name]) * 1e3
            rows.append({"T": T, "method": name, "ms": ms, "min_ms": min(times[name]) * 1e3,
                         "saved_mb": runs[name][1]})
            log(f"  T={T} {name:13s} {ms:8.2f} ms")
    print("RESULT " + json.dumps({"rows": rows, "threads": torch.get_num_threads(),
                                  "torch": torch.__version__}))


# ------------------------------------------------------------------------------------------------
# parent: run both allocator settings, tabulate, write results
def _run_child(tuned: bool, repeats: int, quiet: bool) -> dict:
    env = dict(os.environ)
    for k in TUNED_ENV:
        env.pop(k, None)
    if tuned:
        env.update(TUNED_ENV)
    cmd = [sys.executable, __file__, "--child", "--repeats", str(repeats)] + (["--quiet"] if quiet else [])
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if not quiet and proc.stderr:
        print(proc.stderr, end="", file=sys.stderr)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise SystemExit(f"benchmark child failed:\n{proc.stdout}\n{proc.stderr}")


def _table(rows: list[dict]) -> list[dict]:
    out = []
    for r in rows:
        same = [q for q in rows if q["T"] == r["T"] and q["malloc"] == r["malloc"]]
        ref = {q["method"]: q["ms"] for q in same}
        row = dict(r)
        row["x_floor"] = r["ms"] / ref["floor"]
        row["fused_speedup"] = r["ms"] / ref["fused"] if r["method"] != "floor" else float("nan")
        out.append(row)
    return out


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(ROOT / "results"))
    args = ap.parse_args(argv)
    if args.child:
        child(args.repeats, args.quiet)
        return

    load_before = _load()
    rows, meta = [], {}
    for tuned in (True, False):
        label = "tuned" if tuned else "default"
        if not args.quiet:
            print(f"[malloc {label}]", file=sys.stderr)
        res = _run_child(tuned, args.repeats, args.quiet)
        meta = res
        rows += [dict(r, malloc=label) for r in res["rows"]]
    load_after = _load()
    rows = _table(rows)

    head = ["malloc", "T", "method", "ms", "min_ms", "x_floor", "fused_speedup", "saved_mb"]
    lines = ["| malloc | T | method | median ms | min ms | x floor | fused speed-up | saved for bwd (MB) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        sp = "" if r["method"] in ("floor", "fused") else f"{r['fused_speedup']:.1f}x"
        lines.append(f"| {r['malloc']} | {r['T']} | {r['method']} | {r['ms']:.2f} | {r['min_ms']:.2f} | "
                     f"{r['x_floor']:.2f} | {sp} | {r['saved_mb']:.0f} |")
    table = "\n".join(lines)

    def verdicts() -> list[str]:
        out = []
        for label in ("tuned", "default"):
            for T in (4, 8):
                ref = {r["method"]: r["ms"] for r in rows if r["malloc"] == label and r["T"] == T}
                f = ref["fused"]
                parts = [f"fused/floor {f / ref['floor']:.2f} ({'met' if f <= 1.5 * ref['floor'] else 'MISSED'})"]
                if "spikingjelly" in ref:
                    s = ref["spikingjelly"] / f
                    parts.append(f"vs SpikingJelly {s:.1f}x ({'met' if s >= 6 else 'MISSED'})")
                if "snntorch" in ref:
                    s = ref["snntorch"] / f
                    parts.append(f"vs snnTorch {s:.1f}x ({'met' if s > 1 else 'MISSED'})")
                out.append(f"- malloc {label}, T={T}: " + "; ".join(parts))
        return out

    cpu = os.cpu_count()
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    md = [
        "# LIF neuron benchmark (forward + backward, CPU)",
        "",
        f"- machine: {cpu} cores ({_cpu_model()}), {meta['threads']} torch threads, shared with other "
        f"jobs; load average (1/5/15 min) before / after: {load_before} / {load_after}",
        f"- torch {meta['torch']}, Python {platform.python_version()}, date {now}",
        "- shape [T, 64, 64, 16, 16] float32, loss = sum(spikes * fixed grad); median of "
        f"{args.repeats} interleaved repeats after warm-up, caches flushed before every timed call",
        "- floor = two passes of torch.add(a, b, out=c) into preallocated tensors of the same shape "
        "(the bytes a fused fwd+bwd must move)",
        "- malloc tuned = MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736; default = glibc defaults",
        "- targets: fused fwd+bwd <= 1.5x floor; >= 6x faster than SpikingJelly; faster than snnTorch",
        "",
        table,
        "",
        "## Targets",
        "",
        *verdicts(),
        "",
        "Notes: 'fused speed-up' is how many times longer a method takes than snnas fused. 'saved for "
        "bwd' is the memory autograd keeps between forward and backward. With glibc's default "
        "allocator every tensor of 32 MB or more (T=8 here) is a fresh mmap, so each call of any "
        "method page-faults its outputs in (the fused path marks its outputs for transparent huge "
        "pages, which helps but cannot remove the zeroing); the floor allocates nothing. The "
        "tuned-allocator rows show the kernels themselves.",
        "",
        f"Reproduce: `python scripts/bench_neuron.py --repeats {args.repeats}`",
        "",
    ]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "bench_neuron.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=head, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()})
    (out / "bench_neuron.md").write_text("\n".join(md))
    print(table)
    print("\n".join(verdicts()))
    print(f"load average before/after: {load_before} / {load_after}")


if __name__ == "__main__":
    main()
