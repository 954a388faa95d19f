"""`RunStore`: the run directory and its candidate store.

A run directory is the user's record of a search::

    DIR/space.yaml       copy of the search-space file the run was started with
    DIR/config.json      resolved config: seed, strategy, budget, argv, objectives, package versions
    DIR/candidates.db    Optuna RDB study (SQLite), one trial per evaluated candidate
    DIR/checkpoints/     strategy state (JSON) and tensors (torch.save), written atomically
    DIR/.lock            flock held by the one process writing the run

Each candidate is written as one finished Optuna trial in one SQLite transaction, so a process killed
at any moment leaves every earlier candidate intact and loses only the ones still being evaluated.
Candidates are keyed by their index in the run (``user_attrs['index']``), never by trial number, so
parallel completion order does not matter. optuna-dashboard opens ``sqlite:///DIR/candidates.db``.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import os
import platform
import re
import shutil
import sys
import warnings
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import optuna

from snnas.errors import RunError
from snnas.runs._lock import RunLock
from snnas.runs._objectives import Constraint, Objective, constraints_of, objectives_of
from snnas.runs._record import COMPLETE, FAILED, CandidateRecord
from snnas.space._architecture import Architecture

STUDY_NAME = "snnas"
FORMAT_VERSION = 1
_NAME_OK = re.compile(r"^[A-Za-z0-9_.-]+$")
_VERSIONED = ("snnas", "torch", "numpy", "optuna", "ray", "pymoo", "pandas")


def package_versions() -> dict[str, str | None]:
    """Versions of the packages a run's numbers depend on (read from metadata, nothing imported)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write strict JSON (NaN is an error, not a bare ``NaN``) so no reader ever sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str, allow_nan=False) + "\n")
    os.replace(tmp, path)


def _param_value(choice: Any) -> Any:
    """A decision's choice as an Optuna categorical value (None, bool, int, float or str)."""
    if choice is None or isinstance(choice, (bool, int, float, str)):
        return choice
    return json.dumps(choice, separators=(",", ":"), default=str)


def _quiet_optuna() -> int:
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(logging.WARNING)
    return level


