"""What the web app's events do: the chat's handlers and the admin area's.

``build_app`` (ui/app.py) only lays out the page and wires these methods to it. Gradio
reads each handler's signature to decide what to pass in (a ``gr.Request``, a
``gr.Progress``), and it resolves the annotations with ``typing.get_type_hints``: every
name in them is therefore imported here at run time, never only for type checking.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from people import DatabaseUnavailableError, FeedbackStore, Gate
from rag.answering import Answer, EmptyQuestionError, Turn, clean_question
from rag.jsontypes import JSONObject
from rag.retrieval import Filters
from rag.settings import Settings
from ui import strings as S
from ui.admin_actions import AdminActions
from ui.browser import MaybeRequest, PageUpdate, SessionToken
from ui.failures import answer_failure
from ui.render import (
    escape_markdown,
    index_label,
    mode_label,
    render_answer,
    render_badge,
    render_sources,
)
from ui.shared_assistant import SharedAssistant


def filters_for(doc_type: str | None) -> Filters:
    if not doc_type or doc_type == S.TYPE_ALL:
        return Filters()
    return Filters(types=(doc_type,))


def stream_answer(shared: SharedAssistant, question: str, history: list[Turn],
                  filters: Filters) -> Iterator[str | Answer]:
    """Yields the growing answer text while it is written, then the checked Answer."""
    pieces: queue.Queue[tuple[str, Any]] = queue.Queue()

    def work() -> None:
        try:
            # held by the worker: a browser that goes away mid-answer must not let a
            # re-index close the index under this thread; the answer slot is shared
            # with the HTTP API's questions
            with shared.answer_slots.hold(), shared.use() as assistant:
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


class ChatHandlers:
    """The chat tab and the ``/frage`` API. One per app, shared by every browser session:
    a session's conversation comes in as arguments (its ``gr.State``), never lives here."""

    def __init__(self, *, settings: Settings, shared: SharedAssistant, gate: Gate,
                 feedback: FeedbackStore,
                 record_refused: Callable[[Answer], None] | None = None) -> None:
        self.settings = settings
        self.shared = shared
        self.gate = gate
        self.feedback = feedback
        # keeps refused questions when record_unanswered is on (ui/quality.py)
        self.record_refused = record_refused or (lambda answer: None)

    def access_refusal(self, token: SessionToken, request: MaybeRequest) -> str:
        """"" when this caller may chat, else the German line that says why not (an
        authorisation refusal, not the "the documents don't cover this" kind)."""
        caller = self.gate.proxy.caller(request)
        if caller.refused:
            # audited when the database is up; refused either way
            with contextlib.suppress(DatabaseUnavailableError):
                self.gate.caller(request)
            return S.AUTH_HEADER_REFUSED
        if not self.settings.chat_requires_login:
            return ""  # the chat needs no database
        try:
            principal, why = self.gate.principal(token, request, role="chat")
        except DatabaseUnavailableError:
            return S.DATABASE_DOWN
        if principal is not None:
            return ""
        return S.ADMIN_SESSION_EXPIRED if why == "expired" else S.CHAT_LOGIN_REQUIRED

    def ask(self, question: str, doc_type: str, messages: list[JSONObject],
            history: list[Turn], token: SessionToken,
            request: gr.Request) -> Iterator[tuple[PageUpdate, ...]]:
        """The chat: yields (chat, sources, badge, history, last answer, question box),
        first the question, then the answer as it is written, then the checked one."""
        messages = list(messages or [])
        try:
            question, _ = clean_question(question or "")
        except EmptyQuestionError:
            yield messages, gr.skip(), gr.skip(), history, gr.skip(), ""
            return
        refused_access = self.access_refusal(token, request)
        if refused_access:
            messages.append({"role": "assistant", "content": escape_markdown(refused_access)})
            yield messages, gr.skip(), "", history, gr.skip(), gr.skip()
            return
        messages.append({"role": "user", "content": escape_markdown(question)})
        messages.append({"role": "assistant", "content": S.THINKING})
        yield messages, gr.skip(), "", history, gr.skip(), ""
        try:
            for step in stream_answer(self.shared, question, list(history),
                                      filters_for(doc_type)):
                if isinstance(step, str):
                    messages[-1] = {"role": "assistant", "content": escape_markdown(step)}
                    yield messages, gr.skip(), "", history, gr.skip(), ""
                else:
                    messages[-1] = {"role": "assistant", "content": render_answer(step)}
                    self.record_refused(step)
                    new_history = [*history, step.as_turn()]
                    badge_html = render_badge(step, self.shared.llm)
                    yield (messages, render_sources(step), badge_html, new_history,
                           step, "")
        except Exception as exc:  # one line in the chat; anything unexpected is logged
            messages[-1] = {"role": "assistant",
                            "content": escape_markdown(answer_failure(exc))}
            yield messages, gr.skip(), "", history, gr.skip(), ""

    def frage(self, question: str, doc_type: str = S.TYPE_ALL,
              request: gr.Request = None) -> tuple[str, str, str]:  # type: ignore[assignment]
        """One question without a conversation: (answer text, sources HTML, mode)."""
        # API callers have no browser session: with the chat behind login only a user
        # vouched for by the trusted proxy gets an answer
        refused_access = self.access_refusal(None, request)
        if refused_access:
            raise gr.Error(refused_access, print_exception=False)
        try:
            with self.shared.answer_slots.hold(), self.shared.use() as assistant:
                answer = assistant.answerer.ask(question, filters=filters_for(doc_type))
                served_from = index_label(assistant)
        except EmptyQuestionError:
            raise gr.Error(S.EMPTY_QUESTION, print_exception=False) from None
        except Exception as exc:  # one line for the caller; anything unexpected is logged
            raise gr.Error(answer_failure(exc), print_exception=False) from None
        self.record_refused(answer)
        text = answer.answer
        if answer.notice:  # e.g. that an overlong question was cut
            text += "\n\n" + S.NOTICE_PREFIX + answer.notice
        return text, render_sources(answer, index=served_from), mode_label(answer)

    def new_conversation(self) -> tuple[PageUpdate, ...]:
        return [], render_sources(None), self.idle_badge(), [], None, "", ""

    def idle_badge(self) -> str:
        return render_badge(None, self.shared.llm)

    def rate_up(self, last: Answer | None, comment: str, token: SessionToken,
                request: gr.Request) -> tuple[str, str]:
        return self._rate(1, last, comment, token, request)

    def rate_down(self, last: Answer | None, comment: str, token: SessionToken,
                  request: gr.Request) -> tuple[str, str]:
        return self._rate(-1, last, comment, token, request)

    def _rate(self, rating: int, last: Answer | None, comment: str, token: SessionToken,
              request: MaybeRequest) -> tuple[str, str]:
        """(status line, comment box): the comment stays when nothing was stored."""
        try:
            refused_access = self.access_refusal(token, request)
            if refused_access:
                return refused_access, comment
            if last is None:
                return S.FEEDBACK_NO_ANSWER, comment
            self.feedback.add(rating=rating, question=last.question, answer=last.answer,
                              comment=comment or "",
                              sources=[{"n": c.n, "doc_id": c.passage.doc_id,
                                        "title": c.passage.title,
                                        "location": c.passage.location}
                                       for c in last.citations])
        except DatabaseUnavailableError:
            return S.DATABASE_DOWN, comment  # the comment stays for the next try
        return S.FEEDBACK_THANKS, ""


