"""Versions and years, through real ingests with the real embedding model: dates of every
format in the index and the report, the newer source leading an answer, `ersetzt:`
retiring a document (and deleting the newer bringing it back), the dry run predicting
the run exactly without changing anything, and a large removal needing --yes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ingest import Ingestor, plan_ingest
from ingest.versions import declare_replacement
from rag.answering import OLDER_LABEL, Assistant
from rag.providers.vectorstore import DataDir
from tests.documents import make_pdf

if TYPE_CHECKING:
    from rag.providers.embedding import Embedder
    from tests.conftest import SettingsFor

REPO = Path(__file__).resolve().parents[2]

BUS_2023 = """---
title: "Jahresbericht Bürgerbus Beispielstadt 2023"
date: "2023-12-01"
type: projektmeldung
---
# Jahresbericht Bürgerbus Beispielstadt 2023

Der Bürgerbus der Stadt Beispielstadt beförderte im Jahr 2023 insgesamt 4.200 Fahrgäste.
Die Fahrten bucht man telefonisch oder über die App der Stadt.
"""
BUS_2024 = """---
title: "Jahresbericht Bürgerbus Beispielstadt 2024"
date: "2024-12-02"
type: projektmeldung
---
# Jahresbericht Bürgerbus Beispielstadt 2024

Der Bürgerbus der Stadt Beispielstadt beförderte im Jahr 2024 insgesamt 6.900 Fahrgäste.
Die Fahrten bucht man telefonisch oder über die App der Stadt.
"""
PAGE_V1 = """---
title: "Projekt Sensorampel Beispielstadt"
date: "2023-04-01"
type: projektmeldung
---
# Projekt Sensorampel Beispielstadt

Die Sensorampel der Stadt Beispielstadt erkennt Radfahrende mit KI und schaltet früher auf
Grün. Das Budget der Sensorampel beträgt 50.000 Euro.
"""
PAGE_V2 = """---
title: "Projekt Sensorampel Beispielstadt"
date: "2024-05-01"
type: projektmeldung
ersetzt: sensorampel.md
---
# Projekt Sensorampel Beispielstadt

Die Sensorampel der Stadt Beispielstadt erkennt Radfahrende mit KI und schaltet früher auf
Grün. Das Budget der Sensorampel beträgt 75.000 Euro.
"""
OTHER = """---
title: "Digitale Bauakte im Kreis Beispiel"
date: "2025-02-01"
type: projektmeldung
---
# Digitale Bauakte im Kreis Beispiel

