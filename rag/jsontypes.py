"""Names for JSON-shaped values, so a signature says "a record as JSON holds it" instead
of ``Any``.

``JSONValue`` is what ``json.loads`` can return. A record that KORA builds and hands on
(to ``json.dumps``, a template, a test) is a ``JSONObject``: its values are only passed
through, so they are typed ``object`` and a reader narrows what it takes out.
"""

from __future__ import annotations

from typing import SupportsFloat, SupportsIndex, SupportsInt, TypeAlias

JSONValue: TypeAlias = "str | int | float | bool | list[JSONValue] | dict[str, JSONValue] | None"
JSONObject: TypeAlias = dict[str, object]


def as_int(value: object) -> int:
    """``int(value)`` for a value read from JSON or stored metadata, typed: the same
    result, and the same TypeError for what ``int`` does not take."""
    if isinstance(value, str | bytes | bytearray | SupportsInt | SupportsIndex):
        return int(value)
    raise TypeError("int() argument must be a string, a bytes-like object or a real number, "
                    f"not '{type(value).__name__}'")


def as_float(value: object) -> float:
    """``float(value)`` for a value read from JSON or stored metadata, typed likewise."""
    if isinstance(value, str | bytes | bytearray | SupportsFloat | SupportsIndex):
        return float(value)
    raise TypeError(f"float() argument must be a string or a real number, "
                    f"not '{type(value).__name__}'")
