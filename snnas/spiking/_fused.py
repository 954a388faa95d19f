"""Fused CPU path for IF/LIF/PLIF: a small C kernel compiled once, loaded with ctypes.

Why not torch.compile: its first call stalls for tens of seconds, which a search that builds
hundreds of networks cannot afford, and it cannot be made to guarantee float op order. The C
source (``_lif_kernel.c``) is compiled with the system C compiler (``$CC``, gcc, cc or clang)
into a cache directory keyed by the source, flags and CPU (``$SNNAS_CACHE_DIR`` or
``~/.cache/snnas``), which takes about a second once per machine. Without a compiler (one
warning), for CUDA or non-float32 tensors, for surrogates without a C version, or with
``SNNAS_FUSED=0``, ``multi_step`` returns None and the neuron runs the torch reference.
``SNNAS_NT_BYTES`` (default 8 MiB) is the output size from which streaming stores are used;
``SNNAS_HUGEPAGES=0`` stops marking large outputs for transparent huge pages. The kernel runs
with ``torch.get_num_threads()`` OpenMP threads (torch's own libgomp) and releases the GIL.
"""

from __future__ import annotations

import ctypes
import hashlib
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import warnings
from pathlib import Path

import torch

from snnas.spiking._surrogate import Surrogate

_SOURCE = Path(__file__).with_name("_lif_kernel.c")
# -ffp-contract=off: no FMA in the forward, so spikes match torch bit for bit. -fno-trapping-math
# and -fno-math-errno change no value; they only let gcc vectorise selects and fabsf.
_FLAGS = ["-O3", "-march=native", "-fopenmp", "-ffp-contract=off", "-fno-math-errno",
          "-fno-trapping-math", "-shared", "-fPIC", "-std=c11"]
_MIN_PARALLEL = 1 << 16  # below this many elements one thread beats OpenMP start-up
_NT_BYTES = int(os.environ.get("SNNAS_NT_BYTES", 8 << 20))  # streaming-store threshold per output
_HUGE_BYTES = 4 << 20  # outputs from this size get madvise(MADV_HUGEPAGE) (SNNAS_HUGEPAGES=0: never)

_ABI = 6  # snnas_lif_abi() of the matching _lif_kernel.c
_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_failed: str | None = None


def _cache_dir() -> Path:
    root = os.environ.get("SNNAS_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "snnas")
    return Path(root)


def _cpu_tag() -> str:
    """-march=native code is only valid on the CPU it was built for: key the cache by its model
    and feature flags so a shared home directory on a mixed cluster never loads a wrong build."""
    info = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "flags", "Features")):
                    info += line
                if line.strip() == "":
                    break
    except OSError:
        info = platform.processor()
    return platform.machine() + info


def _compiler() -> str | None:
    for cc in (os.environ.get("CC"), "gcc", "cc", "clang"):
        if cc and shutil.which(cc):
            return cc
    return None


def _build() -> ctypes.CDLL:
    cc = _compiler()
    if cc is None:
        raise RuntimeError("no C compiler (gcc/cc/clang) found")
    src = _SOURCE.read_bytes()
    key = hashlib.sha256(src + " ".join([cc, *_FLAGS]).encode() + _cpu_tag().encode()).hexdigest()[:16]
    out_dir = _cache_dir()
    lib_path = out_dir / f"snnas_lif_{key}.so"
    if not lib_path.exists():
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=out_dir)
        os.close(fd)
        try:
            proc = subprocess.run([cc, *_FLAGS, str(_SOURCE), "-o", tmp, "-lm"],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"{cc} failed: {proc.stderr.strip()[:2000]}")
            os.replace(tmp, lib_path)  # atomic: concurrent workers never load a half-written file
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    lib = ctypes.CDLL(str(lib_path))
    if lib.snnas_lif_abi() != _ABI:
        raise RuntimeError(f"{lib_path} has ABI {lib.snnas_lif_abi()}, expected {_ABI}")
    i64, f32, i32, ptr = ctypes.c_int64, ctypes.c_float, ctypes.c_int, ctypes.c_void_p
    lib.snnas_lif_forward.argtypes = [ptr, ptr, ptr, i64, i64, i32, ptr, i64, i64, i32, f32, i32,
                                      f32, i32, i32]
    lib.snnas_lif_forward.restype = i32
    lib.snnas_lif_backward.argtypes = [ptr, ptr, ptr, ptr, ptr, i64, i64, i32, ptr, i64, i64, i32,
                                       f32, i32, f32, i32, i32, f32, f32, i32, i32]
    lib.snnas_lif_backward.restype = i32
    lib.snnas_advise_huge.argtypes = [ptr, i64]
    lib.snnas_advise_huge.restype = None
    return lib


