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


def _weights_source(run: Path, arch_id: str, weights: str | None) -> Path:
    if weights:
        p = Path(weights)
        if not p.is_file():
            raise SnnasError(f"--weights: {p} is not a file")
        return p
    summary = run / RETRAIN_DIR / arch_id / "results.json"
    if summary.is_file():
        best = json.loads(summary.read_text())["best_weights"]
        return run / RETRAIN_DIR / arch_id / best
    from snnas.search._candidate import CANDIDATE_WEIGHTS

    proxy = run / CANDIDATE_WEIGHTS / f"{arch_id}.pt"
    if proxy.is_file():
        return proxy
    raise RunError(f"{run}: no weights for candidate {arch_id}; run 'snnas train {run} --id {arch_id}' first "
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
    from snnas.space import load_space

    run = Path(run_dir)
    with RunStore.open(run, readonly=True) as store:
        rec = find_candidate(store, cand_id)
        space = load_space(store.space_path)
    src = _weights_source(run, rec.id, weights)
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


def _train_one_seed(space_path: str, arch_json: str, seed: int, epochs: int, out_dir: str,
                    data_root: str | None = None) -> dict:
    """Train from scratch with the full recipe on train, measure on test, save the weights: the
    search's own ``evaluate_candidate`` with ``epochs`` and the test split instead of the proxy."""
    from snnas.search import evaluate_candidate
    from snnas.search._candidate import eval_config_for
    from snnas.space import load_space

    name = f"seed{seed}.pt"
    cfg = eval_config_for(load_space(space_path), epochs=epochs, data_root=data_root)
    cfg.update(split="test", seed=seed, weights_path=str(Path(out_dir) / name))
    return {"seed": seed, "weights": name, **evaluate_candidate(space_path, arch_json, cfg)}


def retrain(run_dir: str | Path, cand_id: str, epochs: int = 20, seeds: int = 1, workers: int = 1,
            address: str | None = None, quiet: bool = False) -> dict[str, Any]:
    """Retrain a candidate from scratch for ``seeds`` seeds; record test accuracy (mean, std) and
    energy under ``RUN/retrain/<id>/results.json``. With ``workers`` > 1 (or a Ray ``address``) the
    seeds run as Ray Tune trials."""
    from tqdm.auto import tqdm

    from snnas.runs import RunStore

    if epochs < 1 or seeds < 1 or workers < 1:
        raise SnnasError("--epochs, --seeds and --workers must be >= 1")
    run = Path(run_dir)
    with RunStore.open(run, readonly=True) as store:
        rec = find_candidate(store, cand_id)
        space_path = str(store.space_path)
        data_root = (store.config.get("eval_config") or {}).get("data_root")
    out = run / RETRAIN_DIR / rec.id
    out.mkdir(parents=True, exist_ok=True)
    args = (space_path, rec.arch.to_json(), epochs, str(out))
    if workers > 1 or address:
        rows = _retrain_tune(args, seeds, workers, address, data_root)
    else:
        rows = [_train_one_seed(space_path, rec.arch.to_json(), s, epochs, str(out), data_root)
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


def _retrain_tune(args: tuple, seeds: int, workers: int, address: str | None, data_root: str | None) -> list[dict]:
    """One Ray Tune trial per seed, at most ``workers`` at a time."""
    import os

    import ray
    from ray import tune

    from snnas._runtime import MALLOC_ENV

    space_path, arch_json, epochs, out = args

    def trainable(config: dict) -> None:
        import torch

        torch.set_num_threads(1)
        tune.report(_train_one_seed(space_path, arch_json, int(config["seed"]), epochs, out, data_root))

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    started = not ray.is_initialized()
    if started:
        env = {"env_vars": {**MALLOC_ENV, "OMP_NUM_THREADS": "1",
                            **{k: v for k, v in os.environ.items() if k == "SNNAS_HARDWARE"}}}
        if address:
            ray.init(address=address, runtime_env=env, log_to_driver=False)
        else:
            ray.init(address="local", num_cpus=workers, include_dashboard=False, runtime_env=env,
                     log_to_driver=False)
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
