"""XQuAD-de as an answering test: does the extractive answer contain the fact, and does
KORA refuse when the paragraph that holds it is missing?

    python benchmarks/xquad_answers.py [--source PATH] [--limit N] [--without-gold N]

All 240 paragraphs of ../shared/data/xquad-de (CC BY-SA 4.0) are indexed as documents
(the article's name as the title). Then:
1. every question is asked (``--limit`` takes a fixed, evenly spread sample instead):
   the share whose answer contains a gold answer text (case- and whitespace-insensitive),
   the share where the cited passage contains it too, and the share refused;
   With ``--lowercase`` every question is asked a second time all in lower case (as
   staff type), and the same shares are reported for that pass;
2. a fixed sample of ``--without-gold`` questions (default 300, evenly spread over the
   set) is asked again with its gold paragraph left out of retrieval; the other
   paragraphs of the same article stay, so these are hard near misses. Reported: the
   share refused (and, for the same questions with the paragraph present, the share
   answered).
None of these documents or questions was used to calibrate KORA's refusal decision or to
choose its answer weights, which is the point of the test.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import json
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from benchmarks._start import REPO

DEFAULT_SOURCE = REPO.parent / "shared/data/xquad-de/xquad.de.json"
DEFAULT_OUT = REPO / "benchmarks/out/xquad_answers.json"


@dataclass(frozen=True)
class Item:
    question: str
    answers: tuple[str, ...]
    doc_id: str


def load(source: Path) -> tuple[list[tuple[str, Any]], list[Item]]:
    from ingest import ParsedDocument, Section

    data = json.loads(source.read_text(encoding="utf-8"))
    documents, items = [], []
    for article in data["data"]:
        title = article["title"].replace("_", " ")
        for number, paragraph in enumerate(article["paragraphs"]):
            doc_id = f"{article['title']}-{number}"
            text = paragraph["context"]
            documents.append((doc_id, ParsedDocument(
                text=text, title=title, date="", type="dokument", source="XQuAD-de",
                sections=[Section(0, len(text), title)])))
            for qa in paragraph["qas"]:
                items.append(Item(qa["question"], tuple(a["text"] for a in qa["answers"]),
                                  doc_id))
    return documents, items


def squash(text: str) -> str:
    return " ".join(text.replace("**", "").split()).lower()


def contains(answers: tuple[str, ...], text: str) -> bool:
    haystack = squash(text)
    return any(squash(answer) in haystack for answer in answers)


def spread(items: list[Item], count: int) -> list[Item]:
    """``count`` items evenly spread over the list (every article represented)."""
    if count >= len(items):
        return list(items)
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--limit", type=int, default=0, help="questions for part 1 (0: all)")
    parser.add_argument("--without-gold", type=int, default=300,
                        help="questions asked without their paragraph (part 2)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--show", type=int, default=0, help="print this many misses")
    parser.add_argument("--lowercase", action="store_true",
                        help="ask every question again in lower case and report both")
    args = parser.parse_args()
    if not args.source.exists():
        print(f"XQuAD-de not found at {args.source}: pass --source PATH", file=sys.stderr)
        return 2

    from ingest import Ingestor
    from rag.answering import open_kora
    from rag.retrieval import Filters
    from rag.settings import Settings

    documents, items = load(args.source)
    asked = spread(items, args.limit) if args.limit else items
    without = spread(items, args.without_gold)
    with tempfile.TemporaryDirectory(prefix="kora-xquad-answers-") as temporary:
        settings = Settings.load(data_dir=Path(temporary), llm="none")
        with open_kora(settings) as kora:
            ingestor = Ingestor.over(kora)  # loads the model before the clock starts
            started = time.perf_counter()
            ingestor.index_parsed(documents)
            index_seconds = time.perf_counter() - started
            assistant = kora.assistant
            started = time.perf_counter()
            found = cited = refused = 0
            misses: list[dict[str, Any]] = []
            for item in asked:
                answer = assistant.answerer.ask(item.question)
                refused += answer.refused
                hit = not answer.refused and contains(item.answers, answer.answer)
                found += hit
                cited += hit and any(contains(item.answers, c.passage.text)
                                     for c in answer.citations)
                if not hit and len(misses) < args.show:
                    misses.append({"question": item.question, "gold": item.answers[0],
                                   "refused": answer.refused, "answer": answer.answer[:400]})
            answer_seconds = (time.perf_counter() - started) / max(1, len(asked))
            lowered_found = lowered_refused = 0
            if args.lowercase:
                for item in asked:
                    answer = assistant.answerer.ask(item.question.lower())
                    lowered_refused += answer.refused
                    lowered_found += (not answer.refused
                                      and contains(item.answers, answer.answer))
            gold_answered = gone_refused = 0
            for item in without:
                gold_answered += not assistant.answerer.ask(item.question).refused
                gone_refused += assistant.answerer.ask(
                    item.question, filters=Filters(exclude_docs=(item.doc_id,))).refused

    result = {
        "documents": len(documents),
        "questions": len(asked),
        "answer_contains_gold": round(found / len(asked), 4),
        "answer_and_citation_contain_gold": round(cited / len(asked), 4),
        "refused": round(refused / len(asked), 4),
        "without_gold": {
            "questions": len(without),
            "refused_without_gold_paragraph": round(gone_refused / len(without), 4),
            "answered_with_gold_paragraph": round(gold_answered / len(without), 4),
        },
        **({"lowercase": {
            "answer_contains_gold": round(lowered_found / len(asked), 4),
            "refused": round(lowered_refused / len(asked), 4),
        }} if args.lowercase else {}),
        "seconds_per_answer": round(answer_seconds, 3),
        "index_seconds": round(index_seconds, 1),
        "embedding_model": settings.embedding_model,
    }
    print(json.dumps(result, indent=2))
    for miss in misses:
        print(f"- {miss['question']} | gold: {miss['gold']} | refused: {miss['refused']}\n"
              f"    {miss['answer'].replace(chr(10), ' / ')[:300]}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
