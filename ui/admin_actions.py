"""What the admin area's buttons do, each one checked and audited on the server.

Every method takes the browser session's token and the Gradio request, asks the
``Gate`` who is calling, refuses with one German line when nobody suitable is, and
writes what it did to the audit log.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr

from people import (
    ENV_ACCOUNT,
    AuditLog,
    DatabaseUnavailableError,
    FeedbackStore,
    Gate,
    Principal,
    document_ref,
    entries_csv,
    entry_row,
)
from rag.errors import KoraError
from rag.providers.vectorstore import DataDir
from rag.settings import Settings
from ui import admin
from ui import strings as S
from ui.failures import failure_line
from ui.progress import web_progress

Result = TypeVar("Result")

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
        [Callable[..., Result]], Callable[..., Result]]:
    """A database that is down becomes the German line (in the shape the event returns):
    each action is one transaction, so nothing of it was written, and the next click
    tries again."""

    def wrap(action: Callable[..., Result]) -> Callable[..., Result]:
        @functools.wraps(action)
        def guarded(*args: Any, **kwargs: Any) -> Result:
            try:
                return action(*args, **kwargs)
            except DatabaseUnavailableError:
                return when_down()

        return guarded

    return wrap


def _down_line() -> str:
    return S.DATABASE_DOWN


def _down_pair() -> tuple[Any, str]:
    return None, S.DATABASE_DOWN


def _down_rows() -> tuple[list[list[str]], str]:
    return [], S.DATABASE_DOWN


class AdminActions:
    def __init__(self, *, settings: Settings, data_dir: DataDir, gate: Gate, audit: AuditLog,
                 feedback: FeedbackStore, reload: Callable[[], None], embedder: Callable[[], Any],
                 export_dir: Path) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.gate = gate
        self.audit = audit
        self.feedback = feedback
        self.reload = reload
        self.embedder = embedder
        self.export_dir = export_dir
        self._reindex_lock = threading.Lock()

    def allowed(self, token: Any, request: Any) -> tuple[Principal | None, str]:
        principal, why = self.gate.principal(token, request, role="admin")
        return principal, "" if principal else REFUSALS[why]

    # --- login and logout ---------------------------------------------------------------

    @database_down(_down_pair)
    def login(self, name: str, password: str, request: Any) -> tuple[str | None, str]:
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
    def logout(self, token: Any, request: Any) -> tuple[None, str]:
        self.gate.logout(token, request)
        return None, S.ADMIN_LOGGED_OUT

    def greeting(self, token: Any, request: Any) -> str:
        """The login line on page load: users vouched for by the proxy are in already."""
        caller = self.gate.proxy.caller(request)
        if caller.refused:
            return S.AUTH_HEADER_REFUSED
        if caller.proxy_user:
            return S.ADMIN_LOGIN_PROXY.format(account=caller.proxy_user)
        return ""

    # --- documents ----------------------------------------------------------------------

    @database_down(_down_line)
    def upload(self, files: list[Any] | None, token: Any, request: Any) -> str:
        principal, refusal = self.allowed(token, request)
        if principal is None:
            return refusal
        if not files:
            return S.ADMIN_UPLOAD_NONE
        paths = [f if isinstance(f, str) else str(getattr(f, "name", f)) for f in files]
        outcomes = admin.save_uploads(paths, corpus_dir=self.settings.corpus_dir,
                                      max_file_mb=self.settings.max_file_mb)
        for path, outcome in zip(paths, outcomes, strict=True):
            stored = outcome.doc_id is not None
            self.audit.append(
                action="upload", account=principal.account, client=principal.client,
                outcome="ok" if stored else "refused",
                documents=[document_ref(outcome.doc_id, outcome.sha256)]
                if outcome.doc_id is not None else [],
                detail={"file": admin.shown_name(Path(path).name),
                        **({} if stored else {"reason": outcome.message})})
        return "\n".join(outcome.message for outcome in outcomes)

    @database_down(_down_line)
    def declare_replacement(self, files: list[Any] | None, replaces: str | None,
                            status: str, token: Any, request: Any) -> str:
        """After an upload: record that the uploaded file replaces ``replaces`` (the
        "ersetzt Dokument …" choice); effective with the next re-index."""
        from ingest import declare_replacement

        principal, refusal = self.allowed(token, request)
        if principal is None or not replaces:
            return status if principal is not None else refusal
        if not files or len(files) != 1:
            return "\n".join(part for part in (status, S.ADMIN_REPLACES_ONE_FILE) if part)
        given = files[0] if isinstance(files[0], str) else str(getattr(files[0], "name", ""))
        try:
            name = admin.safe_file_name(Path(given).name)
        except admin.UnsafeNameError:
            return status  # refused by the upload already, with its reason
        folder = self.settings.corpus_dir / admin.UPLOAD_FOLDER
        if not (folder / name).is_file():
            return status
        declare_replacement(folder, name, replaces)
        doc_id = f"{admin.UPLOAD_FOLDER}/{name}"
        self.audit.append(action="replace-declared", account=principal.account,
                          client=principal.client,
                          documents=[document_ref(doc_id, admin.file_sha256(folder / name))],
                          detail={"replaces": replaces})
        return "\n".join(part for part in (
            status, S.ADMIN_REPLACES_DONE.format(name=admin.shown_name(name), doc_id=replaces))
            if part)

    @database_down(_down_line)
    def preview(self, token: Any, request: Any, *, full: bool = False) -> str:
        """What "Neu indexieren" would do now, without changing anything (the dry run)."""
        from ingest import plan_ingest

        principal, refusal = self.allowed(token, request)
        if principal is None:
            return refusal
        try:
            plan = plan_ingest(self.settings, self.data_dir, [self.settings.corpus_dir],
                               rebuild=full, prune=not full)
        except Exception as exc:
            return failure_line(S.ADMIN_REINDEX_FAILED, exc)
        return admin.format_preview(plan)

    @database_down(_down_line)
    def reindex(self, token: Any, request: Any, progress: Any = None, *,
                full: bool = False, confirmed: bool = True) -> str:
        """Index the corpus folder: the changes only, or with ``full`` a new index built
        beside the live one that replaces it when complete. Without ``confirmed``, a run
        that would remove more than ``max_removal_share`` of the documents is refused."""
        principal, refusal = self.allowed(token, request)
        if principal is None:
            return refusal
        return self._reindex(principal, progress, full=full, confirmed=confirmed)

    def _large_removal(self) -> tuple[int, int] | None:
        """(removing, indexed) when a pruning run would be a large removal, else None."""
        from ingest import needs_confirmation, removal_check

        removing, indexed = removal_check(self.settings, self.data_dir,
                                          [self.settings.corpus_dir])
        return (removing, indexed) if needs_confirmation(self.settings, removing,
                                                         indexed) else None

    def _reindex(self, principal: Principal, progress: Any, *, full: bool = False,
                 confirmed: bool = True) -> str:
        from ingest import Ingestor

        large = None if full else self._large_removal()
        if large is not None and not confirmed:
            removing, indexed = large
            self.audit.append(action="reindex", account=principal.account,
                              client=principal.client, outcome="refused",
                              detail={"reason": "large-removal", "removing": removing,
                                      "indexed": indexed})
            return S.ADMIN_LARGE_REMOVAL.format(
                removing=removing, indexed=indexed, share=removing / indexed,
                limit=self.settings.max_removal_share, confirm=S.ADMIN_LARGE_REMOVAL_CONFIRM)

        report_progress = None if progress is None else web_progress(progress)

        try:
            with self._reindex_lock:
                before = self._file_hashes()
                ingestor = Ingestor(self.settings, self.embedder(), self.data_dir)
                # an index of another embedding model cannot be updated, only replaced
                live = self.data_dir.current()
                rebuild = full or (live is not None
                                   and live.embedding_model != self.settings.embedding_model)
                report = ingestor.run([self.settings.corpus_dir], prune=not rebuild,
                                      rebuild=rebuild, progress=report_progress)
                self.reload()
                after = self._file_hashes()
        except Exception as exc:
            self.audit.append(action="reindex", account=principal.account,
                              client=principal.client, outcome="failed",
                              detail={"error": type(exc).__name__})
            return failure_line(S.ADMIN_REINDEX_FAILED, exc)
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
        return admin.format_report(report)

    def _file_hashes(self) -> dict[str, str]:
        try:
            index = self.data_dir.open_current()
        except KoraError:
            return {}
        try:
            return {doc_id: str(state.get("sha256", ""))
                    for doc_id, state in index.file_states().items()}
        finally:
            index.close()

    @database_down(lambda: ([], gr.update(choices=[], value=None)))
    def documents(self, token: Any, request: Any) -> tuple[Any, Any]:
        principal, _ = self.allowed(token, request)
        if principal is None:
            return [], gr.update(choices=[], value=None)
        try:
            index = self.data_dir.open_current()
        except KoraError:
            return [], gr.update(choices=[], value=None)
        try:
            rows = admin.document_rows(index)
        finally:
            index.close()
        return rows, gr.update(choices=[row[0] for row in rows], value=None)

    @database_down(_down_line)
    def delete(self, doc_id: str | None, confirmed: bool, token: Any, request: Any,
               progress: Any = None) -> str:
        principal, refusal = self.allowed(token, request)
        if principal is None:
            return refusal
        if not confirmed:
            return S.ADMIN_DELETE_UNCONFIRMED
        index = self.data_dir.open_current()
        try:
            states = index.file_states()
        finally:
            index.close()
        ok, message = admin.delete_document(doc_id or "", states=states,
                                            corpus_dir=self.settings.corpus_dir)
        state = states.get(doc_id or "", {})
        self.audit.append(action="delete", account=principal.account, client=principal.client,
                          outcome="ok" if ok else "refused",
                          documents=[document_ref(doc_id or "", state.get("sha256"))],
                          detail={} if ok else {"reason": message})
        if not ok:
            return message
        return message + "\n" + self._reindex(principal, progress)

    # --- exports and the audit view -----------------------------------------------------

    @database_down(_down_pair)
    def export_feedback(self, token: Any, request: Any) -> tuple[str | None, str]:
        principal, refusal = self.allowed(token, request)
        if principal is None:
            return None, refusal
        text, rows = self.feedback.export_csv()
        self.audit.append(action="feedback-export", account=principal.account,
                          client=principal.client, detail={"rows": rows})
        path = admin.export_file(self.export_dir, S.FEEDBACK_EXPORT_NAME, text)
        _remove_later(path)
        return path, S.ADMIN_EXPORT_DONE.format(rows=rows,
                                                days=self.settings.feedback_retention_days)

    @database_down(_down_rows)
    def audit_rows(self, token: Any, request: Any) -> tuple[list[list[str]], str]:
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
    def export_audit(self, token: Any, request: Any) -> tuple[str | None, str]:
        principal, refusal = self.allowed(token, request)
        if principal is None:
            return None, refusal
        entries = self.audit.entries()
        self.audit.append(action="audit-export", account=principal.account,
                          client=principal.client, detail={"entries": len(entries)})
        path = admin.export_file(self.export_dir, S.AUDIT_EXPORT_NAME, entries_csv(entries))
        _remove_later(path)
        return path, ""


def _remove_later(path: str) -> None:
    timer = threading.Timer(EXPORT_KEEP_SECONDS, Path(path).unlink, kwargs={"missing_ok": True})
    timer.daemon = True
    timer.start()
