"""The search-space language: YAML spaces, their validation, `SearchSpace` and `Architecture`.

A space file (see docs/search_spaces.md) is loaded with :func:`load_space` into a
:class:`SearchSpace`: a list of discrete decisions with a flat integer genome that every strategy
shares. This package imports none of the others and never torch: registry names are checked
against the plain name tables of ``_names.py``, which the registries fill as they register.
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
from snnas.space._names import ATTENTION_ALIASES, NameTable
from snnas.space._schema import METRICS, SECTIONS
from snnas.space._space import NEURON_USES, Decision, SearchSpace

__all__ = [
    "ATTENTION_ALIASES",
    "Architecture",
    "Decision",
    "Edge",
    "METRICS",
    "NEURON_USES",
    "NameTable",
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
