"""The golden-set evaluation: retrieval, answers, citations and refusals, no LLM judge.

Runs the German golden set (``evaluation/golden.yaml``) against the shipped corpus,
indexed into a temporary store so that results do not depend on the user's index:
- retrieval per retriever (bm25, dense, hybrid): hit@1/3/5, MRR, nDCG@10 over the
  expected documents;
- answers (extractive, or the configured LLM): key-fact recall, citation precision
  (of the answer sentences that state a key fact, the share whose cited passage holds
  that fact), citation document precision (cited documents among the expected ones);
- refusals: precision and recall over the out-of-scope questions, and the share of
  in-scope questions wrongly refused;
- two-turn conversations: the same answer metrics for the second turn;
all per question category. An LLM-judged faithfulness score is added only when an LLM
is configured.

``run_llm_eval`` (``kora eval --llm``) looks at the configured LLM alone: answers with
the fact next to the extractive answer's on the same index (KORA's rule: with an LLM at
least as often), confidently wrong answers (an answer shown as checked that states an
answer of the asked kind, but not the golden key fact), answers replaced by the
extractive one and why, disagreements with the extractive answer, key-fact recall, the
share of its answer sentences the citation check finds supported (and how many it had
to give a citation), citations per answer, refusals, and seconds per answer and to the
first streamed piece.
"""

from __future__ import annotations

import copy
import re
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypedDict, get_args

import yaml

from evaluation.metrics import ndcg_at, reciprocal_rank, unique_in_order
from rag.answering import OLDER_LABEL, Answer
from rag.choices import RetrieverMode
from rag.jsontypes import JSONObject

if TYPE_CHECKING:
    from ingest import ProgressCallback as Progress
    from rag.answering import Answerer, Assistant, TermWeights
    from rag.providers.embedding import Embedder
    from rag.providers.llm import ChatModel
    from rag.settings import Settings

GOLDEN_FILE = Path(__file__).resolve().parent / "golden.yaml"
# every ranking the settings offer, in the order the reports list them (alphabetical)
RETRIEVERS: tuple[RetrieverMode, ...] = tuple(sorted(get_args(RetrieverMode)))


class Turn(TypedDict):
    question: str
    expected_docs: list[str]
    key_facts: list[list[str]]


class Conversation(TypedDict):
    """Two turns; the second is scored (read from the set's YAML as it stands)."""

    turns: list[Turn]


class CaseResult(TypedDict):
    id: str
    question: str
    out_of_scope: bool
    passed: bool


@dataclass
class Question:
    id: str
    category: str
    question: str
    expected_docs: list[str]
    key_facts: list[list[str]]
    dated: Dated | None = None  # questions over documents in versions and years


@dataclass(frozen=True)
class Dated:
    """What a question over dated versions expects: the newest source's value (variants)
    leading the answer with its date, and the older values, which may appear only in a
    line that names them as older."""

    newest: list[str]
    as_of: str
    older: list[str]


@dataclass
class GoldenSet:
    questions: list[Question]
    out_of_scope: list[dict[str, str]]
    conversations: list[Conversation]
    # "local": a city's own cases (golden-local.yaml), run against the live index, where
    # every case must pass (``case_results``)
    kind: str = "shipped"

    @classmethod
    def load(cls, path: Path = GOLDEN_FILE) -> GoldenSet:
        from rag.errors import KoraError

        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            questions = [
                Question(str(q["id"]), str(q.get("category", "local")), str(q["question"]),
                         list(q.get("expected_docs") or []),
                         [list(f) for f in q["key_facts"]],
                         Dated(list(q["newest"]), str(q["as_of"]),
                               list(q.get("older") or []))
                         if "newest" in q else None)
                for q in data.get("questions") or []
            ]
            return cls(questions, list(data.get("out_of_scope") or []),
                       list(data.get("conversations") or []),
                       str(data.get("kind", "shipped")))
        except OSError as exc:
            raise KoraError(f"The golden set {path} cannot be read: {exc.strerror}.") from exc
        except (yaml.YAMLError, AttributeError, KeyError, TypeError) as exc:
            raise KoraError(f"{path} is not a golden set in the schema of "
                            f"evaluation/golden.yaml ({type(exc).__name__}: {exc}).") from exc

    @property
    def size(self) -> int:
        return len(self.questions) + len(self.out_of_scope) + len(self.conversations)


