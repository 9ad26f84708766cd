"""The incremental ingest: files -> readers -> chunks -> embeddings -> Chroma + BM25.

Built on llama-index's ``IngestionPipeline`` with a persisted docstore and the UPSERTS
strategy: a document whose hash is unchanged is skipped, a changed one has its old
chunks deleted before the new ones are written. In front of it, a table of file content
hashes lets unchanged files skip even parsing, which keeps a no-op re-ingest cheap.

Crash safety: every write is committed as it happens (Chroma and the docstore, which is
SQLite in the data directory or, with a Chroma server, a collection in the server), the
file hash is recorded only after a document's chunks are in Chroma, and the documents of
the batch in progress are journalled first, so the next run removes whatever of them
reached Chroma before it writes them again. A run killed at any point, or cut off by a
Chroma server that went away, is completed by the next run without duplicates.
"""

from __future__ import annotations

import errno
import resource
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from ingest.llama_embedding import LlamaEmbedding
from ingest.nodes import GermanChunker, to_llama_document
from ingest.readers import VANISHED, ParsedDocument, read_file
from ingest.sources import SourceFile, collect_files, sha256_of, source_problem
from rag.errors import IndexUnavailableError, KoraError, ReaderError, causes
from rag.providers.embedding import Embedder
from rag.providers.keyword import keyword_index_current, rebuild_keyword_index
from rag.providers.vectorstore import DataDir, Index
from rag.settings import Settings

# At most this many documents per embedding batch (the text size comes from settings).
BATCH_DOCUMENTS = 256


@dataclass
class Failure:
    path: str
    reason: str


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[Failure] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        return data


class ProgressCallback(Protocol):
    """Told after each step of a long run: ``done`` of ``total`` steps, and ``label``, what
    was just done (here the document indexed; the evaluation passes its stage). One order
    for every caller and every bar (``ui.progress``)."""

    def __call__(self, done: int, total: int, label: str, /) -> None: ...


