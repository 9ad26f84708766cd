"""LLM benchmark: llama.cpp in-process (KORA_LLM=llamacpp) on this machine.

    python benchmarks/llm.py [--model tiny|small|PATH.gguf ...] [--threads 1,2]
                             [--tokens 256] [--repeats 2] [--prompt-words 300]
                             [--out benchmarks/out/llm.json]

For every model, every thread setting and both load situations, one process measures:

1. **time to first token** (TTFT) and **tokens/s** for 1 answer and for 2 answers at once
   (two threads asking the same engine: llama.cpp's continuous batching). Tokens/s of one
   answer is its tokens after the first divided by the time after the first; for two
   answers it is the tokens both wrote while both were generating, over that time (and
   each answer's own rate, which includes waiting for the other's prompt);
2. each of them **idle** and with a **busy embedder**: the real embedding model in a
   thread of the same process, embedding corpus passages in batches as an ingest does
   (its texts/s are reported as well, to see what the LLM costs the embedder);
3. **memory**: RSS before the model loads (embedding model and Python), after the answers
   (model mapped in, KV caches in use), and the process's peak (models are written in a
   child process, so their random arrays do not count).

Ratios are printed against the run's baseline: the first thread setting, one answer,
idle. Every measurement reports the CPU seconds other processes used meanwhile and the
load average, because the 2-core machine may be shared: a figure taken while another
process was busy says so.

Models: ``tiny`` is the test suite's random model (64 dimensions, 2 layers, 5 MB), which
measures llama.cpp's per-token overhead more than arithmetic; ``small`` is a random model
of the shape of Qwen2.5-0.5B (896 dimensions, 24 layers, 14/2 heads, 4864 feed-forward,
151k-token vocabulary) in Q4_0, written into a temporary folder: random weights cost the
same arithmetic as trained ones. Any GGUF file can be given by path.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import json
import os
import platform
import statistics
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from benchmarks._start import REPO
from benchmarks.machine import own_cpu_seconds, peak_rss_kib, rss_kib, system_busy_seconds

CORPUS = REPO / "corpus"
QUESTIONS = [
    "Wer hat die URBAN.KI-Jahrestagung 2025 eröffnet?",
    "Was erkennt der Prototyp des Kreises Recklinghausen in Drohnenbildern?",
    "Welche Projekte gibt es zu Chatbots im Bürgerservice?",
    "Wie prüft Herten die Solarpflicht?",
    "Welche Partner hat die Initiative URBAN.KI?",
    "Was leistet AIMOS in Osnabrück?",
]


# --- measuring -------------------------------------------------------------------------


@dataclass
class Answer:
    times: list[float]  # seconds from the request to each streamed piece (one per token)

    @property
    def ttft(self) -> float:
        return self.times[0] if self.times else 0.0

    @property
    def seconds(self) -> float:
        return self.times[-1] if self.times else 0.0

    @property
    def tokens(self) -> int:
        return len(self.times)

    @property
    def rate(self) -> float:
        """Tokens/s after the first token (generation speed, prompt excluded)."""
        after = self.seconds - self.ttft
        return (self.tokens - 1) / after if self.tokens > 1 and after > 0 else 0.0


@dataclass
class Row:
    model: str
    threads: str  # "1", "2" or "auto" (KORA's default: one core fewer than the machine has)
    load: str  # "idle" or "busy embedder"
    answers: int  # at once
    ttft: float
    tokens_per_second: float  # all answers together
    per_answer_tokens_per_second: float
    tokens: int
    other_processes_cpu_seconds: float
    wall_seconds: float
    load_average: float
    embedder_texts_per_second: float | None = None
    ratios: dict[str, float] = field(default_factory=dict)


def ask_once(chat: Any, messages: list[Any], started: float | None = None) -> Answer:
    started = time.perf_counter() if started is None else started
    return Answer([time.perf_counter() - started for _ in chat.stream(messages)])


def together_rate(answers: list[Answer]) -> float:
    """Tokens/s of all answers while all of them were generating (after the last first
    token, before the first last token); one answer: its own rate."""
    if len(answers) == 1:
        return answers[0].rate
    begin = max(a.ttft for a in answers)
    end = min(a.seconds for a in answers)
    if end <= begin:
        return 0.0
    inside = sum(1 for a in answers for t in a.times if begin < t <= end)
    return inside / (end - begin)


def ask_together(chat: Any, prompts: list[list[Any]]) -> tuple[list[Answer], float]:
    """Every prompt in its own thread, released at the same moment; times count from
    that moment."""
    results: list[Answer | None] = [None] * len(prompts)
    start = threading.Barrier(len(prompts))

    def run(index: int) -> None:
        start.wait()
        results[index] = ask_once(chat, prompts[index], began)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(prompts))]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    return [r for r in results if r is not None], wall


class BusyEmbedder:
    """The real embedding model embedding corpus passages in a loop, in this process."""

    def __init__(self, embedder: Any, texts: list[str]) -> None:
        self.embedder, self.texts = embedder, texts
        self.stop = threading.Event()
        self.embedded = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        batch = 8  # small batches: a short measurement still sees it progress
        position = 0
        while not self.stop.is_set():
            chunk = [self.texts[(position + i) % len(self.texts)] for i in range(batch)]
            self.embedder.embed_passages(chunk)
            self.embedded += batch
            position += batch

    def __enter__(self) -> BusyEmbedder:
        self.thread.start()
        time.sleep(1.0)  # let it reach its steady state
        self.embedded, self.started = 0, time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.rate = self.embedded / max(1e-9, time.perf_counter() - self.started)
        self.stop.set()
        self.thread.join()


# --- models ---------------------------------------------------------------------------


def corpus_texts() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(CORPUS.rglob("*.md"))]


def build_model(kind: str, folder: Path) -> Path:
    from loopback import vocabulary, words_of, write_tiny_gguf

    words = words_of(corpus_texts())
    if kind == "tiny":
        return write_tiny_gguf(folder / "kora-tiny.gguf", words=words)
    # the shape of Qwen2.5-0.5B-Instruct (its config.json), with random Q4_0 weights
    return write_tiny_gguf(
        folder / "kora-small-q4_0.gguf", words=words, name="random 0.5B-shape Q4_0",
        embedding=896, layers=24, heads=14, kv_heads=2, feed_forward=4864,
        unused_tokens=151_936 - len(vocabulary(words)[0]), weight_type="Q4_0",
        context_length=32768)


def build_apart(kind: str, folder: Path) -> Path:
    """``build_model`` in a child process: writing the small model holds about 1 GiB of
    random arrays, which must not count as this process's peak memory."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return Path(pool.apply(build_model, (kind, folder)))


