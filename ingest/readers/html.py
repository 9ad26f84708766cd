"""HTML pages: the main text only; scripts, styles, navigation and page chrome dropped."""

from __future__ import annotations

from pathlib import Path

from ingest.readers.base import ParsedDocument, SectionBuilder, file_date, title_from_filename
from ingest.readers.encoding import decode_text
from rag.errors import ReaderError

EXTENSIONS = (".html", ".htm")

_DROP = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside",
         "form", "iframe", "svg", "button", "menu")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_BLOCKS = (*_HEADINGS, "p", "li", "pre", "blockquote", "td", "th", "dt", "dd", "figcaption")


def read(path: Path) -> ParsedDocument:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(decode_text(path.read_bytes()), "lxml")
    page_title = soup.title.get_text(" ", strip=True) if soup.title else ""
    date_meta = soup.find("meta", attrs={"name": ["date", "dcterms.date", "DC.date"]})
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
    date = str(date_meta.get("content", "")).strip()[:10] if date_meta else ""
    return ParsedDocument(
        text=text,
        title=page_title or first_heading or title_from_filename(path),
        date=date or file_date(path),
        type="dokument",
        source=path.name,
        sections=sections,
    )
