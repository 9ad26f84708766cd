"""Answers with checked citations, or an honest "the documents don't cover this".

Flow for one question (``Answerer.ask``, one method per step):
1. ``_standalone_question``: follow-up questions become standalone (LLM condensation, or
   the previous question's key terms carried over in extractive mode);
2. ``_retrieve``: hybrid retrieval of the top passages, their sentences ranked;
3. ``_judge_evidence`` and ``_refuse``: refusal when the calibrated evidence says the
   corpus does not cover the question, naming the closest topics it does cover;
4. ``_answer_with_fallback``: an LLM answer with [n] citations (streamed), or
   (``_extractive_fallback``) an extractive answer made of the sentences that best cover
   the question;
5. every LLM answer passes the citation check before it is returned, and is replaced
   by the extractive answer when it holds nothing, answers nothing (only dates or
   headings, the question restated, no expression of the asked kind) or names another
   answer than strong extractive evidence does (``rag.answering.agreement``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.answering.agreement import Reference, non_answer, reference
from rag.answering.citations import CitationChecker
from rag.answering.dated import date_answer
from rag.answering.evidence import Evidence, measure_evidence
from rag.answering.extractive import (
    COUNT_SOURCE_PASSAGES,
    Extract,
    Selected,
    SentenceRanker,
    clean,
    select,
)
from rag.answering.normalise import QuestionNormaliser
from rag.answering.prompts import (
    CONDENSE_SYSTEM,
    EXTRACTIVE_PREFIX,
    LLM_ANSWER_DISAGREES,
    LLM_ANSWER_EMPTY,
    LLM_ANSWER_NON_ANSWER,
    LLM_ANSWER_UNSUPPORTED,
    NEAREST_HEADER,
    NOT_IN_DOCUMENTS,
    NOT_SURE,
    REFUSAL_TEMPLATE,
    SYSTEM_PROMPT,
    condense_user_message,
    format_sources,
    says_not_in_documents,
)
from rag.answering.question_kinds import Expected
from rag.answering.questions import clean_question
from rag.answering.refusal import Decision, RefusalModel
from rag.answering.results import (
    Answer,
    AnswerMode,
    CheckedSentence,
    Citation,
    Nearest,
    Turn,
)
from rag.answering.sentence_model import SentenceModel
from rag.answering.term_weights import TermWeights
from rag.errors import LLMUnavailableError
from rag.passage import Passage
from rag.providers.keyword import Vocabulary
from rag.providers.llm import ChatModel, Message
from rag.retrieval import Filters, Retriever, Scored
from rag.stages import StageHook, stage
from rag.text import sentence_spans

SUGGESTED_TOPICS = 3
NEAREST_PASSAGES = 2
# below a refusal, the nearest passages are shown when the best of them covers this share
# of the question's weight (a question about Apfelkuchen has no nearest passage)
NEAREST_MIN_COVERAGE = 0.34
# words that make a question lean on the one before it
_ANAPHORA = re.compile(
    r"\b(er|sie|es|ihm|ihr|ihn|ihnen|dort|dorthin|hier|dies|diese[rsmn]?|jene[rsmn]?|"
    # "dabei", "dahinter", "darüber", ...: the pronominal adverbs point back too
    r"da(?:r)?(?:an|auf|aus|bei|durch|für|gegen|hinter|in|mit|nach|neben|über|um|unter|"
    r"von|vor|zu|zwischen)|deren|dessen|das projekt|der prototyp|die initiative|"
    r"und wer|und wann|und wo|und was|und wie)\b",
    re.IGNORECASE,
)


TokenCallback = Callable[[str], None]


class UnusableLLMAnswer(Exception):
    """The LLM wrote nothing KORA can show as checked; ``notice`` says so in one line,
    ``reason`` names the check for the evaluation (``Answer.llm_check``)."""

    def __init__(self, notice: str, reason: str) -> None:
        super().__init__(notice)
        self.notice = notice
        self.reason = reason


def joined_notices(*notices: str) -> str:
    """Notices for one answer, in the order they arose, as one line."""
    return " ".join(notice for notice in notices if notice)


@dataclass(frozen=True)
class _Found:
    """What retrieval found for a question: the deep ``pool`` the sentences come from,
    the ``results`` asked for (its head), and the sentences ranked (``extract``)."""

    pool: list[Scored]
    results: list[Scored]
    extract: Extract


@dataclass(frozen=True)
class _Judged:
    """The measured evidence and the refusal model's decision."""

    measured: Evidence
    decision: Decision

    @property
    def evidence(self) -> dict[str, float]:
        """Both as ``Answer.evidence``."""
        return {**self.measured.as_dict(), "p_answerable": round(self.decision.probability, 4)}


