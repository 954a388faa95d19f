"""Does DGS collapse the surrogate width to its floor? One digits supernet, widths per epoch.

SpikeDHS's public log shows its DGS width b running down to the clamp floor. This trains the dhs
supernet of search_spaces/digits.yaml with per-layer DGS widths (``surrogate.width: {dgs: true,
init, bounds, step}``, neurons not shared) and prints / writes each layer's width after every epoch.

Usage: python scripts/dgs_trace.py [--epochs 10] [--init 4] [--bounds 1 8] [--step 0.5] [--lambda 0] [-q]
Writes results/dhs_digits/dgs_trace.{csv,md}.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--init", type=float, default=4.0)
    ap.add_argument("--bounds", type=float, nargs=2, default=[1.0, 8.0])
    ap.add_argument("--step", type=float, default=0.5)
    ap.add_argument("--lambda", dest="lam", type=float, default=0.0)
    ap.add_argument("--time-steps", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "results" / "dhs_digits"))
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)

    import pandas as pd
    import torch
    from tqdm.auto import tqdm

    from snnas.evaluate import load_dataset
    from snnas.space import load_space_text
    from snnas.supernet import DHSConfig, SupernetTrainer, supernet_spec

    lo, hi = args.bounds
    text = (ROOT / "search_spaces" / "digits.yaml").read_text().replace("shared: true", "shared: false")
    text = text.replace("width: 4.0", f"width: {{dgs: true, init: {args.init:g}, bounds: [{lo:g}, {hi:g}], "
                        f"step: {args.step:g}}}")
    space = load_space_text(text, name="digits-dgs")
    torch.set_num_threads(os.cpu_count() or 1)
    t = SupernetTrainer(supernet_spec(space, time_steps=args.time_steps), load_dataset("digits"),
                        DHSConfig(energy_lambda=args.lam, warmup=args.warmup, dgs=space.dgs))
    rows = [{"epoch": 0, **{f"layer{i}": w for i, w in enumerate(t.net.widths())}}]
    start = time.perf_counter()
    for _ in tqdm(range(args.epochs), desc="supernet epochs", unit="epoch", disable=args.quiet):
        h = t.train_epoch()
        rows.append({"epoch": h["epoch"], **{f"layer{i}": w for i, w in enumerate(h["width"])},
                     "train_acc": h["train_acc"]})
    df = pd.DataFrame(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "dgs_trace.csv", index=False)
    last = df.iloc[-1]
    floor = [c for c in df.columns if c.startswith("layer") and abs(last[c] - lo) < 1e-9]
    lines = [
        "# DGS surrogate widths on the digits supernet",
        "",
        f"`python scripts/dgs_trace.py {' '.join(sys.argv[1:])}` ({time.perf_counter() - start:.0f} s): "
        f"sigmoid surrogate, per-layer width from {args.init:g} within [{lo:g}, {hi:g}], step {args.step:g}, "
        f"lambda {args.lam:g}, T = {args.time_steps}, {args.warmup} warm-up epochs.",
        "",
        "| " + " | ".join(df.columns) + " |",
        "|" + " --- |" * len(df.columns),
        *("| " + " | ".join("" if pd.isna(v) else (f"{v:.3f}" if isinstance(v, float) else str(v)) for v in r)
          + " |" for r in df.itertuples(index=False)),
        "",
        f"Layers at the floor ({lo:g}) after {args.epochs} epochs: {', '.join(floor) if floor else 'none'}.",
        "",
    ]
    (out / "dgs_trace.md").write_text("\n".join(lines))
    if not args.quiet:
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