Der Kreis Beispiel scannt alte Bauakten und lässt sie von einer KI nach Art des Vorgangs
sortieren. So finden Sachbearbeitende Genehmigungen schneller.
"""


def write_dated_formats(folder: Path) -> None:
    """One dated document per format, and one text file without any date."""
    import docx

    (folder / "bus-2023.md").write_text(BUS_2023, encoding="utf-8")
    (folder / "bus-2024.md").write_text(BUS_2024, encoding="utf-8")
    (folder / "other.md").write_text(OTHER, encoding="utf-8")
    (folder / "meldung.txt").write_text(
        "Stadt Beispiel startet Chatbot\n\nDienstag, 4. März 2025\n\n"
        "Der Chatbot der Stadt Beispiel beantwortet Fragen zum Müllkalender.\n", encoding="utf-8")
    (folder / "notiz.txt").write_text("Eine Notiz über Parkausweise, ohne Datum.\n",
                                      encoding="utf-8")
    (folder / "seite.html").write_text(
        "<html><head><title>Wohngeld digital</title><meta name='date' content='2024-08-20'>"
        "</head><body><main><p>Das Wohngeld beantragen Bürger in Beispielstadt online.</p>"
        "</main></body></html>", encoding="utf-8")
    document = docx.Document()
    document.add_paragraph("Dienstanweisung KI-Nutzung")
    document.add_paragraph("Stand: März 2025")
    document.add_paragraph("Beschäftigte dürfen Textassistenten nur ohne personenbezogene "
                           "Daten nutzen.")
    document.save(str(folder / "anweisung.docx"))
    make_pdf(folder / "haushalt.pdf", [["Haushaltsplan Digitalisierung",
                                        "Der Plan sieht 2 Mio. Euro für KI vor."]])


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    write_dated_formats(folder)
    return folder


def index_fingerprint(data: Path) -> dict[str, str]:
    """Every file of the data directory with its SHA-256."""
    return {str(p.relative_to(data)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(data.rglob("*")) if p.is_file()}


def comparable(report: Any) -> dict[str, Any]:
    """What a dry run must predict of the real run."""
    data = report.as_dict()
    return {**{key: data[key] for key in ("added", "updated", "unchanged", "removed", "failed",
                                          "undated", "replaced", "restored")},
            "ids": (sorted(report.added_ids), sorted(report.updated_ids),
                    sorted(report.removed_ids))}


@pytest.fixture
def assistant_for(embedder: Embedder) -> Iterator[Any]:
    opened: list[Any] = []

    def make(settings: Any) -> Any:
        assistant = Assistant.open(settings, data_dir=DataDir(settings), embedder=embedder)
        opened.append(assistant)
        return assistant

    yield make
    for assistant in opened:
        assistant.close()


def test_every_format_keeps_its_date_and_the_report_counts_undated(
        corpus: Path, settings_for: SettingsFor, embedder: Embedder) -> None:
    settings = settings_for(corpus, llm="none")
    report = Ingestor(settings, embedder, DataDir(settings)).run()
    assert report.failed == []
    assert report.undated == 1  # notiz.txt
    assert report.as_dict()["undated"] == 1
    index = DataDir(settings).open_current()
    try:
        dates = {}
        for page in index.chunk_pages(500, texts=False):
            for meta in page.metadatas:
                dates[meta["doc_id"]] = meta["date"]
    finally:
        index.close()
    import datetime as dt

    assert dates == {"bus-2023.md": "2023-12-01", "bus-2024.md": "2024-12-02",
                     "other.md": "2025-02-01", "meldung.txt": "2025-03-04", "notiz.txt": "",
                     "seite.html": "2024-08-20", "anweisung.docx": "2025-03",
                     "haushalt.pdf": dt.date.today().isoformat()}


def test_newer_source_leads_and_the_older_is_named(
        corpus: Path, settings_for: SettingsFor, embedder: Embedder, assistant_for: Any) -> None:
    settings = settings_for(corpus, llm="none")
    Ingestor(settings, embedder, DataDir(settings)).run()
    answerer = assistant_for(settings).answerer

    answer = answerer.ask("Wie viele Fahrgäste beförderte der Bürgerbus in Beispielstadt?")
    assert not answer.refused
    lines = answer.answer.split("\n")[1:]
    assert "6.900" in lines[0] and "(Stand: 02.12.2024)" in lines[0]
    older = [line for line in lines if "4.200" in line]
    assert older and all(line.startswith(f"{OLDER_LABEL} (Stand: 01.12.2023)") for line in older)
    assert answer.citations[0].passage.doc_id == "bus-2024.md"

    # a question naming the year chose its report: no reordering
    pinned = answerer.ask("Wie viele Fahrgäste beförderte der Bürgerbus 2023?")
    assert "4.200" in pinned.answer.split("\n")[1]
    assert "6.900" not in pinned.answer


def test_replaced_document_no_longer_answers_until_the_newer_is_deleted(
        corpus: Path, settings_for: SettingsFor, embedder: Embedder, assistant_for: Any) -> None:
    (corpus / "sensorampel.md").write_text(PAGE_V1, encoding="utf-8")
    settings = settings_for(corpus, llm="none")
    ingestor = Ingestor(settings, embedder, DataDir(settings))
    ingestor.run()
    question = "Wie hoch ist das Budget der Sensorampel in Beispielstadt?"
    assert "50.000" in assistant_for(settings).answerer.ask(question).answer

    (corpus / "sensorampel-2024.md").write_text(PAGE_V2, encoding="utf-8")
    report = ingestor.run()
    assert [(r.doc_id, r.by) for r in report.replaced] == [("sensorampel.md",
                                                            "sensorampel-2024.md")]
    answer = assistant_for(settings).answerer.ask(question)
    assert "75.000" in answer.answer and "50.000" not in answer.answer
    assert {c.passage.doc_id for c in answer.citations} == {"sensorampel-2024.md"}
    index = DataDir(settings).open_current()
    try:  # kept and listed, not deleted
        assert "sensorampel.md" in index.file_states()
        assert index.replaced() == {"sensorampel.md": "sensorampel-2024.md"}
    finally:
        index.close()

    (corpus / "sensorampel-2024.md").unlink()
    plan = plan_ingest(settings, DataDir(settings), prune=True)
    report = ingestor.run(prune=True)
    assert report.restored == ["sensorampel.md"] == plan.restored
    assert "50.000" in assistant_for(settings).answerer.ask(question).answer


def test_admin_declared_replacement_for_a_file_without_front_matter(
        corpus: Path, settings_for: SettingsFor, embedder: Embedder) -> None:
    settings = settings_for(corpus, llm="none")
    ingestor = Ingestor(settings, embedder, DataDir(settings))
    ingestor.run()
    uploads = corpus / "uploads"
    uploads.mkdir()
    (uploads / "meldung-neu.txt").write_text(
        "Stadt Beispiel erweitert Chatbot\n\nStand: 1. Juli 2025\n\nDer Chatbot der Stadt "
        "Beispiel beantwortet nun auch Fragen zum Sperrmüll.\n", encoding="utf-8")
    declare_replacement(uploads, "meldung-neu.txt", "meldung.txt")
    planned = plan_ingest(settings, DataDir(settings))
    report = ingestor.run()
    assert [(r.doc_id, r.by) for r in report.replaced] == [("meldung.txt",
                                                            "uploads/meldung-neu.txt")]
    assert comparable(planned) == comparable(report)
    # the choice can be taken back without touching the file
    declare_replacement(uploads, "meldung-neu.txt", None)
    assert ingestor.run().restored == ["meldung.txt"]


def test_next_question_with_only_past_dates_is_refused_with_the_latest_known(
        corpus: Path, settings_for: SettingsFor, embedder: Embedder, assistant_for: Any) -> None:
    settings = settings_for(corpus, llm="none")
    Ingestor(settings, embedder, DataDir(settings)).run()
    answer = assistant_for(settings).answerer.ask(
        "Wann erscheint der nächste Jahresbericht zum Bürgerbus in Beispielstadt?")
    assert answer.refused
    assert "Zuletzt bekannt (Stand: 02.12.2024" in answer.answer


def test_dry_run_changes_nothing_and_predicts_the_run(
        corpus: Path, settings_for: SettingsFor, embedder: Embedder) -> None:
    (corpus / "sensorampel.md").write_text(PAGE_V1, encoding="utf-8")
    settings = settings_for(corpus, llm="none")
    data_dir = DataDir(settings)
    ingestor = Ingestor(settings, embedder, data_dir)
    ingestor.run()

    # every kind of change at once: new, changed, deleted, broken, replacing
    (corpus / "sensorampel-2024.md").write_text(PAGE_V2, encoding="utf-8")
    (corpus / "other.md").write_text(OTHER.replace("schneller", "viel schneller"),
                                     encoding="utf-8")
    (corpus / "notiz.txt").unlink()
    (corpus / "kaputt.pdf").write_bytes(b"%PDF-1.4 nicht wirklich")
    (corpus / "leer.md").write_text("", encoding="utf-8")

    before = index_fingerprint(settings.data_dir)
    chunks_before = data_dir.open_current().chunk_count()
    plan = plan_ingest(settings, data_dir, prune=True)
    assert index_fingerprint(settings.data_dir) == before
    assert DataDir(settings).open_current().chunk_count() == chunks_before

    assert plan.dry_run and plan.as_dict()["dry_run"] is True
    assert plan.as_dict()["documents"] == {"add": ["sensorampel-2024.md"],
                                           "update": ["other.md"], "remove": ["notiz.txt"]}
    assert sorted(f.path.rsplit("/", 1)[-1] for f in plan.failed) == ["kaputt.pdf", "leer.md"]
    report = ingestor.run(prune=True)
    assert comparable(plan) == comparable(report)


def _kora(*args: str, settings: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [
        str(REPO), os.environ.get("PYTHONPATH", "")])),
        "KORA_DATA_DIR": str(settings.data_dir), "KORA_CORPUS_DIR": str(settings.corpus_dir),
        "KORA_LLM": "none"}
    return subprocess.run([sys.executable, "-m", "ui.cli", *args], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=600, check=False)


def test_cli_dry_run_and_a_large_removal_needs_yes(
        corpus: Path, settings_for: SettingsFor, embedder: Embedder) -> None:
    settings = settings_for(corpus, llm="none")
    Ingestor(settings, embedder, DataDir(settings)).run()
    for name in ("notiz.txt", "seite.html", "other.md"):  # 3 of 8: more than 20 %
        (corpus / name).unlink()

    dry = _kora("ingest", "--prune", "--dry-run", "--json", settings=settings)
    assert dry.returncode == 0, dry.stderr
    planned = json.loads(dry.stdout)
    assert planned["removed"] == 3 and planned["dry_run"] is True
    assert planned["documents"]["remove"] == ["notiz.txt", "other.md", "seite.html"]

    refused = _kora("ingest", "--prune", "--json", settings=settings)
    assert refused.returncode == 2
    assert "--yes" in refused.stderr and "3 of 8" in refused.stderr
    assert DataDir(settings).open_current().chunk_count() > 0
    assert len(DataDir(settings).open_current().file_states()) == 8

    done = _kora("ingest", "--prune", "--yes", "--json", settings=settings)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["removed"] == 3
    from people import People

    audit = People.open(settings, purge_feedback=False).audit.entries()
    assert audit[-1]["action"] == "ingest-large-removal"
    assert {d["doc_id"] for d in audit[-1]["documents"]} == {"notiz.txt", "other.md",
                                                              "seite.html"}
