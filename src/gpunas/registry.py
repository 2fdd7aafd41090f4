"""One small registry for everything gpunas looks up by name: blocks, latency backends,
evaluators, search strategies (proposers) and baseline families.

A registry maps a name to an object (a class, a function, a family); registering a name twice is
refused (two plugins would otherwise replace each other silently), and an unknown name is refused
in one line naming the known ones, or the config key it came from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from gpunas.errors import GpunasError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> object, for one kind of thing (``kind`` names it in messages: "latency backend")."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        """Register ``item`` under ``name``; raises :class:`GpunasError` when the name is taken."""
        if name in self._items:
            raise GpunasError(f"{self.kind} {name!r} registered twice")
        self._items[name] = item
        return item

    def register(self, name: str) -> Callable[[T], T]:
        """A decorator registering what it decorates under ``name``."""

        def wrap(item: T) -> T:
            return self.add(name, item)

        return wrap

    def get(self, name: str, where: str | None = None) -> T:
        """The object of ``name``; an unknown name raises :class:`GpunasError` in one line (naming
        ``where``, the config key it came from, when given)."""
        if name not in self._items:
            if where is not None:
                raise GpunasError(f"{where}: {name!r} is not one of {self.names()}")
            raise GpunasError(f"unknown {self.kind} {name!r}; known: {self.names()}")
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def items(self) -> list[tuple[str, T]]:
        return [(n, self._items[n]) for n in self.names()]
