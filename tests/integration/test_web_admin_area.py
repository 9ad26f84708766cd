"""The admin side of the real app on loopback: accounts, throttling, sessions, the proxy
header, the audit trail, uploads and the open files of twenty re-indexes.

The server runs with the chat behind login and trusts the user header only from
127.0.0.2: requests from that source address (an httpx transport bound to it) play the
city's proxy, everything from 127.0.0.1 is "anywhere else". The app's clock is the
test's, so throttling and idle expiry are checked by what the server reports.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import IndexedCopy
from tests.fakes import Clock
from tests.webapp import CHROMIUM, SCHARRENBACH, chromium, factory_with, start_app

pytestmark = pytest.mark.slow

PROXY = "127.0.0.2"
ANNA_PASSWORD = "Sommer-Regen-Brücke-7"
PAUL_PASSWORD = "Paul-fragt-nur-nach"


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, embedder: Any,
        indexed_copy: IndexedCopy) -> Iterator[Any]:
    from people import People
    from ui.app import build_app

    settings = indexed_copy(
        tmp_path_factory.mktemp("admin-web"), max_file_mb=1,
        chat_requires_login=True, trusted_user_header="X-Remote-User",
        trusted_proxies=[PROXY], admin_session_idle_minutes=30)
    accounts = People.open(settings).accounts
    accounts.add("anna", role="admin", password=ANNA_PASSWORD, actor="cli:test")
    accounts.add("paul", role="chat", password=PAUL_PASSWORD, actor="cli:test")
    accounts.add("kai", role="admin", password=None, actor="cli:test")  # signs in through the proxy only
    clock = Clock(now=1_000_000.0)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("KORA_ADMIN_PASSWORD", raising=False)
        demo: Any = build_app(settings, assistant_factory=factory_with(embedder), clock=clock)
    demo.kora_clock = clock
    yield start_app(demo, settings)
    demo.close()


def api(web: Any, name: str, data: list[Any], *, user: str | None = None,
        via_proxy: bool = False, forwarded_for: str | None = None) -> tuple[str, Any]:
    """Call a Gradio API endpoint over HTTP: ("complete", outputs) or ("error", message)."""
    headers = {}
    if user is not None:
        headers["X-Remote-User"] = user
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    transport = httpx.HTTPTransport(local_address=PROXY) if via_proxy else None
    with httpx.Client(base_url=web.kora_url, headers=headers, transport=transport,
                      timeout=120) as http:
        started = http.post(f"/gradio_api/call/{name}", json={"data": data})
        started.raise_for_status()
        stream = http.get(f"/gradio_api/call/{name}/{started.json()['event_id']}").text
    event = data_line = ""
    for line in stream.splitlines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data_line = line.split(":", 1)[1].strip()
    payload = json.loads(data_line) if data_line and data_line != "null" else None
    if event == "error":
        return "error", (payload or {}).get("error", "")
    return event, payload


def upload_via_http(web: Any, name: str, content: bytes, *, via_proxy: bool = True) -> Any:
    transport = httpx.HTTPTransport(local_address=PROXY) if via_proxy else None
    with httpx.Client(base_url=web.kora_url, transport=transport, timeout=60) as http:
        return http.post("/gradio_api/upload", files={"files": (name, content, "text/plain")})


def wait_until(condition: Any, timeout: float = 30) -> None:
    """Synchronise with the server (not a timing assertion): poll until it has acted."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the server did not act in time"
        time.sleep(0.05)


def login(web: Any, name: str = "anna", password: str = ANNA_PASSWORD) -> str:
    token, status, _ = web.admin.login(name, password, None)
    assert token, status
    return str(token)


def audit_entries(web: Any) -> list[dict[str, Any]]:
    return list(web.gate.audit.entries())


# --------------------------------------------------------------------------- the proxy


