"""The run lock against a real second process, and after that process is SIGKILLed."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from snnas.errors import RunError
from snnas.runs import RunStore

HOLDER = textwrap.dedent("""
    import sys, time
    from snnas.runs import RunStore
    store = RunStore.open(sys.argv[1])
    print("ready", flush=True)
    time.sleep(60)
""")


@pytest.fixture
def run_dir(tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text("name: toy\n")
    RunStore.create(tmp_path / "run", space, {"seed": 0}).close()
    return tmp_path / "run"


def test_second_writer_is_refused_and_a_killed_holder_does_not_block(run_dir):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        with pytest.raises(RunError, match=rf"in use by another process \(pid {proc.pid}\)"):
            RunStore.open(run_dir)
        RunStore.open(run_dir, readonly=True).records()  # reading a live run is fine
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert (run_dir / ".lock").exists()  # the stale file stays, yet the lock went with the process
    with RunStore.open(run_dir) as store:
        assert store.records() == []


def test_a_writer_in_this_process_blocks_a_second_process(run_dir):
    with RunStore.open(run_dir):
        out = subprocess.run([sys.executable, "-c", "import sys\nfrom snnas.runs import RunStore\n"
                              "RunStore.open(sys.argv[1])", str(run_dir)], capture_output=True, text=True)
        assert out.returncode != 0
        assert f"in use by another process (pid {os.getpid()})" in out.stderr
