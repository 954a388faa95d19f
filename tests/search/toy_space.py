"""A small but real search space for plumbing tests: genomes decode to real `Architecture` objects
and the evaluate function is a cheap deterministic function of the architecture and its seed.

It stands in for ``snnas.space.SearchSpace`` + ``evaluate_candidate`` so the run/search/report
plumbing is tested without training networks (the end-to-end tests train for real). What every
strategy must do (determinism, resume, Ray, failures, budget) is tested by the conformance suite of
``snnas.testing`` on a real space; this module serves the tests of the parts underneath.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from snnas.space._architecture import Architecture, NeuronSpec
from snnas.testing import toy_evaluate

OPS = ("conv_3x3", "skip", "avg_pool_3x3", "max_pool_3x3")
TIME_STEPS = (2, 4, 6, 8)
TAUS = (1.5, 2.0, 3.0)
CHANNELS = (8, 16, 32)


class ToySpace:
    """Genes: op of node 0, op of node 1, trellis level, time-step choice, tau choice, channels."""

    objectives = ("max accuracy", "min energy_mj")

    def __init__(self, sizes: tuple[int, ...] = (4, 4, 3, 4, 3, 3)):
        self.sizes = tuple(sizes)

    @property
    def size(self) -> int:
        return int(np.prod(self.sizes))

    @property
    def bounds(self) -> tuple[list[int], list[int]]:
        return [0] * len(self.sizes), [n - 1 for n in self.sizes]

    def decode(self, g) -> Architecture:
        tau = TAUS[g[4]]
        neuron = NeuronSpec(kind="lif", tau=tau)
        return Architecture(family="cell", time_steps=TIME_STEPS[g[3]], neurons=(neuron, neuron),
                            cell=(((0, OPS[g[0]]),), ((1, OPS[g[1]]), (2, "skip"))),
                            trellis=(0, int(g[2])), stem_channels=CHANNELS[g[5]])

    def encode(self, arch: Architecture) -> list[int]:
        return [OPS.index(arch.cell[0][0][1]), OPS.index(arch.cell[1][0][1]), arch.trellis[1],
                TIME_STEPS.index(arch.time_steps), TAUS.index(arch.neurons[0].tau),
                CHANNELS.index(arch.stem_channels)]

    def sample(self, rng: np.random.Generator) -> Architecture:
        return self.decode([int(rng.integers(0, n)) for n in self.sizes])


def load(path: str | Path) -> ToySpace:
    """Load a toy space file: JSON ``{"sizes": [...]}`` (all keys optional)."""
    doc = json.loads(Path(path).read_text() or "{}")
    return ToySpace(tuple(doc.get("sizes", (4, 4, 3, 4, 3, 3))))


def write(path: Path, **doc) -> Path:
    path.write_text(json.dumps(doc))
    return path


def evaluate(space_ref, arch_json: str, cfg: dict) -> dict:
    """Metrics as a pure function of (architecture, seed); some architectures fail on purpose:
    ``max_pool_3x3`` at 32 channels raises, ``avg_pool_3x3`` twice with 8 steps reports NaN loss."""
    arch = Architecture.from_json(arch_json)
    if cfg.get("sleep"):
        time.sleep(float(cfg["sleep"]))
    if cfg.get("crash_index") == cfg["index"]:
        os._exit(3)  # a worker dying mid-candidate (e.g. killed for memory)
    ops = [node[0][1] for node in arch.cell]
    if "max_pool_3x3" in ops and arch.stem_channels == 32:
        raise RuntimeError("build error: pooling too wide")
    if ops == ["avg_pool_3x3", "avg_pool_3x3"] and arch.time_steps == 8:
        return {"failed": "non-finite loss at epoch 1 batch 3", "wall_time_s": 0.01}
    conv = sum(op == "conv_3x3" for op in ops)
    acc = 0.5 + 0.1 * conv + 0.02 * arch.time_steps + 0.01 * arch.trellis[1] + (cfg["seed"] % 97) / 1e4
    macs = float(arch.stem_channels * 1000 * (1 + conv))
    acs = float(arch.stem_channels * 500 * arch.time_steps)
    return {"accuracy": min(acc, 0.99), "energy_mj": (macs * 4.6 + acs * 0.9) * 1e-9, "macs": macs,
            "acs": acs, "firing_rates": {"cell0": 0.1 * arch.neurons[0].tau}, "mean_firing_rate":
            0.1 * arch.neurons[0].tau, "params": 100 * arch.stem_channels, "time_steps": arch.time_steps,
            "wall_time_s": 0.01, "failed": None}


def env_probe(task) -> dict:
    """What a backend's worker process sees (thread and allocator settings)."""
    keys = ("OMP_NUM_THREADS", "MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_")
    return {k: os.environ.get(k) for k in keys} | {"pid": os.getpid()}


# A cheap deterministic score of any Architecture (for plumbing tests on real spaces): the conformance
# suite's evaluate function, shared rather than copied.
evaluate_any = toy_evaluate
