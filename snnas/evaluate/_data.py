"""Data sets as fixed train/val/test splits of in-memory tensors.

Every data set is split once, by a seeded, stratified rule, into train (fit weights), val (score
candidates during a search) and test (held out: no search strategy ever reads it; it is only for
the final report of a chosen architecture). Loaders are registered by name in ``DATASETS`` so the
command line and search spaces can refer to them; nothing is downloaded at run time.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from snnas.errors import DataError
from snnas.registry import Registry
from snnas.space._names import DATASET_NAMES

SPLITS = ("train", "val", "test")
_COMMON = ("root", "seed", "val_fraction", "test_fraction")


@dataclass
class DataSplits:
    """Three ``TensorDataset`` s of ``(x, y)`` plus what a network builder needs to know.

    ``x`` is ``[N, C, H, W]`` for frame data and ``[N, T0, C, H, W]`` for event data (``T0`` =
    ``frames``); ``input_shape`` is always the per-time-step ``(C, H, W)``.
    """

    name: str
    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    input_shape: tuple[int, int, int]
    num_classes: int
    default_encoding: str = "direct"
    frames: int | None = None

    @property
    def encoding(self) -> str:
        return self.default_encoding

    def split(self, name: str) -> TensorDataset:
        """The split called ``name`` (train, val or test); unknown names list the valid ones."""
        return _SPLIT_NAMES.get(name)(self)

    def sizes(self) -> dict[str, int]:
        return {s: len(getattr(self, s)) for s in SPLITS}


_SPLIT_NAMES: Registry[Callable[[DataSplits], TensorDataset]] = Registry("split")
for _s in SPLITS:
    _SPLIT_NAMES.add(_s, lambda d, _s=_s: getattr(d, _s))

DATASETS: Registry[Callable[..., DataSplits]] = Registry("dataset", names=DATASET_NAMES)


def load_dataset(name: str, root: str | Path | None = None, seed: int = 0, val_fraction: float = 0.2,
                 test_fraction: float = 0.2, **options) -> DataSplits:
    """Load the registered data set ``name`` from ``root`` (default ``$SNNAS_DATA`` or ``./data``).

    ``val_fraction``/``test_fraction`` are fractions of all samples for data sets without an
    official test split (digits, events without train/test folders); where an official test split
    exists (CIFAR, events with train/ and test/) it is used and ``val_fraction`` is carved out of
    train. ``options`` are loader-specific (events: ``time_steps``, ``sensor_size``).
    """
    loader = DATASETS.get(name)
    for key, frac in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= frac < 1.0:
            raise ValueError(f"{key} must be in [0, 1), got {frac}")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError("val_fraction + test_fraction must leave samples for training")
    accepted = [p for p in inspect.signature(loader).parameters if p not in _COMMON]
    for key in options:
        if key not in accepted:
            raise DataError(f"{name}: unknown option '{key}'; valid: {', '.join(accepted) or 'none'}")
    root = Path(root if root is not None else os.environ.get("SNNAS_DATA", "data")).expanduser()
    return loader(root=root, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction, **options)


def stratified_split(labels: np.ndarray, fractions: tuple[float, ...], seed: int) -> list[np.ndarray]:
    """Seeded per-class split of indices: parts for ``fractions`` plus the rest (first part).

    Returns ``[rest, part_1, ...]``; each class contributes ``round(n_c * f)`` samples to each part
    (a class too small to spare any stays in the first part), so class balance is kept.
    """
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        start = 0
        for k, f in enumerate(fractions, start=1):
            n = int(round(len(idx) * f))
            n = min(n, len(idx) - start - 1) if len(idx) - start > 1 else 0
            parts[k].append(idx[start:start + n])
            start += n
        parts[0].append(idx[start:])
    return [np.sort(np.concatenate(p)) if p else np.zeros(0, dtype=np.int64) for p in parts]


def tensor_dataset(x: np.ndarray | torch.Tensor, y: np.ndarray,
                   idx: np.ndarray | None = None) -> TensorDataset:
    """``TensorDataset(float32 x, int64 y)``, optionally restricted to ``idx``."""
    x = torch.as_tensor(x, dtype=torch.float32)
    y = torch.as_tensor(np.asarray(y), dtype=torch.long)
    if idx is not None:
        i = torch.as_tensor(idx, dtype=torch.long)
        x, y = x[i], y[i]
    return TensorDataset(x, y)


@DATASETS.register("digits", description="scikit-learn's 1,797 8x8 handwritten digits (embedded)")
def _load_digits(root: Path, seed: int, val_fraction: float, test_fraction: float) -> DataSplits:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    y = d.target.astype(np.int64)
    train, val, test = stratified_split(y, (val_fraction, test_fraction), seed)
    return DataSplits("digits", tensor_dataset(x, y, train), tensor_dataset(x, y, val),
                      tensor_dataset(x, y, test), (1, 8, 8), 10, "direct")
