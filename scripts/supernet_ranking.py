"""Benchmark: how well the weight-entangled supernet ranks transformer subnets (issue "evo").

1. Train the supernet of search_spaces/digits_transformer.yaml the way ``--strategy evolution``
   does (``snnas.search._oneshot.OneShotSupernet``: sandwich rule, ``search.supernet_epochs``
   epochs, the space's lr and batch size; ``--split GENES`` for a few-shot split, default the
   space's ``search.supernet_split``).
2. Draw ``--n`` distinct random subnets; score each with inherited weights exactly as the search
   does (``snnas.search._oneshot.evaluate_oneshot``: extract, recalibrate BN, validation split).
3. Train each from scratch with the final stage's recipe (``final_epochs`` epochs, ``final_lr``,
   test split; ``--seeds`` seeds, mean) through ``snnas.search.evaluate_candidate``.

Steps 1-2 run once per ``--supernet-seeds`` seed (a supernet's ranking varies with its seed).
Reported (``results/supernet_ranking/``): Kendall tau per supernet and its mean (the headline), the
tau and Spearman rho of the seeds' mean score, the tau of supernet ensembles of each size (the
mean score of K supernets, as ``search.supernet_ensemble: K`` scores), the table and a scatter
plot. Target: tau >= 0.5 on >= 12 subnets. From-scratch results are cached in ``scratch.csv`` (delete it to retrain).

Usage: python scripts/supernet_ranking.py [--n 16] [--seeds 1] [--supernet-seeds 3] [--threads 2] [-q]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _md import md_table  # noqa: E402
from _sample import distinct_archs  # noqa: E402

SPACE = ROOT / "search_spaces" / "digits_transformer.yaml"
OUT = ROOT / "results" / "supernet_ranking"


def ranked_subnets(space, n: int = 16) -> list:
    """The ``n`` distinct random subnets this benchmark ranks (the same on every call)."""
    return distinct_archs(space, n)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=16, help="subnets (default 16)")
    p.add_argument("--seeds", type=int, default=1, help="from-scratch seeds per subnet (default 1)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--epochs", type=int, default=None, help="supernet epochs (default: the space's)")
    p.add_argument("--supernet-seeds", type=int, default=3, help="supernets trained, one per seed (default 3)")
    p.add_argument("--split", default=None, metavar="GENES",
                   help="few-shot split: comma-separated gene names, 'none' for one supernet "
                        "(default: the space's search.supernet_split)")
    p.add_argument("--out", type=Path, default=OUT, help="output folder (default results/supernet_ranking)")
    p.add_argument("-q", "--quiet", action="store_true")
    args = p.parse_args()

    import torch
    from scipy.stats import kendalltau, spearmanr
    from tqdm.auto import tqdm

    from snnas.search import eval_config_for, evaluate_candidate, final_config
    from snnas.search._backend import Shared
    from snnas.search._oneshot import RECALIBRATE_BATCHES, OneShotSupernet, evaluate_oneshot
    from snnas.space import load_space

    torch.set_num_threads(args.threads)
    space = load_space(SPACE)
    d = space.defaults
    epochs = args.epochs or int(d.get("supernet_epochs") or 10)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    archs = ranked_subnets(space, args.n)
    rows = [{"id": a.id, "architecture": a.summary()} for a in archs]
    supernet_s, score_s = [], []
    split = d.get("supernet_split") if args.split is None else [g for g in args.split.split(",") if g != "none"]
    for seed in range(args.supernet_seeds):  # one supernet per seed: its ranking varies with the seed
        start = time.perf_counter()
        cfg = eval_config_for(space, threads=args.threads, device="cpu")
        weights = OneShotSupernet(space, None, cfg, epochs=epochs, lr=float(d.get("lr") or 0.005),
                                  batch_size=int(d.get("batch_size") or 64), seed=seed, threads=args.threads,
                                  split=split).train(quiet=args.quiet)
        supernet_s.append(time.perf_counter() - start)
        cfg = dict(cfg, supernet=Shared(weights), recalibrate=RECALIBRATE_BATCHES)
        for k, a in enumerate(tqdm(archs, desc="one-shot scores", disable=args.quiet)):
            m = evaluate_oneshot(str(SPACE), a.to_json(), dict(cfg, seed=k, index=k))
            rows[k][f"oneshot_val_acc_pct_s{seed}"] = 100 * m["accuracy"]
            rows[k].setdefault("energy_uj", 1e3 * m["energy_mj"])
            score_s.append(m["wall_time_s"])
    df = pd.DataFrame(rows)
    scores = [c for c in df if c.startswith("oneshot_val_acc_pct_s")]

    fin = final_config(space)
    cache = OUT / "scratch.csv"  # the from-scratch reference, shared by every --out
    cached = pd.read_csv(cache) if cache.exists() else pd.DataFrame(columns=["id", "seed", "test_acc_pct"])
    scratch = eval_config_for(space, epochs=int(fin["epochs"]), lr=float(fin.get("lr") or d.get("lr")),
                              threads=args.threads, device="cpu")
    scratch["split"] = "test"
    new = []
    todo = [(a, s) for a in archs for s in range(args.seeds)
            if not ((cached["id"] == a.id) & (cached["seed"] == s)).any()]
    for a, s in tqdm(todo, desc="from scratch", disable=args.quiet):
        m = evaluate_candidate(str(SPACE), a.to_json(), dict(scratch, seed=s, index=0))
        new.append({"id": a.id, "seed": s, "test_acc_pct": 100 * (m.get("accuracy") or float("nan")),
                    "seconds": m.get("wall_time_s")})
        pd.concat([cached, pd.DataFrame(new)]).to_csv(cache, index=False)
    cached = pd.concat([cached, pd.DataFrame(new)])
    mean = cached[cached["seed"] < args.seeds].groupby("id")["test_acc_pct"].mean()
    df["scratch_test_acc_pct"] = df["id"].map(mean)
    df.to_csv(out / "ranking.csv", index=False)

    taus = [float(kendalltau(df[c], df["scratch_test_acc_pct"]).statistic) for c in scores]
    df["oneshot_val_acc_pct"] = df[scores].mean(axis=1)
    of_mean = kendalltau(df["oneshot_val_acc_pct"], df["scratch_test_acc_pct"])
    rho = spearmanr(df["oneshot_val_acc_pct"], df["scratch_test_acc_pct"])
    summary = {"subnets": len(df), "supernet_epochs": epochs, "supernet_split": split or [],
               "supernet_seeds": len(scores),
               "supernet_seconds": round(float(np.mean(supernet_s)), 1),
               "oneshot_seconds_per_subnet": round(float(np.mean(score_s)), 3),
               "kendall_tau_per_seed": [round(t, 3) for t in taus], "kendall_tau": round(float(np.mean(taus)), 3),
               "kendall_tau_of_mean_score": round(float(of_mean.statistic), 3), "kendall_p_of_mean_score":
               float(of_mean.pvalue), "spearman_rho_of_mean_score": round(float(rho.statistic), 3),
               "scratch_epochs": int(fin["epochs"]), "scratch_seeds": args.seeds, "threads": args.threads,
               "ensembles": ensemble_taus(df, scores)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    _plot(df, summary, out / "ranking.png")
    lines = ["# Supernet ranking quality (digits_transformer.yaml)", "",
             f"Kendall tau **{summary['kendall_tau']}** (mean over {len(scores)} supernet seeds: "
             f"{', '.join(map(str, summary['kendall_tau_per_seed']))}) between inherited-weight validation "
             f"accuracy (BN recalibrated, {RECALIBRATE_BATCHES} batches at most) and from-scratch test accuracy "
             f"({summary['scratch_epochs']} epochs, mean of {args.seeds} seed(s)) on {len(df)} random subnets; "
             f"the seeds' mean score: tau {summary['kendall_tau_of_mean_score']} "
             f"(p = {summary['kendall_p_of_mean_score']:.2g}). Target: tau >= 0.5.", "",
             f"Supernet: {epochs} sandwich epochs"
             f"{' per partition of the few-shot split by ' + ', '.join(split) if split else ''} in "
             f"{summary['supernet_seconds']} s; one-shot scoring "
             f"{summary['oneshot_seconds_per_subnet']} s per subnet ({args.threads} threads).", "",
             f"Reproduce: `python scripts/supernet_ranking.py {' '.join(sys.argv[1:])}`. Training variants "
             "tried against the same reference: variants.md.", "",
             "Supernet ensembles (`search.supernet_ensemble: K`: a candidate's score is the mean of its scores "
             "with K supernets of seeds s .. s + K - 1): the tau of that mean score, over every window of K "
             "consecutive seeds trained here, and over every K-subset of them.", "",
             md_table(pd.DataFrame(summary["ensembles"]), 3), "",
             md_table(df, 4), ""]
    (out / "supernet_ranking.md").write_text("\n".join(lines))
    print("\n".join(lines[:5]))
    return 0


def ensemble_taus(df: pd.DataFrame, scores: list[str]) -> list[dict]:
    """Per ensemble size K: Kendall tau of the K supernets' mean score against the reference, over
    the windows of K consecutive seeds (what runs with ``supernet_ensemble: K`` score with) and over
    all K-subsets of the seeds. The package's ensemble score is exactly that mean of the members'
    accuracies (tests/search/test_oneshot.py)."""
    from scipy.stats import kendalltau

    def tau(cols) -> float:
        return float(kendalltau(df[list(cols)].mean(axis=1), df["scratch_test_acc_pct"]).statistic)

    rows = []
    for k in range(1, len(scores) + 1):
        windows = [tau(scores[s:s + k]) for s in range(len(scores) - k + 1)]
        subsets = [tau(c) for c in itertools.combinations(scores, k)]
        rows.append({"members": k, "windows": len(windows), "tau_windows_mean": round(float(np.mean(windows)), 3),
                     "tau_windows_min": round(min(windows), 3), "subsets": len(subsets),
                     "tau_subsets_mean": round(float(np.mean(subsets)), 3), "tau_subsets_min": round(min(subsets), 3),
                     "tau_subsets_max": round(max(subsets), 3)})
    return rows


def _plot(df: pd.DataFrame, summary: dict, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 4), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.scatter(df["oneshot_val_acc_pct"], df["scratch_test_acc_pct"], s=20)
    ax.set_xlabel(f"inherited weights: val accuracy [%] (mean of {summary['supernet_seeds']} supernets)")
    ax.set_ylabel("from scratch: test accuracy [%]")
    ax.set_title(f"Kendall tau {summary['kendall_tau']} per supernet, "
                 f"{summary['kendall_tau_of_mean_score']} of the mean", fontsize=9)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


if __name__ == "__main__":
    sys.exit(main())
