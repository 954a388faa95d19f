"""SpikeNAS-Bench: score candidates from a table of 15,625 trained SNNs instead of training them.

SpikeNAS-Bench (Sun et al., IEEE TAI 2024) trained every network of SNASNet's 4-node forward cell on
CIFAR-10: six edges (0,1), (0,2), (0,3), (1,2), (1,3), (2,3), each one of five ops, 0 ``zero``,
1 ``skip``, 2..4 LIF -> conv3x3 -> BN with firing thresholds 0.5, 1.0, 1.5 (tau 4/3, T = 5). A
network's id is ``sum_k op_k * 5**k`` over the edges in that order; its record is
``<root>/<id>/train_process.txt``::

    architecture id: 10000
    model parameters: 17917668
    epoch, train_acc, train_loss, val_acc, val_loss
    0.000, 9.880, 2.303, 9.968, 2.303          (one line per epoch: 100, a few files 200; in %)
    ...
    test accuracy: 10.000
    firing rate of layers: -1.000, ... (16 values)
    Elapsed time: 1.0hour7.0minute39.7second

The 16 rates (spikes per neuron per step; -1 where the slot has no neuron) are: slots 0-5 the edge
neurons of cell 1 in the order (0,1), (0,2), (1,2), (0,3), (1,3), (2,3) (the benchmark builds its
edges node by node), 6-11 those of cell 2, 12 the neuron before the 128 -> 256 3x3 conv at 32x32,
13 the one before the 16384 -> 1024 linear, 14 the one before the 1024 -> 100 linear, 15 the mean
over all neurons. Energy follows the package's rule on the benchmark's own network
(``snnas.nn.DagNetwork`` at 128 channels on 3x32x32): each slot's rate x the dense count of the
layer it feeds x T accumulates (AC), plus the stem conv's multiply-accumulates (MAC, once: the
benchmark runs its stem on the static image), priced with a hardware profile.

Nothing is shipped or downloaded: the user points ``--bench-root`` at their copy. A candidate's
accuracy is the validation accuracy after ``bench_epoch`` epochs (the fidelity; default the last),
its test accuracy is reported beside (``test_accuracy``), so a search never sees test. A table's
true front: ``load_bench_table(root)`` then ``snnas.report`` or pandas on its columns.
"""

from __future__ import annotations

import functools
import math
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snnas.errors import DataError
from snnas.evaluate._evaluator import Metrics
from snnas.evaluate._hardware import HardwareProfile, get_hardware
from snnas.space._architecture import Architecture
from snnas.space._ops import op_params, parse_op

BENCH_EDGES = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
"""The edges in id order: edge k contributes ``op_k * 5**k`` (also the gene order of a dag space)."""

RATE_EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
"""The edges in the order of a cell's firing-rate slots."""

BENCH_OPS = ("zero", "skip", "neuron_conv_3x3{threshold:0.5}", "neuron_conv_3x3{threshold:1}",
             "neuron_conv_3x3{threshold:1.5}")
"""Op code -> canonical op name, as ``search_spaces/spikenas_bench_cifar10.yaml`` lists them."""

BENCH_THRESHOLDS = (0.5, 1.0, 1.5)
"""Firing thresholds of op codes 2, 3, 4."""

TIME_STEPS = 5
N_RATES = 16
RATE_SLOTS = tuple([f"cell1.edge{i}{j}" for i, j in RATE_EDGES] + [f"cell2.edge{i}{j}" for i, j in RATE_EDGES]
                   + ["downconv", "last_act", "classifier", "mean"])
"""Names of the 16 firing-rate slots (the keys of ``firing_rates`` in the metrics)."""

HEADER = ("epoch", "train_acc", "train_loss", "val_acc", "val_loss")
FILE = "train_process.txt"


class BenchError(DataError):
    """A missing or malformed SpikeNAS-Bench folder or file (one line naming the file and line), or a
    space whose cell is not the benchmark's."""


