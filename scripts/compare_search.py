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


def _score(task: tuple) -> dict:
    """``task``: (run key, cache key, space file, architecture JSON, eval config)."""
    from snnas.search._candidate import evaluate_candidate

    return evaluate_candidate(*task[2:])


def rescore(space_file: Path, runs: dict, n: int, workers: int, quiet: bool) -> tuple[dict, dict, float]:
    """Per run (key -> (run directory, records)): its Pareto front re-trained ``n`` times with fresh
    training seeds (the search's own proxy recipe), as (mean accuracy, mean energy_mj) points. A
    search records one noisy training per candidate, so its front holds the luckiest of them; the
    re-trained front is what the strategy found, free of that winner's curse. Also returned per run:
    the curse itself, the front's recorded accuracy minus its re-trained mean (percentage points);
    and overall, the median over networks of the standard deviation of a network's accuracy between
    its re-trainings (pp; the median, as a rare diverged training would dominate a mean).
    Cached per run in ``rescore.json`` (by candidate id and seed, written as each result arrives, so
    an interrupted call keeps what it trained)."""
    from tqdm import tqdm

    from snnas.report import pareto_front
    from snnas.runs import objectives_of
    from snnas.search._backend import make_backend
    from snnas.search._candidate import eval_config_for
    from snnas.search._evaluation import candidate_seed
    from snnas.space import load_space

    space = load_space(space_file)
    cfg, objs = eval_config_for(space), objectives_of(space)
    fronts = {key: pareto_front(recs, objs) for key, (_, recs) in runs.items()}
    caches = {key: json.loads((run / "rescore.json").read_text()) if (run / "rescore.json").exists() else {}
              for key, (run, _) in runs.items()}
    tasks = []
    for key, front in fronts.items():
        for r in front:
            for k in range(n):
                s = candidate_seed(1_000_003 + k, r.index)
                if f"{r.id}/{s}" not in caches[key]:
                    tasks.append((key, f"{r.id}/{s}", str(space_file), r.arch.to_json(),
                                  dict(cfg, seed=s, index=r.index)))
    with make_backend(workers) as backend:
        bar = tqdm(total=len(tasks), desc="re-training fronts", disable=quiet or not tasks)
        for task, m in backend.map(_score, tasks):
            caches[task[0]][task[1]] = [m.get("accuracy"), m.get("energy_mj")]
            (runs[task[0]][0] / "rescore.json").write_text(json.dumps(caches[task[0]]))
            bar.update()
        bar.close()
    points, curse, spreads = {}, {}, []
    for key, front in fronts.items():
        pts, drop = [], []
        for r in front:
            vals = [caches[key][f"{r.id}/{candidate_seed(1_000_003 + k, r.index)}"] for k in range(n)]
            vals = [v for v in vals if None not in v]
            if vals:
                pts.append(np.mean(vals, axis=0))
                drop.append(r.value("accuracy") - pts[-1][0])
            if len(vals) > 1:
                spreads.append(np.std([v[0] for v in vals], ddof=1))
        points[key] = np.array(pts, dtype=float).reshape(-1, 2)
        curse[key] = 100 * float(np.mean(drop)) if drop else float("nan")
    noise = 100 * float(np.median(spreads)) if spreads else float("nan")
    return points, curse, noise


def surrogate_tau(space, records, population: int) -> tuple[float, float]:
    """How informative pre-screening's surrogate is on a run: Kendall tau between its prediction
    (fitted to the generations before) and the recorded value, pooled over the candidates of
    generations 1, 2, ..., for accuracy and energy."""
    from scipy.stats import kendalltau

    from snnas.search._evolution import predict_objectives

    ok = [r for r in records if not r.failed and None not in (r.value("accuracy"), r.value("energy_mj"))]
    pred, true = [], []
    for start in range(population, len(records), population):
        before = [r for r in ok if r.index < start]
        now = [r for r in ok if start <= r.index < start + population]
        if len(before) < 2 or not now:
            continue
        F = np.array([[-r.value("accuracy"), r.value("energy_mj")] for r in before + now])
        X = np.array([r.genome for r in before + now], dtype=np.int64)
        pred.append(predict_objectives(space, X[:len(before)], F[:len(before)], X[len(before):]))
        true.append(F[len(before):])
    if not pred:
        return float("nan"), float("nan")
    P, T = np.concatenate(pred), np.concatenate(true)
    return tuple(float(kendalltau(P[:, j], T[:, j])[0]) for j in range(2))


