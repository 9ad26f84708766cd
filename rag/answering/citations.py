"""The citation check that every LLM answer passes before anyone sees it.

For each sentence of the answer: source headers the model copied into it (title, section,
date) are removed, and citation numbers that name no provided source are dropped; then
the sentence must be supported by ONE sentence of the passages it cites, or by two
adjacent ones: support scattered over a passage is no support ("Das Ordnungsamt leitet
Dr. Eva Muster" is not supported by a passage that names her as the keynote speaker and
the Ordnungsamt in another sentence). Support is measured two ways: lexically (the
IDF-weighted share of the sentence's content words found in the source sentence and
in the passage's title and section, which describe every sentence of it; all its
numbers must be there) and semantically (cosine similarity between the sentence and the
source sentence).

When the question asks for a kind of answer (a name, a date, a number, a place) and the
sentence states one, that answer must stand in the source sentence together with the
question's key terms: in one sentence, a list introduction with its item, or a sentence
and the one after it that refers back to it ("Er ..."); two unrelated neighbours do not
pair a name with a role.

A sentence that cites nothing, or whose citations do not support it, is checked against
every provided passage: small models often write a correct sentence without its ``[n]``,
or with the wrong one. If a passage supports it, the sentence gets that passage's number
(it is "repaired"); a sentence no provided passage supports is marked as not supported,
and an unsupported item of a list is dropped (a list of marked items is no answer).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING

from rag.answering.agreement import (
    asked_expressions,
    contains_span,
    family_share,
    figures_hold,
    in_family,
    key_terms,
)
from rag.answering.prompts import UNSUPPORTED_MARK, says_not_in_documents
from rag.answering.question_kinds import Expected, expected_answer
from rag.answering.results import CheckedSentence
from rag.answering.term_weights import TermWeights, numbers_in
from rag.text import sentence_spans

if TYPE_CHECKING:
    from rag.answering.term_weights import Term
    from rag.passage import Passage
    from rag.providers.embedding import Embedder

_CITATION = re.compile(r"\s*\[(\d+)\]")
_WORD = re.compile(r"\w")
_LIST_ITEM = re.compile(r"^\s*(?:[-*•–]|\d{1,2}[.)])\s+")
# where one main clause of a sentence ends and another begins: "Die Koordination liegt
# bei der Westfälischen Hochschule; zum Partnerverbund gehören ..." pairs the Hochschule
# with the coordination, not with the Partnerverbund (enumerations, "A, B und C", stay one)
_MAIN_CLAUSE = re.compile(r";|,\s+(?:und|aber|doch|jedoch|sondern|während|denn)\s", re.IGNORECASE)
# a sentence that continues the one before it: its subject is a pronoun or points back
_REFERS_BACK = re.compile(
    r"^(?:er|sie|es|ihr|ihre[mnrs]?|sein|seine[mnrs]?|dies|diese[mnrs]?|dort|damit|dabei|"
    r"dazu|davon|darüber|darin|daraus|dafür|deshalb|daher|hier|jene[mnrs]?|dessen|deren|"
    r"zudem|außerdem|zugleich|ebenso)\b",
    re.IGNORECASE,
)
LEXICAL_SUPPORTED = 0.6  # this share of the content words in the source suffices alone
LEXICAL_WITH_MEANING = 0.3  # ... or this share plus a close sentence in the source
# ... where "close" is this share of the way from the model's similarity of unrelated
# sentences (Embedder.similarity_floor) to 1, not a fixed cosine: e5's floor is so high
# that a cosine which suits MiniLM would pass any sentence on the topic (the floors are
# in the README, "How answers are made"). Measured with e5: paraphrased claims 0.53-0.79
# of the way, a claim supported by one clause of a long list sentence 0.34.
SEMANTIC_SUPPORTED = 0.3
# ... and only when no single word the source lacks carries more than this share of the
# claim's weight. Embeddings do not see a changed name, place or action: "Die Tagung
# fand auf dem Mond statt" is 0.61 of the way to "Die Tagung fand in Gelsenkirchen
# statt", but hinges on "Mond" (0.45 of its weight; paraphrases measured up to 0.41).
# This catches the plain cases, not every contradiction.
MAX_UNCOVERED_WORD = 0.42
# the source sentence must hold this share of the question's key terms that the claim
# repeats: "URBAN.KI wird von der Stadt Gelsenkirchen gefördert" is not supported by
# "Träger von URBAN.KI ist die Stadt Gelsenkirchen", which lacks "fördert"
REPEATED_IN_SOURCE = 0.75
# ... and, when the claim states an answer of the asked kind (a name, a date, a number),
# this share of all the question's key terms beside that answer
PAIRED_WITH_QUESTION = 0.5
CONTEXT_SHARE = 0.5  # title and section words count half for both
# what a claim adds to the question must be in the source too: for lexical support, this
# share of the weight of its words the question lacks ("Die Lösung des Kreises
# Recklinghausen ist die Strategie" repeats the question's words around a noun that no
# source sentence about it contains)
NEW_IN_SOURCE = 0.5
NEW_WITH_MEANING = 0.2  # ... and this share when the meaning decides
# a list whose items are this short is a list of names: it may support a sentence that
# names several of them; items that are statements each stand on their own
SHORT_ITEM_WORDS = 10
MIN_METADATA_CHARS = 4  # shorter titles or sections ("KI") are too likely to be content


@dataclass
class CheckedAnswer:
    sentences: list[CheckedSentence]
    removed_citations: list[int] = field(default_factory=list)
    dropped_items: int = 0  # unsupported list items left out

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
        if self.dropped_items:
            parts.append(f"{self.dropped_items} Listenpunkt(e) ohne Beleg weggelassen.")
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


@dataclass(frozen=True)
class _Window:
    """One sentence of a passage, or two that belong together: what may support a claim."""

    passage: int  # its number among the provided passages
    text: str
    stems: frozenset[str]
    context: frozenset[str]  # stems of the passage's title and section
    figures: str  # the text with title, section and date, where its numbers may stand
    linked: bool  # one statement (may pair an answer with the question's terms)


@dataclass
class _Claim:
    """One sentence judged against one group of passages."""

    sentence: CheckedSentence
    numbers: list[int]
    lexical: float = 0.0
    semantic: float | None = None
    supported: bool = False
    sources: list[str] = field(default_factory=list)  # when the meaning has to decide


@dataclass(frozen=True)
class _Question:
    """What a claim's answer must stand beside."""

    expected: Expected
    text: str
    terms: list[Term]  # key terms, without the noun that names the kind of answer


