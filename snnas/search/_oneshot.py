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

Few-shot split (Zhao et al., "Few-shot Neural Architecture Search", ICML 2021), transformer spaces:
``search.supernet_split`` names genes (e.g. ``[neuron.tau, neuron.threshold]``); one supernet is
trained per combination of their choices, on subnets with those genes pinned to it
(``entangled@<choices>.pt``, e.g. ``entangled@1-0.pt``), and a candidate inherits the weights of its
own partition's supernet. Each costs a whole supernet training. On digits_transformer.yaml the split
by the two neuron genes (4 supernets, 4x the training time) ranks no better than one supernet:
Kendall tau 0.444 vs 0.443 over the same 10 package supernets (5 at 1 thread, 5 at 2), 0.545 vs
0.464 in 10 runs of scripts/supernet_variants.py at 1 thread; inside the seed spread (sd ~0.15;
results/supernet_ranking/split, variants.md). It is there for spaces where the neuron settings
pull the shared weights apart further.

Supernet ensemble, either family: ``search.supernet_ensemble: K`` trains K supernets (seeds
``seed`` .. ``seed + K - 1``; ``entangled-s<k>.pt`` beside ``entangled.pt``) and scores a candidate
with each, its metrics the mean over the K (the weights kept for ``snnas export`` are the first
member's). Which subnet a supernet favours depends on its seed as much as on the subnet
(results/supernet_ranking/variants.md); the mean over seeds cancels part of that, at K times the
supernet training and scoring.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Sequence
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
    evaluator = Evaluator(data, TrainConfig(batch_size=batch, time_steps=arch.time_steps, encoding=encoding,
                                            device=device, quiet=True), hardware=cfg.get("hardware", "45nm-fp32"))
    scores = []
    for k, weights in enumerate(ensemble_members(cfg["supernet"].get())):
        model = extract(space, arch, inherited_weights(space, arch, weights), device=device)
        recalibrate_subnet(model, data, batch_size=batch, batches=int(cfg.get("recalibrate", RECALIBRATE_BATCHES)),
                           time_steps=arch.time_steps, encoding=encoding, seed=int(cfg.get("seed", 0)), device=device)
        scores.append(evaluator.evaluate(model, split=cfg.get("split", "val"), _start=start))
        if scores[-1].failed:
            return scores[-1].to_dict()
        if k == 0:
            save_scored_weights(cfg, arch, model)
    return mean_metrics(scores, wall_time_s=time.perf_counter() - start).to_dict()


def ensemble_members(weights: dict) -> list[dict]:
    """The supernets of a run's weights: ``weights["members"]`` of an ensemble, else ``[weights]``."""
    return list(weights["members"]) if "members" in weights else [weights]


def mean_metrics(scores: Sequence[Any], wall_time_s: float) -> Any:
    """One ``Metrics`` from an ensemble's: accuracy, energy, op counts and firing rates averaged
    (params and time steps are the architecture's, the same in every member)."""
    import dataclasses

    import numpy as np

    mean = {f: float(np.mean([getattr(m, f) for m in scores]))
            for f in ("accuracy", "energy_mj", "macs", "acs", "mean_firing_rate")}
    rates = {k: float(np.mean([m.firing_rates[k] for m in scores])) for k in scores[0].firing_rates}
    return dataclasses.replace(scores[0], **mean, firing_rates=rates, wall_time_s=wall_time_s)


CHECKPOINTS = {"transformer": "entangled", "cell": "single_path"}
"""The supernet checkpoint's file stem per space family (``.pt``; ``-history.json`` beside it)."""
MAX_PARTS = 64
"""Most supernets a few-shot split times an ensemble may train (each costs a whole supernet training)."""


def _where(space: Any) -> str:
    return str(space.path) if getattr(space, "path", None) else space.name


def split_genes(space: Any, names: Sequence[str] | None) -> list[int]:
    """The gene indices of a few-shot split (``search.supernet_split``), checked against the space:
    one line naming the file and field when a name is not a gene of it."""
    from snnas.errors import SpaceError

    if not names:
        return []
    where = _where(space)
    if space.family != "transformer":
        raise SpaceError("a few-shot split needs a transformer space (one weight-entangled supernet per "
                         "partition); drop it", file=where, path="search.supernet_split")
    genes = [d.name for d in space.decisions]
    out = []
    for name in names:
        if name not in genes:
            raise SpaceError(f"'{name}' is not a gene of this space; genes: {', '.join(genes)}", file=where,
                             path="search.supernet_split")
        out.append(genes.index(name))
    return out


def part_key(genome: Sequence[int], genes: Sequence[int]) -> str:
    """The partition of a genome in a few-shot split: its choices of ``genes``, ``-``-joined."""
    return "-".join(str(genome[i]) for i in genes)


def inherited_weights(space: Any, arch: Architecture, weights: dict) -> dict:
    """The supernet weights ``arch`` inherits: ``weights`` itself, or under a few-shot split
    (``{"split_genes": [...], "parts": {key: weights}}``) its partition's."""
    if "parts" not in weights or "split_genes" not in weights:
        return weights
    return weights["parts"][part_key(space.encode(arch), weights["split_genes"])]


def check_oneshot_space(space: Any) -> None:
    """Raise (one line, naming the space file) unless one supernet can score every candidate."""
    from snnas.errors import SpaceError

    if space.family == "transformer":
        from snnas.supernet import check_weight_sharing

        check_weight_sharing(space)
    elif space.family == "cell":
        where = _where(space)
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
    checkpointed after each epoch (unless ``store`` is None), resumed from the last checkpoint.
    ``split`` names the genes of a few-shot split (transformer spaces; one supernet per combination
    of their choices, trained one after the other); ``ensemble`` supernets of each (seeds ``seed``,
    ``seed + 1``, ...) score every candidate together. ``threads`` is fixed per run (CPU results
    depend on it)."""

    def __init__(self, space: Any, store: RunStore | None, eval_config: dict, *, epochs: int, lr: float,
                 batch_size: int, seed: int, threads: int | None = None, max_batches: int | None = None,
                 split: Sequence[str] | None = None, ensemble: int = 1):
        from snnas.evaluate import resolve_device
        from snnas.search._candidate import _load_data
        from snnas.supernet import SandwichConfig, SandwichTrainer, SinglePathConfig, SinglePathTrainer

        check_oneshot_space(space)
        self.genes = split_genes(space, split)
        self.ensemble = int(ensemble)
        if self.ensemble < 1:
            raise ValueError(f"a supernet ensemble has at least 1 member, got {ensemble}")
        cfg = dict(eval_config)
        data = _load_data(str(cfg.get("dataset") or space.dataset), cfg.get("data_root"),
                          int(cfg.get("data_seed", 0)), tuple(sorted((cfg.get("data_options") or {}).items())))
        self.epochs, self.store = int(epochs), store
        self.threads = int(threads or os.cpu_count() or 1)
        common = dict(batch_size=int(batch_size), lr=float(lr), device=resolve_device(cfg.get("device", "cpu")),
                      encoding=space.encoding, max_batches=max_batches)
        combos = list(itertools.product(*(range(len(space.decisions[i].choices)) for i in self.genes)))
        if len(combos) * self.ensemble > MAX_PARTS:
            from snnas.errors import SpaceError

            raise SpaceError(f"{len(combos)} partitions x {self.ensemble} members is more than {MAX_PARTS} "
                             "supernets: fewer members or split genes", file=_where(space),
                             path="search.supernet_ensemble" if self.ensemble > 1 else "search.supernet_split")
        self.trainers: dict[tuple[int, str], Any] = {}  # (ensemble member, partition key) -> trainer
        for member in range(self.ensemble):
            if space.family == "cell":
                self.trainers[member, ""] = SinglePathTrainer(space, data, SinglePathConfig(**common,
                                                                                           seed=int(seed) + member))
                continue
            for combo in combos:  # () once: no split, one supernet
                self.trainers[member, part_key(combo, range(len(combo)))] = SandwichTrainer(
                    space, data, SandwichConfig(**common, seed=int(seed) + member,
                                                fixed=tuple(zip(self.genes, combo, strict=True))))
        self.kind = "single path" if space.family == "cell" else "sandwich"
        if len(combos) > 1:
            self.kind += f", {len(combos)} parts"
        if self.ensemble > 1:
            self.kind += f", ensemble of {self.ensemble}"
        self.name = CHECKPOINTS[space.family]
        for key, trainer in self.trainers.items():
            path = self.path(*key)
            if path is not None and path.exists():
                import torch

                trainer.load_state(torch.load(path, weights_only=True, map_location=trainer.device))

    @property
    def trainer(self) -> Any:
        """The trainer of the run's one supernet (no few-shot split, no ensemble)."""
        if len(self.trainers) != 1:
            raise AttributeError("a few-shot split or an ensemble has several trainers: use .trainers")
        return next(iter(self.trainers.values()))

    def path(self, member: int = 0, part: str = "") -> Path | None:
        """The checkpoint of ensemble member ``member``, partition ``part`` (``""``: no split), e.g.
        ``entangled.pt``, ``entangled@1-0.pt``, ``entangled-s2.pt``; None without a store."""
        if self.store is None:
            return None
        stem = self.name + (f"@{part}" if part else "") + (f"-s{member}" if member else "")
        return self.store.path / ONESHOT_DIR / f"{stem}.pt"

    def train(self, quiet: bool = False) -> dict[str, Any]:
        """Train on to ``epochs`` (nothing when a resumed run is already there); returns the weights
        (plain CPU state dicts) that candidates inherit: one state dict, or under a few-shot split
        ``{"split_genes": [...], "parts": {key: state dict}}`` (:func:`inherited_weights`); an
        ensemble's is ``{"members": [one of those per member]}`` (:func:`ensemble_members`)."""
        import torch
        from tqdm.auto import tqdm

        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        total = self.epochs * len(self.trainers)
        done = sum(min(t.epoch, self.epochs) for t in self.trainers.values())
        bar = tqdm(total=total, initial=done, disable=quiet, unit="epoch", desc=f"supernet ({self.kind})",
                   dynamic_ncols=True)
        try:
            for key, t in self.trainers.items():
                while t.epoch < self.epochs:
                    row = t.train_epoch()
                    self._save(key)
                    bar.update(1)
                    where = (f"seed +{key[0]} " if key[0] else "") + (f"part {key[1]} " if key[1] else "")
                    bar.set_postfix_str(f"{where}loss {row['loss']:.3f} acc {100 * row['acc']:.1f} %", refresh=False)
        finally:
            bar.close()
            torch.set_num_threads(previous)
        members = []
        for member in range(self.ensemble):
            parts = {part: {k: v.detach().cpu() for k, v in t.subnet_state().items()}
                     for (m, part), t in self.trainers.items() if m == member}
            members.append(parts[""] if not self.genes else {"split_genes": list(self.genes), "parts": parts})
        return members[0] if self.ensemble == 1 else {"members": members}

    def _save(self, key: tuple[int, str]) -> None:
        import torch

        path = self.path(*key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        torch.save(self.trainers[key].state(), tmp)
        tmp.replace(path)
        write_json_atomic(path.with_name(f"{path.stem}-history.json"), {"history": self.trainers[key].history})
