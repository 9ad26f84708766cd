"""The `kora` command line. Contract: ../shared/DESIGN.md, "Command-line contract".

Heavy libraries (torch, llama-index, Chroma) are imported inside the commands that need
them, so `kora config` and `kora --help` start instantly.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rag.offline import enforce_offline

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
LLM_CHOICES = ["auto", "none", "ollama", "openai", "transformers", "llamacpp"]


def _settings(args: argparse.Namespace) -> Any:
    from pydantic import ValidationError

    from rag.errors import KoraError
    from rag.settings import Settings

    try:
        return Settings.load(
            data_dir=getattr(args, "data_dir", None),
            corpus_dir=getattr(args, "corpus_dir", None),
            embedding_model=getattr(args, "embedding_model", None),
            top_k=getattr(args, "top_k", None),
            llm=getattr(args, "llm", None),
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'settings'}: {error['msg']}"
            for error in exc.errors()
        )
        raise KoraError(
            f"Invalid settings ({problems}): check kora.toml and the KORA_* variables."
        ) from exc


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def cmd_config(args: argparse.Namespace) -> int:
    settings = _settings(args)
    rows = settings.described()
    if args.json:
        _print_json({name: str(value) if isinstance(value, Path) else value
                     for name, value, _ in rows})
        return EXIT_OK
    for name, value, description in rows:
        print(f"{name} = {value!r}")
        print(textwrap.indent(textwrap.fill(description, 88), "    # "))
    return EXIT_OK


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest.pipeline import Ingestor, print_progress_bar
    from rag.embedder import Embedder
    from rag.store import DataDir

    settings = _settings(args)
    embedder = Embedder.load(settings)
    ingestor = Ingestor(settings, embedder, DataDir(settings))
    paths = [Path(p) for p in args.paths] or None
    report = ingestor.run(
        paths,
        rebuild=args.rebuild,
        prune=args.prune,
        progress=None if args.json else print_progress_bar(),
    )
    if args.json:
        _print_json(report.as_dict())
    else:
        for failure in report.failed:
            print(f"FAILED {failure.path}: {failure.reason}", file=sys.stderr)
        print(
            f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
            f"{report.removed} removed, {len(report.failed)} failed; "
            f"{report.chunks} chunks written in {report.seconds:.1f} s "
            f"(data directory: {settings.data_dir})"
        )
    return EXIT_FAILED if report.failed else EXIT_OK


def _filters(args: argparse.Namespace) -> Any:
    from rag.filters import Filters

    return Filters(
        types=tuple(args.type or ()), date_from=args.date_from, date_to=args.date_to
    )


def cmd_search(args: argparse.Namespace) -> int:
    from rag.embedder import Embedder
    from rag.errors import EmptyIndexError
    from rag.retrieve import Retriever
    from rag.store import DataDir

    settings = _settings(args)
    data_dir = DataDir(settings)
    index = data_dir.open_current()
    if index.chunk_count() == 0:
        raise EmptyIndexError(
            f"The index in {settings.data_dir} is empty: run `kora ingest` to index documents."
        )
    index.close()
    retriever = Retriever.open(settings, data_dir, Embedder.load(settings))
    mode = args.retriever or settings.retriever
    results = retriever.search(args.query, mode=mode, filters=_filters(args))
    if args.json:
        _print_json({"query": args.query, "retriever": mode,
                     "passages": [r.passage.as_dict() for r in results]})
        return EXIT_OK
    if not results:
        print("No passages found.")
    for number, result in enumerate(results, start=1):
        passage = result.passage
        print(f"[{number}] {passage.title} – {passage.location} ({passage.date})  "
              f"{passage.doc_id}")
        print(textwrap.indent(textwrap.fill(passage.text, 96), "    "))
    return EXIT_OK


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.assistant import Assistant

    settings = _settings(args)
    assistant = Assistant.open(settings)
    streaming = not args.json and sys.stdout.isatty()
    streamed: list[str] = []

    def show(piece: str) -> None:
        streamed.append(piece)
        print(piece, end="", flush=True)

    answer = assistant.answerer.ask(
        args.question, filters=_filters(args), top_k=settings.top_k,
        on_token=show if streaming else None,
    )
    assistant.close()
    if args.json:
        _print_json(answer.as_json())
        return EXIT_OK
    if streamed:
        print()
        if "".join(streamed).strip() != answer.answer.strip():
            # the citation check changed the streamed text: show the checked version
            print("\nGeprüfte Antwort:")
            print(answer.answer)
    else:
        print(answer.answer)
    if answer.notice:
        print(f"\nHinweis: {answer.notice}")
    if answer.citations:
        print("\nQuellen:")
        for citation in answer.citations:
            print(f"[{citation.n}] {citation.title} – {citation.location} ({citation.date}), "
                  f"{citation.doc_id}")
    print(f"\n({assistant.llm_description})", file=sys.stderr)
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from rag.embedder import Embedder

    settings = _settings(args)
    if args.llm_eval:
        return _eval_llm(args, settings)
    if not args.beir:
        return _eval_golden(args, settings)
    from rag.beir import evaluate_beir

    folder = Path(args.beir)
    if not folder.is_dir():
        from rag.errors import UsageError

        raise UsageError(f"Not a folder: {folder}")
    bar = None if args.json else _stage_progress()
    result = evaluate_beir(folder, settings=settings, embedder=Embedder.load(settings),
                           progress=bar)
    if args.json:
        _print_json(result)
        return EXIT_OK
    print(f"{result['documents']} documents, {result['queries']} queries ({folder})")
    metrics = list(next(iter(result["retrievers"].values())))
    print(f"{'retriever':<10}" + "".join(f"{m:>12}" for m in metrics))
    for name, values in result["retrievers"].items():
        print(f"{name:<10}" + "".join(f"{values[m]:>12.4f}" for m in metrics))
    return EXIT_OK


def _eval_golden(args: argparse.Namespace, settings: Any) -> int:
    from rag.embedder import Embedder
    from rag.golden import GOLDEN_FILE, GoldenSet, run_golden
    from rag.report import write_report

    golden = GoldenSet.load(Path(args.golden) if args.golden else GOLDEN_FILE)
    corpus = Path(args.corpus) if args.corpus else Path(__file__).resolve().parents[1] / "corpus"
    result = run_golden(settings=settings, embedder=Embedder.load(settings), golden=golden,
                        corpus=corpus, progress=None if args.json else _stage_progress())
    report = write_report(result, Path(args.report))
    if args.json:
        _print_json({**result.as_dict(), "report": str(report)})
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
    from rag.embedder import Embedder
    from rag.errors import UsageError
    from rag.golden import GOLDEN_FILE, GoldenSet, run_llm_eval

    if args.beir:
        raise UsageError("--llm and --beir exclude each other: --beir measures retrieval only.")
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1.")
    golden = GoldenSet.load(Path(args.golden) if args.golden else GOLDEN_FILE)
    corpus = Path(args.corpus) if args.corpus else Path(__file__).resolve().parents[1] / "corpus"
    result = run_llm_eval(settings=settings, embedder=Embedder.load(settings), golden=golden,
                          corpus=corpus, limit=args.limit,
                          progress=None if args.json else _stage_progress())
    if args.json:
        _print_json(result)
        return EXIT_OK
    print(f"LLM: {result['llm']}")
    for key, value in result.items():
        if key not in ("llm", "per_question"):
            print(f"{key}: {value}")
    print("(key-fact recall and supported sentences mean something only with a real model)")
    return EXIT_OK


def _stage_progress() -> Callable[[str, int, int], None] | None:
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            bars[stage] = tqdm(total=total, desc=stage, file=sys.stderr)
        bars[stage].n = done
        bars[stage].refresh()
        if done >= total:
            bars[stage].close()

    return update


def cmd_status(args: argparse.Namespace) -> int:
    from rag.errors import EmptyIndexError
    from rag.store import DataDir

    settings = _settings(args)
    data_dir = DataDir(settings)
    status: dict[str, Any] = {
        "documents": 0,
        "chunks": 0,
        "embedding_model": settings.embedding_model,
        "data_dir": str(settings.data_dir.resolve()),
        "corpus_dir": str(settings.corpus_dir.resolve()),
        "last_ingest": data_dir.last_ingest(),
        "index_generation": None,
        "keyword_index_chunks": 0,
        "llm": _llm_status(settings),
    }
    try:
        index = data_dir.open_current()
    except EmptyIndexError:
        status["hint"] = "No index yet: run `kora ingest`."
    else:
        from rag.keyword import KeywordIndex

        status["documents"] = len(index.file_states())
        status["chunks"] = index.chunk_count()
        status["embedding_model"] = index.generation.embedding_model
        status["index_generation"] = index.generation.name
        manifest = KeywordIndex.read_manifest(index.keyword_dir)
        status["keyword_index_chunks"] = manifest["count"] if manifest else 0
        status["keyword_analyzer"] = manifest.get("analyzer") if manifest else None
        index.close()
    if args.json:
        _print_json(status)
        return EXIT_OK
    for key, value in status.items():
        if key == "llm":
            value = value["description"]
        if key == "last_ingest" and value:
            value = (f"{value['finished_at']}: {value['added']} added, {value['updated']} "
                     f"updated, {value['unchanged']} unchanged, {value['removed']} removed, "
                     f"{len(value['failed'])} failed")
        print(f"{key}: {value}")
    return EXIT_OK


def _llm_status(settings: Any) -> dict[str, Any]:
    """Which answer generator `kora ask` and `kora serve` would use (nothing is loaded;
    auto mode probes Ollama and reads the GGUF file's header)."""
    from rag.errors import KoraError
    from rag.llm import choose_llm

    try:
        return dict(choose_llm(settings).as_dict())
    except KoraError as exc:
        return {"backend": settings.llm, "model": None, "context_window": None,
                "description": f"{settings.llm}: not usable: {exc}"}


def cmd_serve(args: argparse.Namespace) -> int:
    from ingest.pipeline import Ingestor, print_progress_bar
    from rag.embedder import Embedder
    from rag.errors import EmptyIndexError
    from rag.store import DataDir

    settings = _settings(args)
    data_dir = DataDir(settings)
    try:
        index = data_dir.open_current()
        empty = index.chunk_count() == 0
        index.close()
    except EmptyIndexError:
        empty = True
    if empty:
        print(f"Noch kein Index: indexiere {settings.corpus_dir} …", file=sys.stderr)
        report = Ingestor(settings, Embedder.load(settings), data_dir).run(
            [settings.corpus_dir], progress=print_progress_bar())
        for failure in report.failed:
            print(f"FAILED {failure.path}: {failure.reason}", file=sys.stderr)
    from ui.app import serve

    serve(settings, args.host, args.port)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="index directory (KORA_DATA_DIR)")
    common.add_argument("--corpus-dir", help="default document folder (KORA_CORPUS_DIR)")
    common.add_argument("--embedding-model", help="embedding model (KORA_EMBEDDING_MODEL)")

    parser = argparse.ArgumentParser(
        prog="kora",
        description="KORA: cited answers from municipal documents, fully on premises.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = commands.add_parser("ingest", parents=[common], help="index documents")
    ingest.add_argument("paths", nargs="*", help="files or folders (default: the corpus folder)")
    ingest.add_argument("--rebuild", action="store_true", help="start from an empty index")
    ingest.add_argument("--prune", action="store_true",
                        help="remove documents whose files are gone")
    ingest.add_argument("--json", action="store_true", help="print the report as JSON")
    ingest.set_defaults(handler=cmd_ingest)

    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--type", action="append",
                         help="only documents of this type (repeatable), e.g. prototyp")
    filters.add_argument("--date-from", help="only documents dated on or after (YYYY[-MM[-DD]])")
    filters.add_argument("--date-to", help="only documents dated on or before (YYYY[-MM[-DD]])")

    search = commands.add_parser("search", parents=[common, filters],
                                 help="show matching passages")
    search.add_argument("query")
    search.add_argument("--top-k", type=int, help="number of passages (KORA_TOP_K)")
    search.add_argument("--retriever", choices=["hybrid", "dense", "bm25"],
                        help="ranking to use (KORA_RETRIEVER, default hybrid)")
    search.add_argument("--json", action="store_true")
    search.set_defaults(handler=cmd_search)

    ask = commands.add_parser("ask", parents=[common, filters],
                              help="answer a question with cited sources")
    ask.add_argument("question")
    ask.add_argument("--top-k", type=int, help="passages to consider (KORA_TOP_K)")
    ask.add_argument("--llm", choices=LLM_CHOICES, help="answer generator (KORA_LLM)")
    ask.add_argument("--json", action="store_true")
    ask.set_defaults(handler=cmd_ask)

    evaluate = commands.add_parser("eval", parents=[common], help="measure retrieval quality")
    evaluate.add_argument("--beir", metavar="DIR",
                          help="a BEIR folder (corpus.jsonl, queries.jsonl, qrels)")
    evaluate.add_argument("--golden", help="golden-set YAML (default tests/eval/golden.yaml)")
    evaluate.add_argument("--corpus", help="corpus the golden set refers to (default corpus/)")
    evaluate.add_argument("--report", default="eval-report",
                          help="folder for report.md and charts (default eval-report/)")
    evaluate.add_argument("--llm", dest="llm_eval", action="store_true",
                          help="answer the golden set with the configured LLM (KORA_LLM) and "
                               "report recall, supported sentences, citations, refusals, time")
    evaluate.add_argument("--limit", type=int,
                          help="with --llm: only the first N questions (a slow CPU model)")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(handler=cmd_eval)

    status = commands.add_parser("status", parents=[common], help="what the index holds")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=cmd_status)

    serve = commands.add_parser("serve", parents=[common], help="start the web app")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=7860, help="port to listen on")
    serve.add_argument("--llm", choices=LLM_CHOICES, help="answer generator (KORA_LLM)")
    serve.set_defaults(handler=cmd_serve)

    config = commands.add_parser("config", parents=[common], help="print effective settings")
    config.add_argument("--json", action="store_true")
    config.set_defaults(handler=cmd_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    enforce_offline()
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    from rag.errors import KoraError, UsageError

    try:
        return handler(args)
    except UsageError as exc:
        print(f"kora: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KoraError as exc:
        print(f"kora: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("kora: interrupted; the index stays usable, run the command again to finish.",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