def normalise(text: str) -> str:
    return " ".join(text.replace("**", "").split()).lower()


def fact_found(variants: Sequence[str], text: str) -> bool:
    haystack = normalise(text)
    return any(normalise(v) in haystack for v in variants)


@dataclass
class AnswerScore:
    key_fact_recall: float
    citation_precision: float | None
    citation_doc_precision: float | None
    refused: bool


def score_answer(answer: Answer, expected_docs: Sequence[str],
                 key_facts: Sequence[Sequence[str]]) -> AnswerScore:
    if answer.refused:
        return AnswerScore(0.0, None, None, True)
    recall = sum(fact_found(f, answer.answer) for f in key_facts) / max(1, len(key_facts))
    by_number = {c.n: c for c in answer.citations}
    checked = correct = 0
    for sentence in answer.sentences:
        stated = [f for f in key_facts if fact_found(f, sentence.text)]
        for n in sentence.citations:
            if not stated or n not in by_number:
                continue
            checked += 1
            correct += all(fact_found(f, by_number[n].passage.text) for f in stated)
    docs = [c.passage.doc_id for c in answer.citations]
    # a case accepted without an expected document says nothing about the cited ones
    doc_precision = (sum(d in expected_docs for d in docs) / len(docs)
                     if docs and expected_docs else None)
    return AnswerScore(recall, correct / checked if checked else None, doc_precision, False)


def dated_score(answer: Answer, dated: Dated) -> tuple[bool, bool]:
    """(answered with the newest value and its date, mixes versions). The lead is the
    answer's first sentence line; an older value outside a line labelled as older mixes."""
    if answer.refused:
        return False, False
    lines = [line for line in answer.answer.split("\n") if line.strip()]
    sentences = [line for line in lines if re.search(r"\[\d+\]", line)] or lines
    lead = sentences[0] if sentences else ""
    newest = fact_found(dated.newest, lead) and dated.as_of in lead
    unlabelled = "\n".join(line for line in lines if not line.startswith(OLDER_LABEL))
    mixed = bool(dated.older) and fact_found(dated.older, unlabelled)
    return newest, mixed


def retrieval_row(ranked_docs: Sequence[str], expected: Sequence[str]) -> dict[str, float]:
    relevant = {doc: 1 for doc in expected}
    return {
        "hit@1": float(any(d in relevant for d in ranked_docs[:1])),
        "hit@3": float(any(d in relevant for d in ranked_docs[:3])),
        "hit@5": float(any(d in relevant for d in ranked_docs[:5])),
        "mrr": reciprocal_rank(ranked_docs, relevant),
        "ndcg@10": ndcg_at(ranked_docs, relevant, 10),
    }


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(sum(present) / len(present), 4) if present else None


@dataclass
class EvalResult:
    retrieval: dict[str, dict[str, float]] = field(default_factory=dict)
    retrieval_by_category: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    answers: JSONObject = field(default_factory=dict)
    answers_by_category: dict[str, JSONObject] = field(default_factory=dict)
    refusal: JSONObject = field(default_factory=dict)
    conversations: JSONObject = field(default_factory=dict)
    faithfulness: JSONObject = field(default_factory=dict)
    recall_curves: dict[str, list[float]] = field(default_factory=dict)
    failures: list[JSONObject] = field(default_factory=list)
    meta: JSONObject = field(default_factory=dict)

    def as_dict(self) -> JSONObject:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}


