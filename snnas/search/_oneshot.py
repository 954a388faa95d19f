"""One-shot scoring: candidates inherit a trained supernet's weights instead of training from scratch.

``evaluate_oneshot`` has the signature of every evaluate function, so it runs on any backend: it
builds the candidate as ``build_network(space, arch)`` (the module that is exported) holding its
share of the supernet's weights: leading slices of the weight-entangled supernet for a transformer
space (``snnas.supernet.extract_subnet``), its path through the single-path cell supernet for a cell
space (``extract_cell_subnet``); then it re-estimates that copy's BatchNorm statistics on a few
training batches (the supernet's running stats mix every subnet's) and measures it with the shared
Evaluator on the validation split. The supernet's weights reach it as a
:class:`~snnas.search._backend.Shared` (``eval_config["supernet"]``), put into Ray's object store
once per run. The scored weights are kept like a proxy training's, for ``snnas export``.

`OneShotSupernet` trains that supernet for a run (sandwich rule for transformers, uniform single
paths for cells), checkpointed after every epoch under ``RUN/checkpoints/supernet/`` (``entangled.pt``
/ ``single_path.pt``) so a run killed mid-training resumes where it stopped.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from snnas.runs import RunStore, write_json_atomic
from snnas.space._architecture import Architecture

ONESHOT_DIR = Path("checkpoints") / "supernet"
RECALIBRATE_BATCHES = 32
"""Training batches (at most; ~2,000 samples at batch 64, the whole train split of digits) that
re-estimate a subnet's BatchNorm statistics before it is scored: 8 left the ranking noisier
(results/supernet_ranking/variants.md)."""


def evaluate_oneshot(space_ref: Any, arch_json: str, eval_config: dict) -> dict:
    """Score ``arch`` with inherited supernet weights; ``Metrics.to_dict()`` or ``{"failed": ...}``."""
    start = time.perf_counter()
    try:
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(int(eval_config.get("threads") or previous))
        try:
            return _score(space_ref, arch_json, dict(eval_config))
        finally:
            torch.set_num_threads(previous)
    except Exception as e:  # a failed candidate, never a crashed search
        from snnas.search._backend import TaskFailure

        return {"failed": TaskFailure.of(e).reason, "wall_time_s": time.perf_counter() - start}


def _score(space_ref: Any, arch_json: str, cfg: dict) -> dict:
    from snnas.evaluate import Evaluator, TrainConfig, resolve_device
    from snnas.search._candidate import _load_data, _load_space, save_scored_weights
    from snnas.supernet import extract_cell_subnet, extract_subnet, recalibrate_subnet

    start = time.perf_counter()
    space = _load_space(str(space_ref)) if isinstance(space_ref, (str, Path)) else space_ref
    arch = Architecture.from_json(arch_json)
    device = resolve_device(cfg.get("device", "cpu"))
    data = _load_data(str(cfg.get("dataset", "digits")), cfg.get("data_root"), int(cfg.get("data_seed", 0)),
                      tuple(sorted((cfg.get("data_options") or {}).items())))
    train = dict(cfg.get("train") or {})
    batch, encoding = int(train.get("batch_size") or 64), train.get("encoding")
    extract = extract_cell_subnet if space.family == "cell" else extract_subnet
    model = extract(space, arch, cfg["supernet"].get(), device=device)
    recalibrate_subnet(model, data, batch_size=batch, batches=int(cfg.get("recalibrate", RECALIBRATE_BATCHES)),
                       time_steps=arch.time_steps, encoding=encoding, seed=int(cfg.get("seed", 0)), device=device)
    evaluator = Evaluator(data, TrainConfig(batch_size=batch, time_steps=arch.time_steps, encoding=encoding,
                                            device=device, quiet=True), hardware=cfg.get("hardware", "45nm-fp32"))
    metrics = evaluator.evaluate(model, split=cfg.get("split", "val"), _start=start)
    if not metrics.failed:
        save_scored_weights(cfg, arch, model)
    return metrics.to_dict()


CHECKPOINTS = {"transformer": "entangled", "cell": "single_path"}
"""The supernet checkpoint's file stem per space family (``.pt``; ``-history.json`` beside it)."""


