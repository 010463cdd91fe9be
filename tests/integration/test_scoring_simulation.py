"""The what-if simulation on a small history whose answer is worked out by hand: MQLs per month under the
applied and the proposed model, who only one of them qualifies, and how sales treated each group."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import yaml
from sqlalchemy.orm import Session

from pitboard.conditions import load_field_registry
from pitboard.kit.actor import SYSTEM
from pitboard.kit.time import utcnow
from pitboard.lifecycle.schemas import default_spec
from pitboard.models import Account, LifecycleStageChange, Opportunity
from pitboard.scoring.definitions import apply_models
from pitboard.scoring.schemas import validate_scoring
from pitboard.scoring.simulate import month_ends, simulate
from tests.integration.test_scoring_engine import add_contact, add_event

APPLIED = """
models:
  - key: leads
    name: Leads
    engagement:
      decay: {window_days: 60}
      criteria:
        - {name: Demo, event: demo_requested, points: 30}
    thresholds: [{score: 25}]
"""
PROPOSED = """
models:
  - key: leads
    name: Leads
    engagement:
      decay: {window_days: 60}
      criteria:
        - {name: Demo, event: demo_requested, points: 20}
        - {name: Form, event: form_submitted, points: 10}
    thresholds: [{score: 25}]
"""


def _month_start(months_back: int) -> date:
    today = utcnow().date()
    year, month = today.year, today.month - months_back
    while month < 1:
        year, month = year - 1, month + 12
    return date(year, month, 1)


def _at(day: date, days: int) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC) + timedelta(days=days)


def test_month_ends_cover_each_month_up_to_today() -> None:
    assert month_ends(date(2025, 11, 15), date(2026, 2, 3)) == [
        ("2025-11", date(2025, 11, 30)), ("2025-12", date(2025, 12, 31)), ("2026-01", date(2026, 1, 31)),
        ("2026-02", date(2026, 2, 3)),
    ]  # fmt: skip


def test_the_simulation_counts_mqls_per_month_and_the_sales_acceptance(session: Session) -> None:
    apply_models(session, validate_scoring(yaml.safe_load(APPLIED)).models, actor=SYSTEM)
    first, second, now = _month_start(2), _month_start(1), utcnow()
    long_ago = _at(first, -100)

    def person(stage: str, created: datetime) -> int:
        contact_id = add_contact(session, lifecycle_stage=stage, created_at=created)
        session.add(LifecycleStageChange(contact_id=contact_id, from_stage=None, to_stage=stage, changed_at=created,
                                         source="test"))  # fmt: skip
        return contact_id

    a = person("lead", long_ago)  # demo in the first month: 30 applied (mql), 20 proposed (not)
    add_event(session, a, "demo_requested", _at(first, 9))
    b = person("lead", long_ago)  # demo and form in the second month: both qualify it; sales accepted it
    add_event(session, b, "demo_requested", _at(second, 4))
    add_event(session, b, "form_submitted", _at(second, 4))
    session.add(LifecycleStageChange(contact_id=b, from_stage="lead", to_stage="sal", changed_at=_at(second, 6),
                                     source="test"))  # fmt: skip
    c = person("lead", long_ago)  # three forms: only the proposed model counts them; it got an opportunity
    for day in (2, 3, 4):
        add_event(session, c, "form_submitted", _at(second, day))
    session.add(Opportunity(name="Deal", contact_id=c, stage="discovery", opened_at=_at(second, 8), amount=1000))
    d = person("sql", long_ago)  # past mql already: a threshold never moves it back
    add_event(session, d, "demo_requested", _at(first, 9))
    e = person("lead", now - timedelta(hours=2))  # new this month, with a demo: applied only
    add_event(session, e, "demo_requested", now - timedelta(hours=1))
    session.commit()

    proposed = validate_scoring(yaml.safe_load(PROPOSED), load_field_registry(session)).models
    report = simulate(session, models=proposed, lifecycle_spec=default_spec(), since=first)
    assert report.months == [first.strftime("%Y-%m"), second.strftime("%Y-%m"), now.strftime("%Y-%m")]
    assert report.stage == "mql"
    assert report.current == [1, 1, 1]  # a, b, e
    assert report.proposed == [0, 2, 0]  # b and c
    assert (report.gained, report.lost) == (1, 2)
    assert [row["contact_id"] for row in report.gained_sample] == [c]
    assert report.gained_sample[0]["month"] == second.strftime("%Y-%m")
    assert report.gained_sample[0]["accepted"] is True
    assert sorted(row["contact_id"] for row in report.lost_sample) == [a, e]
    acceptance = {name: (x.leads, x.accepted) for name, x in report.acceptance.items()}
    assert acceptance == {"current": (3, 1), "proposed": (2, 2), "gained": (1, 1), "lost": (2, 0)}
    assert report.acceptance["current"].rate == 1 / 3
    assert report.contacts == 5
    assert report.to_dict()["acceptance"]["proposed"]["rate"] == 1.0


def test_the_same_models_change_nothing(session: Session) -> None:
    apply_models(session, validate_scoring(yaml.safe_load(APPLIED)).models, actor=SYSTEM)
    contact_id = add_contact(session, lifecycle_stage="lead", created_at=_at(_month_start(3), 0))
    add_event(session, contact_id, "demo_requested", _at(_month_start(1), 2))
    session.commit()
    same = validate_scoring(yaml.safe_load(APPLIED)).models
    report = simulate(session, models=same, lifecycle_spec=default_spec(), since=_month_start(2))
    assert report.current == report.proposed == [0, 1, 0]
    assert (report.gained, report.lost, report.gained_sample) == (0, 0, [])


ACCOUNT_FIT = """
models:
  - key: leads
    name: Leads
    fit:
      criteria:
        - {name: Big company, points: POINTS, condition: {field: account.employee_count, op: gte, value: 200}}
        - {name: No company, points: 1, condition: {not: {field: account.employee_count, op: is_set}}}
    thresholds: [{score: 25}]
"""


def test_fit_criteria_on_the_account_count_in_the_simulation(session: Session) -> None:
    """Criteria on the account alone are read per account (bulk.fit_facts): a contact at a big company is an
    MQL under 30 points for it and not under 20; a contact without an account matches the other criterion."""
    apply_models(session, validate_scoring(yaml.safe_load(ACCOUNT_FIT.replace("POINTS", "30"))).models,
                 actor=SYSTEM)  # fmt: skip
    first = _month_start(1)
    big = Account(name="Big Co", employee_count=500, custom={})
    session.add(big)
    session.flush()
    for account_id in (big.id, None):
        # Created in the first month: no score before, so its fit makes it an MQL then.
        contact_id = add_contact(session, lifecycle_stage="lead", created_at=_at(first, 3), account_id=account_id)
        session.add(LifecycleStageChange(contact_id=contact_id, from_stage=None, to_stage="lead",
                                         changed_at=_at(first, 3), source="test"))  # fmt: skip
    session.commit()
    proposed = validate_scoring(yaml.safe_load(ACCOUNT_FIT.replace("POINTS", "20")), load_field_registry(session))
    report = simulate(session, models=proposed.models, lifecycle_spec=default_spec(), since=first)
    assert report.current[0] == 1
    assert sum(report.proposed) == 0
    assert (report.gained, report.lost) == (0, 1)
