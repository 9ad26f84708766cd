"""People's data and administration: accounts, authentication, API keys, login
throttling, admin sessions, the audit trail, feedback, the questions KORA refused and
the city's own golden set made from feedback, in one SQL database
(``people.database``), plus the uploads and document administration the admin area runs
(``people.uploads``, ``people.documents``).

Functions and classes that return data; no Gradio, no German UI text (``ui`` renders).
Sits below ``ui`` and above ``evaluation``, ``ingest`` and ``rag``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from people.accounts import (
    ACCOUNTS_FILE,
    ENV_ACCOUNT,
    PASSWORD_ENV,
    ROLES,
    Account,
    AccountError,
    AccountStore,
    Role,
    check_name,
    env_password,
    hash_password,
    verify_password,
)
from people.api_keys import (
    API_KEYS_FILE,
    ApiKey,
    ApiKeyError,
    ApiKeyStore,
    DatabaseApiKeyStore,
    KeyCheck,
    check_client_name,
    key_hash,
)
from people.audit import AUDIT_FILE, AuditLog, ChainCheck, document_ref, entries_csv, entry_row
from people.auth import (
    Caller,
    Gate,
    LoginResult,
    Principal,
    ProxyTrust,
    Session,
    Sessions,
    Throttle,
    env_account,
)
from people.cases import AcceptedCase, CaseError, LocalGolden, case_id, parse_facts
from people.database import (
    DATABASE_FILE,
    Database,
    DatabaseSetupError,
    DatabaseUnavailableError,
    shown_url,
)
from people.documents import (
    DeleteOutcome,
    DocumentAdmin,
    ReindexOutcome,
    delete_file,
    document_rows,
)
from people.feedback import FEEDBACK_FILE, FeedbackStore
from people.legacy import IMPORTED_SUFFIX, import_legacy_files
from people.unanswered import Topic, UnansweredStore, group_questions, topics_csv
from people.uploads import (
    UPLOAD_FOLDER,
    UnsafeNameError,
    UploadOutcome,
    file_sha256,
    safe_file_name,
    save_uploads,
    shown_name,
)

if TYPE_CHECKING:
    from rag.settings import Settings


@dataclass(frozen=True, eq=False)
class People:
    """The stores over one database, as a worker or a command opens them."""

    database: Database
    accounts: AccountStore
    api_keys: DatabaseApiKeyStore
    audit: AuditLog
    feedback: FeedbackStore
    unanswered: UnansweredStore

    @classmethod
    def open(cls, settings: Settings, *, purge_feedback: bool = True) -> People:
        """Nothing is connected yet: the first use migrates and imports (a database that
        is down must not stop a worker from answering)."""
        database = Database.for_settings(settings)
        retention = settings.feedback_retention_days if purge_feedback else None
        return cls(database=database, accounts=AccountStore(database),
                   api_keys=DatabaseApiKeyStore(database), audit=AuditLog(database),
                   feedback=FeedbackStore(database, retention_days=retention),
                   unanswered=UnansweredStore(database, retention_days=retention))

    def purge(self, *, older_than_days: float) -> dict[str, int]:
        """Delete feedback and unanswered questions older than ``older_than_days``: how
        many of each (the retention period covers both)."""
        return {"feedback": self.feedback.purge(older_than_days=older_than_days),
                "unanswered": self.unanswered.purge(older_than_days=older_than_days)}

    def counts(self) -> dict[str, int]:
        """How many accounts, API keys, audit entries and feedback rows the database
        holds."""
        from sqlalchemy import func, select

        from people.schema import accounts, api_keys, audit, feedback

        with self.database.transaction() as connection:
            return {key: int(connection.execute(select(func.count()).select_from(table))
                             .scalar_one())
                    for key, table in (("accounts", accounts), ("api_keys", api_keys),
                                       ("audit_entries", audit), ("feedback", feedback))}

    def close(self) -> None:
        self.database.close()


__all__ = ["ACCOUNTS_FILE", "API_KEYS_FILE", "AUDIT_FILE", "DATABASE_FILE", "ENV_ACCOUNT",
           "FEEDBACK_FILE", "IMPORTED_SUFFIX", "PASSWORD_ENV", "ROLES", "UPLOAD_FOLDER",
           "AcceptedCase", "Account", "AccountError", "AccountStore", "ApiKey", "ApiKeyError",
           "ApiKeyStore", "AuditLog", "Caller", "CaseError", "ChainCheck", "Database",
           "DatabaseApiKeyStore", "DatabaseSetupError", "DatabaseUnavailableError",
           "DeleteOutcome", "DocumentAdmin", "FeedbackStore", "Gate", "KeyCheck", "LocalGolden",
           "LoginResult", "People", "Principal", "ProxyTrust", "ReindexOutcome", "Role",
           "Session", "Sessions", "Throttle", "Topic", "UnansweredStore", "UnsafeNameError",
           "UploadOutcome", "case_id", "check_client_name", "check_name", "delete_file",
           "document_ref", "document_rows", "entries_csv", "entry_row", "env_account",
           "env_password", "file_sha256", "group_questions", "hash_password",
           "import_legacy_files", "key_hash", "parse_facts", "safe_file_name", "save_uploads",
           "shown_name", "shown_url", "topics_csv", "verify_password"]
