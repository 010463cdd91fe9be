"""How long do the report dashboards take to render on a big database? Read-only: nothing is written.

    .venv/bin/python -m bench.bench_dashboards --database-url sqlite:////tmp/bench1m.db
    .venv/bin/python -m bench.bench_dashboards --database-url postgresql://postgres@127.0.0.1/pitboard_bench_1m

Each page is fetched through the real route (``GET /reports``, ``/reports/campaign``, ...) with the web app's
own session handling, template and SVG charts; only the login is replaced by a dependency override (a
signed-in viewer), because logging in would write a user. SQLite is opened in read-only mode (``mode=ro``)
and without pitboard's ``BEGIN IMMEDIATE``, so the benchmark never takes the write lock; PostgreSQL sessions
are read-only transactions. The period is the 30 days up to the newest opportunity (``--end`` to override).
Goal: the executive dashboard under 500 ms at 1M contacts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, func, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from pitboard.api.app import create_app
from pitboard.kit.db import make_engine
from pitboard.kit.time import ensure_utc, utcnow
from pitboard.measurement import registry, snapshots
from pitboard.measurement.registry import Period
from pitboard.measurement.reports import Report, build
from pitboard.models import Contact, Event, Opportunity, User
from pitboard.models.measurement import DashboardSnapshot
from pitboard.settings import Settings
from pitboard.web.auth import require_user

PAGES = ["/reports", "/reports/campaign", "/reports/funnel", "/reports/quality"]


def read_only_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        return create_engine(f"sqlite:///file:{path}?mode=ro&uri=true", connect_args={"check_same_thread": False})
    engine = make_engine(url)

    @event.listens_for(engine, "begin")
    def _read_only(conn: Any) -> None:
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")

    return engine


def _snapshots_in_memory() -> None:
    """For a read-only database without the snapshots table: the same cache logic over a dict."""
    store: dict[str, tuple[dict[str, Any], DashboardSnapshot]] = {}

    def cached(session: Session, dashboard: str, period: Period, model: str | None, *, refresh: bool = False,
               max_age: timedelta = snapshots.MAX_AGE) -> tuple[Report, DashboardSnapshot]:  # fmt: skip
        key = snapshots.snapshot_key(dashboard, period, model)
        if refresh or key not in store:
            t0 = time.perf_counter()
            report = build(registry.context(session), dashboard, period, model=model)
            payload = json.loads(json.dumps(snapshots.to_payload(report)))
            row = DashboardSnapshot(key=key, dashboard=dashboard, period_start=period.start, period_end=period.end,
                                    model=model, payload=payload, computed_at=utcnow(),
                                    compute_ms=(time.perf_counter() - t0) * 1000)  # fmt: skip
            store[key] = (payload, row)
        payload, row = store[key]
        return snapshots.from_payload(json.loads(json.dumps(payload))), row

    snapshots.cached = cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--end", default=None, help="Last day of the period (default: newest opportunity)")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pages", nargs="*", default=PAGES)
    args = parser.parse_args()
    engine = read_only_engine(args.database_url)
    with engine.connect() as conn:
        contacts = conn.execute(select(func.count()).select_from(Contact)).scalar_one()
        opps = conn.execute(select(func.count()).select_from(Opportunity)).scalar_one()
        events = conn.execute(select(func.max(Event.id))).scalar_one()
        newest = conn.execute(select(func.max(Opportunity.opened_at))).scalar_one()
    end = args.end or ensure_utc(newest).date().isoformat()
    start = (ensure_utc(newest).date() - timedelta(days=args.days - 1)).isoformat() if not args.end else None
    params = {"end": end, **({"start": start} if start else {})}
    print(f"data: {contacts:,} contacts, {opps:,} opportunities, ~{events or 0:,} events; "
          f"{engine.dialect.name}; period {args.days} days to {end}")  # fmt: skip
    if not inspect(engine).has_table("metric_definitions"):
        # A database migrated before the measurement tables existed (0008 was empty then): no custom metrics.
        registry.load_custom = lambda session: {}
        print("note: no metric_definitions table (migrated before 0008 had tables): custom metrics skipped")
    if not inspect(engine).has_table("dashboard_snapshots"):
        _snapshots_in_memory()
        print("note: no dashboard_snapshots table: snapshots kept in memory (same payload, same JSON round trip)")
    settings = Settings(database_url=args.database_url, secret_key="bench-" + "0123456789" * 4)
    app = create_app(settings, engine=engine)
    viewer = User(id=0, email="bench@example.com", name="Bench", role="viewer", password_hash="-", active=True)  # noqa: S106
    app.dependency_overrides[require_user] = lambda: viewer
    with TestClient(app) as client:
        for path in args.pages:
            t0 = time.perf_counter()
            first = client.get(path, params=params)
            cold = (time.perf_counter() - t0) * 1000
            timings = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                response = client.get(path, params=params)
                timings.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            p50, worst = statistics.median(timings), max(timings)
            print(f"  {path:20s} status {first.status_code}  first (computes) {cold:9.0f} ms   served: "
                  f"p50 {p50:6.0f} ms  max {worst:6.0f} ms  ({args.runs} runs)")  # fmt: skip
    engine.dispose()


if __name__ == "__main__":
    main()
