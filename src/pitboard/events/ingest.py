"""Store normalised tracking messages and resolve who they are about.

One batch is handled in one transaction: duplicates (a ``messageId`` we already have) are skipped
before any side effect, so a client that retries never changes anything twice; identity keys of the
whole batch are loaded with one query and resolved in memory, in message order; events are written
with one multi-row insert that also ignores a concurrent duplicate.

Who is who: a message's user id, email and anonymous id each map to at most one contact
(``identities``). A contact is created once a message names a user id or an email we have not seen;
a purely anonymous visitor's events wait with ``contact_id`` empty and are attached the moment an
``identify`` or ``alias`` links that anonymous id. When a message's keys point at two different
contacts they are one person: they are merged (recorded, reversible).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Integer, Table, bindparam, insert, or_, select, update, values
from sqlalchemy import column as sa_column
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from pitboard.contacts.changes import contacts_changed
from pitboard.contacts.identities import owners
from pitboard.contacts.merge import merge_contacts
from pitboard.events.normalize import NormalizedMessage
from pitboard.kit.actor import Actor
from pitboard.kit.db import UTCDateTime, insert_returning_ids
from pitboard.kit.emails import InvalidEmail, normalize_email
from pitboard.kit.time import utcnow
from pitboard.models import (
    Account,
    AccountIdentity,
    AuditEntry,
    Campaign,
    Contact,
    Event,
    Identity,
    LifecycleStageChange,
    Source,
)
from pitboard.quality.apply import contact_values, merged_originals

_CHUNK = 500
# Segment trait → contact column; the first trait present wins.
_TRAIT_FIELDS: dict[str, tuple[str, ...]] = {
    "first_name": ("firstName", "first_name"),
    "last_name": ("lastName", "last_name"),
    "title": ("title", "jobTitle", "job_title"),
    "phone": ("phone",),
    "city": ("city",),
}


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    contacts_created: int = 0
    merges: int = 0
    problems: list[str] = field(default_factory=list)


def _chunks(items: list[Any], size: int = _CHUNK) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _email(message: NormalizedMessage) -> str | None:
    if not message.email:
        return None
    try:
        return normalize_email(message.email)
    except InvalidEmail:
        return None  # kept in the event's traits; never used as an identity


class _Resolver:
    """The batch's identity map: (kind, value) → contact id, loaded once and kept current."""

    def __init__(self, session: Session, actor: Actor, result: IngestResult) -> None:
        self.session, self.actor, self.result = session, actor, result
        self.owner: dict[tuple[str, str], int] = {}
        self.merged_into: dict[int, int] = {}
        self.new_anonymous: list[tuple[str, int]] = []

    def preload(self, keys: set[tuple[str, str]]) -> None:
        self.owner.update(owners(self.session, keys))

    def current(self, contact_id: int) -> int:
        while contact_id in self.merged_into:
            contact_id = self.merged_into[contact_id]
        return contact_id

    def resolve(self, keys: list[tuple[str, str]], *, received_at: datetime) -> int | None:
        owners: list[int] = []
        for key in keys:
            if key in self.owner:
                cid = self.current(self.owner[key])
                if cid not in owners:
                    owners.append(cid)
        if len(owners) > 1:
            survivor = min(owners)  # the oldest record survives: it carries the longest history
            owners = [survivor, *(o for o in owners if o != survivor)]
            for other in owners[1:]:
                merge_contacts(self.session, survivor_id=survivor, merged_id=other, actor=self.actor,
                               reason="identity resolution: one message named both contacts")  # fmt: skip
                self.merged_into[other] = survivor
                self.result.merges += 1
        contact_id = owners[0] if owners else None
        if contact_id is not None:
            for key in keys:
                if key not in self.owner:
                    self.session.add(Identity(contact_id=contact_id, kind=key[0], value=key[1], created_at=received_at))
                    self.owner[key] = contact_id
                    if key[0] == "anonymous_id":
                        self.new_anonymous.append((key[1], contact_id))
                else:
                    self.owner[key] = self.current(self.owner[key])
        return contact_id

    def create_missing(self, batch: list[tuple[list[tuple[str, str]], bool, datetime]]) -> None:
        """Create, in one multi-row insert, a contact for every message whose keys are all unknown.

        Doing this up front instead of one flush per new person is what keeps a batch of first-time
        visitors fast; everything else (linking more keys, merging) then runs in message order.
        """
        pending: dict[tuple[str, str], int] = {}
        new: list[tuple[list[tuple[str, str]], datetime]] = []
        for keys, create, received_at in batch:
            if not create or any(k in self.owner or k in pending for k in keys):
                continue
            for key in keys:
                pending[key] = len(new)
            new.append((keys, received_at))
        if not new:
            return
        rows: list[dict[str, Any]] = []
        for keys, received_at in new:
            email = next((v for k, v in keys if k == "email"), None)
            rows.append(
                {"email": email, "email_normalized": email, "lifecycle_stage": "subscriber", "custom": {},
                 "lead_source": "tracking_api", "created_at": received_at, "updated_at": received_at}
            )  # fmt: skip
        ids = insert_returning_ids(self.session, Contact, rows)
        identities, stages, audits = [], [], []
        for contact_id, (keys, received_at) in zip(ids, new, strict=True):
            for kind, value in keys:
                identities.append({"contact_id": contact_id, "kind": kind, "value": value, "created_at": received_at})
                self.owner[(kind, value)] = contact_id
                if kind == "anonymous_id":
                    self.new_anonymous.append((value, contact_id))
            stages.append({"contact_id": contact_id, "from_stage": None, "to_stage": "subscriber",
                           "changed_at": received_at, "source": "api"})  # fmt: skip
            audits.append({"occurred_at": received_at, "actor": self.actor.name, "interface": self.actor.interface,
                           "action": "create", "entity_type": "contact", "entity_id": str(contact_id),
                           "changes": {"identified_by": [None, [f"{k}:{v}" for k, v in keys]]}})  # fmt: skip
        self.session.execute(insert(Identity), identities)
        self.session.execute(insert(LifecycleStageChange), stages)
        self.session.execute(insert(AuditEntry), audits)
        self.result.contacts_created += len(ids)