def test_proxy_user_is_trusted_only_from_the_proxy(web: Any) -> None:
    from ui import strings as S

    kind, outputs = api(web, "frage", [SCHARRENBACH, "alle"], user="kai", via_proxy=True)
    assert kind == "complete" and "Scharrenbach" in outputs[0][0]
    kind, message = api(web, "frage", [SCHARRENBACH, "alle"], user="kai")  # from 127.0.0.1
    assert (kind, message) == ("error", S.AUTH_HEADER_REFUSED)
    kind, message = api(web, "frage", [SCHARRENBACH, "alle"])  # chat behind login
    assert (kind, message) == ("error", S.CHAT_LOGIN_REQUIRED)
    # a client that claims to be forwarded by the proxy is still the address it is
    kind, message = api(web, "frage", [SCHARRENBACH, "alle"], user="kai",
                        forwarded_for=PROXY)
    assert (kind, message) == ("error", S.AUTH_HEADER_REFUSED)
    refused = [e for e in audit_entries(web) if e["action"] == "untrusted-header"]
    assert refused[-1]["account"] == "kai" and refused[-1]["client"] == "127.0.0.1"


def test_proxy_admin_uploads_through_the_api_and_the_audit_names_them(web: Any) -> None:
    corpus = web.settings.corpus_dir
    content = b"# Parkraum\n\nDie Stadt Beispielburg erprobt Sensoren auf Parkplaetzen.\n"
    stored = upload_via_http(web, "../../ausbruch.md", content)
    assert stored.status_code == 200
    kind, outputs = api(web, "hochladen", [[{"path": stored.json()[0],
                                              "meta": {"_type": "gradio.FileData"}}]],
                        user="kai", via_proxy=True, forwarded_for="192.168.10.44")
    assert kind == "complete" and outputs[0].startswith("Gespeichert: ausbruch.md"), outputs
    assert (corpus / "uploads" / "ausbruch.md").read_bytes() == content
    root = corpus.parent
    assert [p for p in root.rglob("ausbruch.md")] == [corpus / "uploads" / "ausbruch.md"]
    entry = audit_entries(web)[-1]
    assert (entry["action"], entry["account"], entry["client"]) == ("upload", "kai",
                                                                    "192.168.10.44")
    assert entry["documents"] == [{"doc_id": "uploads/ausbruch.md",
                                   "sha256": hashlib.sha256(content).hexdigest()}]
    # the same call without the proxy: refused, nothing written
    kind, outputs = api(web, "hochladen", [[{"path": stored.json()[0],
                                              "meta": {"_type": "gradio.FileData"}}]])
    assert "Nicht angemeldet" in outputs[0]
    (corpus / "uploads" / "ausbruch.md").unlink()


def test_upload_over_the_size_limit_stops_at_the_server(web: Any) -> None:
    refused = upload_via_http(web, "gross.txt", b"Text " * 400_000)  # 2 MB, limit 1 MB
    assert refused.status_code == 413 and "maximum allowed size" in refused.text
    assert not (web.settings.corpus_dir / "uploads" / "gross.txt").exists()


# --------------------------------------------------------------------------- sessions


def test_session_expires_after_idle_minutes(web: Any, tmp_path: Path) -> None:
    token = login(web)
    document = tmp_path / "notiz.md"
    document.write_text("# Notiz\n\nEine kurze Notiz zum Winterdienst.\n", encoding="utf-8")
    web.kora_clock.advance(29 * 60)
    rows, _ = web.admin.documents(token, None)
    assert rows  # still logged in: activity restarts the idle time
    web.kora_clock.advance(31 * 60)
    assert "abgelaufen" in web.admin.upload([str(document)], token, None)
    assert not (web.settings.corpus_dir / "uploads" / "notiz.md").exists()
    assert audit_entries(web)[-1]["action"] == "session-expired"


def test_chat_account_may_ask_but_not_administer(web: Any) -> None:
    token = login(web, "paul", PAUL_PASSWORD)
    assert "nur Fragen stellen" in web.admin.reindex(token, None)
    steps = list(web.chat.ask(SCHARRENBACH, "alle", [], [], token, None))
    assert "Scharrenbach" in steps[-1][0][-1]["content"]
    refused = list(web.chat.ask(SCHARRENBACH, "alle", [], [], None, None))
    assert "Bitte melden Sie sich an" in refused[-1][0][-1]["content"]


