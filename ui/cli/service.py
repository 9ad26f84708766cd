"""`kora status`, `kora serve` and `kora config`: what is configured and indexed, and the
web app."""

from __future__ import annotations

import argparse
import sys
import textwrap
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, cast, get_args

from rag.choices import LLMKind
from rag.jsontypes import JSONObject
from ui import strings as S
from ui.cli.shared import EXIT_OK, Commands, load_settings, print_json

if TYPE_CHECKING:
    from rag.providers.vectorstore import DataDir, Index
    from rag.settings import Settings

# `kora serve` on an empty Chroma server waits this long for another worker's first ingest
SERVE_INGEST_WAIT_SECONDS = 3600.0
_SECRET_SUFFIXES = ("_key", "password", "secret", "token")


def _masked(name: str, value: object) -> object:
    """Secrets are never printed: `kora config` output ends up in tickets and chats."""
    if name.endswith(_SECRET_SUFFIXES) and value:
        return "***"
    if name == "database_url" and value:
        from people import shown_url

        return shown_url(str(value))  # the password in the URL becomes ***
    return value


def cmd_config(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    rows = [(name, _masked(name, value), description)
            for name, value, description in settings.described()]
    if args.json:
        print_json({name: str(value) if isinstance(value, Path) else value
                    for name, value, _ in rows})
        return EXIT_OK
    for name, value, description in rows:
        print(f"{name} = {value!r}")
        print(textwrap.indent(textwrap.fill(description, 88), "    # "))
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from rag.errors import EmptyIndexError
    from rag.providers.vectorstore import DataDir

    settings = load_settings(args)
    data_dir = DataDir(settings)
    status: JSONObject = {
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
        "people_data": _people_status(settings),
    }
    try:
        index = data_dir.open_current(verify_model=False)
    except EmptyIndexError:
        status["hint"] = "No index yet: run `kora ingest`."
    else:
        with closing(index):
            status.update(_index_status(data_dir, index))
    if args.json:
        print_json(status)
        return EXIT_OK
    for key, value in status.items():
        # the records under these keys are the ones this module builds just above
        if key == "llm":
            value = cast("JSONObject", value)["description"]
        if key == "people_data":
            people = cast("JSONObject", value)
            value = (f"accounts, audit and feedback in {people['database']}"
                     + (f" ({people['error']})" if "error" in people else
                        f" ({people['accounts']} accounts, {people['audit_entries']} audit "
                        f"entries, {people['feedback']} feedback)"))
        if key == "last_ingest" and value:
            run = cast("JSONObject", value)
            value = (f"{run['finished_at']}: {run['added']} added, {run['updated']} "
                     f"updated, {run['unchanged']} unchanged, {run['removed']} removed, "
                     f"{len(cast('list[object]', run['failed']))} failed")
        print(f"{key}: {value}")
    return EXIT_OK


def _index_status(data_dir: DataDir, index: Index) -> JSONObject:
    """What `kora status` reports of the live index (in the order it prints it)."""
    from rag.errors import IndexModelMismatchError
    from rag.providers.index_generation import keyword_manifest

    status: JSONObject = {}
    try:
        data_dir.check_model(index.generation)
    except IndexModelMismatchError as exc:
        status["hint"] = str(exc)
    manifest = keyword_manifest(index)
    return {
        **status,
        "documents": len(index.file_states()),
        "chunks": index.chunk_count(),
        "embedding_model": index.generation.embedding_model,
        "embedding_dimension": index.generation.dimension,
        "index_generation": index.generation.name,
        "index_version": index.generation.version,
        "keyword_index_chunks": manifest["count"] if manifest else 0,
        "keyword_analyzer": manifest.get("analyzer") if manifest else None,
    }


def _people_status(settings: Settings) -> JSONObject:
    """Where accounts, API keys, the audit trail and feedback live, and how many; a
    database that is down is reported, not raised (the index may still be fine)."""
    from people import DatabaseUnavailableError, People

    people = People.open(settings, purge_feedback=False)
    status: JSONObject = {"database": people.database.location}
    try:
        status.update(people.counts())
    except DatabaseUnavailableError as exc:
        status["error"] = str(exc).splitlines()[0]
    finally:
        people.close()
    return status


def _llm_status(settings: Settings) -> JSONObject:
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
    from ingest import Ingestor
    from rag.answering import open_kora
    from ui.progress import document_bar

    settings = load_settings(args)
    with open_kora(settings) as kora:
        if _index_is_empty(kora.data_dir):
            print(S.CLI_FIRST_INDEX.format(corpus=settings.corpus_dir), file=sys.stderr)
            # several workers starting on one empty server: the first indexes, the others
            # wait for it and then find every file indexed
            report = Ingestor.over(kora).run(
                [settings.corpus_dir], progress=document_bar(),
                wait_for_lock=SERVE_INGEST_WAIT_SECONDS if kora.data_dir.shared else 0.0)
            for failure in report.failed:
                print(f"FAILED {failure.path}: {failure.reason}", file=sys.stderr)
    from ui.app import serve

    serve(settings, args.host, args.port)
    return EXIT_OK


def _index_is_empty(data_dir: DataDir) -> bool:
    """Whether `kora serve` has to build the first index before it starts."""
    from rag.errors import EmptyIndexError, IndexModelMismatchError, IndexUnavailableError

    try:
        data_dir.require_chunks()
        return False
    except EmptyIndexError:
        return True
    except IndexModelMismatchError as exc:
        # serve anyway: the page says so and the admin area's re-index rebuilds it
        print(f"kora: {exc}", file=sys.stderr)
        return False
    except IndexUnavailableError as exc:
        # serve anyway: the chat says so, and the app picks the index up once the
        # server answers
        print(f"kora: {exc} KORA starts anyway and answers once the server is back.",
              file=sys.stderr)
        return False


def add_status(commands: Commands, common: argparse.ArgumentParser) -> None:
    status = commands.add_parser("status", parents=[common], help="what the index holds")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=cmd_status)


def add_serve(commands: Commands, common: argparse.ArgumentParser) -> None:
    serve = commands.add_parser("serve", parents=[common], help="start the web app")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=7860, help="port to listen on")
    serve.add_argument("--llm", choices=get_args(LLMKind), help="answer generator (KORA_LLM)")
    serve.set_defaults(handler=cmd_serve)


def add_config(commands: Commands, common: argparse.ArgumentParser) -> None:
    config = commands.add_parser("config", parents=[common], help="print effective settings")
    config.add_argument("--json", action="store_true")
    config.set_defaults(handler=cmd_config)
