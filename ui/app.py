"""The Gradio web app: a cited-answer chat for staff and an admin area.

One Assistant (embedding model, index, LLM) per process, shared read-only by every
session; each browser session keeps its own conversation in ``gr.State``. All text that
comes from documents, questions or answers is HTML-escaped before it is shown, and the
chat receives Markdown with every Markdown character neutralised, so a document can
neither run script nor load an image.
"""

from __future__ import annotations

import atexit
import contextlib
import html
import logging
import os
import queue
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from rag.answering import (
    UNSUPPORTED_MARK,
    Answer,
    Assistant,
    EmptyQuestionError,
    LLMSlots,
    Turn,
    clean_question,
)
from rag.errors import EmptyIndexError, IndexModelMismatchError, IndexUnavailableError, KoraError
from rag.providers.llm import ChatModel
from rag.providers.vectorstore import DataDir
from rag.retrieval import Filters
from rag.settings import Settings
from ui import strings as S
from ui.accounts import AccountStore, env_password
from ui.admin_actions import AdminActions
from ui.audit import AuditLog
from ui.auth import Gate
from ui.failures import answer_failure
from ui.feedback import FeedbackStore

AssistantFactory = Callable[[Settings, DataDir, Any], Assistant]
log = logging.getLogger(__name__)

CSS = """
.kora-badge {display:inline-block; padding:2px 10px; border-radius:10px;
  background:#e0ecff; color:#123; font-size:0.9em;}
.kora-refused .kora-badge {background:#fde2c8;}
.kora-quelle {border:1px solid #ccc; border-radius:6px; padding:6px 10px; margin:6px 0;}
.kora-quelle summary {cursor:pointer; font-weight:600;}
.kora-meta {color:#555; font-size:0.85em; margin:4px 0;}
.kora-passage {white-space:pre-wrap;}
.kora-passage mark {background:#fff3a0;}
.kora-antwort {background:#ffd54a;}
.nicht-belegt {color:#a00000;}
.kora-flash {outline:3px solid #f0b000;}
"""

# Clicking a citation [n] anywhere opens and shows the matching source in the panel.
CITATION_JS = """
() => {
  document.addEventListener('click', (event) => {
    const link = event.target.closest && event.target.closest('a[href^="#quelle-"]');
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const target = document.getElementById(link.getAttribute('href').slice(1));
    if (!target) return;
    target.open = true;
    target.scrollIntoView({block: 'nearest'});
    target.classList.add('kora-flash');
    setTimeout(() => target.classList.remove('kora-flash'), 1500);
  }, true);
}
"""

_MARKDOWN_SPECIAL = set("\\`*_{}[]()#+-.!|~=:$")
_HTML_SPECIAL = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}
_CITATION = re.compile(r"\[(\d{1,3})\]")


def launch_options() -> dict[str, Any]:
    """The look of the app (Gradio 6 takes these at launch): local fonts only."""
    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["monospace"])
    return {"theme": theme, "css": CSS, "js": CITATION_JS}


def escape_markdown(text: str) -> str:
    """Text that Markdown and HTML both show literally: no tags, links or images."""
    out = []
    for char in text:
        if char in _HTML_SPECIAL:
            out.append(_HTML_SPECIAL[char])
        elif char in _MARKDOWN_SPECIAL:
            out.append(f"&#{ord(char)};")
        else:
            out.append(char)
    return "".join(out)


def render_answer(answer: Answer) -> str:
    """The chat message: escaped text with each [n] linked to its source."""
    known = {c.n for c in answer.citations}
    parts = []
    position = 0
    text = answer.answer
    for match in _CITATION.finditer(text):
        parts.append(_render_plain(text[position:match.start()]))
        n = int(match.group(1))
        label = f"&#91;{n}&#93;"
        parts.append(f'<a href="#quelle-{n}">{label}</a>' if n in known else label)
        position = match.end()
    parts.append(_render_plain(text[position:]))
    rendered = _bold_first("".join(parts), answer.highlights)
    if answer.notice:
        rendered += "\n\n" + escape_markdown(S.NOTICE_PREFIX + answer.notice)
    return rendered