def prompts(chat: Any, words: int, count: int) -> list[list[Any]]:
    """KORA's real prompt shape: its system prompt, then sources and a question (different
    per request, so only the system prompt's KV cache is reused, as in real use)."""
    from rag.answering import SYSTEM_PROMPT
    from rag.providers.llm import Message

    text = " ".join(" ".join(corpus_texts()).split()[: words])
    made = []
    for i in range(count):
        question = QUESTIONS[i % len(QUESTIONS)]
        made.append([Message("system", SYSTEM_PROMPT),
                     Message("user", f"Anfrage {i}.\nQuellen:\n{text}\n\nFrage: {question}")])
    return made


# --- the run --------------------------------------------------------------------------


def measure(chat: Any, *, model: str, threads: str, load: str, answers: int,
            repeats: int, pool: list[list[Any]]) -> Row:
    ttfts, rates, per_answer, tokens, walls = [], [], [], 0, []
    own, busy = own_cpu_seconds(), system_busy_seconds()
    began = time.perf_counter()
    for _ in range(repeats):
        batch = [pool.pop() for _ in range(answers)]
        results, wall = ask_together(chat, batch)
        ttfts += [r.ttft for r in results]
        per_answer += [r.rate for r in results]
        tokens += sum(r.tokens for r in results)
        rates.append(together_rate(results))
        walls.append(wall)
    elapsed = time.perf_counter() - began
    others = max(0.0, system_busy_seconds() - busy - (own_cpu_seconds() - own))
    return Row(
        model=model, threads=threads, load=load, answers=answers,
        ttft=round(statistics.median(ttfts), 4),
        tokens_per_second=round(statistics.median(rates), 1),
        per_answer_tokens_per_second=round(statistics.median(per_answer), 1),
        tokens=tokens, other_processes_cpu_seconds=round(others, 2),
        wall_seconds=round(elapsed, 2), load_average=round(os.getloadavg()[0], 2),
    )


def run_model(path: Path, label: str, args: argparse.Namespace, embedder: Any,
              texts: list[str]) -> tuple[list[Row], dict[str, Any]]:
    from rag.providers.llm import LlamaCppChat
    from rag.settings import Settings

    rows: list[Row] = []
    info: dict[str, Any] = {}
    before = round(rss_kib() / 1024, 1)
    for threads in args.threads:
        # "auto" is KORA's default (llm_threads unset): one core fewer than the machine has
        settings = Settings.load(llm="llamacpp", llm_model_path=path,
                                 llm_threads=None if threads == "auto" else int(threads),
                                 llm_parallel=2, llm_max_tokens=args.tokens,
                                 llm_context_window=args.context, llm_temperature=0.1,
                                 llm_timeout=600)
        loaded = time.perf_counter()
        chat = LlamaCppChat(settings)
        info = {"name": chat.info.name, "file_mib": round(chat.info.size_bytes / 2**20, 1),
                "load_seconds": round(time.perf_counter() - loaded, 2),
                "context": chat.context_window, "rss_mib_before_load": before}
        pool = prompts(chat, args.prompt_words, 4 * args.repeats * 3 + 4)
        ask_once(chat, pool.pop())  # warm-up: caches the system prompt, pages the weights in
        for load in ("idle", "busy embedder"):
            for answers in (1, 2):
                if load == "idle":
                    row = measure(chat, model=label, threads=threads, load=load,
                                  answers=answers, repeats=args.repeats, pool=pool)
                else:
                    with BusyEmbedder(embedder, texts) as busy:
                        row = measure(chat, model=label, threads=threads, load=load,
                                      answers=answers, repeats=args.repeats, pool=pool)
                    row.embedder_texts_per_second = round(busy.rate, 1)
                rows.append(row)
                print(format_row(row), flush=True)
        # the model mapped in, KV caches in use
        info["rss_mib_after_answers"] = round(rss_kib() / 1024, 1)
        chat.close()
        del chat
    info["peak_rss_mib"] = round(peak_rss_kib() / 1024, 1)
    return rows, info


