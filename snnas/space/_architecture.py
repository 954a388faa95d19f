"""`Architecture`: one point of a search space, as frozen plain data.

An Architecture holds every decision a search made (ops, edges, trellis path, per-layer neuron
parameters, time steps, transformer dims) and nothing else: no weights, no torch objects. It is what
the run store records, what `build_network` turns into a module, and what `export` writes next to the
weights, so it must round-trip through JSON exactly and have an id that is stable across processes
and Python versions (a hash of canonical JSON, never `hash()`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from snnas.errors import SpaceError


@dataclass(frozen=True)
class NeuronSpec:
    """The neuron of one layer (cell-network layer or transformer block).

    Field meanings follow SpikingJelly: ``tau`` is the membrane time constant (None for kinds that
    have none: if, psn, ann); ``learn_tau`` makes it a PLIF-style learnable constant initialised at
    ``tau``; ``v_reset`` None means soft reset; ``surrogate``/``alpha`` name the surrogate gradient
    and its SpikingJelly ``alpha`` (the width ``b`` for ``dspike``).
    """

    kind: str = "lif"
    tau: float | None = 2.0
    learn_tau: bool = False
    v_threshold: float = 1.0
    v_reset: float | None = 0.0
    surrogate: str = "sigmoid"
    alpha: float | None = None
    detach_reset: bool = False

    def to_config(self, time_steps: int | None = None) -> dict[str, Any]:
        """Keyword arguments for ``snnas.spiking.make_neuron`` (the one place this mapping lives)."""
        kind = "plif" if (self.kind == "lif" and self.learn_tau) else self.kind
        cfg: dict[str, Any] = {"kind": kind}
        if kind == "ann":
            return cfg
        if kind == "psn":
            cfg.update(T=time_steps, surrogate=self.surrogate, alpha=self.alpha)
            return cfg
        cfg.update(v_threshold=self.v_threshold, v_reset=self.v_reset, surrogate=self.surrogate,
                   alpha=self.alpha, detach_reset=self.detach_reset)
        if kind == "lif":
            cfg["tau"] = self.tau
        elif kind == "plif":
            cfg["init_tau"] = self.tau if self.tau is not None else 2.0
        return cfg

    def short(self) -> str:
        if self.kind in ("ann", "psn"):
            return self.kind
        tau = "" if self.tau is None else f"{'~' if self.learn_tau else ''}{self.tau:g}"
        a = "" if self.alpha is None else f":{self.alpha:g}"
        return f"{self.kind}{tau}/th{self.v_threshold:g}/{self.surrogate}{a}"


Edge = tuple[int, str]
"""One incoming edge of a cell node: (source state index, op name). In a darts cell sources 0 and 1
are the outputs of the two previous cells (s_{k-2}, s_{k-1}) and source 2 + j is intermediate node j
of the same cell; in a dag cell source i is node i (0 = the cell input)."""

DAG = (("topology", "dag"),)
"""``Architecture.extra`` of a dag-topology cell architecture (darts architectures have none, so
their JSON and ids are what they were before dag cells existed)."""


@dataclass(frozen=True)
class Architecture:
    """Every decision of one candidate network.

    Common: ``family`` ("cell" | "transformer"), ``time_steps``, ``neurons`` (one NeuronSpec per
    searchable layer: per cell layer for the cell family, per block for transformers).

    Cell family (SpikeDHS): ``cell`` is a tuple of nodes, each a tuple of incoming ``Edge``s; the
    same cell is used at every layer. ``trellis`` gives the resolution level of each layer (0 = the
    stem's resolution, 1 = 1/2, 2 = 1/4, ...). ``stem_channels`` is the channel count at level 0;
    level l uses ``stem_channels * 2**l`` channels per node.

    A dag cell (SNASNet / SpikeNAS-Bench, ``extra`` = `DAG`, see ``topology``) lists its nodes
    1 .. n-1 (node 0 is the input), node j with one edge from every node 0 .. j-1, ``zero`` edges
    included; its ``trellis`` is always ``(0, 1, ..., layers - 1)``.

    Transformer family (Spikformer): ``embed_dim``, ``depth``, per-block ``heads`` and ``mlp_ratio``
    (tuples of length ``depth``), ``attention`` kind (ssa | sdsa | qk).
    """

    family: str
    time_steps: int
    neurons: tuple[NeuronSpec, ...]
    cell: tuple[tuple[Edge, ...], ...] | None = None
    trellis: tuple[int, ...] | None = None
    stem_channels: int | None = None
    embed_dim: int | None = None
    depth: int | None = None
    heads: tuple[int, ...] | None = None
    mlp_ratio: tuple[float, ...] | None = None
    attention: str | None = None
    extra: tuple[tuple[str, Any], ...] = field(default=())

    # ---- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["neurons"] = [asdict(n) for n in self.neurons]
        if self.cell is not None:
            d["cell"] = [[list(e) for e in node] for node in self.cell]
        for k in ("trellis", "heads", "mlp_ratio"):
            if d[k] is not None:
                d[k] = list(d[k])
        d["extra"] = {k: v for k, v in self.extra}
        return {k: v for k, v in d.items() if v is not None and not (k == "extra" and not v)}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, indent=indent,
                          separators=None if indent else (",", ":"))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Architecture:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise SpaceError(f"unknown architecture field(s): {', '.join(sorted(unknown))}")
        try:
            kw = dict(d)
            kw["neurons"] = tuple(NeuronSpec(**n) for n in d["neurons"])
            if d.get("cell") is not None:
                kw["cell"] = tuple(tuple((int(s), str(op)) for s, op in node) for node in d["cell"])
            for k in ("trellis", "heads"):
                if d.get(k) is not None:
                    kw[k] = tuple(int(v) for v in d[k])
            if d.get("mlp_ratio") is not None:
                kw["mlp_ratio"] = tuple(float(v) for v in d["mlp_ratio"])
            kw["extra"] = tuple(sorted((d.get("extra") or {}).items()))
            return cls(**kw)
        except (KeyError, TypeError, ValueError) as e:
            raise SpaceError(f"malformed architecture JSON: {e}") from None

    @classmethod
    def from_json(cls, text: str) -> Architecture:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as e:
            raise SpaceError(f"architecture is not valid JSON: {e}") from None

    # ---- identity and display -------------------------------------------------------------
    @property
    def topology(self) -> str:
        """How the cell's nodes connect: ``darts`` (the default) or ``dag`` (recorded in ``extra``)."""
        return str(dict(self.extra).get("topology", "darts"))

    @property
    def id(self) -> str:
        """Stable 12-hex-digit content id (sha1 of canonical JSON)."""
        return hashlib.sha1(self.to_json().encode()).hexdigest()[:12]

    def summary(self) -> str:
        """One human line, e.g. ``cell T=4 [conv_3x3<-1,skip<-0|...] trellis 0-1-1 lif2/th1/...``."""
        neurons = sorted({n.short() for n in self.neurons})
        neu = neurons[0] if len(neurons) == 1 else f"{len(neurons)} neuron kinds"
        if self.family == "cell":
            nodes = "|".join(",".join(f"{op}<-{s}" for s, op in node) for node in (self.cell or ()))
            if self.topology == "dag":
                return f"cell T={self.time_steps} C={self.stem_channels} dag [{nodes}] {neu}"
            path = "-".join(str(t) for t in (self.trellis or ()))
            return f"cell T={self.time_steps} C={self.stem_channels} [{nodes}] trellis {path} {neu}"
        heads = ",".join(str(h) for h in (self.heads or ()))
        ratios = ",".join(f"{r:g}" for r in (self.mlp_ratio or ()))
        return (f"transformer T={self.time_steps} {self.attention} D={self.embed_dim} "
                f"depth={self.depth} heads={heads} mlp={ratios} {neu}")
