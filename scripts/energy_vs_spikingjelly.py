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
import dataclasses
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from snnas.evaluate import count_energy
from snnas.nn import baseline_cnn, build_network
from snnas.space import load_space
from snnas.spiking import BaseNeuron

OUT = Path(__file__).resolve().parents[1] / "results"


def networks():
    cells = load_space("digits")
    rng = np.random.default_rng(7)
    for i in range(6):
        yield f"digits cell {i}", cells, cells.sample(rng)
    tf = load_space("digits_transformer")
    base = tf.sample(np.random.default_rng(0))
    for att in ("ssa", "sdsa", "qk_token", "qk_channel"):
        yield f"transformer {att}", tf, dataclasses.replace(base, attention=att, depth=2, neurons=base.neurons[:1] * 2)
    yield "baseline CNN", None, None


def compare(name, space, arch, samples: int) -> list[dict]:
    from spikingjelly.activation_based import op_counter
    from spikingjelly.activation_based.op_counter.neuromorphic_memory_access import (
        _spike_conv_weight_uses_from_tensors,
    )

    torch.manual_seed(0)
    model = baseline_cnn() if space is None else build_network(space, arch)
    T, shape = (4, (1, 8, 8)) if space is None else (arch.time_steps, tuple(space.input_shape))
    x = torch.rand(T, samples, *shape, generator=torch.Generator().manual_seed(1))
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = None
    with torch.no_grad():
        model.train()(x)
    model.eval()
    rep = count_energy(model, x)
    ignore = [nn.modules.batchnorm._BatchNorm, BaseNeuron]
    syn, mac = op_counter.SynOpCounter(extra_ignore_modules=ignore), op_counter.MACCounter(extra_ignore_modules=ignore)
    inputs = defaultdict(list)
    hooks = [m.register_forward_hook(lambda mod, i, o, n=n: inputs[n].append(i[0]))
             for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad(), op_counter.DispatchCounterMode([syn, mac]):
        model(x)
    for h in hooks:
        h.remove()
    s = {k: sum(v.values()) / samples for k, v in syn.get_counts().items()}
    mc = {k: sum(v.values()) / samples for k, v in mac.get_counts().items()}
    prefix, modules, out = type(model).__name__, dict(model.named_modules()), []
    for r in rep.rows:
        m, scope = modules[r.module], f"{prefix}.{r.module}"
        rule = "spikes"
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            ref_ac, ref_mac = s.get(scope, 0.0), mc.get(scope, 0.0)
            if r.kind == "AC" and not ref_ac and ref_mac:
                rule, ref_mac = "spike counts", 0.0
                ref_ac = sum(_spike_conv_weight_uses_from_tensors(t, m.weight, m.stride, m.padding, m.dilation,
                                                                 m.groups) if isinstance(m, nn.Conv2d)
                             else float(t.sum()) * m.out_features for t in inputs[r.module]) / samples
        else:
            kids = [f"{prefix}.{n}" for n, c in modules.items()
                    if n.startswith(r.module + ".") and isinstance(c, (nn.Conv2d, nn.Linear))]
            ref_ac = s.get(scope, 0.0) - sum(s.get(k, 0.0) for k in kids)
            ref_mac = mc.get(scope, 0.0) - sum(mc.get(k, 0.0) for k in kids)
            rule = "spike x spike products"
        old = float("nan")  # the previous rule: dense x mean input (taps on padding billed as events)
        if r.kind == "AC" and inputs.get(r.module):
            old = r.dense * sum(float(t.sum()) for t in inputs[r.module]) / sum(t.numel() for t in inputs[r.module])
        ours = r.coincidences if r.kind == "AC" else r.dense
        ref = ref_ac if r.kind == "AC" else ref_mac
        out.append({"network": name, "layer": r.module, "kind": r.kind, "snnas_events": r.events,
                    "snnas_coincidences": r.coincidences, "snnas_dense": r.dense, "spikingjelly": ref,
                    "ratio": ours / ref if ref else (1.0 if not ours else float("inf")),
                    "previous_rule_ratio": old / ref if ref else float("nan"), "reference_rule": rule})
    return out


def _md(df: pd.DataFrame) -> str:
    """A markdown table (pandas' to_markdown needs the optional tabulate package)."""
    def fmt(v):
        return f"{v:.6g}" if isinstance(v, float) else str(v)
    head = "| " + " | ".join(df.columns) + " |"
    rows = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, "|" + "---|" * len(df.columns), *rows])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=128)
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args()
    nets = list(networks())
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
          f"{100 * worst:.4f} % (AC rows compare snnas's `coincidences`, SpikingJelly's rule; `events`, "
          "what snnas prices, differs only for spike x spike products). `previous_rule_*`: the ratio the "
          "counter before this change (dense x mean input) gave for conv/linear layers on spikes.", "",
          _md(per_net.reset_index()), "", "Per layer (counts per sample, summed over T):", "",
          _md(df), ""]
    (OUT / "energy_vs_spikingjelly.md").write_text("\n".join(md))
    print(per_net.to_string())
    print(f"largest per-layer deviation: {100 * worst:.4f} %")


if __name__ == "__main__":
    main()
