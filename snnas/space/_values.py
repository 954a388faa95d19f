"""Checked values: element types (int, float, names) and searchable value forms.

Every searchable setting in a space (time steps, tau, threshold, embed dim, ...) is written in one
of a few *forms*: a fixed value, a choice list, a discretised range, ``learnable`` (tau) or ``dgs``
(surrogate width). They are parsed here, once, into a :class:`ValueSpec` whose ``choices`` are the
discrete values a genome gene indexes, so the rest of the package never sees the YAML shapes.
"""

from __future__ import annotations

import difflib
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from snnas.errors import SpaceError, UnknownNameError
from snnas.space._names import NameTable
from snnas.space._yaml import FieldPath, one_line, path_str

MAX_CHOICES = 1000
"""A choice list or expanded range may hold at most this many values."""

FIXED, CHOICE, RANGE, LEARNABLE, DGS = "fixed", "choice", "range", "learnable", "dgs"
_COMPANIONS = {CHOICE: (), RANGE: ("step",), LEARNABLE: ("init", "bounds"),
               DGS: ("init", "bounds", "step")}
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


class Ctx:
    """Where errors go: knows the file name and the line of every field path."""

    def __init__(self, file: str | None, lines: dict[FieldPath, int]):
        self.file, self.lines = file, lines

    def line(self, path: FieldPath) -> int | None:
        for n in range(len(path), -1, -1):
            if path[:n] in self.lines:
                return self.lines[path[:n]]
        return None

    def fail(self, path: FieldPath, msg: str) -> NoReturn:
        raise SpaceError(one_line(msg), file=self.file, line=self.line(path),
                         path=path_str(path) or None)


def show(raw: Any) -> str:
    """A short rendering of a user value for messages."""
    text = repr(raw) if isinstance(raw, str) else str(raw)
    return text if len(text) <= 40 else text[:37] + "..."


def typename(raw: Any) -> str:
    if raw is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "list",
            dict: "mapping"}.get(type(raw), type(raw).__name__)


