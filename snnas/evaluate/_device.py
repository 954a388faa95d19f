"""Device names: ``auto`` | ``cpu`` | ``cuda`` | ``cuda:N``, checked once and resolved where the work runs.

A run records the name the user gave (``auto`` by default), and each worker resolves it on its own
machine: a Ray task on a GPU node trains on CUDA while the driver may have none.
"""

from __future__ import annotations

import re

from snnas.errors import SnnasError

_NAME = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def check_device_name(name: str, where: str = "--device") -> str:
    """``name`` if it is a device name snnas understands (no torch needed), else a one-line error."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise SnnasError(f"{where}: '{name}' is not a device; use auto, cpu, cuda or cuda:N")
    return name


def resolve_device(name: str = "auto", where: str = "--device") -> str:
    """The torch device for ``name`` on this machine: ``auto`` is ``cuda`` when CUDA is available,
    else ``cpu``; asking for a CUDA device that is not there is a one-line error."""
    import torch

    check_device_name(name, where)
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise SnnasError(f"{where} {name}: no CUDA device is available here (torch {torch.__version__}, "
                             f"built {'with' if torch.version.cuda else 'without'} CUDA)")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise SnnasError(f"{where} {name}: only {torch.cuda.device_count()} CUDA device(s) here")
    return name
