"""The files of docs/deploy as commands: the systemd units' ExecStart lines, and nginx
running the site file itself (only its listen line, certificate lines and worker ports
rewritten for loopback)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

from loopback.ports import stop_process

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "docs" / "deploy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
DEPLOYED_WORKER_PORTS = (7861, 7862)


def nginx_available() -> bool:
    return Path(NGINX).exists()


def exec_start(unit: str) -> list[str]:
    """The ExecStart command line of a unit in docs/deploy."""
    text = (DEPLOY / unit).read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart="))


def option(command: list[str], name: str, value: str) -> list[str]:
    """``command`` with the value after ``name`` replaced."""
    index = command.index(name)
    return [*command[:index + 1], value, *command[index + 2:]]


def nginx_site(ports: list[int], listen: int) -> str:
    """The site file with loopback ports: the listen line, TLS lines and upstreams only."""
    text = (DEPLOY / "nginx-kora.conf").read_text(encoding="utf-8")
    text = text.replace("listen 443 ssl;", f"listen 127.0.0.1:{listen};")
    for deployed, port in zip(DEPLOYED_WORKER_PORTS, ports, strict=True):
        text = text.replace(f"server 127.0.0.1:{deployed};", f"server 127.0.0.1:{port};")
    if not all(f"127.0.0.1:{port}" in text for port in ports):
        raise RuntimeError("docs/deploy/nginx-kora.conf no longer names the worker ports "
                           f"{DEPLOYED_WORKER_PORTS}")
    return text


class Nginx:
    """nginx in the foreground with the site file, its own pid, logs and temp folders in
    ``folder``; ``url`` is where it listens."""

    def __init__(self, folder: Path, *, worker_ports: list[int], listen: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "kora.conf").write_text(nginx_site(worker_ports, listen), encoding="utf-8")
        (folder / "nginx.conf").write_text(
            f"daemon off;\nworker_processes 1;\npid {folder}/nginx.pid;\n"
            f"error_log {folder}/error.log;\n"
            + ("user root;\n" if os.geteuid() == 0 else "")
            + "events { worker_connections 1024; }\n"
            f"http {{\n access_log {folder}/access.log;\n"
            f" client_body_temp_path {folder}/body;\n proxy_temp_path {folder}/proxy;\n"
            f" include {folder}/kora.conf;\n}}\n", encoding="utf-8")
        self.url = f"http://127.0.0.1:{listen}"
        self.process = subprocess.Popen([NGINX, "-c", str(folder / "nginx.conf"),
                                         "-p", str(folder)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        stop_process(self.process)
