"""Kill a real search process with SIGKILL mid-run, resume it, and compare with an uninterrupted run."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import toy_space

from snnas.runs import RunStore
from snnas.search import resume, search

HERE = Path(__file__).parent
CHILD = textwrap.dedent("""
    import sys, toy_space
    from snnas.search import search
    search(sys.argv[1], sys.argv[2], budget=int(sys.argv[3]), seed=4, eval_config={"sleep": 0.15},
           evaluate=toy_space.evaluate, load_space=toy_space.load, quiet=True)
""")


def keys(records):
    return [r.key() for r in records]


def test_sigkill_mid_run_then_resume_equals_an_uninterrupted_run(tmp_path, toy_file):
    budget = 14
    run = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(toy_file), str(run), str(budget)], env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if (run / "config.json").exists() and len(RunStore.open(run, readonly=True).done_indices()) >= 4:
                break
            assert proc.poll() is None, "the search finished before it could be killed"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    partial = RunStore.open(run, readonly=True).records()
    assert 4 <= len(partial) < budget
    assert [r.index for r in partial] == list(range(len(partial)))  # serial: a prefix survived

    resumed = resume(run, evaluate=toy_space.evaluate, load_space=toy_space.load, quiet=True)
    fresh = search(toy_file, tmp_path / "fresh", budget=budget, seed=4, eval_config={"sleep": 0.15},
                   evaluate=toy_space.evaluate, load_space=toy_space.load, quiet=True, reports=False)
    assert keys(resumed.records) == keys(fresh.records)
    assert keys(resumed.records)[: len(partial)] == keys(partial)  # nothing recorded was redone
    assert (run / "pareto.csv").is_file() and (run / "summary.md").is_file()
    with RunStore.open(run, readonly=True) as store:
        assert store.config["resumes"][0]["recorded_before"] == len(partial)
        assert len(store.study.trials) == budget


def test_resume_of_a_finished_run_adds_nothing_and_a_raised_budget_continues(tmp_path, toy_file):
    kw = dict(evaluate=toy_space.evaluate, load_space=toy_space.load, quiet=True, reports=False)
    done = search(toy_file, tmp_path / "a", budget=5, seed=2, **kw)
    again = resume(done.run_dir, **kw)
    assert keys(again.records) == keys(done.records)
    more = resume(done.run_dir, budget=9, **kw)
    assert keys(more.records) == keys(search(toy_file, tmp_path / "b", budget=9, seed=2, **kw).records)
    assert RunStore.open(done.run_dir, readonly=True).config["budget"] == 9
