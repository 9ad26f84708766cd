"""`kora admin`, `kora audit`, `kora feedback purge` and the start-up purge, as an
operator's scripts use them: passwords on stdin, JSON output, exit codes."""

from __future__ import annotations

import json
import sqlite3
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import REPO

PASSWORD = "Sommer-Regen-Brücke-7"


def kora(*args: str, env: dict[str, str], stdin: str | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ui.cli", *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=120, check=False,
                          cwd=REPO)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    import os

    clean = {k: v for k, v in os.environ.items() if not k.startswith("KORA_")}
    clean.update({"KORA_DATA_DIR": str(tmp_path / "data"),
                  "KORA_CONFIG": str(tmp_path / "absent.toml"), "PYTHONPATH": str(REPO)})
    return clean


def test_admin_accounts_from_the_command_line(env: dict[str, str], tmp_path: Path) -> None:
    data = tmp_path / "data"
    added = kora("admin", "add", "anna", env=env, stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert "anna" in added.stdout and PASSWORD not in added.stdout + added.stderr
    assert kora("admin", "add", "kai", "--no-password", env=env).returncode == 0
    assert kora("admin", "add", "paul", "--role", "chat", env=env,
                stdin="Paul-fragt-nur-nach\n").returncode == 0
    stored = (data / "people.sqlite").read_bytes()
    assert PASSWORD.encode() not in stored and b"scrypt$" in stored
    assert stat.S_IMODE((data / "people.sqlite").stat().st_mode) == 0o600

    listed = json.loads(kora("admin", "list", "--json", env=env).stdout)
    assert [(a["name"], a["role"], a["sign_in"]) for a in listed["accounts"]] == [
        ("anna", "admin", "password"), ("kai", "admin", "proxy"), ("paul", "chat", "password")]
    assert listed["env_password"] == "unset"
    with_env = kora("admin", "list", env={**env, "KORA_ADMIN_PASSWORD": "alt-und-geteilt"})
    assert "KORA_ADMIN_PASSWORD is set but ignored" in with_env.stdout
    assert "alt-und-geteilt" not in with_env.stdout

    assert kora("admin", "passwd", "anna", env=env,
                stdin="Ein-neues-Passwort-2026\n").returncode == 0
    assert kora("admin", "remove", "paul", env=env).returncode == 0
    audit = json.loads(kora("audit", "--json", env=env).stdout)
    assert audit["intact"] is True
    assert [(e["action"], e["detail"]["target"]) for e in audit["entries"]] == [
        ("account-add", "anna"), ("account-add", "kai"), ("account-add", "paul"),
        ("account-passwd", "anna"), ("account-remove", "paul")]
    assert all(e["account"].startswith("cli:") and e["client"] == "local"
               for e in audit["entries"])
    assert PASSWORD.encode() not in (data / "people.sqlite").read_bytes()
    status = json.loads(kora("status", "--json", env=env).stdout)["people_data"]
    assert status["database"] == f"sqlite:{(data / 'people.sqlite').resolve()}"
    assert (status["accounts"], status["audit_entries"]) == (2, 5)


@pytest.mark.parametrize("args, stdin, message", [
    (["admin", "add", "anna"], "", "No password on stdin"),
    (["admin", "add", "anna"], "kurz\n", "too short"),
    (["admin", "add", "anna mit leerzeichen"], PASSWORD + "\n", "Invalid account name"),
    (["admin", "passwd", "niemand"], PASSWORD + "\n", "No account"),
    (["admin", "remove", "niemand"], None, "No account"),
])
def test_admin_mistakes_are_one_line_usage_errors(env: dict[str, str], args: list[str],
                                                  stdin: str | None, message: str) -> None:
    result = kora(*args, env=env, stdin=stdin)
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_passwords_are_never_taken_from_argv(env: dict[str, str]) -> None:
    result = kora("admin", "add", "anna", "--password", PASSWORD, env=env)
    assert result.returncode == 2 and "unrecognized arguments" in result.stderr


def test_audit_reports_a_tampered_log(env: dict[str, str], tmp_path: Path) -> None:
    assert kora("admin", "add", "kai", "--no-password", env=env).returncode == 0
    assert kora("admin", "remove", "kai", env=env).returncode == 0
    with sqlite3.connect(tmp_path / "data" / "people.sqlite") as connection:
        connection.execute("UPDATE audit SET record = replace(record, '\"kai\"', '\"bob\"')"
                           " WHERE seq = 1")
    connection.close()
    result = kora("audit", env=env)
    assert result.returncode == 1
    assert "changed outside KORA from entry 1" in result.stderr
    assert "account-remove" in result.stdout  # still shown


def age_feedback(database: Path, question: str, days: int) -> None:
    stamp = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE feedback SET created_at = ? WHERE question = ?",
                           (stamp, question))


