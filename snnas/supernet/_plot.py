"""``search_dynamics.png``: how a dhs run's architecture weights moved, epoch by epoch."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def plot_dynamics(runs: Sequence[tuple[float, list[dict[str, Any]], Any]], path: str | Path) -> Path:
    """One row per supernet (its lambda): the strongest non-zero op weight of every edge, the
    probability of each layer's most likely move, surrogate width and tau per layer, over epochs."""
    rows = max(len(runs), 1)
    fig = Figure(figsize=(16, 3.2 * rows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 4, squeeze=False)
    for r, (lam, history, net) in enumerate(runs):
        epochs = [h["epoch"] for h in history]
        ops = list(net.spec.ops)
        usable = [k for k, op in enumerate(ops) if op != "zero"]
        ax = axes[r][0]
        for e, (j, src) in enumerate(net.edges):
            best = [max(h["alpha"][e][k] for k in usable) for h in history]
            last = history[-1]["alpha"][e] if history else None
            op = ops[max(usable, key=lambda k: last[k])] if last else ""
            ax.plot(epochs, best, label=f"n{j}<-{src} {op}")
        ax.set_title(f"lambda={lam:g}: strongest op weight per edge")
        ax.legend(fontsize=6, ncol=2)
        ax = axes[r][1]
        for i in range(net.spec.layers):
            ax.plot(epochs, [max(max(row) for row in h["beta"][i]) for h in history], label=f"layer {i}")
        ax.set_title("trellis: top move probability")
        ax.legend(fontsize=6)
        for c, key in ((2, "width"), (3, "tau")):
            ax = axes[r][c]
            for i in range(net.spec.layers):
                vals = [h[key][i] for h in history]
                if any(v is not None for v in vals):
                    ax.plot(epochs, vals, label=f"layer {i}")
            ax.set_title("surrogate width per layer" if key == "width" else "tau per layer")
            ax.legend(fontsize=6)
        for ax in axes[r]:
            ax.set_xlabel("supernet epoch")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=90)
    return path
