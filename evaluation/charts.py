"""Line charts rendered on the server into one PNG (matplotlib, Agg): the admin area embeds
the bytes in its page, so the browser loads no script, font or image from elsewhere.
Texts come from the caller (the web app's German strings)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# the colours of the series, in order; the first is what a test looks for in a screenshot
LINE_COLOURS = ("#1f5fbf", "#d9730d", "#2e8b57", "#8e44ad")
MAX_TICKS = 8


@dataclass
class Panel:
    """One chart: ``series`` maps a name to its points (x key, value); x keys sort in
    time order (ISO timestamps, ISO weeks) and ``ticks`` says how a key is labelled."""

    title: str
    series: dict[str, list[tuple[str, float]]]
    ticks: dict[str, str] = field(default_factory=dict)
    empty: str = ""  # shown when there is nothing to draw
    percent: bool = True  # values are shares in 0..1


def line_charts_png(panels: Sequence[Panel], *, columns: int = 2, dpi: int = 80) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = max(1, -(-len(panels) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, 3.0 * rows),
                                squeeze=False)
    for axis, panel in zip(axes.flat, panels, strict=False):
        _draw(axis, panel)
    for axis in list(axes.flat)[len(panels):]:
        axis.set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    plt.close(figure)
    return buffer.getvalue()


def _draw(ax: Axes, panel: Panel) -> None:
    keys = sorted({key for points in panel.series.values() for key, _ in points})
    ax.set_title(panel.title, fontsize=10)
    if not keys:
        ax.text(0.5, 0.5, panel.empty, ha="center", va="center",
                fontsize=9, color="#666", wrap=True, transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
        return
    position = {key: number for number, key in enumerate(keys)}
    for colour, (name, points) in zip(LINE_COLOURS * 4, sorted(panel.series.items()),
                                      strict=False):
        if not points:
            continue
        ordered = sorted(points)
        ax.plot([position[key] for key, _ in ordered],
                [value for _, value in ordered], marker="o", linewidth=2.5,
                markersize=5, color=colour, label=name)
    step = max(1, -(-len(keys) // MAX_TICKS))
    shown = keys[::step]
    ax.set_xticks([position[key] for key in shown],
                  [panel.ticks.get(key, key) for key in shown], fontsize=7)
    if panel.percent:
        ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(-0.5, max(0.5, len(keys) - 0.5))
    ax.grid(alpha=0.3)
    ax.tick_params(axis="y", labelsize=8)
    if len(panel.series) > 1:
        ax.legend(fontsize=7, loc="lower left")


__all__ = ["LINE_COLOURS", "Panel", "line_charts_png"]