def _bold_first(rendered: str, highlights: list[str]) -> str:
    """The answer itself in bold where it first appears (in the already escaped text)."""
    for highlight in highlights:
        escaped = escape_markdown(highlight)
        if escaped and escaped in rendered:
            rendered = rendered.replace(escaped, f"<strong>{escaped}</strong>", 1)
    return rendered


def _render_plain(text: str) -> str:
    pieces = text.split(UNSUPPORTED_MARK)
    marker = f'<span class="nicht-belegt">({S.UNSUPPORTED})</span>'
    return marker.join(escape_markdown(piece) for piece in pieces)


def mode_label(answer: Answer) -> str:
    if answer.refused:
        return S.MODE_REFUSED
    if answer.mode == "extractive":
        return S.MODE_EXTRACTIVE
    return answer.llm or answer.mode


def llm_label(llm: ChatModel | None) -> str:
    """The answer generator with its context size, or "extraktiv"."""
    if llm is None:
        return S.MODE_EXTRACTIVE
    return S.MODE_LLM.format(name=llm.name, context=llm.context_window)


def render_badge(answer: Answer | None, llm: ChatModel | None = None) -> str:
    """The mode of ``answer``; before the first answer, the mode the app answers in."""
    if answer is None:
        css, mode = "kora-answered", llm_label(llm)
    else:
        css = "kora-refused" if answer.refused else "kora-answered"
        mode = mode_label(answer)
        if answer.mode == "llm" and llm is not None and answer.llm == llm.name:
            mode = llm_label(llm)
    label = html.escape(S.MODE_PREFIX + mode)
    return f'<div class="{css}"><span class="kora-badge">{label}</span></div>'


def llm_status(llm: ChatModel | None, settings: Settings) -> str:
    """One line for the admin area: which LLM answers, and how it was chosen."""
    how = S.LLM_HOW_AUTO if settings.llm == "auto" else S.LLM_HOW_SET.format(setting=settings.llm)
    if llm is None:
        return S.LLM_STATUS_NONE.format(how=how)
    return S.LLM_STATUS_MODEL.format(name=llm.name, context=llm.context_window, how=how)


def _highlight(passage: str, sentences: list[str], answers: tuple[str, ...] = ()) -> str:
    """The passage, escaped, with every cited sentence found in it marked, and within
    them the answer itself (the number, date or name the question asked for)."""
    marked = [False] * len(passage)
    for sentence in sentences:
        start = passage.find(sentence)
        if start >= 0:
            span = (start, start + len(sentence))
        else:
            # extractive sentences lose list markers and line breaks: match loosely
            words = [re.escape(w) for w in re.findall(r"\w+", sentence)]
            match = re.search(r"\W+".join(words), passage) if words else None
            if not match:
                continue
            span = match.span()
        for index in range(*span):
            marked[index] = True
    strong = [False] * len(passage)
    for answer in answers:
        for match in re.finditer(re.escape(answer), passage):
            if all(marked[match.start() : match.end()]):
                for index in range(*match.span()):
                    strong[index] = True
    out: list[str] = []
    position = 0
    while position < len(passage):
        end = position
        state = (marked[position], strong[position])
        while end < len(passage) and (marked[end], strong[end]) == state:
            end += 1
        text = html.escape(passage[position:end])
        if state[1]:
            text = f'<strong class="kora-antwort">{text}</strong>'
        out.append(f"<mark>{text}</mark>" if state[0] else text)
        position = end
    # adjacent runs of one sentence: join their marks
    return "".join(out).replace("</mark><mark>", "")


def index_label(assistant: Any) -> str:
    """Which index generation and version answered ("<generation>@<version>")."""
    generation = getattr(assistant, "generation", None)
    return f"{generation.name}@{generation.version}" if generation is not None else ""