def library() -> ctypes.CDLL | None:
    """The compiled kernel, building it on first use; None (with one warning) if that fails."""
    global _lib, _failed
    if _lib is not None or _failed is not None:
        return _lib
    with _lock:
        if _lib is None and _failed is None:
            try:
                _lib = _build()
            except Exception as e:  # any build/load failure just means "use the torch path"
                _failed = f"{type(e).__name__}: {e}"
                warnings.warn(f"snnas: fused spiking kernel unavailable, using the pure-torch path "
                              f"({_failed})", RuntimeWarning, stacklevel=3)
    return _lib


def enabled() -> bool:
    return os.environ.get("SNNAS_FUSED", "1") != "0"


def _surrogate_args(sur: Surrogate) -> tuple[int, float, float]:
    """(kernel id, alpha, precomputed constant k) as the C switch expects them."""
    a = sur.alpha
    k = {1: math.pi * a / 2, 3: a / math.sqrt(math.pi),
         6: a / (2 * math.tanh(a / 2))}.get(sur.kernel_id, 0.0)
    return sur.kernel_id, a, k


def _threads(numel: int) -> int:
    return 1 if numel < _MIN_PARALLEL else torch.get_num_threads()


def _streaming(numel: int) -> int:
    """Non-temporal stores for outputs too big to stay in cache anyway."""
    return int(numel * 4 >= _NT_BYTES)


def _empty_like(x: torch.Tensor) -> torch.Tensor:
    """A fresh output; large ones are marked for huge pages before their first touch (Linux), which
    makes the page faults of a freshly mmapped tensor several times cheaper."""
    out = torch.empty_like(x)
    nbytes = out.numel() * out.element_size()
    if nbytes >= _HUGE_BYTES and os.environ.get("SNNAS_HUGEPAGES", "1") != "0":
        _lib.snnas_advise_huge(out.data_ptr(), nbytes)
    return out


def _check(rc: int) -> None:
    if rc != 0:
        raise MemoryError("snnas fused LIF kernel: could not allocate its tail buffers")


def _forward(x: torch.Tensor, spikes: torch.Tensor, h: torch.Tensor | None, coef: torch.Tensor,
             inner: int, cfg: tuple) -> None:
    """One C call: spikes (and H, which backward needs, unless ``h`` is None) from x."""
    mode, decay, vth, v_reset, _, _ = cfg
    T, n = x.shape[0], x.numel()
    hard = v_reset is not None
    _check(_lib.snnas_lif_forward(
        x.data_ptr(), spikes.data_ptr(), None if h is None else h.data_ptr(), T, n // T, mode,
        coef.data_ptr(), coef.numel(), inner, int(decay), vth, int(hard),
        v_reset if hard else 0.0, _streaming(n), _threads(n)))


