"""Experiment: one supernet-training / scoring variant of the transformer supernet, ranked against
the cached from-scratch reference (results/supernet_ranking/scratch.csv, written by
scripts/supernet_ranking.py; 5 seeds) on the same 16 subnets. One call = one supernet seed; the
rows of results/supernet_ranking/variants.md are several calls (the seed spread is large).

It uses the package's trainer, extraction, BN re-estimation and Evaluator (its defaults are the
shipped recipe), the package's few-shot split as an option (``--split GENES``: one supernet per
combination of their choices, what ``search.supernet_split`` does), and what the package does not
ship: the old fixed ends (``--ends fixed``), ``--no-sbn`` (one BN affine for every neuron setting),
a cosine lr, warm-up epochs that train the largest alone, a per-subnet fine-tune and a soup of
supernets from one initialisation (``--soup K``).
Besides the validation accuracy (the search's score) it reports, as probes only, the tau of the
training-split accuracy and of the validation loss.

Prints one JSON line and appends it to ``--log`` (default results/supernet_ranking/variants.jsonl).
The variants.md runs used an earlier form of this script (its own switchable BN, ``--sbn``; random
ends that drew their neuron genes after the random subnets: same distribution, other draws).

Usage: python scripts/supernet_variants.py --name NAME [--seed 0] [--epochs 6] [--ema 0.97]
       [--recal 32] [--ends random|fixed] [--no-sbn] [--threads 1] ...
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", required=True, help="the variant's name in the log")
    p.add_argument("--seed", type=int, default=0, help="supernet seed")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--lr", type=float, default=0.005)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--random-subnets", type=int, default=2)
    p.add_argument("--ends", choices=["random", "fixed"], default="random",
                   help="the ends' non-size genes: drawn per step (the package) or the first choices (before)")
    p.add_argument("--ema", type=float, default=0.97, help="weight average decay per step (0: last weights)")
    p.add_argument("--recal", type=int, default=32, help="BN re-estimation batches")
    p.add_argument("--cosine", action="store_true", help="cosine lr over the epochs (per epoch)")
    p.add_argument("--warm", type=int, default=0, help="first epochs train the largest alone")
    p.add_argument("--no-sbn", action="store_true", help="no switchable BN (one BN affine for every neuron setting)")
    p.add_argument("--ft-steps", type=int, default=0, help="fine-tune steps per subnet before scoring")
    p.add_argument("--ft-lr", type=float, default=0.002)
    p.add_argument("--split", default="",
                   help="few-shot: comma-separated genes; one supernet per combination of their choices, "
                        "trained on subnets with those genes fixed, each subnet scored by its own")
    p.add_argument("--soup", type=int, default=1,
                   help="train K supernets from one initialisation (other batch orders and subnet draws) and "
                        "score the average of their weights")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--log", type=Path, default=ROOT / "results" / "supernet_ranking" / "variants.jsonl")
    args = p.parse_args()

    import pandas as pd
    import torch
    from scipy.stats import kendalltau
    from supernet_ranking import ranked_subnets

    from snnas.evaluate import Evaluator, TrainConfig, encode, load_dataset
    from snnas.evaluate._trainer import train
    from snnas.search._oneshot import part_key, split_genes
    from snnas.space import load_space
    from snnas.supernet import SandwichConfig, SandwichTrainer, extract_subnet, recalibrate_subnet

    torch.set_num_threads(args.threads)
    space = load_space(ROOT / "search_spaces" / "digits_transformer.yaml")
    data = load_dataset("digits")

    split = split_genes(space, [g for g in args.split.split(",") if g])

    class Trainer(SandwichTrainer):
        def sandwich(self, epoch: int, step: int):
            archs = super().sandwich(epoch, step)
            if epoch < args.warm:
                return archs[:1]
            if args.ends == "fixed":
                archs[:2] = [self.largest, self.smallest]
            return archs

    import itertools

    start = time.perf_counter()
    states = {}
    for combo in itertools.product(*(range(len(space.decisions[i].choices)) for i in split)):  # as OneShotSupernet
        soup, init = [], None
        for member in range(args.soup):
            tr = Trainer(space, data, SandwichConfig(batch_size=args.batch, lr=args.lr, seed=args.seed + 1000 * member,
                                                     ema=args.ema, encoding=space.encoding,
                                                     random_subnets=args.random_subnets, switchable_bn=not args.no_sbn,
                                                     fixed=tuple(zip(split, combo, strict=True))))
            if init is None:
                init = {k: v.detach().clone() for k, v in tr.supernet.state_dict().items()}
            else:
                tr.supernet.load_state_dict(init)
                tr.ema = {k: v.detach().clone() for k, v in tr.supernet.live_parameters().items()}
            for e in range(args.epochs):
                if args.cosine:
                    for g in tr.opt.param_groups:
                        g["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * e / args.epochs))
                tr.train_epoch()
            soup.append({k: v.detach().clone() for k, v in tr.subnet_state().items()})
        states[part_key(combo, range(len(combo)))] = {
            k: sum(m[k] for m in soup) / len(soup) if soup[0][k].is_floating_point() else soup[0][k] for k in soup[0]}
    supernet_s = time.perf_counter() - start

    archs = ranked_subnets(space)  # the subnets of the reference
    rows = []
    for k, a in enumerate(archs):
        model = extract_subnet(space, a, states[part_key(space.encode(a), split)])
        if args.ft_steps:
            train(model, data, TrainConfig(epochs=1, batch_size=args.batch, lr=args.ft_lr, schedule="none",
                                           time_steps=a.time_steps, encoding=space.encoding, seed=k, quiet=True,
                                           max_batches=args.ft_steps))
        recalibrate_subnet(model, data, batch_size=64, batches=args.recal, time_steps=a.time_steps,
                           encoding=space.encoding, seed=k)
        met = Evaluator(data, TrainConfig(batch_size=64, time_steps=a.time_steps, encoding=space.encoding,
                                          quiet=True)).evaluate(model, split="val")
        with torch.no_grad():
            (xv, yv), (xt, yt) = data.val.tensors, data.train.tensors
            val_loss = float(torch.nn.functional.cross_entropy(model(encode(xv, a.time_steps, space.encoding)), yv))
            train_acc = float((model(encode(xt, a.time_steps, space.encoding)).argmax(1) == yt).float().mean())
        rows.append({"id": a.id, "val_acc": 100 * met.accuracy, "val_loss": val_loss, "train_acc": 100 * train_acc})
    df = pd.DataFrame(rows)
    ref = pd.read_csv(ROOT / "results" / "supernet_ranking" / "scratch.csv")
    df["ref"] = df["id"].map(ref.groupby("id")["test_acc_pct"].mean())
    out = {"name": args.name, "seed": args.seed, "supernet_s": round(supernet_s, 1),
           "mean_val_acc": round(float(df["val_acc"].mean()), 2),
           "tau": round(float(kendalltau(df["val_acc"], df["ref"]).statistic), 3),
           "tau_train_split": round(float(kendalltau(df["train_acc"], df["ref"]).statistic), 3),
           "tau_val_loss": round(float(kendalltau(-df["val_loss"], df["ref"]).statistic), 3),
           "args": {k: str(v) for k, v in vars(args).items()}}
    print(json.dumps(out))
    with open(args.log, "a") as f:
        f.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
