"""Pure-torch multi-step IF/LIF/PLIF dynamics: the reference every other path must match.

The float32 operations and their order copy SpikingJelly 2.0's torch reference
(``spikingjelly/_ops/{if_,lif,plif}/reference.py`` and ``_ops/reset.py``), so spikes agree bit for
bit with SpikingJelly and with the fused C kernel, and an exported pure-torch model reproduces a
searched one exactly. Change nothing here without changing ``_lif_kernel.c`` the same way.
"""

from __future__ import annotations

import torch

from snnas.spiking._surrogate import Surrogate

# neuron modes shared with the C kernel
MODE_IF, MODE_LIF, MODE_PLIF = 0, 1, 2


def charge(x: torch.Tensor, v: torch.Tensor, mode: int, coef, decay_input: bool,
           v_reset: float) -> torch.Tensor:
    """H[t] from V[t-1] and X[t]; ``coef`` is tau (LIF, divides) or sigmoid(w) (PLIF, multiplies)."""
    if mode == MODE_IF:
        return v + x
    if mode == MODE_LIF:
        if decay_input:
            return v + (x - (v - v_reset)) / coef
        return v - (v - v_reset) / coef + x
    if decay_input:
        return v + (x - (v - v_reset)) * coef
    return v - (v - v_reset) * coef + x


def reset(h: torch.Tensor, spike: torch.Tensor, v_threshold: float, v_reset: float | None,
          detach_reset: bool) -> torch.Tensor:
    """V[t] after firing: hard reset to v_reset, or soft reset (subtract threshold) if None."""
    if detach_reset:
        spike = spike.detach()
    if v_reset is None:
        return h - spike * v_threshold
    return spike * v_reset + (1.0 - spike) * h


def multi_step(x_seq: torch.Tensor, mode: int, coef, decay_input: bool, v_threshold: float,
               v_reset: float | None, surrogate: Surrogate, detach_reset: bool) -> torch.Tensor:
    """Run T steps from V = v_reset (0 for soft reset); return the spike sequence [T, ...]."""
    vr = 0.0 if v_reset is None else v_reset
    v = torch.full_like(x_seq[0], vr)
    spikes = []
    for x in x_seq:
        h = charge(x, v, mode, coef, decay_input, vr)
        spike = surrogate(h - v_threshold)
        v = reset(h, spike, v_threshold, v_reset, detach_reset)
        spikes.append(spike)
    return torch.stack(spikes)
