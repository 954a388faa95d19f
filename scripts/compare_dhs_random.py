"""Benchmark: dhs (a lambda sweep) against random search on digits, at the same wall-clock budget.

1. dhs: ``snnas.search.search(strategy="dhs")`` with the lambda sweep (``--lambdas``, >= 3 values)
   and the final stage off; its search wall clock W (supernet training + proxy scoring of the
   derived candidates) is the budget.
2. random: ``snnas search --strategy random`` as a user runs it, with a budget far beyond what W
   allows, interrupted with SIGINT (Ctrl-C) once W has passed (the run keeps every finished
   candidate, as the CLI promises).
3. The same final stage for both (``snnas.search.retrain_records``: the front's top-k distinct
   architectures retrained from scratch, ``--final-epochs`` epochs x ``--final-seeds`` seeds on the
   test split), so the retrained fronts are measured alike.

Reported (``results/compare_dhs_random/``): both retrained fronts side by side (test accuracy,
energy), the hypervolume of each retrained front in one common box (accuracy in [0, 100 %],
energy from 0 to 1.1 x the largest retrained energy of either), the hypervolume of each search's
proxy front in a common box, and the dominated share: among the random candidates whose energy is
at least the cheapest dhs candidate's (a cheaper one cannot be dominated by any dhs candidate),
the share that some dhs candidate dominates (proxy val accuracy >= and energy <=, one of them
strictly; both searches score candidates with the same proxy). Target: >= 80 %.

Usage: python scripts/compare_dhs_random.py [--lambdas 0 0.3 1 3] [--workers 2] [-q]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

SPACE = ROOT / "search_spaces" / "digits.yaml"


def _env() -> dict:
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    env.setdefault("MALLOC_MMAP_MAX_", "0")
    env.setdefault("MALLOC_TRIM_THRESHOLD_", "68719476736")
    return env


def run_dhs(out: Path, args: argparse.Namespace) -> float:
    from snnas.search import search

    start = time.perf_counter()
    search(SPACE, out, strategy="dhs", budget=args.rounds * len(args.lambdas), seed=args.seed,
           workers=args.workers, quiet=args.quiet, final={"top_k": 0},
           strategy_options={"energy_lambda": args.lambdas, "supernet_warmup": args.warmup,
                             "derive_every": args.every, "time_steps": args.time_steps,
                             "arch_lr": args.arch_lr})
    return time.perf_counter() - start


def run_random(out: Path, seconds: float, args: argparse.Namespace) -> float:
    """The CLI's random search, interrupted after ``seconds`` (what a user with that budget gets)."""
    cmd = [sys.executable, "-m", "snnas", "search", "--space", str(SPACE), "--strategy", "random",
           "--budget", "100000", "--seed", str(args.seed), "--workers", str(args.workers),
           "--final-top-k", "0", "--out", str(out), "-q"]
    start = time.perf_counter()
    # SIGINT back to its default in the child: a script started in the background (`cmd &`) has it
    # ignored, and the child would inherit that
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
    elapsed = time.perf_counter() - start
    log = proc.stdout.read() if proc.stdout else ""
    if proc.returncode not in (0, 130):
        raise SystemExit(f"random search failed ({proc.returncode}):\n{log}")
    return elapsed


def retrain_front(run: Path, args: argparse.Namespace, backend) -> list[dict]:
    from snnas.runs import RunStore
    from snnas.search import retrain_records, top_of_front
    from snnas.space import load_space

    with RunStore.open(run) as store:
        recs = top_of_front(store, args.final_top_k)
        return retrain_records(store, load_space(store.space_path), recs, args.final_epochs, args.final_seeds,
                               backend, quiet=args.quiet, desc=f"retrain {run.name}")


def candidates(run: Path) -> pd.DataFrame:
    from snnas.runs import RunStore

    with RunStore.open(run, readonly=True) as store:
        rows = [{"index": r.index, "id": r.id, "val_acc_pct": 100 * r.metrics["accuracy"],
                 "energy_nj": 1e6 * r.metrics["energy_mj"], "architecture": r.arch.summary()}
                for r in store.records() if not r.failed]
    return pd.DataFrame(rows)


