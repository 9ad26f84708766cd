"""Audit appends per second with concurrent writers: separate processes (as two workers
on two machines) each append entries to one audit chain through ``people.AuditLog``, the
way every admin action does, in PostgreSQL and, for comparison, in the embedded SQLite
file. Every append is its own transaction serialised on the chain (PostgreSQL: an
advisory lock; SQLite: the file's write lock). Afterwards the chain must hold every
entry and verify."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any


def _writer(url: str | None, data_dir: str, name: str, appends: int, start: Any,
            done: Any) -> None:
    from people import People
    from rag.settings import Settings

    people = People.open(Settings.load(data_dir=Path(data_dir), database_url=url),
                         purge_feedback=False)
    people.audit.entries(limit=1)  # connected and migrated before the clock starts
    start.wait()
    began = time.perf_counter()
    for number in range(appends):
        people.audit.append(action="load-benchmark", account=name, client="127.0.0.1",
                            detail={"n": number})
    done.put((name, began, time.perf_counter()))
    people.close()


def measure_audit_appends(*, url: str | None, data_dir: Path, writers: int = 2,
                          appends: int = 500) -> dict[str, Any]:
    """``writers`` processes, ``appends`` entries each, into the database at ``url``
    (None: SQLite in ``data_dir``); appends per second over the time all of them ran."""
    from people import People
    from rag.settings import Settings

    data_dir.mkdir(parents=True, exist_ok=True)
    people = People.open(Settings.load(data_dir=data_dir, database_url=url),
                         purge_feedback=False)
    before = len(people.audit.entries())
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(writers + 1)
    done = context.Queue()
    processes = [context.Process(target=_writer, args=(url, str(data_dir), f"writer-{n}",
                                                        appends, start, done))
                 for n in range(1, writers + 1)]
    for process in processes:
        process.start()
    start.wait(timeout=300)
    times = [done.get(timeout=3600) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    began = min(t[1] for t in times)
    ended = max(t[2] for t in times)
    check = people.audit.verify()
    entries = check.entries - before
    people.close()
    return {
        "database": "postgresql" if url else "sqlite",
        "writers": writers,
        "appends_per_writer": appends,
        "entries_written": entries,
        "lost": writers * appends - entries,
        "chain_intact": check.intact,
        "seconds": round(ended - began, 2),
        "appends_per_second": round(entries / (ended - began), 1),
    }
