"""Architecture + weights -> a standalone ``model.py`` + ``weights.pt`` + ``architecture.json``.

The network built by ``build_network`` is traced with ``torch.fx`` (neurons kept as leaf modules),
its submodules are flattened to plain attributes and the traced graph is printed as the exported
class's ``forward``. Each neuron says what it becomes (its torch-only ``runtime`` twin and
``runtime_args()``), so the exporter lists no neuron types and a newly registered neuron exports
as soon as it names a twin; surrogate classes are copied whole. Modules the energy counter reads a
mark off (neurons' ``is_spiking``, the zero op's ``emits_events``) stay modules with the same marks,
so ``count_energy`` counts the exported network exactly as the searched one.

The result imports only torch, reads like a hand-written network (every layer listed in
``__init__``, every op in ``forward``), and runs exactly the operations the searched network ran,
so its outputs are bit-identical; ``export_module`` checks that before it writes.
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
from snnas.spiking import BaseNeuron, Surrogate


class ExportError(SnnasError):
    """The network cannot be written as standalone source (an unsupported layer or op)."""


ENERGY_MARKS = ("is_spiking", "emits_events")
"""Class attributes the energy counter reads off a module (its output is spikes / carries no events)."""


def _marks(m: nn.Module) -> dict[str, bool]:
    return {k: getattr(m, k) for k in ENERGY_MARKS if isinstance(getattr(m, k, None), bool)}


class _Tracer(fx.Tracer):
    """Neurons and other energy-marked modules (the zero op) stay modules of the exported network,
    so the counter sees the same marks on an exported module as on the in-package one."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, BaseNeuron) or bool(_marks(m)) or super().is_leaf_module(m, qualname)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return f"float('{v}')"
        return repr(v)
    if isinstance(v, torch.Size):
        return repr(tuple(v))
    return repr(v)


def _arg_expr(v: Any) -> str:
    """Source of one runtime constructor argument: a surrogate (its class, copied into the runtime
    block, with its alpha), a tensor (its values), or a plain value."""
    if isinstance(v, Surrogate):
        return f"{type(v).__name__}({_fmt(float(v.alpha))})"
    if isinstance(v, torch.Tensor):
        return _fmt(v.tolist())
    if isinstance(v, (list, tuple)):
        items = ", ".join(_arg_expr(x) for x in v)
        return f"[{items}]" if isinstance(v, list) else f"({items}{',' if len(v) == 1 else ''})"
    return _fmt(v)


def _runtime_of(m: BaseNeuron) -> tuple[type[nn.Module], dict[str, Any]]:
    """The neuron's own answer to "what do I become in model.py": its twin class and arguments."""
    cls = type(m).runtime
    if cls is None:
        raise ExportError(f"cannot export neuron type {type(m).__name__}: it names no runtime twin; set its "
                          "`runtime` class and `runtime_args()` (see snnas.spiking._portable)")
    try:
        return cls, m.runtime_args()
    except TypeError as e:
        raise ExportError(f"cannot export neuron type {type(m).__name__}: {e}") from None


def _neuron_expr(m: BaseNeuron) -> str:
    cls, kwargs = _runtime_of(m)
    return f"{cls.__name__}({', '.join(f'{k}={_arg_expr(v)}' for k, v in kwargs.items())})"


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


def _forward_source(graph: fx.Graph, what: str) -> str:
    """``def forward`` of a traced graph, indented as a method; refuses calls outside torch."""
    for node in graph.nodes:  # type hints (``x: torch.Tensor``) would need torch aliases in the source
        node.type = None
    code = graph.python_code(root_module="self")
    used = {k for k in code.globals if re.search(rf"\b{re.escape(k)}\b", code.src)}
    unknown = {k for k in used if k not in _ALLOWED_GLOBALS and (v := code.globals[k]) is not None
               and getattr(v, "__module__", "").split(".")[0] not in ("torch", "builtins", "_operator", "math")}
    if unknown:
        raise ExportError(f"the traced {what} calls functions outside torch: {', '.join(sorted(unknown))}")
    src = re.sub(r";\s+(\w+ = )+None$", "", code.src.strip("\n"), flags=re.M)  # fx's early frees
    return "\n".join(("    " + ln).rstrip() for ln in src.rstrip().splitlines())


