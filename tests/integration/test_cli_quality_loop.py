"""The quality loop from the command line (issue 21): `kora feedback list|accept`, the
local golden set's gate in `kora eval`, the eval history, `kora report unanswered`, and
the retention that covers the refused questions. Real index, real model, real database;
a small corpus written by the tests (tests/quality_corpus.py)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
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

pytestmark = pytest.mark.slow


def kora(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ui.cli", *args], capture_output=True,
                          text=True, env=env, timeout=600, check=False, cwd=REPO)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KORA_")}
    clean.update({"KORA_DATA_DIR": str(tmp_path / "data"), "KORA_LLM": "none",
                  "KORA_CORPUS_DIR": str(tmp_path / "corpus"),
                  "KORA_CONFIG": str(tmp_path / "absent.toml"), "PYTHONPATH": str(REPO)})
    return clean


def people_of(data: Path) -> Any:
    from people import People
    from rag.settings import Settings

    return People.open(Settings.load(data_dir=data))


def one_line_error(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_feedback_becomes_a_case_whose_gate_fails_when_its_document_goes(
        env: dict[str, str], tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    data = tmp_path / "data"
    assert kora("ingest", "--json", env=env).returncode == 0
    people = people_of(data)
    people.feedback.add(rating=1, question="Was kostet der Jahresausweis?", answer="15 Euro",
                        sources=[])
    people.feedback.add(rating=-1, question=WINTER_QUESTION, answer="Der Bauhof räumt.",
                        sources=[{"n": 1, "doc_id": WINTER_DOC, "title": "Winterdienst",
                                  "location": ""}], comment="Der Name fehlt")
    people.feedback.add(rating=-1, question="Wann hat das Hallenbad geöffnet?",
                        answer="Die Bibliothek hat dienstags geöffnet.", sources=[])

    listed = kora("feedback", "list", "--rating", "down", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)["feedback"]
    assert [e["question"] for e in entries] == ["Wann hat das Hallenbad geöffnet?",
                                                WINTER_QUESTION]  # newest first, 👎 only
    assert entries[1]["comment"] == "Der Name fehlt"
    assert entries[1]["sources"][0]["doc_id"] == WINTER_DOC
    text = kora("feedback", "list", env=env).stdout
    assert "Was kostet der Jahresausweis?" in text and "comment: Der Name fehlt" in text
    winter, pool = entries[1]["id"], entries[0]["id"]

    # bad input: one line each, exit 2, nothing written
    assert "--out-of-scope" in one_line_error(kora("feedback", "accept", str(winter), env=env))
    assert "excludes" in one_line_error(kora("feedback", "accept", str(pool), "--out-of-scope",
                                             "--fact", "x", env=env))
    assert "No feedback #999" in one_line_error(
        kora("feedback", "accept", "999", "--fact", "x", env=env))
    assert "No document 'nirgends.md'" in one_line_error(
        kora("feedback", "accept", str(winter), "--fact", "x", "--doc", "nirgends.md", env=env))
    assert not (data / "golden-local.yaml").exists()

    accepted = kora("feedback", "accept", str(winter), "--fact", f"{WINTER_FACT}|Kellerman",
                    "--doc", WINTER_DOC, env=env)
    assert accepted.returncode == 0, accepted.stderr
    assert "added" in accepted.stdout
    assert kora("feedback", "accept", str(pool), "--out-of-scope", env=env).returncode == 0
    golden = yaml.safe_load((data / "golden-local.yaml").read_text(encoding="utf-8"))
    assert golden["kind"] == "local"
    case = golden["questions"][0]
    assert case["question"] == WINTER_QUESTION and case["expected_docs"] == [WINTER_DOC]
    assert case["key_facts"] == [[WINTER_FACT, "Kellerman"]]
    assert case["accepted_by"].startswith("cli:") and case["accepted_at"]
    assert "Der Name fehlt" not in (data / "golden-local.yaml").read_text(encoding="utf-8")
    assert golden["out_of_scope"][0]["question"] == "Wann hat das Hallenbad geöffnet?"
    # the same question again replaces its case: the id is stable
    again = kora("feedback", "accept", str(winter), "--fact", WINTER_FACT, "--json", env=env)
    assert json.loads(again.stdout)["replaced"] is True
    assert json.loads(again.stdout)["case"]["id"] == case["id"]
    marked = {e["id"]: e["case_id"] for e in people.feedback.entries()}
    assert marked[winter] == case["id"] and marked[pool] is not None
    actions = [e["action"] for e in people.audit.entries()]
    assert actions.count("feedback-accept") == 3 and "feedback-list" in actions

    local = str(data / "golden-local.yaml")
    passing = kora("eval", "--golden", local, "--json", "--report", str(tmp_path / "r1"),
                   env=env)
    assert passing.returncode == 0, passing.stderr
    result = json.loads(passing.stdout)
    assert result["set"] == "local" and result["gate"] == "passed"
    assert {c["id"]: c["passed"] for c in result["cases"]} == {
        case["id"]: True, golden["out_of_scope"][0]["id"]: True}

    (corpus / WINTER_DOC).unlink()
    assert kora("ingest", "--prune", "--yes", "--json", env=env).returncode == 0
    failing = kora("eval", "--golden", local, "--json", "--report", str(tmp_path / "r2"),
                   env=env)
    assert failing.returncode == 1
    result = json.loads(failing.stdout)
    assert result["gate"] == "failed"
    assert [c["id"] for c in result["cases"] if not c["passed"]] == [case["id"]]
    assert case["id"] in failing.stderr and "Traceback" not in failing.stderr

    history = [json.loads(line) for line in
               (data / "eval-history.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(h["set"], h["cases_passed"], h["key_fact_recall"]) for h in history] == [
        ("local", 1.0, 1.0), ("local", 0.5, 0.0)]
    assert all(h["version"] and h["time"] for h in history)


def test_report_unanswered_groups_topics_and_purge_removes_old_ones(
        env: dict[str, str], tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = people_of(data).unanswered
    for question in [*UNCOVERED, UNCOVERED[0], "Wie hoch ist die Hundesteuer?"]:
        store.add(question)
    old = "Wo ist das Fundbüro?"
    store.add(old)
    stamp = (datetime.now(UTC) - timedelta(days=120)).isoformat(timespec="seconds")
    with sqlite3.connect(data / "people.sqlite") as connection:
        connection.execute("UPDATE unanswered SET created_at = ? WHERE question = ?",
                           (stamp, old))

    purged = kora("feedback", "purge", "--json", env=env)
    assert json.loads(purged.stdout)["unanswered_removed"] == 1
    assert old not in [q for _, q in store.questions()] and store.count() == 5
    raw = b"".join(path.read_bytes() for path in data.glob("people.sqlite*"))
    assert b"Fundb" not in raw  # overwritten, as purged feedback is

    report = kora("report", "unanswered", "--json", env=env)
    assert report.returncode == 0, report.stderr
    found = json.loads(report.stdout)
    assert found["recording"] is False and found["questions"] == 5
    topics = found["topics"]
    # the two wordings about the Hallenbad are one topic, the Hundesteuer another
    assert [(t["count"], t["topic"]) for t in topics] == [
        (3, UNCOVERED[0]), (2, UNCOVERED[2])]
    assert set(topics[0]["examples"]) == {UNCOVERED[0], UNCOVERED[1]}
    text = kora("report", "unanswered", env=env)
    assert "KORA_RECORD_UNANSWERED is off" in text.stderr and UNCOVERED[0] in text.stdout
    audit = [e for e in people_of(data).audit.entries()
             if e["action"] in ("unanswered-report", "feedback-purge")]
    assert [e["action"] for e in audit] == ["feedback-purge", "unanswered-report",
                                            "unanswered-report"]
    assert audit[0]["detail"]["unanswered_removed"] == 1
    assert audit[1]["detail"] == {"topics": 2, "questions": 5}


def test_a_case_needs_a_readable_local_file(env: dict[str, str], tmp_path: Path) -> None:
    data = tmp_path / "data"
    people_of(data).feedback.add(rating=-1, question="Wer?", answer="-", sources=[])
    (data / "golden-local.yaml").write_text("- nur\n- eine Liste\n", encoding="utf-8")
    line = one_line_error(kora("feedback", "accept", "1", "--fact", "x", env=env))
    assert "golden-local.yaml is not a golden set" in line
    assert (data / "golden-local.yaml").read_text(encoding="utf-8") == "- nur\n- eine Liste\n"
    broken = kora("eval", "--golden", str(data / "golden-local.yaml"), env=env)
    assert "not a golden set" in one_line_error(broken, 1)


@pytest.mark.eval
def test_plain_eval_runs_the_shipped_and_the_local_set(env: dict[str, str],
                                                       tmp_path: Path) -> None:
    """`kora eval` without --golden: the shipped set on the shipped corpus, then the
    city's set on the live index, both in the history."""
    write_corpus(tmp_path / "corpus")
    data = tmp_path / "data"
    assert kora("ingest", "--json", env=env).returncode == 0
    people_of(data).feedback.add(rating=-1, question=WINTER_QUESTION, answer="-", sources=[])
    assert kora("feedback", "accept", "1", "--fact", WINTER_FACT, env=env).returncode == 0
    run = kora("eval", "--json", "--report", str(tmp_path / "report"), env=env)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["set"] == "shipped" and result["meta"]["questions"] >= 80
    assert result["local"]["gate"] == "passed"
    assert [c["question"] for c in result["local"]["cases"]] == [WINTER_QUESTION]
    assert (tmp_path / "report" / "report.md").exists()
    assert (tmp_path / "report" / "local" / "report.md").exists()
    history = [json.loads(line) for line in
               (data / "eval-history.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [h["set"] for h in history] == ["shipped", "local"]
    assert history[0]["hit@3"] > 0.9 and history[1]["cases_passed"] == 1.0
