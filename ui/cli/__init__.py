"""The `kora` command line. Contract: ../shared/DESIGN.md, "Command-line contract".

One module per group of commands: ``documents`` (ingest, search, ask), ``evaluate``
(eval), ``service`` (status, serve, config), ``accounts`` (admin, audit, feedback);
``entry`` builds the parser and runs a command. Heavy libraries (torch, llama-index,
Chroma) are imported inside the commands that need them, so `kora config` and
`kora --help` start instantly.
"""

from ui.cli.entry import build_parser, main

__all__ = ["build_parser", "main"]
