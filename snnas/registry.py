"""String-keyed registries (timm style): ``@REG.register("name")`` and ``REG.get("name")``.

Neurons, surrogate gradients, ops, hardware profiles, datasets and strategies are all looked up by
name from YAML files and the command line, so an unknown name must fail with the list of valid ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, Protocol, TypeVar

from snnas.errors import UnknownNameError

T = TypeVar("T")


class NameSink(Protocol):
    """Where a registry also writes its names (``snnas.space``'s torch-free name tables)."""

    def add(self, name: str, meta: Mapping[str, Any] | None = None) -> None: ...


class Registry(Generic[T]):
    """A named collection of factories/classes with did-you-mean errors on lookup.

    ``names`` (a ``snnas.space`` name table) receives every registered name, so a search space can
    be validated against this registry without importing the package that holds it.
    """

    def __init__(self, kind: str, names: NameSink | None = None):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._meta: dict[str, dict] = {}
        self._names = names

    def register(self, name: str, **meta) -> Callable[[T], T]:
        """Decorator registering ``obj`` under ``name``; ``meta`` is free-form metadata."""

        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} '{name}' registered twice")
            self._items[name] = obj
            self._meta[name] = dict(meta)
            if self._names is not None:
                self._names.add(name, meta)
            return obj

        return deco

    def add(self, name: str, obj: T, **meta) -> T:
        return self.register(name, **meta)(obj)

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise UnknownNameError(self.kind, name, self.names()) from None

    def meta(self, name: str) -> dict:
        self.get(name)
        return self._meta[name]

    def names(self) -> list[str]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)
