"""The admin area's quality loop: "Qualität" (👎 feedback made into golden-local test
cases), "Fehlende Themen" (the topics of refused questions) and "Qualität im Verlauf"
(the `kora eval` history and the weekly share of 👍, drawn on the server).

Every action asks ``AdminActions.allowed`` first, answers a refusal with its German line,
and audits what it changed or exported. The chat's refused questions reach the store
through ``RefusalRecorder``, only with ``record_unanswered`` on.
"""

from __future__ import annotations

import base64
import contextlib
import html
from typing import cast

import gradio as gr

from evaluation import (
    HEADLINE_METRICS,
    HISTORY_FILE,
    Panel,
    line_charts_png,
    read_history,
)
from people import (
    CaseError,
    DatabaseUnavailableError,
    LocalGolden,
    UnansweredStore,
    parse_facts,
    topics_csv,
)
from rag.answering import Answer
from rag.jsontypes import JSONObject
from rag.settings import Settings
from ui import strings as S
from ui.admin_actions import AdminActions, database_down, export_for_download
from ui.browser import BrowserValue, MaybeRequest, PageUpdate, SessionToken

TOPICS_SHOWN = 20
HISTORY_ROWS = 10
ANSWER_SHOWN = 300


class RefusalRecorder:
    """Keeps a refused question when ``record_unanswered`` is on; otherwise nothing.
    A database that is down loses the record, never the answer."""

    def __init__(self, settings: Settings, store: UnansweredStore) -> None:
        self.settings = settings
        self.store = store

    def __call__(self, answer: Answer) -> None:
        if not self.settings.record_unanswered or not answer.refused:
            return
        # the question as it was searched: a follow-up ("und wann?") made standalone
        question = answer.standalone_question or answer.question
        with contextlib.suppress(DatabaseUnavailableError):
            self.store.add(question)


def _down_table() -> tuple[list[list[object]], PageUpdate, str]:
    return [], gr.skip(), S.DATABASE_DOWN


def _down_pair() -> tuple[str | None, str]:
    return None, S.DATABASE_DOWN


def _down_topics() -> tuple[list[list[object]], str]:
    return [], S.DATABASE_DOWN


def _down_line() -> str:
    return S.DATABASE_DOWN


