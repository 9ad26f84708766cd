"""The `kora` command line. Contract: ../shared/DESIGN.md, "Command-line contract".

Heavy libraries (torch, llama-index, Chroma) are imported inside the commands that need
them, so `kora config` and `kora --help` start instantly.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rag.offline import enforce_offline

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
LLM_CHOICES = ["auto", "none", "ollama", "openai", "transformers", "llamacpp"]
# `kora serve` on an empty Chroma server waits this long for another worker's first ingest
SERVE_INGEST_WAIT_SECONDS = 3600.0


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


_SECRET_SUFFIXES = ("_key", "password", "secret", "token")


def _masked(name: str, value: Any) -> Any:
    """Secrets are never printed: `kora config` output ends up in tickets and chats."""
    if name.endswith(_SECRET_SUFFIXES) and value:
        return "***"
    return value


def cmd_config(args: argparse.Namespace) -> int:
    settings = _settings(args)
    rows = [(name, _masked(name, value), description)
            for name, value, description in settings.described()]
    if args.json:
        _print_json({name: str(value) if isinstance(value, Path) else value
                     for name, value, _ in rows})
        return EXIT_OK
    for name, value, description in rows:
        print(f"{name} = {value!r}")
        print(textwrap.indent(textwrap.fill(description, 88), "    # "))
    return EXIT_OK


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest import Ingestor, print_progress_bar
    from rag.providers.embedding import Embedder
    from rag.providers.vectorstore import DataDir

    settings = _settings(args)
    data_dir = DataDir(settings)
    data_dir.current()  # an unreachable Chroma server fails here, before the model loads
    embedder = Embedder.load(settings)
    ingestor = Ingestor(settings, embedder, data_dir)
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
    from rag.retrieval import Filters

    return Filters(
        types=tuple(args.type or ()), date_from=args.date_from, date_to=args.date_to
    )


def cmd_search(args: argparse.Namespace) -> int:
    from rag.answering import clean_question
    from rag.errors import EmptyIndexError
    from rag.providers.embedding import Embedder
    from rag.providers.vectorstore import DataDir
    from rag.retrieval import Retriever

    query, notice = clean_question(args.query)
    if notice:
        print(f"Hinweis: {notice}", file=sys.stderr)
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
    results = retriever.search(query, mode=mode, filters=_filters(args))
    if args.json:
        _print_json({"query": query, "retriever": mode,
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
    from rag.answering import Assistant, clean_question

    # an empty question is a usage error before the model is loaded; the Answerer
    # cleans (and, if needed, cuts) the question again and reports that in the notice
    clean_question(args.question)
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
            source = citation.passage
            print(f"[{citation.n}] {source.title} – {source.location} ({source.date}), "
                  f"{source.doc_id}")
    print(f"\n({assistant.llm_description})", file=sys.stderr)
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from rag.providers.embedding import Embedder

    settings = _settings(args)
    if args.llm_eval:
        return _eval_llm(args, settings)
    if not args.beir:
        return _eval_golden(args, settings)
    from evaluation import evaluate_beir

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
    from evaluation import GOLDEN_FILE, GoldenSet, run_golden, write_report
    from rag.providers.embedding import Embedder

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
    from evaluation import GOLDEN_FILE, GoldenSet, run_llm_eval
    from rag.errors import UsageError
    from rag.providers.embedding import Embedder

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
    from rag.errors import EmptyIndexError, IndexModelMismatchError
    from rag.providers.vectorstore import DataDir

    settings = _settings(args)
    data_dir = DataDir(settings)
    status: dict[str, Any] = {
        "documents": 0,
        "chunks": 0,
        "embedding_model": settings.embedding_model,
        "embedding_dimension": None,
        "configured_embedding_model": settings.embedding_model,
        "data_dir": str(settings.data_dir.resolve()),
        "corpus_dir": str(settings.corpus_dir.resolve()),
        "last_ingest": data_dir.last_ingest(),
        "index_generation": None,
        "index_version": None,
        "chroma": settings.chroma_url or "embedded",
        "keyword_index_chunks": 0,
        "llm": _llm_status(settings),
    }
    try:
        index = data_dir.open_current(verify_model=False)
    except EmptyIndexError:
        status["hint"] = "No index yet: run `kora ingest`."
    else:
        from rag.providers.keyword import KeywordIndex

        try:
            data_dir.check_model(index.generation)
        except IndexModelMismatchError as exc:
            status["hint"] = str(exc)
        status["documents"] = len(index.file_states())
        status["chunks"] = index.chunk_count()
        status["embedding_model"] = index.generation.embedding_model
        status["embedding_dimension"] = index.generation.dimension
        status["index_generation"] = index.generation.name
        status["index_version"] = index.generation.version
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
    from rag.providers.llm import choose_llm

    try:
        return dict(choose_llm(settings).as_dict())
    except KoraError as exc:
        return {"backend": settings.llm, "model": None, "context_window": None,
                "description": f"{settings.llm}: not usable: {exc}"}


def cmd_serve(args: argparse.Namespace) -> int:
    from ingest import Ingestor, print_progress_bar
    from rag.errors import EmptyIndexError, IndexModelMismatchError, IndexUnavailableError
    from rag.providers.embedding import Embedder
    from rag.providers.vectorstore import DataDir

    settings = _settings(args)
    data_dir = DataDir(settings)
    try:
        index = data_dir.open_current()
        empty = index.chunk_count() == 0
        index.close()
    except EmptyIndexError:
        empty = True
    except IndexModelMismatchError as exc:
        # serve anyway: the page says so and the admin area's re-index rebuilds it
        print(f"kora: {exc}", file=sys.stderr)
        empty = False
    except IndexUnavailableError as exc:
        # serve anyway: the chat says so, and the app picks the index up once the
        # server answers
        print(f"kora: {exc} KORA starts anyway and answers once the server is back.",
              file=sys.stderr)
        empty = False
    if empty:
        print(f"Noch kein Index: indexiere {settings.corpus_dir} …", file=sys.stderr)
        # several workers starting on one empty server: the first indexes, the others
        # wait for it and then find every file indexed
        report = Ingestor(settings, Embedder.load(settings), data_dir).run(
            [settings.corpus_dir], progress=print_progress_bar(),
            wait_for_lock=SERVE_INGEST_WAIT_SECONDS if data_dir.shared else 0.0)
        for failure in report.failed:
            print(f"FAILED {failure.path}: {failure.reason}", file=sys.stderr)
    from ui.app import serve

    serve(settings, args.host, args.port)
    return EXIT_OK


# --- accounts, audit, feedback ----------------------------------------------------------


def _actor() -> str:
    """Who ran a command-line change, as the audit log names them."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid-{os.getuid()}"


