"""What the load benchmark prints and writes: a line per round, the peak memory of every
process, and the JSON result."""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import UTC, datetime
from typing import Any


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


def print_peaks(results: list[dict[str, Any]]) -> None:
    print("\npeak RSS (MiB):")
    for result in results:
        print(f"  {result['setup']}: " + ", ".join(
            f"{name} {mib}" for name, mib in result["peak_rss_mib"].items()))


def write_result(args: argparse.Namespace, results: list[dict[str, Any]]) -> None:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "settings": {"users": args.users, "seconds": args.seconds, "think": args.think},
        "results": results,
    }, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"written to {args.out}")
