"""Chunk size and fusion, measured on the golden set and XQuAD-de in one run.

    python benchmarks/retrieval_sweep.py [--chunk-tokens 200 300 400] [--xquad PATH]

For every chunk size, the shipped corpus and the XQuAD-de paragraphs are indexed with the
configured embedding model (default: the bundled multilingual-e5-small). For every
question, the dense and the BM25 candidates (50 each, as KORA takes them) are retrieved
once; every fusion variant is then computed from the same candidates, so the variants
differ only in how they combine them. Reported: nDCG@10, hit@1 (golden) / recall@1
(XQuAD) and MRR per variant, and bm25 / dense alone.

Fusion variants:
- ``score w``: BM25 divided by the query's best BM25 score, plus ``w`` x cosine
  (measured best with the English all-MiniLM-L6-v2);
- ``minmax w``: both sides scaled to [0, 1] over the query's candidates (best = 1,
  worst candidate = 0), BM25 + ``w`` x dense;
- ``rrf w``: reciprocal-rank fusion 1 / (60 + rank), dense weighted ``w``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from typing import Any

from benchmarks._start import REPO

DEFAULT_XQUAD = REPO.parent / "shared/data/xquad-de/xquad.de.json"
CANDIDATES = 50  # as the retriever takes them (rag.retrieval.retriever.CANDIDATES)
VARIANTS: list[tuple[str, str, float]] = [
    ("bm25 only", "bm25", 0.0),
    ("dense only", "dense", 0.0),
    *[(f"score {w:g}", "score", w) for w in (1, 2, 4, 8)],
    *[(f"minmax {w:g}", "minmax", w) for w in (0.5, 1, 1.5, 2, 3)],
    *[(f"rrf {w:g}", "rrf", w) for w in (1, 1.5, 2, 3)],
]

Candidates = tuple[list[Any], list[Any]]  # (dense, bm25) rankings of (Passage, score)


def candidates_for(retriever: Any, questions: list[str]) -> list[Candidates]:
    from rag.retrieval import Filters

    return [(retriever.dense(question, limit=CANDIDATES, filters=Filters()),
             retriever.bm25(question, limit=CANDIDATES, filters=Filters()))
            for question in questions]


def document_ranking(dense: list[Any], bm25: list[Any], method: str, weight: float
                     ) -> list[str]:
    """Document ids, best first, as KORA's fusion ranks their chunks."""
    from evaluation import unique_in_order
    from rag.retrieval import fuse

    if method in ("bm25", "dense"):
        ranking = bm25 if method == "bm25" else dense
        return unique_in_order([passage.doc_id for passage, _ in ranking])
    fused = fuse(dense, bm25, weights=(weight, 1.0), method=method)  # type: ignore[arg-type]
    return unique_in_order([result.passage.doc_id for result in fused])


def evaluate(cands: list[Candidates], judge: Callable[[int, list[str]], dict[str, float]]
             ) -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = {}
    for name, method, weight in VARIANTS:
        rows = [judge(i, document_ranking(dense, bm25, method, weight))
                for i, (dense, bm25) in enumerate(cands)]
        table[name] = {k: round(sum(r[k] for r in rows) / len(rows), 4) for k in rows[0]}
    return table


def golden_run(settings: Any, embedder: Any) -> dict[str, dict[str, float]]:
    from evaluation import GoldenSet, retrieval_row
    from ingest import Ingestor
    from rag.answering import open_kora

    golden = GoldenSet.load()
    with open_kora(settings, embedder=embedder) as kora:
        Ingestor.over(kora).run([REPO / "corpus"])
        cands = candidates_for(kora.retriever, [q.question for q in golden.questions])
    return evaluate(cands, lambda i, docs: retrieval_row(docs, golden.questions[i].expected_docs))


def xquad_run(settings: Any, embedder: Any, source: Path) -> dict[str, dict[str, float]]:
    from evaluation import retrieval_metrics
    from ingest import Ingestor, ParsedDocument, Section
    from rag.answering import open_kora

    data = json.loads(source.read_text(encoding="utf-8"))
    documents, questions, gold = [], [], []
    for article in data["data"]:
        for number, paragraph in enumerate(article["paragraphs"]):
            doc_id = f"{article['title']}-{number}"
            text = paragraph["context"]
            documents.append((doc_id, ParsedDocument(text=text, title="", date="", type="beir",
                                                     source="xquad",
                                                     sections=[Section(0, len(text), "")])))
            for qa in paragraph["qas"]:
                questions.append(qa["question"])
                gold.append(doc_id)
    with open_kora(settings, embedder=embedder) as kora:
        Ingestor.over(kora).index_parsed(documents)
        cands = candidates_for(kora.retriever, questions)
    return evaluate(cands, lambda i, docs: retrieval_metrics(docs, {gold[i]: 1}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunk-tokens", type=int, nargs="+", default=[200, 300, 400])
    parser.add_argument("--xquad", type=Path, default=DEFAULT_XQUAD)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/out/retrieval_sweep.json")
    args = parser.parse_args()

    from rag.providers.embedding import Embedder
    from rag.settings import Settings

    base = Settings.load()
    embedder = Embedder.load(base)
    results: dict[str, Any] = {"embedding_model": base.embedding_model, "runs": {}}
    for tokens in args.chunk_tokens:
        run: dict[str, Any] = {}
        for name in ("golden", "xquad"):
            if name == "xquad" and not args.xquad.exists():
                print(f"XQuAD-de not found at {args.xquad}: skipped", file=sys.stderr)
                continue
            with tempfile.TemporaryDirectory(prefix="kora-sweep-") as temporary:
                settings = base.model_copy(update={"data_dir": Path(temporary),
                                                   "chunk_tokens": tokens})
                started = time.perf_counter()
                run[name] = (golden_run(settings, embedder) if name == "golden"
                             else xquad_run(settings, embedder, args.xquad))
                print(f"chunk {tokens} {name}: {time.perf_counter() - started:.0f} s",
                      file=sys.stderr, flush=True)
        results["runs"][str(tokens)] = run
        print(f"\n== chunk_tokens {tokens} ==")
        print(f"{'variant':<14}{'gold nDCG':>10}{'gold hit@1':>11}{'gold hit@3':>11}"
              f"{'xq nDCG':>9}{'xq R@1':>8}{'xq MRR':>8}")
        for variant, *_ in VARIANTS:
            g = run["golden"][variant]
            x = run.get("xquad", {}).get(variant, {})
            print(f"{variant:<14}{g['ndcg@10']:>10.4f}{g['hit@1']:>11.4f}{g['hit@3']:>11.4f}"
                  f"{x.get('ndcg@10', float('nan')):>9.4f}{x.get('recall@1', float('nan')):>8.4f}"
                  f"{x.get('mrr', float('nan')):>8.4f}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
