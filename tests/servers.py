"""Loopback HTTP for the tests: a tiny threaded server whose replies a
test scripts (the LLM fakes in tests/fakes.py speak Ollama's and OpenAI's protocols
through it)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# status, content type, and the body in the pieces it is sent in
Reply = tuple[int, str, list[bytes]]
Respond = Callable[[str, str, Any], Reply]

@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any

class LoopbackServer:
    """An HTTP server on 127.0.0.1 (free port) in a thread; ``respond`` decides each reply,
    sent in pieces as they come, the connection closed after each (HTTP/1.0)."""

    def __init__(self, respond: Respond) -> None:
        self.received: list[Received] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.handle_any("GET")

            def do_POST(self) -> None:
                self.handle_any("POST")

            def handle_any(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                outer.received.append(
                    Received(
                        method, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                    )
                )
                status, content_type, chunks = respond(method, self.path, body)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.end_headers()
                try:
                    for chunk in chunks:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

def json_reply(status: int, payload: Any) -> Reply:
    return status, "application/json", [json.dumps(payload).encode()]