def dominated_share(dhs: pd.DataFrame, rnd: pd.DataFrame) -> tuple[float, int, int]:
    """(share, dominated, comparable): random candidates at or above the cheapest dhs energy that
    some dhs candidate dominates."""
    comparable = rnd[rnd.energy_nj >= dhs.energy_nj.min()]
    a, e = dhs.val_acc_pct.to_numpy()[:, None], dhs.energy_nj.to_numpy()[:, None]
    ra, re = comparable.val_acc_pct.to_numpy()[None], comparable.energy_nj.to_numpy()[None]
    dom = ((a >= ra) & (e <= re) & ((a > ra) | (e < re))).any(axis=0)
    n = len(comparable)
    return (float(dom.mean()) if n else float("nan")), int(dom.sum()), n


def hv(points: np.ndarray, e_ref: float) -> float:
    """Hypervolume (pymoo) of (accuracy %, energy nJ) points in the box [0, 100] x [0, e_ref]."""
    from pymoo.indicators.hv import HV
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    if not len(points):
        return 0.0
    f = np.stack([1 - points[:, 0] / 100.0, points[:, 1] / e_ref], axis=1)
    front = f[NonDominatedSorting().do(f, only_non_dominated_front=True)]
    return float(HV(ref_point=np.ones(2))(front))


