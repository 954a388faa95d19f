"""Entry points: read a space from a file, a string or a dict; find the shipped spaces."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from snnas.errors import SpaceError
from snnas.space._space import SearchSpace
from snnas.space._validate import parse_document
from snnas.space._values import Ctx
from snnas.space._yaml import read_yaml

SPACES_DIR = Path(__file__).resolve().parents[2] / "search_spaces"
"""The shipped spaces (``search_spaces/`` at the repository root)."""


def shipped_spaces() -> dict[str, Path]:
    """Name (file stem) -> path of every shipped space."""
    if not SPACES_DIR.is_dir():
        return {}
    return {p.stem: p for p in sorted(SPACES_DIR.glob("*.yaml"))}


def resolve_space(name_or_path: str | os.PathLike) -> Path:
    """A path as given if it exists, else a shipped space by name (``digits`` -> its file)."""
    path = Path(name_or_path)
    if path.exists():
        return path
    shipped = shipped_spaces()
    if str(name_or_path) in shipped:
        return shipped[str(name_or_path)]
    names = ", ".join(shipped) or "none found"
    raise SpaceError(f"no such file; shipped spaces: {names}", file=str(name_or_path))


def load_space(path: str | os.PathLike) -> SearchSpace:
    """Load and validate a space file (or a shipped space by name); SpaceError on any mistake."""
    resolved = resolve_space(path)
    shown = str(path) if Path(path).exists() else str(resolved)
    try:
        text = resolved.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise SpaceError(f"not UTF-8 text ({e.reason})", file=shown) from None
    except OSError as e:
        raise SpaceError(f"cannot read: {e.strerror or e}", file=shown) from None
    return load_space_text(text, file=shown, name=resolved.stem)


def validate_file(path: str | os.PathLike) -> SearchSpace:
    """What ``snnas space validate`` calls: the loaded space, or SpaceError naming file:line field."""
    return load_space(path)


def load_space_text(text: str, file: str | None = None, name: str | None = None) -> SearchSpace:
    """Load a space from YAML text; ``file`` is only used in error messages."""
    data, lines = read_yaml(text, file)
    parsed = parse_document(data, Ctx(file, lines))
    return SearchSpace(parsed, path=file, name=name or (Path(file).stem if file else "space"))


def space_from_dict(doc: Any, name: str = "space") -> SearchSpace:
    """Load a space from an already-parsed document (e.g. ``SearchSpace.to_dict()`` output)."""
    return SearchSpace(parse_document(doc, Ctx(None, {})), path=None, name=name)
