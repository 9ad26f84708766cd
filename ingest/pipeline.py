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
from typing import TYPE_CHECKING, Protocol

from ingest.llama_embedding import LlamaEmbedding
from ingest.nodes import GermanChunker, to_llama_document
from ingest.readers import VANISHED, ParsedDocument, read_file
from ingest.sources import SourceFile, collect_files, sha256_of, source_problem
from ingest.versions import declared_in_folders, replacements
from rag.errors import ExceptionTable, IndexUnavailableError, KoraError, ReaderError, look_up_causes
from rag.jsontypes import JSONObject
from rag.providers.embedding import Embedder
from rag.providers.index_generation import publish, refresh_keyword_index
from rag.providers.vectorstore import DataDir, Index
from rag.settings import Settings

if TYPE_CHECKING:
    from llama_index.core import Document
    from llama_index.core.ingestion import IngestionPipeline

    from rag.answering import Kora

# At most this many documents per embedding batch (the text size comes from settings).
BATCH_DOCUMENTS = 256


@dataclass
class Failure:
    path: str
    reason: str


@dataclass
class Replacement:
    doc_id: str  # the replaced document: kept and listed, but no longer answering
    by: str  # the document that replaces it


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[Failure] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0
    undated: int = 0  # documents read in this run that state no date ("ohne Datum")
    replaced: list[Replacement] = field(default_factory=list)  # new in this run
    restored: list[str] = field(default_factory=list)  # replaced before, answering again
    # which documents: kept for the audit and the dry run's list (``as_dict`` shows them
    # only for a dry run, where they are the point)
    added_ids: list[str] = field(default_factory=list)
    updated_ids: list[str] = field(default_factory=list)
    removed_ids: list[str] = field(default_factory=list)
    dry_run: bool = False

    def as_dict(self) -> JSONObject:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        for key in ("added_ids", "updated_ids", "removed_ids", "dry_run"):
            data.pop(key)
        if self.dry_run:
            data["dry_run"] = True
            data["documents"] = {"add": self.added_ids, "update": self.updated_ids,
                                 "remove": self.removed_ids}
        return data

    def removal_share(self, indexed: int) -> float:
        """The share of the ``indexed`` documents this run removes."""
        return self.removed / indexed if indexed else 0.0


