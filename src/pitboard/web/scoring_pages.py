"""Scoring pages: the models list, a model's page (score distribution with its thresholds, the criteria that
give the most points, the definition) and the score breakdown on the contact page.

Totals per criterion come from the stored explanations, aggregated by the database (a few seconds at a
million contacts), so the model page keeps them per model version and last full rescore for ten minutes.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pitboard.api.deps import SessionDep
from pitboard.conditions import load_field_registry
from pitboard.kit.errors import NotFound
from pitboard.lifecycle.definitions import current_spec
from pitboard.lifecycle.schemas import LifecycleSpec
from pitboard.models import ContactScore, ScoringModel
from pitboard.scoring import engine
from pitboard.scoring.model import CompiledModel, compiled
from pitboard.scoring.schemas import POINTS_SCALE
from pitboard.web import charts
from pitboard.web.auth import CurrentUser
from pitboard.web.render import error_page, render, stage_label

router = APIRouter(include_in_schema=False)

CACHE_SECONDS = 600.0
THRESHOLD_COLOR = "#e15759"


# --- the distribution chart ----------------------------------------------------------------------


def _n(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def histogram_chart(
    edges: Sequence[float],
    counts: Sequence[int],
    thresholds: Sequence[tuple[float, str]],
    *,
    title: str,
    width: int = 640,
    height: int = 280,
) -> str:
    """Bars of contacts per score bin, on a score axis, with a dashed line and a label at each threshold.

    Every text is escaped here (stage names come from the lifecycle definition), so the SVG can go into a
    page as markup, as with web/charts.py whose axis helpers it shares.
    """
    if not counts or max(counts) <= 0:
        return charts.bar_chart([], [], title=title, width=width, height=height,
                                empty_message="No scores yet: rescore the model")  # fmt: skip
    low = min(edges[0], *(t for t, _ in thresholds)) if thresholds else edges[0]
    high = max(edges[-1], *(t for t, _ in thresholds)) if thresholds else edges[-1]
    ticks = charts.nice_ticks(max(counts), integer=True)
    left = 12 + round(charts.CHAR_WIDTH * max(len(charts.format_compact(t)) for t in ticks))
    frame = charts.Frame(width, height, left=left, top=22, bottom=34)
    span = (high - low) or 1.0

    def x_of(score: float) -> float:
        return frame.left + (score - low) / span * frame.plot_width

    scale = frame.plot_height / ticks[-1]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" font-size="12" font-family="system-ui, sans-serif">'
        f"<title>{escape(title)}</title>",
        '<g class="chart-grid">',
    ]
    for tick in ticks:
        y = frame.baseline - tick * scale
        parts.append(f'<line x1="{frame.left}" x2="{_n(width - frame.right)}" y1="{_n(y)}" y2="{_n(y)}"/>'
                     f'<text x="{frame.left - 6}" y="{_n(y)}" text-anchor="end" dominant-baseline="middle">'
                     f"{escape(charts.format_compact(tick))}</text>")  # fmt: skip
    parts.append('</g><g class="chart-bars">')
    for i, count in enumerate(counts):
        if count <= 0:
            continue
        x0, x1 = x_of(edges[i]), x_of(edges[i + 1])
        h = count * scale
        tip = f"{charts.format_number(round(edges[i], 2))} to {charts.format_number(round(edges[i + 1], 2))}"
        parts.append(f'<rect x="{_n(x0 + 0.5)}" y="{_n(frame.baseline - h)}" width="{_n(max(x1 - x0 - 1, 0.5))}" '
                     f'height="{_n(h)}" fill="{charts.PALETTE[0]}"><title>{escape(tip)}: {count:,} contacts</title>'
                     "</rect>")  # fmt: skip
    parts.append("</g>")
    parts.append(_score_axis(low, high, frame, x_of))
    for score, label in thresholds:
        x = x_of(score)
        text = f"{label} ≥ {charts.format_number(score)}"
        anchor = "end" if x > frame.left + frame.plot_width * 0.7 else "start"
        dx = -4 if anchor == "end" else 4
        parts.append(f'<g class="chart-threshold"><line x1="{_n(x)}" x2="{_n(x)}" y1="{frame.top - 8}" '
                     f'y2="{_n(frame.baseline)}" stroke="{THRESHOLD_COLOR}" stroke-width="2" stroke-dasharray="5 3"/>'
                     f'<text x="{_n(x + dx)}" y="{frame.top - 10}" text-anchor="{anchor}" fill="{THRESHOLD_COLOR}">'
                     f"{escape(text)}</text></g>")  # fmt: skip
    parts.append("</svg>")
    return "".join(parts)


def _score_axis(low: float, high: float, frame: charts.Frame, x_of: Any) -> str:
    step = _nice_step((high - low) / 6)
    first = math.ceil(low / step) * step
    parts = [f'<g class="chart-axis"><line x1="{frame.left}" x2="{_n(frame.width - frame.right)}" '
             f'y1="{_n(frame.baseline)}" y2="{_n(frame.baseline)}"/>']  # fmt: skip
    value = first
    while value <= high + 1e-9:
        parts.append(f'<text x="{_n(x_of(value))}" y="{_n(frame.baseline + 18)}" text-anchor="middle">'
                     f"{escape(charts.format_compact(round(value, 6)))}</text>")  # fmt: skip
        value += step
    parts.append(f'<text x="{_n(frame.left + frame.plot_width / 2)}" y="{frame.height - 2}" text-anchor="middle">'
                 "score</text></g>")  # fmt: skip
    return "".join(parts)


def _nice_step(raw: float) -> float:
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return float(next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw))


# --- the pages -----------------------------------------------------------------------------------


class _TopCriteriaCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[Any, ...], tuple[float, list[dict[str, Any]]]] = {}

    def get(self, session: Session, row: ScoringModel) -> list[dict[str, Any]]:
        key = (row.key, row.version, row.scored_at)
        with self._lock:
            found = self._entries.get(key)
        if found is not None and time.monotonic() - found[0] < CACHE_SECONDS:
            return found[1]
        totals = engine.criterion_totals(session, row.key)
        with self._lock:
            self._entries = {k: v for k, v in self._entries.items() if k[0] != row.key}
            self._entries[key] = (time.monotonic(), totals)
        return totals


def _cache(request: Request) -> _TopCriteriaCache:
    cache = getattr(request.app.state, "scoring_top_criteria", None)
    if not isinstance(cache, _TopCriteriaCache):
        cache = _TopCriteriaCache()
        request.app.state.scoring_top_criteria = cache
    return cache


def _thresholds(model: CompiledModel, lifecycle: LifecycleSpec) -> list[dict[str, Any]]:
    """Each threshold with the stage it sets (its own, else the lifecycle's threshold stage)."""
    return [{"score": t.score / POINTS_SCALE, "stage": t.stage or lifecycle.threshold_stage() or "?"}
            for t in model.thresholds]  # fmt: skip


def _criteria_rows(model: CompiledModel) -> list[dict[str, Any]]:
    rows = []
    for criterion in model.criteria:
        group = model.groups[criterion.group]
        if criterion.kind == "fit":
            rule = criterion.condition.model_dump_json(by_alias=True, exclude_none=True) if criterion.condition else ""
        else:
            rule = f"event {criterion.event}" + (
                f", {len(criterion.where)} property filter(s)" if criterion.where else ""
            )
            if criterion.max_occurrences:
                rule += f", at most {criterion.max_occurrences} occurrences"
        rows.append({"name": criterion.name, "kind": criterion.kind, "group": group.name,
                     "group_cap": None if group.cap is None else group.cap / POINTS_SCALE,
                     "points": criterion.points / POINTS_SCALE, "rule": rule})  # fmt: skip
    return rows


@router.get("/scoring")
def scoring_list(request: Request, user: CurrentUser, session: SessionDep) -> Response:
    registry = load_field_registry(session)
    lifecycle = current_spec(session, registry=registry)
    counts = dict(session.execute(select(ContactScore.model_key, func.count()).group_by(ContactScore.model_key)).all())
    models = []
    for row in session.scalars(select(ScoringModel).order_by(ScoringModel.active.desc(), ScoringModel.key)):
        model = compiled(row, registry)
        models.append({"row": row, "scored": int(counts.get(row.key, 0)), "thresholds": _thresholds(model, lifecycle),
                       "decay": engine.describe_decay(model), "criteria": len(model.criteria)})  # fmt: skip
    return render(request, "scoring/list.html", {"nav": "scoring", "models": models})


@router.get("/scoring/{key}")
def scoring_model(request: Request, user: CurrentUser, session: SessionDep, key: str) -> Response:
    try:
        row = engine.get_model(session, key)
    except NotFound:
        return error_page(request, 404, f"There is no scoring model {key!r}.")
    registry = load_field_registry(session)
    model = compiled(row, registry)
    found = engine.distribution(session, key, bins=24)
    resolved = _thresholds(model, current_spec(session, registry=registry))
    thresholds = [(float(t["score"]), stage_label(t["stage"])) for t in resolved]
    chart = histogram_chart(found.edges, found.counts, thresholds, title=f"Contacts per total score, {row.name}")
    context = {
        "nav": "scoring",
        "row": row,
        "model": model,
        "distribution": found,
        # The chart escapes every text itself (see histogram_chart), so its SVG goes into the page as markup.
        "chart": Markup(chart),  # noqa: S704
        "top_criteria": _cache(request).get(session, row)[:15],
        "criteria": _criteria_rows(model),
        "decay": engine.describe_decay(model),
        "caps": engine.describe_caps(model),
        "thresholds": resolved,
    }
    return render(request, "scoring/model.html", context)


def contact_scores(session: Session, contact_id: int) -> list[engine.Explanation]:
    """What the contact page's score breakdown shows: each active model's explanation."""
    return engine.contact_explanations(session, contact_id)
