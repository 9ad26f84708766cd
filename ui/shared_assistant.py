"""The one Assistant a web app process answers with, following the live index."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from rag.answering import Assistant, LLMSlots
from rag.errors import EmptyIndexError, IndexModelMismatchError, KoraError
from rag.providers.vectorstore import DataDir
from rag.settings import Settings
from ui import strings as S
from ui.answer_slots import AnswerSlots

if TYPE_CHECKING:
    from rag.providers.embedding import Embedder
    from rag.providers.llm import ChatModel

AssistantFactory = Callable[[Settings, DataDir, "Embedder | None"], Assistant]
log = logging.getLogger(__name__)


def open_assistant(settings: Settings, data_dir: DataDir, embedder: Embedder | None) -> Assistant:
    """The factory `kora serve` uses; tests pass their own."""
    return Assistant.open(settings, data_dir=data_dir, embedder=embedder)


class SharedAssistant:
    """The process's one Assistant, following the live index.

    A watcher thread asks every ``index_poll_seconds`` which generation and version is
    live (in the Chroma server, or ``current.json``). When it moved, because an ingest ran
    here, in another worker or on another machine, the new one is opened beside the old
    (its keyword index built from Chroma if this data directory has none for it) and
    swapped in atomically; questions already running finish on the old one, which is
    closed (its docstore and keyword index released) when the last of them is done. A
    generation is published only when complete, so no question sees a half-built one.

    When the index cannot answer (built with another embedding model, still empty, or in
    a Chroma server that is down), the app runs anyway, says so, and picks the index up
    as soon as it can, without a restart.
    """

    def __init__(self, settings: Settings, data_dir: DataDir,
                 factory: AssistantFactory, *, watch: bool = True,
                 answer_slots: AnswerSlots | None = None) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.factory = factory
        self.llm_slots = LLMSlots(settings.llm_concurrency)
        # the questions answered at once, chat and API together (ui/answer_slots.py)
        self.answer_slots = answer_slots or AnswerSlots(settings.answer_concurrency,
                                                        max_waiting=0)
        self._lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._in_use: dict[int, int] = {}
        self._embedder: Embedder | None = None
        self._assistant: Assistant | None = None
        self._problem: KoraError | None = None
        self._logged = ""
        self._stop = threading.Event()
        try:
            self._install(factory(settings, data_dir, None))
        except KoraError as exc:
            self._note(exc, quiet=True)  # `kora serve` has said it already
        self._watcher: threading.Thread | None = None
        if watch:
            self._watcher = threading.Thread(target=self._watch, name="kora-index-watch",
                                             daemon=True)
            self._watcher.start()

    @property
    def problem(self) -> KoraError | None:
        """Why there is no assistant to answer (None when there is one)."""
        with self._lock:
            return None if self._assistant is not None else self._problem

    def get(self) -> Assistant:
        with self._lock:
            if self._assistant is None:
                raise self._problem_for_user()
            return self._assistant

    def _problem_for_user(self) -> KoraError:
        if isinstance(self._problem, IndexModelMismatchError):
            return IndexModelMismatchError(S.INDEX_OTHER_MODEL)
        return self._problem or EmptyIndexError(S.INDEX_EMPTY)

    @contextlib.contextmanager
    def use(self) -> Iterator[Assistant]:
        """The current Assistant, kept open until the caller is done with it."""
        with self._lock:
            assistant = self._assistant
            if assistant is None:
                raise self._problem_for_user()
            self._in_use[id(assistant)] = self._in_use.get(id(assistant), 0) + 1
        try:
            yield assistant
        finally:
            with self._lock:
                left = self._in_use[id(assistant)] - 1
                if left:
                    self._in_use[id(assistant)] = left
                else:
                    del self._in_use[id(assistant)]
                retired = not left and assistant is not self._assistant
            if retired:
                self._retire(assistant)

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            assistant = self._assistant
            if assistant is not None:
                return assistant.retriever.embedder
            if self._embedder is None:
                from rag.providers.embedding import Embedder

                self._embedder = Embedder.load(self.settings)
            return self._embedder

    @property
    def llm(self) -> ChatModel | None:
        """The loaded answer generator (None: extractive, or no usable index yet)."""
        with self._lock:
            return self._assistant.answerer.llm if self._assistant is not None else None

    def reload(self, *, force: bool = False) -> None:
        """Open the live index and swap it in; unless ``force``, only if it is not the
        one already served. Raises what keeps the index from opening."""
        with self._reload_lock:
            with self._lock:
                current = self._assistant
            if current is not None and not force:
                live = self.data_dir.current()
                if live is not None and live.key == current.generation.key:
                    return
            reopen = getattr(current, "reopen", None)
            # the new index with the loaded embedding model and LLM (never a second copy);
            # with no assistant yet (an index of another model, an empty or unreachable
            # one) the factory opens one, with the embedding model if it is loaded
            fresh = (reopen(self.settings, self.data_dir) if reopen is not None
                     else self.factory(self.settings, self.data_dir, self._loaded_embedder()))
            self._install(fresh)

    def _loaded_embedder(self) -> Embedder | None:
        with self._lock:
            if self._assistant is not None:
                return self._assistant.retriever.embedder
            return self._embedder

    def _install(self, fresh: Assistant) -> None:
        limit_llm = getattr(fresh, "limit_llm", None)
        if limit_llm is not None:
            limit_llm(self.llm_slots)
        with self._lock:
            old, self._assistant = self._assistant, fresh
            self._problem = None
            busy = id(old) in self._in_use
        if self._logged:
            log.warning("KORA answers again from %s", self.data_dir.location)
            self._logged = ""
        if old is not None and not busy:
            self._retire(old)

    def _retire(self, assistant: Assistant) -> None:
        """Release a replaced Assistant: called once, by whoever sees it both replaced
        and no longer answering (the swap, or the last question on it)."""
        _close_quietly(assistant)
        generation = getattr(assistant, "generation", None)
        if generation is not None:
            try:
                self.data_dir.forget(generation.name)
            except Exception:  # tidying must not break a question
                log.exception("removing the files of a replaced index failed")

    def _note(self, problem: KoraError, *, quiet: bool = False) -> None:
        """Remember why there is no assistant; say it in the log once per change."""
        with self._lock:
            if self._assistant is None:
                self._problem = problem
        line = str(problem).splitlines()[0] if str(problem) else type(problem).__name__
        if line != self._logged and not quiet:
            log.warning("%s", line)
        self._logged = line

    def check(self) -> None:
        """Switch to the live index if it moved; retry when there was none to answer."""
        try:
            live = self.data_dir.current()
        except KoraError as exc:
            self._note(exc)
            return
        with self._lock:
            current, problem = self._assistant, self._problem
        if self._logged and current is not None:
            log.warning("KORA reaches %s again", self.data_dir.location)
            self._logged = ""
        if live is None:
            return
        if current is not None and live.key == current.generation.key:
            return
        if (current is None and isinstance(problem, IndexModelMismatchError)
                and live.embedding_model != self.settings.embedding_model):
            return  # still the index of another model: wait for its rebuild
        try:
            self.reload()
        except KoraError as exc:
            self._note(exc)

    def _watch(self) -> None:
        while not self._stop.wait(self.settings.index_poll_seconds):
            try:
                self.check()
            except Exception:  # the watcher must outlive anything one check runs into
                log.exception("checking for a new index failed")

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            assistant = self._assistant
        if assistant is not None:
            _close_quietly(assistant)


def _close_quietly(assistant: Assistant) -> None:
    try:
        assistant.close()
    except Exception:  # a failing close must not break the question that ended
        log.exception("closing an index failed")


__all__ = ["AssistantFactory", "SharedAssistant", "open_assistant"]
