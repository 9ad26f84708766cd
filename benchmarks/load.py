"""Load benchmark: concurrent chat users through the public API, a full re-index midway.

    python benchmarks/load.py [--users 1,8,32,64] [--seconds 20] [--think 0]
                              [--setups embedded,server] [--out benchmarks/out/load.json]
                              [--keep]

Two set-ups, each started once and then run for every number of users N:

(a) ``embedded``: one worker with the embedded Chroma in its data directory. The re-index
    is the admin area's "Vollständig neu aufbauen", run inside that worker (only that
    process may open an embedded Chroma). The admin events are not part of the public
    API, so the benchmark starts the worker itself (``--worker``: the app exactly as
    ``kora serve`` builds it) and triggers the admin action through a pipe, logged in
    with the shared admin password.
(b) ``server``: a ``chroma run`` server and two workers, each with its own data directory
    (as on two machines); users are spread over the workers and stay with theirs (sticky
    sessions at the reverse proxy). The re-index is ``kora ingest --rebuild`` from a third
    data directory (the command line on a third machine).

For every N, N users (threads, each with its own ``gradio_client.Client``, like separate
browsers) ask golden-set questions (``evaluation/golden.yaml``, in-scope and
out-of-scope, each user in its own shuffled order) through ``/frage``, back to back
(``--think`` seconds between questions), for ``--seconds``. After a third of that, every
corpus document's title gets the round's tag ("… [Runde k]") and the full re-index
starts. A round lasts at least until the re-index has finished and every worker answers
from the new generation (a probe asks each worker twice a second), then 3 s more.

Reported per set-up and N: requests, requests/s, latency p50/p95/p99 of answered
requests, failed requests (an exception from the API, such as the German error line),
refusals, answers from a half-written index, the re-index's duration, and the seconds
from the publication of the new generation to each worker's first answer from it. Per
set-up: peak RSS of every process (workers and Chroma from /proc VmHWM, command-line
ingests from wait4, this process) and CPU seconds. Each round prints the load average
and the CPU seconds that processes outside the benchmark used: the 2-core box may be
shared with other work, which then shows in every latency.

Answers from a half-written index. The API's sources name the generation and version
that answered (``data-index="<generation>@<version>"``). A watcher records every
generation and version the pointer (``current.json``, or ``kora-meta`` in the Chroma
server) published, and which round's corpus each generation was built from. An answer
counts as from a half-written index when the version it names was never published, when
its citations carry titles of different rounds, or when they carry another round than
the one its generation was built from. (Every citation names its document's title, so
a mix of two generations inside one answer, or a generation served before it was
complete, shows.)
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# benchmarks/ must not shadow the ``ingest`` package (see benchmarks/ingest.py)
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(REPO))

from benchmarks.machine import system_busy_seconds  # noqa: E402
from rag.offline import enforce_offline  # noqa: E402

enforce_offline()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import html  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import queue  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

import yaml  # noqa: E402

SHIPPED_CORPUS = REPO / "corpus"
GOLDEN = REPO / "evaluation" / "golden.yaml"
DEFAULT_USERS = (1, 8, 32, 64)
DEFAULT_SECONDS = 20.0
DEFAULT_OUT = REPO / "benchmarks" / "out" / "load.json"
ADMIN_PASSWORD = "lastprobe-admin-2026"
REFUSED_MODE = "nicht in den Dokumenten"
EXTRA_SECONDS = 3.0
SWITCH_LIMIT_SECONDS = 600.0  # a round gives up waiting for a worker to switch after this
_TITLE_LINE = re.compile(r'^title:\s*"(.*)"\s*$', re.MULTILINE)
_ROUND = re.compile(r"\[Runde (\d+)\]")
_SUMMARY = re.compile(r"<summary>\[\d+\] (.*?)</summary>", re.DOTALL)
_INDEX = re.compile(r'data-index="([^"]*)"')


# --- processes -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_status(pid: int, key: str) -> int:
    """A KiB value such as VmHWM (peak RSS) from /proc/<pid>/status; 0 if unavailable."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def wait_for(check: Any, *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{what} did not happen within {seconds:g} s")


def kora_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KORA_")}
    env["PYTHONPATH"] = str(REPO)
    env["KORA_CONFIG"] = "/nonexistent/kora.toml"
    env.update({f"KORA_{name.upper()}": value for name, value in settings.items()})
    return env


