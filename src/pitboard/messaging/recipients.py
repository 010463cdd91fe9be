"""Which addresses belong to a contact: the only addresses pitboard sends a contact's email to."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.models import Contact, Identity


def contact_addresses(session: Session, contact: Contact) -> list[str]:
    """The contact's own email first, then its other email identities: the same set the consent gate checks
    suppressions for, so an address outside it would escape that check."""
    found = [contact.email] if contact.email else []
    identities = session.scalars(
        select(Identity.value).where(Identity.contact_id == contact.id, Identity.kind == "email").order_by(Identity.id)
    )
    for value in identities:
        if value and value.lower() not in (a.lower() for a in found):
            found.append(value)
    return found


def belongs_to(session: Session, contact: Contact, address: str) -> str | None:
    """The contact's address equal to ``address`` (ignoring case), or None when it is not theirs."""
    wanted = address.strip().lower()
    return next((a for a in contact_addresses(session, contact) if a.lower() == wanted), None)
