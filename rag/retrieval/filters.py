"""Metadata filters on passages: document type and date range."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from rag.jsontypes import JSONObject, as_int

_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")


def date_sort_key(date: str) -> int:
    """"2025-11-28" -> 20251128, "2025-12" -> 20251200, "2025" -> 20250000, else 0.

    Chroma compares only numbers with $gte/$lte, so dates are filtered on this key.
    """
    match = _DATE.match(date.strip())
    if not match:
        return 0
    year, month, day = match.groups()
    return int(year) * 10000 + int(month or 0) * 100 + int(day or 0)


@dataclass(frozen=True)
class Filters:
    types: tuple[str, ...] = ()
    date_from: str | None = None  # inclusive, "YYYY", "YYYY-MM" or "YYYY-MM-DD"
    date_to: str | None = None  # inclusive
    # documents to leave out (evaluating what KORA says when a document is missing)
    exclude_docs: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.types or self.date_from or self.date_to or self.exclude_docs)

    def excluding(self, doc_ids: Iterable[str]) -> Filters:
        """These filters, leaving out ``doc_ids`` too (replaced documents)."""
        return replace(self, exclude_docs=(*self.exclude_docs, *doc_ids))

    def _bounds(self) -> tuple[int | None, int | None]:
        low = date_sort_key(self.date_from) if self.date_from else None
        high = None
        if self.date_to:
            high = date_sort_key(self.date_to)
            # "2025" means up to the end of 2025, "2025-11" up to the end of November
            if high % 10000 == 0:
                high += 9999
            elif high % 100 == 0:
                high += 99
        return low, high

    def chroma_where(self) -> JSONObject | None:
        clauses: list[JSONObject] = []
        if self.types:
            clauses.append({"type": {"$in": list(self.types)}})
        if self.exclude_docs:
            clauses.append({"doc_id": {"$nin": list(self.exclude_docs)}})
        low, high = self._bounds()
        if low is not None:
            clauses.append({"date_sort": {"$gte": low}})
        if high is not None:
            clauses.append({"date_sort": {"$lte": high}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def matches(self, meta: JSONObject) -> bool:
        if self.types and meta.get("type") not in self.types:
            return False
        if meta.get("doc_id") in self.exclude_docs:
            return False
        low, high = self._bounds()
        key = as_int(meta.get("date_sort", 0) or 0)
        if low is not None and key < low:
            return False
        return not (high is not None and key > high)
