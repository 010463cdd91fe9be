"""Who owns a set of identity keys: one query per kind and few hundred keys, for contacts and accounts alike."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.kit.emails import normalize_email
from pitboard.models import AccountIdentity, Contact, Identity

_CHUNK = 500


def owners(session: Session, keys: Iterable[tuple[str, str]], *, accounts: bool = False) -> dict[tuple[str, str], int]:
    """``{(kind, value): owner id}`` for the keys that exist (contacts, or accounts with ``accounts=True``)."""
    model: Any = AccountIdentity if accounts else Identity
    owner_column = model.account_id if accounts else model.contact_id
    by_kind: dict[str, list[str]] = defaultdict(list)
    for kind, value in set(keys):
        by_kind[kind].append(value)
    found: dict[tuple[str, str], int] = {}
    # One kind per query, so the look-up uses the unique (kind, value) index: filtering on value alone
    # cannot, and scanned the whole table for every batch on PostgreSQL.
    for kind, values in by_kind.items():
        values.sort()
        for i in range(0, len(values), _CHUNK):
            chunk = values[i : i + _CHUNK]
            for value, owner_id in session.execute(
                select(model.value, owner_column).where(model.kind == kind, model.value.in_(chunk))
            ):
                found[(kind, value)] = owner_id
    return found


def email_addresses(session: Session, contact: Contact) -> list[str]:
    """The contact's own email first, then its other email identities (old addresses of merged contacts),
    without case duplicates: the addresses the consent gate checks suppressions for and email may go to."""
    found = [contact.email] if contact.email else []
    identities = session.scalars(
        select(Identity.value).where(Identity.contact_id == contact.id, Identity.kind == "email").order_by(Identity.id)
    )
    for value in identities:
        if value and value.lower() not in (a.lower() for a in found):
            found.append(value)
    return found


def contact_id_for_email(session: Session, email: str) -> int | None:
    """The contact an address belongs to: its current email, else an email identity (an old address).

    Raises :class:`~pitboard.kit.emails.InvalidEmail` when ``email`` is not an address."""
    normalized = normalize_email(email)
    by_email = select(Contact.id).where(Contact.email_normalized == normalized).order_by(Contact.id).limit(1)
    found = session.scalar(by_email)
    if found is None:
        by_identity = select(Identity.contact_id).where(Identity.kind == "email", Identity.value == normalized)
        found = session.scalar(by_identity)
    return found
