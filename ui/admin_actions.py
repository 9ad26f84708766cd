"""What the admin area's buttons do, each one checked and audited on the server.

Every method takes the browser session's token and the Gradio request, asks the
``Gate`` who is calling, refuses with one German line when nobody suitable is, has the
work done (documents: ``people.DocumentAdmin``, which audits each step; exports here,
audited here) and renders its result.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import gradio as gr

from people import (
    ENV_ACCOUNT,
    AuditLog,
    DatabaseUnavailableError,
    DocumentAdmin,
    FeedbackStore,
    Gate,
    Principal,
    entries_csv,
    entry_row,
)
from rag.providers.vectorstore import DataDir
from rag.settings import Settings
from ui import admin
from ui import strings as S
from ui.browser import MaybeRequest, PageUpdate, SessionToken
from ui.failures import failure_line
from ui.progress import web_progress

if TYPE_CHECKING:
    from ingest import ProgressCallback
    from rag.providers.embedding import Embedder

Result = TypeVar("Result")
Params = ParamSpec("Params")

AUDIT_SHOWN = 50
# Gradio copies a returned file into its own cache (cleaned hourly) at once; KORA's copy
# of an export (feedback holds questions) need not outlive that by much
EXPORT_KEEP_SECONDS = 300
REFUSALS = {
    "refused-header": S.AUTH_HEADER_REFUSED,
    "expired": S.ADMIN_SESSION_EXPIRED,
    "not-admin": S.ADMIN_NOT_ADMIN,
    "not-logged-in": S.ADMIN_NOT_LOGGED_IN,
}


def database_down(when_down: Callable[[], Result]) -> Callable[
        [Callable[Params, Result]], Callable[Params, Result]]:
    """A database that is down becomes the German line (in the shape the event returns):
    each action is one transaction, so nothing of it was written, and the next click
    tries again."""

    def wrap(action: Callable[Params, Result]) -> Callable[Params, Result]:
        @functools.wraps(action)
        def guarded(*args: Params.args, **kwargs: Params.kwargs) -> Result:
            try:
                return action(*args, **kwargs)
            except DatabaseUnavailableError:
                return when_down()

        return guarded

    return wrap


def _down_line() -> str:
    return S.DATABASE_DOWN


def _down_pair() -> tuple[str | None, str]:
    return None, S.DATABASE_DOWN


def _down_rows() -> tuple[list[list[str]], str]:
    return [], S.DATABASE_DOWN


def _down_documents() -> tuple[PageUpdate, PageUpdate]:
    return [], gr.update(choices=[], value=None)


class AdminActions:
    def __init__(self, *, settings: Settings, data_dir: DataDir, gate: Gate, audit: AuditLog,
                 feedback: FeedbackStore, reload: Callable[[], None],
                 embedder: Callable[[], Embedder],
                 export_dir: Path) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.gate = gate
        self.audit = audit
        self.feedback = feedback
        self.reload = reload
        self.embedder = embedder
        self.export_dir = export_dir
        self.documents_admin = DocumentAdmin(settings=settings, data_dir=data_dir, audit=audit,
                                             reload=reload, embedder=embedder)

    def allowed(self, token: SessionToken, request: MaybeRequest) -> tuple[Principal | None, str]:
        principal, why = self.gate.principal(token, request, role="admin")
        return principal, "" if principal else REFUSALS[why]

    # --- login and logout ---------------------------------------------------------------

    @database_down(_down_pair)
    def login(self, name: str, password: str, request: MaybeRequest) -> tuple[str | None, str]:
        result = self.gate.login(name, password, request)
        if result.refused_header:
            return None, S.AUTH_HEADER_REFUSED
        if result.ok:
            if result.account == ENV_ACCOUNT:
                return result.token, S.ADMIN_LOGIN_OK_ENV
            return result.token, S.ADMIN_LOGIN_OK.format(account=result.account)
        if result.wait_seconds > 0:
            return None, S.ADMIN_LOGIN_THROTTLED.format(seconds=math.ceil(result.wait_seconds))
        return None, S.ADMIN_LOGIN_FAILED

    @database_down(_down_pair)
    def logout(self, token: SessionToken, request: MaybeRequest) -> tuple[None, str]:
        self.gate.logout(token, request)
        return None, S.ADMIN_LOGGED_OUT

    def greeting(self, token: SessionToken, request: MaybeRequest) -> str:
        """The login line on page load: users vouched for by the proxy are in already."""
        caller = self.gate.proxy.caller(request)
        if caller.refused:
            return S.AUTH_HEADER_REFUSED
        if caller.proxy_user:
            return S.ADMIN_LOGIN_PROXY.format(account=caller.proxy_user)
        return ""

    # --- documents ----------------------------------------------------------------------

    @database_down(_down_line)
    def upload(self, files: list[str] | None, token: SessionToken, request: MaybeRequest) -> str:
        principal, refusal = self.allowed(token, request)
        if principal is None:
            return refusal
        if not files:
            return S.ADMIN_UPLOAD_NONE
        paths = [f if isinstance(f, str) else str(getattr(f, "name", f)) for f in files]
        return "\n".join(admin.upload_message(outcome)
                         for outcome in self.documents_admin.upload(paths, principal))

    @database_down(_down_line)
    def declare_replacement(self, files: list[str] | None, replaces: str | None,
                            status: str, token: SessionToken, request: MaybeRequest) -> str:
        """After an upload: record that the uploaded file replaces ``replaces`` (the
        "ersetzt Dokument …" choice); effective with the next re-index."""
        principal, refusal = self.allowed(token, request)
        if principal is None or not replaces:
            return status if principal is not None else refusal
        if not files or len(files) != 1:
            return "\n".join(part for part in (status, S.ADMIN_REPLACES_ONE_FILE) if part)
        given = files[0] if isinstance(files[0], str) else str(getattr(files[0], "name", ""))
        name = self.documents_admin.declare_replacement(Path(given).name, replaces, principal)
        if name is None:
            return status  # refused by the upload already, with its reason
        return "\n".join(part for part in (
            status, S.ADMIN_REPLACES_DONE.format(name=name, doc_id=replaces)) if part)

    @database_down(_down_line)
    def preview(self, token: SessionToken, request: MaybeRequest, *, full: bool = False) -> str:
        """What "Neu indexieren" would do now, without changing anything (the dry run)."""
        principal, refusal = self.allowed(token, request)
        if principal is None:
            return refusal
        try:
            plan = self.documents_admin.preview(full=full)
        except Exception as exc:
            return failure_line(S.ADMIN_REINDEX_FAILED, exc)
        return admin.format_preview(plan)

    @database_down(_down_line)
    def reindex(self, token: SessionToken, request: MaybeRequest,
                progress: gr.Progress | None = None, *,
                full: bool = False, confirmed: bool = True) -> str:
        """Index the corpus folder (``DocumentAdmin.reindex``): the changes only, or with
        ``full`` a new index; a large removal only ``confirmed``."""
        principal, refusal = self.allowed(token, request)
        if principal is None:
            return refusal
        outcome = self.documents_admin.reindex(principal, _progress(progress), full=full,
                                               confirmed=confirmed)
        return admin.reindex_message(outcome, removal_limit=self.settings.max_removal_share)

    @database_down(_down_documents)
    def documents(self, token: SessionToken,
                  request: MaybeRequest) -> tuple[PageUpdate, PageUpdate]:
        principal, _ = self.allowed(token, request)
        rows = self.documents_admin.documents() if principal is not None else []
        return rows, gr.update(choices=[row[0] for row in rows], value=None)

    @database_down(_down_line)
    def delete(self, doc_id: str | None, confirmed: bool, token: SessionToken,
               request: MaybeRequest, progress: gr.Progress | None = None) -> str:
        principal, refusal = self.allowed(token, request)
        if principal is None:
            return refusal
        if not confirmed:
            return S.ADMIN_DELETE_UNCONFIRMED
        outcome = self.documents_admin.delete(doc_id or "", principal, _progress(progress))
        if outcome.reindex is None:
            return admin.delete_message(outcome)
        return admin.delete_message(outcome) + "\n" + admin.reindex_message(
            outcome.reindex, removal_limit=self.settings.max_removal_share)

    # --- exports and the audit view -----------------------------------------------------

    @database_down(_down_pair)
    def export_feedback(self, token: SessionToken, request: MaybeRequest) -> tuple[str | None, str]:
        principal, refusal = self.allowed(token, request)
        if principal is None:
            return None, refusal
        text, rows = self.feedback.export_csv()
        self.audit.append(action="feedback-export", account=principal.account,
                          client=principal.client, detail={"rows": rows})
        path = export_for_download(self.export_dir, S.FEEDBACK_EXPORT_NAME, text)
        return path, S.ADMIN_EXPORT_DONE.format(rows=rows,
                                                days=self.settings.feedback_retention_days)

    @database_down(_down_rows)
    def audit_rows(self, token: SessionToken, request: MaybeRequest) -> tuple[list[list[str]], str]:
        principal, _ = self.allowed(token, request)
        if principal is None:
            return [], ""
        rows = [list(entry_row(entry).values())
                for entry in reversed(self.audit.entries(limit=AUDIT_SHOWN))]
        check = self.audit.verify()
        note = S.AUDIT_NOTE.format(count=len(rows))
        if not check.intact:
            note += "\n\n" + S.AUDIT_BROKEN.format(line=check.first_broken_line)
        return rows, note

    @database_down(_down_pair)
    def export_audit(self, token: SessionToken, request: MaybeRequest) -> tuple[str | None, str]:
        principal, refusal = self.allowed(token, request)
        if principal is None:
            return None, refusal
        entries = self.audit.entries()
        self.audit.append(action="audit-export", account=principal.account,
                          client=principal.client, detail={"entries": len(entries)})
        path = export_for_download(self.export_dir, S.AUDIT_EXPORT_NAME, entries_csv(entries))
        return path, ""


def _progress(progress: gr.Progress | None) -> ProgressCallback | None:
    """Gradio's progress display as the ingest's callback; None without one."""
    return None if progress is None else web_progress(progress)


def export_for_download(folder: Path, name: str, text: str) -> str:
    """An export written for Gradio to hand out; KORA's copy goes once Gradio has taken
    its own (after EXPORT_KEEP_SECONDS)."""
    path = admin.export_file(folder, name, text)
    timer = threading.Timer(EXPORT_KEEP_SECONDS, Path(path).unlink, kwargs={"missing_ok": True})
    timer.daemon = True
    timer.start()
    return path
