"""SpikeDHS search (``--strategy dhs``): a supernet per energy weight, derived candidates scored
like every other strategy's.

The run trains one cell supernet (``snnas.supernet``) per value of the space's ``energy_lambda``
sweep (``--lambda``); all share their seed and the weights-only warm-up. Candidates come in rounds of
one per lambda: round r is each supernet's derived architecture after ``supernet_warmup + (r + 1) *
derive_every`` epochs, so the budget (derived candidates) fixes how long the supernets train, a
raised budget trains them further, and candidate i is a pure function of the seed and i. The derived
architectures go to the shared evaluate function (proxy training from scratch by default) and the
final stage, so dhs results sit in the same tables, reports and exports as everything else.

Each supernet is checkpointed after every epoch under ``RUN/checkpoints/supernet/`` (resumable after
SIGKILL: a resumed run trains on from the last finished epoch and equals an uninterrupted one) with
its per-epoch history; ``RUN/search_dynamics.png`` plots alpha per edge, beta, widths and tau.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from snnas.errors import SpaceError
from snnas.runs import CandidateRecord, RunStore, write_json_atomic
from snnas.search._strategy import STRATEGIES, Proposal, Strategy, genome_of
from snnas.space._architecture import Architecture

SUPERNET_DIR = Path("checkpoints") / "supernet"


def _floats(value: Any) -> list[float]:
    """A number or a list of numbers (an energy_lambda sweep) as a list of floats, each finite and
    >= 0 (the space's schema and ``--lambda`` check theirs; this covers the Python API)."""
    out = [float(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
    if not out or any(not math.isfinite(v) or v < 0 for v in out):
        raise ValueError(f"dhs: energy_lambda must be one or more finite numbers >= 0, got {value!r}")
    return out


@STRATEGIES.register("dhs", description="SpikeDHS: differentiable cell + trellis search in a supernet with "
                     "an energy term (a lambda sweep), learned tau and DGS; derived architectures are scored "
                     "like any candidate (budget = derived candidates)")
class DHSSearch(Strategy):
    """Options (each defaults to the space's ``search`` key): ``energy_lambda`` (number or list),
    ``supernet_warmup``, ``derive_every``, ``batch_size``, ``lr``, ``arch_lr`` (0.003),
    ``partial_channels`` (PC-DARTS' K, default 1: the exact supernet), ``time_steps`` (key
    ``supernet_time_steps``, default the space's largest T); and ``max_batches`` (train batches per
    supernet epoch, default all), ``stem_channels`` (default the space's largest), ``threads``
    (torch threads of supernet training, default the machine's cores; fixed per run because CPU
    results depend on it). Where the space lists the ``ann`` neuron kind, every layer gets a hybrid
    gate between spiking and non-spiking neurons, settled by the same loss (energy term included)."""

    name = "dhs"
    conformance = {"budget": 4, "extra_budget": 2, "kill_after": 2,
                   "strategy_options": {"energy_lambda": [0.0, 1.0], "supernet_warmup": 0, "derive_every": 1,
                                        "max_batches": 2, "batch_size": 16, "time_steps": 2}}

    def __init__(self, **options: Any):
        super().__init__(**options)
        lam = options.get("energy_lambda")
        self._lambdas = None if lam is None else _floats(lam)

    @property
    def batch_size(self) -> int:  # type: ignore[override]
        return len(self._lambdas or [0.0])

    def _option(self, key: str, default: Any = None) -> Any:
        if self.options.get(key) is not None:
            return self.options[key]
        return (getattr(self.space, "defaults", None) or {}).get(key, default)

    def _setup(self, space: Any, store: RunStore, seed: int) -> None:
        from snnas.evaluate import resolve_device
        from snnas.search._candidate import _load_data
        from snnas.supernet import DHSConfig, SupernetTrainer, supernet_spec

        if self._lambdas is None:
            self._lambdas = _floats(self._option("energy_lambda", [0.0]))
        cfg = dict(self.eval_config or {})
        data = _load_data(str(cfg.get("dataset") or space.dataset), cfg.get("data_root"),
                          int(cfg.get("data_seed", 0)), tuple(sorted((cfg.get("data_options") or {}).items())))
        spec = supernet_spec(space, self.options.get("time_steps") or self._option("supernet_time_steps"),
                             self.options.get("stem_channels"))
        spec = dataclasses.replace(spec, partial_channels=int(self._option("partial_channels", 1)))
        self.dir = store.path / SUPERNET_DIR
        self.threads = int(self.options.get("threads") or os.cpu_count() or 1)
        self.trainers = []
        for k, lam in enumerate(self._lambdas):
            dc = DHSConfig(energy_lambda=lam, warmup=int(self._option("supernet_warmup", 2)),
                           batch_size=int(self._option("batch_size", 64)), lr=float(self._option("lr", 0.005)),
                           arch_lr=float(self._option("arch_lr", 0.003)),
                           max_batches=self.options.get("max_batches"), seed=seed, encoding=space.encoding,
                           hardware=str(cfg.get("hardware") or space.hardware),
                           device=resolve_device(cfg.get("device", "cpu")), dgs=space.dgs)
            try:
                t = SupernetTrainer(spec, data, dc)
            except SpaceError as e:  # e.g. partial_channels not dividing a width: name the file
                raise SpaceError(e.message, file=e.file or str(getattr(space, "path", "")) or None,
                                 path=e.path) from None
            path = self._path(k)
            if path.exists():
                import torch

                t.load_state(torch.load(path, weights_only=True, map_location=t.device))
            self.trainers.append(t)
        self.every = int(self._option("derive_every", 2))

    def _path(self, k: int) -> Path:
        return self.dir / f"lambda{k}.pt"

    def _train_to(self, k: int, epochs: int) -> None:
        """Train supernet k on to ``epochs``, checkpointing every epoch. The warm-up does not depend
        on lambda, so supernets k > 0 start from supernet 0's warm-up checkpoint (exactly what
        training it would give)."""
        import torch

        from snnas.supernet import derive

        t = self.trainers[k]
        shared = self.dir / "lambda0-warmup.pt"
        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            while t.epoch < epochs:
                if k > 0 and t.epoch < t.cfg.warmup and shared.exists():
                    t.load_state(torch.load(shared, weights_only=True, map_location=t.device))
                else:
                    t.train_epoch()
                    t.history[-1]["derived"] = derive(t.net, self.space).to_json()
                self._save(k)
        finally:
            torch.set_num_threads(previous)

    def _save(self, k: int) -> None:
        import torch

        t = self.trainers[k]
        self.dir.mkdir(parents=True, exist_ok=True)
        state = t.state()
        for path in [self._path(k)] + ([self.dir / "lambda0-warmup.pt"] if k == 0 and t.epoch == t.cfg.warmup else []):
            tmp = path.with_name(f".{path.name}.tmp")
            torch.save(state, tmp)
            tmp.replace(path)
        write_json_atomic(self.dir / f"lambda{k}-history.json",
                          {"energy_lambda": t.cfg.energy_lambda, "history": t.history})

    def _propose(self, space: Any, start: int, count: int, seed: int,
                 history: list[CandidateRecord]) -> Iterator[Proposal]:
        n = self.batch_size
        rnd = start // n
        epochs = self.trainers[0].cfg.warmup + (rnd + 1) * self.every
        for k in range(count):
            self._train_to(k, epochs)  # a resumed run may be past it: the history has every epoch's
            arch = Architecture.from_json(self.trainers[k].history[epochs - 1]["derived"])
            yield Proposal(arch, genome_of(space, arch))
        self._plot()

    def _plot(self) -> None:
        from snnas.supernet import plot_dynamics

        try:
            plot_dynamics([(t.cfg.energy_lambda, t.history, t.net) for t in self.trainers],
                          self.store.path / "search_dynamics.png")
        except Exception as e:  # a plot never costs a run
            (self.store.path / "search_dynamics.err").write_text(json.dumps(str(e)))
