"""Extractive answers: the sentences of the retrieved passages that answer the question.

Every sentence of the top passages is a candidate unless it cannot stand alone: a
heading, a list introduction ("Beteiligt sind:"), a fragment, a byline or navigation text.
Candidates are ranked by three things:
- how much of the question's weight the sentence covers (``rag.answering.term_weights``; the
  passage's title and section count at a quarter, so "Der Prototyp wurde ..." under the
  title "Stadt Herten: ..." still speaks about Herten);
- what the sentence means: the cosine similarity of question and sentence in the
  embedding model, which bridges paraphrases ("Begrüßungsworte" ~ "eröffnete");
- whether it contains what the question asks for (``rag.answering.question_kinds``): "Wie viele
  Prototypen ...?" prefers "Im Mittelpunkt standen die neun Prototypen ..." over
  sentences that repeat "vorgestellt" without a number.
The best sentence leads the answer; up to two more follow when they score close to it.
A sentence that opens with a pronoun ("Sie stammen aus ...") brings the sentence before
it along, so that the reader knows what "sie" is.

Embedding sentences is the expensive part (a few milliseconds each), so only the few
candidates that the cheap signals rank highest are embedded, and embeddings are cached.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from rag.answering.question_kinds import (
    STATED_KINDS,
    Expected,
    Found,
    asks_for_next,
    counted_noun,
    expected_answer,
    find_expressions,
    instance_pins,
    states_future,
)
from rag.answering.sentence_model import SentenceFeatures, SentenceModel, looks_like_caption
from rag.text import sentence_spans

if TYPE_CHECKING:
    from rag.answering.term_weights import Term, TermWeights
    from rag.providers.embedding import Embedder
    from rag.retrieval import Scored

SOURCE_PASSAGES = 5  # candidates come from this many top passages
# ... and for "wie viele X", sentences with a number right before X from this many: such a
# sentence often ranks below passages that repeat the question's other words
COUNT_SOURCE_PASSAGES = 8
# sentences embedded per question (8 added a point of recall at twice the latency)
SEMANTIC_CANDIDATES = 4
MEANING_CHARS = 300  # of a candidate, embedded for its similarity to the question
# a sentence the learned ranker did not embed keeps this share of its cheap score
NOT_EMBEDDED = 0.5
MAX_SENTENCES = 3
RELATIVE_TO_BEST = 0.15  # further sentences must score at least this share of the best
CONTEXT_WEIGHT = 0.25  # title and section words count a quarter of the sentence's own
WEIGHT_MEANING = 1.0  # per unit of cosine below the best sentence's
WEIGHT_TYPE = 0.3  # the sentence contains what the question asks for
WEIGHT_COUNTED = 0.15  # ... right next to the noun a "wie viele" question counts
TYPED_MIN_COVERAGE = 0.2  # a sentence whose expression answers must cover this much
RANK_PENALTY = 0.03  # per passage rank: earlier passages are better evidence
NEIGHBOUR_BONUS = 0.5  # share of the best score added to the sentences next to it
WEIGHT_NEW_TERMS = 1.0  # per share of the question's weight no chosen sentence covers yet

_MARKUP = re.compile(r"^\s*(?:[-*•–]\s+|\d+[.)]\s+)|\*\*|__|`")
_ANAPHOR = re.compile(
    r"^(?:er|sie|es|ihr|ihre[mnrs]?|sein|seine[mnrs]?|dies|diese[mnrs]?|dort|damit|dabei|"
    r"dazu|davon|darüber|darin|daraus|dafür|deshalb|daher|hier|jene[mnrs]?|dessen|deren)\b",
    re.IGNORECASE,
)
_BYLINE = re.compile(
    r"^(?:von|by|autor|autorin|text|texte|foto|fotos|bild|bilder|quelle|quellen|source|"
    r"stand|veröffentlicht|aktualisiert|zuletzt|erstellt|redaktion|kontakt|tel\.?|telefon|"
    r"e-mail|fax)\b[^.!?]{0,80}$|©|\bcopyright\b|^\W*\d{1,2}\.\s?\d{1,2}\.\s?\d{2,4}\W*$",
    re.IGNORECASE,
)
_NAVIGATION_WORDS = frozenset("""
    startseite home zurück weiter menü menu navigation suche suchen teilen drucken
    impressum datenschutz datenschutzerklärung kontakt barrierefreiheit sitemap cookies
    cookie newsletter login anmelden abmelden mehr erfahren lesen nach oben seitenanfang
    inhalt überspringen springe hauptinhalt facebook twitter instagram linkedin youtube
    xing mastodon rss tags schlagworte
