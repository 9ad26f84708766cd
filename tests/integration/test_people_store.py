"""People's data in its database, against SQLite and a real PostgreSQL alike: named
accounts (scrypt hashes only), the audit chain (one chain for concurrent writers on
several processes), throttling and sessions shared by every worker, and the one-time
import of the files each worker kept before.

Throttling and session expiry run on a clock the test moves: the assertions are on the
wait the server reports and on what it refuses, never on wall-clock time.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import sqlite3
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import delete, text, update

from people import (
    AccountError,
    AuditLog,
    Database,
    DatabaseSetupError,
    Gate,
    People,
    Throttle,
    entries_csv,
    hash_password,
    verify_password,
)
from people.schema import audit as audit_table
from rag.settings import Settings
from tests.fakes import Clock

PASSWORD = "Sommer-Regen-Brücke-7"


def request(host: str = "10.0.0.7", **headers: str) -> Any:
    """What Gradio hands a handler: the peer address and the headers."""
    return SimpleNamespace(client=SimpleNamespace(host=host), headers=headers)


def people_in(folder: Path, url: str | None) -> People:
    folder.mkdir(parents=True, exist_ok=True)
    return People.open(Settings.load(data_dir=folder, database_url=url))


# --------------------------------------------------------------------------- accounts


def test_password_hash_is_scrypt_and_verifies() -> None:
    encoded = hash_password(PASSWORD)
    kind, n, r, p, _, _ = encoded.split("$")
    assert (kind, n, r, p) == ("scrypt", str(2**17), "8", "1")
    assert verify_password(PASSWORD, encoded)
    assert not verify_password(PASSWORD + "x", encoded)
    assert not verify_password(PASSWORD, encoded.replace("scrypt", "md5"))
    assert not verify_password(PASSWORD, "kaputt")
    assert hash_password(PASSWORD) != encoded  # salted


def test_account_store_keeps_only_hashes(tmp_path: Path, database_url: str | None) -> None:
    store = people_in(tmp_path, database_url).accounts
    store.add("anna", role="admin", password=PASSWORD, actor="cli:test")
    store.add("kai.sso@stadt.example", role="admin", password=None, actor="cli:test")
    store.add("paul", role="chat", password="Paul-fragt-nur-nach", actor="cli:test")
    with store.database.transaction() as connection:
        raw = json.dumps([list(row) for row in
                          connection.execute(text("SELECT * FROM accounts")).all()])
    assert PASSWORD not in raw and "Paul-fragt" not in raw and "scrypt$" in raw
    if database_url is None:
        assert stat.S_IMODE((tmp_path / "people.sqlite").stat().st_mode) == 0o600
    assert store.authenticate("anna", PASSWORD).name == "anna"  # type: ignore[union-attr]
    assert store.authenticate("anna", "falsch-falsch-falsch") is None
    assert store.authenticate("kai.sso@stadt.example", "") is None  # proxy sign-in only
    assert store.authenticate("niemand", PASSWORD) is None
    before = store.get("anna")
    store.set_password("anna", "Ein-neues-Passwort-2026", actor="cli:test")
    after = store.get("anna")
    assert before and after and before.fingerprint != after.fingerprint
    assert store.authenticate("anna", PASSWORD) is None
    store.remove("paul", actor="cli:test")
    assert sorted(store.accounts()) == ["anna", "kai.sso@stadt.example"]


def test_api_keys_keep_only_hashes_and_count_requests(tmp_path: Path,
                                                      database_url: str | None) -> None:
    from people import ApiKeyError

    keys = people_in(tmp_path, database_url).api_keys
    key, secret = keys.add("open-webui", actor="cli:anna", expires_days=30)
    assert secret.startswith(f"kora-{key.id}-") and key.state() == "active" and key.expires
    with keys.database.transaction() as connection:
        raw = json.dumps([list(row) for row in
                          connection.execute(text("SELECT * FROM api_keys")).all()])
    assert secret not in raw and hashlib.sha256(secret.encode()).hexdigest() in raw
    check = keys.check(secret)
    assert check.key == key and check.refusal is None
    assert keys.check(secret[:-1] + ("A" if secret[-1] != "A" else "B")).refusal == "unknown"
    assert keys.check("sk-123") == type(check)(None, "malformed")
    for _ in range(3):
        keys.count_request(key.id)
    [listed] = keys.entries()
    assert listed.requests == 3 and listed.last_used
    other, other_secret = keys.add("open-webui", actor="cli:anna")
    assert {k.id for k in keys.revoke("open-webui", actor="cli:bert")} == {key.id, other.id}
    assert keys.check(secret).refusal == keys.check(other_secret).refusal == "revoked"
    with pytest.raises(ApiKeyError, match="No active key"):
        keys.revoke(key.id, actor="cli:bert")
    with pytest.raises(ApiKeyError, match="Invalid client name"):
        keys.add("../etc", actor="cli:anna")
    # made and revoked in the same transactions as their audit entries, never the key
    audit = AuditLog(keys.database)
    entries = [(e["action"], e["account"], e["detail"]["key_id"]) for e in audit.entries()]
    assert sorted(entries) == sorted([("api-key-add", "cli:anna", key.id),
                                      ("api-key-add", "cli:anna", other.id),
                                      ("api-key-revoke", "cli:bert", key.id),
                                      ("api-key-revoke", "cli:bert", other.id)])
    assert secret not in json.dumps(audit.entries()) and audit.verify().intact
    with keys.database.transaction() as connection:
        connection.execute(text("UPDATE api_keys SET revoked = NULL, "
                                "expires = '2020-01-01T00:00:00+00:00'"))
    assert keys.check(secret).refusal == "expired"


@pytest.mark.parametrize("name, password, message", [
    ("anna", "kurz", "too short"),
    ("anna", "anna", "too short"),
    ("Anna1234567890", "anna1234567890", "must not be the account name"),
    ("mit leerzeichen", PASSWORD, "Invalid account name"),
    ("../etc", PASSWORD, "Invalid account name"),
    ("", PASSWORD, "Invalid account name"),
])
def test_bad_names_and_passwords_are_refused(tmp_path: Path, name: str, password: str,
                                             message: str) -> None:
    store = people_in(tmp_path, None).accounts
    with pytest.raises(AccountError, match=message):
        store.add(name, role="admin", password=password, actor="cli:test")
    assert store.accounts() == {}


def test_duplicate_and_unknown_accounts(tmp_path: Path, database_url: str | None) -> None:
    store = people_in(tmp_path, database_url).accounts
    store.add("anna", role="admin", password=None, actor="cli:test")
    with pytest.raises(AccountError, match="exists already"):
        store.add("anna", role="admin", password=None, actor="cli:test")
    with pytest.raises(AccountError, match="No account"):
        store.remove("bert", actor="cli:test")
    with pytest.raises(AccountError, match="No account"):
        store.set_password("bert", PASSWORD, actor="cli:test")
    assert list(store.accounts()) == ["anna"]


def test_account_changes_commit_with_their_audit_entry(tmp_path: Path,
                                                       database_url: str | None) -> None:
    from sqlalchemy.exc import ProgrammingError

    from people import DatabaseUnavailableError

    people = people_in(tmp_path, database_url)
    store = people.accounts
    store.add("anna", role="admin", password=PASSWORD, actor="cli:root", client="local")
    before = store.get("anna")

    def rename_table(name: str, to: str) -> None:
        with people.database.transaction() as connection:
            connection.execute(text(f"ALTER TABLE {name} RENAME TO {to}"))

    # the audit entry cannot be written: the change it records must not land either
    rename_table("audit", "audit_unreachable")
    try:
        for change in (lambda: store.add("bert", role="admin", password=None, actor="cli:x"),
                       lambda: store.set_password("anna", "Ganz-neues-Passwort-1",
                                                  actor="cli:x"),
                       lambda: store.remove("anna", actor="cli:x")):
            with pytest.raises((DatabaseUnavailableError, ProgrammingError)):
                change()
    finally:
        rename_table("audit_unreachable", "audit")
    assert list(store.accounts()) == ["anna"] and store.get("anna") == before
    assert [e["action"] for e in people.audit.entries()] == ["account-add"]

    store.set_password("anna", "Ganz-neues-Passwort-1", actor="cli:root")
    store.add("bert", role="chat", password=None, actor="cli:root")
    store.remove("bert", actor="cli:root")
    entries = [(e["action"], e["account"], e["client"], e["detail"])
               for e in people.audit.entries()]
    assert entries == [
        ("account-add", "cli:root", "local", {"target": "anna", "role": "admin",
                                              "password": True}),
        ("account-passwd", "cli:root", "local", {"target": "anna"}),
        ("account-add", "cli:root", "local", {"target": "bert", "role": "chat",
                                              "password": False}),
        ("account-remove", "cli:root", "local", {"target": "bert", "role": "chat"}),
    ]
    assert PASSWORD not in json.dumps(people.audit.entries()) and people.audit.verify().intact


# --------------------------------------------------------------------------- audit log


def test_audit_log_appends_and_survives_reopening(tmp_path: Path,
                                                  database_url: str | None) -> None:
    log = people_in(tmp_path, database_url).audit
    log.append(action="login", account="anna", client="10.0.0.7")
    log.append(action="upload", account="anna", client="10.0.0.7",
               documents=[{"doc_id": "uploads/a.md", "sha256": "ab" * 32}])
    reopened = people_in(tmp_path, database_url).audit
    entries = reopened.entries()
    assert [e["action"] for e in entries] == ["login", "upload"]
    assert entries[1]["documents"][0]["sha256"] == "ab" * 32
    assert {"time", "account", "client", "action", "outcome", "documents", "detail",
            "hash"} <= set(entries[0])
    assert reopened.verify().intact and reopened.verify().entries == 2
    assert reopened.entries(limit=1)[0]["action"] == "upload"
    rows = entries_csv(entries).splitlines()
    assert rows[0] == "time,account,client,action,outcome,documents,detail"
    assert "uploads/a.md (abababababab)" in rows[2]


@pytest.mark.parametrize("tamper", ["edit", "delete", "reorder"])
def test_changes_outside_kora_break_the_chain(tmp_path: Path, tamper: str) -> None:
    log = people_in(tmp_path, None).audit
    for action in ("login", "upload", "delete", "logout"):
        log.append(action=action, account="anna", client="10.0.0.7")
    with log.database.transaction() as connection:  # someone with the database password
        if tamper == "edit":
            record = connection.execute(text("SELECT record FROM audit WHERE seq = 2")
                                        ).scalar_one()
            connection.execute(update(audit_table).where(audit_table.c.seq == 2)
                               .values(record=record.replace('"anna"', '"bert"')))
        elif tamper == "delete":
            connection.execute(delete(audit_table).where(audit_table.c.seq == 3))
        else:
            connection.execute(text("UPDATE audit SET seq = -seq WHERE seq IN (2, 3)"))
            connection.execute(text("UPDATE audit SET seq = 5 - seq WHERE seq IN (-2, -3)"))
    check = log.verify()
    assert not check.intact and check.first_broken_line == 2 + (tamper == "delete")
    log.append(action="login", account="anna", client="10.0.0.7")  # still appends


def _append_many(url: str | None, folder: str, worker: int, count: int) -> None:
    log = people_in(Path(folder), url).audit
    for number in range(count):
        log.append(action="upload", account=f"worker-{worker}", client="x",
                   detail={"n": number})


def test_two_writers_appending_a_thousand_each_keep_one_chain(
        tmp_path: Path, database_url: str | None) -> None:
    # two processes, as two workers on two machines: each its own engine and connections
    people_in(tmp_path, database_url).audit.verify()  # migrated before the race starts
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_append_many, args=(database_url, str(tmp_path), w, 1000))
               for w in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(600)
        assert writer.exitcode == 0
    log = people_in(tmp_path, database_url).audit
    check = log.verify()
    assert check.intact and check.entries == 2000
    entries = log.entries()
    for worker in (0, 1):  # none lost, each writer's own order kept
        numbers = [e["detail"]["n"] for e in entries if e["account"] == f"worker-{worker}"]
        assert numbers == list(range(1000))


# --------------------------------------------------------------------------- throttling


def test_throttle_waits_grow_after_five_failures_and_reset_on_success(
        tmp_path: Path, database_url: str | None) -> None:
    clock = Clock()
    database = people_in(tmp_path, database_url).database
    throttle = Throttle(database, max_failures=5, delay=30, max_delay=900, clock=clock)
    waits = [throttle.failure("account:anna") for _ in range(11)]
    assert waits == [0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900]
    assert throttle.wait_seconds("account:anna", "client:x") == 900
    clock.advance(899)
    assert throttle.wait_seconds("account:anna") == 1
    clock.advance(1)
    assert throttle.wait_seconds("account:anna") == 0
    throttle.success("account:anna")
    assert [throttle.failure("account:anna") for _ in range(5)] == [0, 0, 0, 0, 30]


def test_failures_spread_over_workers_start_the_wait_on_all(
        tmp_path: Path, database_url: str | None) -> None:
    clock = Clock()
    workers = [Throttle(people_in(tmp_path / f"worker-{n}", database_url).database,
                        max_failures=5, delay=30, max_delay=900, clock=clock)
               for n in range(2)] if database_url else \
        [Throttle(people_in(tmp_path, None).database, max_failures=5, delay=30,
                  max_delay=900, clock=clock) for _ in range(2)]
    waits = [workers[n % 2].failure("account:anna", f"client:203.0.113.{n}")
             for n in range(5)]
    assert waits == [0, 0, 0, 0, 30]
    assert [w.wait_seconds("account:anna") for w in workers] == [30, 30]


def gate_with(tmp_path: Path, clock: Clock, url: str | None = None,
              accounts: dict[str, dict[str, Any]] | None = None, **overrides: Any) -> Gate:
    settings = Settings.load(data_dir=tmp_path, database_url=url, **overrides)
    people = People.open(settings)
    if accounts:
        with people.database.transaction() as connection:
            people.accounts.import_rows(connection, accounts)
    return Gate(settings, people.accounts, people.audit, clock=clock)


@pytest.fixture(scope="module")
def hashed() -> dict[str, dict[str, Any]]:
    """Three accounts with their hashes, made once (each hash costs half a second on
    purpose); each test puts them into its own database."""
    made = "2026-01-01T00:00:00+00:00"
    return {name: {"role": role, "password_hash": hash_password(password) if password else None,
                   "created": made, "password_changed": made}
            for name, role, password in (("anna", "admin", PASSWORD),
                                         ("paul", "chat", "Paul-fragt-nur-nach"),
                                         ("kai", "admin", None))}


def test_login_throttled_per_account_across_clients(hashed: Any, tmp_path: Path,
                                                   database_url: str | None) -> None:
    clock = Clock()
    gate = gate_with(tmp_path, clock, database_url, hashed)
    for number in range(5):  # an attacker spreading guesses over five addresses
        result = gate.login("anna", "falsch-geraten", request(f"203.0.113.{number}"))
        assert not result.ok
    assert result.wait_seconds == 30
    # anna herself, from her own address, with the right password: told to wait
    refused = gate.login("anna", PASSWORD, request("10.0.0.7"))
    assert not refused.ok and refused.wait_seconds == 30
    assert gate.login("paul", "Paul-fragt-nur-nach", request("10.0.0.8")).ok  # others not
    clock.advance(30)
    assert gate.login("anna", PASSWORD, request("10.0.0.7")).ok
    outcomes = [(e["account"], e["client"], e["outcome"], e["detail"].get("wait_seconds"))
                for e in gate.audit.entries()]
    assert outcomes[4] == ("anna", "203.0.113.4", "failed", 30)
    assert outcomes[5] == ("anna", "10.0.0.7", "throttled", 30)
    assert outcomes[-1] == ("anna", "10.0.0.7", "ok", None)


def test_login_throttled_per_client_across_accounts(hashed: Any, tmp_path: Path) -> None:
    clock = Clock()
    gate = gate_with(tmp_path, clock, None, hashed)
    for name in ("admin", "root", "anna", "verwaltung", "test"):  # one client, many names
        assert not gate.login(name, "123456", request("198.51.100.9")).ok
    blocked = gate.login("paul", "Paul-fragt-nur-nach", request("198.51.100.9"))
    assert not blocked.ok and blocked.wait_seconds == 30
    assert gate.login("paul", "Paul-fragt-nur-nach", request("10.0.0.8")).ok


def test_sessions_expire_when_idle_and_end_with_the_account(
        hashed: Any, tmp_path: Path, database_url: str | None) -> None:
    clock = Clock()
    gate = gate_with(tmp_path, clock, database_url, hashed, admin_session_idle_minutes=30)
    token = gate.login("anna", PASSWORD, request()).token
    for _ in range(3):  # activity keeps it alive
        clock.advance(29 * 60)
        principal, _ = gate.principal(token, request(), role="admin")
        assert principal is not None and principal.account == "anna"
    clock.advance(30 * 60 + 1)
    assert gate.principal(token, request(), role="admin") == (None, "expired")
    assert gate.principal(token, request(), role="admin") == (None, "not-logged-in")
    assert gate.audit.entries()[-1]["action"] == "session-expired"

    token = gate.login("anna", PASSWORD, request()).token
    gate.accounts.remove("anna", actor="cli:test")  # `kora admin remove anna` while she is logged in
    assert gate.principal(token, request(), role="admin") == (None, "not-logged-in")


def test_logout_ends_the_session_only_with_its_audit_entry(
        hashed: Any, tmp_path: Path, database_url: str | None) -> None:
    from sqlalchemy.exc import ProgrammingError

    from people import DatabaseUnavailableError

    gate = gate_with(tmp_path, Clock(), database_url, hashed)
    token = gate.login("anna", PASSWORD, request()).token
    with gate.audit.database.transaction() as connection:
        connection.execute(text("ALTER TABLE audit RENAME TO audit_unreachable"))
    try:
        with pytest.raises((DatabaseUnavailableError, ProgrammingError)):
            gate.logout(token, request())
    finally:
        with gate.audit.database.transaction() as connection:
            connection.execute(text("ALTER TABLE audit_unreachable RENAME TO audit"))
    # the entry could not be written: the session goes on, as the trail says
    principal, _ = gate.principal(token, request(), role="admin")
    assert principal is not None and principal.account == "anna"
    assert gate.logout(token, request()) == "anna"
    assert gate.principal(token, request(), role="admin") == (None, "not-logged-in")
    assert [e["action"] for e in gate.audit.entries()][-2:] == ["login", "logout"]
    assert gate.audit.verify().intact


def test_chat_role_cannot_administer(hashed: Any, tmp_path: Path) -> None:
    gate = gate_with(tmp_path, Clock(), None, hashed)
    token = gate.login("paul", "Paul-fragt-nur-nach", request()).token
    assert gate.principal(token, request(), role="admin") == (None, "not-admin")
    principal, _ = gate.principal(token, request(), role="chat")
    assert principal is not None and principal.account == "paul"


def test_shared_password_only_while_no_named_account(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KORA_ADMIN_PASSWORD", "gemeinsam-geheim")
    gate = gate_with(tmp_path, Clock())
    result = gate.login("", "gemeinsam-geheim", request())
    assert result.ok and result.account == "env:KORA_ADMIN_PASSWORD"
    gate.accounts.add("anna", role="admin", password=None, actor="cli:test")
    assert gate.principal(result.token, request(), role="admin") == (None, "not-logged-in")
    assert not gate.login("", "gemeinsam-geheim", request()).ok


def test_trusted_header_only_from_the_proxy(hashed: Any, tmp_path: Path) -> None:
    gate = gate_with(tmp_path, Clock(), None, hashed, trusted_user_header="X-Remote-User",
                     trusted_proxies=["10.0.0.5", "10.1.0.0/16"])
    via_proxy = request("10.1.2.3", **{"X-Remote-User": "kai",
                                       "X-Forwarded-For": "6.6.6.6, 192.168.4.20"})
    principal, _ = gate.principal(None, via_proxy, role="admin")
    assert principal is not None and (principal.account, principal.via) == ("kai", "proxy")
    assert principal.client == "192.168.4.20"  # what the proxy saw, not what was claimed
    chat_user, _ = gate.principal(None, request("10.0.0.5", **{"x-remote-user": "eva"}),
                                  role="chat")
    assert chat_user is not None and chat_user.account == "eva"
    assert gate.principal(None, request("10.0.0.5", **{"X-Remote-User": "eva"}),
                          role="admin") == (None, "not-logged-in")  # eva has no account
    forged = request("10.9.9.9", **{"X-Remote-User": "kai", "X-Forwarded-For": "10.0.0.5"})
    assert gate.principal(None, forged, role="admin") == (None, "refused-header")
    assert gate.login("anna", PASSWORD, forged).refused_header
    last = gate.audit.entries()[-1]
    assert (last["action"], last["account"], last["client"]) == ("untrusted-header", "kai",
                                                                 "10.9.9.9")
    # without the header, X-Forwarded-For from a non-proxy is ignored too
    assert gate.proxy.caller(request("10.9.9.9", **{"X-Forwarded-For": "1.2.3.4"})).client \
        == "10.9.9.9"


def test_header_without_proxy_is_a_settings_error() -> None:
    with pytest.raises(ValueError, match="trusted_proxies is empty"):
        Settings.load(trusted_user_header="X-Remote-User")
    with pytest.raises(ValueError, match="not an IP address"):
        Settings.load(trusted_user_header="X-Remote-User", trusted_proxies="proxy.stadt")


# --------------------------------------------------------------------------- old files


def old_files(folder: Path, *, entries: int = 3) -> None:
    """What a worker's data directory held before people's database."""
    from people.audit import GENESIS, _chain_hash  # the file format's own hash

    folder.mkdir(parents=True, exist_ok=True)
    made = f"2025-05-0{entries}T08:00:00+00:00"  # each worker's files differ
    (folder / "accounts.json").write_text(json.dumps({"version": 1, "accounts": {
        "anna": {"role": "admin", "password_hash": "scrypt$16384$8$1$c2FsdA==$a2V5",
                 "created": made, "password_changed": made}}}), encoding="utf-8")
    previous, lines = GENESIS, []
    for number in range(entries):
        record = {"time": f"2025-05-01T08:00:0{number}.000+00:00", "account": "anna",
                  "client": "10.0.0.7", "action": "upload", "outcome": "ok",
                  "documents": [], "detail": {"n": number}}
        record["hash"] = previous = _chain_hash(previous, record)
        lines.append(json.dumps(record, sort_keys=True))
    (folder / "audit.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with sqlite3.connect(folder / "feedback.sqlite") as db:
        db.execute("CREATE TABLE feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                   "created_at TEXT, rating INTEGER, comment TEXT, question TEXT, "
                   "answer TEXT, sources TEXT)")
        db.execute("INSERT INTO feedback (created_at, rating, comment, question, answer, "
                   "sources) VALUES ('2099-01-01T00:00:00+00:00', 1, 'gut', ?, 'Sie.', '[]')",
                   (f"Wer? ({entries})",))
    db.close()
    # issue 18's key store, as it wrote its file (one key, used twice)
    key_id = f"0000000{entries}"
    with sqlite3.connect(folder / "api_keys.sqlite") as db:
        db.execute("CREATE TABLE api_keys (id TEXT PRIMARY KEY, name TEXT NOT NULL, hash TEXT "
                   "NOT NULL, created TEXT NOT NULL, expires TEXT, revoked TEXT, requests "
                   "INTEGER NOT NULL DEFAULT 0, last_used TEXT)")
        db.execute("INSERT INTO api_keys VALUES (?, 'open-webui', ?, ?, NULL, NULL, 2, ?)",
                   (key_id, hashlib.sha256(old_key(entries).encode()).hexdigest(), made, made))
    db.close()


def old_key(entries: int) -> str:
    return f"kora-0000000{entries}-" + "k" * 43


def test_old_files_are_imported_once(tmp_path: Path, database_url: str | None) -> None:
    old_files(tmp_path / "data")
    people = people_in(tmp_path / "data", database_url)
    assert people.counts() == {"accounts": 1, "api_keys": 1, "audit_entries": 3 + 4,
                               "feedback": 1}
    assert sorted(p.name for p in (tmp_path / "data").iterdir() if "imported" in p.name) == [
        "accounts.json.imported", "api_keys.sqlite.imported", "audit.jsonl.imported",
        "feedback.sqlite.imported"]
    imported = people.audit.entries()
    assert [e["detail"].get("n") for e in imported[:4]] == [0, 1, 2, None]
    # into an empty database the old chain keeps its very hashes
    old = [json.loads(line) for line in
           (tmp_path / "data" / "audit.jsonl.imported").read_text().splitlines()]
    assert [e["hash"] for e in imported[:3]] == [e["hash"] for e in old]
    assert people.audit.verify().intact
    assert people.feedback.rows()[0]["question"] == "Wer? (3)"
    # an old key still opens the API, with its count and name; only its hash is stored
    check = people.api_keys.check(old_key(3))
    assert check.key is not None and (check.key.name, check.key.requests) == ("open-webui", 2)
    assert [e["detail"]["keys"] for e in imported if "api_keys" in e["detail"].get("file", "")
            ] == [1]
    # the same files again (a crash before the renaming): nothing twice
    for name in ("accounts.json", "api_keys.sqlite", "audit.jsonl", "feedback.sqlite"):
        (tmp_path / "data" / f"{name}.imported").rename(tmp_path / "data" / name)
    again = people_in(tmp_path / "data", database_url)
    assert again.counts() == {"accounts": 1, "api_keys": 1, "audit_entries": 7,
                              "feedback": 1}
    assert not (tmp_path / "data" / "audit.jsonl").exists()


def test_old_keys_still_in_a_killed_workers_write_ahead_log_are_imported(
        tmp_path: Path) -> None:
    import shutil

    live = tmp_path / "live"
    live.mkdir()
    writer = sqlite3.connect(live / "api_keys.sqlite", isolation_level=None)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("CREATE TABLE api_keys (id TEXT PRIMARY KEY, name TEXT NOT NULL, hash TEXT "
                   "NOT NULL, created TEXT NOT NULL, expires TEXT, revoked TEXT, requests "
                   "INTEGER NOT NULL DEFAULT 0, last_used TEXT)")
    writer.execute("INSERT INTO api_keys VALUES ('00000009', 'portal', ?, "
                   "'2025-05-01T08:00:00+00:00', NULL, NULL, 0, NULL)",
                   (hashlib.sha256(old_key(9).encode()).hexdigest(),))
    # what a worker killed now leaves behind: the key only in the write-ahead log
    data = tmp_path / "data"
    data.mkdir()
    for name in ("api_keys.sqlite", "api_keys.sqlite-wal", "api_keys.sqlite-shm"):
        shutil.copyfile(live / name, data / name)
    writer.close()
    people = people_in(data, None)
    assert people.api_keys.check(old_key(9)).key is not None
    assert sorted(p.name for p in data.iterdir() if p.name.startswith("api_keys")) == [
        "api_keys.sqlite.imported", "api_keys.sqlite.imported-shm",
        "api_keys.sqlite.imported-wal"]


def test_a_second_workers_old_files_join_the_one_chain(tmp_path: Path, postgres: Any) -> None:
    url = postgres.new_database()
    old_files(tmp_path / "one", entries=3)
    old_files(tmp_path / "two", entries=4)  # its own accounts.json names anna too
    first = people_in(tmp_path / "one", url)
    first.counts()
    second = people_in(tmp_path / "two", url)
    counts = second.counts()
    assert counts["accounts"] == 1 and counts["feedback"] == 2  # anna once: the first
    assert counts["api_keys"] == 2  # each worker's key, both valid everywhere now
    assert all(second.api_keys.check(old_key(n)).key is not None for n in (3, 4))
    check = second.audit.verify()
    assert check.intact and check.entries == 3 + 4 + 8


def test_a_broken_old_audit_log_stops_the_import_with_one_line(tmp_path: Path) -> None:
    old_files(tmp_path)
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    lines[1] = lines[1].replace("anna", "bert")
    (tmp_path / "audit.jsonl").write_text("\n".join(lines) + "\n")
    people = people_in(tmp_path, None)
    with pytest.raises(DatabaseSetupError) as error:
        people.counts()
    assert "changed outside KORA from line 2" in str(error.value)
    assert "\n" not in str(error.value)
    assert (tmp_path / "audit.jsonl").exists()  # left for a person to look at
    assert not list(tmp_path.glob("audit.jsonl.imported*"))


def test_database_settings_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(DatabaseSetupError, match="no driver"):
        Database("oracle://x/y", data_dir=tmp_path).engine  # noqa: B018
    with pytest.raises(DatabaseSetupError, match="cannot be read"):
        Database("kein url", data_dir=tmp_path).engine  # noqa: B018
