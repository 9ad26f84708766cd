"""A generation of the index and how its collections are named in Chroma."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from rag.jsontypes import JSONObject, as_int

COLLECTION_PREFIX = "kora-"
KV_PREFIX = "kora-kv-"
# generation names start with their time stamp; "kora-meta" and "kora-kv-..." do not
_GENERATION_NAME = re.compile(r"^\d{14}-[0-9a-z-]+$")


def is_generation_name(name: str) -> bool:
    return bool(_GENERATION_NAME.match(name))


@dataclass(frozen=True)
class Generation:
    name: str
    embedding_model: str
    dimension: int
    # raised by every ingest that changed the index; 0 for a generation never published
    version: int = 0

    @property
    def collection_name(self) -> str:
        return COLLECTION_PREFIX + self.name

    @property
    def key(self) -> tuple[str, int]:
        """What a reader compares to know whether it serves the live index."""
        return self.name, self.version

    @classmethod
    def new(cls, *, embedding_model: str, dimension: int) -> Generation:
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        # the random part keeps two machines that start a rebuild in one second apart
        return cls(f"{stamp}-{os.getpid()}-{secrets.token_hex(2)}", embedding_model, dimension)

    @classmethod
    def from_pointer(cls, data: JSONObject) -> Generation:
        return cls(str(data["name"]), str(data["embedding_model"]), as_int(data["dimension"]),
                   as_int(data.get("version", 0)))

    def as_pointer(self) -> JSONObject:
        return {"name": self.name, "embedding_model": self.embedding_model,
                "dimension": self.dimension, "version": self.version}