@dataclass(frozen=True)
class _Needs:
    """What a source sentence must hold for one claim beside its content words."""

    answers: list[str]  # expressions of the asked kind the claim states
    repeated: list[Term]  # the question's key terms the claim repeats
    new: list[Term]  # the claim's words the question does not contain
    key: list[Term]  # all of the question's key terms (when the claim states an answer)


class CitationChecker:
    def __init__(self, weights: TermWeights, embedder: Embedder) -> None:
        self.weights = weights
        self.embedder = embedder

    def check(self, answer: str, passages: list[Passage], *, question: str = "") -> CheckedAnswer:
        """``question``: what was asked; a sentence that answers it must hold its answer
        in the same source sentence as the question's key terms."""
        removed: list[int] = []
        sentences: list[CheckedSentence] = []
        items: list[bool] = []
        echo = MetadataEcho(passages)
        for start, end in sentence_spans(answer):
            raw = answer[start:end]
            cited = [int(n) for n in _CITATION.findall(raw)]
            valid = [n for n in dict.fromkeys(cited) if 1 <= n <= len(passages)]
            removed.extend(n for n in cited if not 1 <= n <= len(passages))
            text = echo.strip(" ".join(_CITATION.sub("", raw).split()))
            if not _WORD.search(text):
                continue  # nothing but citations, punctuation or a copied source header
            sentences.append(CheckedSentence(text=text, citations=valid, supported=False,
                                             lexical=0.0, semantic=None))
            items.append(bool(_LIST_ITEM.match(raw)))
        windows = self._windows(passages)
        asked = _Question(expected_answer(question), question,
                          key_terms(question, self.weights)) if question else None
        self._judge_cited(sentences, windows, asked)
        self._repair(sentences, passages, windows, asked)
        kept, dropped = _without_unsupported_items(sentences, items)
        return CheckedAnswer(kept, removed, dropped)

    def _judge_cited(self, sentences: list[CheckedSentence], windows: list[_Window],
                     asked: _Question | None) -> None:
        claims = []
        for sentence in sentences:
            if sentence.citations:
                claims.append(_Claim(sentence, sentence.citations))
            else:
                # "Dazu steht nichts in den Dokumenten." needs no source
                sentence.supported = says_not_in_documents(sentence.text)
        self._judge(claims, windows, asked)
        for claim in claims:
            claim.sentence.supported = claim.supported
            claim.sentence.lexical, claim.sentence.semantic = claim.lexical, claim.semantic

    def _repair(self, sentences: list[CheckedSentence], passages: list[Passage],
                windows: list[_Window], asked: _Question | None) -> None:
        """Give an unsupported sentence the number of the passage that supports it best."""
        open_sentences = [s for s in sentences if not s.supported]
        claims = [_Claim(s, [n]) for s in open_sentences for n in range(1, len(passages) + 1)]
        self._judge(claims, windows, asked)
        for sentence in open_sentences:
            found = [c for c in claims if c.sentence is sentence and c.supported]
            if not found:
                continue
            best = max(found, key=lambda c: (c.lexical >= LEXICAL_SUPPORTED, c.lexical,
                                             c.semantic or 0.0, -c.numbers[0]))
            sentence.citations = best.numbers
            sentence.supported = sentence.repaired = True
            sentence.lexical, sentence.semantic = best.lexical, best.semantic

    def _windows(self, passages: Sequence[Passage]) -> list[_Window]:
        windows: list[_Window] = []
        for n, passage in enumerate(passages, start=1):
            context = frozenset(self.weights.stems_of(f"{passage.title} {passage.location}"))
            metadata = f"{passage.title} {passage.location} {passage.date}"
            for text, linked in _statements(passage.text):
                windows.append(_Window(n, text, frozenset(self.weights.stems_of(text)), context,
                                       f"{text} {metadata}", linked))
        return windows

    def _judge(self, claims: list[_Claim], windows: list[_Window],
               asked: _Question | None) -> None:
        """Each claim against each sentence (or pair) of its cited passages: lexical
        support first; the embedding decides only the doubtful claims, all in one batch."""
        for claim in claims:
            text = _LIST_ITEM.sub("", claim.sentence.text)  # "1." is no figure of the claim
            # figures are checked apart, however they are written ("28.11.2025")
            terms = [t for t in self.weights.terms(text) if not t.word.isdigit()]
            numbers = numbers_in(text)
            needs = self._needs(text, asked)
            candidates: list[tuple[float, float, _Window]] = []
            for window in windows:
                if window.passage not in claim.numbers:
                    continue
                if numbers and not figures_hold(text, window.figures):
                    continue  # a figure the source sentence does not contain
                if not self._holds(window, needs, asked):
                    continue
                stems = set(window.stems | window.context)
                lexical = self.weights.coverage(terms, stems) if terms else 1.0
                adds = family_share(needs.new, stems) if needs.new else 1.0
                candidates.append((round(lexical, 4), adds, window))
            if not candidates:
                claim.lexical = 0.0
                continue
            claim.lexical = max(lexical for lexical, _, _ in candidates)
            if any(lexical >= LEXICAL_SUPPORTED and adds >= NEW_IN_SOURCE
                   for lexical, adds, _ in candidates):
                claim.supported = True
                continue
            claim.sources = [
                window.text for lexical, adds, window in candidates
                if lexical >= LEXICAL_WITH_MEANING and adds >= NEW_WITH_MEANING
                and self.weights.gap(terms, set(window.stems | window.context))
                <= MAX_UNCOVERED_WORD
            ]
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

    def _needs(self, text: str, asked: _Question | None) -> _Needs:
        """The question's key terms the claim repeats, and, when it states an answer of
        the asked kind, that answer and all the question's key terms."""
        if asked is None:
            return _Needs([], [], [], [])
        own = self.weights.stems_of(text)
        repeated = [t for t in asked.terms if in_family(t.stems[0], own)]
        question = self.weights.stems_of(asked.text)
        new = [t for t in self.weights.terms(text)
               if not in_family(t.stems[0], question) and not t.word.isdigit()]
        if not asked.expected.is_typed:
            return _Needs([], repeated, new, [])
        answers = asked_expressions([text], asked.text, asked.expected, self.weights)
        return _Needs(answers, repeated, new, asked.terms if answers else [])

    def _holds(self, window: _Window, needs: _Needs, asked: _Question | None) -> bool:
        if needs.repeated and self._share(needs.repeated, window.stems,
                                          window.context) < REPEATED_IN_SOURCE:
            return False
        if not needs.answers:
            return True
        assert asked is not None
        if not window.linked:
            return False  # two unrelated sentences do not pair a name with a role
        clauses = [c for c in _MAIN_CLAUSE.split(window.text) if c.strip()]
        for answer in needs.answers:
            beside = [c for c in clauses if contains_span(c, answer, asked.expected)]
            if not any(self._share(needs.key, frozenset(self.weights.stems_of(c)),
                                   window.context) >= PAIRED_WITH_QUESTION for c in beside):
                return False
        return True

    @staticmethod
    def _share(terms: list[Term], stems: frozenset[str], context: frozenset[str]) -> float:
        """Share of the terms' weight in ``stems``, words only in ``context`` (title and
        section) counting ``CONTEXT_SHARE``."""
        if not terms:
            return 1.0
        own = family_share(terms, stems)
        return own + CONTEXT_SHARE * (family_share(terms, stems | context) - own)


