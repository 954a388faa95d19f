"""Operation counting for energy estimates: MACs on real-valued operands, ACs on spikes.

One no-grad forward runs under a ``TorchFunctionMode`` that sees every torch call. Outputs of
modules with ``is_spiking=True`` are marked as spike tensors (forward hooks); shape-only ops
(view, permute, getitem, cat, max-pool, ...) pass the mark on, and so do sums of marked tensors
(a cell node adding its edges' spikes, a Spikformer residual adding spikes to spikes): those hold
spike *counts*, each unit one event. Every conv/linear/matmul/einsum is counted with its dense
multiply count; when an operand is marked the call is charged as accumulates,
``ACs = dense * sum(operand) / numel(operand)``: the number of events times the average fan-out,
which is ``dense * nnz / numel`` for binary spikes (for two marked operands the sparser one, which
an event-driven core would iterate over). Counts are per sample, summed over T. Spikiness
therefore comes from the graph, never from looking at values.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.weak import WeakIdKeyDictionary

from snnas.evaluate._hardware import HardwareProfile, get_hardware

SHAPE_OPS = frozenset(
    "view view_as reshape reshape_as flatten unflatten permute transpose swapaxes movedim t T mT data "
    "contiguous __getitem__ cat concat concatenate stack unsqueeze squeeze chunk split split_with_sizes "
    "tensor_split unbind max_pool1d max_pool2d max_pool3d max_pool1d_with_indices max_pool2d_with_indices "
    "adaptive_max_pool1d adaptive_max_pool2d clone detach to float half double type expand expand_as "
    "repeat narrow flip roll pad dropout dropout1d dropout2d dropout3d".split())
_MULTI_INPUT = frozenset({"cat", "concat", "concatenate", "stack"})
_EVENT_SUMS = frozenset({"add", "__add__", "__radd__", "__iadd__", "add_", "sum"})
_UNSEEN = frozenset("scaled_dot_product_attention multi_head_attention_forward conv_transpose1d "
                    "conv_transpose2d conv_transpose3d bilinear".split())


class LayerCount(NamedTuple):
    """One row of the per-layer table: the innermost module that made the calls, MAC or AC."""

    module: str
    kind: str
    count: float


@dataclass
class EnergyReport:
    """Per-sample operation counts and energy; ``firing_rates`` maps spiking modules to mean rate."""

    macs: float
    acs: float
    energy_mj: float
    per_layer: list[LayerCount] = field(default_factory=list)
    firing_rates: dict[str, float] = field(default_factory=dict)
    mean_firing_rate: float = 0.0
    hardware: str = "45nm-fp32"


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
        return args[0], ops
    # sublist form einsum(op1, [0, 1], op2, [1, 2], [0, 2])
    ops, terms = list(args[0::2]), [list(s) for s in args[1::2]]
    ops = [o for o in ops if isinstance(o, torch.Tensor)]
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    term = ["".join("..." if i is Ellipsis else letters[i] for i in s) for s in terms[:len(ops)]]
    return ",".join(term), ops


class EnergyCounter(TorchFunctionMode):
    """Counts MACs/ACs of a model's forward calls; use via :func:`count_energy`."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.spikes = WeakIdKeyDictionary()
        self.rows: dict[tuple[str, str], float] = {}
        self.rate_sum: dict[str, float] = {}
        self.rate_n: dict[str, int] = {}
        self.samples = 0
        self._stack: list[str] = []
        self._handles: list = []

    # -- spike marks -------------------------------------------------------------------------
    def mark(self, obj) -> None:
        if isinstance(obj, torch.Tensor):
            self.spikes[obj] = True
        elif isinstance(obj, (list, tuple)):
            for o in obj:
                self.mark(o)

    def is_spike(self, obj) -> bool:
        return isinstance(obj, torch.Tensor) and obj in self.spikes

    # -- module hooks ------------------------------------------------------------------------
    def attach(self) -> None:
        for name, m in self.model.named_modules():
            self._handles.append(m.register_forward_pre_hook(self._pre(name or "model")))
            self._handles.append(m.register_forward_hook(self._post(name or "model", m)))

    def detach_hooks(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _pre(self, name: str):
        def hook(module, inputs):
            self._stack.append(name)
        return hook

    def _post(self, name: str, module: nn.Module):
        spiking = getattr(module, "is_spiking", False) is True
        events = spiking or getattr(module, "emits_events", False) is True  # e.g. the zero op

        def hook(mod, inputs, output):
            self._stack.pop()
            if events:
                self.mark(output)
            if spiking:
                outs = output if isinstance(output, (list, tuple)) else [output]
                with torch._C.DisableTorchFunction():
                    for o in outs:
                        if isinstance(o, torch.Tensor) and o.numel():
                            self.rate_sum[name] = self.rate_sum.get(name, 0.0) + float(o.float().sum())
                            self.rate_n[name] = self.rate_n.get(name, 0) + o.numel()
        return hook

    # -- the mode ----------------------------------------------------------------------------
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = _name_of(func)
        if name in SHAPE_OPS and args:
            if name in _MULTI_INPUT:
                seq = args[0] if isinstance(args[0], (list, tuple)) else [args[0]]
                spike = bool(seq) and all(self.is_spike(t) for t in seq)
            elif name == "pad":
                value = _arg(args, kwargs, 3, "value")
                spike = self.is_spike(args[0]) and not value
            else:
                spike = self.is_spike(args[0])
            if spike:
                self.mark(out)
        elif name in _EVENT_SUMS and args:
            tensors = [a for a in args if isinstance(a, torch.Tensor)]
            if tensors and all(self.is_spike(t) for t in tensors) and kwargs.get("alpha", 1) == 1 \
                    and (name == "sum" or len(tensors) == 2):
                self.mark(out)
        elif name in _COUNTERS:
            dense, operands = _COUNTERS[name](args, kwargs, out)
            self._add(dense, [o for o in operands if self.is_spike(o)])
        elif name in _UNSEEN:
            warnings.warn(f"count_energy: the work inside {name} is not counted; build attention and "
                          "convolutions from matmul/linear/conv", stacklevel=2)
        return out

    def _add(self, dense: int, spike_operands: list[torch.Tensor]) -> None:
        where = self._stack[-1] if self._stack else "model"
        if spike_operands:
            density = min(float(s.sum()) / max(s.numel(), 1) for s in spike_operands)
            key, count = (where, "AC"), dense * density
        else:
            key, count = (where, "MAC"), float(dense)
        self.rows[key] = self.rows.get(key, 0.0) + count

    def report(self, hardware: HardwareProfile) -> EnergyReport:
        n = max(self.samples, 1)
        rows = [LayerCount(m, k, c / n) for (m, k), c in self.rows.items()]
        macs = float(sum(r.count for r in rows if r.kind == "MAC"))
        acs = float(sum(r.count for r in rows if r.kind == "AC"))
        rates = {k: self.rate_sum[k] / self.rate_n[k] for k in self.rate_sum}
        total_n = sum(self.rate_n.values())
        mean = sum(self.rate_sum.values()) / total_n if total_n else 0.0
        return EnergyReport(macs, acs, hardware.energy_mj(macs, acs), rows, rates, mean, hardware.name)


def _conv(args, kwargs, out):
    x, w = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "weight")
    return out.numel() * math.prod(w.shape[1:]), [x]


