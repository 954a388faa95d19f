"""Human-readable views: `describe(space)` for the CLI and the reference docs generated from the schema.

``docs/search_spaces.md`` is the output of :func:`schema_markdown`; a test keeps the committed file
equal to it, so the docs list exactly the keys the validator accepts. Regenerate with
``python -m snnas.space > docs/search_spaces.md``.
"""

from __future__ import annotations

import json

import numpy as np

from snnas.space._names import OP_NAMES
from snnas.space._ops import NEURON_FLAG, OP_PARAMS
from snnas.space._schema import REQUIRED, SECTIONS, VALUE_FORMS, Key, num
from snnas.space._space import NEURON_USES, SearchSpace


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, tuple):
        return "(" + ", ".join(_fmt(x) for x in v) + ")"
    return "null" if v is None else str(v)


def describe(space: SearchSpace, max_choices: int = 8) -> str:
    """Decisions with their choices, the size, and an example architecture's summary."""
    c, h, w = space.input_shape
    lines = [
        f"space {space.name} ({space.path or 'no file'}): family {space.family}, dataset "
        f"{space.dataset}, input {c}x{h}x{w}, {space.num_classes} classes, encoding "
        f"{space.encoding}",
    ]
    if space.description:
        lines.append(f"  {space.description}")
    lines.append("objectives: " + ", ".join(f"{d} {m}" for m, d in space.objectives)
                 + "; constraints: " + (", ".join(f"{m} {op} {num(b)}" for m, op, b in space.constraints)
                                        or "none") + f"; hardware {space.hardware}")
    lines.append("fixed: " + ", ".join(f"{k}={_fmt(v)}" for k, v in
                                       {**space.settings, **space.fixed}.items() if v is not None))
    if space.tau_bounds:
        lines.append(f"tau is learned within {list(space.tau_bounds)}")
    if space.dgs:
        lines.append(f"surrogate width moved by DGS within {list(space.dgs['bounds'])}, step "
                     f"{space.dgs['step']:g}")
    lines.append(f"decisions ({space.n_genes} genes):")
    width = max((len(d.name) for d in space.decisions), default=0)
    last_note = ""
    for d in space.decisions:
        shown = [_fmt(x) for x in d.choices[:max_choices]]
        more = f" ... ({len(d.choices)} choices)" if len(d.choices) > max_choices else ""
        note = f"   # {d.note}" if d.note and d.note != last_note else ""
        last_note = d.note
        lines.append(f"  {d.name:<{width}}  {' | '.join(shown)}{more}{note}")
    n = space.size()
    size = f"{n:,}" if n < 10**15 else f"10^{space.log10_size():.1f}"
    lines.append(f"size: {size} architectures (log10 {space.log10_size():.2f})")
    lines.append(f"defaults: {json.dumps(space.defaults)}")
    lines.append("example: " + space.sample(np.random.default_rng(0)).summary())
    return "\n".join(lines)


# ---- reference documentation --------------------------------------------------------------------
_INTRO = """\
# Search-space files

A search space is a YAML file (read with safe semantics) that says what a search may choose from:
the cells or transformer blocks, the resolution trellis, neuron kinds, time constants, thresholds,
surrogate gradients and time steps, plus the task, the objectives and the constraints. The shipped
spaces are in `search_spaces/` (`digits.yaml` is the default); check a file with
`snnas space validate FILE` and see its decisions with `snnas space show FILE`.

Every mistake is reported as one line naming the file, the line and the field, e.g.
`search_spaces/x.yaml:14 neuron.tau.range: lower bound 0.5 must be >= 1`. Unknown keys are
errors (with a did-you-mean), and so are registry names that do not exist (the message lists the
valid ones).

This page is generated from the schema table in `snnas/space/_schema.py`
(`python -m snnas.space > docs/search_spaces.md`); a test keeps the two equal. Numbers such as
`1e-3` may be written without a dot (YAML 1.1 reads them as strings; snnas accepts them).

## Value forms

Keys whose type says *value | choice | range ...* are searchable: a list makes them a decision.

| form | written as | example |
|---|---|---|
"""

