"""What each ``snnas`` subcommand does: call the packages, print the result. Workflows (retraining,
exporting a run's candidate, the baseline) live in their packages; here they are only formatted."""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import sys
from pathlib import Path
from typing import Any

from snnas.errors import SnnasError


def _metrics_rows(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, value) rows of a ``Metrics`` for people: accuracy in %, energy human-scaled."""
    from snnas.report import format_accuracy, format_energy

    m = metrics
    def num(v, fmt):
        return "n/a" if v is None else format(v, fmt)
    rows = [("accuracy", format_accuracy(m["accuracy"])), ("energy/sample", format_energy(m["energy_mj"])),
            ("MACs/sample", num(m["macs"], ",.0f")), ("ACs/sample", num(m["acs"], ",.0f")),
            ("mean firing rate", num(m["mean_firing_rate"], ".4f")), ("params", f"{m['params']:,}"),
            ("time steps", str(m["time_steps"])), ("wall time [s]", f"{m['wall_time_s']:.1f}")]
    if m.get("failed"):
        rows.append(("failed", str(m["failed"])))
    return rows


def _table(header: list[str], rows: list[list[str]], markdown: bool = False) -> str:
    cols = list(zip(header, *rows, strict=False))
    widths = [max(len(str(v)) for v in col) for col in cols]
    if markdown:
        def line(vals):
            return "| " + " | ".join(str(v).ljust(w) for v, w in zip(vals, widths, strict=True)) + " |"
        return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|",
                          *(line(r) for r in rows)])
    def line(vals):
        return "  ".join(str(v).ljust(w) for v, w in zip(vals, widths, strict=True)).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


# ---- commands -------------------------------------------------------------------------------

def _hardware(args: argparse.Namespace) -> int:
    from snnas.evaluate import HARDWARE

    if args.hw_command != "list":
        raise SnnasError("hardware: choose an action: list")
    rows = [[p.name, f"{p.e_mac_pj:g}", f"{p.e_ac_pj:g}", p.description]
            for p in (HARDWARE.get(n) for n in HARDWARE.names())]
    print(_table(["profile", "pJ/MAC", "pJ/AC", "description"], rows))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from snnas.evaluate import evaluate_baseline

    if args.epochs < 1 or args.time_steps < 1:
        raise SnnasError("--epochs and --time-steps must be >= 1")
    out = evaluate_baseline(epochs=args.epochs, time_steps=args.time_steps, neuron=args.neuron,
                            surrogate=args.surrogate, hardware=args.hardware, seed=args.seed, quiet=args.quiet,
                            device=args.device)
    val, test = out["val"].to_dict(), out["test"].to_dict()
    rows = [[name, v, w] for (name, v), (_, w) in zip(_metrics_rows(val), _metrics_rows(test), strict=True)]
    title = (f"baseline spiking CNN on digits: {args.epochs} epochs, T={args.time_steps}, neuron={args.neuron}, "
             f"surrogate={args.surrogate}, hardware={args.hardware}, seed={args.seed}")
    print(title)
    print(_table(["metric", "val", "test"], rows))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(f"# Baseline on digits\n\n{title}\n\n"
                                  f"Command: `snnas evaluate --epochs {args.epochs} --time-steps {args.time_steps} "
                                  f"--seed {args.seed}`\n\n{_table(['metric', 'val', 'test'], rows, True)}\n")
    return 0 if not test.get("failed") else 1


def _space(args: argparse.Namespace) -> int:
    from snnas import space as sp

    if args.space_command == "validate":
        bad = 0
        for f in args.files:
            try:
                s = sp.validate_file(f)
                print(f"{f}: ok ({s.family}, {len(s.decisions)} decisions, 10^{s.log10_size():.1f} architectures)")
            except SnnasError as e:
                print(f"snnas: error: {e}")
                bad += 1
        return 2 if bad else 0
    if args.space_command == "show":
        import numpy as np

        space = sp.load_space(args.file)
        print(sp.describe(space))
        arch = space.sample(np.random.default_rng(args.seed))
        print(f"\nexample architecture {arch.id}: {arch.summary()}")
        print(_table(["metric", "value"], [list(r) for r in _static_cost(space, arch).items()]))
        return 0
    if args.space_command == "sample":
        return _space_sample(args)
    raise SnnasError("space: choose an action: validate, show, sample")


def _static_cost(space: Any, arch: Any) -> dict[str, str]:
    """``snnas.evaluate.static_cost`` for people: units in the names, sensible precision."""
    from snnas.evaluate import static_cost
    from snnas.report import format_energy

    c = static_cost(space, arch)
    return {"params": f"{c['params']:,}", "MACs/sample (dense)": f"{c['macs']:,.0f}",
            "ACs/sample (untrained)": f"{c['acs']:,.0f}", "energy/sample (untrained)": format_energy(c["energy_mj"])}


def _space_sample(args: argparse.Namespace) -> int:
    import numpy as np

    from snnas import space as sp

    space = sp.load_space(args.file)
    if args.n < 1:
        raise SnnasError("-n must be >= 1")
    rng = np.random.default_rng(args.seed)
    archs = [space.sample(rng) for _ in range(args.n)]
    if not args.evaluate:
        rows = []
        for a in archs:
            cost = _static_cost(space, a)
            rows.append([a.id, cost["params"], cost["MACs/sample (dense)"], a.summary()])
        print(_table(["id", "params", "MACs/sample", "architecture"], rows))
        return 0
    from snnas.report import format_energy
    from snnas.search import eval_config_for, evaluate_candidate

    cfg = eval_config_for(space, epochs=args.epochs)
    from tqdm.auto import tqdm

    rows = []
    for i, a in enumerate(tqdm(archs, desc="training samples", unit="arch", disable=args.quiet)):
        m = evaluate_candidate(space, a.to_json(), dict(cfg, seed=args.seed + i, index=i))
        if m.get("failed"):
            rows.append([a.id, "failed", "", "", m["failed"]])
        else:
            rows.append([a.id, f"{100 * m['accuracy']:.1f}", format_energy(m["energy_mj"]),
                         f"{m['mean_firing_rate']:.3f}", a.summary()])
    print(_table(["id", "val acc [%]", "energy/sample", "firing", "architecture"], rows))
    return 0


_RUN_FLAGS = ("space", "strategy", "seed", "energy_lambda", "population", "generations", "scoring",
              "proxy_epochs", "batch_size", "data_root", "out", "device", "gpus_per_worker", "final_top_k",
              "final_pick", "final_epochs", "final_seeds", "final_lr", "bench_root", "bench_epoch")


def _search(args: argparse.Namespace) -> int:
    from snnas import search as se

    if args.list_strategies:
        print(_table(["strategy", "description"], [list(r) for r in se.list_strategies()]))
        return 0
    for flag in ("budget", "workers", "proxy_epochs", "batch_size", "threads", "final_epochs", "final_seeds",
                 "generations"):
        v = getattr(args, flag)
        if v is not None and v < 1:
            raise SnnasError(f"--{flag.replace('_', '-')} must be >= 1, got {v}")
    for flag in ("final_top_k", "gpus_per_worker"):
        v = getattr(args, flag)
        if v is not None and v < 0:
            raise SnnasError(f"--{flag.replace('_', '-')} must be >= 0, got {v:g}")
    if args.final_lr is not None and not (math.isfinite(args.final_lr) and args.final_lr > 0):
        raise SnnasError(f"--final-lr must be a positive number, got {args.final_lr:g}")
    if args.resume:
        run = _check_resume(args, se)
        if run is None:
            return 0
        result = _interruptible(run, lambda: se.resume(args.resume, budget=args.budget, workers=args.workers,
                                                       address=args.address, quiet=args.quiet))
    else:
        if not args.space:
            raise SnnasError("search: give --space FILE (or --resume RUN)")
        from snnas.evaluate import check_device_name
        from snnas.space import load_space

        space = load_space(args.space)
        strategy = args.strategy or space.defaults.get("strategy") or "random"
        se.STRATEGIES.get(strategy)
        options = {}
        if args.energy_lambda is not None:
            if strategy != "dhs":
                raise SnnasError(f"--lambda weighs the dhs supernet's energy term; strategy '{strategy}' has none")
            if any(not math.isfinite(v) or v < 0 for v in args.energy_lambda):
                raise SnnasError(f"--lambda: energy weights must be finite and >= 0, got "
                                 f"{' '.join(f'{v:g}' for v in args.energy_lambda)}")
            options["energy_lambda"] = list(args.energy_lambda)
        for flag in ("population", "generations", "scoring", "prescreen"):
            v = getattr(args, flag)
            if v is None:
                continue
            if strategy != "evolution":
                raise SnnasError(f"--{flag} sizes the evolution strategy; strategy '{strategy}' has none")
            if flag == "population" and v < 2:
                raise SnnasError(f"--population must be >= 2, got {v}")
            if flag == "prescreen" and not 1 <= v <= 100:
                raise SnnasError(f"--prescreen must be in [1, 100], got {v}")
            options[flag] = v
        device = check_device_name(args.device or space.defaults.get("device") or "auto",
                                   "--device" if args.device else f"{space.path}: search.device")
        seed = args.seed if args.seed is not None else int(space.defaults.get("seed") or 0)
        out = Path(args.out) if args.out else Path("runs") / f"{space.name}-{_dt.datetime.now():%Y%m%d-%H%M%S}"
        cfg = se.eval_config_for(space, epochs=args.proxy_epochs, batch_size=args.batch_size,
                                 data_root=args.data_root, threads=args.threads, device=device)
        final = {k: v for k, v in (("top_k", args.final_top_k), ("epochs", args.final_epochs),
                                   ("seeds", args.final_seeds), ("lr", args.final_lr),
                                   ("pick", args.final_pick)) if v is not None}
        evaluate = None
        if args.bench_root or args.bench_epoch is not None:
            cfg, evaluate = _bench_setup(args, space, strategy)
        result = _interruptible(out, lambda: se.search(
            space.path, out, strategy=strategy, budget=args.budget, seed=seed, eval_config=cfg,
            workers=args.workers or 1, address=args.address, quiet=args.quiet, argv=sys.argv, final=final,
            gpus_per_worker=args.gpus_per_worker, strategy_options=options, evaluate=evaluate))
    done = [r for r in result.records if not r.failed]
    print(f"run: {result.run_dir}  ({len(done)} completed, {len(result.records) - len(done)} failed)")
    _print_final(result.final)
    if not args.resume and args.bench_root:
        print("final stage: off (--bench-root: nothing to retrain; each candidate's test accuracy from the "
              "table is candidates.csv's bench_test_acc_pct)")
    for key in ("pareto_csv", "pareto_png", "candidates_csv", "summary_md"):
        if key in result.reports:
            print(f"{key.replace('_', '.')}: {result.reports[key]}")
    if result.records and not done:
        print("snnas: every candidate failed; see the reason column of candidates.csv", file=sys.stderr)
        return 1
    return 0


_NOT_WITH_BENCH = ("proxy_epochs", "batch_size", "data_root", "device", "final_top_k", "final_pick",
                   "final_epochs", "final_seeds", "final_lr")


def _bench_setup(args: argparse.Namespace, space: Any, strategy: str) -> tuple[dict, Any]:
    """The eval config and evaluate function of a search scored from a SpikeNAS-Bench table; every
    problem (no such folder, a space that is not the benchmark's) is one error before the run."""
    from snnas.evaluate import bench_config, evaluate_bench

    if not args.bench_root:
        raise SnnasError("--bench-epoch needs --bench-root DIR")
    if args.bench_epoch is not None and args.bench_epoch < 1:
        raise SnnasError(f"--bench-epoch must be >= 1, got {args.bench_epoch}")
    given = [f"--{f.replace('_', '-')}" for f in _NOT_WITH_BENCH if getattr(args, f) is not None]
    if given:
        raise SnnasError(f"{', '.join(given)}: nothing is trained with --bench-root (candidates are looked up "
                         "in the table and the final stage is off); drop them")
    if strategy == "dhs" or getattr(args, "scoring", None) == "oneshot":
        raise SnnasError(f"--bench-root: {'dhs' if strategy == 'dhs' else '--scoring oneshot'} trains a supernet; "
                         "the table scores each candidate (random, evolution)")
    return bench_config(space, args.bench_root, args.bench_epoch, space.hardware), evaluate_bench


def _check_resume(args: argparse.Namespace, se: Any) -> Path | None:
    """Refuse flags that would change a run; say so when there is nothing left to do (None)."""
    from snnas.runs import RunStore

    fixed = [f"--{f.replace('_', '-')}" for f in _RUN_FLAGS if getattr(args, f) is not None]
    if fixed or args.threads != 1:
        raise SnnasError(f"--resume continues the run as it was started; drop {', '.join(fixed or ['--threads'])} "
                         "(only --budget, --workers and --address may change)")
    run = Path(args.resume)
    if not run.is_dir():
        raise SnnasError(f"--resume {run}: no such run directory")
    with RunStore.open(run, readonly=True) as store:
        recorded, budget = len(store.done_indices()), int(store.config.get("budget", 0))
        pending = se.final_pending(store)
    if args.budget is not None and args.budget < recorded:
        raise SnnasError(f"--budget {args.budget}: {run} already holds {recorded} candidates; give at least "
                         f"{recorded} (a larger budget extends the run)")
    if (args.budget or budget) <= recorded and not pending:
        print(f"run {run} is complete: {recorded} candidates of a budget of {budget}, final stage done; "
              "nothing to do (a larger --budget extends it)")
        return None
    return run


def _interruptible(run: Path, work: Any) -> Any:
    """Run ``work``; on Ctrl-C say what is kept and how to continue (exit status 130)."""
    try:
        return work()
    except KeyboardInterrupt:
        kept = ""
        try:
            from snnas.runs import RunStore

            with RunStore.open(run, readonly=True) as store:
                kept = f"{len(store.done_indices())} candidate(s) kept in {run}; "
        except (SnnasError, OSError):
            pass
        raise SnnasError(f"interrupted: {kept}continue with 'snnas search --resume {run}'", exit_code=130) \
            from None


def _print_final(final: list[dict[str, Any]]) -> None:
    from snnas.report import format_accuracy, format_energy

    for res in final:
        n = sum(1 for s in res["seeds"] if not s.get("failed"))
        std = res.get("test_accuracy_std")
        spread = f" +- {100 * std:.2f}" if std is not None and n > 1 else ""
        print(f"final stage {res['id'][:8]}: test accuracy {format_accuracy(res['test_accuracy_mean'])}"
              f"{spread} ({n} seed(s), {res['epochs']} epochs), energy/sample {format_energy(res['energy_mj'])}")
        for reason in res["failed"]:
            print(f"  a seed failed: {reason}", file=sys.stderr)


def _report(args: argparse.Namespace) -> int:
    from snnas.report import write_reports
    from snnas.runs import RunStore

    lam = args.aeb_lambda
    if lam is not None and not (math.isfinite(lam) and lam >= 0):
        raise SnnasError(f"--aeb-lambda must be a finite number >= 0, got {lam:g}")
    with RunStore.open(args.run, readonly=True) as store:  # objectives/constraints as the run recorded
        paths = write_reports(store, aeb_lambda=lam)
        if args.pick:
            from snnas.report import AEB_LAMBDA, aeb_scores, format_metric

            lam = float(store.config.get("aeb_lambda", AEB_LAMBDA) if lam is None else lam)
            scores, e_ref = aeb_scores(store.records(), lam, store.constraints)
            records = {r.index: r for r in store.records()}
    for key, p in paths.items():
        print(f"{key.replace('_', '.')}: {p}")
    if args.pick:
        if not scores:
            raise SnnasError(f"report --pick aeb: {args.run} has no completed feasible candidate with an accuracy "
                             "and an energy")
        best = records[max(scores, key=lambda i: (scores[i], -i))]
        print(f"pick (aeb, lambda {lam:g}, E_ref {format_metric('energy_mj', e_ref)}): {best.id} (index {best.index})"
              f"  accuracy {format_metric('accuracy', best.value('accuracy'))}  energy "
              f"{format_metric('energy_mj', best.value('energy_mj'))}  aeb {scores[best.index]:.2f}")
        print(f"  {best.arch.summary()}")
        print(f"export it: snnas export {args.run} --id {best.id}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from snnas.export import export_candidate

    paths = export_candidate(args.run, args.id, args.out, args.weights)
    print(f"weights: {paths.pop('source')} ({paths.pop('source_note')})")
    for key, p in paths.items():
        print(f"{key}: {p}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from snnas.runs import RETRAIN_DIR
    from snnas.search import retrain

    res = retrain(args.run, args.id, epochs=args.epochs, seeds=args.seeds, workers=args.workers,
                  address=args.address, quiet=args.quiet)
    _print_final([res])
    print(f"results: {Path(args.run) / RETRAIN_DIR / res['id'] / 'results.json'}")
    return 0 if not res["failed"] else 1


def dispatch(args: argparse.Namespace) -> int:
    handlers = {"hardware": _hardware, "evaluate": _evaluate, "space": _space, "search": _search,
                "report": _report, "export": _export, "train": _train}
    return handlers[args.command](args)
