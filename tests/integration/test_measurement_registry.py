"""The metric registry on a small hand-made data set whose every figure is worked out in the comments, on SQLite
and PostgreSQL; custom metrics from metrics.yml; attribution over stored touchpoints."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pitboard.kit.actor import SYSTEM
from pitboard.kit.errors import NotFound, ValidationFailed
from pitboard.measurement import registry, reports, service
from pitboard.measurement.registry import Period
from pitboard.measurement.schemas import MetricsFile
from pitboard.models import (
    Campaign,
    CampaignSpend,
    Contact,
    Event,
    LifecycleStageChange,
    Opportunity,
    QualitySnapshot,
)
from pitboard.models.measurement import AlertRule
from pitboard.project import apply as project_apply
from pitboard.project.loader import load_project, scaffold

WEEK = Period(date(2026, 3, 2), date(2026, 3, 8))  # Monday to Sunday


def at(day: int, hour: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def seed(session: Session) -> dict[str, int]:
    """Two campaigns, four contacts, three opportunities, spend and touches (see the expected values below)."""
    search = Campaign(name="Spring Search", campaign_type="paid_search", channel="Paid Search", budget=1000,
                      start_date=at(1), created_at=at(20, month=2))  # fmt: skip
    webinar = Campaign(name="Webinar", campaign_type="webinar", channel="Email", budget=500, start_date=at(3),
                       created_at=at(25, month=2))  # fmt: skip
    session.add_all([search, webinar])
    session.flush()
    for cid, day, amount in ((search.id, 2, "100"), (search.id, 3, "200"), (webinar.id, 4, "150"),
                             (search.id, 10, "999")):  # fmt: skip
        session.add(CampaignSpend(campaign_id=cid, spend_date=date(2026, 3, day), channel="", amount=Decimal(amount),
                                  created_at=at(day), updated_at=at(day)))  # fmt: skip
    contacts = {}
    for name, created in (("c1", at(2, 10)), ("c2", at(2, 12)), ("c3", at(4, 9)), ("c4", at(20, 0, 2))):
        contacts[name] = Contact(email=f"{name}@acme.example", created_at=created, updated_at=created)
    session.add_all(contacts.values())
    session.flush()
    changes = [("c1", "lead", at(2, 10)), ("c1", "mql", at(3, 10)), ("c1", "sal", at(3, 20)),
               ("c2", "lead", at(2, 12)), ("c2", "mql", at(5, 12)), ("c2", "sal", at(9, 12)),
               ("c3", "lead", at(4, 9)), ("c4", "lead", at(20, 0, 2)), ("c4", "mql", at(6, 0))]  # fmt: skip
    for name, stage, when in changes:
        session.add(LifecycleStageChange(contact_id=contacts[name].id, to_stage=stage, changed_at=when))
    touches = [("c1", "Paid Search", search.id, at(1, 9)), ("c1", "Email", webinar.id, at(3, 11)),
               ("c1", "Direct", None, at(4, 8)), ("c2", "Email", webinar.id, at(4, 10))]  # fmt: skip
    for i, (name, channel, campaign_id, when) in enumerate(touches):
        session.add(Event(message_id=f"t{i}", event_type="track", name="page_viewed", contact_id=contacts[name].id,
                          occurred_at=when, received_at=when, channel=channel, campaign_id=campaign_id))  # fmt: skip
    for i, (name, when) in enumerate((("c1", at(3, 12)), ("c2", at(5, 18)))):
        session.add(Event(message_id=f"m{i}", event_type="track", name="meeting_booked",
                          contact_id=contacts[name].id, occurred_at=when, received_at=when))  # fmt: skip
    opps = [("o1", "c1", "1000", at(4, 12), at(7), True, True), ("o2", "c2", "500", at(5, 12), at(8), True, False),
            ("o3", "c4", "2000", at(1, 0, 2), at(6), True, True)]  # fmt: skip
    for name, who, amount, opened, closed, is_closed, won in opps:
        session.add(Opportunity(name=name, contact_id=contacts[who].id, amount=Decimal(amount), stage="closed",
                                opened_at=opened, closed_at=closed, is_closed=is_closed, is_won=won))  # fmt: skip
    session.add(QualitySnapshot(taken_on=date(2026, 3, 5), entity="contact", field="", metric="overall",
                                value=0.82, records=4))  # fmt: skip
    session.flush()
    return {k: v.id for k, v in contacts.items()}


EXPECTED = {
    "leads": 3.0,  # c1, c2, c3 (c4 became a lead in February)
    "mqls": 3.0,  # c1, c2, c4
    "sals": 1.0,  # c1 (c2 was accepted on the 9th)
    "new_contacts": 3.0,
    "opportunities": 2.0,  # o1, o2 (o3 opened in February)
    "pipeline": 1500.0,
    "won_deals": 2.0,  # o1, o3
    "closed_deals": 3.0,
    "bookings": 3000.0,
    "spend": 450.0,  # 100 + 200 + 150 (999 is on the 10th)
    "win_rate": 0.6667,
    "avg_deal_size": 1500.0,
    "cpl": 150.0,  # 450 / 3
    "cpa": 225.0,  # 450 / 2
    "cac": 225.0,
    "roas": 6.6667,  # 3000 / 450
    "roi": 5.6667,
    "lead_to_mql": 0.6667,  # c1 and c2 of c1, c2, c3
    "mql_to_sal": 0.6667,  # c1 and c2 (later, on the 9th) of c1, c2, c4
    "days_lead_to_mql": 3.0,  # median of 1 (c1), 3 (c2), 14 (c4)
    "sla_compliance": 0.3333,  # c1 accepted after 10 h; c2 after 96 h; c4 never
    "speed_to_lead": 4.0,  # median of 2 h (c1) and 6 h (c2); c4 never met
    "data_quality_score": 0.82,
    "campaign_time_to_market": 6.0,  # Webinar: 25 Feb to 3 Mar (Spring Search started on 1 March)
}


def test_standard_metrics_on_a_worked_example(session: Session) -> None:
    seed(session)
    ctx = registry.context(session)
    assert registry.values(ctx, list(EXPECTED), WEEK) == EXPECTED
    # o1: 4 Mar 12:00 to 7 Mar = 2.5 days; o3: 1 Feb to 6 Mar = 33 days; median 17.75.
    assert registry.value(ctx, "sales_cycle_days", WEEK) == 17.75
    # Open on 5 March (end of day): o1 (closes on the 7th), o2 (closes on the 8th), o3 (closes on the 6th).
    assert registry.value(ctx, "open_pipeline", Period(date(2026, 3, 1), date(2026, 3, 5))) == 3500.0
    assert registry.value(ctx, "open_pipeline", WEEK) == 0.0
    assert registry.value(ctx, "ltv", WEEK) is None  # no deal has an account
    assert registry.value(ctx, "sql_to_opportunity", WEEK) is None  # no SQLs: undefined, not 0


def test_every_standard_metric_computes_and_is_documented(session: Session) -> None:
    seed(session)
    ctx = registry.context(session)
    wanted = {"leads", "mqls", "sals", "sqls", "opportunities", "pipeline", "bookings", "cpl", "cpa", "cac", "roas",
              "roi", "ltv", "ltv_cac", "pipeline_velocity", "speed_to_lead", "sla_compliance", "data_quality_score",
              "campaign_time_to_market", "lead_to_mql", "days_mql_to_sql"}  # fmt: skip
    keys = {m.key for m in registry.all_metrics(ctx)}
    assert wanted <= keys
    for metric in registry.all_metrics(ctx):
        assert metric.definition
        assert metric.formula
        assert metric.owner
        assert metric.unit in registry.UNITS
        registry.value(ctx, metric.key, WEEK)  # computes on both databases
    with pytest.raises(NotFound, match="no metric 'nope'"):
        registry.value(ctx, "nope", WEEK)


def test_daily_series_add_up_to_the_period_value(session: Session) -> None:
    seed(session)
    ctx = registry.context(session)
    for key in ("leads", "pipeline", "spend", "bookings"):
        days = registry.series(ctx, key, WEEK, "day")
        assert len(days) == 7
        assert sum(v or 0 for _, v in days) == registry.value(ctx, key, WEEK)
    weeks = registry.series(ctx, "spend", Period(date(2026, 3, 1), date(2026, 3, 14)), "week")
    assert weeks == [(date(2026, 3, 1), 0.0), (date(2026, 3, 2), 450.0), (date(2026, 3, 9), 999.0)]
    assert dict(registry.series(ctx, "cpl", WEEK, "day"))[date(2026, 3, 2)] == 50.0  # 100 / 2 leads
    assert dict(registry.series(ctx, "cpl", WEEK, "day"))[date(2026, 3, 3)] is None  # 200 / 0 leads


def test_period_validation() -> None:
    with pytest.raises(ValidationFailed, match="before it starts"):
        Period.parse("2026-03-08", "2026-03-01")
    with pytest.raises(ValidationFailed, match="YYYY-MM-DD"):
        Period.parse("March", None)
    assert Period.parse(None, "2026-03-30").start == date(2026, 3, 1)


METRICS_YML = {
    "settings": {"sla_hours": 120},
    "metrics": [
        {"key": "meetings", "label": "Meetings booked", "event": "meeting_booked", "owner": "Sales"},
        {"key": "pipeline_per_mql", "formula": "pipeline / mqls", "unit": "money"},
        {"key": "meetings_per_mql", "formula": "meetings / mqls", "unit": "ratio"},
        {"key": "sal_entries", "stage": "sal"},
    ],
}


def test_custom_metrics_and_settings_from_metrics_yml(session: Session) -> None:
    seed(session)
    changes = service.apply_metrics_file(session, MetricsFile.model_validate(METRICS_YML), actor=SYSTEM)
    assert changes["created"] == ["metric meetings", "metric meetings_per_mql", "metric pipeline_per_mql",
                                  "metric sal_entries"]  # fmt: skip
    ctx = registry.context(session)
    assert registry.value(ctx, "meetings", WEEK) == 2.0
    assert registry.value(ctx, "pipeline_per_mql", WEEK) == 500.0
    assert registry.value(ctx, "meetings_per_mql", WEEK) == 0.6667
    assert registry.value(ctx, "sal_entries", WEEK) == registry.value(ctx, "sals", WEEK)
    assert registry.value(ctx, "sla_compliance", WEEK) == 0.6667  # c2's 96 h now within 120 h
    # Applying the same file again changes nothing; dropping a metric deactivates it.
    assert service.apply_metrics_file(session, MetricsFile.model_validate(METRICS_YML), actor=SYSTEM) == {}
    smaller = {**METRICS_YML, "metrics": METRICS_YML["metrics"][:2]}
    changes = service.apply_metrics_file(session, MetricsFile.model_validate(smaller), actor=SYSTEM)
    assert changes == {"deactivated": ["metric meetings_per_mql", "metric sal_entries"]}
    with pytest.raises(NotFound):
        registry.value(registry.context(session), "sal_entries", WEEK)


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ([{"key": "x", "formula": "pipeline / nope"}], "unknown metric(s) in formula: nope"),
        ([{"key": "a", "formula": "b + 1"}, {"key": "b", "formula": "a * 2"}], "in a circle"),
        ([{"key": "x", "formula": "__import__('os')"}], "may only use metric keys"),
        ([{"key": "x", "event": "e", "stage": "mql"}], "exactly one of formula, event or stage"),
        ([{"key": "leads", "stage": "lead"}], "is a standard metric"),
        ([{"key": "x", "stage": "lead", "unit": "parsecs"}], "unit must be one of"),
    ],
)
def test_bad_metric_definitions_are_refused(metrics: list[dict[str, object]], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        MetricsFile.model_validate({"metrics": metrics})


def test_attribution_over_stored_touches_adds_up_to_the_registry(session: Session) -> None:
    ids = seed(session)
    ctx = registry.context(session)
    linear = reports.run_attribution(ctx, WEEK, model="linear")
    # o1 (1000): Paid Search, Email, Direct before it opened -> 333.34 / 333.33 / 333.33; o2 (500): Email.
    assert {c.label: c.amount_cents for c in linear.credits} == {"Paid Search": 33_334, "Email": 83_333,
                                                                 "Direct": 33_333}  # fmt: skip
    assert linear.total_amount_cents / 100 == registry.value(ctx, "pipeline", WEEK)
    first = reports.run_attribution(ctx, WEEK, model="first_touch", level="campaign")
    assert {c.label: c.amount_cents for c in first.credits} == {"Spring Search": 100_000, "Webinar": 50_000}
    # Bookings: o1's touches up to the close, o3 (c4) has none: credited to "(no touchpoint)", not dropped.
    bookings = reports.run_attribution(ctx, WEEK, model="w_shaped", goal="bookings")
    assert sum(c.amount_cents for c in bookings.credits) / 100 == registry.value(ctx, "bookings", WEEK)
    assert bookings.by_label()["(no touchpoint)"].amount_cents == 200_000
    # A 2-day lookback drops the touch of 1 March for o1 (opened 4 March 12:00).
    short = reports.run_attribution(ctx, WEEK, model="first_touch", lookback_days=2)
    assert "Paid Search" not in short.by_label()
    for model in ("markov", "shapley", "time_decay", "last_non_direct"):
        result = reports.run_attribution(ctx, WEEK, model=model)
        assert sum(c.amount_cents for c in result.credits) == 150_000, model
    assert ids


def test_reports_totals_equal_the_registry(session: Session) -> None:
    seed(session)
    ctx = registry.context(session)
    exec_report = reports.executive(ctx, WEEK, model="linear")
    by_channel = exec_report.tables["by_channel"]
    assert by_channel.total == ["Total", 1500.0, 3000.0, 450.0]
    assert {k.key: k.value for k in exec_report.kpis}["pipeline"] == 1500.0
    camp = reports.campaign(ctx, WEEK, model="position_based")
    roi = camp.tables["roi"]
    assert roi.total is not None
    assert roi.total[2] == 450.0
    assert roi.total[4] == 1500.0
    assert roi.total[6] == registry.value(ctx, "roas", WEEK)
    budget = {r[0]: r for r in camp.tables["budget"].rows}
    assert budget["Spring Search"][1:] == [1000.0, 300.0, -700.0, 0.3]
    funnel = reports.funnel(ctx, WEEK, grain="week")
    assert funnel.tables["cohorts"].rows[0][:3] == ["2026-03-02", 3.0, 0.6667]
    assert "Spring Search" in camp.tables["roi"].to_csv()
    assert reports.quality(ctx, WEEK).kpis[0].value == 0.82


METRICS_FILE = """\
settings:
  sla_hours: 24
