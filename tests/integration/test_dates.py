"""As of when: dates found per format and per text pattern, in the documented order, on
files the tests write themselves; the ingest's count of undated documents; the date in
answers and the newer source first (real ingests, real embedding model)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ingest.readers import read_file
from ingest.readers.dates import date_in_text, parse_date
from tests.documents import make_pdf

MAX_BYTES = 10_000_000


def read_date(path: Path) -> str:
    return read_file(path, max_bytes=MAX_BYTES).date


# --------------------------------------------------------------------------- patterns


@pytest.mark.parametrize(("written", "iso"), [
    ("12.03.2025", "2025-03-12"),
    ("12.3.25", "2025-03-12"),
    ("3. März 2025", "2025-03-03"),
    ("3. Maerz 2025", "2025-03-03"),
    ("Oktober 2024", "2024-10"),
    ("Okt. 2024", "2024-10"),
    ("03/2025", "2025-03"),
    ("2025-11-28", "2025-11-28"),
    ("2025-11-28T09:30:00+01:00", "2025-11-28"),
    ("31.02.2025", None),  # no such day
    ("Kapitel 3 von 12", None),
])
def test_written_dates_parse_to_iso(written: str, iso: str | None) -> None:
    assert parse_date(written) == iso


@pytest.mark.parametrize(("text", "iso"), [
    # a labelled line, at the top or at the end of the page
    ("Projektseite\n\nStand: 12.03.2025\n\nDas Projekt läuft.", "2025-03-12"),
    ("Projektseite\n\nDas Projekt läuft seit 2019.\n\nStand: Oktober 2024", "2024-10"),
    ("Leitfaden\n\nZuletzt aktualisiert am 4. Februar 2025\n\nText.", "2025-02-04"),
    ("Meldung\n\nVeröffentlicht: 2025-01-15\n\nText.", "2025-01-15"),
    # a dateline
    ("Montag, 3. März 2025\n\nDie Stadt stellt ihr Projekt vor.", "2025-03-03"),
    ("4. Februar 2025, 09:30 Uhr | Pressestelle\n\nDer Kreis informiert.", "2025-02-04"),
    # a press release dated from a place
    ("Pressemitteilung der Gemeinde Oberweißach\nOberweißach, 14. März 2026\n\nText.",
     "2026-03-14"),
    ("Frankfurt am Main, den 3.4.2025\n\nDie Stadt informiert.", "2025-04-03"),
    # a byline with a date
    ("Neue Chatbots\n\nVon Anna Beispiel, 5. Mai 2024\n\nDie Stadt startet.", "2024-05-05"),
    # "Stand:" wins over a dateline above it: it says as of when the page holds
    ("1. Januar 2024\n\nSeite\n\nStand: 1. Juli 2024", "2024-07-01"),
    # a date inside running text is an event, not the document's date
    ("Bericht\n\nDie Tagung fand am 28. November 2025 in Gelsenkirchen statt.", None),
    ("Nur Text ohne jedes Datum.", None),
])
def test_text_patterns(text: str, iso: str | None) -> None:
    assert date_in_text(text) == iso


# --------------------------------------------------------------------------- formats


def test_markdown_front_matter_wins_over_text(tmp_path: Path) -> None:
    path = tmp_path / "seite.md"
    path.write_text("---\ntitle: Seite\ndate: 2025-06-01\n---\n# Seite\n\nStand: 01.01.2020\n\n"
                    "Text.\n", encoding="utf-8")
    assert read_date(path) == "2025-06-01"


def test_markdown_without_front_matter_date_reads_the_text(tmp_path: Path) -> None:
    path = tmp_path / "seite.md"
    path.write_text("---\ntitle: Seite\n---\n# Seite\n\nText über das Projekt.\n\n"
                    "Stand: 15.06.2024\n", encoding="utf-8")
    assert read_date(path) == "2024-06-15"


def test_text_file_dateline_and_no_date(tmp_path: Path) -> None:
    dated = tmp_path / "meldung.txt"
    dated.write_text("Stadt Beispiel startet Chatbot\n\nDienstag, 4. März 2025\n\n"
                     "Der Chatbot beantwortet Fragen.\n", encoding="utf-8")
    undated = tmp_path / "notiz.txt"
    undated.write_text("Eine Notiz ohne Datum.\n\nNoch ein Absatz.\n", encoding="utf-8")
    assert read_date(dated) == "2025-03-04"
    assert read_date(undated) == ""  # not the file's modification time


def _pdf_without_metadata(path: Path, lines: list[str]) -> Path:
    """reportlab stamps every PDF with its creation time: copied page by page with pypdf,
    the file carries no date of its own."""
    from pypdf import PdfReader, PdfWriter

    source = make_pdf(path.with_suffix(".orig.pdf"), [lines])
    writer = PdfWriter()
    for page in PdfReader(str(source)).pages:
        writer.add_page(page)
    with open(path, "wb") as handle:
        writer.write(handle)
    source.unlink()
    return path


def test_pdf_metadata_then_text(tmp_path: Path) -> None:
    stamped = make_pdf(tmp_path / "bericht.pdf", [["Bericht", "Stand: 01.01.2020", "Text."]])
    # reportlab wrote the creation date (today): the file's own metadata wins over the text
    assert read_date(stamped) == dt.date.today().isoformat()
    plain = _pdf_without_metadata(tmp_path / "plain.pdf",
                                  ["Jahresbericht", "Stand: 30.09.2024", "Der Bericht."])
    assert read_date(plain) == "2024-09-30"
    bare = _pdf_without_metadata(tmp_path / "bare.pdf", ["Ein Bericht ohne Datum."])
    assert read_date(bare) == ""


def test_docx_metadata_then_text(tmp_path: Path) -> None:
    import docx

    stamped = docx.Document()
    stamped.core_properties.created = dt.datetime(2024, 5, 2, 8, 0)
    stamped.core_properties.modified = dt.datetime(2024, 9, 1, 8, 0)
    stamped.add_paragraph("Stand: 01.01.2020")
    stamped.add_paragraph("Der Leitfaden gilt für alle Ämter.")
    stamped.save(str(tmp_path / "leitfaden.docx"))
    assert read_date(tmp_path / "leitfaden.docx") == "2024-09-01"  # the later change

    plain = docx.Document()  # python-docx's template stamp (2013) is no date of its own
    plain.add_paragraph("Dienstanweisung KI")
    plain.add_paragraph("Stand: März 2025")
    plain.add_paragraph("Die Anweisung regelt den Einsatz von KI.")
    plain.save(str(tmp_path / "anweisung.docx"))
    assert read_date(tmp_path / "anweisung.docx") == "2025-03"


@pytest.mark.parametrize(("head", "body", "iso"), [
    ('<meta name="date" content="2025-06-30">', "<p>Text.</p>", "2025-06-30"),
    ('<meta property="article:published_time" content="2024-02-01T10:00:00Z">',
     "<p>Text.</p>", "2024-02-01"),
    ("", '<header><time datetime="2023-07-14">14. Juli 2023</time></header><p>Text.</p>',
     "2023-07-14"),
    ("", "<p>Meldung der Stadt</p><p>Stand: 12.12.2024</p><p>Text.</p>", "2024-12-12"),
    ("", "<p>Nur Text.</p>", ""),
])
def test_html_metadata_then_text(tmp_path: Path, head: str, body: str, iso: str) -> None:
    path = tmp_path / "seite.html"
    path.write_text(f"<html><head><title>Seite</title>{head}</head><body><main>{body}</main>"
                    "</body></html>", encoding="utf-8")
    assert read_date(path) == iso
