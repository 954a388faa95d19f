"""The Ray backend against a real local Ray: the map, worker deaths as failures, a backend-started Ray.

That a Ray search records what a serial one records is a case of the strategy conformance suite
(snnas.testing, run for every strategy by tests/testing)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import toy_space

from snnas.runs import RunStore
from snnas.search import RayBackend, search, worker_env

HERE = Path(__file__).parent


def _square(x):
    return x * x


def test_ray_map_yields_every_task_and_survives_a_dead_worker(ray_local):
    backend = RayBackend(workers=2)
    assert sorted(backend.map(_square, range(6))) == [(i, i * i) for i in range(6)]
    backend.close()  # Ray was started by the fixture: close leaves it running
    assert ray_local.is_initialized()


def test_a_worker_killed_mid_candidate_is_a_failed_candidate(tmp_path, toy_file, ray_local):
    res = search(toy_file, tmp_path / "run", budget=4, seed=1, workers=2, eval_config={"crash_index": 2},
                 evaluate=toy_space.evaluate, load_space=toy_space.load, quiet=True, reports=False)
    assert [r.index for r in res.records] == [0, 1, 2, 3]
    crashed = res.records[2]
    assert crashed.failed and crashed.reason.startswith("WorkerCrashedError")
    assert not res.records[3].failed or "WorkerCrashed" not in res.records[3].reason


OWN_RAY = textwrap.dedent("""
    import json, sys, toy_space, ray
    from snnas.search import RayBackend, search
    res = search(sys.argv[1], sys.argv[2], budget=8, seed=9, workers=2, evaluate=toy_space.evaluate,
                 load_space=toy_space.load, quiet=True, reports=False)
    assert not ray.is_initialized(), "the backend must shut down the Ray it started"
    with RayBackend(workers=2) as backend:
        envs = [r for _, r in backend.map(toy_space.env_probe, range(4))]
    print(json.dumps(envs))
""")


@pytest.mark.slow
def test_a_backend_started_ray_matches_serial_and_sets_worker_env(tmp_path, toy_file):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    env.pop("OMP_NUM_THREADS", None)
    out = subprocess.run([sys.executable, "-c", OWN_RAY, str(toy_file), str(tmp_path / "ray")], env=env,
                         capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    serial = search(toy_file, tmp_path / "serial", budget=8, seed=9, evaluate=toy_space.evaluate,
                    load_space=toy_space.load, quiet=True, reports=False)
    parallel = RunStore.open(tmp_path / "ray", readonly=True).records()
    assert [r.key() for r in parallel] == [r.key() for r in serial.records]
    envs = json.loads(out.stdout.strip().splitlines()[-1])
    expected = worker_env(2)
    for e in envs:
        assert e["OMP_NUM_THREADS"] == expected["OMP_NUM_THREADS"]
        assert e["MALLOC_MMAP_MAX_"] == "0" and e["MALLOC_TRIM_THRESHOLD_"] == "68719476736"
