"""Op variants: a cell op whose neuron has some settings of its own, e.g. ``conv_3x3{width:5}``.

SpikeDHS's candidate ops ``snn_b3`` and ``snn_b5`` are one spiking 3x3 conv whose neuron's
surrogate width is 3 or 5, so a space lists them as two variants of ``conv_3x3``. A space file
writes a variant as a mapping, ``conv_3x3: {width: 5}``, or as a (quoted) string,
``'conv_3x3{width: 5}'``; both become one canonical string, ``conv_3x3{width:5}`` (parameters
sorted by name, numbers in their shortest exact form), and that string is the op name everywhere
after loading: in an Architecture's cell (so in its JSON and its id), in summaries, and in
``snnas.nn.OPS`` / ``cell_op``, which build the base op with the variant's neuron settings.

A parameter overrides the layer's setting for that op's neuron only, so only ops that have a
neuron of their own (registry meta ``neuron=True``: they end in it, ``neuron_conv_3x3`` starts
with it) take parameters. A setting the layer's neuron kind does not
use is ignored for it, as in the ``neuron`` section (``tau`` on an ``if`` layer, anything on ``ann``).
This module is torch-free: it checks names against the registry's name table (``_names.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from snnas.errors import SpaceError, UnknownNameError
from snnas.space._names import NameTable
from snnas.space._values import Ctx, Float, Name, did_you_mean, show, typename
from snnas.space._yaml import FieldPath


@dataclass(frozen=True)
class OpParam:
    """One parameter an op variant may set: its meaning, its values and the neuron config keys
    (``snnas.spiking.make_neuron`` arguments) it sets, the first one the neuron kind accepts."""

    doc: str
    elem: Float
    config: tuple[str, ...]


OP_PARAMS: dict[str, OpParam] = {
    "tau": OpParam("membrane time constant (lif; the initial tau of a plif)", Float(1.0, 1000.0),
                   ("tau", "init_tau")),
    "threshold": OpParam("firing threshold v_threshold (if, lif, plif)", Float(0.0, 1000.0, lo_open=True),
                         ("v_threshold",)),
    "width": OpParam("surrogate width: SpikingJelly's alpha, dspike's b (every spiking kind)",
                     Float(0.0, 1000.0, lo_open=True), ("alpha",)),
}
"""Parameter name -> what it sets, in canonical (alphabetical) order."""

NEURON_FLAG = "neuron"
"""The op registry meta flag of ops that have a neuron of their own (the only ones that take parameters)."""

Params = tuple[tuple[str, float], ...]
"""Parameters of a variant, sorted by name: ``(("width", 5.0),)``."""


class OpError(ValueError):
    """A malformed op variant; ``sub`` is the field path below the entry (mapping form)."""

    def __init__(self, message: str, sub: FieldPath = ()):
        super().__init__(message)
        self.sub = sub


def number(x: float) -> str:
    """A parameter value in its canonical form: ``5`` for 5.0, else the shortest exact repr."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


def op_string(base: str, params: Params | Mapping[str, float] = ()) -> str:
    """The canonical name of ``base`` with ``params``: ``conv_3x3{width:5}``, or ``base`` alone."""
    items = sorted(dict(params).items())
    return base if not items else base + "{" + ",".join(f"{k}:{number(v)}" for k, v in items) + "}"


def _value(base: str, key: str, raw: Any, sub: FieldPath = ()) -> float:
    if key not in OP_PARAMS:
        raise OpError(f"unknown op parameter '{key}'{did_you_mean(key, list(OP_PARAMS))}; valid: "
                      + ", ".join(OP_PARAMS), sub)
    try:
        return OP_PARAMS[key].elem.check(Ctx(None, {}), (), raw)
    except SpaceError as e:
        raise OpError(f"{base} {key}: {e.message}", sub) from None


