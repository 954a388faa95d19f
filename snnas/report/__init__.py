"""Reports of a run: pareto.csv, candidates.csv, pareto.png and summary.md (pymoo, pandas, matplotlib)."""

from snnas.report._aeb import AEB_LAMBDA, aeb_scores, pick_aeb
from snnas.report._pareto import (
    BOUNDED,
    MARGIN,
    Hypervolume,
    feasible,
    hypervolume,
    objective_matrix,
    pareto_front,
    rank_by_first,
    reference_box,
    scored,
)
from snnas.report._plot import plot_front, plot_generations
from snnas.report._summary import best_per_objective, write_summary
from snnas.report._tables import CANDIDATE_COLUMNS, PARETO_COLUMNS, candidates_frame, pareto_frame
from snnas.report._units import LABELS, column, energy_unit, format_accuracy, format_energy, format_metric
from snnas.report._write import write_reports

__all__ = ["AEB_LAMBDA", "BOUNDED", "CANDIDATE_COLUMNS", "LABELS", "MARGIN", "PARETO_COLUMNS", "Hypervolume",
           "aeb_scores", "pick_aeb",
           "best_per_objective", "candidates_frame", "feasible", "hypervolume", "objective_matrix",
           "pareto_frame", "pareto_front", "rank_by_first", "plot_front", "plot_generations", "reference_box",
           "scored", "write_reports",
           "write_summary", "column", "energy_unit", "format_accuracy", "format_energy", "format_metric"]