@dataclass
class _Read:
    """A new or changed file, parsed and ready to be written."""

    source: SourceFile
    sha256: str
    parsed: ParsedDocument
    is_update: bool


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

    @classmethod
    def over(cls, kora: Kora) -> Ingestor:
        """An ingestor over an opened KORA's data directory and embedding model."""
        return cls(kora.settings, kora.embedder, kora.data_dir)

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
            changed |= self._update_replacements(index, report)
            return changed

        return self._ingest(write, rebuild=rebuild, wait_for_lock=wait_for_lock,
                            first_index_at_once=True, record=True)

    def plan(self, paths: Sequence[Path] | None = None, *, rebuild: bool = False,
             prune: bool = False) -> IngestReport:
        """What ``run`` with the same arguments would do (see ``plan_ingest``)."""
        return plan_ingest(self.settings, self.data_dir, paths, rebuild=rebuild, prune=prune)

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
            batch: list[Document] = []
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
            publish(index)
        try:
            changed = write(index, report)
            refresh_keyword_index(index, self.settings, force=changed or building_aside)
            if changed or building_aside:
                # a new version: every worker (here or on another machine) switches to it
                publish(index)
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

    def _pipeline(self, index: Index) -> IngestionPipeline:
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
            documents = [to_llama_document(read.source.doc_id, str(read.source.path),
                                           read.parsed, read.sha256) for read in batch]
            # journal first: if this process dies before the batch is recorded, the next
            # run removes whatever of these documents reached Chroma and redoes them
            index.mark_pending([document.id_ for document in documents])
            nodes = pipeline.run(documents=documents)
            report.chunks += len(nodes)
            now = datetime.now(UTC).isoformat(timespec="seconds")
            for read in batch:
                state = self._state(read, now)
                index.set_file_state(read.source.doc_id, state)
                states[read.source.doc_id] = state
                self._count_read(read, report)
            index.clear_pending([document.id_ for document in documents])
            changed = True
            if progress:
                progress(done, len(files), documents[-1].id_)
        self._note_declarations(files, states, write=index)
        return changed

    @staticmethod
    def _state(read: _Read, indexed_at: str) -> JSONObject:
        """What the file table keeps of an indexed file."""
        state: JSONObject = {"sha256": read.sha256, "path": str(read.source.path),
                             "indexed_at": indexed_at}
        if read.parsed.replaces:
            state["replaces"] = read.parsed.replaces
        return state

    @staticmethod
    def _count_read(read: _Read, report: IngestReport) -> None:
        if read.is_update:
            report.updated += 1
            report.updated_ids.append(read.source.doc_id)
        else:
            report.added += 1
            report.added_ids.append(read.source.doc_id)
        if not read.parsed.date:
            report.undated += 1

    @staticmethod
    def _note_declarations(files: list[SourceFile], states: dict[str, JSONObject], *,
                           write: Index | None) -> None:
        """Bring the admin's upload choices ("ersetzt Dokument …") into the file table:
        they live beside the files, and change without the file changing."""
        declared = declared_in_folders(files)
        for source in files:
            doc_id = source.doc_id
            state = states.get(doc_id)
            if state is None or state.get("declared") == declared.get(doc_id):
                continue
            state = {key: value for key, value in state.items() if key != "declared"}
            if declared.get(doc_id):
                state["declared"] = declared[doc_id]
            states[doc_id] = state
            if write is not None:
                write.set_file_state(doc_id, state)

    @staticmethod
    def _replacements(states: dict[str, JSONObject]) -> dict[str, str]:
        declared = {doc_id: str(state.get("declared") or state.get("replaces") or "")
                    for doc_id, state in states.items()
                    if state.get("declared") or state.get("replaces")}
        return replacements(declared, states)

    @staticmethod
    def _compare_replacements(before: dict[str, str], after: dict[str, str],
                              report: IngestReport) -> bool:
        report.replaced = [Replacement(old, new) for old, new in sorted(after.items())
                           if before.get(old) != new]
        report.restored = sorted(set(before) - set(after))
        return before != after

    def _update_replacements(self, index: Index, report: IngestReport) -> bool:
        """Recompute which documents are replaced, from the whole file table (a
        replacing document may have been indexed in an earlier run)."""
        before = index.replaced()
        after = self._replacements(index.file_states())
        changed = self._compare_replacements(before, after, report)
        if changed:
            index.set_replaced(after)
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
        states: dict[str, JSONObject],
        report: IngestReport,
        max_bytes: int,
        progress: ProgressCallback | None,
    ) -> Iterator[tuple[int, list[_Read]]]:
        """Parse the new and changed files and yield them in embedding batches."""
        batch: list[_Read] = []
        size = 0
        done = 0

        def step(number: int, doc_id: str) -> None:
            nonlocal done
            done = number
            if progress:
                progress(number, len(files), doc_id)

        for read in self._classify(files, states, report, max_bytes, record_moves=index,
                                   on_step=step):
            batch.append(read)
            size += len(read.parsed.text)
            if size >= self.settings.ingest_batch_characters or len(batch) >= BATCH_DOCUMENTS:
                yield done, batch
                batch, size = [], 0
        if batch:
            yield len(files), batch
        elif progress and files:
            progress(len(files), len(files), "")

    @staticmethod
    def _classify(files: list[SourceFile], states: dict[str, JSONObject],
                  report: IngestReport, max_bytes: int, *, record_moves: Index | None,
                  on_step: Callable[[int, str], None] | None = None) -> Iterator[_Read]:
        """The files to write, parsed; unchanged and failed ones counted in ``report``.
        One walk for the ingest and its dry run, so that the dry run predicts it.
        ``record_moves``: the index in which to note that an unchanged file moved."""
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
                    states[doc_id] = {**state, "path": str(source.path)}
                    if record_moves is not None:
                        record_moves.set_file_state(doc_id, states[doc_id])
                if on_step:
                    on_step(done, doc_id)
                continue
            try:
                parsed = read_file(source.path, max_bytes=max_bytes)
            except ReaderError as exc:
                report.failed.append(Failure(str(source.path), str(exc)))
                continue
            if on_step:
                on_step(done, doc_id)
            yield _Read(source, sha256, parsed, state is not None)

    @staticmethod
    def _gone(states: dict[str, JSONObject]) -> list[str]:
        """The indexed documents whose files no longer exist (what --prune removes)."""
        return [doc_id for doc_id, state in sorted(states.items())
                if not Path(str(state["path"])).exists()]

    def _prune(self, index: Index, report: IngestReport) -> bool:
        removed = False
        for doc_id in self._gone(index.file_states()):
            index.delete_document(doc_id)
            report.removed += 1
            report.removed_ids.append(doc_id)
            removed = True
        return removed


