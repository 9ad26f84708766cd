"""The parser of all commands and ``main``, which turns KORA's errors into exit codes."""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Sequence

from rag.offline import enforce_offline
from ui.cli.accounts import add_admin, add_audit, add_feedback
from ui.cli.documents import add_ask, add_ingest, add_search, filter_options
from ui.cli.evaluate import add_eval
from ui.cli.quality import add_report
from ui.cli.service import add_config, add_serve, add_status
from ui.cli.shared import EXIT_FAILED, EXIT_USAGE, Handler


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="index directory (KORA_DATA_DIR)")
    common.add_argument("--corpus-dir", help="default document folder (KORA_CORPUS_DIR)")
    common.add_argument("--embedding-model", help="embedding model (KORA_EMBEDDING_MODEL)")
    filters = filter_options()

    parser = argparse.ArgumentParser(
        prog="kora",
        description="KORA: cited answers from municipal documents, fully on premises.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # in the order `kora --help` lists them
    add_ingest(commands, common)
    add_search(commands, common, filters)
    add_ask(commands, common, filters)
    add_eval(commands, common)
    add_status(commands, common)
    add_serve(commands, common)
    add_admin(commands, common)
    add_audit(commands, common)
    add_feedback(commands, common)
    add_report(commands, common)
    add_config(commands, common)
    return parser


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
    handler: Handler = args.handler
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
