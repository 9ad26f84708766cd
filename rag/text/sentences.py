"""German sentence boundaries that survive abbreviations, initials and dates.

A period ends a sentence only when it is followed by whitespace and something that can
open a sentence, and the word before it is not an abbreviation ("z. B.", "Prof.", "Nr.",
"Abs."), a single letter (initials, "d. h."), or an ordinal number in a date or count
("28. November 2025", "im 19. Jahrhundert").
"""

from __future__ import annotations

import re

ABBREVIATIONS = frozenset(
    """
    abb abs abschn abt adr allg anh anl anm art aufl az bd bearb bes betr bspw bzgl bzw
    ca chr dipl dr ebd einschl engl etc ev evtl exkl fa fr frl geb gem gesch ggf ggü
    hbf hg hrsg inkl insb jh jhd jr kap kfz kl lfd lt max min mind mio mrd nachf nr
    nrn o.ä od pkt pl priv prof rd rdnr s sog st std str tab tel u.a ua usw verf vgl vol
    vs z.b zb ziff zzgl zt jan feb febr mär apr jun jul aug sep sept okt nov dez
    fr bzgl dipl.-ing ing univ.-prof univ päd kath ev tsd
    """.split()
)

MONTHS = frozenset(
    """
    januar februar märz april mai juni juli august september oktober november dezember
    jan feb febr mär apr jun jul aug sep sept okt nov dez
    """.split()
)

# Words that typically open a German sentence; after "200." they mean the number ended it.
SENTENCE_OPENERS = frozenset(
    """
    der die das den dem des ein eine einer eines es er sie wir ich ihr man in im am an
    auf aus bei mit nach seit von vor zu zum zur für über unter durch gegen ohne um
    dabei damit dazu danach dann daher deshalb denn doch dies diese dieser dieses auch
    so als wie was wer wo wann warum welche welcher welches alle viele einige nur noch
    bereits zudem außerdem insgesamt hier dort heute jetzt nun zunächst schließlich
    weitere weiterhin
    """.split()
)

_CANDIDATE = re.compile(r"[.!?…]+[\"'»«“”)\]]*(?=\s+)")
_NEXT_WORD = re.compile(r"\s+([\"'»«„“(\[]*)(\S+)")
_TOKEN_BEFORE = re.compile(r"(\S+)$")


def _ends_with_abbreviation(before: str) -> bool:
    match = _TOKEN_BEFORE.search(before)
    if not match:
        return False
    token = match.group(1).lstrip("(\"'„»[").lower()
    if not token:
        return False
    if len(token) == 1 and token.isalpha():
        return True  # initials and "z. B.", "d. h.", "u. a."
    if token in ABBREVIATIONS:
        return True
    # dotted abbreviations written without spaces: "z.B", "u.a", "d.h"
    return bool(re.fullmatch(r"(?:[a-zäöü]\.)+[a-zäöü]", token))


def _is_ordinal(before: str, next_word: str) -> bool:
    match = _TOKEN_BEFORE.search(before)
    if not match or not match.group(1).isdigit():
        return False
    number = match.group(1)
    word = next_word.strip("\"'„“»«([,;:").lower()
    if word in MONTHS or word.isdigit():
        return True  # "28. November", "1. 2. 2025"
    return len(number) <= 2 and word not in SENTENCE_OPENERS and next_word[:1].isupper()


_BLOCK_BREAK = re.compile(r"\n[ \t]*\n\s*|\n(?=[ \t]*(?:[-*•–]|\d{1,2}[.)])[ \t]+)")


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Character spans of the sentences in ``text[start:end]``, without outer whitespace.

    Paragraph breaks and list items always end a sentence, punctuation or not.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    block_start = start
    for block_break in _BLOCK_BREAK.finditer(text, start, end):
        spans.extend(_sentences_in_block(text, block_start, block_break.start()))
        block_start = block_break.end()
    spans.extend(_sentences_in_block(text, block_start, end))
    return spans


def _sentences_in_block(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    sentence_start = start
    for match in _CANDIDATE.finditer(text, start, end):
        boundary = match.end()
        next_match = _NEXT_WORD.match(text, boundary, end)
        if next_match is None:
            continue
        next_word = next_match.group(2)
        opener = next_word[:1]
        if not (opener.isupper() or opener.isdigit() or next_match.group(1)):
            continue  # lower-case continuation: "ca. drei", "z. B. die"
        if match.group(0).startswith(".") and len(match.group(0).rstrip("\"'»«“”)]")) == 1:
            before = text[sentence_start : match.start()]
            if _ends_with_abbreviation(before) or _is_ordinal(before, next_word):
                continue
        spans.append((sentence_start, boundary))
        sentence_start = next_match.start(1)
    spans.append((sentence_start, end))
    return [_strip(text, s, e) for s, e in spans if text[s:e].strip()]


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def split_sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]
