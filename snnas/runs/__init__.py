"""Run directories: the candidate store (an Optuna study in SQLite), config, checkpoints and lock."""

from snnas.runs._lock import RunLock
from snnas.runs._objectives import (
    DEFAULT_OBJECTIVES,
    Constraint,
    Objective,
    constraints_of,
    objectives_of,
)
from snnas.runs._record import COMPLETE, FAILED, CandidateRecord
from snnas.runs._retrained import RETRAIN_DIR, read_retrained
from snnas.runs._store import STUDY_NAME, RunStore, package_versions, write_json_atomic

__all__ = ["COMPLETE", "DEFAULT_OBJECTIVES", "FAILED", "RETRAIN_DIR", "STUDY_NAME", "CandidateRecord", "Constraint",
           "Objective", "RunLock", "RunStore", "constraints_of", "objectives_of", "package_versions",
           "read_retrained", "write_json_atomic"]
