"""Benchmark: how well the single-path cell supernet ranks cell architectures (issue "one-shot
scoring for cell spaces too").

1. Train the one-shot supernet of search_spaces/digits.yaml the way ``--strategy evolution
   --scoring oneshot`` does (`SinglePathTrainer`: one uniform path per step, ``--epochs`` epochs,
   the space's lr and batch size).
2. Draw ``--n`` distinct random architectures; score each with inherited weights exactly as the
   search does (``snnas.search._oneshot.evaluate_oneshot``: extract, recalibrate BN, val split).
3. Score each with the search's from-scratch proxy (``snnas.search.evaluate_candidate`` with
   ``eval_config_for(space)``: ``proxy_epochs`` epochs, val split).

Reported in ``results/oneshot_cells.md``: Kendall tau and Spearman rho between the two, the table
and the cost of each. Evolution's ``scoring: auto`` picks oneshot for a family only when it ranks
like the proxy it replaces.

Usage: python scripts/oneshot_cells.py [--n 12] [--epochs 10] [--threads 1] [-q]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
from _md import md_table  # noqa: E402
from _sample import distinct_archs  # noqa: E402

SPACE = ROOT / "search_spaces" / "digits.yaml"
OUT = ROOT / "results" / "oneshot_cells.md"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=12, help="architectures (default 12)")
    p.add_argument("--epochs", type=int, default=10, help="supernet epochs (default 10)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("-q", "--quiet", action="store_true")
    args = p.parse_args()

    import torch
    from scipy.stats import kendalltau, spearmanr
    from tqdm.auto import tqdm

    from snnas.evaluate import load_dataset
    from snnas.search import eval_config_for, evaluate_candidate
    from snnas.search._backend import Shared
    from snnas.search._oneshot import RECALIBRATE_BATCHES, evaluate_oneshot
    from snnas.space import load_space
    from snnas.supernet import SinglePathConfig, SinglePathTrainer

    torch.set_num_threads(args.threads)
    space = load_space(SPACE)
    d = space.defaults
    start = time.perf_counter()
    trainer = SinglePathTrainer(space, load_dataset("digits"), SinglePathConfig(
        batch_size=int(d.get("batch_size") or 64), lr=float(d.get("lr") or 0.005), seed=0, encoding=space.encoding))
    for _ in tqdm(range(args.epochs), desc="supernet (single path)", disable=args.quiet):
        trainer.train_epoch()
    supernet_s = time.perf_counter() - start
    weights = Shared({k: v.detach().clone() for k, v in trainer.subnet_state().items()})

    archs = distinct_archs(space, args.n)
    base = eval_config_for(space, threads=args.threads, device="cpu")
    oneshot = dict(base, supernet=weights, recalibrate=RECALIBRATE_BATCHES)
    rows = []
    for k, a in enumerate(tqdm(archs, desc="one-shot vs proxy", disable=args.quiet)):
        m = evaluate_oneshot(str(SPACE), a.to_json(), dict(oneshot, seed=0, index=k))
        q = evaluate_candidate(str(SPACE), a.to_json(), dict(base, seed=0, index=k))
        if m.get("failed") or q.get("failed"):
            raise RuntimeError(f"{a.summary()}: {m.get('failed') or q.get('failed')}")
        rows.append({"architecture": a.summary(), "oneshot_val_acc_pct": round(100 * m["accuracy"], 2),
                     "proxy_val_acc_pct": round(100 * q["accuracy"], 2),
                     "oneshot_s": round(m["wall_time_s"], 2), "proxy_s": round(q["wall_time_s"], 2)})
    df = pd.DataFrame(rows)
    tau = kendalltau(df["oneshot_val_acc_pct"], df["proxy_val_acc_pct"])
    rho = spearmanr(df["oneshot_val_acc_pct"], df["proxy_val_acc_pct"])
    epochs = int(d.get("proxy_epochs") or 2)
    lines = ["# One-shot scoring of cell architectures (digits.yaml)", "",
             f"Kendall tau **{tau.statistic:.3f}** (p = {tau.pvalue:.2g}), Spearman rho {rho.statistic:.3f} "
             f"between inherited-weight validation accuracy (single-path supernet, {args.epochs} epochs, BN "
             f"recalibrated on {RECALIBRATE_BATCHES} batches) and the search's from-scratch proxy "
             f"({epochs} epochs, validation split) on {len(df)} random architectures.", "",
             f"Supernet training {supernet_s:.1f} s ({supernet_s / args.epochs:.2f} s per epoch); scoring "
             f"{df['oneshot_s'].mean():.2f} s per architecture with inherited weights vs "
             f"{df['proxy_s'].mean():.2f} s from scratch ({args.threads} thread(s), CPU).", "",
             f"Reproduce: `python scripts/oneshot_cells.py --n {args.n} --epochs {args.epochs}`", "",
             md_table(df, 4), ""]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines))
    print("\n".join(lines[:5]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