# --------------------------------------------------------------------------- audit trail


def test_every_admin_action_lands_in_the_audit_log(web: Any, tmp_path: Path) -> None:
    token = login(web)
    content = "# Streusalz\n\nDer Bauhof Beispielburg streut seit 2026 weniger Salz.\n"
    document = tmp_path / "streusalz.md"
    document.write_text(content, encoding="utf-8")
    sha = hashlib.sha256(content.encode()).hexdigest()
    start = len(audit_entries(web))
    assert "Gespeichert" in web.admin.upload([str(document)], token, None)
    assert "1 hinzugefügt" in web.admin.reindex(token, None)
    web.feedback.add(rating=1, question="Streusalz?", answer="weniger", sources=[])
    csv_path, status = web.admin.export(token, None)
    assert "Streusalz?" in Path(csv_path).read_text(encoding="utf-8") and "1 Rückmeldungen" \
        in status
    result = web.admin.delete("uploads/streusalz.md", True, token, None)
    assert "Gelöscht" in result and "1 entfernt" in result
    assert web.admin.logout(token, None)[1] == "Abgemeldet."
    new = audit_entries(web)[start:]
    assert [e["action"] for e in new] == ["upload", "reindex", "feedback-export", "delete",
                                          "reindex", "logout"]
    assert {e["account"] for e in new} == {"anna"}
    assert new[0]["documents"] == [{"doc_id": "uploads/streusalz.md", "sha256": sha}]
    assert new[1]["documents"] == [{"doc_id": "uploads/streusalz.md", "sha256": sha,
                                    "change": "added"}]
    assert new[1]["detail"]["added"] == 1 and new[1]["detail"]["failed"] == []
    assert new[3]["documents"] == [{"doc_id": "uploads/streusalz.md", "sha256": sha}]
    assert new[4]["documents"][0]["change"] == "removed" and new[4]["detail"]["removed"] == 1
    assert web.gate.audit.verify().intact
    # the view and the CSV export are for admins only, and the export is audited too
    assert web.admin.audit_rows(None, None) == ([], "")
    token = login(web)
    rows, note = web.admin.audit_rows(token, None)
    assert rows[0][3] == "login" and "letzten" in note  # newest first
    csv_path, _ = web.admin.export_audit(token, None)
    exported = Path(csv_path).read_text(encoding="utf-8")
    assert "uploads/streusalz.md" in exported and "feedback-export" in exported
    assert audit_entries(web)[-1]["action"] == "audit-export"


def test_refusals_are_audited_as_codes_and_shown_in_german(web: Any, tmp_path: Path) -> None:
    token = login(web)
    program = tmp_path / "programm.exe"
    program.write_bytes(b"MZ")
    shown = web.admin.upload([str(program)], token, None)
    assert shown.startswith("Abgelehnt: programm.exe – Dateityp nicht unterstützt (erlaubt: ")
    entry = audit_entries(web)[-1]
    assert (entry["action"], entry["outcome"]) == ("upload", "refused")
    assert entry["detail"]["reason"] == "type" and ".md" in entry["detail"]["detail"]
    assert not (web.settings.corpus_dir / "uploads" / "programm.exe").exists()
    assert web.admin.delete("gibt-es-nicht.md", True, token, None) \
        == "Unbekanntes Dokument: gibt-es-nicht.md"
    entry = audit_entries(web)[-1]
    assert (entry["action"], entry["outcome"], entry["detail"]) == ("delete", "refused",
                                                                    {"reason": "unknown"})


# --------------------------------------------------------------------------- resources


def open_files() -> dict[str, int]:
    counts: dict[str, int] = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed between listing and reading
            continue
        counts[target] = counts.get(target, 0) + 1
    return counts


