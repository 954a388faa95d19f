"""One unit per quantity, everywhere a person reads a number.

The run store keeps raw metrics (accuracy as a fraction, energy in mJ, as the objectives name them);
every table, summary and plot shows accuracy in percent and energy per sample, with the unit in the
column header (CSV: a fixed unit, so columns of different runs compare) or human-scaled to nJ / uJ /
mJ (summaries, console, plot axes).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

#: metric -> (CSV column, factor from the stored value). Metrics not listed keep name and value.
COLUMNS = {
    "accuracy": ("val_acc_pct", 100.0),
    "energy_mj": ("energy_uj", 1e3),
}

#: Axis and table labels (energy's unit is chosen from the data, see :func:`energy_unit`).
LABELS = {
    "accuracy": "validation accuracy [%]",
    "energy_mj": "energy per sample",
    "macs": "MACs per sample",
    "acs": "ACs per sample",
    "params": "parameters",
    "mean_firing_rate": "mean firing rate [spikes / neuron / step]",
    "time_steps": "time steps",
    "wall_time_s": "evaluation time [s]",
}

_ENERGY_UNITS = ((1e-6, "nJ"), (1e-3, "uJ"), (1.0, "mJ"), (1e3, "J"))


def column(metric: str) -> str:
    """The CSV column of a stored metric (``accuracy`` -> ``val_acc_pct``)."""
    return COLUMNS.get(metric, (metric, 1.0))[0]


def to_column(metric: str, value: float | None) -> float | None:
    """A stored value in its column's unit."""
    return None if value is None else value * COLUMNS.get(metric, (metric, 1.0))[1]


def energy_unit(values_mj: Iterable[float]) -> tuple[float, str]:
    """(factor, unit) that shows these mJ values as numbers between 1 and 1000 (median-based)."""
    vals = sorted(abs(v) for v in values_mj if v is not None and math.isfinite(v) and v != 0)
    if not vals:
        return 1e6, "nJ"
    mid = vals[len(vals) // 2]
    for size, unit in reversed(_ENERGY_UNITS):
        if mid >= size:
            return 1.0 / size, unit
    return 1e6, "nJ"


def format_energy(mj: float | None) -> str:
    """``9.108e-05`` mJ -> ``91.08 nJ``; None/NaN -> ``n/a``."""
    if mj is None or not math.isfinite(mj):
        return "n/a"
    factor, unit = energy_unit([mj])
    return f"{mj * factor:.4g} {unit}"


def format_accuracy(frac: float | None) -> str:
    """0.9811 -> ``98.11 %``."""
    return "n/a" if frac is None or not math.isfinite(frac) else f"{100 * frac:.2f} %"


def format_metric(metric: str, value: float | None) -> str:
    """A stored metric for people: accuracy in %, energy human-scaled, counts with 4 digits."""
    if metric == "accuracy" or metric.endswith("accuracy"):
        return format_accuracy(value)
    if metric == "energy_mj":
        return format_energy(value)
    return "n/a" if value is None else f"{value:.4g}"
