import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "search"
if str(HERE) not in sys.path:  # toy_space is imported by name here, in subprocesses and Ray workers
    sys.path.insert(0, str(HERE))


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray for the whole test session (startup costs seconds), shared by every test that
    needs Ray; workers can import the toy space module through PYTHONPATH."""
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING",
             runtime_env={"env_vars": {"PYTHONPATH": path, "OMP_NUM_THREADS": "1"}})
    yield ray
    ray.shutdown()


@pytest.fixture
def toy_file(tmp_path):
    import toy_space

    return toy_space.write(tmp_path / "toy.json")