""".split())
# words in names that say what kind of thing is named, not which one ("Stadt Bochum")
GENERIC_NAME_WORDS = frozenset("""
    stadt kreis landkreis gemeinde hansestadt kommune region bezirk land firma unternehmen
    institut hochschule universität ministerium frau herr prof dr ministerin minister
    bürgermeister bürgermeisterin in im aus nach bei der die das des den dem von für und
""".split())
_BREADCRUMB = re.compile(r"(?:\s[›»>|/]\s.*){2,}")
_WORD = re.compile(r"[\wÄÖÜäöüß]+(?:[-'][\wÄÖÜäöüß]+)*")
_SENTENCE_END = re.compile(r"[.!?…:;\"“”»«)\]]$")


def clean(sentence: str) -> str:
    """A sentence as it reads, without Markdown list markers and emphasis."""
    return " ".join(_MARKUP.sub("", sentence).split())


def stands_alone(sentence: str) -> bool:
    """Whether a sentence can be shown on its own as (part of) an answer."""
    words = _WORD.findall(sentence)
    if len(words) < 4 or sentence.startswith(("#", "|")) or sentence.endswith(":"):
        return False  # fragments, headings, table rows and list introductions
    if not any(w[0].islower() and len(w) > 1 for w in words):
        return False  # names and headings only, no verb
    if not _SENTENCE_END.search(sentence) and len(words) < 12:
        return False  # a heading or a caption without closing punctuation
    if _BYLINE.search(sentence):
        return False
    lowered = [w.lower() for w in words]
    navigation = sum(w in _NAVIGATION_WORDS for w in lowered)
    return not (navigation >= 3 or navigation * 3 >= len(words) or _BREADCRUMB.search(sentence))


@dataclass(frozen=True)
class Unit:
    """A sentence, or a list introduction with its items, of one passage."""

    first: int  # index of its first and last sentence span in the passage
    last: int
    start: int  # character span in the passage text
    end: int
    text: str


_LIST_ITEM = re.compile(r"^\s*(?:[-*•–]|\d{1,2}[.)])\s+")
MAX_LIST_ITEMS = 10


def sentence_units(text: str) -> list[Unit]:
    """The sentences of ``text``, cleaned; a sentence that introduces a list ("... für
    drei Arten von Ereignissen liefern soll:") is joined with the list's items, which
    alone are fragments ("- Brände,") and together with it the statement."""
    spans = sentence_spans(text)
    units: list[Unit] = []
    index = 0
    while index < len(spans):
        start, end = spans[index]
        sentence = clean(text[start:end])
        last = index
        if sentence.endswith(":"):
            items: list[str] = []
            while (last + 1 < len(spans) and len(items) < MAX_LIST_ITEMS
                   and _LIST_ITEM.match(text[spans[last + 1][0] : spans[last + 1][1]])):
                last += 1
                items.append(clean(text[spans[last][0] : spans[last][1]]))
            if items:
                sentence = f"{sentence} {' '.join(items)}"
                end = spans[last][1]
        units.append(Unit(index, last, start, end, sentence))
        index = last + 1
    return units


def family_coverage(terms: list[Term], stems: set[str]) -> float:
    """Coverage where a word of the same family counts half ("warnen" ~ "Warnungen",
    "Bericht" ~ "berichtet"): stems sharing their first five letters. Good for choosing
    among sentences; the refusal decision uses exact stems only (family matching made it
    answer questions the documents do not cover)."""
    total = sum(term.weight for term in terms)
    if total == 0:
        return 0.0
    covered = 0.0
    for term, share in zip(terms, _shares(terms, stems), strict=True):
        if share < 1.0 and len(term.stems[0]) >= 5:
            prefix = term.stems[0][:5]
            if any(stem.startswith(prefix) for stem in stems):
                share = max(share, 0.5)
        covered += term.weight * share
    return covered / total


def _shares(terms: list[Term], stems: set[str]) -> list[float]:
    from rag.answering.term_weights import TermWeights

    return TermWeights.covered_shares(terms, stems)


@dataclass(frozen=True)
class Candidate:
    rank: int  # of the passage among the retrieved ones
    position: int  # of its first sentence within the passage
    last: int  # of its last sentence (a list introduction with its items spans several)
    start: int  # character span in the passage text
    end: int
    text: str
    coverage: float
    found: tuple[Found, ...] = ()  # expressions of the asked-for kind, spans in ``text``
    counted: bool = False  # a number right before the noun a "wie viele" question counts
    semantic: float | None = None
    score: float = 0.0
    stems: frozenset[str] = frozenset()
    exact: float = 0.0  # coverage by the sentence's own stems, no families, no context
    context: float = 0.0  # coverage by the passage's title and section
    dense: float = 0.0  # the passage's dense similarity minus the best passage's
    pinned: bool = True  # its passage is about the instance the question pins (year, unit)
    gap: float = 0.0  # largest share of the question's weight one missing word carries
    before: float = 0.0  # coverage of the sentence before it in its passage

    def features(self, *, typed: bool, best_meaning: float, floor: float,
                 best_coverage: float = 0.0) -> SentenceFeatures:
        meaning = self.semantic if self.semantic is not None else floor
        return SentenceFeatures(
            coverage=self.coverage, exact=self.exact, context=self.context,
            found=float(bool(self.found)), counted=float(self.counted), typed=float(typed),
            rank=float(self.rank), first=float(self.position == 0),
            position=min(self.position, 10) / 10, words=math.log(1 + len(_WORD.findall(self.text))),
            dense=self.dense, caption=float(looks_like_caption(self.text)),
            gap=self.gap, before=self.before, anaphor=float(bool(_ANAPHOR.match(self.text))),
            best_coverage=self.coverage - best_coverage,
            semantic=meaning - best_meaning,
        )


@dataclass
class Extract:
    """The ranked candidate sentences for one question."""

    expected: Expected
    candidates: list[Candidate] = field(default_factory=list)
    terms: list[Term] = field(default_factory=list)
    counted_noun: str | None = None
    pins_missing: bool = False  # the question pins an instance no candidate's passage is about
    next_missing: bool = False  # it asks for something coming and no sentence states one

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    def typed_support(self, *, within: int = 3) -> bool:
        """For questions asking for a number, date, name or place: whether one of the top
        sentences contains one and speaks about the question (a date in a sentence about
        something else does not say when the asked thing happens). Description questions
        are always supported."""
        if not self.expected.is_typed:
            return True
        # "Er dauert 30 Minuten." speaks about what the sentence before it names: the
        # answer shows the two together, so they cover the question together
        return any(c.found and c.coverage + (c.before if _ANAPHOR.match(c.text) else 0.0)
                   >= TYPED_MIN_COVERAGE for c in self.candidates[:within])

    def counted_support(self, *, within: int = 5) -> bool:
        """For "wie viele X" questions: whether a top sentence puts a number right before
        an X (a number about something else answers a different question)."""
        if self.expected is not Expected.COUNT or not self.counted_noun:
            return True
        return any(c.counted for c in self.candidates[:within])


class SentenceRanker:
    def __init__(self, weights: TermWeights, embedder: Embedder,
                 model: SentenceModel | None = None) -> None:
        self.weights = weights
        self.embedder = embedder
        self.model = model

    def rank(self, question: str, results: Sequence[Scored], *, this_year: int | None = None,
             embed_all: bool = False) -> Extract:
        """The candidate sentences of the top passages, best first. ``embed_all`` gives
        every candidate its embedding similarity (for fitting the model)."""
        expected = expected_answer(question)
        terms = self.weights.terms(question)
        noun = counted_noun(question) if expected is Expected.COUNT else None
        noun_stems = self.weights.analyzer.analyze(noun) if noun else []
        noun_stem = noun_stems[0] if noun_stems else None
        question_stems = self.weights.stems_of(question)
        candidates: list[Candidate] = []
        depth = COUNT_SOURCE_PASSAGES if noun_stem else SOURCE_PASSAGES
        pins = instance_pins(question)
        if any(pin.kind == "unit" for pin in pins):
            # a unit pin whose name no passage mentions is no instance the documents know
            # of (nor, typed all in lower case, certainly a name): the rest of the evidence
            # decides
            texts = " ".join(f"{r.passage.title} {r.passage.text}"
                             for r in results[:depth]).lower()
            pins = [pin for pin in pins if pin.kind == "year" or pin.value in texts]
        best_dense = max((r.dense_score or 0.0 for r in results[:depth]), default=0.0)
        for rank, result in enumerate(results[:depth]):
            passage = result.passage
            context = self.weights.stems_of(f"{passage.title} {passage.location}")
            about = f"{passage.title} {passage.location} {passage.date} {passage.text}"
            pinned = all(pin.holds(about) for pin in pins)
            dense = (result.dense_score or 0.0) - best_dense
            previous = 0.0
            for unit in sentence_units(passage.text):
                if not stands_alone(unit.text):
                    previous = self.weights.coverage(terms, self.weights.stems_of(unit.text))
                    continue
                candidate = self._candidate(rank, unit, terms, context, expected, noun_stem,
                                            question_stems)
                candidate = replace(candidate, pinned=pinned, dense=dense, before=previous)
                previous = candidate.exact
                # from the deeper passages only the number of the counted thing itself: a
                # figure about something else there answers another question
                if rank < SOURCE_PASSAGES or candidate.counted:
                    candidates.append(candidate)
        candidates = _unique(candidates)
        pins_missing = bool(pins) and not any(c.pinned for c in candidates)
        if pins and not pins_missing:
            # "Landkreis Kassel" is not answered from a passage about the Stadt Kassel
            candidates = [c for c in candidates if c.pinned]
        scored = (self._score_learned(question, candidates, expected, embed_all=embed_all)
                  if self.model is not None or embed_all
                  else self._score_by_hand(question, candidates))
        if expected in STATED_KINDS:
            # a sentence without any number or date cannot answer "wie viele" or "wann",
            # however well it repeats the question: the best one that can leads (the
            # finders for these kinds are precise; names and places are left to the score)
            answering = next((c for c in scored if c.found and c.coverage >= TYPED_MIN_COVERAGE),
                             None)
            if answering is not None and not scored[0].found:
                scored.remove(answering)
                scored.insert(0, answering)
        next_missing = False
        if asks_for_next(question):
            year = this_year or _current_year()
            next_missing = not any(states_future(c.text, this_year=year)
                                   for c in scored[:SOURCE_PASSAGES])
        return Extract(expected, scored, terms, noun, pins_missing, next_missing)

    def _score_by_hand(self, question: str, candidates: list[Candidate]) -> list[Candidate]:
        self._add_meaning(question, candidates, chosen=sorted(
            range(len(candidates)), key=lambda i: -_score(candidates[i], 0.0, 0.0)
        )[:SEMANTIC_CANDIDATES])
        best_meaning = max((c.semantic for c in candidates if c.semantic is not None),
                           default=0.0)
        floor = min((c.semantic for c in candidates if c.semantic is not None), default=0.0)
        scored = [replace(c, score=_score(c, best_meaning, floor)) for c in candidates]
        scored.sort(key=lambda c: (-c.score, c.rank, c.position))
        return scored

    def _score_learned(self, question: str, candidates: list[Candidate], expected: Expected,
                       *, embed_all: bool) -> list[Candidate]:
        typed = expected.is_typed
        model = self.model
        top = max((c.coverage for c in candidates), default=0.0)
        if embed_all or model is None:
            order = list(range(len(candidates)))
        else:
            cheap = [model.cheap_score(c.features(typed=typed, best_meaning=0.0, floor=0.0,
                                                  best_coverage=top))
                     for c in candidates]
            order = sorted(range(len(candidates)), key=lambda i: -cheap[i])
            order = order[:SEMANTIC_CANDIDATES]
        self._add_meaning(question, candidates, chosen=order)
        embedded = [c.semantic for c in candidates if c.semantic is not None]
        best_meaning = max(embedded, default=0.0)
        floor = min(embedded, default=0.0)
        scored = []
        for candidate in candidates:
            features = candidate.features(typed=typed, best_meaning=best_meaning, floor=floor,
                                          best_coverage=top)
            if model is None:
                score = 0.0
            elif candidate.semantic is not None:
                score = model.score(features)
            else:
                # not embedded: ranked below the embedded ones by the cheap model's view
                score = NOT_EMBEDDED * model.cheap_score(features)
            scored.append(replace(candidate, score=score))
        scored.sort(key=lambda c: (-c.score, c.rank, c.position))
        return scored

    def _candidate(self, rank: int, unit: Unit, terms: list[Term], context: set[str],
                   expected: Expected, noun_stem: str | None,
                   question_stems: set[str]) -> Candidate:
        text = unit.text
        own = self.weights.stems_of(text)
        coverage = ((1 - CONTEXT_WEIGHT) * family_coverage(terms, own)
                    + CONTEXT_WEIGHT * family_coverage(terms, own | context))
        # the answer is news: a name or number the question itself contains is not it
        found = tuple(f for f in find_expressions(text, expected)
                      if self._is_news(text[f.start : f.end], question_stems))
        counting = self._counting(text, found, noun_stem) if noun_stem and found else ()
        counted = bool(counting)
        if counting:
            found = counting  # the number of the counted thing is the answer, not others
        return Candidate(rank, unit.first, unit.last, unit.start, unit.end, text, coverage,
                         found, counted, stems=frozenset(own),
                         exact=self.weights.coverage(terms, own),
                         context=self.weights.coverage(terms, context),
                         gap=self.weights.gap(terms, own | context))

    def _is_news(self, expression: str, question_stems: set[str]) -> bool:
        words = [w for w in _WORD.findall(expression) if w.lower() not in GENERIC_NAME_WORDS]
        stems = self.weights.stems_of(" ".join(words))
        return not stems or bool(stems - question_stems)

    def _counting(self, text: str, found: tuple[Found, ...], noun_stem: str
                  ) -> tuple[Found, ...]:
        """The numbers in ``found`` that stand right before the counted noun."""
        counting = []
        for expression in found:
            following = _WORD.findall(text[expression.end : expression.end + 60])[:3]
            stems = {stem for word in following for stem in self.weights.analyzer.analyze(word)}
            # the same word or one of its family ("Teilnehmende" ~ "Teilnehmer")
            if noun_stem in stems or any(s[:5] == noun_stem[:5] for s in stems
                                         if len(s) >= 5 and len(noun_stem) >= 5):
                counting.append(expression)
        return tuple(counting)

    def _add_meaning(self, question: str, candidates: list[Candidate], *,
                     chosen: list[int]) -> None:
        """Cosine of question and sentence for the ``chosen`` candidates."""
        if not candidates or not chosen:
            return
        query = self.embedder.embed_query(question)
        # a list with its introduction can run to a hundred words: its opening says what
        # it is about, and the encoder's time grows with the length
        vectors = self.embedder.embed_sentences([candidates[i].text[:MEANING_CHARS]
                                                 for i in chosen])
        for index, vector in zip(chosen, vectors, strict=True):
            similarity = sum(a * b for a, b in zip(query, vector, strict=True))
            candidates[index] = replace(candidates[index], semantic=float(similarity))


def _current_year() -> int:
    from datetime import date

    return date.today().year


def _score(candidate: Candidate, best_meaning: float, floor: float) -> float:
    meaning = candidate.semantic if candidate.semantic is not None else floor
    score = candidate.coverage + WEIGHT_MEANING * (meaning - best_meaning)
    if candidate.found:
        score += WEIGHT_TYPE + (WEIGHT_COUNTED if candidate.counted else 0.0)
    return score - RANK_PENALTY * candidate.rank


def _unique(candidates: list[Candidate]) -> list[Candidate]:
    seen: set[str] = set()
    unique = []
    for candidate in candidates:
        key = candidate.text.lower()
        if key not in seen:
            seen.add(key)
            unique.append(candidate)
    return unique


@dataclass(frozen=True)
class Selected:
    rank: int  # passage the sentence is cited from
    text: str  # possibly with the sentence before it, when it needs its antecedent
    marks: tuple[str, ...]  # the answer itself within ``text`` (a number, date, name)


def select(extract: Extract, results: Sequence[Scored]) -> list[Selected]:
    """At most three sentences: the best first, then those that score close to it, in
    the order of the documents."""
    best = extract.best
    if best is None:
        return []

    def weight(candidate: Candidate) -> float:
        # the sentences around the best one are its context: a "warum" question's reason
        # often stands just before the sentence that repeats the question's words
        adjacent = candidate.rank == best.rank and (candidate.position == best.last + 1
                                                    or candidate.last == best.position - 1)
        return candidate.score + (NEIGHBOUR_BONUS * best.score if adjacent else 0.0)

    terms = extract.terms
    total = sum(term.weight for term in terms) or 1.0
    covered = _covered(terms, best.stems)

    def value(candidate: Candidate) -> float:
        # a question with several parts ("wann ..., und wann ...?") wants the sentence
        # that answers the part the chosen ones leave open
        new = _covered(terms, candidate.stems) - covered
        return weight(candidate) + WEIGHT_NEW_TERMS * sum(terms[i].weight for i in new) / total

    chosen = [best]
    remaining = list(extract.candidates[1:])
    while remaining and len(chosen) < MAX_SENTENCES and best.score > 0:
        candidate = max(remaining, key=value)
        if value(candidate) < RELATIVE_TO_BEST * best.score:
            break
        chosen.append(candidate)
        covered |= _covered(terms, candidate.stems)
        remaining.remove(candidate)
    rest = sorted(chosen[1:], key=lambda c: (c.rank, c.position))
    selected: list[Selected] = []
    for candidate in [best, *rest]:
        shown = " ".join(s.text for s in selected)
        if candidate.text in shown:
            continue  # already quoted as the antecedent of a sentence before it
        selected.append(_with_antecedent(candidate, results, marks=candidate is best,
                                         already=shown))
    return selected


def _covered(terms: list[Term], stems: frozenset[str]) -> set[int]:
    """Indices of the terms that ``stems`` covers at least half."""
    shares = _shares(terms, set(stems))
    return {i for i, share in enumerate(shares) if share >= 0.5}


def _with_antecedent(candidate: Candidate, results: Sequence[Scored], *,
                     marks: bool, already: str) -> Selected:
    text = candidate.text
    own_marks = _marks(candidate) if marks else ()
    if _ANAPHOR.match(text) and candidate.position > 0:
        units = sentence_units(results[candidate.rank].passage.text)
        previous = next((u.text for u in units if u.last == candidate.position - 1), "")
        if (previous and previous not in already and not previous.endswith(":")
                and len(_WORD.findall(previous)) >= 3):
            text = f"{previous} {text}"
    return Selected(candidate.rank, text, own_marks)


def _marks(candidate: Candidate) -> tuple[str, ...]:
    """The longest non-overlapping expressions, in reading order."""
    kept: list[Found] = []
    for found in sorted(candidate.found, key=lambda f: -(f.end - f.start)):
        if all(found.end <= k.start or found.start >= k.end for k in kept):
            kept.append(found)
    kept.sort(key=lambda f: f.start)
    return tuple(candidate.text[f.start : f.end].strip(" ,.;:") for f in kept)