class _Relay:
    """Passes the LLM's pieces on to ``on_token`` and remembers whether any went out (an
    extractive fallback is then sent whole only when nothing was streamed yet)."""

    def __init__(self, on_token: TokenCallback | None) -> None:
        self.on_token = on_token
        self.streamed = False

    def __call__(self, piece: str) -> None:
        self.streamed = True
        if self.on_token:
            self.on_token(piece)


class Answerer:
    def __init__(
        self,
        *,
        retriever: Retriever,
        refusal: RefusalModel,
        llm: ChatModel | None,
        llm_required: bool,
        max_answer_tokens: int,
        stage_hook: StageHook | None = None,
    ) -> None:
        self.retriever = retriever
        # hears the time of each stage of an answer (``rag.stages``)
        self.stage_hook = stage_hook
        self.refusal = refusal
        self.llm = llm
        # an explicitly configured LLM that fails is an error; auto mode falls back
        self.llm_required = llm_required
        self.max_answer_tokens = max_answer_tokens
        self.weights = TermWeights(retriever.keyword, retriever.analyzer)
        self.checker = CitationChecker(self.weights, retriever.embedder)
        self.ranker = SentenceRanker(self.weights, retriever.embedder, SentenceModel.load())
        vocabulary = retriever.keyword.vocabulary if retriever.keyword else Vocabulary({})
        self.normaliser = QuestionNormaliser(vocabulary, self.weights.zipf)

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
        question, cut_notice = clean_question(question)
        standalone, condense_notice = self._standalone_question(question, history)
        notice = joined_notices(cut_notice, condense_notice)
        found = self._retrieve(standalone, filters=filters, top_k=top_k)
        judged = self._judge_evidence(standalone, found)
        if not found.results or not judged.decision.answer:
            return self._refuse(question, standalone, found, judged, notice)
        if not judged.decision.sure:
            notice = joined_notices(notice, NOT_SURE)
        return self._answer_with_fallback(question, standalone, found, judged, notice,
                                          on_token=on_token)

    # --- the steps of ``ask`` ---------------------------------------------------------

    def _standalone_question(self, question: str,
                             history: Sequence[Turn]) -> tuple[str, str]:
        """The question as retrieval reads it (normalised, a follow-up made standalone),
        and a notice when the LLM could not help with that."""
        read = self.normaliser.normalise(question).text
        return self._standalone(read, history)

    def _retrieve(self, standalone: str, *, filters: Filters | None,
                  top_k: int | None) -> _Found:
        wanted = top_k or self.retriever.settings.top_k
        # the number a "wie viele" question asks for may stand a few passages further down
        # than those that repeat the question's words: sentences come from a deeper pool
        with stage(self.stage_hook, "search"):
            pool = self.retriever.search(standalone,
                                         top_k=max(wanted, COUNT_SOURCE_PASSAGES),
                                         filters=filters)
        with stage(self.stage_hook, "sentence ranking"):
            extract = self.ranker.rank(standalone, pool)
        return _Found(pool=pool, results=pool[:wanted], extract=extract)

    def _judge_evidence(self, standalone: str, found: _Found) -> _Judged:
        """Whether the passages found answer the question (the calibrated refusal)."""
        with stage(self.stage_hook, "evidence"):
            measured = measure_evidence(self.weights, standalone, found.pool, found.extract)
        with stage(self.stage_hook, "refusal model"):
            decision = self.refusal.decide(measured,
                                           embedding_model=self.retriever.embedder.name)
        return _Judged(measured=measured, decision=decision)

    def _refuse(self, question: str, standalone: str, found: _Found, judged: _Judged,
                notice: str) -> Answer:
        nearest = (self._nearest(found.pool, found.extract)
                   if judged.measured.coverage >= NEAREST_MIN_COVERAGE else [])
        with stage(self.stage_hook, "refusal answer"):
            refusal = self._refusal(question, standalone, found.results, judged.evidence,
                                    notice, nearest=nearest)
        date_answer(refusal, found.pool, found.extract)  # time: see rag.answering.dated
        return refusal

    def _answer_with_fallback(self, question: str, standalone: str, found: _Found,
                              judged: _Judged, notice: str, *,
                              on_token: TokenCallback | None) -> Answer:
        """The LLM's checked answer; the extractive one when there is no LLM, it cannot
        be reached (and was not explicitly required) or its answer is unusable."""
        relay = _Relay(on_token)
        llm_check = ""
        if self.llm is not None:
            try:
                answer = self._llm_answer(question, standalone, found.results, relay,
                                          expected=found.extract.expected,
                                          agree_with=reference(found.extract, self.weights))
            except LLMUnavailableError as exc:
                if self.llm_required:
                    raise
                notice = joined_notices(
                    notice, f"LLM nicht erreichbar ({exc}); extraktive Antwort.")
                llm_check = "unavailable"
            except UnusableLLMAnswer as exc:
                # for every backend, configured or automatic: an answer that says nothing
                # the sources hold, or contradicts their plain answer, is worth less than
                # the sentences of the sources
                notice = joined_notices(notice, exc.notice)
                llm_check = exc.reason
            else:
                answer.evidence = judged.evidence
                answer.notice = joined_notices(notice, answer.notice)
                date_answer(answer, found.pool, found.extract)  # time: see rag.answering.dated
                return answer
        return self._extractive_fallback(question, standalone, found, judged, notice,
                                         llm_check=llm_check, relay=relay)

    def _extractive_fallback(self, question: str, standalone: str, found: _Found,
                             judged: _Judged, notice: str, *, llm_check: str,
                             relay: _Relay) -> Answer:
        with stage(self.stage_hook, "extractive selection"):
            answer = self._extractive_answer(question, standalone, found.pool, found.extract)
        answer.evidence, answer.notice, answer.llm_check = judged.evidence, notice, llm_check
        date_answer(answer, found.pool, found.extract)  # time: see rag.answering.dated
        if relay.on_token and not relay.streamed:
            relay.on_token(answer.answer)
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
                 evidence: dict[str, float], notice: str, *,
                 nearest: Sequence[Nearest] = (), llm: str | None = None) -> Answer:
        topics: list[str] = []
        for result in results:
            if result.passage.title and result.passage.title not in topics:
                topics.append(result.passage.title)
            if len(topics) == SUGGESTED_TOPICS:
                break
        listed = "\n".join(f"- {topic}" for topic in topics)
        text = REFUSAL_TEMPLATE.format(topics=listed) if topics else NOT_IN_DOCUMENTS
        if nearest:
            lines = [f"- „{n.sentence}“ ({_source_line(n.citation.passage)})" for n in nearest]
            text = "\n\n".join([text, NEAREST_HEADER, "\n".join(lines)])
        return Answer(question=question, standalone_question=standalone, answer=text,
                      mode=AnswerMode.REFUSED, llm=llm, suggested_topics=topics,
                      evidence=evidence, notice=notice, nearest=list(nearest))

    @staticmethod
    def _nearest(pool: list[Scored], extract: Extract) -> list[Nearest]:
        """The passages that come closest, below the refusal and marked as such: a refused
        question is often answered by a passage the evidence could not vouch for."""
        shown: list[int] = []
        sentences: dict[int, str] = {}
        for candidate in extract.candidates:
            if candidate.rank not in sentences:
                sentences[candidate.rank] = candidate.text
                shown.append(candidate.rank)
            if len(shown) == NEAREST_PASSAGES:
                break
        return [Nearest(Citation(n, pool[rank].passage), sentences[rank])
                for n, rank in enumerate(shown, start=1)]

    # --- extractive -------------------------------------------------------------------

    def _extractive_answer(self, question: str, standalone: str, results: list[Scored],
                           extract: Extract) -> Answer:
        chosen = select(extract, results)
        if not chosen:
            # the passages match the question as a whole but no sentence of them stands
            # alone: quote the opening of the best passage rather than inventing a choice
            best = results[0].passage
            chosen = [Selected(0, clean(best.text[s:e]), ())
                      for s, e in sentence_spans(best.text)[:2]]
        numbers: dict[int, int] = {}
        citations: list[Citation] = []
        lines: list[str] = []
        sentences: list[CheckedSentence] = []
        for selected in chosen:
            if selected.rank not in numbers:
                numbers[selected.rank] = len(numbers) + 1
                citations.append(Citation(numbers[selected.rank],
                                             results[selected.rank].passage))
            n = numbers[selected.rank]
            lines.append(f"{selected.text} [{n}]")
            sentences.append(CheckedSentence(text=selected.text, citations=[n], supported=True,
                                             lexical=1.0, semantic=None))
        answer = EXTRACTIVE_PREFIX + "\n" + "\n".join(lines)
        return Answer(question=question, standalone_question=standalone, answer=answer,
                      mode=AnswerMode.EXTRACTIVE, llm=None, citations=citations,
                      sentences=sentences, highlights=list(chosen[0].marks))

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
                    on_token: TokenCallback | None, *, expected: Expected,
                    agree_with: Reference | None) -> Answer:
        """The model's answer, checked: raises ``UnusableLLMAnswer`` when nothing of it
        holds, when it answers nothing, or when it names another answer than
        ``agree_with`` (the span of strong extractive evidence)."""
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
        citations_all = [Citation(n, p) for n, p in enumerate(passages, start=1)]
        if says_not_in_documents(raw) and not re.search(r"\[\d+\]", raw):
            return self._refusal(question, standalone, results, {}, "", llm=self.llm.name)
        checked = self.checker.check(raw, passages, question=standalone)
        if not checked.sentences and not checked.dropped_items:
            raise UnusableLLMAnswer(LLM_ANSWER_EMPTY, "empty")
        if not checked.usable:
            raise UnusableLLMAnswer(LLM_ANSWER_UNSUPPORTED, "unsupported")
        supported = [s.text for s in checked.sentences if s.supported]
        if non_answer(supported, standalone, expected, self.weights):
            raise UnusableLLMAnswer(LLM_ANSWER_NON_ANSWER, "non_answer")
        if agree_with is not None and not agree_with.found_in(" ".join(supported)):
            raise UnusableLLMAnswer(LLM_ANSWER_DISAGREES.format(span=f"„{agree_with.span}“"),
                                    "disagrees")
        used = sorted({n for sentence in checked.sentences for n in sentence.citations})
        renumber = {old: new for new, old in enumerate(used, start=1)}
        citations = [Citation(renumber[c.n], passages[c.n - 1]) for c in citations_all
                     if c.n in renumber]
        sentences = [
            CheckedSentence(text=s.text, citations=[renumber[n] for n in s.citations],
                            supported=s.supported, lexical=s.lexical, semantic=s.semantic,
                            repaired=s.repaired)
            for s in checked.sentences
        ]
        return Answer(question=question, standalone_question=standalone,
                      answer=checked.render(renumber), mode=AnswerMode.LLM,
                      llm=self.llm.name, citations=citations, sentences=sentences,
                      notice=checked.notice)


def _source_line(passage: Passage) -> str:
    """Title, section and date of a passage, as a source is named in running text."""
    location = passage.location if passage.location != passage.title else ""
    parts = [passage.title, location, passage.date or "ohne Datum"]
    return ", ".join(part for part in parts if part)
