"""Retrieval evaluation on any BEIR-format folder, indexed into a temporary store.

A BEIR folder holds ``corpus.jsonl`` ({"_id", "title", "text"}), ``queries.jsonl``
({"_id", "text"}) and relevance judgements in ``qrels/<split>.tsv`` (query-id,
corpus-id, score; with a header line) or ``qrels.jsonl``.
"""

from __future__ import annotations

import csv
import json
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict, cast

from evaluation.golden import RETRIEVERS
from evaluation.metrics import mean_metrics, retrieval_metrics, unique_in_order
from rag.errors import UsageError
from rag.jsontypes import JSONObject

if TYPE_CHECKING:
    from ingest import ProgressCallback
    from rag.providers.embedding import Embedder
    from rag.settings import Settings


def _read_jsonl(path: Path) -> list[JSONObject]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


Qrels = dict[str, dict[str, int]]


def load_beir(folder: Path) -> tuple[list[JSONObject], dict[str, str], Qrels]:
    corpus_path, queries_path = folder / "corpus.jsonl", folder / "queries.jsonl"
    for required in (corpus_path, queries_path):
        if not required.exists():
            raise UsageError(f"{folder} is not a BEIR folder: {required.name} is missing.")
    qrels: Qrels = {}
    tsv_files = sorted((folder / "qrels").glob("*.tsv")) if (folder / "qrels").is_dir() else []
    preferred = [p for p in tsv_files if p.stem == "test"] or tsv_files
    if preferred:
        with open(preferred[0], encoding="utf-8") as handle:
            for row in csv.reader(handle, delimiter="\t"):
                if len(row) < 3 or not row[2].strip().lstrip("-").isdigit():
                    continue  # header
                qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    elif (folder / "qrels.jsonl").exists():
        for judgement in _read_jsonl(folder / "qrels.jsonl"):
            qid = str(judgement.get("query-id", judgement.get("query_id")))
            cid = str(judgement.get("corpus-id", judgement.get("corpus_id")))
            qrels.setdefault(qid, {})[cid] = int(cast("int", judgement.get("score", 1)))
    else:
        raise UsageError(f"{folder} has no relevance judgements (qrels/*.tsv or qrels.jsonl).")
    queries = {str(q["_id"]): str(q["text"]) for q in _read_jsonl(queries_path)}
    return _read_jsonl(corpus_path), queries, qrels


class BeirResult(TypedDict):
    documents: int
    queries: int
    retrievers: dict[str, dict[str, float]]  # retriever -> metric -> mean


def evaluate_beir(
    folder: Path,
    *,
    settings: Settings,
    embedder: Embedder,
    progress: ProgressCallback | None = None,
) -> BeirResult:
    from ingest import Ingestor, ParsedDocument, Section
    from rag.answering import open_kora

    corpus, queries, qrels = load_beir(folder)
    judged = {qid: text for qid, text in queries.items() if qrels.get(qid)}
    with tempfile.TemporaryDirectory(prefix="kora-beir-") as temporary, ExitStack() as stack:
        run_settings = settings.model_copy(update={"data_dir": Path(temporary)})
        kora = stack.enter_context(open_kora(run_settings, embedder=embedder))
        documents = []
        for row in corpus:
            text = str(row.get("text", "")).strip()
            title = str(row.get("title", "")).strip()
            if not text:
                continue
            documents.append((str(row["_id"]), ParsedDocument(
                text=text, title=title, date="", type="beir", source=folder.name,
                sections=[Section(0, len(text), title)],
            )))
        Ingestor.over(kora).index_parsed(
            documents,
            progress=(lambda done, total, _: progress(done, total, "index")) if progress else None,
        )
        retriever = kora.retriever
        per_retriever: dict[str, dict[str, float]] = {}
        for mode in RETRIEVERS:
            rows = []
            for number, (qid, text) in enumerate(judged.items(), start=1):
                results = retriever.search(text, top_k=100, mode=mode)
                ranked = unique_in_order([r.passage.doc_id for r in results])
                rows.append(retrieval_metrics(ranked, qrels[qid]))
                if progress:
                    progress(number, len(judged), mode)
            per_retriever[mode] = mean_metrics(rows)
    return {"documents": len(documents), "queries": len(judged), "retrievers": per_retriever}