def _read_new_password(name: str) -> str:
    """From the terminal (asked twice, not echoed) or, in scripts, the first line of
    stdin; never from the command line, where `ps` and the shell history would show it."""
    import getpass

    from ui.accounts import AccountError

    if sys.stdin.isatty():
        first = getpass.getpass(f"New password for {name}: ")
        if getpass.getpass("Repeat the password: ") != first:
            raise AccountError("The two passwords differ: nothing was changed.")
        return first
    line = sys.stdin.readline()
    if not line.strip():
        raise AccountError("No password on stdin: type it at a terminal, or pipe it in "
                           "(e.g. `kora admin add NAME < password-file`).")
    return line.rstrip("\r\n")


def cmd_admin(args: argparse.Namespace) -> int:
    from ui.accounts import AccountStore, check_name
    from ui.audit import AuditLog

    settings = _settings(args)
    store = AccountStore.in_data_dir(settings.data_dir)
    audit = AuditLog.in_data_dir(settings.data_dir)
    if args.admin_command == "list":
        return _admin_list(args, store)
    name = check_name(args.name)
    if args.admin_command == "add":
        password = None if args.no_password else _read_new_password(name)
        account = store.add(name, role=args.role, password=password)
        detail = {"role": account.role, "password": password is not None}
        print(f"Account {name!r} added (role {account.role}"
              f"{'' if password is not None else ', sign-in through the trusted proxy only'}).")
    elif args.admin_command == "passwd":
        if store.get(name) is None:
            from ui.accounts import AccountError

            raise AccountError(f"No account {name!r}: see `kora admin list`.")
        store.set_password(name, _read_new_password(name))
        detail = {}
        print(f"Password of {name!r} changed; its open web sessions have ended.")
    else:
        removed = store.remove(name)
        detail = {"role": removed.role}
        print(f"Account {name!r} removed; its open web sessions have ended.")
    audit.append(action=f"account-{args.admin_command}", account=_actor(), client="local",
                 detail={"target": name, **detail})
    if store.has_accounts() and os.environ.get("KORA_ADMIN_PASSWORD"):
        print("Note: KORA_ADMIN_PASSWORD is now ignored because named accounts exist; "
              "unset it.", file=sys.stderr)
    return EXIT_OK


