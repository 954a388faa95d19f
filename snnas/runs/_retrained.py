"""Where retraining results live in a run directory, and reading them back.

``RUN/retrain/<id>/`` holds one candidate's from-scratch trainings (the final stage and
``snnas train``): ``seed<n>.json`` and ``seed<n>.pt`` per seed and ``results.json``, the summary
(test accuracy mean and std over seeds, energy, the best seed's weights). Reports and export read it
through :func:`read_retrained`, so the layout is defined once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RETRAIN_DIR = "retrain"


def read_retrained(run_dir: str | Path, cand_id: str) -> dict[str, Any] | None:
    """The ``results.json`` of candidate ``cand_id`` (a full id), or None if it was not retrained."""
    path = Path(run_dir) / RETRAIN_DIR / cand_id / "results.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
