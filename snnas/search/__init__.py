"""Search strategies over a shared core: the `Strategy` interface, the registry, backends, and the
one-call ``search``/``resume`` API. Importing this package registers the built-in strategies."""

from snnas.search._api import SearchResult, function_name, import_function, resume, run_space, search
from snnas.search._backend import Backend, RayBackend, SerialBackend, TaskFailure, make_backend, worker_env
from snnas.search._candidate import eval_config_for, evaluate_candidate
from snnas.search._evaluation import CandidateTask, EvalJob, EvaluateFn, candidate_seed
from snnas.search._random import MAX_RESAMPLE, RandomSearch
from snnas.search._strategy import (
    STRATEGIES,
    Proposal,
    Strategy,
    gene_bounds,
    genome_of,
    list_strategies,
    make_strategy,
)

__all__ = ["MAX_RESAMPLE", "STRATEGIES", "Backend", "CandidateTask", "EvalJob", "EvaluateFn", "Proposal",
           "RandomSearch", "RayBackend", "SearchResult", "SerialBackend", "Strategy", "TaskFailure",
           "candidate_seed", "eval_config_for", "evaluate_candidate", "function_name", "gene_bounds",
           "genome_of", "import_function", "list_strategies", "make_backend", "make_strategy", "resume",
           "run_space", "search", "worker_env"]
