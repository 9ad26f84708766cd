"""Names for JSON-shaped values, so a signature says "a record as JSON holds it" instead
of ``Any``.

``JSONValue`` is what ``json.loads`` can return. A record that KORA builds and hands on
(to ``json.dumps``, a template, a test) is a ``JSONObject``: its values are only passed
through, so they are typed ``object`` and a reader narrows what it takes out.
"""

from __future__ import annotations

from typing import TypeAlias

JSONValue: TypeAlias = "str | int | float | bool | list[JSONValue] | dict[str, JSONValue] | None"
JSONObject: TypeAlias = dict[str, object]
