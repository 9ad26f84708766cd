"""`kora ingest`, `kora search` and `kora ask`: filling the index and reading from it."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, get_args

from rag.choices import LLMKind, RetrieverMode
from ui import strings as S
from ui.cli.shared import (
    EXIT_FAILED,
    EXIT_OK,
    Commands,
    Handler,
    filters_from,
    load_settings,
    print_json,
)

if TYPE_CHECKING:
    from ingest import IngestReport
    from rag.settings import Settings


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest import Ingestor, needs_confirmation, plan_ingest, removal_check
    from rag.answering import open_kora
    from rag.errors import UsageError
    from ui.progress import document_bar

    settings = load_settings(args)
    with open_kora(settings) as kora:
        kora.data_dir.current()  # an unreachable Chroma server fails here, before the model loads
        paths = [Path(p) for p in args.paths] or None
        if args.dry_run:
            report = plan_ingest(settings, kora.data_dir, paths, rebuild=args.rebuild,
                                 prune=args.prune)
            _print_ingest_report(report, args, settings)
            return EXIT_FAILED if report.failed else EXIT_OK
        removing, indexed = (removal_check(settings, kora.data_dir, paths) if args.prune
                             else (0, 0))
        large = needs_confirmation(settings, removing, indexed)
        if large and not args.yes:
            raise UsageError(
                f"--prune would remove {removing} of {indexed} indexed documents "
                f"({removing / indexed:.0%}, more than {settings.max_removal_share:.0%}): see "
                "which with `kora ingest --prune --dry-run`, then confirm with --yes.")
        report = Ingestor.over(kora).run(
            paths,
            rebuild=args.rebuild,
            prune=args.prune,
            progress=None if args.json else document_bar(),
        )
    if large:
        _audit_large_removal(settings, report, indexed)
    _print_ingest_report(report, args, settings)
    return EXIT_FAILED if report.failed else EXIT_OK


def _audit_large_removal(settings: Settings, report: IngestReport, indexed: int) -> None:
    """A confirmed large removal is recorded, as an admin's deletion is."""
    from people import People, document_ref
    from ui.cli.accounts import actor

    People.open(settings, purge_feedback=False).audit.append(
        action="ingest-large-removal", account=actor(), client="local",
        documents=[document_ref(doc_id, None) for doc_id in report.removed_ids],
        detail={"removed": report.removed, "indexed": indexed})


def _print_ingest_report(report: IngestReport, args: argparse.Namespace,
                         settings: Settings) -> None:
    if args.json:
        print_json(report.as_dict())
        return
    for failure in report.failed:
        prefix = "WOULD FAIL" if report.dry_run else "FAILED"
        print(f"{prefix} {failure.path}: {failure.reason}", file=sys.stderr)
    if report.dry_run:
        for label, ids in (("add", report.added_ids), ("update", report.updated_ids),
                           ("remove", report.removed_ids)):
            for doc_id in ids:
                print(f"would {label} {doc_id}")
    verb = "would replace" if report.dry_run else "replaced"
    for replacement in report.replaced:
        print(f"{verb} {replacement.doc_id} by {replacement.by}")
    for doc_id in report.restored:
        print(f"{'would answer' if report.dry_run else 'answers'} again: {doc_id}")
    if report.dry_run:
        print(
            f"dry run: {report.added} to add, {report.updated} to update, {report.unchanged} "
            f"unchanged, {report.removed} to remove, {len(report.failed)} would fail, "
            f"{report.undated} without a date; nothing was changed ({report.seconds:.1f} s)")
        return
    print(
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.removed} removed, {len(report.failed)} failed, {report.undated} without "
        f"a date; {report.chunks} chunks written in {report.seconds:.1f} s "
        f"(data directory: {settings.data_dir})"
    )


