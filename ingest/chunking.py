"""German-aware chunking: whole sentences, never across a heading, sized in model tokens.

A chunk is embedded together with a short header (document title and section), so the
budget for its sentences is the model window minus that header. Consecutive chunks of a
section share their last sentences up to ``overlap_tokens``, so that a statement split
across a boundary is still found whole once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ingest.readers import ParsedDocument
from rag.text import sentence_spans

TokenCounter = Callable[[list[str]], list[int]]

# [CLS] and [SEP] (or <s> and </s>) around every embedded text
_SPECIAL_TOKENS = 2


@dataclass(frozen=True)
class Chunk:
    text: str
    start: int
    end: int
    location: str
    embed_text: str


def embedding_header(title: str, location: str) -> str:
    if location and location != title:
        return f"{title} – {location}"
    return title


def chunk_document(
    document: ParsedDocument,
    *,
    count_tokens: TokenCounter,
    max_tokens: int,
    overlap_tokens: int,
) -> list[Chunk]:
    chunks: list[Chunk] = []
    for section in document.sections:
        header = embedding_header(document.title, section.location)
        header_tokens = count_tokens([header + "\n"])[0]
        budget = max(16, max_tokens - _SPECIAL_TOKENS - header_tokens)
        spans = sentence_spans(document.text, section.start, section.end)
        spans = _split_long(document.text, spans, count_tokens, budget)
        sizes = count_tokens([document.text[s:e] for s, e in spans]) if spans else []
        for first, last in _pack(sizes, budget, overlap_tokens):
            start, end = spans[first][0], spans[last][1]
            text = document.text[start:end]
            chunks.append(Chunk(text, start, end, section.location, f"{header}\n{text}"))
    return chunks


def _pack(sizes: Sequence[int], budget: int, overlap: int) -> list[tuple[int, int]]:
    """Group consecutive sentences into (first, last) index ranges within ``budget``."""
    groups: list[tuple[int, int]] = []
    first, used = 0, 0
    index = 0
    while index < len(sizes):
        # +1: a sentence joined to the previous one costs about one token of whitespace
        cost = sizes[index] + (1 if index > first else 0)
        if index > first and used + cost > budget:
            groups.append((first, index - 1))
            first, used = _overlap_start(sizes, first, index, overlap)
            if first < index and used + sizes[index] + 1 > budget:
                # the carried sentences would leave no room: a chunk of only repeated
                # text is worthless, so start the next chunk fresh
                first, used = index, 0
            continue
        used += cost
        index += 1
    if sizes:
        groups.append((first, len(sizes) - 1))
    return groups


def _overlap_start(
    sizes: Sequence[int], first: int, next_index: int, overlap: int
) -> tuple[int, int]:
    """Where the next chunk starts: the last sentences that fit into ``overlap``, but never
    the whole previous chunk (that would not advance)."""
    start, carried = next_index, 0
    while start - 1 > first and carried + sizes[start - 1] + 1 <= overlap:
        start -= 1
        carried += sizes[start] + 1
    return start, carried


def _split_long(
    text: str, spans: list[tuple[int, int]], count_tokens: TokenCounter, budget: int
) -> list[tuple[int, int]]:
    """Cut sentences longer than the budget (tables, lists without punctuation) at spaces,
    halving until every piece fits: token density varies too much for one cut length."""
    if not spans:
        return spans
    result: list[tuple[int, int]] = []
    pending = list(spans)
    sizes = count_tokens([text[s:e] for s, e in pending])
    while pending:
        start, end = pending.pop(0)
        size = sizes.pop(0)
        if size <= budget or end - start < 2:
            result.append((start, end))
            continue
        middle = start + (end - start) // 2
        cut = text.rfind(" ", start + 1, middle + 1)
        if cut <= start:
            cut = text.find(" ", middle, end - 1)
        if cut <= start or cut >= end:
            cut = middle  # no space at all: cut inside the word
        left = (start, cut)
        right_start = cut
        while right_start < end and text[right_start].isspace():
            right_start += 1
        right = (right_start, end)
        halves = [half for half in (left, right) if half[1] > half[0]]
        pending[:0] = halves
        sizes[:0] = count_tokens([text[s:e] for s, e in halves])
    return result
