"""pareto.png: every completed candidate and the front, with labelled axes and units; the front's
points carry their ids (what ``snnas export --id`` and ``snnas train --id`` take).

Drawn on a bare ``Figure`` with the Agg canvas (no pyplot), so writing a report never changes the
user's matplotlib backend and works on machines without a display.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from snnas.report._pareto import feasible
from snnas.report._units import LABELS, energy_unit
from snnas.runs import CandidateRecord, Constraint, Objective

SCALE = {"accuracy": 100.0}


def axes_for(objectives: Sequence[Objective]) -> tuple[str, str]:
    """(x, y) metrics: a minimised objective across, a maximised one up (energy vs accuracy)."""
    mins = [o.metric for o in objectives if not o.maximize]
    maxs = [o.metric for o in objectives if o.maximize]
    names = [o.metric for o in objectives]
    x = mins[0] if mins else names[-1] if len(names) > 1 else "energy_mj"
    y = maxs[0] if maxs else next((n for n in names if n != x), "accuracy")
    return x, y


def _scales(records: Sequence[CandidateRecord], metrics: Sequence[str]) -> dict[str, tuple[float, str]]:
    """(factor, axis label) per metric: accuracy in %, energy in nJ/uJ/mJ chosen from the data."""
    out = {}
    for m in metrics:
        if m == "energy_mj":
            factor, unit = energy_unit(r.value(m) for r in records if not r.failed)
            out[m] = (factor, f"{LABELS[m]} [{unit}]")
        else:
            out[m] = (SCALE.get(m, 1.0), LABELS.get(m, m))
    return out


def _xy(records: Sequence[CandidateRecord], x: str, y: str,
        scales: dict[str, tuple[float, str]]) -> list[tuple[float, float]]:
    pts = [(r.value(x), r.value(y)) for r in records]
    return [(a * scales[x][0], b * scales[y][0]) for a, b in pts if a is not None and b is not None]


def plot_front(records: Sequence[CandidateRecord], front: Sequence[CandidateRecord],
               objectives: Sequence[Objective], path: Path, n_failed: int = 0,
               constraints: Sequence[Constraint] = (), retrained: Mapping[str, Mapping] | None = None) -> Path:
    """Scatter of the completed candidates (infeasible ones as crosses) with the front drawn over;
    retrained front members get a star at their test accuracy, joined to their proxy point."""
    x, y = axes_for(objectives)
    fig = Figure(figsize=(6.4, 4.8), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    done = [r for r in records if not r.failed]
    scales = _scales(done, (x, y))
    bad = _xy([r for r in done if not feasible(r, constraints)], x, y, scales)
    pts = _xy([r for r in done if feasible(r, constraints)], x, y, scales)
    labelled = sorted((r.value(x) * scales[x][0], r.value(y) * scales[y][0], r.id[:8]) for r in front
                      if r.value(x) is not None and r.value(y) is not None)
    fr = [(a, b) for a, b, _ in labelled]
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
        for a, b, name in labelled:
            ax.annotate(name, (a, b), textcoords="offset points", xytext=(4, 4), fontsize=7, color="tab:red")
    tested = [(r.value(x) * scales[x][0], r.value(y) * scales[y][0], 100 * retrained[r.id]["test_accuracy_mean"])
              for r in front if retrained and r.id in retrained and y == "accuracy"
              and r.value(x) is not None and r.value(y) is not None]
    if tested:
        for a, b, t in tested:
            ax.plot([a, a], [b, t], ls=":", c="tab:blue", lw=1, zorder=3)
        ax.scatter([a for a, _, _ in tested], [t for _, _, t in tested], marker="*", s=90, c="tab:blue",
                   zorder=4, label=f"retrained, test accuracy ({len(tested)})")
        ax.set_ylabel("accuracy [%]: validation (proxy), test (retrained)")
    if not pts:
        ax.text(0.5, 0.5, "no completed candidates", ha="center", va="center", transform=ax.transAxes)
    elif min(p[0] for p in pts) > 0 and max(p[0] for p in pts) / min(p[0] for p in pts) > 50:
        ax.set_xscale("log")
    ax.set_xlabel(scales[x][1])
    if not tested:
        ax.set_ylabel(scales[y][1])
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


def plot_generations(records: Sequence[CandidateRecord], objectives: Sequence[Objective], generation: int,
                     path: Path, constraints: Sequence[Constraint] = ()) -> Path:
    """How an evolutionary front moved: the Pareto front of the candidates evaluated up to each
    generation (``generation`` candidates per generation), one line per generation, light to dark."""
    from snnas.report._pareto import pareto_front

    x, y = axes_for(objectives)
    fig = Figure(figsize=(6.4, 4.8), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    done = [r for r in records if not r.failed]
    scales = _scales(done, (x, y))
    n_gen = -(-len(records) // max(generation, 1))
    for g in range(n_gen):
        upto = [r for r in records if r.index < (g + 1) * generation]
        pts = sorted(_xy(pareto_front(upto, objectives, constraints), x, y, scales))
        if pts:
            colour = colormaps["viridis"](g / max(n_gen - 1, 1))
            ax.plot(*zip(*pts, strict=True), marker="o", ms=4, lw=1.2, color=colour,
                    label=f"generation {g}" if n_gen <= 12 or g in (0, n_gen - 1) else None)
    ax.set_xlabel(scales[x][1])
    ax.set_ylabel(scales[y][1])
    ax.set_title(f"Pareto front after each generation ({generation} candidates each)")
    ax.grid(True, alpha=0.3)
    if done:
        ax.legend(loc="best", fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    return path
