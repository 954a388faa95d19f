"""Architecture + weights -> a standalone ``model.py`` + ``weights.pt`` + ``architecture.json``.

The network built by ``build_network`` is traced with ``torch.fx`` (neurons kept as leaf modules),
its submodules are flattened to plain attributes and the traced graph is printed as the exported
class's ``forward``. The result imports only torch, reads like a hand-written network (every layer
listed in ``__init__``, every op in ``forward``), and runs exactly the operations the searched
network ran, so its outputs are bit-identical; ``export_module`` checks that before it writes.
"""

from __future__ import annotations

import json
import math
import re
import sys
import types
from pathlib import Path
from typing import Any

import torch
import torch.fx as fx
from torch import nn

from snnas._version import __version__
from snnas.errors import SnnasError
from snnas.export._runtime import header, runtime_source
from snnas.spiking import PSN, BaseNeuron, IFNode, LIFNode, NonSpiking, PLIFNode, Surrogate


class ExportError(SnnasError):
    """The network cannot be written as standalone source (an unsupported layer or op)."""


class _Tracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, BaseNeuron) or super().is_leaf_module(m, qualname)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return f"float('{v}')"
        return repr(v)
    if isinstance(v, torch.Size):
        return repr(tuple(v))
    return repr(v)


def _surrogate_expr(s: Surrogate) -> str:
    return f"{type(s).__name__}({_fmt(float(s.alpha))})"


def _neuron_expr(m: BaseNeuron) -> str:
    if isinstance(m, NonSpiking):
        return "NonSpiking()"
    if isinstance(m, PSN):
        return f"PSN({m.T}, {_surrogate_expr(m.surrogate)})"
    if isinstance(m, (IFNode, LIFNode, PLIFNode)):
        kw = dict(v_threshold=m.v_threshold, v_reset=m.v_reset, detach_reset=m.detach_reset,
                  decay_input=m.decay_input)
        if isinstance(m, LIFNode):
            kw["tau"] = m.tau.tolist() if isinstance(m.tau, torch.Tensor) else m.tau
        if isinstance(m, PLIFNode):
            kw["w_shape"] = tuple(m.w.shape)
        args = ", ".join(f"{k}={_fmt(v)}" for k, v in kw.items())
        return f"ResetNeuron({m.mode}, {_surrogate_expr(m.surrogate)}, {args})"
    raise ExportError(f"cannot export neuron type {type(m).__name__}")


def _conv_expr(m: nn.Module) -> str:
    name = type(m).__name__
    return (f"nn.{name}({m.in_channels}, {m.out_channels}, kernel_size={m.kernel_size}, "
            f"stride={m.stride}, padding={_fmt(m.padding)}, dilation={m.dilation}, groups={m.groups}, "
            f"bias={m.bias is not None}, padding_mode={m.padding_mode!r})")