class RunStore:
    """A run directory opened for writing (holding its lock) or read-only (for reports)."""

    def __init__(self, path: Path, *, readonly: bool, lock: RunLock | None):
        self.path = path
        self.readonly = readonly
        self._lock = lock
        try:
            self.config: dict[str, Any] = json.loads((path / "config.json").read_text())
        except (OSError, json.JSONDecodeError) as e:
            self.close()
            raise RunError(f"run {path}: cannot read config.json ({e})") from None
        self.objectives: tuple[Objective, ...] = objectives_of(self.config.get("objectives"))
        self.constraints: tuple[Constraint, ...] = constraints_of(self.config.get("constraints"))
        self.storage_url = f"sqlite:///{(path / 'candidates.db').resolve()}"
        level = _quiet_optuna()
        try:
            storage = optuna.storages.RDBStorage(
                self.storage_url, engine_kwargs={"connect_args": {"timeout": 60}})
            self.study = optuna.load_study(study_name=STUDY_NAME, storage=storage)
        except Exception as e:  # a damaged or foreign database; say which file
            self.close()
            raise RunError(f"run {path}: cannot open candidates.db ({type(e).__name__}: {e})") from None
        finally:
            optuna.logging.set_verbosity(level)
        self._done: set[int] | None = None
        self._n_trials: int | None = None

    # ---- construction -----------------------------------------------------------------
    @classmethod
    def create(cls, out_dir: str | Path, space_path: str | Path, config: dict[str, Any],
               objectives: Any = None, constraints: Any = None) -> RunStore:
        """Start a new run in ``out_dir`` (created; must be new or empty) and hold its lock.

        ``objectives`` is the search space (its ``objectives`` and ``constraints``), a list of
        objectives, or None for accuracy/energy; ``constraints`` overrides the space's. ``config``
        is stored as given, plus objectives, constraints, versions and a timestamp.
        """
        out = Path(out_dir)
        space_path = Path(space_path)
        if not space_path.is_file():
            raise RunError(f"search-space file {space_path} not found")
        if (out / "config.json").exists() or (out / "candidates.db").exists():
            raise RunError(f"run {out} already exists; continue it with 'snnas search --resume {out}' "
                           "or choose another output directory")
        if out.exists() and not out.is_dir():
            raise RunError(f"{out} exists and is not a directory")
        if out.exists() and any(p.name != ".lock" for p in out.iterdir()):
            raise RunError(f"output directory {out} is not empty; choose a new one")
        out.mkdir(parents=True, exist_ok=True)
        lock = RunLock(out).acquire()
        try:
            objs = objectives_of(objectives)
            cons = constraints_of(getattr(objectives, "constraints", None) if constraints is None
                                  else constraints)
            shutil.copyfile(space_path, out / "space.yaml")
            (out / "checkpoints").mkdir(exist_ok=True)
            url = f"sqlite:///{(out / 'candidates.db').resolve()}"
            level = _quiet_optuna()
            try:
                study = optuna.create_study(storage=url, study_name=STUDY_NAME,
                                            directions=[o.direction for o in objs])
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # set_metric_names is marked experimental
                    study.set_metric_names([o.metric for o in objs])
                study.set_user_attr("snnas_run", str(out.resolve()))
            finally:
                optuna.logging.set_verbosity(level)
            full = dict(config)
            full.update(format=FORMAT_VERSION, objectives=[o.to_dict() for o in objs],
                        constraints=[c.to_dict() for c in cons],
                        space_file=str(space_path), versions=package_versions(),
                        created=_dt.datetime.now().isoformat(timespec="seconds"))
            full.setdefault("argv", list(sys.argv))
            write_json_atomic(out / "config.json", full)
            return cls(out, readonly=False, lock=lock)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def open(cls, run_dir: str | Path, *, readonly: bool = False) -> RunStore:
        """Open an existing run: to resume it (takes the lock) or, with ``readonly``, to report on
        it while another process may still be writing."""
        path = Path(run_dir)
        if not (path / "config.json").is_file() or not (path / "candidates.db").is_file():
            raise RunError(f"{path} is not a snnas run directory (no config.json/candidates.db)")
        lock = None if readonly else RunLock(path).acquire()
        return cls(path, readonly=readonly, lock=lock)

    def close(self) -> None:
        """Release the lock and the database connections (every record is already committed)."""
        storage = getattr(getattr(self, "study", None), "_storage", None)
        engine = getattr(storage, "engine", None)
        if engine is not None:
            engine.dispose()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- paths and config -------------------------------------------------------------
    @property
    def space_path(self) -> Path:
        return self.path / "space.yaml"

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / "checkpoints"

    def update_config(self, **changes: Any) -> None:
        """Merge ``changes`` into config.json (e.g. a resume's argv or a raised budget)."""
        self._writable()
        self.config.update(changes)
        write_json_atomic(self.path / "config.json", self.config)

    def _writable(self) -> None:
        if self.readonly:
            raise RunError(f"run {self.path} was opened read-only")

    # ---- candidates -------------------------------------------------------------------
    def record(self, index: int, arch: Architecture, genome: Sequence[Any] | None,
               metrics: dict[str, Any] | None, failed: str | None = None, *,
               seed: int | None = None, genes: Sequence[tuple[str, Sequence[Any]]] | None = None) -> CandidateRecord:
        """Write candidate ``index`` as one finished trial (one transaction).

        It is COMPLETE with the objective values when ``metrics`` has every objective as a finite
        number, and FAIL with ``user_attrs['reason']`` otherwise (``failed`` given, a ``failed`` key
        in ``metrics``, or a missing/non-finite objective). A complete trial carries the run's
        constraint violations as Optuna constraints (<= 0 feasible). ``genes`` (the space's
        decisions: name and choices per gene, or a ``range`` for a bare integer gene) also stores the
        genome as Optuna params named by the decision (``node0.op1``, ``neuron.tau``, ...) with
        categorical distributions over the real choices, so optuna-dashboard and
        ``optuna.importance`` read a run like any study.
        """
        self._writable()
        index = int(index)
        if index in self.done_indices():
            raise RunError(f"run {self.path}: candidate {index} is already recorded")
        metrics = dict(metrics or {})
        reason = failed or metrics.pop("failed", None)
        metrics.pop("failed", None)
        values: list[float] = []
        if reason is None:
            for o in self.objectives:
                v = metrics.get(o.metric)
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    reason = f"objective '{o.metric}' is {'missing' if v is None else repr(v)}"
                    break
                values.append(float(v))
        violations = [c.violation(metrics) for c in self.constraints] if reason is None else []
        gen = None if genome is None else [g.item() if hasattr(g, "item") else g for g in genome]
        attrs: dict[str, Any] = {
            "index": index, "arch_id": arch.id, "architecture": arch.to_json(),
            "summary": arch.summary(), "genome": gen, "seed": seed, "metrics": metrics,
            "reason": None if reason is None else str(reason),
            "feasible": reason is None and all(v <= 0 for v in violations),
            "violations": violations,
        }
        for k, v in metrics.items():  # flat scalar copies: columns in optuna-dashboard
            if isinstance(v, (int, float, str)) and k not in attrs:
                attrs[k] = v
        params, dists = self._genome_params(gen, genes)
        trial = optuna.trial.create_trial(
            state=optuna.trial.TrialState.COMPLETE if reason is None else optuna.trial.TrialState.FAIL,
            values=values if reason is None else None, params=params, distributions=dists,
            user_attrs=attrs)
        for c, v in zip(self.constraints, violations, strict=False):  # dashboard feasibility
            if hasattr(trial, "set_constraint"):  # optuna >= 5: named constraints
                trial.set_constraint(str(c), v)
            else:  # older optuna: one list under system_attrs["constraints"]
                trial._system_attrs["constraints"] = list(violations)
        wall = metrics.get("wall_time_s")
        if isinstance(wall, (int, float)) and math.isfinite(wall) and wall > 0:
            trial.datetime_start = trial.datetime_complete - _dt.timedelta(seconds=float(wall))
        if self._n_trials is None:
            self._n_trials = len(self.study.get_trials(deepcopy=False))
        number = self._n_trials
        self.study.add_trial(trial)
        self._n_trials += 1
        self.done_indices().add(index)
        return CandidateRecord(index=index, arch=arch, genome=None if gen is None else tuple(gen),
                               state=COMPLETE if reason is None else FAILED, metrics=metrics,
                               reason=None if reason is None else str(reason), seed=seed,
                               trial_number=number, violations=tuple(violations))

    @staticmethod
    def _genome_params(genome: list[Any] | None, genes: Sequence[tuple[str, Sequence[Any]]] | None):
        if genome is None or genes is None or len(genes) != len(genome):
            return None, None
        params, dists = {}, {}
        for g, (name, choices) in zip(genome, genes, strict=True):
            if isinstance(g, bool) or not isinstance(g, int) or name in params:
                return None, None
            if isinstance(choices, range):  # a space that only exposes integer bounds
                if g not in choices:
                    return None, None
                params[name] = g
                dists[name] = optuna.distributions.IntDistribution(choices.start, choices.stop - 1)
                continue
            values = [_param_value(c) for c in choices]
            if not 0 <= g < len(values) or len(set(values)) != len(values):
                return None, None
            params[name] = values[g]
            dists[name] = optuna.distributions.CategoricalDistribution(values)
        return params, dists

    def records(self) -> list[CandidateRecord]:
        """Every recorded candidate, ordered by index (read back from the study)."""
        out: dict[int, CandidateRecord] = {}
        for t in self.study.get_trials(deepcopy=False):
            ua = t.user_attrs
            if "index" not in ua or t.state not in (optuna.trial.TrialState.COMPLETE,
                                                    optuna.trial.TrialState.FAIL):
                continue
            idx = int(ua["index"])
            if idx in out:
                continue
            gen = ua.get("genome")
            out[idx] = CandidateRecord(
                index=idx, arch=Architecture.from_json(ua["architecture"]),
                genome=None if gen is None else tuple(gen),
                state=COMPLETE if t.state == optuna.trial.TrialState.COMPLETE else FAILED,
                metrics=dict(ua.get("metrics") or {}), reason=ua.get("reason"), seed=ua.get("seed"),
                trial_number=t.number,
                violations=tuple(ua.get("violations") or ()))
        return [out[i] for i in sorted(out)]

    def find_candidate(self, cand_id: str) -> CandidateRecord:
        """The completed record whose architecture id starts with ``cand_id``: users copy ids (or a
        unique prefix) from candidates.csv into ``snnas export`` / ``snnas train``."""
        recs = [r for r in self.records() if r.id.startswith(cand_id)]
        ids = sorted({r.id for r in recs})
        if not ids:
            raise RunError(f"{self.path}: no candidate with id '{cand_id}' (see candidates.csv)")
        if len(ids) > 1:
            raise RunError(f"{self.path}: id prefix '{cand_id}' is ambiguous: {', '.join(ids)}")
        done = [r for r in recs if not r.failed]
        if not done:
            raise RunError(f"{self.path}: candidate {ids[0]} failed ({recs[0].reason}); nothing to use")
        return done[0]

    def done_indices(self) -> set[int]:
        """Indices already recorded (complete or failed): a resumed search skips them."""
        if self._done is None or self.readonly:  # a reader must see a live writer's progress
            self._done = {int(t.user_attrs["index"]) for t in self.study.get_trials(deepcopy=False)
                          if "index" in t.user_attrs}
        return self._done

    # ---- checkpoints ------------------------------------------------------------------
    def save_checkpoint(self, name: str, obj: Any) -> Path:
        """Write ``obj`` atomically as ``checkpoints/NAME.json`` when it is plain JSON data (prefer
        this for strategy state such as RNG state), otherwise with ``torch.save`` as ``NAME.pt``
        (tensors and dicts of tensors only, so it loads with ``weights_only=True``)."""
        self._writable()
        self._check_name(name)
        self.checkpoint_dir.mkdir(exist_ok=True)
        try:
            text = json.dumps(obj, allow_nan=True)
        except (TypeError, ValueError):
            text = None
        if text is not None:
            path, stale = self.checkpoint_dir / f"{name}.json", self.checkpoint_dir / f"{name}.pt"
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(text)
        else:
            import torch

            path, stale = self.checkpoint_dir / f"{name}.pt", self.checkpoint_dir / f"{name}.json"
            tmp = path.with_name(path.name + ".tmp")
            torch.save(obj, tmp)
        os.replace(tmp, path)
        stale.unlink(missing_ok=True)
        return path

    def load_checkpoint(self, name: str, default: Any = None) -> Any:
        """The checkpoint saved under ``name``, or ``default`` when there is none."""
        self._check_name(name)
        js, pt = self.checkpoint_dir / f"{name}.json", self.checkpoint_dir / f"{name}.pt"
        if js.is_file():
            return json.loads(js.read_text())
        if pt.is_file():
            import torch

            return torch.load(pt, map_location="cpu", weights_only=True)
        return default

    @staticmethod
    def _check_name(name: str) -> None:
        if not _NAME_OK.match(name) or name in (".", ".."):
            raise RunError(f"checkpoint name '{name}' must use only letters, digits, '_', '-', '.'")

    def __repr__(self) -> str:
        mode = "read-only" if self.readonly else "writer"
        return f"RunStore({str(self.path)!r}, {mode}, {len(self.done_indices())} candidates)"