def run_cli(args: list[str], env: dict[str, str]) -> tuple[int, str, str, int, float]:
    """Run ``kora ARGS``: (exit code, stdout, stderr, peak RSS KiB, seconds)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen([sys.executable, "-m", "ui.cli", *args], env=env,
                                   stdout=out, stderr=err, cwd=REPO)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (process.returncode, out.read().decode(), err.read().decode(),
                int(usage.ru_maxrss), time.perf_counter() - started)


class ChromaProcess:
    def __init__(self, path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        chroma = Path(sys.executable).with_name("chroma")
        self.log = open(path.with_suffix(".log"), "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port",
             str(self.port)], stdout=self.log, stderr=subprocess.STDOUT)
        import httpx

        wait_for(lambda: httpx.get(f"{self.url}/api/v2/heartbeat", timeout=2)
                 .status_code == 200, seconds=60, what="Chroma start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


class WorkerProcess:
    """``load.py --worker``: the app as ``kora serve`` builds it, plus a control pipe."""

    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = open(log, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", "--port",
             str(self.port)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.log, text=True, cwd=REPO)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.expect("ready", seconds=600)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, prefix: str, *, seconds: float) -> str:
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or self.process.poll() is not None:
                raise RuntimeError(f"worker {self.name}: no '{prefix}' (see {self.log.name})")
            try:
                line = self.lines.get(timeout=min(left, 1.0))
            except queue.Empty:
                continue
            if line.startswith(prefix):
                return line[len(prefix):].strip()

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def peak_rss_kib(self) -> int:
        return proc_status(self.process.pid, "VmHWM")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.send("quit")
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGKILL)
                self.process.wait(timeout=30)
        self.log.close()


def run_worker(port: int) -> int:
    """The worker side: serve until "quit"; "reindex-full" runs the admin action."""
    from rag.settings import Settings
    from ui.app import build_app, launch

    settings = Settings.load()
    demo: Any = build_app(settings)
    launch(demo, settings, host="127.0.0.1", port=port)
    print("ready", flush=True)
    handlers = demo.kora_handlers
    token = None
    for line in sys.stdin:
        command = line.strip()
        if command == "reindex-full":
            if token is None:
                token, _, _ = handlers["login"]("", os.environ["KORA_ADMIN_PASSWORD"], None)
            started = time.perf_counter()
            report = handlers["reindex"](token, None, None, full=True)
            print("reindexed " + json.dumps({"seconds": time.perf_counter() - started,
                                             "report": report}, ensure_ascii=False),
                  flush=True)
        elif command == "quit":
            break
    demo.kora_shared.close()
    demo.close()
    return 0


# --- the corpus and the questions ------------------------------------------------------------


def prepare_corpus(target: Path) -> dict[Path, str]:
    """A copy of the shipped corpus; returns each Markdown file's original title."""
    shutil.copytree(SHIPPED_CORPUS, target)
    titles = {}
    for path in sorted(target.rglob("*.md")):
        match = _TITLE_LINE.search(path.read_text(encoding="utf-8"))
        if match:
            titles[path] = match.group(1)
    tag_round(titles, 0)
    return titles


def tag_round(titles: dict[Path, str], number: int) -> None:
    """Every title gets "[Runde <number>]": each generation's chunks name their round."""
    for path, title in titles.items():
        text = path.read_text(encoding="utf-8")
        line = 'title: "' + title.replace('"', '\\"') + f' [Runde {number}]"'
        path.write_text(_TITLE_LINE.sub(lambda _, line=line: line, text, count=1),
                        encoding="utf-8")


def golden_questions() -> list[str]:
    data = yaml.safe_load(GOLDEN.read_text(encoding="utf-8"))
    return [q["question"] for q in data["questions"]]


# --- one round -----------------------------------------------------------------------------


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


