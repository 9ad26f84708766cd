"""The city's own golden set: 👎 feedback an admin turned into test cases.

``golden-local.yaml`` (``Settings.golden_local_path``) has the schema of
``evaluation/golden.yaml`` plus ``kind: local``, which tells `kora eval` to run it
against the live index and to fail when any of its cases fails. Each case has a stable
id made from its question (accepting the same question again replaces the case rather
than adding a twin), and names who accepted it when. Only the question, the expected
key facts and document go into the file: not the answer, not the comment.

The file is written whole into a temporary file and moved into place under a lock file,
so two admins (or an admin and `kora feedback accept`) never interleave and a reader
never sees half a file.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import yaml

from rag.errors import KoraError
from rag.files import file_lock, write_text_atomic
from rag.jsontypes import JSONObject

LOCAL_KIND = "local"
LOCAL_CATEGORY = "local"
HEADER = (
    "# The city's own golden set (KORA): cases accepted from staff feedback in the admin\n"
    "# area (\"Qualität\") or with `kora feedback accept`. Same schema as\n"
    "# evaluation/golden.yaml; `kora eval` runs it against the live index and fails when a\n"
    "# case fails. key_facts: each entry lists accepted variants (any one suffices).\n"
)


class CaseError(KoraError):
    """Input a case cannot be made of. ``code`` lets the web app say it in German:
    no-facts, both, unknown-feedback, unknown-document, unreadable."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class AcceptedCase:
    id: str
    out_of_scope: bool
    replaced: bool  # the question had a case already, now replaced
    entry: JSONObject


def case_id(question: str) -> str:
    """Stable for a question, whatever its spacing or case."""
    normalised = " ".join(question.split()).casefold()
    return "local-" + hashlib.sha256(normalised.encode()).hexdigest()[:10]


def parse_facts(lines: Sequence[str]) -> list[list[str]]:
    """Key facts as typed: one per entry (or line), variants separated by "|"."""
    facts = []
    for line in lines:
        for text in str(line).splitlines():
            variants = [v.strip() for v in text.split("|") if v.strip()]
            if variants:
                facts.append(variants)
    return facts


class LocalGolden:
    """The golden-local file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> JSONObject:
        """The file's content; an empty set when it does not exist yet."""
        if not self.path.exists():
            return {"version": 1, "kind": LOCAL_KIND, "questions": [], "out_of_scope": [],
                    "conversations": []}
        try:
            data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise CaseError(f"{self.path} cannot be read ({exc.__class__.__name__}): fix or "
                            "move it; nothing was changed.", code="unreadable") from exc
        if not isinstance(data, dict):
            raise CaseError(f"{self.path} is not a golden set (no mapping at the top): fix "
                            "or move it; nothing was changed.", code="unreadable")
        for key in ("questions", "out_of_scope", "conversations"):
            data[key] = list(data.get(key) or [])
        data.setdefault("version", 1)
        data["kind"] = LOCAL_KIND
        return data

    def accept(self, feedback: Mapping[str, object], *, facts: Sequence[Sequence[str]] = (),
               doc: str | None = None, out_of_scope: bool = False,
               account: str) -> AcceptedCase:
        """Make a case of a feedback entry (``FeedbackStore.entry``): expected key facts
        (and optionally the expected document), or a question KORA should refuse."""
        facts = [list(f) for f in facts if f]
        if out_of_scope and (facts or doc):
            raise CaseError("Either key facts (and a document) or --out-of-scope, not both.",
                            code="both")
        if not out_of_scope and not facts:
            raise CaseError("Give at least one expected key fact (--fact), or mark the "
                            "question --out-of-scope.", code="no-facts")
        question = " ".join(str(feedback["question"]).split())
        identifier = case_id(question)
        stamp = {"accepted_by": account,
                 "accepted_at": datetime.now(UTC).isoformat(timespec="seconds")}
        if out_of_scope:
            entry: JSONObject = {"id": identifier, "question": question,
                                     "kind": LOCAL_KIND, **stamp}
        else:
            entry = {"id": identifier, "category": LOCAL_CATEGORY, "question": question,
                     "expected_docs": [doc] if doc else [], "key_facts": facts, **stamp}
        with self._locked():
            data = self.load()
            replaced = False
            for key in ("questions", "out_of_scope"):
                kept = [item for item in _entries(data, key) if item.get("id") != identifier]
                replaced = replaced or len(kept) != len(_entries(data, key))
                data[key] = kept
            _entries(data, "out_of_scope" if out_of_scope else "questions").append(entry)
            self._write(data)
        return AcceptedCase(identifier, out_of_scope, replaced, entry)

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return file_lock(self.path.with_name(self.path.name + ".lock"))

    def _write(self, data: JSONObject) -> None:
        ordered = {"version": data.get("version", 1), "kind": LOCAL_KIND,
                   "questions": data["questions"], "out_of_scope": data["out_of_scope"],
                   "conversations": data["conversations"]}
        text = HEADER + yaml.safe_dump(ordered, allow_unicode=True, sort_keys=False,
                                       width=100)
        write_text_atomic(self.path, text)


__all__ = ["LOCAL_KIND", "AcceptedCase", "CaseError", "LocalGolden", "case_id",
           "parse_facts"]


def _entries(data: JSONObject, key: str) -> list[JSONObject]:
    """One of the case file's lists of cases (load() fills in the missing ones)."""
    return cast("list[JSONObject]", data[key])