def _seconds(run: Path, spent: float, records: int) -> float:
    """Seconds this script has spent on ``run`` over all invocations: a resumed run adds its time, a
    finished one re-read (as many ``records`` as last time) adds nothing."""
    path = run / "compare_seconds.json"
    last = json.loads(path.read_text()) if path.exists() else {"seconds": 0.0}
    if last.get("records") == records:
        return last["seconds"]
    total = last["seconds"] + spent
    path.write_text(json.dumps({"seconds": total, "records": records}))
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
    p.add_argument("--rescore", type=int, default=0, metavar="N", help="digits: re-train each run's front N "
                   "times with fresh seeds and report the hypervolumes of those means too (default 0: off)")
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
    points, secs, done = {}, {}, {}
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
            points[seed, s] = _points(res.records)
            secs[seed, s] = _seconds(run, time.perf_counter() - start, len(res.records))
            done[seed, s] = (run, res.records)
    rescored = curse = noise = None
    if args.rescore and not bench:
        rescored, curse, noise = rescore(space_file, done, args.rescore, args.workers, args.quiet)
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
        row["surrogate_tau_acc"], row["surrogate_tau_energy"] = surrogate_tau(
            space, done[seed, "evolution"][1], args.population or int(space.defaults.get("population") or 8))
        if rescored is not None:  # the fronts re-trained: what each strategy found, without the luck
            row.update({f"curse_pp_{st}": round(curse[seed, st], 2) for st in STRATEGIES})
            for box, max_error in BOXES.items():
                vals = {st: hv(rescored[seed, st], e_ref, max_error) for st in STRATEGIES}
                row.update({f"re_{box}_{st}": v for st, v in vals.items()})
                row[f"re_{box}_ratio"] = vals["evolution"] / vals["random"] if vals["random"] else float("nan")
                row[f"re_{box}_ceiling"] = (hv(np.concatenate(list(rescored.values())), e_ref, max_error)
                                            / vals["random"] if vals["random"] else float("nan"))
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
    n = len(df)

    def mean_se(col: str) -> tuple[float, float]:
        return float(df[col].mean()), float(df[col].std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")

    summary = {"mode": mode, "seeds": args.seeds, "evaluations": budget,
               "population": args.population or int(space.defaults.get("population") or 8),
               "prescreen": args.prescreen or int(space.defaults.get("prescreen") or 1),
               "hv_ratio_of_means": float(df["hv_evolution"].mean() / df["hv_random"].mean()),
               "surrogate_tau_acc_mean": float(df["surrogate_tau_acc"].mean()),
               "surrogate_tau_energy_mean": float(df["surrogate_tau_energy"].mean())}
    boxes = []  # one row per box: the ratios' mean and standard error over seeds, and the ceilings
    for box, max_error in BOXES.items():
        label = "all (error in [0, 1], the report's)" if max_error == 1 else f"above {100 * (1 - max_error):.0f} %"
        row = {"box": label}
        for prefix in ("", "re_") if rescored is not None else ("",):
            m, se = mean_se(f"{prefix}{box}_ratio")
            summary[f"{prefix}{box}_ratio_mean"], summary[f"{prefix}{box}_ratio_se"] = m, se
            what = "re-trained" if prefix else "recorded"
            row[f"ratio, {what}"] = f"{m:.3f} +- {se:.3f}"
            if table is None:
                summary[f"{prefix}{box}_ceiling_mean"] = float(df[f"{prefix}{box}_ceiling"].mean())
                row[f"ceiling, {what}"] = f"{summary[f'{prefix}{box}_ceiling_mean']:.3f}"
        boxes.append(row)
    if rescored is not None:
        summary["rescore"] = args.rescore
        summary["retrain_noise_pp"] = noise
        summary.update({f"curse_pp_{st}_mean": float(df[f"curse_pp_{st}"].mean()) for st in STRATEGIES})
    if table is not None:
        summary["gap_ratio_of_means"] = float(df["gap_evolution"].mean() / df["gap_random"].mean())
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    target = ("gap ratio (evolution / random) <= 0.7" if table is not None else "hypervolume ratio >= 1.10")
    lines = [f"# NSGA-II vs random, {mode}", "",
             f"{budget} evaluations per run, {args.seeds} seeds, population {summary['population']}, "
             f"prescreen {summary['prescreen']}. Hypervolume ratio evolution / random per seed (mean +- standard "
             "error over seeds) in three boxes. Pre-screening's surrogate (fitted to the generations before) "
             f"predicts the evolution runs' candidates at Kendall tau {summary['surrogate_tau_acc_mean']:.2f} "
             f"(accuracy) and {summary['surrogate_tau_energy_mean']:.2f} (energy), mean over seeds."
             + (" The ceiling is the front of every network any run evaluated, over random's (what a strategy "
                "would score had it found all of them)." if table is None else "")
             + (f" Re-trained: each run's front trained {args.rescore} more times with fresh seeds and scored by the "
                "means, i.e. without the luck of the single training a search records (that luck, the front's "
                "recorded minus re-trained accuracy: evolution "
                f"{summary['curse_pp_evolution_mean']:.2f} pp, random {summary['curse_pp_random_mean']:.2f} pp; "
                f"a network's accuracy varies by {noise:.2f} pp between its re-trainings, median std)."
                if rescored is not None else "")
             + (f" Gap to the table's true front, ratio of means: **{summary['gap_ratio_of_means']:.3f}**."
                if table is not None else ""),
             f"Target: {target}.", "", md_table(pd.DataFrame(boxes)), "", md_table(df.round(4)), "",
             f"Reproduce: `python scripts/compare_search.py {' '.join(sys.argv[1:])}`", ""]
    (out / "compare_search.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
