"""Benchmark: NSGA-II (``--strategy evolution``) against random search at the same number of
evaluations, over several seeds (issue "evo").

* ``digits`` (default): search_spaces/digits.yaml, every candidate trained for real (the space's
  proxy recipe), ``--budget`` evaluations per run, final stage off.
* ``--bench-root DIR``: search_spaces/spikenas_bench_cifar10.yaml scored from a user's copy of
  SpikeNAS-Bench (nothing is shipped); ``--budget`` 200 by default. The table's true front is known,
  so each run's hypervolume *gap* to it is reported too.

Hypervolume (pymoo ``HV``) is measured per seed in one box for both strategies: objectives
(error = 1 - val accuracy, energy / E_ref) with reference point (1, 1), E_ref = 1.1 x the largest
energy either run (or the table) saw; also in the boxes above 80 % and 90 % accuracy (error / 0.2,
error / 0.1). Reported: HV of each run, the ratio evolution / random (target >= 1.10 on digits), and
on digits the ratio's *ceiling*: the HV of the best front known (every network any run evaluated)
over random's, i.e. what a strategy would score had it found all of them (in the [0, 1] box it is
close to 1: every run finds networks at 90-96 %, and the box counts the error from 100 %). On a
table: the gap ratio (gap_evo / gap_random; target <= 0.7 at 200 evaluations). Writes
results/compare_search/<mode>/ (or ``--out``); the runs themselves (stores, weights) go to
runs/compare_search/<that folder's name>/.

Usage: python scripts/compare_search.py [--seeds 3] [--budget 40] [--workers 2] [--bench-root DIR] [-q]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _md import md_table  # noqa: E402

STRATEGIES = ("evolution", "random")
BOXES = {"hv": 1.0, "hv80": 0.2, "hv90": 0.1}
"""Hypervolume boxes by the largest error they count: all networks, above 80 % and above 90 % accuracy."""


def _points(records) -> np.ndarray:
    pts = [(r.value("accuracy"), r.value("energy_mj")) for r in records if not r.failed]
    return np.array([p for p in pts if None not in p], dtype=float).reshape(-1, 2)


def hv(points: np.ndarray, e_ref: float, max_error: float = 1.0) -> float:
    """Hypervolume of (accuracy, energy_mj) points in the box error / max_error x energy / e_ref <=
    (1, 1): the report's box for max_error 1; 0.2 looks only at networks above 80 % accuracy."""
    from pymoo.indicators.hv import HV

    if not len(points):
        return 0.0
    f = np.column_stack([(1.0 - points[:, 0]) / max_error, points[:, 1] / e_ref])
    return float(HV(ref_point=np.ones(2))(f))


