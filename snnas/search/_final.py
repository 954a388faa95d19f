"""The final stage of every search: the front's top-k retrained from scratch with the full recipe.

A proxy score ranks candidates; it is not what a user reports. After the strategy has spent its
budget, ``top_k`` candidates of the Pareto front (``pick``: the best by the run's first objective,
accuracy by default, or spread along the front) are trained from scratch with the space's
``final_epochs`` on the test split, ``seeds`` times each, through the same code as ``snnas train``
and on the search's own backend (all seeds of all candidates in parallel). Each finished seed is
written at once (``RUN/retrain/<id>/seed<n>.json``), so an interrupted final stage resumes with the
seeds that are missing; ``results.json`` per candidate then holds test accuracy mean and std, and
the reports put it beside the proxy's.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snnas.errors import RunError
from snnas.runs import RETRAIN_DIR, CandidateRecord, RunStore, write_json_atomic
from snnas.search._backend import Backend, TaskFailure
from snnas.search._candidate import PROXY_ONLY, eval_config_for, evaluate_candidate

FINAL_DEFAULTS = {"top_k": 3, "epochs": 20, "seeds": 2, "pick": "first"}
"""The final stage when neither the space (``search.final_top_k`` / ``final_epochs`` /
``final_seeds`` / ``final_pick``) nor the command line says otherwise. Its learning rate (``final_lr``) defaults to
the search's own (``search.lr``)."""


PICKS = ("first", "spread")
"""How the final stage picks its ``top_k`` from the front (:func:`top_of_front`)."""


@dataclass(frozen=True)
class SeedTask:
    """One seed of one candidate: what a worker needs besides the shared recipe."""

    cand_id: str
    arch_json: str
    seed: int
    out_dir: str


@dataclass(frozen=True)
class SeedJob:
    """Train a candidate from scratch with one seed, measure on test, save the weights.

    A picklable callable of plain data, so a Ray worker runs it like a search's ``EvalJob``."""

    space_path: str
    recipe: dict

    def __call__(self, task: SeedTask) -> dict:
        name = f"seed{task.seed}.pt"
        cfg = dict(self.recipe, seed=task.seed, weights_path=str(Path(task.out_dir) / name))
        return {"seed": task.seed, "weights": name, **evaluate_candidate(self.space_path, task.arch_json, cfg)}


def final_config(space: Any, top_k: int | None = None, epochs: int | None = None,
                 seeds: int | None = None, lr: float | None = None, pick: str | None = None) -> dict[str, Any]:
    """The final stage of a run: arguments, else the space's ``search.final_*`` keys, else defaults
    (``lr`` None: the search's learning rate)."""
    d = dict(getattr(space, "defaults", None) or {})
    out: dict[str, Any] = {}
    for key, given in (("top_k", top_k), ("epochs", epochs), ("seeds", seeds)):
        value = given if given is not None else d.get(f"final_{key}", FINAL_DEFAULTS[key])
        out[key] = int(value)
    out["pick"] = str(pick or d.get("final_pick") or FINAL_DEFAULTS["pick"])
    if out["pick"] not in PICKS:
        raise RunError(f"final stage: pick must be one of {', '.join(PICKS)}, got '{out['pick']}'")
    lr = lr if lr is not None else d.get("final_lr")
    out["lr"] = None if lr is None else float(lr)
    return out


def full_train(train: dict | None, epochs: int) -> dict:
    """A proxy's ``train`` keys as a full training uses them: ``epochs`` of training, less the
    proxy-only keys (:data:`~snnas.search._candidate.PROXY_ONLY`)."""
    return {**{k: v for k, v in (train or {}).items() if k not in PROXY_ONLY}, "epochs": int(epochs)}


def retrain_recipe(store: RunStore, space: Any, epochs: int) -> dict:
    """The run's own evaluation config with :func:`full_train` keys, the final stage's learning rate
    (when the run sets one) and the test split."""
    recipe = dict(store.config.get("eval_config") or eval_config_for(space))
    recipe["train"] = full_train(recipe.get("train"), epochs)
    lr = (store.config.get("final") or {}).get("lr")
    if lr is not None:
        recipe["train"]["lr"] = float(lr)
    recipe.update(split="test")
    recipe.pop("weights_dir", None)
    return recipe


