"""The registry of every wire message type.

A message is a frozen dataclass decorated with :func:`message`.  The codec
looks types up here by tag (the class name) and rejects anything not
registered, so a daemon can only ever receive a type some module of
`cluster.bus.messages` declared.  Modules register when imported; a tag not
yet registered loads them all once before it is called unknown.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_REGISTRY: dict[str, type[Any]] = {}
_FIELDS: dict[str, frozenset[str]] = {}


def message(cls: type[T]) -> type[T]:
    """Register a frozen dataclass as a wire message (class name = type tag)."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} must be a dataclass to be a message")
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen:
        raise TypeError(f"{cls.__name__} must be frozen to be a message")
    tag = cls.__name__
    if tag in _REGISTRY and _REGISTRY[tag] is not cls:
        raise TypeError(f"message tag {tag!r} is declared twice")
    _REGISTRY[tag] = cls
    _FIELDS[tag] = frozenset(f.name for f in dataclasses.fields(cls))
    return cls


def lookup(tag: str) -> type[Any] | None:
    """The message class for a tag, or None when nobody declared it.

    A daemon imports the message modules it uses, which registers their
    types; a tag it never imported loads the whole catalogue once, so no
    process pays for every daemon's messages unless it is sent one.
    """
    cls = _REGISTRY.get(tag)
    if cls is None:
        from cluster.bus.messages import load_all  # here: it imports this module
        load_all()
        cls = _REGISTRY.get(tag)
    return cls


def field_names(tag: str) -> frozenset[str]:
    return _FIELDS[tag]


def is_message(value: object) -> bool:
    return type(value).__name__ in _REGISTRY and _REGISTRY[type(value).__name__] is type(value)


MessageClass = Callable[..., Any]
