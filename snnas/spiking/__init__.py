"""Spiking neurons and surrogate gradients.

``NEURONS`` and ``SURROGATES`` are name registries (``make_neuron(kind, **params)``,
``make_surrogate(name, alpha)``); every neuron is multi-step, time-first and stateless across calls.
IF/LIF/PLIF run a fused C kernel on CPU float32 when a C compiler is available (``SNNAS_FUSED=0``
turns it off) with spikes bit-identical to the pure-torch reference.
"""

from snnas.spiking._neurons import (
    NEURONS,
    PSN,
    BaseNeuron,
    IFNode,
    LIFNode,
    NonSpiking,
    PLIFNode,
    make_neuron,
)
from snnas.spiking._surrogate import SURROGATES, Surrogate, make_surrogate

__all__ = [
    "NEURONS",
    "PSN",
    "SURROGATES",
    "BaseNeuron",
    "IFNode",
    "LIFNode",
    "NonSpiking",
    "PLIFNode",
    "Surrogate",
    "make_neuron",
    "make_surrogate",
]
