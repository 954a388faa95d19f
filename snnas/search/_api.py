"""One-call API over the object API: ``search(...)`` starts a run, ``resume(...)`` continues one.

Both load the space, open the run store, pick the backend, let the strategy evaluate and record
candidates, and write the reports at the end. The CLI is a thin layer over these two functions.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snnas.errors import RunError
from snnas.runs import CandidateRecord, RunStore
from snnas.search._backend import make_backend
from snnas.search._candidate import CANDIDATE_WEIGHTS, check_data, eval_config_for, evaluate_candidate
from snnas.search._evaluation import EvaluateFn
from snnas.search._final import final_config, run_final_stage
from snnas.search._strategy import Strategy, make_strategy


@dataclass
class SearchResult:
    """What a search left behind: the run directory, every record by index, the report files and
    the final stage's retraining summaries (one per retrained candidate)."""

    run_dir: Path
    records: list[CandidateRecord]
    reports: dict[str, Path] = field(default_factory=dict)
    final: list[dict[str, Any]] = field(default_factory=list)


def _default_load(path: str | Path) -> Any:
    from snnas.space import load_space

    return load_space(path)


def run_space(store: RunStore, load_space: Callable[[str | Path], Any] | None = None) -> Any:
    """The SearchSpace of a run (its own copy), with the hardware-profile files the run was started
    with registered first, so resume, report, export and retrain all see the same profiles."""
    files = store.config.get("hardware_files")
    if files:
        from snnas.evaluate import use_hardware_files

        use_hardware_files(files)
    return (load_space or _default_load)(store.space_path)


def function_name(fn: Callable) -> str:
    """``module:qualname``, stored in config.json so a resume evaluates the same way."""
    return f"{fn.__module__}:{fn.__qualname__}"


def import_function(name: str) -> Callable:
    """The function named ``module:qualname`` (inverse of :func:`function_name`)."""
    module, _, qual = name.partition(":")
    try:
        obj: Any = importlib.import_module(module)
        for part in qual.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError, ValueError):
        raise RunError(f"cannot import the run's evaluate function '{name}'; pass it explicitly") from None
    return obj


def search(space_path: str | Path, out_dir: str | Path, *, strategy: str = "random",
           budget: int | None = None, seed: int = 0, eval_config: Mapping | None = None,
           workers: int = 1, address: str | None = None,
           evaluate: EvaluateFn | None = None, strategy_options: Mapping | None = None,
           quiet: bool = False, argv: Sequence[str] | None = None, extra_config: Mapping | None = None,
           load_space: Callable[[str | Path], Any] | None = None, reports: bool = True,
           final: Mapping[str, int] | None = None, gpus_per_worker: float | None = None) -> SearchResult:
    """Start a run in ``out_dir`` and evaluate ``budget`` candidates of ``strategy``, then run the
    final stage (the front's top-k retrained from scratch, see ``_final``).

    ``budget`` defaults to the space's ``search.budget``. ``evaluate`` defaults to
    :func:`evaluate_candidate` (train from scratch with ``eval_config``, default
    :func:`eval_config_for` the space); ``workers`` > 1 or an ``address`` evaluates on Ray.
    ``extra_config`` is stored in config.json. ``final`` (``top_k``, ``epochs``, ``seeds``, ``lr``, ``pick``) overrides
    the space's ``search.final_*`` keys; with a custom ``evaluate`` the final stage is off unless
    ``final`` is given (retraining trains real networks). ``gpus_per_worker`` is what each Ray task
    reserves (default: ``1 / workers`` when the run's device is CUDA on this machine, else 0).
    """
    load = load_space or _default_load
    space = load(space_path)  # a broken space fails before a run directory is made
    strat = make_strategy(strategy, **dict(strategy_options or {}))
    if budget is None:  # e.g. evolution's population x generations, else the space's search.budget
        budget = strat.default_budget(space)
    if budget is None:
        budget = (getattr(space, "defaults", None) or {}).get("budget")
        if budget is None:
            raise RunError("no budget: pass one or set search.budget in the space file")
    eval_config = dict(eval_config_for(space) if eval_config is None else eval_config)
    if evaluate is None:  # keep what was scored, for `snnas export`; fail on bad data before the run
        eval_config.setdefault("weights_dir", str(Path(out_dir).resolve() / CANDIDATE_WEIGHTS))
        check_data(eval_config)
    final_cfg = final_config(space, **dict(final or {})) if (evaluate is None or final) else {"top_k": 0}
    evaluate = evaluate or evaluate_candidate
    config = dict(extra_config or {})
    from snnas.evaluate import hardware_files

    config.setdefault("hardware_files", hardware_files())
    config.setdefault("aeb_lambda", (getattr(space, "defaults", None) or {}).get("aeb_lambda", 0.07))
    config["gpus_per_worker"] = _gpus_per_worker(eval_config.get("device", "cpu"), workers, address,
                                                 gpus_per_worker)
    config.update(strategy=strategy, strategy_options=dict(strategy_options or {}), budget=int(budget),
                  seed=int(seed), workers=int(workers), address=address, eval_config=dict(eval_config or {}),
                  evaluate=function_name(evaluate), argv=list(sys.argv if argv is None else argv), final=final_cfg)
    with RunStore.create(out_dir, space_path, config, objectives=space) as store:
        return _execute(store, space, strat, evaluate, workers, address, quiet, reports)


