"""Document administration: what the admin area's document buttons do, each step audited.

Uploads, the "replaces document …" declaration, the dry run, the re-index, the document
list and deletion, for a caller the ``Gate`` has already let in (a ``Principal``). The
results are data (outcomes, ingest reports and plans); ``ui`` renders them in German.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

from people.audit import AuditLog, document_ref
from people.uploads import (
    UPLOAD_FOLDER,
    UnsafeNameError,
    UploadOutcome,
    file_sha256,
    safe_file_name,
    save_uploads,
    shown_name,
)
from rag.errors import KoraError
from rag.jsontypes import JSONObject

if TYPE_CHECKING:
    from ingest import IngestReport, ProgressCallback
    from people.auth import Principal
    from rag.providers.embedding import Embedder
    from rag.providers.vectorstore import DataDir, Index
    from rag.settings import Settings


Read = TypeVar("Read")


@dataclass(frozen=True)
class ReindexOutcome:
    """A re-index: ``report`` when it ran, ``large_removal`` (removing, indexed) when it
    was refused for want of confirmation, ``error`` when it failed (the live index stays)."""

    report: IngestReport | None = None
    large_removal: tuple[int, int] | None = None
    error: BaseException | None = None


@dataclass(frozen=True)
class DeleteOutcome:
    """A deletion: ``refusal`` "unknown" or "outside" when no file was removed; after a
    removal, the re-index that took the document out of the index."""

    doc_id: str
    refusal: str | None = None
    reindex: ReindexOutcome | None = None


def document_rows(index: Index) -> list[list[object]]:
    """One row per indexed document: id, title, type, date ("ohne Datum"), chunks, last
    indexed, and the document that replaces it (a replaced one stays listed)."""
    from rag.answering import UNDATED

    states = index.file_states()
    replaced = index.replaced()
    counts: dict[str, int] = {}
    first: dict[str, JSONObject] = {}
    for _, _, metas in index.chunk_pages(texts=False):
        for meta in metas:
            doc_id = str((meta or {}).get("doc_id", ""))
            counts[doc_id] = counts.get(doc_id, 0) + 1
            first.setdefault(doc_id, meta or {})
    rows = []
    for doc_id in sorted(states):
        meta = first.get(doc_id, {})
        rows.append([doc_id, str(meta.get("title", "")), str(meta.get("type", "")),
                     str(meta.get("date", "")) or UNDATED, counts.get(doc_id, 0),
                     str(states[doc_id].get("indexed_at", "")), replaced.get(doc_id, "")])
    return rows


def delete_file(doc_id: str, *, states: dict[str, JSONObject],
                corpus_dir: Path) -> str | None:
    """Remove the file behind ``doc_id`` if it lies inside the corpus directory; None when
    removed, else why not ("unknown", "outside")."""
    state = states.get(doc_id)
    if state is None:
        return "unknown"
    path = Path(str(state["path"])).resolve()
    if not path.is_relative_to(corpus_dir.resolve()):
        return "outside"
    path.unlink(missing_ok=True)
    return None


class DocumentAdmin:
    """The corpus folder and the index as the admin area changes them, in one worker.

    ``reload`` makes the worker's Assistant follow a new index; ``embedder`` returns the
    worker's loaded embedding model (a re-index reuses it rather than loading another)."""

    def __init__(self, *, settings: Settings, data_dir: DataDir, audit: AuditLog,
                 reload: Callable[[], None], embedder: Callable[[], Embedder]) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.audit = audit
        self.reload = reload
        self.embedder = embedder
        self._reindex_lock = threading.Lock()

    def upload(self, paths: list[str], principal: Principal) -> list[UploadOutcome]:
        outcomes = save_uploads(paths, corpus_dir=self.settings.corpus_dir,
                                max_file_mb=self.settings.max_file_mb)
        for outcome in outcomes:
            refusal = {"reason": outcome.refusal,
                       **({"detail": outcome.detail} if outcome.detail else {})}
            self.audit.append(
                action="upload", account=principal.account, client=principal.client,
                outcome="ok" if outcome.stored else "refused",
                documents=[document_ref(outcome.doc_id, outcome.sha256)]
                if outcome.doc_id is not None else [],
                detail={"file": outcome.file, **({} if outcome.stored else refusal)})
        return outcomes

    def declare_replacement(self, given_name: str, replaces: str,
                            principal: Principal) -> str | None:
        """Record that the uploaded file ``given_name`` replaces the document ``replaces``
        (effective with the next re-index): the stored name, shown safely, or None when
        no such upload was stored (the upload refused it, and said why)."""
        from ingest import declare_replacement

        try:
            name = safe_file_name(given_name)
        except UnsafeNameError:
            return None
        folder = self.settings.corpus_dir / UPLOAD_FOLDER
        if not (folder / name).is_file():
            return None
        declare_replacement(folder, name, replaces)
        self.audit.append(action="replace-declared", account=principal.account,
                          client=principal.client,
                          documents=[document_ref(f"{UPLOAD_FOLDER}/{name}",
                                                  file_sha256(folder / name))],
                          detail={"replaces": replaces})
        return shown_name(name)

    def preview(self, *, full: bool = False) -> IngestReport:
        """What a re-index would do now, changing nothing (ingest's plan; may raise)."""
        from ingest import plan_ingest

        return plan_ingest(self.settings, self.data_dir, [self.settings.corpus_dir],
                           rebuild=full, prune=not full)

    def documents(self) -> list[list[object]]:
        """The indexed documents' rows (``document_rows``); none without an index."""
        return self._read_live(document_rows, [])

    def file_states(self) -> dict[str, JSONObject]:
        """The live index's file table (doc id -> state); empty without a usable index."""
        return self._read_live(lambda index: index.file_states(), {})

    def _read_live(self, read: Callable[[Index], Read], empty: Read) -> Read:
        """``read`` of the live index, or ``empty`` when there is no usable one."""
        try:
            index = self.data_dir.open_current()
        except KoraError:
            return empty
        try:
            return read(index)
        finally:
            index.close()

    def reindex(self, principal: Principal, progress: ProgressCallback | None = None, *,
                full: bool = False, confirmed: bool = True) -> ReindexOutcome:
        """Index the corpus folder: the changes only, or with ``full`` a new index built
        beside the live one that replaces it when complete. Without ``confirmed``, a run
        that would remove more than ``max_removal_share`` of the documents is refused."""
        from ingest import Ingestor

        large = None if full else self._large_removal()
        if large is not None and not confirmed:
            removing, indexed = large
            self.audit.append(action="reindex", account=principal.account,
                              client=principal.client, outcome="refused",
                              detail={"reason": "large-removal", "removing": removing,
                                      "indexed": indexed})
            return ReindexOutcome(large_removal=large)
        try:
            with self._reindex_lock:
                before = self._file_hashes()
                ingestor = Ingestor(self.settings, self.embedder(), self.data_dir)
                # an index of another embedding model cannot be updated, only replaced
                live = self.data_dir.current()
                rebuild = full or (live is not None
                                   and live.embedding_model != self.settings.embedding_model)
                report = ingestor.run([self.settings.corpus_dir], prune=not rebuild,
                                      rebuild=rebuild, progress=progress)
                self.reload()
                after = self._file_hashes()
        except Exception as exc:  # the caller shows it; the live index is untouched
            self.audit.append(action="reindex", account=principal.account,
                              client=principal.client, outcome="failed",
                              detail={"error": type(exc).__name__})
            return ReindexOutcome(error=exc)
        changes = [
            {**document_ref(doc_id, after.get(doc_id) or before.get(doc_id)),
             "change": "removed" if doc_id not in after
             else "added" if doc_id not in before else "updated"}
            for doc_id in sorted(set(before) | set(after))
            if before.get(doc_id) != after.get(doc_id)
        ]
        self.audit.append(action="reindex", account=principal.account, client=principal.client,
                          outcome="ok" if not report.failed else "partial",
                          documents=changes, detail={**report.as_dict(), "full": rebuild,
                                                     "large_removal": large is not None})
        return ReindexOutcome(report=report)

    def delete(self, doc_id: str, principal: Principal,
               progress: ProgressCallback | None = None) -> DeleteOutcome:
        """Remove the document's file, then re-index so that it leaves the index."""
        index = self.data_dir.open_current()
        try:
            states = index.file_states()
        finally:
            index.close()
        refusal = delete_file(doc_id, states=states, corpus_dir=self.settings.corpus_dir)
        self.audit.append(action="delete", account=principal.account, client=principal.client,
                          outcome="ok" if refusal is None else "refused",
                          documents=[document_ref(
                              doc_id, cast("str | None", states.get(doc_id, {}).get("sha256")))],
                          detail={} if refusal is None else {"reason": refusal})
        if refusal is not None:
            return DeleteOutcome(doc_id, refusal=refusal)
        return DeleteOutcome(doc_id, reindex=self.reindex(principal, progress))

    def _large_removal(self) -> tuple[int, int] | None:
        """(removing, indexed) when a pruning run would be a large removal, else None."""
        from ingest import needs_confirmation, removal_check

        removing, indexed = removal_check(self.settings, self.data_dir,
                                          [self.settings.corpus_dir])
        return (removing, indexed) if needs_confirmation(self.settings, removing,
                                                         indexed) else None

    def _file_hashes(self) -> dict[str, str]:
        return {doc_id: str(state.get("sha256", ""))
                for doc_id, state in self.file_states().items()}


__all__ = ["DeleteOutcome", "DocumentAdmin", "ReindexOutcome", "delete_file", "document_rows"]
