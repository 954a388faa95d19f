"""The op registry: every building block a search can pick, looked up by name.

Supernets, `build_network` and the exporter all construct ops through `OPS`, so a network that was
scored during a search and the one a user gets back are made of the same modules. Each entry's meta
says which constructor signature it has (``kind``) and how the energy counter prices it (``energy``):

- ``cell``: ``op(c_in, c_out, stride, neuron) -> Module`` on ``[T, B, C, H, W]``
- ``attention``: ``op(dim, heads, neuron) -> Module`` on ``[T, B, N, D]``
- ``mlp``: ``op(dim, ratio, neuron) -> Module`` on ``[T, B, N, D]``
- ``stem``: ``op(in_channels, embed_dim, neuron, patch_size=..., stages=...)``: ``[T,B,C,H,W] -> [T,B,N,D]``
- ``block``: ``op(dim, heads, mlp_ratio, neuron, attention=...)`` on ``[T, B, N, D]``
"""

from __future__ import annotations

from typing import Any

from snnas.registry import Registry
from snnas.space._names import OP_NAMES

OPS: Registry = Registry("op", names=OP_NAMES)

DEFAULT_NEURON: dict[str, Any] = {"kind": "lif", "tau": 2.0, "v_threshold": 1.0, "v_reset": 0.0,
                                  "surrogate": "sigmoid"}
"""SpikingJelly's LIFNode defaults, used when an op is built without a neuron config."""


def neuron_config(neuron: dict[str, Any] | None) -> dict[str, Any]:
    """A private copy of a neuron config (ops must never mutate the caller's dict)."""
    return dict(DEFAULT_NEURON if neuron is None else neuron)


def ops_of_kind(kind: str) -> list[str]:
    """Names of the registered ops whose meta ``kind`` is ``kind`` (e.g. the cell op candidates)."""
    return [name for name in OPS.names() if OPS.meta(name).get("kind") == kind]
