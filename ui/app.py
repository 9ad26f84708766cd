"""The Gradio web app: a cited-answer chat for staff and an admin area.

One Assistant (embedding model, index, LLM) per process, shared read-only by every
session; each browser session keeps its own conversation in ``gr.State``. This module
lays out the page and wires it: what the events do is in ``ui/handlers.py``, what the
page shows in ``ui/render.py``, and the Assistant that follows the live index in
``ui/shared_assistant.py``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TypedDict

import gradio as gr

from people import DatabaseUnavailableError, FeedbackStore, Gate, People, env_password
from rag.providers.vectorstore import DataDir
from rag.settings import Settings
from ui import strings as S
from ui.admin_actions import AdminActions
from ui.answer_slots import AnswerSlots
from ui.api import ApiSettings, OpenAIApi
from ui.handlers import AdminHandlers, ChatHandlers
from ui.quality import QualityActions, QualityHandlers, RefusalRecorder, quality_sections
from ui.render import escape_markdown, index_banner, llm_status, render_sources
from ui.shared_assistant import AssistantFactory, SharedAssistant, open_assistant

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


class LaunchOptions(TypedDict):
    """What Gradio 6 takes at launch for the look of the app."""

    theme: gr.themes.Base
    css: str
    js: str


def launch_options() -> LaunchOptions:
    """The look of the app (Gradio 6 takes these at launch): local fonts only."""
    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["monospace"])
    return {"theme": theme, "css": CSS, "js": CITATION_JS}


@dataclass(eq=False, kw_only=True)
class KoraApp:
    """What ``build_app`` returns: the page and the objects behind it.

    ``blocks`` is the Gradio page (``launch`` serves it, ``close`` stops it); ``chat`` and
    ``admin`` hold every handler wired into it, for tests and benchmarks to call directly;
    ``shared`` is the Assistant the questions use; ``api`` the OpenAI-compatible HTTP API
    that ``launch`` serves beside the page.
    """

    blocks: gr.Blocks
    settings: Settings
    shared: SharedAssistant
    chat: ChatHandlers
    admin: AdminHandlers
    feedback: FeedbackStore
    gate: Gate
    api: OpenAIApi
    quality: QualityHandlers | None = None  # the admin area's quality loop

    def close(self) -> None:
        """Stop the web server; the Assistant and the stores stay open."""
        self.blocks.close()


def build_app(settings: Settings, *,
              assistant_factory: AssistantFactory = open_assistant,
              clock: Callable[[], float] = time.time,
              api_settings: ApiSettings | None = None) -> KoraApp:
    """The whole app. Opens the Assistant once (slow: loads the model and the index).
    ``clock`` drives login throttling and session expiry (tests pass their own);
    ``api_settings`` default to the ``KORA_API_*`` variables."""
    api_settings = api_settings or ApiSettings()
    # the chat reads the index while the admin area may replace it: keep a replaced
    # generation until the chat's last question on it is answered
    data_dir = DataDir(settings, serving=True)
    slots = AnswerSlots(settings.answer_concurrency, max_waiting=api_settings.queue_size)
    shared = SharedAssistant(settings, data_dir, assistant_factory, answer_slots=slots)
    # people's data: nothing is connected yet, the chat needs none of it
    people = People.open(settings)
    feedback, audit = people.feedback, people.audit
    gate = Gate(settings, people.accounts, audit, clock=clock)
    export_dir = Path(tempfile.mkdtemp(prefix="kora-export-"))
    atexit.register(shutil.rmtree, export_dir, True)
    actions = AdminActions(settings=settings, data_dir=data_dir, gate=gate, audit=audit,
                           feedback=feedback, reload=shared.reload,
                           embedder=lambda: shared.embedder, export_dir=export_dir)
    # refused questions are kept only with record_unanswered on ("Fehlende Themen")
    recorder = RefusalRecorder(settings, people.unanswered)
    chat = ChatHandlers(settings=settings, shared=shared, gate=gate, feedback=feedback,
                        record_refused=recorder)
    admin = AdminHandlers(actions)
    quality = QualityHandlers(QualityActions(actions, people.unanswered))
    api = OpenAIApi(settings=settings, api_settings=api_settings, shared=shared, slots=slots,
                    keys=people.api_keys, audit=audit, throttle=gate.throttle,
                    record_refused=recorder)

    with gr.Blocks(title=S.TITLE, analytics_enabled=False,
                   delete_cache=(3600, 3600)) as blocks:
        session = gr.State(None)  # an opaque token; the session itself lives in ``gate``
        gr.Markdown(S.HEADER)
        notice = gr.Markdown("", elem_id="kora-hinweis")
        blocks.load(lambda: index_banner(shared.problem), None, [notice],
                    api_visibility="private")
        admin_enabled = _admin_enabled(gate)
        login_status = (_login_panel(admin, session, enabled=admin_enabled)
                        if settings.chat_requires_login else None)
        with gr.Tab(S.TAB_CHAT):
            _chat_tab(chat, session, limit=settings.answer_concurrency)
        with gr.Tab(S.TAB_ADMIN):
            gr.Markdown(escape_markdown(llm_status(shared.llm, settings)),
                        elem_id="kora-llm-status")
            if login_status is None:
                login_status = _login_panel(admin, session, enabled=admin_enabled)
            _admin_tab(admin, session, login_status)
            quality_sections(quality, session, login_status, settings)
            blocks.load(admin.greeting, [session], [login_status], api_visibility="private")
    return KoraApp(blocks=blocks, settings=settings, shared=shared, chat=chat, admin=admin,
                   feedback=feedback, gate=gate, api=api, quality=quality)


def _admin_enabled(gate: Gate) -> bool:
    """Whether to say that the admin area is off; with the database down at start, the
    login stays on offer (it says what is wrong when used)."""
    try:
        return gate.enabled
    except DatabaseUnavailableError:
        return True


# Gradio queues the events of one function together (limit 1 unless told otherwise),
# keyed by the function object; each access to a bound method makes a new one, so a
# handler wired to several events is taken once and that one object wired everywhere.

def _login_panel(admin: AdminHandlers, session: gr.State, *, enabled: bool) -> gr.Markdown:
    gr.Markdown(S.LOGIN_HEADING)
    if not enabled:
        gr.Markdown(S.ADMIN_DISABLED, elem_id="kora-admin-aus")
    with gr.Row():
        account = gr.Textbox(label=S.ADMIN_ACCOUNT, placeholder=S.ADMIN_ACCOUNT_PLACEHOLDER,
                             elem_id="kora-konto", max_lines=1)
        password = gr.Textbox(label=S.ADMIN_PASSWORD, type="password",
                              elem_id="kora-passwort", max_lines=1)
        login_button = gr.Button(S.ADMIN_LOGIN, elem_id="kora-anmelden")
        logout_button = gr.Button(S.ADMIN_LOGOUT, elem_id="kora-abmelden", size="sm")
    status = gr.Markdown("", elem_id="kora-anmeldestatus")
    login = admin.login
    login_button.click(login, [account, password], [session, status, password],
                       api_visibility="private")
    password.submit(login, [account, password], [session, status, password],
                    api_visibility="private")
    logout_button.click(admin.logout, [session], [session, status], api_visibility="private")
    return status


def _chat_tab(chat: ChatHandlers, session: gr.State, *, limit: int) -> None:
    history = gr.State([])
    last = gr.State(None)
    with gr.Row():
        with gr.Column(scale=3):
            badge = gr.HTML(chat.idle_badge(), elem_id="kora-badge")
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
            comment = gr.Textbox(label=S.FEEDBACK_COMMENT, lines=1, elem_id="kora-kommentar")
            feedback_status = gr.Markdown("", elem_id="kora-rueckmeldung")
        with gr.Column(scale=2):
            sources = gr.HTML(render_sources(None), elem_id="kora-quellen")
    outputs = [chatbot, sources, badge, history, last, question]
    inputs = [question, doc_type, chatbot, history, session]
    # the answering stack is safe across threads (rag/answering/assistant.py): up to
    # answer_concurrency questions at once per worker, chat and API together (one
    # concurrency_id); LLM generation is bounded apart (llm_concurrency)
    send.click(chat.ask, inputs, outputs, api_visibility="private",
               concurrency_id="answer", concurrency_limit=limit)
    question.submit(chat.ask, inputs, outputs, api_visibility="private",
                    concurrency_id="answer", concurrency_limit=limit)
    reset.click(chat.new_conversation, None, [*outputs, feedback_status],
                api_visibility="private")
    thumbs_up.click(chat.rate_up, [last, comment, session], [feedback_status, comment],
                    api_visibility="private")
    thumbs_down.click(chat.rate_down, [last, comment, session], [feedback_status, comment],
                      api_visibility="private")
    gr.api(chat.frage, api_name="frage", concurrency_id="answer", concurrency_limit=limit)


def _admin_tab(admin: AdminHandlers, session: gr.State, login_status: gr.Markdown) -> None:
    gr.Markdown(f"### {S.ADMIN_UPLOAD}")
    files = gr.File(file_count="multiple", type="filepath",
                    label=S.ADMIN_UPLOAD, elem_id="kora-dateien")
    replaces = gr.Dropdown([], label=S.ADMIN_REPLACES, value=None, elem_id="kora-ersetzt")
    upload_button = gr.Button(S.ADMIN_UPLOAD_BUTTON, elem_id="kora-hochladen")
    upload_status = gr.Textbox(label=S.STATUS, interactive=False,
                               elem_id="kora-upload-status")
    upload_button.click(admin.upload, [files, session], [upload_status], api_name="hochladen",
                        ).then(admin.declare_replacement,
                               [files, replaces, upload_status, session], [upload_status],
                               api_visibility="private")
    with gr.Row():
        reindex_button = gr.Button(S.ADMIN_REINDEX, variant="primary",
                                   elem_id="kora-neu-indexieren")
        preview_button = gr.Button(S.ADMIN_PREVIEW, elem_id="kora-vorschau")
    reindex_status = gr.Textbox(label=S.STATUS, interactive=False, lines=3,
                                elem_id="kora-index-status")
    reindex_full = gr.Checkbox(label=S.ADMIN_REINDEX_FULL, value=False,
                               elem_id="kora-neu-aufbauen")
    reindex_confirm = gr.Checkbox(label=S.ADMIN_LARGE_REMOVAL_CONFIRM, value=False,
                                  elem_id="kora-entfernen-bestaetigen")
    reindex_done = reindex_button.click(admin.reindex_confirmed,
                                        [reindex_full, reindex_confirm, session],
                                        [reindex_status], api_visibility="private")
    preview_button.click(admin.preview, [reindex_full, session], [reindex_status],
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
    export_button = gr.Button(S.ADMIN_EXPORT)
    export_file = gr.File(label=S.ADMIN_EXPORT_FILE, interactive=False,
                          elem_id="kora-export-datei")
    export_status = gr.Markdown("", elem_id="kora-export-status")
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
    documents, audit_rows = admin.documents, admin.audit_rows
    refresh.click(documents, [session], [table, doc_choice], api_visibility=hidden)
    for event in (refresh.click, login_status.change, reindex_done.then):
        event(admin.replace_choices, [session], [replaces], api_visibility=hidden)
    login_status.change(documents, [session], [table, doc_choice], api_visibility=hidden)
    login_status.change(audit_rows, [session], [audit_table, audit_note],
                        api_visibility=hidden)
    delete_button.click(
        admin.delete, [doc_choice, confirm, session], [delete_status], api_visibility=hidden,
    ).then(documents, [session], [table, doc_choice], api_visibility=hidden)
    reindex_done.then(documents, [session], [table, doc_choice], api_visibility=hidden)
    reindex_done.then(audit_rows, [session], [audit_table, audit_note], api_visibility=hidden)
    export_button.click(admin.export, [session], [export_file, export_status],
                        api_visibility=hidden)
    audit_refresh.click(audit_rows, [session], [audit_table, audit_note],
                        api_visibility=hidden)
    audit_export.click(admin.export_audit, [session], [audit_file, audit_status],
                       api_visibility=hidden)


def launch(app: KoraApp, settings: Settings, *, host: str, port: int) -> None:
    """Start the server without blocking (``app.close()`` stops it). The API's routes go
    into Gradio's FastAPI app ahead of Gradio's own: one server, one port."""
    # uvicorn would otherwise rewrite the client address from X-Forwarded-For whenever
    # the peer is 127.0.0.1, so a local process could pose as any address and the real
    # peer (needed to decide whether to trust the proxy's user header) would be lost.
    # KORA reads X-Forwarded-For itself, from settings.trusted_proxies only.
    os.environ["FORWARDED_ALLOW_IPS"] = "kora-reads-x-forwarded-for-itself"
    app.blocks.launch(server_name=host, server_port=port, prevent_thread_lock=True,
                      quiet=True, footer_links=[], app_kwargs={"routes": app.api.routes()},
                      max_file_size=int(settings.max_file_mb * 1_000_000), **launch_options())


def start_checks(settings: Settings) -> list[str]:
    """At `kora serve` start: say where people's data lives, purge feedback past its
    retention (audited), and say how the admin area is reached. Returns the console
    lines. A database that is down is one line: the worker starts and answers anyway."""
    people = People.open(settings)
    lines = [S.CONSOLE_PEOPLE_DATA.format(location=people.database.location)]
    try:
        lines += _people_checks(settings, people)
    except DatabaseUnavailableError as exc:
        lines.append(S.CONSOLE_DATABASE_DOWN.format(error=str(exc).splitlines()[0]))
    finally:
        people.close()
    return lines


def _people_checks(settings: Settings, people: People) -> list[str]:
    days = settings.feedback_retention_days
    removed = people.feedback.purge(older_than_days=days)
    unanswered = people.unanswered.purge(older_than_days=days)
    lines = [S.CONSOLE_PURGED.format(days=days, count=removed)]
    if unanswered:
        lines.append(S.CONSOLE_PURGED_UNANSWERED.format(days=days, count=unanswered))
    if removed or unanswered:
        people.audit.append(
            action="feedback-purge", account="system", client="local",
            detail={"older_than_days": days, "removed": removed,
                    "unanswered_removed": unanswered, "trigger": "serve-start"})
    named = len(people.accounts.accounts())
    env_set = env_password() is not None
    if named:
        lines.append(S.CONSOLE_ADMIN_ACCOUNTS.format(count=named))
        if env_set:
            lines.append(S.CONSOLE_ADMIN_ENV_IGNORED)
    elif env_set:
        lines.append(S.CONSOLE_ADMIN_ENV)
    elif not settings.trusted_user_header:
        lines.append(S.CONSOLE_ADMIN_OFF)
    lines.append(api_console_line(people, ApiSettings()))
    return lines


def api_console_line(people: People, api_settings: ApiSettings) -> str:
    """How the API is reached: with keys (how many are active), or open (a warning)."""
    if api_settings.open:
        return S.CONSOLE_API_OPEN
    active = sum(key.state() == "active" for key in people.api_keys.entries())
    return S.CONSOLE_API_KEYS.format(count=active)


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Run the app until Ctrl-C or SIGTERM."""
    for line in start_checks(settings):
        print(line, flush=True)
    app = build_app(settings)
    if app.shared.problem is None:
        print(f"Antwortmodus: {app.shared.get().llm_description}", flush=True)
    # systemd (and `kill`) stop the server with SIGTERM, which would end the process on
    # the spot: the exports (feedback, audit: people's data) would stay in the temporary
    # folder and in Gradio's cache. Stop as on Ctrl-C instead, so both are removed.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        launch(app, settings, host=host, port=port)
        print(S.CONSOLE_RUNNING.format(host=host, port=port), flush=True)
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        app.close()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


__all__ = ["KoraApp", "api_console_line", "build_app", "launch", "launch_options", "serve",
           "start_checks"]
