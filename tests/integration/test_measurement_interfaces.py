"""One metric, the same number everywhere: API, CLI, CSV export (API and CLI), web dashboards and the metrics
page. Also the attribution and report routes, their errors, and the web pages render."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pitboard.cli.measurement import measurement_app
from pitboard.measurement import registry
from tests.integration.test_measurement_registry import WEEK, seed

runner = CliRunner()
RANGE = {"start": "2026-03-02", "end": "2026-03-08"}
KEYS = ("pipeline", "cpl", "win_rate", "leads", "bookings", "spend")


def _cli(engine: Engine, *args: str, code: int = 0) -> str:
    result = runner.invoke(measurement_app, [*args, "--database-url", engine.url.render_as_string(hide_password=False)])
    assert result.exit_code == code, result.output
    return result.output


def _web_value(html: str, key: str) -> str:
    match = re.search(rf'data-metric="{key}">([^<]*)<', html)
    assert match, f"{key} is not on the page"
    return match.group(1)


def test_one_metric_gives_the_same_number_in_every_place(
    engine: Engine, session: Session, client: TestClient, admin_headers: dict[str, str], logged_in: TestClient,
    tmp_path: Path,
) -> None:  # fmt: skip
    seed(session)
    session.commit()
    ctx = registry.context(session)
    expected = {k: registry.value(ctx, k, WEEK) for k in KEYS}
    texts = {k: registry.format_value(registry.get(ctx, k), expected[k]) for k in KEYS}
    session.rollback()
    assert expected["pipeline"] == 1500.0
    assert expected["cpl"] == 150.0

    # API
    for key in KEYS:
        body = client.get(f"/api/v1/metrics/{key}", params=RANGE, headers=admin_headers).json()
        assert body["value"] == expected[key], key
        assert body["text"] == texts[key], key
    # API CSV export
    api_csv = client.get("/api/v1/reports/metrics.csv", params=RANGE, headers=admin_headers)
    assert api_csv.headers["content-type"].startswith("text/csv")
    api_rows = {r["metric"]: r["value"] for r in csv.DictReader(io.StringIO(api_csv.text))}
    # CLI (JSON) and CLI CSV export
    shown = json.loads(_cli(engine, "show", *KEYS, "--start", RANGE["start"], "--end", RANGE["end"], "--json"))
    cli_values = {m["key"]: m["value"] for m in shown["metrics"]}
    out = tmp_path / "metrics.csv"
    _cli(engine, "export", "-o", str(out), "--start", RANGE["start"], "--end", RANGE["end"])
    cli_csv = out.read_text()
    assert cli_csv == api_csv.text  # one exporter
    # Web: the executive dashboard, the campaign dashboard and the metrics page
    page = logged_in.get("/reports", params=RANGE)
    assert page.status_code == 200
    metrics_page = logged_in.get("/reports/metrics", params=RANGE).text
    campaign_page = logged_in.get("/reports/campaign", params=RANGE).text
    for key in KEYS:
        assert cli_values[key] == expected[key], key
        assert float(api_rows[key]) == expected[key], key
        assert _web_value(metrics_page, key) == texts[key], key
    for key in ("pipeline", "spend", "win_rate"):
        assert _web_value(page.text, key) == texts[key], key
    for key in ("pipeline", "cpl", "spend"):
        assert _web_value(campaign_page, key) == texts[key], key
    # The report JSON and the report CSV total agree with the registry too.
    report = client.get("/api/v1/reports/executive", params={**RANGE, "model": "linear"}, headers=admin_headers)
    assert {k["key"]: k["value"] for k in report.json()["kpis"]}["pipeline"] == expected["pipeline"]
    table = client.get("/api/v1/reports/executive/by_channel.csv", params={**RANGE, "model": "linear"},
                       headers=admin_headers).text  # fmt: skip
    total = list(csv.reader(io.StringIO(table)))[-1]
    assert total[:2] == ["Total", "1500"]
    web_csv = logged_in.get("/reports/executive/by_channel.csv", params={**RANGE, "model": "linear"}).text
    assert web_csv == table


def test_attribution_api_and_errors(session: Session, client: TestClient, admin_headers: dict[str, str]) -> None:
    seed(session)
    session.commit()
    r = client.get("/api/v1/attribution", params={**RANGE, "model": "linear"}, headers=admin_headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total_amount"] == 1500.0
    assert sum(c["amount_cents"] for c in body["credits"]) == 150_000
    custom = client.get("/api/v1/attribution", params={**RANGE, "model": "custom", "weight": ["first=0.5", "last=0.5"]},
                        headers=admin_headers)  # fmt: skip
    assert custom.status_code == 200, custom.text
    # o1 (1000): half to its first touch (Paid Search), half to its last (Direct); o2 (500): its one touch.
    credits = {c["label"]: c["amount_cents"] for c in custom.json()["credits"]}
    assert credits == {"Email": 50_000, "Paid Search": 50_000, "Direct": 50_000}
    bad = client.get("/api/v1/attribution", params={**RANGE, "model": "u_shaped"}, headers=admin_headers)
    assert bad.status_code == 422
    assert "unknown attribution model" in bad.json()["message"]
    bad = client.get("/api/v1/attribution", params={**RANGE, "model": "custom", "weight": "first"},
                     headers=admin_headers)  # fmt: skip
    assert bad.status_code == 422
    assert "milestone=share" in bad.json()["message"]
    bad = client.get("/api/v1/metrics/pipeline", params={"start": "2026-03-09", "end": "2026-03-01"},
                     headers=admin_headers)  # fmt: skip
    assert bad.status_code == 422
    assert "before it starts" in bad.json()["message"]
    assert client.get("/api/v1/metrics/nope", headers=admin_headers).status_code == 404
    assert client.get("/api/v1/reports/nope", headers=admin_headers).status_code == 404
    assert client.get("/api/v1/reports/executive/nope.csv", headers=admin_headers).status_code == 404
    assert client.get("/api/v1/metrics").status_code == 401
    listed = client.get("/api/v1/metrics", headers=admin_headers).json()
    assert {"cpl", "ltv_cac", "pipeline_velocity"} <= {m["key"] for m in listed}


def test_cli_attribution_and_reports(engine: Engine, session: Session) -> None:
    seed(session)
    session.commit()
    out = _cli(engine, "attribution", "--model", "all", "--start", RANGE["start"], "--end", RANGE["end"])
    assert "Markov removal effect" in out
    assert "1,500.00" in out
    out = _cli(engine, "report", "campaign", "--start", RANGE["start"], "--end", RANGE["end"], "--csv", "roi")
    assert out.splitlines()[0] == "campaign,channel,spend,opportunities,pipeline,bookings,roas,roi"
    out = _cli(engine, "report", "funnel", "--start", RANGE["start"], "--end", RANGE["end"])
    assert "Lead → MQL rate" in out
    assert "unknown attribution model" in _cli(engine, "attribution", "--model", "nope", code=1)
    assert "no dashboard" in _cli(engine, "report", "nope", code=1)
    assert "before it starts" in _cli(engine, "show", "leads", "--start", "2026-03-09", "--end", "2026-03-01", code=1)


def test_web_pages_render(session: Session, logged_in: TestClient) -> None:
    seed(session)
    session.commit()
    for path in ("/reports", "/reports/campaign", "/reports/funnel", "/reports/quality", "/reports/attribution",
                 "/reports/metrics", "/reports/alerts", "/reports/drafts"):  # fmt: skip
        page = logged_in.get(path, params=RANGE if "alerts" not in path and "drafts" not in path else None)
        assert page.status_code == 200, (path, page.text[:500])
        assert 'aria-current="page">Reports' in page.text
    attribution = logged_in.get("/reports/attribution", params={**RANGE, "goal": "bookings", "level": "campaign"})
    assert "Shapley value" in attribution.text
    assert "<svg" in attribution.text
    assert logged_in.get("/reports/nope").status_code == 404
    assert logged_in.get("/reports", params={"start": "bad"}).status_code == 400
    assert logged_in.get("/reports/campaign", params=RANGE).text.count("<svg") == 0  # no trends: tables only
    assert logged_in.get("/reports", params=RANGE).text.count("<svg") >= 3


def test_dashboards_are_served_from_a_snapshot(session: Session, logged_in: TestClient) -> None:
    from pitboard.measurement import snapshots
    from pitboard.models import Opportunity
    from pitboard.models.measurement import DashboardSnapshot

    seed(session)
    session.commit()
    first = logged_in.get("/reports", params=RANGE).text
    assert _web_value(first, "pipeline") == "USD 1,500.00"
    assert "Figures as of" in first
    # New data: the page keeps its snapshot until it is recomputed (on request, by the worker, or when old).
    opp = session.query(Opportunity).filter_by(name="o2").one()
    opp.amount = 700  # type: ignore[assignment]
    session.commit()
    assert _web_value(logged_in.get("/reports", params=RANGE).text, "pipeline") == "USD 1,500.00"
    fresh = logged_in.get("/reports", params={**RANGE, "refresh": "1"}).text
    assert _web_value(fresh, "pipeline") == "USD 1,700.00"
    row = session.query(DashboardSnapshot).filter(DashboardSnapshot.dashboard == "executive").one()
    report = snapshots.from_payload(row.payload)
    assert {k.key: k.value for k in report.kpis}["pipeline"] == 1700.0
    session.rollback()
    # The worker's job computes every dashboard for the default period.
    made = snapshots.refresh_defaults(session, today=WEEK.end)
    assert [r.dashboard for r in made] == ["executive", "campaign", "funnel", "quality"]
    assert made[0].period_start.isoformat() == "2026-02-07"
    session.rollback()


def test_the_home_page_counts_come_from_the_registry(session: Session, logged_in: TestClient) -> None:
    from datetime import timedelta

    from pitboard.kit.time import utcnow
    from pitboard.models import Contact, Event, LifecycleStageChange

    now = utcnow()
    # Inside the 30 days, one day past them, and one event dated tomorrow (a clock-skewed client): the registry
    # counts whole UTC days up to today, and the home page now says the same.
    for i, when in enumerate((now - timedelta(days=3), now - timedelta(days=40), now + timedelta(days=1))):
        contact = Contact(email=f"h{i}@acme.example", created_at=when, updated_at=when)
        session.add(contact)
        session.flush()
        session.add(Event(message_id=f"h{i}", event_type="track", name="page_viewed", contact_id=contact.id,
                          occurred_at=when, received_at=now))  # fmt: skip
        session.add(LifecycleStageChange(contact_id=contact.id, to_stage="mql", changed_at=when))
    session.commit()
    ctx = registry.context(session)
    last_30 = registry.Period(now.date() - timedelta(days=29), now.date())
    expected = registry.values(ctx, ["events", "new_contacts", "mqls"], last_30)
    session.rollback()
    assert expected == {"events": 1.0, "new_contacts": 1.0, "mqls": 1.0}
    home = logged_in.get("/").text
    assert _web_value(home, "events-30d") == "1"
    assert "+1 in the last 30 days" in home
    assert "1 became MQL in the last 30 days" in home
