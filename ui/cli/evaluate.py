"""`kora eval`: the golden set, a BEIR folder, or the configured LLM alone."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ui.cli.shared import EXIT_OK, Commands, load_settings, print_json

# the repository's corpus, which the golden set refers to
SHIPPED_CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def cmd_eval(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    if args.llm_eval:
        return _eval_llm(args, settings)
    if not args.beir:
        return _eval_golden(args, settings)
    return _eval_beir(args, settings)


def _eval_beir(args: argparse.Namespace, settings: Any) -> int:
    from evaluation import evaluate_beir
    from rag.errors import UsageError
    from rag.providers.embedding import Embedder
    from ui.progress import stage_bars

    folder = Path(args.beir)
    if not folder.is_dir():
        raise UsageError(f"Not a folder: {folder}")
    result = evaluate_beir(folder, settings=settings, embedder=Embedder.load(settings),
                           progress=None if args.json else stage_bars())
    if args.json:
        print_json(result)
        return EXIT_OK
    print(f"{result['documents']} documents, {result['queries']} queries ({folder})")
    metrics = list(next(iter(result["retrievers"].values())))
    print(f"{'retriever':<10}" + "".join(f"{m:>12}" for m in metrics))
    for name, values in result["retrievers"].items():
        print(f"{name:<10}" + "".join(f"{values[m]:>12.4f}" for m in metrics))
    return EXIT_OK


def _eval_golden(args: argparse.Namespace, settings: Any) -> int:
    from evaluation import GOLDEN_FILE, GoldenSet, run_golden, write_report
    from rag.providers.embedding import Embedder
    from ui.progress import stage_bars

    golden = GoldenSet.load(Path(args.golden) if args.golden else GOLDEN_FILE)
    corpus = Path(args.corpus) if args.corpus else SHIPPED_CORPUS
    result = run_golden(settings=settings, embedder=Embedder.load(settings), golden=golden,
                        corpus=corpus, progress=None if args.json else stage_bars())
    report = write_report(result, Path(args.report))
    if args.json:
        print_json({**result.as_dict(), "report": str(report)})
        return EXIT_OK
    metrics = list(next(iter(result.retrieval.values())))
    print(f"{'retriever':<10}" + "".join(f"{m:>10}" for m in metrics))
    for name, values in result.retrieval.items():
        print(f"{name:<10}" + "".join(f"{values[m]:>10.3f}" for m in metrics))
    print()
    for key, value in result.answers.items():
        print(f"answers {key}: {value}")
    for key, value in result.refusal.items():
        print(f"refusal {key}: {value}")
    for key, value in result.conversations.items():
        print(f"second turn {key}: {value}")
    print(f"faithfulness: {result.faithfulness}")
    print(f"\nreport: {report}")
    return EXIT_OK


def _eval_llm(args: argparse.Namespace, settings: Any) -> int:
    from evaluation import GOLDEN_FILE, GoldenSet, run_llm_eval
    from rag.errors import UsageError
    from rag.providers.embedding import Embedder
    from ui.progress import stage_bars

    if args.beir:
        raise UsageError("--llm and --beir exclude each other: --beir measures retrieval only.")
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1.")
    golden = GoldenSet.load(Path(args.golden) if args.golden else GOLDEN_FILE)
    corpus = Path(args.corpus) if args.corpus else SHIPPED_CORPUS
    result = run_llm_eval(settings=settings, embedder=Embedder.load(settings), golden=golden,
                          corpus=corpus, limit=args.limit,
                          progress=None if args.json else stage_bars())
    if args.json:
        print_json(result)
        return EXIT_OK
    print(f"LLM: {result['llm']}")
    questions = result["questions"]
    print(f"answers with the fact: {result['answers_with_fact']}/{questions} "
          f"(extractive on the same index: {result['extractive_answers_with_fact']}/{questions})")
    print(f"confidently wrong: {result['confidently_wrong']}")
    reasons = ", ".join(f"{k} {v}" for k, v in result["fallbacks_by_reason"].items())
    print(f"fallbacks to the extractive answer: {result['fallbacks']}"
          + (f" ({reasons})" if reasons else ""))
    print(f"disagreements with the extractive answer: {result['disagreements']}")
    shown = ("llm", "per_question", "answers_with_fact", "extractive_answers_with_fact",
             "confidently_wrong", "fallbacks", "fallbacks_by_reason", "disagreements")
    for key, value in result.items():
        if key not in shown:
            print(f"{key}: {value}")
    print("(key-fact recall and supported sentences mean something only with a real model)")
    return EXIT_OK


def add_eval(commands: Commands, common: argparse.ArgumentParser) -> None:
    evaluate = commands.add_parser("eval", parents=[common], help="measure retrieval quality")
    evaluate.add_argument("--beir", metavar="DIR",
                          help="a BEIR folder (corpus.jsonl, queries.jsonl, qrels)")
    evaluate.add_argument("--golden", help="golden-set YAML (default evaluation/golden.yaml)")
    evaluate.add_argument("--corpus", help="corpus the golden set refers to (default corpus/)")
    evaluate.add_argument("--report", default="eval-report",
                          help="folder for report.md and charts (default eval-report/)")
    evaluate.add_argument("--llm", dest="llm_eval", action="store_true",
                          help="answer the golden set with the configured LLM (KORA_LLM) and "
                               "report answers with the fact (and the extractive answer's), "
                               "confidently wrong answers, fallbacks, disagreements, recall, "
                               "supported sentences, citations, refusals, time")
    evaluate.add_argument("--limit", type=int,
                          help="with --llm: only the first N questions (a slow CPU model)")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(handler=cmd_eval)