def plot(path: Path, fronts: dict[str, pd.DataFrame], proxies: dict[str, pd.DataFrame]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.2))
    for (name, df), c in zip(proxies.items(), ("tab:blue", "tab:orange"), strict=True):
        ax0.scatter(df.energy_nj, df.val_acc_pct, s=18, alpha=0.7, color=c, label=f"{name} ({len(df)})")
    ax0.set(xlabel="energy per sample [nJ]", ylabel="proxy val accuracy [%]", title="every candidate (proxy)")
    for (name, df), c in zip(fronts.items(), ("tab:blue", "tab:orange"), strict=True):
        ax1.errorbar(df.energy_nj, df.test_acc_pct, yerr=df.test_std_pct, fmt="o", color=c, label=name, capsize=3)
        for _, r in df.iterrows():
            ax1.annotate(r.id[:8], (r.energy_nj, r.test_acc_pct), fontsize=7, xytext=(3, 3),
                         textcoords="offset points")
    ax1.set(xlabel="energy per sample [nJ]", ylabel="test accuracy [%] (retrained)", title="retrained top-k")
    for ax in (ax0, ax1):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lambdas", type=float, nargs="+", default=[0.0, 0.3, 1.0, 3.0],
                    help="dhs energy weights (default: digits.yaml's sweep)")
    ap.add_argument("--rounds", type=int, default=1, help="dhs derivations per lambda (budget = rounds x lambdas)")
    ap.add_argument("--warmup", type=int, default=3, help="dhs supernet warm-up epochs")
    ap.add_argument("--every", type=int, default=4, help="dhs supernet epochs per derivation")
    ap.add_argument("--time-steps", type=int, default=2, help="T of the dhs supernet (and its derived networks)")
    ap.add_argument("--arch-lr", type=float, default=0.003, help="dhs architecture learning rate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--final-top-k", type=int, default=3)
    ap.add_argument("--final-epochs", type=int, default=20)
    ap.add_argument("--final-seeds", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "results" / "compare_dhs_random"))
    ap.add_argument("--work", default=str(ROOT / "runs" / "compare_dhs_random"),
                    help="where the two runs go (not committed)")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)
    if len(args.lambdas) < 3:
        ap.error("--lambdas: the comparison needs a sweep of at least 3 values")
    out = Path(args.out)
    work = Path(args.work)
    if work.exists() and any(work.iterdir()):
        ap.error(f"--work {work}: not empty (remove it to start a new comparison)")
    work.mkdir(parents=True, exist_ok=True)
    os.environ.update(_env())

    t_dhs = run_dhs(work / "dhs", args)
    t_rnd = run_random(work / "random", t_dhs, args)
    from snnas.search import make_backend

    backend = make_backend(args.workers)
    try:
        retrained = {name: retrain_front(work / name, args, backend) for name in ("dhs", "random")}
    finally:
        getattr(backend, "close", lambda: None)()
    proxies = {name: candidates(work / name) for name in ("dhs", "random")}
    fronts = {name: pd.DataFrame([{"id": s["id"], "test_acc_pct": 100 * s["test_accuracy_mean"],
                                   "test_std_pct": 100 * s["test_accuracy_std"], "energy_nj": 1e6 * s["energy_mj"],
                                   "architecture": s["architecture"]} for s in rows if s["energy_mj"] is not None])
              for name, rows in retrained.items()}
    e_ref = 1.1 * max(df.energy_nj.max() for df in fronts.values())
    e_ref_proxy = 1.1 * max(df.energy_nj.max() for df in proxies.values())
    share, dom, comparable = dominated_share(proxies["dhs"], proxies["random"])

    out.mkdir(parents=True, exist_ok=True)
    table = pd.concat([df.assign(search=name) for name, df in fronts.items()], ignore_index=True)
    table.to_csv(out / "retrained.csv", index=False)
    pd.concat([df.assign(search=name) for name, df in proxies.items()], ignore_index=True).to_csv(
        out / "candidates.csv", index=False)
    plot(out / "compare_dhs_random.png", fronts, proxies)
    summary = {
        "date": datetime.date.today().isoformat(), "argv": sys.argv[1:], "machine": platform.platform(),
        "cpus": os.cpu_count(), "dhs_search_s": t_dhs, "random_search_s": t_rnd,
        "candidates": {k: len(v) for k, v in proxies.items()},
        "hv_retrained": {k: hv(df[["test_acc_pct", "energy_nj"]].to_numpy(), e_ref) for k, df in fronts.items()},
        "hv_proxy": {k: hv(df[["val_acc_pct", "energy_nj"]].to_numpy(), e_ref_proxy) for k, df in proxies.items()},
        "energy_ref_nj": e_ref, "energy_ref_proxy_nj": e_ref_proxy,
        "dominated_share": share, "dominated": dom, "comparable": comparable,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    lines = [
        "# dhs vs random search on digits, same wall clock",
        "",
        f"`python scripts/compare_dhs_random.py {' '.join(sys.argv[1:])}` ({summary['date']}, {os.cpu_count()} cores, "
        f"`--workers {args.workers}`). dhs: lambdas {', '.join(f'{v:g}' for v in args.lambdas)}, "
        f"{args.warmup} warm-up + {args.rounds} x {args.every} arch epochs, T = {args.time_steps}; its search took "
        f"{t_dhs:.0f} s. random: the CLI's search interrupted after {t_rnd:.0f} s. Final stage for both: the "
        f"front's top-{args.final_top_k} distinct architectures, {args.final_epochs} epochs x {args.final_seeds} "
        "seeds, test split.",
        "",
        "| | dhs | random |",
        "| --- | --- | --- |",
        f"| candidates scored | {len(proxies['dhs'])} | {len(proxies['random'])} |",
        f"| hypervolume, retrained fronts (box: 0-100 %, 0-{e_ref:.0f} nJ) | {summary['hv_retrained']['dhs']:.4f} | "
        f"{summary['hv_retrained']['random']:.4f} |",
        f"| hypervolume, proxy fronts (box: 0-100 %, 0-{e_ref_proxy:.0f} nJ) | {summary['hv_proxy']['dhs']:.4f} | "
        f"{summary['hv_proxy']['random']:.4f} |",
        "",
        f"Dominated share: {dom} of the {comparable} random candidates at or above the cheapest dhs candidate's "
        f"energy are dominated by a dhs candidate (proxy accuracy, energy): **{100 * share:.0f} %** "
        f"(target >= 80 %: {'met' if share >= 0.8 else 'not met'}).",
        "",
        "## Retrained fronts",
        "",
        "| search | id | test accuracy | energy | architecture |",
        "| --- | --- | --- | --- | --- |",
    ]
    for _, r in table.iterrows():
        lines.append(f"| {r.search} | `{r.id}` | {r.test_acc_pct:.2f} +- {r.test_std_pct:.2f} % | {r.energy_nj:.1f} nJ "
                     f"| {r.architecture} |")
    lines += ["", "![fronts](compare_dhs_random.png)", ""]
    (out / "compare_dhs_random.md").write_text("\n".join(lines))
    if not args.quiet:
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
