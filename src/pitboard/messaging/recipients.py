"""Which addresses belong to a contact: the only addresses pitboard sends a contact's email to."""

from __future__ import annotations

from sqlalchemy.orm import Session

from pitboard.contacts.identities import email_addresses
from pitboard.models import Contact


def belongs_to(session: Session, contact: Contact, address: str) -> str | None:
    """The contact's address equal to ``address`` (ignoring case), or None when it is not theirs."""
    wanted = address.strip().lower()
    return next((a for a in email_addresses(session, contact) if a.lower() == wanted), None)
