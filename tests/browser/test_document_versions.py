"""The admin's replacement flow and the preview in a real headless Chromium: upload a new
version with "ersetzt Dokument …", see in "Vorschau" what the re-index would do (nothing
changes), re-index, find the older version listed as replaced and no longer answering;
a large removal needs the second confirmation and is audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IndexedCopy
from tests.webapp import BROWSER_TESTS, PASSWORD, Page, chromium, factory_with, start_app

pytestmark = BROWSER_TESTS

OLD = """Projekt Sensorampel Beispielstadt

Stand: 1. April 2023

Die Sensorampel der Stadt Beispielstadt erkennt Radfahrende mit KI und schaltet früher auf
Grün. Das Budget der Sensorampel beträgt 50.000 Euro.
"""
NEW = OLD.replace("1. April 2023", "1. Mai 2024").replace("50.000", "75.000")
QUESTION = "Wie hoch ist das Budget der Sensorampel in Beispielstadt?"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, embedder: Any,
        indexed_copy: IndexedCopy) -> Iterator[Any]:
    from ui.app import build_app

    base = tmp_path_factory.mktemp("browser-versions")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KORA_ADMIN_PASSWORD", PASSWORD)
        settings = indexed_copy(base)
        (settings.corpus_dir / "sensorampel.txt").write_text(OLD, encoding="utf-8")
        demo: Any = build_app(settings, assistant_factory=factory_with(embedder))
    app = start_app(demo, settings)
    token, _, _ = app.admin.login("", PASSWORD, None)
    assert "Indexierung abgeschlossen" in app.admin.reindex(token, None)
    yield app
    demo.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def index_files(data: Path) -> dict[str, int]:
    """The index's files and their sizes; people's data (logins, the audit of the
    preview itself) lives in its own database beside it and changes with every action."""
    return {str(p.relative_to(data)): p.stat().st_size for p in data.rglob("*")
            if p.is_file() and not p.name.startswith("people.sqlite")}


def test_upload_replacing_an_older_version(browser: Any, app: Any, tmp_path: Path) -> None:
    assert "50.000" in app.chat.frage(QUESTION)[0]
    upload = tmp_path / "sensorampel-2024.txt"
    upload.write_text(NEW, encoding="utf-8")

    session = Page(browser, str(app.kora_url))
    page = session.page
    page.get_by_role("tab", name="Verwaltung").click()
    page.locator("#kora-passwort input").fill(PASSWORD)
    page.locator("#kora-anmelden").click()
    page.get_by_text("Angemeldet mit dem gemeinsamen Passwort").wait_for()
    page.locator("#kora-dokumente").get_by_text("sensorampel.txt").wait_for()

    page.locator("#kora-dateien input[type=file]").set_input_files([str(upload)])
    page.wait_for_function(
        "() => document.querySelector('#kora-dateien').innerText.includes('sensorampel-2024')")
    page.locator("#kora-ersetzt input").click()
    page.get_by_role("option", name="sensorampel.txt", exact=True).click()
    page.locator("#kora-hochladen").click()
    page.wait_for_function(
        "() => document.querySelector('#kora-upload-status textarea').value.includes('ersetzt')")
    status = page.locator("#kora-upload-status textarea").input_value()
    assert "Gespeichert: sensorampel-2024.txt" in status
    assert "sensorampel-2024.txt ersetzt sensorampel.txt" in status

    # the preview says what the re-index will do, and changes nothing
    before = index_files(app.settings.data_dir)
    page.locator("#kora-vorschau").click()
    page.wait_for_function(
        "() => document.querySelector('#kora-index-status textarea').value.includes('Vorschau')")
    preview = page.locator("#kora-index-status textarea").input_value()
    assert "hinzufügen: uploads/sensorampel-2024.txt" in preview
    assert "ersetzen: sensorampel.txt durch uploads/sensorampel-2024.txt" in preview
    assert index_files(app.settings.data_dir) == before

    page.locator("#kora-neu-indexieren").click()
    page.wait_for_function(
        "() => document.querySelector('#kora-index-status textarea').value"
        ".includes('Indexierung abgeschlossen')", timeout=120_000)
    report = page.locator("#kora-index-status textarea").input_value()
    assert "sensorampel.txt ersetzt durch uploads/sensorampel-2024.txt" in report
    # the older version stays listed, with what replaces it
    page.wait_for_function("() => document.querySelector('#kora-dokumente').textContent"
                           ".includes('uploads/sensorampel-2024.txt')")
    rows, _ = app.admin.documents(app.admin.login("", PASSWORD, None)[0], None)
    assert ["sensorampel.txt", "uploads/sensorampel-2024.txt"] in [[r[0], r[-1]] for r in rows]

    page.get_by_role("tab", name="Fragen").click()
    session.ask(QUESTION, "75.000")
    chat = page.locator("#kora-chat").inner_text()
    assert "50.000" not in chat and "Stand: 01.05.2024" in chat
    session.close()


def test_large_removal_needs_the_second_confirmation(app: Any) -> None:
    token, _, _ = app.admin.login("", PASSWORD, None)
    corpus = app.settings.corpus_dir
    gone = sorted((corpus / "prototypen").glob("*.md"))
    assert gone
    for path in gone:
        path.unlink()
    refused = app.admin.actions.reindex(token, None, confirmed=False)
    assert "Nicht ausgeführt" in refused and "Vorschau" in refused
    assert app.admin.actions.audit.entries()[-1]["outcome"] == "refused"
    done = app.admin.actions.reindex(token, None, confirmed=True)
    assert f"{len(gone)} entfernt" in done
    last = app.admin.actions.audit.entries()[-1]
    assert last["action"] == "reindex" and last["detail"]["large_removal"] is True