def run_golden(
    *,
    settings: Settings,
    embedder: Embedder,
    golden: GoldenSet,
    corpus: Path,
    progress: Progress | None = None,
) -> EvalResult:
    with _indexed_assistant(settings, embedder, corpus) as assistant:
        return _evaluate(assistant, golden, progress)


def run_golden_on_index(
    *,
    settings: Settings,
    embedder: Embedder,
    golden: GoldenSet,
    progress: Progress | None = None,
) -> EvalResult:
    """The golden set against the live index of ``settings`` (read only): a city's own
    cases are about its documents and the answers its staff get."""
    from rag.answering import open_kora

    with open_kora(settings, embedder=embedder) as kora:
        return _evaluate(kora.assistant, golden, progress)


def case_results(result: EvalResult, golden: GoldenSet) -> list[CaseResult]:
    """Per case of the set: passed when every key fact was stated (and, for a dated
    question, the newest value led), or when an out-of-scope question was refused.
    A local set's gate is that every case passes."""
    failed = {str(f["id"]) for f in result.failures}
    cases: list[CaseResult] = [{"id": q.id, "question": q.question, "out_of_scope": False,
              "passed": q.id not in failed} for q in golden.questions]
    cases += [{"id": str(item["id"]), "question": item["question"], "out_of_scope": True,
               "passed": str(item["id"]) not in failed} for item in golden.out_of_scope]
    return cases


@contextmanager
def _indexed_assistant(settings: Settings, embedder: Embedder, corpus: Path) -> Iterator[Assistant]:
    """An Assistant over ``corpus`` indexed into a temporary store, so that results do not
    depend on the user's index."""
    from ingest import Ingestor
    from rag.answering import open_kora

    with tempfile.TemporaryDirectory(prefix="kora-eval-") as temporary:
        run_settings = settings.model_copy(update={"data_dir": Path(temporary),
                                                   "corpus_dir": corpus})
        with open_kora(run_settings, embedder=embedder) as kora:
            Ingestor.over(kora).run([corpus])
            yield kora.assistant


