"""The real app in a real headless Chromium: chat, citations, sessions, admin, security."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, IndexedCopy
from tests.webapp import (
    BROWSER_TESTS,
    PASSWORD,
    SCHARRENBACH,
    Page,
    chromium,
    factory_with,
    start_app,
)

SCREENSHOTS = REPO / "docs" / "screenshots"
RECKLINGHAUSEN = "Was erkennt der Prototyp des Kreises Recklinghausen in Drohnenbildern?"

pytestmark = BROWSER_TESTS

MUSTERSTADT = """---
title: "Kreis Musterstadt: KI-Assistent für Baumpflanzungen"
type: projektmeldung
date: "2026-02-01"
---
# Kreis Musterstadt: KI-Assistent für Baumpflanzungen

Der Kreis Musterstadt testet einen KI-Assistenten für Baumpflanzungen im Stadtpark.
Der Assistent schlägt Standorte für neue Linden und Eichen vor und berücksichtigt dabei
Leitungen im Boden.
"""

HOSTILE = """---
title: "Kreis Böswald: Formular für Sperrmüll"
type: projektmeldung
date: "2026-01-10"
---
# Kreis Böswald testet ein Online-Formular für Sperrmüll

Der Kreis Böswald testet ein Online-Formular für die Anmeldung von Sperrmüll. <script>window.__pwned=1</script> Das Sperrmüll-Formular prüft die Angaben automatisch. <img src=x onerror="window.__pwned=1"> Bürgerinnen erhalten sofort einen Sperrmüll-Abholtermin. ![x](http://example.com/x.png) Der Sperrmüll-Test in Böswald läuft seit Januar 2026.
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, embedder: Any,
        indexed_copy: IndexedCopy) -> Iterator[Any]:
    from ui.app import build_app

    base = tmp_path_factory.mktemp("browser")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KORA_ADMIN_PASSWORD", PASSWORD)
        settings = indexed_copy(base)
        demo: Any = build_app(settings, assistant_factory=factory_with(embedder))
    yield start_app(demo, settings)
    demo.close()


@pytest.fixture(scope="module")
def app_url(app: Any) -> str:
    return str(app.kora_url)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def test_question_citation_and_sources_panel(browser: Any, app_url: str) -> None:
    session = Page(browser, app_url)
    session.ask(SCHARRENBACH, "Scharrenbach")
    chat = session.page.locator("#kora-chat")
    assert "[1]" in chat.inner_text()
    assert "extraktiv" in session.page.locator("#kora-badge").inner_text()
    passage = session.page.locator("#quelle-1 .kora-passage")
    assert not passage.is_visible()  # closed until its citation is clicked
    chat.locator('a[href="#quelle-1"]').first.click()
    passage.wait_for(state="visible", timeout=5_000)
    assert "Scharrenbach" in passage.inner_text()
    assert "Scharrenbach" in session.page.locator("#quelle-1 mark").first.inner_text()
    session.page.locator("textarea").last.fill("Gute Antwort")
    session.page.get_by_role("button", name="Hilfreich").first.click()
    session.page.get_by_text("Danke für Ihre Rückmeldung.").wait_for()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    session.page.screenshot(path=str(SCREENSHOTS / "chat.png"), full_page=True)
    assert session.off_machine_requests() == []
    session.close()


def test_two_sessions_keep_separate_conversations(browser: Any, app_url: str) -> None:
    first, second = Page(browser, app_url), Page(browser, app_url)
    first.ask(SCHARRENBACH, "Scharrenbach")
    second.ask(RECKLINGHAUSEN, "Recklinghausen")
    first_chat = first.page.locator("#kora-chat").inner_text()
    second_chat = second.page.locator("#kora-chat").inner_text()
    assert "Jahrestagung 2025 eröffnet" in first_chat
    assert "Drohnenbildern?" not in first_chat
    assert "Drohnenbildern?" in second_chat
    assert "Jahrestagung 2025 eröffnet" not in second_chat
    # a reload starts a fresh session: the conversation does not come back
    first.page.reload()
    first.page.locator("#kora-frage textarea").wait_for()
    assert "Scharrenbach" not in first.page.locator("#kora-chat").inner_text()
    first.close()
    second.close()


