"""Answers with checked citations, or an honest "the documents don't cover this".

Flow for one question:
1. follow-up questions become standalone (LLM condensation, or the previous question's
   key terms carried over in extractive mode);
2. hybrid retrieval of the top passages;
3. refusal when the calibrated evidence says the corpus does not cover the question,
   naming the closest topics it does cover;
4. an LLM answer with [n] citations (streamed), or an extractive answer made of the
   sentences that best cover the question;
5. every LLM answer passes the citation check before it is returned.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rag.citations import CheckedSentence, CitationChecker
from rag.errors import LLMUnavailableError
from rag.evidence import TermWeights
from rag.filters import Filters
from rag.keyword import searchable_text
from rag.llm import ChatModel, Message
from rag.prompts import (
    CONDENSE_SYSTEM,
    EXTRACTIVE_PREFIX,
    LLM_ANSWER_EMPTY,
    LLM_ANSWER_UNSUPPORTED,
    NOT_IN_DOCUMENTS,
    REFUSAL_TEMPLATE,
    SYSTEM_PROMPT,
    condense_user_message,
    format_sources,
    says_not_in_documents,
)
from rag.refusal import EvidenceFeatures, RefusalModel
from rag.retrieve import Retriever, Scored
from rag.search import Passage
from rag.sentences import sentence_spans

EXTRACTIVE_SENTENCES = 3
EXTRACTIVE_RELATIVE = 0.6  # keep sentences scoring at least this share of the best one
EXTRACTIVE_MIN_COVERAGE = 0.2
SUGGESTED_TOPICS = 3
# words that make a question lean on the one before it
_ANAPHORA = re.compile(
    r"\b(er|sie|es|ihm|ihr|ihn|ihnen|dort|dabei|davon|dafür|damit|dazu|darüber|daran|hier|"
    r"dies|diese[rsmn]?|jene[rsmn]?|deren|dessen|das projekt|der prototyp|die initiative|"
    r"und wer|und wann|und wo|und was|und wie)\b",
    re.IGNORECASE,
)
_MARKUP = re.compile(r"^\s*(?:[-*•]\s+|\d+[.)]\s+)|\*\*|__|`")


@dataclass
class Citation:
    n: int
    doc_id: str
    title: str
    source: str
    location: str
    date: str
    type: str
    text: str
    score: float
    start: int
    end: int

    @classmethod
    def of(cls, n: int, passage: Passage) -> Citation:
        return cls(n=n, doc_id=passage.doc_id, title=passage.title, source=passage.source,
                   location=passage.location, date=passage.date, type=passage.type,
                   text=passage.text, score=passage.score, start=passage.start, end=passage.end)


@dataclass
class Turn:
    """What a conversation remembers of an earlier question."""

    question: str
    standalone: str
    answer: str = ""


@dataclass
class Answer:
    question: str
    standalone_question: str
    answer: str
    refused: bool
    mode: str  # "llm", "extractive" or "refused"
    llm: str | None
    citations: list[Citation] = field(default_factory=list)
    sentences: list[CheckedSentence] = field(default_factory=list)
    suggested_topics: list[str] = field(default_factory=list)
    evidence: dict[str, float] = field(default_factory=dict)
    notice: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "refused": self.refused,
            "mode": self.mode,
            "citations": [
                {key: value for key, value in asdict(c).items() if key not in ("start", "end")}
                for c in self.citations
            ],
            "llm": self.llm,
            "standalone_question": self.standalone_question,
            "sentences": [asdict(s) for s in self.sentences],
            "suggested_topics": self.suggested_topics,
            "evidence": self.evidence,
            "notice": self.notice,
        }

    def as_turn(self) -> Turn:
        return Turn(self.question, self.standalone_question, self.answer)


TokenCallback = Callable[[str], None]


class UnusableLLMAnswer(Exception):
    """The LLM wrote nothing the citation check can keep; ``notice`` says so in one line."""

    def __init__(self, notice: str) -> None:
        super().__init__(notice)
        self.notice = notice


class Answerer:
    def __init__(
        self,
        *,
        retriever: Retriever,
        refusal: RefusalModel,
        llm: ChatModel | None,
        llm_required: bool,
        max_answer_tokens: int,
    ) -> None:
        self.retriever = retriever
        self.refusal = refusal
        self.llm = llm
        # an explicitly configured LLM that fails is an error; auto mode falls back
        self.llm_required = llm_required
        self.max_answer_tokens = max_answer_tokens
        self.weights = TermWeights(retriever.keyword, retriever.analyzer)
        self.checker = CitationChecker(self.weights, retriever.embedder)

    # --- public -----------------------------------------------------------------------

    def ask(
        self,
        question: str,
        *,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        top_k: int | None = None,
        on_token: TokenCallback | None = None,
    ) -> Answer:
        question = " ".join(question.split())
        standalone, notice = self._standalone(question, history)
        results = self.retriever.search(standalone, top_k=top_k, filters=filters)
        features = evidence_features(self.weights, standalone, results)
        answerable, probability = self.refusal.answerable(
            features, embedding_model=self.retriever.embedder.name
        )
        evidence = {**features.as_dict(), "p_answerable": round(probability, 4)}
        if not results or not answerable:
            return self._refusal(question, standalone, results, evidence, notice)
        streamed = False

        def relay(piece: str) -> None:
            nonlocal streamed
            streamed = True
            if on_token:
                on_token(piece)

        if self.llm is not None:
            try:
                answer = self._llm_answer(question, standalone, results, relay)
            except LLMUnavailableError as exc:
                if self.llm_required:
                    raise
                notice = f"LLM nicht erreichbar ({exc}); extraktive Antwort."
            except UnusableLLMAnswer as exc:
                # for every backend, configured or automatic: an answer that says nothing
                # the sources hold is worth less than the sentences of the sources
                notice = " ".join(part for part in (notice, exc.notice) if part)
            else:
                answer.evidence = evidence
                answer.notice = " ".join(part for part in (notice, answer.notice) if part)
                return answer
        answer = self._extractive_answer(question, standalone, results)
        answer.evidence, answer.notice = evidence, notice
        if on_token and not streamed:
            on_token(answer.answer)
        return answer

    # --- follow-up questions ----------------------------------------------------------

    def _standalone(self, question: str, history: Sequence[Turn]) -> tuple[str, str]:
        if not history or not self._is_follow_up(question):
            return question, ""
        previous = history[-1]
        if self.llm is not None:
            try:
                condensed = "".join(self.llm.stream([
                    Message("system", CONDENSE_SYSTEM),
                    Message("user", condense_user_message(history, question)),
                ])).strip().strip('"„“')
            except LLMUnavailableError as exc:
                if self.llm_required:
                    raise
                return self._carry_terms(question, previous), f"LLM nicht erreichbar ({exc})."
            if condensed and len(condensed) < 400:
                return condensed, ""
        return self._carry_terms(question, previous), ""

    def _is_follow_up(self, question: str) -> bool:
        return bool(_ANAPHORA.search(question)) or len(self.weights.terms(question)) <= 1

    def _carry_terms(self, question: str, previous: Turn) -> str:
        """Extractive follow-ups: the earlier question's key terms, appended."""
        present = {term.word for term in self.weights.terms(question)}
        wanted = {t.word for t in self.weights.terms(previous.standalone)} - present
        # keep the words as the user wrote them (capitalised nouns read better)
        carried = list(dict.fromkeys(
            word for word in re.findall(r"[\w-]+", previous.standalone)
            if word.lower() in wanted
        ))
        return f"{question} ({' '.join(carried)})" if carried else question

    # --- evidence and refusal ---------------------------------------------------------

    def _refusal(self, question: str, standalone: str, results: list[Scored],
                 evidence: dict[str, float], notice: str) -> Answer:
        topics: list[str] = []
        for result in results:
            if result.passage.title and result.passage.title not in topics:
                topics.append(result.passage.title)
            if len(topics) == SUGGESTED_TOPICS:
                break
        listed = "\n".join(f"- {topic}" for topic in topics)
        text = REFUSAL_TEMPLATE.format(topics=listed) if topics else NOT_IN_DOCUMENTS
        return Answer(question=question, standalone_question=standalone, answer=text,
                      refused=True, mode="refused", llm=None, suggested_topics=topics,
                      evidence=evidence, notice=notice)

    # --- extractive -------------------------------------------------------------------

    def _extractive_answer(self, question: str, standalone: str,
                           results: list[Scored]) -> Answer:
        terms = self.weights.terms(standalone)
        candidates: list[Candidate] = []
        for rank, result in enumerate(results):
            text = result.passage.text
            for position, (start, end) in enumerate(sentence_spans(text)):
                sentence = _clean(text[start:end])
                if len(sentence) < 20 or sentence.endswith(":"):
                    continue  # fragments and list introductions say nothing alone
                coverage = self.weights.coverage(terms, self.weights.stems_of(sentence))
                # earlier passages are better evidence: a mild rank prior breaks ties
                candidates.append((coverage * (1 - 0.05 * rank), rank, position, sentence))
        candidates.sort(key=lambda c: -c[0])
        if not candidates or candidates[0][0] < EXTRACTIVE_MIN_COVERAGE:
            # the passages match the question as a whole but no sentence does: quote the
            # opening of the best passage rather than inventing a selection
            best = results[0].passage
            spans = sentence_spans(best.text)[:2]
            candidates = [(0.0, 0, i, _clean(best.text[s:e])) for i, (s, e) in enumerate(spans)]
        best_score = candidates[0][0]
        chosen = [c for c in candidates if c[0] >= EXTRACTIVE_RELATIVE * best_score]
        chosen = _unique_sentences(chosen)[:EXTRACTIVE_SENTENCES]
        chosen.sort(key=lambda c: (c[1], c[2]))
        numbers: dict[int, int] = {}
        citations: list[Citation] = []
        lines: list[str] = []
        sentences: list[CheckedSentence] = []
        for _, rank, _, sentence in chosen:
            if rank not in numbers:
                numbers[rank] = len(numbers) + 1
                citations.append(Citation.of(numbers[rank], results[rank].passage))
            n = numbers[rank]
            lines.append(f"{sentence} [{n}]")
            sentences.append(CheckedSentence(text=sentence, citations=[n], supported=True,
                                             lexical=1.0, semantic=None))
        answer = EXTRACTIVE_PREFIX + "\n" + "\n".join(lines)
        return Answer(question=question, standalone_question=standalone, answer=answer,
                      refused=False, mode="extractive", llm=None, citations=citations,
                      sentences=sentences)

    # --- LLM --------------------------------------------------------------------------

    def _pack_sources(self, question: str, results: list[Scored]) -> list[Passage]:
        """As many top passages as fit the model's window beside prompt and answer."""
        assert self.llm is not None
        budget = (
            self.llm.context_window
            - self.max_answer_tokens
            - self.llm.count_tokens(SYSTEM_PROMPT + question)
            - 64  # chat template and separators
        )
        packed: list[Passage] = []
        for result in results:
            cost = self.llm.count_tokens(format_sources([*packed, result.passage]))
            if cost > budget:
                break
            packed.append(result.passage)
        return packed or [results[0].passage]

    def _llm_answer(self, question: str, standalone: str, results: list[Scored],
                    on_token: TokenCallback | None) -> Answer:
        assert self.llm is not None
        passages = self._pack_sources(standalone, results)
        messages = [
            Message("system", SYSTEM_PROMPT),
            Message("user", f"{format_sources(passages)}\n\nFrage: {standalone}"),
        ]
        pieces: list[str] = []
        for piece in self.llm.stream(messages):
            pieces.append(piece)
            if on_token:
                on_token(piece)
        raw = "".join(pieces).strip()
        citations_all = [Citation.of(n, p) for n, p in enumerate(passages, start=1)]
        if says_not_in_documents(raw) and not re.search(r"\[\d+\]", raw):
            refusal = self._refusal(question, standalone, results, {}, "")
            refusal.llm = self.llm.name
            return refusal
        checked = self.checker.check(raw, passages)
        if not checked.sentences:
            raise UnusableLLMAnswer(LLM_ANSWER_EMPTY)
        if not checked.usable:
            raise UnusableLLMAnswer(LLM_ANSWER_UNSUPPORTED)
        used = sorted({n for sentence in checked.sentences for n in sentence.citations})
        renumber = {old: new for new, old in enumerate(used, start=1)}
        citations = [Citation.of(renumber[c.n], passages[c.n - 1]) for c in citations_all
                     if c.n in renumber]
        sentences = [
            CheckedSentence(text=s.text, citations=[renumber[n] for n in s.citations],
                            supported=s.supported, lexical=s.lexical, semantic=s.semantic,
                            repaired=s.repaired)
            for s in checked.sentences
        ]
        return Answer(question=question, standalone_question=standalone,
                      answer=checked.render(renumber), refused=False, mode="llm",
                      llm=self.llm.name, citations=citations, sentences=sentences,
                      notice=checked.notice)