def embedder_alone(embedder: Any, texts: list[str], seconds: float = 8.0) -> float:
    """The embedder's texts/s with nothing else in the process (its own baseline)."""
    with BusyEmbedder(embedder, texts) as busy:
        time.sleep(seconds)
    return float(busy.rate)


def add_ratios(rows: list[Row]) -> None:
    by_model: dict[str, Row] = {}
    for row in rows:
        base = by_model.setdefault(row.model, row)
        row.ratios = {
            "tokens_per_second": round(row.tokens_per_second / base.tokens_per_second, 2)
            if base.tokens_per_second else 0.0,
            "ttft": round(row.ttft / base.ttft, 2) if base.ttft else 0.0,
        }


def format_row(row: Row) -> str:
    embedder = (f"  embedder {row.embedder_texts_per_second:6.1f} texts/s"
                if row.embedder_texts_per_second is not None else "")
    ratios = (f"  x{row.ratios['tokens_per_second']:.2f} tok/s  x{row.ratios['ttft']:.2f} ttft"
              if row.ratios else "")
    return (f"{row.model:<10} threads {row.threads:<4}  {row.load:<13}  {row.answers} at once  "
            f"ttft {row.ttft * 1000:8.1f} ms  {row.tokens_per_second:7.1f} tok/s "
            f"({row.per_answer_tokens_per_second:6.1f} each){ratios}{embedder}  "
            f"others {row.other_processes_cpu_seconds:5.1f} cpu-s in {row.wall_seconds:5.1f} s"
            f"  load {row.load_average}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append",
                        help="tiny, small or a GGUF path (repeatable; default: tiny and small)")
    parser.add_argument("--threads", default="1,2",
                        help="comma-separated thread settings; auto is KORA's default "
                             "(one core fewer than the machine has; default 1,2)")
    parser.add_argument("--tokens", type=int, default=256, help="answer tokens (default 256)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="rounds per measurement (median; default 2)")
    parser.add_argument("--prompt-words", type=int, default=300,
                        help="words of corpus text in each prompt (default 300)")
    parser.add_argument("--context", type=int, default=4096, help="context per answer")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "out" / "llm.json"))
    args = parser.parse_args(argv)
    args.threads = args.threads.split(",")
    models = args.model or ["tiny", "small"]

    from rag.providers.embedding import Embedder
    from rag.settings import Settings

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}", flush=True)
    embedder = Embedder.load(Settings.load())
    texts = [p for t in corpus_texts() for p in t.split("\n\n") if len(p) > 80]
    alone = embedder_alone(embedder, texts)
    print(f"embedder alone: {alone:.1f} texts/s", flush=True)
    rows: list[Row] = []
    infos: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="kora-llm-bench-") as folder:
        for model in models:
            built = time.perf_counter()
            path = Path(model) if model not in ("tiny", "small") else build_apart(
                model, Path(folder))
            label = model if model in ("tiny", "small") else path.stem
            print(f"\n{label}: {path.name} ({path.stat().st_size / 2**20:.0f} MiB, "
                  f"written in {time.perf_counter() - built:.1f} s)", flush=True)
            model_rows, infos[label] = run_model(path, label, args, embedder, texts)
            rows += model_rows
            if model in ("tiny", "small"):
                path.unlink()  # the small one is 0.3 GB
    add_ratios(rows)
    print("\nratios against each model's first row (threads "
          f"{args.threads[0]}, idle, 1 answer):")
    for row in rows:
        print(format_row(row))
    for label, info in infos.items():
        print(f"{label}: {info}")
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "load_average_end": os.getloadavg(),
                    "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")},
        "settings": {"tokens": args.tokens, "repeats": args.repeats,
                     "prompt_words": args.prompt_words, "context": args.context},
        "embedder_alone_texts_per_second": round(alone, 1),
        "models": infos,
        "rows": [asdict(row) for row in rows],
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"\nwritten: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