def _statements(text: str) -> list[tuple[str, bool]]:
    """The sentences of a passage that may support a claim, each with whether it is one
    statement: every sentence; a list introduction with each of its items, and with all
    of them when they are short (a list of names); every sentence with the next one,
    which is one statement only when the next refers back to it ("Er ...", "Dort ...")."""
    spans = sentence_spans(text)
    sentences = [" ".join(text[s:e].split()) for s, e in spans]
    statements: list[tuple[str, bool]] = [(s, True) for s in sentences]
    index = 0
    while index < len(sentences):
        if sentences[index].endswith(":"):
            items: list[str] = []
            while index + 1 + len(items) < len(sentences) and _LIST_ITEM.match(
                    sentences[index + 1 + len(items)]):
                items.append(sentences[index + 1 + len(items)])
            if items:
                intro = sentences[index]
                statements.extend((f"{intro} {item}", True) for item in items)
                short = all(len(item.split()) <= SHORT_ITEM_WORDS for item in items)
                statements.append((" ".join([intro, *items]), short))
                index += len(items) + 1
                continue
        index += 1
    for first, second in pairwise(sentences):
        if _LIST_ITEM.match(second):
            continue
        refers_back = bool(_REFERS_BACK.match(_LIST_ITEM.sub("", second)))
        statements.append((f"{first} {second}", refers_back))
    return statements


def _without_unsupported_items(sentences: list[CheckedSentence], items: list[bool]
                               ) -> tuple[list[CheckedSentence], int]:
    """Drops unsupported list items, and an introduction left without its items."""
    kept: list[CheckedSentence] = []
    kept_items: list[bool] = []
    dropped = 0
    for sentence, item in zip(sentences, items, strict=True):
        if item and not sentence.supported:
            dropped += 1
            continue
        kept.append(sentence)
        kept_items.append(item)
    if dropped:
        result = []
        for index, sentence in enumerate(kept):
            followed = index + 1 < len(kept) and kept_items[index + 1]
            if sentence.text.endswith(":") and not kept_items[index] and not followed:
                continue
            result.append(sentence)
        kept = result
    return kept, dropped


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
