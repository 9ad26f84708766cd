"""As of when a document speaks: its date from the text, where neither front matter nor
the file's own metadata gives one.

The readers ask, in this order: the front matter (Markdown), the file's metadata (PDF
creation date, DOCX core properties, an HTML ``<meta name="date">``), then the text. In
the text a labelled line counts first ("Stand: 12.03.2025", "Aktualisiert am …",
"Veröffentlicht: …"), then a dateline among the first lines ("Montag, 3. März 2025",
"4. Februar 2025, 09:30 Uhr | Pressestelle"), then a byline with a date ("Von Anna
Beispiel, 3. März 2025"). A document with none of these has no date ("ohne Datum"):
the file's modification time says when it was copied, not as of when it holds.
"""

from __future__ import annotations

import re
from datetime import date

from ingest.readers.base import is_dateline

HEAD_LINES = 8  # datelines and bylines stand at the top of a page
TAIL_LINES = 4  # "Stand: …" often closes a page

_MONTHS = {
    "januar": 1, "jan": 1, "jänner": 1, "februar": 2, "feb": 2, "märz": 3, "maerz": 3,
    "mär": 3, "mrz": 3, "april": 4, "apr": 4, "mai": 5, "juni": 6, "jun": 6, "juli": 7,
    "jul": 7, "august": 8, "aug": 8, "september": 9, "sep": 9, "sept": 9, "oktober": 10,
    "okt": 10, "november": 11, "nov": 11, "dezember": 12, "dez": 12,
}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
# one alternative per written form; each names its groups
_DATE = re.compile(
    rf"(?<!\d)(?P<iso_y>(?:19|20)\d{{2}})-(?P<iso_m>\d{{2}})(?:-(?P<iso_d>\d{{2}}))?(?!\d)"
    rf"|(?<![\d.])(?P<num_d>\d{{1,2}})\.\s?(?P<num_m>\d{{1,2}})\.\s?(?P<num_y>(?:19|20)?\d{{2}})(?!\d)"
    rf"|(?<!\d)(?:(?P<word_d>\d{{1,2}})\.\s?)?(?P<word_m>{_MONTH})\.?\s+(?P<word_y>(?:19|20)\d{{2}})(?!\d)"
    rf"|(?<![\d./])(?P<slash_m>\d{{1,2}})/(?P<slash_y>(?:19|20)\d{{2}})(?!\d)",
    re.IGNORECASE,
)
_LABEL = re.compile(
    r"^\W*(?:stand|aktualisiert|zuletzt\s+(?:aktualisiert|geändert|bearbeitet)|"
    r"veröffentlicht|erschienen|erstellt|datum|letzte\s+änderung|"
    r"stand\s+der\s+information)\b(?:\s+(?:am|vom))?\s*:?\s*", re.IGNORECASE)
_BYLINE = re.compile(r"^\W*(?:von|text|autor|autorin|redaktion|pressestelle|"
                     r"pressemitteilung)\b", re.IGNORECASE)


def parse_date(text: str) -> str | None:
    """The first date written in ``text`` as ISO ("2025-03-12", or "2025-03" when only
    month and year are given); None when there is none or it cannot be a real day."""
    for match in _DATE.finditer(text):
        found = _iso(match)
        if found:
            return found
    return None


def _iso(match: re.Match[str]) -> str | None:
    groups = match.groupdict()
    if groups["iso_y"]:
        year, month, day = groups["iso_y"], groups["iso_m"], groups["iso_d"]
    elif groups["num_y"]:
        year, month, day = groups["num_y"], groups["num_m"], groups["num_d"]
        if len(year) == 2:
            year = f"20{year}"
    elif groups["word_y"]:
        year, day = groups["word_y"], groups["word_d"]
        month = str(_MONTHS[groups["word_m"].lower()])
    else:
        year, month, day = groups["slash_y"], groups["slash_m"], None
    try:
        if day:
            return date(int(year), int(month), int(day)).isoformat()
        date(int(year), int(month), 1)
    except ValueError:
        return None  # "31.02.2025", "Kapitel 3.14.2025"
    return f"{int(year):04d}-{int(month):02d}"


def date_in_text(text: str) -> str | None:
    """The document's date as its text states it: a labelled line ("Stand: …") among the
    first or last lines, then a dateline among the first lines, then a byline with a
    date; None when the text gives none of these."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    head, tail = lines[:HEAD_LINES], lines[-TAIL_LINES:]
    for line in [*head, *tail]:
        label = _LABEL.match(line)
        if label and len(line) <= 120:
            found = parse_date(line[label.end():])
            if found:
                return found
    for line in head:
        if is_dateline(line) and len(line) <= 120:
            found = parse_date(line)
            if found:
                return found
    for line in head:
        if _BYLINE.match(line) and len(line) <= 160:
            found = parse_date(line)
            if found:
                return found
    return None

