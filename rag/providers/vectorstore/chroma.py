"""Talking to Chroma: one client per data directory and process, and the translation of
a server that is down or refuses KORA into one ``IndexUnavailableError`` line.

Chroma's client API stays in this package: the rest of KORA reaches the chunks through
``Index`` and the generations through ``DataDir``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any, TypedDict
from urllib.parse import urlparse

from rag.errors import ExceptionTable, IndexUnavailableError, KoraError, look_up_causes
from rag.providers.vectorstore.generation import (
    COLLECTION_PREFIX,
    KV_PREFIX,
    Generation,
    is_generation_name,
)
from rag.settings import Settings

_REFUSED = re.compile(r"\b(401|403|unauthori[sz]ed|forbidden)\b", re.IGNORECASE)


# (kind, short reason): kind is "unreachable" or "refused"
Failure = tuple[str, str]


def _refused(exc: BaseException) -> Failure:
    text = str(exc)
    return "refused", text.splitlines()[0][:80] if text else type(exc).__name__


def _said_in_text(exc: BaseException) -> Failure | None:
    """chromadb reports a refused connection as a ValueError and an HTTP error status as a
    plain Exception carrying the response body: only the words tell what happened."""
    text = str(exc)
    if "Could not connect to a Chroma server" in text:
        return "unreachable", "connection refused"
    if _REFUSED.search(text):
        return _refused(exc)
    return None


def _failures() -> ExceptionTable[Failure]:
    """Exception class -> how the server failed KORA (see ``rag.errors.ExceptionTable``)."""
    import httpx
    from chromadb.errors import AuthorizationError, ChromaAuthError

    return {
        httpx.TimeoutException: lambda exc: ("unreachable", "no answer in time"),
        httpx.TransportError: lambda exc: ("unreachable", type(exc).__name__),
        ConnectionError: lambda exc: ("unreachable", type(exc).__name__),
        AuthorizationError: _refused,
        ChromaAuthError: _refused,
        Exception: _said_in_text,
    }


def _failure_reason(exc: BaseException) -> Failure | None:
    """("unreachable" | "refused", short reason) when ``exc`` (or its cause) says the
    Chroma server could not be reached or turned KORA away; None for anything else."""
    return look_up_causes(exc, _failures())


def unavailable_error(settings: Settings, exc: BaseException) -> IndexUnavailableError | None:
    """The one line for a Chroma server that ``exc`` says is down or refused KORA, or
    None when ``exc`` is something else (or there is no server)."""
    if not settings.chroma_url:
        return None
    found = _failure_reason(exc)
    if found is None:
        return None
    kind, reason = found
    url = settings.chroma_url
    if kind == "refused":
        if settings.chroma_token:
            return IndexUnavailableError(
                f"The Chroma server at {url} refused KORA's token ({reason}): check "
                "KORA_CHROMA_TOKEN (and KORA_CHROMA_TOKEN_HEADER) against what the server "
                "or its proxy expects.")
        return IndexUnavailableError(
            f"The Chroma server at {url} requires authentication ({reason}): set "
            "KORA_CHROMA_TOKEN to its token.")
    return IndexUnavailableError(
        f"The Chroma server at {url} is not reachable ({reason}): start it (`chroma run "
        "--path DIR --port PORT`) or set KORA_CHROMA_URL to where it runs.")


@contextlib.contextmanager
def translated(settings: Settings) -> Iterator[None]:
    """Chroma calls inside raise one IndexUnavailableError line when the server is down."""
    try:
        yield
    except KoraError:
        raise
    except Exception as exc:
        problem = unavailable_error(settings, exc)
        if problem is not None:
            raise problem from exc
        raise


def _auth_headers(settings: Settings) -> dict[str, str]:
    if not settings.chroma_token:
        return {}
    if settings.chroma_token_header == "Authorization":
        return {"Authorization": f"Bearer {settings.chroma_token}"}
    return {settings.chroma_token_header: settings.chroma_token}


def probe_server(settings: Settings) -> None:
    """Ask the server's heartbeat before building a client, so that a wrong address, a
    server that is down and a refused token each get their own clear line (Chroma's
    client reports all three as "Could not connect")."""
    import httpx

    assert settings.chroma_url
    url = settings.chroma_url.rstrip("/") + "/api/v2/heartbeat"
    try:
        response = httpx.get(url, headers=_auth_headers(settings),
                             timeout=min(10.0, settings.chroma_timeout))
    except httpx.HTTPError as exc:
        problem = unavailable_error(settings, exc)
        raise problem or IndexUnavailableError(
            f"The Chroma server at {settings.chroma_url} is not reachable "
            f"({type(exc).__name__}): check KORA_CHROMA_URL.") from exc
    if response.status_code in (401, 403):
        raise unavailable_error(settings, PermissionError(f"HTTP {response.status_code} "
                                                          "Unauthorized")) or KoraError("")
    if response.status_code >= 500:
        raise IndexUnavailableError(
            f"The Chroma server at {settings.chroma_url} is not ready (HTTP "
            f"{response.status_code}): check the server's log.")
    if response.status_code != 200:
        raise KoraError(
            f"{settings.chroma_url} does not answer like a Chroma 1.x server (HTTP "
            f"{response.status_code} for /api/v2/heartbeat): check KORA_CHROMA_URL.")


class _ChromaOptions(TypedDict, total=False):
    """The chromadb.config.Settings that KORA sets."""

    anonymized_telemetry: bool
    allow_reset: bool
    chroma_client_auth_provider: str
    chroma_client_auth_credentials: str
    chroma_auth_token_transport_header: str


class ChromaClient:
    """One Chroma client per data directory and process (Chroma requires that)."""

    def __init__(self, settings: Settings) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.settings = settings
        self.url = settings.chroma_url
        options: _ChromaOptions = {"anonymized_telemetry": False, "allow_reset": False}
        if settings.chroma_url:
            probe_server(settings)
            if settings.chroma_token:
                options.update(_ChromaOptions(
                    chroma_client_auth_provider="chromadb.auth.token_authn.TokenAuthClientProvider",
                    chroma_client_auth_credentials=settings.chroma_token,
                    chroma_auth_token_transport_header=settings.chroma_token_header,
                ))
            url = urlparse(settings.chroma_url)
            with translated(settings):
                self.client = chromadb.HttpClient(
                    host=url.hostname or "localhost",
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    settings=ChromaSettings(**options),
                )
            self._limit_wait(settings.chroma_timeout)
        else:
            path = settings.data_dir / "chroma"
            path.mkdir(parents=True, exist_ok=True)
            self.client = chromadb.PersistentClient(path=str(path),
                                                    settings=ChromaSettings(**options))

    def _limit_wait(self, seconds: float) -> None:
        """Chroma's HTTP client waits forever for an answer; a hung server would hold
        every question. Its session is private, so this is best effort."""
        import httpx

        session = getattr(getattr(self.client, "_server", None), "_session", None)
        if isinstance(session, httpx.Client):
            session.timeout = httpx.Timeout(seconds, connect=min(seconds, 10.0))

    def guarded(self) -> contextlib.AbstractContextManager[None]:
        return translated(self.settings)

    def collection(self, generation: Generation, *, create: bool) -> Any:
        with self.guarded():
            if create:
                return self.client.get_or_create_collection(
                    name=generation.collection_name,
                    embedding_function=None,
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={"embedding_model": generation.embedding_model,
                              "dimension": generation.dimension},
                )
            return self.client.get_collection(name=generation.collection_name,
                                              embedding_function=None)

    def plain_collection(self, name: str) -> Any:
        """A collection of KORA's own records (pointer, lease, docstore): the vectors
        are a constant placeholder, Chroma only stores and filters the records."""
        with self.guarded():
            try:
                return self.client.get_or_create_collection(name=name, embedding_function=None)
            except Exception:
                # two processes creating it at the same moment: the other one won
                return self.client.get_collection(name=name, embedding_function=None)

    def drop(self, generation_name: str) -> None:
        for name in (COLLECTION_PREFIX + generation_name, KV_PREFIX + generation_name):
            with contextlib.suppress(Exception):
                self.client.delete_collection(name)

    def collection_names(self) -> list[str]:
        with self.guarded():
            return [str(getattr(c, "name", c)) for c in self.client.list_collections()]

    def generation_names(self) -> list[str]:
        """Generations that have a chunk collection or a server docstore in Chroma."""
        names: list[str] = []
        for collection in self.collection_names():
            for prefix in (KV_PREFIX, COLLECTION_PREFIX):
                if collection.startswith(prefix):
                    name = collection[len(prefix):]
                    if is_generation_name(name) and name not in names:
                        names.append(name)
                    break
        return names
