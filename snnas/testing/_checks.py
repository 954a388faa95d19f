"""The conformance cases as plain functions: each runs real searches and raises AssertionError.

They use only the public search API (``snnas.search.search`` / ``resume`` by strategy name, the run
store's records), never a strategy's internals, so a built-in strategy, a future one (a supernet
search whose budget is epochs, an evolutionary one proposing in batches) and a user's plug-in are
held to the same contract (see ``snnas/search/_strategy.py``): candidate ``i`` is a pure function of
the seed, ``i`` and the results of earlier batches, so serial, Ray and resumed runs record the same
list; failures are recorded, not raised; proposals stay inside the space; the budget is exact.

Each function takes the strategy's registered name and a fresh empty ``workdir``; pytest users get
them as test methods from :class:`snnas.testing.StrategyConformance`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from snnas.errors import RunError
from snnas.runs import CandidateRecord, RunStore
from snnas.search import STRATEGIES, SearchResult, candidate_seed, function_name, gene_bounds, resume, search
from snnas.testing._setup import ConformanceSetup, conformance_setup
from snnas.testing._toy import write_space

KILL_TIMEOUT_S = 120.0
"""How long the killed run may take to record ``kill_after`` candidates (a loaded CI machine)."""


def _load_space(path: str | Path) -> Any:
    from snnas.space import load_space

    return load_space(path)


def _setup(strategy: str, setup: ConformanceSetup | None) -> ConformanceSetup:
    return conformance_setup(strategy) if setup is None else setup


def _run(strategy: str, setup: ConformanceSetup, workdir: Path, name: str, *, budget: int | None = None,
         space: str | None = None, reports: bool = False, **kw: Any) -> SearchResult:
    """A fresh search in ``workdir/name`` on a space file written beside it."""
    space_file = write_space(workdir / f"{name}.yaml", setup.space if space is None else space)
    return search(space_file, workdir / name, strategy=strategy, budget=setup.budget if budget is None else budget,
                  seed=setup.seed, eval_config=dict(setup.eval_config or {}),
                  evaluate=setup.evaluate, strategy_options=dict(setup.strategy_options),
                  load_space=setup.load_space, quiet=True, argv=["snnas.testing"], reports=reports, **kw)


def _resume(setup: ConformanceSetup, run_dir: Path, *, reports: bool = False, **kw: Any) -> SearchResult:
    return resume(run_dir, evaluate=setup.evaluate, load_space=setup.load_space, quiet=True,
                  argv=["snnas.testing"], reports=reports, **kw)


def _show(records: Sequence[CandidateRecord], i: int) -> str:
    return repr(records[i].key()) if i < len(records) else "nothing (the list ended)"


def assert_same_candidates(got: Sequence[CandidateRecord], want: Sequence[CandidateRecord], what: str) -> None:
    """Two runs recorded the same candidate list: index, architecture, state, reason and metrics of
    each (``CandidateRecord.key``); the message shows the first candidate that differs."""
    g, w = [r.key() for r in got], [r.key() for r in want]
    if g == w:
        return
    i = next((i for i, (a, b) in enumerate(zip(g, w, strict=False)) if a != b), min(len(g), len(w)))
    raise AssertionError(f"{what}: the candidate lists differ ({len(g)} vs {len(w)} candidates); first at "
                         f"position {i}:\n  got  {_show(got, i)}\n  want {_show(want, i)}")


def _assert_indices(records: Sequence[CandidateRecord], n: int, what: str) -> None:
    got = [r.index for r in records]
    assert got == list(range(n)), f"{what}: expected candidates 0..{n - 1} recorded once each, got {got}"


# ---- (1) determinism: serial, Ray, SIGKILL + resume ------------------------------------------------
def check_serial_determinism(strategy: str, workdir: Path, setup: ConformanceSetup | None = None
                             ) -> list[CandidateRecord]:
    """The same seed gives the same candidate list twice in a row, each trained with its own seed
    ``candidate_seed(seed, index)`` (which is what lets any backend reproduce it)."""
    setup = _setup(strategy, setup)
    first = _run(strategy, setup, workdir, "serial-a").records
    second = _run(strategy, setup, workdir, "serial-b").records
    assert_same_candidates(second, first, f"strategy '{strategy}', two serial runs with seed {setup.seed}")
    _assert_indices(first, setup.budget, f"strategy '{strategy}'")
    seeds = [(r.index, r.seed) for r in first]
    assert seeds == [(r.index, candidate_seed(setup.seed, r.index)) for r in first], (
        f"strategy '{strategy}': candidates must be trained with candidate_seed(seed, index); got {seeds}")
    return first


def check_ray_equals_serial(strategy: str, workdir: Path, setup: ConformanceSetup | None = None,
                            workers: int = 2) -> None:
    """A run on Ray with ``workers`` workers (candidates finish out of order) records exactly what a
    serial run with the same seed records. Uses the Ray this process already has, if any (else the
    backend starts a local one and shuts it down)."""
    setup = _setup(strategy, setup)
    serial = _run(strategy, setup, workdir, "serial").records
    parallel = _run(strategy, setup, workdir, "ray", workers=workers).records
    assert_same_candidates(parallel, serial, f"strategy '{strategy}', Ray ({workers} workers) against serial")


CHILD = """\
import importlib, json, sys
spec = json.loads(sys.argv[1])
for module in spec["modules"]:  # registers the strategy (a plug-in lives outside snnas)
    importlib.import_module(module)
