"""The search-space language: YAML spaces, their validation, `SearchSpace` and `Architecture`.

A space file (see docs/search_spaces.md) is loaded with :func:`load_space` into a
:class:`SearchSpace`: a list of discrete decisions with a flat integer genome that every strategy
shares. Importing this package does not import torch: registry names are checked lazily.
"""

from snnas.space._architecture import Architecture, Edge, NeuronSpec
from snnas.space._describe import describe, schema_markdown
from snnas.space._load import (
    SPACES_DIR,
    load_space,
    load_space_text,
    resolve_space,
    shipped_spaces,
    space_from_dict,
    validate_file,
)
from snnas.space._schema import METRICS, SECTIONS
from snnas.space._space import NEURON_USES, Decision, SearchSpace

__all__ = [
    "Architecture",
    "Decision",
    "Edge",
    "METRICS",
    "NEURON_USES",
    "NeuronSpec",
    "SECTIONS",
    "SPACES_DIR",
    "SearchSpace",
    "describe",
    "load_space",
    "load_space_text",
    "resolve_space",
    "schema_markdown",
    "shipped_spaces",
    "space_from_dict",
    "validate_file",
]
