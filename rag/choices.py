"""The choice sets, each spelled once: the settings' types, and what the providers,
retrieval, the evaluation and the command line's choices derive from
(``typing.get_args``). A module of its own, importing nothing heavy, so that
``kora --help`` can list the choices without loading pydantic."""

from __future__ import annotations

from typing import Literal

LLMBackend = Literal["none", "ollama", "openai", "transformers", "llamacpp"]
LLMKind = Literal["auto", LLMBackend]  # auto picks one of the backends
RetrieverMode = Literal["hybrid", "dense", "bm25"]
FusionMethod = Literal["minmax", "score", "rrf"]
