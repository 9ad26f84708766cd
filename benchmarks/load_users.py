"""One round of the load benchmark: simulated users asking through the public API while
the index is rebuilt, a watcher of what the pointer publishes, and the check that no
answer came from a half-written index."""

from __future__ import annotations

import contextlib
import html
import json
import os
import random
import re
import resource
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmarks._start import REPO
from benchmarks.load_processes import proc_cpu_seconds
from benchmarks.load_setups import SetUp, tag_round
from benchmarks.machine import system_busy_seconds

GOLDEN = REPO / "evaluation" / "golden.yaml"
REFUSED_MODE = "nicht in den Dokumenten"
EXTRA_SECONDS = 3.0
SWITCH_LIMIT_SECONDS = 600.0  # a round gives up waiting for a worker to switch after this
_ROUND = re.compile(r"\[Runde (\d+)\]")
_SUMMARY = re.compile(r"<summary>\[\d+\] (.*?)</summary>", re.DOTALL)
_INDEX = re.compile(r'data-index="([^"]*)"')


def golden_questions() -> list[str]:
    data = yaml.safe_load(GOLDEN.read_text(encoding="utf-8"))
    return [q["question"] for q in data["questions"]]


@dataclass
class Result:
    user: int
    worker: str
    started: float
    seconds: float
    ok: bool
    error: str = ""
    index: str = ""
    rounds: tuple[int, ...] = ()
    refused: bool = False


@dataclass
class Pointer:
    """What the watcher saw the pointer publish: (generation, version) -> time, and the
    corpus round each generation was built from."""

    published: dict[tuple[str, int], float] = field(default_factory=dict)
    round_of: dict[str, int] = field(default_factory=dict)
    current_round: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def see(self, name: str, version: int) -> None:
        with self.lock:
            if (name, version) not in self.published:
                self.published[(name, version)] = time.perf_counter()
            self.round_of.setdefault(name, self.current_round)


def parse_answer(sources: str) -> tuple[str, tuple[int, ...]]:
    found = _INDEX.search(sources)
    rounds = tuple(int(m.group(1)) for title in _SUMMARY.findall(sources)
                   for m in [_ROUND.search(html.unescape(title))] if m)
    return (found.group(1) if found else ""), rounds


def half_written(result: Result, pointer: Pointer) -> str:
    """Why ``result`` came from a half-written index, or ""."""
    if not result.ok:
        return ""
    name, _, version = result.index.partition("@")
    if not name or not version.isdigit() or (name, int(version)) not in pointer.published:
        return f"unpublished index {result.index!r}"
    if len(set(result.rounds)) > 1:
        return f"citations from rounds {sorted(set(result.rounds))}"
    if result.rounds and result.rounds[0] != pointer.round_of.get(name):
        return f"round {result.rounds[0]} cited from a generation of round " \
               f"{pointer.round_of.get(name)}"
    return ""


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(share * (len(ordered) - 1))))
    return ordered[rank]


class CallClient:
    """One user: Gradio's HTTP call protocol (``POST /gradio_api/call/<api>``, then the
    event stream of its result) over one connection from its own loopback address, so
    that a reverse proxy hashing client addresses spreads users as it spreads people.
    ``predict`` returns the outputs as ``gradio_client.Client.predict`` does and raises
    on the API's error event (such as the German error line)."""

    def __init__(self, url: str, address: str) -> None:
        import httpx

        self.address = address
        self.http = httpx.Client(base_url=url, timeout=600,
                                 transport=httpx.HTTPTransport(local_address=address))

    def predict(self, *data: Any, api_name: str) -> list[Any]:
        name = api_name.strip("/")
        started = self.http.post(f"gradio_api/call/{name}", json={"data": list(data)})
        started.raise_for_status()
        event_id = started.json()["event_id"]
        event = ""
        with self.http.stream("GET", f"gradio_api/call/{name}/{event_id}") as stream:
            stream.raise_for_status()
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    payload = json.loads(line[5:].strip() or "null")
                    if event == "error":
                        raise RuntimeError(str(payload or "error event without message"))
                    # a handler's tuple comes as one list inside the event's list
                    if len(payload) == 1 and isinstance(payload[0], list):
                        return list(payload[0])
                    return list(payload)
        raise RuntimeError(f"the event stream ended without a result (last event {event!r})")

    def worker(self) -> str:
        """Which worker answers this user (the proxy's X-Kora-Worker header), or ""."""
        return self.http.get("config").headers.get("X-Kora-Worker", "")