def _linear(args, kwargs, out):
    x, w = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "weight")
    return out.numel() * w.shape[-1], [x]


def _matmul(args, kwargs, out):
    a, b = _arg(args, kwargs, 0, "input", "self"), _arg(args, kwargs, 1, "other", "mat2")
    return out.numel() * a.shape[-1], [a, b]


def _rmatmul(args, kwargs, out):
    return _matmul((args[1], args[0]), {}, out)


def _addmm(args, kwargs, out):
    a = _arg(args, kwargs, 1, "mat1", "batch1")
    b = _arg(args, kwargs, 2, "mat2", "batch2")
    return out.numel() * a.shape[-1], [a, b]


def _einsum(args, kwargs, out):
    eq, ops = _einsum_parts(args)
    return einsum_macs(re.sub(r"\s", "", eq), ops), ops


_COUNTERS = {"conv1d": _conv, "conv2d": _conv, "conv3d": _conv, "linear": _linear, "matmul": _matmul,
             "mm": _matmul, "bmm": _matmul, "__matmul__": _matmul, "__rmatmul__": _rmatmul,
             "addmm": _addmm, "baddbmm": _addmm, "einsum": _einsum}


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
                counter.mark(chunk)
            with counter:
                model(chunk)
            counter.samples += chunk.shape[1]
    finally:
        counter.detach_hooks()
        model.train(was_training)
    return counter.report(profile)
