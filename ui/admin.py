"""How the admin area shows document administration: upload outcomes, the re-index's
report, the dry run, deletions, and export files for download. The work itself is in
``people`` (``people.uploads``, ``people.documents``); this module only renders.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from people import DeleteOutcome, ReindexOutcome, UploadOutcome
from ui import strings as S
from ui.failures import failure_line

if TYPE_CHECKING:
    from ingest import IngestReport


def refusal_reason(code: str, detail: str = "") -> str:
    """The German reason for an upload refusal code (``people.uploads.REFUSALS``)."""
    return S.ADMIN_REASONS.get(code, S.ADMIN_REASON_NAME).format(detail=detail)


def upload_message(outcome: UploadOutcome) -> str:
    """One line per uploaded file: stored, replaced, or refused and why."""
    if outcome.refusal is not None:
        return S.ADMIN_UPLOAD_REFUSED.format(
            name=outcome.file, reason=refusal_reason(outcome.refusal, outcome.detail))
    message = S.ADMIN_REPLACED if outcome.replaced else S.ADMIN_UPLOADED
    return message.format(name=outcome.name)


def delete_message(outcome: DeleteOutcome) -> str:
    """The deletion's line (the re-index's report follows it separately)."""
    if outcome.refusal is not None:
        return S.ADMIN_DELETE_REFUSALS[outcome.refusal].format(doc_id=outcome.doc_id)
    return S.ADMIN_DELETED.format(doc_id=outcome.doc_id)


def reindex_message(outcome: ReindexOutcome, *, removal_limit: float) -> str:
    """The re-index's report, its refusal of a large removal, or its failure's line."""
    if outcome.error is not None:
        return failure_line(S.ADMIN_REINDEX_FAILED, outcome.error)
    if outcome.large_removal is not None:
        removing, indexed = outcome.large_removal
        return S.ADMIN_LARGE_REMOVAL.format(
            removing=removing, indexed=indexed, share=removing / indexed, limit=removal_limit,
            confirm=S.ADMIN_LARGE_REMOVAL_CONFIRM)
    assert outcome.report is not None  # neither failed nor refused: it ran
    return format_report(outcome.report)


def format_report(report: IngestReport) -> str:
    lines = [S.ADMIN_REPORT.format(added=report.added, updated=report.updated,
                                   unchanged=report.unchanged, removed=report.removed,
                                   failed=len(report.failed), chunks=report.chunks)]
    lines += [S.ADMIN_REPORT_FAILURE.format(path=f.path, reason=f.reason)
              for f in report.failed]
    lines += _versions(report)
    if report.undated:
        lines.append(S.ADMIN_REPORT_UNDATED.format(count=report.undated))
    return "\n".join(lines)


def _versions(report: IngestReport) -> list[str]:
    return ([S.ADMIN_REPORT_REPLACED.format(doc_id=r.doc_id, by=r.by) for r in report.replaced]
            + [S.ADMIN_REPORT_RESTORED.format(doc_id=doc_id) for doc_id in report.restored])


def format_preview(plan: IngestReport) -> str:
    """The dry run in the admin area: what "Neu indexieren" would do, document by document."""
    lines = [S.ADMIN_PREVIEW_HEADING.format(
        added=plan.added, updated=plan.updated, unchanged=plan.unchanged,
        removed=plan.removed, failed=len(plan.failed), undated=plan.undated)]
    for kind, ids in (("add", plan.added_ids), ("update", plan.updated_ids),
                      ("remove", plan.removed_ids)):
        lines += [S.ADMIN_PREVIEW_LINE[kind].format(doc_id=doc_id) for doc_id in ids]
    lines += [S.ADMIN_PREVIEW_REPLACE.format(doc_id=r.doc_id, by=r.by) for r in plan.replaced]
    lines += [S.ADMIN_PREVIEW_RESTORE.format(doc_id=doc_id) for doc_id in plan.restored]
    lines += [S.ADMIN_PREVIEW_FAILURE.format(path=f.path, reason=f.reason) for f in plan.failed]
    return "\n".join(lines)


def export_file(folder: Path, name: str, text: str) -> str:
    """Write an export for download. One file per name, replaced by the next export, in a
    folder the app removes when it stops: no copies of feedback pile up in /tmp."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    return str(target)
