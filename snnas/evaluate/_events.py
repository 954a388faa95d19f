"""Event-camera (DVS) recordings integrated into frames.

Layout read from ``root`` (one recording per file)::

    root/train/*.npz, root/test/*.npz     # official split: test kept, val carved out of train
    root/*.npz                            # or a flat folder, split seeded and stratified

Each ``.npz`` holds 1-D arrays ``x``, ``y`` (pixel column/row, ints), ``t`` (timestamps, any
unit), ``p`` (polarity: >0 is ON, else OFF; {0,1}, {-1,1} or bool), a scalar int ``label`` and
optionally ``sensor_size`` = ``(H, W)``. The sensor size comes from the ``sensor_size`` option,
else from the files, else from the largest coordinates seen. Each recording's time span
``[t_min, t_max]`` is cut into ``time_steps`` equal bins and events are counted per
(bin, polarity, y, x), giving ``[T, 2, H, W]`` float32 count frames per sample.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from snnas.errors import DataError
from snnas.evaluate._data import DATASETS, DataSplits, stratified_split, tensor_dataset

_LAYOUT = ("expected a folder of .npz files (arrays x, y, t, p and a scalar int label), directly or "
           "in train/ and test/ subfolders")


def integrate_events(x: np.ndarray, y: np.ndarray, t: np.ndarray, p: np.ndarray, time_steps: int,
                     sensor_size: tuple[int, int]) -> np.ndarray:
    """Count events into ``[time_steps, 2, H, W]`` frames over equal time bins of the recording."""
    H, W = sensor_size
    frames = np.zeros((time_steps, 2, H, W), dtype=np.float32)
    if len(t) == 0:
        return frames
    t = np.asarray(t, dtype=np.float64)
    t0, span = t.min(), t.max() - t.min()
    b = np.zeros(len(t), dtype=np.int64) if span == 0 else (
        np.minimum(((t - t0) / span * time_steps).astype(np.int64), time_steps - 1))
    c = (np.asarray(p) > 0).astype(np.int64)
    flat = ((b * 2 + c) * H + np.asarray(y, dtype=np.int64)) * W + np.asarray(x, dtype=np.int64)
    frames.reshape(-1)[:] = np.bincount(flat, minlength=frames.size)
    return frames


def _read(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as f:
            d = {k: f[k] for k in f.files}
    except Exception as e:
        raise DataError(f"events: {path} is not a readable .npz ({type(e).__name__}: {e}); "
                        f"{_LAYOUT}") from None
    for key in ("x", "y", "t", "p", "label"):
        if key not in d:
            raise DataError(f"events: {path} lacks array '{key}'; {_LAYOUT}")
    n = {len(np.ravel(d[k])) for k in "xytp"}
    if len(n) != 1 or np.ndim(d["label"]) != 0 or not np.issubdtype(d["label"].dtype, np.integer) \
            or int(d["label"]) < 0:
        raise DataError(f"events: {path} has x, y, t, p of different lengths or a label that is not a "
                        f"non-negative integer scalar; {_LAYOUT}")
    if n.pop() and (np.min(d["x"]) < 0 or np.min(d["y"]) < 0):
        raise DataError(f"events: {path} has negative x/y coordinates; {_LAYOUT}")
    return d


@DATASETS.register("events", description="folder of .npz event recordings (x, y, t, p, label) -> T frames")
def _load_events(root: Path, seed: int, val_fraction: float, test_fraction: float, time_steps: int = 8,
                 sensor_size: tuple[int, int] | None = None) -> DataSplits:
    if not root.is_dir():
        raise DataError(f"events: {root} not found; {_LAYOUT}")
    official = (root / "train").is_dir() and (root / "test").is_dir()
    groups = [sorted((root / s).glob("*.npz")) for s in ("train", "test")] if official else \
        [sorted(root.glob("*.npz"))]
    if not all(groups):
        raise DataError(f"events: no .npz files in {root}{'/train or /test' if official else ''}; {_LAYOUT}")
    recs = [[_read(f) for f in g] for g in groups]
    every = [r for g in recs for r in g]
    if sensor_size is None:
        given = [tuple(int(v) for v in r["sensor_size"]) for r in every if "sensor_size" in r]
        sensor_size = given[0] if given else (
            max(int(np.max(r["y"], initial=0)) for r in every) + 1,
            max(int(np.max(r["x"], initial=0)) for r in every) + 1)
    H, W = (int(v) for v in sensor_size)
    for f, r in zip((f for g in groups for f in g), every, strict=False):
        if len(r["x"]) and (np.max(r["x"]) >= W or np.max(r["y"]) >= H):
            raise DataError(f"events: {f} has events outside the sensor size (H={H}, W={W}); pass "
                            f"sensor_size=(H, W) or store it in the files")

    def stack(rs: list[dict]) -> tuple[np.ndarray, np.ndarray]:
        xs = np.stack([integrate_events(r["x"], r["y"], r["t"], r["p"], time_steps, (H, W)) for r in rs])
        return xs, np.array([int(r["label"]) for r in rs], dtype=np.int64)

    classes = max(int(r["label"]) for r in every) + 1
    if official:
        (x, y), (tx, ty) = stack(recs[0]), stack(recs[1])
        train, val = stratified_split(y, (val_fraction,), seed)
        test_ds = tensor_dataset(tx, ty)
    else:
        x, y = stack(recs[0])
        train, val, test = stratified_split(y, (val_fraction, test_fraction), seed)
        test_ds = tensor_dataset(x, y, test)
    return DataSplits("events", tensor_dataset(x, y, train), tensor_dataset(x, y, val), test_ds,
                      (2, H, W), classes, "events", frames=time_steps)