def cmd_search(args: argparse.Namespace) -> int:
    from rag.answering import clean_question, open_kora

    query, notice = clean_question(args.query)
    if notice:
        print(f"{S.NOTICE_PREFIX}{notice}", file=sys.stderr)
    settings = load_settings(args)
    mode = args.retriever or settings.retriever
    with open_kora(settings) as kora:
        results = kora.retriever.search(query, mode=mode, filters=filters_from(args))
    if args.json:
        print_json({"query": query, "retriever": mode,
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
    from rag.answering import clean_question, open_kora

    # an empty question is a usage error before the model is loaded; the Answerer
    # cleans (and, if needed, cuts) the question again and reports that in the notice
    clean_question(args.question)
    settings = load_settings(args)
    streaming = not args.json and sys.stdout.isatty()
    streamed: list[str] = []

    def show(piece: str) -> None:
        streamed.append(piece)
        print(piece, end="", flush=True)

    with open_kora(settings) as kora:
        assistant = kora.assistant
        answer = assistant.answerer.ask(
            args.question, filters=filters_from(args), top_k=settings.top_k,
            on_token=show if streaming else None,
        )
    if args.json:
        print_json(answer.as_json())
        return EXIT_OK
    if streamed:
        print()
        if "".join(streamed).strip() != answer.answer.strip():
            # the citation check changed the streamed text: show the checked version
            print(f"\n{S.CLI_CHECKED_ANSWER}")
            print(answer.answer)
    else:
        print(answer.answer)
    if answer.notice:
        print(f"\n{S.NOTICE_PREFIX}{answer.notice}")
    if answer.citations:
        print(f"\n{S.SOURCES_HEADING}:")
        for citation in answer.citations:
            source = citation.passage
            print(f"[{citation.n}] {source.title} – {source.location} ({source.date}), "
                  f"{source.doc_id}")
    print(f"\n({assistant.llm_description})", file=sys.stderr)
    return EXIT_OK


def add_ingest(commands: Commands, common: argparse.ArgumentParser) -> None:
    ingest = commands.add_parser("ingest", parents=[common], help="index documents")
    ingest.add_argument("paths", nargs="*", help="files or folders (default: the corpus folder)")
    ingest.add_argument("--rebuild", action="store_true", help="start from an empty index")
    ingest.add_argument("--prune", action="store_true",
                        help="remove documents whose files are gone")
    ingest.add_argument("--json", action="store_true", help="print the report as JSON")
    ingest.add_argument("--dry-run", action="store_true",
                        help="list what the ingest would add, update, remove and replace, "
                             "and which files would fail, without changing anything")
    ingest.add_argument("--yes", action="store_true",
                        help="confirm a --prune that removes more than KORA_MAX_REMOVAL_SHARE "
                             "of the documents")
    ingest.set_defaults(handler=cmd_ingest)


def filter_options() -> argparse.ArgumentParser:
    """The metadata filters `kora search` and `kora ask` share."""
    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--type", action="append",
                         help="only documents of this type (repeatable), e.g. prototyp")
    filters.add_argument("--date-from", help="only documents dated on or after (YYYY[-MM[-DD]])")
    filters.add_argument("--date-to", help="only documents dated on or before (YYYY[-MM[-DD]])")
    return filters


def _question_command(commands: Commands, name: str, *, help: str, text: str,
                      top_k_help: str, parents: list[argparse.ArgumentParser],
                      handler: Handler) -> argparse.ArgumentParser:
    """`kora search` and `kora ask`: a text to look up, the filters and --top-k."""
    command: argparse.ArgumentParser = commands.add_parser(name, parents=parents, help=help)
    command.add_argument(text)
    command.add_argument("--top-k", type=int, help=top_k_help)
    command.set_defaults(handler=handler)
    return command


def add_search(commands: Commands, common: argparse.ArgumentParser,
               filters: argparse.ArgumentParser) -> None:
    search = _question_command(commands, "search", help="show matching passages", text="query",
                               top_k_help="number of passages (KORA_TOP_K)",
                               parents=[common, filters], handler=cmd_search)
    search.add_argument("--retriever", choices=get_args(RetrieverMode),
                        help="ranking to use (KORA_RETRIEVER, default hybrid)")
    search.add_argument("--json", action="store_true")


def add_ask(commands: Commands, common: argparse.ArgumentParser,
            filters: argparse.ArgumentParser) -> None:
    ask = _question_command(commands, "ask", help="answer a question with cited sources",
                            text="question", top_k_help="passages to consider (KORA_TOP_K)",
                            parents=[common, filters], handler=cmd_ask)
    ask.add_argument("--llm", choices=get_args(LLMKind), help="answer generator (KORA_LLM)")
    ask.add_argument("--json", action="store_true")