class QualityActions:
    """The three sections' server side, over the admin area's checks and stores."""

    def __init__(self, actions: AdminActions, unanswered: UnansweredStore) -> None:
        self.actions = actions
        self.settings = actions.settings
        self.feedback = actions.feedback
        self.audit = actions.audit
        self.unanswered = unanswered
        self.golden = LocalGolden(self.settings.golden_local_path)

    # --- Qualität ------------------------------------------------------------------------

    @database_down(_down_table)
    def feedback_rows(self, token: SessionToken,
                      request: MaybeRequest) -> tuple[list[list[object]], PageUpdate, str]:
        """(table rows, the choice of entries, note) for the 👎 feedback, newest first."""
        principal, _ = self.actions.allowed(token, request)
        if principal is None:
            return [], gr.update(choices=[], value=None), ""
        entries = self.feedback.entries(rating=-1)
        rows = [[entry["id"], entry["created_at"], entry["question"],
                 _shortened(entry["answer"]), _sources(entry["sources"]), entry["comment"],
                 entry["case_id"] or ""] for entry in entries]
        choices = [(f"#{entry['id']} – {_shortened(entry['question'], 80)}", entry["id"])
                   for entry in entries]
        note = (S.QUALITY_COUNT.format(count=len(entries),
                                       cases=sum(bool(e["case_id"]) for e in entries))
                if entries else
                S.QUALITY_NONE.format(days=self.settings.feedback_retention_days))
        return rows, gr.update(choices=choices, value=None), note

    def document_choices(self, token: SessionToken, request: MaybeRequest) -> PageUpdate:
        principal, _ = self.actions.allowed(token, request)
        return gr.update(choices=self._documents() if principal else [], value=None)

    def _documents(self) -> list[str]:
        return sorted(self.actions.documents_admin.file_states())

    @database_down(_down_line)
    def accept(self, feedback_id: BrowserValue, facts_text: str, doc_id: str | None,
               out_of_scope: bool, token: SessionToken, request: MaybeRequest) -> str:
        principal, refusal = self.actions.allowed(token, request)
        if principal is None:
            return refusal
        try:
            # a dropdown's value: a number or its text, or None when nothing is picked
            entry = self.feedback.entry(int(cast("str | int", feedback_id)))
        except (TypeError, ValueError):
            return S.QUALITY_PICK
        if entry is None:
            return S.QUALITY_UNKNOWN
        facts = parse_facts([facts_text or ""])
        if out_of_scope and (facts or doc_id):
            return S.QUALITY_BOTH
        if not out_of_scope and not facts:
            return S.QUALITY_NO_FACTS
        if doc_id and doc_id not in self._documents():
            return S.QUALITY_UNKNOWN_DOCUMENT.format(doc_id=doc_id)
        path = self.settings.golden_local_path
        try:
            case = self.golden.accept(entry, facts=facts, doc=doc_id or None,
                                      out_of_scope=bool(out_of_scope),
                                      account=principal.account)
        except CaseError:
            return S.QUALITY_UNREADABLE.format(path=path)
        self.feedback.mark_case(entry["id"], case.id)
        self.audit.append(action="feedback-accept", account=principal.account,
                          client=principal.client,
                          documents=[{"doc_id": doc_id, "sha256": ""}] if doc_id else [],
                          detail={"feedback_id": entry["id"], "case_id": case.id,
                                  "out_of_scope": case.out_of_scope, "key_facts": len(facts),
                                  "replaced": case.replaced, "file": str(path)})
        if case.out_of_scope:
            what = S.QUALITY_WHAT_OUT_OF_SCOPE
        else:
            what = S.QUALITY_WHAT_FACTS.format(count=len(facts)) + (
                S.QUALITY_WHAT_DOCUMENT.format(doc_id=doc_id) if doc_id else "")
        line = S.QUALITY_REPLACED if case.replaced else S.QUALITY_ACCEPTED
        return line.format(case_id=case.id, path=path, what=what)

    # --- Fehlende Themen -----------------------------------------------------------------

    @database_down(_down_topics)
    def topic_rows(self, token: SessionToken,
                   request: MaybeRequest) -> tuple[list[list[object]], str]:
        principal, _ = self.actions.allowed(token, request)
        if principal is None:
            return [], ""
        days = self.settings.feedback_retention_days
        state = (S.TOPICS_ON if self.settings.record_unanswered else S.TOPICS_OFF).format(
            days=days)
        questions = self.unanswered.count()
        if not questions:
            return [], f"{state}\n\n{S.TOPICS_NONE}"
        topics = self.unanswered.topics(self.actions.embedder(), limit=TOPICS_SHOWN)
        rows = [[topic.count, topic.label, " · ".join(topic.examples()[1:]),
                 topic.last_asked] for topic in topics]
        return rows, f"{state}\n\n" + S.TOPICS_COUNT.format(questions=questions,
                                                          topics=len(topics))

    @database_down(_down_pair)
    def export_topics(self, token: SessionToken, request: MaybeRequest) -> tuple[str | None, str]:
        principal, refusal = self.actions.allowed(token, request)
        if principal is None:
            return None, refusal
        topics = (self.unanswered.topics(self.actions.embedder())
                  if self.unanswered.count() else [])
        self.audit.append(action="unanswered-export", account=principal.account,
                          client=principal.client,
                          detail={"topics": len(topics),
                                  "questions": sum(t.count for t in topics)})
        path = export_for_download(self.actions.export_dir, S.TOPICS_EXPORT_NAME,
                                   topics_csv(topics))
        return path, S.TOPICS_EXPORT_DONE.format(topics=len(topics))

    # --- Qualität im Verlauf -------------------------------------------------------------

    @database_down(_down_line)
    def history(self, token: SessionToken, request: MaybeRequest) -> str:
        """The charts as a PNG inside the page (a data: URI), and the latest runs."""
        principal, refusal = self.actions.allowed(token, request)
        if principal is None:
            return html.escape(refusal)
        runs = sorted(read_history(self.settings.data_dir), key=lambda run: str(run["time"]))
        weekly = self.feedback.weekly_helpful_share()
        png = line_charts_png(history_panels(runs, weekly))
        image = base64.b64encode(png).decode("ascii")
        note = S.HISTORY_NOTE.format(path=self.settings.data_dir / HISTORY_FILE)
        return (f'<p>{html.escape(note)}</p>'
                f'<img id="kora-verlauf-bild" alt="{html.escape(S.HISTORY_ALT)}" '
                f'style="max-width:100%" src="data:image/png;base64,{image}">'
                + _history_table(runs[-HISTORY_ROWS:]))


