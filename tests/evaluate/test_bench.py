"""SpikeNAS-Bench support: ids, the strict reader, energy from the recorded rates, the evaluate function,
the whole table and ``snnas search --bench-root`` end to end, on small tables the tests write in the
benchmark's on-disk format (``<root>/<id>/train_process.txt``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tiny_dag import TINY_DAG

from snnas.errors import SnnasError
from snnas.evaluate import (
    BENCH_EDGES,
    BENCH_OPS,
    BenchError,
    bench_cell,
    bench_config,
    bench_energy,
    bench_id,
    check_bench_root,
    check_bench_space,
    evaluate_bench,
    load_bench_table,
    read_train_process,
)
from snnas.evaluate._bench import RATE_EDGES
from snnas.space import Architecture, load_space, load_space_text

ROOT = Path(__file__).resolve().parents[2]
TINY = ("description: a SpikeNAS-Bench space whose networks are small enough to build on a CPU\n"
        + TINY_DAG + "search: {strategy: random, budget: 5}\n")


def codes_of(bench: int) -> dict[tuple[int, int], int]:
    return dict(zip(BENCH_EDGES, [(bench // 5**k) % 5 for k in range(6)], strict=True))


def entry_text(bench: int, epochs: int = 100, rates: list[float] | None = None, newline: str = "\n") -> str:
    """A train_process.txt as SpikeNAS-Bench writes it; values derived from the id."""
    if rates is None:
        codes = codes_of(bench)
        rates = [round(0.1 + 0.01 * k, 3) if codes[RATE_EDGES[k % 6]] >= 2 else -1.0 for k in range(12)]
        rates += [0.2, 0.1, 0.05, 0.15]
    lines = [f"architecture id: {bench}", f"model parameters: {17_000_000 + bench}",
             "epoch, train_acc, train_loss, val_acc, val_loss"]
    lines += [f"{e:.3f}, {20 + 0.3 * e:.3f}, {2.3 - 0.01 * e:.3f}, {table_val_acc(bench, e):.3f}, 1.500"
              for e in range(epochs)]
    lines += [f"test accuracy: {table_test_acc(bench):.3f}",
              "firing rate of layers: " + ", ".join(f"{r:.3f}" for r in rates),
              "Elapsed time: 1.0hour7.0minute39.7second"]
    return newline.join(lines) + newline


def table_val_acc(bench: int, epoch: int) -> float:
    return round(10 + (bench % 40) + 0.2 * epoch, 3)


def table_test_acc(bench: int) -> float:
    return round(50 + (bench % 37), 3)


def write_entry(root: Path, bench: int, text: str | None = None, **kw) -> Path:
    path = root / str(bench) / "train_process.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(entry_text(bench, **kw) if text is None else text, encoding="utf-8")
    return path


IDS = (0, 3, 10000, 3 * 5**5 + 2 * 5**2 + 4, 15624)


@pytest.fixture
def table(tmp_path) -> Path:
    root = tmp_path / "CIFAR10"
    for b in IDS:
        write_entry(root, b, epochs=200 if b == 15624 else 100, newline="\r\n" if b == 3 else "\n")
    return root


@pytest.fixture(scope="module")
def tiny():
    return load_space_text(TINY, file="tiny.yaml")


# ---- ids ---------------------------------------------------------------------------------------
def arch_of(cell) -> Architecture:
    space = load_space("spikenas_bench_cifar10")
    base = space.decode([0] * 6)
    return Architecture.from_dict({**base.to_dict(), "cell": [[list(e) for e in node] for node in cell]})


def test_known_ids():
    zero = bench_cell(0)
    assert bench_id(arch_of(zero)) == 0
    for op in range(5):
        on01 = [list(n) for n in zero]
        on01[0] = [(0, BENCH_OPS[op])]
        assert bench_id(arch_of(on01)) == op
        on23 = [list(n) for n in zero]
        on23[2] = [(0, "zero"), (1, "zero"), (2, BENCH_OPS[op])]
        assert bench_id(arch_of(on23)) == op * 5**5
    # the real entry 10000: skip on (1, 3), the threshold-1 conv on (2, 3)
    assert bench_cell(10000) == (((0, "zero"),), ((0, "zero"), (1, "zero")),
                                 ((0, "zero"), (1, "skip"), (2, "neuron_conv_3x3{threshold:1}")))


def test_ids_are_the_genomes_digits_and_round_trip():
    space = load_space("spikenas_bench_cifar10")
    rng = np.random.default_rng(0)
    for _ in range(50):
        arch = space.sample(rng)
        b = bench_id(arch, space.settings["ops"])
        assert b == sum(g * 5**k for k, g in enumerate(space.encode(arch)))
        assert bench_cell(b) == arch.cell and arch_of(bench_cell(b)) == arch


def test_architectures_without_an_id():
    darts = load_space("digits").sample(np.random.default_rng(0))
    with pytest.raises(BenchError, match="holds dag cells; this architecture is a darts cell one"):
        bench_id(darts)
    arch = arch_of(bench_cell(7))  # (0, 1): op 2, (0, 2): op 1
    with pytest.raises(BenchError) as e:
        bench_id(arch, ops=("zero", "skip"))
    assert str(e.value) == ("edge (0, 1) has op 'neuron_conv_3x3{threshold:0.5}', which is not one of the "
                            "benchmark's ops (zero, skip)")


# ---- the reader --------------------------------------------------------------------------------
def test_reader(table):
    e = read_train_process(table / "10000" / "train_process.txt", expect_id=10000)
    assert e.id == 10000 and e.params == 17_010_000 and e.epochs == 100
    assert e.val_acc[0] == table_val_acc(10000, 0) and e.val_accuracy() == table_val_acc(10000, 99)
    assert e.val_accuracy(40) == table_val_acc(10000, 39)  # after 40 epochs: SpikeNAS-Bench's early_stop_40
    assert e.train_acc[2] == 20.6 and e.train_loss[1] == pytest.approx(2.29) and e.val_loss[5] == 1.5
    assert e.test_acc == table_test_acc(10000) and e.elapsed_s == pytest.approx(3600 + 7 * 60 + 39.7)
    assert e.firing_rates[5] == 0.15 and e.firing_rates[4] == -1.0 and len(e.firing_rates) == 16
    assert read_train_process(table / "15624" / "train_process.txt").epochs == 200
    assert read_train_process(table / "3" / "train_process.txt").val_accuracy() == table_val_acc(3, 99)  # \r\n
    with pytest.raises(BenchError, match="bench epoch 101 is outside the file's 1..100 epochs"):
        e.val_accuracy(101)


def _replace(text: str, line: int, new: str | None) -> str:
    lines = text.split("\n")
    if new is None:
        del lines[line - 1]
    else:
        lines[line - 1] = new
    return "\n".join(lines)


GOOD = entry_text(10000)


@pytest.mark.parametrize("text,line,what", [
    (_replace(GOOD, 1, "architecture: 10000"), 1, "expected 'architecture id: ...'"),
    (_replace(GOOD, 1, "architecture id: 9999"), 1, "architecture id 9999, but the file is the entry of id 10000"),
    (_replace(GOOD, 2, "model parameters: many"), 2, "model parameters: expected an integer, got 'many'"),
    (_replace(GOOD, 3, "epoch, train_acc, val_acc"), 3, "expected the header"),
    (_replace(GOOD, 10, "6.000, 23.000, 2.240, 54.400"), 10, "expected 5 comma-separated values"),
    (_replace(GOOD, 10, "7.000, 23.000, 2.240, 54.400, 1.5"), 10, "epoch 7.000 out of order: expected 6"),
    (_replace(GOOD, 10, "6.000, 23.000, 2.240, 154.400, 1.5"), 10, "val_acc 154.4 is not a percentage"),
    (_replace(GOOD, 10, "6.000, 23.000, x, 54.400, 1.5"), 10, "train_loss: expected a number, got 'x'"),
    (_replace(GOOD, 104, "test top1: 10.0"), 104, "epoch"),
    (_replace(GOOD, 105, "firing rate of layers: 0.1, 0.2"), 105, "expected 16 firing rates, got 2"),
    (_replace(GOOD, 105, "firing rate of layers: " + ", ".join(["-1.000"] * 4 + ["0.300", "0.100"] + ["-1.000"] * 5
                                                              + ["0.1", "0.1", "0.1", "0.1", "0.1"])), 105,
     "firing rate 4 (cell1.edge13) is 0.3, but the op of edge (1, 3) of id 10000 is skip"),
    (_replace(GOOD, 105, "firing rate of layers: " + ", ".join(["-1.000"] * 5 + ["1.700"] + ["-1.000"] * 5
                                                              + ["0.1"] * 5)), 105,
     "firing rate 5 (cell1.edge23) is 1.7"),
    (_replace(GOOD, 106, "Elapsed time: a while"), 106, "expected 'Elapsed time: <h>hour<m>minute<s>second'"),
    (_replace(GOOD, 106, None), 106, "file ends early: expected 'Elapsed time: ...'"),
    (GOOD + "extra\n", 107, "unexpected line after 'Elapsed time'"),
])
def test_malformed_files_name_the_file_and_line(tmp_path, text, line, what):
    path = write_entry(tmp_path, 10000, text=text)
    with pytest.raises(BenchError) as e:
        read_train_process(path, expect_id=10000)
    msg = str(e.value)
    assert msg.startswith(f"{path}:{line}: ") and what in msg and "\n" not in msg


# ---- energy ------------------------------------------------------------------------------------
def test_energy_by_hand(table):
    """Entry 10000 has neurons on cell 1's and cell 2's edge (2, 3) (slots 5 and 11) and the three fixed ones."""
    e = read_train_process(table / "10000" / "train_process.txt")
    r5, r11, r12, r13, r14 = 0.15, 0.21, 0.2, 0.1, 0.05
    assert [e.firing_rates[k] for k in (5, 11, 12, 13, 14)] == [r5, r11, r12, r13, r14]
    stem = 3 * 128 * 9 * 32 * 32                                    # 3 -> 128 3x3 conv at 32x32, once
    acs = 5 * (r5 * 128 * 128 * 9 * 32 * 32                         # cell 1's (2,3) conv
               + r11 * 256 * 256 * 9 * 16 * 16                      # cell 2's (2,3) conv
               + r12 * 128 * 256 * 9 * 32 * 32                      # the 128 -> 256 conv
               + r13 * 16384 * 1024 + r14 * 1024 * 100)             # the two linears
    macs, got_acs, mj = bench_energy(e)
    assert macs == stem == 3_538_944 and got_acs == pytest.approx(acs, rel=1e-12)
    assert mj == pytest.approx((stem * 4.6 + acs * 0.9) * 1e-9, rel=1e-12)
    assert bench_energy(e, "45nm-int8")[2] == pytest.approx((stem * 0.23 + acs * 0.03) * 1e-9, rel=1e-12)


# ---- the evaluate function ---------------------------------------------------------------------
def arch_json(space, bench: int) -> str:
    return space.decode([(bench // 5**k) % 5 for k in range(6)]).to_json()


def test_evaluate_bench_returns_metrics(tiny, table):
    cfg = bench_config(tiny, table)
    out = evaluate_bench(tiny, arch_json(tiny, 10000), dict(cfg, seed=1, index=0))
    assert "failed" not in out and out["bench_id"] == 10000
    assert out["accuracy"] == pytest.approx(table_val_acc(10000, 99) / 100)
    assert out["test_accuracy"] == pytest.approx(table_test_acc(10000) / 100)
    macs, acs, mj = bench_energy(read_train_process(table / "10000" / "train_process.txt"))
    assert (out["macs"], out["acs"], out["energy_mj"]) == (macs, acs, mj)
    assert out["params"] == 17_010_000 and out["time_steps"] == 5 and out["mean_firing_rate"] == 0.15
    assert out["firing_rates"] == {"cell1.edge23": 0.15, "cell2.edge23": 0.21, "downconv": 0.2, "last_act": 0.1,
                                   "classifier": 0.05}
    assert out["bench_train_time_s"] == pytest.approx(4059.7)
    early = evaluate_bench(tiny, arch_json(tiny, 10000), dict(cfg, bench_epoch=40))
    assert early["accuracy"] == pytest.approx(table_val_acc(10000, 39) / 100)
    assert early["bench_train_time_s"] == pytest.approx(4059.7 * 0.4)


def test_evaluate_bench_from_a_space_path(tmp_path, table):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    out = evaluate_bench(str(path), arch_json(load_space(path), 3), {"bench_root": str(table)})
    assert out["bench_id"] == 3 and out["accuracy"] == pytest.approx(table_val_acc(3, 99) / 100)


def test_failures_are_failed_candidates(tiny, table):
    cfg = bench_config(tiny, table)
    missing = evaluate_bench(tiny, arch_json(tiny, 17), cfg)
    assert missing["bench_id"] == 17 and "accuracy" not in missing
    path = table / "17" / "train_process.txt"
    assert missing["failed"] == f"SpikeNAS-Bench has no entry for architecture 17: {path} is missing"
    write_entry(table, 18, text=_replace(entry_text(18), 2, "model parameters: ?"))
    bad = evaluate_bench(tiny, arch_json(tiny, 18), cfg)
    assert bad["failed"].startswith(f"{table / '18' / 'train_process.txt'}:2: model parameters")
    late = evaluate_bench(tiny, arch_json(tiny, 10000), dict(cfg, bench_epoch=150))
    assert "bench epoch 150 is outside the file's 1..100 epochs" in late["failed"]
    gone = evaluate_bench(tiny, arch_json(tiny, 10000), dict(cfg, bench_root=str(table / "nope")))
    assert "does not exist" in gone["failed"]
    darts = evaluate_bench(load_space("digits"), load_space("digits").sample(np.random.default_rng(0)).to_json(), cfg)
    assert "cell.topology: dag" in darts["failed"]


def test_spaces_that_are_not_the_benchmarks():
    ops = ("[zero, skip, 'neuron_conv_3x3{threshold: 0.5}', 'neuron_conv_3x3{threshold: 1}',\n"
           "        'neuron_conv_3x3{threshold: 1.5}']")
    for change, what in [
        (("time_steps: 5", "time_steps: [4, 5]"), "task.time_steps must be 5 alone"),
        (("nodes: 4", "nodes: 3"), "SpikeNAS-Bench cells have cell.nodes: 4, the space has 3"),
        ((ops, "[skip, zero, 'neuron_conv_3x3{threshold: 0.5}', neuron_conv_3x3, 'neuron_conv_3x3{threshold: 1.5}']"),
         "cell.ops[0] is 'skip'; SpikeNAS-Bench's op 0 is zero"),
        ((ops, "[zero, skip, 'neuron_conv_3x3{threshold: 1.5}', neuron_conv_3x3, 'neuron_conv_3x3{threshold: 0.5}']"),
         "cell.ops[2] is 'neuron_conv_3x3{threshold:1.5}'"),
        ((ops, "[zero, skip, conv_3x3]"), "cell.ops must be the benchmark's 5 ops"),
    ]:
        space = load_space_text(TINY.replace(*change), file="x.yaml")
        with pytest.raises(BenchError, match=None) as e:
            check_bench_space(space)
        assert what in str(e.value) and "(x.yaml)" in str(e.value)
    # the layers' threshold stands in for a plain neuron_conv_3x3
    check_bench_space(load_space_text(TINY.replace("'neuron_conv_3x3{threshold: 1}'", "neuron_conv_3x3")))
    check_bench_space(load_space("spikenas_bench_cifar10"))


def test_bench_root_checks(tmp_path, table):
    assert check_bench_root(table) == table.resolve()
    for root, what in [(tmp_path / "none", "does not exist"), (tmp_path, "holds no <id>/train_process.txt"),
                       (None, "no SpikeNAS-Bench folder given")]:
        with pytest.raises(BenchError, match=what):
            check_bench_root(root)


# ---- the whole table ---------------------------------------------------------------------------
def test_load_bench_table_and_its_front(table):
    df = load_bench_table(table, epochs=[10, 40, 150])
    assert list(df["id"]) == sorted(IDS)
    row = df.set_index("id").loc[10000]
    assert row["val_acc_pct"] == table_val_acc(10000, 99) and row["val_acc_pct_e40"] == table_val_acc(10000, 39)
    assert np.isnan(row["val_acc_pct_e150"])
    assert df.set_index("id").loc[15624, "val_acc_pct_e150"] == table_val_acc(15624, 149)
    assert row["test_acc_pct"] == table_test_acc(10000) and row["params"] == 17_010_000 and row["epochs"] == 100
    entry = read_train_process(table / "10000" / "train_process.txt")
    assert row["energy_uj"] == pytest.approx(bench_energy(entry)[2] * 1e3)
    assert [row[f"edge{i}{j}"] for i, j in BENCH_EDGES] == [0, 0, 0, 0, 1, 3]
    assert len(load_bench_table(table).filter(like="val_acc_pct_e").columns) == 200
    # the true front (max val acc, min energy) from the columns
    front = [r.id for r in df.itertuples()
             if not ((df.val_acc_pct >= r.val_acc_pct) & (df.energy_uj <= r.energy_uj)
                     & ((df.val_acc_pct > r.val_acc_pct) | (df.energy_uj < r.energy_uj))).any()]
    assert front and set(front) <= set(IDS)


# ---- snnas search --bench-root -----------------------------------------------------------------
def snnas(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snnas", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def test_cli_search_on_the_table(tmp_path):
    space_file = tmp_path / "tiny_bench.yaml"
    space_file.write_text(TINY)
    space = load_space(space_file)
    root = tmp_path / "CIFAR10"
    proposals = [space.sample(np.random.default_rng([0, i])) for i in range(5)]  # the random strategy's draws
    ids = [bench_id(a, space.settings["ops"]) for a in proposals]
    for b in ids[:-1]:  # the last is missing: a failed candidate, not a crash
        write_entry(root, b)
    run = tmp_path / "run"
    proc = snnas("search", "--space", str(space_file), "--bench-root", str(root), "--strategy", "random",
                 "--budget", "5", "--out", str(run), "-q")
    assert proc.returncode == 0, proc.stderr
    assert "final stage: off" in proc.stdout
    df = pd.read_csv(run / "candidates.csv")
    assert {"bench_id", "bench_test_acc_pct", "val_acc_pct", "energy_uj"} <= set(df.columns)
    assert len(df) == 5 and (df["state"] == "complete").sum() >= 1
    for r in df.itertuples():
        if (root / str(r.bench_id)).is_dir():
            assert r.state == "complete" and r.bench_test_acc_pct == pytest.approx(table_test_acc(r.bench_id))
            assert r.val_acc_pct == pytest.approx(table_val_acc(r.bench_id, 99))
        else:
            assert r.state == "failed" and "has no entry for architecture" in r.reason
    assert not (run / "checkpoints" / "weights").exists()  # nothing was trained


@pytest.mark.parametrize("args,needle", [
    (["--bench-root", "NOPE"], "SpikeNAS-Bench folder NOPE does not exist"),
    (["--bench-epoch", "3"], "--bench-epoch needs --bench-root DIR"),
    (["--bench-root", "TABLE", "--bench-epoch", "0"], "--bench-epoch must be >= 1, got 0"),
    (["--bench-root", "TABLE", "--proxy-epochs", "2"], "--proxy-epochs: nothing is trained with --bench-root"),
])
def test_cli_errors_before_the_run_starts(tmp_path, table, args, needle):
    space_file = tmp_path / "tiny_bench.yaml"
    space_file.write_text(TINY)
    run = tmp_path / "run"
    args = [str(table) if a == "TABLE" else a for a in args]
    proc = snnas("search", "--space", str(space_file), *args, "--budget", "2", "--out", str(run), "-q")
    assert proc.returncode == 2 and needle in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not run.exists()


def test_bench_errors_are_user_errors():
    assert issubclass(BenchError, SnnasError)


def test_synthetic_bench_script_writes_files_the_strict_reader_accepts(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("synthetic_bench", ROOT / "scripts" / "synthetic_bench.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    cut = 1 * 5**2 + 3 * 5**4  # (0,3) skip and (1,3) a conv, whose input node 1 is unreachable
    conv_path = 3 * 5**2  # (0,3) one conv
    for b in (0, cut, conv_path, 15624):
        write_entry(tmp_path, b, text=mod.entry(b, 100, np.random.default_rng([0, b])))
        e = read_train_process(tmp_path / str(b) / "train_process.txt", expect_id=b)
        assert e.epochs == 100 and len(e.firing_rates) == 16
        codes = codes_of(b)
        for k in range(12):  # edge slots: a rate exactly where the edge holds a conv
            assert (e.firing_rates[k] >= 0) == (codes[RATE_EDGES[k % 6]] >= 2)
    acc = {b: read_train_process(tmp_path / str(b) / "train_process.txt").test_acc for b in (0, cut, conv_path)}
    assert acc[0] < 11 and acc[conv_path] > 60  # no input-to-output path scores chance
    assert acc[cut] > 60  # the skip (0,3) is a path; the conv off every path does not count
