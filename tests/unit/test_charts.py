"""The SVG chart functions: well-formed markup, honest scaling, escaped text, graceful empty states."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET  # parses only SVG this test suite generated itself
from datetime import date, timedelta
from itertools import pairwise

import pytest

from pitboard.web.charts import (
    PALETTE,
    Series,
    bar_chart,
    format_compact,
    nice_ticks,
    stacked_bar_chart,
)
from pitboard.web.dashboard import monthly_series, quarter_start, weekly_channel_series

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 (our own output, not untrusted XML)


def bars(svg: str) -> list[ET.Element]:
    root = parse(svg)
    group = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "chart-bars")
    return list(group.iter(f"{SVG}rect"))


def tick_labels(svg: str) -> list[str]:
    root = parse(svg)
    group = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "chart-grid")
    return [t.text or "" for t in group.iter(f"{SVG}text")]


# --- ticks and number formats --------------------------------------------------------------------


@pytest.mark.parametrize("max_value", [0.4, 1, 7, 10, 99, 100, 101, 1234, 48_213, 2_500_000])
def test_ticks_are_round_even_and_cover_the_maximum(max_value: float) -> None:
    ticks = nice_ticks(max_value)
    assert ticks[0] == 0
    assert ticks[-1] >= max_value
    steps = {round(b - a, 9) for a, b in pairwise(ticks)}
    assert len(steps) == 1
    step = steps.pop()
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in {1, 2, 2.5, 5}
    assert 3 <= len(ticks) <= 8
    assert ticks[-2] < max_value  # no empty band above the tallest bar


@pytest.mark.parametrize("max_value", [1, 2, 3, 7, 12, 23, 48])
def test_count_ticks_are_whole_numbers(max_value: int) -> None:
    ticks = nice_ticks(max_value, integer=True)
    assert all(t.is_integer() for t in ticks)
    assert ticks[-1] >= max_value


def test_count_charts_have_no_fractional_ticks() -> None:
    assert tick_labels(bar_chart(["a", "b"], [1, 2], title="t")) == ["0", "1", "2"]
    assert "0.5" in tick_labels(bar_chart(["a", "b"], [1, 2.5], title="t"))


def test_ticks_for_nothing_still_make_an_axis() -> None:
    assert nice_ticks(0) == [0.0, 1.0]
    assert nice_ticks(-5) == [0.0, 1.0]


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (950, "950"), (1000, "1k"), (1200, "1.2k"), (40_000, "40k"), (3_500_000, "3.5M"), (2e9, "2B")],
)
def test_compact_numbers(value: float, text: str) -> None:
    assert format_compact(value) == text


# --- bar chart -----------------------------------------------------------------------------------


def test_bar_heights_are_proportional_to_values() -> None:
    svg = bar_chart(["a", "b", "c"], [10, 20, 40], title="t")
    heights = [float(r.get("height", "0")) for r in bars(svg)]
    assert heights[1] == pytest.approx(2 * heights[0], rel=1e-3)
    assert heights[2] == pytest.approx(4 * heights[0], rel=1e-3)
    # 40 is a round tick, so the tallest bar reaches the top gridline exactly.
    assert tick_labels(svg)[-1] == "40"
    tallest = bars(svg)[2]
    assert float(tallest.get("y", "0")) == pytest.approx(12, abs=0.01)  # the frame's top margin


def test_every_bar_has_a_tooltip_with_label_and_value() -> None:
    svg = bar_chart(["Jan", "Feb"], [1234, 0], title="Signups")
    rects = bars(svg)
    assert len(rects) == 1  # a zero draws no bar
    title = rects[0].find(f"{SVG}title")
    assert title is not None
    assert title.text == "Jan: 1,234"


def test_chart_is_an_accessible_image_with_a_title() -> None:
    root = parse(bar_chart(["a"], [1], title="New contacts per month"))
    assert root.get("role") == "img"
    assert root.get("aria-label") == "New contacts per month"
    first = root[0]
    assert first.tag == f"{SVG}title"
    assert first.text == "New contacts per month"


def test_labels_and_titles_are_escaped() -> None:
    evil = '<script>alert("x")</script> & co'
    svg = stacked_bar_chart([evil], [Series(evil, [3], "#000")], title=evil)
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    root = parse(svg)  # still well-formed XML
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert evil in texts  # the reader sees the original characters
    assert root.get("aria-label") == evil


def test_colors_cannot_break_out_of_their_attribute() -> None:
    svg = bar_chart(["a"], [1], title="t", color='red" onclick="x')
    rect = bars(svg)[0]
    assert rect.get("fill") == 'red" onclick="x'
    assert rect.get("onclick") is None


@pytest.mark.parametrize(("labels", "values"), [([], []), (["a", "b"], [0, 0])])
def test_empty_data_renders_a_message_not_an_error(labels: list[str], values: list[float]) -> None:
    svg = bar_chart(labels, values, title="Nothing", empty_message="No data yet")
    root = parse(svg)
    assert [t.text for t in root.iter(f"{SVG}text")] == ["No data yet"]
    assert not any(g.get("class") == "chart-bars" for g in root.iter(f"{SVG}g"))


def test_many_labels_are_thinned_out_but_bars_are_not() -> None:
    labels = [f"d{i}" for i in range(60)]
    svg = bar_chart(labels, [1.0] * 60, title="t")
    assert len(bars(svg)) == 60
    root = parse(svg)
    axis = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "chart-axis")
    shown = [t.text for t in axis.iter(f"{SVG}text")]
    assert shown[0] == "d0"
    assert 3 <= len(shown) < 20


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="2 values for 3 labels"):
        bar_chart(["a", "b", "c"], [1, 2], title="t")
    with pytest.raises(ValueError, match="negative"):
        bar_chart(["a"], [-1], title="t")
    with pytest.raises(ValueError, match="non-finite"):
        bar_chart(["a"], [math.nan], title="t")


# --- stacked bar chart ---------------------------------------------------------------------------


def test_stacked_segments_sit_on_each_other() -> None:
    series = [Series("Email", [10, 0]), Series("Paid Search", [30, 20])]
    svg = stacked_bar_chart(["w1", "w2"], series, title="Events")
    rects = bars(svg)
    assert len(rects) == 3
    email, paid_w1, paid_w2 = rects
    assert float(email.get("y", "0")) == pytest.approx(float(paid_w1.get("y", "0")) + float(paid_w1.get("height", "0")))
    assert email.get("fill") == PALETTE[0]
    assert paid_w1.get("fill") == PALETTE[1]
    # total of w1 (40) is the top tick, so w1's stack fills the plot height
    w1_height = float(email.get("height", "0")) + float(paid_w1.get("height", "0"))
    assert float(paid_w2.get("height", "0")) == pytest.approx(w1_height / 2)
    tip = paid_w1.find(f"{SVG}title")
    assert tip is not None
    assert tip.text == "w1 · Paid Search: 30 of 40"


def test_legend_names_every_series_and_wraps_when_narrow() -> None:
    names = [f"Channel number {i}" for i in range(8)]
    svg = stacked_bar_chart(["w"], [Series(n, [1]) for n in names], title="t", width=400)
    root = parse(svg)
    legend = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "chart-legend")
    texts = list(legend.iter(f"{SVG}text"))
    assert [t.text for t in texts] == names
    rows = {t.get("y") for t in texts}
    assert len(rows) > 1
    assert all(float(t.get("x", "0")) < 400 for t in texts)


# --- folding day buckets into chart series (pure parts of the dashboard) -------------------------


def test_monthly_series_covers_twelve_months_ending_this_month() -> None:
    today = date(2025, 3, 15)
    data = monthly_series(
        {date(2025, 3, 1): 2, date(2025, 3, 9): 3, date(2024, 4, 30): 7, date(2024, 3, 31): 99}, today
    )
    assert data.labels[0] == "Apr 24"
    assert data.labels[-1] == "Mar 25"
    values = list(data.series[0].values)
    assert values[0] == 7
    assert values[-1] == 5
    assert sum(values) == 12  # March 2024 is outside the window


def test_weekly_series_keeps_the_busiest_channels_and_groups_the_rest() -> None:
    today = date(2025, 3, 13)  # a Thursday
    monday = today - timedelta(days=today.weekday())
    rows: dict[tuple[date, str | None], int] = {(monday, f"c{i}"): 10 - i for i in range(9)}
    rows[(monday + timedelta(days=1), None)] = 4
    data = weekly_channel_series(rows, today, top=3)
    names = [s.name for s in data.series]
    assert names == ["c0", "c1", "c2", "Other"]
    assert data.series[-1].values[-1] == sum(10 - i for i in range(3, 9)) + 4
    assert len(data.labels) == 12


@pytest.mark.parametrize(("month", "start_month"), [(1, 1), (3, 1), (4, 4), (6, 4), (9, 7), (12, 10)])
def test_quarter_start(month: int, start_month: int) -> None:
    assert quarter_start(date(2025, month, 20)) == date(2025, start_month, 1)
