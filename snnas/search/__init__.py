"""Search strategies over a shared core: the `Strategy` interface, the registry, backends, the
one-call ``search``/``resume`` API and the final stage, ``retrain``. Importing this package registers
the built-in strategies."""

import sys

from snnas.search._api import SearchResult, function_name, import_function, resume, run_space, search
from snnas.search._backend import Backend, RayBackend, SerialBackend, TaskFailure, make_backend, worker_env
from snnas.search._candidate import eval_config_for, evaluate_candidate
from snnas.search._dhs import DHSSearch
from snnas.search._evaluation import CandidateTask, EvalJob, EvaluateFn, candidate_seed
from snnas.search._evolution import EvolutionSearch
from snnas.search._final import (
    FINAL_DEFAULTS,
    final_config,
    final_pending,
    retrain_records,
    run_final_stage,
    top_of_front,
)
from snnas.search._random import MAX_RESAMPLE, RandomSearch
from snnas.search._retrain import RETRAIN_DIR, SeedJob, retrain
from snnas.search._strategy import (
    STRATEGIES,
    Proposal,
    Strategy,
    gene_bounds,
    gene_specs,
    genome_of,
    list_strategies,
    make_strategy,
)

__all__ = ["FINAL_DEFAULTS", "MAX_RESAMPLE", "RETRAIN_DIR", "STRATEGIES", "Backend", "CandidateTask", "DHSSearch",
           "EvalJob", "EvolutionSearch",
           "EvaluateFn", "Proposal", "RandomSearch", "RayBackend", "SearchResult", "SeedJob", "SerialBackend",
           "Strategy", "TaskFailure", "candidate_seed", "eval_config_for", "evaluate_candidate", "final_config",
           "final_pending",
           "function_name", "gene_bounds", "gene_specs", "genome_of", "import_function", "list_strategies",
           "make_backend", "make_strategy", "resume", "retrain", "retrain_records", "run_final_stage", "run_space",
           "search", "top_of_front", "worker_env"]


class _CallablePackage(type(sys.modules[__name__])):
    """``snnas.search`` names both this package and the one-call function: once the package is
    imported, ``snnas.search`` is the package, so the package forwards calls to :func:`search`."""

    def __call__(self, *args, **kwargs) -> SearchResult:
        return search(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