def _keys(message: NormalizedMessage, email: str | None, resolver: _Resolver) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    if message.user_id:
        keys.append(("user_id", message.user_id))
    if email:
        keys.append(("email", email))
    if message.anonymous_id:
        keys.append(("anonymous_id", message.anonymous_id))
    if message.previous_id:
        # alias(previousId → userId): the previous id was a user id if we know it as one, else an anonymous id.
        kind = "user_id" if ("user_id", message.previous_id) in resolver.owner else "anonymous_id"
        keys.append((kind, message.previous_id))
    return keys


def _trait(traits: dict[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = traits.get(name)
        if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


def _trait_values(traits: dict[str, Any]) -> dict[str, Any]:
    """Contact fields named by Segment's reserved traits (the first spelling present wins)."""
    values: dict[str, Any] = {}
    for column, names in _TRAIT_FIELDS.items():
        value = _trait(traits, names)
        if value is not None:
            values[column] = value
    full = _trait(traits, ("name",))
    if full and "first_name" not in values:
        first, _, last = full.partition(" ")
        values["first_name"] = first
        if last:
            values.setdefault("last_name", last)
    company = traits.get("company")
    company_name = company.get("name") if isinstance(company, dict) else company
    if isinstance(company_name, str) and company_name.strip():
        values["company_name"] = company_name.strip()
    address = traits.get("address") if isinstance(traits.get("address"), dict) else {}
    for column in ("country", "city", "state"):
        value = _trait(address or {}, (column,)) or _trait(traits, (column,))
        if value:
            values["region" if column == "state" else column] = value
    return values


def _apply_traits(contact: Contact, traits: dict[str, Any]) -> None:
    """Fill contact fields from identify traits, normalised like every other write path. A value that
    cannot be stored (an unknown country) is skipped; all traits are kept whole on the event anyway."""
    applied = contact_values(_trait_values(traits))
    written = {k: v for k, v in applied.values.items() if k not in applied.rejects and v is not None}
    for column, value in written.items():
        limit = getattr(getattr(Contact, column).type, "length", None)
        setattr(contact, column, value[:limit] if isinstance(value, str) and limit else value)
    originals = merged_originals(contact.original_values or {}, written, applied.originals)
    if originals != contact.original_values:
        contact.original_values = originals


def _group_account(session: Session, message: NormalizedMessage, received_at: datetime) -> int:
    assert message.group_id is not None
    key = ("group_id", message.group_id)
    account_id = session.scalar(
        select(AccountIdentity.account_id).where(AccountIdentity.kind == key[0], AccountIdentity.value == key[1])
    )
    traits = message.traits
    if account_id is None:
        name = _trait(traits, ("name",)) or message.group_id
        account = Account(name=name[:300], custom={}, created_at=received_at, updated_at=received_at)
        session.add(account)
        session.flush()
        session.add(AccountIdentity(account_id=account.id, kind=key[0], value=key[1], created_at=received_at))
        account_id = account.id
    stored = session.get(Account, account_id)
    assert stored is not None
    account = stored
    if (industry := _trait(traits, ("industry",))) is not None:
        account.industry = industry[:100]
    employees = traits.get("employees")
    if isinstance(employees, int) and not isinstance(employees, bool) and employees >= 0:
        account.employee_count = employees
    return account_id


def _insert_events(session: Session, rows: list[dict[str, Any]]) -> None:
    # Core executemany on the table: one cached statement, batched by the driver ("insertmanyvalues"),
    # and a concurrent duplicate message id is skipped rather than failing the batch.
    connection = session.connection()
    insert_fn = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    table = cast(Table, Event.__table__)
    stmt = insert_fn(table).on_conflict_do_nothing(index_elements=["message_id"])
    connection.execute(stmt, rows)


def ingest_messages(
    session: Session, messages: list[NormalizedMessage], *, source: Source, actor: Actor
) -> IngestResult:
    result = IngestResult()
    unique: dict[str, NormalizedMessage] = {}
    for m in messages:
        unique.setdefault(m.message_id, m)
    result.duplicates = len(messages) - len(unique)
    ids = list(unique)
    for chunk in _chunks(ids):
        for seen in session.scalars(select(Event.message_id).where(Event.message_id.in_(chunk))):
            unique.pop(seen, None)
            result.duplicates += 1
    if not unique:
        return result

    resolver = _Resolver(session, actor, result)
    emails = {mid: _email(m) for mid, m in unique.items()}
    all_keys = {k for mid, m in unique.items() for k in _keys(m, emails[mid], resolver)}
    all_keys |= {("user_id", m.previous_id) for m in unique.values() if m.previous_id}
    resolver.preload(all_keys)
    with_utm = select(Campaign.utm_campaign, Campaign.id).where(Campaign.utm_campaign.is_not(None))
    campaigns: dict[str | None, int] = dict(session.execute(with_utm).all())

    keyed = [(mid, m, _keys(m, emails[mid], resolver)) for mid, m in unique.items()]
    # A contact is created once a message names a user id or an email we have not seen.
    resolver.create_missing([(keys, bool(m.user_id or emails[mid]), m.received_at) for mid, m, keys in keyed])
    rows: list[dict[str, Any]] = []
    contact_of: list[int | None] = []
    for _mid, m, keys in keyed:
        contact_id = resolver.resolve(keys, received_at=m.received_at)
        if contact_id is not None and m.event_type == "identify":
            contact = session.get(Contact, contact_id)
            assert contact is not None
            _apply_traits(contact, m.traits)
        if m.event_type == "group" and m.group_id:
            account_id = _group_account(session, m, m.received_at)
            if contact_id is not None:
                contact = session.get(Contact, contact_id)
                assert contact is not None
                contact.account_id = account_id
        contact_of.append(contact_id)
        rows.append(_event_row(m, source, campaigns))
    for row, contact_id in zip(rows, contact_of, strict=True):
        row["contact_id"] = resolver.current(contact_id) if contact_id is not None else None
    session.flush()
    _insert_events(session, rows)
    for anonymous_id, contact_id in resolver.new_anonymous:
        session.execute(
            update(Event)
            .where(Event.anonymous_id == anonymous_id, Event.contact_id.is_(None))
            .values(contact_id=resolver.current(contact_id))
        )
    _touch_contacts(session, rows)
    contacts_changed(session, (row["contact_id"] for row in rows), reason="events")
    source.last_event_at = utcnow()
    result.accepted = len(rows)
    return result


def contract_view(m: NormalizedMessage) -> dict[str, Any]:
    """What a contract's field paths address on an event: Segment's names and pitboard's."""
    return {
        "type": m.event_type, "event": m.name, "name": m.name, "userId": m.user_id, "user_id": m.user_id,
        "anonymousId": m.anonymous_id, "anonymous_id": m.anonymous_id, "email": m.email,
        "properties": m.properties, "traits": m.traits, "context": m.context, "utm": m.utm, "channel": m.channel,
        "timestamp": m.occurred_at.isoformat(), "occurred_at": m.occurred_at.isoformat(),
    }  # fmt: skip


def _event_row(m: NormalizedMessage, source: Source, campaigns: dict[str | None, int]) -> dict[str, Any]:
    properties = dict(m.properties)
    if m.event_type in ("identify", "group") and m.traits:
        properties = {**properties, "traits": m.traits}
    if m.group_id:
        properties.setdefault("group_id", m.group_id)
    if m.previous_id:
        properties.setdefault("previous_id", m.previous_id)
    context = {**m.context, "integrations": m.integrations} if m.integrations else m.context
    return {
        "message_id": m.message_id, "event_type": m.event_type, "name": m.name, "anonymous_id": m.anonymous_id,
        "user_id": m.user_id, "occurred_at": m.occurred_at, "received_at": m.received_at, "sent_at": m.sent_at,
        "original_timestamp": m.original_timestamp, "properties": properties, "context": context,
        "utm_source": m.utm.get("source"), "utm_medium": m.utm.get("medium"), "utm_campaign": m.utm.get("campaign"),
        "utm_term": m.utm.get("term"), "utm_content": m.utm.get("content"), "channel": m.channel,
        "campaign_id": campaigns.get(m.utm.get("campaign")), "source": source.name,
    }  # fmt: skip


def _touch_contacts(session: Session, rows: list[dict[str, Any]]) -> None:
    """Move each touched contact's ``last_activity_at`` forward.

    PostgreSQL gets one UPDATE … FROM (VALUES …) for the whole batch (a statement per contact costs a
    server round trip each); SQLite, in-process, runs the per-contact executemany, which it does fast
    and whose VALUES-alias syntax it lacks.
    """
    latest: dict[int, datetime] = {}
    for row in rows:
        cid = row["contact_id"]
        if cid is not None and (cid not in latest or row["occurred_at"] > latest[cid]):
            latest[cid] = row["occurred_at"]
    if not latest:
        return
    if session.get_bind().dialect.name == "postgresql":
        newest = values(sa_column("cid", Integer), sa_column("ts", UTCDateTime()), name="newest")
        newest = newest.data(list(latest.items()))
        cid, ts = newest.c.cid, newest.c.ts
        params: list[dict[str, Any]] | None = None
    else:
        cid, ts = bindparam("cid"), bindparam("ts", type_=UTCDateTime())
        params = [{"cid": c, "ts": t} for c, t in latest.items()]
    stmt = (
        update(Contact)
        .where(Contact.id == cid)
        .where(or_(Contact.last_activity_at.is_(None), Contact.last_activity_at < ts))
        .values(last_activity_at=ts)
        .execution_options(synchronize_session=False)
    )
    session.connection().execute(stmt, params)
