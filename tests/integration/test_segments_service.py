"""Segment definitions through the service: pitboard apply's apply_segments and diff_segments, project ownership,
kind and entity changes, static lists, and the person's memberships in data-subject export and erasure."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pitboard.kit.actor import SYSTEM, Actor
from pitboard.kit.errors import Conflict, Forbidden, ValidationFailed
from pitboard.models import AuditEntry, Job, Segment, SegmentMembership
from pitboard.privacy.erasure import erase_person
from pitboard.privacy.export import export_person
from pitboard.segments import service
from pitboard.segments.matching import count_matching
from pitboard.segments.refresh import refresh_all
from pitboard.segments.schemas import SegmentPatch
from pitboard.segments.service import ProjectOwned
from tests.integration.test_segments_refresh import add_account, add_contact, create, open_members, spec, stays

US = {"field": "country", "op": "eq", "value": "US"}
DE = {"field": "country", "op": "eq", "value": "DE"}
EDITOR = Actor(name="ed", interface="api", role="editor")


def _jobs(session: Session) -> list[dict[str, Any]]:
    return [j.payload for j in session.scalars(select(Job).where(Job.task == "segments.refresh").order_by(Job.id))]


def test_apply_creates_updates_deactivates_and_is_idempotent(session: Session) -> None:
    us = add_contact(session, "us@acme.io", country="US").id
    specs = [spec(session, "us", US), spec(session, "vips", kind="static")]
    assert service.apply_segments(session, specs, actor=SYSTEM) == {"created": ["us", "vips"]}
    assert _jobs(session) == [{"keys": ["us"], "dependents": True}]  # lists have nothing to compute
    assert service.apply_segments(session, specs, actor=SYSTEM) == {}
    refresh_all(session)
    service.add_members(session, "vips", ids=[us], actor=SYSTEM)

    changed = [spec(session, "us", US, description="Everyone in the US")]
    assert service.apply_segments(session, changed, actor=SYSTEM) == {"updated": ["us"], "deactivated": ["vips"]}
    vips = service.get_segment(session, "vips")
    assert (vips.active, vips.member_count) == (False, 0)
    assert stays(session, "vips", us)[0].exit_reason == "deactivated"
    # The list is back (with no members), and "us" loses its description again.
    assert service.apply_segments(session, specs, actor=SYSTEM) == {"updated": ["us", "vips"]}
    assert service.get_segment(session, "vips").active

    with pytest.raises(ProjectOwned, match=r"change segments/us.yml and run pitboard apply"):
        service.update_segment(session, "us", spec(session, "us", DE), actor=SYSTEM)
    with pytest.raises(ProjectOwned):
        service.delete_segment(session, "us", actor=SYSTEM)
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "segment")).all()
    assert actions.count("create") == 2
    assert actions.count("update") >= 3


def test_apply_takes_over_a_ui_segment_and_refuses_to_break_references(session: Session) -> None:
    create(session, "us", US)
    create(session, "us-fans", {"in_segment": "us"})  # made in the UI, testing "us"
    assert service.apply_segments(session, [spec(session, "us", US)], actor=SYSTEM) == {"updated": ["us"]}
    assert service.get_segment(session, "us").origin == "project"
    with pytest.raises(ValidationFailed, match="segment us-fans uses in_segment us; change us-fans first"):
        service.apply_segments(session, [], actor=SYSTEM)
    with pytest.raises(ValidationFailed, match="repeated: us"):
        service.apply_segments(session, [spec(session, "us", US), spec(session, "us", DE)], actor=SYSTEM)
    with pytest.raises(Forbidden):
        service.apply_segments(session, [], actor=EDITOR)


def test_diff_segments_counts_members_without_writing(session: Session) -> None:
    for i, country in enumerate(["US", "US", "DE", "DE", "DE"]):
        add_contact(session, f"p{i}@acme.io", country=country, lifecycle_stage="lead" if i % 2 else "mql")
    service.apply_segments(session, [spec(session, "here", US), spec(session, "old", DE)], actor=SYSTEM)
    refresh_all(session)
    session.flush()
    before = [session.scalar(select(func.count()).select_from(t)) for t in (Segment, SegmentMembership, Job)]
    leads = {"field": "lifecycle_stage", "op": "eq", "value": "lead"}
    proposed = [spec(session, "here", DE), spec(session, "here-leads", {"all": [{"in_segment": "here"}, leads]})]
    changes = {c.key: c for c in service.diff_segments(session, proposed)}
    assert set(changes) == {"here", "here-leads", "old"}
    here = changes["here"]
    assert (here.action, here.changed_fields, here.members_before, here.members_after) == ("update", ["condition"],
                                                                                           2, 3)  # fmt: skip
    assert (here.before or {})["condition"] == US
    assert (here.after or {})["condition"] == DE
    assert here.member_change == 1
    # The new segment tests "here" as proposed (Germans), not as stored (Americans): p3 is a German lead.
    new = changes["here-leads"]
    assert (new.action, new.before, new.members_before, new.members_after) == ("create", None, 0, 1)
    old = changes["old"]
    assert (old.action, old.after, old.members_before, old.members_after) == ("deactivate", None, 3, 0)
    after = [session.scalar(select(func.count()).select_from(t)) for t in (Segment, SegmentMembership, Job)]
    assert after == before
    assert service.diff_segments(session, [spec(session, "here", US), spec(session, "old", DE)]) == []


def test_count_matching_of_a_static_list_is_its_current_size(session: Session) -> None:
    ann = add_contact(session, "ann@acme.io").id
    create(session, "vips", kind="static")
    assert count_matching(session, spec(session, "vips", kind="static")) == 0
    service.add_members(session, "vips", ids=[ann], actor=SYSTEM)
    assert count_matching(session, spec(session, "vips", kind="static")) == 1
    assert count_matching(session, spec(session, "unknown-list", kind="static")) == 0


def test_kind_and_entity_changes(session: Session) -> None:
    acme = add_account(session, "Acme")
    ann = add_contact(session, "ann@acme.io", country="US", account_id=acme).id
    create(session, "us", US)
    refresh_all(session)
    # Freezing a dynamic segment into a list keeps who is in now and drops the rule.
    service.patch_segment(session, "us", SegmentPatch(kind="static"), actor=SYSTEM, refresh="now")
    frozen = service.get_segment(session, "us")
    assert (frozen.kind, frozen.condition, open_members(session, "us")) == ("static", None, {ann})
    # Member ids would mean accounts from now on: the contact stays end.
    service.patch_segment(session, "us", SegmentPatch(kind="dynamic", entity="account", condition=US),
                          actor=SYSTEM, refresh="now")  # fmt: skip
    assert stays(session, "us", ann)[0].exit_reason == "redefined"
    assert open_members(session, "us") == {acme}
    with pytest.raises(Conflict, match="exists already"):
        create(session, "us", US)


def test_static_lists_resolve_ids_and_emails(session: Session) -> None:
    ann, bob = (add_contact(session, f"{n}@acme.io").id for n in ("ann", "bob"))
    acme = add_account(session, "Acme")
    create(session, "vips", kind="static")
    create(session, "key-accounts", kind="static", entity="account")
    first = service.add_members(session, "vips", ids=[ann], emails=["Bob@ACME.io", "nobody@acme.io", "not-an-email"],
                                entered_by="manual", actor=SYSTEM)  # fmt: skip
    assert (first.changed, first.unchanged, first.not_found) == (2, 0, ["nobody@acme.io", "not-an-email"])
    again = service.add_members(session, "vips", ids=[ann, bob], actor=SYSTEM)
    assert (again.changed, again.unchanged) == (0, 2)
    assert service.get_segment(session, "vips").member_count == 2
    removed = service.remove_members(session, "vips", emails=["ann@acme.io"], actor=SYSTEM)
    assert (removed.changed, stays(session, "vips", ann)[0].exit_reason) == (1, "removed")
    assert service.add_members(session, "key-accounts", ids=[acme], actor=SYSTEM).changed == 1
    with pytest.raises(ValidationFailed, match="give account ids, not email addresses"):
        service.add_members(session, "key-accounts", emails=["ann@acme.io"], actor=SYSTEM)
    with pytest.raises(ValidationFailed, match="entered_by must be one of"):
        service.add_members(session, "vips", ids=[ann], entered_by="rule", actor=SYSTEM)
    imported = service.import_members_csv(session, "vips", f"contact_id\n{ann}\n{bob}\n", actor=SYSTEM)
    assert (imported.changed, imported.unchanged) == (1, 1)
    with pytest.raises(ValidationFailed, match="line 2: contact_id 'x' is not a number"):
        service.import_members_csv(session, "vips", "contact_id\nx\n", actor=SYSTEM)
    with pytest.raises(Forbidden):
        service.add_members(session, "vips", ids=[ann], actor=Actor(name="v", interface="api", role="viewer"))


def test_a_persons_memberships_are_exported_and_erased(session: Session) -> None:
    acme = add_account(session, "Acme")
    ann = add_contact(session, "ann@acme.io", country="US", account_id=acme).id
    bob = add_contact(session, "bob@acme.io", country="US", account_id=acme).id
    create(session, "us", US)
    create(session, "us-accounts", US, entity="account")
    create(session, "vips", kind="static")
    refresh_all(session)
    service.add_members(session, "vips", ids=[ann, bob], actor=SYSTEM)
    service.remove_members(session, "vips", ids=[ann], actor=SYSTEM)
    service.add_members(session, "vips", ids=[ann], actor=SYSTEM)

    exported = export_person(session, ann)["segment_memberships"]
    assert sorted((r["segment"], r["exit_reason"] or "") for r in exported) == [
        ("us", ""), ("vips", ""), ("vips", "removed"),
    ]  # fmt: skip
    assert exported[0]["entered_at"].endswith("+00:00")  # JSON-ready

    result = erase_person(session, contact_id=ann, reason="request", actor=SYSTEM)
    assert result.counts["segment_memberships"] == 3
    assert ann not in open_members(session, "us") | open_members(session, "vips")
    assert open_members(session, "us-accounts") == {acme}  # a company, not the person: kept
    counts = dict(session.execute(select(Segment.key, Segment.member_count)).all())
    assert counts == {"us": 1, "us-accounts": 1, "vips": 1}
