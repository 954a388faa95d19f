"""Benchmark: how well does the search's proxy training rank architectures, and what does it cost?

N random architectures of a space (default ``search_spaces/digits.yaml``, seeded) are each scored

  old    today's proxy recipe before the cheaper one (5 epochs, batch 64, Adam lr 0.005, cosine
         annealed to 0 over the 85 steps): what ``eval_config_for`` gave until then
  new    the space's proxy recipe as the package ships it now: ``eval_config_for(space)``
  full   a from-scratch training with the retraining recipe of ``snnas train`` (the run's eval
         config with ``train.epochs = 20`` and ``split = "test"``), i.e. the number a user reports;
         ``--full-seeds K`` (default 3) of them per architecture, training seeds 0..K-1

Every proxy score is exactly what a search records: :func:`snnas.search.evaluate_candidate` with
the candidate's seed (``candidate_seed(seed, index)``) and the recipe's ``threads`` (1, as the
default search pins). The proxy recipes run side by side in one process, interleaved per
architecture (the order alternates), so load drift on a shared machine hits both alike. The full
trainings do not depend on the proxy recipe: they are computed once and cached in ``full.csv``
(keyed by architecture id, training seed and a hash of the full recipe; seed 0 is the single
reference of the first runs, rows are only ever added), so re-runs only redo the proxies.

The reference is the mean full test accuracy over the K seeds, on the architectures that have all K
(a partial cache is reported as such). Reported per recipe: Kendall tau and Spearman rho of proxy
validation accuracy against that reference, top-5 overlap (how many of the proxy's five best are
among the five best after full training), the same against seed 0 alone (the earlier, one-seed
reference) and against each single seed, seconds per candidate (median and mean, and the ratio to
``old`` when it runs in the same process) and the proxy's accuracy range. The reference's own
ceiling: the same statistics between the seeds' full test accuracies (each pair) and of each seed
against the mean of the other seeds. Plus a scatter plot of proxy val accuracy against the reference.

Usage: python scripts/proxy_fidelity.py [--n 24] [--seed 0] [--recipe old new] [--full-seeds 3]
       [--workers 1] [-q]
Writes results/proxy_fidelity/{full.csv, proxy.csv, summary.csv, proxy_fidelity.md, proxy_fidelity.png}.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import hashlib
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from snnas.search._candidate import eval_config_for, evaluate_candidate  # noqa: E402
from snnas.search._evaluation import candidate_seed  # noqa: E402
from snnas.search._final import full_train  # noqa: E402

FULL_EPOCHS = 20
OLD_TRAIN = {"epochs": 5, "batch_size": 64, "lr": 0.005}
"""The digits proxy recipe before this benchmark (the space's `search:` keys then); everything else
as TrainConfig's defaults (Adam, cosine over epochs x batches, no warm-up, every batch)."""
FULL_FIELDS = ["arch_id", "index", "seed", "test_acc", "energy_mj", "seconds", "failed", "recipe_hash",
               "architecture"]


VARIANTS: dict[str, dict] = {
    "cos2": {"epochs": 2, "batch_size": 64, "lr": 0.005, "bn_recalibrate": 4},  # shipped until the constant LR
    "b32": {"epochs": 2, "batch_size": 32, "lr": 0.005, "bn_recalibrate": 8},
    "b16": {"epochs": 2, "batch_size": 16, "lr": 0.005, "bn_recalibrate": 16},
    "b16f": {"epochs": 2, "batch_size": 16, "lr": 0.005, "bn_recalibrate": 16, "lr_floor": 0.2},
    "b32f": {"epochs": 2, "batch_size": 32, "lr": 0.005, "bn_recalibrate": 8, "lr_floor": 0.2},
    "b32w": {"epochs": 2, "batch_size": 32, "lr": 0.01, "bn_recalibrate": 8, "warmup_steps": 8,
             "lr_floor": 0.1},
    "b16lo": {"epochs": 2, "batch_size": 16, "lr": 0.003, "bn_recalibrate": 16},
    "w01": {"epochs": 2, "batch_size": 64, "lr": 0.01, "bn_recalibrate": 4, "warmup_steps": 4},
    "f02": {"epochs": 2, "batch_size": 64, "lr": 0.005, "bn_recalibrate": 4, "lr_floor": 0.2},
    "b48": {"epochs": 2, "batch_size": 48, "lr": 0.005, "bn_recalibrate": 6},
}
"""Exploratory proxy recipes (complete ``train`` keys besides the space's encoding), tried against
``new`` in one process; see the table in ``proxy_fidelity.md``."""


def recipes(space, names: list[str]) -> dict[str, dict]:
    """Proxy eval configs by name: ``new`` is the package's, ``old`` the same with today's train keys,
    the others those of :data:`VARIANTS`."""
    new = eval_config_for(space)
    out = {}
    for name in names:
        if name == "new":
            out[name] = new
        elif name == "old":
            out[name] = dict(new, train={"encoding": new["train"].get("encoding"), **OLD_TRAIN})
        elif name in VARIANTS:
            out[name] = dict(new, train={"encoding": new["train"].get("encoding"), **VARIANTS[name]})
        else:
            raise SystemExit(f"unknown recipe {name!r} (old, new, {', '.join(VARIANTS)})")
    return out


def full_config(space) -> dict:
    """The retraining recipe ``snnas train`` uses (see ``snnas.search.retrain``): the run's eval config
    with ``epochs = 20`` on the test split. Built on the ``old`` proxy config, so the reference (and the
    cache) stays the same while the proxy recipe changes; a proxy-only change (epochs, warm-up, batch
    cap) leaves the retraining recipe of a run exactly this one."""
    cfg = recipes(space, ["old"])["old"]
    return dict(cfg, split="test", train={**cfg["train"], "epochs": FULL_EPOCHS})


def recipe_hash(cfg: dict, space=None) -> str:
    """The cache key of a full training: its recipe, plus the space's classifier head when it is
    not the original global average (the head changes the network an architecture id builds;
    rows of the GAP-head space keep their key)."""
    key = dict(cfg)
    head = (getattr(space, "fixed", None) or {}).get("head", "gap")
    if head != "gap":
        key["head"] = head
    return hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]