def make_clients(urls: list[str], count: int) -> list[CallClient]:
    """``count`` users spread over ``urls``, each from its own address 127.0.0.2, .3, …"""
    return [CallClient(urls[i % len(urls)], f"127.0.{(i + 2) // 256}.{(i + 2) % 256}")
            for i in range(count)]


def run_round(setup: SetUp, clients: list[Any], users: int, number: int, *,
              seconds: float, think: float, questions: list[str], titles: dict[Path, str],
              corpus: Path, pointer: Pointer) -> dict[str, Any]:
    results: list[Result] = []
    results_lock = threading.Lock()
    stop = threading.Event()
    reindexed: dict[str, Any] = {}
    switched: dict[str, float] = {}
    new_key: dict[str, tuple[str, int]] = {}  # "before" and "key": the re-index's switch
    names = [w.name for w in setup.workers]

    def user(index: int) -> None:
        client = clients[index]
        worker = names[index % len(names)]
        order = questions[:]
        random.Random(number * 1000 + index).shuffle(order)
        asked = 0
        while not stop.is_set():
            question = order[asked % len(order)]
            asked += 1
            started = time.perf_counter()
            try:
                _, sources, mode = client.predict(question, "alle", api_name="/frage")
            except Exception as exc:
                result = Result(index, worker, started, time.perf_counter() - started, False,
                                error=" ".join(str(exc).split())[:200] or type(exc).__name__)
            else:
                served, rounds = parse_answer(str(sources))
                result = Result(index, worker, started, time.perf_counter() - started, True,
                                index=served, rounds=rounds, refused=mode == REFUSED_MODE)
            with results_lock:
                results.append(result)
            if think:
                stop.wait(think)

    def watch() -> None:
        """Record what the pointer publishes; the first change after the re-index started
        is the generation every worker must switch to."""
        while not stop.is_set():
            with contextlib.suppress(Exception):
                key = setup.current()
                if key is not None:
                    pointer.see(*key)
                    if "before" in new_key and key != new_key["before"]:
                        new_key.setdefault("key", key)
            time.sleep(0.1)

    def probe() -> None:
        """Ask every worker until it answers from the generation the re-index published."""
        probes = make_clients([w.url for w in setup.workers], len(setup.workers))
        while not stop.is_set():
            target = new_key.get("key")
            for worker, client in zip(setup.workers, probes, strict=True):
                if target is None or worker.name in switched:
                    continue
                with contextlib.suppress(Exception):
                    _, sources, _ = client.predict(questions[0], "alle", api_name="/frage")
                    served, _ = parse_answer(str(sources))
                    if served == f"{target[0]}@{target[1]}":
                        switched[worker.name] = time.perf_counter()
            stop.wait(0.5)

    def reindex() -> None:
        time.sleep(seconds / 3)
        with pointer.lock:
            pointer.current_round = number
        tag_round(titles, number)
        before = setup.current()
        assert before is not None
        new_key["before"] = before
        outcome = setup.reindex(corpus)
        after = setup.current()
        if after is not None and after != before:
            pointer.see(*after)
            new_key.setdefault("key", after)
        reindexed.update(outcome)

    with RoundCpu(setup.processes()) as cpu:
        started = time.perf_counter()
        threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(users)]
        helpers = [threading.Thread(target=f, name=f.__name__, daemon=True)
                   for f in (watch, probe, reindex)]
        for thread in threads + helpers:
            thread.start()
        deadline = started + seconds
        limit = started + SWITCH_LIMIT_SECONDS
        while time.perf_counter() < limit:
            everyone = reindexed and len(switched) == len(setup.workers)
            if time.perf_counter() >= deadline and everyone:
                break
            time.sleep(0.2)
        time.sleep(EXTRA_SECONDS)
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        ended = time.perf_counter()
        for thread in helpers:
            thread.join(timeout=3600 if thread.name == "reindex" else 10)

    published_at = pointer.published.get(new_key["key"]) if "key" in new_key else None
    return {
        "users": users,
        "round": number,
        "seconds": round(ended - started, 1),
        **answers_row(results, pointer, ended - started),
        "reindex_seconds": round(float(reindexed.get("seconds", float("nan"))), 1),
        "reindex": reindexed.get("where"),
        "switch_seconds": {name: round(at - published_at, 2) if published_at else None
                           for name, at in sorted(switched.items())},
        "workers_switched": len(switched),
        "generations_served": sorted({r.index for r in results if r.ok}),
        **cpu.as_row(),
    }


