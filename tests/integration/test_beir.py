"""`kora eval --beir` on a small BEIR folder made here (the format XQuAD-de is turned into)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evaluation.beir import load_beir
from evaluation.metrics import ndcg_at, recall_at, reciprocal_rank
from tests.conftest import CORPUS

pytestmark = pytest.mark.slow

DOCS = {
    "d1": "Der Rufbus in Osnabrück fährt nach Bedarf und wird per App bestellt.",
    "d2": "Die Hundesteuer in Bochum beträgt für den ersten Hund 156 Euro im Jahr.",
    "d3": "Im Kreis Unna werden Luftbilder mit der Plattform AVIARY ausgewertet.",
    "d4": "Die Bibliothek in Herten öffnet samstags von zehn bis vierzehn Uhr.",
    "d5": "Das Standesamt Solingen vergibt Termine für Eheschließungen online.",
    "d6": "In Heiligenhaus werden historische Bauakten digitalisiert und archiviert.",
}
QUERIES = {
    "q1": ("Wie bestellt man den Rufbus in Osnabrück?", "d1"),
    "q2": ("Wie hoch ist die Hundesteuer in Bochum?", "d2"),
    "q3": ("Womit werden Luftbilder im Kreis Unna ausgewertet?", "d3"),
    "q4": ("Wann öffnet die Bibliothek in Herten am Samstag?", "d4"),
    "q5": ("Wo bekomme ich einen Termin zur Hochzeit in Solingen?", "d5"),
}


def make_beir(folder: Path, *, jsonl_qrels: bool = False) -> Path:
    folder.mkdir(parents=True)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as handle:
        for doc_id, text in DOCS.items():
            handle.write(json.dumps({"_id": doc_id, "title": "", "text": text}) + "\n")
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as handle:
        for query_id, (text, _) in QUERIES.items():
            handle.write(json.dumps({"_id": query_id, "text": text}) + "\n")
    if jsonl_qrels:
        with open(folder / "qrels.jsonl", "w", encoding="utf-8") as handle:
            for query_id, (_, doc_id) in QUERIES.items():
                handle.write(json.dumps({"query-id": query_id, "corpus-id": doc_id,
                                         "score": 1}) + "\n")
    else:
        (folder / "qrels").mkdir()
        rows = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t1" for q, (_, d) in QUERIES.items()]
        (folder / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


def test_metrics_on_known_rankings() -> None:
    relevant = {"a": 1}
    assert ndcg_at(["a", "b"], relevant, 10) == 1.0
    assert ndcg_at(["b", "a"], relevant, 10) == pytest.approx(1 / 1.5849625, rel=1e-6)
    assert recall_at(["b", "c"], relevant, 1) == 0.0
    assert reciprocal_rank(["b", "c", "a"], relevant) == pytest.approx(1 / 3)


def test_both_qrels_formats_load(tmp_path: Path) -> None:
    for jsonl in (False, True):
        corpus, queries, qrels = load_beir(make_beir(tmp_path / f"b{jsonl}", jsonl_qrels=jsonl))
        assert len(corpus) == 6 and len(queries) == 5
        assert qrels["q3"] == {"d3": 1}


def test_kora_eval_beir_reports_every_retriever(tmp_path: Path) -> None:
    folder = make_beir(tmp_path / "beir")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KORA_")}
    env.update({"KORA_DATA_DIR": str(tmp_path / "data"), "KORA_CONFIG": str(tmp_path / "x.toml"),
                "PYTHONPATH": str(CORPUS.parent)})
    result = subprocess.run([sys.executable, "-m", "ui.cli", "eval", "--beir", str(folder),
                             "--json"], capture_output=True, text=True, env=env, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["documents"] == 6 and data["queries"] == 5
    assert set(data["retrievers"]) == {"bm25", "dense", "hybrid"}
    for metrics in data["retrievers"].values():
        assert set(metrics) == {"ndcg@10", "recall@1", "recall@5", "recall@10", "recall@100",
                                "mrr"}
    # keyword questions: BM25 and hybrid put the right paragraph first
    assert data["retrievers"]["bm25"]["recall@1"] >= 0.8
    assert data["retrievers"]["hybrid"]["recall@1"] >= 0.8
    assert data["retrievers"]["hybrid"]["recall@5"] == 1.0
    # the user's own index is untouched: the evaluation used a temporary store
    assert not (tmp_path / "data" / "current.json").exists()

    missing = subprocess.run([sys.executable, "-m", "ui.cli", "eval", "--beir", str(tmp_path)],
                             capture_output=True, text=True, env=env, timeout=120, check=False)
    assert missing.returncode == 2
    assert "not a BEIR folder" in missing.stderr
