"""User-facing errors.

Every mistake a user can make (a bad YAML field, an unknown neuron name, a missing data folder)
raises a subclass of :class:`SnnasError`. The CLI prints ``str(err)`` on one line and exits 2 with
no traceback, so messages must name the file/field/argument and, where a choice is involved, the
valid options.
"""

from __future__ import annotations

import difflib


class SnnasError(Exception):
    """Base class of errors caused by user input; the CLI shows them as one line and exits with
    ``exit_code`` (2, or 130 for an interrupted run)."""

    exit_code = 2

    def __init__(self, *args: object, exit_code: int | None = None):
        super().__init__(*args)
        if exit_code is not None:
            self.exit_code = exit_code


class UnknownNameError(SnnasError, KeyError):
    """A registry lookup with a name that is not registered."""

    def __init__(self, kind: str, name: object, valid: list[str]):
        self.kind, self.name, self.valid = kind, name, list(valid)
        close = difflib.get_close_matches(str(name), self.valid, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        super().__init__(f"unknown {kind} '{name}'{hint}; valid: {', '.join(self.valid)}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


class SpaceError(SnnasError):
    """An invalid search-space document: ``file:line field.path: message``."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None,
                 path: str | None = None):
        self.file, self.line, self.path, self.message = file, line, path, message
        where = ""
        if file:
            where = f"{file}:{line}" if line else f"{file}"
        head = " ".join(p for p in (where, path) if p)
        super().__init__(f"{head}: {message}" if head else message)


class DataError(SnnasError):
    """A missing or malformed data set path."""


class RunError(SnnasError):
    """A problem with a run directory (locked, missing, incompatible)."""
