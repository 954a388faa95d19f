"""`export_candidate`: one candidate of a run directory, exported with the best weights the run has.

A user picks an id from candidates.csv; the weights come from ``--weights``, else the best
retrained seed (the final stage or ``snnas train``), else the proxy-trained weights the search kept. The module is
rebuilt with ``build_network`` from the run's own space copy and checked bit-identical on a random
input before anything is written, like every export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from snnas.errors import RunError, SnnasError


def weights_source(run_dir: str | Path, rec: Any, weights: str | Path | None = None) -> tuple[Path, str]:
    """Which weights file to export for record ``rec`` (in the order the module docstring gives),
    and where it comes from, for people."""
    from snnas.runs import RETRAIN_DIR, read_retrained
    from snnas.search._candidate import CANDIDATE_WEIGHTS, candidate_weights_name

    run = Path(run_dir)
    if weights:
        p = Path(weights)
        if not p.is_file():
            raise SnnasError(f"--weights: {p} is not a file")
        return p, "given with --weights"
    res = read_retrained(run, rec.id) or {}
    if res.get("best_weights"):
        best = max((s for s in res.get("seeds", []) if s.get("weights") == res["best_weights"]),
                   key=lambda s: s.get("accuracy") or 0.0, default={})
        acc = best.get("accuracy")
        score = f", {100 * acc:.2f} % test" if isinstance(acc, (int, float)) else ""
        return (run / RETRAIN_DIR / rec.id / res["best_weights"],
                f"the best retrained seed ({res['best_weights']}, {res.get('epochs')} epochs{score})")
    proxy = run / CANDIDATE_WEIGHTS / candidate_weights_name(rec.index, rec.id)
    if proxy.is_file():
        return proxy, (f"the search's proxy training (not retrained; 'snnas train {run} --id {rec.id[:8]}' "
                       "trains it with the full recipe)")
    raise RunError(f"{run}: no weights for candidate {rec.id}; run 'snnas train {run} --id {rec.id}' first "
                   "or pass --weights FILE")


def export_candidate(run_dir: str | Path, cand_id: str, out: str | Path | None = None,
                     weights: str | Path | None = None) -> dict[str, Path]:
    """Export candidate ``cand_id`` (an id or unique prefix) of a run: ``model.py`` + ``weights.pt`` +
    ``architecture.json`` into ``out`` (default ``RUN/export/<id>``); returns their paths, with the
    weights that were used under ``"source"`` and where they come from under ``"source_note"``."""
    import torch

    from snnas.export._export import export_module
    from snnas.nn import build_network
    from snnas.runs import RunStore
    from snnas.search import run_space

    run = Path(run_dir)
    with RunStore.open(run, readonly=True) as store:
        rec = store.find_candidate(cand_id)
        space = run_space(store)
    src, note = weights_source(run, rec, weights)
    model = build_network(space, rec.arch)
    try:
        state = torch.load(src, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except (RuntimeError, OSError, ValueError) as e:
        raise SnnasError(f"{src}: cannot load these weights into candidate {rec.id}: {str(e).splitlines()[0]}") \
            from None
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(rec.arch.time_steps, 2, *space.input_shape, generator=gen)
    paths = export_module(model, out or run / "export" / rec.id, architecture=rec.arch, example_input=x,
                          input_desc=", ".join(str(v) for v in space.input_shape))
    return {**paths, "source": src, "source_note": note}
