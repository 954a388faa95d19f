"""`build_network`: the one path from an `Architecture` to an `nn.Module`, for both families.

Searches, the evaluator and the exporter all build through here, so the module that was scored is
the module that is exported. The real work needs only plain values (`build_from_architecture`);
`build_network` just reads them off the SearchSpace. Every built module carries
``architecture`` and ``build_args`` (plain data, with defaults resolved) so that
``build_from_architecture(module.architecture, **module.build_args)`` re-creates it exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from snnas.errors import SpaceError, UnknownNameError
from snnas.nn._cells import CellNetwork
from snnas.nn._dag import DagNetwork
from snnas.nn._registry import ops_of_kind
from snnas.nn._transformer import SpikingTransformer
from snnas.space._architecture import Architecture
from snnas.space._names import ATTENTION_ALIASES

CELL_FIXED: dict[str, Any] = {"nodes": None, "multiplier": None, "stem": "conv_3x3", "stem_stride": 1,
                              "head": "gap"}
"""Non-searched cell-family settings (``space.fixed``) and their defaults. ``nodes`` is only
checked against the architecture's cell; ``multiplier`` = how many last nodes are concatenated
(default all); ``stem`` names a cell op used as the stem, with ``stem_stride``; ``head`` is what
the classifier reads (``gap`` or ``flatten``). A dag-topology architecture (``arch.topology``) builds
the SpikeNAS-Bench layout (`DagNetwork`), which uses ``nodes`` (all nodes, the input included) and
``stem_stride`` and needs the others at their defaults."""

TRANSFORMER_FIXED: dict[str, Any] = {"patch_size": 4, "stem_stages": 4, "stem": "sps"}
"""Non-searched transformer settings: SPS ``patch_size`` (power of 2), number of conv stages of
the stem, and its pooling order ``sps`` (Spikformer) or ``cml`` (CML downsampling)."""

def _resolve_fixed(family: str, defaults: dict[str, Any], fixed: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(fixed) - set(defaults))
    if unknown:
        raise SpaceError(f"unknown fixed setting(s) for the {family} family: {', '.join(unknown)}; "
                         f"valid: {', '.join(defaults)}", path="fixed")
    return {**defaults, **fixed}


def _neurons(arch: Architecture) -> list[dict[str, Any]]:
    return [n.to_config(arch.time_steps) for n in arch.neurons]


def _build_cell(arch: Architecture, input_shape: Sequence[int], num_classes: int,
                fx: dict[str, Any]) -> nn.Module:
    if not arch.cell or not arch.trellis or not arch.stem_channels:
        raise SpaceError("a cell architecture needs cell, trellis and stem_channels")
    if arch.topology == "dag":
        return _build_dag(arch, input_shape, num_classes, fx)
    if arch.topology != "darts":
        raise UnknownNameError("cell topology", arch.topology, ["darts", "dag"])
    if fx["nodes"] is not None and int(fx["nodes"]) != len(arch.cell):
        raise SpaceError(f"architecture has {len(arch.cell)} cell nodes, the space fixes "
                         f"nodes={fx['nodes']}", path="cell")
    size = min(input_shape[1:]) // int(fx["stem_stride"])
    for level in arch.trellis:
        if level < 0 or 2 ** level > max(size, 1):
            raise SpaceError(f"trellis level {level} needs at least {2 ** level} pixels at the "
                             f"stem's resolution ({size})", path="trellis")
    return CellNetwork(int(input_shape[0]), num_classes, arch.cell, arch.trellis,
                       int(arch.stem_channels), _neurons(arch), multiplier=fx["multiplier"],
                       stem=fx["stem"], stem_stride=int(fx["stem_stride"]), head=str(fx["head"]),
                       input_size=(int(input_shape[1]), int(input_shape[2])))


def _build_dag(arch: Architecture, input_shape: Sequence[int], num_classes: int,
               fx: dict[str, Any]) -> nn.Module:
    unused = [k for k in ("multiplier", "stem", "head") if fx[k] != CELL_FIXED[k]]
    if unused:
        raise SpaceError(f"a dag network has a fixed layout; fixed setting(s) {', '.join(unused)} do not "
                         "apply to it", path="fixed")
    if fx["nodes"] is not None and int(fx["nodes"]) != len(arch.cell) + 1:
        raise SpaceError(f"architecture has {len(arch.cell) + 1} dag cell nodes (input included), the "
                         f"space fixes nodes={fx['nodes']}", path="cell")
    layers = len(arch.trellis)
    if tuple(arch.trellis) != tuple(range(layers)):
        raise SpaceError(f"a dag network's cell i runs at level i: trellis must be {list(range(layers))}, "
                         f"got {list(arch.trellis)}", path="trellis")
    if len(arch.neurons) != layers:
        raise SpaceError(f"need one neuron per cell layer: {layers} layers, {len(arch.neurons)} neurons",
                         path="neurons")
    return DagNetwork(int(input_shape[0]), num_classes, arch.cell, layers, int(arch.stem_channels),
                      _neurons(arch), stem_stride=int(fx["stem_stride"]),
                      input_size=(int(input_shape[1]), int(input_shape[2])))


def _build_transformer(arch: Architecture, input_shape: Sequence[int], num_classes: int,
                       fx: dict[str, Any]) -> nn.Module:
    if not arch.embed_dim or not arch.depth or arch.heads is None or arch.mlp_ratio is None:
        raise SpaceError("a transformer architecture needs embed_dim, depth, heads and mlp_ratio")
    depth = int(arch.depth)
    for name, seq in (("heads", arch.heads), ("mlp_ratio", arch.mlp_ratio), ("neurons", arch.neurons)):
        if len(seq) != depth:
            raise SpaceError(f"{name} has {len(seq)} entries for depth {depth}", path=name)
    for h in arch.heads:
        if h < 1 or arch.embed_dim % h:
            raise SpaceError(f"embed_dim {arch.embed_dim} is not divisible by heads {h}", path="heads")
    attention = ATTENTION_ALIASES.get(arch.attention or "ssa", arch.attention or "ssa")
    if attention not in ops_of_kind("attention"):
        raise UnknownNameError("attention", arch.attention,
                               sorted([*ops_of_kind("attention"), *ATTENTION_ALIASES]))
    return SpikingTransformer(int(input_shape[0]), num_classes, int(arch.embed_dim), arch.heads,
                              arch.mlp_ratio, _neurons(arch), attention=attention,
                              patch_size=int(fx["patch_size"]), stem_stages=int(fx["stem_stages"]),
                              stem=str(fx["stem"]))


_FAMILIES = {"cell": (CELL_FIXED, _build_cell), "transformer": (TRANSFORMER_FIXED, _build_transformer)}


def build_from_architecture(arch: Architecture, input_shape: Sequence[int], num_classes: int,
                            **fixed: Any) -> nn.Module:
    """Build the network of ``arch`` for inputs ``[T, B, *input_shape]`` (C, H, W).

    ``fixed`` holds the family's non-searched settings (`CELL_FIXED` / `TRANSFORMER_FIXED`).
    Deterministic given ``torch.manual_seed``.
    """
    if arch.family not in _FAMILIES:
        raise UnknownNameError("architecture family", arch.family, list(_FAMILIES))
    if len(input_shape) != 3:
        raise SpaceError(f"input_shape must be (C, H, W), got {tuple(input_shape)}")
    defaults, build = _FAMILIES[arch.family]
    fx = _resolve_fixed(arch.family, defaults, dict(fixed))
    model = build(arch, input_shape, int(num_classes), fx)
    model.architecture = arch
    model.build_args = {"input_shape": [int(v) for v in input_shape], "num_classes": int(num_classes),
                        **fx}
    return model


def build_network(space: Any, arch: Architecture) -> nn.Module:
    """Build ``arch`` for ``space``: reads ``space.input_shape`` (C, H, W), ``space.num_classes``
    and ``space.fixed`` (dict of non-searched family settings; may be absent or None)."""
    fixed = dict(getattr(space, "fixed", None) or {})
    return build_from_architecture(arch, tuple(space.input_shape), int(space.num_classes), **fixed)
