"""The OpenAI-compatible API (/v1) with the official ``openai`` client against a real
`kora serve` on loopback: models, whole and streamed cited answers, follow-ups, refusals,
every error with its status and shape, a streaming client that leaves mid-answer, and
API clients mixed with chat users getting the answers `kora ask` gives."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.chroma_server import REPO, Worker, kora_environment, wait_until
from tests.conftest import CORPUS, IndexedCopy
from tests.fakes import Clock
from tests.servers import LoopbackServer
from tests.webapp import SCHARRENBACH, factory_with, start_app

pytestmark = pytest.mark.slow

JAHRESTAGUNG = "konferenzen/jahrestagung-2025.md"
RECKLINGHAUSEN = "Was erkennt der Prototyp des Kreises Recklinghausen in Drohnenbildern?"
HUNDESTEUER = "Wie hoch ist die Hundesteuer in Castrop-Rauxel?"
FAKE_MODEL = "fake-qwen"


def client_for(url: str, key: str | None) -> Any:
    from openai import OpenAI

    # no retries: a 429 must reach the test, not be waited out by the client
    return OpenAI(base_url=f"{url}v1", api_key=key or "kein-schluessel", max_retries=0,
                  timeout=120)


def people_at(data_dir: Path) -> Any:
    """People's database of a `kora serve` started by these tests (SQLite in its data
    directory), as `kora admin token` opens it."""
    from people import People
    from rag.settings import Settings

    return People.open(Settings.load(data_dir=data_dir), purge_feedback=False)


def add_key(data_dir: Path, name: str) -> str:
    people = people_at(data_dir)
    try:
        return people.api_keys.add(name, actor="tests")[1]
    finally:
        people.close()


def kora(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ui.cli", *args], capture_output=True,
                          text=True, env=env, timeout=600, check=False, cwd=REPO)


# --- a real `kora serve`, extractive ---------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, shipped_data: Path) -> Iterator[Any]:
    """`kora serve` (extractive answers) over a copy of the shipped index, with one key;
    ``ask_env`` points `kora ask` at a second copy."""
    base = tmp_path_factory.mktemp("api")
    shutil.copytree(shipped_data, base / "data")
    shutil.copytree(shipped_data, base / "ask-data")
    env = kora_environment(data_dir=str(base / "data"), corpus_dir=str(CORPUS), llm="none",
                           login_max_failures="1000")
    key = add_key(base / "data", "tests")
    worker = Worker(env, base / "serve.log").wait_ready()
    worker.key = key
    worker.data_dir = base / "data"
    worker.ask_env = {**env, "KORA_DATA_DIR": str(base / "ask-data")}
    yield worker
    worker.stop()


@pytest.fixture(scope="module")
def api(server: Any) -> Any:
    return client_for(server.url, server.key)


def test_models_are_the_answer_modes(api: Any) -> None:
    models = api.models.list()
    assert [m.id for m in models] == ["kora", "kora-extraktiv"]
    assert all(m.object == "model" and m.owned_by == "kora" and m.created > 0 for m in models)


def test_whole_answer_has_the_fact_its_sources_and_the_structured_citations(api: Any) -> None:
    reply = api.chat.completions.create(model="kora", messages=[
        {"role": "system", "content": "Antworte ausschließlich mit dem Wort Hallo."},
        {"role": "user", "content": SCHARRENBACH}])
    [choice] = reply.choices
    content = choice.message.content
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert "Scharrenbach" in content and "[1]" in content
    assert "**Quellen**" in content and "- [1] URBAN.KI-Jahrestagung 2025" in content
    assert reply.usage is None  # unknown, so left out rather than invented
    kora = reply.kora
    assert kora["refused"] is False and kora["mode"] == "extractive" and kora["notice"] == ""
    assert kora["citations"][0]["doc_id"] == JAHRESTAGUNG
    assert {"n", "doc_id", "title", "source", "location", "date", "text"} <= set(
        kora["citations"][0])
    assert "Hallo" not in kora["answer"]  # the system message did not steer the answer


def test_streamed_answer_arrives_in_chunks_and_ends_with_done(server: Any, api: Any) -> None:
    chunks = list(api.chat.completions.create(
        model="kora-extraktiv", stream=True,
        messages=[{"role": "user", "content": RECKLINGHAUSEN}]))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "versiegelt" in text and "[1]" in text and "**Quellen**" in text
    assert [c.choices[0].finish_reason for c in chunks][-1] == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    kora = chunks[-1].kora
    assert kora["citations"][0]["doc_id"] == "prototypen/recklinghausen-versiegelung.md"
    assert len({c.id for c in chunks}) == 1 and chunks[0].model == "kora-extraktiv"

    # on the wire: server-sent events ending with [DONE]
    raw = httpx.post(f"{server.url}v1/chat/completions", timeout=120,
                     headers={"Authorization": f"Bearer {server.key}"},
                     json={"model": "kora", "stream": True,
                           "messages": [{"role": "user", "content": SCHARRENBACH}]})
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("text/event-stream")
    events = [line for line in raw.text.split("\n\n") if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    assert "Scharrenbach" in raw.text


def test_follow_up_uses_the_conversation_in_messages(api: Any) -> None:
    first = api.chat.completions.create(model="kora", messages=[
        {"role": "user", "content": SCHARRENBACH}])
    follow_up = api.chat.completions.create(model="kora", messages=[
        {"role": "user", "content": SCHARRENBACH},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "Wo fand sie statt?"}])
    assert follow_up.kora["standalone_question"] != "Wo fand sie statt?"
    assert "Gelsenkirchen" in follow_up.choices[0].message.content
    alone = api.chat.completions.create(model="kora", messages=[
        {"role": "user", "content": "Wo fand sie statt?"}])
    assert alone.kora["standalone_question"] == "Wo fand sie statt?"


def test_refusal_is_a_normal_answer_naming_what_the_documents_cover(api: Any) -> None:
    reply = api.chat.completions.create(model="kora", messages=[
        {"role": "user", "content": HUNDESTEUER}])
    [choice] = reply.choices
    assert choice.finish_reason == "stop"
    assert reply.kora["refused"] is True and reply.kora["citations"] == []
    assert choice.message.content.startswith("Dazu steht nichts in den Dokumenten")
    assert "\n- " in choice.message.content  # the topics the documents do cover
    assert "**Quellen**" not in choice.message.content

    streamed = list(api.chat.completions.create(model="kora", stream=True, messages=[
        {"role": "user", "content": HUNDESTEUER}]))
    assert "".join(c.choices[0].delta.content or "" for c in streamed) == \
        choice.message.content
    assert streamed[-1].choices[0].finish_reason == "stop" and streamed[-1].kora["refused"]


def test_filters_in_the_extra_body_field(api: Any) -> None:
    reply = api.chat.completions.create(
        model="kora", messages=[{"role": "user", "content": SCHARRENBACH}],
        extra_body={"kora": {"type": "prototyp", "date_to": "2026"}})
    assert all(c["type"] == "prototyp" for c in reply.kora["citations"])
    assert JAHRESTAGUNG not in {c["doc_id"] for c in reply.kora["citations"]}


USER = [{"role": "user", "content": SCHARRENBACH}]
ERRORS = [
    # (what, body, status, code)
    ("unknown model", {"model": "gpt-4o", "messages": USER}, 404, "model_not_found"),
    ("no model", {"messages": USER}, 400, "missing_field"),
    ("no messages", {"model": "kora"}, 400, "missing_field"),
    ("messages not a list", {"model": "kora", "messages": "Hallo"}, 400, "missing_field"),
    ("only a system message", {"model": "kora", "messages": [
        {"role": "system", "content": SCHARRENBACH}]}, 400, "no_user_message"),
    ("last message the assistant's", {"model": "kora", "messages": [
        *USER, {"role": "assistant", "content": "Ina Scharrenbach."}]}, 400, "no_user_message"),
    ("unknown role", {"model": "kora", "messages": [
        {"role": "wizard", "content": "x"}]}, 400, "invalid_field"),
    ("empty question", {"model": "kora", "messages": [
        {"role": "user", "content": " \u200b\t "}]}, 400, "empty_question"),
    ("over-long question", {"model": "kora", "messages": [
        {"role": "user", "content": "Jahrestagung " * 100}]}, 400, "question_too_long"),
    ("n > 1", {"model": "kora", "n": 2, "messages": USER}, 400, "unsupported_parameter"),
    ("tools", {"model": "kora", "messages": USER, "tools": [{"type": "function", "function": {
        "name": "wetter", "parameters": {"type": "object"}}}]}, 400, "unsupported_parameter"),
    ("a tool's message", {"model": "kora", "messages": [
        *USER, {"role": "tool", "tool_call_id": "1", "content": "42"}]}, 400,
     "unsupported_parameter"),
    ("an image", {"model": "kora", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "Was zeigt das Bild?"},
        {"type": "image_url", "image_url": {"url": "https://example.org/a.png"}}]}]}, 400,
     "unsupported_content"),
    ("stream not a boolean", {"model": "kora", "stream": "ja", "messages": USER}, 400,
     "invalid_field"),
    ("a bad filter date", {"model": "kora", "messages": USER, "kora": {"date_from": "Mai"}},
     400, "invalid_field"),
]


def assert_error_shape(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert {"message", "type", "code"} <= set(error) and error["code"] == code
    assert error["message"] and "\n" not in error["message"]
    assert "Traceback" not in response.text and "<html" not in response.text.lower()
    return dict(error)


@pytest.mark.parametrize(("what", "body", "status", "code"), ERRORS,
                         ids=[e[0] for e in ERRORS])
def test_each_error_has_its_status_and_openais_shape(server: Any, what: str, body: Any,
                                                      status: int, code: str) -> None:
    import openai

    response = httpx.post(f"{server.url}v1/chat/completions", json=body, timeout=60,
                          headers={"Authorization": f"Bearer {server.key}"})
    error = assert_error_shape(response, status, code)
    assert error["type"] == "invalid_request_error"
    if "model" not in body or not isinstance(body.get("messages"), list):
        return  # the official client would not send these
    # the official client raises the matching exception with KORA's message
    expected = openai.NotFoundError if status == 404 else openai.BadRequestError
    arguments = dict(body)
    if "kora" in arguments:
        arguments["extra_body"] = {"kora": arguments.pop("kora")}
    with pytest.raises(expected) as raised:
        client_for(server.url, server.key).chat.completions.create(**arguments)
    assert raised.value.status_code == status and raised.value.code == code


def test_malformed_bodies_and_unknown_paths_are_json_errors(server: Any) -> None:
    auth = {"Authorization": f"Bearer {server.key}"}
    url = f"{server.url}v1/chat/completions"
    assert_error_shape(httpx.post(url, content=b"{nicht json", headers=auth), 400,
                       "invalid_json")
    assert_error_shape(httpx.post(url, content=b"[1, 2]", headers=auth), 400, "invalid_json")
    assert_error_shape(httpx.post(url, content=b"\xff\xfe", headers=auth), 400, "invalid_json")
    assert_error_shape(httpx.post(url, content=b"x" * 2_100_000, headers=auth), 400,
                       "body_too_large")
    assert_error_shape(httpx.get(url, headers=auth), 405, "method_not_allowed")
    assert_error_shape(httpx.get(f"{server.url}v1/embeddings", headers=auth), 404, "not_found")
    assert_error_shape(httpx.post(f"{server.url}v1/completions", headers=auth, json={}), 404,
                       "not_found")


def test_keys_missing_wrong_revoked_or_expired_are_401(server: Any) -> None:
    import openai
    from sqlalchemy import text

    url = f"{server.url}v1/models"
    assert_error_shape(httpx.get(url), 401, "missing_api_key")
    assert_error_shape(httpx.get(url, headers={"Authorization": "Basic dGVzdHM6eA=="}), 401,
                       "missing_api_key")
    wrong = server.key[:-4] + ("AAAA" if not server.key.endswith("AAAA") else "BBBB")
    assert_error_shape(httpx.get(url, headers={"Authorization": f"Bearer {wrong}"}), 401,
                       "invalid_api_key")
    assert_error_shape(httpx.get(url, headers={"Authorization": "Bearer sk-123"}), 401,
                       "invalid_api_key")
    with pytest.raises(openai.AuthenticationError):
        client_for(server.url, wrong).models.list()

    revoked, expired = add_key(server.data_dir, "gone"), add_key(server.data_dir, "old")
    for key in (revoked, expired):
        assert httpx.get(url, headers={"Authorization": f"Bearer {key}"}).status_code == 200
    people = people_at(server.data_dir)
    people.api_keys.revoke("gone", actor="tests")
    with people.database.transaction() as connection:
        connection.execute(text("UPDATE api_keys SET expires = '2020-01-01T00:00:00+00:00' "
                                "WHERE name = 'old'"))
    gone = assert_error_shape(httpx.get(url, headers={"Authorization": f"Bearer {revoked}"}),
                              401, "invalid_api_key")
    assert "widerrufen" in gone["message"]
    old = assert_error_shape(httpx.get(url, headers={"Authorization": f"Bearer {expired}"}),
                             401, "invalid_api_key")
    assert "abgelaufen" in old["message"]

    # every refusal is audited with the key's id, never the key
    entries = people.audit.entries()
    people.close()
    audit = json.dumps(entries, ensure_ascii=False)
    refused = [e for e in entries if e["action"] == "api-key"]
    assert {e["detail"]["reason"] for e in refused} >= {"unknown", "malformed", "revoked",
                                                         "expired"}
    assert wrong not in audit and revoked not in audit and SCHARRENBACH not in audit


def test_requests_are_counted_per_key(server: Any) -> None:
    key = add_key(server.data_dir, "zaehler")
    client = client_for(server.url, key)
    for _ in range(3):
        client.models.list()
    people = people_at(server.data_dir)
    [entry] = [k for k in people.api_keys.entries() if k.name == "zaehler"]
    people.close()
    assert entry.requests == 3 and entry.last_used


def test_token_commands_print_the_key_once_and_audit(server: Any) -> None:
    env = {**server.ask_env, "KORA_DATA_DIR": str(server.data_dir)}
    added = kora("admin", "token", "add", "open-webui", "--expires", "30", "--json", env=env)
    assert added.returncode == 0, added.stderr
    made = json.loads(added.stdout)
    assert made["key"].startswith("kora-") and made["expires"]
    assert httpx.get(f"{server.url}v1/models",
                     headers={"Authorization": f"Bearer {made['key']}"}).status_code == 200
    listed = kora("admin", "token", "list", "--json", env=env)
    assert made["key"] not in listed.stdout
    [row] = [k for k in json.loads(listed.stdout)["keys"] if k["id"] == made["id"]]
    assert (row["name"], row["state"], row["requests"]) == ("open-webui", "active", 1)
    assert all(made["key"] not in path.read_bytes().decode("latin-1")
               for path in server.data_dir.glob("people.sqlite*"))  # the file and its log
    assert kora("admin", "token", "revoke", made["id"], env=env).returncode == 0
    assert httpx.get(f"{server.url}v1/models",
                     headers={"Authorization": f"Bearer {made['key']}"}).status_code == 401
    assert kora("admin", "token", "revoke", "niemand", env=env).returncode == 2
    actions = [e["action"] for e in json.loads(kora("audit", "--json", env=env).stdout)
               ["entries"]]
    assert "api-key-add" in actions and "api-key-revoke" in actions


def readme_example(kind: str) -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- api-example: {kind} -->\n```\w+\n(.*?)```", text, re.DOTALL)
    assert match, f"README has no {kind} example"
    return match.group(1)


def test_readme_examples_run(server: Any) -> None:
    env = {**server.ask_env, "KORA_API_KEY": server.key}
    base = server.url.rstrip("/")
    curl = readme_example("curl").replace("http://127.0.0.1:7860", base)
    result = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, env=env,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert "Scharrenbach" in answer["choices"][0]["message"]["content"]
    assert answer["kora"]["citations"][0]["doc_id"] == JAHRESTAGUNG

    python = readme_example("python").replace("http://127.0.0.1:7860", base)
    result = subprocess.run([sys.executable, "-c", python], capture_output=True, text=True,
                            env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "Scharrenbach" in result.stdout and f"[1] {JAHRESTAGUNG}" in result.stdout


def test_api_clients_and_chat_users_at_once_get_the_answers_of_kora_ask(server: Any) -> None:
    from gradio_client import Client

    questions = [SCHARRENBACH, RECKLINGHAUSEN, HUNDESTEUER]
    expected = {}
    for question in questions:
        result = kora("ask", question, "--json", env=server.ask_env)
        assert result.returncode == 0, result.stderr
        expected[question] = json.loads(result.stdout)

    def api_user(index: int) -> list[tuple[str, Any]]:
        client = client_for(server.url, server.key)
        answers = []
        for turn in range(3):
            question = questions[(index + turn) % 3]
            messages = [{"role": "user", "content": question}]
            if (index + turn) % 2:
                chunks = list(client.chat.completions.create(
                    model="kora", stream=True, messages=messages))
                answers.append((question, chunks[-1].kora))
            else:
                answers.append((question, client.chat.completions.create(
                    model="kora", messages=messages).kora))
        return answers

    def chat_user(index: int) -> list[tuple[str, Any]]:
        client = Client(server.url, verbose=False)
        answers = []
        for turn in range(3):
            question = questions[(index + turn) % 3]
            answers.append((question, client.predict(question, "alle", api_name="/frage")[0]))
        return answers

    with ThreadPoolExecutor(max_workers=20) as pool:
        api_runs = [pool.submit(api_user, i) for i in range(16)]
        chat_runs = [pool.submit(chat_user, i) for i in range(4)]
        api_answers = [a for run in api_runs for a in run.result()]  # raises if one failed
        chat_answers = [a for run in chat_runs for a in run.result()]

    assert len(api_answers) == 48 and len(chat_answers) == 12
    for question, kora_field in api_answers:
        want = expected[question]
        assert kora_field["answer"] == want["answer"], question
        assert kora_field["refused"] == want["refused"]
        assert [(c["n"], c["doc_id"], c["location"]) for c in kora_field["citations"]] == \
            [(c["n"], c["doc_id"], c["location"]) for c in want["citations"]]
    for question, text in chat_answers:
        assert text.startswith(expected[question]["answer"]), question


# --- a real `kora serve` answering through an LLM that a test can hold -----------------


class EndlessLLM:
    """An OpenAI-compatible LLM on loopback that writes a supported sentence again and
    again, slowly (so an answer is mid-stream as long as a test needs), or a short
    answer once ``endless`` is switched off; it notes when KORA hangs up on it."""

    def __init__(self) -> None:
        self.endless = True
        self.streams = 0
        self.hung_up = 0
        self._lock = threading.Lock()
        self.server = LoopbackServer(self.respond)

    def respond(self, method: str, path: str, body: Any) -> tuple[int, str, Any]:
        with self._lock:
            self.streams += 1
        return 200, "text/event-stream", self._events(body["model"], self.endless)

    def _events(self, model: str, endless: bool) -> Iterator[bytes]:
        piece = "Ina Scharrenbach eröffnete die Jahrestagung [1]. "
        count = 600 if endless else 2
        done = False
        try:
            for index in range(count):
                chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1,
                         "model": model, "choices": [{"index": 0, "delta": {
                             "content": piece}, "finish_reason": None}]}
                if index == 0:
                    chunk["choices"][0]["delta"]["role"] = "assistant"
                yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()
                if endless:
                    time.sleep(0.1)
            yield b"data: [DONE]\n\n"
            done = True
        finally:
            if not done:
                with self._lock:
                    self.hung_up += 1


@pytest.fixture(scope="module")
def llm_server(tmp_path_factory: pytest.TempPathFactory, shipped_data: Path) -> Iterator[Any]:
    """`kora serve` with one answer slot, no waiting line for the API, and the LLM above."""
    base = tmp_path_factory.mktemp("api-llm")
    shutil.copytree(shipped_data, base / "data")
    llm = EndlessLLM()
    env = kora_environment(data_dir=str(base / "data"), corpus_dir=str(CORPUS), llm="openai",
                           openai_base_url=f"{llm.server.url}/v1", llm_model=FAKE_MODEL,
                           answer_concurrency="1", llm_concurrency="1", api_queue_size="0")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy"):
        env.pop(name, None)
    key = add_key(base / "data", "tests")
    worker = Worker(env, base / "serve.log").wait_ready()
    worker.key, worker.llm = key, llm
    yield worker
    worker.stop()
    llm.server.close()


def test_full_queue_is_429_and_a_client_that_leaves_frees_its_slot(llm_server: Any) -> None:
    import openai

    llm: EndlessLLM = llm_server.llm
    client = client_for(llm_server.url, llm_server.key)
    messages = [{"role": "user", "content": SCHARRENBACH}]
    stream = client.chat.completions.create(model="kora", stream=True, messages=messages)
    pieces = iter(stream)
    assert next(pieces).choices[0].delta.role == "assistant"
    first = next(pieces)
    assert "Scharrenbach" in (first.choices[0].delta.content or "")  # mid-answer now

    # the one slot is taken and no API request may wait: 429 with Retry-After
    response = httpx.post(f"{llm_server.url}v1/chat/completions", timeout=60,
                          headers={"Authorization": f"Bearer {llm_server.key}"},
                          json={"model": "kora-extraktiv", "messages": messages})
    error = assert_error_shape(response, 429, "queue_full")
    assert error["type"] == "rate_limit_error"
    assert int(response.headers["retry-after"]) >= 1
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="kora-extraktiv", messages=messages)

    # the streaming client leaves: KORA stops the model and the slot is free again
    stream.close()
    wait_until(lambda: llm.hung_up == 1, seconds=60, what="KORA hanging up on the LLM")
    llm.endless = False
    reply = wait_until(lambda: client.chat.completions.create(model="kora", messages=messages),
                       seconds=60, what="an answer after the slot was freed")
    assert reply.kora["mode"] == "llm" and reply.kora["citations"][0]["doc_id"] == JAHRESTAGUNG
    assert "Scharrenbach" in reply.choices[0].message.content


def test_a_streamed_llm_answer_the_check_changes_is_followed_by_the_checked_one(
        llm_server: Any) -> None:
    llm: EndlessLLM = llm_server.llm
    llm.endless = False
    client = client_for(llm_server.url, llm_server.key)
    chunks = wait_until(lambda: list(client.chat.completions.create(
        model="kora", stream=True, messages=[{"role": "user", "content": SCHARRENBACH}])),
        seconds=60, what="a streamed LLM answer")
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    kora = chunks[-1].kora
    assert kora["mode"] == "llm" and text.startswith("Ina Scharrenbach eröffnete")
    if kora["answer"].strip() != ("Ina Scharrenbach eröffnete die Jahrestagung [1]. " * 2).strip():
        assert "**Geprüfte Antwort:**\n" + kora["answer"] in text
    assert text.rstrip().endswith(")")  # the source list closes it


# --- in-process apps: throttling on a clock the test moves, and the open API ----------


def test_wrong_keys_are_throttled_like_logins(tmp_path: Path, embedder: Any,
                                              indexed_copy: IndexedCopy) -> None:
    from ui.api import ApiSettings
    from ui.app import build_app

    settings = indexed_copy(tmp_path, login_max_failures=2, login_delay_seconds=30)
    key = add_key(settings.data_dir, "tests")
    clock = Clock()
    demo: Any = build_app(settings, assistant_factory=factory_with(embedder), clock=clock,
                          api_settings=ApiSettings(open=False))
    start_app(demo, settings)
    try:
        url = f"{demo.kora_url}v1/models"
        for _ in range(2):
            assert httpx.get(url, headers={"Authorization": "Bearer kora-00000000-" + "x" * 43}
                             ).status_code == 401
        # now even the right key waits, as a right password does after failed logins
        response = httpx.get(url, headers={"Authorization": f"Bearer {key}"})
        assert_error_shape(response, 429, "too_many_failed_keys")
        assert int(response.headers["retry-after"]) == 30
        clock.advance(31)
        assert httpx.get(url, headers={"Authorization": f"Bearer {key}"}).status_code == 200
        outcomes = [e["outcome"] for e in demo.gate.audit.entries() if e["action"] == "api-key"]
        assert outcomes == ["failed", "failed", "throttled"]
    finally:
        demo.shared.close()
        demo.close()


def test_open_api_needs_no_key_and_is_warned_about(tmp_path: Path, embedder: Any,
                                                   indexed_copy: IndexedCopy) -> None:
    from ui import strings as S
    from ui.api import ApiSettings
    from ui.app import api_console_line, build_app

    settings = indexed_copy(tmp_path)
    people = people_at(settings.data_dir)
    assert api_console_line(people, ApiSettings(open=True)) == S.CONSOLE_API_OPEN
    assert "0 aktive" in api_console_line(people, ApiSettings())
    people.close()
    demo: Any = build_app(settings, assistant_factory=factory_with(embedder),
                          api_settings=ApiSettings(open=True))
    start_app(demo, settings)
    try:
        reply = client_for(demo.kora_url, None).chat.completions.create(
            model="kora", messages=[{"role": "user", "content": SCHARRENBACH}])
        assert "Scharrenbach" in reply.choices[0].message.content
    finally:
        demo.shared.close()
        demo.close()