def _evaluate(assistant: Assistant, golden: GoldenSet, progress: Progress | None) -> EvalResult:
    result = EvalResult()
    retriever, answerer = assistant.retriever, assistant.answerer
    result.meta = {"questions": len(golden.questions), "out_of_scope": len(golden.out_of_scope),
                   "conversations": len(golden.conversations),
                   "answer_mode": assistant.llm_description}
    depth = 20
    # cases accepted without an expected document have no retrieval figures
    ranked_questions = [q for q in golden.questions if q.expected_docs]
    for mode in RETRIEVERS if ranked_questions else ():
        rows: dict[str, list[dict[str, float]]] = defaultdict(list)
        curve = [0.0] * 10
        for number, q in enumerate(ranked_questions, start=1):
            ranked = unique_in_order(
                [r.passage.doc_id for r in retriever.search(q.question, top_k=depth, mode=mode)])
            row = retrieval_row(ranked, q.expected_docs)
            rows[q.category].append(row)
            rows["all"].append(row)
            for k in range(1, 11):
                curve[k - 1] += len(set(ranked[:k]) & set(q.expected_docs)) / len(q.expected_docs)
            if progress:
                progress(number, len(ranked_questions), f"retrieval {mode}")
        result.recall_curves[mode] = [round(v / len(ranked_questions), 4) for v in curve]
        result.retrieval[mode] = _mean_rows(rows["all"])
        for category, category_rows in rows.items():
            if category != "all":
                result.retrieval_by_category.setdefault(category, {})[mode] = _mean_rows(
                    category_rows)

    scores: dict[str, list[AnswerScore]] = defaultdict(list)
    judged: list[bool] = []
    dated: list[tuple[bool, bool]] = []
    for number, q in enumerate(golden.questions, start=1):
        answer = answerer.ask(q.question)
        score = score_answer(answer, q.expected_docs, q.key_facts)
        if q.dated is not None:
            newest, mixed = dated_score(answer, q.dated)
            dated.append((newest, mixed))
            if not newest or mixed:
                result.failures.append({"id": q.id, "question": q.question, "dated": True,
                                        "refused": answer.refused,
                                        "newest_with_date": newest, "mixed": mixed,
                                        "answer": answer.answer[:400]})
        scores[q.category].append(score)
        scores["all"].append(score)
        if score.key_fact_recall < 1.0:
            result.failures.append({"id": q.id, "question": q.question, "refused": answer.refused,
                                    "key_fact_recall": round(score.key_fact_recall, 3),
                                    "answer": answer.answer[:400]})
        if answerer.llm is not None and not answer.refused:
            judged.append(_judge_faithfulness(answerer.llm, answer))
        if progress:
            progress(number, len(golden.questions), "answers")
    result.answers = _answer_summary(scores["all"])
    if dated:
        result.answers["dated"] = {
            "questions": len(dated),
            "newest_with_date": round(sum(n for n, _ in dated) / len(dated), 4),
            "mixed_versions": round(sum(m for _, m in dated) / len(dated), 4)}
    result.answers_by_category = {c: _answer_summary(s) for c, s in scores.items() if c != "all"}

    refused_out = 0
    for number, item in enumerate(golden.out_of_scope, start=1):
        answer = answerer.ask(item["question"])
        refused_out += answer.refused
        if not answer.refused:
            result.failures.append({"id": item["id"], "question": item["question"],
                                    "refused": False, "answer": answer.answer[:400]})
        if progress:
            progress(number, len(golden.out_of_scope), "out of scope")
    refused_in = sum(s.refused for s in scores["all"])
    total_refused = refused_out + refused_in
    result.refusal = {
        "precision": round(refused_out / total_refused, 4) if total_refused else 1.0,
        "recall": round(refused_out / max(1, len(golden.out_of_scope)), 4),
        "in_scope_refused": round(refused_in / max(1, len(golden.questions)), 4),
    }
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for item, in_kind in ((i, i.get("kind", "unrelated")) for i in golden.out_of_scope):
        by_kind[in_kind].append(any(f.get("id") == item["id"] for f in result.failures))
    result.refusal["recall_by_kind"] = {
        kind: round(1 - sum(flags) / len(flags), 4) for kind, flags in by_kind.items()}

    second_turns: list[AnswerScore] = []
    second_hits: list[float] = []
    for number, conversation in enumerate(golden.conversations, start=1):
        first, second = conversation["turns"][:2]
        first_answer = answerer.ask(first["question"])
        answer = answerer.ask(second["question"], history=[first_answer.as_turn()])
        second_turns.append(score_answer(answer, second["expected_docs"], second["key_facts"]))
        ranked = unique_in_order([r.passage.doc_id for r in retriever.search(
            answer.standalone_question, top_k=depth)])
        second_hits.append(retrieval_row(ranked, second["expected_docs"])["hit@3"])
        if progress:
            progress(number, len(golden.conversations), "conversations")
    result.conversations = {**_answer_summary(second_turns),
                            "second_turn_hit@3": _mean(second_hits)}
    if judged:
        result.faithfulness = {"judged": len(judged), "faithful": _mean([float(j) for j in judged])}
    else:
        result.faithfulness = {"skipped": "no LLM configured (KORA_LLM); LLM-judged "
                                          "faithfulness needs one"}
    return result


