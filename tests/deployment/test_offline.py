"""Nothing leaves the machine: no connection and no name lookup beyond loopback.

Each `kora` run below happens in a subprocess whose ``sitecustomize`` installs an audit
hook. The hook sees every socket connect and address lookup made from Python (Hugging
Face, Chroma's telemetry, Gradio analytics all go through it), records any that is not
loopback, and blocks it, so the test itself sends nothing out either.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CORPUS

pytestmark = pytest.mark.slow

GUARD = '''
import os, socket, sys

LOG = os.environ["KORA_TEST_NETLOG"]
LOOPBACK = ("127.", "::1", "localhost", "0.0.0.0", "::")


def _host(address):
    if isinstance(address, tuple) and address:
        return str(address[0])
    return str(address)


def _guard(event, args):
    if event == "socket.connect":
        sock, address = args
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return
        host = _host(address)
    elif event == "socket.getaddrinfo":
        host = str(args[0]) if args[0] is not None else "localhost"
    else:
        return
    if host.startswith(LOOPBACK):
        return
    with open(LOG, "a") as log:
        log.write(f"{event} {host}\\n")
    raise ConnectionRefusedError(f"blocked by the offline test: {host}")


sys.addaudithook(_guard)
'''


@pytest.fixture
def guarded_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    hook_dir = tmp_path / "hook"
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(GUARD, encoding="utf-8")
    log = tmp_path / "network.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KORA_", "HF_", "GRADIO_"))}
    env.pop("TRANSFORMERS_OFFLINE", None)
    env.update({
        "PYTHONPATH": os.pathsep.join([str(hook_dir), str(CORPUS.parent)]),
        "KORA_TEST_NETLOG": str(log),
        "KORA_DATA_DIR": str(tmp_path / "data"),
        "KORA_CONFIG": str(tmp_path / "kora.toml"),
    })
    return env, log


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


def test_the_guard_catches_an_outside_connection(guarded_env: tuple[dict[str, str], Path]) -> None:
    env, log = guarded_env
    # 192.0.2.1 is TEST-NET-1 (RFC 5737); the hook blocks it before any packet is sent
    result = run(env, "-c", "import socket; socket.socket().connect(('192.0.2.1', 80))")
    assert result.returncode != 0
    assert "blocked by the offline test" in result.stderr
    lookup = run(env, "-c", "import socket; socket.getaddrinfo('huggingface.co', 443)")
    assert lookup.returncode != 0
    assert log.read_text() == "socket.connect 192.0.2.1\nsocket.getaddrinfo huggingface.co\n"


def test_ingest_and_search_stay_on_the_machine(guarded_env: tuple[dict[str, str], Path]) -> None:
    env, log = guarded_env
    ingest = run(env, "-m", "ui.cli", "ingest", str(CORPUS / "prototypen"), "--json")
    assert ingest.returncode == 0, ingest.stderr
    assert json.loads(ingest.stdout)["added"] == 8
    search = run(env, "-m", "ui.cli", "search", "Solarpflicht Luftbilder", "--json")
    assert search.returncode == 0, search.stderr
    assert json.loads(search.stdout)["passages"]
    assert not log.exists() or log.read_text() == ""


def test_telemetry_switches_are_off(tmp_path: Path) -> None:
    from rag.offline import OFFLINE_ENVIRONMENT, enforce_offline
    from rag.providers.vectorstore.chroma import ChromaClient
    from rag.settings import Settings

    enforce_offline()
    for key, value in OFFLINE_ENVIRONMENT.items():
        assert os.environ[key] == value
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    client = ChromaClient(Settings.load(data_dir=tmp_path / "data")).client
    assert client.get_settings().anonymized_telemetry is False
