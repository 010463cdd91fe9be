"""The data-quality page: dataset scores, per-field scores, the daily trend and the worst records.

Scores come from one streaming pass over contacts and accounts (see quality/scores.py), about 10 s for
200k contacts, most of it phone validation. So the page keeps its last report per app for ten minutes, and
"Take snapshot now" puts the snapshot it just computed there, which costs no second pass. Taking a
snapshot stores today's scores for the trend; it changes data, so it needs the editor or admin role.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from pitboard.api.deps import SessionDep
from pitboard.quality import scores
from pitboard.web import charts
from pitboard.web.auth import CsrfForm, CurrentUser, can_write
from pitboard.web.render import error_page, render, url_with

router = APIRouter(include_in_schema=False)

CACHE_SECONDS = 600.0
ENTITY_LABELS = {"contact": "Contacts", "account": "Accounts"}


@dataclass
class _Cached:
    report: scores.QualityReport
    at: float


class QualityCache:
    """The last report per app, reused for ``CACHE_SECONDS``; a snapshot taken here replaces it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entry: _Cached | None = None

    def get(self, session: Any) -> scores.QualityReport:
        with self._lock:
            entry = self._entry
        if entry is not None and time.monotonic() - entry.at < CACHE_SECONDS:
            return entry.report
        report = scores.report(session)
        self.put(report)
        return report

    def put(self, report: scores.QualityReport) -> None:
        with self._lock:
            self._entry = _Cached(report, time.monotonic())


def _cache(request: Request) -> QualityCache:
    # Kept on the app's state (created on first use) so each app, and each test's app, has its own.
    cache = getattr(request.app.state, "quality_cache", None)
    if not isinstance(cache, QualityCache):
        cache = QualityCache()
        request.app.state.quality_cache = cache
    return cache


def _percent(value: float) -> str:
    return f"{value:.1f}%"


def _trend_chart(points: list[scores.TrendPoint], entity: str) -> Markup:
    labels = [p.day.strftime("%d %b") for p in points]
    values = [round(p.value * 100, 2) for p in points]
    svg = charts.bar_chart(
        labels,
        values,
        title=f"{ENTITY_LABELS[entity]}: overall quality score per day (%)",
        value_format=_percent,
        empty_message="No snapshots yet: take one to start the trend",
    )
    return Markup(svg)  # noqa: S704  (the chart functions escape every label themselves)


@router.get("/quality")
def quality_page(request: Request, user: CurrentUser, session: SessionDep, notice: str | None = None) -> Response:
    report = _cache(request).get(session)
    context = {
        "nav": "quality",
        "report": report,
        "metrics": (*scores.METRICS, "overall"),
        "labels": ENTITY_LABELS,
        "charts": {e: _trend_chart(report.trends.get(e, []), e) for e in scores.ENTITIES},
        "pct": scores.pct,
        "can_write": can_write(user),
        "notice": (notice or "")[:200] or None,
    }
    return render(request, "quality/index.html", context)


@router.post("/quality/snapshot")
def quality_snapshot(request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    del form  # checked for its CSRF token; it carries nothing else
    if not can_write(user):
        return error_page(request, 403, "Taking a snapshot needs the editor or admin role.")
    snapshot = scores.take_snapshot(session)
    session.commit()  # before the redirect, so the page it leads to reads the new rows
    _cache(request).put(scores.report(session, snapshot=snapshot))
    notice = f"Snapshot for {snapshot.taken_on.isoformat()} stored ({snapshot.rows_written} measures)."
    return RedirectResponse(url_with("/quality", notice=notice), status_code=303)