def plan_ingest(settings: Settings, data_dir: DataDir, paths: Sequence[Path] | None = None, *,
                rebuild: bool = False, prune: bool = False) -> IngestReport:
    """What ``Ingestor.run`` with the same arguments would do, without writing anything:
    no chunk, docstore entry, file hash or pointer changes (the dry run). New and changed
    files are read, so that failures are found; nothing is embedded, and no model loads."""
    started = time.perf_counter()
    files = collect_files(paths or [settings.corpus_dir])
    report = IngestReport(dry_run=True)
    states, before = {}, {}
    with data_dir.guarded():
        if not rebuild and data_dir.current() is not None:
            live = data_dir.open_current(verify_model=False)
            try:
                states, before = live.file_states(), live.replaced()
            finally:
                live.close()
    states = {doc_id: dict(state) for doc_id, state in states.items()}
    max_bytes = int(settings.max_file_mb * 1_000_000)
    for read in Ingestor._classify(files, states, report, max_bytes, record_moves=None):
        Ingestor._count_read(read, report)
        states[read.source.doc_id] = Ingestor._state(read, "")
    Ingestor._note_declarations(files, states, write=None)
    if prune:
        for doc_id in Ingestor._gone(states):
            report.removed += 1
            report.removed_ids.append(doc_id)
            del states[doc_id]
    Ingestor._compare_replacements(before, Ingestor._replacements(states), report)
    report.seconds = time.perf_counter() - started
    return report


def removal_check(settings: Settings, data_dir: DataDir,
                  paths: Sequence[Path] | None = None) -> tuple[int, int]:
    """(documents a pruning run would remove, documents in the index): cheap, it reads only
    the file table, for the confirmation a large removal needs."""
    collect_files(paths or [settings.corpus_dir])  # a missing path fails as in the run
    with data_dir.guarded():
        if data_dir.current() is None:
            return 0, 0
        live = data_dir.open_current(verify_model=False)
        try:
            states = live.file_states()
        finally:
            live.close()
    return len(Ingestor._gone(states)), len(states)


def needs_confirmation(settings: Settings, removing: int, indexed: int) -> bool:
    """Whether removing ``removing`` of ``indexed`` documents is a large removal, which
    the admin confirms a second time (``--yes``) and the audit log records."""
    return indexed > 0 and removing / indexed > settings.max_removal_share


_OUT_OF_SPACE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
# how SQLite (the docstore, and Chroma underneath) words the same condition
_OUT_OF_SPACE_TEXT = ("database or disk is full", "disk i/o error", "no space left",
                      "file too large")


def _says_out_of_space(exc: BaseException) -> bool | None:
    """SQLite's errors, and Chroma's core passing them on as plain exceptions, carry the
    condition only in their words."""
    return any(text in str(exc).lower() for text in _OUT_OF_SPACE_TEXT) or None


# exception class -> whether an instance of it says a write found no room
# (see ``rag.errors.ExceptionTable``)
_OUT_OF_SPACE: ExceptionTable[bool] = {
    OSError: lambda exc: exc.errno in _OUT_OF_SPACE_ERRNOS or _says_out_of_space(exc),
    Exception: _says_out_of_space,
}


def is_out_of_space(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) says a write found no room."""
    return bool(look_up_causes(exc, _OUT_OF_SPACE))


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
