"""Export: an Architecture and its weights as a standalone PyTorch ``model.py`` + ``weights.pt``."""

from snnas.export._candidate import export_candidate, weights_source
from snnas.export._export import ExportError, export_module, generate_source, load_source

__all__ = ["ExportError", "export_candidate", "export_module", "generate_source", "load_source", "weights_source"]