def answers_row(results: list[Result], pointer: Pointer, seconds: float) -> dict[str, Any]:
    """A round's requests: rate, latency, failures, refusals and half-written answers."""
    answered = [r for r in results if r.ok]
    failed = [r for r in results if not r.ok]
    latencies = [r.seconds for r in answered]
    problems = [(r, why) for r in results if (why := half_written(r, pointer))]
    return {
        "requests": len(results),
        "answered": len(answered),
        "requests_per_second": round(len(results) / seconds, 2),
        "latency_p50": round(percentile(latencies, 0.50), 3),
        "latency_p95": round(percentile(latencies, 0.95), 3),
        "latency_p99": round(percentile(latencies, 0.99), 3),
        "latency_mean": round(statistics.fmean(latencies), 3) if latencies else None,
        "failed": len(failed),
        "failures": sorted({r.error for r in failed})[:5],
        "refused": sum(r.refused for r in answered),
        "half_written": len(problems),
        # answers whose citations named their round: what the round check could check
        "answers_with_round_tags": sum(bool(r.rounds) for r in answered),
        "half_written_examples": [why for _, why in problems][:5],
    }


class RoundCpu:
    """The CPU seconds a round cost each process of the set-up, this benchmark (with its
    command-line ingests) and every other process on the machine, and the load average:
    on a shared 2-core box the others' share decides the latencies as much as KORA."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids

    def __enter__(self) -> RoundCpu:
        self.load_before = os.getloadavg()
        self.busy_before = system_busy_seconds()
        self.cpu_before = {name: proc_cpu_seconds(pid) for name, pid in self.pids.items()}
        self.own_before = resource.getrusage(resource.RUSAGE_SELF)
        self.children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        return self

    def __exit__(self, *exc: object) -> None:
        self.load_after = os.getloadavg()
        self.cpu = {name: proc_cpu_seconds(pid) - self.cpu_before[name]
                    for name, pid in self.pids.items()}
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        own_before, children_before = self.own_before, self.children_before
        self.ours = (sum(self.cpu.values())
                     + own.ru_utime + own.ru_stime - own_before.ru_utime - own_before.ru_stime
                     + children.ru_utime + children.ru_stime
                     - children_before.ru_utime - children_before.ru_stime)
        self.others = max(0.0, system_busy_seconds() - self.busy_before - self.ours)

    def as_row(self) -> dict[str, Any]:
        workers_cpu = sum(self.cpu.values())
        return {
            "load_average": {"start": [round(x, 2) for x in self.load_before],
                             "end": [round(x, 2) for x in self.load_after]},
            "cpu_seconds": {**{k: round(v, 1) for k, v in self.cpu.items()},
                            "benchmark and its command-line ingests":
                                round(self.ours - workers_cpu, 1),
                            "other processes on the machine": round(self.others, 1)},
        }
