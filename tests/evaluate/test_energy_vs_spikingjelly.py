"""Per-layer MACs and ACs against SpikingJelly's ``op_counter`` (SynOpCounter, MACCounter).

Networks from both shipped space families (cell and transformer, every attention op) and the
baseline CNN are counted by snnas and by SpikingJelly on the same input in eval mode. Every
conv/linear layer (and every attention module's own products) must agree within 1 %. BN and the
neurons' own state updates are excluded from SpikingJelly's count (snnas folds BN into the conv
and counts synaptic operations only). SpikingJelly recognises spikes by their values (0/1), so it
prices sums of spikes (a cell node, a residual) as MACs; for those layers the reference is
SpikingJelly's own conv weight-use rule applied to the spike counts (the count-weighted rule).
"""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("spikingjelly.activation_based.op_counter",
                    reason="spikingjelly is not installed (make test installs it --no-deps)")
from snnas.testing._spikingjelly import calibrate_bn, compare_with_spikingjelly, reference_networks  # noqa: E402

B = 16
NETWORKS = list(reference_networks())


@pytest.mark.parametrize(("name", "model", "T", "shape"), NETWORKS, ids=[n[0] for n in NETWORKS])
def test_per_layer_counts_match_spikingjelly(name, model, T, shape):
    x = torch.rand(T, B, *shape, generator=torch.Generator().manual_seed(1))
    calibrate_bn(model, x)
    rows, unseen = compare_with_spikingjelly(model, x)
    for r in rows:
        assert r["snnas"] == pytest.approx(r["spikingjelly"], rel=0.01, abs=0.5 / B), (name, r)
    fired = sum(r["kind"] == "AC" and r["snnas"] > 0 for r in rows)
    assert fired >= 2, f"{name}: too few layers saw events for the comparison to mean anything"
    # SpikingJelly found no work outside the layers snnas reported
    assert unseen == pytest.approx((0.0, 0.0), abs=1e-9), name