def did_you_mean(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(word), list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _g(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


# ---- element types ------------------------------------------------------------------------------
class Elem(ABC):
    """The type of one plain value; ``check`` returns it normalised or fails with its path."""

    numeric = False
    label = "value"

    @abstractmethod
    def check(self, ctx: Ctx, path: FieldPath, raw: Any, what: str = "value") -> Any:
        """``raw`` normalised (e.g. int -> float), or ``ctx.fail`` naming ``what`` and the path."""

    def wrong(self, ctx: Ctx, path: FieldPath, raw: Any) -> NoReturn:
        ctx.fail(path, f"expected {self.label}, got {show(raw)} ({typename(raw)})")


class Int(Elem):
    numeric = True
    label = "an integer"

    def __init__(self, lo: int | None = None, hi: int | None = None, pow2: bool = False):
        self.lo, self.hi, self.pow2 = lo, hi, pow2

    def check(self, ctx: Ctx, path: FieldPath, raw: Any, what: str = "value") -> int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            self.wrong(ctx, path, raw)
        if self.lo is not None and raw < self.lo:
            ctx.fail(path, f"{what} {raw} must be >= {self.lo}")
        if self.hi is not None and raw > self.hi:
            ctx.fail(path, f"{what} {raw} must be <= {self.hi}")
        if self.pow2 and raw & (raw - 1):
            ctx.fail(path, f"{what} {raw} must be a power of 2")
        return raw


class Float(Elem):
    numeric = True
    label = "a number"

    def __init__(self, lo: float | None = None, hi: float | None = None, lo_open: bool = False):
        self.lo, self.hi, self.lo_open = lo, hi, lo_open

    def check(self, ctx: Ctx, path: FieldPath, raw: Any, what: str = "value") -> float:
        # YAML 1.1 reads `1e-3` (no dot) as a string; accept it since users write it that way.
        if isinstance(raw, str) and _NUMBER.match(raw.strip()):
            raw = float(raw)
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            self.wrong(ctx, path, raw)
        try:
            x = float(raw)
        except OverflowError:
            ctx.fail(path, f"{what} {show(raw)} is too large")
        if not math.isfinite(x):
            ctx.fail(path, f"{what} {show(raw)} must be a finite number")
        if self.lo is not None and (x <= self.lo if self.lo_open else x < self.lo):
            ctx.fail(path, f"{what} {_g(x)} must be {'>' if self.lo_open else '>='} {_g(self.lo)}")
        if self.hi is not None and x > self.hi:
            ctx.fail(path, f"{what} {_g(x)} must be <= {_g(self.hi)}")
        return x


class Bool(Elem):
    label = "true or false"

    def check(self, ctx: Ctx, path: FieldPath, raw: Any, what: str = "value") -> bool:
        if not isinstance(raw, bool):
            self.wrong(ctx, path, raw)
        return raw


class Str(Elem):
    label = "a string"

    def check(self, ctx: Ctx, path: FieldPath, raw: Any, what: str = "value") -> str:
        if not isinstance(raw, str):
            self.wrong(ctx, path, raw)
        return raw


class Enum(Elem):
    """One of a fixed set of words (family, reset mode, objective direction)."""

    label = "a name"

    def __init__(self, kind: str, names: Sequence[str]):
        self.kind, self.names = kind, tuple(names)

    def valid(self, ctx: Ctx) -> Sequence[str]:
        return self.names

    def check(self, ctx: Ctx, path: FieldPath, raw: Any, what: str = "value") -> str:
        if not isinstance(raw, str):
            self.wrong(ctx, path, raw)
        valid = list(self.valid(ctx))
        if raw not in valid:
            ctx.fail(path, str(UnknownNameError(self.kind, raw, valid)))
        return raw


class Name(Enum):
    """A registry name, checked against a torch-free name table (``_names.py``) that the registry
    fills as it registers; ``group`` narrows it (``cell`` ops only)."""

    def __init__(self, kind: str, table: NameTable, group: str | None = None):
        super().__init__(kind, ())
        self.table, self.group = table, group

    def valid(self, ctx: Ctx) -> Sequence[str]:
        return self.table.names(self.group)

    def check(self, ctx: Ctx, path: FieldPath, raw: Any, what: str = "value") -> str:
        if not isinstance(raw, str):
            self.wrong(ctx, path, raw)
        if raw not in self.table:
            ctx.fail(path, str(UnknownNameError(self.kind, raw, list(self.valid(ctx)))))
        if self.group is not None and self.table.group(raw) != self.group:
            ctx.fail(path, f"'{raw}' is registered but is not a {self.kind}; valid: "
                     + ", ".join(self.valid(ctx)))
        return raw


# ---- value forms --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ValueSpec:
    """A parsed searchable value: ``choices`` are what a gene indexes (one choice = fixed)."""

    form: str
    choices: tuple
    step: float | None = None
    bounds: tuple[float, float] | None = None
    span: tuple[float, float] | None = None  # the written range, for `range`
    init: ValueSpec | None = None  # learnable / dgs: the initial value(s)

    @property
    def learnable(self) -> bool:
        return self.form == LEARNABLE

    def normalized(self) -> Any:
        """The canonical YAML form (what ``SearchSpace.to_dict`` writes)."""
        if self.form == FIXED:
            return self.choices[0]
        if self.form == CHOICE:
            return {"choice": list(self.choices)}
        if self.form == RANGE:
            return {"range": list(self.span or ()), "step": self.step}
        out: dict[str, Any] = {self.form: True, "init": self.init.normalized() if self.init else None,
                               "bounds": list(self.bounds) if self.bounds else None}
        if self.form == DGS:
            out["step"] = self.step
        return out


def fixed(value: Any) -> ValueSpec:
    return ValueSpec(FIXED, (value,))


def parse_value(ctx: Ctx, path: FieldPath, raw: Any, elem: Elem,
                forms: Sequence[str] = (FIXED, CHOICE, RANGE)) -> ValueSpec:
    """Parse a value written in any of ``forms`` (see the 'Value forms' section of the docs)."""
    if isinstance(raw, list):
        if CHOICE not in forms:
            ctx.fail(path, f"a list is not allowed here; give a single value ({elem.label})")
        return ValueSpec(CHOICE, _choices(ctx, path, raw, elem))
    if not isinstance(raw, dict):
        return fixed(elem.check(ctx, path, raw))
    mapping_forms = [f for f in forms if f != FIXED]
    given = [k for k in raw if k in _COMPANIONS]
    if len(given) != 1:
        if given:
            ctx.fail(path, f"give only one of {', '.join(given)}")
        if not mapping_forms:
            elem.wrong(ctx, path, raw)
        if not raw:
            ctx.fail(path, f"empty mapping; give a value or one of {', '.join(mapping_forms)}")
        unknown = str(next(iter(raw)))
        ctx.fail(path + (unknown,), f"a value mapping needs one of the keys "
                 f"{', '.join(mapping_forms)}; got '{unknown}'{did_you_mean(unknown, mapping_forms)}")
    form = given[0]
    if form not in forms:
        ctx.fail(path + (form,), f"'{form}' is not allowed here; allowed: "
                 + ", ".join("a single value" if f == FIXED else f for f in forms))
    for k in raw:
        if k != form and k not in _COMPANIONS[form]:
            allowed = [form, *_COMPANIONS[form]]
            ctx.fail(path + (k,), f"unknown key '{k}' in a {form} value{did_you_mean(k, allowed)}; "
                     f"allowed: {', '.join(allowed)}")
    body, sub = raw[form], path + (form,)
    if form == CHOICE:
        if not isinstance(body, list):
            ctx.fail(sub, f"expected a list of choices, got {show(body)} ({typename(body)})")
        return ValueSpec(CHOICE, _choices(ctx, sub, body, elem))
    if form == RANGE:
        return _range(ctx, path, raw, elem)
    # learnable / dgs
    if not isinstance(body, bool):
        ctx.fail(sub, f"expected true or false, got {show(body)} ({typename(body)})")
    if not elem.numeric:
        ctx.fail(sub, f"'{form}' needs a numeric value")
    if "init" not in raw:
        ctx.fail(path, f"'{form}' needs an 'init' value")
    init = parse_value(ctx, path + ("init",), raw["init"], elem, (FIXED, CHOICE, RANGE))
    bounds = None
    if raw.get("bounds") is not None or form == DGS:
        if "bounds" not in raw:
            ctx.fail(path, "'dgs' needs 'bounds: [low, high]'")
        bounds = _pair(ctx, path + ("bounds",), raw["bounds"], elem, strict=True)
        for c in init.choices:
            if not bounds[0] <= c <= bounds[1]:
                ctx.fail(path + ("init",), f"init {_g(c)} is outside bounds [{_g(bounds[0])}, "
                         f"{_g(bounds[1])}]")
    if not body:  # `learnable: false` / `dgs: false` just means the init value(s)
        return init
    step = None
    if form == DGS:
        if "step" not in raw:
            ctx.fail(path, "'dgs' needs a 'step' (how far DGS may move the width per update)")
        step = Float(0.0, lo_open=True).check(ctx, path + ("step",), raw["step"], "step")
        assert bounds is not None
        if step > bounds[1] - bounds[0]:
            ctx.fail(path + ("step",), f"step {_g(step)} is larger than the bounds' width "
                     f"{_g(bounds[1] - bounds[0])}")
    return ValueSpec(form, init.choices, step=step, bounds=bounds, init=init)


def _choices(ctx: Ctx, path: FieldPath, raw: list, elem: Elem) -> tuple:
    if not raw:
        ctx.fail(path, "the choice list is empty")
    if len(raw) > MAX_CHOICES:
        ctx.fail(path, f"{len(raw)} choices; at most {MAX_CHOICES}")
    out: list = []
    for i, r in enumerate(raw):
        v = elem.check(ctx, path + (i,), r)
        if v in out:
            ctx.fail(path + (i,), f"duplicate choice {show(v)}")
        out.append(v)
    return tuple(out)


def _pair(ctx: Ctx, path: FieldPath, raw: Any, elem: Elem, strict: bool = False) -> tuple:
    if not isinstance(raw, list) or len(raw) != 2:
        ctx.fail(path, f"expected [low, high], got {show(raw)}")
    lo = elem.check(ctx, path, raw[0], "lower bound")
    hi = elem.check(ctx, path, raw[1], "upper bound")
    if hi < lo or (strict and hi == lo):
        ctx.fail(path, f"lower bound {_g(lo)} must be {'<' if strict else '<='} upper bound {_g(hi)}")
    return lo, hi


def _range(ctx: Ctx, path: FieldPath, raw: dict, elem: Elem) -> ValueSpec:
    if not elem.numeric:
        ctx.fail(path + (RANGE,), "'range' needs numeric values; use 'choice' for names")
    lo, hi = _pair(ctx, path + (RANGE,), raw[RANGE], elem)
    is_int = isinstance(elem, Int)
    if "step" in raw:
        step_elem: Elem = Int(1) if is_int else Float(0.0, lo_open=True)
        step = step_elem.check(ctx, path + ("step",), raw["step"], "step")
    else:
        step = 1 if is_int else ((hi - lo) / 8 if hi > lo else 1.0)
    try:
        steps = (hi - lo) / step
    except OverflowError:
        steps = math.inf
    if not steps < MAX_CHOICES:  # also catches inf from a tiny step
        ctx.fail(path + ("step",) if "step" in raw else path + (RANGE,),
                 f"range [{_g(lo)}, {_g(hi)}] with step {_g(step)} gives more than {MAX_CHOICES} "
                 "values")
    count = math.floor(steps + 1e-9) + 1
    values = tuple(lo + i * step if is_int else round(lo + i * step, 10) for i in range(count))
    for v in values:
        elem.check(ctx, path + (RANGE,), v)
    return ValueSpec(RANGE, values, step=step, span=(lo, hi))


def check_list(ctx: Ctx, path: FieldPath, raw: Any, elem: Elem, min_len: int = 1,
               unique: bool = True) -> list:
    """A plain (non-searchable) list of ``elem`` values."""
    if not isinstance(raw, list):
        ctx.fail(path, f"expected a list, got {show(raw)} ({typename(raw)})")
    if len(raw) < min_len:
        ctx.fail(path, f"expected at least {min_len} entr{'y' if min_len == 1 else 'ies'}")
    if len(raw) > MAX_CHOICES:
        ctx.fail(path, f"{len(raw)} entries; at most {MAX_CHOICES}")
    out: list = []
    for i, r in enumerate(raw):
        v = elem.check(ctx, path + (i,), r)
        if unique and v in out:
            ctx.fail(path + (i,), f"duplicate entry {show(v)}")
        out.append(v)
    return out