class SetUp:
    """The processes of one set-up and how to re-index and read the pointer there."""

    name: str
    workers: list[WorkerProcess]

    def current(self) -> tuple[str, int] | None:
        raise NotImplementedError

    def reindex(self, corpus: Path) -> dict[str, Any]:
        raise NotImplementedError

    def processes(self) -> dict[str, int]:
        """name -> pid of the processes whose CPU and memory count as the set-up's."""
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class EmbeddedSetUp(SetUp):
    name = "embedded"

    def __init__(self, base: Path, corpus: Path) -> None:
        from rag.providers.vectorstore import DataDir
        from rag.settings import Settings

        data = base / "worker-1"
        env = kora_env(data_dir=str(data), corpus_dir=str(corpus), llm="none",
                       admin_password=ADMIN_PASSWORD)
        code, _, err, rss, seconds = run_cli(["ingest", "--json"], env)
        if code != 0:
            raise RuntimeError(f"initial ingest failed: {err}")
        self.ingests = [{"what": "initial ingest", "peak_rss_kib": rss, "seconds": seconds}]
        self.workers = [WorkerProcess("worker-1", env, base / "worker-1.log")]
        # reading current.json only; the embedded Chroma is the worker's alone
        self.data_dir = DataDir(Settings.load(data_dir=data))

    def current(self) -> tuple[str, int] | None:
        live = self.data_dir.current()
        return live.key if live else None

    def reindex(self, corpus: Path) -> dict[str, Any]:
        worker = self.workers[0]
        started = time.perf_counter()
        worker.send("reindex-full")
        done = json.loads(worker.expect("reindexed", seconds=3600))
        return {"seconds": time.perf_counter() - started, "report": done["report"],
                "where": "admin area of worker-1 (Vollständig neu aufbauen)"}

    def processes(self) -> dict[str, int]:
        return {w.name: w.process.pid for w in self.workers}

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


class ServerSetUp(SetUp):
    name = "server"

    def __init__(self, base: Path, corpus: Path, *, workers: int = 2) -> None:
        from rag.providers.vectorstore import DataDir
        from rag.settings import Settings

        self.base = base
        self.chroma = ChromaProcess(base / "chroma-data")
        self.cli_env = kora_env(chroma_url=self.chroma.url, data_dir=str(base / "cli-host"),
                                corpus_dir=str(corpus), llm="none")
        code, _, err, rss, seconds = run_cli(["ingest", "--json"], self.cli_env)
        if code != 0:
            raise RuntimeError(f"initial ingest failed: {err}")
        self.ingests = [{"what": "initial ingest", "peak_rss_kib": rss, "seconds": seconds}]
        self.workers = []
        for number in range(1, workers + 1):
            env = kora_env(chroma_url=self.chroma.url, data_dir=str(base / f"worker-{number}"),
                           corpus_dir=str(corpus), llm="none", admin_password=ADMIN_PASSWORD)
            self.workers.append(WorkerProcess(f"worker-{number}", env,
                                              base / f"worker-{number}.log"))
        self.data_dir = DataDir(Settings.load(data_dir=base / "watcher",
                                              chroma_url=self.chroma.url))

    def current(self) -> tuple[str, int] | None:
        live = self.data_dir.current()
        return live.key if live else None

    def reindex(self, corpus: Path) -> dict[str, Any]:
        code, out, err, rss, seconds = run_cli(["ingest", str(corpus), "--rebuild", "--json"],
                                               self.cli_env)
        if code != 0:
            raise RuntimeError(f"re-index failed: {err}")
        self.ingests.append({"what": "kora ingest --rebuild", "peak_rss_kib": rss,
                             "seconds": seconds})
        return {"seconds": seconds, "report": json.loads(out),
                "where": "kora ingest --rebuild from a third data directory",
                "peak_rss_kib": rss}

    def processes(self) -> dict[str, int]:
        return {**{w.name: w.process.pid for w in self.workers},
                "chroma": self.chroma.process.pid}

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.chroma.stop()


