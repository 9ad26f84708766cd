"""The load benchmark's processes: a Chroma server, the app workers (both ends of their
control pipe) and ``kora`` command-line runs, with their memory and CPU read from /proc."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks._start import REPO
from loopback import free_port

# the worker is this benchmark's own entry point, started with its hidden --worker flag
LOAD_BENCHMARK = REPO / "benchmarks" / "load.py"


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
            [sys.executable, str(LOAD_BENCHMARK), "--worker", "--port",
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
    app = build_app(settings)
    launch(app, settings, host="127.0.0.1", port=port)
    print("ready", flush=True)
    token = None
    for line in sys.stdin:
        command = line.strip()
        if command == "reindex-full":
            if token is None:
                token, _, _ = app.admin.login("", os.environ["KORA_ADMIN_PASSWORD"], None)
            started = time.perf_counter()
            report = app.admin.reindex(token, None, None, full=True)
            print("reindexed " + json.dumps({"seconds": time.perf_counter() - started,
                                             "report": report}, ensure_ascii=False),
                  flush=True)
        elif command == "quit":
            break
    app.shared.close()
    app.close()
    return 0
