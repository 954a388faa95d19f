"""The space validates registry names from torch-free tables: loading a space imports no torch, the
tables' built-ins equal what the registries register, and a plug-in is valid once registered.

Each check runs in a fresh interpreter: this test process has long imported torch and may hold
plug-ins other tests registered.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("nn", "spiking", "evaluate", "search", "supernet", "runs", "report", "export", "testing", "cli")


def _run(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "SNNAS_HARDWARE"}  # built-in profiles only
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def test_loading_every_shipped_space_imports_no_torch():
    code = """
import json, sys
import snnas.space
for name in sorted(snnas.space.shipped_spaces()):
    snnas.space.load_space(name)
print(json.dumps(sorted(m for m in sys.modules if m == "torch" or m.startswith(("torch.", "snnas.")))))
"""
    loaded = json.loads(_run(code))
    assert "torch" not in loaded
    assert all(m.startswith("snnas.space") or m in ("snnas.errors", "snnas._version") for m in loaded), loaded


def test_space_sources_import_no_other_snnas_package():
    """Statically too, so a lazy import inside a function cannot slip back in."""
    for path in sorted((ROOT / "snnas" / "space").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name.split(".")[0] != "torch", f"{path.name} imports {name}"
                assert not name.startswith(tuple(f"snnas.{p}" for p in PACKAGES)), f"{path.name} imports {name}"


def test_builtin_name_tables_equal_the_registries():
    code = """
import json
from snnas.space import _names as n
tables = {"neuron": n.NEURON_NAMES, "surrogate": n.SURROGATE_NAMES, "op": n.OP_NAMES, "dataset": n.DATASET_NAMES,
          "encoding": n.ENCODING_NAMES, "hardware": n.HARDWARE_NAMES}
def row(k, t, name):
    return [name, t.group(name), t.flagged(name, "neuron")]
builtin = {k: [row(k, t, name) for name in t.names()] for k, t in tables.items()}
import snnas.evaluate as ev, snnas.nn as nn, snnas.spiking as sp
regs = {"neuron": sp.NEURONS, "surrogate": sp.SURROGATES, "op": nn.OPS, "dataset": ev.DATASETS,
        "encoding": ev.ENCODINGS, "hardware": ev.HARDWARE}
registered = {k: [[name, r.meta(name).get("kind") if k == "op" else None,
                   bool(r.meta(name).get("neuron")) if k == "op" else False] for name in r.names()]
              for k, r in regs.items()}
after = {k: [row(k, t, name) for name in t.names()] for k, t in tables.items()}
print(json.dumps([builtin, registered, after]))
"""
    builtin, registered, after = json.loads(_run(code))
    assert builtin == registered  # same names, same order (error messages list them), same op kinds and
    assert after == registered    # neuron flags (op variants); registering the built-ins added nothing unknown


def test_a_registered_plugin_is_valid_in_a_space():
    code = """
import sys
from snnas.errors import SpaceError
from snnas.space import load_space_text
text = open("search_spaces/digits.yaml").read().replace("kind: [lif, plif]", "kind: [lif, my_if]")
try:
    load_space_text(text)
    raise SystemExit("an unregistered neuron was accepted")
except SpaceError as e:
    assert "unknown neuron kind 'my_if'" in str(e), e
from snnas.spiking import NEURONS, IFNode
NEURONS.add("my_if", IFNode)  # a user's plug-in
load_space_text(text)
print("ok")
"""
    assert _run(code) == "ok"
