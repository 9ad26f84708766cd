"""Named accounts (scrypt hashes, 0600), the audit log's chain, throttling and sessions.

Throttling and session expiry run on a clock the test moves: the assertions are on the
wait the server reports and on what it refuses, never on wall-clock time.
"""

from __future__ import annotations

import json
import multiprocessing
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from rag.settings import Settings
from tests.fakes import Clock
from ui.accounts import AccountError, AccountStore, hash_password, verify_password
from ui.audit import AuditLog, entries_csv
from ui.auth import Gate, Throttle

PASSWORD = "Sommer-Regen-Brücke-7"


def request(host: str = "10.0.0.7", **headers: str) -> Any:
    """What Gradio hands a handler: the peer address and the headers."""
    return SimpleNamespace(client=SimpleNamespace(host=host), headers=headers)


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


def test_account_store_keeps_only_hashes_owner_readable(tmp_path: Path) -> None:
    store = AccountStore.in_data_dir(tmp_path)
    store.add("anna", role="admin", password=PASSWORD)
    store.add("kai.sso@stadt.example", role="admin", password=None)
    store.add("paul", role="chat", password="Paul-fragt-nur-nach")
    raw = store.path.read_text(encoding="utf-8")
    assert PASSWORD not in raw and "Paul-fragt" not in raw
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.authenticate("anna", PASSWORD).name == "anna"  # type: ignore[union-attr]
    assert store.authenticate("anna", "falsch-falsch-falsch") is None
    assert store.authenticate("kai.sso@stadt.example", "") is None  # proxy sign-in only
    assert store.authenticate("niemand", PASSWORD) is None
    before = store.get("anna")
    store.set_password("anna", "Ein-neues-Passwort-2026")
    after = store.get("anna")
    assert before and after and before.fingerprint != after.fingerprint
    assert store.authenticate("anna", PASSWORD) is None
    store.remove("paul")
    assert sorted(store.accounts()) == ["anna", "kai.sso@stadt.example"]


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
    store = AccountStore.in_data_dir(tmp_path)
    with pytest.raises(AccountError, match=message):
        store.add(name, role="admin", password=password)
    assert store.accounts() == {}


def test_duplicate_and_unknown_accounts(tmp_path: Path) -> None:
    store = AccountStore.in_data_dir(tmp_path)
    store.add("anna", role="admin", password=None)
    with pytest.raises(AccountError, match="exists already"):
        store.add("anna", role="admin", password=None)
    with pytest.raises(AccountError, match="No account"):
        store.remove("bert")
    with pytest.raises(AccountError, match="No account"):
        store.set_password("bert", PASSWORD)


def test_loose_file_mode_is_reported_and_fixed(tmp_path: Path) -> None:
    store = AccountStore.in_data_dir(tmp_path)
    store.add("anna", role="admin", password=None)
    store.path.chmod(0o644)
    assert store.loose_permissions() is True
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.loose_permissions() is False


# --------------------------------------------------------------------------- audit log


def test_audit_log_appends_and_survives_reopening(tmp_path: Path) -> None:
    log = AuditLog.in_data_dir(tmp_path)
    log.append(action="login", account="anna", client="10.0.0.7")
    log.append(action="upload", account="anna", client="10.0.0.7",
               documents=[{"doc_id": "uploads/a.md", "sha256": "ab" * 32}])
    reopened = AuditLog.in_data_dir(tmp_path)
    entries = reopened.entries()
    assert [e["action"] for e in entries] == ["login", "upload"]
    assert entries[1]["documents"][0]["sha256"] == "ab" * 32
    assert {"time", "account", "client", "action", "outcome", "documents", "detail",
            "hash"} <= set(entries[0])
    assert reopened.verify().intact and reopened.verify().entries == 2
    assert stat.S_IMODE(reopened.path.stat().st_mode) == 0o600
    assert reopened.entries(limit=1)[0]["action"] == "upload"
    rows = entries_csv(entries).splitlines()
    assert rows[0] == "time,account,client,action,outcome,documents,detail"
    assert "uploads/a.md (abababababab)" in rows[2]


@pytest.mark.parametrize("tamper", ["edit", "delete", "reorder"])
def test_changes_outside_kora_break_the_chain(tmp_path: Path, tamper: str) -> None:
    log = AuditLog.in_data_dir(tmp_path)
    for action in ("login", "upload", "delete", "logout"):
        log.append(action=action, account="anna", client="10.0.0.7")
    lines = log.path.read_text(encoding="utf-8").splitlines()
    if tamper == "edit":
        lines[1] = lines[1].replace('"anna"', '"bert"')
    elif tamper == "delete":
        del lines[2]
    else:
        lines[1], lines[2] = lines[2], lines[1]
    log.path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    check = log.verify()
    assert not check.intact and check.first_broken_line == 2 + (tamper == "delete")
    log.append(action="login", account="anna", client="10.0.0.7")  # still appends