def _admin_list(args: argparse.Namespace, store: Any) -> int:
    accounts = store.accounts()
    loose = store.loose_permissions()
    env_set = bool(os.environ.get("KORA_ADMIN_PASSWORD"))
    env_state = "unset" if not env_set else "ignored" if accounts else "active"
    if args.json:
        _print_json({
            "file": str(store.path),
            "accounts": [{"name": a.name, "role": a.role,
                          "sign_in": "password" if a.password_hash else "proxy",
                          "created": a.created, "password_changed": a.password_changed}
                         for a in accounts.values()],
            "env_password": env_state,
        })
        return EXIT_OK
    if accounts:
        print(f"{'account':<24}{'role':<8}{'sign-in':<10}{'created':<27}password changed")
    for a in accounts.values():
        sign_in = "password" if a.password_hash else "proxy"
        print(f"{a.name:<24}{a.role:<8}{sign_in:<10}{a.created:<27}{a.password_changed}")
    if not accounts:
        print(f"No named accounts ({store.path}). Add one: kora admin add NAME")
    messages = {
        "active": "KORA_ADMIN_PASSWORD is set and in use: one shared admin password without "
                  "a name (single-admin set-up; the audit log cannot tell people apart).",
        "ignored": "KORA_ADMIN_PASSWORD is set but ignored because named accounts exist: "
                   "unset it.",
        "unset": "KORA_ADMIN_PASSWORD is not set.",
    }
    print(messages[env_state])
    if loose:
        print(f"Warning: {store.path} was readable by others; its mode is now 0600.",
              file=sys.stderr)
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    from ui.audit import AuditLog, entry_row

    settings = _settings(args)
    audit = AuditLog.in_data_dir(settings.data_dir)
    entries = audit.entries(limit=args.limit)
    check = audit.verify()
    if args.json:
        _print_json({"file": str(audit.path), "intact": check.intact,
                     "first_broken_line": check.first_broken_line, "entries": entries})
    else:
        for entry in entries:
            row = entry_row(entry)
            line = (f"{row['time']}  {row['account'] or '-'}  {row['client'] or '-'}  "
                    f"{row['action']}  {row['outcome']}")
            if row["documents"]:
                line += f"  {row['documents']}"
            if row["detail"]:
                line += f"  {row['detail']}"
            print(line)
        if not entries:
            print(f"The audit log is empty ({audit.path}).")
    if not check.intact:
        print(f"kora: warning: the audit log was changed outside KORA from line "
              f"{check.first_broken_line} on ({audit.path}).", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_feedback(args: argparse.Namespace) -> int:
    from ui.audit import AuditLog
    from ui.feedback import FEEDBACK_FILE, FeedbackStore

    settings = _settings(args)
    days = args.older_than if args.older_than is not None else settings.feedback_retention_days
    if not (settings.data_dir / FEEDBACK_FILE).exists():
        removed = 0
    else:
        store = FeedbackStore.in_data_dir(settings.data_dir)
        removed = store.purge(older_than_days=days)
        store.close()
    AuditLog.in_data_dir(settings.data_dir).append(
        action="feedback-purge", account=_actor(), client="local",
        detail={"older_than_days": days, "removed": removed})
    if args.json:
        _print_json({"removed": removed, "older_than_days": days})
    else:
        print(f"{removed} feedback entries older than {days:g} days removed.")
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
    evaluate.add_argument("--golden", help="golden-set YAML (default evaluation/golden.yaml)")
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

    # the shared options sit on the leaf commands only: argparse lets a sub-command's
    # defaults overwrite what the parent parsed
    admin = commands.add_parser("admin", help="named accounts for the web app's admin area")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True,
                                          metavar="ACTION")
    add = admin_commands.add_parser(
        "add", parents=[common],
        help="add an account; the password is asked for (or read from stdin)")
    add.add_argument("name")
    add.add_argument("--role", choices=["admin", "chat"], default="admin",
                     help="admin (default) or chat (may only ask, with chat login on)")
    add.add_argument("--no-password", action="store_true",
                     help="no password: signs in only through the trusted proxy header")
    passwd = admin_commands.add_parser("passwd", parents=[common],
                                       help="set a new password (asked for, or from stdin)")
    passwd.add_argument("name")
    remove = admin_commands.add_parser("remove", parents=[common], help="remove an account")
    remove.add_argument("name")
    listing = admin_commands.add_parser("list", parents=[common], help="list the accounts")
    listing.add_argument("--json", action="store_true")
    admin.set_defaults(handler=cmd_admin)

    audit = commands.add_parser("audit", parents=[common],
                                help="print the audit log of admin actions")
    audit.add_argument("--json", action="store_true")
    audit.add_argument("--limit", type=_positive_int, help="only the latest N entries")
    audit.set_defaults(handler=cmd_audit)

    feedback = commands.add_parser("feedback", help="stored staff feedback")
    feedback_commands = feedback.add_subparsers(dest="feedback_command", required=True,
                                                metavar="ACTION")
    purge = feedback_commands.add_parser(
        "purge", parents=[common],
        help="delete feedback older than the retention period (KORA_FEEDBACK_RETENTION_DAYS)")
    purge.add_argument("--older-than", type=_non_negative_float, metavar="DAYS",
                       help="delete entries older than DAYS days (default: the retention "
                            "setting, 90)")
    purge.add_argument("--json", action="store_true")
    feedback.set_defaults(handler=cmd_feedback)

    config = commands.add_parser("config", parents=[common], help="print effective settings")
    config.add_argument("--json", action="store_true")
    config.set_defaults(handler=cmd_config)
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _tolerant_output() -> None:
    """An old terminal (Latin-1) cannot show every character of an answer: print a
    replacement character rather than end in a UnicodeEncodeError traceback."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")


def main(argv: Sequence[str] | None = None) -> int:
    enforce_offline()
    _tolerant_output()
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
    except BrokenPipeError:
        # `kora status | head`: the reader left early. Point stdout at /dev/null so that
        # the interpreter's final flush does not fail a second time.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
