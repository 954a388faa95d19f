"""Scoring candidates: data sets and input encodings, BPTT trainer, energy counter, ``Evaluator``.

Nothing here knows which search strategy is calling; a strategy hands over a module and gets
``Metrics`` (accuracy, energy per sample, MACs, ACs, firing rates, params, time steps) back.
``evaluate_bench`` scores candidates from a SpikeNAS-Bench table instead of training them.
"""

from snnas.evaluate import _cifar, _events  # noqa: F401  (register the loaders)
from snnas.evaluate._bench import (
    BENCH_EDGES,
    BENCH_OPS,
    BenchEntry,
    BenchError,
    bench_cell,
    bench_config,
    bench_energy,
    bench_id,
    bench_path,
    check_bench_root,
    check_bench_space,
    evaluate_bench,
    load_bench_table,
    read_train_process,
)
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
    "BENCH_EDGES",
    "BENCH_OPS",
    "DATASETS",
    "ENCODINGS",
    "HARDWARE",
    "OPTIMIZERS",
    "SCHEDULES",
    "SPLITS",
    "BenchEntry",
    "BenchError",
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
    "bench_cell",
    "bench_config",
    "bench_energy",
    "bench_id",
    "bench_path",
    "check_bench_root",
    "check_bench_space",
    "check_device_name",
    "count_energy",
    "count_params",
    "einsum_macs",
    "emits_spikes",
    "encode",
    "evaluate_baseline",
    "evaluate_bench",
    "get_hardware",
    "hardware_files",
    "integrate_events",
    "iter_batches",
    "load_bench_table",
    "load_dataset",
    "load_hardware_yaml",
    "price_rows",
    "read_train_process",
    "resolve_device",
    "use_hardware_files",
    "static_cost",
    "stratified_split",
    "train",
]
