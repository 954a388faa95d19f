"""CIFAR-10/100 from the standard python-pickle folders (no download, no torchvision).

The folders are the ones published at https://www.cs.toronto.edu/~kriz/cifar.html:
``cifar-10-batches-py/{data_batch_1..5, test_batch}`` and ``cifar-100-python/{train, test}``; each
file is a pickled dict with ``b'data'`` (``[N, 3072]`` uint8, channel-major) and the labels. They
are unpickled, so only point this at files you trust.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from snnas.errors import DataError
from snnas.evaluate._data import DATASETS, DataSplits, stratified_split, tensor_dataset

_SPECS = {
    # name: folder, train files, test files, label key, classes, per-channel mean, std
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"],
                "labels", 10, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ("cifar-100-python", ["train"], ["test"], "fine_labels", 100,
                 (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}


def _expected(name: str, root: Path) -> str:
    folder, train, test = _SPECS[name][:3]
    files = "data_batch_1..5, test_batch" if name == "cifar10" else "train, test"
    return f"expected the python-pickle folder '{folder}' ({files}) under {root}"


def _read(name: str, root: Path, path: Path) -> tuple[np.ndarray, np.ndarray]:
    key = _SPECS[name][3]
    if not path.is_file():
        raise DataError(f"{name}: {path} not found; {_expected(name, root)}")
    try:
        with path.open("rb") as f:
            d = pickle.load(f, encoding="bytes")
        d = {(k.decode() if isinstance(k, bytes) else k): v for k, v in d.items()}
        x = np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        y = np.asarray(d[key], dtype=np.int64).reshape(-1)
        if len(x) != len(y):
            raise ValueError(f"{len(x)} images but {len(y)} labels")
    except Exception as e:  # any unpickling/shape problem means the file is not what we expect
        raise DataError(f"{name}: {path} is not a CIFAR python pickle (a dict with b'data' [N,3072] "
                        f"uint8 and b'{key}'): {type(e).__name__}: {e}; {_expected(name, root)}") from None
    return x, y


def _read_all(name: str, root: Path, paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    parts = [_read(name, root, p) for p in paths]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _normalise(x: np.ndarray, mean: tuple, std: tuple) -> torch.Tensor:
    t = torch.from_numpy(x).to(torch.float32).div_(255.0)
    t.sub_(torch.tensor(mean).view(1, 3, 1, 1)).div_(torch.tensor(std).view(1, 3, 1, 1))
    return t


def _load(name: str, root: Path, seed: int, val_fraction: float, test_fraction: float) -> DataSplits:
    folder, train_files, test_files, _, classes, mean, std = _SPECS[name]
    base = root / folder
    if not base.is_dir() and (root / train_files[0]).is_file():
        base = root  # the user pointed at the folder itself
    x, y = _read_all(name, root, [base / f for f in train_files])
    tx, ty = _read_all(name, root, [base / f for f in test_files])
    if y.size and (y.min() < 0 or max(y.max(), ty.max(initial=0)) >= classes):
        raise DataError(f"{name}: labels in {base} outside 0..{classes - 1}; {_expected(name, root)}")
    train, val = stratified_split(y, (val_fraction,), seed)
    xt = _normalise(x, mean, std)
    return DataSplits(name, tensor_dataset(xt, y, train), tensor_dataset(xt, y, val),
                      tensor_dataset(_normalise(tx, mean, std), ty), (3, 32, 32), classes, "direct")


@DATASETS.register("cifar10", description="CIFAR-10 python-pickle folder 'cifar-10-batches-py' at root")
def _load_cifar10(root: Path, seed: int, val_fraction: float, test_fraction: float) -> DataSplits:
    return _load("cifar10", root, seed, val_fraction, test_fraction)


@DATASETS.register("cifar100", description="CIFAR-100 python-pickle folder 'cifar-100-python' at root")
def _load_cifar100(root: Path, seed: int, val_fraction: float, test_fraction: float) -> DataSplits:
    return _load("cifar100", root, seed, val_fraction, test_fraction)
