"""The load benchmark's API round: the OpenAI-compatible API (`/v1/chat/completions`,
streamed, through the official ``openai`` client) against the same number of
``gradio_client`` users of ``/frage``, on one worker, without a re-index.

Every question is asked once before the rounds (the embedder's caches then serve both
sides alike). For every N, first N chat users, then N API clients ask golden-set
questions back to back for ``seconds`` each (both in the same shuffled orders).
Reported per N: requests, p50/p95 latency of each, the API's p95 over the web app's
(target ≤ 1.1), and the API's time to the first streamed chunk (the role chunk, sent
once the request is accepted) and to the first chunk with answer text.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.load_processes import WorkerProcess, kora_env, run_cli
from benchmarks.load_setups import prepare_corpus
from benchmarks.load_users import percentile
from benchmarks.machine import system_busy_seconds


def start_worker(base: Path) -> tuple[WorkerProcess, str]:
    """One worker over a fresh index of the shipped corpus (extractive answers), and an
    API key for it."""
    from people import People
    from rag.settings import Settings

    corpus = base / "corpus"
    prepare_corpus(corpus)
    data = base / "data"
    env = kora_env(data_dir=str(data), corpus_dir=str(corpus), llm="none",
                   api_queue_size="1000")
    code, _, err, _, _ = run_cli(["ingest", "--json"], env)
    if code != 0:
        raise RuntimeError(f"initial ingest failed: {err}")
    people = People.open(Settings.load(data_dir=data), purge_feedback=False)
    _, key = people.api_keys.add("load-benchmark", actor="benchmark")
    people.close()
    return WorkerProcess("worker-api", env, base / "worker-api.log"), key


def _run(users: int, seconds: float, ask: Any, questions: list[str],
         number: int) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def user(index: int) -> None:
        order = questions[:]
        random.Random(number * 1000 + index).shuffle(order)
        asked = 0
        while not stop.is_set():
            question = order[asked % len(order)]
            asked += 1
            started = time.perf_counter()
            try:
                timings = ask(index, question)
            except Exception as exc:
                row = {"ok": False, "error": " ".join(str(exc).split())[:200]}
            else:
                row = {"ok": True, **{k: v - started for k, v in timings.items()}}
            row["seconds"] = time.perf_counter() - started
            with lock:
                results.append(row)

    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(users)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=300)
    return results


def _summary(rows: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    ok = [r for r in rows if r["ok"]]
    latencies = [r["seconds"] for r in ok]
    summary = {"requests": len(rows), "failed": len(rows) - len(ok),
               "requests_per_second": round(len(rows) / seconds, 2),
               "p50": round(percentile(latencies, 0.5), 3),
               "p95": round(percentile(latencies, 0.95), 3),
               "failures": sorted({r["error"] for r in rows if not r["ok"]})[:3]}
    for name in ("first_chunk", "first_text"):
        values = [r[name] for r in ok if name in r]
        if values:
            summary[f"{name}_p50"] = round(percentile(values, 0.5), 3)
            summary[f"{name}_p95"] = round(percentile(values, 0.95), 3)
    return summary


def run_api_rounds(base: Path, user_counts: list[int], seconds: float,
                   questions: list[str]) -> list[dict[str, Any]]:
    from gradio_client import Client
    from openai import OpenAI

    worker, key = start_worker(base)
    rounds = []
    try:
        most = max(user_counts)
        web_clients = [Client(worker.url, verbose=False) for _ in range(most)]
        api_clients = [OpenAI(base_url=f"{worker.url}v1", api_key=key, max_retries=0,
                              timeout=600) for _ in range(most)]

        def web(index: int, question: str) -> dict[str, float]:
            web_clients[index].predict(question, "alle", api_name="/frage")
            return {}

        def api(index: int, question: str) -> dict[str, float]:
            timings: dict[str, float] = {}
            stream = api_clients[index].chat.completions.create(
                model="kora", stream=True, messages=[{"role": "user", "content": question}])
            for chunk in stream:
                timings.setdefault("first_chunk", time.perf_counter())
                if chunk.choices and chunk.choices[0].delta.content:
                    timings.setdefault("first_text", time.perf_counter())
            return timings

        # every question once before anything is timed: the embedder caches what it has
        # embedded, so whichever side went first would otherwise pay for both
        for question in questions:
            api_clients[0].chat.completions.create(
                model="kora", messages=[{"role": "user", "content": question}])
        for number, users in enumerate(user_counts, start=1):
            busy = system_busy_seconds()
            web_rows = _run(users, seconds, web, questions, number)
            api_rows = _run(users, seconds, api, questions, number)
            row = {"users": users, "web": _summary(web_rows, seconds),
                   "api": _summary(api_rows, seconds),
                   "machine_busy_cpu_seconds": round(system_busy_seconds() - busy, 1)}
            row["api_p95_over_web_p95"] = round(row["api"]["p95"] / row["web"]["p95"], 2) \
                if row["web"]["p95"] else None
            print_api_round(row)
            rounds.append(row)
    finally:
        worker.stop()
    return rounds


def print_api_round(row: dict[str, Any]) -> None:
    web, api = row["web"], row["api"]
    print(f"  api-round N={row['users']:>3}  web app {web['requests']:>5} req p50/p95 "
          f"{web['p50']:.3f}/{web['p95']:.3f} s failed {web['failed']}  |  API "
          f"{api['requests']:>5} req p50/p95 {api['p50']:.3f}/{api['p95']:.3f} s failed "
          f"{api['failed']}  |  API p95 / web p95 = {row['api_p95_over_web_p95']}  |  "
          f"first chunk p50/p95 {api.get('first_chunk_p50', float('nan')):.3f}/"
          f"{api.get('first_chunk_p95', float('nan')):.3f} s, first text "
          f"{api.get('first_text_p50', float('nan')):.3f}/"
          f"{api.get('first_text_p95', float('nan')):.3f} s  |  machine busy "
          f"{row['machine_busy_cpu_seconds']:.0f} CPU s", flush=True)
    for failure in web["failures"] + api["failures"]:
        print(f"      failure: {failure}", flush=True)
