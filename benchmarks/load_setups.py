"""The load benchmark's set-ups (one worker with the embedded Chroma; a Chroma server and
two workers; the deployment of docs/deploy: nginx, two workers, PostgreSQL and a Chroma
server) and the corpus they index, whose titles name the round."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks._start import REPO
from benchmarks.load_processes import ChromaProcess, WorkerProcess, kora_env, run_cli, wait_for
from loopback import Nginx, PostgresCluster, free_port

SHIPPED_CORPUS = REPO / "corpus"
ADMIN_PASSWORD = "lastprobe-admin-2026"
_TITLE_LINE = re.compile(r'^title:\s*"(.*)"\s*$', re.MULTILINE)


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


class SetUp:
    """The processes of one set-up and how to re-index and read the pointer there."""

    name: str
    workers: list[WorkerProcess]

    def user_urls(self) -> list[str]:
        """Where users connect: each user stays with one (sticky sessions)."""
        return [w.url for w in self.workers]

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

    def __init__(self, base: Path, corpus: Path, *, workers: int = 2,
                 shared: dict[str, str] | None = None) -> None:
        """``shared``: further settings of every worker and the command line."""
        from rag.providers.vectorstore import DataDir
        from rag.settings import Settings

        shared = shared or {}
        self.base = base
        self.chroma = ChromaProcess(base / "chroma-data")
        self.cli_env = kora_env(chroma_url=self.chroma.url, data_dir=str(base / "cli-host"),
                                corpus_dir=str(corpus), llm="none", **shared)
        code, _, err, rss, seconds = run_cli(["ingest", "--json"], self.cli_env)
        if code != 0:
            raise RuntimeError(f"initial ingest failed: {err}")
        self.ingests = [{"what": "initial ingest", "peak_rss_kib": rss, "seconds": seconds}]
        self.workers = []
        for number in range(1, workers + 1):
            env = kora_env(chroma_url=self.chroma.url, data_dir=str(base / f"worker-{number}"),
                           corpus_dir=str(corpus), llm="none", admin_password=ADMIN_PASSWORD,
                           **shared)
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


class NginxSetUp(ServerSetUp):
    """The deployment of docs/deploy: PostgreSQL (with postgresql-kora.conf) for people's
    data, a Chroma server, two workers, and nginx with the site file in front; users
    reach the workers only through nginx, each from its own loopback address (127.0.0.x),
    which nginx's consistent hash keeps on one worker. The re-index is `kora ingest
    --rebuild` from a third data directory, as in ``server``."""

    name = "nginx"

    def __init__(self, base: Path, corpus: Path, *, postgres: PostgresCluster) -> None:
        self.database_url = postgres.new_database()
        super().__init__(base, corpus, shared={"database_url": self.database_url,
                                               "trusted_proxies": "127.0.0.1"})
        try:
            self.nginx = Nginx(base / "nginx", worker_ports=[w.port for w in self.workers],
                               listen=free_port())
            wait_for(lambda: httpx.get(self.nginx.url, timeout=2).is_success, seconds=30,
                     what="nginx start")
        except BaseException:
            super().stop()
            raise

    def user_urls(self) -> list[str]:
        return [self.nginx.url + "/"]

    def processes(self) -> dict[str, int]:
        return {**super().processes(), "nginx": self.nginx.process.pid}

    def stop(self) -> None:
        self.nginx.stop()
        super().stop()