def _module_expr(m: nn.Module) -> str:
    """Constructor source for one leaf module."""
    if isinstance(m, BaseNeuron):
        return _neuron_expr(m)
    if isinstance(m, (nn.Conv1d, nn.Conv2d)):
        return _conv_expr(m)
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return (f"nn.{type(m).__name__}({m.num_features}, eps={m.eps!r}, momentum={m.momentum!r}, "
                f"affine={m.affine}, track_running_stats={m.track_running_stats})")
    if isinstance(m, nn.Linear):
        return f"nn.Linear({m.in_features}, {m.out_features}, bias={m.bias is not None})"
    if isinstance(m, (nn.MaxPool1d, nn.MaxPool2d)):
        return (f"nn.{type(m).__name__}({m.kernel_size!r}, stride={m.stride!r}, padding={m.padding!r}, "
                f"dilation={m.dilation!r}, ceil_mode={m.ceil_mode})")
    if isinstance(m, (nn.AvgPool1d, nn.AvgPool2d)):
        extra = f", divisor_override={m.divisor_override!r}" if isinstance(m, nn.AvgPool2d) else ""
        return (f"nn.{type(m).__name__}({m.kernel_size!r}, stride={m.stride!r}, padding={m.padding!r}, "
                f"ceil_mode={m.ceil_mode}, count_include_pad={m.count_include_pad}{extra})")
    if isinstance(m, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        return f"nn.{type(m).__name__}({m.output_size!r})"
    if isinstance(m, (nn.Identity, nn.ReLU, nn.Flatten)):
        return f"nn.{type(m).__name__}()" if not isinstance(m, nn.Flatten) else \
            f"nn.Flatten({m.start_dim}, {m.end_dim})"
    if isinstance(m, nn.Dropout):
        return f"nn.Dropout({m.p!r})"
    if isinstance(m, nn.Upsample):
        return f"nn.Upsample(size={m.size!r}, scale_factor={m.scale_factor!r}, mode={m.mode!r})"
    raise ExportError(f"cannot export layer type {type(m).__name__}; supported: Conv, BatchNorm, Linear, "
                      "pooling, Identity, ReLU, Flatten, Dropout, Upsample and snnas neurons")


def _flat(name: str, taken: set[str]) -> str:
    base = re.sub(r"\W", "_", name).strip("_") or "m"
    if base[0].isdigit():
        base = "m_" + base
    out, i = base, 1
    while out in taken:
        i += 1
        out = f"{base}_{i}"
    taken.add(out)
    return out


def _trace(model: nn.Module) -> tuple[fx.GraphModule, dict[str, nn.Module], dict[str, torch.Tensor]]:
    """Trace ``model`` and rename every module/attribute target to a flat attribute name."""
    try:
        graph = _Tracer().trace(model)
    except Exception as e:  # fx reports data-dependent control flow this way
        raise ExportError(f"cannot trace the network for export: {type(e).__name__}: {e}") from None
    modules: dict[str, nn.Module] = {}
    tensors: dict[str, torch.Tensor] = {}
    taken: set[str] = set()
    renamed: dict[str, str] = {}
    for node in graph.nodes:
        if node.op == "call_module":
            if node.target not in renamed:
                renamed[node.target] = _flat(node.target, taken)
                modules[renamed[node.target]] = model.get_submodule(node.target)
            node.target = renamed[node.target]
        elif node.op == "get_attr":
            if node.target not in renamed:
                renamed[node.target] = _flat(node.target, taken)
                mod_path, _, attr = node.target.rpartition(".")
                tensors[renamed[node.target]] = getattr(model.get_submodule(mod_path), attr)
            node.target = renamed[node.target]
    root = nn.Module()
    for k, m in modules.items():
        root.add_module(k, m)
    for k, t in tensors.items():
        if isinstance(t, nn.Parameter):
            root.register_parameter(k, t)
        else:
            root.register_buffer(k, t)
    graph.lint()
    return fx.GraphModule(root, graph, class_name="Network"), modules, tensors


_ALLOWED_GLOBALS = {"torch", "inf", "nan", "device", "builtins", "getattr", "float", "int", "operator"}


def generate_source(model: nn.Module, arch_json: str | None = None, title: str | None = None,
                    input_desc: str = "C, H, W", time_steps: int | str = "?") -> str:
    """The complete ``model.py`` text for ``model`` (a module built by snnas)."""
    return _generate(model, arch_json, title, input_desc, time_steps)[0]


def _generate(model: nn.Module, arch_json: str | None, title: str | None, input_desc: str,
              time_steps: int | str) -> tuple[str, fx.GraphModule]:
    """The source and the flat traced module whose state dict the exported class loads."""
    gm, modules, tensors = _trace(model)
    code = gm.graph.python_code(root_module="self")
    used = {k for k in code.globals if re.search(rf"\b{re.escape(k)}\b", code.src)}
    unknown = {k for k in used if k not in _ALLOWED_GLOBALS and (v := code.globals[k]) is not None
               and getattr(v, "__module__", "").split(".")[0] not in ("torch", "builtins", "_operator", "math")}
    if unknown:
        raise ExportError(f"the traced network calls functions outside torch: {', '.join(sorted(unknown))}")
    surrogates = [type(m.surrogate) for m in modules.values()
                  if isinstance(m, BaseNeuron) and isinstance(getattr(m, "surrogate", None), Surrogate)]
    init = ["        super().__init__()"]
    for k, m in modules.items():
        init.append(f"        self.{k} = {_module_expr(m)}")
    for k, t in tensors.items():
        kind = "nn.Parameter(torch.zeros({}))" if isinstance(t, nn.Parameter) else "torch.zeros({})"
        ctor = kind.format(tuple(t.shape))
        if isinstance(t, nn.Parameter):
            init.append(f"        self.{k} = {ctor}")
        else:
            init.append(f"        self.register_buffer({k!r}, {ctor})")
    src = re.sub(r";\s+(\w+ = )+None$", "", code.src.strip("\n"), flags=re.M)  # fx's early frees
    fwd = "\n".join("    " + ln if ln.strip() else ln for ln in src.splitlines())
    arch = json.loads(arch_json) if arch_json else {}
    lines = [
        header(title=title or "A spiking network exported by snnas.", version=__version__,
               arch_id=arch.get("_id", "-"), summary=arch.get("_summary", "-"), input_desc=input_desc,
               time_steps=time_steps),
        runtime_source(surrogates),
        "\nclass Network(nn.Module):",
        '    """The searched network, every neuron parameter baked in; weights in weights.pt."""\n',
        "    def __init__(self):",
        *init,
        "",
        fwd,
        "",
    ]
    if arch_json:
        lines += ["", f"ARCHITECTURE = {json.dumps(json.loads(arch_json), sort_keys=True)!r}", ""]
    return "\n".join(lines), gm


def load_source(source: str, name: str = "snnas_exported_model") -> types.ModuleType:
    """Execute generated source as a fresh module (used to check an export before writing it)."""
    module = types.ModuleType(name)
    sys.modules[name] = module  # dataclass/pickle-free, but inspect and autograd like a real module
    try:
        exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    finally:
        sys.modules.pop(name, None)
    return module


def export_module(model: nn.Module, out_dir: str | Path, *, architecture: Any = None,
                  example_input: torch.Tensor | None = None, input_desc: str = "C, H, W") -> dict[str, Path]:
    """Write ``model.py``, ``weights.pt`` and ``architecture.json`` for ``model`` into ``out_dir``.

    ``architecture`` (an Architecture) is written beside the weights and named in the docstring.
    With ``example_input`` the exported module is run against ``model`` first and the export is
    refused unless the outputs are bit-identical.
    """
    arch = architecture if architecture is not None else getattr(model, "architecture", None)
    arch_json = None
    time_steps: int | str = "?"
    if arch is not None:
        d = arch.to_dict()
        d["_id"], d["_summary"] = arch.id, arch.summary()
        arch_json = json.dumps(d)
        time_steps = arch.time_steps
    was_training = model.training
    model.eval()
    try:
        source, gm = _generate(model, arch_json, None, input_desc, time_steps)
        exported = load_source(source).Network()
        exported.load_state_dict(gm.state_dict(), strict=True)
        exported.eval()
        if example_input is not None:
            with torch.no_grad():
                ref, got = model(example_input), exported(example_input)
            if not torch.equal(ref, got):
                diff = (ref - got).abs().max().item()
                raise ExportError(f"exported module differs from the original (max |diff| {diff:g})")
    finally:
        model.train(was_training)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"model": out / "model.py", "weights": out / "weights.pt", "architecture": out / "architecture.json"}
    paths["model"].write_text(source)
    torch.save({k: v.detach().clone().contiguous() for k, v in exported.state_dict().items()}, paths["weights"])
    if arch is not None:
        paths["architecture"].write_text(arch.to_json(indent=2) + "\n")
    else:
        paths.pop("architecture")
    return paths
