"""Write a full-size table in SpikeNAS-Bench's on-disk format, with SYNTHETIC values.

For trying ``--bench-root`` (``snnas search``, ``scripts/compare_search.py``) at the benchmark's real
scale, 15,625 ``<root>/<id>/train_process.txt`` files, without the benchmark itself (nothing of it is
shipped or downloaded). The numbers are made up by a seeded model, so whatever a search reaches on
this table says nothing about SpikeNAS-Bench; it measures that the tools run end to end, and how
fast.

The model, per architecture (six edges, each op 0 zero, 1 skip, 2..4 conv with threshold 0.5, 1.0,
1.5): a cell whose output is not reachable from its input scores chance (10 %); otherwise accuracy
grows with the number of convolutions on input-to-output paths and the longest such path, a high
threshold costs a little, plus seeded per-architecture noise; the learning curve approaches that
value over the epochs. Firing rates fall with the threshold (about 0.22 / 0.14 / 0.08 for 0.5 / 1.0
/ 1.5, seeded noise), so energy and accuracy trade off as they do in a real table.

Usage: python scripts/synthetic_bench.py DIR [--seed 0] [--epochs 100] [-q]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from snnas.evaluate._bench import BENCH_EDGES, FILE, RATE_EDGES, _codes  # noqa: E402

RATE_OF_CODE = {2: 0.22, 3: 0.14, 4: 0.08}


def paths(codes: dict[tuple[int, int], int]) -> list[list[tuple[int, int]]]:
    """Every input-to-output path (node 0 to node 3) through non-zero edges."""
    out: list[list[tuple[int, int]]] = []

    def walk(node: int, path: list[tuple[int, int]]) -> None:
        if node == 3:
            out.append(path)
            return
        for j in range(node + 1, 4):
            if codes[(node, j)]:
                walk(j, path + [(node, j)])

    walk(0, [])
    return out


def final_accuracy(codes: dict[tuple[int, int], int], rng: np.random.Generator) -> float:
    found = paths(codes)
    if not found:
        return 10.0
    on_path = {e for p in found for e in p}
    convs = [codes[e] for e in on_path if codes[e] >= 2]
    depth = max(sum(codes[e] >= 2 for e in p) for p in found)
    acc = 72.0 + 3.5 * len(convs) + 2.0 * depth - 0.8 * sum(c == 4 for c in convs) + rng.normal(0, 1.2)
    return float(np.clip(acc, 10.0, 94.0))


def entry(bench: int, epochs: int, rng: np.random.Generator) -> str:
    codes = dict(zip(BENCH_EDGES, _codes(bench), strict=True))
    final = final_accuracy(codes, rng)
    rates = []
    for _cell in range(2):
        for e in RATE_EDGES:
            c = codes[e]
            rates.append(RATE_OF_CODE[c] * float(rng.uniform(0.8, 1.2)) if c >= 2 else -1.0)
    tail = [float(rng.uniform(0.1, 0.2)), float(rng.uniform(0.05, 0.15)), float(rng.uniform(0.02, 0.08))]
    present = [r for r in rates + tail if r >= 0]
    rates += tail + [float(np.mean(present))]
    params = 17_000_000 + 147_584 * sum(c >= 2 for c in codes.values())
    lines = [f"architecture id: {bench}", f"model parameters: {params}",
             "epoch, train_acc, train_loss, val_acc, val_loss"]
    for e in range(epochs):
        progress = 1.0 - np.exp(-5.0 * (e + 1) / epochs)
        val = 10.0 + (final - 10.0) * progress + rng.normal(0, 0.4)
        train = min(100.0, val + 8.0 * progress)
        lines.append(f"{e:.3f}, {train:.3f}, {2.3 * (1 - 0.8 * progress):.3f}, {val:.3f}, "
                     f"{2.3 * (1 - 0.7 * progress):.3f}")
    lines += [f"test accuracy: {final + rng.normal(0, 0.3):.3f}",
              "firing rate of layers: " + ", ".join(f"{r:.3f}" for r in rates),
              "Elapsed time: 1.0hour7.0minute39.7second"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", help="folder to write <id>/train_process.txt into (created)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the synthetic values (default 0)")
    ap.add_argument("--epochs", type=int, default=100, help="epochs per learning curve (default 100)")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    from tqdm.auto import tqdm

    root = Path(args.root)
    for bench in tqdm(range(5**6), desc="entries", unit="file", disable=args.quiet):
        path = root / str(bench) / FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(entry(bench, args.epochs, np.random.default_rng([args.seed, bench])), encoding="utf-8")
    print(f"{5**6} synthetic entries under {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