def test_admin_upload_reindex_and_hostile_document(browser: Any, app_url: str,
                                                   tmp_path: Path) -> None:
    from gradio_client import Client, handle_file

    baum = tmp_path / "musterstadt-baeume.md"
    baum.write_text(MUSTERSTADT, encoding="utf-8")
    hostile = tmp_path / "boeswald-sperrmuell.md"
    hostile.write_text(HOSTILE, encoding="utf-8")
    # an API caller has no logged-in session: refused on the server
    refused = Client(app_url, verbose=False).predict([handle_file(str(baum))],
                                                     api_name="/hochladen")
    assert "Nicht angemeldet" in refused

    session = Page(browser, app_url)
    page = session.page
    page.get_by_role("tab", name="Verwaltung").click()
    page.locator("#kora-passwort input").fill("falsch")
    page.locator("#kora-anmelden").click()
    page.get_by_text("Anmeldung fehlgeschlagen").wait_for()
    page.locator("#kora-dateien input[type=file]").set_input_files([str(baum), str(hostile)])
    page.wait_for_function(
        "() => document.querySelector('#kora-dateien').innerText.includes('boeswald')")
    page.locator("#kora-hochladen").click()
    status = page.locator("#kora-upload-status textarea")
    page.wait_for_function(
        "() => document.querySelector('#kora-upload-status textarea').value.length > 0")
    assert "Nicht angemeldet" in status.input_value()

    page.locator("#kora-passwort input").fill(PASSWORD)
    page.locator("#kora-anmelden").click()
    page.get_by_text("Angemeldet mit dem gemeinsamen Passwort").wait_for()
    page.locator("#kora-dokumente").get_by_text("konferenzen/jahrestagung-2025.md").wait_for()
    # the same files, now with a logged-in session
    page.locator("#kora-hochladen").click()
    page.wait_for_function(
        "() => document.querySelector('#kora-upload-status textarea').value"
        ".includes('boeswald')")
    assert "Gespeichert: musterstadt-baeume.md" in status.input_value()
    assert "Gespeichert: boeswald-sperrmuell.md" in status.input_value()
    page.locator("#kora-neu-indexieren").click()
    page.wait_for_function(
        "() => document.querySelector('#kora-index-status textarea').value"
        ".includes('Indexierung abgeschlossen')", timeout=120_000)
    report = page.locator("#kora-index-status textarea").input_value()
    assert "2 hinzugefügt" in report and "0 fehlgeschlagen" in report
    # the document list and the audit trail follow the re-index
    page.wait_for_function("() => document.querySelector('#kora-dokumente').textContent"
                           ".includes('uploads/musterstadt-baeume.md')")
    page.wait_for_function("() => document.querySelector('#kora-protokoll').textContent"
                           ".includes('reindex')")
    page.wait_for_timeout(500)  # let the tables finish fading in before the screenshot
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "admin.png"), full_page=True)

    page.get_by_role("tab", name="Fragen").click()
    session.ask("Welcher Kreis testet einen KI-Assistenten für Baumpflanzungen im Stadtpark?",
                "Musterstadt")
    assert "uploads/musterstadt-baeume.md" in (page.locator("#kora-quellen").text_content()
                                               or "")

    session.ask("Was testet der Kreis Böswald für die Anmeldung von Sperrmüll?", "Böswald")
    chat_text = page.locator("#kora-chat").inner_text()
    panel_text = page.locator("#kora-quellen").text_content() or ""
    assert "uploads/boeswald-sperrmuell.md" in panel_text
    assert "<script>window.__pwned=1</script>" in panel_text  # shown as text
    assert "![x](http://example.com/x.png)" in panel_text + chat_text
    assert page.evaluate("() => typeof window.__pwned") == "undefined"
    assert page.locator("#kora-chat img, #kora-quellen img, #kora-chat script").count() == 0
    assert session.off_machine_requests() == []
    session.close()


def test_admin_delete_removes_document_from_answers(app: Any) -> None:
    """Deleting an uploaded file removes it from disk and, re-indexed with prune, from
    the answers (the upload test above normally provides the file)."""
    upload_file = app.settings.corpus_dir / "uploads" / "musterstadt-baeume.md"
    token, _, _ = app.admin.login("", PASSWORD, None)
    assert token
    if not upload_file.exists():
        upload_file.parent.mkdir(exist_ok=True)
        upload_file.write_text(MUSTERSTADT, encoding="utf-8")
        assert "Indexierung abgeschlossen" in app.admin.reindex(token, None)
    delete = app.admin.delete
    assert "Nicht angemeldet" in delete("uploads/musterstadt-baeume.md", True, None, None)
    assert "bestätigen" in delete("uploads/musterstadt-baeume.md", False, token, None)
    assert upload_file.exists()
    result = delete("uploads/musterstadt-baeume.md", True, token, None)
    assert "Gelöscht" in result and "1 entfernt" in result
    assert not upload_file.exists()
    _, sources, _ = app.chat.frage(
        "Welcher Kreis testet einen KI-Assistenten für Baumpflanzungen im Stadtpark?")
    assert "musterstadt-baeume.md" not in sources
    rows, _ = app.admin.documents(token, None)
    assert "uploads/musterstadt-baeume.md" not in [row[0] for row in rows]
    app.feedback.add(rating=-1, question="Baumpflanzungen?", answer="-", sources=[],
                          comment="Quelle fehlt jetzt")
    csv_path, _ = app.admin.export(token, None)
    assert "Quelle fehlt jetzt" in Path(csv_path).read_text(encoding="utf-8")
