"""What KORA needs to know about a GGUF model file before llama.cpp loads it.

llama.cpp reports a file it cannot load only as "Failed to init server" (its log, which
KORA keeps quiet, says more), and a model larger than the free memory does not fail at
all: the machine starts paging and every answer takes minutes. So the file is found,
checked and measured here first, each problem with one line that says what to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import LLMUnavailableError
from rag.jsontypes import JSONObject
from rag.providers.llm.base import FALLBACK, one_line

GGUF_MAGIC = b"GGUF"
_SPLIT = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)
GIB = 1024**3
# On top of the weights and the KV cache: llama.cpp's compute buffers, the largest of
# them the logits of a 512-token prompt batch (4 bytes per vocabulary entry each), plus
# a quarter of a GiB for everything else. For a random model of Qwen2.5-0.5B's shape
# (342 MiB, 2 x 4096 tokens) this estimates 0.97 GiB; benchmarks/llm.py measured 0.91 GiB
# more RSS after loading it and answering.
RUNTIME_OVERHEAD_BYTES = GIB // 4
PROMPT_BATCH = 512
NEEDS_FILE = (
    "set KORA_LLM_MODEL_PATH to a GGUF model file (see \"Bringing a model\" in the README), "
    + FALLBACK
)


class ModelFileError(LLMUnavailableError):
    """The GGUF model file is missing, unreadable, not GGUF, or too large for this machine."""


@dataclass(frozen=True)
class GGUFInfo:
    path: Path
    name: str
    architecture: str
    size_bytes: int
    context_length: int | None  # the window the model was trained for
    kv_bytes_per_token: int  # KV cache per token of context (f16 keys and values)
    vocab_size: int = 0

    def memory_needed(self, *, context: int, parallel: int) -> int:
        """Bytes of RAM to run with ``parallel`` answers of ``context`` tokens each."""
        return (
            self.size_bytes + self.kv_bytes_per_token * context * parallel
            + PROMPT_BATCH * self.vocab_size * 4 + RUNTIME_OVERHEAD_BYTES
        )


def find_gguf(path: Path | None) -> Path:
    """The model file ``KORA_LLM_MODEL_PATH`` names: the file itself, or the one ``.gguf``
    file in a folder (Ollama's blobs have no suffix; they are named as files). A model
    split into parts ("…-00001-of-00002.gguf") is named by its first part, which is how
    llama.cpp finds the others."""
    if path is None:
        raise ModelFileError(f"No GGUF model is configured: {NEEDS_FILE}.")
    path = path.expanduser()
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix.lower() == ".gguf" and p.is_file())
        if found and len({_SPLIT.sub("", p.name) for p in found}) == 1:
            found = found[:1]  # the parts of one model: the first part stands for all
        if len(found) != 1:
            what = "no .gguf file" if not found else (
                f"{len(found)} .gguf files ({', '.join(p.name for p in found[:4])})")
            raise ModelFileError(
                f"The model folder {path} holds {what}: set KORA_LLM_MODEL_PATH to the one "
                f"GGUF file KORA should use, {FALLBACK}."
            )
        path = found[0]
    if not path.exists():
        raise ModelFileError(f"The model file {path} does not exist: {NEEDS_FILE}.")
    if not path.is_file():
        raise ModelFileError(f"{path} is not a file: {NEEDS_FILE}.")
    try:
        with path.open("rb") as handle:
            magic = handle.read(len(GGUF_MAGIC))
    except OSError as exc:
        raise ModelFileError(
            f"The model file {path} cannot be read ({exc.strerror or type(exc).__name__}): "
            f"give the user running KORA read access to it, {FALLBACK}."
        ) from exc
    if magic != GGUF_MAGIC:
        raise ModelFileError(
            f"{path} is not a GGUF model file (it does not start with 'GGUF'): llama.cpp "
            "runs only GGUF files; convert the model or download its GGUF version, see "
            f"\"Bringing a model\" in the README, {FALLBACK}."
        )
    return path


def read_gguf(path: Path) -> GGUFInfo:
    """Name, architecture, size and KV-cache needs from the file's header (reads no weights)."""
    try:
        from gguf import GGUFReader
    except ImportError as exc:
        raise LLMUnavailableError(
            "Reading GGUF models needs the package gguf, which is not installed: run "
            f"`pip install gguf` {FALLBACK}."
        ) from exc
    try:
        reader = GGUFReader(str(path), "r")
        fields = {name: _field_value(field) for name, field in reader.fields.items()}
        tokens = reader.fields.get("tokenizer.ggml.tokens")
        token_count = len(tokens.data) if tokens is not None else 0
    except Exception as exc:  # the reader raises ValueError, KeyError, struct errors, …
        raise ModelFileError(
            f"The GGUF file {path} is damaged or incomplete ({type(exc).__name__}: "
            f"{one_line(exc, limit=100)}): download it again, {FALLBACK}."
        ) from exc
    architecture = str(fields.get("general.architecture") or "unknown")
    name = str(fields.get("general.name") or path.stem)
    return GGUFInfo(
        path=path,
        name=name,
        architecture=architecture,
        size_bytes=sum(part.stat().st_size for part in _parts(path)),
        context_length=_positive_int(fields.get(f"{architecture}.context_length")),
        kv_bytes_per_token=_kv_bytes_per_token(fields, architecture),
        vocab_size=_positive_int(fields.get(f"{architecture}.vocab_size")) or token_count,
    )


def _parts(path: Path) -> list[Path]:
    """All files of a model split into parts (just ``path`` for a single file)."""
    split = _SPLIT.search(path.name)
    if not split:
        return [path]
    count = int(split.group(2))
    stem = path.name[: split.start()]
    parts = [path.with_name(f"{stem}-{i:05d}-of-{count:05d}.gguf") for i in range(1, count + 1)]
    missing = [p.name for p in parts if not p.is_file()]
    if missing:
        raise ModelFileError(
            f"The model {path.name} is split into {count} parts, but {', '.join(missing[:3])} "
            f"is missing from {path.parent}: copy all parts there, {FALLBACK}."
        )
    return parts


def check_memory(info: GGUFInfo, *, context: int, parallel: int) -> None:
    """Refuse a model that would not fit in the memory this machine has free now."""
    available = available_memory_bytes()
    if available is None:
        return  # not Linux: nothing reliable to compare with
    needed = info.memory_needed(context=context, parallel=parallel)
    if needed <= available:
        return
    kv = info.kv_bytes_per_token * context * parallel
    raise ModelFileError(
        f"The model {info.name} ({info.path.name}) needs about {needed / GIB:.1f} GiB of "
        f"memory (weights {info.size_bytes / GIB:.1f} GiB, context {kv / GIB:.1f} GiB for "
        f"{parallel} x {context} tokens), but only {available / GIB:.1f} GiB are free: use a "
        "smaller model or quantisation (such as Q4_K_M), lower KORA_LLM_CONTEXT_WINDOW or "
        f"KORA_LLM_PARALLEL, {FALLBACK}."
    )


def available_memory_bytes() -> int | None:
    """``MemAvailable`` from /proc/meminfo: free memory plus caches the kernel can drop."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _field_value(field: Any) -> Any:
    """A header field as a Python value (string, number, or list of numbers)."""
    from gguf import GGUFValueType

    types = list(field.types)
    if not types:
        return None
    if types[0] == GGUFValueType.ARRAY:
        if len(types) > 1 and types[1] in (GGUFValueType.STRING, GGUFValueType.ARRAY):
            return None  # token lists and the like: large and not needed here
        return [field.parts[i].tolist()[0] for i in field.data]
    if types[0] == GGUFValueType.STRING:
        return bytes(field.parts[field.data[0]]).decode("utf-8", errors="replace")
    return field.parts[field.data[0]].tolist()[0]


def _positive_int(value: Any) -> int | None:
    if isinstance(value, list):
        value = max(value, default=None)
    return int(value) if isinstance(value, int | float) and value > 0 else None


def _kv_bytes_per_token(fields: JSONObject, architecture: str) -> int:
    """f16 keys and values of every layer for one token; 0 where the header does not say
    (recurrent architectures keep a fixed-size state instead)."""
    prefix = f"{architecture}."
    layers = _positive_int(fields.get(prefix + "block_count"))
    embedding = _positive_int(fields.get(prefix + "embedding_length"))
    heads = _positive_int(fields.get(prefix + "attention.head_count"))
    if not layers or not embedding or not heads:
        return 0
    kv_heads = _positive_int(fields.get(prefix + "attention.head_count_kv")) or heads
    key = _positive_int(fields.get(prefix + "attention.key_length")) or embedding // heads
    value = _positive_int(fields.get(prefix + "attention.value_length")) or embedding // heads
    return layers * kv_heads * (key + value) * 2

