"""What each ``snnas`` subcommand does: call the packages, print the result. No search logic here."""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
from pathlib import Path
from typing import Any

from snnas.errors import SnnasError


def _metrics_rows(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, value) rows of a ``Metrics`` for people: units in the names, sensible precision."""
    m = metrics
    rows = [("accuracy [%]", f"{100 * m['accuracy']:.2f}"), ("energy [mJ/sample]", f"{m['energy_mj']:.6g}"),
            ("MACs/sample", f"{m['macs']:,.0f}"), ("ACs/sample", f"{m['acs']:,.0f}"),
            ("mean firing rate", f"{m['mean_firing_rate']:.4f}"), ("params", f"{m['params']:,}"),
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
    from snnas._workflows import evaluate_baseline

    if args.epochs < 1 or args.time_steps < 1:
        raise SnnasError("--epochs and --time-steps must be >= 1")
    out = evaluate_baseline(epochs=args.epochs, time_steps=args.time_steps, neuron=args.neuron,
                            surrogate=args.surrogate, hardware=args.hardware, seed=args.seed, quiet=args.quiet)
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
    """Params and per-sample MACs of an untrained network (one dense forward at batch 1)."""
    import torch

    from snnas.evaluate import count_energy, count_params
    from snnas.nn import build_network

    torch.manual_seed(0)
    model = build_network(space, arch)
    x = torch.rand(arch.time_steps, 1, *space.input_shape)
    rep = count_energy(model, x, hardware=space.hardware)
    return {"params": f"{count_params(model):,}", "MACs/sample (dense)": f"{rep.macs:,.0f}",
            "ACs/sample (untrained)": f"{rep.acs:,.0f}", "energy [mJ] (untrained)": f"{rep.energy_mj:.4g}"}


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
    from snnas.search import evaluate_candidate
    from snnas.search._candidate import eval_config_for

    cfg = eval_config_for(space, epochs=args.epochs)
    from tqdm.auto import tqdm

    rows = []
    for i, a in enumerate(tqdm(archs, desc="training samples", unit="arch", disable=args.quiet)):
        m = evaluate_candidate(space, a.to_json(), dict(cfg, seed=args.seed + i, index=i))
        if m.get("failed"):
            rows.append([a.id, "failed", "", "", m["failed"]])
        else:
            rows.append([a.id, f"{100 * m['accuracy']:.1f}", f"{m['energy_mj']:.4g}",
                         f"{m['mean_firing_rate']:.3f}", a.summary()])
    print(_table(["id", "val acc [%]", "energy [mJ]", "firing", "architecture"], rows))
    return 0


_RUN_FLAGS = ("space", "strategy", "seed", "proxy_epochs", "batch_size", "data_root", "out")


def _search(args: argparse.Namespace) -> int:
    from snnas import search as se

    if args.list_strategies:
        print(_table(["strategy", "description"], [list(r) for r in se.list_strategies()]))
        return 0
    for flag in ("budget", "workers", "proxy_epochs", "batch_size", "threads"):
        v = getattr(args, flag)
        if v is not None and v < 1:
            raise SnnasError(f"--{flag.replace('_', '-')} must be >= 1, got {v}")
    if args.resume:
        fixed = [f"--{f.replace('_', '-')}" for f in _RUN_FLAGS if getattr(args, f) is not None]
        if fixed or args.threads != 1:
            raise SnnasError(f"--resume continues the run as it was started; drop {', '.join(fixed or ['--threads'])} "
                             "(only --budget, --workers and --address may change)")
        result = se.resume(args.resume, budget=args.budget, workers=args.workers, address=args.address,
                           quiet=args.quiet)
    else:
        if not args.space:
            raise SnnasError("search: give --space FILE (or --resume RUN)")
        from snnas.space import load_space

        space = load_space(args.space)
        strategy = args.strategy or space.defaults.get("strategy") or "random"
        se.STRATEGIES.get(strategy)
        seed = args.seed if args.seed is not None else int(space.defaults.get("seed") or 0)
        out = args.out or Path("runs") / f"{space.name}-{_dt.datetime.now():%Y%m%d-%H%M%S}"
        cfg = se.eval_config_for(space, epochs=args.proxy_epochs, batch_size=args.batch_size,
                                 data_root=args.data_root, threads=args.threads)
        result = se.search(space.path, out, strategy=strategy, budget=args.budget, seed=seed, eval_config=cfg,
                           workers=args.workers or 1, address=args.address, quiet=args.quiet, argv=sys.argv)
    done = [r for r in result.records if not r.failed]
    print(f"run: {result.run_dir}  ({len(done)} completed, {len(result.records) - len(done)} failed)")
    for key in ("pareto_csv", "pareto_png", "candidates_csv", "summary_md"):
        if key in result.reports:
            print(f"{key.replace('_', '.')}: {result.reports[key]}")
    if result.records and not done:
        print("snnas: every candidate failed; see the reason column of candidates.csv", file=sys.stderr)
        return 1
    return 0


def _report(args: argparse.Namespace) -> int:
    from snnas.report import write_reports
    from snnas.runs import RunStore

    with RunStore.open(args.run, readonly=True) as store:  # objectives/constraints as the run recorded
        paths = write_reports(store)
    for key, p in paths.items():
        print(f"{key.replace('_', '.')}: {p}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from snnas._workflows import export_candidate

    paths = export_candidate(args.run, args.id, args.out, args.weights)
    for key, p in paths.items():
        print(f"{key}: {p}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from snnas._workflows import retrain

    res = retrain(args.run, args.id, epochs=args.epochs, seeds=args.seeds, workers=args.workers,
                  address=args.address, quiet=args.quiet)
    print(f"{res['id']}: test accuracy {100 * res['test_accuracy_mean']:.2f} +- {100 * res['test_accuracy_std']:.2f} % "
          f"over {len(res['seeds'])} seed(s), energy {res['energy_mj']:.4g} mJ/sample")
    print(f"results: {Path(args.run) / 'retrain' / res['id'] / 'results.json'}")
    return 0 if not res["failed"] else 1


def dispatch(args: argparse.Namespace) -> int:
    handlers = {"hardware": _hardware, "evaluate": _evaluate, "space": _space, "search": _search,
                "report": _report, "export": _export, "train": _train}
    return handlers[args.command](args)
