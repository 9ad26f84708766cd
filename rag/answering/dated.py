"""Time in answers: as of when a fact holds, and the newer source first.

Called by the answerer on every answer it gives (``date_answer``), after the sentences are
chosen; it only reorders and labels them, so the sentence ranker and the refusal stay as
they are.

- **As of when.** An answer that states a value (a number, an amount, a date, a name, a
  place: facts that change) is followed by the date of the document it comes from: "…
  185 Beschäftigte teil. [1] (Stand: 16.11.2023)". So is every lead sentence where
  sources of different dates were weighed. Descriptions are left as they are.
- **Newer wins.** When the top sentences give different values of the asked kind (a
  number, amount, date, name) for the same subject from documents of different dates,
  the answer leads with the newest document's value and names each older one as older
  ("Ältere Angabe (Stand: 17.11.2022): …"), instead of mixing them. Questions with
  "aktuell", "derzeit", "zuletzt", "neueste", "dieses Jahr" … lead with the newest
  document among the close candidates even without a conflict. Otherwise the ranking
  stays as it is: older facts are still facts. A question that names a year has chosen
  its instance, and is left alone.
- **Nothing to come.** A "nächste" question that is refused because no passage states a
  future date gets the latest date the documents know, as context.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answering.extractive import Candidate, Extract
from rag.answering.question_kinds import STATED_KINDS, Expected, find_expressions, instance_pins
from rag.answering.results import Answer, CheckedSentence, Citation
from rag.passage import Passage
from rag.retrieval import Scored, date_sort_key

# how far down the ranked sentences a conflicting value or a newer source is looked for
CANDIDATES = 8
# a sentence speaks about the same thing as the lead when it covers this share of the
# lead's coverage of the question (and at least MIN_COVERAGE of the question)
SAME_QUESTION = 0.6
MIN_COVERAGE = 0.3
# ... and its document's title shares this share of the smaller title's words
SAME_SUBJECT = 0.5
OLDER_SHOWN = 2  # older documents named below the lead

UNDATED = "ohne Datum"
OLDER_LABEL = "Ältere Angabe"
LATEST_KNOWN = "Zuletzt bekannt"

_RECENCY = re.compile(
    r"\b(?:aktuell\w*|derzeit\w*|zurzeit|momentan\w*|gegenwärtig\w*|zuletzt|neuest\w*|"
    r"jüngst\w*|dieses\s+jahr|diesjährig\w*|inzwischen|mittlerweile|jetzt|"
    r"neue(?:ste)?\s+stand|stand\s+heute)\b", re.IGNORECASE)
_TITLE_WORD = re.compile(r"[^\W\d_]{4,}")
_VALUE_NOISE = re.compile(r"[\s.\u00a0\u202f]")


def asks_for_latest(question: str) -> bool:
    """Whether the question asks for the state of now ("aktuell", "derzeit", "zuletzt",
    "neueste", "dieses Jahr")."""
    return bool(_RECENCY.search(question))


def german_date(iso: str) -> str:
    """ "2025-11-28" -> "28.11.2025", "2025-11" -> "11/2025"; "" -> "ohne Datum"."""
    parts = iso.strip().split("-")
    if not iso.strip():
        return UNDATED
    if len(parts) == 3 and all(part.isdigit() for part in parts):
        return f"{int(parts[2]):02d}.{int(parts[1]):02d}.{parts[0]}"
    if len(parts) == 2 and all(part.isdigit() for part in parts):
        return f"{int(parts[1]):02d}/{parts[0]}"
    return iso.strip()


def as_of(passage: Passage) -> str:
    """ "Stand: 28.11.2025", or "ohne Datum"."""
    return f"Stand: {german_date(passage.date)}" if passage.date.strip() else UNDATED


@dataclass(frozen=True)
class _Line:
    """A sentence of the rebuilt answer and the passage it is cited from."""

    text: str
    passage: Passage
    suffix: str = ""  # "(Stand: …)" after the citation
    prefix: str = ""  # "Ältere Angabe (Stand: …): " before the sentence
    marks: tuple[str, ...] = ()


def date_answer(answer: Answer, pool: Sequence[Scored], extract: Extract) -> None:
    """Label ``answer`` with as of when its fact holds, and put the newest source's value
    first where the top sources disagree (see the module's description). Changes the
    answer in place; a refusal gets the latest known date for a "nächste" question."""
    if answer.refused:
        if extract.next_missing and answer.mode == "refused":
            _latest_known(answer, pool, extract)
        return
    if not answer.sentences or not answer.citations:
        return
    if answer.mode == "extractive":
        _date_extractive(answer, pool, extract)
    else:
        _date_generated(answer, pool, extract)


# --- which sources disagree ---------------------------------------------------------


@dataclass(frozen=True)
class _Resolution:
    lead: Candidate  # the newest source's sentence
    older: list[Candidate]  # one per older source that says otherwise, newest first
    weighed: bool  # sources of different dates were weighed


def _resolve(question: str, pool: Sequence[Scored], extract: Extract,
             lead_passage: Passage) -> _Resolution | None:
    """The newest source's sentence and the older ones that differ from it, when the top
    sentences disagree across dates (or the question asks for the latest); else None."""
    if any(pin.kind == "year" for pin in instance_pins(question)):
        return None  # "der Fachtag 2023": the question chose its instance
    best = extract.best
    if best is None:
        return None
    typed = extract.expected.is_typed
    latest = asks_for_latest(question)
    floor = max(MIN_COVERAGE, SAME_QUESTION * best.coverage)
    close = [c for c in extract.candidates[:CANDIDATES]
             if c.coverage >= floor and (c.found or not typed) and c.rank < len(pool)
             and _same_subject(pool[c.rank].passage, lead_passage)]
    by_doc: dict[str, Candidate] = {}
    for candidate in close:  # best first: each document's best sentence
        by_doc.setdefault(pool[candidate.rank].passage.doc_id, candidate)
    if len(by_doc) < 2:
        return None

    def when(candidate: Candidate) -> int:
        return date_sort_key(pool[candidate.rank].passage.date)

    newest = max(by_doc.values(), key=lambda c: (when(c), -close.index(c)))
    dates = {when(c) for c in by_doc.values()}
    if len(dates) < 2:
        return None  # one date: nothing to weigh
    older = [c for c in sorted(by_doc.values(), key=lambda c: -when(c))
             if c is not newest and when(c) < when(newest)
             and (not typed or _differs(c, newest, extract.expected))]
    if typed and not older and not latest:
        return None  # the sources agree
    if not typed and not latest:
        return None  # descriptions are not weighed by date unless asked for the latest
    return _Resolution(newest, older[:OLDER_SHOWN] if typed else [], weighed=True)


def _differs(candidate: Candidate, lead: Candidate, expected: Expected) -> bool:
    """Whether two sentences state different values. Numbers, amounts and dates are
    compared as found; for names and places the finders see too little ("in Musterstadt"
    of "das Berufskolleg in Musterstadt"), so any other wording counts as another value."""
    if expected in STATED_KINDS:
        return _values(candidate) != _values(lead)
    return _VALUE_NOISE.sub("", candidate.text).lower() != _VALUE_NOISE.sub("", lead.text).lower()


def _values(candidate: Candidate) -> set[str]:
    return {_VALUE_NOISE.sub("", candidate.text[f.start:f.end]).lower().strip(",;:")
            for f in candidate.found}


def _same_subject(passage: Passage, other: Passage) -> bool:
    """Two documents about the same thing: their titles share most words (years and
    numbers aside: "Fachtag KI 2023" and "Fachtag KI 2024")."""
    if passage.doc_id == other.doc_id:
        return True
    words = {w.lower() for w in _TITLE_WORD.findall(passage.title)}
    others = {w.lower() for w in _TITLE_WORD.findall(other.title)}
    if not words or not others:
        return False
    return len(words & others) / min(len(words), len(others)) >= SAME_SUBJECT


# --- extractive answers -------------------------------------------------------------


def _date_extractive(answer: Answer, pool: Sequence[Scored], extract: Extract) -> None:
    by_number = {c.n: c.passage for c in answer.citations}
    lines = [_Line(s.text, by_number[s.citations[0]]) for s in answer.sentences
             if s.citations and s.citations[0] in by_number]
    if not lines:
        return
    resolution = _resolve(answer.standalone_question, pool, extract, lines[0].passage)
    if resolution is not None:
        lines = _reordered(lines, resolution, pool, extract.expected)
    elif extract.expected.is_typed and lines[0].passage.date.strip():
        lines[0] = _Line(lines[0].text, lines[0].passage, suffix=f"({as_of(lines[0].passage)})")
    else:
        return
    _render(answer, lines)


def _reordered(lines: list[_Line], resolution: _Resolution, pool: Sequence[Scored],
               expected: Expected) -> list[_Line]:
    """The newest source's sentence first, then the rest of the answer from sources that
    do not contradict it, then each older source's differing sentence, named as older.
    A sentence of another dated source with a value of the asked kind is left out: kept
    beside the newest value, it would mix versions."""
    lead_passage = pool[resolution.lead.rank].passage
    older_docs = {pool[c.rank].passage.doc_id for c in resolution.older}
    lead = _Line(resolution.lead.text, lead_passage, suffix=f"({as_of(lead_passage)})",
                 marks=tuple(resolution.lead.text[f.start:f.end] for f in resolution.lead.found))
    # the rest of the answer, without what the older sources say (named below as older)
    # and without the lead itself
    rest = [line for line in lines
            if line.passage.doc_id not in older_docs and line.text != lead.text
            and not (line.passage.doc_id != lead_passage.doc_id
                     and line.passage.date != lead_passage.date
                     and find_expressions(line.text, expected))]
    older = [_Line(c.text, pool[c.rank].passage,
                   prefix=f"{OLDER_LABEL} ({as_of(pool[c.rank].passage)}): ")
             for c in resolution.older]
    return [lead, *rest, *older]


def _render(answer: Answer, lines: list[_Line]) -> None:
    """Write ``lines`` into the extractive answer: numbered citations in order of
    appearance, the prefix line kept."""
    numbers: dict[str, int] = {}
    citations: list[Citation] = []
    texts: list[str] = []
    sentences: list[CheckedSentence] = []
    for line in lines:
        key = line.passage.chunk_id
        if key not in numbers:
            numbers[key] = len(numbers) + 1
            citations.append(Citation(numbers[key], line.passage))
        n = numbers[key]
        texts.append(" ".join(part for part in (f"{line.prefix}{line.text} [{n}]", line.suffix)
                              if part))
        sentences.append(CheckedSentence(text=line.text, citations=[n], supported=True,
                                         lexical=1.0, semantic=None))
    head = answer.answer.split("\n", 1)[0]
    answer.answer = head + "\n" + "\n".join(texts)
    answer.citations, answer.sentences = citations, sentences
    if lines[0].marks:
        answer.highlights = [mark.strip(" ,.;:") for mark in lines[0].marks]


# --- generated answers --------------------------------------------------------------


def _date_generated(answer: Answer, pool: Sequence[Scored], extract: Extract) -> None:
    """An LLM answer keeps its words: its first sentence gets its source's date where it
    matters, and where the sources disagree across dates, the newest source's sentence
    leads the answer, marked as the newest."""
    by_number = {c.n: c.passage for c in answer.citations}
    first = answer.sentences[0]
    passage = by_number.get(first.citations[0]) if first.citations else None
    if passage is None:
        return
    resolution = _resolve(answer.standalone_question, pool, extract, passage)
    if resolution is not None:
        newest = pool[resolution.lead.rank].passage
        if newest.doc_id != passage.doc_id and resolution.older:
            n = next((c.n for c in answer.citations if c.passage.chunk_id == newest.chunk_id),
                     max(by_number) + 1)
            if n not in by_number:
                answer.citations.append(Citation(n, newest))
            answer.answer = (f"Neueste Angabe ({as_of(newest)}): {resolution.lead.text} [{n}]"
                             f"\n\n{answer.answer}")
            answer.sentences.insert(0, CheckedSentence(
                text=resolution.lead.text, citations=[n], supported=True, lexical=1.0,
                semantic=None))
            return
    if not passage.date.strip() or resolution is None:
        # a generated answer is the model's wording: dated where sources of different
        # dates were weighed (or the latest was asked for); its sources show their dates
        return
    marker = f"[{first.citations[0]}]"
    at = answer.answer.find(first.text)
    end = answer.answer.find(marker, at) if at >= 0 else -1
    if end >= 0:
        end += len(marker)
        answer.answer = f"{answer.answer[:end]} ({as_of(passage)}){answer.answer[end:]}"


# --- refusals of "nächste" questions ------------------------------------------------


def _latest_known(answer: Answer, pool: Sequence[Scored], extract: Extract) -> None:
    """Below a refusal of "wann ist die nächste …": the newest dated sentence of the
    asked kind among the top ones, as the latest the documents know."""
    dated = [c for c in extract.candidates[:CANDIDATES]
             if c.found and c.rank < len(pool) and pool[c.rank].passage.date.strip()]
    if not dated:
        return
    newest = max(dated, key=lambda c: (date_sort_key(pool[c.rank].passage.date),
                                       -extract.candidates.index(c)))
    passage = pool[newest.rank].passage
    answer.answer += (f"\n\n{LATEST_KNOWN} ({as_of(passage)}, {passage.title}): "
                      f"„{newest.text}“")
