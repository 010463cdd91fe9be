"""The email outbox: every email pitboard sends is written here first, in the caller's transaction.

:func:`enqueue_email` asks the consent gate, writes the ``messages`` row and adds the ``messaging.deliver`` job
to the same transaction, so a rolled-back change sends nothing and a committed one is delivered even if the
process dies right after. A message the gate refuses is still written, as ``blocked`` with the gate's reason
and without a job: the record of why nobody got it. Delivery asks the gate again (messaging/tasks.py).

Marketing mail gets RFC 2369 ``List-Unsubscribe`` with an RFC 8058 one-click URL (plus a mailto: address when
configured) and an unsubscribe/preferences footer in both parts; mail providers require the header of bulk
senders, and the law requires an easy way out of every marketing email.
"""

from __future__ import annotations

import secrets
from email.utils import parseaddr

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pitboard.consent import gate, tokens
from pitboard.consent.purposes import get_purpose
from pitboard.contacts.identities import email_addresses
from pitboard.kit.emails import InvalidEmail, normalize_email
from pitboard.kit.errors import NotFound, ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.logging import get_logger
from pitboard.messaging import tasks
from pitboard.messaging.recipients import belongs_to
from pitboard.messaging.render import one_line, render_footer
from pitboard.models import Contact, Job, Message
from pitboard.models.messaging import MESSAGE_KINDS
from pitboard.settings import Settings, get_settings
from pitboard.worker import queue

log = get_logger(__name__)

# Exponential backoff (2 s doubling, capped at an hour, with jitter) over 20 attempts keeps retrying a relay
# that refuses with 4xx or is down for about 4.5 to 9 hours before the message goes dead; the queue's default
# of 5 attempts would give up after about half a minute.
DELIVERY_MAX_ATTEMPTS = 20
SUBJECT_MAX_CHARS = 998  # RFC 5322 line limit, and the column's size
ONE_CLICK = "List-Unsubscribe=One-Click"


def enqueue_email(
    session: Session,
    *,
    contact_id: int | None,
    to_address: str | None = None,
    kind: str,
    purpose: str | None,
    template: str | None,
    subject: str,
    text: str,
    html: str | None = None,
    idempotency_key: str | None = None,
    campaign_id: int | None = None,
    settings: Settings | None = None,
) -> Message:
    """Write an email to the outbox and queue its delivery, or record it as ``blocked`` when the gate says no.

    A contact's email goes to ``to_address`` (which must be one of the contact's addresses) or the contact's
    email. Only transactional mail may go to a bare ``to_address`` without a contact. With an
    ``idempotency_key`` a repeated call, concurrent or not, returns the first message and queues nothing new.
    """
    settings = settings or get_settings()
    if kind not in MESSAGE_KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(MESSAGE_KINDS)}")
    if kind == "marketing" and not purpose:
        raise ValidationFailed("a marketing message needs a consent purpose")
    subject = one_line(subject)
    if not subject:
        raise ValidationFailed("an email needs a subject")
    if len(subject) > SUBJECT_MAX_CHARS:
        raise ValidationFailed(f"the subject is longer than {SUBJECT_MAX_CHARS} characters")
    if not text.strip():
        raise ValidationFailed("an email needs a plain-text part")
    if idempotency_key is not None:
        existing = _by_key(session, idempotency_key)
        if existing is not None:
            return existing

    if contact_id is None:
        if kind != "transactional":
            raise ValidationFailed("marketing email is sent to contacts only, so their consent can be checked")
        if not to_address:
            raise ValidationFailed("give a contact_id or a to_address")
        address = _checked_address(to_address)
        verdict = gate.check_address(session, address=address, channel="email", kind=kind)
    else:
        contact = session.get(Contact, contact_id)
        if contact is None:
            raise NotFound(f"contact {contact_id} does not exist")
        verdict = gate.check(session, contact_id=contact_id, channel="email", purpose=purpose, kind=kind)
        address = _contact_address(session, contact, to_address)

    message = Message(
        contact_id=contact_id, channel="email", kind=kind, purpose=purpose, template=template,
        to_address=address, from_address=settings.mail_from, subject=subject, body_text=text, body_html=html,
        headers={}, message_id_header=_new_message_id(settings), attempts=0, idempotency_key=idempotency_key,
        campaign_id=campaign_id, created_at=utcnow(),
        status="queued" if verdict.allowed else "blocked",
        blocked_reason=None if verdict.allowed else verdict.reason,
    )  # fmt: skip
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        # The same idempotency key was committed by a concurrent call after our look-up: theirs is the one.
        existing = _by_key(session, idempotency_key) if idempotency_key is not None else None
        if existing is None:
            raise
        return existing

    if not verdict.allowed:
        log.info("email blocked", message_id=message.id, contact_id=contact_id, reason=verdict.reason)
        return message
    if kind == "marketing":
        assert contact_id is not None  # checked above
        assert purpose is not None
        _add_unsubscribe(session, settings, message, contact_id=contact_id, purpose=purpose)
    queue.enqueue(
        session, tasks.DELIVER_TASK, tasks.delivery_payload(message),
        idempotency_key=tasks.delivery_job_key(message), max_attempts=DELIVERY_MAX_ATTEMPTS,
    )  # fmt: skip
    session.flush()
    log.info("email queued", message_id=message.id, contact_id=contact_id, kind=kind, template=template)
    return message


