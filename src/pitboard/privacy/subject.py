"""Who a data subject is in our tables: their contact, the records merged into it, and every identifier
(addresses, ids, salted hashes) that export and erasure look for.

The same :class:`Subject` drives both, so what an export shows and what an erasure removes cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Text, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from pitboard.consent.hashing import salt, subject_hash
from pitboard.kit.emails import InvalidEmail, normalize_email
from pitboard.kit.errors import NotFound, ValidationFailed
from pitboard.models import Contact, ContactMerge, Identity, Message

T = TypeVar("T")
IN_CHUNK = 500  # values per IN (...) list

# Identity kinds whose values are searched for in free-form JSON (quarantined payloads); e-mail addresses are
# searched as well, but as substrings (an address may sit inside a longer text).
_ID_KINDS = ("user_id", "anonymous_id")


@dataclass
class Subject:
    """A person as export and erasure see them.

    ``merged`` maps the ids of records merged into the contact to when that happened. Rows keyed by such
    an id (audit entries, dedupe pairs) are about this person only up to that moment: SQLite hands a
    deleted highest rowid to the next new row, so after the merge the same id may be someone else.
    """

    contact_id: int
    merged: dict[int, datetime] = field(default_factory=dict)
    emails: set[str] = field(default_factory=set)  # lower-cased, as given and normalised
    phones: set[str] = field(default_factory=set)  # as given and normalised
    user_ids: set[str] = field(default_factory=set)
    anonymous_ids: set[str] = field(default_factory=set)
    external_ids: set[str] = field(default_factory=set)  # values of external:<system> identities
    names: set[str] = field(default_factory=set)
    email_hashes: set[str] = field(default_factory=set)
    phone_hashes: set[str] = field(default_factory=set)
    merge_ids: list[int] = field(default_factory=list)  # merges whose snapshots hold this person's data

    @property
    def hashes(self) -> set[str]:
        return self.email_hashes | self.phone_hashes

    @property
    def id_values(self) -> set[str]:
        """Identifiers matched as whole JSON values (not substrings: ``"42"`` must not match ``"1427"``)."""
        return self.user_ids | self.anonymous_ids | self.external_ids

    @property
    def redaction_needles(self) -> set[str]:
        """Everything to cut out of free-text notes that stay behind."""
        return self.emails | self.phones | self.names | self.id_values


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def normalized_email(email: str) -> str:
    try:
        return normalize_email(email)
    except InvalidEmail as exc:
        raise ValidationFailed(f"{email!r} is not a valid email address: {exc}") from exc


def contacts_for_email(session: Session, email: str) -> list[int]:
    """Every contact holding this address (normalised): the owner of the email identity first, then any
    contact whose own email matches (duplicates that were never merged are the same person too)."""
    address = normalized_email(email)
    found: list[int] = []
    owner = session.scalar(select(Identity.contact_id).where(Identity.kind == "email", Identity.value == address))
    if owner is not None:
        found.append(owner)
    for cid in session.scalars(select(Contact.id).where(Contact.email_normalized == address).order_by(Contact.id)):
        if cid not in found:
            found.append(cid)
    return found


def load_subject(session: Session, contact_id: int) -> Subject:
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"contact {contact_id} does not exist")
    subject = Subject(contact_id=contact_id)
    _add_person(subject, _contact_values(contact))
    for kind, value in session.execute(select(Identity.kind, Identity.value).where(Identity.contact_id == contact_id)):
        if kind == "email":
            subject.emails.add(value.lower())
        elif kind == "user_id":
            subject.user_ids.add(value)
        elif kind == "anonymous_id":
            subject.anonymous_ids.add(value)
        elif kind.startswith("external:"):
            subject.external_ids.add(value)
    # Merges into the contact (active or undone: either way the row holds their data), and an undone merge
    # of the contact into another (its snapshot is this person). An active merge *of* this id predates the
    # contact: the id belonged to a record folded away before SQLite reused it.
    merges = session.execute(
        select(ContactMerge.id, ContactMerge.survivor_id, ContactMerge.merged_id, ContactMerge.merged_at,
               ContactMerge.undone_at, ContactMerge.merged_snapshot, ContactMerge.moved).where(
            or_(ContactMerge.survivor_id == contact_id,
                (ContactMerge.merged_id == contact_id) & ContactMerge.undone_at.is_not(None))
        )
    )  # fmt: skip
    for merge_id, survivor_id, merged_id, merged_at, undone_at, snapshot, moved in merges:
        subject.merge_ids.append(merge_id)
        if survivor_id != contact_id:
            _add_person(subject, snapshot or {})  # this contact, as it was when merged away (since undone)
            continue
        # The survivor's values the merge replaced are this person's, whether or not it was undone...
        _add_person(subject, (moved or {}).get("replaced") or {})
        if undone_at is None:
            # ...but the merged record's snapshot is only theirs while the merge stands; once undone it is
            # a contact of its own again, and may be someone else.
            subject.merged[merged_id] = merged_at
            _add_person(subject, snapshot or {})
    key = salt(session)
    subject.email_hashes = {subject_hash(key, "email", e) for e in subject.emails}
    subject.phone_hashes = {subject_hash(key, "phone", p) for p in subject.phones}
    return subject


def _contact_values(contact: Contact) -> dict[str, Any]:
    return {
        "email": contact.email, "email_normalized": contact.email_normalized, "phone": contact.phone,
        "first_name": contact.first_name, "last_name": contact.last_name,
        "original_values": contact.original_values or {},
    }  # fmt: skip


def _add_person(subject: Subject, values: dict[str, Any]) -> None:
    """Collect addresses and names from contact values (a live row or a merge snapshot), including the
    originals normalisation replaced: the raw form is what an import file or a note would contain."""
    originals = values.get("original_values") or {}
    for source in (values, originals if isinstance(originals, dict) else {}):
        for key in ("email", "email_normalized"):
            if isinstance(source.get(key), str) and source[key].strip():
                subject.emails.add(source[key].strip().lower())
        if isinstance(source.get("phone"), str) and source["phone"].strip():
            subject.phones.add(source["phone"].strip())
        for key in ("first_name", "last_name"):
            if isinstance(source.get(key), str) and source[key].strip():
                subject.names.add(source[key].strip())


def about_contact(subject: Subject, id_column: Any, time_column: Any, *, as_text: bool = False) -> ColumnElement[bool]:
    """Rows keyed by the contact's id, or by a merged record's id from before its merge (see :class:`Subject`)."""

    def key(value: int) -> int | str:
        return str(value) if as_text else value

    clauses = [id_column == key(subject.contact_id)]
    clauses.extend(and_(id_column == key(mid), time_column <= at) for mid, at in subject.merged.items())
    return or_(*clauses)


# --- finding the person in free-form JSON -------------------------------------------------------------


def json_mentions_clause(column: Any, subject: Subject) -> ColumnElement[bool] | None:
    """A cheap, portable pre-filter: the JSON column's text contains one of the subject's addresses or ids.

    ``CAST(json AS TEXT)`` works on SQLite (stored as text) and PostgreSQL (jsonb rendered as text), and
    LIKE with escaping finds ``_`` and ``%`` literally. Candidates are then confirmed by
    :func:`json_mentions`, which compares whole values where a substring would be wrong.
    """
    needles = sorted(subject.emails | subject.id_values)
    if not needles:
        return None
    text = func.lower(cast(column, Text))
    return or_(*(text.contains(n.lower(), autoescape=True) for n in needles))


def json_mentions(value: Any, subject: Subject) -> bool:
    """Does a JSON document hold one of the subject's addresses (anywhere in a string) or ids (as a value)?"""
    emails = subject.emails
    ids = subject.id_values
    for leaf in _leaves(value):
        text = str(leaf)
        if text in ids or (isinstance(leaf, str) and any(e in text.lower() for e in emails)):
            return True
    return False


def _leaves(value: Any) -> Iterator[str | int | float]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, str) or (isinstance(value, int | float) and not isinstance(value, bool)):
        yield value


def matching_ids(session: Session, model: Any, json_column: Any, subject: Subject) -> list[int]:
    """Ids of the rows of ``model`` whose ``json_column`` mentions the subject."""
    clause = json_mentions_clause(json_column, subject)
    if clause is None:
        return []
    rows = session.execute(select(model.id, json_column).where(clause).order_by(model.id))
    return [row_id for row_id, value in rows if json_mentions(value, subject)]


def message_ids(session: Session, subject: Subject) -> list[int]:
    """Messages to the contact, and messages to their addresses whose contact link was lost (deleted record)."""
    ids = set(session.scalars(select(Message.id).where(Message.contact_id == subject.contact_id)))
    addresses = sorted({a.lower() for a in subject.emails | subject.phones})
    for chunk in chunked(addresses, IN_CHUNK):
        # Orphans only (contact_id IS NULL is served by the contact index): a message linked to another
        # contact is that contact's, whatever address it went to.
        orphans = select(Message.id).where(Message.contact_id.is_(None), func.lower(Message.to_address).in_(chunk))
        ids.update(session.scalars(orphans))
    return sorted(ids)