def test_a_line_cut_short_by_a_crash_does_not_swallow_the_next(tmp_path: Path) -> None:
    log = AuditLog.in_data_dir(tmp_path)
    log.append(action="login", account="anna", client="x")
    with open(log.path, "ab") as handle:
        handle.write(b'{"action": "upl')
    log.append(action="logout", account="anna", client="x")
    entries = log.entries()
    assert [e["action"] for e in entries] == ["login", "unreadable-line", "logout"]


def _append_many(path: str, worker: int) -> None:
    log = AuditLog(Path(path))
    for number in range(25):
        log.append(action="upload", account=f"worker-{worker}", client="x",
                   detail={"n": number})


def test_parallel_writers_keep_the_chain_whole(tmp_path: Path) -> None:
    path = str(tmp_path / "audit.jsonl")
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_many, args=(path, w)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    check = AuditLog(Path(path)).verify()
    assert check.intact and check.entries == 100
    assert all(json.loads(line) for line in Path(path).read_text().splitlines())


# --------------------------------------------------------------------------- throttling


def test_throttle_waits_grow_after_five_failures_and_reset_on_success() -> None:
    clock = Clock()
    throttle = Throttle(max_failures=5, delay=30, max_delay=900, clock=clock)
    waits = [throttle.failure("account:anna") for _ in range(11)]
    assert waits == [0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900]
    assert throttle.wait_seconds("account:anna", "client:x") == 900
    clock.advance(899)
    assert throttle.wait_seconds("account:anna") == 1
    clock.advance(1)
    assert throttle.wait_seconds("account:anna") == 0
    throttle.success("account:anna")
    assert [throttle.failure("account:anna") for _ in range(5)] == [0, 0, 0, 0, 30]


def gate_with(tmp_path: Path, clock: Clock, **overrides: Any) -> Gate:
    settings = Settings.load(data_dir=tmp_path, **overrides)
    return Gate(settings, AccountStore.in_data_dir(tmp_path), AuditLog.in_data_dir(tmp_path),
                clock=clock)


@pytest.fixture(scope="module")
def accounts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two hashed accounts, made once (each hash costs half a second on purpose)."""
    folder = tmp_path_factory.mktemp("accounts")
    store = AccountStore.in_data_dir(folder)
    store.add("anna", role="admin", password=PASSWORD)
    store.add("paul", role="chat", password="Paul-fragt-nur-nach")
    store.add("kai", role="admin", password=None)
    return folder


def copy_accounts(accounts_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "accounts.json"
    target.write_bytes((accounts_dir / "accounts.json").read_bytes())
    target.chmod(0o600)


def test_login_throttled_per_account_across_clients(accounts_dir: Path, tmp_path: Path) -> None:
    copy_accounts(accounts_dir, tmp_path)
    clock = Clock()
    gate = gate_with(tmp_path, clock)
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


def test_login_throttled_per_client_across_accounts(accounts_dir: Path, tmp_path: Path) -> None:
    copy_accounts(accounts_dir, tmp_path)
    clock = Clock()
    gate = gate_with(tmp_path, clock)
    for name in ("admin", "root", "anna", "verwaltung", "test"):  # one client, many names
        assert not gate.login(name, "123456", request("198.51.100.9")).ok
    blocked = gate.login("paul", "Paul-fragt-nur-nach", request("198.51.100.9"))
    assert not blocked.ok and blocked.wait_seconds == 30
    assert gate.login("paul", "Paul-fragt-nur-nach", request("10.0.0.8")).ok


def test_sessions_expire_when_idle_and_end_with_the_account(accounts_dir: Path,
                                                            tmp_path: Path) -> None:
    copy_accounts(accounts_dir, tmp_path)
    clock = Clock()
    gate = gate_with(tmp_path, clock, admin_session_idle_minutes=30)
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
    gate.accounts.remove("anna")  # `kora admin remove anna` while she is logged in
    assert gate.principal(token, request(), role="admin") == (None, "not-logged-in")


def test_chat_role_cannot_administer(accounts_dir: Path, tmp_path: Path) -> None:
    copy_accounts(accounts_dir, tmp_path)
    gate = gate_with(tmp_path, Clock())
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
    gate.accounts.add("anna", role="admin", password=None)
    assert gate.principal(result.token, request(), role="admin") == (None, "not-logged-in")
    assert not gate.login("", "gemeinsam-geheim", request()).ok


def test_trusted_header_only_from_the_proxy(accounts_dir: Path, tmp_path: Path) -> None:
    copy_accounts(accounts_dir, tmp_path)
    gate = gate_with(tmp_path, Clock(), trusted_user_header="X-Remote-User",
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
