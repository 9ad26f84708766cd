"""Hybrid retrieval on the shipped corpus and on small folders written here: the right
document for paraphrases and typed umlauts, compound parts, filters, near-duplicates,
and the stage hook, with the real model and a real Chroma on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from rag.answering import Answerer
from rag.providers.embedding import Embedder
from rag.providers.vectorstore import DataDir
from rag.retrieval import Filters, Retriever
from rag.settings import Settings
from tests.conftest import CORPUS, Shipped

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # compounds split or joined differently than in the text
        ("Wer überprüft die Solarpflicht anhand von Luftbildern?", "prototypen/herten-solarpflicht.md"),
        ("Drohnenbilder von versiegelten Flächen und Gründächern", "prototypen/recklinghausen-versiegelung.md"),
        ("Prognose des Bedarfs an Rufbussen", "prototypen/osnabrueck-aimos.md"),
        ("Digitalisierung alter Bauakten im Archiv", "prototypen/heiligenhaus-bauakten.md"),
        ("Beratung zu Wärmepumpen und Photovoltaik", "prototypen/wittmund-smartenergie.md"),
        ("Sicherheit der kommunalen IT mit KI", "prototypen/solingen-it-sicherheit.md"),
        ("Warnung vor Bränden und der Freisetzung von Schadstoffen", "prototypen/schwerte-airguardai.md"),
        # umlauts typed as ae/oe/ue, ß as ss
        ("Chatbot fuer den Buergerservice in Bochum", "projekte/chatbots-buergerservice.md"),
        ("Gebaerdensprache mit 3D-Avataren", "projekte/mehrsprachigkeit-barrierefreiheit.md"),
        ("Kaept'n Knut in Stade", "projekte/chatbots-buergerservice.md"),
        # paraphrases and names
        ("Wer hat die Tagung in Gelsenkirchen eröffnet?", "konferenzen/jahrestagung-2025.md"),
        ("Bauanträge und datenschutzkonforme Sprachmodelle", "projekte/smard-gov-bauantraege.md"),
        ("Leitfaden für eine Strategie zu generativer KI", "projekte/qualifizierung-strategie.md"),
        ("Webseite in Leichter Sprache", "projekte/mehrsprachigkeit-barrierefreiheit.md"),
    ],
)
def test_hybrid_finds_the_right_document(shipped: Shipped, question: str, expected: str) -> None:
    _, retriever = shipped
    found = [r.passage.doc_id for r in retriever.search(question, top_k=3)]
    assert expected in found, found


def test_compound_splitting_is_what_finds_paraphrased_compounds(tmp_path: Path, embedder: Embedder) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "pflicht.md").write_text(
        "# Neubauten\n\nFür Neubauten gilt künftig eine Pflicht zur Solaranlage auf dem Dach.\n",
        encoding="utf-8")
    (corpus / "verkehr.md").write_text(
        "# Verkehr\n\nDie Planung der Mobilität im Landkreis wird neu aufgestellt.\n",
        encoding="utf-8")
    (corpus / "andere.md").write_text(
        "# Andere\n\nDer Haushalt der Stadt wird im Rat beraten und beschlossen.\n",
        encoding="utf-8")
    found = {}
    for decompound in (True, False):
        settings = Settings.load(data_dir=tmp_path / f"data-{decompound}", corpus_dir=corpus,
                                 keyword_decompound=decompound)
        data_dir = DataDir(settings)
        Ingestor(settings, embedder, data_dir).run()
        retriever = Retriever.open(settings, data_dir, embedder)
        found[decompound] = {
            query: [r.passage.doc_id for r in retriever.search(query, mode="bm25")]
            for query in ("Solarpflicht", "Mobilitätsplanung")
        }
        retriever.close()
    assert found[True]["Solarpflicht"][0] == "pflicht.md"
    assert found[True]["Mobilitätsplanung"][0] == "verkehr.md"
    assert found[False]["Solarpflicht"] == []
    assert found[False]["Mobilitätsplanung"] == []


def test_filters_by_type_and_date(shipped: Shipped) -> None:
    _, retriever = shipped
    only_projects = retriever.search("Chatbot", top_k=10, filters=Filters(types=("projektmeldung",)))
    assert only_projects and {r.passage.type for r in only_projects} == {"projektmeldung"}
    before_2025 = retriever.search("URBAN.KI", top_k=10, filters=Filters(date_to="2025-06"))
    assert before_2025 and all(r.passage.date <= "2025-06" for r in before_2025)
    # besides URBAN.KI's own page only the dated examples of versions (2022, 2023) are older
    assert before_2025[0].passage.doc_id == "initiative/urban-ki.md"
    assert {r.passage.doc_id for r in before_2025} - {"initiative/urban-ki.md"} <= {
        str(p.relative_to(CORPUS)) for p in (CORPUS / "beispiele").glob("*.md")}
    none = retriever.search("URBAN.KI", filters=Filters(date_from="2030"))
    assert none == []


def test_near_duplicates_are_collapsed(tmp_path: Path, embedder: Embedder) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    text = ("# Rufbus\n\nDer Landkreis plant den Rufbus mit einer Prognose des Bedarfs. "
            "Fahrgäste bestellen den Bus per App oder Telefon.\n")
    (corpus / "original.md").write_text(text, encoding="utf-8")
    (corpus / "kopie.md").write_text(text, encoding="utf-8")
    (corpus / "anders.md").write_text("# Rufbus\n\nIm Rufbus gilt der normale Tarif.\n",
                                      encoding="utf-8")
    settings = Settings.load(data_dir=tmp_path / "data", corpus_dir=corpus)
    data_dir = DataDir(settings)
    Ingestor(settings, embedder, data_dir).run()
    retriever = Retriever.open(settings, data_dir, embedder)
    found = [r.passage.doc_id for r in retriever.search("Rufbus Prognose Bedarf", top_k=5)]
    retriever.close()
    assert len(found) == 2
    assert "anders.md" in found
    assert ("original.md" in found) != ("kopie.md" in found)


def test_the_stage_hook_hears_every_stage_and_changes_nothing(shipped: Shipped,
                                                              answerer: Answerer) -> None:
    _, retriever = shipped
    question = "Wer überprüft die Solarpflicht anhand von Luftbildern?"
    quiet = answerer.ask(question)
    heard: list[tuple[str, float]] = []
    retriever.stage_hook = answerer.stage_hook = lambda name, seconds: heard.append(
        (name, seconds))
    try:
        timed = answerer.ask(question)
    finally:
        retriever.stage_hook = answerer.stage_hook = None
    assert timed.answer == quiet.answer
    names = {name for name, _ in heard}
    assert {"search", "embed query", "dense nearest", "bm25 search", "fusion",
            "sentence ranking", "evidence", "refusal model"} <= names
    assert all(seconds >= 0 for _, seconds in heard)