def test_feedback_purge_deletes_old_entries_for_good(env: dict[str, str],
                                                     tmp_path: Path) -> None:
    from people import People
    from rag.settings import Settings

    data = tmp_path / "data"
    store = People.open(Settings.load(data_dir=data), purge_feedback=False).feedback
    for question in ("Frau Meier aus Zimmer 12 fragt nach Urlaub", "Wie alt bin ich?",
                     "Was ist URBAN.KI?"):
        store.add(rating=1, question=question, answer="-", sources=[])
    store.database.close()
    age_feedback(data / "people.sqlite", "Frau Meier aus Zimmer 12 fragt nach Urlaub", 120)
    age_feedback(data / "people.sqlite", "Wie alt bin ich?", 40)
    assert stat.S_IMODE((data / "people.sqlite").stat().st_mode) == 0o600

    default = json.loads(kora("feedback", "purge", "--json", env=env).stdout)
    # the retention covers the unanswered questions too (issue 21): counted apart
    assert default == {"removed": 1, "older_than_days": 90, "unanswered_removed": 0}
    raw = b"".join(path.read_bytes() for path in data.glob("people.sqlite*"))
    assert b"Frau Meier" not in raw  # overwritten on disk, not just unlinked from the table
    shorter = kora("feedback", "purge", "--older-than", "30", env=env)
    assert shorter.returncode == 0 and "1 feedback entries older than 30 days" in shorter.stdout
    remaining = [row["question"] for row in store.rows()]
    assert remaining == ["Was ist URBAN.KI?"]
    bad = kora("feedback", "purge", "--older-than", "-3", env=env)
    assert bad.returncode == 2
    purges = [e for e in json.loads(kora("audit", "--json", env=env).stdout)["entries"]
              if e["action"] == "feedback-purge"]
    assert [e["detail"]["removed"] for e in purges] == [1, 1]


def test_serve_start_purges_and_says_how_admins_sign_in(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from people import People
    from rag.settings import Settings
    from ui.app import start_checks

    settings = Settings.load(data_dir=tmp_path / "data", feedback_retention_days=7)
    people = People.open(settings, purge_feedback=False)
    people.feedback.add(rating=-1, question="alt", answer="-", sources=[])
    people.feedback.add(rating=1, question="neu", answer="-", sources=[])
    age_feedback(settings.data_dir / "people.sqlite", "alt", 8)
    monkeypatch.setenv("KORA_ADMIN_PASSWORD", "gemeinsam-geheim")
    lines = start_checks(settings)
    assert lines[0] == f"Konten, Protokoll und Rückmeldungen: {people.database.location}"
    assert lines[1] == "Rückmeldungen älter als 7 Tage gelöscht: 1."
    assert "gemeinsames Passwort aus KORA_ADMIN_PASSWORD" in lines[2]
    assert [r["question"] for r in people.feedback.rows()] == ["neu"]
    entry = people.audit.entries()[-1]
    assert (entry["action"], entry["account"], entry["detail"]["removed"]) == (
        "feedback-purge", "system", 1)


def test_config_never_prints_secrets(env: dict[str, str]) -> None:
    env = {**env, "KORA_OPENAI_API_KEY": "sk-geheim-123", "KORA_ADMIN_PASSWORD": "pw-geheim",
           "KORA_DATABASE_URL": "postgresql+psycopg://kora:db-geheim@10.0.0.40/kora"}
    for args in (["config"], ["config", "--json"]):
        result = kora(*args, env=env)
        assert result.returncode == 0
        assert "sk-geheim-123" not in result.stdout and "pw-geheim" not in result.stdout
        assert "db-geheim" not in result.stdout
    assert json.loads(kora("config", "--json", env=env).stdout)["openai_api_key"] == "***"
    assert json.loads(kora("config", "--json", env=env).stdout)["database_url"] == \
        "postgresql+psycopg://kora:***@10.0.0.40/kora"
    shown = json.loads(kora("config", "--json", env=env).stdout)
    assert shown["feedback_retention_days"] == 90 and shown["chat_requires_login"] is False
