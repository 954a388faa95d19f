"""The op registry: every building block a search can pick, looked up by name.

Supernets, `build_network` and the exporter all construct ops through `OPS`, so a network that was
scored during a search and the one a user gets back are made of the same modules. Each entry's meta
says which constructor signature it has (``kind``) and how the energy counter prices it (``energy``):

- ``cell``: ``op(c_in, c_out, stride, neuron) -> Module`` on ``[T, B, C, H, W]``
- ``attention``: ``op(dim, heads, neuron) -> Module`` on ``[T, B, N, D]``
- ``mlp``: ``op(dim, ratio, neuron) -> Module`` on ``[T, B, N, D]``
- ``stem``: ``op(in_channels, embed_dim, neuron, patch_size=..., stages=...)``: ``[T,B,C,H,W] -> [T,B,N,D]``
- ``block``: ``op(dim, heads, mlp_ratio, neuron, attention=...)`` on ``[T, B, N, D]``

Cell ops registered with ``neuron=True`` have a neuron of their own; only they have *variants*, names like
``conv_3x3{width:5}`` (``snnas.space._ops``) that `OPS` resolves to the base op built with the
variant's neuron settings (`variant_neuron`), with the base op's meta: a variant is built, priced
and exported as its base op with a differently configured neuron.
"""

from __future__ import annotations

import inspect
from typing import Any

from snnas.errors import SpaceError
from snnas.registry import Registry
from snnas.space._names import OP_NAMES
from snnas.space._ops import NEURON_FLAG, OP_PARAMS, OpError, Params, op_string, parse_op
from snnas.spiking import NEURONS


class OpVariant:
    """The constructor of an op variant (``conv_3x3{width:5}``): the base cell op built with the
    layer's neuron config changed by the variant's parameters (`variant_neuron`)."""

    def __init__(self, base: str, build: Any, params: Params):
        self.base, self.build, self.params = base, build, params
        self.name = op_string(base, params)

    def __call__(self, c_in: int, c_out: int, stride: int, neuron: dict[str, Any] | None = None) -> Any:
        return self.build(c_in, c_out, stride, variant_neuron(neuron, self.params))

    def __repr__(self) -> str:
        return f"OpVariant({self.name!r})"


class OpRegistry(Registry):
    """The op registry, whose names may also be op variants ``base{param:value,...}`` (parsed by
    ``snnas.space._ops``, written in any spelling a space accepts): ``get`` gives an `OpVariant`
    of the base op, ``meta`` the base op's meta (a variant is priced, read and exported as its
    base), ``in`` says whether a name or variant resolves. Only ops registered with
    ``neuron=True`` (cell ops with a neuron of their own) take parameters."""

    def split(self, name: Any) -> tuple[Any, Params]:
        """(base name, parameters) of ``name``; SpaceError for a malformed variant."""
        if not isinstance(name, str) or ("{" not in name and "}" not in name):
            return name, ()
        try:
            return parse_op(name)
        except OpError as e:
            raise SpaceError(f"op '{name}': {e}") from None

    def get(self, name: str) -> Any:
        base, params = self.split(name)
        build = super().get(base)
        if not params:
            return build
        meta = self._meta[base]
        if not meta.get(NEURON_FLAG) or meta.get("kind") != "cell":
            raise SpaceError(f"op '{name}': '{base}' does not end in a neuron, so it takes no parameters")
        return OpVariant(base, build, params)

    def meta(self, name: str) -> dict:
        self.get(name)
        return super().meta(self.split(name)[0])

    def __contains__(self, name: object) -> bool:
        try:
            self.get(name)  # type: ignore[arg-type]
        except (KeyError, SpaceError):
            return False
        return True


OPS: OpRegistry = OpRegistry("op", names=OP_NAMES)

DEFAULT_NEURON: dict[str, Any] = {"kind": "lif", "tau": 2.0, "v_threshold": 1.0, "v_reset": 0.0,
                                  "surrogate": "sigmoid"}
"""SpikingJelly's LIFNode defaults, used when an op is built without a neuron config."""


def neuron_config(neuron: dict[str, Any] | None) -> dict[str, Any]:
    """A private copy of a neuron config (ops must never mutate the caller's dict)."""
    return dict(DEFAULT_NEURON if neuron is None else neuron)


def variant_neuron(neuron: dict[str, Any] | None, params: Params) -> dict[str, Any]:
    """The neuron config of an op variant: a copy of the layer's ``neuron`` with each parameter set
    on the first of its config keys (``OP_PARAMS``) the neuron kind's constructor takes; a setting
    the kind does not take is ignored (``tau`` on ``if``, anything on ``ann``)."""
    cfg = neuron_config(neuron)
    if not params:
        return cfg
    accepts = inspect.signature(NEURONS.get(cfg["kind"])).parameters
    for name, value in params:
        key = next((k for k in OP_PARAMS[name].config if k in accepts), None)
        if key is not None:
            cfg[key] = value
    return cfg


def ops_of_kind(kind: str) -> list[str]:
    """Names of the registered ops whose meta ``kind`` is ``kind`` (e.g. the cell op candidates)."""
    return [name for name in OPS.names() if OPS.meta(name).get("kind") == kind]