def history_panels(runs: list[JSONObject],
                   weekly: list[tuple[str, float, int]]) -> list[Panel]:
    """One panel per headline metric (a line per golden set) and one for the 👍 share."""
    ticks = {str(run["time"]): f"{str(run['time'])[5:10]}\nv{run.get('version', '?')}"
             for run in runs}
    panels = []
    for metric in HEADLINE_METRICS:
        series: dict[str, list[tuple[str, float]]] = {}
        for run in runs:
            value = run.get(metric)
            if isinstance(value, int | float):
                name = S.HISTORY_SETS.get(str(run["set"]), str(run["set"]))
                series.setdefault(name, []).append((str(run["time"]), float(value)))
        panels.append(Panel(S.HISTORY_PANELS[metric], series, ticks, S.HISTORY_EMPTY))
    helpful = {S.HISTORY_HELPFUL_SERIES: [(week, share) for week, share, _ in weekly]}
    panels.append(Panel(S.HISTORY_HELPFUL, helpful if weekly else {},
                        {week: week[2:] for week, _, _ in weekly}, S.HISTORY_NO_FEEDBACK))
    return panels


def _history_table(runs: list[JSONObject]) -> str:
    if not runs:
        return ""
    keys = ("time", "version", "set", "questions", "key_fact_recall", "hit@3",
            "refusal_recall", "cases_passed")
    head = "".join(f"<th>{html.escape(title)}</th>" for title in S.HISTORY_COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_shown(run.get(key)))}</td>" for key in keys)
        + "</tr>" for run in reversed(runs))
    return f'<table class="kora-verlauf-tabelle"><tr>{head}</tr>{body}</table>'


