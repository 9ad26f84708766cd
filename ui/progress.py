"""Progress shown to a person: the bars on the terminal and the web app's progress
display. All are fed through one callback shape, ``ingest.ProgressCallback``
(done, total, label), by the ingest and the evaluation alike."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ui import strings as S

if TYPE_CHECKING:
    import gradio as gr
    from tqdm import tqdm

    from ingest import ProgressCallback


class _TerminalBars:
    """tqdm bars on stderr, each closed when its count is complete. ``per_label``: a bar
    for every label (the evaluation's stages), else one bar that shows the latest label
    after its count (the document being indexed)."""

    def __init__(self, *, per_label: bool, desc: str = "", unit: str = "it") -> None:
        self.per_label = per_label
        self.desc = desc
        self.unit = unit
        self._bars: dict[str, tqdm] = {}

    def __call__(self, done: int, total: int, label: str, /) -> None:
        key = label if self.per_label else ""
        bar = self._bars.get(key)
        if bar is None:
            from tqdm import tqdm  # once per bar, not per step

            bar = self._bars[key] = tqdm(total=total, desc=label if self.per_label else self.desc,
                                         unit=self.unit, file=sys.stderr)
        bar.n = done
        if self.per_label:
            bar.refresh()
        else:
            bar.set_postfix_str(label[-40:], refresh=True)
        if done >= total:
            bar.close()


def document_bar() -> ProgressCallback | None:
    """One bar over the documents of an ingest on an interactive terminal; nothing when
    output is piped."""
    if not sys.stderr.isatty():
        return None
    return _TerminalBars(per_label=False, desc=S.ADMIN_REINDEX_PROGRESS,
                         unit=S.CLI_DOCUMENTS_UNIT)


def stage_bars() -> ProgressCallback | None:
    """A bar per stage of an evaluation on an interactive terminal; nothing when output is
    piped."""
    if not sys.stderr.isatty():
        return None
    return _TerminalBars(per_label=True)


def web_progress(progress: gr.Progress) -> ProgressCallback:
    """The re-index reported to Gradio's progress display (``gr.Progress``)."""

    def report(done: int, total: int, label: str, /) -> None:
        progress((done, max(total, 1)), desc=f"{S.ADMIN_REINDEX_PROGRESS} {label}")

    return report
