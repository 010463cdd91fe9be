"""Merge one account into another, recorded so it can be undone exactly.

The merged account's contacts, opportunities and identities (group ids, CRM ids) move to the survivor;
each field's value follows the account survivorship rules; the record keeps the merged account's
snapshot, which rows moved and what each replaced field held.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.contacts.survivorship import Side, choose_values
from pitboard.kit.actor import Actor
from pitboard.kit.crud import jsonable
from pitboard.kit.errors import NotFound, ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.models import Account, AccountIdentity, AccountMerge, Contact, Opportunity

ACCOUNT_RULES: dict[str, str] = {
    "name": "most_complete",
    "domain": "keep_survivor",
    "registered_domain": "keep_survivor",
    "industry": "source_priority",
    "employee_count": "most_recent",
    "annual_revenue": "most_recent",
    "country": "source_priority",
    "region": "most_recent",
    "owner_id": "keep_survivor",
}
_SNAPSHOT = [*ACCOUNT_RULES, "custom", "original_values", "field_sources", "created_at", "updated_at"]
_MOVABLE: dict[str, Any] = {
    "contacts": (Contact, Contact.account_id),
    "opportunities": (Opportunity, Opportunity.account_id),
    "account_identities": (AccountIdentity, AccountIdentity.account_id),
}


def _side(a: Account) -> Side:
    return Side({f: getattr(a, f) for f in ACCOUNT_RULES}, a.created_at, a.updated_at, a.field_sources or {})


def merge_accounts(session: Session, *, survivor_id: int, merged_id: int, reason: str, actor: Actor) -> AccountMerge:
    actor.require("editor")
    if survivor_id == merged_id:
        raise ValidationFailed("an account cannot be merged into itself")
    survivor, merged = session.get(Account, survivor_id), session.get(Account, merged_id)
    if survivor is None or merged is None:
        raise NotFound(f"account {survivor_id if survivor is None else merged_id} does not exist")
    session.flush()
    snapshot = {f: jsonable(getattr(merged, f)) for f in _SNAPSHOT}
    moved: dict[str, Any] = {}
    for name, (model, column) in _MOVABLE.items():
        ids = list(session.scalars(select(model.id).where(column == merged_id)))
        if ids:
            session.execute(update(model).where(model.id.in_(ids)).values({column.key: survivor_id}))
        moved[name] = ids
    replaced: dict[str, Any] = {}
    merged_domain = merged.domain
    for field, (value, _rule) in choose_values(_side(survivor), _side(merged), ACCOUNT_RULES).items():
        replaced[field] = jsonable(getattr(survivor, field))
        setattr(survivor, field, value)
    moved["replaced"] = replaced
    record = AccountMerge(survivor_id=survivor_id, merged_id=merged_id, reason=reason, actor=actor.name,
                          merged_snapshot=snapshot, moved=moved, merged_at=utcnow())  # fmt: skip
    session.add(record)
    session.flush()  # the survivor's new values, before expiry would discard them
    session.expire_all()
    session.delete(session.get(Account, merged_id))
    session.flush()
    audit.record(session, actor=actor, action="merge", entity_type="account", entity_id=survivor_id,
                 changes={"merged_account": [merged_id, None], "merged_domain": [merged_domain, None],
                          "reason": [None, reason]})  # fmt: skip
    return record


def undo_account_merge(session: Session, *, merge_id: int, actor: Actor) -> Account:
    actor.require("editor")
    record = session.get(AccountMerge, merge_id)
    if record is None:
        raise NotFound(f"account merge {merge_id} does not exist")
    if record.undone_at is not None:
        raise ValidationFailed(f"account merge {merge_id} was already undone")
    survivor = session.get(Account, record.survivor_id)
    if survivor is None:
        raise ValidationFailed(f"the surviving account {record.survivor_id} no longer exists")
    session.execute(insert(Account).values(id=record.merged_id, **_revive(record.merged_snapshot)))
    for name, (model, column) in _MOVABLE.items():
        ids = record.moved.get(name) or []
        if ids:
            session.execute(update(model).where(model.id.in_(ids)).values({column.key: record.merged_id}))
    for field, old in (record.moved.get("replaced") or {}).items():
        setattr(survivor, field, Decimal(old) if field == "annual_revenue" and old is not None else old)
    record.undone_at = utcnow()
    session.flush()
    audit.record(session, actor=actor, action="unmerge", entity_type="account", entity_id=record.survivor_id,
                 changes={"merged_account": [None, record.merged_id]})  # fmt: skip
    restored = session.get(Account, record.merged_id)
    assert restored is not None
    return restored


def _revive(snapshot: dict[str, Any]) -> dict[str, Any]:
    out = dict(snapshot)
    for field in ("created_at", "updated_at"):
        if out.get(field):
            out[field] = datetime.fromisoformat(out[field])
    if out.get("annual_revenue") is not None:
        out["annual_revenue"] = Decimal(out["annual_revenue"])
    return out
