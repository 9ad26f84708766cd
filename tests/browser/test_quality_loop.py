"""The quality loop in the real app in headless Chromium (issue 21): a 👎 with a comment in
the chat becomes a test case in the admin area, `kora eval` runs it and fails once its
document is deleted; refused questions show up as missing topics only with
record_unanswered on; the history chart is drawn (checked in a screenshot's pixels)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.quality_corpus import (
    UNCOVERED,
    WINTER_DOC,
    WINTER_FACT,
    WINTER_QUESTION,
    write_corpus,
)
from tests.webapp import BROWSER_TESTS, chromium, factory_with, start_app

PASSWORD = "Qualitaet-Test-21"
SCREENSHOT = REPO / "docs" / "screenshots" / "quality.png"
COMMENT = "Bitte nur den Namen"
REFUSED = "Dazu steht nichts in den Dokumenten"

pytestmark = BROWSER_TESTS


def served_app(base: Path, embedder: Any, *, record_unanswered: bool) -> Any:
    """The app over a fresh index of the small corpus, served on loopback."""
    from ingest import Ingestor
    from rag.providers.vectorstore import DataDir
    from rag.settings import Settings
    from ui.app import build_app

    corpus = write_corpus(base / "corpus")
    settings = Settings.load(data_dir=base / "data", corpus_dir=corpus, llm="none",
                             record_unanswered=record_unanswered)
    Ingestor(settings, embedder, DataDir(settings)).run([corpus])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KORA_ADMIN_PASSWORD", PASSWORD)
        demo: Any = build_app(settings, assistant_factory=factory_with(embedder))
    return start_app(demo, settings)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[Any]:
    demo = served_app(tmp_path_factory.mktemp("quality-on"), embedder, record_unanswered=True)
    yield demo
    demo.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def open_page(browser: Any, url: str) -> Any:
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(url)
    page.locator("#kora-frage textarea").wait_for()
    return page


def ask(page: Any, question: str, expect: str) -> None:
    """Ask and wait until the checked answer (or the refusal) follows the question."""
    page.locator("#kora-frage textarea").fill(question)
    page.locator("#kora-senden").click()
    page.wait_for_function(
        "([q, e]) => { const t = document.querySelector('#kora-chat').innerText;"
        " return t.includes(q) && t.lastIndexOf(e) > t.lastIndexOf(q); }",
        arg=[question, expect], timeout=60_000)


def log_in(page: Any) -> None:
    page.get_by_role("tab", name="Verwaltung").click()
    page.locator("#kora-passwort input").fill(PASSWORD)
    page.locator("#kora-anmelden").click()
    page.get_by_text("Angemeldet mit dem gemeinsamen Passwort").wait_for()


def wait_text(page: Any, selector: str, text: str) -> None:
    """Until the server's update shows ``text`` in the component (a table's cells hold
    each text twice, one of them hidden)."""
    page.wait_for_function(
        "([s, t]) => (document.querySelector(s)?.innerText || '').includes(t)",
        arg=[selector, text])


def table_cells(text: str) -> list[str]:
    """The cells of a Gradio table's text, row after row, after its header row."""
    from ui import strings as S

    body = text.split(S.TOPICS_COLUMNS[-1], 1)[-1]
    return [line.strip() for line in body.splitlines() if line.strip()]


def pick(page: Any, dropdown: str, option: str) -> None:
    page.locator(f"{dropdown} input").click()
    page.get_by_role("option", name=option).first.click()


