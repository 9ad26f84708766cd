"""Answering: refusal on weak evidence, extractive and LLM answers, prompts, and the check
of every citation; ``Assistant`` puts the stages together for one data directory."""

from rag.answering.agreement import asked_expressions
from rag.answering.answerer import Answerer
from rag.answering.assistant import Assistant, LLMSlots
from rag.answering.dated import OLDER_LABEL, UNDATED, as_of, asks_for_latest, german_date
from rag.answering.evidence import FEATURES, Evidence, measure_evidence
from rag.answering.extractive import COUNT_SOURCE_PASSAGES, SentenceRanker
from rag.answering.kora import Kora, open_kora
from rag.answering.normalise import QuestionNormaliser
from rag.answering.prompts import NEAREST_HEADER, SYSTEM_PROMPT, UNSUPPORTED_MARK
from rag.answering.question_kinds import Expected, expected_answer, find_expressions
from rag.answering.questions import EmptyQuestionError, clean_question
from rag.answering.refusal import CALIBRATION_FILE, LogisticModel, RefusalModel, veto
from rag.answering.results import Answer, AnswerMode, CheckedSentence, Citation, Nearest, Turn
from rag.answering.sentence_model import (
    CHEAP_FEATURES,
    FEATURE_NAMES,
    SENTENCE_MODEL_FILE,
    SentenceModel,
)
from rag.answering.term_weights import TermWeights

__all__ = [
    "CALIBRATION_FILE",
    "CHEAP_FEATURES",
    "COUNT_SOURCE_PASSAGES",
    "FEATURES",
    "FEATURE_NAMES",
    "NEAREST_HEADER",
    "OLDER_LABEL",
    "SENTENCE_MODEL_FILE",
    "SYSTEM_PROMPT",
    "UNDATED",
    "UNSUPPORTED_MARK",
    "Answer",
    "AnswerMode",
    "Answerer",
    "Assistant",
    "CheckedSentence",
    "Citation",
    "EmptyQuestionError",
    "Evidence",
    "Expected",
    "Kora",
    "LLMSlots",
    "LogisticModel",
    "Nearest",
    "QuestionNormaliser",
    "RefusalModel",
    "SentenceModel",
    "SentenceRanker",
    "TermWeights",
    "Turn",
    "as_of",
    "asked_expressions",
    "asks_for_latest",
    "clean_question",
    "expected_answer",
    "find_expressions",
    "german_date",
    "measure_evidence",
    "open_kora",
    "veto",
]
