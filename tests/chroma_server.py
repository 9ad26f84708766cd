"""Real processes for the multi-worker tests: a `chroma run` server, `kora serve` workers,
and a token-checking proxy in front of Chroma (the city's reverse proxy)."""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from loopback import free_port, stop_process

REPO = Path(__file__).resolve().parents[1]
CHROMA = Path(sys.executable).with_name("chroma")


def wait_until(check: Any, *, seconds: float, what: str, every: float = 0.25) -> Any:
    """``check()``'s first truthy result; fails the test after ``seconds`` (a liveness
    limit far above the expected time, not a speed requirement)."""
    deadline = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as exc:  # not there yet
            last = exc
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"{what} did not happen within {seconds:g} s (last: {last!r})")


class ChromaServer:
    """`chroma run` on a loopback port with its data in ``path``; can be killed and
    started again on the same port and data."""

    def __init__(self, path: Path, *, port: int | None = None) -> None:
        self.path = path
        self.port = port or free_port()
        self.log = path.with_suffix(".log")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ChromaServer:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1",
                 "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_until(lambda: httpx.get(f"{self.url}/api/v2/heartbeat", timeout=2)
                   .status_code == 200, seconds=60, what="Chroma server start")
        return self

    def kill(self) -> None:
        """SIGKILL: no chance to flush or say goodbye."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def kora_environment(**settings: str) -> dict[str, str]:
    """The environment of a KORA process: no developer KORA_* variables, the repo on the
    path, the given settings as KORA_<NAME>."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KORA_")}
    env["PYTHONPATH"] = str(REPO)
    env["KORA_CONFIG"] = settings.pop("config", "/nonexistent/kora.toml")
    env.update({f"KORA_{name.upper()}": value for name, value in settings.items()})
    return env


class Worker:
    """`kora serve` in its own process, as on its own machine."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = log
        with open(log, "ab") as handle:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ui.cli", "serve", "--port", str(self.port)],
                env=env, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=REPO)

    def wait_ready(self, seconds: float = 240) -> Worker:
        def up() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited: {self.log.read_text()[-2000:]}")
            return httpx.get(self.url, timeout=2).status_code == 200

        wait_until(up, seconds=seconds, what="worker start", every=0.5)
        return self

    def client(self) -> Any:
        from gradio_client import Client

        return Client(self.url, verbose=False)

    def stop(self) -> None:
        stop_process(self.process)


class TokenProxy:
    """Forwards every request to Chroma only with ``Authorization: Bearer <token>``;
    anything else gets 401, as an authenticating reverse proxy in front of Chroma does."""

    def __init__(self, upstream: str, token: str) -> None:
        self.upstream = upstream
        self.token = token
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                if self.headers.get("Authorization") != f"Bearer {proxy.token}":
                    body = b"Unauthorized"
                    self.send_response(401)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                payload = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "authorization")}
                answer = httpx.request(self.command, proxy.upstream + self.path,
                                       content=payload, headers=headers, timeout=60)
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding",
                                           "content-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
