"""Turn the bytes of a text file into str without losing umlauts and ß.

German office files come as UTF-8, UTF-8 with BOM, UTF-16 (Windows "Unicode", with or
without a byte order mark) or Windows-1252/Latin-1. UTF-8 is strict enough that a
successful decode is almost never wrong; anything else that is not UTF-16 is read as
Windows-1252, which is Latin-1 plus the typographic quotes and the euro sign that Word
puts in.
"""

from __future__ import annotations

import codecs

from rag.errors import ReaderError

_CONTROL_ALLOWED = {"\t", "\n", "\r", "\f", "\v"}


def decode_text(data: bytes) -> str:
    if not data.strip():
        raise ReaderError("file is empty")
    if data.startswith(codecs.BOM_UTF8):
        text = data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16", errors="replace")
    elif b"\x00" in data:
        codec = _bomless_utf16(data)
        if codec is None:
            raise ReaderError("binary content (NUL bytes), not a text file")
        text = data[: len(data) - len(data) % 2].decode(codec, errors="replace")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = _decode_windows_1252(data)
    _reject_binary(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ReaderError("file contains no text")
    return text


def _bomless_utf16(data: bytes) -> str | None:
    """UTF-16 saved without a byte order mark (some Windows tools and exports do that):
    text in Latin script then has a NUL as (nearly) every second byte, on one side only."""
    sample = data[:8192]
    low, high = sample[0::2], sample[1::2]
    if len(low) < 2 or len(high) < 2:
        return None
    low_zeros, high_zeros = low.count(0) / len(low), high.count(0) / len(high)
    if high_zeros > 0.7 and low_zeros < 0.02:
        return "utf-16-le"
    if low_zeros > 0.7 and high_zeros < 0.02:
        return "utf-16-be"
    return None


def _decode_windows_1252(data: bytes) -> str:
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        # five byte values are undefined in cp1252; Latin-1 maps every byte
        return data.decode("latin-1")


def _reject_binary(text: str) -> None:
    sample = text[:20000]
    control = sum(1 for char in sample if ord(char) < 32 and char not in _CONTROL_ALLOWED)
    replaced = sample.count("\ufffd")
    if (control + replaced) > max(8, len(sample) // 50):
        raise ReaderError("binary content, not a text file")