def _gpus_per_worker(device: str, workers: int, address: str | None, given: float | None) -> float:
    if given is not None:
        if given < 0:
            raise RunError(f"--gpus-per-worker must be >= 0, got {given:g}")
        return float(given)
    if (workers <= 1 and not address) or device == "cpu" or address:
        return 0.0
    if device == "auto":
        import torch

        if not torch.cuda.is_available():
            return 0.0
    return 1.0 / max(int(workers), 1)


def resume(run_dir: str | Path, *, budget: int | None = None, workers: int | None = None,
           address: str | None = None, evaluate: EvaluateFn | None = None, quiet: bool = False,
           argv: Sequence[str] | None = None, load_space: Callable[[str | Path], Any] | None = None,
           reports: bool = True) -> SearchResult:
    """Continue the run in ``run_dir`` with its own space copy, seed, strategy and eval config.

    Candidates already recorded are kept; the rest (including any lost in flight) are evaluated, so
    the final list equals an uninterrupted run's. ``budget`` may raise (or lower) the run's budget;
    ``workers``/``address`` change only how fast it goes (both None: as the run was started).
    """
    with RunStore.open(run_dir) as store:
        cfg = store.config
        space = run_space(store, load_space)
        strat = make_strategy(cfg.get("strategy", "random"), **dict(cfg.get("strategy_options") or {}))
        evaluate = evaluate or import_function(cfg.get("evaluate", function_name(evaluate_candidate)))
        if workers is None and address is None:  # as the run was started
            workers, address = int(cfg.get("workers", 1)), cfg.get("address")
        workers = int(workers or 1)
        resumes = list(cfg.get("resumes", []))
        resumes.append({"time": _dt.datetime.now().isoformat(timespec="seconds"), "workers": workers,
                        "argv": list(sys.argv if argv is None else argv),
                        "recorded_before": len(store.done_indices())})
        changes: dict[str, Any] = {"resumes": resumes}
        if budget is not None:
            changes["budget"] = int(budget)
        store.update_config(**changes)
        return _execute(store, space, strat, evaluate, workers, address, quiet, reports)


def _execute(store: RunStore, space: Any, strat: Strategy, evaluate: EvaluateFn, workers: int,
             address: str | None, quiet: bool, reports: bool) -> SearchResult:
    cfg = store.config
    with make_backend(workers, address, gpus=float(cfg.get("gpus_per_worker") or 0.0)) as backend:
        records = strat.run(space, store, evaluate=evaluate, budget=int(cfg["budget"]), seed=int(cfg["seed"]),
                            backend=backend, eval_config=cfg.get("eval_config") or {}, quiet=quiet)
        final = run_final_stage(store, space, backend, quiet)
    paths: dict[str, Path] = {}
    if reports:
        from snnas.report import write_reports

        paths = write_reports(store)  # objectives and constraints as recorded in the run
    return SearchResult(store.path, records, paths, final)
