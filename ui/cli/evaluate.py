"""`kora eval`: the golden set, a BEIR folder, or the configured LLM alone."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ui.cli.shared import EXIT_FAILED, EXIT_OK, Commands, load_settings, print_json

if TYPE_CHECKING:
    from evaluation import CaseResult, EvalResult, GoldenSet
    from rag.jsontypes import JSONObject
    from rag.providers.embedding import Embedder
    from rag.settings import Settings

# the repository's corpus, which the golden set refers to
SHIPPED_CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def cmd_eval(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    if args.llm_eval:
        return _eval_llm(args, settings)
    if not args.beir:
        return _eval_golden(args, settings)
    return _eval_beir(args, settings)


def _eval_beir(args: argparse.Namespace, settings: Settings) -> int:
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


def _eval_golden(args: argparse.Namespace, settings: Settings) -> int:
    """The shipped set (or --golden FILE), then the city's own set when it exists; each
    run's headline figures are appended to the history in the data directory. A local
    set (``kind: local``) fails the command when any of its cases fails."""
    from evaluation import GOLDEN_FILE, GoldenSet, append_history, headline
    from rag.providers.embedding import Embedder

    embedder = Embedder.load(settings)
    sets: list[tuple[str, GoldenSet]] = []
    if args.golden:
        golden = GoldenSet.load(Path(args.golden))
        sets.append(("local" if golden.kind == "local" else Path(args.golden).stem, golden))
    else:
        sets.append(("shipped", GoldenSet.load(GOLDEN_FILE)))
        local_path = settings.golden_local_path
        if local_path.is_file():
            local = GoldenSet.load(local_path)
            if local.size:
                sets.append(("local", local))
    runs = [(name, golden, _run_set(args, settings, embedder, golden, alone=len(sets) == 1))
            for name, golden in sets]
    history = append_history(settings.data_dir,
                             [headline(result, golden, name=name)
                              for name, golden, result in runs])
    outputs = []
    failing: list[tuple[str, list[CaseResult]]] = []
    for number, (name, golden, result) in enumerate(runs):
        folder = Path(args.report) if number == 0 else Path(args.report) / name
        output = {**result.as_dict(), "report": str(write_report_for(result, folder))}
        if golden.kind == "local":
            from evaluation import case_results

            cases = case_results(result, golden)
            failed = [case for case in cases if not case["passed"]]
            output.update({"cases": cases, "gate": "failed" if failed else "passed"})
            if failed:
                failing.append((name, failed))
        outputs.append((name, golden, result, output))
    if args.json:
        first = {**outputs[0][3], "set": outputs[0][0], "history": str(history)}
        for name, _, _, output in outputs[1:]:
            first[name] = output
        print_json(first)
    else:
        for name, golden, result, output in outputs:
            _print_golden(name, golden, result, output)
        print(f"history: {history}")
    for name, failed in failing:
        print(f"kora: the {name} golden set fails {len(failed)} case(s): "
              + ", ".join(case["id"] for case in failed), file=sys.stderr)
    return EXIT_FAILED if failing else EXIT_OK


def _run_set(args: argparse.Namespace, settings: Settings, embedder: Embedder, golden: GoldenSet, *,
             alone: bool) -> EvalResult:
    """A city's set runs against the live index (its documents, the answers its staff
    get) unless --corpus names a folder for it alone; the others against the corpus."""
    from evaluation import run_golden, run_golden_on_index
    from ui.progress import stage_bars

    progress = None if args.json else stage_bars()
    if golden.kind == "local" and not (alone and args.corpus):
        return run_golden_on_index(settings=settings, embedder=embedder, golden=golden,
                                   progress=progress)
    corpus = Path(args.corpus) if args.corpus else SHIPPED_CORPUS
    return run_golden(settings=settings, embedder=embedder, golden=golden, corpus=corpus,
                      progress=progress)


def write_report_for(result: EvalResult, folder: Path) -> Path:
    from evaluation import write_report

    return write_report(result, folder)


def _print_golden(name: str, golden: GoldenSet, result: EvalResult, output: JSONObject) -> None:
    print(f"== {name} golden set: {len(golden.questions)} questions, "
          f"{len(golden.out_of_scope)} out of scope ==")
    if result.retrieval:
        metrics = list(next(iter(result.retrieval.values())))
        print(f"{'retriever':<10}" + "".join(f"{m:>10}" for m in metrics))
        for retriever, values in result.retrieval.items():
            print(f"{retriever:<10}" + "".join(f"{values[m]:>10.3f}" for m in metrics))
        print()
    for key, value in result.answers.items():
        print(f"answers {key}: {value}")
    for key, value in result.refusal.items():
        print(f"refusal {key}: {value}")
    if golden.conversations:
        for key, value in result.conversations.items():
            print(f"second turn {key}: {value}")
        print(f"faithfulness: {result.faithfulness}")
    cases = output.get("cases", [])
    assert isinstance(cases, list)  # a local set's CaseResults, as _eval_golden adds them
    for case in cases:
        kind = "out of scope" if case["out_of_scope"] else "facts"
        print(f"{'PASS' if case['passed'] else 'FAIL'}  {case['id']}  ({kind})  "
              f"{case['question']}")
    print(f"report: {output['report']}\n")


def _eval_llm(args: argparse.Namespace, settings: Settings) -> int:
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
    by_reason = result["fallbacks_by_reason"]
    assert isinstance(by_reason, dict)  # as run_llm_eval writes it
    reasons = ", ".join(f"{k} {v}" for k, v in by_reason.items())
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
    evaluate.add_argument("--golden", help="run this golden-set YAML alone (default: "
                          "evaluation/golden.yaml, then the local set of KORA_GOLDEN_LOCAL "
                          "when it exists)")
    evaluate.add_argument("--corpus", help="corpus the golden set refers to (default corpus/); "
                          "a local set runs against the live index unless it is given "
                          "with --golden and --corpus")
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
