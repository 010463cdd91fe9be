"""Bulk upsert of clean records, one chunk (a few hundred rows) at a time.

Each chunk costs a handful of queries whatever its size: one look-up of the match keys, one
multi-row insert for new rows (with RETURNING for their ids), one load of the rows to update.
A row that cannot be written (say, its email already belongs to another contact) comes back as a
problem for the quarantine; its neighbours are unaffected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from pitboard.contacts.identities import owners
from pitboard.kit.db import insert_returning_ids
from pitboard.kit.time import utcnow
from pitboard.models import (
    Account,
    AccountIdentity,
    Campaign,
    CampaignSpend,
    Contact,
    Identity,
    LifecycleStageChange,
    Opportunity,
)
from pitboard.quality.apply import merged_originals
from pitboard.quality.enrich import stamp

Record = dict[str, Any]
_CONTACT_COLUMNS = (
    "region",
    "seniority",
    "job_function",
    "email_domain",
    "is_free_mail",
    "email",
    "first_name",
    "last_name",
    "title",
    "phone",
    "company_name",
    "country",
    "city",
    "lifecycle_stage",
    "lead_source",
)
_ACCOUNT_COLUMNS = (
    "name", "domain", "registered_domain", "industry", "employee_count", "annual_revenue", "country", "region",
)  # fmt: skip
_OPPORTUNITY_COLUMNS = ("name", "amount", "currency", "stage", "opened_at", "closed_at")


@dataclass
class ChunkOutcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: dict[int, str] = field(default_factory=dict)  # index in chunk → reason
    touched: list[int] = field(default_factory=list)  # contacts created or changed, for derived state


def _set_changed(obj: Any, values: Record, columns: Sequence[str]) -> list[str]:
    changed = []
    for column in columns:
        if column in values and getattr(obj, column) != values[column]:
            setattr(obj, column, values[column])
            changed.append(column)
    return changed


def write_contacts(session: Session, records: list[Record], *, system: str) -> ChunkOutcome:
    out = ChunkOutcome()
    ext_kind = f"external:{system}"
    keys = [("email", r["email"]) for r in records if "email" in r]
    keys += [(ext_kind, r["external_id"]) for r in records if "external_id" in r]
    owner = owners(session, keys)
    domains = {r["account_domain"] for r in records if r.get("account_domain")}
    account_of = (
        dict(session.execute(select(Account.domain, Account.id).where(Account.domain.in_(domains))).all())
        if domains
        else {}
    )

    # Decide per row: update an existing contact, or create (rows in one chunk with the same key fold together).
    updates: dict[int, list[tuple[int, Record]]] = {}
    creates: dict[tuple[str, str], tuple[int, Record]] = {}
    for index, rec in enumerate(records):
        rec_keys: list[tuple[str, str]] = [
            (k, str(v)) for k, v in (("email", rec.get("email")), (ext_kind, rec.get("external_id"))) if v
        ]
        found = {owner[k] for k in rec_keys if k in owner}
        if len(found) > 1:
            out.problems[index] = (
                f"email and external_id belong to different contacts ({', '.join(map(str, sorted(found)))})"
            )
            continue
        if found:
            updates.setdefault(found.pop(), []).append((index, rec))
            continue
        pending = next((creates[k] for k in rec_keys if k in creates), None)
        if pending is not None:
            pending[1].update({k: v for k, v in rec.items() if v is not None})
            out.unchanged += 1  # folded into the row that creates the contact
            continue
        for k in rec_keys:
            creates[k] = (index, rec)

    now = utcnow()
    new_rows = list({id(r): (i, r) for i, r in creates.values()}.values())
    if new_rows:
        values = [_contact_insert(r, account_of, now) for _, r in new_rows]
        ids = insert_returning_ids(session, Contact, values)
        identities, stages = [], []
        for contact_id, (_, rec), row in zip(ids, new_rows, values, strict=True):
            if rec.get("email"):
                identities.append({"contact_id": contact_id, "kind": "email", "value": rec["email"], "created_at": now})
            if rec.get("external_id"):
                identities.append(
                    {"contact_id": contact_id, "kind": ext_kind, "value": rec["external_id"], "created_at": now}
                )
            stages.append(
                {
                    "contact_id": contact_id,
                    "from_stage": None,
                    "to_stage": row["lifecycle_stage"],
                    "changed_at": row["created_at"],
                    "source": "import",
                }
            )
        # Core inserts: these rows need none of the ORM's bookkeeping.
        if identities:
            session.execute(_table(Identity).insert(), identities)
        session.execute(_table(LifecycleStageChange).insert(), stages)
        out.created += len(new_rows)
        out.touched.extend(ids)

    if updates:
        stored = {
            r.id: r
            for r in session.execute(
                select(Contact.id, Contact.email_normalized, Contact.account_id, Contact.custom,
                       *(getattr(Contact, c) for c in _CONTACT_COLUMNS)).where(Contact.id.in_(list(updates)))
            )
        }  # fmt: skip
        changing = {
            cid: rows for cid, rows in updates.items()
            if any(_differs(stored[cid], rec, owner, ext_kind, account_of) for _, rec in rows)
        }  # fmt: skip
        out.unchanged += sum(len(rows) for cid, rows in updates.items() if cid not in changing)
        contacts = (
            {c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_(list(changing))))}
            if changing
            else {}
        )
        for contact_id, rows in changing.items():
            contact = contacts[contact_id]
            for index, rec in rows:
                reason = _update_contact(session, contact, rec, owner, ext_kind, account_of, now)
                if reason.startswith("!"):
                    out.problems[index] = reason[1:]
                elif reason == "updated":
                    out.updated += 1
                    out.touched.append(contact_id)
                else:
                    out.unchanged += 1
    return out


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


def _differs(
    row: Any, rec: Record, owner: dict[tuple[str, str], int], ext_kind: str, account_of: dict[str | None, int]
) -> bool:
    """Whether applying ``rec`` would change the stored contact (checked on plain rows, no ORM objects)."""
    if rec.get("email") and rec["email"] != row.email_normalized:
        return True
    if rec.get("external_id") and (ext_kind, rec["external_id"]) not in owner:
        return True
    if any(c in rec and getattr(row, c) != rec[c] for c in _CONTACT_COLUMNS):
        return True
    if rec.get("custom") and any(row.custom.get(k) != v for k, v in rec["custom"].items()):
        return True
    account_id = account_of.get(rec.get("account_domain") or "")
    return bool(account_id and row.account_id != account_id)


def _contact_insert(rec: Record, account_of: dict[str | None, int], now: datetime) -> Record:
    row = {c: rec.get(c) for c in _CONTACT_COLUMNS}
    row["email_normalized"] = rec.get("email")
    row["lifecycle_stage"] = rec.get("lifecycle_stage") or "subscriber"
    row["custom"] = rec.get("custom") or {}
    row["original_values"] = rec.get("original_values") or {}
    row["account_id"] = account_of.get(rec.get("account_domain") or "")
    row["created_at"] = rec.get("created_at") or now
    row["updated_at"] = now
    return row


def _update_contact(
    session: Session,
    contact: Contact,
    rec: Record,
    owner: dict[tuple[str, str], int],
    ext_kind: str,
    account_of: dict[str | None, int],
    now: datetime,
) -> str:
    if rec.get("email") and rec["email"] != contact.email_normalized:
        holder = owner.get(("email", rec["email"]))
        if holder is not None and holder != contact.id:
            return f"!email {rec['email']} already belongs to contact {holder}"
        session.add(Identity(contact_id=contact.id, kind="email", value=rec["email"], created_at=now))
        owner[("email", rec["email"])] = contact.id
        contact.email_normalized = rec["email"]
    if rec.get("external_id") and (ext_kind, rec["external_id"]) not in owner:
        session.add(Identity(contact_id=contact.id, kind=ext_kind, value=rec["external_id"], created_at=now))
        owner[(ext_kind, rec["external_id"])] = contact.id
    old_stage = contact.lifecycle_stage
    changed = _set_changed(contact, rec, _CONTACT_COLUMNS)
    if rec.get("custom"):
        merged = {**contact.custom, **rec["custom"]}
        if merged != contact.custom:
            contact.custom = merged
            changed.append("custom")
    originals = merged_originals(contact.original_values, rec, rec.get("original_values") or {})
    if changed and originals != contact.original_values:
        contact.original_values = originals
    account_id = account_of.get(rec.get("account_domain") or "")
    if account_id and contact.account_id != account_id:
        contact.account_id = account_id
        changed.append("account_id")
    if "lifecycle_stage" in changed:
        session.add(
            LifecycleStageChange(
                contact_id=contact.id,
                from_stage=old_stage,
                to_stage=contact.lifecycle_stage,
                changed_at=now,
                source="import",
            )
        )
    if changed:
        contact.updated_at = now
        return "updated"
    return "unchanged"


def write_accounts(session: Session, records: list[Record], *, system: str) -> ChunkOutcome:
    out = ChunkOutcome()
    ext_kind = f"external:{system}"
    by_ext = owners(
        session,
        accounts=True,
        keys=[(ext_kind, r["external_id"]) for r in records if "external_id" in r],
    )
    domains = {r["domain"] for r in records if "domain" in r}
    by_domain = (
        dict(session.execute(select(Account.domain, Account.id).where(Account.domain.in_(domains))).all())
        if domains
        else {}
    )
    now = utcnow()
    for index, rec in enumerate(records):
        account_id = by_ext.get((ext_kind, rec.get("external_id", ""))) or by_domain.get(rec.get("domain"))
        if account_id is None:
            if "name" not in rec:
                out.problems[index] = (
                    f"no account with external_id {rec.get('external_id')} to update, and no name to create one"
                )
                continue
            account = Account(
                **{c: rec[c] for c in _ACCOUNT_COLUMNS if c in rec},
                custom=rec.get("custom") or {},
                original_values=rec.get("original_values") or {},
                field_sources=stamp({}, [c for c in _ACCOUNT_COLUMNS if rec.get(c) is not None], f"import:{system}"),
                created_at=now,
                updated_at=now,
            )
            session.add(account)
            session.flush()
            if rec.get("domain"):
                by_domain[rec["domain"]] = account.id
            if rec.get("external_id"):
                session.add(
                    AccountIdentity(account_id=account.id, kind=ext_kind, value=rec["external_id"], created_at=now)
                )
                by_ext[(ext_kind, rec["external_id"])] = account.id
            out.created += 1
            continue
        stored = session.get(Account, account_id)
        assert stored is not None
        account = stored
        if (
            rec.get("domain")
            and rec["domain"] != account.domain
            and by_domain.get(rec["domain"], account.id) != account.id
        ):
            out.problems[index] = f"domain {rec['domain']} already belongs to account {by_domain[rec['domain']]}"
            continue
        changed = _set_changed(account, rec, _ACCOUNT_COLUMNS)
        if changed:
            account.field_sources = stamp(account.field_sources or {}, changed, f"import:{system}")
        if rec.get("custom") and {**account.custom, **rec["custom"]} != account.custom:
            account.custom = {**account.custom, **rec["custom"]}
            changed.append("custom")
        if rec.get("external_id") and (ext_kind, rec["external_id"]) not in by_ext:
            session.add(AccountIdentity(account_id=account.id, kind=ext_kind, value=rec["external_id"], created_at=now))
            by_ext[(ext_kind, rec["external_id"])] = account.id
        if changed:
            account.updated_at = now
            out.updated += 1
        else:
            out.unchanged += 1
    return out


def write_opportunities(session: Session, records: list[Record], *, system: str) -> ChunkOutcome:
    out = ChunkOutcome()
    ext_kind = f"external:{system}"
    existing = {
        o.external_id: o
        for o in session.scalars(
            select(Opportunity).where(Opportunity.external_id.in_([r["external_id"] for r in records]))
        )
    }
    accounts = owners(
        session,
        accounts=True,
        keys=[(ext_kind, r["account_external_id"]) for r in records if "account_external_id" in r],
    )
    domains = {r["account_domain"] for r in records if r.get("account_domain")}
    by_domain = (
        dict(session.execute(select(Account.domain, Account.id).where(Account.domain.in_(domains))).all())
        if domains
        else {}
    )
    emails = {r["contact_email"].lower() for r in records if "contact_email" in r}
    contacts = owners(session, [("email", e) for e in emails])
    now = utcnow()
    for index, rec in enumerate(records):
        values = {c: rec[c] for c in _OPPORTUNITY_COLUMNS if c in rec}
        if "account_external_id" in rec:
            account_id = accounts.get((ext_kind, rec["account_external_id"]))
            if account_id is None:
                out.problems[index] = (
                    f"no account with {ext_kind} id {rec['account_external_id']}; import accounts first"
                )
                continue
            values["account_id"] = account_id
        elif rec.get("account_domain"):
            values["account_id"] = by_domain.get(rec["account_domain"])
        if "contact_email" in rec:
            values["contact_id"] = contacts.get(("email", rec["contact_email"].lower()))
        if "stage" in values:
            values["is_closed"] = values["stage"].startswith("closed_")
            values["is_won"] = values["stage"] == "closed_won"
            if values["is_closed"] and not values.get("closed_at"):
                values["closed_at"] = now
        opp = existing.get(rec["external_id"])
        if opp is None:
            values.setdefault("opened_at", now)
            values.setdefault("stage", "discovery")
            opp = Opportunity(external_id=rec["external_id"], created_at=now, updated_at=now, **values)
            session.add(opp)
            existing[rec["external_id"]] = opp
            out.created += 1
            continue
        if _set_changed(opp, values, (*_OPPORTUNITY_COLUMNS, "account_id", "contact_id", "is_closed", "is_won")):
            opp.updated_at = now
            out.updated += 1
        else:
            out.unchanged += 1
    session.flush()
    return out


def write_spend(session: Session, records: list[Record], *, system: str) -> ChunkOutcome:
    del system
    out = ChunkOutcome()
    names = {r["campaign"] for r in records}
    campaign_of: dict[str, int] = {}
    for cid, name, utm in session.execute(
        select(Campaign.id, Campaign.name, Campaign.utm_campaign).where(
            Campaign.name.in_(names) | Campaign.utm_campaign.in_(names)
        )
    ):
        campaign_of[name] = cid
        if utm:
            campaign_of.setdefault(utm, cid)
    now = utcnow()
    for index, rec in enumerate(records):
        campaign_id = campaign_of.get(rec["campaign"])
        if campaign_id is None:
            out.problems[index] = f"no campaign named (or with utm_campaign) {rec['campaign']!r}; create it first"
            continue
        row = session.scalar(
            select(CampaignSpend).where(
                CampaignSpend.campaign_id == campaign_id,
                CampaignSpend.spend_date == rec["date"],
                CampaignSpend.channel == rec["channel"],
            )
        )
        if row is None:
            session.add(
                CampaignSpend(
                    campaign_id=campaign_id,
                    spend_date=rec["date"],
                    channel=rec["channel"],
                    amount=rec["amount"],
                    currency=rec["currency"],
                    source="import",
                    created_at=now,
                    updated_at=now,
                )
            )
            session.flush()
            out.created += 1
        elif row.amount != rec["amount"] or row.currency != rec["currency"]:
            row.amount, row.currency, row.updated_at = rec["amount"], rec["currency"], now
            out.updated += 1
        else:
            out.unchanged += 1
    return out


WRITERS = {
    "contacts": write_contacts,
    "accounts": write_accounts,
    "opportunities": write_opportunities,
    "campaign_spend": write_spend,
}
