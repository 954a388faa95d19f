"""summary.md: hypervolume and its reference point, the front, the best per objective, the config."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from snnas.report._pareto import BOUNDED, MARGIN, Hypervolume, feasible
from snnas.report._units import format_metric as _fmt
from snnas.runs import CandidateRecord, Constraint, Objective


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell (cell summaries contain '|')."""
    return text.replace("|", "\\|")


def _test_cell(res: Mapping | None) -> str:
    if not res or res.get("test_accuracy_mean") is None:
        return "not retrained"
    n = sum(1 for s in res.get("seeds", []) if not s.get("failed"))
    return (f"{100 * res['test_accuracy_mean']:.2f} +- {100 * (res.get('test_accuracy_std') or 0):.2f} % "
            f"({n} seed{'s' if n != 1 else ''}, {res.get('epochs')} epochs)")


def _rule(o: Objective, hv: Hypervolume) -> str:
    if o.metric in hv.given:
        return "given by the caller"
    if o.metric in BOUNDED:
        return "fixed (the metric's range)"
    return f"{MARGIN:g} x the largest observed value" if not o.maximize else "0"


def best_per_objective(records: Sequence[CandidateRecord], objectives: Sequence[Objective],
                       constraints: Sequence[Constraint] = ()) -> dict[str, CandidateRecord]:
    """The best feasible candidate for each objective alone (ties: lowest index)."""
    out = {}
    for o in objectives:
        ok = [r for r in records if feasible(r, constraints) and r.value(o.metric) is not None]
        if ok:
            sign = -1.0 if o.maximize else 1.0
            out[o.metric] = min(ok, key=lambda r, m=o.metric, s=sign: (s * r.value(m), r.index))
    return out


def write_summary(path: Path, records: Sequence[CandidateRecord], front: Sequence[CandidateRecord],
                  objectives: Sequence[Objective], hv: Hypervolume, config: Mapping,
                  run_dir: str | None = None, constraints: Sequence[Constraint] = (),
                  retrained: Mapping[str, Mapping] | None = None,
                  aeb: tuple[Mapping[int, float], float | None, float] | None = None) -> Path:
    failed = [r for r in records if r.failed]
    done = len(records) - len(failed)
    infeasible = sum(not r.failed and not feasible(r, constraints) for r in records)
    lines = ["# snnas run summary", ""]
    if run_dir:
        lines.append(f"- run: `{run_dir}`")
    for key in ("strategy", "seed", "budget", "workers"):
        if key in config:
            lines.append(f"- {key}: {config[key]}")
    lines.append(f"- candidates: {len(records)} evaluated, {done} completed, {len(failed)} failed")
    if constraints:
        lines.append(f"- constraints: {', '.join(str(c) for c in constraints)} "
                     f"({infeasible} completed candidate(s) infeasible, left out of the front)")
    lines.append("")
    if done == 0:
        lines += ["**No completed candidates**: there is no front to rank. "
                  "`candidates.csv` lists every candidate and why it failed.", ""]

    lines += ["## Hypervolume", "",
              f"**{hv.value:.6f}** (pymoo `HV`, in [0, 1]; higher is better) over the "
              f"{len(front)} Pareto-optimal candidate(s).", "",
              "Each objective is mapped to minimisation form and normalised as "
              "`f = (value - ideal) / (reference - ideal)`; the reference point is then (1, ..., 1) and "
              "the hypervolume is the fraction of the box between the ideal and the reference point "
              "that the front dominates.", "",
              "| objective | direction | ideal | reference | reference rule |", "|---|---|---|---|---|"]
    for o in objectives:
        lines.append(f"| {o.metric} | {o.direction} | {_fmt(o.metric, hv.ideal[o.metric])} | "
                     f"{_fmt(o.metric, hv.reference[o.metric])} | {_rule(o, hv)} |")
    lines.append("")

    metrics = [o.metric for o in objectives]
    lines += [f"## Pareto front ({len(front)})", ""]
    retrained = retrained or {}
    if front:
        names = [("proxy " if m == "accuracy" and retrained else "") + m for m in metrics]
        test = ["test accuracy (retrained)"] if retrained else []
        lines += ["| index | id | " + " | ".join(names + test) + " | architecture |",
                  "|---|---|" + "---|" * (len(metrics) + len(test)) + "---|"]
        for r in front:
            vals = [_fmt(m, r.value(m)) for m in metrics]
            if retrained:
                vals.append(_test_cell(retrained.get(r.id)))
            lines.append(f"| {r.index} | `{r.id}` | {' | '.join(vals)} | {_cell(r.arch.summary())} |")
        lines.append("")
        if retrained:
            lines += ["Test accuracy: trained from scratch with the full recipe on the test split (mean +- std "
                      "over seeds; `RUN/retrain/<id>/results.json`); proxy accuracy is the search's short "
                      "training on the validation split.", ""]

    best = best_per_objective(records, objectives, constraints)
    if best:
        lines += ["## Best candidate per objective", "",
                  "| objective | value | index | id | architecture |", "|---|---|---|---|---|"]
        for o in objectives:
            if o.metric in best:
                r = best[o.metric]
                lines.append(f"| {o.direction} {o.metric} | {_fmt(o.metric, r.value(o.metric))} | {r.index} "
                             f"| `{r.id}` | {_cell(r.arch.summary())} |")
        lines.append("")

    if aeb and aeb[0]:
        scores, e_ref, lam = aeb
        i = max(scores, key=lambda k: (scores[k], -k))
        r = next(r for r in records if r.index == i)
        lines += ["## One network: the accuracy-energy balanced pick", "",
                  f"`{r.id}` (index {i}): aeb {scores[i]:.2f} = accuracy_pct x (E / E_ref)^-{lam:g}, E_ref "
                  f"{_fmt('energy_mj', e_ref)} (the median energy of the scored candidates); "
                  f"{_fmt('accuracy', r.value('accuracy'))} at {_fmt('energy_mj', r.value('energy_mj'))}. "
                  f"`snnas report RUN --pick aeb --aeb-lambda L` picks with another trade-off.", ""]

    if failed:
        lines += ["## Failures", "", "| count | reason |", "|---|---|"]
        for reason, n in Counter(r.reason or "unknown" for r in failed).most_common():
            lines.append(f"| {n} | {_cell(reason)} |")
        lines.append("")

    lines += ["## Run config", "", "```json", json.dumps(dict(config), indent=2, sort_keys=True, default=str),
              "```", ""]
    path.write_text("\n".join(lines))
    return path
