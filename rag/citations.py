"""The citation check that every LLM answer passes before anyone sees it.

For each sentence of the answer: citation numbers that name no provided source are
removed; then the sentence must be supported by the passages it cites, measured two
ways: lexically (the IDF-weighted share of the sentence's content words found in the
cited passages, numbers included) and semantically (cosine similarity between the
sentence and the closest sentence of the cited passages). A sentence that cites nothing,
or whose citations do not support it, is marked as not supported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rag.evidence import TermWeights, numbers_in
from rag.prompts import UNSUPPORTED_MARK, says_not_in_documents
from rag.sentences import sentence_spans

if TYPE_CHECKING:
    from rag.embedder import Embedder
    from rag.search import Passage

_CITATION = re.compile(r"\s*\[(\d+)\]")
LEXICAL_SUPPORTED = 0.6  # this share of the content words in the source suffices alone
LEXICAL_WITH_MEANING = 0.3  # ... or this share plus a close sentence in the source
SEMANTIC_SUPPORTED = 0.6


@dataclass
class CheckedSentence:
    text: str
    citations: list[int]
    supported: bool
    lexical: float
    semantic: float | None


@dataclass
class CheckedAnswer:
    sentences: list[CheckedSentence]
    removed_citations: list[int] = field(default_factory=list)

    @property
    def notice(self) -> str:
        parts = []
        if self.removed_citations:
            numbers = ", ".join(f"[{n}]" for n in sorted(set(self.removed_citations)))
            parts.append(f"Entfernt: Verweise auf nicht vorhandene Quellen {numbers}.")
        unsupported = sum(not s.supported for s in self.sentences)
        if unsupported:
            parts.append(f"{unsupported} Satz/Sätze ohne Beleg in den Quellen markiert.")
        return " ".join(parts)

    def render(self, renumber: dict[int, int]) -> str:
        lines = []
        for sentence in self.sentences:
            marks = "".join(f"[{renumber[n]}]" for n in sentence.citations if n in renumber)
            text = f"{sentence.text} {marks}".rstrip()
            if not sentence.supported:
                text = f"{text} {UNSUPPORTED_MARK}"
            lines.append(text)
        return " ".join(lines)


class CitationChecker:
    def __init__(self, weights: TermWeights, embedder: Embedder) -> None:
        self.weights = weights
        self.embedder = embedder

    def check(self, answer: str, passages: list[Passage]) -> CheckedAnswer:
        removed: list[int] = []
        sentences: list[CheckedSentence] = []
        for start, end in sentence_spans(answer):
            raw = answer[start:end]
            cited = [int(n) for n in _CITATION.findall(raw)]
            valid = [n for n in dict.fromkeys(cited) if 1 <= n <= len(passages)]
            removed.extend(n for n in cited if not 1 <= n <= len(passages))
            text = " ".join(_CITATION.sub("", raw).split())
            if not text:
                continue
            sentences.append(CheckedSentence(text, valid, False, 0.0, None))
        self._judge(sentences, passages)
        return CheckedAnswer(sentences, removed)

    def _judge(self, sentences: list[CheckedSentence], passages: list[Passage]) -> None:
        needs_meaning: list[tuple[CheckedSentence, list[str]]] = []
        for sentence in sentences:
            if not sentence.citations:
                # "Dazu steht nichts in den Dokumenten." needs no source
                sentence.supported = says_not_in_documents(sentence.text)
                continue
            cited_text = " ".join(
                f"{passages[n - 1].title} {passages[n - 1].text}" for n in sentence.citations
            )
            terms = self.weights.terms(sentence.text)
            sentence.lexical = round(
                self.weights.coverage(terms, self.weights.stems_of(cited_text)) if terms else 1.0,
                4,
            )
            missing_numbers = numbers_in(sentence.text) - numbers_in(cited_text)
            if missing_numbers:
                sentence.supported = False  # a figure the source does not contain
            elif sentence.lexical >= LEXICAL_SUPPORTED:
                sentence.supported = True
            elif sentence.lexical >= LEXICAL_WITH_MEANING:
                source_sentences = [
                    passages[n - 1].text[s:e]
                    for n in sentence.citations
                    for s, e in sentence_spans(passages[n - 1].text)
                ]
                needs_meaning.append((sentence, source_sentences))
        if not needs_meaning:
            return
        texts = [s.text for s, _ in needs_meaning]
        sources = [src for _, group in needs_meaning for src in group]
        vectors = self.embedder.embed_passages(texts + sources)
        offset = len(texts)
        for index, (sentence, group) in enumerate(needs_meaning):
            own = vectors[index]
            best = max(
                (sum(a * b for a, b in zip(own, vectors[offset + j], strict=True))
                 for j in range(len(group))),
                default=0.0,
            )
            offset += len(group)
            sentence.semantic = round(best, 4)
            sentence.supported = best >= SEMANTIC_SUPPORTED