def _mean_rows(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    return {key: round(sum(r[key] for r in rows) / len(rows), 4) for key in rows[0]}


def _answer_summary(scores: Sequence[AnswerScore]) -> JSONObject:
    answered = [s for s in scores if not s.refused]
    return {
        "count": len(scores),
        "key_fact_recall": _mean([s.key_fact_recall for s in scores]),
        "citation_precision": _mean([s.citation_precision for s in answered]),
        "citation_doc_precision": _mean([s.citation_doc_precision for s in answered]),
        "refused": round(sum(s.refused for s in scores) / max(1, len(scores)), 4),
    }


_YES = re.compile(r"^\s*(ja|yes)\b", re.IGNORECASE)


def _judge_faithfulness(llm: ChatModel, answer: Answer) -> bool:
    from rag.providers.llm import Message

    sources = "\n\n".join(f"[{c.n}] {c.passage.text}" for c in answer.citations)
    verdict = "".join(llm.stream([
        Message("system", "Du prüfst Antworten. Antworte nur mit JA oder NEIN."),
        Message("user", f"Quellen:\n{sources}\n\nAntwort:\n{answer.answer}\n\n"
                        "Ist jede Aussage der Antwort durch die Quellen belegt?"),
    ]))
    return bool(_YES.match(verdict))




# --- kora eval --llm -------------------------------------------------------------------


def run_llm_eval(
    *,
    settings: Settings,
    embedder: Embedder,
    golden: GoldenSet,
    corpus: Path,
    limit: int | None = None,
    progress: Progress | None = None,
) -> JSONObject:
    """The golden set answered by the configured LLM (see the module docstring)."""
    from rag.providers.llm import choose_llm

    # before indexing the corpus: without an LLM there is nothing to measure
    choice = choose_llm(settings)
    if choice.backend == "none":
        _no_llm(choice.description)
    with _indexed_assistant(settings, embedder, corpus) as assistant:
        if assistant.answerer.llm is None:
            _no_llm(assistant.llm_description)
        questions = golden.questions[:limit] if limit else golden.questions
        out_of_scope = golden.out_of_scope[:limit] if limit else golden.out_of_scope
        rows = []
        extractive = _without_llm(assistant.answerer)
        for number, q in enumerate(questions, start=1):
            rows.append(_timed_answer(assistant.answerer, q, extractive))
            if progress:
                progress(number, len(questions), "answers")
        refused_out = 0
        for number, item in enumerate(out_of_scope, start=1):
            refused_out += assistant.answerer.ask(item["question"]).refused
            if progress:
                progress(number, len(out_of_scope), "out of scope")
        return _llm_summary(rows, assistant.llm_description, refused_out, len(out_of_scope))


def _no_llm(description: str) -> NoReturn:
    from rag.errors import KoraError

    raise KoraError(
        f"kora eval --llm needs an LLM, but none is in use ({description}): set KORA_LLM "
        "and, for llama.cpp, KORA_LLM_MODEL_PATH."
    )


def _without_llm(answerer: Answerer) -> Answerer:
    """The same answerer on the same index, answering extractively."""
    twin = copy.copy(answerer)
    twin.llm = None
    return twin


def _with_fact(answer: Answer, q: Question) -> bool:
    return not answer.refused and all(fact_found(f, answer.answer) for f in q.key_facts)


def _confidently_wrong(answer: Answer, q: Question, weights: TermWeights) -> bool:
    """An LLM answer shown as checked that states an answer of the asked kind, none of
    which is the golden key fact (for description questions a wrong answer cannot be
    told from a paraphrase, so they never count)."""
    from rag.answering import asked_expressions, expected_answer

    if answer.mode != "llm" or answer.refused:
        return False
    if any(fact_found(f, answer.answer) for f in q.key_facts):
        return False
    expected = expected_answer(answer.standalone_question)
    shown = [s.text for s in answer.sentences if s.supported]
    return expected.is_typed and bool(
        asked_expressions(shown, answer.standalone_question, expected, weights))


class _TimedAnswer(TypedDict):
    """One golden question answered by the LLM, as ``kora eval --llm`` reports it."""

    id: str
    category: str
    mode: str
    refused: bool
    replaced: bool
    llm_check: str | None
    with_fact: bool
    extractive_with_fact: bool
    confidently_wrong: bool
    seconds: float
    first_piece_seconds: float | None
    key_fact_recall: float
    sentences: int
    supported: int
    repaired: int
    citations: int
    answer: str
    notice: str


def _timed_answer(answerer: Answerer, q: Question, extractive: Answerer) -> _TimedAnswer:
    started = time.perf_counter()
    first: list[float] = []

    def on_token(piece: str) -> None:
        if not first:
            first.append(time.perf_counter() - started)

    answer = answerer.ask(q.question, on_token=on_token)
    seconds = time.perf_counter() - started
    score = score_answer(answer, q.expected_docs, q.key_facts)
    by_llm = answer.mode == "llm"
    plain = extractive.ask(q.question)
    return {
        "id": q.id,
        "category": q.category,
        "mode": answer.mode,
        "refused": answer.refused,
        # the LLM wrote nothing the check could keep, or failed: the extractive answer
        "replaced": answer.mode == "extractive",
        "llm_check": answer.llm_check,
        "with_fact": _with_fact(answer, q),
        "extractive_with_fact": _with_fact(plain, q),
        "confidently_wrong": _confidently_wrong(answer, q, answerer.weights),
        "seconds": round(seconds, 3),
        "first_piece_seconds": round(first[0], 3) if first else None,
        "key_fact_recall": round(score.key_fact_recall, 3),
        "sentences": len(answer.sentences) if by_llm else 0,
        "supported": sum(s.supported for s in answer.sentences) if by_llm else 0,
        "repaired": sum(s.repaired for s in answer.sentences) if by_llm else 0,
        "citations": len(answer.citations),
        "answer": answer.answer[:300],
        "notice": answer.notice,
    }


def _llm_summary(rows: list[_TimedAnswer], description: str, refused_out: int,
                 out_of_scope: int) -> JSONObject:
    answered = [r for r in rows if not r["refused"]]
    sentences = sum(r["sentences"] for r in rows)
    seconds = [r["seconds"] for r in rows]
    first = [r["first_piece_seconds"] for r in rows if r["first_piece_seconds"] is not None]
    by_category: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        by_category[row["category"]].append(row["key_fact_recall"])
    return {
        "llm": description,
        "questions": len(rows),
        # the figures the rule is stated in: per backend, never fewer answers with the
        # fact than extractive answers on the same index, and no confidently wrong one
        "answers_with_fact": sum(r["with_fact"] for r in rows),
        "extractive_answers_with_fact": sum(r["extractive_with_fact"] for r in rows),
        "confidently_wrong": sum(r["confidently_wrong"] for r in rows),
        "fallbacks": sum(r["replaced"] for r in rows),
        "fallbacks_by_reason": dict(sorted(Counter(
            r["llm_check"] for r in rows if r["replaced"]).items())),
        "disagreements": sum(r["llm_check"] == "disagrees" for r in rows),
        "key_fact_recall": _mean([r["key_fact_recall"] for r in rows]),
        "key_fact_recall_by_category": {c: _mean(v) for c, v in sorted(by_category.items())},
        "llm_sentences": sentences,
        "supported_sentence_share": round(sum(r["supported"] for r in rows) / sentences, 4)
        if sentences else None,
        "repaired_sentence_share": round(sum(r["repaired"] for r in rows) / sentences, 4)
        if sentences else None,
        "citations_per_answer": _mean([float(r["citations"]) for r in answered]),
        "refused_in_scope": round(sum(r["refused"] for r in rows) / max(1, len(rows)), 4),
        "refused_out_of_scope": round(refused_out / out_of_scope, 4) if out_of_scope else None,
        "replaced_by_extractive": round(sum(r["replaced"] for r in rows) / max(1, len(rows)), 4),
        "seconds_per_answer": {
            "mean": _mean(seconds),
            "median": round(statistics.median(seconds), 3) if seconds else None,
            "max": max(seconds, default=None),
        },
        "first_piece_seconds_mean": _mean(first),
        "per_question": rows,
    }