class AdminHandlers:
    """The admin area's events in the shape Gradio calls them; the checks, the work and
    the audit entries are ``AdminActions``'. The request is optional so that tests and
    benchmarks can call a handler directly (``request=None`` is a local caller)."""

    def __init__(self, actions: AdminActions) -> None:
        self.actions = actions

    def login(self, name: str, password: str, request: gr.Request) -> tuple[PageUpdate, str, str]:
        """(session token, status line, password box emptied)."""
        token, status = self.actions.login(name, password, request)
        return token, status, ""

    def logout(self, token: SessionToken, request: gr.Request) -> tuple[PageUpdate, str]:
        return self.actions.logout(token, request)

    def greeting(self, token: SessionToken, request: gr.Request) -> str:
        return self.actions.greeting(token, request)

    def upload(self, files: list[str] | None, token: SessionToken, request: gr.Request) -> str:
        return self.actions.upload(files, token, request)

    def reindex(self, token: SessionToken, request: gr.Request,
                progress: gr.Progress = gr.Progress(),  # noqa: B008
                full: bool = False) -> str:
        return self.actions.reindex(token, request, progress, full=full)

    def reindex_clicked(self, full: bool, token: SessionToken, request: gr.Request,
                        progress: gr.Progress = gr.Progress()) -> str:  # noqa: B008
        """The button, with the "rebuild" checkbox as its first input."""
        return self.actions.reindex(token, request, progress, full=bool(full))

    def reindex_confirmed(self, full: bool, confirmed: bool, token: SessionToken,
                          request: gr.Request,
                          progress: gr.Progress = gr.Progress()) -> str:  # noqa: B008
        """The button, with the "rebuild" and the large-removal checkboxes."""
        return self.actions.reindex(token, request, progress, full=bool(full),
                                    confirmed=bool(confirmed))

    def preview(self, full: bool, token: SessionToken, request: gr.Request) -> str:
        return self.actions.preview(token, request, full=bool(full))

    def declare_replacement(self, files: list[str] | None, replaces: str | None, status: str,
                            token: SessionToken, request: gr.Request) -> str:
        return self.actions.declare_replacement(files, replaces, status, token, request)

    def documents(self, token: SessionToken, request: gr.Request) -> tuple[PageUpdate, PageUpdate]:
        return self.actions.documents(token, request)

    def replace_choices(self, token: SessionToken, request: gr.Request) -> PageUpdate:
        """The documents an upload may replace ("ersetzt Dokument …")."""
        _, choice = self.actions.documents(token, request)
        return choice

    def delete(self, doc_id: str | None, confirmed: bool, token: SessionToken, request: gr.Request,
               progress: gr.Progress = gr.Progress()) -> str:  # noqa: B008
        return self.actions.delete(doc_id, confirmed, token, request, progress)

    def export(self, token: SessionToken, request: gr.Request) -> tuple[str | None, str]:
        return self.actions.export_feedback(token, request)

    def audit_rows(self, token: SessionToken, request: gr.Request) -> tuple[PageUpdate, str]:
        return self.actions.audit_rows(token, request)

    def export_audit(self, token: SessionToken, request: gr.Request) -> tuple[str | None, str]:
        return self.actions.export_audit(token, request)


__all__ = ["AdminHandlers", "ChatHandlers", "filters_for", "stream_answer"]