def kora_files(counts: dict[str, int], data_dir: Path) -> dict[str, int]:
    """Open files KORA manages itself (Chroma's own connection pool excluded)."""
    return {path: n for path, n in counts.items()
            if path.startswith(str(data_dir)) and "/chroma/" not in path}


def test_open_files_stay_flat_over_twenty_reindexes(web: Any) -> None:
    token = login(web)
    settings = web.settings
    changing = settings.corpus_dir / "uploads" / "wechsel.md"
    changing.parent.mkdir(exist_ok=True)

    def reindex(number: int) -> None:
        changing.write_text(f"# Wechsel\n\nFassung {number} dieses Dokuments.\n",
                            encoding="utf-8")
        assert "Indexierung abgeschlossen" in web.admin.reindex(token, None)

    for number in range(3):  # warm-up: the first answers and writes open lazily
        reindex(number)
    before = open_files()
    totals = []
    for number in range(3, 23):
        reindex(number)
        totals.append(sum(open_files().values()))
    after = open_files()
    assert kora_files(after, settings.data_dir) == kora_files(before, settings.data_dir)
    chroma_db = str(settings.data_dir / "chroma" / "chroma.sqlite3")
    # Chroma keeps a bounded pool of connections; a leak would add one per re-index
    assert after.get(chroma_db, 0) <= 12
    assert max(totals) - sum(before.values()) <= 12
    # flat over the last fifteen re-indexes: a leak adds one file per re-index, while
    # Chroma's connection pool may open or drop one in between (66 vs 67 seen)
    assert totals[-1] - totals[4] <= 2, totals
    print(f"open files: {sum(before.values())} before, {totals} during 20 re-indexes")
    changing.unlink()
    web.admin.reindex(token, None)


# --------------------------------------------------------------------------- browser


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM),
                    reason=f"browser tests need Debian's chromium at {CHROMIUM}")
def test_login_throttling_and_logout_in_the_browser(web: Any) -> None:
    with chromium() as browser:
        page = browser.new_context().new_page()
        page.goto(web.kora_url)
        page.locator("#kora-frage textarea").fill(SCHARRENBACH)
        page.locator("#kora-senden").click()
        page.locator("#kora-chat").get_by_text("Bitte melden Sie sich an").wait_for()

        status = page.locator("#kora-anmeldestatus")
        page.locator("#kora-konto input, #kora-konto textarea").first.fill("anna")

        def attempt(password: str, expected: str) -> None:
            written = len(audit_entries(web))
            page.locator("#kora-passwort input").fill(password)
            page.locator("#kora-anmelden").click()
            wait_until(lambda: len(audit_entries(web)) > written)  # the server decided
            status.get_by_text(expected).wait_for()

        for number in range(4):
            attempt(f"falsch-{number}", "Anmeldung fehlgeschlagen")
        attempt("falsch-4", "Bitte warten Sie 30 Sekunden")
        attempt(ANNA_PASSWORD, "Bitte warten Sie 30 Sekunden")  # right, but too soon
        web.kora_clock.advance(30)
        attempt(ANNA_PASSWORD, "Angemeldet als anna")

        page.locator("#kora-frage textarea").fill(SCHARRENBACH)
        page.locator("#kora-senden").click()
        page.locator("#kora-chat").get_by_text("Scharrenbach").first.wait_for(timeout=60_000)
        page.get_by_role("tab", name="Verwaltung").click()
        page.wait_for_function("() => document.querySelector('#kora-protokoll')"
                               ".textContent.includes('throttled')")
        page.locator("#kora-abmelden").click()
        status.get_by_text("Abgemeldet.").wait_for()
    logins = [(e["outcome"], e["detail"].get("wait_seconds"))
              for e in audit_entries(web) if e["action"] == "login" and e["account"] == "anna"]
    assert logins[-7:] == [("failed", None)] * 4 + [("failed", 30), ("throttled", 30),
                                                    ("ok", None)]
    assert audit_entries(web)[-1]["action"] == "logout"
