"""The citation check that every LLM answer passes before anyone sees it.

For each sentence of the answer: source headers the model copied into it (title, section,
date) are removed, and citation numbers that name no provided source are dropped; then
the sentence must be supported by the passages it cites, measured two ways: lexically
(the IDF-weighted share of the sentence's content words found in the cited passages,
numbers included) and semantically (cosine similarity between the sentence and the
closest sentence of the cited passages).

A sentence that cites nothing, or whose citations do not support it, is checked against
every provided passage: small models often write a correct sentence without its ``[n]``,
or with the wrong one. If a passage supports it, the sentence gets that passage's number
(it is "repaired"); only a sentence no provided passage supports is marked as not
supported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rag.answering.evidence import TermWeights, numbers_in
from rag.answering.prompts import UNSUPPORTED_MARK, says_not_in_documents
from rag.answering.results import CheckedSentence
from rag.text import sentence_spans

if TYPE_CHECKING:
    from rag.passage import Passage
    from rag.providers.embedding import Embedder

_CITATION = re.compile(r"\s*\[(\d+)\]")
_WORD = re.compile(r"\w")
LEXICAL_SUPPORTED = 0.6  # this share of the content words in the source suffices alone
LEXICAL_WITH_MEANING = 0.3  # ... or this share plus a close sentence in the source
# ... where "close" is this share of the way from the model's similarity of unrelated
# sentences (Embedder.similarity_floor) to 1: for MiniLM (floor 0.38) that is about the
# cosine 0.6 set with it; for e5 (floor 0.83) 0.88, where a fixed 0.6 would pass any
# sentence on the topic. Measured with e5: paraphrased claims 0.53-0.79 of the way, a
# claim supported by one clause of a long list sentence 0.34.
SEMANTIC_SUPPORTED = 0.3
# ... and only when no single word the source lacks carries more than this share of the
# claim's weight. Embeddings do not see a changed name, place or action: "Die Tagung
# fand auf dem Mond statt" is 0.61 of the way to "Die Tagung fand in Gelsenkirchen
# statt", but hinges on "Mond" (0.45 of its weight; paraphrases measured up to 0.41).
# This catches the plain cases, not every contradiction.
MAX_UNCOVERED_WORD = 0.42
MIN_METADATA_CHARS = 4  # shorter titles or sections ("KI") are too likely to be content


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
        repaired = sum(s.repaired for s in self.sentences)
        if repaired:
            parts.append(f"Quellenangabe für {repaired} Satz/Sätze ergänzt.")
        unsupported = sum(not s.supported for s in self.sentences)
        if unsupported:
            parts.append(f"{unsupported} Satz/Sätze ohne Beleg in den Quellen markiert.")
        return " ".join(parts)

    @property
    def usable(self) -> bool:
        """Whether anything of the answer holds: a sentence at all, and one supported."""
        return any(s.supported for s in self.sentences)

    def render(self, renumber: dict[int, int]) -> str:
        lines = []
        for sentence in self.sentences:
            marks = "".join(f"[{renumber[n]}]" for n in sentence.citations if n in renumber)
            text = f"{sentence.text} {marks}".rstrip()
            if not sentence.supported:
                text = f"{text} {UNSUPPORTED_MARK}"
            lines.append(text)
        return " ".join(lines)


@dataclass
class _Claim:
    """One sentence judged against one group of passages."""

    sentence: CheckedSentence
    numbers: list[int]
    lexical: float = 0.0
    semantic: float | None = None
    supported: bool = False
    sources: list[str] = field(default_factory=list)  # when the meaning has to decide


class CitationChecker:
    def __init__(self, weights: TermWeights, embedder: Embedder) -> None:
        self.weights = weights
        self.embedder = embedder

    def check(self, answer: str, passages: list[Passage]) -> CheckedAnswer:
        removed: list[int] = []
        sentences: list[CheckedSentence] = []
        echo = MetadataEcho(passages)
        for start, end in sentence_spans(answer):
            raw = answer[start:end]
            cited = [int(n) for n in _CITATION.findall(raw)]
            valid = [n for n in dict.fromkeys(cited) if 1 <= n <= len(passages)]
            removed.extend(n for n in cited if not 1 <= n <= len(passages))
            text = echo.strip(" ".join(_CITATION.sub("", raw).split()))
            if not _WORD.search(text):
                continue  # nothing but citations, punctuation or a copied source header
            sentences.append(CheckedSentence(text, valid, False, 0.0, None))
        self._judge_cited(sentences, passages)
        self._repair(sentences, passages)
        return CheckedAnswer(sentences, removed)

    def _judge_cited(self, sentences: list[CheckedSentence], passages: list[Passage]) -> None:
        claims = []
        for sentence in sentences:
            if sentence.citations:
                claims.append(_Claim(sentence, sentence.citations))
            else:
                # "Dazu steht nichts in den Dokumenten." needs no source
                sentence.supported = says_not_in_documents(sentence.text)
        self._judge(claims, passages)
        for claim in claims:
            claim.sentence.supported = claim.supported
            claim.sentence.lexical, claim.sentence.semantic = claim.lexical, claim.semantic

    def _repair(self, sentences: list[CheckedSentence], passages: list[Passage]) -> None:
        """Give an unsupported sentence the number of the passage that supports it best."""
        open_sentences = [s for s in sentences if not s.supported]
        claims = [_Claim(s, [n]) for s in open_sentences for n in range(1, len(passages) + 1)]
        self._judge(claims, passages)
        for sentence in open_sentences:
            found = [c for c in claims if c.sentence is sentence and c.supported]
            if not found:
                continue
            best = max(found, key=lambda c: (c.lexical >= LEXICAL_SUPPORTED, c.lexical,
                                             c.semantic or 0.0, -c.numbers[0]))
            sentence.citations = best.numbers
            sentence.supported = sentence.repaired = True
            sentence.lexical, sentence.semantic = best.lexical, best.semantic

    def _judge(self, claims: list[_Claim], passages: list[Passage]) -> None:
        """Lexical support first; the embedding decides only the doubtful claims, all in
        one batch."""
        for claim in claims:
            cited = [passages[n - 1] for n in claim.numbers]
            cited_text = " ".join(f"{p.title} {p.text}" for p in cited)
            terms = self.weights.terms(claim.sentence.text)
            cited_stems = self.weights.stems_of(cited_text)
            claim.lexical = round(
                self.weights.coverage(terms, cited_stems) if terms else 1.0,
                4,
            )
            if numbers_in(claim.sentence.text) - numbers_in(cited_text):
                claim.supported = False  # a figure the source does not contain
            elif claim.lexical >= LEXICAL_SUPPORTED:
                claim.supported = True
            elif (claim.lexical >= LEXICAL_WITH_MEANING
                  and self.weights.gap(terms, cited_stems) <= MAX_UNCOVERED_WORD):
                claim.sources = [p.text[s:e] for p in cited for s, e in sentence_spans(p.text)]
        doubtful = [c for c in claims if c.sources]
        if not doubtful:
            return
        texts = list(dict.fromkeys(
            [c.sentence.text for c in doubtful] + [s for c in doubtful for s in c.sources]))
        vectors = dict(zip(texts, self.embedder.embed_sentences(texts), strict=True))
        floor = self.embedder.similarity_floor()
        needed = floor + SEMANTIC_SUPPORTED * (1.0 - floor)
        for claim in doubtful:
            own = vectors[claim.sentence.text]
            best = max((sum(a * b for a, b in zip(own, vectors[source], strict=True))
                        for source in claim.sources), default=0.0)
            claim.semantic = round(best, 4)
            claim.supported = best >= needed


class MetadataEcho:
    """Removes source headers a model copied into a sentence: a run of titles, sections
    and dates of the provided passages at the start of a sentence, a parenthesis made of
    them at its end, or a sentence that consists of nothing else.

    A single title or date followed by a plain space is kept: "Herten prüft die
    Solarpflicht" may be the title and also the answer. It is removed when a separator
    (dash, colon, slash), a bracket or a second header item shows that it was copied as
    a header.
    """

    _SEPARATORS = "–—-:|;/,"

    def __init__(self, passages: Sequence[Passage]) -> None:
        items = {
            " ".join(value.split())
            for passage in passages
            for value in (passage.title, passage.location, passage.date)
            if len(value.strip()) >= MIN_METADATA_CHARS
        }
        self._lead: re.Pattern[str] | None = None
        self._tail: re.Pattern[str] | None = None
        if not items:
            return
        alternatives = "|".join(re.escape(i) for i in sorted(items, key=len, reverse=True))
        one = rf"(?<!\w)(?:{alternatives})(?!\w)"
        separator = rf"[\s{re.escape(self._SEPARATORS)}]*"
        self._item = re.compile(rf"[(\[]?\s*{one}\s*[)\]]?", re.IGNORECASE)
        self._lead = re.compile(rf"(?:{self._item.pattern}{separator})+", re.IGNORECASE)
        self._tail = re.compile(
            rf"\s*[(\[]\s*(?:{one}{separator})+[)\]](?P<end>[.!?]*)$", re.IGNORECASE)

    def strip(self, sentence: str) -> str:
        if self._lead is None or self._tail is None:
            return sentence
        lead = self._lead.match(sentence)
        if lead and self._copied(lead.group(0), sentence):
            sentence = sentence[lead.end():]
        tail = self._tail.search(sentence)
        if tail:
            sentence = sentence[: tail.start()] + tail.group("end")
        return sentence.strip()

    def _copied(self, run: str, sentence: str) -> bool:
        if len(run.strip()) >= len(sentence.rstrip(" .!?").strip()):
            return True  # the whole sentence is a header
        found = self._item.findall(run)
        if len(found) > 1 or any(f.strip()[:1] in "([" for f in found):
            return True
        between = self._item.sub(" ", run)
        return any(char in between for char in self._SEPARATORS)