def render_sources(answer: Answer | None, *, index: str = "") -> str:
    """The sources panel; ``index`` (which generation answered) becomes an attribute
    that operators and the load benchmark read."""
    if answer is None:
        return f'<div class="kora-quellen"><p>{html.escape(S.SOURCES_EMPTY)}</p></div>'
    blocks = [f"<h3>{html.escape(S.SOURCES_HEADING)}</h3>"]
    if answer.refused:
        blocks.append(f"<p>{html.escape(S.SOURCES_NONE_REFUSED)}</p><ul>")
        blocks += [f"<li>{html.escape(topic)}</li>" for topic in answer.suggested_topics]
        blocks.append("</ul>")
    for citation in answer.citations:
        passage = citation.passage
        cited = [s.text for s in answer.sentences if citation.n in s.citations]
        meta = " · ".join(
            f"{label}: {html.escape(value)}" for label, value in (
                (S.META_TYPE, passage.type), (S.META_DATE, passage.date),
                (S.META_LOCATION, passage.location), (S.META_DOCUMENT, passage.doc_id),
            ) if value
        )
        blocks.append(
            f'<details class="kora-quelle" id="quelle-{citation.n}">'
            f"<summary>[{citation.n}] {html.escape(passage.title)}</summary>"
            f'<div class="kora-meta">{meta}</div>'
            f'<div class="kora-passage">'
            f'{_highlight(passage.text, cited, tuple(answer.highlights))}</div></details>'
        )
    unsupported = [s.text for s in answer.sentences if not s.supported]
    if unsupported:
        blocks.append(f'<p class="nicht-belegt">{html.escape(S.UNSUPPORTED_HEADING)}</p><ul>')
        blocks += [f'<li class="nicht-belegt">{html.escape(t)} ({S.UNSUPPORTED})</li>'
                   for t in unsupported]
        blocks.append("</ul>")
    served = f' data-index="{html.escape(index)}"' if index else ""
    return f'<div class="kora-quellen"{served}>' + "".join(blocks) + "</div>"


def index_banner(problem: KoraError | None) -> str:
    """The notice at the top of the page when the index cannot answer."""
    if isinstance(problem, IndexModelMismatchError):
        return S.INDEX_OTHER_MODEL_BANNER
    if isinstance(problem, IndexUnavailableError):
        return S.INDEX_UNREACHABLE_BANNER
    if isinstance(problem, EmptyIndexError):
        return S.INDEX_EMPTY_BANNER
    return ""


def filters_for(doc_type: str | None) -> Filters:
    if not doc_type or doc_type == S.TYPE_ALL:
        return Filters()
    return Filters(types=(doc_type,))


def _open_assistant(settings: Settings, data_dir: DataDir, embedder: Any) -> Assistant:
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
                 factory: AssistantFactory, *, watch: bool = True) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.factory = factory
        self.llm_slots = LLMSlots(settings.llm_concurrency)
        self._lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._in_use: dict[int, int] = {}
        self._embedder: Any = None
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

    @property
    def needs_rebuild(self) -> bool:
        return isinstance(self.problem, IndexModelMismatchError)

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
    def embedder(self) -> Any:
        with self._lock:
            assistant = self._assistant
            if assistant is not None:
                return assistant.retriever.embedder
            if self._embedder is None:
                from rag.providers.embedding import Embedder

                self._embedder = Embedder.load(self.settings)
            return self._embedder

    @property
    def llm(self) -> Any:
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

    def _loaded_embedder(self) -> Any:
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

    def _retire(self, assistant: Any) -> None:
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


def _close_quietly(assistant: Any) -> None:
    close = getattr(assistant, "close", None)
    if close is not None:
        try:
            close()
        except Exception:  # a failing close must not break the question that ended
            logging.getLogger(__name__).exception("closing the old index failed")


