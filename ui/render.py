"""What the web app shows, as HTML and Markdown: the answer, its sources, the mode badge
and the banners.

All text that comes from documents, questions or answers is HTML-escaped before it is
shown, and the chat receives Markdown with every Markdown character neutralised, so a
document can neither run script nor load an image.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from rag.answering import UNSUPPORTED_MARK, Answer
from rag.errors import EmptyIndexError, IndexModelMismatchError, IndexUnavailableError, KoraError
from rag.providers.llm import ChatModel
from rag.settings import Settings
from ui import strings as S

if TYPE_CHECKING:
    from rag.answering import Assistant

_MARKDOWN_SPECIAL = set("\\`*_{}[]()#+-.!|~=:$")
_HTML_SPECIAL = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}
_CITATION = re.compile(r"\[(\d{1,3})\]")


def escape_markdown(text: str) -> str:
    """Text that Markdown and HTML both show literally: no tags, links or images."""
    out = []
    for char in text:
        if char in _HTML_SPECIAL:
            out.append(_HTML_SPECIAL[char])
        elif char in _MARKDOWN_SPECIAL:
            out.append(f"&#{ord(char)};")
        else:
            out.append(char)
    return "".join(out)


def render_answer(answer: Answer) -> str:
    """The chat message: escaped text with each [n] linked to its source."""
    known = {c.n for c in answer.citations}
    parts = []
    position = 0
    text = answer.answer
    for match in _CITATION.finditer(text):
        parts.append(_render_plain(text[position:match.start()]))
        n = int(match.group(1))
        label = f"&#91;{n}&#93;"
        parts.append(f'<a href="#quelle-{n}">{label}</a>' if n in known else label)
        position = match.end()
    parts.append(_render_plain(text[position:]))
    rendered = _bold_first("".join(parts), answer.highlights)
    if answer.notice:
        rendered += "\n\n" + escape_markdown(S.NOTICE_PREFIX + answer.notice)
    return rendered


def _bold_first(rendered: str, highlights: list[str]) -> str:
    """The answer itself in bold where it first appears (in the already escaped text)."""
    for highlight in highlights:
        escaped = escape_markdown(highlight)
        if escaped and escaped in rendered:
            rendered = rendered.replace(escaped, f"<strong>{escaped}</strong>", 1)
    return rendered


def _render_plain(text: str) -> str:
    pieces = text.split(UNSUPPORTED_MARK)
    marker = f'<span class="nicht-belegt">({S.UNSUPPORTED})</span>'
    return marker.join(escape_markdown(piece) for piece in pieces)


def mode_label(answer: Answer) -> str:
    if answer.refused:
        return S.MODE_REFUSED
    if answer.mode == "extractive":
        return S.MODE_EXTRACTIVE
    return answer.llm or answer.mode


def llm_label(llm: ChatModel | None) -> str:
    """The answer generator with its context size, or "extraktiv"."""
    if llm is None:
        return S.MODE_EXTRACTIVE
    return S.MODE_LLM.format(name=llm.name, context=llm.context_window)


def render_badge(answer: Answer | None, llm: ChatModel | None = None) -> str:
    """The mode of ``answer``; before the first answer, the mode the app answers in."""
    if answer is None:
        css, mode = "kora-answered", llm_label(llm)
    else:
        css = "kora-refused" if answer.refused else "kora-answered"
        mode = mode_label(answer)
        if answer.mode == "llm" and llm is not None and answer.llm == llm.name:
            mode = llm_label(llm)
    label = html.escape(S.MODE_PREFIX + mode)
    return f'<div class="{css}"><span class="kora-badge">{label}</span></div>'


def llm_status(llm: ChatModel | None, settings: Settings) -> str:
    """One line for the admin area: which LLM answers, and how it was chosen."""
    how = S.LLM_HOW_AUTO if settings.llm == "auto" else S.LLM_HOW_SET.format(setting=settings.llm)
    if llm is None:
        return S.LLM_STATUS_NONE.format(how=how)
    return S.LLM_STATUS_MODEL.format(name=llm.name, context=llm.context_window, how=how)


def _highlight(passage: str, sentences: list[str], answers: tuple[str, ...] = ()) -> str:
    """The passage, escaped, with every cited sentence found in it marked, and within
    them the answer itself (the number, date or name the question asked for)."""
    marked = [False] * len(passage)
    for sentence in sentences:
        start = passage.find(sentence)
        if start >= 0:
            span = (start, start + len(sentence))
        else:
            # extractive sentences lose list markers and line breaks: match loosely
            words = [re.escape(w) for w in re.findall(r"\w+", sentence)]
            match = re.search(r"\W+".join(words), passage) if words else None
            if not match:
                continue
            span = match.span()
        for index in range(*span):
            marked[index] = True
    strong = [False] * len(passage)
    for answer in answers:
        for match in re.finditer(re.escape(answer), passage):
            if all(marked[match.start() : match.end()]):
                for index in range(*match.span()):
                    strong[index] = True
    out: list[str] = []
    position = 0
    while position < len(passage):
        end = position
        state = (marked[position], strong[position])
        while end < len(passage) and (marked[end], strong[end]) == state:
            end += 1
        text = html.escape(passage[position:end])
        if state[1]:
            text = f'<strong class="kora-antwort">{text}</strong>'
        out.append(f"<mark>{text}</mark>" if state[0] else text)
        position = end
    # adjacent runs of one sentence: join their marks
    return "".join(out).replace("</mark><mark>", "")


def index_label(assistant: Assistant) -> str:
    """Which index generation and version answered ("<generation>@<version>")."""
    generation = getattr(assistant, "generation", None)
    return f"{generation.name}@{generation.version}" if generation is not None else ""


def render_sources(answer: Answer | None, *, index: str = "") -> str:
    """The sources panel; ``index`` (which generation answered) becomes an attribute
    that operators and the load benchmark read."""
    if answer is None:
        return f'<div class="kora-quellen"><p>{html.escape(S.SOURCES_EMPTY)}</p></div>'
    blocks = [f"<h3>{html.escape(S.SOURCES_HEADING)}</h3>"]
    if answer.refused:
        blocks.append(f"<p>{html.escape(S.SOURCES_NONE_REFUSED)}</p><ul>")
        blocks += [f"<li>{html.escape(topic)}</li>" for topic in answer.suggested_topics]
        blocks.append("</ul>")
    for citation in answer.citations:
        passage = citation.passage
        cited = [s.text for s in answer.sentences if citation.n in s.citations]
        meta = " · ".join(
            f"{label}: {html.escape(value)}" for label, value in (
                (S.META_TYPE, passage.type), (S.META_DATE, passage.date),
                (S.META_LOCATION, passage.location), (S.META_DOCUMENT, passage.doc_id),
            ) if value
        )
        blocks.append(
            f'<details class="kora-quelle" id="quelle-{citation.n}">'
            f"<summary>[{citation.n}] {html.escape(passage.title)}</summary>"
            f'<div class="kora-meta">{meta}</div>'
            f'<div class="kora-passage">'
            f'{_highlight(passage.text, cited, tuple(answer.highlights))}</div></details>'
        )
    unsupported = [s.text for s in answer.sentences if not s.supported]
    if unsupported:
        blocks.append(f'<p class="nicht-belegt">{html.escape(S.UNSUPPORTED_HEADING)}</p><ul>')
        blocks += [f'<li class="nicht-belegt">{html.escape(t)} ({S.UNSUPPORTED})</li>'
                   for t in unsupported]
        blocks.append("</ul>")
    served = f' data-index="{html.escape(index)}"' if index else ""
    return f'<div class="kora-quellen"{served}>' + "".join(blocks) + "</div>"


def index_banner(problem: KoraError | None) -> str:
    """The notice at the top of the page when the index cannot answer."""
    if isinstance(problem, IndexModelMismatchError):
        return S.INDEX_OTHER_MODEL_BANNER
    if isinstance(problem, IndexUnavailableError):
        return S.INDEX_UNREACHABLE_BANNER
    if isinstance(problem, EmptyIndexError):
        return S.INDEX_EMPTY_BANNER
    return ""


__all__ = ["escape_markdown", "index_banner", "index_label", "llm_label", "llm_status",
           "mode_label", "render_answer", "render_badge", "render_sources"]
