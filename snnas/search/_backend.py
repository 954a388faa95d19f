"""Parallel evaluation backends shared by every strategy.

A backend runs one picklable function over a stream of tasks and yields ``(task, result)`` as each
finishes, so the caller records every candidate the moment it is done and a killed run loses only
what was in flight. Results are matched to tasks (candidate indices), never to completion order,
which is why a Ray run records exactly what a serial run with the same seed records.

If a task cannot finish (the function raises, or a Ray worker dies, e.g. killed for memory), the
result is a :class:`TaskFailure` with a one-line reason instead of an exception: one bad candidate
must not end a search.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from snnas._runtime import MALLOC_ENV
from snnas.errors import RunError

T = TypeVar("T")

SEARCH_HINT = "the run is kept, continue it with --resume (e.g. --workers 1 for serial)"
"""What a search tells the user when Ray cannot start."""


@dataclass(frozen=True)
class TaskFailure:
    """A task that produced no result; ``reason`` is ``"ExceptionType: message"``."""

    reason: str

    @classmethod
    def of(cls, exc: BaseException) -> TaskFailure:
        text = str(exc).strip().splitlines()
        return cls(f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": "))


_SHARED: dict[str, Any] = {}
"""This process's copy of the one `Shared` object it last fetched (a worker scores many candidates
against the same supernet weights; the previous entry is dropped when another arrives)."""


class Shared:
    """A large read-only object (a supernet's weights) that tasks read with :meth:`get`: on Ray it
    lives in the object store, put there once per run and fetched once per worker process, instead
    of travelling with every task."""

    def __init__(self, value: Any = None, ref: Any = None):
        self._value, self._ref = value, ref

    def get(self) -> Any:
        if self._ref is None:
            return self._value
        key = self._ref.hex()
        if key not in _SHARED:
            import ray

            _SHARED.clear()
            _SHARED[key] = ray.get(self._ref)
        return _SHARED[key]

    def __getstate__(self) -> dict[str, Any]:  # a Ray handle travels as the reference alone
        return {"_value": self._value if self._ref is None else None, "_ref": self._ref}


class Backend(ABC):
    """Runs ``fn`` over tasks; ``workers`` is how many run at once."""

    workers: int = 1

    def share(self, value: Any) -> Shared:
        """``value`` wrapped for tasks of this backend (:class:`Shared`); in-process by default."""
        return Shared(value)

    @abstractmethod
    def map(self, fn: Callable[[T], Any], tasks: Iterable[T]) -> Iterator[tuple[T, Any]]:
        """Yield ``(task, fn(task) or TaskFailure)`` for every task, in completion order.

        ``tasks`` is consumed lazily (at most ``workers`` ahead), so a producer may decide the next
        task late."""

    def close(self) -> None:  # noqa: B027 - most backends hold nothing to release
        """Release what the backend started (a local Ray instance)."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialBackend(Backend):
    """One task at a time in this process: the reference every other backend must match."""

    workers = 1

    def map(self, fn: Callable[[T], Any], tasks: Iterable[T]) -> Iterator[tuple[T, Any]]:
        for task in tasks:
            try:
                result = fn(task)
            except Exception as e:  # one candidate's crash is a failed candidate, not a failed run
                result = TaskFailure.of(e)
            yield task, result


def worker_env(workers: int, cpus: int | None = None) -> dict[str, str]:
    """Environment for Ray workers: the allocator settings of ``snnas._runtime`` and an even share
    of the cores per worker, so K workers don't each start a full-width thread pool."""
    cpus = cpus or os.cpu_count() or 1
    threads = str(max(1, cpus // max(1, workers)))
    env = {**MALLOC_ENV, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    if os.environ.get("SNNAS_HARDWARE"):  # user hardware profiles (snnas.evaluate._hardware)
        env["SNNAS_HARDWARE"] = os.environ["SNNAS_HARDWARE"]
    return env


def _apply(fn: Callable[[T], Any], task: T) -> Any:
    """The Ray task body: ``fn`` may be any picklable callable (a function or an EvalJob)."""
    return fn(task)


class RayBackend(Backend):
    """Ray tasks, one CPU each. Without ``address`` a local Ray with ``workers`` CPUs is started (and
    shut down by :meth:`close`); with ``address`` an existing cluster is joined and as many tasks run
    at once as it has CPUs (or ``workers`` when given). A Ray already initialised in this process is
    used as it is. Search and retraining share this one Ray lifecycle; ``start_hint`` ends the
    error when Ray cannot start (what the user can do about it differs between the two)."""

    def __init__(self, workers: int | None = None, address: str | None = None, start_hint: str = SEARCH_HINT,
                 gpus: float = 0.0):
        if workers is not None and workers < 1:
            raise ValueError("workers must be at least 1")
        if gpus < 0:
            raise ValueError("gpus must be >= 0")
        self.gpus = float(gpus)  # per task; fractions let several tasks share one GPU
        self.address = address
        self.start_hint = start_hint
        self._requested = workers
        self.workers = workers or 1
        self._owner = False
        self._ready = False

    def _start(self) -> None:
        if self._ready:
            return
        import ray

        if not ray.is_initialized():
            try:
                if self.address is None:
                    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
                    # "local": a new Ray of our own, never a cluster some earlier `ray start` left behind
                    ray.init(address="local", num_cpus=self._requested or 1, include_dashboard=False,
                             logging_level="WARNING", runtime_env={"env_vars": worker_env(self._requested or 1)})
                else:  # the cluster's nodes differ from this machine: pass the allocator settings only
                    env = {k: v for k, v in worker_env(1).items() if not k.endswith("_NUM_THREADS")}
                    ray.init(address=self.address, logging_level="WARNING", runtime_env={"env_vars": env})
            except (ConnectionError, RuntimeError, ValueError) as e:
                where = f" at --address {self.address}" if self.address else ""
                raise RunError(f"cannot start Ray{where}: {str(e).strip().splitlines()[0]}; {self.start_hint}") \
                    from None
            self._owner = True
        if self._requested is None:
            self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._ready = True

    def share(self, value: Any) -> Shared:
        import ray

        self._start()
        return Shared(ref=ray.put(value))

    def map(self, fn: Callable[[T], Any], tasks: Iterable[T]) -> Iterator[tuple[T, Any]]:
        import ray

        self._start()
        remote = ray.remote(num_cpus=1, num_gpus=self.gpus, max_retries=0)(_apply)
        fn_ref = ray.put(fn)  # shipped once, not with every task
        source = iter(tasks)
        pending: dict[Any, T] = {}
        exhausted = False
        try:
            while True:
                while not exhausted and len(pending) < self.workers:
                    try:
                        task = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    pending[remote.remote(fn_ref, task)] = task
                if not pending:
                    return
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    task = pending.pop(ref)
                    try:
                        result = ray.get(ref)
                    except Exception as e:  # RayTaskError, WorkerCrashedError, OutOfMemoryError...
                        result = TaskFailure.of(getattr(e, "cause", None) or e)
                    yield task, result
        finally:
            for ref in pending:  # the consumer stopped early (Ctrl-C): don't leave work running
                ray.cancel(ref, force=True)

    def close(self) -> None:
        if self._owner:
            import ray

            ray.shutdown()
            self._owner = False
        self._ready = False


def make_backend(workers: int = 1, address: str | None = None, start_hint: str = SEARCH_HINT,
                 gpus: float = 0.0) -> Backend:
    """Serial for one worker and no address; otherwise Ray (local, or joined at ``address``), each
    task reserving ``gpus`` GPUs (Ray then sets its CUDA_VISIBLE_DEVICES: use ``--device cuda``)."""
    if address:
        return RayBackend(workers=workers if workers and workers > 1 else None, address=address,
                          start_hint=start_hint, gpus=gpus)
    if workers > 1:
        return RayBackend(workers=workers, start_hint=start_hint, gpus=gpus)
    return SerialBackend()
