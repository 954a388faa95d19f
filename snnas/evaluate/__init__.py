"""Scoring candidates: data sets and input encodings, BPTT trainer, energy counter, ``Evaluator``.

Nothing here knows which search strategy is calling; a strategy hands over a module and gets
``Metrics`` (accuracy, energy per sample, MACs, ACs, firing rates, params, time steps) back.
"""

from snnas.evaluate import _cifar, _events  # noqa: F401  (register the loaders)
from snnas.evaluate._data import DATASETS, SPLITS, DataSplits, load_dataset, stratified_split
from snnas.evaluate._device import check_device_name, resolve_device
from snnas.evaluate._encoding import ENCODINGS, Encoding, emits_spikes, encode
from snnas.evaluate._energy import EnergyCounter, count_energy, einsum_macs
from snnas.evaluate._energy_rows import EnergyReport, EnergyRow, price_rows
from snnas.evaluate._evaluator import Evaluator, Metrics, count_params
from snnas.evaluate._events import integrate_events
from snnas.evaluate._hardware import (
    HARDWARE,
    HardwareError,
    HardwareProfile,
    get_hardware,
    hardware_files,
    load_hardware_yaml,
    use_hardware_files,
)
from snnas.evaluate._quick import evaluate_baseline, static_cost
from snnas.evaluate._trainer import (
    OPTIMIZERS,
    SCHEDULES,
    TrainConfig,
    TrainResult,
    accuracy,
    iter_batches,
    train,
)

__all__ = [
    "DATASETS",
    "ENCODINGS",
    "HARDWARE",
    "OPTIMIZERS",
    "SCHEDULES",
    "SPLITS",
    "DataSplits",
    "Encoding",
    "EnergyCounter",
    "EnergyReport",
    "EnergyRow",
    "Evaluator",
    "HardwareError",
    "HardwareProfile",
    "Metrics",
    "TrainConfig",
    "TrainResult",
    "accuracy",
    "check_device_name",
    "count_energy",
    "count_params",
    "einsum_macs",
    "emits_spikes",
    "encode",
    "evaluate_baseline",
    "get_hardware",
    "hardware_files",
    "integrate_events",
    "iter_batches",
    "load_dataset",
    "load_hardware_yaml",
    "price_rows",
    "resolve_device",
    "use_hardware_files",
    "static_cost",
    "stratified_split",
    "train",
]
