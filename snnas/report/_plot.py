"""pareto.png: every completed candidate and the front, with labelled axes and units.

Drawn on a bare ``Figure`` with the Agg canvas (no pyplot), so writing a report never changes the
user's matplotlib backend and works on machines without a display.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from snnas.report._pareto import feasible
from snnas.runs import CandidateRecord, Constraint, Objective

#: Axis labels with units; accuracy is stored as a fraction and drawn in percent.
LABELS = {
    "accuracy": "validation accuracy [%]",
    "energy_mj": "energy per sample [mJ]",
    "macs": "MACs per sample [count]",
    "acs": "ACs per sample [count]",
    "params": "parameters [count]",
    "mean_firing_rate": "mean firing rate [spikes / neuron / step]",
    "time_steps": "time steps [count]",
    "wall_time_s": "evaluation time [s]",
}
SCALE = {"accuracy": 100.0}


def axes_for(objectives: Sequence[Objective]) -> tuple[str, str]:
    """(x, y) metrics: a minimised objective across, a maximised one up (energy vs accuracy)."""
    mins = [o.metric for o in objectives if not o.maximize]
    maxs = [o.metric for o in objectives if o.maximize]
    names = [o.metric for o in objectives]
    x = mins[0] if mins else names[-1] if len(names) > 1 else "energy_mj"
    y = maxs[0] if maxs else next((n for n in names if n != x), "accuracy")
    return x, y


def _xy(records: Sequence[CandidateRecord], x: str, y: str) -> list[tuple[float, float]]:
    pts = [(r.value(x), r.value(y)) for r in records]
    return [(a * SCALE.get(x, 1.0), b * SCALE.get(y, 1.0)) for a, b in pts if a is not None and b is not None]


def plot_front(records: Sequence[CandidateRecord], front: Sequence[CandidateRecord],
               objectives: Sequence[Objective], path: Path, n_failed: int = 0,
               constraints: Sequence[Constraint] = ()) -> Path:
    """Scatter of the completed candidates (infeasible ones as crosses) with the front drawn over."""
    x, y = axes_for(objectives)
    fig = Figure(figsize=(6.4, 4.8), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    done = [r for r in records if not r.failed]
    bad = _xy([r for r in done if not feasible(r, constraints)], x, y)
    pts = _xy([r for r in done if feasible(r, constraints)], x, y)
    fr = sorted((r.value(x) * SCALE.get(x, 1.0), r.value(y) * SCALE.get(y, 1.0)) for r in front
                if r.value(x) is not None and r.value(y) is not None)
    if pts:
        ax.scatter(*zip(*pts, strict=True), s=18, c="0.6", label=f"candidates ({len(pts)})", zorder=2)
    if bad:
        ax.scatter(*zip(*bad, strict=True), s=22, marker="x", c="tab:orange", zorder=2,
                   label=f"infeasible ({len(bad)}): " + ", ".join(str(c) for c in constraints))
        pts = pts + bad
    if fr:
        line = "-" if len(objectives) == 2 else "none"  # a front in more objectives is no curve here
        ax.plot(*zip(*fr, strict=True), marker="o", ls=line, c="tab:red", ms=6, lw=1.5,
                label=f"Pareto front ({len(fr)})", zorder=3)
    if not pts:
        ax.text(0.5, 0.5, "no completed candidates", ha="center", va="center", transform=ax.transAxes)
    elif min(p[0] for p in pts) > 0 and max(p[0] for p in pts) / min(p[0] for p in pts) > 50:
        ax.set_xscale("log")
    ax.set_xlabel(LABELS.get(x, x))
    ax.set_ylabel(LABELS.get(y, y))
    title = "candidates and Pareto front"
    if n_failed:
        title += f" ({n_failed} failed, not shown)"
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if pts:
        ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path)
    return path
