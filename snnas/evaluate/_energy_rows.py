"""What the energy counter returns: per-layer rows that can be priced again without counting again.

A row is one (module, kind) pair of a counted forward: its dense multiply count (what the layer would
cost as MACs) and its synaptic events (what it costs as ACs when fed by spikes). Keeping both lets a
supernet weight a candidate op's rows by its architecture weight, or let a per-layer SNN/ANN gate
switch a row between AC and MAC pricing, from one counting pass: :func:`price_rows`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from snnas.evaluate._hardware import HardwareProfile, get_hardware


class EnergyRow(NamedTuple):
    """One layer's operations per sample (summed over T).

    ``dense``: multiplies of the dense operation (out elements x fan-in; zero padding included,
    as a MAC array computes it). ``events``: for an ``AC`` row, the events that reached the layer
    times the outputs each one reaches (padding, stride, dilation and groups included); 0 for
    ``MAC`` rows. ``coincidences``: the same operations under SpikingJelly's SynOps rule, which
    differs from ``events`` only for products of two spike operands (spiking attention): it counts
    the nonzero products, while ``events`` holds the sparser operand's events x fan-out (snnas's
    rule, used for energy). ``sources``: the neurons whose spikes fed the row ("+"-joined);
    ``rate``: their mean firing rate.
    """

    module: str
    kind: str
    dense: float
    events: float = 0.0
    coincidences: float = 0.0
    sources: str = ""
    rate: float = 0.0

    @property
    def count(self) -> float:
        """The operations this row is priced with: ``events`` for AC, ``dense`` for MAC."""
        return self.events if self.kind == "AC" else self.dense


def price_rows(rows: Iterable[EnergyRow], hardware: str | HardwareProfile = "45nm-fp32",
               weight: Callable[[EnergyRow], float] | None = None,
               spiking: Callable[[EnergyRow], float] | None = None) -> tuple[float, float, float]:
    """(MACs, ACs, energy in mJ) of ``rows``, each scaled by ``weight(row)`` (default 1).

    ``spiking(row)`` in [0, 1] is the probability that the row's input is spikes (default: 1 for
    AC rows, 0 for MAC rows); a row then costs ``p * events`` ACs plus ``(1 - p) * dense`` MACs.
    Weights may be tensors (softmax architecture weights), so the result stays differentiable.
    """
    profile = get_hardware(hardware)
    macs = acs = 0.0
    for r in rows:
        w = 1.0 if weight is None else weight(r)
        p = (1.0 if r.kind == "AC" else 0.0) if spiking is None else spiking(r)
        macs = macs + w * (1 - p) * r.dense
        acs = acs + w * p * r.events
    return macs, acs, profile.energy_mj(macs, acs)


@dataclass
class EnergyReport:
    """Per-sample operation counts and energy of one counted forward.

    ``rows`` is the per-layer table (see :class:`EnergyRow`); ``firing_rates`` maps each neuron
    module to its mean firing rate.
    """

    macs: float
    acs: float
    energy_mj: float
    rows: list[EnergyRow] = field(default_factory=list)
    firing_rates: dict[str, float] = field(default_factory=dict)
    mean_firing_rate: float = 0.0
    hardware: str = "45nm-fp32"

    def table(self) -> list[dict[str, float | str]]:
        """The rows as dicts (for pandas / CSV): module, kind, dense, events, coincidences, ..."""
        return [r._asdict() for r in self.rows]
