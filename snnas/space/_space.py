"""`SearchSpace`: a validated space as a list of discrete decisions and a flat integer genome.

Strategies (pymoo, optuna, random, evolution) all work on the same genome: one integer gene per
decision with more than one choice, gene i in ``[0, len(decisions[i].choices) - 1]``. Every genome
within bounds decodes to a valid `Architecture` (trellis moves are repaired; genes of blocks
beyond the chosen depth and of fields a neuron kind does not use are ignored), and encoding maps an
architecture to its *canonical* genome (ignored genes 0), so ``decode(encode(a)) == a`` for every
architecture of the space and ``encode(decode(g))`` is the canonical form of ``g``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from snnas.errors import SpaceError
from snnas.space._architecture import DAG, Architecture, NeuronSpec
from snnas.space._ops import OpError, op_string, parse_op
from snnas.space._trellis import Trellis
from snnas.space._validate import Parsed
from snnas.space._values import ValueSpec

_NEURON_FIELDS = ("kind", "tau", "threshold", "reset", "surrogate", "width")
_ALL_USES = frozenset({"tau", "threshold", "reset", "surrogate"})
NEURON_USES: dict[str, frozenset[str]] = {
    "if": frozenset({"threshold", "reset", "surrogate"}),
    "lif": _ALL_USES,
    "plif": _ALL_USES,
    "psn": frozenset({"surrogate"}),
    "ann": frozenset(),
}
"""Which neuron settings each kind uses (others are ignored and canonicalised). The surrogate width
goes with the surrogate. Kinds not listed use everything."""


@dataclass(frozen=True)
class Decision:
    """One searchable choice: the gene value i selects ``choices[i]`` (a plain value)."""

    name: str
    choices: tuple
    note: str = ""

    def __len__(self) -> int:
        return len(self.choices)


class SearchSpace:
    """A validated search space (build it with ``load_space``).

    Attributes: ``path``, ``name`` (file stem), ``family``, ``description``, ``dataset``,
    ``input_shape`` (C, H, W), ``num_classes``, ``encoding``, ``objectives`` [(metric, "max"|"min")],
    ``constraints`` [(metric, "<="|">=", value)], ``hardware``, ``defaults`` (the ``search``
    section), ``fixed`` (the non-searched keyword arguments of ``snnas.nn.build_network``: cell
    nodes/multiplier/stem/stem_stride, transformer patch_size/stem_stages/stem), ``settings`` (the
    other non-searched facts: layers, ops, levels, ... or max_depth, and a decision's value when it
    has one choice, else None), ``decisions`` (the genes), ``shared_neuron``, ``detach_reset``,
    ``tau_learnable`` / ``tau_bounds``, ``dgs`` ({init, bounds, step} when the surrogate width is
    moved by DGS, else None), ``trellis`` (cell family: the `Trellis`; None for a dag cell, whose
    network has a fixed layout), ``edges`` (dag cells: the (i, j) edges in gene order, the order of
    SpikeNAS-Bench's ids).
    """

    fixed: dict[str, Any]
    settings: dict[str, Any]
    trellis: Trellis | None
    edges: tuple[tuple[int, int], ...] = ()

    def __init__(self, parsed: Parsed, path: str | None = None, name: str = "space"):
        task, top = parsed["task"], parsed[""]
        self._parsed = parsed
        self.path, self.name = path, name
        self.family: str = parsed.family
        self.description: str = top["description"]
        self.dataset: str = task["dataset"]
        self.input_shape: tuple[int, int, int] = tuple(task["input_shape"])  # type: ignore[assignment]
        self.num_classes: int = task["num_classes"]
        self.encoding: str = task["encoding"]
        self.objectives: list[tuple[str, str]] = list(top["objectives"])
        self.constraints: list[tuple[str, str, float]] = list(top["constraints"])
        self.hardware: str = top["hardware"]
        self.defaults: dict[str, Any] = dict(parsed["search"])
        neuron, sur = parsed["neuron"], parsed["surrogate"]
        self.shared_neuron: bool = neuron["shared"]
        self.detach_reset: bool = neuron["detach_reset"]
        tau: ValueSpec = neuron["tau"]
        self.tau_learnable: bool = tau.learnable
        self.tau_bounds: tuple[float, float] | None = tau.bounds if tau.learnable else None
        width: ValueSpec = sur["width"]
        self.dgs: dict[str, Any] | None = (
            {"init": width.choices, "bounds": width.bounds, "step": width.step}
            if width.form == "dgs" else None)
        self._slots: list[Decision] = []
        self._add("time_steps", parsed.time_choices)
        if self.family == "cell":
            self._init_cell(parsed)
        else:
            self._init_transformer(parsed)
        self._genes = [i for i, s in enumerate(self._slots) if len(s.choices) > 1]
        self.decisions: list[Decision] = [self._slots[i] for i in self._genes]

    # ---- construction ---------------------------------------------------------------------------
    def _add(self, name: str, choices: Sequence, note: str = "") -> None:
        self._slots.append(Decision(name, tuple(choices), note))

    def _add_neuron(self, prefix: str, block_note: str = "") -> None:
        n, s = self._parsed["neuron"], self._parsed["surrogate"]
        for key, spec in zip(_NEURON_FIELDS, (n["kind"], n["tau"], n["threshold"], n["reset"],
                                              s["family"], s["width"]), strict=True):
            note = "initial value (learned)" if key == "tau" and spec.learnable else ""
            note = "initial width (moved by DGS)" if key == "width" and spec.form == "dgs" else note
            self._add(prefix + key, spec.choices, "; ".join(x for x in (block_note, note) if x))

    def _init_cell(self, p: Parsed) -> None:
        c = p["cell"]
        if c["topology"] == "dag":
            self._init_dag(p)
            return
        assert p.trellis is not None  # set by validation for the darts topology
        self.trellis = p.trellis
        self.edges = ()
        nodes, e, layers = c["nodes"], c["edges_per_node"], c["layers"]
        self.fixed = {"nodes": nodes, "multiplier": c["multiplier"], "stem": c["stem"],
                      "stem_stride": c["stem_stride"], "head": c["head"]}
        self.settings = {
            "topology": "darts", "nodes": nodes, "edges_per_node": e, "layers": layers, "ops": list(c["ops"]),
            "n_levels": len(c["levels"]), "transitions": list(c["transitions"]),
            "head_levels": list(self.trellis.heads), "stem_channels": _single(c["stem_channels"]),
        }
        self._add("stem_channels", c["stem_channels"].choices)
        for j in range(nodes):
            self._add(f"node{j}.inputs", itertools.combinations(range(2 + j), e),
                      "sources: 0, 1 = previous two cells, 2 + k = node k")
            for k in range(e):
                self._add(f"node{j}.op{k}", c["ops"])
        for i in range(layers):
            self._add(f"layer{i}.move", c["transitions"],
                      "level change; infeasible moves are replaced by the nearest feasible one")
        if self.shared_neuron:
            self._add_neuron("neuron.")
        else:
            for i in range(layers):
                self._add_neuron(f"layer{i}.neuron.")

    def _init_dag(self, p: Parsed) -> None:
        """One gene per edge (i, j), i < j, in lexicographic order; no trellis genes."""
        c = p["cell"]
        self.trellis = None
        nodes, layers = c["nodes"], c["layers"]
        self.edges = tuple((i, j) for i in range(nodes) for j in range(i + 1, nodes))
        self.fixed = {"nodes": nodes, "stem_stride": c["stem_stride"]}
        self.settings = {"topology": "dag", "nodes": nodes, "layers": layers, "ops": list(c["ops"]),
                         "stem_channels": _single(c["stem_channels"])}
        self._add("stem_channels", c["stem_channels"].choices)
        for i, j in self.edges:
            self._add(f"edge{i}{j}.op", c["ops"], "the op from node i to node j (node 0: the cell input)")
        if self.shared_neuron:
            self._add_neuron("neuron.")
        else:
            for i in range(layers):
                self._add_neuron(f"layer{i}.neuron.")

    def _init_transformer(self, p: Parsed) -> None:
        t = p["transformer"]
        self.trellis = None
        self.max_depth: int = max(t["depth"].choices)
        self.fixed = {"patch_size": t["patch_size"], "stem_stages": t["stem_stages"],
                      "stem": t["stem"]}
        self.settings = {"embed_dim": _single(t["embed_dim"]), "depth": _single(t["depth"]),
                         "attention": _single(t["attention"]), "max_depth": self.max_depth}
        for key in ("embed_dim", "depth", "attention"):
            self._add(key, t[key].choices)
        if self.shared_neuron:
            self._add_neuron("neuron.")
        for i in range(self.max_depth):
            note = f"ignored when depth <= {i}" if i >= min(t["depth"].choices) else ""
            self._add(f"block{i}.heads", t["heads"].choices, note)
            self._add(f"block{i}.mlp_ratio", t["mlp_ratio"].choices, note)
            if not self.shared_neuron:
                self._add_neuron(f"block{i}.neuron.", note)

    # ---- sizes and bounds -----------------------------------------------------------------------
    def _n(self, name: str) -> int:
        return len(self.choices(name))

    def _neuron_count(self, prefix: str) -> int:
        total = 0
        for kind in self.choices(prefix + "kind"):
            uses = NEURON_USES.get(kind, _ALL_USES)
            n = 1
            for key in ("tau", "threshold", "reset"):
                n *= self._n(prefix + key) if key in uses else 1
            if "surrogate" in uses:
                n *= self._n(prefix + "surrogate") * self._n(prefix + "width")
            total += n
        return total

    def size(self) -> int:
        """The exact number of distinct architectures (a Python int; may be astronomically big)."""
        n = self._n("time_steps")
        if self.family == "cell":
            f = self.settings
            n *= self._n("stem_channels")
            if f["topology"] == "dag":
                n *= len(f["ops"]) ** len(self.edges)
            else:
                n *= self.trellis.count()
                for j in range(f["nodes"]):
                    n *= math.comb(2 + j, f["edges_per_node"]) * len(f["ops"]) ** f["edges_per_node"]
            if self.shared_neuron:
                return n * self._neuron_count("neuron.")
            return n * self._neuron_count("layer0.neuron.") ** f["layers"]
        n *= self._n("embed_dim") * self._n("attention")
        block = self._n("block0.heads") * self._n("block0.mlp_ratio")
        if self.shared_neuron:
            n *= self._neuron_count("neuron.")
        else:
            block *= self._neuron_count("block0.neuron.")
        depths = self.choices("depth")
        return n * sum(block**d for d in depths)

    def log10_size(self) -> float:
        return math.log10(self.size())

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Inclusive integer bounds (lower, upper) of the genome, for pymoo / optuna."""
        return (np.zeros(len(self.decisions), dtype=np.int64),
                np.array([len(d.choices) - 1 for d in self.decisions], dtype=np.int64))

    @property
    def n_genes(self) -> int:
        return len(self.decisions)

    # ---- genome <-> architecture ----------------------------------------------------------------
    def _check_genome(self, genome: Sequence[Any]) -> list[int]:
        try:
            raw = list(genome)
        except TypeError:
            raise SpaceError(f"genome must be a sequence of integers, got {genome!r}") from None
        if len(raw) != len(self.decisions):
            raise SpaceError(f"genome has {len(raw)} genes; space '{self.name}' has "
                             f"{len(self.decisions)} (see SearchSpace.decisions)")
        out = []
        for i, (g, d) in enumerate(zip(raw, self.decisions, strict=True)):
            try:
                v = int(g)
                ok = v == g and not isinstance(g, (bool, np.bool_))
            except (TypeError, ValueError, OverflowError):
                ok = False
            if not ok or not 0 <= v < len(d.choices):
                raise SpaceError(f"gene {i} ({d.name}) = {g!r} is not an integer in "
                                 f"[0, {len(d.choices) - 1}]")
            out.append(v)
        return out

    def decode(self, genome: Sequence[int]) -> Architecture:
        """The architecture of a genome within ``bounds()`` (SpaceError otherwise)."""
        values = {s.name: s.choices[0] for s in self._slots}
        for slot_i, g in zip(self._genes, self._check_genome(genome), strict=True):
            values[self._slots[slot_i].name] = self._slots[slot_i].choices[g]
        return self._assemble(values)

    def _neuron(self, values: dict[str, Any], prefix: str) -> NeuronSpec:
        kind = values[prefix + "kind"]
        uses = NEURON_USES.get(kind, _ALL_USES)
        spec: dict[str, Any] = {"kind": kind, "tau": None}
        if "tau" in uses:
            spec.update(tau=values[prefix + "tau"], learn_tau=kind == "plif" or self.tau_learnable)
        if "threshold" in uses:
            spec["v_threshold"] = values[prefix + "threshold"]
        if "reset" in uses:
            spec.update(v_reset=None if values[prefix + "reset"] == "soft" else 0.0,
                        detach_reset=self.detach_reset)
        if "surrogate" in uses:
            spec.update(surrogate=values[prefix + "surrogate"], alpha=values[prefix + "width"])
        return NeuronSpec(**spec)

    def _assemble(self, v: dict[str, Any]) -> Architecture:
        if self.family == "cell" and self.settings["topology"] == "dag":
            f = self.settings
            layers = f["layers"]
            cell = tuple(tuple((i, v[f"edge{i}{j}.op"]) for i in range(j)) for j in range(1, f["nodes"]))
            neurons = ((self._neuron(v, "neuron."),) * layers if self.shared_neuron else
                       tuple(self._neuron(v, f"layer{i}.neuron.") for i in range(layers)))
            return Architecture(family="cell", time_steps=v["time_steps"], neurons=neurons, cell=cell,
                                trellis=tuple(range(layers)), stem_channels=v["stem_channels"], extra=DAG)
        if self.family == "cell":
            f = self.settings
            layers = f["layers"]
            cell = tuple(tuple(zip(v[f"node{j}.inputs"],
                                   (v[f"node{j}.op{k}"] for k in range(f["edges_per_node"])), strict=True))
                         for j in range(f["nodes"]))
            trellis = self.trellis.walk([v[f"layer{i}.move"] for i in range(layers)])
            neurons = ((self._neuron(v, "neuron."),) * layers if self.shared_neuron else
                       tuple(self._neuron(v, f"layer{i}.neuron.") for i in range(layers)))
            return Architecture(family="cell", time_steps=v["time_steps"], neurons=neurons,
                                cell=cell, trellis=trellis, stem_channels=v["stem_channels"])
        depth = v["depth"]
        neurons = ((self._neuron(v, "neuron."),) * depth if self.shared_neuron else
                   tuple(self._neuron(v, f"block{i}.neuron.") for i in range(depth)))
        return Architecture(
            family="transformer", time_steps=v["time_steps"], neurons=neurons,
            embed_dim=v["embed_dim"], depth=depth, attention=v["attention"],
            heads=tuple(v[f"block{i}.heads"] for i in range(depth)),
            mlp_ratio=tuple(float(v[f"block{i}.mlp_ratio"]) for i in range(depth)))

    def encode(self, arch: Architecture) -> list[int]:
        """The canonical genome of ``arch``; SpaceError naming the field if it is not in the space."""
        try:
            values = self._values_of(arch)
        except (TypeError, ValueError) as e:  # hand-built architectures with malformed fields
            raise self._bad(f"malformed field ({e})") from None
        out = []
        for slot_i in self._genes:
            slot = self._slots[slot_i]
            out.append(_index(self, slot, values.get(slot.name, slot.choices[0])))
        for slot in self._slots:  # fixed settings must match too
            if len(slot.choices) == 1 and slot.name in values:
                _index(self, slot, values[slot.name])
        return out

    def _bad(self, what: str) -> SpaceError:
        return SpaceError(f"architecture is not in space '{self.name}': {what}")

    def _neuron_values(self, spec: NeuronSpec, prefix: str, where: str) -> dict[str, Any]:
        if not isinstance(spec, NeuronSpec):
            raise self._bad(f"{where} is not a NeuronSpec")
        uses = NEURON_USES.get(spec.kind, _ALL_USES)
        out: dict[str, Any] = {prefix + "kind": spec.kind}
        if "tau" in uses:
            out[prefix + "tau"] = spec.tau
            learn = spec.kind == "plif" or self.tau_learnable
            if spec.learn_tau != learn:
                raise self._bad(f"{where}.learn_tau is {spec.learn_tau}, the space has {learn}")
        if "threshold" in uses:
            out[prefix + "threshold"] = spec.v_threshold
        if "reset" in uses:
            if spec.v_reset is not None and spec.v_reset != 0.0:
                raise self._bad(f"{where}.v_reset = {spec.v_reset}; hard resets go to 0.0")
            out[prefix + "reset"] = "soft" if spec.v_reset is None else "hard"
            if spec.detach_reset != self.detach_reset:
                raise self._bad(f"{where}.detach_reset is {spec.detach_reset}, the space has "
                                f"{self.detach_reset}")
        if "surrogate" in uses:
            out.update({prefix + "surrogate": spec.surrogate, prefix + "width": spec.alpha})
        return out

    def _neurons_values(self, neurons: Sequence[NeuronSpec], n: int, unit: str) -> dict[str, Any]:
        if len(neurons) != n:
            raise self._bad(f"has {len(neurons)} neurons, expected {n} (one per {unit})")
        per = [self._neuron_values(s, f"{unit}{i}.neuron.", f"neurons[{i}]")
               for i, s in enumerate(neurons)]
        if not self.shared_neuron:
            return {k: v for d in per for k, v in d.items()}
        shared = [{k.split(".", 1)[1]: v for k, v in d.items()} for d in per]
        if any(s != shared[0] for s in shared):
            raise self._bad("neuron.shared is true but the neurons differ between "
                            f"{unit}s")
        return {k.replace(f"{unit}0.", "", 1): v for k, v in per[0].items()} if per else {}

    def _values_of(self, arch: Architecture) -> dict[str, Any]:
        if not isinstance(arch, Architecture):
            raise SpaceError(f"expected an Architecture, got {type(arch).__name__}")
        if arch.family != self.family:
            raise self._bad(f"family is {arch.family}, the space's is {self.family}")
        values: dict[str, Any] = {"time_steps": arch.time_steps}
        if self.family == "cell":
            f = self.settings
            values["stem_channels"] = arch.stem_channels
            if arch.topology != f["topology"]:
                raise self._bad(f"its cell topology is {arch.topology}, the space's is {f['topology']}")
            if f["topology"] == "dag":
                return self._dag_values(arch, values)
            cell = arch.cell or ()
            if len(cell) != f["nodes"]:
                raise self._bad(f"cell has {len(cell)} nodes, expected {f['nodes']}")
            for j, node in enumerate(cell):
                edges = sorted(node, key=lambda e: e[0])
                if len(edges) != f["edges_per_node"]:
                    raise self._bad(f"cell node {j} has {len(edges)} edges, expected "
                                    f"{f['edges_per_node']}")
                values[f"node{j}.inputs"] = tuple(s for s, _ in edges)
                values.update({f"node{j}.op{k}": _canonical_op(op) for k, (_, op) in enumerate(edges)})
            try:
                moves = self.trellis.moves_of(tuple(arch.trellis or ()))
            except ValueError as e:
                raise self._bad(f"trellis {list(arch.trellis or ())} {e}") from None
            values.update({f"layer{i}.move": m for i, m in enumerate(moves)})
            values.update(self._neurons_values(arch.neurons, f["layers"], "layer"))
            return values
        depth = arch.depth
        values.update(embed_dim=arch.embed_dim, depth=depth, attention=arch.attention)
        if depth not in self.choices("depth"):
            raise self._bad(f"depth = {depth!r} is not a choice "
                            f"({', '.join(str(d) for d in self.choices('depth'))})")
        for key in ("heads", "mlp_ratio"):
            seq = getattr(arch, key) or ()
            if len(seq) != depth:
                raise self._bad(f"{key} has {len(seq)} entries, expected depth = {depth}")
            values.update({f"block{i}.{key}": x for i, x in enumerate(seq)})
        values.update(self._neurons_values(arch.neurons, depth, "block"))
        return values

    def _dag_values(self, arch: Architecture, values: dict[str, Any]) -> dict[str, Any]:
        f = self.settings
        cell = arch.cell or ()
        if len(cell) != f["nodes"] - 1:
            raise self._bad(f"cell lists {len(cell)} nodes after the input, expected {f['nodes'] - 1} "
                            f"(a dag cell of {f['nodes']} nodes)")
        for j, node in enumerate(cell, start=1):
            edges = sorted(node, key=lambda e: e[0])
            if [s for s, _ in edges] != list(range(j)):
                raise self._bad(f"cell node {j} has edges from {[s for s, _ in edges]}, expected one from "
                                f"each of nodes {list(range(j))} (zero edges included)")
            values.update({f"edge{i}{j}.op": _canonical_op(op) for i, op in edges})
        if tuple(arch.trellis or ()) != tuple(range(f["layers"])):
            raise self._bad(f"trellis {list(arch.trellis or ())} must be {list(range(f['layers']))} (cell i "
                            "of a dag network runs at level i)")
        values.update(self._neurons_values(arch.neurons, f["layers"], "layer"))
        return values

    def choices(self, name: str) -> tuple:
        """The choices of any setting by decision name, searched or fixed (e.g. ``time_steps``,
        ``neuron.tau``, ``block0.heads``); SpaceError for an unknown name."""
        for s in self._slots:
            if s.name == name:
                return s.choices
        raise SpaceError(f"space '{self.name}' has no setting '{name}'; settings: "
                         + ", ".join(s.name for s in self._slots))

    # ---- search operators -----------------------------------------------------------------------
    def canonical(self, genome: Sequence[int]) -> list[int]:
        """The canonical genome of the architecture ``genome`` decodes to."""
        return self.encode(self.decode(genome))

    def sample(self, rng: np.random.Generator | int | None = None) -> Architecture:
        """A random architecture: each gene uniform over its choices, then decoded."""
        return self.decode(self.random_genome(rng))

    def random_genome(self, rng: np.random.Generator | int | None = None) -> list[int]:
        rng = np.random.default_rng(rng)
        return self.canonical([int(rng.integers(0, len(d.choices))) for d in self.decisions])

    def mutate(self, genome: Sequence[int], rng: np.random.Generator,
               prob: float | None = None) -> list[int]:
        """Resample each gene with probability ``prob`` (default 1/genes) to a *different* value;
        at least one gene changes, and up to 20 tries are made to change the architecture itself.
        Returns a canonical genome within bounds."""
        g = self._check_genome(genome)
        if not g:
            return []
        rng = np.random.default_rng(rng)
        p = 1.0 / len(g) if prob is None else float(prob)
        base = self.canonical(g)
        sizes = [len(d.choices) for d in self.decisions]
        child = base
        for _ in range(20):
            hits = np.flatnonzero(rng.random(len(g)) < p).tolist() or [int(rng.integers(len(g)))]
            new = list(g)
            for i in hits:
                new[i] = (new[i] + int(rng.integers(1, sizes[i]))) % sizes[i]
            child = self.canonical(new)
            if child != base:
                break
        return child

    def crossover(self, g1: Sequence[int], g2: Sequence[int],
                  rng: np.random.Generator) -> tuple[list[int], list[int]]:
        """Uniform crossover: two canonical children, each gene from one parent or the other."""
        a, b = self._check_genome(g1), self._check_genome(g2)
        rng = np.random.default_rng(rng)
        mask = rng.random(len(a)) < 0.5
        c1 = [x if m else y for x, y, m in zip(a, b, mask, strict=True)]
        c2 = [y if m else x for x, y, m in zip(a, b, mask, strict=True)]
        return self.canonical(c1), self.canonical(c2)

    def satisfies_static(self, arch: Architecture) -> bool:
        """True when ``arch`` is a (canonical) member of this space. Metric constraints (energy,
        params, ...) need an evaluation and are checked by the strategies; time-step constraints
        are already folded into the time-step choices."""
        try:
            decoded = self.decode(self.encode(arch))
        except SpaceError:
            return False
        return self.with_learned(decoded, arch) == arch

    def with_learned(self, arch: Architecture, source: Architecture) -> Architecture:
        """``arch`` with the learned values (tau when ``learnable``, the DGS width) of ``source``:
        what a search that learns them records beside the genome's initial values."""
        if not self.tau_learnable and self.dgs is None:
            return arch
        if len(arch.neurons) != len(source.neurons):
            return arch
        neurons = tuple(
            replace(n, tau=s.tau if self.tau_learnable and n.tau is not None else n.tau,
                    alpha=s.alpha if self.dgs is not None and n.alpha is not None else n.alpha)
            for n, s in zip(arch.neurons, source.neurons, strict=True))
        return replace(arch, neurons=neurons)

    # ---- documents ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The normalised document (every key, canonical forms); loading it gives the same space."""
        return self._parsed.to_dict()

    def __repr__(self) -> str:
        return (f"SearchSpace({self.name!r}, family={self.family!r}, genes={self.n_genes}, "
                f"log10_size={self.log10_size():.2f})")


def _canonical_op(op: Any) -> Any:
    """An op variant in its canonical spelling (``conv_3x3{ width: 5.0 }`` -> ``conv_3x3{width:5}``),
    so a hand-written architecture encodes; anything else as it is (a wrong name then fails as a choice)."""
    if not isinstance(op, str) or "{" not in op:
        return op
    try:
        return op_string(*parse_op(op))
    except OpError:
        return op


def _single(spec: ValueSpec) -> Any:
    return spec.choices[0] if len(spec.choices) == 1 else None


def _learned_bounds(space: SearchSpace, name: str) -> tuple[float, float] | None:
    """The bounds of a value the search learns (tau: ``learnable``, surrogate width: ``dgs``)."""
    if name.endswith(".tau") and space.tau_learnable:
        return space.tau_bounds or (1.0 + 1e-9, math.inf)
    if name.endswith(".width") and space.dgs is not None:
        return tuple(space.dgs["bounds"])
    return None


def _index(space: SearchSpace, slot: Decision, value: Any) -> int:
    bounds = _learned_bounds(space, slot.name)
    if bounds is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
        # a learned value (a dhs supernet's tau or DGS width): any value within the bounds; its gene
        # is the nearest initial choice
        if not bounds[0] <= value <= bounds[1]:
            raise space._bad(f"{slot.name} = {value!r} is outside its bounds [{bounds[0]:g}, {bounds[1]:g}]")
        return min(range(len(slot.choices)), key=lambda i: (abs(float(slot.choices[i]) - value), i))
    for i, c in enumerate(slot.choices):
        if c == value or (isinstance(c, (int, float)) and isinstance(value, (int, float))
                          and math.isclose(c, value, rel_tol=1e-9)):
            return i
    shown = ", ".join(str(c) for c in slot.choices)
    raise space._bad(f"{slot.name} = {value!r} is not a choice ({shown})")
