"""Read a YAML document together with the line of every key and list item.

``yaml.safe_load`` forgets where things were, but a search-space error is only useful when it names
the line (``x.yaml:14 neuron.tau.range: ...``). So the document is *composed* with PyYAML's
SafeLoader (safe tags only) and the node tree is walked here, recording a line per field path.
Every failure, including YAML syntax errors, recursive aliases and alias bombs, becomes a
:class:`SpaceError`; nothing else escapes.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from snnas.errors import SpaceError

FieldPath = tuple[str | int, ...]
"""A field path: mapping keys (str) and list indices (int), e.g. ``("cell", "ops", 2)``."""

_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
MAX_NODES = 100_000
"""More nodes than this (after expanding aliases) is rejected instead of walked (alias bombs)."""


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-]+")


def path_str(path: FieldPath) -> str:
    """``("cell", "ops", 2)`` -> ``cell.ops[2]``; odd keys are quoted: ``task['a b']``."""
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        elif not _PLAIN_KEY.fullmatch(str(p)):
            out += f"[{str(p)!r}]"
        else:
            out += f".{p}" if out else str(p)
    return out


def one_line(text: str) -> str:
    """Messages are printed on one line by the CLI: escape line breaks in user-supplied text."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def read_yaml(text: str, file: str | None = None) -> tuple[Any, dict[FieldPath, int]]:
    """Parse ``text`` with safe semantics; return (data, {field path: 1-based line})."""
    if not isinstance(text, str):
        raise SpaceError("a search space must be YAML text", file=file)
    loader = None
    try:
        loader = yaml.SafeLoader(text)  # the reader rejects control characters right here
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: dict[FieldPath, int] = {(): node.start_mark.line + 1}
        return _Walker(loader, lines, file).build(node, ()), lines
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        what = ", ".join(str(s) for s in (e.context, e.problem) if s) or str(e)
        raise SpaceError(one_line(f"invalid YAML: {what}"), file=file,
                         line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as e:
        raise SpaceError(f"invalid YAML: {' '.join(str(e).split())}", file=file) from None
    except RecursionError:
        raise SpaceError("invalid YAML: document nested too deeply", file=file) from None
    finally:
        if loader is not None:
            loader.dispose()


class _Walker:
    """Turns composed nodes into plain dict/list/scalars, recording lines and rejecting oddities."""

    def __init__(self, loader: yaml.SafeLoader, lines: dict[FieldPath, int], file: str | None):
        self.loader, self.lines, self.file = loader, lines, file
        self.count = 0
        self.stack: set[int] = set()

    def fail(self, node: yaml.Node, msg: str, path: FieldPath) -> SpaceError:
        return SpaceError(one_line(msg), file=self.file, line=node.start_mark.line + 1,
                          path=path_str(path) or None)

    def build(self, node: yaml.Node, path: FieldPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(node, f"document too large (more than {MAX_NODES} values)", path)
        if isinstance(node, yaml.ScalarNode):
            try:
                return self.loader.construct_object(node, deep=True)
            except yaml.YAMLError:
                raise
            except Exception as e:  # e.g. `!!int abc`: PyYAML raises plain ValueError
                raise self.fail(node, f"cannot read value {node.value!r} as {node.tag}: {e}",
                                path) from None
        if id(node) in self.stack:
            raise self.fail(node, "recursive YAML alias", path)
        self.stack.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                if node.tag != _SEQ:
                    raise self.fail(node, f"unsupported YAML tag {node.tag}", path)
                out = []
                for i, item in enumerate(node.value):
                    self.lines.setdefault(path + (i,), item.start_mark.line + 1)
                    out.append(self.build(item, path + (i,)))
                return out
            if node.tag != _MAP:
                raise self.fail(node, f"unsupported YAML tag {node.tag}", path)
            self.loader.flatten_mapping(node)  # resolves `<<` merge keys, safe semantics
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self.fail(key_node, "mapping keys must be plain names", path)
                key = self.build(key_node, path)
                if not isinstance(key, str):
                    raise self.fail(key_node, f"mapping key {key!r} is not a name (quote it?)", path)
                if key in result:
                    raise self.fail(key_node, f"duplicate key '{key}'", path + (key,))
                self.lines.setdefault(path + (key,), key_node.start_mark.line + 1)
                result[key] = self.build(value_node, path + (key,))
            return result
        finally:
            self.stack.discard(id(node))