def evidence_features(
    weights: TermWeights, question: str, results: list[Scored]
) -> EvidenceFeatures:
    """What the refusal model sees, from the best-covering of the top three passages."""
    terms = weights.terms(question)
    corpus_terms = weights.terms(question, general=False)
    best_coverage, best_gap, best_corpus = 0.0, 1.0, 0.0
    for result in results[:3]:
        passage = result.passage
        stems = weights.stems_of(searchable_text(passage.title, passage.location, passage.text))
        coverage = weights.coverage(terms, stems)
        best_corpus = max(best_corpus, weights.coverage(corpus_terms, stems))
        if coverage >= best_coverage:
            best_coverage, best_gap = coverage, weights.gap(terms, stems)
    dense = max((r.dense_score or 0.0 for r in results[:3]), default=0.0)
    return EvidenceFeatures(coverage=best_coverage, dense=dense, gap=best_gap,
                            corpus_coverage=best_corpus)


def _clean(sentence: str) -> str:
    """A sentence as it reads, without Markdown list markers and emphasis."""
    return " ".join(_MARKUP.sub("", sentence).split())


Candidate = tuple[float, int, int, str]  # score, passage rank, position, sentence


def _unique_sentences(candidates: list[Candidate]) -> list[Candidate]:
    seen: set[str] = set()
    unique = []
    for candidate in candidates:
        key = candidate[3].lower()
        if key not in seen:
            seen.add(key)
            unique.append(candidate)
    return unique
