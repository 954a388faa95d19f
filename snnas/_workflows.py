"""Workflows that combine the packages: the baseline evaluation, exporting a run's candidate, and
retraining a candidate over several seeds. The CLI calls these; they hold the orchestration so
``cli.py`` stays a parser, and the same steps are available from Python (``snnas.retrain`` ...).
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

from snnas.errors import RunError, SnnasError

RETRAIN_DIR = "retrain"


def evaluate_baseline(epochs: int = 20, time_steps: int = 4, neuron: str = "lif",
                      surrogate: str = "sigmoid", hardware: str = "45nm-fp32", seed: int = 0,
                      quiet: bool = False) -> dict[str, Any]:
    """Train the default baseline spiking CNN on digits; return its val and test ``Metrics``."""
    import torch

    from snnas.evaluate import Evaluator, TrainConfig, get_hardware, load_dataset
    from snnas.nn import baseline_cnn
    from snnas.space import NeuronSpec
    from snnas.spiking import make_neuron

    get_hardware(hardware)  # unknown names fail before any training
    cfg = NeuronSpec(kind=neuron, surrogate=surrogate).to_config(time_steps)
    make_neuron(**cfg)  # unknown neuron/surrogate names fail here, listing valid ones
    data = load_dataset("digits", seed=0)
    torch.manual_seed(seed)
    model = baseline_cnn(data.input_shape, data.num_classes, neuron=cfg)
    ev = Evaluator(data, TrainConfig(epochs=epochs, time_steps=time_steps, seed=seed, quiet=quiet),
                   hardware=hardware)
    test = ev.train_and_evaluate(model, split="test")
    return {"val": ev.evaluate(model, split="val"), "test": test, "model": model}


# ---- run candidates -------------------------------------------------------------------------

def find_candidate(store: Any, cand_id: str) -> Any:
    """The completed record whose architecture id starts with ``cand_id`` (a unique prefix)."""
    recs = [r for r in store.records() if r.id.startswith(cand_id)]
    ids = sorted({r.id for r in recs})
    if not ids:
        raise RunError(f"{store.path}: no candidate with id '{cand_id}' (see candidates.csv)")
    if len(ids) > 1:
        raise RunError(f"{store.path}: id prefix '{cand_id}' is ambiguous: {', '.join(ids)}")
    done = [r for r in recs if not r.failed]
    if not done:
        raise RunError(f"{store.path}: candidate {ids[0]} failed ({recs[0].reason}); nothing to use")
    return done[0]


def _weights_source(run: Path, rec: Any, weights: str | None) -> Path:
    from snnas.search._candidate import CANDIDATE_WEIGHTS, candidate_weights_name

    if weights:
        p = Path(weights)
        if not p.is_file():
            raise SnnasError(f"--weights: {p} is not a file")
        return p
    summary = run / RETRAIN_DIR / rec.id / "results.json"
    if summary.is_file() and json.loads(summary.read_text()).get("best_weights"):
        return run / RETRAIN_DIR / rec.id / json.loads(summary.read_text())["best_weights"]
    proxy = run / CANDIDATE_WEIGHTS / candidate_weights_name(rec.index, rec.id)
    if proxy.is_file():
        return proxy
    raise RunError(f"{run}: no weights for candidate {rec.id}; run 'snnas train {run} --id {rec.id}' first "
                   "or pass --weights FILE")


def export_candidate(run_dir: str | Path, cand_id: str, out: str | Path | None = None,
                     weights: str | None = None) -> dict[str, Path]:
    """Export one candidate of a run: ``model.py`` + ``weights.pt`` + ``architecture.json``.

    Weights come from ``--weights``, else the best retrained seed (``snnas train``), else the
    proxy-trained weights the search kept. The export is checked bit-identical on a random input.
    """
    import torch

    from snnas.export import export_module
    from snnas.nn import build_network
    from snnas.runs import RunStore
    from snnas.search import run_space

    run = Path(run_dir)
    with RunStore.open(run, readonly=True) as store:
        rec = find_candidate(store, cand_id)
        space = run_space(store)
    src = _weights_source(run, rec, weights)
    model = build_network(space, rec.arch)
    try:
        state = torch.load(src, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except (RuntimeError, OSError, ValueError) as e:
        raise SnnasError(f"{src}: cannot load these weights into candidate {rec.id}: {str(e).splitlines()[0]}") \
            from None
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(rec.arch.time_steps, 2, *space.input_shape, generator=gen)
    paths = export_module(model, out or run / "export" / rec.id, architecture=rec.arch, example_input=x,
                          input_desc=", ".join(str(v) for v in space.input_shape))
    return paths


def _train_one_seed(space_path: str, arch_json: str, seed: int, eval_config: dict, out_dir: str) -> dict:
    """Train from scratch on train, measure on test, save the weights: the search's own
    ``evaluate_candidate`` with the retraining recipe (``eval_config``) instead of the proxy."""
    from snnas.search import evaluate_candidate

    name = f"seed{seed}.pt"
    cfg = dict(eval_config, seed=seed, weights_path=str(Path(out_dir) / name))
    return {"seed": seed, "weights": name, **evaluate_candidate(space_path, arch_json, cfg)}


def retrain(run_dir: str | Path, cand_id: str, epochs: int = 20, seeds: int = 1, workers: int = 1,
            address: str | None = None, quiet: bool = False) -> dict[str, Any]:
    """Retrain a candidate from scratch for ``seeds`` seeds; record test accuracy (mean, std) and
    energy under ``RUN/retrain/<id>/results.json``. With ``workers`` > 1 (or a Ray ``address``) the
    seeds run as Ray Tune trials."""
    from tqdm.auto import tqdm

    from snnas.runs import RunStore
    from snnas.search import eval_config_for, run_space

    if epochs < 1 or seeds < 1 or workers < 1:
        raise SnnasError("--epochs, --seeds and --workers must be >= 1")
    run = Path(run_dir)
    with RunStore.open(run, readonly=True) as store:
        rec = find_candidate(store, cand_id)
        space = run_space(store)  # also registers the run's hardware-profile files
        space_path = str(store.space_path)
        recipe = dict(store.config.get("eval_config") or eval_config_for(space))
    recipe["train"] = {**(recipe.get("train") or {}), "epochs": epochs}
    recipe.update(split="test")
    recipe.pop("weights_dir", None)
    out = run / RETRAIN_DIR / rec.id
    out.mkdir(parents=True, exist_ok=True)
    if workers > 1 or address:
        rows = _retrain_tune(space_path, rec.arch.to_json(), recipe, str(out), seeds, workers, address)
    else:
        rows = [_train_one_seed(space_path, rec.arch.to_json(), s, recipe, str(out))
                for s in tqdm(range(seeds), desc="retraining seeds", unit="seed", disable=quiet)]
    ok = [r for r in rows if not r.get("failed")]
    accs = [r["accuracy"] for r in ok]
    result = {
        "id": rec.id, "architecture": rec.arch.summary(), "epochs": epochs, "seeds": rows,
        "test_accuracy_mean": statistics.fmean(accs) if accs else math.nan,
        "test_accuracy_std": statistics.pstdev(accs) if len(accs) > 1 else 0.0,
        "energy_mj": statistics.fmean(r["energy_mj"] for r in ok) if ok else math.nan,
        "best_weights": max(ok, key=lambda r: r["accuracy"])["weights"] if ok else None,
        "failed": [r.get("failed") for r in rows if r.get("failed")],
    }
    (out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def _retrain_tune(space_path: str, arch_json: str, recipe: dict, out: str, seeds: int, workers: int,
                  address: str | None) -> list[dict]:
    """One Ray Tune trial per seed, at most ``workers`` at a time (same worker environment as the
    search's Ray backend)."""
    import os

    import ray
    from ray import tune

    from snnas.errors import RunError
    from snnas.search import worker_env

    def trainable(config: dict) -> None:
        tune.report(_train_one_seed(space_path, arch_json, int(config["seed"]), recipe, out))

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    started = not ray.is_initialized()
    if started:
        env = {"env_vars": worker_env(workers)}
        try:
            if address:
                ray.init(address=address, runtime_env=env, log_to_driver=False)
            else:  # "local": never a cluster that an earlier `ray start` left behind
                ray.init(address="local", num_cpus=workers, include_dashboard=False, runtime_env=env,
                         log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise RunError(f"cannot start Ray{f' at {address}' if address else ''}: {str(e).splitlines()[0]}") \
                from None
    try:
        tuner = tune.Tuner(
            tune.with_resources(trainable, {"cpu": 1}),
            param_space={"seed": tune.grid_search(list(range(seeds)))},
            tune_config=tune.TuneConfig(max_concurrent_trials=workers),
            run_config=tune.RunConfig(storage_path=str(Path(out).resolve() / "tune"), name="seeds", verbose=0),
        )
        results = tuner.fit()
    finally:
        if started:
            ray.shutdown()
    rows = []
    for r in results:
        if r.error is not None:
            rows.append({"seed": int(r.config["seed"]), "failed": f"{type(r.error).__name__}: {r.error}"})
        else:
            rows.append({k: v for k, v in r.metrics.items() if k in _METRIC_KEYS})
    return sorted(rows, key=lambda r: r["seed"])


_METRIC_KEYS = {"seed", "weights", "accuracy", "energy_mj", "macs", "acs", "firing_rates", "mean_firing_rate",
                "params", "time_steps", "wall_time_s", "failed"}
