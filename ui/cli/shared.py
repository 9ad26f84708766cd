"""What the command groups share: exit codes, the settings from the flags, JSON output,
the filter options and the shape of a command with actions."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rag.retrieval import Filters
    from rag.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
Handler = Callable[[argparse.Namespace], int]
Commands = Any  # argparse's sub-parser registry (a private argparse class)


class AddAction(Protocol):
    def __call__(self, action: str, action_help: str, *,
                 shared_options: bool = ...) -> argparse.ArgumentParser: ...


def load_settings(args: argparse.Namespace) -> Settings:
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


def print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def filters_from(args: argparse.Namespace) -> Filters:
    from rag.retrieval import Filters

    return Filters(
        types=tuple(args.type or ()), date_from=args.date_from, date_to=args.date_to
    )


def action_group(commands: Commands, name: str, *, help: str, handler: Handler,
                 common: argparse.ArgumentParser) -> AddAction:
    """A command whose actions are sub-commands (`kora admin add`); returns what adds an
    action (name, help). The shared options sit on the actions only: argparse lets a
    sub-command's defaults overwrite what the parent parsed. An action that has actions
    of its own (`kora admin token add`) takes ``shared_options=False``, and its own
    actions take them."""
    group = commands.add_parser(name, help=help)
    group.set_defaults(handler=handler)
    actions = group.add_subparsers(dest=f"{name}_command", required=True, metavar="ACTION")

    def add_action(action: str, action_help: str, *,
                   shared_options: bool = True) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = actions.add_parser(
            action, parents=[common] if shared_options else [], help=action_help)
        return parser

    return add_action