# ---- one file ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class BenchEntry:
    """One trained network of the table. Accuracies in percent, as the file has them."""

    id: int
    params: int
    train_acc: tuple[float, ...]
    train_loss: tuple[float, ...]
    val_acc: tuple[float, ...]
    val_loss: tuple[float, ...]
    test_acc: float
    firing_rates: tuple[float, ...]
    elapsed_s: float
    path: str = ""

    @property
    def epochs(self) -> int:
        return len(self.val_acc)

    def val_accuracy(self, epoch: int | None = None) -> float:
        """Validation accuracy in % after ``epoch`` epochs (1 .. ``epochs``; default the last)."""
        epoch = self.epochs if epoch is None else int(epoch)
        if not 1 <= epoch <= self.epochs:
            raise BenchError(f"{self.path}: bench epoch {epoch} is outside the file's 1..{self.epochs} epochs")
        return self.val_acc[epoch - 1]


_ELAPSED = re.compile(r"([0-9.]+)\s*hour\s*([0-9.]+)\s*minute\s*([0-9.]+)\s*second")


def _codes(bench: int) -> list[int]:
    """The op code of each edge of ``BENCH_EDGES`` (the base-5 digits of the id, least significant first)."""
    return [(bench // 5**k) % 5 for k in range(len(BENCH_EDGES))]


def read_train_process(path: str | os.PathLike, expect_id: int | None = None) -> BenchEntry:
    """Parse one ``train_process.txt`` strictly; BenchError ``file:line: what`` on any deviation
    (blank lines and Windows line ends are ignored)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise BenchError(f"{path}: cannot read ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise BenchError(f"{path}: not UTF-8 text ({e.reason})") from None
    lines = [(n, raw.strip()) for n, raw in enumerate(text.split("\n"), start=1) if raw.strip()]
    pos = 0

    def fail(n: int, what: str) -> BenchError:
        return BenchError(f"{path}:{n}: {what}")

    def take(what: str) -> tuple[int, str]:
        nonlocal pos
        if pos >= len(lines):
            last = lines[-1][0] if lines else 0
            raise fail(last + 1, f"file ends early: expected {what}")
        pos += 1
        return lines[pos - 1]

    def number(n: int, text: str, what: str, kind: type = float) -> Any:
        try:
            v = kind(text.strip())
        except ValueError:
            raise fail(n, f"{what}: expected {'an integer' if kind is int else 'a number'}, got {text.strip()!r}") \
                from None
        return v

    def labelled(label: str, kind: type) -> tuple[int, Any]:
        n, line = take(f"'{label}: ...'")
        head, colon, rest = line.partition(":")
        if not colon or head.strip() != label:
            raise fail(n, f"expected '{label}: ...', got {line[:60]!r}")
        return n, number(n, rest, label, kind)

    n, bench = labelled("architecture id", int)
    if not 0 <= bench < 5 ** len(BENCH_EDGES):
        raise fail(n, f"architecture id {bench} is outside 0..{5 ** len(BENCH_EDGES) - 1}")
    if expect_id is not None and bench != expect_id:
        raise fail(n, f"architecture id {bench}, but the file is the entry of id {expect_id}")
    n, params = labelled("model parameters", int)
    if params < 0:
        raise fail(n, f"model parameters {params} must be >= 0")
    n, line = take("the header 'epoch, train_acc, train_loss, val_acc, val_loss'")
    if tuple(c.strip() for c in line.split(",")) != HEADER:
        raise fail(n, f"expected the header '{', '.join(HEADER)}', got {line[:60]!r}")
    rows: list[tuple[float, ...]] = []
    while pos < len(lines) and not lines[pos][1].startswith("test accuracy"):
        n, line = take("an epoch line")
        cells = line.split(",")
        if len(cells) != len(HEADER):
            raise fail(n, f"expected {len(HEADER)} comma-separated values ({', '.join(HEADER)}), got {len(cells)}")
        vals = tuple(number(n, c, name) for c, name in zip(cells, HEADER, strict=True))
        if vals[0] != len(rows):
            raise fail(n, f"epoch {cells[0].strip()} out of order: expected {len(rows)}")
        for v, name in ((vals[1], "train_acc"), (vals[3], "val_acc")):
            if not 0.0 <= v <= 100.0:
                raise fail(n, f"{name} {v:g} is not a percentage in [0, 100]")
        rows.append(vals)
    if not rows:
        raise fail(lines[pos][0] if pos < len(lines) else n + 1, "no epoch lines after the header")
    n, test = labelled("test accuracy", float)
    if not 0.0 <= test <= 100.0:
        raise fail(n, f"test accuracy {test:g} is not a percentage in [0, 100]")
    n, line = take("'firing rate of layers: ...'")
    head, colon, rest = line.partition(":")
    if not colon or head.strip() != "firing rate of layers":
        raise fail(n, f"expected 'firing rate of layers: ...', got {line[:60]!r}")
    cells = rest.split(",")
    if len(cells) != N_RATES:
        raise fail(n, f"expected {N_RATES} firing rates, got {len(cells)}")
    rates = tuple(number(n, c, f"firing rate {k}") for k, c in enumerate(cells))
    for k, r in enumerate(rates):
        if r != -1.0 and not 0.0 <= r <= 1.0:
            raise fail(n, f"firing rate {k} ({RATE_SLOTS[k]}) is {r:g}: expected -1 (no neuron) or a rate in [0, 1]")
    codes = dict(zip(BENCH_EDGES, _codes(bench), strict=True))
    for k, name in enumerate(RATE_SLOTS):
        has = codes[RATE_EDGES[k % 6]] >= 2 if k < 12 else True
        if has != (rates[k] != -1.0):
            what = (f"the op of edge {RATE_EDGES[k % 6]} of id {bench} is {BENCH_OPS[codes[RATE_EDGES[k % 6]]]}"
                    if k < 12 else "that neuron is in every network")
            raise fail(n, f"firing rate {k} ({name}) is {rates[k]:g}, but {what}")
    n, line = take("'Elapsed time: ...'")
    m = _ELAPSED.fullmatch(line.partition(":")[2].strip()) if line.startswith("Elapsed time:") else None
    if m is None:
        raise fail(n, f"expected 'Elapsed time: <h>hour<m>minute<s>second', got {line[:60]!r}")
    elapsed = float(m[1]) * 3600 + float(m[2]) * 60 + float(m[3])
    if pos < len(lines):
        raise fail(lines[pos][0], f"unexpected line after 'Elapsed time': {lines[pos][1][:60]!r}")
    cols = list(zip(*rows, strict=True))
    return BenchEntry(bench, params, cols[1], cols[2], cols[3], cols[4], test, rates, elapsed, str(path))


def bench_path(root: str | os.PathLike, bench: int) -> Path:
    """Where the table keeps network ``bench``: ``<root>/<id>/train_process.txt``."""
    return Path(root) / str(int(bench)) / FILE


# ---- ids ---------------------------------------------------------------------------------------
def bench_id(arch: Architecture, ops: Sequence[str] = BENCH_OPS) -> int:
    """The benchmark id of a 4-node dag architecture: ``sum_k code(op on edge k) * 5**k`` over
    `BENCH_EDGES`, where ``ops[c]`` is the op of code c (a dag space's ``settings['ops']`` in
    benchmark order, see `check_bench_space`); BenchError when the architecture has no id."""
    if arch.family != "cell" or arch.topology != "dag":
        kind = f"{arch.topology} cell" if arch.family == "cell" else arch.family
        raise BenchError(f"SpikeNAS-Bench holds dag cells; this architecture is a {kind} one")
    cell = arch.cell or ()
    if len(cell) != 3:
        raise BenchError(f"SpikeNAS-Bench cells have 4 nodes; this one has {len(cell) + 1}")
    code = {str(op): c for c, op in enumerate(ops)}
    edges = {}
    for j, node in enumerate(cell, start=1):
        for i, op in node:
            edges[(int(i), j)] = op
    total = 0
    for k, e in enumerate(BENCH_EDGES):
        if e not in edges:
            raise BenchError(f"the cell has no edge {e}; a SpikeNAS-Bench cell lists all six")
        if edges[e] not in code:
            raise BenchError(f"edge {e} has op '{edges[e]}', which is not one of the benchmark's ops "
                             f"({', '.join(ops)})")
        total += code[edges[e]] * 5**k
    return total


def bench_cell(bench: int, ops: Sequence[str] = BENCH_OPS) -> tuple[tuple[tuple[int, str], ...], ...]:
    """The dag cell (``Architecture.cell``) of benchmark id ``bench``."""
    if not 0 <= int(bench) < 5 ** len(BENCH_EDGES):
        raise BenchError(f"benchmark id {bench} is outside 0..{5 ** len(BENCH_EDGES) - 1}")
    codes = dict(zip(BENCH_EDGES, _codes(int(bench)), strict=True))
    return tuple(tuple((i, ops[codes[(i, j)]]) for i in range(j)) for j in range(1, 4))


def check_bench_space(space: Any) -> None:
    """The space must be the benchmark's cell: dag topology, 4 nodes, T = 5 only, and the ops in
    benchmark order: ``zero``, ``skip``, then ``neuron_conv_3x3`` firing at 0.5, 1 and 1.5 (a
    variant's own threshold, else the layers' single neuron threshold). BenchError otherwise."""
    where = f"space '{getattr(space, 'name', 'space')}'" + (f" ({space.path})" if getattr(space, "path", None) else "")
    settings = getattr(space, "settings", {}) or {}
    if getattr(space, "family", None) != "cell" or settings.get("topology") != "dag":
        raise BenchError(f"{where}: SpikeNAS-Bench needs a cell space with cell.topology: dag "
                         "(see search_spaces/spikenas_bench_cifar10.yaml)")
    if settings.get("nodes") != 4:
        raise BenchError(f"{where}: SpikeNAS-Bench cells have cell.nodes: 4, the space has {settings.get('nodes')}")
    if tuple(space.choices("time_steps")) != (TIME_STEPS,):
        raise BenchError(f"{where}: SpikeNAS-Bench networks run T = {TIME_STEPS}; task.time_steps must be "
                         f"{TIME_STEPS} alone")
    ops = list(settings.get("ops") or ())
    want = ", ".join(BENCH_OPS)
    if len(ops) != len(BENCH_OPS):
        raise BenchError(f"{where}: cell.ops must be the benchmark's 5 ops in code order ({want}), got {len(ops)}")
    for code, op in enumerate(ops):
        base = parse_op(op)[0]
        expected = BENCH_OPS[code].partition("{")[0]
        ok = base == expected
        if ok and code >= 2:
            own = dict(op_params(op)).get("threshold")
            ok = own is not None and math.isclose(own, BENCH_THRESHOLDS[code - 2])
            if own is None:
                layer = {float(t) for name in _threshold_settings(space) for t in space.choices(name)}
                ok = len(layer) == 1 and math.isclose(layer.pop(), BENCH_THRESHOLDS[code - 2])
        if not ok:
            raise BenchError(f"{where}: cell.ops[{code}] is '{op}'; SpikeNAS-Bench's op {code} is "
                             f"{BENCH_OPS[code]} (the ops in code order: {want})")


def _threshold_settings(space: Any) -> list[str]:
    if getattr(space, "shared_neuron", True):
        return ["neuron.threshold"]
    return [f"layer{i}.neuron.threshold" for i in range(int(space.settings["layers"]))]


# ---- energy ------------------------------------------------------------------------------------
def bench_dense_counts(channels: int = 128, size: int = 32, in_channels: int = 3, hidden: int = 1024,
                       outputs: int = 100) -> tuple[float, tuple[float, ...]]:
    """(stem MACs, dense count of the layer each of the 15 neuron slots feeds) per sample and step,
    for the benchmark's network (the defaults)."""
    c1, c2 = channels, 2 * channels
    cell1 = c1 * c1 * 9 * size * size
    cell2 = c2 * c2 * 9 * (size // 2) ** 2
    dense = (cell1,) * 6 + (cell2,) * 6 + (c1 * c2 * 9 * size * size, c2 * (size // 4) ** 2 * hidden,
                                           hidden * outputs)
    return float(in_channels * c1 * 9 * size * size), tuple(float(d) for d in dense)


def bench_energy(rates: BenchEntry | Sequence[float], hardware: str | HardwareProfile = "45nm-fp32"
                 ) -> tuple[float, float, float]:
    """(MACs, ACs, energy in mJ) per sample of a benchmark network from its recorded rates:
    ``sum rate_k x dense_k x T`` ACs over slots 0-14 with a neuron, plus the stem's MACs once."""
    rates = rates.firing_rates if isinstance(rates, BenchEntry) else tuple(rates)
    macs, dense = bench_dense_counts()
    acs = sum(r * d * TIME_STEPS for r, d in zip(rates[:15], dense, strict=True) if r >= 0)
    return macs, float(acs), get_hardware(hardware).energy_mj(macs, acs)


# ---- the evaluate function ---------------------------------------------------------------------
def check_bench_root(root: str | os.PathLike | None) -> Path:
    """The benchmark folder as an absolute path; BenchError unless it is a folder holding at least
    one ``<id>/train_process.txt``."""
    if not root:
        raise BenchError("no SpikeNAS-Bench folder given (--bench-root DIR, eval_config['bench_root'])")
    path = Path(root).expanduser()
    if not path.is_dir():
        raise BenchError(f"SpikeNAS-Bench folder {root} does not exist (give the folder holding "
                         f"<id>/{FILE}, e.g. SpikeNAS-Bench's data/CIFAR10)")
    with os.scandir(path) as it:
        if not any(e.name.isdigit() and (Path(e.path) / FILE).is_file() for e in it):
            raise BenchError(f"SpikeNAS-Bench folder {root} holds no <id>/{FILE} (give the folder of "
                             "the numbered entries, e.g. SpikeNAS-Bench's data/CIFAR10)")
    return path.resolve()


def bench_config(space: Any, root: str | os.PathLike, epoch: int | None = None,
                 hardware: str | None = None) -> dict:
    """The ``eval_config`` of a search scored by `evaluate_bench`, checked up front (the folder, the
    fidelity epoch and the space), so a wrong path is one error before a run directory exists."""
    if epoch is not None and int(epoch) < 1:
        raise BenchError(f"bench epoch must be >= 1, got {epoch}")
    path = check_bench_root(root)
    check_bench_space(space)
    return {"bench_root": str(path), "bench_epoch": None if epoch is None else int(epoch),
            "hardware": hardware or getattr(space, "hardware", None) or "45nm-fp32"}


@functools.lru_cache(maxsize=4)
def _load_space(path: str) -> Any:
    from snnas.space import load_space

    space = load_space(path)
    check_bench_space(space)
    return space


def evaluate_bench(space_ref: Any, arch_json: str, eval_config: dict) -> dict:
    """Look ``arch`` up in the table at ``eval_config['bench_root']`` and return
    ``Metrics.to_dict()`` fields plus ``bench_id``, ``test_accuracy`` (a fraction) and
    ``bench_train_time_s`` (the benchmark's training time up to the fidelity epoch).

    ``accuracy`` is the validation accuracy after ``eval_config['bench_epoch']`` epochs (default:
    the file's last), ``energy_mj`` / ``macs`` / ``acs`` come from the recorded firing rates
    (`bench_energy`, ``eval_config['hardware']``), ``params`` from the file, ``time_steps`` 5.
    A missing entry or a malformed file is a failed candidate with the reason; it never raises.
    """
    start = time.perf_counter()
    out: dict[str, Any] = {"time_steps": TIME_STEPS}
    try:
        space = _load_space(str(space_ref)) if isinstance(space_ref, (str, Path)) else space_ref
        if not isinstance(space_ref, (str, Path)):
            check_bench_space(space)
        arch = Architecture.from_json(arch_json)
        bench = bench_id(arch, space.settings["ops"])
        out["bench_id"] = bench
        path = bench_path(check_bench_root(eval_config.get("bench_root")), bench)
        if not path.is_file():
            raise BenchError(f"SpikeNAS-Bench has no entry for architecture {bench}: {path} is missing")
        entry = read_train_process(path, expect_id=bench)
        epoch = eval_config.get("bench_epoch") or entry.epochs
        accuracy = entry.val_accuracy(epoch) / 100.0
        macs, acs, energy = bench_energy(entry, eval_config.get("hardware") or space.hardware)
        rates = {name: r for name, r in zip(RATE_SLOTS[:15], entry.firing_rates, strict=False) if r >= 0}
        mean = entry.firing_rates[15]
        metrics = Metrics(accuracy, energy, macs, acs, rates, mean if mean >= 0 else math.nan, entry.params,
                          TIME_STEPS, time.perf_counter() - start)
        out.update(metrics.to_dict(), bench_id=bench, test_accuracy=entry.test_acc / 100.0,
                   bench_train_time_s=entry.elapsed_s * int(epoch) / entry.epochs)
        out.pop("failed", None)
        return out
    except Exception as e:  # every failure is a recorded candidate, not a crash
        reason = str(e) if isinstance(e, BenchError) else f"{type(e).__name__}: {e}"
        out.update(failed=" ".join(reason.split()), wall_time_s=time.perf_counter() - start)
        return out


# ---- the whole table ---------------------------------------------------------------------------
def load_bench_table(root: str | os.PathLike, epochs: Sequence[int] | None = None,
                     hardware: str | HardwareProfile = "45nm-fp32") -> Any:
    """Every entry of the table as a ``pandas.DataFrame`` sorted by id, in the report's units:
    ``id``, ``edge01`` .. ``edge23`` (op codes), ``params``, ``epochs``, ``val_acc_pct`` (last epoch),
    ``val_acc_pct_e{N}`` for each fidelity epoch N of ``epochs`` (default every epoch of the
    longest file; NaN past a file's own), ``test_acc_pct``, ``energy_uj``, ``macs``, ``acs``,
    ``mean_firing_rate``, ``train_time_s``. A malformed file raises BenchError."""
    import pandas as pd

    path = check_bench_root(root)
    entries = []
    with os.scandir(path) as it:
        ids = sorted(int(e.name) for e in it if e.name.isdigit() and e.is_dir())
    for bench in ids:
        file = bench_path(path, bench)
        if file.is_file():
            entries.append(read_train_process(file, expect_id=bench))
    wanted = list(range(1, max(e.epochs for e in entries) + 1)) if epochs is None else [int(n) for n in epochs]
    rows = []
    for e in entries:
        macs, acs, energy = bench_energy(e, hardware)
        row: dict[str, Any] = {"id": e.id}
        row.update({f"edge{i}{j}": c for (i, j), c in zip(BENCH_EDGES, _codes(e.id), strict=True)})
        row.update(params=e.params, epochs=e.epochs, val_acc_pct=e.val_acc[-1])
        row.update({f"val_acc_pct_e{n}": e.val_acc[n - 1] if 1 <= n <= e.epochs else math.nan for n in wanted})
        row.update(test_acc_pct=e.test_acc, energy_uj=energy * 1e3, macs=macs, acs=acs,
                   mean_firing_rate=e.firing_rates[15] if e.firing_rates[15] >= 0 else math.nan,
                   train_time_s=e.elapsed_s)
        rows.append(row)
    return pd.DataFrame(rows)
