"""A real PostgreSQL for the tests and the load benchmark: Debian's server binaries
(package ``postgresql``), a cluster made with ``initdb`` in a temporary folder and served
on a free loopback port. As root, the server runs as the ``postgres`` user (PostgreSQL
refuses to run as root). One cluster per test session or benchmark run; each test or
measurement that needs a clean database creates its own."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from loopback.ports import free_port

PG_ROOT = Path("/usr/lib/postgresql")
USER, PASSWORD = "kora", "Geheim-Datenbank-42"
REPO = Path(__file__).resolve().parents[1]
DEPLOY_SETTINGS = REPO / "docs" / "deploy" / "postgresql-kora.conf"


def server_binaries() -> Path | None:
    """The newest installed PostgreSQL's bin folder, or None."""
    found = sorted((p for p in PG_ROOT.glob("*/bin") if (p / "initdb").exists()),
                   key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return found[-1] if found else None


class PostgresCluster:
    """``initdb`` + ``pg_ctl`` on 127.0.0.1; ``stop()`` and ``start()`` again keep the
    port and the data (the fault tests stop it mid-load). The server reads KORA's
    deployment settings (docs/deploy/postgresql-kora.conf) like a city's would; only the
    address and port come from the command line."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="kora-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")

    def _run(self, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.as_postgres, *command], check=True, text=True,
                              capture_output=True, cwd=self.folder)

    def create(self) -> PostgresCluster:
        password_file = self.folder / "password"
        password_file.write_text(PASSWORD + "\n")
        if self.as_postgres:
            shutil.chown(password_file, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", USER,
                  f"--pwfile={password_file}", "--auth=scram-sha-256", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(f"\ninclude '{DEPLOY_SETTINGS}'\n")
        return self.start()

    def start(self) -> PostgresCluster:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={self.folder} -c fsync=off")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                  "-o", options, "-w", "-t", "120", "start")
        return self

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                      "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh empty database; its URL."""
        import psycopg

        name = f"kora_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(host="127.0.0.1", port=self.port, user=USER, password=PASSWORD,
                             dbname="postgres", autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
