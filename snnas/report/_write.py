"""`write_reports`: every report file of a run in one call (end of a search, and `snnas report`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from snnas.errors import RunError
from snnas.report._aeb import AEB_LAMBDA, aeb_scores
from snnas.report._pareto import hypervolume, pareto_front
from snnas.report._plot import plot_front
from snnas.report._summary import write_summary
from snnas.report._tables import candidates_frame, pareto_frame
from snnas.runs import CandidateRecord, RunStore, constraints_of, objectives_of, read_retrained


def write_reports(source: RunStore | Sequence[CandidateRecord], space: Any = None,
                  out_dir: str | Path | None = None, *, config: Mapping | None = None,
                  reference: Mapping[str, float] | None = None, aeb_lambda: float | None = None) -> dict[str, Path]:
    """Write ``pareto.csv``, ``candidates.csv``, ``pareto.png`` and ``summary.md``.

    ``source`` is a RunStore (its records, objectives, constraints and config; files go to the run
    directory unless ``out_dir`` is given) or a list of records (objectives and constraints from
    ``space``: a SearchSpace or a list of objectives, default accuracy/energy; ``out_dir``
    required). Only feasible candidates (no constraint broken) enter the front. ``reference``
    fixes hypervolume reference values in raw units (e.g. ``{"energy_mj": 0.5}``) so several runs
    are measured in the same box.
    Both CSVs get an ``aeb`` column, the accuracy-energy balanced score (``_aeb``) with ``aeb_lambda``
    (default: the run config's ``aeb_lambda``, else 0.07); summary.md names the candidate it picks.
    Candidates of the front that were retrained (the final stage, ``snnas train``) get their test
    accuracy (mean, std over seeds) beside the proxy's in pareto.csv, summary.md and the plot.
    Returns ``{"pareto_csv", "candidates_csv", "pareto_png", "summary_md"}`` -> path.
    """
    run_dir = None
    if isinstance(source, RunStore):
        records = source.records()
        objectives = source.objectives if space is None else objectives_of(space)
        constraints = source.constraints if space is None else constraints_of(space)
        config = source.config if config is None else config
        run_dir = str(source.path)
        out = Path(out_dir) if out_dir is not None else source.path
    else:
        if out_dir is None:
            raise RunError("write_reports needs out_dir when given records rather than a run")
        records = sorted(source, key=lambda r: r.index)
        objectives = objectives_of(space)
        constraints = constraints_of(getattr(space, "constraints", None))
        out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = dict(config or {})
    front = pareto_front(records, objectives, constraints)
    retrained = {}
    for r in front if run_dir is not None else ():
        res = read_retrained(run_dir, r.id)
        if res and res.get("test_accuracy_mean") is not None:
            retrained[r.id] = res
    hv = hypervolume(records, objectives, reference, constraints)
    paths = {"candidates_csv": out / "candidates.csv", "pareto_csv": out / "pareto.csv",
             "pareto_png": out / "pareto.png", "summary_md": out / "summary.md"}
    lam = float(config.get("aeb_lambda", AEB_LAMBDA) if aeb_lambda is None else aeb_lambda)
    scores, e_ref = aeb_scores(records, lam, constraints)
    for frame, name in ((candidates_frame(records, objectives, constraints), "candidates_csv"),
                        (pareto_frame(front, objectives, retrained), "pareto_csv")):
        at = list(frame.columns).index("architecture")
        frame.insert(at, "aeb", frame["index"].map(lambda i: scores.get(int(i))).astype(float))
        frame.to_csv(paths[name], index=False)
    plot_front(records, front, objectives, paths["pareto_png"], n_failed=sum(r.failed for r in records),
               constraints=constraints, retrained=retrained)
    write_summary(paths["summary_md"], records, front, objectives, hv, config, run_dir, constraints,
                  retrained, aeb=(scores, e_ref, lam))
    return paths