def _split_string(text: str) -> tuple[str, list[tuple[str, str]]]:
    """``'name{a: 1, b: 2}'`` -> ``('name', [('a', '1'), ('b', '2')])`` (syntax only)."""
    text = text.strip()
    if "{" not in text and "}" not in text:
        return text, []
    base, brace, rest = text.partition("{")
    example = "e.g. 'conv_3x3{width: 5}'"
    if not brace or not rest.endswith("}") or "{" in rest[:-1] or "}" in rest[:-1] or not base.strip():
        raise OpError(f"{show(text)} is not an op variant name{{parameter: value, ...}}, {example}")
    base, body = base.strip(), rest[:-1].strip()
    if not body:
        raise OpError(f"{show(text)} has no parameters; write the plain name '{base}'")
    pairs = []
    for item in body.split(","):
        key, colon, val = item.partition(":")
        if not colon or not key.strip() or not val.strip():
            raise OpError(f"{show(text)}: expected 'parameter: value' entries separated by commas, "
                          f"got {show(item.strip())}; {example}")
        pairs.append((key.strip(), val.strip()))
    return base, pairs


def parse_op(raw: Any) -> tuple[str, Params]:
    """The base name and parameters of an op entry, checked for syntax and parameter values but
    not against a registry: a name, a ``'name{param: value, ...}'`` string, or a mapping
    ``{name: {param: value, ...}}``. Raises `OpError`."""
    if isinstance(raw, str):
        base, pairs = _split_string(raw)
        out: dict[str, float] = {}
        for key, val in pairs:
            if key in out:
                raise OpError(f"{show(raw)}: duplicate parameter '{key}'")
            out[key] = _value(base, key, val)
        return base, tuple(sorted(out.items()))
    if isinstance(raw, Mapping) and len(raw) == 1 and isinstance(next(iter(raw.values())), Mapping):
        base, body = next(iter(raw.items()))
        base = str(base)
        if "{" in base or "}" in base:
            raise OpError(f"{show(base)} is not an op name", (base,))
        if not body:
            raise OpError(f"{{{base}: {{}}}} has no parameters; write the plain name '{base}'", (base,))
        params = tuple(sorted((str(k), _value(base, str(k), v, (base, str(k)))) for k, v in body.items()))
        return base, params
    if isinstance(raw, Mapping) and len(raw) == 1 and "{" in str(next(iter(raw))):
        # `- conv_3x3{width: 5}` unquoted: YAML reads it as the mapping {'conv_3x3{width': '5}'}
        raise OpError(f"got {show(raw)} (mapping): quote an op variant written as a string, "
                      f"'conv_3x3{{width: 5}}', or write it as a mapping, conv_3x3: {{width: 5}}")
    raise OpError(f"expected a name, or an op variant like conv_3x3: {{width: 5}}, got {show(raw)} "
                  f"({typename(raw)})")


def check_op(raw: Any, table: NameTable, group: str | None = "cell", kind: str = "cell op") -> str:
    """The canonical name of an op entry whose base is registered in ``table`` (in ``group``) and,
    when it has parameters, ends in a neuron. Raises `OpError`."""
    base, params = parse_op(raw)
    sub: FieldPath = (base,) if isinstance(raw, Mapping) else ()
    valid = table.names(group)
    if base not in table:
        raise OpError(str(UnknownNameError(kind, base, valid)), sub)
    if group is not None and table.group(base) != group:
        raise OpError(f"'{base}' is registered but is not a {kind}; valid: " + ", ".join(valid), sub)
    if params and not table.flagged(base, NEURON_FLAG):
        takes = [n for n in valid if table.flagged(n, NEURON_FLAG)]
        raise OpError(f"'{base}' does not end in a neuron, so it takes no parameters "
                      f"({', '.join(k for k, _ in params)}); ops that do: {', '.join(takes) or 'none'}", sub)
    return op_string(base, params)


def op_params(name: str) -> Params:
    """The parameters of a canonical op name (``()`` for a plain name)."""
    return parse_op(name)[1] if "{" in name else ()


class CellOp(Name):
    """A cell-op entry of a space: a registered cell op or a variant of one that has a neuron;
    the value is its canonical string (so two spellings of one variant are duplicates)."""

    label = "an op name"

    def check(self, ctx: Ctx, path: FieldPath, raw: Any, what: str = "value") -> str:
        try:
            return check_op(raw, self.table, self.group, self.kind)
        except OpError as e:
            ctx.fail(path + e.sub, str(e))