class Ingestor:
    """Runs ingests against one data directory with one loaded embedding model."""

    def __init__(self, settings: Settings, embedder: Embedder, data_dir: DataDir) -> None:
        self.settings = settings
        self.embedder = embedder
        self.data_dir = data_dir
        # start-up cost belongs to start-up, not to the ingest's own time: import the
        # pipeline's libraries now (they import lazily and take a while the first time)
        import llama_index.core.ingestion  # noqa: F401

        Index.import_writer()

    def run(
        self,
        paths: Sequence[Path] | None = None,
        *,
        rebuild: bool = False,
        prune: bool = False,
        progress: ProgressCallback | None = None,
        wait_for_lock: float = 0.0,
    ) -> IngestReport:
        """Index ``paths`` (default: the corpus folder). ``wait_for_lock``: seconds to wait
        when another ingest holds the index (from this or, with a server, any machine)."""
        files = collect_files(paths or [self.settings.corpus_dir])

        def write(index: Index, report: IngestReport) -> bool:
            changed = self._ingest_files(index, files, report, progress)
            if prune:
                changed |= self._prune(index, report)
            return changed

        return self._ingest(write, rebuild=rebuild, wait_for_lock=wait_for_lock,
                            first_index_at_once=True, record=True)

    def index_parsed(
        self,
        documents: Sequence[tuple[str, ParsedDocument]],
        *,
        progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Index documents that are already parsed (an evaluation corpus) into a fresh
        index generation and publish it; ids are the given strings."""

        def write(index: Index, report: IngestReport) -> bool:
            pipeline = self._pipeline(index)
            batch: list[Any] = []
            size = 0
            for done, (doc_id, parsed) in enumerate(documents, start=1):
                batch.append(to_llama_document(doc_id, "", parsed, ""))
                size += len(parsed.text)
                if (size >= self.settings.ingest_batch_characters
                        or len(batch) >= BATCH_DOCUMENTS or done == len(documents)):
                    report.chunks += len(pipeline.run(documents=batch))
                    report.added += len(batch)
                    batch, size = [], 0
                    if progress:
                        progress(done, len(documents), doc_id)
            return True  # a fresh generation: published even when empty

        return self._ingest(write, rebuild=True, wait_for_lock=0.0,
                            first_index_at_once=False, record=False)

    def _ingest(self, write: Callable[[Index, IngestReport], bool], *, rebuild: bool,
                wait_for_lock: float, first_index_at_once: bool, record: bool) -> IngestReport:
        """The one sequence around every ingest: take the lock, open the generation to
        write, let ``write`` fill it (True when it changed something), bring the keyword
        index up to date, publish, and record the report (``record``).

        ``first_index_at_once``: when there is no index yet, publish the new generation
        before writing, so that it answers while the ingest goes on."""
        # a Chroma server that is down becomes its one line, wherever the run meets it
        with self.data_dir.guarded(), self.data_dir.ingest_lock(wait_seconds=wait_for_lock):
            started = time.perf_counter()
            report = IngestReport()
            self._write_generation(write, report, rebuild=rebuild,
                                   first_index_at_once=first_index_at_once)
            report.seconds = time.perf_counter() - started
            if record:
                self.data_dir.record_ingest(
                    {"finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
                     **report.as_dict()})
            return report

    def _write_generation(self, write: Callable[[Index, IngestReport], bool],
                          report: IngestReport, *, rebuild: bool,
                          first_index_at_once: bool) -> None:
        live = self.data_dir.current()
        index = self.data_dir.open_for_ingest(
            embedding_model=self.embedder.name,
            dimension=self.embedder.dimension,
            rebuild=rebuild,
        )
        building_aside = rebuild and live is not None
        if first_index_at_once and not building_aside and (
                live is None or live.name != index.generation.name):
            # the very first index has nothing to protect: make progress visible at once
            self.data_dir.publish(index)
        try:
            changed = write(index, report)
            if changed or building_aside or not keyword_index_current(index, self.settings):
                with self.data_dir.keyword_lock():
                    rebuild_keyword_index(index, self.settings)
            if changed or building_aside:
                # a new version: every worker (here or on another machine) switches to it
                self.data_dir.publish(index)
        except Exception as exc:
            problem = self._write_failure(exc)
            if problem is None:
                raise
            raise problem from exc
        finally:
            index.close()

    def _write_failure(self, exc: Exception) -> KoraError | None:
        """The one line for a write that failed on a full disk or a Chroma server that
        went away; None for any other failure."""
        if is_out_of_space(exc) or storage_exhausted(self.data_dir.path):
            return KoraError(
                f"Writing the index in {self.data_dir.path} failed: the disk is full "
                "or a file size limit was reached. The previous index still answers; "
                "free some space and run the ingest again to complete it."
            )
        problem = self.data_dir.unavailable(exc)
        if problem is not None:
            return IndexUnavailableError(
                f"{problem} The ingest stopped; the index keeps answering from what was "
                "complete. Run the ingest again when the server is back to finish it."
            )
        return None

    def _pipeline(self, index: Index) -> Any:
        from llama_index.core.ingestion import DocstoreStrategy, IngestionPipeline

        return IngestionPipeline(
            transformations=[
                GermanChunker(self.settings, self.embedder).as_transform(),
                LlamaEmbedding.wrapping(self.embedder),
            ],
            docstore=index.docstore(),
            vector_store=index.vector_store(),
            docstore_strategy=DocstoreStrategy.UPSERTS,
            disable_cache=True,
        )

    def _ingest_files(
        self,
        index: Index,
        files: list[SourceFile],
        report: IngestReport,
        progress: ProgressCallback | None,
    ) -> bool:
        changed = self._recover_interrupted(index)
        pipeline = self._pipeline(index)
        states = index.file_states()
        max_bytes = int(self.settings.max_file_mb * 1_000_000)
        for done, batch in self._batches(index, files, states, report, max_bytes, progress):
            documents = [document for document, _ in batch]
            # journal first: if this process dies before the batch is recorded, the next
            # run removes whatever of these documents reached Chroma and redoes them
            index.mark_pending([document.id_ for document in documents])
            nodes = pipeline.run(documents=documents)
            report.chunks += len(nodes)
            now = datetime.now(UTC).isoformat(timespec="seconds")
            for document, is_update in batch:
                index.set_file_state(
                    document.id_,
                    {"sha256": document.metadata["content_sha256"],
                     "path": document.metadata["file_path"], "indexed_at": now},
                )
                if is_update:
                    report.updated += 1
                else:
                    report.added += 1
            index.clear_pending([document.id_ for document in documents])
            changed = True
            if progress:
                progress(done, len(files), documents[-1].id_)
        return changed

    @staticmethod
    def _recover_interrupted(index: Index) -> bool:
        """Undo the half-written batch of a killed run; its files count as new again."""
        pending = index.pending()
        for doc_id in pending:
            index.delete_document(doc_id)
        index.clear_pending(pending)
        return bool(pending)

    def _batches(
        self,
        index: Index,
        files: list[SourceFile],
        states: dict[str, dict[str, Any]],
        report: IngestReport,
        max_bytes: int,
        progress: ProgressCallback | None,
    ) -> Iterator[tuple[int, list[tuple[Any, bool]]]]:
        """Parse the new and changed files and yield them in embedding batches."""
        batch: list[tuple[Any, bool]] = []
        size = 0
        seen: set[str] = set()
        for done, source in enumerate(files, start=1):
            doc_id = source.doc_id
            if doc_id in seen:
                report.failed.append(Failure(str(source.path), "duplicate document id "
                                             f"'{doc_id}' (another ingest root has it)"))
                continue
            seen.add(doc_id)
            problem = source_problem(source)
            if problem is not None:
                report.failed.append(Failure(str(source.path), problem))
                continue
            try:
                sha256 = sha256_of(source.path)
            except FileNotFoundError:
                report.failed.append(Failure(str(source.path), VANISHED))
                continue
            except PermissionError:
                report.failed.append(Failure(str(source.path), "permission denied: KORA "
                                             "cannot read this file"))
                continue
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                report.failed.append(Failure(str(source.path), f"cannot read file ({reason})"))
                continue
            state = states.get(doc_id)
            if state is not None and state.get("sha256") == sha256:
                report.unchanged += 1
                if state.get("path") != str(source.path):
                    # the folder moved: remember where the file is now, or --prune would
                    # take it for deleted
                    index.set_file_state(doc_id, {**state, "path": str(source.path)})
                continue
            try:
                parsed = read_file(source.path, max_bytes=max_bytes)
            except ReaderError as exc:
                report.failed.append(Failure(str(source.path), str(exc)))
                continue
            document = to_llama_document(doc_id, str(source.path), parsed, sha256)
            batch.append((document, state is not None))
            size += len(parsed.text)
            if size >= self.settings.ingest_batch_characters or len(batch) >= BATCH_DOCUMENTS:
                yield done, batch
                batch, size = [], 0
            elif progress:
                progress(done, len(files), doc_id)
        if batch:
            yield len(files), batch
        elif progress and files:
            progress(len(files), len(files), "")

    def _prune(self, index: Index, report: IngestReport) -> bool:
        removed = False
        for doc_id, state in sorted(index.file_states().items()):
            if Path(state["path"]).exists():
                continue
            index.delete_document(doc_id)
            report.removed += 1
            removed = True
        return removed


_OUT_OF_SPACE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
# how SQLite (the docstore, and Chroma underneath) words the same condition
_OUT_OF_SPACE_TEXT = ("database or disk is full", "disk i/o error", "no space left",
                      "file too large")


def is_out_of_space(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) says a write found no room."""
    return any(
        (isinstance(current, OSError) and current.errno in _OUT_OF_SPACE_ERRNOS)
        or any(text in str(current).lower() for text in _OUT_OF_SPACE_TEXT)
        for current in causes(exc)
    )


def storage_exhausted(folder: Path) -> bool:
    """After a failed write whose error does not say why (Chroma words a full disk as
    "Failed to apply logs to the metadata segment"): is the disk nearly full, or is a
    file of the index at the process's file size limit?"""
    try:
        if shutil.disk_usage(folder).free < 64_000_000:
            return True
        soft_limit, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
        if soft_limit == resource.RLIM_INFINITY:
            return False
        largest = max((p.stat().st_size for p in folder.rglob("*") if p.is_file()), default=0)
    except OSError:
        return False
    return largest + 1_000_000 >= soft_limit