def block_pending(session: Session, *, contact_id: int, reason: str) -> int:
    """Mark a contact's undelivered messages ``blocked`` (before an erasure, say); returns how many.

    Their jobs stay and complete as no-ops: delivery never sends a blocked message.
    """
    result = session.execute(
        update(Message)
        .where(Message.contact_id == contact_id, Message.status.in_(tasks.DELIVERABLE_STATUSES))
        .values(status="blocked", blocked_reason=reason[:200])
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def delivery_job(session: Session, message: Message) -> Job | None:
    """The job that delivers a message (none for a message that was blocked at enqueue)."""
    return session.scalar(select(Job).where(Job.idempotency_key == tasks.delivery_job_key(message)))


def _by_key(session: Session, idempotency_key: str) -> Message | None:
    return session.scalar(select(Message).where(Message.idempotency_key == idempotency_key))


def _checked_address(address: str) -> str:
    try:
        normalize_email(address)
    except InvalidEmail as exc:
        raise ValidationFailed(f"{address!r} is not a valid email address: {exc}") from exc
    return address.strip()


def _contact_address(session: Session, contact: Contact, to_address: str | None) -> str:
    if to_address is None:
        addresses = email_addresses(session, contact)
        # No address at all: the gate has refused (no_address) and the blocked row records an empty one.
        return addresses[0] if addresses else ""
    address = belongs_to(session, contact, to_address)
    if address is None:
        # Only the contact's own addresses are covered by the gate's suppression check.
        raise ValidationFailed(f"{to_address!r} is not an email address of contact {contact.id}")
    return address


def _new_message_id(settings: Settings) -> str:
    """``<random@sender-domain>``: unique, stored with the row and reused on every attempt so a receiver can
    recognise a resend after an uncertain delivery."""
    _name, addr = parseaddr(settings.mail_from)
    domain = addr.rpartition("@")[2] or "pitboard.invalid"
    return f"<{secrets.token_hex(16)}@{domain}>"


def _add_unsubscribe(session: Session, settings: Settings, message: Message, *, contact_id: int, purpose: str) -> None:
    unsubscribe = tokens.unsubscribe_url(settings, contact_id=contact_id, purpose=purpose, message_id=message.id)
    preferences = tokens.preferences_url(settings, contact_id=contact_id)
    targets = [f"<{unsubscribe}>"]
    if settings.unsubscribe_mailto:
        mailbox = settings.unsubscribe_mailto.removeprefix("mailto:")
        # The subject names the message, so whoever handles the mailbox can find the contact and purpose.
        targets.append(f"<mailto:{mailbox}?subject=unsubscribe-{message.id}>")
    message.headers = {"List-Unsubscribe": ", ".join(targets), "List-Unsubscribe-Post": ONE_CLICK}
    footer_text, footer_html = render_footer(
        {"unsubscribe_url": unsubscribe, "preferences_url": preferences,
         "purpose_label": get_purpose(session, purpose).label}
    )  # fmt: skip
    message.body_text = message.body_text.rstrip("\n") + "\n" + footer_text
    if message.body_html is not None:
        message.body_html = _insert_before_body_end(message.body_html, footer_html)


def _insert_before_body_end(html: str, fragment: str) -> str:
    end = html.lower().rfind("</body>")
    if end == -1:
        return html + fragment
    return html[:end] + fragment + html[end:]
