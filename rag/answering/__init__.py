"""Answering: refusal on weak evidence, extractive and LLM answers, prompts, and the check
of every citation; ``Assistant`` puts the stages together for one data directory."""

from rag.answering.answerer import Answerer
from rag.answering.assistant import Assistant, LLMSlots
from rag.answering.dated import OLDER_LABEL, UNDATED, as_of, asks_for_latest, german_date
from rag.answering.evidence import TermWeights
from rag.answering.extractive import SentenceRanker
from rag.answering.prompts import SYSTEM_PROMPT, UNSUPPORTED_MARK
from rag.answering.questions import EmptyQuestionError, clean_question
from rag.answering.refusal import (
    CALIBRATION_FILE,
    FEATURES,
    LogisticModel,
    RefusalModel,
    measure_evidence,
    veto,
)
from rag.answering.results import Answer, CheckedSentence, Citation, Nearest, Turn

__all__ = [
    "CALIBRATION_FILE",
    "FEATURES",
    "OLDER_LABEL",
    "SYSTEM_PROMPT",
    "UNDATED",
    "UNSUPPORTED_MARK",
    "Answer",
    "Answerer",
    "Assistant",
    "CheckedSentence",
    "Citation",
    "EmptyQuestionError",
    "LLMSlots",
    "LogisticModel",
    "Nearest",
    "RefusalModel",
    "SentenceRanker",
    "TermWeights",
    "Turn",
    "as_of",
    "asks_for_latest",
    "clean_question",
    "german_date",
    "measure_evidence",
    "veto",
]
