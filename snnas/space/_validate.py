"""Validate a search-space document against the schema table and check it is consistent.

Key-level checks (types, ranges, registry names) come from `_schema.SECTIONS`; the checks here are
the ones that need several keys at once: heads dividing embed dims, whole MLP widths, inputs that
divide into the trellis or into patches, a trellis path that reaches the head, plif taus > 1, and
time-step constraints that leave no choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from snnas.space._ops import op_params
from snnas.space._schema import (
    DAG_UNUSED,
    REQUIRED,
    SECTIONS,
    Key,
    level_str,
    num,
)
from snnas.space._trellis import Trellis
from snnas.space._values import Ctx, ValueSpec, did_you_mean, show, typename
from snnas.space._yaml import FieldPath

_FAMILY_SECTIONS = ("cell", "transformer")


@dataclass
class Parsed:
    """A validated document: section name -> {key: parsed value}, plus derived facts."""

    sections: dict[str, dict[str, Any]]
    time_choices: tuple[int, ...] = ()
    trellis: Trellis | None = None

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.sections[section]

    @property
    def family(self) -> str:
        return self.sections[""]["family"]

    def to_dict(self) -> dict[str, Any]:
        """The normalised document: every key present, values in canonical YAML form."""
        out: dict[str, Any] = {}
        for key in SECTIONS[""]:
            if key.parse is None:
                if key.name in self.sections:
                    out[key.name] = {k: _plain(key.name, k, v)
                                     for k, v in self.sections[key.name].items() if not self._unused(key.name, k)}
            else:
                out[key.name] = _plain("", key.name, self.sections[""][key.name])
        return out

    def _unused(self, section: str, key: str) -> bool:
        """A key this document does not use (the darts-only cell keys of a dag space)."""
        return section == "cell" and key in DAG_UNUSED and self.sections["cell"]["topology"] == "dag"


def _plain(section: str, key: str, v: Any) -> Any:
    if isinstance(v, ValueSpec):
        return v.normalized()
    if key in ("levels", "head_levels") and v is not None:
        return [level_str(k) for k in v]
    if key == "objectives":
        return {m: d for m, d in v}
    if key == "constraints":
        return [f"{m} {op} {num(b)}" for m, op, b in v]
    return v


def parse_document(data: Any, ctx: Ctx) -> Parsed:
    """Check ``data`` (from `read_yaml`) and return it parsed; the first mistake raises SpaceError."""
    if data is None:
        ctx.fail((), "the document is empty; a search space needs at least 'task' and 'family'")
    if not isinstance(data, dict):
        ctx.fail((), f"a search space must be a mapping of keys (task, family, ...), got "
                 f"{show(data)} ({typename(data)})")
    top = _section(ctx, (), data, SECTIONS[""])
    sections: dict[str, dict[str, Any]] = {"": top}
    family = top["family"]
    for key in SECTIONS[""]:
        if key.parse is not None:
            continue
        name = key.name
        if name in _FAMILY_SECTIONS:
            if name != family:
                if name in data:
                    ctx.fail((name,), f"'{name}' is only used when family is {name} (family here "
                             f"is {family})")
                continue
            if name not in data:
                ctx.fail(("family",), f"family {family} needs a '{name}' section")
        raw = data.get(name, {} if key.default is not REQUIRED else None)
        if name not in data and key.default is REQUIRED:
            ctx.fail((), f"missing required key '{name}'")
        sections[name] = _section(ctx, (name,), raw, SECTIONS[name])
    parsed = Parsed(sections)
    _check_time_steps(ctx, parsed)
    _check_neuron(ctx, parsed)
    if family == "cell":
        if parsed["cell"]["topology"] == "dag":
            _check_dag(ctx, parsed, data.get("cell") or {})
        else:
            _check_cell(ctx, parsed)
    else:
        _check_transformer(ctx, parsed)
    return parsed


def _section(ctx: Ctx, path: FieldPath, raw: Any, keys: tuple[Key, ...]) -> dict[str, Any]:
    if raw is None and path:  # `search:` with every line commented out
        raw = {}
    if not isinstance(raw, dict):
        ctx.fail(path, f"expected a mapping of keys ({', '.join(k.name for k in keys[:4])}, ...), "
                 f"got {show(raw)} ({typename(raw)})")
    names = [k.name for k in keys]
    for k in raw:
        if k not in names:
            where = f"in '{path[-1]}'" if path else "at the top level"
            ctx.fail(path + (k,), f"unknown key '{k}' {where}{did_you_mean(k, names)}; valid: "
                     + ", ".join(names))
    out: dict[str, Any] = {}
    for key in keys:
        if key.parse is None:
            continue
        if key.name in raw:
            out[key.name] = key.parse(ctx, path + (key.name,), raw[key.name])
        elif key.default is REQUIRED:
            ctx.fail(path, f"missing required key '{key.name}'")
        else:
            out[key.name] = key.parse(ctx, path + (key.name,), key.default)
    return out


def _check_time_steps(ctx: Ctx, p: Parsed) -> None:
    """Fold `time_steps <= n` constraints into the time-step choices (they are known statically)."""
    choices = p["task"]["time_steps"].choices
    for i, (metric, op, bound) in enumerate(p[""]["constraints"]):
        if metric != "time_steps":
            continue
        choices = tuple(t for t in choices if (t <= bound if op == "<=" else t >= bound))
        if not choices:
            ctx.fail(("constraints", i), f"no task.time_steps choice satisfies 'time_steps {op} "
                     f"{num(bound)}'")
    p.time_choices = choices
    t = p["search"].get("supernet_time_steps")
    if t is not None and t not in choices:
        ctx.fail(("search", "supernet_time_steps"), f"{t} is not one of the space's time steps "
                 f"({', '.join(str(c) for c in choices)}): the derived architectures must be in the space")


def _check_neuron(ctx: Ctx, p: Parsed) -> None:
    neuron = p["neuron"]
    tau: ValueSpec = neuron["tau"]
    if "plif" in neuron["kind"].choices or tau.learnable:
        why = "plif" if "plif" in neuron["kind"].choices else "a learnable tau"
        path: FieldPath = ("neuron", "tau", "init") if tau.learnable else ("neuron", "tau")
        for c in tau.choices:
            if c <= 1.0:
                ctx.fail(path, f"tau {c:g} must be > 1 for {why} (1/tau = sigmoid(w))")
        if tau.bounds and tau.bounds[0] <= 1.0:
            ctx.fail(("neuron", "tau", "bounds"), f"lower bound {tau.bounds[0]:g} must be > 1 for "
                     "a learnable tau")


def _check_cell(ctx: Ctx, p: Parsed) -> None:
    cell = p["cell"]
    n_levels = len(cell["levels"])
    heads = cell["head_levels"]
    if heads is not None:
        for i, k in enumerate(heads):
            if k >= n_levels:
                ctx.fail(("cell", "head_levels", i), f"level {level_str(k)} is not in levels "
                         f"[{', '.join(level_str(j) for j in range(n_levels))}]")
    trellis = Trellis(n_levels, tuple(cell["transitions"]),
                      tuple(heads if heads is not None else range(n_levels)), cell["layers"])
    if trellis.count() == 0:
        where: FieldPath = ("cell", "head_levels") if heads is not None else ("cell", "transitions")
        ctx.fail(where, f"the trellis never reaches the head: no path of {cell['layers']} layer(s) "
                 f"from level 1 with moves {cell['transitions']} within levels "
                 f"[{', '.join(level_str(j) for j in range(n_levels))}] ends at "
                 f"{', '.join(level_str(k) for k in trellis.heads)}")
    p.trellis = trellis
    if cell["multiplier"] is not None and cell["multiplier"] > cell["nodes"]:
        ctx.fail(("cell", "multiplier"), f"multiplier {cell['multiplier']} must be <= nodes "
                 f"{cell['nodes']}")
    _check_op_variants(ctx, p)
    _, h, w = p["task"]["input_shape"]
    div = cell["stem_stride"] * 2 ** (n_levels - 1)
    if h % div or w % div:
        ctx.fail(("cell", "levels"), f"input {h}x{w} is not divisible by {div} (stem_stride "
                 f"{cell['stem_stride']} x 2^{n_levels - 1} for level {level_str(n_levels - 1)})")


def _check_dag(ctx: Ctx, p: Parsed, raw: dict[str, Any]) -> None:
    """A dag cell network is fixed around its cell: no trellis, stem op or head to choose."""
    cell = p["cell"]
    for key in DAG_UNUSED:
        if key in raw:
            ctx.fail(("cell", key), f"'{key}' is only used with topology darts; a dag network is set by "
                     "nodes, ops, layers, stem_channels and stem_stride (see cell.topology)")
    if cell["nodes"] < 2:
        ctx.fail(("cell", "nodes"), f"a dag cell needs at least 2 nodes (node 0 is its input), got "
                 f"{cell['nodes']}")
    _check_op_variants(ctx, p)
    _, h, w = p["task"]["input_shape"]
    layers, stride = cell["layers"], cell["stem_stride"]
    div = stride * 2 ** layers
    if h % div or w % div:
        ctx.fail(("cell", "layers"), f"input {h}x{w} is not divisible by {div} (stem_stride {stride} x "
                 f"2^{layers}: a dag network halves the resolution before each of its {layers - 1} later "
                 "cell(s) and before its classifier)")


def _check_op_variants(ctx: Ctx, p: Parsed) -> None:
    """An op variant's settings must not contradict the neuron section: a width of its own is no
    width if DGS moves every width of the layer, nor a tau if tau is learned; plif taus are > 1."""
    cell, tau = p["cell"], p["neuron"]["tau"]
    dgs = p["surrogate"]["width"].form == "dgs"
    plif = "plif" in p["neuron"]["kind"].choices
    entries: list[tuple[FieldPath, str]] = [(("cell", "ops", i), op) for i, op in enumerate(cell["ops"])]
    for path, op in [*entries, (("cell", "stem"), cell["stem"])]:
        params = dict(op_params(op))
        if "width" in params and dgs:
            ctx.fail(path, f"{op} sets its own surrogate width, but surrogate.width is moved by DGS "
                     "(dgs: true); drop one of them")
        if "tau" in params and tau.learnable:
            ctx.fail(path, f"{op} sets its own tau, but neuron.tau is learnable; drop one of them")
        if "tau" in params and plif and params["tau"] <= 1.0:
            ctx.fail(path, f"{op}: tau {params['tau']:g} must be > 1 for plif (1/tau = sigmoid(w))")


def _check_transformer(ctx: Ctx, p: Parsed) -> None:
    tr = p["transformer"]
    for d in tr["embed_dim"].choices:
        for h in tr["heads"].choices:
            if d % h:
                ctx.fail(("transformer", "heads"), f"heads {h} does not divide embed_dim {d}")
        for r in tr["mlp_ratio"].choices:
            if abs(d * r - round(d * r)) > 1e-6:
                ctx.fail(("transformer", "mlp_ratio"), f"mlp_ratio {r:g} x embed_dim {d} = "
                         f"{d * r:g} is not a whole number of hidden units")
    _, h, w = p["task"]["input_shape"]
    ps = tr["patch_size"]
    if h % ps or w % ps:
        ctx.fail(("transformer", "patch_size"), f"patch_size {ps} does not divide the input "
                 f"{h}x{w}")
    if ps.bit_length() - 1 > tr["stem_stages"]:
        ctx.fail(("transformer", "stem_stages"), f"patch_size {ps} needs at least "
                 f"{ps.bit_length() - 1} stem stages, got {tr['stem_stages']}")
