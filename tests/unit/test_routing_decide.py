"""Pure routing logic: availability, weighted rotation, caps, and the flow's validation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from pitboard.routing.decide import Member, Rep, choose, in_working_hours, record_assignment, unavailable
from pitboard.routing.schemas import HolidaySpec, PoolSpec, RoutingFile, SlaSpec, parse_action, parse_minutes

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # Wednesday
POOL = PoolSpec(key="p", members=[{"user": "a@x.com"}])  # type: ignore[list-item]


def rep(i: int, **kw: object) -> Rep:
    return Rep(id=i, name=f"r{i}", email=f"r{i}@x.com", **kw)  # type: ignore[arg-type]


def test_working_hours_in_the_reps_own_time_zone() -> None:
    hours = {"wed": [["09:00", "12:00"], ["13:00", "17:00"]]}
    assert in_working_hours(rep(1, timezone="Europe/Berlin", working_hours=hours), NOW)  # 16:00
    assert not in_working_hours(rep(1, timezone="America/Los_Angeles", working_hours=hours), NOW)  # 07:00
    assert not in_working_hours(rep(1, timezone="UTC", working_hours={"wed": [["16:00", "18:00"]]}), NOW)
    assert in_working_hours(rep(1), NOW)  # no hours set: always
    assert in_working_hours(rep(1, timezone="Not/AZone", working_hours={"wed": [["15:00", "16:00"]]}), NOW)


def test_unavailable_reasons_in_order() -> None:
    assert unavailable(rep(1, active=False), NOW, POOL, []) == "inactive"
    away = rep(1, out_of_office=[(NOW - timedelta(hours=1), NOW + timedelta(hours=1))])
    assert unavailable(away, NOW, POOL, []) == "out of office until 2026-11-25 16:00 UTC"
    assert unavailable(rep(1, territory="NA"), NOW, POOL, [HolidaySpec(date=date(2026, 11, 25), name="X",
                       territories=["EMEA"])]) is None  # fmt: skip
    assert unavailable(rep(1, territory="NA"), NOW, POOL, [HolidaySpec(date=date(2026, 11, 25), name="X")]) == (
        "holiday: X (2026-11-25 in UTC)"
    )
    assert unavailable(rep(1, capacity=2, open_leads=2), NOW, POOL, []) == "at capacity: 2 open leads (capacity 2)"
    no_cap = PoolSpec(key="p", team="t", respect_capacity=False)
    assert unavailable(rep(1, capacity=2, open_leads=2), NOW, no_cap, []) is None
    capped = PoolSpec(key="p", team="t", caps={"day": 2})  # type: ignore[arg-type]
    busy = rep(1, recent={"hour": 1, "day": 2, "week": 3})
    assert unavailable(busy, NOW, capped, []) == "capped: 2 leads in the last day (cap 2)"


def test_weighted_rotation_and_fewest_open() -> None:
    a, b = rep(1), rep(2)
    members = [Member(a, weight=1, position=0), Member(b, weight=3, position=1)]
    got = []
    for _ in range(8):
        winner, _considered, _reason = choose(POOL, "p", members, NOW, [])
        assert winner is not None
        got.append(winner.rep.id)
        record_assignment(winner, winner.rep)
    assert got.count(2) == 6
    assert got.count(1) == 2
    fewest = PoolSpec(key="p", team="t", mode="fewest_open")
    a.open_leads, b.open_leads = 5, 1
    winner, considered, reason = choose(fewest, "p", [Member(a), Member(b)], NOW, [])
    assert winner is not None
    assert winner.rep.id == 2
    assert "fewest open leads" in reason
    assert considered[1]["why"] == "more open leads per weight"


def test_nobody_available_names_every_reason() -> None:
    winner, considered, reason = choose(POOL, "p", [Member(rep(1, active=False))], NOW, [])
    assert winner is None
    assert "every member is unavailable" in reason
    assert considered[0]["why"] == "inactive"
    assert choose(POOL, "p", [], NOW, [])[2] == "pool p has no members"


def test_flow_validation() -> None:
    assert parse_minutes("90m") == 90
    assert parse_minutes("2h") == 120
    assert parse_minutes("1d") == 1440
    with pytest.raises(ValueError, match="not a duration"):
        parse_minutes("soon")
    assert parse_action("territory:EMEA/AE") == ("territory", "EMEA/AE")
    assert parse_action("user:Boss@X.com") == ("user", "boss@x.com")
    with pytest.raises(ValueError, match="send leads to"):
        parse_action("pool:")
    steps = SlaSpec(first_touch="1h").effective_steps()  # type: ignore[arg-type]
    assert [(s.after, s.notify) for s in steps] == [(60, "owner"), (120, "manager")]
    with pytest.raises(ValidationError, match="no pool 'x'"):
        RoutingFile.model_validate({"rules": [{"name": "a", "to": "pool:x"}]})
    with pytest.raises(ValidationError, match="not both"):
        PoolSpec.model_validate({"key": "p", "members": [{"user": "a@x.com"}], "team": "SDR"})
    with pytest.raises(ValidationError, match="in_segment"):
        RoutingFile.model_validate({"rules": [{"name": "a", "to": "queue:q", "when": {"in_segment": "s"}}]})
    with pytest.raises(ValidationError, match="Extra inputs"):
        RoutingFile.model_validate({"rules": [{"name": "a", "to": "queue:q", "sla": {"first_touch": "1h", "x": 1}}]})
    flow = RoutingFile.model_validate({"rules": [{"name": "a", "to": "territory:NA"}]})
    assert flow.all_pool_keys() == ["territory:NA"]
    assert flow.pool("territory:NA").territory == "NA"
