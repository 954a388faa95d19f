"""snnas: neural architecture search for spiking neural networks.

The one-call API (``snnas.search``, ``snnas.resume``, ``snnas.export_module``, ``snnas.load_space``,
``snnas.build_network``) is imported lazily so that ``import snnas`` and ``snnas --version`` stay fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from snnas._version import __version__

_LAZY = {
    "Architecture": "snnas.space",
    "NeuronSpec": "snnas.space",
    "SearchSpace": "snnas.space",
    "load_space": "snnas.space",
    "build_network": "snnas.nn",
    "Evaluator": "snnas.evaluate",
    "Metrics": "snnas.evaluate",
    "search": "snnas.search",
    "resume": "snnas.search",
    "export_module": "snnas.export",
    "export_candidate": "snnas.export",
    "retrain": "snnas.search",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        # `snnas.search` is the package once imported; it is callable and forwards to search()
        return module if module.__name__ == f"snnas.{name}" else getattr(module, name)
    raise AttributeError(f"module 'snnas' has no attribute {name!r}")
