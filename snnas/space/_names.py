"""The registry names a space file may use, as plain data, so that validating a space needs no torch.

The registries themselves (neurons, surrogates, ops, data sets, encodings, hardware profiles) live
in packages that import torch and import ``snnas.space``; space must not import them back. So the
dependency runs one way: each of those registries is created with one of the tables below and adds
every name it registers (``Registry(kind, names=TABLE)``), and space validates against the tables.

A table starts with the built-in names, so ``load_space`` works before (or without) any torch
package being imported; a plug-in (a user's neuron, op, data set, a hardware profile from YAML) is
added the moment it is registered. ``tests/space/test_names.py`` checks in a fresh interpreter that
the built-ins equal what the registries register, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any


class NameTable:
    """Names of one registry in registration order, each with an optional group and flags.

    The group is the registry meta key ``group_by`` (for ops, ``kind``: a ``cell`` op vs an
    ``attention`` op), because a space accepts only some kinds of op in each place. ``flags`` are
    boolean meta keys recorded per name, each with its built-in holders (for ops, ``neuron``: the
    ops that end in a neuron, the only ones a space may list as variants like ``conv_3x3{width:5}``).
    """

    def __init__(self, kind: str, builtin: Iterable[str] | Mapping[str, str], group_by: str | None = None,
                 flags: Mapping[str, Iterable[str]] | None = None):
        self.kind, self.group_by = kind, group_by
        self._groups: dict[str, str | None] = (dict(builtin) if isinstance(builtin, Mapping)
                                               else dict.fromkeys(builtin))
        self._flags: dict[str, set[str]] = {f: set(names) for f, names in (flags or {}).items()}

    def add(self, name: str, meta: Mapping[str, Any] | None = None) -> None:
        """Record ``name`` (called by ``Registry.register``); ``meta`` supplies the group and flags."""
        meta = meta or {}
        self._groups[name] = meta.get(self.group_by) if self.group_by else None
        for flag, holders in self._flags.items():
            (holders.add if meta.get(flag) else holders.discard)(name)

    def flagged(self, name: str, flag: str) -> bool:
        """Whether ``name`` was registered with a true meta ``flag`` (e.g. an op's ``neuron``)."""
        return name in self._flags.get(flag, ())

    def names(self, group: str | None = None) -> list[str]:
        """All names, or those of one group, in registration order."""
        return [n for n, g in self._groups.items() if group is None or g == group]

    def group(self, name: str) -> str | None:
        return self._groups.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._groups

    def __iter__(self) -> Iterator[str]:
        return iter(self._groups)

    def __repr__(self) -> str:
        return f"NameTable({self.kind!r}, {self.names()})"


NEURON_NAMES = NameTable("neuron", ["if", "lif", "plif", "psn", "ann"])
"""Filled by ``snnas.spiking.NEURONS``."""

SURROGATE_NAMES = NameTable("surrogate", ["sigmoid", "atan", "piecewise_quadratic", "erf", "rect", "triangle",
                                          "dspike"])
"""Filled by ``snnas.spiking.SURROGATES``."""

OP_NAMES = NameTable("op", {
    "skip": "cell", "zero": "cell", "conv_3x3": "cell", "conv_5x5": "cell", "dil_conv_3x3": "cell",
    "avg_pool_3x3": "cell", "max_pool_3x3": "cell", "cml_down": "cell", "neuron_conv_3x3": "cell",
    "ssa": "attention", "sdsa": "attention", "qk_token": "attention", "qk_channel": "attention",
    "mlp": "mlp", "patch_embed": "stem", "block": "block",
}, group_by="kind", flags={"neuron": ["conv_3x3", "conv_5x5", "dil_conv_3x3", "cml_down", "neuron_conv_3x3"]})
"""Filled by ``snnas.nn.OPS``; grouped by each op's ``kind``, flagged ``neuron`` when it has a neuron of
its own (at its end, or at its start for ``neuron_conv_3x3``)."""

DATASET_NAMES = NameTable("dataset", ["digits", "cifar10", "cifar100", "events"])
"""Filled by ``snnas.evaluate.DATASETS``."""

ENCODING_NAMES = NameTable("encoding", ["direct", "poisson", "events"])
"""Filled by ``snnas.evaluate.ENCODINGS``."""

HARDWARE_NAMES = NameTable("hardware profile", ["45nm-fp32", "45nm-fp16", "45nm-int8"])
"""Filled by ``snnas.evaluate.HARDWARE``: the built-in profiles, then those loaded from YAML
(``load_hardware_yaml``, ``--hardware-config``, ``$SNNAS_HARDWARE`` once ``snnas.evaluate`` is imported)."""

ATTENTION_ALIASES = {"qk": "qk_token"}
"""Architecture ``attention`` values that name a family of ops rather than one op (a word of the
language, resolved to an op by ``build_network``)."""