def _marked_expr(m: nn.Module, classes: dict[str, str]) -> str:
    """A stateless energy-marked module (the zero op) as a small class of its own: its marks and its
    traced forward (constants baked in). ``classes`` collects the class sources, deduplicated."""
    name = type(m).__name__
    if list(m.parameters()) or list(m.buffers()) or list(m.children()):
        raise ExportError(f"cannot export {name}: an energy-marked module ({', '.join(_marks(m))}) with state; "
                          "make it a neuron with a runtime twin")
    try:
        graph = _Tracer().trace(m)
    except Exception as e:
        raise ExportError(f"cannot trace {name} for export: {type(e).__name__}: {e}") from None
    doc = (type(m).__doc__ or "").strip().splitlines()
    body = [f'    """{doc[0] if doc else name}"""', "",
            *(f"    {k} = {v}" for k, v in _marks(m).items()), "", _forward_source(graph, name)]
    key = "\n".join(body)
    if key not in classes:
        taken = set(classes.values())
        cls = next(c for c in (name, *(f"{name}_{i}" for i in range(2, len(classes) + 3))) if c not in taken)
        classes[key] = cls
    return f"{classes[key]}()"


def generate_source(model: nn.Module, arch_json: str | None = None, title: str | None = None,
                    input_desc: str = "C, H, W", time_steps: int | str = "?") -> str:
    """The complete ``model.py`` text for ``model`` (a module built by snnas)."""
    return _generate(model, arch_json, title, input_desc, time_steps)[0]


def _generate(model: nn.Module, arch_json: str | None, title: str | None, input_desc: str,
              time_steps: int | str) -> tuple[str, fx.GraphModule]:
    """The source and the flat traced module whose state dict the exported class loads."""
    gm, modules, tensors = _trace(model)
    fwd = _forward_source(gm.graph, "network")
    neurons = [_runtime_of(m) for m in modules.values() if isinstance(m, BaseNeuron)]
    surrogates = [type(v) for _, kwargs in neurons for v in kwargs.values() if isinstance(v, Surrogate)]
    marked: dict[str, str] = {}  # class source -> class name, one class per distinct marked module
    init = ["        super().__init__()"]
    for k, m in modules.items():
        expr = _marked_expr(m, marked) if _marks(m) and not isinstance(m, BaseNeuron) else _module_expr(m)
        init.append(f"        self.{k} = {expr}")
    for k, t in tensors.items():
        kind = "nn.Parameter(torch.zeros({}))" if isinstance(t, nn.Parameter) else "torch.zeros({})"
        ctor = kind.format(tuple(t.shape))
        if isinstance(t, nn.Parameter):
            init.append(f"        self.{k} = {ctor}")
        else:
            init.append(f"        self.register_buffer({k!r}, {ctor})")
    arch = json.loads(arch_json) if arch_json else {}
    lines = [
        header(title=title or "A spiking network exported by snnas.", version=__version__,
               arch_id=arch.get("_id", "-"), summary=arch.get("_summary", "-"), input_desc=input_desc,
               time_steps=time_steps),
        runtime_source(surrogates, [cls for cls, _ in neurons]),
        *(f"\nclass {cls}(nn.Module):\n{body}\n" for body, cls in marked.items()),
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
        try:  # a neuron twin whose source needs more than torch fails here, not in the user's hands
            exported = load_source(source).Network()
            exported.load_state_dict(gm.state_dict(), strict=True)
        except Exception as e:
            raise ExportError(f"the generated model.py does not build: {type(e).__name__}: {e}") from None
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
