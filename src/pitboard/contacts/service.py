"""Use cases for contacts, accounts and custom fields. Services flush; the caller commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.contacts import custom_fields
from pitboard.contacts.changes import contacts_changed
from pitboard.contacts.schemas import (
    AccountCreate,
    AccountUpdate,
    ContactCreate,
    ContactUpdate,
    CustomFieldCreate,
)
from pitboard.kit.actor import Actor
from pitboard.kit.crud import apply_changes, get_or_404, keyset_page
from pitboard.kit.errors import Conflict, ValidationFailed
from pitboard.kit.pagination import Page
from pitboard.kit.time import utcnow
from pitboard.lifecycle.definitions import stage_names
from pitboard.models import (
    Account,
    Contact,
    CustomFieldDefinition,
    Event,
    Identity,
    LifecycleStageChange,
    SalesUser,
)
from pitboard.quality.apply import Applied, account_values, contact_values, merged_originals
from pitboard.quality.enrich import stamp

CONTACT_FIELDS = [
    "email", "first_name", "last_name", "title", "phone", "company_name", "country", "region", "city",
    "account_id", "owner_id", "lifecycle_stage", "lead_source", "custom",
]  # fmt: skip
# Account fields whose source is recorded, so enrichment never overwrites a better value (quality/enrich.py).
_SOURCED = ("name", "industry", "employee_count", "annual_revenue", "country")
ACCOUNT_FIELDS = [
    "name", "domain", "industry", "employee_count", "annual_revenue", "country", "region", "owner_id", "custom",
]  # fmt: skip


# --- custom fields -------------------------------------------------------------------------------


def custom_field_specs(session: Session, entity: str) -> dict[str, custom_fields.FieldSpec]:
    rows = session.scalars(select(CustomFieldDefinition).where(CustomFieldDefinition.entity == entity))
    return {r.name: custom_fields.FieldSpec(r.name, r.field_type, tuple(r.options or ()), r.required) for r in rows}


def create_custom_field(session: Session, data: CustomFieldCreate, *, actor: Actor) -> CustomFieldDefinition:
    actor.require("admin")
    if data.entity not in custom_fields.ENTITIES:
        raise ValidationFailed(f"entity must be one of {', '.join(custom_fields.ENTITIES)}")
    try:
        custom_fields.check_definition(data.name, data.field_type, data.options)
    except custom_fields.CustomFieldError as exc:
        raise ValidationFailed(str(exc)) from exc
    exists = select(CustomFieldDefinition.id).where(
        CustomFieldDefinition.entity == data.entity, CustomFieldDefinition.name == data.name
    )
    if session.scalar(exists) is not None:
        raise Conflict(f"custom field {data.entity}.{data.name} already exists")
    row = CustomFieldDefinition(**data.model_dump())
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        entity_type="custom_field",
        entity_id=row.id,
        changes={"name": [None, f"{data.entity}.{data.name}"], "type": [None, data.field_type]},
    )
    return row


def list_custom_fields(session: Session, entity: str | None = None) -> list[CustomFieldDefinition]:
    stmt = select(CustomFieldDefinition).order_by(CustomFieldDefinition.entity, CustomFieldDefinition.name)
    if entity:
        stmt = stmt.where(CustomFieldDefinition.entity == entity)
    return list(session.scalars(stmt))


def _checked_custom(session: Session, entity: str, values: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    try:
        return custom_fields.coerce_all(custom_field_specs(session, entity), values, partial=partial)
    except custom_fields.CustomFieldError as exc:
        raise ValidationFailed(f"custom fields: {exc}") from exc


# --- contacts ------------------------------------------------------------------------------------


def _check_references(session: Session, values: dict[str, Any]) -> None:
    if values.get("account_id") is not None and session.get(Account, values["account_id"]) is None:
        raise ValidationFailed(f"account {values['account_id']} does not exist")
    if values.get("owner_id") is not None and session.get(SalesUser, values["owner_id"]) is None:
        raise ValidationFailed(f"sales user {values['owner_id']} does not exist")
    stage = values.get("lifecycle_stage")
    if stage is not None:
        stages = stage_names(session)  # the applied lifecycle definition's, else the default ladder
        if stage not in stages:
            raise ValidationFailed(f"lifecycle_stage must be one of {', '.join(stages)}, not {stage!r}")


def _normalized(applied: Applied) -> dict[str, Any]:
    if applied.rejects:
        raise ValidationFailed(applied.reject_message, details=applied.rejects)
    return applied.values


def _claim_email(session: Session, contact: Contact, email_normalized: str) -> None:
    owner = session.scalar(
        select(Identity.contact_id).where(Identity.kind == "email", Identity.value == email_normalized)
    )
    if owner is not None and owner != contact.id:
        raise Conflict(f"contact {owner} already has the email {email_normalized}", details={"contact_id": owner})
    if owner is None:
        session.add(Identity(contact_id=contact.id, kind="email", value=email_normalized, created_at=utcnow()))


def record_stage_change(
    session: Session, contact: Contact, from_stage: str | None, to_stage: str, *, source: str, reason: str | None = None
) -> None:
    session.add(
        LifecycleStageChange(
            contact_id=contact.id,
            from_stage=from_stage,
            to_stage=to_stage,
            changed_at=utcnow(),
            source=source,
            reason=reason,
        )
    )


def create_contact(session: Session, data: ContactCreate, *, actor: Actor) -> Contact:
    actor.require("editor")
    applied = contact_values(data.model_dump())
    values = _normalized(applied)
    _check_references(session, values)
    values["custom"] = _checked_custom(session, "contact", values["custom"], partial=False)
    values["email_normalized"] = values["email"]
    values["original_values"] = applied.originals
    contact = Contact(**values)
    session.add(contact)
    session.flush()
    if contact.email_normalized:
        _claim_email(session, contact, contact.email_normalized)
    record_stage_change(session, contact, None, contact.lifecycle_stage, source=actor.interface)
    audit.created_recorded(session, contact, actor=actor, entity_type="contact", fields=CONTACT_FIELDS)
    session.flush()
    contacts_changed(session, [contact.id], reason="created")
    return contact


def get_contact(session: Session, contact_id: int) -> Contact:
    return get_or_404(session, Contact, contact_id, "contact")


def update_contact(session: Session, contact_id: int, data: ContactUpdate, *, actor: Actor) -> Contact:
    actor.require("editor")
    contact = get_contact(session, contact_id)
    applied = contact_values(data.model_dump(exclude_unset=True))
    values = _normalized(applied)
    _check_references(session, values)
    if "custom" in values:
        merged = {**contact.custom, **(values["custom"] or {})}
        values["custom"] = _checked_custom(session, "contact", merged, partial=False)
    if "lifecycle_stage" in values and values["lifecycle_stage"] is None:
        raise ValidationFailed("lifecycle_stage cannot be empty")
    if "email" in values:
        values["email_normalized"] = values["email"]
    originals = merged_originals(contact.original_values, values, applied.originals)
    if originals != contact.original_values:
        values["original_values"] = originals
    old_stage = contact.lifecycle_stage
    old_email = contact.email_normalized
    diff = apply_changes(contact, values)
    if not diff:
        return contact
    if "email_normalized" in diff:
        if old_email:
            session.execute(
                delete(Identity).where(
                    Identity.contact_id == contact.id, Identity.kind == "email", Identity.value == old_email
                )
            )
        if contact.email_normalized:
            _claim_email(session, contact, contact.email_normalized)
    if "lifecycle_stage" in diff:
        record_stage_change(session, contact, old_stage, contact.lifecycle_stage, source=actor.interface)
    for internal in ("email_normalized", "original_values"):
        diff.pop(internal, None)
    audit.record(session, actor=actor, action="update", entity_type="contact", entity_id=contact.id, changes=diff)
    session.flush()
    contacts_changed(session, [contact.id], reason="updated")
    return contact


def delete_contact(session: Session, contact_id: int, *, actor: Actor) -> None:
    actor.require("editor")
    record = get_contact(session, contact_id)
    audit.delete_recorded(session, record, actor=actor, entity_type="contact", label="email")
    # Segments close the deleted contact's open stays (their member ids are not foreign keys).
    contacts_changed(session, [contact_id], reason="deleted")


@dataclass(frozen=True)
class ContactFilter:
    q: str | None = None
    email: str | None = None
    country: str | None = None
    lifecycle_stage: str | None = None
    account_id: int | None = None
    owner_id: int | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    account_match: str | None = None
    custom: tuple[tuple[str, str], ...] = ()


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contact_query(session: Session, f: ContactFilter) -> Select[Contact]:
    stmt = select(Contact)
    if f.q:
        term = f"%{escape_like(f.q.strip().lower())}%"
        stmt = stmt.where(
            or_(
                Contact.email_normalized.like(term, escape="\\"),
                func.lower(Contact.first_name + " " + Contact.last_name).like(term, escape="\\"),
                func.lower(Contact.last_name).like(term, escape="\\"),
                func.lower(Contact.company_name).like(term, escape="\\"),
            )
        )
    if f.email:
        stmt = stmt.where(Contact.email_normalized == f.email.strip().lower())
    if f.country:
        stmt = stmt.where(Contact.country == f.country.upper())
    if f.lifecycle_stage:
        stmt = stmt.where(Contact.lifecycle_stage == f.lifecycle_stage)
    if f.account_id is not None:
        stmt = stmt.where(Contact.account_id == f.account_id)
    if f.owner_id is not None:
        stmt = stmt.where(Contact.owner_id == f.owner_id)
    if f.created_after:
        stmt = stmt.where(Contact.created_at >= f.created_after)
    if f.created_before:
        stmt = stmt.where(Contact.created_at < f.created_before)
    if f.updated_after:
        stmt = stmt.where(Contact.updated_at >= f.updated_after)
    if f.account_match:
        stmt = stmt.where(Contact.account_match == f.account_match)
    if f.custom:
        specs = custom_field_specs(session, "contact")
        for name, raw in f.custom:
            stmt = stmt.where(_custom_equals(Contact.custom, specs, name, raw))
    return stmt


def _custom_equals(column: Any, specs: dict[str, custom_fields.FieldSpec], name: str, raw: str) -> Any:
    spec = specs.get(name)
    if spec is None:
        raise ValidationFailed(f"custom.{name} is not a defined custom field")
    try:
        value = custom_fields.coerce(spec, raw)
    except custom_fields.CustomFieldError as exc:
        raise ValidationFailed(str(exc)) from exc
    if spec.field_type in ("number", "integer"):
        return column[name].as_float() == float(value)
    if spec.field_type == "boolean":
        return column[name].as_boolean() == bool(value)
    if spec.field_type == "multi_enum":
        raise ValidationFailed(f"custom.{name} is a multi_enum; filtering on it comes with segments")
    return column[name].as_string() == str(value)


def list_contacts(session: Session, f: ContactFilter, *, cursor: str | None = None, limit: int = 50) -> Page[Contact]:
    return keyset_page(session, contact_query(session, f), Contact.id, cursor=cursor, limit=limit)


def count_contacts(session: Session, f: ContactFilter) -> int:
    return session.scalar(select(func.count()).select_from(contact_query(session, f).subquery())) or 0


def contact_timeline(
    session: Session, contact_id: int, *, limit: int = 100, before: datetime | None = None
) -> list[Event]:
    stmt = select(Event).where(Event.contact_id == contact_id)
    if before is not None:
        stmt = stmt.where(Event.occurred_at < before)
    return list(session.scalars(stmt.order_by(Event.occurred_at.desc(), Event.id.desc()).limit(limit)))


def contact_identities(session: Session, contact_id: int) -> list[Identity]:
    return list(session.scalars(select(Identity).where(Identity.contact_id == contact_id).order_by(Identity.kind)))


def stage_history(session: Session, contact_id: int) -> list[LifecycleStageChange]:
    stmt = (
        select(LifecycleStageChange)
        .where(LifecycleStageChange.contact_id == contact_id)
        .order_by(LifecycleStageChange.changed_at, LifecycleStageChange.id)
    )
    return list(session.scalars(stmt))


# --- accounts ------------------------------------------------------------------------------------


def create_account(session: Session, data: AccountCreate, *, actor: Actor) -> Account:
    actor.require("editor")
    applied = account_values(data.model_dump())
    values = _normalized(applied)
    values["original_values"] = applied.originals
    values["field_sources"] = stamp({}, [f for f in _SOURCED if values.get(f) not in (None, "")], actor.interface)
    _check_references(session, values)
    values["custom"] = _checked_custom(session, "account", values["custom"], partial=False)
    if values["domain"] and session.scalar(select(Account.id).where(Account.domain == values["domain"])):
        raise Conflict(f"an account with domain {values['domain']} already exists")
    account = Account(**values)
    session.add(account)
    session.flush()
    audit.created_recorded(session, account, actor=actor, entity_type="account", fields=ACCOUNT_FIELDS)
    return account


def get_account(session: Session, account_id: int) -> Account:
    return get_or_404(session, Account, account_id, "account")


def update_account(session: Session, account_id: int, data: AccountUpdate, *, actor: Actor) -> Account:
    actor.require("editor")
    account = get_account(session, account_id)
    applied = account_values(data.model_dump(exclude_unset=True))
    values = _normalized(applied)
    if "name" in values and not values["name"]:
        raise ValidationFailed("name cannot be empty")
    originals = merged_originals(account.original_values, values, applied.originals)
    if originals != account.original_values:
        values["original_values"] = originals
    written = [f for f in _SOURCED if f in values and values[f] != getattr(account, f)]
    if written:
        values["field_sources"] = stamp(account.field_sources or {}, written, actor.interface)
    if "domain" in values:
        clash = session.scalar(select(Account.id).where(Account.domain == values["domain"], Account.id != account_id))
        if values["domain"] and clash:
            raise Conflict(f"account {clash} already has the domain {values['domain']}")
    _check_references(session, values)
    if "custom" in values:
        values["custom"] = _checked_custom(
            session, "account", {**account.custom, **(values["custom"] or {})}, partial=False
        )
    diff = audit.update_recorded(session, account, values, actor=actor, entity_type="account",
                                 internal=("original_values", "field_sources"))  # fmt: skip
    if diff:
        # Conditions read account fields (scoring fit, lifecycle rules, segments): the account's contacts changed.
        _account_contacts_changed(session, account_id, reason="account updated")
    return account


def delete_account(session: Session, account_id: int, *, actor: Actor) -> None:
    actor.require("editor")
    record = get_account(session, account_id)
    contact_ids = list(session.scalars(select(Contact.id).where(Contact.account_id == account_id)))
    audit.delete_recorded(session, record, actor=actor, entity_type="account", label="name")
    contacts_changed(session, contact_ids, reason="account deleted")


def _account_contacts_changed(session: Session, account_id: int, *, reason: str) -> None:
    ids = session.scalars(select(Contact.id).where(Contact.account_id == account_id))
    contacts_changed(session, ids, reason=reason)


@dataclass(frozen=True)
class AccountFilter:
    q: str | None = None
    domain: str | None = None
    country: str | None = None
    industry: str | None = None
    owner_id: int | None = None
    custom: tuple[tuple[str, str], ...] = ()


def account_query(session: Session, f: AccountFilter) -> Select[Account]:
    stmt = select(Account)
    if f.q:
        term = f"%{escape_like(f.q.strip().lower())}%"
        stmt = stmt.where(or_(func.lower(Account.name).like(term, escape="\\"), Account.domain.like(term, escape="\\")))
    if f.domain:
        stmt = stmt.where(Account.domain == f.domain.strip().lower())
    if f.country:
        stmt = stmt.where(Account.country == f.country.upper())
    if f.industry:
        stmt = stmt.where(Account.industry == f.industry)
    if f.owner_id is not None:
        stmt = stmt.where(Account.owner_id == f.owner_id)
    if f.custom:
        specs = custom_field_specs(session, "account")
        for name, raw in f.custom:
            stmt = stmt.where(_custom_equals(Account.custom, specs, name, raw))
    return stmt


def list_accounts(session: Session, f: AccountFilter, *, cursor: str | None = None, limit: int = 50) -> Page[Account]:
    return keyset_page(session, account_query(session, f), Account.id, cursor=cursor, limit=limit)
