"""Answer quality in one run: the golden set (with its staff-style twin and near misses),
XQuAD-de answering in original and lower case, and, with ``--query``, the extractive
answer latency at 100k chunks.

    python benchmarks/answer_quality.py [--query] [--xquad-limit N]

Prints one JSON object with the figures issue 17 asks for, next to their targets:
- golden: key-fact recall overall, on paraphrases and on the staff-style twin; in-scope
  questions refused; out-of-scope refused, near misses apart; citation precision;
- XQuAD-de (``benchmarks/xquad_answers.py --lowercase``): gold span contained, refused,
  refused with the gold paragraph removed, and the lower-case pass;
- with ``--query`` (slow: builds a 100k-chunk index), ``benchmarks/query.py`` at 100k
  chunks: extractive answer p95.
Nothing here is fitted: the golden set and XQuAD-de are never training data.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import json
import subprocess
import tempfile
from typing import Any

from benchmarks._start import REPO

TARGETS = {
    "golden.key_fact_recall": ">= 0.90",
    "golden.paraphrase": ">= 0.80",
    "golden.staff": ">= 0.80",
    "golden.in_scope_refused": "<= 0.05",
    "golden.out_of_scope_refused": ">= 0.90",
    "golden.near_miss_refused": ">= 0.85",
    "golden.citation_precision": "1.00",
    "xquad.answer_contains_gold": ">= 0.88",
    "xquad.refused": "<= 0.05",
    "xquad.refused_without_gold_paragraph": ">= 0.80",
    "xquad.lowercase_gap": "<= 0.02",
    "query.extractive_p95_ms_100k": "<= 200",
}


def golden() -> dict[str, Any]:
    from evaluation import GOLDEN_FILE, GoldenSet, run_golden
    from rag.providers.embedding import Embedder
    from rag.settings import Settings

    with tempfile.TemporaryDirectory(prefix="kora-quality-") as temporary:
        settings = Settings.load(data_dir=Path(temporary), llm="none")
        result = run_golden(settings=settings, embedder=Embedder.load(settings),
                            golden=GoldenSet.load(GOLDEN_FILE), corpus=REPO / "corpus")
    by_category = result.answers_by_category
    return {
        "key_fact_recall": result.answers["key_fact_recall"],
        "paraphrase": by_category["paraphrase"]["key_fact_recall"],
        "staff": by_category["staff"]["key_fact_recall"],
        "in_scope_refused": result.refusal["in_scope_refused"],
        "out_of_scope_refused": result.refusal["recall"],
        "near_miss_refused": result.refusal["recall_by_kind"].get("near_miss"),
        "citation_precision": result.answers["citation_precision"],
        "by_category": {c: v["key_fact_recall"] for c, v in sorted(by_category.items())},
        "conversations_key_fact_recall": result.conversations["key_fact_recall"],
    }


def run_json(arguments: list[str], out: Path) -> dict[str, Any]:
    subprocess.run([sys.executable, *arguments, "--out", str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--query", action="store_true", help="also the 100k query benchmark")
    parser.add_argument("--xquad-limit", type=int, default=0,
                        help="XQuAD-de questions (0: all 1190)")
    args = parser.parse_args()
    report: dict[str, Any] = {"golden": golden()}
    with tempfile.TemporaryDirectory(prefix="kora-quality-out-") as temporary:
        out = Path(temporary)
        xquad = run_json([str(REPO / "benchmarks/xquad_answers.py"), "--lowercase",
                          "--limit", str(args.xquad_limit)], out / "xquad.json")
        report["xquad"] = {
            "answer_contains_gold": xquad["answer_contains_gold"],
            "refused": xquad["refused"],
            "refused_without_gold_paragraph":
                xquad["without_gold"]["refused_without_gold_paragraph"],
            "lowercase_answer_contains_gold": xquad["lowercase"]["answer_contains_gold"],
            "lowercase_gap": round(xquad["answer_contains_gold"]
                                   - xquad["lowercase"]["answer_contains_gold"], 4),
        }
        if args.query:
            query = run_json([str(REPO / "benchmarks/query.py"), "--sizes", "100000",
                              "--queries", "100"], out / "query.json")
            latency = query["sizes"]["100000"]["latency"]["ask"]
            report["query"] = {"extractive_p50_ms_100k": latency["p50_ms"],
                               "extractive_p95_ms_100k": latency["p95_ms"],
                               "contended": query["machine_load"]["contended"]}
    report["targets"] = TARGETS
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
