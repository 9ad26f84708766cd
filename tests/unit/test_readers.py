"""Every reader on a real file of its format, written by the test itself."""

from __future__ import annotations

import codecs
import datetime as dt
import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.readers import SUPPORTED_EXTENSIONS, ParsedDocument, read_file
from rag.errors import ReaderError
from tests.documents import encrypted_pdf, make_pdf

MAX_BYTES = 10_000_000


def read(path: Path) -> ParsedDocument:
    return read_file(path, max_bytes=MAX_BYTES)


def section_text(document: ParsedDocument, location: str) -> str:
    matches = [s for s in document.sections if s.location == location]
    assert len(matches) == 1, (location, document.sections)
    return document.text[matches[0].start : matches[0].end]


def assert_sections_valid(document: ParsedDocument) -> None:
    """Spans lie within the text, are non-empty, ordered and without outer whitespace."""
    assert document.sections, "a document with text has at least one section"
    previous_end = 0
    for section in document.sections:
        assert 0 <= section.start < section.end <= len(document.text), section
        assert section.start >= previous_end, "sections overlap or are out of order"
        body = document.text[section.start : section.end]
        assert body.strip(), section
        assert body == body.strip(), f"section {section} has outer whitespace: {body!r}"
        previous_end = section.end


# --------------------------------------------------------------------------- PDF


def test_pdf_two_pages_with_umlauts_become_page_sections(tmp_path: Path) -> None:
    path = make_pdf(
        tmp_path / "bericht.pdf",
        [
            ["Die Größe der Fläche", "Maßnahme für Bürger"],
            ["Straße und Verkehr", "Öffentliche Übergänge"],
        ],
        title="Bericht über Flächen und Straßen",
    )
    document = read(path)

    # pypdf extracts reportlab's Helvetica (WinAnsiEncoding) umlauts and ß exactly
    assert document.text == (
        "Die Größe der Fläche\nMaßnahme für Bürger\n\nStraße und Verkehr\nÖffentliche Übergänge"
    )
    assert [s.location for s in document.sections] == ["Seite 1", "Seite 2"]
    page1 = section_text(document, "Seite 1")
    page2 = section_text(document, "Seite 2")
    assert "Die Größe der Fläche" in page1
    assert "Maßnahme für Bürger" in page1
    assert "Straße" not in page1
    assert "Straße und Verkehr" in page2
    assert "Öffentliche Übergänge" in page2
    assert "Fläche" not in page2
    assert document.title == "Bericht über Flächen und Straßen"
    assert document.type == "dokument"
    assert document.source == "bericht.pdf"
    # reportlab writes a /CreationDate of "now"; the reader turns it into YYYY-MM-DD
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", document.date)
    assert abs(dt.date.fromisoformat(document.date) - dt.date.today()) <= dt.timedelta(days=1)
    assert_sections_valid(document)


