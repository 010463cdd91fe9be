"""Salted hashes of addresses: how suppressions and erased people are recognised without keeping the address.

HMAC-SHA256 with a per-installation salt kept in ``system_settings`` (made by migration 0004, or on first use):
an unsalted hash of an email address is reversible by anyone with a list of addresses, a keyed one is not
without the database. The salt is never rotated, or every stored hash would stop matching.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pitboard.kit.emails import InvalidEmail, normalize_email
from pitboard.kit.time import utcnow
from pitboard.models import SystemSetting
from pitboard.quality.normalize.phones import normalize_phone

SALT_KEY = "suppression_salt"


def salt(session: Session) -> bytes:
    value = session.scalar(select(SystemSetting.value).where(SystemSetting.key == SALT_KEY))
    if value is None:
        try:
            with session.begin_nested():
                session.add(SystemSetting(key=SALT_KEY, value=secrets.token_hex(32), updated_at=utcnow()))
        except IntegrityError:
            pass  # another process made it first: use theirs
        value = session.scalar(select(SystemSetting.value).where(SystemSetting.key == SALT_KEY))
    return str(value).encode()


def address_kind(channel: str) -> str:
    """Email for the email channel; sms and phone share one number, so one hash space for both."""
    return "email" if channel == "email" else "phone"


def normalized_address(kind: str, address: str) -> str:
    """The form that is hashed: lower-cased email, E.164 phone (digits only when it cannot be parsed)."""
    text = address.strip()
    if kind == "email":
        try:
            return normalize_email(text)
        except InvalidEmail:
            return text.lower()
    result = normalize_phone(text)
    if result.value:
        return result.value
    return "".join(ch for ch in text if ch.isdigit())


def subject_hash(key: bytes, kind: str, address: str) -> str:
    message = f"{kind}:{normalized_address(kind, address)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