def make_clients(urls: list[str], count: int) -> list[Any]:
    from gradio_client import Client

    return [Client(urls[i % len(urls)], verbose=False) for i in range(count)]


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

    load_before = os.getloadavg()
    busy_before = system_busy_seconds()
    pids = setup.processes()
    cpu_before = {name: proc_cpu_seconds(pid) for name, pid in pids.items()}
    own_before = resource.getrusage(resource.RUSAGE_SELF)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
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
    load_after = os.getloadavg()
    cpu = {name: proc_cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    workers_cpu = sum(cpu.values())
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    ours = (sum(cpu.values())
            + own.ru_utime + own.ru_stime - own_before.ru_utime - own_before.ru_stime
            + children.ru_utime + children.ru_stime
            - children_before.ru_utime - children_before.ru_stime)
    others = max(0.0, system_busy_seconds() - busy_before - ours)

    answered = [r for r in results if r.ok]
    failed = [r for r in results if not r.ok]
    latencies = [r.seconds for r in answered]
    problems = [(r, why) for r in results if (why := half_written(r, pointer))]
    published_at = pointer.published.get(new_key["key"]) if "key" in new_key else None
    return {
        "users": users,
        "round": number,
        "seconds": round(ended - started, 1),
        "requests": len(results),
        "answered": len(answered),
        "requests_per_second": round(len(results) / (ended - started), 2),
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
        "reindex_seconds": round(float(reindexed.get("seconds", float("nan"))), 1),
        "reindex": reindexed.get("where"),
        "switch_seconds": {name: round(at - published_at, 2) if published_at else None
                           for name, at in sorted(switched.items())},
        "workers_switched": len(switched),
        "generations_served": sorted({r.index for r in answered}),
        "load_average": {"start": [round(x, 2) for x in load_before],
                         "end": [round(x, 2) for x in load_after]},
        "cpu_seconds": {**{k: round(v, 1) for k, v in cpu.items()},
                        "benchmark and its command-line ingests": round(ours - workers_cpu, 1),
                        "other processes on the machine": round(others, 1)},
    }


# --- main ------------------------------------------------------------------------------------


def print_round(name: str, row: dict[str, Any]) -> None:
    print(f"  {name:<9} N={row['users']:>3}  {row['requests']:>5} req in {row['seconds']:>5.1f} s "
          f"= {row['requests_per_second']:>6.2f} req/s  p50/p95/p99 {row['latency_p50']:.3f}/"
          f"{row['latency_p95']:.3f}/{row['latency_p99']:.3f} s  failed {row['failed']}  "
          f"half-written {row['half_written']} (of {row['answers_with_round_tags']} "
          f"checked by round)  refused {row['refused']}  re-index "
          f"{row['reindex_seconds']:.0f} s  switch {row['switch_seconds']}  load "
          f"{row['load_average']['start'][0]:.1f}->{row['load_average']['end'][0]:.1f}  "
          f"others' CPU {row['cpu_seconds']['other processes on the machine']:.0f} s",
          flush=True)
    for failure in row["failures"]:
        print(f"      failure: {failure}", flush=True)
    for why in row["half_written_examples"]:
        print(f"      half-written: {why}", flush=True)


def run_setup(name: str, base: Path, args: argparse.Namespace,
              questions: list[str]) -> dict[str, Any]:
    corpus = base / "corpus"
    titles = prepare_corpus(corpus)
    started = time.perf_counter()
    setup: SetUp = EmbeddedSetUp(base, corpus) if name == "embedded" else ServerSetUp(base, corpus)
    print(f"{name}: {len(setup.workers)} worker(s) up after {time.perf_counter() - started:.0f} s",
          flush=True)
    pointer = Pointer()
    key = setup.current()
    if key is not None:
        pointer.see(*key)
    rounds = []
    try:
        clients = make_clients([w.url for w in setup.workers], max(args.users))
        for number, users in enumerate(args.users, start=1):
            row = run_round(setup, clients, users, number, seconds=args.seconds,
                            think=args.think, questions=questions, titles=titles,
                            corpus=corpus, pointer=pointer)
            print_round(name, row)
            rounds.append(row)
        peaks = {n: proc_status(pid, "VmHWM") for n, pid in setup.processes().items()}
    finally:
        setup.stop()
    ingests = getattr(setup, "ingests", [])
    return {
        "setup": name,
        "workers": len(setup.workers),
        "rounds": rounds,
        "peak_rss_mib": {
            **{n: round(kib / 1024, 1) for n, kib in peaks.items()},
            **{f"{i['what']} ({k})": round(i["peak_rss_kib"] / 1024, 1)
               for k, i in enumerate(ingests)},
            "benchmark (load generator)": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default=",".join(map(str, DEFAULT_USERS)),
                        help="numbers of concurrent users, one round each (default 1,8,32,64)")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS,
                        help="least length of a round (default 20); it also waits for the "
                             "re-index and every worker's switch")
    parser.add_argument("--think", type=float, default=0.0,
                        help="seconds a user waits between questions (default 0)")
    parser.add_argument("--setups", default="embedded,server")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return run_worker(args.port)
    args.users = [int(n) for n in args.users.split(",")]
    questions = golden_questions()
    print(f"load benchmark: users {args.users}, rounds of at least {args.seconds:g} s, "
          f"{len(questions)} golden-set questions; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f} at start (the machine may be shared)", flush=True)
    base = Path(tempfile.mkdtemp(prefix="kora-load-"))
    results = []
    try:
        for name in args.setups.split(","):
            (base / name).mkdir()
            results.append(run_setup(name, base / name, args, questions))
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    print("\npeak RSS (MiB):")
    for result in results:
        print(f"  {result['setup']}: " + ", ".join(
            f"{name} {mib}" for name, mib in result["peak_rss_mib"].items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "settings": {"users": args.users, "seconds": args.seconds, "think": args.think},
        "results": results,
    }, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