def check_oneshot_space(space: Any) -> None:
    """Raise (one line, naming the space file) unless one supernet can score every candidate."""
    from snnas.errors import SpaceError

    if space.family == "transformer":
        from snnas.supernet import check_weight_sharing

        check_weight_sharing(space)
    elif space.family == "cell":
        where = str(space.path) if getattr(space, "path", None) else space.name
        if (space.settings or {}).get("topology") == "dag":
            raise SpaceError("one-shot scoring of a cell space needs the trellis topology (the dhs supernet); "
                             "a dag cell has none: use scoring: proxy", file=where, path="cell.topology")
        widths = space.choices("stem_channels")
        if len(widths) > 1:
            raise SpaceError(f"one-shot scoring of a cell space needs one stem width (the supernet holds "
                             f"one stem), this space lists {list(widths)}; list one or use scoring: proxy",
                             file=where, path="cell.stem_channels")
    else:
        raise ValueError(f"one-shot scoring needs a transformer or cell space; '{space.name}' is "
                         f"{space.family}: use scoring: proxy")


class OneShotSupernet:
    """The supernet of a run: weight-entangled (sandwich rule) for a transformer space, the cell
    supernet trained one uniform path at a time for a cell space; trained to ``epochs``,
    checkpointed after each epoch, resumed from the last checkpoint. ``threads`` is fixed per run
    (CPU results depend on it)."""

    def __init__(self, space: Any, store: RunStore, eval_config: dict, *, epochs: int, lr: float,
                 batch_size: int, seed: int, threads: int | None = None, max_batches: int | None = None):
        from snnas.evaluate import resolve_device
        from snnas.search._candidate import _load_data
        from snnas.supernet import SandwichConfig, SandwichTrainer, SinglePathConfig, SinglePathTrainer

        check_oneshot_space(space)
        cfg = dict(eval_config)
        data = _load_data(str(cfg.get("dataset") or space.dataset), cfg.get("data_root"),
                          int(cfg.get("data_seed", 0)), tuple(sorted((cfg.get("data_options") or {}).items())))
        self.epochs, self.store = int(epochs), store
        self.threads = int(threads or os.cpu_count() or 1)
        common = dict(batch_size=int(batch_size), lr=float(lr), seed=int(seed),
                      device=resolve_device(cfg.get("device", "cpu")), encoding=space.encoding,
                      max_batches=max_batches)
        self.trainer: Any
        if space.family == "cell":
            self.trainer = SinglePathTrainer(space, data, SinglePathConfig(**common))
            self.kind = "single path"
        else:
            self.trainer = SandwichTrainer(space, data, SandwichConfig(**common))
            self.kind = "sandwich"
        self.name = CHECKPOINTS[space.family]
        self.path = store.path / ONESHOT_DIR / f"{self.name}.pt"
        if self.path.exists():
            import torch

            self.trainer.load_state(torch.load(self.path, weights_only=True, map_location=self.trainer.device))

    def train(self, quiet: bool = False) -> dict[str, Any]:
        """Train on to ``epochs`` (nothing when a resumed run is already there); returns the weights
        (plain CPU state dict) that candidates inherit."""
        import torch
        from tqdm.auto import tqdm

        t = self.trainer
        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        bar = tqdm(total=self.epochs, initial=min(t.epoch, self.epochs), disable=quiet, unit="epoch",
                   desc=f"supernet ({self.kind})", dynamic_ncols=True)
        try:
            while t.epoch < self.epochs:
                row = t.train_epoch()
                self._save()
                bar.update(1)
                bar.set_postfix_str(f"loss {row['loss']:.3f} acc {100 * row['acc']:.1f} %", refresh=False)
        finally:
            bar.close()
            torch.set_num_threads(previous)
        return {k: v.detach().cpu() for k, v in t.subnet_state().items()}

    def _save(self) -> None:
        import torch

        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        torch.save(self.trainer.state(), tmp)
        tmp.replace(self.path)
        write_json_atomic(self.path.with_name(f"{self.name}-history.json"), {"history": self.trainer.history})
