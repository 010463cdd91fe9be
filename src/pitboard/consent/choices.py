"""What people do themselves: opt in (with double opt-in where the purpose asks for it), confirm,
change their preferences and unsubscribe. Each call appends to the ledger; repeating a call appends
nothing new (a confirmation link clicked twice, a one-click unsubscribe posted twice).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.consent import ledger
from pitboard.consent.hashing import address_kind, salt, subject_hash
from pitboard.consent.ledger import ConsentEntry
from pitboard.consent.purposes import load_purposes
from pitboard.consent.suppression import lift_self_liftable, suppress
from pitboard.consent.tokens import double_opt_in_url
from pitboard.contacts.identities import email_addresses
from pitboard.kit.actor import Actor
from pitboard.kit.errors import NotFound, ValidationFailed
from pitboard.models import ConsentRecord, ConsentState, Contact, ContactMerge
from pitboard.settings import Settings

# Sources where the address has not been proven to belong to the person giving consent.
_UNPROVEN_SOURCES = frozenset({"form", "api", "tracking"})


@dataclass
class Outcome:
    records: list[ConsentRecord] = field(default_factory=list)
    confirmation_message_id: int | None = None
    notes: list[str] = field(default_factory=list)


def resolve_contact(session: Session, contact_id: int) -> Contact:
    """The contact a link was made for, following merges (the link may predate one)."""
    seen: set[int] = set()
    current = contact_id
    while current not in seen:
        seen.add(current)
        contact = session.get(Contact, current)
        if contact is not None:
            return contact
        survivor = session.scalar(
            select(ContactMerge.survivor_id)
            .where(ContactMerge.merged_id == current, ContactMerge.undone_at.is_(None))
            .order_by(ContactMerge.id.desc())
        )
        if survivor is None:
            break
        current = survivor
    raise NotFound("this link belongs to a person we no longer hold data about")


def give(
    session: Session, *, contact_id: int, entries: list[ConsentEntry], actor: Actor, settings: Settings,
    confirmed: bool = False,
) -> Outcome:  # fmt: skip
    """Record consent entries. A grant of email consent for a double opt-in purpose from an unproven source
    is recorded as ``pending`` and a confirmation email is queued, unless the caller says it was confirmed."""
    purposes = load_purposes(session)
    outcome = Outcome()
    pending: list[ConsentRecord] = []
    for entry in entries:
        purpose = purposes.get(entry.purpose)
        needs_doi = (
            purpose is not None and purpose.double_opt_in and entry.channel == "email" and entry.status == "granted"
            and entry.lawful_basis == "consent" and entry.source in _UNPROVEN_SOURCES and not confirmed
        )  # fmt: skip
        if needs_doi:
            current = _state(session, contact_id, entry.channel, entry.purpose)
            if current is not None and current.status == "granted":
                outcome.notes.append(f"{entry.purpose}: already confirmed")
                continue
            rec = ledger.record(session, contact_id=contact_id, entry=replace(entry, status="pending"), actor=actor)
            pending.append(rec)
        else:
            rec = ledger.record(session, contact_id=contact_id, entry=entry, actor=actor)
        outcome.records.append(rec)
    if pending:
        outcome.confirmation_message_id = _send_confirmation(session, contact_id, pending, settings)
    return outcome


def _send_confirmation(session: Session, contact_id: int, pending: list[ConsentRecord], settings: Settings) -> int:
    from pitboard.messaging.outbox import enqueue_email
    from pitboard.messaging.render import render_email

    contact = session.get(Contact, contact_id)
    assert contact is not None
    purposes = load_purposes(session)
    url = double_opt_in_url(settings, contact_id=contact_id, record_ids=[r.id for r in pending])
    labels = [purposes[r.purpose].label for r in pending]
    rendered = render_email(
        "double_opt_in_confirm",
        {
            "contact": contact,
            "purposes": labels,
            "confirm_url": url,
            "expires_hours": settings.double_opt_in_max_age_hours,
        },
    )
    message = enqueue_email(
        session, contact_id=contact_id, kind="transactional", purpose=None, template="double_opt_in_confirm",
        subject=rendered.subject, text=rendered.text, html=rendered.html,
        idempotency_key=f"double-opt-in:{pending[0].id}", settings=settings,
    )  # fmt: skip
    return message.id


def _state(session: Session, contact_id: int, channel: str, purpose: str) -> ConsentState | None:
    return session.scalar(
        select(ConsentState).where(
            ConsentState.contact_id == contact_id, ConsentState.channel == channel, ConsentState.purpose == purpose
        )
    )


def confirm(
    session: Session, *, token_payload: dict[str, object], ip_address: str | None, user_agent: str | None
) -> Outcome:
    """Confirm the pending grants a double opt-in link names. A grant is confirmed only while the pending
    record is still the current state: someone who withdrew after asking is not silently re-subscribed."""
    raw_ids = token_payload.get("r")
    if not isinstance(raw_ids, list):
        raise ValidationFailed("this link is not valid")
    contact = resolve_contact(session, int(str(token_payload.get("c"))))
    actor = Actor(name=f"contact:{contact.id}", interface="web", role="viewer")
    outcome = Outcome()
    for rid in (int(r) for r in raw_ids):
        pending = session.get(ConsentRecord, rid)
        if pending is None:
            continue
        state = _state(session, contact.id, pending.channel, pending.purpose)
        if state is not None and state.status == "granted" and state.source == "double_opt_in":
            outcome.notes.append(f"{pending.purpose}: already confirmed")
            continue
        if state is None or state.record_id != pending.id:
            outcome.notes.append(f"{pending.purpose}: changed since this link was sent; not confirmed")
            continue
        entry = ConsentEntry(
            channel=pending.channel, purpose=pending.purpose, status="granted", source="double_opt_in",
            lawful_basis=pending.lawful_basis, consent_text=pending.consent_text, policy_version=pending.policy_version,
            ip_address=ip_address, user_agent=user_agent, evidence={"confirms_record": pending.id},
            idempotency_key=f"double-opt-in-confirm:{pending.id}",
        )  # fmt: skip
        outcome.records.append(ledger.record(session, contact_id=contact.id, entry=entry, actor=actor))
    if outcome.records:
        # The person proved the address is theirs and asked for mail: their own earlier unsubscribe or
        # erasure no longer stands in the way. Bounces and complaints still do (an admin lifts those).
        lift_self_liftable(session, hashes=email_hashes(session, contact), channel="email",
                           reason="confirmed a new double opt-in", actor=actor)  # fmt: skip
    return outcome


def email_hashes(session: Session, contact: Contact) -> list[str]:
    key = salt(session)
    return [subject_hash(key, address_kind("email"), a) for a in email_addresses(session, contact)]


def unsubscribe(
    session: Session, *, contact_id: int, purpose: str | None, ip_address: str | None, user_agent: str | None,
    evidence: dict[str, object] | None = None,
) -> Outcome:  # fmt: skip
    """Withdraw email consent for one purpose, or for all of them (``purpose=None``), which also suppresses
    the address for marketing so that no purpose — including opt-out ones — reaches it again."""
    contact = resolve_contact(session, contact_id)
    actor = Actor(name=f"contact:{contact.id}", interface="web", role="viewer")
    purposes = load_purposes(session)
    keys = [purpose] if purpose else [k for k, p in purposes.items() if "email" in p.channels]
    outcome = Outcome()
    for key in keys:
        if key not in purposes:
            raise ValidationFailed(f"unknown consent purpose {key!r}")
        state = _state(session, contact.id, "email", key)
        if state is not None and state.status in ("withdrawn", "denied"):
            continue
        if state is None and purposes[key].regime == "opt_in" and purpose is None:
            continue  # never consented: nothing to withdraw
        entry = ConsentEntry(channel="email", purpose=key, status="withdrawn", source="unsubscribe",
                             ip_address=ip_address, user_agent=user_agent, evidence=dict(evidence or {}))  # fmt: skip
        outcome.records.append(ledger.record(session, contact_id=contact.id, entry=entry, actor=actor))
    if purpose is None and contact.email:
        suppress(session, channel="email", reason="unsubscribe", source="unsubscribe", actor=actor,
                 address=contact.email, contact_id=contact.id, note="unsubscribed from all email")  # fmt: skip
    return outcome


def set_preferences(
    session: Session, *, contact_id: int, wanted: dict[tuple[str, str], bool], ip_address: str | None,
    user_agent: str | None, policy_version: str | None = None,
) -> Outcome:  # fmt: skip
    """Apply the preference centre form: for each (channel, purpose) ticked or not, record a grant or a
    withdrawal where it differs from the current state. The person reached the page by a link sent to their
    address, so grants need no second confirmation; the wording recorded is the purpose's, as shown."""
    contact = resolve_contact(session, contact_id)
    actor = Actor(name=f"contact:{contact.id}", interface="web", role="viewer")
    purposes = load_purposes(session)
    outcome = Outcome()
    for (channel, key), on in sorted(wanted.items()):
        purpose = purposes.get(key)
        if purpose is None or channel not in purpose.channels or not purpose.active:
            raise ValidationFailed(f"{channel}/{key} is not a choice on this page")
        state = _state(session, contact.id, channel, key)
        current_on = state.status == "granted" if state else purpose.regime == "opt_out"
        if on == current_on:
            continue
        entry = ConsentEntry(
            channel=channel, purpose=key, status="granted" if on else "withdrawn", source="preference_page",
            consent_text=purpose.consent_text if on else None, policy_version=policy_version,
            ip_address=ip_address, user_agent=user_agent,
        )  # fmt: skip
        outcome.records.append(ledger.record(session, contact_id=contact.id, entry=entry, actor=actor))
    if any(r.status == "granted" and r.channel == "email" for r in outcome.records):
        lift_self_liftable(session, hashes=email_hashes(session, contact), channel="email",
                           reason="opted in again on the preference page", actor=actor)  # fmt: skip
    return outcome