def test_pdf_without_title_metadata_uses_file_name(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    source = make_pdf(tmp_path / "quelle.pdf", [["Haushaltsplan der Stadt"]])
    writer = PdfWriter()
    for page in PdfReader(str(source)).pages:
        writer.add_page(page)
    target = tmp_path / "haushalt_plan-2025.pdf"
    with target.open("wb") as handle:
        writer.write(handle)

    document = read(target)
    assert document.text == "Haushaltsplan der Stadt"
    assert document.title == "haushalt plan 2025"


def test_pdf_rejoins_words_hyphenated_at_line_end(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "trennung.pdf", [["Die Verwal-", "tung prüft den Antrag."]])
    document = read(path)
    assert document.text == "Die Verwaltung prüft den Antrag."


def test_pdf_page_without_text_gets_no_section(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "leer.pdf", [["Erste Seite mit Text"], [], ["Dritte Seite"]])
    document = read(path)
    assert [s.location for s in document.sections] == ["Seite 1", "Seite 3"]
    assert section_text(document, "Seite 3") == "Dritte Seite"
    assert_sections_valid(document)


@pytest.mark.parametrize(
    "make_bytes",
    [
        pytest.param(lambda real: random.Random(7).randbytes(4096), id="random-bytes"),
        pytest.param(lambda real: real[: len(real) // 2], id="truncated"),
        pytest.param(lambda real: b"%PDF-1.4\n" + b"kaputt " * 50, id="header-only"),
    ],
)
def test_corrupt_pdf_raises_reader_error_naming_pdf(
    tmp_path: Path, make_bytes: Callable[[bytes], bytes]
) -> None:
    real = make_pdf(tmp_path / "echt.pdf", [["Die Größe der Fläche"]]).read_bytes()
    path = tmp_path / "kaputt.pdf"
    path.write_bytes(make_bytes(real))
    with pytest.raises(ReaderError, match="PDF") as error:
        read(path)
    assert "corrupt" in str(error.value)
    assert "\n" not in str(error.value)


def test_pdf_encrypted_with_empty_user_password_is_read(tmp_path: Path) -> None:
    path = encrypted_pdf(tmp_path / "offen.pdf", user_password="",
                         text="Öffentlicher Bericht über Straßen")
    assert read(path).text == "Öffentlicher Bericht über Straßen"


def test_password_protected_pdf_is_reported_as_such(tmp_path: Path) -> None:
    path = encrypted_pdf(tmp_path / "geheim.pdf", user_password="geheim",
                         text="Vertraulicher Bericht")
    with pytest.raises(ReaderError, match="password-protected"):
        read(path)


# --------------------------------------------------------------------------- DOCX


def make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.core_properties.title = "Leitfaden Bürgerservice"
    document.core_properties.created = dt.datetime(2025, 3, 14, 9, 30)
    document.add_heading("Einleitung für Ämter", level=1)
    document.add_paragraph("Die Verwaltung prüft Anträge zügig. Bürger erhalten Auskunft.")
    document.add_paragraph("Ein zweiter Absatz über Öffnungszeiten.")
    document.add_heading("Zuständigkeiten", level=2)
    document.add_paragraph("Die folgende Tabelle zeigt die Ämter.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Amt"
    table.cell(0, 1).text = "Telefon"
    table.cell(1, 0).text = "Straßenverkehrsamt"
    table.cell(1, 1).text = "0211 12345"
    document.add_paragraph("Schlussbemerkung nach der Tabelle.")
    document.save(str(path))
    return path


def test_docx_headings_paragraphs_and_table(tmp_path: Path) -> None:
    document = read(make_docx(tmp_path / "leitfaden.docx"))

    assert document.title == "Leitfaden Bürgerservice"
    assert document.date == "2025-03-14"
    assert document.source == "leitfaden.docx"
    assert [s.location for s in document.sections] == ["Einleitung für Ämter", "Zuständigkeiten"]
    intro = section_text(document, "Einleitung für Ämter")
    assert intro == (
        "Die Verwaltung prüft Anträge zügig. Bürger erhalten Auskunft.\n\n"
        "Ein zweiter Absatz über Öffnungszeiten."
    )
    duties = section_text(document, "Zuständigkeiten")
    assert "Die folgende Tabelle zeigt die Ämter." in duties
    assert "Amt | Telefon" in duties
    assert "Straßenverkehrsamt | 0211 12345" in duties
    assert duties.endswith("Schlussbemerkung nach der Tabelle.")
    # headings stay in the text but not in their section's span
    assert document.text.startswith("Einleitung für Ämter\n\n")
    assert "Zuständigkeiten" not in duties
    assert_sections_valid(document)


def test_docx_without_title_property_uses_first_heading(tmp_path: Path) -> None:
    import docx

    path = tmp_path / "ohne_titel.docx"
    document = docx.Document()
    document.core_properties.title = ""
    document.add_heading("Satzung über Gebühren", level=1)
    document.add_paragraph("Die Gebühr beträgt 20 Euro.")
    document.save(str(path))

    parsed = read(path)
    assert parsed.title == "Satzung über Gebühren"
    assert section_text(parsed, "Satzung über Gebühren") == "Die Gebühr beträgt 20 Euro."


def test_corrupt_docx_raises_reader_error(tmp_path: Path) -> None:
    path = tmp_path / "kaputt.docx"
    path.write_bytes(b"PK\x03\x04 kein echtes Zip-Archiv" * 20)
    with pytest.raises(ReaderError, match="DOCX"):
        read(path)


# --------------------------------------------------------------------------- text encodings

GERMAN = "Größe der Straße\n\nMaßnahme für Bürger: „Zitat“ kostet 5 €.\n"
GERMAN_TEXT = "Größe der Straße\n\nMaßnahme für Bürger: „Zitat“ kostet 5 €."


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(GERMAN.encode("cp1252"), id="windows-1252"),
        pytest.param(GERMAN.replace("\n", "\r\n").encode("cp1252"), id="windows-1252-crlf"),
        pytest.param(codecs.BOM_UTF8 + GERMAN.encode("utf-8"), id="utf-8-bom"),
        pytest.param(GERMAN.encode("utf-8"), id="utf-8"),
        pytest.param(GERMAN.encode("utf-16"), id="utf-16-bom"),
        pytest.param(codecs.BOM_UTF16_BE + GERMAN.encode("utf-16-be"), id="utf-16-be-bom"),
    ],
)
def test_text_encodings_decode_umlauts_quotes_and_euro(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "notiz.txt"
    path.write_bytes(raw)
    document = read(path)
    assert document.text == GERMAN_TEXT
    assert "\ufeff" not in document.text
    assert document.title == "Größe der Straße"
    assert document.source == "notiz.txt"
    assert [document.text[s.start : s.end] for s in document.sections] == [GERMAN_TEXT]
    assert_sections_valid(document)


def test_cp1252_bytes_are_really_cp1252(tmp_path: Path) -> None:
    """Guard for the test above: the file holds single-byte ö/ß/„/€, not UTF-8."""
    raw = GERMAN.encode("cp1252")
    assert b"\xf6" in raw and b"\xdf" in raw and b"\x84" in raw and b"\x80" in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")


def test_latin1_text(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    # \x81 is undefined in cp1252, so this file can only be decoded as Latin-1
    path.write_bytes("Größe der Straße\n\nMaßnahme für Bürger.".encode("latin-1") + b"\x81")
    document = read(path)
    assert document.text == "Größe der Straße\n\nMaßnahme für Bürger.\x81"
    path.write_bytes("Die Übergangsfrist für Bürger endet.".encode("latin-1"))
    assert read(path).text == "Die Übergangsfrist für Bürger endet."


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(random.Random(11).randbytes(4096), id="random"),
        pytest.param(b"abc\x00def\x00" * 200, id="nul-bytes"),
        pytest.param(bytes(range(1, 32)) * 50, id="control-chars"),
    ],
)
def test_binary_junk_named_txt_is_rejected(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "daten.txt"
    path.write_bytes(raw)
    with pytest.raises(ReaderError, match="binary"):
        read(path)


@pytest.mark.parametrize("raw", [b"", b"   \n\n\t  "], ids=["zero-bytes", "whitespace"])
def test_empty_file_is_rejected(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "leer.txt"
    path.write_bytes(raw)
    with pytest.raises(ReaderError, match="empty"):
        read(path)


def test_unsupported_extension_names_the_type(tmp_path: Path) -> None:
    path = tmp_path / "tabelle.xyz"
    path.write_text("Inhalt", encoding="utf-8")
    with pytest.raises(ReaderError, match=r"unsupported file type '\.xyz'") as error:
        read(path)
    for extension in SUPPORTED_EXTENSIONS:
        assert extension in str(error.value)


def test_missing_file_raises_reader_error(tmp_path: Path) -> None:
    with pytest.raises(ReaderError, match="cannot read file"):
        read(tmp_path / "fehlt.txt")


def test_file_larger_than_max_bytes_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "gross.txt"
    path.write_text("Größe " * 300_000, encoding="utf-8")  # 8 bytes each: 2.4 MB
    size = path.stat().st_size
    assert size == 2_400_000
    with pytest.raises(ReaderError, match="larger than the limit of 2 MB"):
        read_file(path, max_bytes=2_000_000)
    with pytest.raises(ReaderError, match="larger than the limit"):
        read_file(path, max_bytes=size - 1)
    assert read_file(path, max_bytes=size).text.startswith("Größe Größe")


def test_size_limit_message_names_the_real_limit(tmp_path: Path) -> None:
    path = tmp_path / "gross.txt"
    path.write_text("Größe " * 100_000, encoding="utf-8")  # 700 kB
    with pytest.raises(ReaderError) as error:
        read_file(path, max_bytes=500_000)
    stated = re.search(r"limit of ([\d.]+) MB", str(error.value))
    assert stated is not None
    assert float(stated.group(1)) * 1_000_000 == 500_000


# --------------------------------------------------------------------------- Markdown

MARKDOWN = """---
title: Solarpflicht in Herten
date: 2025-11-28
type: prototyp
source: https://example.org/herten
tags:
  - Energie
  - Klimaschutz
---

# Solarpflicht Überblick

Die Stadt prüft Dächer mit KI. Das spart Zeit.

## Verfahren

Erst wird gemessen.
Dann wird bewertet.

```
# kein Heading im Codeblock
```

## Ergebnis ##

Es läuft gut.
"""


def test_markdown_front_matter_and_headings(tmp_path: Path) -> None:
    path = tmp_path / "herten.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    document = read(path)

    assert document.title == "Solarpflicht in Herten"
    assert document.date == "2025-11-28"
    assert document.type == "prototyp"
    assert document.source == "https://example.org/herten"
    assert document.tags == ["Energie", "Klimaschutz"]
    assert "---" not in document.text
    assert "title:" not in document.text and "Klimaschutz" not in document.text
    assert document.text.startswith("# Solarpflicht Überblick\n\n")
    assert [s.location for s in document.sections] == [
        "Solarpflicht Überblick",
        "Verfahren",
        "Ergebnis",
    ]
    assert section_text(document, "Solarpflicht Überblick") == (
        "Die Stadt prüft Dächer mit KI. Das spart Zeit."
    )
    procedure = section_text(document, "Verfahren")
    assert procedure.startswith("Erst wird gemessen.\nDann wird bewertet.")
    assert "# kein Heading im Codeblock" in procedure  # fenced code is not a heading
    assert section_text(document, "Ergebnis") == "Es läuft gut."
    assert_sections_valid(document)


def test_markdown_datetime_and_comma_tags(tmp_path: Path) -> None:
    path = tmp_path / "notiz.md"
    path.write_text(
        "---\ndate: 2025-01-02 10:30:00\ntags: Verkehr, Parken ,ÖPNV\n---\n\nText über Parken.\n",
        encoding="utf-8",
    )
    document = read(path)
    assert document.date == "2025-01-02"
    assert document.tags == ["Verkehr", "Parken", "ÖPNV"]
    assert document.type == "dokument"
    assert document.source == "notiz.md"
    assert document.text == "Text über Parken."


def test_markdown_without_front_matter_takes_first_h1_as_title(tmp_path: Path) -> None:
    path = tmp_path / "ohne-front-matter.md"
    path.write_text(
        "Vorwort ohne Überschrift.\n\n## Unterkapitel\n\nErster Text.\n\n"
        "# Hauptkapitel Bürgerbeteiligung\n\nZweiter Text.\n\n# Anhang\n\nDritter Text.\n",
        encoding="utf-8",
    )
    document = read(path)
    assert document.title == "Hauptkapitel Bürgerbeteiligung"
    assert document.tags == []
    assert [s.location for s in document.sections] == [
        "",
        "Unterkapitel",
        "Hauptkapitel Bürgerbeteiligung",
        "Anhang",
    ]
    assert section_text(document, "") == "Vorwort ohne Überschrift."
    assert section_text(document, "Hauptkapitel Bürgerbeteiligung") == "Zweiter Text."
    assert_sections_valid(document)


def test_markdown_without_any_heading_uses_file_name(tmp_path: Path) -> None:
    path = tmp_path / "protokoll_sitzung-mai.md"
    path.write_text("Nur ein Absatz.\n", encoding="utf-8")
    assert read(path).title == "protokoll sitzung mai"


@pytest.mark.parametrize(
    ("front_matter", "message"),
    [
        ("title: [nicht geschlossen\n", "invalid YAML front matter"),
        ("title: a: b: c\n", "invalid YAML front matter"),
        ("- eine\n- Liste\n", "not a mapping"),
    ],
)
def test_markdown_invalid_front_matter_raises(
    tmp_path: Path, front_matter: str, message: str
) -> None:
    path = tmp_path / "kaputt.md"
    path.write_text(f"---\n{front_matter}---\n\n# Titel\n\nText.\n", encoding="utf-8")
    with pytest.raises(ReaderError, match=message):
        read(path)


def test_markdown_with_only_front_matter_raises(tmp_path: Path) -> None:
    path = tmp_path / "leer.md"
    path.write_text("---\ntitle: Nur Metadaten\n---\n", encoding="utf-8")
    with pytest.raises(ReaderError, match="no text besides its front matter"):
        read(path)


# --------------------------------------------------------------------------- HTML

HTML = """<!DOCTYPE html>
<html lang="de"><head><meta charset="utf-8">
<title>Bürgerservice Herten</title>
<meta name="date" content="2025-06-30T10:00:00">
<style>body { color: red; } .STILREGEL { display: none; }</style>
<script>var tracking = "SKRIPTTEXT";</script>
</head><body>
<header><p>Kopfzeile Logo Stadtverwaltung</p></header>
<nav><ul><li>Startseite Navigation</li><li>Impressum Link</li></ul></nav>
<main>
<h1>Digitale Anträge</h1>
<p>Bürgerinnen und Bürger stellen Anträge online. Das spart Wege.</p>
<h2>Voraussetzungen</h2>
<ul><li>Ein gültiger Personalausweis</li><li>Eine E-Mail-Adresse für Rückfragen</li></ul>
<p>Fragen beantwortet das <a href="#">Bürgerbüro</a> gern.</p>
<script>console.log("INLINESKRIPT")</script>
</main>
<footer><p>Fußzeile Copyright 2025</p></footer>
</body></html>"""


def test_html_keeps_main_content_and_drops_chrome(tmp_path: Path) -> None:
    path = tmp_path / "seite.html"
    path.write_text(HTML, encoding="utf-8")
    document = read(path)

    assert document.title == "Bürgerservice Herten"
    assert document.date == "2025-06-30"
    assert document.text == (
        "Digitale Anträge\n\n"
        "Bürgerinnen und Bürger stellen Anträge online. Das spart Wege.\n\n"
        "Voraussetzungen\n\n"
        "Ein gültiger Personalausweis\n\n"
        "Eine E-Mail-Adresse für Rückfragen\n\n"
        "Fragen beantwortet das Bürgerbüro gern."
    )
    for dropped in (
        "SKRIPTTEXT",
        "INLINESKRIPT",
        "STILREGEL",
        "color",
        "Kopfzeile",
        "Navigation",
        "Impressum",
        "Fußzeile",
        "Copyright",
    ):
        assert dropped not in document.text
    assert [s.location for s in document.sections] == ["Digitale Anträge", "Voraussetzungen"]
    assert section_text(document, "Voraussetzungen").startswith("Ein gültiger Personalausweis")
    assert_sections_valid(document)


def test_html_in_windows_1252_without_blocks(tmp_path: Path) -> None:
    path = tmp_path / "alt.htm"
    path.write_bytes(
        "<html><head><title>Größe</title></head><body><div>Maßnahme für Bürger</div>"
        "<div>Zweite Zeile „zitiert“</div></body></html>".encode("cp1252")
    )
    document = read(path)
    assert document.title == "Größe"
    assert document.text == "Maßnahme für Bürger\n\nZweite Zeile „zitiert“"
    assert [s.location for s in document.sections] == ["Größe"]
    assert_sections_valid(document)


def test_html_without_visible_text_raises(tmp_path: Path) -> None:
    path = tmp_path / "leer.html"
    path.write_text(
        "<html><head><title>T</title><script>var x = 1;</script></head>"
        "<body><nav>Menü</nav></body></html>",
        encoding="utf-8",
    )
    with pytest.raises(ReaderError, match="no visible text"):
        read(path)


# --------------------------------------------------------------------------- all readers


def _pdf(tmp_path: Path) -> Path:
    return make_pdf(
        tmp_path / "a.pdf", [["Die Größe der Fläche"], ["Straße und Verkehr"]], title="T"
    )


def _docx(tmp_path: Path) -> Path:
    return make_docx(tmp_path / "a.docx")


def _markdown(tmp_path: Path) -> Path:
    path = tmp_path / "a.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    return path


def _html(tmp_path: Path) -> Path:
    path = tmp_path / "a.html"
    path.write_text(HTML, encoding="utf-8")
    return path


def _text(tmp_path: Path) -> Path:
    path = tmp_path / "a.txt"
    path.write_bytes(("Erster Absatz.\r\n\r\n\r\n  Zweiter Absatz.  \r\n\r\n" * 3).encode("cp1252"))
    return path


@pytest.mark.parametrize(
    "make", [_pdf, _docx, _markdown, _html, _text], ids=["pdf", "docx", "markdown", "html", "text"]
)
def test_every_reader_yields_valid_section_spans(
    tmp_path: Path, make: Callable[[Path], Path]
) -> None:
    document = read(make(tmp_path))
    assert_sections_valid(document)
    covered = "".join(document.text[s.start : s.end] for s in document.sections)
    assert len(covered) > 10
    # a date the document states ("YYYY-MM-DD" or "YYYY-MM"), or none ("ohne Datum"):
    # never the file's modification time
    assert re.fullmatch(r"(?:\d{4}-\d{2}(?:-\d{2})?)?", document.date)
    assert document.title


# --------------------------------------------------------------------------- readable titles


@pytest.mark.parametrize(("name", "content", "title", "source"), [
    ("gespeichert.txt",
     "https://www.stadt-beispiel.de/aktuelles/rufbus\n\nRufbus startet in Kötzting\n\n"
     "Der Rufbus fährt ab dem 1. März 2025 auf Bestellung.\n",
     "Rufbus startet in Kötzting", "https://www.stadt-beispiel.de/aktuelles/rufbus"),
    ("pressemitteilung.txt",
     "Quelle: Stadt Kötzting, Pressestelle\nNeue Öffnungszeiten im Bürgerbüro\n\n"
     "Ab Montag öffnet das Bürgerbüro schon um 7 Uhr.\n",
     "Neue Öffnungszeiten im Bürgerbüro", "Stadt Kötzting, Pressestelle"),
    ("protokoll_sitzung.txt",
     "Der Ausschuss hat in seiner Sitzung am Dienstag beschlossen, dass die Verwaltung "
     "bis zum Herbst ein Konzept für den Rufbus vorlegt.\n",
     "protokoll sitzung", "protokoll_sitzung.txt"),
])
def test_text_titles_read_like_titles(tmp_path: Path, name: str, content: str, title: str,
                                      source: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    document = read_file(path, max_bytes=1_000_000)
    assert document.title == title
    assert document.source == source
    assert "http" not in document.text and "Quelle:" not in document.text


@pytest.mark.parametrize(("head", "heading", "title", "source"), [
    ('<title>Rufbus startet | Stadt Kötzting</title>'
     '<link rel="canonical" href="https://www.koetzting.de/rufbus">',
     "Rufbus startet", "Rufbus startet", "https://www.koetzting.de/rufbus"),
    ("<title>https://www.example.de/artikel/4711</title>", "Neue Mobilität im Kreis",
     "Neue Mobilität im Kreis", "seite.html"),
    ('<title>Haushalt 2026 – Gemeinde Musterdorf</title>'
     '<meta property="og:url" content="https://musterdorf.de/haushalt">', "",
     "Haushalt 2026", "https://musterdorf.de/haushalt"),
])
def test_html_titles_are_the_pages_own_name(tmp_path: Path, head: str, heading: str,
                                            title: str, source: str) -> None:
    path = tmp_path / "seite.html"
    body = f"<h1>{heading}</h1>" if heading else ""
    path.write_text(f"<html><head>{head}</head><body><main>{body}"
                    "<p>Der Kreis stellt sein Vorhaben vor.</p></main></body></html>",
                    encoding="utf-8")
    document = read_file(path, max_bytes=1_000_000)
    assert document.title == title
    assert document.source == source
