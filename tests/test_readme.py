"""The README's Python snippets, run as written: the one-call API (a short search with its final
stage, retraining, export) and loading the exported model from the folder that holds it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def _run(code: str, cwd: Path) -> None:
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env=env)
    assert proc.returncode == 0, f"README snippet failed in {cwd}:\n{code}\n{proc.stdout}\n{proc.stderr}"


def test_readme_has_the_snippets_this_test_runs():
    blocks = _python_blocks()
    assert any("snnas.search(" in b for b in blocks) and any("model.Network()" in b for b in blocks)


@pytest.mark.slow
def test_readme_python_snippets_run_as_written(tmp_path):
    (tmp_path / "search_spaces").symlink_to(ROOT / "search_spaces")  # the README's paths, from the repo root
    blocks = _python_blocks()
    api = next(b for b in blocks if "snnas.search(" in b)
    _run(api, tmp_path)
    exported = tmp_path / "runs" / "py" / "my_model"
    assert (exported / "model.py").is_file() and (exported / "weights.pt").is_file()
    assert (tmp_path / "runs" / "py" / "retrain").is_dir()
    load = next(b for b in blocks if "model.Network()" in b)
    _run(load, exported.parent)  # "from the folder that holds my_model/"
