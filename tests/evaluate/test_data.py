"""Data loaders read the real on-disk formats (written here in miniature) and split reproducibly."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from snnas.errors import DataError, UnknownNameError
from snnas.evaluate import DATASETS, ENCODINGS, SPLITS, emits_spikes, encode, integrate_events, load_dataset


def test_registry_names():
    assert set(DATASETS.names()) == {"digits", "cifar10", "cifar100", "events"}
    with pytest.raises(UnknownNameError, match="did you mean 'digits'"):
        load_dataset("digit")


def test_digits_splits_are_disjoint_stratified_and_seeded():
    d = load_dataset("digits")
    assert (d.input_shape, d.num_classes, d.default_encoding, d.name) == ((1, 8, 8), 10, "direct", "digits")
    assert sum(d.sizes().values()) == 1797 and d.train.tensors[0].shape[1:] == (1, 8, 8)
    x = d.train.tensors[0]
    assert x.dtype == torch.float32 and x.min() >= 0 and x.max() <= 1
    rows = [{tuple(r.tolist()) for r in getattr(d, s).tensors[0].flatten(1)} for s in SPLITS]
    # digits has a few duplicate images, so allow a handful of coincidences across splits
    assert len(rows[0] & rows[1]) + len(rows[0] & rows[2]) + len(rows[1] & rows[2]) < 10
    for s in ("val", "test"):
        counts = torch.bincount(getattr(d, s).tensors[1], minlength=10)
        assert counts.min() >= 30  # every class is represented (~36 each)
    with pytest.raises(DataError, match="digits: unknown option 'time_steps'; valid: none"):
        load_dataset("digits", time_steps=4)
    again, other = load_dataset("digits"), load_dataset("digits", seed=1)
    assert torch.equal(again.val.tensors[0], d.val.tensors[0])
    assert not torch.equal(other.val.tensors[0], d.val.tensors[0])
    assert d.split("test") is d.test
    with pytest.raises(UnknownNameError, match="valid: train, val, test"):
        d.split("validation")


def _write_cifar(folder, files, label_key, n, classes):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for f in files:
        d = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
             label_key: [int(v) for v in rng.integers(0, classes, n)], b"batch_label": f.encode()}
        with open(folder / f, "wb") as fh:
            pickle.dump(d, fh)


def test_cifar10_reads_the_pickle_folder(tmp_path):
    files = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    _write_cifar(tmp_path / "cifar-10-batches-py", files, b"labels", 20, 10)
    d = load_dataset("cifar10", root=tmp_path, val_fraction=0.2)
    assert (d.input_shape, d.num_classes, len(d.test)) == ((3, 32, 32), 10, 20)
    assert len(d.train) + len(d.val) == 100
    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "rb") as fh:
        raw = pickle.load(fh)
    img = raw[b"data"][0].reshape(3, 32, 32).astype(np.float32) / 255
    expect = (img - np.array([0.4914, 0.4822, 0.4465])[:, None, None]) / np.array([0.2470, 0.2435, 0.2616])[
        :, None, None]
    assert np.allclose(d.test.tensors[0][0].numpy(), expect, atol=1e-5)
    assert d.test.tensors[1].tolist() == raw[b"labels"]
    # pointing at the folder itself works too
    assert len(load_dataset("cifar10", root=tmp_path / "cifar-10-batches-py").test) == 20


def test_cifar100_uses_fine_labels(tmp_path):
    _write_cifar(tmp_path / "cifar-100-python", ["train", "test"], b"fine_labels", 30, 100)
    d = load_dataset("cifar100", root=tmp_path, val_fraction=0.1)
    assert d.num_classes == 100 and len(d.test) == 30 and d.test.tensors[1].max() < 100


def test_cifar_errors_say_what_layout_is_expected(tmp_path):
    msg = (f"cifar10: {tmp_path}/cifar-10-batches-py/data_batch_1 not found; expected the python-pickle "
           f"folder 'cifar-10-batches-py' (data_batch_1..5, test_batch) under {tmp_path}")
    with pytest.raises(DataError) as e:
        load_dataset("cifar10", root=tmp_path)
    assert str(e.value) == msg and "\n" not in str(e.value)
    with pytest.raises(DataError, match="'cifar-100-python' \\(train, test\\)"):
        load_dataset("cifar100", root=tmp_path / "nowhere")
    bad = tmp_path / "cifar-100-python"
    bad.mkdir()
    (bad / "train").write_bytes(b"not a pickle")
    (bad / "test").write_bytes(b"")
    with pytest.raises(DataError, match="train is not a CIFAR python pickle"):
        load_dataset("cifar100", root=tmp_path)


def _write_events(path, label, n=50, size=(6, 5), seed=0, **extra):
    rng = np.random.default_rng(seed)
    np.savez(path, x=rng.integers(0, size[1], n), y=rng.integers(0, size[0], n),
             t=np.sort(rng.integers(0, 10_000, n)), p=rng.integers(0, 2, n), label=np.int64(label), **extra)


def test_integrate_events_counts_by_bin_polarity_and_pixel():
    x, y = np.array([0, 1, 1, 2]), np.array([0, 0, 0, 1])
    t, p = np.array([0, 10, 49, 100]), np.array([1, 0, 0, -1])
    f = integrate_events(x, y, t, p, 2, (2, 3))
    assert f.shape == (2, 2, 2, 3) and f.sum() == 4
    assert f[0, 1, 0, 0] == 1 and f[0, 0, 0, 1] == 2 and f[1, 0, 1, 2] == 1  # last event in last bin
    assert integrate_events(x[:0], y[:0], t[:0], p[:0], 3, (2, 3)).sum() == 0


def test_events_flat_folder(tmp_path):
    for i in range(12):
        _write_events(tmp_path / f"rec{i:02d}.npz", label=i % 3, seed=i, sensor_size=np.array([6, 5]))
    d = load_dataset("events", root=tmp_path, time_steps=4, val_fraction=0.25, test_fraction=0.25)
    assert (d.input_shape, d.num_classes, d.default_encoding, d.frames) == ((2, 6, 5), 3, "events", 4)
    assert d.sizes() == {"train": 6, "val": 3, "test": 3}
    x = d.train.tensors[0]
    assert x.shape == (6, 4, 2, 6, 5) and torch.all(x.sum((1, 2, 3, 4)) == 50)
    seq = encode(x, 4, "events")
    assert seq.shape == (4, 6, 2, 6, 5) and torch.equal(seq[1], x[:, 1])
    assert torch.equal(encode(x, 2, "events")[0], x[:, 0] + x[:, 1])  # merged equal bins
    with pytest.raises(ValueError, match="time_steps=3"):
        encode(x, 3, "events")


def test_events_official_split_and_inferred_sensor(tmp_path):
    for split, n in (("train", 8), ("test", 4)):
        (tmp_path / split).mkdir()
        for i in range(n):
            _write_events(tmp_path / split / f"{i}.npz", label=i % 2, seed=i + 100 * (split == "test"))
    d = load_dataset("events", root=tmp_path, time_steps=2, val_fraction=0.25)
    assert d.sizes() == {"train": 6, "val": 2, "test": 4}
    assert d.input_shape[0] == 2 and d.input_shape[1] <= 6 and d.input_shape[2] <= 5


def test_events_errors(tmp_path):
    with pytest.raises(DataError, match="events: .*missing not found; expected a folder of .npz files"):
        load_dataset("events", root=tmp_path / "missing")
    with pytest.raises(DataError, match="no .npz files"):
        load_dataset("events", root=tmp_path)
    np.savez(tmp_path / "a.npz", x=np.zeros(3), y=np.zeros(3), t=np.arange(3), p=np.ones(3))
    with pytest.raises(DataError, match="a.npz lacks array 'label'"):
        load_dataset("events", root=tmp_path)
    (tmp_path / "a.npz").write_bytes(b"garbage")
    with pytest.raises(DataError, match="a.npz is not a readable .npz"):
        load_dataset("events", root=tmp_path)
    (tmp_path / "a.npz").unlink()
    _write_events(tmp_path / "b.npz", label=0, size=(6, 5))
    with pytest.raises(DataError, match="outside the sensor size"):
        load_dataset("events", root=tmp_path, sensor_size=(2, 2))


@pytest.mark.parametrize("name", ENCODINGS.names())
def test_every_encoding_is_time_first(name):
    x = torch.rand(3, 4, 2, 2, 2) if name == "events" else torch.rand(3, 1, 2, 2)
    seq = encode(x, 4, name, torch.Generator().manual_seed(0))
    assert seq.shape[:2] == (4, 3) and seq.shape[2:] == x.shape[-3:]
    if emits_spikes(name) and name != "events":
        assert set(seq.unique().tolist()) <= {0.0, 1.0}


def test_direct_and_poisson():
    x = torch.rand(5, 1, 3, 3)
    seq = encode(x, 3, "direct")
    assert all(torch.equal(s, x) for s in seq) and not emits_spikes("direct")
    big = torch.full((2000,), 0.3)
    a = encode(big, 5, "poisson", torch.Generator().manual_seed(3))
    b = encode(big, 5, "poisson", torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and abs(float(a.mean()) - 0.3) < 0.02
    with pytest.raises(UnknownNameError, match="valid: direct, poisson, events"):
        encode(x, 3, "rate")
