"""A user's whole session on the embedded data, through the real CLI: search, report, export, retrain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


def snnas(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    proc = subprocess.run([sys.executable, "-m", "snnas", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.mark.slow
def test_search_report_export_train(tmp_path):
    run = tmp_path / "run"
    out = snnas("search", "--space", "search_spaces/digits.yaml", "--budget", "3", "--proxy-epochs", "2",
                "--seed", "1", "--final-top-k", "1", "--final-epochs", "1", "--final-seeds", "1",
                "--out", str(run), "-q").stdout
    assert f"pareto.csv: {run / 'pareto.csv'}" in out and f"pareto.png: {run / 'pareto.png'}" in out
    cands = pd.read_csv(run / "candidates.csv")
    assert len(cands) == 3 and set(cands["state"]) <= {"complete", "failed"}
    front = pd.read_csv(run / "pareto.csv")
    assert 1 <= len(front) <= 3 and {"id", "val_acc_pct", "energy_uj", "macs", "acs"} <= set(front.columns)
    # the final stage retrained the front's best candidate: its test accuracy sits beside the proxy's
    assert "final stage" in out and front["test_seeds"].iloc[0] == 1 and 0 <= front["test_acc_pct"].iloc[0] <= 100
    assert front["test_acc_pct"].iloc[1:].isna().all() and (front["test_seeds"].iloc[1:] == 0).all()
    assert "test accuracy (retrained)" in (run / "summary.md").read_text()
    assert "ypervolume" in (run / "summary.md").read_text()
    assert not (run / ".lock").exists()  # a clean exit leaves no lock behind
    again = snnas("search", "--resume", str(run), "-q").stdout
    assert "is complete" in again

    # report again from the stored candidates: same front
    snnas("report", str(run))
    assert pd.read_csv(run / "pareto.csv")["id"].tolist() == front["id"].tolist()

    cid = front["id"].iloc[0]
    snnas("export", str(run), "--id", cid[:8], "--out", str(tmp_path / "exp"))
    assert (tmp_path / "exp" / "model.py").is_file() and (tmp_path / "exp" / "weights.pt").is_file()

    # retrain two seeds on Ray (the search's backend), then export picks the best retrained weights
    # a relative run path (the README's form) must reach the Ray workers intact
    out = snnas("train", os.path.relpath(run), "--id", cid, "--epochs", "1", "--seeds", "2", "--workers", "2",
                "-q").stdout
    assert "(2 seed(s), 1 epochs)" in out
    res = json.loads((run / "retrain" / cid / "results.json").read_text())
    assert [s["seed"] for s in res["seeds"]] == [0, 1] and not res["failed"]
    assert 0.0 <= res["test_accuracy_mean"] <= 1.0 and res["energy_mj"] > 0
    assert (run / "retrain" / cid / res["best_weights"]).is_file()
    snnas("export", str(run), "--id", cid, "--out", str(tmp_path / "exp2"))
    assert (tmp_path / "exp2" / "model.py").read_text() == (tmp_path / "exp" / "model.py").read_text()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_search_joins_an_existing_ray_cluster(tmp_path):
    """`--address` evaluates on a cluster started by `ray start`, with the same results as serial."""
    import time

    ray_bin = Path(sys.executable).with_name("ray")
    port = _free_port()
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    head = subprocess.Popen([str(ray_bin), "start", "--head", f"--port={port}", "--num-cpus=2", "--block",
                             "--include-dashboard=false", "--disable-usage-stats"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    args = ["search", "--space", "search_spaces/digits.yaml", "--budget", "2", "--proxy-epochs", "1",
            "--seed", "3", "--final-top-k", "0", "-q"]
    try:
        deadline = time.monotonic() + 60
        while subprocess.run([str(ray_bin), "status", f"--address=127.0.0.1:{port}"], capture_output=True,
                             env=env, timeout=60).returncode != 0:  # the head takes seconds to come up
            assert time.monotonic() < deadline and head.poll() is None, "ray head did not start"
            time.sleep(1)
        snnas(*args, "--address", f"127.0.0.1:{port}", "--out", str(tmp_path / "cluster"), timeout=300)
    finally:
        head.terminate()
        head.wait(timeout=60)
    snnas(*args, "--out", str(tmp_path / "serial"))
    cluster = pd.read_csv(tmp_path / "cluster" / "candidates.csv")
    serial = pd.read_csv(tmp_path / "serial" / "candidates.csv")
    cols = ["index", "id", "state", "val_acc_pct", "energy_uj", "macs", "acs"]
    pd.testing.assert_frame_equal(cluster[cols], serial[cols])
    assert json.loads((tmp_path / "cluster" / "config.json").read_text())["address"] == f"127.0.0.1:{port}"
