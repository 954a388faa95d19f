"""`evaluate_candidate`: the default evaluate function, train-from-scratch then measure.

It is a plain top-level function of plain data so a Ray worker can run it: the space (a path, loaded
once per process, or a SearchSpace object), the Architecture as JSON, and the run's evaluation config

``{"dataset": "digits", "data_root": None, "data_seed": 0, "data_options": {}, "data_per_time_steps":
False, "hardware": "45nm-fp32", "split": "val", "train": {TrainConfig fields: epochs, batch_size,
lr, encoding, max_batches...}}`` (:func:`eval_config_for` builds it from a space and CLI options),

to which the strategy adds the candidate's ``seed`` and ``index``. With ``weights_dir`` set, the
proxy-trained weights are saved there as ``<index>-<arch id>.pt`` (what ``snnas export`` falls back to);
``weights_path`` names the file instead (``snnas train`` saves each seed so).
The network is built only through ``build_network`` and scored only by the shared ``Evaluator``,
so what is scored is what is exported.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path
from typing import Any

from snnas.space._architecture import Architecture

PROXY_TRAIN: dict[str, Any] = {"bn_recalibrate": 4, "schedule": "none"}
"""``TrainConfig`` fields every from-scratch proxy training adds to the space's ``search:`` keys.

A proxy of a couple of epochs leaves BatchNorm's running statistics (momentum 0.1) behind weights
that are still moving fast, so eval-mode accuracy of a good candidate can sit near chance; four
forward-only training batches after training re-estimate them for the final weights (about 2 % of
a 2-epoch proxy's cost). A constant learning rate: a cosine over two epochs spends its second half
at a small LR, where candidates stop separating; kept constant, the 2-epoch proxy ranks as well as
the 5-epoch cosine one did at 0.45x its cost (Kendall tau 0.74 vs 0.67 with the cosine, against the
3-seed mean of 20-epoch trainings: ``results/proxy_fidelity/``). Retraining inherits the BN
re-estimation, where it is harmless (statistics of the final weights after 20 epochs), but not the
schedule (:data:`PROXY_ONLY`)."""

PROXY_ONLY = frozenset({"schedule"})
"""Keys of :data:`PROXY_TRAIN` a retraining (final stage, ``snnas train``) drops: the full recipe
anneals with ``TrainConfig``'s cosine."""


def eval_config_for(space: Any, *, epochs: int | None = None, batch_size: int | None = None,
                    lr: float | None = None, max_batches: int | None = None, hardware: str | None = None,
                    data_root: str | Path | None = None, data_seed: int = 0, threads: int = 1,
                    device: str | None = None) -> dict:
    """The evaluation config of a search over ``space``: its task (dataset, encoding, hardware) and
    proxy recipe (``search.proxy_epochs``, ``batch_size``, ``lr``, each overridable by CLI flags,
    plus :data:`PROXY_TRAIN` when candidates are trained from scratch, ``proxy_epochs`` > 0).

    ``threads`` is torch's intra-op thread count while a candidate trains. CPU results depend on it
    (reductions split differently), so it is fixed per run: serial, Ray and resumed evaluations of a
    candidate then agree exactly. Parallelism across candidates comes from ``--workers``.
    ``device`` (default: the space's ``search.device``, else ``auto``) is resolved by each worker on
    its own machine (:func:`snnas.evaluate.resolve_device`)."""
    d = dict(getattr(space, "defaults", None) or {})
    train = {"epochs": epochs if epochs is not None else d.get("proxy_epochs"),
             "batch_size": batch_size if batch_size is not None else d.get("batch_size"),
             "lr": lr if lr is not None else d.get("lr"), "encoding": getattr(space, "encoding", None),
             "max_batches": max_batches}
    if (train["epochs"] or 0) > 0:
        train.update(PROXY_TRAIN)
    dataset = getattr(space, "dataset", "digits")
    return {"dataset": dataset, "data_root": None if data_root is None else str(Path(data_root).resolve()),
            "data_seed": int(data_seed), "data_options": {}, "data_per_time_steps": dataset == "events",
            "hardware": hardware or getattr(space, "hardware", None) or "45nm-fp32", "split": "val",
            "threads": int(threads), "device": device or d.get("device") or "auto",
            "train": {k: v for k, v in train.items() if v is not None}}


CANDIDATE_WEIGHTS = Path("checkpoints") / "weights"
"""Where in a run directory the search keeps each candidate's proxy-trained weights."""


@functools.lru_cache(maxsize=4)
def _load_space(path: str) -> Any:
    from snnas.space import load_space

    return load_space(path)


@functools.lru_cache(maxsize=4)
def _load_data(name: str, root: str | None, seed: int, options: tuple) -> Any:
    from snnas.evaluate import load_dataset

    return load_dataset(name, root=root, seed=seed, **dict(options))


def check_data(eval_config: dict) -> None:
    """Load the run's data set once up front (cached for serial evaluation), so a missing or
    malformed data path is one clear ``DataError`` before a run directory exists, not a run whose
    every candidate failed."""
    cfg = eval_config
    _load_data(str(cfg.get("dataset", "digits")), cfg.get("data_root"), int(cfg.get("data_seed", 0)),
               tuple(sorted((cfg.get("data_options") or {}).items())))


def candidate_weights_name(index: int, arch_id: str) -> str:
    """File name of candidate ``index``'s proxy weights under ``CANDIDATE_WEIGHTS`` (by index: an
    architecture drawn twice is two candidates with two trainings)."""
    return f"{int(index):05d}-{arch_id}.pt"


def evaluate_candidate(space_ref: Any, arch_json: str, eval_config: dict) -> dict:
    """Train ``arch`` from scratch with the proxy recipe and return ``Metrics.to_dict()``.

    Any failure (a build error, out of memory, a diverging loss reported by the Evaluator) comes back
    as a dict with ``failed`` set to ``"ExceptionType: message"``; it never raises. Torch runs with
    the config's ``threads`` meanwhile (the caller's setting is restored).
    """
    start = time.perf_counter()
    try:
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(int(eval_config.get("threads") or previous))
        try:
            return _train_and_measure(space_ref, arch_json, dict(eval_config))
        finally:
            torch.set_num_threads(previous)
    except Exception as e:  # every failure is a recorded candidate, not a crash
        from snnas.search._backend import TaskFailure

        return {"failed": TaskFailure.of(e).reason, "wall_time_s": time.perf_counter() - start}


def _train_and_measure(space_ref: Any, arch_json: str, cfg: dict) -> dict:
    import torch

    from snnas.evaluate import Evaluator, TrainConfig
    from snnas.nn import build_network

    space = _load_space(str(space_ref)) if isinstance(space_ref, (str, Path)) else space_ref
    arch = Architecture.from_json(arch_json)
    seed = int(cfg.get("seed", 0))
    options = dict(cfg.get("data_options") or {})
    if cfg.get("data_per_time_steps"):  # event data is integrated into T frames per candidate
        options["time_steps"] = arch.time_steps
    data = _load_data(str(cfg.get("dataset", "digits")), cfg.get("data_root"),
                      int(cfg.get("data_seed", 0)), tuple(sorted(options.items())))
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(cfg.get("train") or {}) - known
    if unknown:
        raise ValueError(f"unknown training option(s): {', '.join(sorted(unknown))}")
    train_kw = dict(cfg.get("train") or {})
    from snnas.evaluate import resolve_device

    train_kw.update(time_steps=arch.time_steps, seed=seed, quiet=True, device=resolve_device(cfg.get("device", "cpu")))
    torch.manual_seed(seed)  # weight initialisation, so a candidate scores the same everywhere
    model = build_network(space, arch)
    evaluator = Evaluator(data, TrainConfig(**train_kw), hardware=cfg.get("hardware", "45nm-fp32"))
    metrics = evaluator.train_and_evaluate(model, split=cfg.get("split", "val"))
    if not metrics.failed:
        save_scored_weights(cfg, arch, model)
    return metrics.to_dict()


def save_scored_weights(cfg: dict, arch: Architecture, model: Any) -> None:
    """Keep the weights a candidate was scored with, so `snnas export` has exactly them: at
    ``cfg["weights_path"]``, else under ``cfg["weights_dir"]`` (nowhere when neither is set)."""
    import torch

    target = cfg.get("weights_path")
    if not target and cfg.get("weights_dir"):
        target = Path(cfg["weights_dir"]) / candidate_weights_name(cfg.get("index", 0), arch.id)
    if not target:
        return
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    torch.save({k: v.cpu() for k, v in model.state_dict().items()}, tmp)
    tmp.replace(target)