def stream_answer(shared: SharedAssistant, question: str, history: list[Turn],
                  filters: Filters) -> Iterator[str | Answer]:
    """Yields the growing answer text while it is written, then the checked Answer."""
    pieces: queue.Queue[tuple[str, Any]] = queue.Queue()

    def work() -> None:
        try:
            # held by the worker: a browser that goes away mid-answer must not let a
            # re-index close the index under this thread
            with shared.use() as assistant:
                result = assistant.answerer.ask(
                    question, history=history, filters=filters,
                    on_token=lambda piece: pieces.put(("token", piece)))
        except Exception as exc:  # the thread must hand every failure to the reader
            pieces.put(("error", exc))
        else:
            pieces.put(("done", result))

    threading.Thread(target=work, daemon=True).start()
    text = ""
    while True:
        kind, value = pieces.get()
        if kind == "token":
            text += value
            yield text
        elif kind == "error":
            raise value
        else:
            yield value
            return


def build_app(settings: Settings, *,
              assistant_factory: AssistantFactory = _open_assistant,
              clock: Callable[[], float] = time.monotonic) -> gr.Blocks:
    """The whole app. Opens the Assistant once (slow: loads the model and the index).
    ``clock`` drives login throttling and session expiry (tests pass their own)."""
    # the chat reads the index while the admin area may replace it: keep a replaced
    # generation until the chat's last question on it is answered
    data_dir = DataDir(settings, serving=True)
    shared = SharedAssistant(settings, data_dir, assistant_factory)
    feedback = FeedbackStore.in_data_dir(settings.data_dir,
                                         retention_days=settings.feedback_retention_days)
    audit = AuditLog.in_data_dir(settings.data_dir)
    accounts = AccountStore.in_data_dir(settings.data_dir)
    gate = Gate(settings, accounts, audit, clock=clock)
    export_dir = Path(tempfile.mkdtemp(prefix="kora-export-"))
    atexit.register(shutil.rmtree, export_dir, True)
    actions = AdminActions(settings=settings, data_dir=data_dir, gate=gate, audit=audit,
                           feedback=feedback, reload=shared.reload,
                           embedder=lambda: shared.embedder, export_dir=export_dir)

    def chat_refusal(token: Any, request: Any) -> str:
        """"" when this caller may chat, else the German line that says why not."""
        caller = gate.proxy.caller(request)
        if caller.refused:
            gate.caller(request)  # audited
            return S.AUTH_HEADER_REFUSED
        if not settings.chat_requires_login:
            return ""
        principal, why = gate.principal(token, request, role="chat")
        if principal is not None:
            return ""
        return S.ADMIN_SESSION_EXPIRED if why == "expired" else S.CHAT_LOGIN_REQUIRED

    def ask(question: str, doc_type: str, messages: list[dict[str, Any]],
            history: list[Turn], token: Any, request: gr.Request) -> Iterator[tuple[Any, ...]]:
        messages = list(messages or [])
        try:
            question, _ = clean_question(question or "")
        except EmptyQuestionError:
            yield messages, gr.skip(), gr.skip(), history, gr.skip(), ""
            return
        refusal = chat_refusal(token, request)
        if refusal:
            messages.append({"role": "assistant", "content": escape_markdown(refusal)})
            yield messages, gr.skip(), "", history, gr.skip(), gr.skip()
            return
        messages.append({"role": "user", "content": escape_markdown(question)})
        messages.append({"role": "assistant", "content": S.THINKING})
        yield messages, gr.skip(), "", history, gr.skip(), ""
        try:
            for step in stream_answer(shared, question, list(history), filters_for(doc_type)):
                if isinstance(step, str):
                    messages[-1] = {"role": "assistant", "content": escape_markdown(step)}
                    yield messages, gr.skip(), "", history, gr.skip(), ""
                else:
                    messages[-1] = {"role": "assistant", "content": render_answer(step)}
                    new_history = [*history, step.as_turn()]
                    badge_html = render_badge(step, shared.llm)
                    yield (messages, render_sources(step), badge_html, new_history,
                           step, "")
        except Exception as exc:
            messages[-1] = {"role": "assistant",
                            "content": escape_markdown(answer_failure(exc))}
            yield messages, gr.skip(), "", history, gr.skip(), ""

    def frage(question: str, doc_type: str = S.TYPE_ALL,
              request: gr.Request = None) -> tuple[str, str, str]:  # type: ignore[assignment]
        """One question without a conversation: (answer text, sources HTML, mode)."""
        # API callers have no browser session: with the chat behind login only a user
        # vouched for by the trusted proxy gets an answer
        refusal = chat_refusal(None, request)
        if refusal:
            raise gr.Error(refusal, print_exception=False)
        try:
            with shared.use() as assistant:
                answer = assistant.answerer.ask(question, filters=filters_for(doc_type))
                served_from = index_label(assistant)
        except EmptyQuestionError:
            raise gr.Error(S.EMPTY_QUESTION, print_exception=False) from None
        except Exception as exc:
            raise gr.Error(answer_failure(exc), print_exception=False) from None
        text = answer.answer
        if answer.notice:  # e.g. that an overlong question was cut
            text += "\n\n" + S.NOTICE_PREFIX + answer.notice
        return text, render_sources(answer, index=served_from), mode_label(answer)

    def new_conversation() -> tuple[Any, ...]:
        return [], render_sources(None), idle_badge(), [], None, "", ""

    def idle_badge() -> str:
        return render_badge(None, shared.llm)

    def rate(rating: int) -> Callable[..., tuple[str, str]]:
        def handler(last: Answer | None, comment: str, token: Any,
                    request: gr.Request) -> tuple[str, str]:
            refusal = chat_refusal(token, request)
            if refusal:
                return refusal, comment
            if last is None:
                return S.FEEDBACK_NO_ANSWER, comment
            feedback.add(rating=rating, question=last.question, answer=last.answer,
                         comment=comment or "",
                         sources=[{"n": c.n, "doc_id": c.passage.doc_id, "title": c.passage.title,
                                   "location": c.passage.location} for c in last.citations])
            return S.FEEDBACK_THANKS, ""
        return handler

    # typing.get_type_hints must resolve every annotation, or Gradio does not see the
    # gr.Request parameter: the handlers' annotations use module-level names only
    def login(name: str, password: str, request: gr.Request) -> tuple[Any, str, str]:
        token, status = actions.login(name, password, request)
        return token, status, ""

    def logout(token: Any, request: gr.Request) -> tuple[Any, str]:
        return actions.logout(token, request)

    def greeting(token: Any, request: gr.Request) -> str:
        return actions.greeting(token, request)

    def upload(files: list[str] | None, token: Any, request: gr.Request) -> str:
        return actions.upload(files, token, request)

    def reindex(token: Any, request: gr.Request,
                progress: gr.Progress = gr.Progress(),  # noqa: B008
                full: bool = False) -> str:
        return actions.reindex(token, request, progress, full=full)

    def reindex_clicked(full: bool, token: Any, request: gr.Request,
                        progress: gr.Progress = gr.Progress()) -> str:  # noqa: B008
        return actions.reindex(token, request, progress, full=bool(full))

    def documents(token: Any, request: gr.Request) -> tuple[Any, Any]:
        return actions.documents(token, request)

    def delete(doc_id: str | None, confirmed: bool, token: Any, request: gr.Request,
               progress: gr.Progress = gr.Progress()) -> str:  # noqa: B008
        return actions.delete(doc_id, confirmed, token, request, progress)

    def export(token: Any, request: gr.Request) -> tuple[str | None, str]:
        return actions.export_feedback(token, request)

    def audit_rows(token: Any, request: gr.Request) -> tuple[Any, str]:
        return actions.audit_rows(token, request)

    def export_audit(token: Any, request: gr.Request) -> tuple[str | None, str]:
        return actions.export_audit(token, request)

    def login_panel(session: gr.State) -> gr.Markdown:
        gr.Markdown(S.LOGIN_HEADING)
        if not gate.enabled:
            gr.Markdown(S.ADMIN_DISABLED, elem_id="kora-admin-aus")
        with gr.Row():
            account = gr.Textbox(label=S.ADMIN_ACCOUNT, placeholder=S.ADMIN_ACCOUNT_PLACEHOLDER,
                                 elem_id="kora-konto", max_lines=1)
            password = gr.Textbox(label=S.ADMIN_PASSWORD, type="password",
                                  elem_id="kora-passwort", max_lines=1)
            login_button = gr.Button(S.ADMIN_LOGIN, elem_id="kora-anmelden")
            logout_button = gr.Button(S.ADMIN_LOGOUT, elem_id="kora-abmelden", size="sm")
        status = gr.Markdown("", elem_id="kora-anmeldestatus")
        login_button.click(login, [account, password], [session, status, password],
                           api_visibility="private")
        password.submit(login, [account, password], [session, status, password],
                        api_visibility="private")
        logout_button.click(logout, [session], [session, status], api_visibility="private")
        return status

    with gr.Blocks(title=S.TITLE, analytics_enabled=False,
                   delete_cache=(3600, 3600)) as demo:
        session = gr.State(None)  # an opaque token; the session itself lives in ``gate``
        gr.Markdown(S.HEADER)
        notice = gr.Markdown("", elem_id="kora-hinweis")
        demo.load(lambda: index_banner(shared.problem), None, [notice],
                  api_visibility="private")
        login_status = login_panel(session) if settings.chat_requires_login else None
        with gr.Tab(S.TAB_CHAT):
            history = gr.State([])
            last = gr.State(None)
            with gr.Row():
                with gr.Column(scale=3):
                    badge = gr.HTML(idle_badge(), elem_id="kora-badge")
                    chatbot = gr.Chatbot(label=S.CHAT_LABEL, elem_id="kora-chat", height=480,
                                         sanitize_html=True, render_markdown=True,
                                         feedback_options=None, allow_tags=False)
                    with gr.Row():
                        question = gr.Textbox(label=S.QUESTION_LABEL, elem_id="kora-frage",
                                              placeholder=S.QUESTION_PLACEHOLDER, scale=4)
                        doc_type = gr.Dropdown([S.TYPE_ALL, *S.DOCUMENT_TYPES],
                                               value=S.TYPE_ALL, label=S.TYPE_FILTER_LABEL,
                                               scale=1)
                    with gr.Row():
                        send = gr.Button(S.SEND, variant="primary", elem_id="kora-senden")
                        reset = gr.Button(S.NEW_CONVERSATION, elem_id="kora-neu")
                    gr.Examples(S.EXAMPLE_QUESTIONS, inputs=[question], label=S.EXAMPLES_LABEL)
                    with gr.Row():
                        thumbs_up = gr.Button(S.FEEDBACK_UP, size="sm")
                        thumbs_down = gr.Button(S.FEEDBACK_DOWN, size="sm")
                    comment = gr.Textbox(label=S.FEEDBACK_COMMENT, lines=1)
                    feedback_status = gr.Markdown("")
                with gr.Column(scale=2):
                    sources = gr.HTML(render_sources(None), elem_id="kora-quellen")
            outputs = [chatbot, sources, badge, history, last, question]
            inputs = [question, doc_type, chatbot, history, session]
            # the answering stack is safe across threads (rag/answering/assistant.py): up to
            # answer_concurrency questions at once per worker, chat and API together;
            # LLM generation is bounded apart (llm_concurrency)
            limit = settings.answer_concurrency
            send.click(ask, inputs, outputs, api_visibility="private",
                       concurrency_id="answer", concurrency_limit=limit)
            question.submit(ask, inputs, outputs, api_visibility="private",
                            concurrency_id="answer", concurrency_limit=limit)
            reset.click(new_conversation, None, [*outputs, feedback_status],
                        api_visibility="private")
            thumbs_up.click(rate(1), [last, comment, session], [feedback_status, comment],
                            api_visibility="private")
            thumbs_down.click(rate(-1), [last, comment, session], [feedback_status, comment],
                              api_visibility="private")
            gr.api(frage, api_name="frage", concurrency_id="answer", concurrency_limit=limit)

        with gr.Tab(S.TAB_ADMIN):
            gr.Markdown(escape_markdown(llm_status(shared.llm, settings)),
                        elem_id="kora-llm-status")
            if login_status is None:
                login_status = login_panel(session)
            gr.Markdown(f"### {S.ADMIN_UPLOAD}")
            files = gr.File(file_count="multiple", type="filepath",
                            label=S.ADMIN_UPLOAD, elem_id="kora-dateien")
            upload_button = gr.Button(S.ADMIN_UPLOAD_BUTTON, elem_id="kora-hochladen")
            upload_status = gr.Textbox(label=S.STATUS, interactive=False,
                                       elem_id="kora-upload-status")
            upload_button.click(upload, [files, session], [upload_status], api_name="hochladen")
            reindex_button = gr.Button(S.ADMIN_REINDEX, variant="primary",
                                       elem_id="kora-neu-indexieren")
            reindex_status = gr.Textbox(label=S.STATUS, interactive=False, lines=3,
                                        elem_id="kora-index-status")
            reindex_full = gr.Checkbox(label=S.ADMIN_REINDEX_FULL, value=False,
                                       elem_id="kora-neu-aufbauen")
            reindex_done = reindex_button.click(reindex_clicked, [reindex_full, session],
                                                [reindex_status], api_visibility="private")
            gr.Markdown(f"### {S.ADMIN_DOCUMENTS}")
            refresh = gr.Button(S.ADMIN_REFRESH)
            table = gr.Dataframe(headers=S.ADMIN_COLUMNS, interactive=False,
                                 elem_id="kora-dokumente")
            gr.Markdown(f"### {S.ADMIN_DELETE}")
            with gr.Row():
                doc_choice = gr.Dropdown([], label=S.ADMIN_DELETE_CHOICE)
                confirm = gr.Checkbox(label=S.ADMIN_DELETE_CONFIRM)
                delete_button = gr.Button(S.ADMIN_DELETE_BUTTON, variant="stop")
            delete_status = gr.Textbox(label=S.STATUS, interactive=False)
            export_button = gr.Button(S.ADMIN_EXPORT)
            export_file = gr.File(label=S.ADMIN_EXPORT_FILE, interactive=False)
            export_status = gr.Markdown("")
            gr.Markdown(f"### {S.AUDIT_HEADING}")
            audit_note = gr.Markdown("", elem_id="kora-protokoll-hinweis")
            audit_table = gr.Dataframe(headers=S.AUDIT_COLUMNS, interactive=False,
                                       elem_id="kora-protokoll", wrap=True)
            with gr.Row():
                audit_refresh = gr.Button(S.AUDIT_REFRESH)
                audit_export = gr.Button(S.AUDIT_EXPORT, elem_id="kora-protokoll-export")
            audit_file = gr.File(label=S.ADMIN_EXPORT_FILE, interactive=False,
                                 elem_id="kora-protokoll-datei")
            audit_status = gr.Markdown("")

            # every admin event is private: not part of the public API, and each handler
            # checks the session on the server anyway
            hidden = "private"
            refresh.click(documents, [session], [table, doc_choice], api_visibility=hidden)
            login_status.change(documents, [session], [table, doc_choice],
                                api_visibility=hidden)
            login_status.change(audit_rows, [session], [audit_table, audit_note],
                                api_visibility=hidden)
            delete_button.click(
                delete, [doc_choice, confirm, session], [delete_status], api_visibility=hidden,
            ).then(documents, [session], [table, doc_choice], api_visibility=hidden)
            reindex_done.then(documents, [session], [table, doc_choice], api_visibility=hidden)
            reindex_done.then(audit_rows, [session], [audit_table, audit_note],
                              api_visibility=hidden)
            export_button.click(export, [session], [export_file, export_status],
                                api_visibility=hidden)
            audit_refresh.click(audit_rows, [session], [audit_table, audit_note],
                                api_visibility=hidden)
            audit_export.click(export_audit, [session], [audit_file, audit_status],
                               api_visibility=hidden)
            demo.load(greeting, [session], [login_status], api_visibility=hidden)

        demo.kora_handlers = {
            "upload": upload, "reindex": reindex, "delete": delete, "export": export,
            "documents": documents, "frage": frage, "login": login, "logout": logout,
            "audit": audit_rows, "export_audit": export_audit, "ask": ask,
        }
        demo.kora_feedback = feedback
        demo.kora_gate = gate
        demo.kora_shared = shared
        demo.kora_assistant = shared.get
        # what a re-index does, even when the live index did not move
        demo.kora_reload = lambda: shared.reload(force=True)
    return demo