from snnas.search import import_function, search
search(spec["space"], spec["out"], strategy=spec["strategy"], budget=spec["budget"], seed=spec["seed"],
       eval_config=spec["eval_config"], strategy_options=spec["strategy_options"],
       evaluate=import_function(spec["evaluate"]),
       load_space=import_function(spec["load_space"]) if spec["load_space"] else None,
       quiet=True, argv=["snnas.testing", "killed"], reports=False)
"""
"""The search that is SIGKILLed: a real process, started like any user's script."""


def _recorded(run: Path, store: RunStore | None) -> tuple[int, RunStore | None]:
    """How many candidates the (live) run has recorded, opening it read-only once it exists."""
    if store is None:
        if not (run / "config.json").is_file() or not (run / "candidates.db").is_file():
            return 0, None
        try:
            store = RunStore.open(run, readonly=True)
        except RunError:  # still being created
            return 0, None
    return len(store.done_indices()), store


def check_sigkill_resume(strategy: str, workdir: Path, setup: ConformanceSetup | None = None) -> None:
    """A search process killed with SIGKILL mid-run (no cleanup of any kind runs) and then resumed
    records the same list as an uninterrupted run, keeping every candidate recorded before the kill,
    recording none twice, and leaving the reports a finished run has."""
    setup = _setup(strategy, setup)
    run = workdir / "killed"
    space_file = write_space(workdir / "killed.yaml", setup.space)
    module = STRATEGIES.get(strategy).__module__
    spec = {"modules": [] if module == "__main__" else [module], "space": str(space_file), "out": str(run),
            "strategy": strategy, "budget": setup.budget, "seed": setup.seed,
            "eval_config": {**(setup.eval_config or {}), **setup.slow},
            "strategy_options": dict(setup.strategy_options),
            "evaluate": function_name(setup.evaluate),
            "load_space": None if setup.load_space is None else function_name(setup.load_space)}
    paths = [p for p in sys.path if p] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(dict.fromkeys(paths)))
    log = workdir / "killed.log"
    store: RunStore | None = None
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(spec)], env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + KILL_TIMEOUT_S
        while True:
            n, store = _recorded(run, store)
            if n >= setup.kill_after:
                break
            if proc.poll() is not None:
                raise AssertionError(
                    f"strategy '{strategy}': the search process exited (status {proc.returncode}) after {n} "
                    f"candidates, before it could be killed; slow it down with ConformanceSetup.slow. "
                    f"Its stderr:\n{log.read_text()[-3000:]}")
            assert time.monotonic() < deadline, f"the search recorded {n} candidates in {KILL_TIMEOUT_S} s"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)  # a no-op if it already ended (asserted below)
        proc.wait()
        if store is not None:
            store.close()
    assert proc.returncode == -signal.SIGKILL, f"the search ended before the kill (status {proc.returncode})"
    with RunStore.open(run, readonly=True) as reader:
        partial = reader.records()
    assert setup.kill_after <= len(partial) < setup.budget, (
        f"strategy '{strategy}': {len(partial)} candidates survived the kill, expected "
        f"{setup.kill_after}..{setup.budget - 1} (is ConformanceSetup.slow slow enough?)")

    resumed = _resume(setup, run, reports=True).records
    fresh = _run(strategy, setup, workdir, "uninterrupted").records
    assert_same_candidates(resumed, fresh, f"strategy '{strategy}', killed and resumed against uninterrupted")
    kept = {r.index: r.key() for r in resumed}
    lost = [r.index for r in partial if kept.get(r.index) != r.key()]
    assert not lost, f"strategy '{strategy}': resume changed candidates recorded before the kill: {lost}"
    with RunStore.open(run, readonly=True) as reader:
        assert len(reader.study.trials) == setup.budget, (
            f"strategy '{strategy}': {len(reader.study.trials)} trials for {setup.budget} candidates: "
            "the resume evaluated some again")
        before = reader.config["resumes"][-1]["recorded_before"]
        assert before == len(partial), f"config.json says the resume found {before} candidates, not {len(partial)}"
    missing = [f for f in ("pareto.csv", "candidates.csv", "summary.md") if not (run / f).is_file()]
    assert not missing, f"the resumed run lacks its reports {missing}"


