"""Operation counting for energy estimates: MACs on real-valued operands, ACs on spikes.

One no-grad forward runs under a ``TorchFunctionMode`` that sees every torch call. Outputs of
modules with ``is_spiking=True`` (neurons) are marked as spike tensors by forward hooks; marks are
about the graph, never guessed from values. The rules, applied everywhere:

- Shape-only ops (view, permute, getitem, cat, max-pool, zero padding, ...) pass the mark on. A
  ``cat`` of spikes and real values is partly marked (a mask says which elements are events).
- Sums of marked tensors (a cell node adding its edges' spikes, a SEW/Spikformer residual) hold
  spike *counts*: a count of n is n events. The product of two marked tensors (an AND mask) is marked.
- A conv/linear/matmul fed by a marked operand costs accumulates (AC) = the events times the
  number of outputs each event reaches: for a conv ``C_out/groups x sum(x * reach)``, where
  ``reach`` counts the output positions an input position feeds (padding, stride and dilation
  included; taps on zero padding carry no event). For a product of two spike operands ``events``
  holds the sparser operand's events x fan-out (what an event-driven core iterating over that
  operand performs), and ``coincidences`` the nonzero products (SpikingJelly's SynOps rule); energy
  uses ``events``. Every other conv/linear/matmul is a MAC with
  its dense count (out elements x fan-in).
- Heads follow the same rule: a linear on flattened spikes is AC, one on globally averaged spikes
  (real values) is MAC. Pools and BN are free (BN folds into the conv at inference).
- A neuron's own state update is not a synaptic operation and is not counted, for every neuron
  kind (LIF/IF/PLIF charge, and PSN's T x T mixing alike).

Counts are per sample, summed over T.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.weak import WeakIdKeyDictionary

from snnas.evaluate._energy_rows import EnergyReport, EnergyRow
from snnas.evaluate._hardware import HardwareProfile, get_hardware

SHAPE_OPS = frozenset(
    "view view_as reshape reshape_as flatten unflatten permute transpose swapaxes movedim t T mT data "
    "contiguous __getitem__ cat concat concatenate stack unsqueeze squeeze chunk split split_with_sizes "
    "tensor_split unbind max_pool1d max_pool2d max_pool3d max_pool1d_with_indices max_pool2d_with_indices "
    "adaptive_max_pool1d adaptive_max_pool2d clone detach to float half double type expand expand_as "
    "repeat narrow flip roll pad dropout dropout1d dropout2d dropout3d".split())
_MULTI_INPUT = frozenset({"cat", "concat", "concatenate", "stack"})
_EVENT_SUMS = frozenset({"add", "__add__", "__radd__", "__iadd__", "add_", "sum"})
_PRODUCTS = frozenset({"mul", "__mul__", "__rmul__", "mul_", "__imul__", "logical_and", "__and__"})
_UNSEEN = frozenset("scaled_dot_product_attention multi_head_attention_forward conv_transpose1d "
                    "conv_transpose2d conv_transpose3d bilinear".split())


@dataclass(frozen=True)
class _Mark:
    """A tensor holding events: which neurons produced them, and (for a partly spiking tensor from
    a mixed ``cat``) a 0/1 mask of the elements that are events."""

    sources: frozenset[str]
    mask: torch.Tensor | None = None


def _name_of(func) -> str:
    name = getattr(func, "__name__", "")
    if name == "__get__":  # properties such as Tensor.T arrive as their descriptor's __get__
        name = getattr(getattr(func, "__self__", None), "__name__", name)
    return name


def _arg(args: tuple, kwargs: dict, i: int, *names: str):
    if len(args) > i:
        return args[i]
    for n in names:
        if n in kwargs:
            return kwargs[n]
    return None


def einsum_macs(equation: str, operands: list[torch.Tensor]) -> int:
    """Product of the sizes of all distinct indices (ellipsis dims broadcast and counted once)."""
    sizes: dict[str, int] = {}
    ell: list[int] = []
    for term, op in zip(equation.replace(" ", "").split("->")[0].split(","), operands, strict=False):
        letters = term.replace("...", "")
        if "..." in term:
            n_ell = op.dim() - len(letters)
            start = term.index("...")
            shape = list(op.shape[start:start + n_ell])
            pad = max(len(ell), len(shape))
            a, b = [1] * (pad - len(ell)) + ell, [1] * (pad - len(shape)) + shape
            ell = [max(x, y) for x, y in zip(a, b, strict=False)]
            dims = list(op.shape[:start]) + list(op.shape[start + n_ell:])
        else:
            dims = list(op.shape)
        for ch, size in zip(letters, dims, strict=False):
            sizes[ch] = max(sizes.get(ch, 1), int(size))
    return math.prod(sizes.values()) * math.prod(ell)


def _einsum_parts(args: tuple) -> tuple[str, list[torch.Tensor]]:
    if isinstance(args[0], str):
        ops = list(args[1]) if len(args) == 2 and isinstance(args[1], (list, tuple)) else list(args[1:])
        return re.sub(r"\s", "", args[0]), ops
    # sublist form einsum(op1, [0, 1], op2, [1, 2], [0, 2])
    ops, terms = list(args[0::2]), [list(s) for s in args[1::2]]
    ops = [o for o in ops if isinstance(o, torch.Tensor)]
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    term = ["".join("..." if i is Ellipsis else letters[i] for i in s) for s in terms[:len(ops)]]
    out = terms[len(ops)] if len(terms) > len(ops) else None
    eq = ",".join(term)
    if out is not None:
        eq += "->" + "".join("..." if i is Ellipsis else letters[i] for i in out)
    return eq, ops


# ---- what one call costs ---------------------------------------------------------------------

class _Call:
    """The counted operands of one conv/linear/matmul/einsum call: the dense count, the operands
    that may carry events, and how to turn an event tensor into the ACs it causes."""

    def __init__(self, dense: int, operands: list, fanout, product=None):
        self.dense, self.operands = dense, operands
        self.fanout = fanout  # fanout(i, x) -> ACs caused by event tensor x in operand slot i
        self.product = product  # product(a, b) -> the call recomputed on two event tensors


_REACH: dict[tuple, torch.Tensor] = {}


def _reach(shape: tuple, weight: torch.Tensor, stride, padding, dilation) -> torch.Tensor:
    """How many output positions each input position of a conv feeds, ``shape`` = spatial dims.

    The gradient of sum(conv(ones, ones_kernel)) with respect to the input is exactly that count,
    for any padding (including "same"/"valid"), stride and dilation.
    """
    key = (shape, tuple(weight.shape[2:]), str(stride), str(padding), str(dilation), weight.device)
    if key not in _REACH:
        conv = {1: torch.nn.functional.conv1d, 2: torch.nn.functional.conv2d,
                3: torch.nn.functional.conv3d}[len(shape)]
        with torch.enable_grad():
            ones = torch.ones((1, 1, *shape), device=weight.device, dtype=torch.float64, requires_grad=True)
            kernel = torch.ones((1, 1, *weight.shape[2:]), device=weight.device, dtype=torch.float64)
            conv(ones, kernel, None, stride, padding, dilation).sum().backward()
        _REACH[key] = ones.grad[0, 0]
    return _REACH[key]


def _conv(args, kwargs, out) -> _Call:
    x, w = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "weight")
    stride = _arg(args, kwargs, 3, "stride") or 1
    padding = _arg(args, kwargs, 4, "padding") or 0
    dilation = _arg(args, kwargs, 5, "dilation") or 1
    groups = int(_arg(args, kwargs, 6, "groups") or 1)
    nd = w.dim() - 2

    def fanout(_i: int, ev: torch.Tensor) -> float:
        spatial = ev.reshape(-1, *ev.shape[-nd:]).sum(0, dtype=torch.float64)  # events per position
        reach = _reach(tuple(ev.shape[-nd:]), w, stride, padding, dilation)
        return float((spatial * reach).sum()) * (w.shape[0] // groups)

    return _Call(out.numel() * math.prod(w.shape[1:]), [x], fanout)


def _linear(args, kwargs, out) -> _Call:
    x, w = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "weight")
    return _Call(out.numel() * w.shape[-1], [x], lambda _i, ev: float(ev.sum(dtype=torch.float64)) * w.shape[0])


def _product_call(dense: int, a: torch.Tensor, b: torch.Tensor, product) -> _Call:
    def fanout(i: int, ev: torch.Tensor) -> float:  # each event reaches dense / numel(operand) outputs
        return float(ev.sum(dtype=torch.float64)) * dense / max((a, b)[i].numel(), 1)
    return _Call(dense, [a, b], fanout, product)


def _matmul(args, kwargs, out) -> _Call:
    a, b = _arg(args, kwargs, 0, "input", "self"), _arg(args, kwargs, 1, "other", "mat2")
    return _product_call(out.numel() * a.shape[-1], a, b, torch.matmul)


def _rmatmul(args, kwargs, out) -> _Call:
    return _matmul((args[1], args[0]), {}, out)


def _addmm(args, kwargs, out) -> _Call:
    a = _arg(args, kwargs, 1, "mat1", "batch1")
    b = _arg(args, kwargs, 2, "mat2", "batch2")
    return _product_call(out.numel() * a.shape[-1], a, b, torch.matmul)


def _einsum(args, kwargs, out) -> _Call:
    eq, ops = _einsum_parts(args)
    dense = einsum_macs(eq, ops)
    if len(ops) != 2:
        return _Call(dense, ops, lambda i, ev: float(ev.sum(dtype=torch.float64)) * dense / max(ops[i].numel(), 1))
    return _product_call(dense, ops[0], ops[1], lambda p, q: torch.einsum(eq, p, q))


_COUNTERS = {"conv1d": _conv, "conv2d": _conv, "conv3d": _conv, "linear": _linear, "matmul": _matmul,
             "mm": _matmul, "bmm": _matmul, "__matmul__": _matmul, "__rmatmul__": _rmatmul,
             "addmm": _addmm, "baddbmm": _addmm, "einsum": _einsum}


# ---- the mode --------------------------------------------------------------------------------

class EnergyCounter(TorchFunctionMode):
    """Counts MACs/ACs of a model's forward calls; use via :func:`count_energy`."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.marks = WeakIdKeyDictionary()
        self.rows: dict[tuple[str, str], list] = {}  # (module, kind) -> [dense, events, coincid., sources]
        self.rate_sum: dict[str, float] = {}
        self.rate_n: dict[str, int] = {}
        self.samples = 0
        self._stack: list[str] = []
        self._in_neuron = 0
        self._handles: list = []

    # -- spike marks -------------------------------------------------------------------------
    def mark(self, obj, mark: _Mark | None = None) -> None:
        """Mark ``obj`` (a tensor, or a list/tuple of them) as events."""
        mark = mark or _Mark(frozenset())
        if isinstance(obj, torch.Tensor):
            self.marks[obj] = mark
        elif isinstance(obj, (list, tuple)):
            for o in obj:
                self.mark(o, mark)

    def is_spike(self, obj) -> bool:
        """Whether ``obj`` holds events (wholly or in part)."""
        return isinstance(obj, torch.Tensor) and obj in self.marks

    def _mark_of(self, obj) -> _Mark | None:
        return self.marks.get(obj) if isinstance(obj, torch.Tensor) else None

    @staticmethod
    def _mask(t: torch.Tensor, m: _Mark | None) -> torch.Tensor:
        if m is None:
            return torch.zeros_like(t, dtype=torch.float32)
        return torch.ones_like(t, dtype=torch.float32) if m.mask is None else m.mask

    # -- module hooks ------------------------------------------------------------------------
    def attach(self) -> None:
        for name, m in self.model.named_modules():
            self._handles.append(m.register_forward_pre_hook(self._pre(name or "model", m)))
            self._handles.append(m.register_forward_hook(self._post(name or "model", m)))

    def detach_hooks(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _pre(self, name: str, module: nn.Module):
        spiking = getattr(module, "is_spiking", False) is True

        def hook(mod, inputs):
            self._stack.append(name)
            self._in_neuron += spiking
        return hook

    def _post(self, name: str, module: nn.Module):
        spiking = getattr(module, "is_spiking", False) is True
        events = spiking or getattr(module, "emits_events", False) is True  # e.g. the zero op

        def hook(mod, inputs, output):
            self._stack.pop()
            self._in_neuron -= spiking
            if events:
                self.mark(output, _Mark(frozenset({name}) if spiking else frozenset()))
            if spiking:
                outs = output if isinstance(output, (list, tuple)) else [output]
                with torch._C.DisableTorchFunction():
                    for o in outs:
                        if isinstance(o, torch.Tensor) and o.numel():
                            self.rate_sum[name] = self.rate_sum.get(name, 0.0) + float(o.float().sum())
                            self.rate_n[name] = self.rate_n.get(name, 0) + o.numel()
        return hook

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self._in_neuron:  # a neuron's own dynamics are not synaptic operations
            return out
        name = _name_of(func)
        if name in SHAPE_OPS and args:
            self._shape_op(func, name, args, kwargs, out)
        elif name in _EVENT_SUMS and args:
            tensors = [a for a in args if isinstance(a, torch.Tensor)]
            if tensors and kwargs.get("alpha", 1) == 1 and (name == "sum" or len(tensors) == 2):
                self._combine(tensors, out)
        elif name in _PRODUCTS and len(args) == 2:
            if all(isinstance(a, torch.Tensor) for a in args):
                self._combine(list(args), out)
        elif name in _COUNTERS:
            self._add(_COUNTERS[name](args, kwargs, out))
        elif name in _UNSEEN:
            warnings.warn(f"count_energy: the work inside {name} is not counted; build attention and "
                          "convolutions from matmul/linear/conv", stacklevel=2)
        return out

    def _combine(self, tensors: list[torch.Tensor], out) -> None:
        """Sums and products: the result holds events when every operand does (whole marks only)."""
        marks = [self._mark_of(t) for t in tensors]
        if all(m is not None and m.mask is None for m in marks):
            self.mark(out, _Mark(frozenset().union(*(m.sources for m in marks))))

    def _shape_op(self, func, name: str, args: tuple, kwargs: dict, out) -> None:
        if name in _MULTI_INPUT:
            seq = args[0] if isinstance(args[0], (list, tuple)) else [args[0]]
            marks = [self._mark_of(t) for t in seq]
            if not seq or all(m is None for m in marks):
                return
            sources = frozenset().union(*(m.sources for m in marks if m is not None))
            if all(m is not None and m.mask is None for m in marks):
                self.mark(out, _Mark(sources))
            else:  # partly spiking: the same op on 0/1 masks says which elements are events
                masks = [self._mask(t, m) for t, m in zip(seq, marks, strict=True)]
                self.mark(out, _Mark(sources, func(masks, *args[1:], **kwargs)))
            return
        m = self._mark_of(args[0])
        if m is None or (name == "pad" and _arg(args, kwargs, 3, "value")):
            return
        if m.mask is None:
            self.mark(out, m)
            return
        mask_out = func(m.mask, *args[1:], **kwargs)
        if isinstance(out, (list, tuple)):
            for o, mo in zip(out, mask_out, strict=True):
                self.mark(o, _Mark(m.sources, mo))
        elif isinstance(out, torch.Tensor):
            self.mark(out, _Mark(m.sources, mask_out if isinstance(mask_out, torch.Tensor) else None))

    def _add(self, call: _Call) -> None:
        where = self._stack[-1] if self._stack else "model"
        marked = [(i, t, self._mark_of(t)) for i, t in enumerate(call.operands)]
        marked = [(i, t, m) for i, t, m in marked if m is not None]
        if not marked:
            self._row(where, "MAC", call.dense, 0.0, 0.0, frozenset())
            return
        sources = frozenset().union(*(m.sources for _, _, m in marked))
        spike_share = 1.0
        options = []
        for i, t, m in marked:
            ev = t if m.mask is None else t * m.mask
            options.append(call.fanout(i, ev))
            if m.mask is not None:
                spike_share = min(spike_share, float(m.mask.mean()))
        events = min(options)
        coincidences = events  # one spike operand: every event is a synaptic operation either way
        if len(marked) == 2 and call.product is not None and all(m.mask is None for _, _, m in marked):
            coincidences = float(call.product(marked[0][1].double(), marked[1][1].double()).sum())
        if spike_share < 1.0:  # the real-valued part of a partly spiking operand is multiplied
            self._row(where, "MAC", call.dense * (1 - spike_share), 0.0, 0.0, frozenset())
        self._row(where, "AC", call.dense * spike_share, events, coincidences, sources)

    def _row(self, where: str, kind: str, dense: float, events: float, coincidences: float,
             sources: frozenset[str]) -> None:
        row = self.rows.setdefault((where, kind), [0.0, 0.0, 0.0, set()])
        row[0] += dense
        row[1] += events
        row[2] += coincidences
        row[3] |= sources

    def report(self, hardware: HardwareProfile) -> EnergyReport:
        n = max(self.samples, 1)
        rates = {k: self.rate_sum[k] / self.rate_n[k] for k in self.rate_sum}
        rows = []
        for (module, kind), (dense, events, coinc, sources) in self.rows.items():
            src = sorted(sources)
            spikes = sum(self.rate_sum.get(s, 0.0) for s in src)
            total = sum(self.rate_n.get(s, 0) for s in src)
            rows.append(EnergyRow(module, kind, dense / n, events / n, coinc / n, "+".join(src),
                                  spikes / total if total else 0.0))
        macs = float(sum(r.dense for r in rows if r.kind == "MAC"))
        acs = float(sum(r.events for r in rows if r.kind == "AC"))
        total_n = sum(self.rate_n.values())
        mean = sum(self.rate_sum.values()) / total_n if total_n else 0.0
        return EnergyReport(macs, acs, hardware.energy_mj(macs, acs), rows, rates, mean, hardware.name)


@torch.no_grad()
def count_energy(model: nn.Module, x_seq: torch.Tensor, input_is_spike: bool = False,
                 hardware: str | HardwareProfile = "45nm-fp32",
                 chunk_size: int | None = None) -> EnergyReport:
    """Count MACs/ACs of ``model(x_seq)`` (``x_seq`` is ``[T, B, ...]``) per sample, summed over T.

    ``input_is_spike`` marks the input itself as spikes (Poisson or event encodings). The model
    runs in eval mode (restored afterwards) so counting has no side effects on BN statistics;
    ``chunk_size`` splits the batch to bound memory without changing the per-sample numbers.
    """
    profile = get_hardware(hardware)
    counter = EnergyCounter(model)
    was_training = model.training
    model.eval()
    counter.attach()
    try:
        B = x_seq.shape[1]
        step = chunk_size or B
        for start in range(0, B, step):
            chunk = x_seq[:, start:start + step]
            if input_is_spike:
                counter.mark(chunk, _Mark(frozenset({"input"})))
            with counter:
                model(chunk)
            counter.samples += chunk.shape[1]
    finally:
        counter.detach_hooks()
        model.train(was_training)
    return counter.report(profile)
