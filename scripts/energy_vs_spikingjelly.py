"""Per-layer operation counts of snnas's energy counter beside SpikingJelly's op_counter.

    .venv/bin/python scripts/energy_vs_spikingjelly.py [--samples 128] [-q]

Networks: 6 random architectures of search_spaces/digits.yaml, the digits transformer with each
attention op, and the baseline CNN, BN statistics calibrated by one training-mode pass, counted in
eval mode on the same random input. SpikingJelly (``SynOpCounter``, ``MACCounter``; BN and neuron
internals ignored) recognises spikes by value, so layers fed by sums of spikes (cell nodes,
residuals) are compared with its weight-use rule applied to the spike counts. Writes
results/energy_vs_spikingjelly.{csv,md}. Needs ``pip install --no-deps spikingjelly loguru``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import torch
from _md import md_table
from tqdm.auto import tqdm

from snnas.testing._spikingjelly import calibrate_bn, compare_with_spikingjelly, reference_networks

OUT = Path(__file__).resolve().parents[1] / "results"


def compare(name: str, model, T: int, shape: tuple, samples: int) -> list[dict]:
    x = torch.rand(T, samples, *shape, generator=torch.Generator().manual_seed(1))
    rows, _ = compare_with_spikingjelly(calibrate_bn(model, x), x)
    for r in rows:
        ref = r["spikingjelly"]
        r["ratio"] = r["snnas"] / ref if ref else (1.0 if not r["snnas"] else float("inf"))
        r["previous_rule_ratio"] = r.pop("previous_rule") / ref if ref else float("nan")
    return [{"network": name, **r} for r in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=128)
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args()
    nets = list(reference_networks())
    rows = [r for n in tqdm(nets, desc="networks", disable=args.quiet) for r in compare(*n, args.samples)]
    df = pd.DataFrame(rows)
    df.to_csv(OUT / "energy_vs_spikingjelly.csv", index=False)
    worst = (df["ratio"] - 1).abs().max()
    per_net = df.groupby("network", sort=False).agg(
        layers=("layer", "size"), max_dev_pct=("ratio", lambda r: 100 * (r - 1).abs().max()),
        previous_rule_min=("previous_rule_ratio", "min"), previous_rule_max=("previous_rule_ratio", "max"))
    md = ["# snnas energy counts vs SpikingJelly op_counter", "", __doc__.split("\n\n", 2)[2].strip(), "",
          f"Command: `python scripts/energy_vs_spikingjelly.py --samples {args.samples}`. "
          f"{len(df)} layer rows over {len(nets)} networks; largest per-layer deviation "
          f"{100 * worst:.4f} % (AC rows compare snnas's `coincidences`, SpikingJelly's rule; `snnas_events`, "
          "what snnas prices, differs only for spike x spike products). `previous_rule_*`: the ratio the "
          "counter before this change (dense x mean input) gave for conv/linear layers on spikes.", "",
          md_table(per_net.reset_index()), "", "Per layer (counts per sample, summed over T):", "",
          md_table(df), ""]
    (OUT / "energy_vs_spikingjelly.md").write_text("\n".join(md))
    print(per_net.to_string())
    print(f"largest per-layer deviation: {100 * worst:.4f} %")


if __name__ == "__main__":
    main()