class _FusedFn(torch.autograd.Function):
    """Autograd wrapper: forward and backward are one C call each. ``coef`` is a float32 tensor
    of C values (tau or sigmoid(w)); its gradient is returned only for PLIF. Only H is saved
    (plus x for PLIF with decay_input when w needs a gradient): spikes, V[t-1] and the surrogate
    are recomputed from it in backward."""

    @staticmethod
    def forward(ctx, x, coef, cfg, inner):  # type: ignore[override]
        mode, decay = cfg[0], cfg[1]
        spikes = _empty_like(x)
        h = _empty_like(x)
        _forward(x, spikes, h, coef, inner, cfg)
        keep_x = mode == 2 and decay and ctx.needs_input_grad[1]
        ctx.save_for_backward(h, x if keep_x else None, coef)
        ctx.cfg, ctx.inner = cfg, inner
        ctx.sur_args = _surrogate_args(cfg[4])  # dspike's b as it was during forward
        return spikes

    @staticmethod
    def backward(ctx, grad_spikes):  # type: ignore[override]
        h, x, coef = ctx.saved_tensors
        mode, decay, vth, v_reset, _, detach = ctx.cfg
        gs = grad_spikes.contiguous()
        T, n = h.shape[0], h.numel()
        gx = _empty_like(h)
        gq = torch.empty(n // T, dtype=torch.float32) if mode == 2 and ctx.needs_input_grad[1] else None
        sid, a, k = ctx.sur_args
        hard = v_reset is not None
        _check(_lib.snnas_lif_backward(
            gs.data_ptr(), h.data_ptr(), None if x is None else x.data_ptr(), gx.data_ptr(),
            None if gq is None else gq.data_ptr(), T, n // T, mode, coef.data_ptr(), coef.numel(),
            ctx.inner, int(decay), vth, int(hard), v_reset if hard else 0.0, int(detach), sid, a, k,
            _streaming(n), _threads(n)))
        gcoef = None
        if gq is not None:  # per-element dL/dq summed to the shape of q (scalar or per channel)
            c = coef.numel()
            gcoef = gq.sum() if c == 1 else gq.view(-1, c, ctx.inner).sum(dim=(0, 2))
            gcoef = gcoef.view(coef.shape)
        return gx, gcoef, None, None


def multi_step(x_seq: torch.Tensor, mode: int, coef, decay_input: bool, v_threshold: float,
               v_reset: float | None, surrogate: Surrogate, detach_reset: bool) -> torch.Tensor | None:
    """Fused IF/LIF/PLIF spikes, or None when this call is not eligible (caller uses the reference)."""
    if (x_seq.device.type != "cpu" or x_seq.dtype != torch.float32 or surrogate.kernel_id < 0
            or not enabled() or x_seq.numel() == 0):
        return None
    if isinstance(coef, torch.Tensor):
        if coef.device.type != "cpu" or coef.dtype != torch.float32:
            return None
        c = coef.reshape(-1)
    else:
        value = 1.0 if coef is None else float(coef)
        if mode == 1 and math.frexp(value)[0] == 0.5:
            # tau = 2^k (the default 2.0): x / tau == x * 2^-k exactly, and the multiplying
            # (PLIF) form of the kernel avoids a division per element and step
            mode, value = 2, 1.0 / value
        c = torch.tensor([value], dtype=torch.float32)
    if library() is None:
        return None
    inner = 1
    if c.numel() > 1 and x_seq.ndim == 5:
        inner = x_seq.shape[3] * x_seq.shape[4]
    cfg = (mode, bool(decay_input), float(v_threshold), v_reset, surrogate, bool(detach_reset))
    x, c = x_seq.contiguous(), c.contiguous()
    if torch.is_grad_enabled() and (x.requires_grad or c.requires_grad):
        return _FusedFn.apply(x, c, cfg, inner)
    spikes = _empty_like(x)
    _forward(x, spikes, None, c, inner, cfg)  # inference: skip writing H
    return spikes


def build_error() -> str | None:
    """Why the fused kernel could not be built (None if it built or was never tried)."""
    return _failed


if sys.platform == "win32":  # pragma: no cover - ctypes/gcc path is POSIX-only here
    _failed = "fused kernel is not built on Windows"
