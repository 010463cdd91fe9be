"""Routing on SQLite and PostgreSQL: rules in order, account owners first, pools with weights, caps,
availability and fallbacks, the unassigned queue with reasons, the decision record, counters that survive."""

from __future__ import annotations

import textwrap
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import session_scope
from pitboard.kit.errors import Conflict, ValidationFailed
from pitboard.models import Account, Contact, SalesUser
from pitboard.models.routing import RoutingDecision, RoutingLead, RoutingOutOfOffice, RoutingPoolMember
from pitboard.project.apply import apply
from pitboard.project.loader import load_project
from pitboard.routing import service
from pitboard.routing.engine import route_contacts

# A Wednesday, 15:00 UTC: 10:00 in New York, 16:00 in Berlin.
NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
OFFICE = {d: [["08:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def add_rep(session: Session, name: str, **fields: Any) -> int:
    fields.setdefault("email", f"{name.lower()}@salesco.com")
    fields.setdefault("timezone", "UTC")
    fields.setdefault("working_hours", {})
    user = SalesUser(name=name, **fields)
    session.add(user)
    session.flush()
    return user.id


def add_lead(session: Session, **fields: Any) -> int:
    email = fields.pop("email", f"{uuid.uuid4().hex[:10]}@lead.example")
    fields.setdefault("email_domain", email.split("@")[1])
    fields.setdefault("is_free_mail", False)
    contact = Contact(email=email, email_normalized=email, custom={}, **fields)
    session.add(contact)
    session.flush()
    return contact.id


def apply_routing(session: Session, root: Path, text: str, *, version_message: str = "t") -> None:
    """Apply a project with this routing.yml, as `pitboard apply` does."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pitboard.yml").write_text("name: t\n", encoding="utf-8")
    (root / "routing.yml").write_text(textwrap.dedent(text), encoding="utf-8")
    project = load_project(root)
    assert project.ok, project.problems
    apply(session, project, actor=SYSTEM, message=version_message)
    session.commit()


def route(session: Session, ids: list[int], *, now: datetime = NOW, **kw: Any) -> list[Any]:
    out = route_contacts(session, ids, trigger="test", now=now, notify=False, **kw)
    session.commit()
    return out


def owners(session: Session, ids: list[int]) -> list[int | None]:
    rows = dict(
        session.execute(
            select(RoutingLead.contact_id, RoutingLead.owner_id).where(RoutingLead.contact_id.in_(ids))
        ).all()
    )  # type: ignore[arg-type]
    return [rows.get(i) for i in ids]


POOL_FLOW = """
pools:
  - key: sdr
    members:
      - {user: ana@salesco.com, weight: 2}
      - {user: bo@salesco.com}
      - {user: cy@salesco.com}
rules:
  - {name: all, to: "pool:sdr"}
"""


def test_weighted_round_robin_in_order(session: Session, tmp_path: Path) -> None:
    ana, bo, cy = (add_rep(session, n) for n in ("Ana", "Bo", "Cy"))
    apply_routing(session, tmp_path, POOL_FLOW)
    leads = [add_lead(session) for _ in range(8)]
    session.commit()
    for lead in leads:  # one by one, as leads arrive
        route(session, [lead])
    got = owners(session, leads)
    assert got == [ana, bo, cy, ana, ana, bo, cy, ana]
    assert got.count(ana) == 4
    assert got.count(bo) == 2
    assert got.count(cy) == 2
    counts = dict(session.execute(select(RoutingPoolMember.sales_user_id, RoutingPoolMember.assigned_count)).all())
    assert counts == {ana: 4, bo: 2, cy: 2}
    assert session.scalar(select(Contact.owner_id).where(Contact.id == leads[0])) == ana


def test_counters_survive_a_restart_and_batches_continue_the_rotation(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as s:
        ana, bo, cy = (add_rep(s, n) for n in ("Ana", "Bo", "Cy"))
    with session_scope(engine) as s:
        apply_routing(s, tmp_path, POOL_FLOW)
        first = [add_lead(s) for _ in range(3)]
    with session_scope(engine) as s:
        route_contacts(s, first, trigger="test", now=NOW, notify=False)
    # A new process: nothing in memory, the counters come from the database.
    from pitboard.routing import engine as routing_engine

    routing_engine._cache.clear()
    with session_scope(engine) as s:
        later = [add_lead(s) for _ in range(5)]
    with session_scope(engine) as s:
        route_contacts(s, later, trigger="test", now=NOW, notify=False)
    with session_scope(engine) as s:
        got = owners(s, first + later)
    assert got == [ana, bo, cy, ana, ana, bo, cy, ana]


def test_rules_in_order_account_owner_first_queue_user_and_unassigned_reasons(session: Session, tmp_path: Path) -> None:
    ana = add_rep(session, "Ana")
    kim = add_rep(session, "Kim", territory="EMEA", team="AE")
    cro = add_rep(session, "Cro", email="cro@salesco.com")
    acme = Account(
        name="Acme", domain="acme-industries.com", registered_domain="acme-industries.com", owner_id=kim, custom={}
    )
    unowned = Account(name="Nobody", domain="nobody-corp.com", registered_domain="nobody-corp.com", custom={})
    session.add_all([acme, unowned])
    session.flush()
    apply_routing(
        session,
        tmp_path,
        """
        pools:
          - {key: na, members: [{user: ana@salesco.com}]}
        rules:
          - {name: existing-account, to: account_owner}
          - name: students
            when: {field: email_domain, op: ends_with, value: .edu}
            to: "queue:nurture"
          - name: vip
            when: {field: title, op: contains, value: Chief}
            to: "user:cro@salesco.com"
          - name: emea
            when: {field: country, op: in, value: [DE, FR]}
            to: "territory:EMEA/AE"
          - name: north-america
            when: {field: country, op: in, value: [US, CA]}
            to: "pool:na"
    """,
    )
    at_acme = add_lead(session, email="jo@acme-industries.com", country="US")
    at_nobody = add_lead(session, email="al@nobody-corp.com", country="US")
    student = add_lead(session, email="s@uni.edu", country="US")
    chief = add_lead(session, email="c@corp.example", title="Chief Marketing Officer")
    german = add_lead(session, email="g@firma.example", country="DE")
    no_country = add_lead(session, email="x@corp.example")
    session.commit()
    out = {o.contact_id: o for o in route(session, [at_acme, at_nobody, student, chief, german, no_country])}

    assert out[at_acme].outcome == "assigned"
    assert out[at_acme].owner_id == kim
    assert "owner of account" in out[at_acme].reason
    assert "email domain acme-industries.com" in out[at_acme].reason
    assert session.scalar(select(Contact.account_id).where(Contact.id == at_acme)) == acme.id
    assert out[at_nobody].owner_id == ana
    assert out[at_nobody].rule == "north-america"
    nobody_rules = session.scalar(select(RoutingDecision.rules).where(RoutingDecision.contact_id == at_nobody))
    assert nobody_rules[0] == {"rule": "existing-account", "matched": True,
                               "note": f"account {unowned.id} has no owner: passed on"}  # fmt: skip
    assert out[student].outcome == "queued"
    assert out[student].queue == "nurture"
    assert out[chief].owner_id == cro
    assert "named user" in out[chief].reason
    assert out[german].owner_id == kim
    assert out[german].pool_key == "territory:EMEA/AE"
    assert out[no_country].outcome == "unassigned"
    assert out[no_country].reason == "no rule matched; missing: title, country"
    lead = session.scalar(select(RoutingLead).where(RoutingLead.contact_id == no_country))
    assert lead is not None
    assert lead.status == "unassigned"
    assert lead.owner_id is None

    # The missing country arrives: the lead becomes routable and is routed.
    session.execute(Contact.__table__.update().where(Contact.id == no_country).values(country="CA"))
    session.commit()
    again = route(session, [no_country])[0]
    assert again.outcome == "assigned"
    assert again.owner_id == ana
    # An assigned lead is left alone by automatic routing.
    assert route(session, [no_country])[0].outcome == "skipped"


def test_availability_caps_capacity_and_the_fallback(session: Session, tmp_path: Path) -> None:
    away = add_rep(session, "Away", timezone="Asia/Tokyo", working_hours=OFFICE)  # 00:00 in Tokyo
    off = add_rep(session, "Off")
    gone = add_rep(session, "Gone", active=False)
    full = add_rep(session, "Full", capacity=0)
    busy = add_rep(session, "Busy", timezone="America/New_York", working_hours=OFFICE)
    boss = add_rep(session, "Boss")
    session.add(RoutingOutOfOffice(sales_user_id=off, starts_at=NOW - timedelta(days=1),
                                   ends_at=NOW + timedelta(days=2), note="vacation", created_at=NOW))  # fmt: skip
    session.flush()
    apply_routing(
        session,
        tmp_path,
        """
        pools:
          - key: team
            members: [{user: away@salesco.com}, {user: off@salesco.com}, {user: gone@salesco.com},
                      {user: full@salesco.com}, {user: busy@salesco.com}]
            caps: {hour: 2}
            fallback: boss@salesco.com
        rules:
          - {name: all, to: "pool:team"}
    """,
    )
    leads = [add_lead(session) for _ in range(3)]
    session.commit()
    out = [route(session, [lead])[0] for lead in leads]
    assert [o.owner_id for o in out] == [busy, busy, boss]
    assert "fallback owner Boss" in out[2].reason
    decision = session.scalar(select(RoutingDecision).where(RoutingDecision.contact_id == leads[2]))
    assert decision is not None
    why = {c["user_id"]: c["why"] for c in decision.candidates}
    assert why[away].startswith("away: outside working hours (thu 00:00 Asia/Tokyo)")
    assert why[off].startswith("out of office until")
    assert why[gone] == "inactive"
    assert why[full] == "at capacity: 0 open leads (capacity 0)"
    assert why[busy] == "capped: 2 leads in the last hour (cap 2)"
    assert why[boss] == "pool fallback"
    first = session.scalar(select(RoutingDecision).where(RoutingDecision.contact_id == leads[0]))
    assert first is not None
    assert "next in the round robin" in first.reason
    # An hour later the cap has room again.
    later = add_lead(session)
    session.commit()
    assert route(session, [later], now=NOW + timedelta(minutes=61))[0].owner_id == busy


def test_everyone_unavailable_without_fallback_goes_to_unassigned_with_the_reason(
    session: Session, tmp_path: Path
) -> None:
    add_rep(session, "Ana", active=False)
    apply_routing(
        session,
        tmp_path,
        """
        holidays: [{date: 2026-11-25, name: Founders Day}]
        pools: [{key: p, members: [{user: ana@salesco.com}]}]
        rules: [{name: all, to: "pool:p"}]
    """,
    )
    lead = add_lead(session)
    session.commit()
    out = route(session, [lead])[0]
    assert out.outcome == "unassigned"
    assert "every member is unavailable" in out.reason
    decision = session.scalar(select(RoutingDecision).where(RoutingDecision.contact_id == lead))
    assert decision is not None
    assert decision.candidates[0]["why"] == "inactive"


def test_holiday_and_fewest_open_mode(session: Session, tmp_path: Path) -> None:
    ana = add_rep(session, "Ana", territory="NA")
    bo = add_rep(session, "Bo", territory="EMEA")
    apply_routing(
        session,
        tmp_path,
        """
        holidays: [{date: 2026-11-25, name: Thanksgiving eve, territories: [NA]}]
        pools: [{key: p, mode: fewest_open, members: [{user: ana@salesco.com}, {user: bo@salesco.com}]}]
        rules: [{name: all, to: "pool:p"}]
    """,
    )
    leads = [add_lead(session) for _ in range(2)]
    session.commit()
    assert [o.owner_id for o in route(session, leads)] == [bo, bo]
    later = [add_lead(session) for _ in range(3)]
    session.commit()
    tomorrow = NOW + timedelta(days=1)
    assert [o.owner_id for o in route(session, later, now=tomorrow)] == [ana, ana, ana]
    del ana


def test_force_reroute_excluding_the_owner_and_dispositions(session: Session, tmp_path: Path) -> None:
    ana, bo = add_rep(session, "Ana"), add_rep(session, "Bo")
    apply_routing(session, tmp_path, POOL_FLOW.replace("      - {user: cy@salesco.com}\n", ""))
    lead = add_lead(session, lead_source="Paid Search")
    session.commit()
    assert route(session, [lead])[0].owner_id == ana
    again = route(session, [lead], force=True, exclude_owner=True)[0]
    assert again.owner_id == bo
    row = session.scalar(select(RoutingLead).where(RoutingLead.contact_id == lead))
    assert row is not None
    assert row.reroutes == 1
    decision = session.scalars(select(RoutingDecision).where(RoutingDecision.contact_id == lead)
                               .order_by(RoutingDecision.id.desc())).first()  # fmt: skip
    assert decision is not None
    assert decision.previous_owner_id == ana
    assert any(c["why"] == "excluded: the current owner (re-route)" for c in decision.candidates)

    with pytest.raises(ValidationFailed, match="needs a reason"):
        service.dispose(session, contact_id=lead, disposition="rejected", reason="meh", note=None, actor=SYSTEM)
    service.dispose(session, contact_id=lead, disposition="rejected", reason="no_budget", note="tiny", actor=SYSTEM)
    session.commit()
    with pytest.raises(Conflict):
        service.dispose(session, contact_id=lead, disposition="accepted", reason=None, note=None, actor=SYSTEM)
    report = service.rejection_report(session)
    assert report["by_reason"] == {"no_budget": 1}
    assert report["by_source"][0] == {"source": "Paid Search", "accepted": 0, "rejected": 1, "rejection_rate": 1.0}
    # A rejected lead is not routed again by itself.
    assert route(session, [lead])[0].outcome == "skipped"


def test_apply_rejects_unknown_people_and_deactivates_dropped_pools(session: Session, tmp_path: Path) -> None:
    add_rep(session, "Ana")
    session.commit()
    with pytest.raises(ValidationFailed, match=r"not sales users: ghost@salesco\.com"):
        apply_routing(
            session,
            tmp_path,
            """
            pools: [{key: p, members: [{user: ghost@salesco.com}]}]
            rules: [{name: all, to: "pool:p"}]
        """,
        )
    session.rollback()
    apply_routing(session, tmp_path / "a", POOL_FLOW.replace("bo@", "ana2@").replace("cy@", "ana3@").replace(
        "      - {user: ana2@salesco.com}\n      - {user: ana3@salesco.com}\n", ""))  # fmt: skip
    apply_routing(
        session,
        tmp_path / "b",
        """
        pools: [{key: other, members: [{user: ana@salesco.com}]}]
        rules: [{name: all, to: "pool:other"}]
    """,
    )
    from pitboard.models.routing import RoutingPool

    active = dict(session.execute(select(RoutingPool.key, RoutingPool.active)).all())  # type: ignore[arg-type]
    assert active == {"sdr": False, "other": True}
    assert session.scalar(select(func.count()).select_from(RoutingPoolMember)) == 2


def test_data_subject_export_has_the_routing_history(session: Session, tmp_path: Path) -> None:
    from pitboard.privacy.export import export_person

    add_rep(session, "Ana")
    apply_routing(
        session, tmp_path, POOL_FLOW.replace("      - {user: bo@salesco.com}\n      - {user: cy@salesco.com}\n", "")
    )
    lead = add_lead(session)
    session.commit()
    route(session, [lead])
    exported = export_person(session, lead)["assignments"]
    assert [e["kind"] for e in exported] == ["routing_state", "routing_decision"]
    assert exported[0]["status"] == "assigned"
    assert exported[1]["candidates"][0]["name"] == "Ana"