def _shown(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "–" if value is None else str(value)


def _shortened(text: str, limit: int = ANSWER_SHOWN) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sources(sources: list[JSONObject]) -> str:
    return "; ".join(f"[{s.get('n', '')}] {s.get('doc_id', '')}" for s in sources)




class QualityHandlers:
    """The sections' events in the shape Gradio calls them (``request`` optional, so
    tests can call them directly)."""

    def __init__(self, actions: QualityActions) -> None:
        self.actions = actions

    def feedback_rows(self, token: SessionToken,
                      request: gr.Request) -> tuple[PageUpdate, PageUpdate, str]:
        return self.actions.feedback_rows(token, request)

    def document_choices(self, token: SessionToken, request: gr.Request) -> PageUpdate:
        return self.actions.document_choices(token, request)

    def accept(self, feedback_id: BrowserValue, facts: str, doc_id: str | None,
               out_of_scope: bool,
               token: SessionToken, request: gr.Request) -> str:
        return self.actions.accept(feedback_id, facts, doc_id, out_of_scope, token, request)

    def topic_rows(self, token: SessionToken, request: gr.Request) -> tuple[PageUpdate, str]:
        return self.actions.topic_rows(token, request)

    def export_topics(self, token: SessionToken, request: gr.Request) -> tuple[str | None, str]:
        return self.actions.export_topics(token, request)

    def history(self, token: SessionToken, request: gr.Request) -> str:
        return self.actions.history(token, request)


def quality_sections(quality: QualityHandlers, session: gr.State,
                     login_status: gr.Markdown, settings: Settings) -> None:
    """Lay out and wire the three sections (inside the admin tab)."""
    hidden = "private"
    with gr.Column(elem_id="kora-qualitaet-bereich"):
        gr.Markdown(f"### {S.QUALITY_HEADING}")
        gr.Markdown(S.QUALITY_NOTE.format(path=settings.golden_local_path))
        load = gr.Button(S.QUALITY_REFRESH, elem_id="kora-qualitaet-laden")
        note = gr.Markdown("", elem_id="kora-qualitaet-hinweis")
        table = gr.Dataframe(headers=S.QUALITY_COLUMNS, interactive=False, wrap=True,
                             elem_id="kora-qualitaet")
        with gr.Row():
            choice = gr.Dropdown([], label=S.QUALITY_CHOICE, value=None,
                                 elem_id="kora-qualitaet-wahl")
            document = gr.Dropdown([], label=S.QUALITY_DOCUMENT, value=None,
                                   elem_id="kora-qualitaet-dokument")
        facts = gr.Textbox(label=S.QUALITY_FACTS, lines=2, elem_id="kora-qualitaet-fakten")
        out_of_scope = gr.Checkbox(label=S.QUALITY_OUT_OF_SCOPE, value=False,
                                   elem_id="kora-qualitaet-ausserhalb")
        accept = gr.Button(S.QUALITY_ACCEPT, variant="primary",
                           elem_id="kora-qualitaet-aufnehmen")
        status = gr.Markdown("", elem_id="kora-qualitaet-status")
    with gr.Column(elem_id="kora-themen-bereich"):
        gr.Markdown(f"### {S.TOPICS_HEADING}")
        topics_note = gr.Markdown("", elem_id="kora-themen-hinweis")
        topics_load = gr.Button(S.TOPICS_REFRESH, elem_id="kora-themen-laden")
        topics = gr.Dataframe(headers=S.TOPICS_COLUMNS, interactive=False, wrap=True,
                              elem_id="kora-themen")
        topics_export = gr.Button(S.TOPICS_EXPORT, elem_id="kora-themen-export")
        topics_file = gr.File(label=S.ADMIN_EXPORT_FILE, interactive=False,
                              elem_id="kora-themen-datei")
        topics_status = gr.Markdown("", elem_id="kora-themen-status")
    with gr.Column(elem_id="kora-verlauf-bereich"):
        gr.Markdown(f"### {S.HISTORY_HEADING}")
        history_load = gr.Button(S.HISTORY_REFRESH, elem_id="kora-verlauf-laden")
        history = gr.HTML("", elem_id="kora-verlauf")

    rows, documents = quality.feedback_rows, quality.document_choices
    for event in (load.click, login_status.change):
        event(rows, [session], [table, choice, note], api_visibility=hidden)
        event(documents, [session], [document], api_visibility=hidden)
    accept.click(quality.accept, [choice, facts, document, out_of_scope, session], [status],
                 api_visibility=hidden).then(rows, [session], [table, choice, note],
                                             api_visibility=hidden)
    topic_rows = quality.topic_rows
    topics_load.click(topic_rows, [session], [topics, topics_note], api_visibility=hidden)
    topics_export.click(quality.export_topics, [session], [topics_file, topics_status],
                        api_visibility=hidden)
    history_load.click(quality.history, [session], [history], api_visibility=hidden)


__all__ = ["QualityActions", "QualityHandlers", "RefusalRecorder", "history_panels",
           "quality_sections"]