# ---- (2) failures --------------------------------------------------------------------------------
def check_failures_recorded(strategy: str, workdir: Path, setup: ConformanceSetup | None = None) -> None:
    """A candidate whose evaluation raises or reports a failure is recorded as failed with its reason
    (in the store and in candidates.csv), and the search goes on to the budget."""
    setup = _setup(strategy, setup)
    res = _run(strategy, setup, workdir, "failures", reports=True)
    _assert_indices(res.records, setup.budget, f"strategy '{strategy}' with failing candidates")
    got = {r.index: r.reason for r in res.records if r.failed}
    want = {int(i): reason for i, reason in (setup.failures or {}).items()}
    assert got == want, f"strategy '{strategy}': failed candidates {got}, expected {want}"
    table = res.reports["candidates_csv"].read_text()
    missing = [reason for reason in want.values() if reason not in table]
    assert not missing, f"candidates.csv lacks the failure reason(s) {missing}"


# ---- (3) proposals stay inside the space ---------------------------------------------------------
def assert_in_space(space: Any, record: CandidateRecord, what: str = "") -> None:
    """``record``'s architecture is a member of ``space`` and its genome (when the space has one) is
    within the space's bounds and decodes to that architecture."""
    arch, where = record.arch, f"{what}candidate {record.index} ({record.id})"
    member = getattr(space, "satisfies_static", None)
    if member is not None:
        assert member(arch), f"{where} is not in the space: {arch.summary()}"
    elif hasattr(space, "encode") and hasattr(space, "decode"):
        assert space.decode(space.encode(arch)) == arch, f"{where} is not in the space: {arch.summary()}"
    bounds = gene_bounds(space)
    if bounds is None:
        return
    genome = record.genome
    assert genome is not None, f"{where} was recorded without a genome, though the space has one"
    assert len(genome) == len(bounds), f"{where}: genome has {len(genome)} genes, the space {len(bounds)}"
    outside = [(i, g, b) for i, (g, b) in enumerate(zip(genome, bounds, strict=True))
               if isinstance(g, bool) or not isinstance(g, int) or not b[0] <= g <= b[1]]
    assert not outside, f"{where}: genes outside the bounds (gene, value, bounds): {outside}"
    if hasattr(space, "decode"):
        decoded = space.decode(list(genome))
        learned = getattr(space, "with_learned", None)  # values a search learns ride beside the genome
        decoded = learned(decoded, arch) if learned is not None else decoded
        assert decoded == arch, f"{where}: its genome decodes to another architecture"


def check_proposals_in_space(strategy: str, workdir: Path, setup: ConformanceSetup | None = None) -> None:
    """Every candidate is inside the space, over ``budget + extra_budget`` candidates and, when the
    setup has one, on a space smaller than that, where the strategy must stop or repeat rather than
    leave it. (A proposal outside the space could not be rebuilt, exported or resumed.)"""
    setup = _setup(strategy, setup)
    load = setup.load_space or _load_space
    budget = setup.budget + setup.extra_budget
    res = _run(strategy, setup, workdir, "space", budget=budget)
    space = load(res.run_dir / "space.yaml")
    for r in res.records:
        assert_in_space(space, r, f"strategy '{strategy}': ")
    if setup.tiny_space is None:
        return
    tiny = _run(strategy, setup, workdir, "tiny", budget=budget, space=setup.tiny_space)
    space = load(tiny.run_dir / "space.yaml")
    assert tiny.records, f"strategy '{strategy}' proposed nothing in the tiny space"
    _assert_indices(tiny.records, len(tiny.records), f"strategy '{strategy}' on a tiny space")
    for r in tiny.records:
        assert_in_space(space, r, f"strategy '{strategy}' on a tiny space: ")


# ---- (4) budget ----------------------------------------------------------------------------------
def check_budget(strategy: str, workdir: Path, setup: ConformanceSetup | None = None) -> None:
    """``budget`` candidates are recorded, no more and no fewer (0 records nothing); resuming a
    finished run adds nothing; resuming with a larger budget extends the run, keeping what it had,
    to exactly what a run started with that budget records."""
    setup = _setup(strategy, setup)
    who = f"strategy '{strategy}'"
    assert _run(strategy, setup, workdir, "zero", budget=0).records == [], f"{who}: budget 0 recorded candidates"
    done = _run(strategy, setup, workdir, "short")
    _assert_indices(done.records, setup.budget, f"{who} with budget {setup.budget}")
    again = _resume(setup, done.run_dir)
    assert_same_candidates(again.records, done.records, f"{who}, a finished run resumed")
    bigger = setup.budget + setup.extra_budget
    more = _resume(setup, done.run_dir, budget=bigger)
    _assert_indices(more.records, bigger, f"{who} resumed with budget {bigger}")
    assert_same_candidates(more.records[: setup.budget], done.records, f"{who}, the kept part of an extended run")
    fresh = _run(strategy, setup, workdir, "long", budget=bigger)
    assert_same_candidates(more.records, fresh.records, f"{who}, an extended run against one started with "
                           f"budget {bigger}")
    with RunStore.open(done.run_dir, readonly=True) as store:
        assert store.config["budget"] == bigger, "the raised budget is not in the run's config.json"
