"""HTML pages: the main text only; scripts, styles, navigation and page chrome dropped."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ingest.readers.base import (
    ParsedDocument,
    SectionBuilder,
    reads_like_title,
    source_line,
    title_from_filename,
)
from ingest.readers.dates import date_in_text, parse_date
from ingest.readers.encoding import decode_text
from rag.errors import ReaderError

EXTENSIONS = (".html", ".htm")

_DROP = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside",
         "form", "iframe", "svg", "button", "menu")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_BLOCKS = (*_HEADINGS, "p", "li", "pre", "blockquote", "td", "th", "dt", "dd", "figcaption")

# BeautifulSoup holds every element as a Python object (about half a kilobyte each) and
# some of its walks are slow on deep trees: a hostile page of a million nested <div>s
# (5 MB) takes 40 s and 600 MB. Real pages stay far below both limits.
MAX_ELEMENTS = 200_000
MAX_DEPTH = 1_000
# a comment opening, or a tag; "[^<>]*" keeps every attempt short, so the scan stays
# linear even on hostile input (an attribute holding "<" or ">" is merely not counted)
_TAG = re.compile(r"<!--|<(/?)([A-Za-z][A-Za-z0-9:-]*)[^<>]*>")
_RAW_TEXT = ("script", "style", "textarea", "title")
# elements without an end tag, or whose end tag HTML lets authors leave out
_NOT_NESTING = frozenset(
    "area base br col embed hr img input link meta param source track wbr "
    "p li dt dd tr td th thead tbody tfoot option optgroup colgroup rt rp".split())


def read(path: Path) -> ParsedDocument:
    from bs4 import BeautifulSoup

    markup = decode_text(path.read_bytes())
    check_structure(markup)
    soup = BeautifulSoup(markup, "lxml")
    page_title = soup.title.get_text(" ", strip=True) if soup.title else ""
    canonical = _canonical_address(soup)
    date = _metadata_date(soup)
    for element in soup.find_all(_DROP):
        element.decompose()
    for element in soup.find_all(role=["navigation", "banner", "contentinfo"]):
        element.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    builder = SectionBuilder(default_location=page_title)
    first_heading = ""
    for element in root.find_all(_BLOCKS):
        if element.find_parent(_BLOCKS) is not None:
            continue  # its text is part of the enclosing block
        text = element.get_text(" ", strip=True)
        if element.name in _HEADINGS:
            first_heading = first_heading or text
            builder.heading(text)
        else:
            builder.block(text)
    if not builder.build()[0].strip():
        # pages without block markup: fall back to the visible text of the main element
        builder = SectionBuilder(default_location=page_title)
        for line in root.get_text("\n", strip=True).split("\n"):
            builder.block(line)
    text, sections = builder.build()
    if not text.strip():
        raise ReaderError("HTML page contains no visible text")
    return ParsedDocument(
        text=text,
        title=readable_title(page_title, first_heading) or title_from_filename(path),
        date=date or date_in_text(text) or "",
        type="dokument",
        source=canonical or path.name,
        sections=sections,
    )


def _metadata_date(soup: Any) -> str | None:
    """The page's date as its markup declares it: a date ``<meta>`` (also
    ``article:published_time``), else the first ``<time datetime>``; read before the page
    chrome (where ``<time>`` often stands) is dropped."""
    meta = (soup.find("meta", attrs={"name": ["date", "dcterms.date", "DC.date"]})
            or soup.find("meta", attrs={"property": ["article:published_time",
                                                     "article:modified_time"]}))
    if meta is not None:
        found = parse_date(str(meta.get("content", "")))
        if found:
            return found
    stamp = soup.find("time", attrs={"datetime": True})
    return parse_date(str(stamp["datetime"])) if stamp is not None else None


_SEPARATORS = re.compile(r"\s+(?:\||–|—|-|::|·|»)\s+")


def readable_title(page_title: str, first_heading: str) -> str:
    """The page's own name: the <title> without the site name that sites append
    ("Rufbus startet | Stadt Kötzting"), or the first heading; never a web address."""
    heading = first_heading if reads_like_title(first_heading) else ""
    if source_line(page_title) is not None or not page_title.strip():
        return heading
    parts = [part.strip() for part in _SEPARATORS.split(page_title) if part.strip()]
    if heading and (heading in page_title or len(parts) > 1):
        return heading
    return parts[0] if parts and reads_like_title(parts[0]) else page_title.strip()[:120]


def _canonical_address(soup: Any) -> str:
    """Where the page was published, if it says so (canonical link or og:url)."""
    link = soup.find("link", rel="canonical")
    if link is not None and str(link.get("href", "")).startswith(("http://", "https://")):
        return str(link["href"])
    meta = soup.find("meta", attrs={"property": "og:url"})
    if meta is not None and str(meta.get("content", "")).startswith(("http://", "https://")):
        return str(meta["content"])
    return ""


def check_structure(markup: str) -> None:
    """Refuse pages too large or too deeply nested to parse safely (one cheap scan)."""
    lowered = markup.lower()
    elements = depth = 0
    position = 0
    while match := _TAG.search(markup, position):
        position = match.end()
        if match.group() == "<!--":
            end = markup.find("-->", position)
            position = len(markup) if end < 0 else end + 3
            continue
        closing, name = match.group(1), match.group(2).lower()
        if closing:
            if name not in _NOT_NESTING:
                depth = max(depth - 1, 0)
            continue
        elements += 1
        if elements > MAX_ELEMENTS:
            raise ReaderError(f"HTML page has more than {MAX_ELEMENTS:,} elements "
                              "(not a normal document page)")
        if name in _RAW_TEXT:  # script text may hold "<div>" strings: skip to its end
            end = lowered.find(f"</{name}", position)
            position = len(markup) if end < 0 else end
        elif name not in _NOT_NESTING and not match.group().endswith("/>"):
            depth += 1
            if depth > MAX_DEPTH:
                raise ReaderError(f"HTML is nested more than {MAX_DEPTH:,} levels deep "
                                  "(not a normal document page)")
