"""The cheap, real parts the conformance suite runs strategies on.

Two real search-space documents (loaded by ``snnas.space.load_space`` like any user's file, so a
strategy sees the same ``SearchSpace`` API it sees in production) and an evaluate function that
scores any Architecture in microseconds as a pure function of the architecture and its training
seed. Nothing is trained: the suite tests the search plumbing (determinism, resume, Ray, failures,
bounds, budget), not the quality of a search. The function is top-level and imports nothing but
snnas.space, so Ray workers and a killed-and-resumed subprocess can import it by name.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from snnas.space._architecture import Architecture

CONFORMANCE_SPACE = """\
# snnas.testing: the space every strategy is checked on (13 genes, 294,912 architectures).
description: Strategy conformance space (snnas.testing); small cells for the 8x8 digits.
task:
  dataset: digits
  input_shape: [1, 8, 8]
  num_classes: 10
  time_steps: [2, 4, 6]
  encoding: direct
family: cell
cell:
  nodes: 2
  edges_per_node: 2
  ops: [skip, conv_3x3, avg_pool_3x3, max_pool_3x3]
  layers: 3
  levels: [1, 1/2]
  transitions: [-1, 0, 1]
  stem_channels: [8, 16]
neuron:
  kind: [lif, if]
  tau: [1.5, 2.0, 4.0]
  threshold: [0.5, 1.0]
  reset: hard
  shared: true
surrogate:
  family: sigmoid
  width: 4.0
objectives: {accuracy: max, energy_mj: min}
hardware: 45nm-fp32
search:
  budget: 8
  population: 4
  proxy_epochs: 1
  batch_size: 32
  lr: 0.005
"""
"""A cell space big enough that no strategy exhausts it within the suite's budgets."""

TINY_SPACE = """\
# snnas.testing: 8 architectures from 24 genomes (the layer move gene has 3 values but there is one
# level), so a strategy is pushed past the end of the space and through genome canonicalisation.
description: Tiny strategy conformance space (snnas.testing).
task:
  dataset: digits
  input_shape: [1, 8, 8]
  num_classes: 10
  time_steps: [2, 4]
  encoding: direct
family: cell
cell:
  nodes: 1
  edges_per_node: 1
  ops: [skip, conv_3x3]
  layers: 1
  stem_channels: 8
neuron:
  kind: lif
  tau: 2.0
surrogate:
  family: sigmoid
  width: 4.0
objectives: {accuracy: max, energy_mj: min}
search:
  budget: 8
  population: 4
"""
"""A space smaller than the suite's budgets: proposing past its end must still stay inside it."""


def write_space(path: str | Path, text: str = CONFORMANCE_SPACE) -> Path:
    """Write a space document to ``path`` (parents created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def toy_evaluate(space_ref: Any, arch_json: str, cfg: dict) -> dict:
    """``Metrics.to_dict()``-shaped scores of any Architecture, without training anything.

    The scores are a pure function of the architecture and ``cfg["seed"]`` (the candidate's training
    seed): two runs that proposed the same candidates with the same seeds score them identically,
    while a candidate trained with the wrong seed almost surely shows it in the last digits of its
    accuracy. ``cfg`` (the run's eval config plus ``seed`` and ``index``) may also hold:

    - ``raise_at``: candidate indices whose evaluation raises (a build error, say);
    - ``fail_at``: candidate indices that return a failure (a diverging loss, say);
    - ``sleep``: seconds to wait first, so a run can be killed while it is going.

    Failures are chosen by index, not by architecture, so every strategy meets them at the same point,
    whatever it proposes; adaptive strategies then see failed records in their history.
    """
    arch = Architecture.from_json(arch_json)
    if cfg.get("sleep"):
        time.sleep(float(cfg["sleep"]))
    index = cfg.get("index")
    if index in (cfg.get("raise_at") or ()):
        raise RuntimeError(f"toy build error at candidate {index}")
    if index in (cfg.get("fail_at") or ()):
        return {"failed": f"non-finite loss at candidate {index}", "wall_time_s": 0.0}
    ops = [op for node in arch.cell or () for _, op in node]
    conv = sum(op.startswith("conv") for op in ops)
    width = (arch.stem_channels or 8) + (arch.embed_dim or 0) * (arch.depth or 0)
    acc = min(0.99, 0.3 + 0.08 * conv + 0.03 * arch.time_steps + (int(cfg.get("seed", 0)) % 89) / 1e4)
    macs = float(width * 1000 * (1 + conv))
    acs = float(300 * arch.time_steps * (1 + len(ops)))
    return {"accuracy": acc, "energy_mj": (macs * 4.6 + acs * 0.9) * 1e-9, "macs": macs, "acs": acs,
            "firing_rates": {}, "mean_firing_rate": 0.1, "params": 10 * int(macs),
            "time_steps": arch.time_steps, "wall_time_s": 0.0, "failed": None}
