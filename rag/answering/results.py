"""What answering hands back: an answer, its numbered citations and checked sentences,
and the turn a conversation remembers of it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum

from rag.jsontypes import JSONObject
from rag.passage import Passage


@dataclass
class CheckedSentence:
    text: str
    citations: list[int]
    supported: bool
    lexical: float
    semantic: float | None
    repaired: bool = False  # the check gave it the citation of the passage that supports it


@dataclass(frozen=True)
class Citation:
    """A source as an answer numbers it: ``[n]`` and the passage behind it."""

    n: int
    passage: Passage

    def as_json(self) -> JSONObject:
        """The contract's citation object: the number and the passage, without the
        positions inside the document (``--json`` has never carried them)."""
        fields = {key: value for key, value in self.passage.as_dict().items()
                  if key not in ("chunk_id", "start", "end")}
        return {"n": self.n, **fields}


@dataclass(frozen=True)
class Nearest:
    """A passage shown below a refusal: on the topic, but not answering the question."""

    citation: Citation
    sentence: str  # its sentence that comes closest to the question

    def as_json(self) -> JSONObject:
        return {**self.citation.as_json(), "sentence": self.sentence}


@dataclass
class Turn:
    """What a conversation remembers of an earlier question."""

    question: str
    standalone: str
    answer: str = ""


class AnswerMode(StrEnum):
    """How an answer was made: by the LLM, from the sources' own sentences, or refused
    (the documents do not cover the question)."""

    LLM = "llm"
    EXTRACTIVE = "extractive"
    REFUSED = "refused"


@dataclass
class Answer:
    question: str
    standalone_question: str
    answer: str
    mode: AnswerMode
    llm: str | None
    citations: list[Citation] = field(default_factory=list)
    sentences: list[CheckedSentence] = field(default_factory=list)
    suggested_topics: list[str] = field(default_factory=list)
    evidence: dict[str, float] = field(default_factory=dict)
    notice: str = ""
    highlights: list[str] = field(default_factory=list)  # the answer itself: number, date, name
    nearest: list[Nearest] = field(default_factory=list)  # below a refusal, when on the topic
    # why the LLM's answer was replaced by the extractive one: "empty", "unsupported",
    # "non_answer", "disagrees" (with the extractive answer), "unavailable"; "" otherwise
    llm_check: str = ""

    @property
    def refused(self) -> bool:
        """The documents do not cover the question."""
        return self.mode is AnswerMode.REFUSED

    def as_json(self) -> JSONObject:
        return {
            "question": self.question,
            "answer": self.answer,
            "refused": self.refused,
            "mode": str(self.mode),
            "citations": [c.as_json() for c in self.citations],
            "llm": self.llm,
            "standalone_question": self.standalone_question,
            "sentences": [asdict(s) for s in self.sentences],
            "suggested_topics": self.suggested_topics,
            "evidence": self.evidence,
            "notice": self.notice,
            "highlights": self.highlights,
            "nearest": [n.as_json() for n in self.nearest],
            "llm_check": self.llm_check,
        }

    def as_turn(self) -> Turn:
        return Turn(self.question, self.standalone_question, self.answer)
