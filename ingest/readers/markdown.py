"""Markdown with optional YAML front matter (title, date, type, source, tags)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import yaml

from ingest.readers.base import ParsedDocument, SectionBuilder, title_from_filename
from ingest.readers.dates import date_in_text
from ingest.readers.encoding import decode_text
from rag.errors import ReaderError
from rag.jsontypes import JSONObject

EXTENSIONS = (".md", ".markdown")

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^(```|~~~)")


def split_front_matter(text: str) -> tuple[JSONObject, str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        raise ReaderError(f"invalid YAML front matter{where}") from exc
    if not isinstance(meta, dict):
        raise ReaderError("front matter is not a mapping of keys to values")
    return meta, text[match.end() :]


def _as_date(value: Any) -> str | None:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()[:10]
    if value is None:
        return None
    return str(value).strip() or None


def _as_tags(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [tag.strip() for tag in value.split(",") if tag.strip()]
    return [str(tag).strip() for tag in value if str(tag).strip()]


def read(path: Path) -> ParsedDocument:
    meta, body = split_front_matter(decode_text(path.read_bytes()))
    builder = SectionBuilder()
    first_heading: str | None = None
    paragraph: list[str] = []
    in_fence = False

    def flush() -> None:
        if paragraph:
            builder.block("\n".join(paragraph))
            paragraph.clear()

    for line in body.split("\n"):
        if _FENCE.match(line.strip()):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line.strip())
        if heading:
            flush()
            text = heading.group(2).strip()
            if first_heading is None and len(heading.group(1)) == 1:
                first_heading = text
            builder.heading(line.strip(), location=text)
        elif not line.strip() and not in_fence:
            flush()
        else:
            paragraph.append(line.rstrip())
    flush()
    text, sections = builder.build()
    if not text.strip():
        raise ReaderError("document has no text besides its front matter")
    return ParsedDocument(
        text=text,
        title=str(meta.get("title") or first_heading or title_from_filename(path)),
        date=_as_date(meta.get("date")) or date_in_text(text) or "",
        type=str(meta.get("type") or "dokument"),
        source=str(meta.get("source") or path.name),
        tags=_as_tags(meta.get("tags")),
        sections=sections,
        replaces=str(meta.get("ersetzt") or meta.get("replaces") or "").strip(),
    )