def top_of_front(store: RunStore, k: int, pick: str = "first") -> list[CandidateRecord]:
    """``k`` distinct architectures of the run's Pareto front, ordered by its first objective (ties:
    index): the ``k`` best (``pick="first"``), or the best and ``k - 1`` more at evenly spaced
    positions of that order down to its last (``"spread"``: on an accuracy-energy front, down to the
    least energy). An architecture scored twice (a dhs supernet deriving the same network again, a
    random draw repeated) counts once, as its best-ranked record."""
    from snnas.report import pareto_front, rank_by_first

    if pick not in PICKS:
        raise RunError(f"final stage: pick must be one of {', '.join(PICKS)}, got '{pick}'")
    front = pareto_front(store.records(), store.objectives, store.constraints)
    seen: set[str] = set()
    ranked = []
    for rec in rank_by_first(front, store.objectives):
        if rec.id not in seen:
            seen.add(rec.id)
            ranked.append(rec)
    if pick == "first" or k >= len(ranked):
        return ranked[:k]
    if k == 1:
        return ranked[:1]
    return [ranked[round(j * (len(ranked) - 1) / (k - 1))] for j in range(k)]


def _seed_file(out: Path, seed: int) -> Path:
    return out / f"seed{seed}.json"


def _summary(rec: CandidateRecord, epochs: int, rows: list[dict]) -> dict[str, Any]:
    ok = [r for r in rows if not r.get("failed")]
    accs = [r["accuracy"] for r in ok]
    return {
        "id": rec.id, "architecture": rec.arch.summary(), "epochs": epochs, "seeds": rows,
        "test_accuracy_mean": statistics.fmean(accs) if accs else None,
        "test_accuracy_std": statistics.pstdev(accs) if accs else None,
        "energy_mj": statistics.fmean(r["energy_mj"] for r in ok) if ok else None,
        "best_weights": max(ok, key=lambda r: r["accuracy"])["weights"] if ok else None,
        "failed": [r.get("failed") for r in rows if r.get("failed")],
    }


def retrain_records(store: RunStore, space: Any, recs: Sequence[CandidateRecord], epochs: int, seeds: int,
                    backend: Backend, quiet: bool = False, desc: str = "final stage") -> list[dict[str, Any]]:
    """Retrain each of ``recs`` for ``seeds`` seeds on ``backend``; one summary per candidate.

    Seeds already trained with the same number of epochs are read back, not trained again (resume).
    """
    from tqdm.auto import tqdm

    recipe = retrain_recipe(store, space, epochs)
    done: dict[str, dict[int, dict]] = {}
    tasks: list[SeedTask] = []
    for rec in recs:
        out = (store.path / RETRAIN_DIR / rec.id).resolve()  # absolute: Ray workers run elsewhere
        out.mkdir(parents=True, exist_ok=True)
        done[rec.id] = {}
        for seed in range(seeds):
            f = _seed_file(out, seed)
            row = json.loads(f.read_text()) if f.is_file() else None
            if row is not None and row.get("epochs") == epochs and not row.get("failed"):
                done[rec.id][seed] = row
            else:
                tasks.append(SeedTask(rec.id, rec.arch.to_json(), seed, str(out)))
    job = SeedJob(str(store.space_path.resolve()), recipe)
    with tqdm(total=len(recs) * seeds, initial=len(recs) * seeds - len(tasks), desc=desc, unit="seed",
              disable=quiet or not tasks, dynamic_ncols=True) as bar:
        results = backend.map(job, tasks)
        try:
            for task, row in results:
                row = {"seed": task.seed, "failed": row.reason} if isinstance(row, TaskFailure) else row
                row["epochs"] = epochs
                write_json_atomic(_seed_file(Path(task.out_dir), task.seed), row)
                done[task.cand_id][task.seed] = row
                bar.update()
        finally:
            getattr(results, "close", lambda: None)()
    summaries = []
    for rec in recs:
        rows = [done[rec.id][s] for s in sorted(done[rec.id])]
        summary = _summary(rec, epochs, rows)
        write_json_atomic(store.path / RETRAIN_DIR / rec.id / "results.json", summary)
        summaries.append(summary)
    return summaries


def final_pending(store: RunStore) -> bool:
    """Whether the run's final stage still has seeds to train (for its current front)."""
    final = store.config.get("final") or {}
    if int(final.get("top_k", 0)) <= 0:
        return False
    for rec in top_of_front(store, int(final["top_k"]), str(final.get("pick", "first"))):
        out = store.path / RETRAIN_DIR / rec.id
        for seed in range(int(final["seeds"])):
            f = _seed_file(out, seed)
            row = json.loads(f.read_text()) if f.is_file() else {}
            if row.get("epochs") != int(final["epochs"]) or row.get("failed"):
                return True
    return False


def run_final_stage(store: RunStore, space: Any, backend: Backend, quiet: bool = False) -> list[dict[str, Any]]:
    """The run's final stage (``config["final"]``; nothing when absent or ``top_k`` is 0)."""
    final = store.config.get("final") or {}
    k = int(final.get("top_k", 0))
    if k <= 0:
        return []
    recs = top_of_front(store, k, str(final.get("pick", "first")))
    if not recs:
        return []
    return retrain_records(store, space, recs, int(final["epochs"]), int(final["seeds"]), backend, quiet)
