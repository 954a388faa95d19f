"""The snnas command as users run it: real subprocesses, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from snnas import __version__


def snnas(*args: str, cwd=None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snnas", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


def assert_user_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("snnas: error")]
    assert len(lines) == 1, proc.stderr
    for n in needles:
        assert n in lines[0]


def test_version():
    proc = snnas("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"snnas {__version__}"


def test_hardware_list():
    proc = snnas("hardware", "list")
    assert proc.returncode == 0
    for name, mac, ac in (("45nm-fp32", "4.6", "0.9"), ("45nm-fp16", "1.5", "0.4"), ("45nm-int8", "0.23", "0.03")):
        row = next(ln for ln in proc.stdout.splitlines() if ln.startswith(name))
        assert row.split()[1:3] == [mac, ac]


def test_hardware_list_with_user_profile(tmp_path):
    f = tmp_path / "hw.yaml"
    f.write_text("profiles:\n  - {name: my-asic, e_mac_pj: 2.0, e_ac_pj: 0.1, description: test}\n")
    proc = snnas("--hardware-config", str(f), "hardware", "list")
    assert proc.returncode == 0 and "my-asic" in proc.stdout
    f.write_text("profiles:\n  - {name: bad, e_mac_pj: fast, e_ac_pj: 0.1}\n")
    assert_user_error(snnas("--hardware-config", str(f), "hardware", "list"), str(f), "e_mac_pj")


@pytest.mark.parametrize("args, needles", [
    (["evaluate", "--neuron", "lifx"], ["unknown neuron 'lifx'", "lif", "plif"]),
    (["evaluate", "--surrogate", "atann"], ["unknown surrogate 'atann'", "did you mean 'atan'"]),
    (["evaluate", "--hardware", "7nm"], ["7nm", "45nm-fp32"]),
    (["search", "--space", "search_spaces/digits.yaml", "--strategy", "nope"],
     ["unknown search strategy 'nope'", "random"]),
    (["search", "--space", "no/such.yaml"], ["no/such.yaml"]),
    (["search", "--space", "search_spaces/digits.yaml", "--lambda", "1"], ["--lambda", "dhs", "'evolution'"]),
    (["search", "--space", "search_spaces/digits.yaml", "--strategy", "dhs", "--lambda", "0", "-1"],
     ["--lambda", ">= 0", "-1"]),
    (["search", "--space", "search_spaces/digits.yaml", "--prescreen", "0"], ["--prescreen", "[1, 100]", "0"]),
    (["search", "--space", "search_spaces/digits.yaml", "--strategy", "random", "--prescreen", "4"],
     ["--prescreen", "evolution", "'random'"]),
    (["report", "no/such/run"], ["no/such/run"]),
])
def test_unknown_names_and_paths_are_one_line_errors(args, needles):
    assert_user_error(snnas(*args), *needles)


def test_space_validate_reports_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    text = open("search_spaces/digits.yaml").read().replace("ops: [skip, conv_3x3", "ops: [skip, conv_3x4")
    bad.write_text(text)
    line = text.splitlines().index(next(ln for ln in text.splitlines() if "conv_3x4" in ln)) + 1
    proc = snnas("space", "validate", "search_spaces/digits.yaml", str(bad))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr + proc.stdout
    assert "search_spaces/digits.yaml: ok" in proc.stdout
    assert f"{bad}:{line} cell.ops" in proc.stdout and "conv_3x3" in proc.stdout


def test_space_show_and_sample():
    proc = snnas("space", "show", "search_spaces/digits_transformer.yaml")
    assert proc.returncode == 0, proc.stderr
    assert "params" in proc.stdout and "MACs/sample" in proc.stdout
    proc = snnas("space", "sample", "search_spaces/digits.yaml", "-n", "3", "--seed", "1")
    assert proc.returncode == 0, proc.stderr
    assert len([ln for ln in proc.stdout.splitlines() if "cell T=" in ln]) == 3


def test_list_strategies():
    proc = snnas("search", "--list-strategies")
    assert proc.returncode == 0 and "random" in proc.stdout


@pytest.mark.parametrize("neuron", ["ann", "psn"])
def test_evaluate_prints_a_metrics_table(neuron, tmp_path):
    out = tmp_path / "m.md"
    proc = snnas("evaluate", "--epochs", "1", "--neuron", neuron, "-q", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    for row in ("accuracy", "energy/sample", "MACs/sample", "ACs/sample", "params", "time steps"):
        assert row in proc.stdout and row in out.read_text()
    assert " %" in proc.stdout and ("nJ" in proc.stdout or "uJ" in proc.stdout)  # units with the numbers


def test_search_with_a_user_hardware_profile(tmp_path):
    """A profile from YAML names the space's hardware; the search's energies use its constants, and
    the run remembers the file so a resume needs no flag."""
    import json

    import pandas as pd

    hw = tmp_path / "chip.yaml"
    hw.write_text("profiles:\n  - {name: my-chip, e_mac_pj: 2.0, e_ac_pj: 0.25}\n")
    space = tmp_path / "space.yaml"
    space.write_text(open("search_spaces/digits.yaml").read().replace("hardware: 45nm-fp32", "hardware: my-chip"))
    proc = snnas("space", "validate", str(space))
    assert proc.returncode == 2 and "unknown hardware profile 'my-chip'" in proc.stdout
    run = tmp_path / "run"
    proc = snnas("--hardware-config", str(hw), "search", "--space", str(space), "--budget", "1",
                 "--proxy-epochs", "1", "--final-top-k", "0", "--out", str(run), "-q")
    assert proc.returncode == 0, proc.stderr
    row = pd.read_csv(run / "candidates.csv").iloc[0]
    assert row["energy_uj"] == pytest.approx((row["macs"] * 2.0 + row["acs"] * 0.25) * 1e-6, rel=1e-9)
    assert json.loads((run / "config.json").read_text())["hardware_files"] == [str(hw.resolve())]
    proc = snnas("search", "--resume", str(run), "--budget", "2", "-q")  # no flag: the run knows the file
    assert proc.returncode == 0, proc.stderr
    assert len(pd.read_csv(run / "candidates.csv")) == 2


def test_space_validate_sees_profiles_from_the_environment(tmp_path):
    """The space checks hardware names against registered profiles; $SNNAS_HARDWARE's count too."""
    import os

    hw = tmp_path / "chip.yaml"
    hw.write_text("profiles:\n  - {name: my-chip, e_mac_pj: 2.0, e_ac_pj: 0.25}\n")
    space = tmp_path / "space.yaml"
    space.write_text(open("search_spaces/digits.yaml").read().replace("hardware: 45nm-fp32", "hardware: my-chip"))
    proc = subprocess.run([sys.executable, "-m", "snnas", "space", "validate", str(space)], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, SNNAS_HARDWARE=str(hw)))
    assert proc.returncode == 0 and f"{space}: ok" in proc.stdout, proc.stdout + proc.stderr


def test_missing_dataset_fails_before_a_run_exists(tmp_path):
    run = tmp_path / "run"
    proc = snnas("search", "--space", "search_spaces/spikedhs_cifar10.yaml", "--budget", "1",
                 "--data-root", str(tmp_path / "nowhere"), "--out", str(run))
    assert_user_error(proc, "cifar-10-batches-py")
    assert not run.exists()


def test_resume_rejects_flags_that_would_change_the_run(tmp_path):
    proc = snnas("search", "--resume", str(tmp_path), "--seed", "3", "--proxy-epochs", "2", "--final-pick", "spread")
    assert_user_error(proc, "--seed", "--proxy-epochs", "--final-pick", "--resume")
