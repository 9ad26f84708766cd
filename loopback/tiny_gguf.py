"""Tiny GGUF models for tests and benchmarks of the llama.cpp path, written with ``gguf``:
llama architecture, a SentencePiece-style vocabulary of German words and a ChatML chat
template, so the real llama.cpp engine can load and run them in milliseconds. Nothing is
downloaded and no weights live in the repository.

Two kinds:

* **random** (``script=None``): random weights. The model writes whole words of its
  vocabulary, never an end token, so every answer runs to ``max_tokens``: nonsense, but
  of a known length, which the streaming, stopping and concurrency tests need.
* **scripted** (``script=[...]``): attention and feed-forward weights are zero, so each
  layer passes its input through and the next token depends on the current token only;
  the output matrix maps the last token of the chat prompt to ``script[0]``, each
  scripted token to the next one and the last to the end token. Whatever it is asked,
  the model writes ``script`` and stops: a real engine with a known answer.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
UNK, BOS, EOS = 0, 1, 2
SPACE = "▁"  # SentencePiece's word boundary
PUNCTUATION = [".", ",", "?", "!", ":", "-"]
# token types in the GGUF vocabulary
NORMAL, UNKNOWN, CONTROL, UNUSED, BYTE = 1, 2, 3, 5, 6


def words_of(texts: Iterable[str]) -> list[str]:
    """The distinct words of ``texts``, in order of first appearance."""
    seen: dict[str, None] = {}
    for text in texts:
        for word in re.findall(r"\w+", text):
            seen.setdefault(word, None)
    return list(seen)


def vocabulary(words: Sequence[str]) -> tuple[list[str], list[int], set[int]]:
    """Tokens, their types, and the ids of whole words and punctuation (what a model may
    write). Every prefix of "▁word" is a token too, so llama.cpp's SentencePiece merges
    can build each word from its characters; anything else falls back to byte tokens."""
    tokens = list(SPECIAL) + [f"<0x{b:02X}>" for b in range(256)]
    types = [UNKNOWN, CONTROL, CONTROL, CONTROL, CONTROL] + [BYTE] * 256
    index: dict[str, int] = {}
    writable: set[int] = set()

    def add(piece: str) -> int:
        if piece not in index:
            index[piece] = len(tokens)
            tokens.append(piece)
            types.append(NORMAL)
        return index[piece]

    add(SPACE)
    for char in sorted({c for w in words for c in w} | set(PUNCTUATION)):
        add(char)
    for mark in PUNCTUATION:
        writable.add(index[mark])
    for word in words:
        piece = SPACE + word
        for end in range(2, len(piece) + 1):
            add(piece[:end])
        writable.add(index[piece])
    return tokens, types, writable


def script_tokens(script: Sequence[str], tokens: Sequence[str]) -> list[int]:
    """Token ids for the scripted answer: "Wort" is the word with its leading space,
    "." and "," are punctuation without one."""
    index = {token: i for i, token in enumerate(tokens)}
    ids = [index[item if item in PUNCTUATION else SPACE + item] for item in script]
    if len(set(ids)) != len(ids):
        raise ValueError("a scripted answer must not repeat a token (the model would loop)")
    return ids


def write_tiny_gguf(
    path: Path,
    *,
    words: Sequence[str],
    script: Sequence[str] | None = None,
    name: str = "kora-tiny",
    context_length: int = 4096,
    embedding: int = 64,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int | None = None,
    feed_forward: int | None = None,
    unused_tokens: int = 0,
    weight_type: str = "F32",
    split_max_tensors: int = 0,
    seed: int = 0,
) -> Path:
    """Write a llama-architecture GGUF model to ``path``: by default tiny (about 5 MB).
    The benchmark also writes one of a real small model's shape (``embedding``, ``layers``,
    ``heads``, ``kv_heads``, ``feed_forward``, a large vocabulary through
    ``unused_tokens``, weights quantised to ``weight_type`` "Q8_0" or "Q4_0"): random
    weights compute exactly as fast as trained ones."""
    import gguf
    from gguf.quants import quantize

    rng = np.random.default_rng(seed)
    scripted_words = [w for w in script or () if w not in PUNCTUATION]
    tokens, types, writable = vocabulary(words_of([*words, *scripted_words]))
    tokens += [f"<unused{i}>" for i in range(unused_tokens)]
    types += [UNUSED] * unused_tokens
    n_vocab = len(tokens)
    feed_forward = feed_forward or 2 * embedding
    kv_heads = kv_heads or heads
    head_size = embedding // heads
    matrix_type = getattr(gguf.GGMLQuantizationType, weight_type)

    # split_max_tensors > 0 writes the model in parts, "<stem>-00001-of-0000N.gguf" …
    writer = gguf.GGUFWriter(str(path), "llama", split_max_tensors=split_max_tensors)
    writer.add_name(name)
    writer.add_context_length(context_length)
    writer.add_embedding_length(embedding)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(feed_forward)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_dimension_count(head_size)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(n_vocab)
    writer.add_file_type(getattr(gguf.LlamaFileType, f"MOSTLY_{weight_type}", 0)
                         if weight_type != "F32" else gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    # SentencePiece merges prefer the higher score: longer pieces first
    writer.add_token_scores([0.0] * 261 + [float(len(t)) for t in tokens[261:]])
    writer.add_token_types(types)
    writer.add_bos_token_id(BOS)
    writer.add_eos_token_id(EOS)
    writer.add_unk_token_id(UNK)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_chat_template(CHATML)

    def random(*shape: int, scale: float) -> np.ndarray:
        return (rng.standard_normal(shape, dtype=np.float32) * scale).astype(np.float32)

    def add_matrix(name: str, values: np.ndarray) -> None:
        if matrix_type == gguf.GGMLQuantizationType.F32:
            writer.add_tensor(name, values)
        else:
            writer.add_tensor(name, quantize(values, matrix_type), raw_dtype=matrix_type)

    scripted = script is not None
    token_embedding = random(n_vocab, embedding, scale=1.0)
    if script is not None:
        token_embedding /= np.linalg.norm(token_embedding, axis=1, keepdims=True)
        output = _script_output(token_embedding, script_tokens(script, tokens))
    else:
        output = random(n_vocab, embedding, scale=1.0)
        # only whole words and punctuation can win, never an end token: every answer
        # runs to max_tokens
        output[[i for i in range(n_vocab) if i not in writable]] = 0.0
    # small enough that activations stay finite through many layers
    scale = 0.0 if scripted else 0.5 / np.sqrt(embedding)
    kv_size = kv_heads * head_size
    add_matrix("token_embd.weight", token_embedding)
    writer.add_tensor("output_norm.weight", np.ones(embedding, np.float32))
    add_matrix("output.weight", output)
    for layer in range(layers):
        block = f"blk.{layer}"
        writer.add_tensor(f"{block}.attn_norm.weight", np.ones(embedding, np.float32))
        for part, rows in (("q", embedding), ("k", kv_size), ("v", kv_size),
                           ("output", embedding)):
            add_matrix(f"{block}.attn_{part}.weight", random(rows, embedding, scale=scale))
        writer.add_tensor(f"{block}.ffn_norm.weight", np.ones(embedding, np.float32))
        add_matrix(f"{block}.ffn_gate.weight", random(feed_forward, embedding, scale=scale))
        add_matrix(f"{block}.ffn_up.weight", random(feed_forward, embedding, scale=scale))
        add_matrix(f"{block}.ffn_down.weight", random(embedding, feed_forward,
                                                      scale=0.5 / np.sqrt(feed_forward)
                                                      if not scripted else 0.0))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _script_output(token_embedding: np.ndarray, chain: list[int]) -> np.ndarray:
    """Output rows that make the token after ``a`` be ``next[a]``: row ``b`` points along
    the embeddings of the tokens that lead to ``b``. Random unit vectors are nearly
    orthogonal, so the intended token wins by a wide margin."""
    newline = 5 + ord("\n")  # the byte token that ends "<|im_start|>assistant\n"
    steps = [(newline, chain[0])]
    steps += list(itertools.pairwise(chain))
    steps.append((chain[-1], EOS))
    output = np.zeros_like(token_embedding)
    for current, following in steps:
        output[following] += 20.0 * token_embedding[current]
    return output
