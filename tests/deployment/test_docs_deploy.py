"""The deployment of docs/deploy, run: PostgreSQL (with docs/deploy/postgresql-kora.conf),
`chroma run` and two `kora serve` workers started with the systemd units' ExecStart lines,
and nginx with the site file itself (only its listen line, certificate lines and worker
ports rewritten for loopback). The test reaches the workers only through nginx, the way
a browser does (Gradio's queue protocol, the admin events included); client addresses
127.0.0.x are loopback too, and nginx's consistent hash spreads them over the workers.

One set-up for the module: every test shares the servers.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from loopback import Nginx, exec_start, free_port, nginx_available, option, stop_process
from tests.chroma_server import CHROMA, REPO, kora_environment, wait_until
from tests.conftest import CORPUS

pytestmark = pytest.mark.slow

DOCUMENTS = ["konferenzen/jahrestagung-2025.md", "initiative/urban-ki.md"]
ANNA_PASSWORD = "Sommer-Regen-Brücke-7"
QUESTION = "Wer hat die URBAN.KI-Jahrestagung 2025 eröffnet?"


@dataclass
class Deployment:
    nginx_url: str
    database_url: str
    env: dict[str, str]
    workers: list[subprocess.Popen[bytes]]
    postgres: Any
    base: Path

    def kora(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ui.cli", *args], input=stdin, text=True,
                              capture_output=True, env=self.env, cwd=REPO, timeout=120,
                              check=False)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, postgres: Any,
               embedder: Any) -> Iterator[Deployment]:
    if not nginx_available():
        pytest.skip("the deployment test needs Debian's nginx; .ci/run installs it")
    from ingest.pipeline import Ingestor
    from rag.providers.vectorstore import DataDir
    from rag.settings import Settings

    base = tmp_path_factory.mktemp("deployment")
    corpus = base / "corpus"
    for name in DOCUMENTS:
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(CORPUS / name, corpus / name)
    database_url = postgres.new_database()
    processes: list[subprocess.Popen[bytes]] = []

    # Chroma, as kora-chroma.service starts it
    chroma_port = free_port()
    command = exec_start("kora-chroma.service")
    command[0] = str(CHROMA)
    command = option(option(option(command, "--path", str(base / "chroma")),
                            "--host", "127.0.0.1"), "--port", str(chroma_port))
    with open(base / "chroma.log", "wb") as log:
        processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL))
    chroma_url = f"http://127.0.0.1:{chroma_port}"
    wait_until(lambda: httpx.get(f"{chroma_url}/api/v2/heartbeat", timeout=2).is_success,
               seconds=60, what="Chroma start")
    settings = Settings.load(data_dir=base / "ingest", corpus_dir=corpus, llm="none",
                             chroma_url=chroma_url)
    assert Ingestor(settings, embedder, DataDir(settings)).run([corpus]).failed == []

    # two workers, as kora@PORT.service starts them, with /etc/kora/kora.env's settings
    ports = [free_port(), free_port()]
    shared = {"chroma_url": chroma_url, "corpus_dir": str(corpus), "llm": "none",
              "database_url": database_url, "trusted_proxies": "127.0.0.1",
              "index_poll_seconds": "0.5"}
    for port in ports:
        unit = [part.replace("%i", str(port)) for part in exec_start("kora@.service")]
        assert unit[0].endswith("/kora") and unit[1] == "serve"
        env = kora_environment(data_dir=str(base / f"worker-{port}"), **shared)
        with open(base / f"worker-{port}.log", "wb") as log:
            processes.append(subprocess.Popen([sys.executable, "-m", "ui.cli", *unit[1:]],
                                              env=env, cwd=REPO, stdout=log,
                                              stderr=subprocess.STDOUT,
                                              stdin=subprocess.DEVNULL))

    # nginx with the site file
    nginx = Nginx(base / "nginx", worker_ports=ports, listen=free_port())
    nginx_url = nginx.url
    for port in ports:
        wait_until(lambda port=port: httpx.get(f"http://127.0.0.1:{port}/",
                                               timeout=2).is_success,
                   seconds=300, what="worker start", every=0.5)
    wait_until(lambda: httpx.get(nginx_url, timeout=2).is_success, seconds=30,
               what="nginx start")
    cli_env = kora_environment(data_dir=str(base / "cli"), **shared)
    try:
        yield Deployment(nginx_url, database_url, cli_env, processes[1:3], postgres, base)
    finally:
        nginx.stop()
        for process in reversed(processes):
            stop_process(process)


class Browser:
    """One browser tab through nginx from one loopback address: Gradio's own queue
    protocol, so the private admin events run as they do for a person."""

    def __init__(self, deployment: Deployment, address: str) -> None:
        self.http = httpx.Client(base_url=deployment.nginx_url, timeout=120,
                                 transport=httpx.HTTPTransport(local_address=address))
        self.session = uuid.uuid4().hex
        config = self.http.get("/config")
        config.raise_for_status()
        self.worker = config.headers["X-Kora-Worker"]
        self.config = config.json()
        self.ids = {c.get("props", {}).get("elem_id"): c["id"]
                    for c in self.config["components"]}

    def event(self, *, output: str, inputs: list[str] | None = None) -> int:
        """The fn_index of the event that writes the component ``output`` (elem_id)."""
        wanted = self.ids[output]
        for index, dependency in enumerate(self.config["dependencies"]):
            if wanted in dependency["outputs"] and (
                    inputs is None
                    or [self.ids[name] for name in inputs] == dependency["inputs"][:len(inputs)]):
                return dependency.get("id", index)
        raise AssertionError(f"no event writes {output}")

    def run(self, fn_index: int, data: list[Any]) -> list[Any]:
        joined = self.http.post("/gradio_api/queue/join", json={
            "data": data, "fn_index": fn_index, "session_hash": self.session,
            "event_data": None, "trigger_id": None})
        joined.raise_for_status()
        output: list[Any] = []
        with self.http.stream("GET", "/gradio_api/queue/data",
                              params={"session_hash": self.session}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    assert message.get("success"), message
                    output = message["output"]["data"]
                    break
        return output

    def login(self, name: str, password: str) -> str:
        index = self.event(output="kora-anmeldestatus", inputs=["kora-konto", "kora-passwort"])
        return str(self.run(index, [name, password])[1])  # (session, status, box)

    def ask_and_rate(self, question: str, comment: str) -> str:
        """Ask in the chat, then press thumbs-up with a comment: the status line."""
        ask = self.event(output="kora-chat", inputs=["kora-frage"])
        self.run(ask, [question, "alle", [], None, None])
        candidates = [d.get("id", n) for n, d in enumerate(self.config["dependencies"])
                      if self.ids["kora-rueckmeldung"] in d["outputs"]
                      and self.ids["kora-kommentar"] in d["inputs"]]
        rate = candidates[0]  # thumbs up (wired first)
        return str(self.run(rate, [None, comment, None])[0])

    def export_feedback(self) -> str:
        export = self.event(output="kora-export-status")
        file, _ = self.run(export, [None])
        # the file's own URL names the host without nginx's port: ask by its path
        downloaded = self.http.get(f"/gradio_api/file={file['path']}")
        downloaded.raise_for_status()
        return downloaded.text

    def close(self) -> None:
        self.http.close()


def browsers_on_both_workers(deployment: Deployment) -> list[Browser]:
    """One tab per worker: loopback addresses until nginx has sent one to each."""
    found: dict[str, Browser] = {}
    for last in range(2, 60):
        browser = Browser(deployment, f"127.0.0.{last}")
        if browser.worker in found:
            browser.close()
            continue
        found[browser.worker] = browser
        if len(found) == 2:
            return list(found.values())
    raise AssertionError("nginx sent every address to one worker")


@pytest.fixture(scope="module")
def anna(deployment: Deployment) -> str:
    """An admin account, added once with `kora admin add` on a third machine."""
    added = deployment.kora("admin", "add", "anna", stdin=ANNA_PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    return "anna"


def test_an_account_added_once_is_accepted_by_both_workers(deployment: Deployment,
                                                           anna: str) -> None:
    browsers = browsers_on_both_workers(deployment)
    assert [b.login("anna", ANNA_PASSWORD) for b in browsers] == ["Angemeldet als anna."] * 2


def test_five_failures_over_both_workers_start_the_wait_on_both(
        deployment: Deployment) -> None:
    browsers = browsers_on_both_workers(deployment)
    answers = [browsers[n % 2].login("bert", f"falsch-{n}") for n in range(5)]
    assert answers[:4] == ["Anmeldung fehlgeschlagen: Konto oder Passwort ist falsch."] * 4
    assert answers[4].startswith("Zu viele fehlgeschlagene Anmeldungen")
    for browser in browsers:  # the right password would not even be checked now
        assert re.search(r"\d+ Sekunden", browser.login("bert", "egal-was-auch-immer"))


def test_actions_through_both_workers_are_one_chain(deployment: Deployment,
                                                   anna: str) -> None:
    browsers = browsers_on_both_workers(deployment)
    for browser in browsers:
        assert browser.login("anna", ANNA_PASSWORD) == "Angemeldet als anna."
    audit = deployment.kora("audit", "--json")
    assert audit.returncode == 0, audit.stderr
    report = json.loads(audit.stdout)
    assert report["intact"] is True
    clients = {e["client"] for e in report["entries"]
               if e["action"] == "login" and e["outcome"] == "ok"}
    assert len(clients) >= 2  # logins that came through both workers


def test_database_stopped_chat_answers_admin_says_one_line_then_recovers(
        deployment: Deployment, anna: str) -> None:
    browser = browsers_on_both_workers(deployment)[0]
    deployment.postgres.stop()
    try:
        answer = httpx.post(f"{deployment.nginx_url}/gradio_api/call/frage",
                            json={"data": [QUESTION, "alle"]}, timeout=120)
        event = answer.json()["event_id"]
        stream = httpx.get(f"{deployment.nginx_url}/gradio_api/call/frage/{event}",
                           timeout=120).text
        assert "event: complete" in stream and "Scharrenbach" in stream
        line = browser.login("anna", ANNA_PASSWORD)
        assert line.startswith("Die Datenbank für Konten") and "\n" not in line
        failed = deployment.kora("audit")
        assert failed.returncode == 1 and failed.stderr.count("\n") == 1
        assert "Traceback" not in failed.stderr
    finally:
        deployment.postgres.start()
    assert browser.login("anna", ANNA_PASSWORD) == "Angemeldet als anna."
    assert json.loads(deployment.kora("audit", "--json").stdout)["intact"] is True


def test_feedback_through_both_workers_is_in_one_export(deployment: Deployment,
                                                       anna: str) -> None:
    browsers = browsers_on_both_workers(deployment)
    for browser in browsers:
        assert browser.ask_and_rate(QUESTION, f"hilfreich über {browser.worker}") \
            == "Danke für Ihre Rückmeldung."
    assert browsers[0].login("anna", ANNA_PASSWORD) == "Angemeldet als anna."
    exported = browsers[0].export_feedback()
    for browser in browsers:
        assert f"hilfreich über {browser.worker}" in exported
