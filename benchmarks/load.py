"""Load benchmark: concurrent chat users through the public API, a full re-index midway.

    python benchmarks/load.py [--users 1,8,32,64] [--seconds 20] [--think 0]
                              [--setups embedded,server,nginx] [--audit-appends 500]
                              [--out benchmarks/out/load.json] [--keep]
    python benchmarks/load.py --api [--users 1,8,32] [--seconds 20]

``--api`` runs the API round instead (``benchmarks/load_api.py``): the OpenAI-compatible
API against the same number of ``gradio_client`` users on one worker, p50/p95 of each,
their ratio and the API's time to the first streamed chunk.

Three set-ups, each started once and then run for every number of users N:

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
(c) ``nginx``: the deployment of docs/deploy as ``tests/deployment/test_docs_deploy.py`` runs it:
    PostgreSQL (started with ``initdb`` on loopback, KORA's postgresql-kora.conf) holding
    people's data for both workers, a Chroma server, two workers, and nginx with the site
    file in front (``hash $remote_addr consistent``). Users reach the workers only through
    nginx, each from its own loopback address; the re-index as in (b). Its rows carry
    ``p95_vs_embedded``: its p95 over the embedded worker's at the same N in this run.
    Then audit appends per second with two writer processes on one chain, in that
    PostgreSQL and in a SQLite file (``benchmarks/load_audit.py``).

Users speak Gradio's HTTP call protocol (``benchmarks/load_users.py``, ``CallClient``):
one connection per user from its own loopback address, in every set-up alike.

For every N, N users (threads, each with its own ``CallClient``, like separate
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import contextlib
import os
import resource
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from benchmarks._start import REPO
from benchmarks.load_api import run_api_rounds
from benchmarks.load_audit import measure_audit_appends
from benchmarks.load_processes import proc_status, run_worker
from benchmarks.load_report import print_peaks, print_round, write_result
from benchmarks.load_setups import (
    EmbeddedSetUp,
    NginxSetUp,
    ServerSetUp,
    SetUp,
    prepare_corpus,
)
from benchmarks.load_users import Pointer, golden_questions, make_clients, run_round
from benchmarks.run_files import temporary_folder

DEFAULT_USERS = (1, 8, 32, 64)
API_USERS = (1, 8, 32)
DEFAULT_SECONDS = 20.0
DEFAULT_OUT = REPO / "benchmarks" / "out" / "load.json"


def start_setup(name: str, base: Path, corpus: Path, postgres: Any) -> SetUp:
    if name == "embedded":
        return EmbeddedSetUp(base, corpus)
    if name == "server":
        return ServerSetUp(base, corpus)
    if name == "nginx":
        return NginxSetUp(base, corpus, postgres=postgres)
    raise SystemExit(f"load.py: unknown set-up {name!r} (embedded, server, nginx)")


def run_setup(name: str, base: Path, args: argparse.Namespace,
              questions: list[str], postgres: Any = None) -> dict[str, Any]:
    corpus = base / "corpus"
    titles = prepare_corpus(corpus)
    started = time.perf_counter()
    setup = start_setup(name, base, corpus, postgres)
    print(f"{name}: {len(setup.workers)} worker(s) up after {time.perf_counter() - started:.0f} s",
          flush=True)
    pointer = Pointer()
    key = setup.current()
    if key is not None:
        pointer.see(*key)
    rounds = []
    try:
        clients = make_clients(setup.user_urls(), max(args.users))
        for number, users in enumerate(args.users, start=1):
            row = run_round(setup, clients, users, number, seconds=args.seconds,
                            think=args.think, questions=questions, titles=titles,
                            corpus=corpus, pointer=pointer)
            # which worker the proxy (or the benchmark) gave each of this round's users
            row["users_per_worker"] = dict(sorted(Counter(
                c.worker() or c.http.base_url.host + f":{c.http.base_url.port}"
                for c in clients[:users]).items()))
            print_round(name, row)
            rounds.append(row)
        peaks = {n: proc_status(pid, "VmHWM") for n, pid in setup.processes().items()}
    finally:
        setup.stop()
    ingests = getattr(setup, "ingests", [])
    audit = []
    if name == "nginx" and args.audit_appends:
        audit.append(measure_audit_appends(url=postgres.new_database(), data_dir=base / "audit-pg",
                                           appends=args.audit_appends))
        audit.append(measure_audit_appends(url=None, data_dir=base / "audit-sqlite",
                                           appends=args.audit_appends))
        for row in audit:
            print(f"  audit appends, {row['writers']} writer processes, {row['database']}: "
                  f"{row['appends_per_second']:.0f}/s ({row['entries_written']} entries in "
                  f"{row['seconds']:.1f} s, lost {row['lost']}, chain intact "
                  f"{row['chain_intact']})", flush=True)
    return {
        **({"audit_appends": audit} if audit else {}),
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


@contextlib.contextmanager
def postgres_for(names: list[str]) -> Iterator[Any]:
    """The PostgreSQL cluster the nginx set-up needs, removed afterwards; else None."""
    if "nginx" not in names:
        yield None
        return
    from loopback import PostgresCluster, nginx_available, server_binaries

    binaries = server_binaries()
    if binaries is None or not nginx_available():
        raise SystemExit("load.py: the nginx set-up needs Debian's postgresql and nginx "
                         "packages (apt-get install postgresql nginx)")
    cluster = PostgresCluster(binaries).create()
    try:
        yield cluster
    finally:
        cluster.remove()


def compare_with_embedded(results: list[dict[str, Any]]) -> None:
    """Every round's p95 over the embedded worker's p95 at the same N, in this run."""
    embedded = next((r for r in results if r["setup"] == "embedded"), None)
    if embedded is None:
        return
    base = {row["users"]: row["latency_p95"] for row in embedded["rounds"]}
    print("\np95 against the embedded single worker (same run):")
    for result in results:
        for row in result["rounds"]:
            if base.get(row["users"]):
                row["p95_vs_embedded"] = round(row["latency_p95"] / base[row["users"]], 2)
                print(f"  {result['setup']:<9} N={row['users']:>3}  p95 "
                      f"{row['latency_p95']:.3f} s = {row['p95_vs_embedded']:.2f} x, failed "
                      f"{row['failed']}", flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default=",".join(map(str, DEFAULT_USERS)),
                        help="numbers of concurrent users, one round each (default 1,8,32,64)")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS,
                        help="least length of a round (default 20); it also waits for the "
                             "re-index and every worker's switch")
    parser.add_argument("--think", type=float, default=0.0,
                        help="seconds a user waits between questions (default 0)")
    parser.add_argument("--setups", default="embedded,server,nginx",
                        help="embedded, server, nginx (PostgreSQL and nginx: Debian's "
                             "packages)")
    parser.add_argument("--audit-appends", type=int, default=500,
                        help="entries each of the two writer processes appends after the "
                             "nginx set-up (default 500; 0 skips)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    parser.add_argument("--api", action="store_true",
                        help="the API round: /v1 clients against gradio_client users "
                             "(default users 1,8,32)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.api and args.users == ",".join(map(str, DEFAULT_USERS)):
        args.users = ",".join(map(str, API_USERS))
    if args.api and args.out == DEFAULT_OUT:
        args.out = DEFAULT_OUT.with_name("load-api.json")
    args.users = [int(n) for n in args.users.split(",")]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return run_worker(args.port)
    questions = golden_questions()
    print(f"load benchmark: users {args.users}, rounds of at least {args.seconds:g} s, "
          f"{len(questions)} golden-set questions; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f} at start (the machine may be shared)", flush=True)
    results = []
    if args.api:
        with temporary_folder("kora-load-api-", keep=args.keep) as base:
            results.append({"setup": "api", "rounds": run_api_rounds(
                base, args.users, args.seconds, questions)})
        write_result(args, results)
        return 0
    names = args.setups.split(",")
    with temporary_folder("kora-load-", keep=args.keep) as base, \
            postgres_for(names) as postgres:
        for name in names:
            (base / name).mkdir()
            results.append(run_setup(name, base / name, args, questions, postgres))
    compare_with_embedded(results)
    print_peaks(results)
    write_result(args, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