def launch(demo: gr.Blocks, settings: Settings, *, host: str, port: int) -> None:
    """Start the server without blocking (``demo.close()`` stops it)."""
    # uvicorn would otherwise rewrite the client address from X-Forwarded-For whenever
    # the peer is 127.0.0.1, so a local process could pose as any address and the real
    # peer (needed to decide whether to trust the proxy's user header) would be lost.
    # KORA reads X-Forwarded-For itself, from settings.trusted_proxies only.
    os.environ["FORWARDED_ALLOW_IPS"] = "kora-reads-x-forwarded-for-itself"
    demo.launch(server_name=host, server_port=port, prevent_thread_lock=True, quiet=True,
                footer_links=[], max_file_size=int(settings.max_file_mb * 1_000_000),
                **launch_options())


def start_checks(settings: Settings) -> list[str]:
    """At `kora serve` start: purge feedback past its retention (audited), and say how the
    admin area is reached. Returns the console lines."""
    accounts = AccountStore.in_data_dir(settings.data_dir)
    feedback = FeedbackStore.in_data_dir(settings.data_dir)
    days = settings.feedback_retention_days
    removed = feedback.purge(older_than_days=days)
    feedback.close()
    lines = [S.CONSOLE_PURGED.format(days=days, count=removed)]
    if removed:
        AuditLog.in_data_dir(settings.data_dir).append(
            action="feedback-purge", account="system", client="local",
            detail={"older_than_days": days, "removed": removed, "trigger": "serve-start"})
    named = len(accounts.accounts())
    env_set = env_password() is not None
    if named:
        lines.append(S.CONSOLE_ADMIN_ACCOUNTS.format(count=named))
        if env_set:
            lines.append(S.CONSOLE_ADMIN_ENV_IGNORED)
    elif env_set:
        lines.append(S.CONSOLE_ADMIN_ENV)
    elif not settings.trusted_user_header:
        lines.append(S.CONSOLE_ADMIN_OFF)
    if accounts.loose_permissions():
        lines.append(S.CONSOLE_ACCOUNTS_MODE_FIXED.format(path=accounts.path))
    return lines


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Run the app until Ctrl-C."""
    for line in start_checks(settings):
        print(line, flush=True)
    demo = build_app(settings)
    shared: SharedAssistant = getattr(demo, "kora_shared")  # noqa: B009 (set in build_app)
    if shared.problem is None:
        print(f"Antwortmodus: {shared.get().llm_description}", flush=True)
    launch(demo, settings, host=host, port=port)
    print(S.CONSOLE_RUNNING.format(host=host, port=port), flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()


__all__ = ["build_app", "escape_markdown", "launch", "launch_options", "render_answer",
           "render_sources", "serve"]