def kora_eval(settings: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KORA_")}
    env.update({"KORA_DATA_DIR": str(settings.data_dir), "KORA_LLM": "none",
                "KORA_CORPUS_DIR": str(settings.corpus_dir), "PYTHONPATH": str(REPO),
                "KORA_CONFIG": str(settings.data_dir / "absent.toml")})
    return subprocess.run([sys.executable, "-m", "ui.cli", "eval", *args], env=env,
                          capture_output=True, text=True, timeout=600, check=False, cwd=REPO)


def test_thumbs_down_becomes_a_case_that_kora_eval_runs(browser: Any, app: Any) -> None:
    page = open_page(browser, app.kora_url)
    ask(page, WINTER_QUESTION, WINTER_FACT)
    page.locator("#kora-kommentar textarea").fill(COMMENT)
    page.get_by_role("button", name="Nicht hilfreich").click()
    page.get_by_text("Danke für Ihre Rückmeldung.").wait_for()

    log_in(page)
    table = page.locator("#kora-qualitaet")
    wait_text(page, "#kora-qualitaet", COMMENT)  # loaded at login: the 👎 with its comment
    assert WINTER_QUESTION in table.inner_text() and WINTER_DOC in table.inner_text()
    pick(page, "#kora-qualitaet-wahl", WINTER_QUESTION)
    page.locator("#kora-qualitaet-fakten textarea").fill(WINTER_FACT)
    pick(page, "#kora-qualitaet-dokument", WINTER_DOC)
    page.locator("#kora-qualitaet-aufnehmen").click()
    page.locator("#kora-qualitaet-status").get_by_text("aufgenommen").wait_for()

    golden_file = app.settings.golden_local_path
    golden = yaml.safe_load(golden_file.read_text(encoding="utf-8"))
    case = golden["questions"][0]
    assert (case["question"], case["key_facts"], case["expected_docs"]) == (
        WINTER_QUESTION, [[WINTER_FACT]], [WINTER_DOC])
    assert case["accepted_by"] == "env:KORA_ADMIN_PASSWORD"
    wait_text(page, "#kora-qualitaet", case["id"])  # the list shows the case made of it
    accepted = [e for e in app.gate.audit.entries() if e["action"] == "feedback-accept"]
    assert accepted[-1]["detail"]["case_id"] == case["id"]
    page.context.close()

    passing = kora_eval(app.settings, "--golden", str(golden_file), "--json",
                        "--report", str(app.settings.data_dir / "report-1"))
    assert passing.returncode == 0, passing.stderr
    assert json.loads(passing.stdout)["cases"] == [
        {"id": case["id"], "question": WINTER_QUESTION, "out_of_scope": False, "passed": True}]

    # bad input and callers without a session: one German line, nothing written
    from ui import strings as S

    token, _, _ = app.admin.login("", PASSWORD, None)
    before = golden_file.read_text(encoding="utf-8")
    assert app.quality.accept(None, "x", None, False, token, None) == S.QUALITY_PICK
    assert app.quality.accept(999, "x", None, False, token, None) == S.QUALITY_UNKNOWN
    assert app.quality.accept(1, "", None, False, token, None) == S.QUALITY_NO_FACTS
    assert app.quality.accept(1, "x", None, True, token, None) == S.QUALITY_BOTH
    assert app.quality.accept(1, "x", "nirgends.md", False, token, None) == \
        S.QUALITY_UNKNOWN_DOCUMENT.format(doc_id="nirgends.md")
    assert app.quality.accept(1, "x", None, False, None, None) == S.ADMIN_NOT_LOGGED_IN
    assert app.quality.feedback_rows(None, None)[0] == []
    assert golden_file.read_text(encoding="utf-8") == before

    # the supporting document goes (deleted in the admin area, which re-indexes)
    assert "Gelöscht" in app.admin.delete(WINTER_DOC, True, token, None)
    failing = kora_eval(app.settings, "--golden", str(golden_file), "--json",
                        "--report", str(app.settings.data_dir / "report-2"))
    assert failing.returncode == 1
    assert json.loads(failing.stdout)["gate"] == "failed"
    assert f"fails 1 case(s): {case['id']}" in failing.stderr


def test_missing_topics_appear_only_with_recording_on(
        browser: Any, app: Any, tmp_path: Path, embedder: Any) -> None:
    page = open_page(browser, app.kora_url)
    for question in UNCOVERED:
        ask(page, question, REFUSED)
    log_in(page)
    page.locator("#kora-themen-laden").click()
    topics = page.locator("#kora-themen")
    wait_text(page, "#kora-themen", UNCOVERED[0])
    cells = table_cells(topics.inner_text())
    # most asked first: the two wordings about the Hallenbad are one topic
    assert cells[:3] == ["2", UNCOVERED[0], UNCOVERED[1]], cells
    assert cells[4:6] == ["1", UNCOVERED[2]] and len(cells) == 7, cells
    assert "ohne Person, Adresse oder Sitzung" in page.locator(
        "#kora-themen-hinweis").inner_text()
    page.locator("#kora-themen-export").click()
    page.locator("#kora-themen-status").get_by_text("2 Themen exportiert").wait_for()
    assert app.gate.audit.entries()[-1]["action"] == "unanswered-export"
    page.context.close()
    from people import People

    # only the text and its time: the table has no column for who asked
    stored = People.open(app.settings).unanswered.questions()
    assert sorted(question for _, question in stored) == sorted(UNCOVERED)

    off = served_app(tmp_path, embedder, record_unanswered=False)
    try:
        page = open_page(browser, off.kora_url)
        ask(page, UNCOVERED[0], REFUSED)
        log_in(page)
        page.locator("#kora-themen-laden").click()
        note = page.locator("#kora-themen-hinweis")
        note.get_by_text("Keine abgelehnten Fragen aufgezeichnet").wait_for()
        assert "werden nicht aufgezeichnet" in note.inner_text()
        assert table_cells(page.locator("#kora-themen").inner_text()) == []
        page.context.close()
    finally:
        off.close()
    assert People.open(off.settings).unanswered.count() == 0


def test_quality_chart_is_drawn(browser: Any, app: Any) -> None:
    """The history chart is in the page as an image, and its pixels show the lines."""
    from PIL import Image

    from evaluation import LINE_COLOURS, append_history

    start = datetime.now(UTC) - timedelta(days=21)
    append_history(app.settings.data_dir, [
        {"time": (start + timedelta(days=7 * n)).isoformat(timespec="seconds"),
         "version": "0.1.0", "set": name, "questions": 10, "key_fact_recall": value,
         "hit@3": value, "refusal_recall": 0.8, "cases_passed": value}
        for n, value in enumerate((0.6, 0.7, 0.75)) for name in ("shipped", "local")])
    app.feedback.add(rating=1, question="Was kostet der Jahresausweis?", answer="15 Euro",
                     sources=[])
    page = open_page(browser, app.kora_url)
    log_in(page)
    page.locator("#kora-verlauf-laden").click()
    image = page.locator("#kora-verlauf-bild")
    image.wait_for()
    page.wait_for_function(
        "() => document.querySelector('#kora-verlauf-bild').naturalWidth > 0")
    image.scroll_into_view_if_needed()
    shot = Image.open(io.BytesIO(image.screenshot())).convert("RGB")
    width, height = shot.size
    assert width > 400 and height > 300
    pixels = list(shot.getdata())
    line = tuple(int(LINE_COLOURS[0][i:i + 2], 16) for i in (1, 3, 5))
    coloured = sum(1 for p in pixels if all(abs(a - b) < 40 for a, b in zip(p, line,
                                                                            strict=True)))
    drawn = sum(1 for p in pixels if sum(p) < 600)
    assert coloured > 500, coloured  # the first series' lines and markers
    assert drawn > 0.02 * len(pixels), drawn  # axes, labels, titles, lines
    assert "0.1.0" in page.locator("#kora-verlauf").inner_text()  # the runs' versions
    save_screenshot(page)
    page.context.close()


def save_screenshot(page: Any) -> None:
    """The README's picture of the quality sections, kept small (a 256-colour PNG)."""
    from PIL import Image

    page.locator("#kora-qualitaet-laden").click()
    wait_text(page, "#kora-qualitaet", COMMENT)
    page.locator("#kora-themen-laden").click()
    wait_text(page, "#kora-themen", UNCOVERED[0])
    # in page coordinates (a full-page clip), from the first section to the last
    box = page.evaluate("""() => {
        const top = document.querySelector('#kora-qualitaet-bereich').getBoundingClientRect();
        const end = document.querySelector('#kora-verlauf-bereich').getBoundingClientRect();
        return {x: top.x, y: top.y + window.scrollY, width: top.width,
                height: end.bottom - top.y};
    }""")
    shot = page.screenshot(full_page=True, clip=box)
    picture = Image.open(io.BytesIO(shot)).convert("RGB")
    picture.thumbnail((1000, 2000))
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    picture.quantize(colors=256).save(SCREENSHOT, optimize=True)