_SECTION_TITLES = {
    "": ("Top level", ""),
    "task": ("`task`", "What the networks are for."),
    "cell": ("`cell` (family: cell)", "SpikeDHS-style networks: `layers` copies of one searched "
             "cell, each at a resolution level of the trellis. Each cell has `nodes` nodes; node j "
             "takes `edges_per_node` inputs from distinct earlier states (0 and 1 are the outputs "
             "of the two previous layers, 2 + k is node k) through one op each, and the cell "
             "output concatenates all nodes (or the last `multiplier`). Levels are written as "
             "resolutions (1, 1/2, ...); an Architecture's `trellis` holds their indices k "
             "(resolution 1/2**k, `stem_channels * 2**k` channels per node). With `topology: dag` "
             "the cell is a SNASNet / SpikeNAS-Bench DAG instead: one op on every edge (i, j) "
             "between its `nodes` nodes, node 0 the input, the last node the output, in a network "
             "of fixed layout (see `cell.topology`; Architectures carry `extra: {topology: dag}`)."),
    "transformer": ("`transformer` (family: transformer)", "Spikformer-style networks: a patch "
                    "embedding stem, then `depth` encoder blocks of spiking self-attention and a "
                    "spiking MLP, each block with its own heads and MLP ratio."),
    "neuron": ("`neuron`", "Neuron choices, per network (`shared: true`) or per layer/block. "
               "Settings a kind does not use are ignored for it: "
               + "; ".join(f"{k} uses {', '.join(sorted(u)) or 'none'}"
                           for k, u in NEURON_USES.items()) + "."),
    "surrogate": ("`surrogate`", "Surrogate-gradient choices; chosen together with the neuron "
                  "(shared or per layer/block)."),
    "search": ("`search`", "Defaults for `snnas search`; command-line options override them."),
}

_VARIANTS = """\
### Op variants

An op that has a neuron of its own may be listed in `cell.ops` (or as `cell.stem`) with neuron settings
of its own, which replace the layer's for that op's neuron only. SpikeDHS's candidates `snn_b3` /
`snn_b5` are one 3x3 spiking conv with surrogate width 3 or 5:

```yaml
ops:
  - skip
  - conv_3x3: {{width: 3}}     # a mapping ...
  - 'conv_3x3{{width: 5}}'     # ... or a quoted string
```

Both spellings become one canonical string, `conv_3x3{{width:5}}` (parameters sorted by name, no
spaces, numbers as written shortest: `5`, `0.5`), which is the op name in architectures (their
JSON and id), summaries and `snnas.nn.OPS` / `cell_op`; two spellings of one variant are duplicate
entries. A setting the layer's neuron kind does not use is ignored for it (`tau` on `if`,
everything on `ann`). A variant may not set the width when `surrogate.width` is `dgs`, nor tau
when `neuron.tau` is `learnable` (the search moves those per layer); with `plif` among the
neuron kinds a variant's tau must be > 1. The ops with a neuron of their own (registry meta
`neuron=True`; all end in it except `neuron_conv_3x3`, which starts with it): {ops}.

| parameter | sets | values |
|---|---|---|
"""

_OUTRO = """\
## Genome

`SearchSpace.decisions` lists one decision per setting with more than one choice; a genome is
one integer per decision (`bounds()` gives the inclusive bounds for pymoo and optuna). Every
genome within bounds decodes to a valid architecture: a trellis move that would leave the levels or
miss the head levels is replaced by the nearest feasible move, and genes of blocks beyond the
chosen depth, or of settings the chosen neuron kind does not use, are ignored. `encode` gives the
canonical genome (ignored genes 0), so `decode(encode(a)) == a`. A range is discretised to the
values `low, low + step, ...` and a gene picks one of them.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default(key: Key) -> str:
    if key.default is REQUIRED:
        return "required"
    if key.default_doc is not None:
        return key.default_doc
    if key.default == "":
        return '`""`'
    return "`" + json.dumps(key.default).replace('"', "") + "`"


def schema_markdown() -> str:
    """The reference documentation of every key (the content of docs/search_spaces.md)."""
    out = [_INTRO.rstrip("\n")]
    out += [f"| {name} | {_cell(text)} | `{_cell(ex)}` |" for name, text, ex in VALUE_FORMS]
    for section, keys in SECTIONS.items():
        title, intro = _SECTION_TITLES[section]
        out += ["", f"## {title}", ""]
        if intro:
            out += [intro, ""]
        out += ["| key | type | default | meaning | example |", "|---|---|---|---|---|"]
        for k in keys:
            full = f"{section}.{k.name}" if section else k.name
            out.append(f"| `{full}` | {_cell(k.type)} | {_cell(_default(k))} | {_cell(k.doc)} | "
                       f"`{_cell(k.example)}` |")
        if section == "cell":
            out += ["", *_variants_markdown()]
    out += ["", _OUTRO.rstrip("\n")]
    return "\n".join(out) + "\n"


def _variants_markdown() -> list[str]:
    ops = ", ".join(n for n in OP_NAMES.names("cell") if OP_NAMES.flagged(n, NEURON_FLAG))
    out = [_VARIANTS.format(ops=ops).rstrip("\n")]
    for name, p in OP_PARAMS.items():
        lo, hi = p.elem.lo, p.elem.hi
        out.append(f"| `{name}` | {_cell(p.doc)} | number {'>' if p.elem.lo_open else '>='} {num(lo)}, "
                   f"<= {num(hi)} |")
    return out