metrics:
  - key: pipeline_per_mql
    formula: pipeline / mqls
    unit: money
alerts:
  - key: cpl_ceiling
    metric: cpl
    kind: threshold
    above: 150
reports:
  - key: weekly
    dashboard: executive
    recipients: [cmo@example.com]
    audience: leadership
"""


def test_metrics_yml_is_checked_planned_and_applied(session: Session, tmp_path: Path) -> None:
    root = tmp_path / "ops"
    scaffold(root, name="ops")
    (root / "metrics.yml").write_text(METRICS_FILE.replace("pipeline / mqls", "pipline / mqls"))
    problems = [str(p) for p in load_project(root).problems]
    assert len(problems) == 1
    assert "metrics.yml" in problems[0]
    assert "unknown metric(s) in formula: pipline" in problems[0]
    (root / "metrics.yml").write_text(METRICS_FILE.replace("kind: threshold", "kind: treshold"))
    assert "metrics.yml:10: alerts.0.kind" in str(load_project(root).problems[0])
    (root / "metrics.yml").write_text(METRICS_FILE)
    planned = project_apply.plan(session, load_project(root), actor=SYSTEM)
    assert planned.changes["metrics"] == {
        "updated": ["settings"],
        "created": ["metric pipeline_per_mql", "alert cpl_ceiling", "report weekly"],
    }
    assert session.scalar(select(func.count()).select_from(AlertRule)) == 0  # a plan writes nothing
    project_apply.apply(session, load_project(root), actor=SYSTEM)
    assert session.scalar(select(AlertRule.metric)) == "cpl"
    assert registry.context(session).settings["sla_hours"] == 24
    assert not project_apply.plan(session, load_project(root), actor=SYSTEM).has_changes


def test_account_journeys_include_the_buying_group(session: Session) -> None:
    from pitboard.measurement.journeys import load_journeys
    from pitboard.models import Account

    acme = Account(name="Acme", domain="acme.example")
    session.add(acme)
    session.flush()
    buyer = Contact(email="buyer@acme.example", account_id=acme.id)
    champion = Contact(email="champion@acme.example", account_id=acme.id)
    session.add_all([buyer, champion])
    session.flush()
    session.add(Event(message_id="e1", event_type="page", contact_id=champion.id, occurred_at=at(2),
                      received_at=at(2), channel="Organic Search"))  # fmt: skip
    session.add(Event(message_id="e2", event_type="page", contact_id=buyer.id, occurred_at=at(3),
                      received_at=at(3), channel="Email"))  # fmt: skip
    session.add(Opportunity(name="deal", contact_id=buyer.id, account_id=acme.id, amount=Decimal(100),
                            stage="open", opened_at=at(4)))  # fmt: skip
    session.flush()
    group = load_journeys(session, WEEK)
    assert [group.labels[i] for i in group.label] == ["Organic Search", "Email"]
    alone = load_journeys(session, WEEK, accounts=False)
    assert [alone.labels[i] for i in alone.label] == ["Email"]
    apply_settings = MetricsFile.model_validate({"settings": {"account_journeys": False}})
    service.apply_metrics_file(session, apply_settings, actor=SYSTEM)
    first = reports.run_attribution(registry.context(session), WEEK, model="first_touch")
    assert [c.label for c in first.credits] == ["Email"]


def test_money_metrics_convert_currencies_and_leave_out_those_without_a_rate(session: Session) -> None:
    from pitboard.models import SystemSetting

    seed(session)  # o1 1000 (won 7 Mar), o2 500, o3 2000 (won 6 Mar), all USD; spend 450 USD in the week
    extra = [("o-eur", "1000", "EUR"), ("o-xyz", "700", "XYZ")]
    for name, amount, currency in extra:
        session.add(Opportunity(name=name, amount=Decimal(amount), currency=currency, stage="closed", opened_at=at(4),
                                closed_at=at(5), is_closed=True, is_won=True))  # fmt: skip
    session.add(CampaignSpend(campaign_id=session.scalar(select(Campaign.id).limit(1)), spend_date=date(2026, 3, 4),
                              channel="Paid Social", amount=Decimal("100"), currency="EUR", created_at=at(4),
                              updated_at=at(4)))  # fmt: skip
    session.flush()
    # Without rates only the reporting currency counts: euros are not added to dollars as if they were dollars.
    ctx = registry.context(session)
    assert registry.values(ctx, ["pipeline", "bookings", "spend", "opportunities", "won_deals"], WEEK) == {
        "pipeline": 1500.0, "bookings": 3000.0, "spend": 450.0, "opportunities": 4.0, "won_deals": 4.0,
    }  # fmt: skip
    session.add(SystemSetting(key=registry.SETTINGS_KEY, updated_at=at(9),
                              value={**registry.DEFAULT_SETTINGS, "exchange_rates": {"EUR": 1.1}}))  # fmt: skip
    session.flush()
    ctx = registry.context(session)
    assert registry.values(ctx, ["pipeline", "bookings", "spend"], WEEK) == {
        "pipeline": 2600.0, "bookings": 4100.0, "spend": 560.0,  # + 1000 EUR x 1.1, + 100 EUR x 1.1; XYZ left out
    }  # fmt: skip
    # Attribution credits add up to the same converted amounts (the XYZ deal still counts as a conversion).
    result = reports.run_attribution(ctx, WEEK, goal="bookings", model="linear")
    assert result.total_amount_cents == 410_000
    assert result.total_conversions == 4


def test_exchange_rates_are_validated() -> None:
    with pytest.raises(ValueError, match="not a currency code"):
        MetricsFile.model_validate({"settings": {"exchange_rates": {"euro": 1.1}}})
    with pytest.raises(ValueError, match="must be above 0"):
        MetricsFile.model_validate({"settings": {"exchange_rates": {"EUR": 0}}})
