"""The Gradio web app: a cited-answer chat for staff and an admin area.

One Assistant (embedding model, index, LLM) per process, shared read-only by every
session; each browser session keeps its own conversation in ``gr.State``. All text that
comes from documents, questions or answers is HTML-escaped before it is shown, and the
chat receives Markdown with every Markdown character neutralised, so a document can
neither run script nor load an image.
"""

from __future__ import annotations

import html
import queue
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from rag.answer import Answer, Turn
from rag.assistant import Assistant
from rag.filters import Filters
from rag.llm import ChatModel
from rag.prompts import UNSUPPORTED_MARK
from rag.settings import Settings
from rag.store import DataDir
from ui import admin
from ui import strings as S
from ui.feedback import FeedbackStore

AssistantFactory = Callable[[Settings, DataDir, Any], Assistant]

CSS = """
.kora-badge {display:inline-block; padding:2px 10px; border-radius:10px;
  background:#e0ecff; color:#123; font-size:0.9em;}
.kora-refused .kora-badge {background:#fde2c8;}
.kora-quelle {border:1px solid #ccc; border-radius:6px; padding:6px 10px; margin:6px 0;}
.kora-quelle summary {cursor:pointer; font-weight:600;}
.kora-meta {color:#555; font-size:0.85em; margin:4px 0;}
.kora-passage {white-space:pre-wrap;}
.kora-passage mark {background:#fff3a0;}
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
    rendered = "".join(parts)
    if answer.notice:
        rendered += "\n\n" + escape_markdown(S.NOTICE_PREFIX + answer.notice)
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


def _highlight(passage: str, sentences: list[str]) -> str:
    """The passage, escaped, with every cited sentence found in it marked."""
    spans: list[tuple[int, int]] = []
    squashed = passage
    for sentence in sentences:
        start = squashed.find(sentence)
        if start < 0:
            # extractive sentences lose list markers and line breaks: match loosely
            words = [re.escape(w) for w in re.findall(r"\w+", sentence)]
            if not words:
                continue
            match = re.search(r"\W+".join(words), passage)
            if not match:
                continue
            spans.append((match.start(), match.end()))
        else:
            spans.append((start, start + len(sentence)))
    spans.sort()
    out, position = [], 0
    for start, end in spans:
        if start < position:
            continue
        out.append(html.escape(passage[position:start]))
        out.append(f"<mark>{html.escape(passage[start:end])}</mark>")
        position = end
    out.append(html.escape(passage[position:]))
    return "".join(out)


def render_sources(answer: Answer | None) -> str:
    if answer is None:
        return f'<div class="kora-quellen"><p>{html.escape(S.SOURCES_EMPTY)}</p></div>'
    blocks = [f"<h3>{html.escape(S.SOURCES_HEADING)}</h3>"]
    if answer.refused:
        blocks.append(f"<p>{html.escape(S.SOURCES_NONE_REFUSED)}</p><ul>")
        blocks += [f"<li>{html.escape(topic)}</li>" for topic in answer.suggested_topics]
        blocks.append("</ul>")
    for citation in answer.citations:
        cited = [s.text for s in answer.sentences if citation.n in s.citations]
        meta = " · ".join(
            f"{label}: {html.escape(value)}" for label, value in (
                (S.META_TYPE, citation.type), (S.META_DATE, citation.date),
                (S.META_LOCATION, citation.location), (S.META_DOCUMENT, citation.doc_id),
            ) if value
        )
        blocks.append(
            f'<details class="kora-quelle" id="quelle-{citation.n}">'
            f"<summary>[{citation.n}] {html.escape(citation.title)}</summary>"
            f'<div class="kora-meta">{meta}</div>'
            f'<div class="kora-passage">{_highlight(citation.text, cited)}</div></details>'
        )
    unsupported = [s.text for s in answer.sentences if not s.supported]
    if unsupported:
        blocks.append(f'<p class="nicht-belegt">{html.escape(S.UNSUPPORTED_HEADING)}</p><ul>')
        blocks += [f'<li class="nicht-belegt">{html.escape(t)} ({S.UNSUPPORTED})</li>'
                   for t in unsupported]
        blocks.append("</ul>")
    return '<div class="kora-quellen">' + "".join(blocks) + "</div>"


def filters_for(doc_type: str | None) -> Filters:
    if not doc_type or doc_type == S.TYPE_ALL:
        return Filters()
    return Filters(types=(doc_type,))


def _open_assistant(settings: Settings, data_dir: DataDir, embedder: Any) -> Assistant:
    return Assistant.open(settings, data_dir=data_dir, embedder=embedder)


class SharedAssistant:
    """The process's one Assistant; replaced atomically after a re-index so that
    questions already running finish on the old one."""

    def __init__(self, settings: Settings, data_dir: DataDir,
                 factory: AssistantFactory) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.factory = factory
        self._lock = threading.Lock()
        self._assistant = factory(settings, data_dir, None)

    def get(self) -> Assistant:
        with self._lock:
            return self._assistant

    @property
    def embedder(self) -> Any:
        return self.get().retriever.embedder

    def reload(self) -> None:
        # the new index with the loaded embedding model and LLM (never a second copy)
        fresh = self.get().reopen(self.settings, self.data_dir)
        with self._lock:
            self._assistant = fresh


def stream_answer(assistant: Assistant, question: str, history: list[Turn],
                  filters: Filters) -> Iterator[str | Answer]:
    """Yields the growing answer text while it is written, then the checked Answer."""
    pieces: queue.Queue[tuple[str, Any]] = queue.Queue()

    def work() -> None:
        try:
            result = assistant.answerer.ask(
                question, history=history, filters=filters,
                on_token=lambda piece: pieces.put(("token", piece)))
        except Exception as exc:  # shown to the user as one line below
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
              assistant_factory: AssistantFactory = _open_assistant) -> gr.Blocks:
    """The whole app. Opens the Assistant once (slow: loads the model and the index)."""
    data_dir = DataDir(settings)
    shared = SharedAssistant(settings, data_dir, assistant_factory)
    feedback = FeedbackStore.in_data_dir(settings.data_dir)
    reindex_lock = threading.Lock()
    # read once: changing the password takes a restart, as the disabled note says
    password = admin.admin_password()

    def ask(question: str, doc_type: str, messages: list[dict[str, Any]],
            history: list[Turn]) -> Iterator[tuple[Any, ...]]:
        question = (question or "").strip()
        messages = list(messages or [])
        if not question:
            yield messages, gr.skip(), gr.skip(), history, gr.skip(), ""
            return
        messages.append({"role": "user", "content": escape_markdown(question)})
        messages.append({"role": "assistant", "content": S.THINKING})
        yield messages, gr.skip(), "", history, gr.skip(), ""
        try:
            for step in stream_answer(shared.get(), question, list(history),
                                      filters_for(doc_type)):
                if isinstance(step, str):
                    messages[-1] = {"role": "assistant", "content": escape_markdown(step)}
                    yield messages, gr.skip(), "", history, gr.skip(), ""
                else:
                    messages[-1] = {"role": "assistant", "content": render_answer(step)}
                    new_history = [*history, step.as_turn()]
                    badge_html = render_badge(step, shared.get().answerer.llm)
                    yield (messages, render_sources(step), badge_html, new_history,
                           step, "")
        except Exception as exc:
            messages[-1] = {"role": "assistant",
                            "content": escape_markdown(S.ANSWER_FAILED.format(error=exc))}
            yield messages, gr.skip(), "", history, gr.skip(), ""

    def frage(question: str, doc_type: str = S.TYPE_ALL) -> tuple[str, str, str]:
        """One question without a conversation: (answer text, sources HTML, mode)."""
        answer = shared.get().answerer.ask(question, filters=filters_for(doc_type))
        return answer.answer, render_sources(answer), mode_label(answer)

    def new_conversation() -> tuple[Any, ...]:
        return [], render_sources(None), idle_badge(), [], None, "", ""

    def idle_badge() -> str:
        return render_badge(None, shared.get().answerer.llm)

    def rate(rating: int) -> Callable[[Answer | None, str], tuple[str, str]]:
        def handler(last: Answer | None, comment: str) -> tuple[str, str]:
            if last is None:
                return S.FEEDBACK_NO_ANSWER, comment
            feedback.add(rating=rating, question=last.question, answer=last.answer,
                         comment=comment or "",
                         sources=[{"n": c.n, "doc_id": c.doc_id, "title": c.title,
                                   "location": c.location} for c in last.citations])
            return S.FEEDBACK_THANKS, ""
        return handler

    # --- admin handlers: each re-checks the session's login --------------------------

    def login(given: str) -> tuple[bool, str]:
        if admin.check_password(given or "", password):
            return True, S.ADMIN_LOGIN_OK
        return False, S.ADMIN_LOGIN_FAILED

    def upload(files: list[str] | None, session: Any) -> str:
        if not admin.is_logged_in(session, password):
            return S.ADMIN_NOT_LOGGED_IN
        if not files:
            return S.ADMIN_UPLOAD_NONE
        paths = [f if isinstance(f, str) else str(getattr(f, "name", f)) for f in files]
        return "\n".join(admin.save_uploads(paths, corpus_dir=settings.corpus_dir,
                                            max_file_mb=settings.max_file_mb))

    def run_reindex(progress: gr.Progress) -> str:
        from ingest.pipeline import Ingestor

        def report_progress(done: int, total: int, doc_id: str) -> None:
            progress((done, max(total, 1)), desc=f"{S.ADMIN_REINDEX_PROGRESS} {doc_id}")

        with reindex_lock:
            ingestor = Ingestor(settings, shared.embedder, data_dir)
            report = ingestor.run([settings.corpus_dir], prune=True,
                                  progress=report_progress)
            shared.reload()
        return admin.format_report(report)

    def reindex(session: Any, progress: gr.Progress = gr.Progress()) -> str:  # noqa: B008
        if not admin.is_logged_in(session, password):
            return S.ADMIN_NOT_LOGGED_IN
        try:
            return run_reindex(progress)
        except Exception as exc:
            return S.ADMIN_REINDEX_FAILED.format(error=exc)

    def documents(session: Any) -> tuple[Any, Any]:
        if not admin.is_logged_in(session, password):
            return [], gr.update(choices=[])
        index = data_dir.open_current()
        try:
            rows = admin.document_rows(index)
        finally:
            index.close()
        return rows, gr.update(choices=[row[0] for row in rows], value=None)

    def delete(doc_id: str | None, confirmed: bool, session: Any,
               progress: gr.Progress = gr.Progress()) -> str:  # noqa: B008
        if not admin.is_logged_in(session, password):
            return S.ADMIN_NOT_LOGGED_IN
        if not confirmed:
            return S.ADMIN_DELETE_UNCONFIRMED
        index = data_dir.open_current()
        try:
            states = index.file_states()
        finally:
            index.close()
        ok, message = admin.delete_document(doc_id or "", states=states,
                                            corpus_dir=settings.corpus_dir)
        if not ok:
            return message
        try:
            return message + "\n" + run_reindex(progress)
        except Exception as exc:
            return message + "\n" + S.ADMIN_REINDEX_FAILED.format(error=exc)

    def export(session: Any) -> tuple[str | None, str]:
        if not admin.is_logged_in(session, password):
            return None, S.ADMIN_NOT_LOGGED_IN
        return admin.export_feedback_file(feedback.export_csv()), ""

    with gr.Blocks(title=S.TITLE, analytics_enabled=False) as demo:
        gr.Markdown(S.HEADER)
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
            # one answer at a time per process: the Answerer is not known to be
            # thread-safe, and the extractive path answers in well under a second
            send.click(ask, [question, doc_type, chatbot, history], outputs,
                       api_visibility="private", concurrency_id="answer")
            question.submit(ask, [question, doc_type, chatbot, history], outputs,
                            api_visibility="private", concurrency_id="answer")
            reset.click(new_conversation, None, [*outputs, feedback_status],
                        api_visibility="private")
            thumbs_up.click(rate(1), [last, comment], [feedback_status, comment],
                            api_visibility="private")
            thumbs_down.click(rate(-1), [last, comment], [feedback_status, comment],
                              api_visibility="private")
            gr.api(frage, api_name="frage", concurrency_id="answer")

        with gr.Tab(S.TAB_ADMIN):
            session = gr.State(False)
            gr.Markdown(escape_markdown(llm_status(shared.get().answerer.llm, settings)),
                        elem_id="kora-llm-status")
            if password is None:
                gr.Markdown(S.ADMIN_DISABLED, elem_id="kora-admin-aus")
            else:
                with gr.Row():
                    password_box = gr.Textbox(label=S.ADMIN_PASSWORD, type="password",
                                              elem_id="kora-passwort")
                    login_button = gr.Button(S.ADMIN_LOGIN, elem_id="kora-anmelden")
                login_status = gr.Markdown("")
                login_button.click(login, [password_box], [session, login_status],
                                   api_visibility="private")
                gr.Markdown(f"### {S.ADMIN_UPLOAD}")
                files = gr.File(file_count="multiple", type="filepath",
                                label=S.ADMIN_UPLOAD, elem_id="kora-dateien")
                upload_button = gr.Button(S.ADMIN_UPLOAD_BUTTON, elem_id="kora-hochladen")
                upload_status = gr.Textbox(label=S.STATUS, interactive=False,
                                           elem_id="kora-upload-status")
                upload_button.click(upload, [files, session], [upload_status],
                                    api_name="hochladen")
                reindex_button = gr.Button(S.ADMIN_REINDEX, variant="primary",
                                           elem_id="kora-neu-indexieren")
                reindex_status = gr.Textbox(label=S.STATUS, interactive=False, lines=3,
                                            elem_id="kora-index-status")
                reindex_done = reindex_button.click(reindex, [session], [reindex_status],
                                                    api_visibility="private")
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
                refresh.click(documents, [session], [table, doc_choice],
                              api_visibility="private")
                login_status.change(documents, [session], [table, doc_choice],
                                    api_visibility="private")
                delete_button.click(
                    delete, [doc_choice, confirm, session], [delete_status],
                    api_visibility="private",
                ).then(documents, [session], [table, doc_choice], api_visibility="private")
                reindex_done.then(documents, [session], [table, doc_choice],
                                  api_visibility="private")
                export_button = gr.Button(S.ADMIN_EXPORT)
                export_file = gr.File(label=S.ADMIN_EXPORT_FILE, interactive=False)
                export_status = gr.Markdown("")
                export_button.click(export, [session], [export_file, export_status],
                                    api_visibility="private")
        demo.kora_handlers = {
            "upload": upload, "reindex": reindex, "delete": delete, "export": export,
            "documents": documents, "frage": frage,
        }
        demo.kora_feedback = feedback
        demo.kora_assistant = shared.get
        demo.kora_reload = shared.reload
    return demo


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Run the app until Ctrl-C."""
    import time

    demo = build_app(settings)
    assistant: Assistant = getattr(demo, "kora_assistant")()  # noqa: B009 (set in build_app)
    print(f"Antwortmodus: {assistant.llm_description}", flush=True)
    demo.launch(server_name=host, server_port=port, prevent_thread_lock=True, quiet=True,
                footer_links=[], **launch_options())
    print(f"KORA läuft auf http://{host}:{port}", flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()


__all__ = ["build_app", "escape_markdown", "launch_options", "render_answer",
           "render_sources", "serve"]
