"""Retraining: the final stage of a search, a chosen candidate trained from scratch over several seeds.

A proxy score is a short training on the validation split; what a user reports is the full recipe
on the test split, with its spread over seeds. Each seed is the search's own
:func:`evaluate_candidate` with the retraining recipe, run through the search's backend
(:func:`make_backend`), so there is one way to start Ray, one worker environment and one failure
format for search and retraining alike. Results go to ``RUN/retrain/<id>/results.json`` beside the
weights of every seed; ``snnas export`` then picks the best seed's weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from snnas.errors import SnnasError
from snnas.runs import RETRAIN_DIR, RunStore
from snnas.search._api import run_space
from snnas.search._backend import make_backend
from snnas.search._final import SeedJob, retrain_records

__all__ = ["RETRAIN_DIR", "SeedJob", "retrain"]

_HINT = "nothing was retrained; try again with --workers 1 (serial)"


def retrain(run_dir: str | Path, cand_id: str, epochs: int = 20, seeds: int = 1, workers: int = 1,
            address: str | None = None, quiet: bool = False) -> dict[str, Any]:
    """Retrain a candidate from scratch for ``seeds`` seeds; record test accuracy (mean, std) and
    energy under ``RUN/retrain/<id>/results.json`` and return that summary.

    The recipe is the run's own evaluation config with ``epochs`` and the test split, exactly the
    final stage's (seeds it already trained with these epochs are reused). With ``workers`` > 1 (or
    a Ray ``address``) the seeds run in parallel on Ray, as a search's candidates do.
    """
    if epochs < 1 or seeds < 1 or workers < 1:
        raise SnnasError("--epochs, --seeds and --workers must be >= 1")
    with RunStore.open(run_dir, readonly=True) as store:
        rec = store.find_candidate(cand_id)
        space = run_space(store)  # also registers the run's hardware-profile files
        gpus = float(store.config.get("gpus_per_worker") or 0.0) if (workers > 1 or address) else 0.0
        with make_backend(workers, address, start_hint=_HINT, gpus=gpus) as backend:
            (result,) = retrain_records(store, space, [rec], epochs, seeds, backend, quiet,
                                        desc="retraining seeds")
    return result