def sample_architectures(space, n: int, seed: int) -> list:
    import numpy as np
    from _sample import distinct_archs

    rng = np.random.default_rng(seed)
    return distinct_archs(space, n, lambda _: rng, tries=100 * n)


def run_task(task: tuple) -> dict:
    """One training: ``(kind, index, space_path, arch_json, eval_config)`` -> metrics and seconds."""
    kind, index, space_path, arch_json, cfg = task
    start = time.perf_counter()
    m = evaluate_candidate(space_path, arch_json, cfg)
    return {**m, "seconds": time.perf_counter() - start}


def read_full(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def load_full(path: Path, rhash: str) -> dict[tuple[str, int], dict]:
    """Cached full trainings of recipe ``rhash`` by ``(arch_id, seed)`` (failed ones are redone)."""
    return {(r["arch_id"], int(r["seed"])): r for r in read_full(path) if r["recipe_hash"] == rhash and not r["failed"]}


def save_full(path: Path, rows: list[dict]) -> None:
    """Add ``rows`` (those that did not fail) to ``full.csv``, keeping every row already there (any
    recipe hash); a row replaces the one with the same ``(arch_id, seed, recipe_hash)``."""
    keep = {(r["arch_id"], int(r["seed"]), r["recipe_hash"]): r for r in read_full(path)}
    keep.update({(r["arch_id"], int(r["seed"]), r["recipe_hash"]): r for r in rows if not r["failed"]})
    write_csv(path, FULL_FIELDS, list(keep.values()))


def write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    tmp.replace(path)


def fidelity(proxy: list[float], full: list[float], k: int = 5) -> dict:
    from scipy import stats

    tau = stats.kendalltau(proxy, full).statistic
    rho = stats.spearmanr(proxy, full).statistic
    order_p = sorted(range(len(proxy)), key=lambda i: -proxy[i])[:k]
    order_f = sorted(range(len(full)), key=lambda i: -full[i])[:k]
    return {"kendall_tau": float(tau), "spearman_rho": float(rho), "top5_overlap": len(set(order_p) & set(order_f))}


def plot(path: Path, rows: list[dict], names: list[str], ylabel: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5))
    for name, marker in zip(names, "os^v", strict=False):
        pts = [(100 * r["proxy_acc"], 100 * r["test_acc_ref"]) for r in rows if r["recipe"] == name]
        ax.scatter(*zip(*pts, strict=True), marker=marker, alpha=0.75, label=name)
    ax.plot([0, 100], [0, 100], color="0.7", lw=0.8, ls="--", label="y = x")
    ax.set_xlabel("proxy validation accuracy [%]")
    ax.set_ylabel(ylabel)
    ax.set_xlim(0, 100)
    lo = min(100 * r["test_acc_ref"] for r in rows)
    ax.set_ylim(max(0, lo - 5), 100)
    ax.set_title("proxy fidelity on digits")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def check_retrain(args: argparse.Namespace) -> int:
    """``snnas train`` on a run searched with today's recipe inherits the proxy's extra train keys
    less the proxy-only ones (``full_train``; it keeps ``bn_recalibrate``): retrain K architectures so and compare
    with the cached full trainings."""
    from snnas.space import load_space

    space = load_space(args.space)
    out = Path(args.out)
    full_cfg = full_config(space)
    new = eval_config_for(space)
    new_full = dict(new, split="test", train=full_train(new["train"], FULL_EPOCHS))
    cached = load_full(out / "full.csv", recipe_hash(full_cfg, space))
    rows = []
    for i, a in enumerate(sample_architectures(space, args.n, args.seed)[:args.check_retrain]):
        ref = cached.get((a.id, 0))
        res = run_task(("full", i, str(Path(args.space).resolve()), a.to_json(), dict(new_full, seed=0, index=i)))
        rows.append({"arch_id": a.id, "test_acc_old_recipe": ref["test_acc"] if ref else "",
                     "test_acc_new_recipe": res.get("accuracy"), "seconds": res["seconds"],
                     "failed": res.get("failed") or "", "new_train": json.dumps(new_full["train"], sort_keys=True)})
        if not args.quiet:
            print(rows[-1], file=sys.stderr)
    write_csv(out / "retrain_check.csv", list(rows[0]), rows)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default=str(ROOT / "search_spaces" / "digits.yaml"))
    ap.add_argument("--n", type=int, default=24, help="random architectures (default 24)")
    ap.add_argument("--seed", type=int, default=0, help="architecture sampling and candidate seeds")
    ap.add_argument("--candidate-seed", type=int, default=None, metavar="S",
                    help="proxy training seeds candidate_seed(S, i) instead of --seed's (same architectures)")
    ap.add_argument("--recipe", nargs="*", default=["old", "new"], help="proxy recipes side by side: old new")
    ap.add_argument("--full-seeds", type=int, default=3, metavar="K",
                    help="full trainings per architecture (training seeds 0..K-1; default 3); the reference "
                         "is their mean test accuracy")
    ap.add_argument("--workers", type=int, default=1, help=">1: Ray (timings then share the cores)")
    ap.add_argument("--out", default=str(ROOT / "results" / "proxy_fidelity"))
    ap.add_argument("--check-retrain", type=int, default=0, metavar="K",
                    help="only: retrain the first K architectures with a new run's retraining recipe "
                         "(the proxy's extra train keys inherited) and compare with full.csv")
    ap.add_argument("--note", default="", help="what else the machine was doing (written to the markdown)")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)
    if args.check_retrain:
        return check_retrain(args)

    from tqdm.auto import tqdm

    from snnas.search._backend import TaskFailure, make_backend
    from snnas.space import load_space

    def log(msg: str) -> None:
        if not args.quiet:
            tqdm.write(msg, file=sys.stderr)

    space = load_space(args.space)
    space_path = str(Path(args.space).resolve())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    proxies = recipes(space, args.recipe)
    full_cfg = full_config(space)
    rhash = recipe_hash(full_cfg, space)
    if args.full_seeds < 1:
        raise SystemExit("--full-seeds must be at least 1")
    seeds = list(range(args.full_seeds))
    archs = sample_architectures(space, args.n, args.seed)
    cseed = args.seed if args.candidate_seed is None else args.candidate_seed
    cached = load_full(out / "full.csv", rhash)
    full_rows = {(a.id, s): cached[(a.id, s)] for s in seeds for a in archs if (a.id, s) in cached}
    log(f"{len(archs)} architectures x {len(seeds)} full seeds; full trainings cached: {len(full_rows)}; "
        f"recipes: {', '.join(proxies)}")
    load_start = os.getloadavg()
    started = datetime.datetime.now()

    tasks = []
    for i, a in enumerate(archs):
        names = list(proxies) if i % 2 == 0 else list(proxies)[::-1]  # interleaved, order alternating
        for name in names:
            tasks.append(("proxy:" + name, i, space_path, a.to_json(),
                          dict(proxies[name], seed=candidate_seed(cseed, i), index=i)))

    def all_tasks():
        yield from tasks
        # After the proxies, so a first look needs no full training; seed by seed, so a run cut short
        # leaves whole seeds. Seed 0 is exactly the single reference of the earlier runs.
        for s in seeds:
            for i, a in enumerate(archs):
                if (a.id, s) not in full_rows:
                    done = load_full(out / "full.csv", rhash).get((a.id, s))  # another process may have added it
                    if done is not None:
                        full_rows[(a.id, s)] = done
                        bar.update()
                        continue
                    yield ("full", i, space_path, a.to_json(), dict(full_cfg, seed=s, index=i))

    proxy_res: dict[tuple[str, int], dict] = {}
    with make_backend(args.workers) as backend, \
            tqdm(total=len(tasks) + len(seeds) * len(archs) - len(full_rows), desc="trainings", unit="train",
                 disable=args.quiet) as bar:
        for task, res in backend.map(run_task, all_tasks()):
            kind, i = task[0], task[1]
            if isinstance(res, TaskFailure):
                res = {"failed": res.reason, "seconds": float("nan")}
            if kind == "full":
                a, s = archs[i], int(task[4]["seed"])
                full_rows[(a.id, s)] = {"arch_id": a.id, "index": i, "seed": s, "test_acc": res.get("accuracy"),
                                        "energy_mj": res.get("energy_mj"), "seconds": res["seconds"],
                                        "failed": res.get("failed") or "", "recipe_hash": rhash,
                                        "architecture": a.summary()}
                save_full(out / "full.csv", [full_rows[(a.id, s)]])  # cache as it goes
            else:
                proxy_res[(kind.split(":", 1)[1], i)] = res
            bar.set_postfix_str(f"{kind} #{i} {res['seconds']:.1f}s")
            bar.update()
    load_end = os.getloadavg()
    if not proxies:
        print(f"full trainings: {len(full_rows)} ({len(seeds)} seeds) in {out / 'full.csv'}")
        return 0

    def full_acc(arch_id: str, s: int) -> float | None:
        r = full_rows.get((arch_id, s))
        if not r or r.get("failed") or r.get("test_acc") in (None, ""):
            return None
        return float(r["test_acc"])

    def full_sec(arch_id: str, s: int) -> float | None:
        r = full_rows.get((arch_id, s))
        return float(r["seconds"]) if r and not r.get("failed") and r.get("seconds") not in (None, "") else None

    by_seed = {a.id: [full_acc(a.id, s) for s in seeds] for a in archs}
    n_seeds = {a.id: sum(v is not None for v in by_seed[a.id]) for a in archs}
    complete = [a.id for a in archs if n_seeds[a.id] == len(seeds)]
    ref = {aid: statistics.fmean(by_seed[aid]) for aid in complete}
    """The reference: mean full test accuracy over the seeds, only where all of them are there."""
    ref_name = "seed 0" if len(seeds) == 1 else f"mean of seeds 0-{seeds[-1]}"
    seed_counts = ", ".join(f"{sum(n_seeds[a.id] == k for a in archs)} with {k}" for k in range(len(seeds), -1, -1)
                            if any(n_seeds[a.id] == k for a in archs))

    rows = []
    for (name, i), res in sorted(proxy_res.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        a = archs[i]
        rows.append({"recipe": name, "index": i, "arch_id": a.id, "time_steps": a.time_steps,
                     "proxy_acc": res.get("accuracy"), "proxy_seconds": res["seconds"],
                     "test_acc": full_acc(a.id, 0), "full_seconds": full_sec(a.id, 0),
                     "test_acc_mean": ref.get(a.id), "full_seeds": n_seeds[a.id],
                     "failed": res.get("failed") or "", "architecture": a.summary()})
    write_csv(out / "proxy.csv", list(rows[0]), rows)

    old_secs = [r["proxy_seconds"] for r in rows if r["recipe"] == "old" and not r["failed"]]
    summary = []
    for name in proxies:
        ok = [r for r in rows if r["recipe"] == name and not r["failed"] and r["proxy_acc"] is not None
              and r["arch_id"] in ref]
        secs = [r["proxy_seconds"] for r in rows if r["recipe"] == name and not r["failed"]]
        px = [r["proxy_acc"] for r in ok]
        fid = fidelity(px, [ref[r["arch_id"]] for r in ok])
        per_seed = [fidelity(px, [by_seed[r["arch_id"]][s] for r in ok]) for s in seeds]
        summary.append({"recipe": name, "reference": ref_name, "n": len(ok), **fid,
                        "kendall_tau_seed0": per_seed[0]["kendall_tau"],
                        "spearman_rho_seed0": per_seed[0]["spearman_rho"],
                        "top5_overlap_seed0": per_seed[0]["top5_overlap"],
                        "kendall_tau_one_seed_mean": statistics.fmean(p["kendall_tau"] for p in per_seed),
                        "kendall_tau_by_seed": " ".join(f"{p['kendall_tau']:.4f}" for p in per_seed),
                        "s_per_candidate_median": statistics.median(secs),
                        "s_per_candidate_mean": statistics.fmean(secs),
                        "ratio_to_old_median": statistics.median(secs) / statistics.median(old_secs)
                        if old_secs else "",
                        "ratio_to_old_mean": statistics.fmean(secs) / statistics.fmean(old_secs) if old_secs else "",
                        "proxy_acc_min": min(px),
                        "proxy_acc_median": statistics.median(px),
                        "proxy_acc_max": max(px),
                        "recipe_train": json.dumps(proxies[name]["train"], sort_keys=True)})

    # The reference's own ceiling: how well one full training ranks another seed's, or the other seeds' mean.
    ceiling = []
    full_secs = {s: [x for a in archs if (x := full_sec(a.id, s)) is not None] for s in seeds}
    all_full_secs = [x for s in seeds for x in full_secs[s]]
    if len(seeds) >= 2 and len(complete) >= 3:
        cols = {s: [by_seed[aid][s] for aid in complete] for s in seeds}

        def row(recipe: str, against: str, fids: list[dict]) -> dict:
            return {"recipe": recipe, "reference": against, "n": len(complete),
                    **{k: statistics.fmean(f[k] for f in fids)
                       for k in ("kendall_tau", "spearman_rho", "top5_overlap")},
                    "s_per_candidate_median": statistics.median(all_full_secs),
                    "s_per_candidate_mean": statistics.fmean(all_full_secs),
                    "recipe_train": json.dumps(full_cfg["train"], sort_keys=True)}

        pairs = [(s, t, fidelity(cols[s], cols[t])) for s in seeds for t in seeds if s < t]
        ceiling += [row(f"full seed {s}", f"seed {t}", [f]) for s, t, f in pairs]
        ceiling.append(row("full, one seed", f"another seed (mean over {len(pairs)} pairs)", [f for *_, f in pairs]))
        loo = []
        for s in seeds:
            others = [statistics.fmean(cols[t][j] for t in seeds if t != s) for j in range(len(complete))]
            loo.append(fidelity(cols[s], others))
            ceiling.append(row(f"full seed {s}", "mean of the other seeds", [loo[-1]]))
        ceiling.append(row("full, one seed", f"mean of the other seeds (mean over {len(seeds)} seeds)", loo))
    write_csv(out / "summary.csv", list(summary[0]), summary + ceiling)
    plot(out / "proxy_fidelity.png",
         [dict(r, test_acc_ref=ref[r["arch_id"]]) for r in rows if not r["failed"] and r["arch_id"] in ref],
         list(proxies), f"test accuracy after {FULL_EPOCHS} epochs, {ref_name} [%]")

    def md(table: list[list]) -> str:
        return "\n".join("| " + " | ".join(str(c) for c in r) + " |" for r in [table[0], ["---"] * len(table[0])]
                         + table[1:])

    table = [["recipe", "n", f"Kendall tau ({ref_name})", "Spearman rho", "top-5 overlap", "tau vs seed 0",
              "rho vs seed 0", "top-5 vs seed 0", "tau vs one seed: mean (per seed)", "s/candidate median / mean",
              "ratio to old median / mean", "proxy val acc [%] min / median / max"]]
    for s in summary:
        table.append([s["recipe"], s["n"], f"{s['kendall_tau']:.3f}", f"{s['spearman_rho']:.3f}",
                      f"{s['top5_overlap']}/5", f"{s['kendall_tau_seed0']:.3f}", f"{s['spearman_rho_seed0']:.3f}",
                      f"{s['top5_overlap_seed0']}/5",
                      f"{s['kendall_tau_one_seed_mean']:.3f} ("
                      + " / ".join(f"{float(t):.3f}" for t in s["kendall_tau_by_seed"].split()) + ")",
                      f"{s['s_per_candidate_median']:.2f} / {s['s_per_candidate_mean']:.2f}",
                      f"{s['ratio_to_old_median']:.2f} / {s['ratio_to_old_mean']:.2f}" if old_secs else "-",
                      f"{100 * s['proxy_acc_min']:.1f} / {100 * s['proxy_acc_median']:.1f} / "
                      f"{100 * s['proxy_acc_max']:.1f}"])
    md_table = md(table)
    if ceiling:
        ceil_table = md([["full training", "against", "n", "Kendall tau", "Spearman rho", "top-5 overlap"]]
                        + [[c["recipe"], c["reference"], c["n"], f"{c['kendall_tau']:.3f}", f"{c['spearman_rho']:.3f}",
                            f"{c['top5_overlap']:.2f}/5"] for c in ceiling])
    else:
        ceil_table = f"(needs at least 2 seeds on 3 architectures; {seed_counts})"
    seed_lines = "\n".join(
        f"- seed {s}: {len(full_secs[s])} trainings, test accuracy "
        f"{100 * min(v):.1f}-{100 * max(v):.1f} % (median {100 * statistics.median(v):.1f} %), "
        f"{statistics.median(full_secs[s]):.1f} s per training (median)"
        for s in seeds if (v := [x for a in archs if (x := full_acc(a.id, s)) is not None]))
    refs = list(ref.values())
    ties = len(refs) - len(set(refs))
    import torch

    cmd = "python scripts/proxy_fidelity.py " + " ".join(argv if argv is not None else sys.argv[1:])
    cseed_note = "" if cseed == args.seed else f"; candidate seeds from {cseed}"
    text = f"""# Proxy fidelity on digits

`{cmd.strip()}`: {len(archs)} random architectures of `{Path(args.space).name}` (seed {args.seed}{cseed_note}), each
scored by the search's proxy (`evaluate_candidate` with the recipe below and the candidate's seed, 1 torch
thread as the default search pins) and by {len(seeds)} full from-scratch training(s) with the retraining
recipe of `snnas train` ({FULL_EPOCHS} epochs, test split, training seeds {', '.join(map(str, seeds))}; cached
in `full.csv`; seed 0 is the single reference of the earlier runs). Reference: the {ref_name} test
accuracy, on the {len(complete)} architectures that have all {len(seeds)} seeds (architectures by number of
seeds done: {seed_counts}).

{md_table}

Ceiling of the reference itself (full test accuracies of the seeds against each other, on the
{len(complete)} architectures with all seeds; top-5 overlap averaged where rows are means):

{ceil_table}

Full trainings:
{seed_lines}
- {ref_name}: {100 * min(refs):.1f}-{100 * max(refs):.1f} % (median {100 * statistics.median(refs):.1f} %),
  {ties} tie(s) among {len(refs)} values

Recipes (`train` keys of the eval config; the rest is `TrainConfig`'s defaults):
""" + "\n".join(f"- `{s['recipe']}`: `{s['recipe_train']}`" for s in summary) + f"""
- full: `{json.dumps(full_cfg['train'], sort_keys=True)}`, split test

Machine: {platform.platform()}, {os.cpu_count()} CPU cores, torch {torch.__version__},
{args.workers} worker(s); load average {load_start[0]:.1f} at the start and {load_end[0]:.1f} at the end
({started:%Y-%m-%d %H:%M}); the proxies ran interleaved per architecture, so load drift hits both
alike, but absolute seconds depend on what else the machine was doing. {args.note}

![proxy val accuracy vs full test accuracy](proxy_fidelity.png)
"""
    (out / "proxy_fidelity.md").write_text(text)
    print(md_table)
    print()
    print(ceil_table)
    print(f"written: {out}/proxy_fidelity.md, summary.csv, proxy.csv, full.csv, proxy_fidelity.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
