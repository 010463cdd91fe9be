"""Server-side SVG bar charts: pure functions from labels and numbers to markup.

Why our own SVG rather than a charting library: the dashboard needs a couple of bar charts, and a few
dozen lines of arithmetic render them in microseconds, with no JavaScript, no headless renderer and no
extra runtime dependency. The output is plain text, so tests can read it.

Every piece of text that reaches the markup goes through :func:`_esc`; callers may pass user data
(channel names, campaign names) as labels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

# Colour-blind-friendly enough to tell six series and an "other" apart (Tableau 10, reordered).
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#edc948", "#9c755f")
OTHER_COLOR = "#bab0ac"
# Text is drawn at 12 user units (see the CSS); an average glyph of a system sans font is about this wide.
CHAR_WIDTH = 7.0
LEGEND_ROW = 18

ValueFormat = Callable[[float], str]


@dataclass(frozen=True)
class Series:
    """One stacked layer: a value per label, drawn in one colour."""

    name: str
    values: Sequence[float]
    color: str | None = None


@dataclass(frozen=True)
class Frame:
    """Where the plot area sits inside the SVG's view box."""

    width: int
    height: int
    left: int
    top: int
    right: int = 12
    bottom: int = 28

    @property
    def plot_width(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_height(self) -> float:
        return self.height - self.top - self.bottom

    @property
    def baseline(self) -> float:
        return self.top + self.plot_height


def _esc(text: object) -> str:
    return escape(str(text), quote=True)


def _n(value: float) -> str:
    """Coordinates rounded to 0.01 user units: precise enough to draw, short enough to ship."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def format_number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def format_compact(value: float) -> str:
    """Axis labels: 950, 1.2k, 40k, 3.5M."""
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= threshold:
            scaled = value / threshold
            text = f"{scaled:.1f}".rstrip("0").rstrip(".") if abs(scaled) < 10 else f"{scaled:.0f}"
            return text + suffix
    return format_number(value) if float(value).is_integer() else f"{value:.2g}"


def nice_ticks(max_value: float, count: int = 5, *, integer: bool = False) -> list[float]:
    """Evenly spaced round tick values from 0 to at least ``max_value`` (steps of 1, 2, 2.5 or 5 x 10^n).

    ``integer`` is for counts: no tick at 0.5 contacts, and no 2.5 steps that would produce one.
    """
    if max_value <= 0 or not math.isfinite(max_value):
        return [0.0, 1.0]
    raw_step = max_value / max(count, 1)
    if integer:
        raw_step = max(raw_step, 1.0)
    magnitude = 10 ** math.floor(math.log10(raw_step))
    multiples = (1, 2, 5, 10) if integer and magnitude < 10 else (1, 2, 2.5, 5, 10)
    step = next(m * magnitude for m in multiples if m * magnitude >= raw_step)
    top = math.ceil(max_value / step - 1e-9) * step
    steps = round(top / step)
    return [float(round(i * step, 10)) for i in range(steps + 1)]


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    color: str = PALETTE[0],
    width: int = 560,
    height: int = 260,
    value_format: ValueFormat = format_number,
    empty_message: str = "No data for this period yet",
) -> str:
    """A single-series bar chart (a stacked chart with one layer and no legend)."""
    return stacked_bar_chart(
        labels,
        [Series(title, values, color)],
        title=title,
        width=width,
        height=height,
        legend=False,
        value_format=value_format,
        empty_message=empty_message,
    )


def stacked_bar_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    width: int = 560,
    height: int = 260,
    legend: bool = True,
    value_format: ValueFormat = format_number,
    empty_message: str = "No data for this period yet",
) -> str:
    """Bars per label, each split into its series, with a y axis of round ticks and a tooltip per segment.

    Values must be non-negative and every series must have one value per label.
    """
    _check(labels, series)
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    if not labels or max(totals, default=0) <= 0:
        return _empty(title, empty_message, width, height)
    counts = all(float(v).is_integer() for s in series for v in s.values)
    ticks = nice_ticks(max(totals), integer=counts)
    left = 12 + round(CHAR_WIDTH * max(len(format_compact(t)) for t in ticks))
    positions = _legend_positions(series, width, left) if legend else []
    top = (positions[-1][1] + LEGEND_ROW + 8) if positions else 12
    frame = Frame(width, height, left=left, top=round(top))
    parts = [_open(title, width, height)]
    if legend:
        parts.append(_legend(series, positions))
    parts.append(_y_axis(ticks, frame))
    parts.append(_bars(labels, series, totals, ticks[-1], frame, value_format))
    parts.append(_x_axis(labels, frame))
    parts.append("</svg>")
    return "".join(parts)


def _check(labels: Sequence[str], series: Sequence[Series]) -> None:
    for s in series:
        if len(s.values) != len(labels):
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {len(labels)} labels")
        if any(v < 0 or not math.isfinite(v) for v in s.values):
            raise ValueError(f"series {s.name!r} has a negative or non-finite value; bars start at zero")


def _open(title: str, width: int, height: int) -> str:
    # role="img" + aria-label make screen readers announce the chart as one image with a name;
    # the <title> child is the same text for browsers that show it on hover.
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{_esc(title)}" font-size="12" font-family="system-ui, sans-serif">'
        f"<title>{_esc(title)}</title>"
    )


def _empty(title: str, message: str, width: int, height: int) -> str:
    return (
        _open(title, width, height)
        + f'<rect class="chart-empty-frame" x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" rx="6"/>'
        + f'<text class="chart-empty" x="{width / 2:g}" y="{height / 2:g}" text-anchor="middle" '
        + f'dominant-baseline="middle">{_esc(message)}</text></svg>'
    )


def _legend_positions(series: Sequence[Series], width: int, left: int) -> list[tuple[float, float]]:
    """(x, y) of each legend item, wrapping onto a new row when the next name would not fit."""
    positions: list[tuple[float, float]] = []
    x, y = float(left), 6.0
    for s in series:
        item_width = 14 + CHAR_WIDTH * len(s.name) + 14
        if x + item_width > width and positions:
            x, y = float(left), y + LEGEND_ROW
        positions.append((x, y))
        x += item_width
    return positions


def _legend(series: Sequence[Series], positions: Sequence[tuple[float, float]]) -> str:
    parts = ['<g class="chart-legend">']
    for i, (s, (x, y)) in enumerate(zip(series, positions, strict=True)):
        color = s.color or PALETTE[i % len(PALETTE)]
        parts.append(f'<rect x="{_n(x)}" y="{_n(y)}" width="10" height="10" rx="2" fill="{_esc(color)}"/>')
        parts.append(f'<text x="{_n(x + 14)}" y="{_n(y + 9.5)}">{_esc(s.name)}</text>')
    parts.append("</g>")
    return "".join(parts)


def _y_axis(ticks: Sequence[float], frame: Frame) -> str:
    scale = frame.plot_height / ticks[-1]
    parts = ['<g class="chart-grid">']
    for tick in ticks:
        y = frame.baseline - tick * scale
        parts.append(f'<line x1="{frame.left}" x2="{_n(frame.width - frame.right)}" y1="{_n(y)}" y2="{_n(y)}"/>')
        parts.append(
            f'<text x="{frame.left - 6}" y="{_n(y)}" text-anchor="end" dominant-baseline="middle">'
            f"{_esc(format_compact(tick))}</text>"
        )
    parts.append("</g>")
    return "".join(parts)


def _bars(
    labels: Sequence[str],
    series: Sequence[Series],
    totals: Sequence[float],
    top_value: float,
    frame: Frame,
    value_format: ValueFormat,
) -> str:
    slot = frame.plot_width / len(labels)
    bar_width = min(slot * 0.72, 56)
    scale = frame.plot_height / top_value
    parts = ['<g class="chart-bars">']
    for i, label in enumerate(labels):
        x = frame.left + i * slot + (slot - bar_width) / 2
        y = frame.baseline
        for j, s in enumerate(series):
            value = s.values[i]
            if value <= 0:
                continue
            h = value * scale
            y -= h
            color = s.color or PALETTE[j % len(PALETTE)]
            tip = f"{label}: {value_format(value)}"
            if len(series) > 1:
                tip = f"{label} · {s.name}: {value_format(value)} of {value_format(totals[i])}"
            parts.append(
                f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(bar_width)}" height="{_n(h)}" fill="{_esc(color)}">'
                f"<title>{_esc(tip)}</title></rect>"
            )
    parts.append("</g>")
    return "".join(parts)


def _x_axis(labels: Sequence[str], frame: Frame) -> str:
    slot = frame.plot_width / len(labels)
    # Leave about 64 px per label and thin them out evenly when they would collide.
    every = max(1, math.ceil(len(labels) / max(1, int(frame.plot_width // 64))))
    parts = [
        '<g class="chart-axis">',
        f'<line x1="{frame.left}" x2="{_n(frame.width - frame.right)}" '
        f'y1="{_n(frame.baseline)}" y2="{_n(frame.baseline)}"/>',
    ]
    for i, label in enumerate(labels):
        if i % every:
            continue
        x = frame.left + i * slot + slot / 2
        parts.append(f'<text x="{_n(x)}" y="{_n(frame.baseline + 18)}" text-anchor="middle">{_esc(label)}</text>')
    parts.append("</g>")
    return "".join(parts)
