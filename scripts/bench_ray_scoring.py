"""Benchmark: candidate scoring throughput on Ray with 1 and 2 workers (1 torch thread each).

The evolution strategy's two ways of scoring, through the shared backend exactly as a search runs
them (``snnas.search.make_backend`` + ``EvalJob``):

* ``oneshot``: digits_transformer.yaml subnets with inherited weights (``evaluate_oneshot``); the
  supernet's weights go to Ray's object store once (``Backend.share``);
* ``proxy``: digits.yaml cells trained from scratch for the space's proxy epochs
  (``evaluate_candidate``).

Each backend first scores one warm-up task per worker (imports, data, first allocation), then the
timed batch. Results must equal the serial ones (same seeds); the table gives candidates per second
and the speed-up of 2 workers over 1. Target: >= 1.25x. Writes results/bench_ray_scoring.{csv,md}.

Usage: python scripts/bench_ray_scoring.py [--oneshot 48] [--proxy 12] [-q]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _md import md_table  # noqa: E402

OUT = ROOT / "results"


def _tasks(space, n: int, offset: int = 0):
    from snnas.search import CandidateTask, candidate_seed

    out, seen = [], set()
    for i in range(10_000):
        a = space.sample(np.random.default_rng([11, i]))
        if a.id not in seen:
            seen.add(a.id)
            out.append(CandidateTask(offset + len(out), a.to_json(), candidate_seed(0, offset + len(out))))
        if len(out) == n:
            return out
    return out


def _measure(kind: str, job_for, space, n: int, quiet: bool) -> list[dict]:
    import ray

    from snnas.search import RayBackend

    tasks = _tasks(space, n)
    rows, reference = [], None
    for workers in (1, 2):
        with RayBackend(workers=workers) as backend:
            job = job_for(backend)
            list(backend.map(job, _tasks(space, backend.workers, offset=10_000)))  # warm-up
            start = time.perf_counter()
            results = {t.index: r for t, r in backend.map(job, tasks)}
            seconds = time.perf_counter() - start
        if ray.is_initialized():
            ray.shutdown()
        accs = [results[t.index].get("accuracy") for t in tasks]
        if reference is None:
            reference = accs
        rows.append({"scoring": kind, "workers": workers, "candidates": n, "seconds": round(seconds, 2),
                     "cand_per_s": round(n / seconds, 3), "same_as_1_worker": accs == reference,
                     "failed": sum(bool(results[t.index].get("failed")) for t in tasks)})
        if not quiet:
            print(rows[-1])
    rows[1]["speedup"] = round(rows[0]["seconds"] / rows[1]["seconds"], 2)
    rows[0]["speedup"] = 1.0
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--oneshot", type=int, default=48, help="one-shot candidates (default 48)")
    p.add_argument("--proxy", type=int, default=12, help="proxy-trained candidates (default 12)")
    p.add_argument("--supernet-epochs", type=int, default=3, help="supernet epochs before scoring (default 3)")
    p.add_argument("-q", "--quiet", action="store_true")
    args = p.parse_args()

    import torch

    from snnas.evaluate import load_dataset
    from snnas.search import EvalJob, eval_config_for, evaluate_candidate
    from snnas.search._oneshot import RECALIBRATE_BATCHES, evaluate_oneshot
    from snnas.space import load_space
    from snnas.supernet import SandwichConfig, SandwichTrainer

    rows = []
    tf = load_space(ROOT / "search_spaces" / "digits_transformer.yaml")
    torch.set_num_threads(2)
    trainer = SandwichTrainer(tf, load_dataset("digits"), SandwichConfig(batch_size=64, lr=0.005))
    for _ in range(args.supernet_epochs):
        trainer.train_epoch()
    weights = {k: v.detach().clone() for k, v in trainer.subnet_state().items()}
    cfg = eval_config_for(tf, threads=1, device="cpu")

    def oneshot_job(backend):
        return EvalJob(evaluate_oneshot, str(tf.path), {**cfg, "supernet": backend.share(weights),
                                                        "recalibrate": RECALIBRATE_BATCHES})

    rows += _measure("oneshot (digits_transformer)", oneshot_job, tf, args.oneshot, args.quiet)
    cells = load_space(ROOT / "search_spaces" / "digits.yaml")
    ccfg = eval_config_for(cells, threads=1, device="cpu")
    rows += _measure("proxy (digits)", lambda b: EvalJob(evaluate_candidate, str(cells.path), ccfg), cells,
                     args.proxy, args.quiet)
    df = pd.DataFrame(rows)
    OUT.mkdir(exist_ok=True)
    df.to_csv(OUT / "bench_ray_scoring.csv", index=False)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    text = ["# Ray scoring throughput: 1 vs 2 workers (1 torch thread each)", "",
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average {load:.2f} at "
            "the end; MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 in the workers (snnas._runtime).", "",
            md_table(df), "", "Target: speed-up >= 1.25x with 2 workers. Timed after one warm-up task per worker; "
            "the supernet weights go to the object store once per backend (`Backend.share`).", "",
            "Reproduce: `python scripts/bench_ray_scoring.py`", ""]
    (OUT / "bench_ray_scoring.md").write_text("\n".join(text))
    print("\n".join(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