def _seconds(run: Path, spent: float) -> float:
    """Seconds this script has spent on ``run`` over all invocations (a resumed run adds its time)."""
    path = run / "compare_seconds.json"
    total = (json.loads(path.read_text())["seconds"] if path.exists() else 0.0) + spent
    path.write_text(json.dumps({"seconds": total}))
    return total


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3, help="seeds per strategy (default 3)")
    p.add_argument("--budget", type=int, default=None, help="evaluations per run (default 40; 200 with --bench-root)")
    p.add_argument("--population", type=int, default=None, help="NSGA-II population (default: the space's)")
    p.add_argument("--prescreen", type=int, default=None, help="evolution's surrogate pre-screening factor "
                   "(default: the space's)")
    p.add_argument("--workers", type=int, default=2, help="parallel evaluations (default 2)")
    p.add_argument("--space", help="the search space file (default search_spaces/digits.yaml, or "
                   "spikenas_bench_cifar10.yaml with --bench-root)")
    p.add_argument("--bench-root", help="a SpikeNAS-Bench folder: compare on the benchmark table")
    p.add_argument("--bench-epoch", type=int, default=None, help="fidelity epoch of the table (default: last)")
    p.add_argument("--out", help="output folder (default results/compare_search/<mode>)")
    p.add_argument("-q", "--quiet", action="store_true")
    args = p.parse_args()

    from snnas.search import resume, search
    from snnas.space import load_space

    bench = args.bench_root is not None
    mode = "spikenas_bench" if bench else "digits"
    space_file = Path(args.space) if args.space else \
        ROOT / "search_spaces" / ("spikenas_bench_cifar10.yaml" if bench else "digits.yaml")
    budget = args.budget or (200 if bench else 40)
    out = Path(args.out) if args.out else ROOT / "results" / "compare_search" / mode
    runs_dir = ROOT / "runs" / "compare_search" / out.name  # the run directories (stores, weights) stay out of git
    space = load_space(space_file)
    kw: dict = {"final": {"top_k": 0}, "reports": False, "quiet": args.quiet, "workers": args.workers}
    table = None
    if bench:
        from snnas.evaluate import bench_config, evaluate_bench, load_bench_table

        kw.update(evaluate=evaluate_bench, eval_config=bench_config(space, args.bench_root, args.bench_epoch))
        table = load_bench_table(args.bench_root, epochs=None if args.bench_epoch is None else [args.bench_epoch])
        kw["workers"] = 1  # a table look-up takes microseconds: Ray would only add overhead
    points, secs = {}, {}
    for seed in range(args.seeds):
        for s in STRATEGIES:
            opts = {k: v for k, v in (("population", args.population), ("prescreen", args.prescreen))
                    if s == "evolution" and v}
            start = time.perf_counter()
            run = runs_dir / f"{s}-seed{seed}"
            if (run / "config.json").exists():  # an earlier invocation's run: completed (or finished) by resume
                res = resume(run, budget=budget, quiet=args.quiet, reports=False,
                             evaluate=kw.get("evaluate"), argv=sys.argv)
            else:
                res = search(space_file, run, strategy=s, budget=budget, seed=seed, strategy_options=opts,
                             argv=sys.argv, **kw)
            points[seed, s], secs[seed, s] = _points(res.records), _seconds(run, time.perf_counter() - start)
    # the best front known: every network any run evaluated (a strategy's ceiling in that box)
    known = np.concatenate(list(points.values()))
    rows = []
    for seed in range(args.seeds):
        pts = {s: points[seed, s] for s in STRATEGIES}
        row = {"seed": seed, "evaluations": budget}
        if table is not None:
            acc_col = "val_acc_pct" if args.bench_epoch is None else f"val_acc_pct_e{args.bench_epoch}"
            true = np.column_stack([table[acc_col] / 100.0, table["energy_uj"] / 1e3])
            true = true[np.isfinite(true).all(axis=1)]
            e_ref = 1.1 * float(true[:, 1].max())
            row["hv_table"] = hv(true, e_ref)
        else:
            e_ref = 1.1 * float(np.concatenate([pts[s][:, 1] for s in STRATEGIES]).max())
        for s in STRATEGIES:
            for box, max_error in BOXES.items():
                row[f"{box}_{s}"] = hv(pts[s], e_ref, max_error)
            row[f"seconds_{s}"] = round(secs[seed, s], 1)
            row[f"best_acc_pct_{s}"] = round(100 * float(pts[s][:, 0].max()), 2) if len(pts[s]) else float("nan")
        for box, max_error in BOXES.items():
            rnd = row[f"{box}_random"]
            row[f"{box}_ratio"] = row[f"{box}_evolution"] / rnd if rnd else float("nan")
            if table is None:
                row[f"{box}_ceiling"] = hv(known, e_ref, max_error) / rnd if rnd else float("nan")
        if table is not None:
            gaps = {s: row["hv_table"] - row[f"hv_{s}"] for s in STRATEGIES}
            row.update(gap_evolution=gaps["evolution"], gap_random=gaps["random"],
                       gap_ratio=gaps["evolution"] / gaps["random"] if gaps["random"] else float("nan"))
        rows.append(row)
        if not args.quiet:
            print(row)
    df = pd.DataFrame(rows)
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "compare_search.csv", index=False)
    summary = {"mode": mode, "seeds": args.seeds, "evaluations": budget,
               "population": args.population or int(space.defaults.get("population") or 8),
               "prescreen": args.prescreen or int(space.defaults.get("prescreen") or 1),
               "hv_ratio_mean": float(df["hv_ratio"].mean()),
               "hv_ratio_of_means": float(df["hv_evolution"].mean() / df["hv_random"].mean()),
               **{f"{box}_ratio_mean": float(df[f"{box}_ratio"].mean()) for box in BOXES if box != "hv"}}
    if table is None:
        summary.update({f"{box}_ceiling_mean": float(df[f"{box}_ceiling"].mean()) for box in BOXES})
    if table is not None:
        summary["gap_ratio_of_means"] = float(df["gap_evolution"].mean() / df["gap_random"].mean())
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    target = ("gap ratio (evolution / random) <= 0.7" if table is not None else "hypervolume ratio >= 1.10")
    lines = [f"# NSGA-II vs random, {mode}", "",
             f"{budget} evaluations per run, {args.seeds} seeds, population {summary['population']}, "
             f"prescreen {summary['prescreen']}; "
             f"hypervolume ratio evolution / random: mean over seeds **{summary['hv_ratio_mean']:.3f}**, "
             f"ratio of means {summary['hv_ratio_of_means']:.3f} (the report's box: error in [0, 1]); above 80 % "
             f"accuracy only (error in [0, 0.2]): mean ratio {summary['hv80_ratio_mean']:.3f}; above 90 % (error in "
             f"[0, 0.1]): {summary['hv90_ratio_mean']:.3f}."
             + (f" Ceiling (the front of every network any run evaluated, over random's): "
                f"{summary['hv_ceiling_mean']:.3f} / {summary['hv80_ceiling_mean']:.3f} / "
                f"{summary['hv90_ceiling_mean']:.3f} in the three boxes." if table is None else "")
             + (f" Gap to the table's true front, ratio of means: **{summary['gap_ratio_of_means']:.3f}**."
                if table is not None else ""),
             f"Target: {target}.", "", md_table(df.round(4)), "",
             f"Reproduce: `python scripts/compare_search.py {' '.join(sys.argv[1:])}`", ""]
    (out / "compare_search.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
