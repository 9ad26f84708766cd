"""KORA's one typed settings object.

Built once at start (``Settings.load``) and passed down; nothing reads settings at
import time. Sources, strongest first: explicit keyword arguments (the command-line
flags), the environment (``KORA_`` prefix), ``kora.toml``, the defaults below.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"
CONFIG_FILE_ENV = "KORA_CONFIG"
DEFAULT_CONFIG_FILE = "kora.toml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KORA_",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Field(
        default=Path("kora-data"),
        description="Directory holding the index: Chroma, keyword index, docstore, reports.",
    )
    corpus_dir: Path = Field(
        default=Path("corpus"),
        description="Default folder that `kora ingest` reads when no path is given.",
    )
    embedding_model: str = Field(
        default=BUNDLED_MODEL,
        description=(
            "Sentence-transformers model: the bundled all-MiniLM-L6-v2, a local model "
            "directory, or the name of a model already in the local Hugging Face cache."
        ),
    )
    embedding_query_prefix: str | None = Field(
        default=None,
        description="Text put before every query before embedding; None picks it from the "
        "model name (e5 models: 'query: ').",
    )
    embedding_passage_prefix: str | None = Field(
        default=None,
        description="Text put before every passage before embedding; None picks it from the "
        "model name (e5 models: 'passage: ').",
    )
    embedding_batch_size: int = Field(
        default=32, ge=1, description="Texts per forward pass of the embedding model."
    )
    embedding_device: str = Field(
        default="cpu", description="Torch device for the embedding model (cpu, cuda, mps)."
    )
    chunk_tokens: int = Field(
        default=200,
        ge=32,
        description="Largest chunk in model tokens, title and heading included; must stay "
        "below the embedding model's window (256 for all-MiniLM-L6-v2).",
    )
    chunk_overlap_tokens: int = Field(
        default=40,
        ge=0,
        description="Sentences up to this many tokens from the end of a chunk open the next one.",
    )
    chroma_url: str | None = Field(
        default=None,
        description="URL of a Chroma server (`chroma run`); unset uses an embedded Chroma "
        "in the data directory.",
    )
    ingest_batch_characters: int = Field(
        default=400_000,
        ge=1_000,
        description="Documents are embedded in batches of about this much text. Larger "
        "batches pad less (sentence-transformers sorts texts by length only within one "
        "call); smaller ones make progress and crash recovery finer-grained.",
    )
    max_file_mb: float = Field(
        default=50.0, gt=0, description="Files larger than this are reported and skipped."
    )
    top_k: int = Field(default=5, ge=1, le=100, description="Passages returned per query.")

    retriever: Literal["hybrid", "dense", "bm25"] = Field(
        default="hybrid", description="How passages are found: hybrid (dense + BM25), dense, bm25."
    )
    fusion: Literal["score", "rrf"] = Field(
        default="score",
        description="How hybrid combines the rankings: score (BM25 divided by the query's "
        "best BM25 score, plus the weighted cosine similarity; measured best with the "
        "bundled English embedder on German text) or rrf (weighted reciprocal rank).",
    )
    fusion_k: int = Field(
        default=60, ge=1, description="Reciprocal-rank-fusion constant: 1 / (k + rank)."
    )
    fusion_weight_bm25: float = Field(
        default=1.0, ge=0, description="Weight of the BM25 side in the hybrid fusion."
    )
    fusion_weight_dense: float = Field(
        default=1.0, ge=0, description="Weight of the dense (embedding) side in the fusion."
    )
    keyword_decompound: bool = Field(
        default=True,
        description="Also index the parts of German compounds (Mobilitätsplanung -> "
        "Mobilität, Planung) so that paraphrases with separate words match.",
    )

    llm: Literal["auto", "none", "ollama", "openai", "transformers", "llamacpp"] = Field(
        default="auto",
        description="Answer generator: auto (a local Ollama if it answers quickly, else the "
        "GGUF model in KORA_LLM_MODEL_PATH run in-process by llama.cpp, else extractive), "
        "none (always extractive), ollama, openai (any OpenAI-compatible server: vLLM, "
        "llama.cpp server, LM Studio), transformers (a local model directory), llamacpp (a "
        "GGUF model file run in-process through xllamacpp).",
    )
    llm_model: str = Field(
        default="llama3.1:8b",
        description="Model name for Ollama or the OpenAI-compatible server.",
    )
    ollama_url: str = Field(
        default="http://127.0.0.1:11434", description="Base URL of the Ollama server."
    )
    openai_base_url: str = Field(
        default="http://127.0.0.1:8000/v1",
        description="Base URL of the OpenAI-compatible server, including /v1.",
    )
    openai_api_key: str = Field(
        default="not-needed", description="API key for the OpenAI-compatible server, if any."
    )
    llm_model_path: Path | None = Field(
        default=None,
        description="The local model: a GGUF file (or a folder holding exactly one) for "
        "KORA_LLM=llamacpp and auto, or a transformers model directory (config, weights, "
        "tokenizer with a chat template) for KORA_LLM=transformers.",
    )
    llm_context_window: int = Field(
        default=8192,
        ge=512,
        description="Tokens the LLM can read per answer (prompt + answer); sources are packed "
        "to fit. Passed to Ollama as num_ctx (its default of 2048 silently cuts retrieved "
        "sources); llama.cpp reserves this much per parallel answer, lowered to the "
        "model's own training context where that is smaller.",
    )
    llm_max_tokens: int = Field(
        default=512, ge=16, description="Longest answer the LLM may write, in tokens."
    )
    llm_temperature: float = Field(default=0.1, ge=0, le=2, description="Sampling temperature.")
    llm_threads: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="CPU threads llama.cpp computes with (KORA_LLM=llamacpp). Unset: one "
        "less than the machine has cores (at least one). Its threads wait for each other at "
        "every token, so one waiting for a core that another process holds (the embedding "
        "model during a re-index, another service) stalls them all; with a free second core, "
        "2 threads read the prompt about 1.9x faster. Measured in benchmarks/llm.py, see "
        "README 'Performance'; set all cores on a server that does nothing else.",
    )
    llm_parallel: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Answers llama.cpp writes at the same time (KORA_LLM=llamacpp, continuous "
        "batching); each reserves KORA_LLM_CONTEXT_WINDOW tokens of memory (KV cache).",
    )
    llm_timeout: float = Field(
        default=120.0, gt=0, description="Seconds to wait for the LLM server per request."
    )
    llm_auto_probe_seconds: float = Field(
        default=0.5,
        gt=0,
        description="With KORA_LLM=auto: how long to wait for a local Ollama to answer.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = Path(os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=config_file),
        )

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Build the settings; ``overrides`` (flags) whose value is None are ignored."""
        return cls(**{key: value for key, value in overrides.items() if value is not None})

    def described(self) -> list[tuple[str, Any, str]]:
        """(name, effective value, description) for every field, for `kora config`."""
        fields = type(self).model_fields
        return [(name, getattr(self, name), fields[name].description or "") for name in fields]
