"""Who owns a set of identity keys: one query per few hundred keys, for contacts and accounts alike."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.models import AccountIdentity, Identity

_CHUNK = 500


def owners(session: Session, keys: Iterable[tuple[str, str]], *, accounts: bool = False) -> dict[tuple[str, str], int]:
    """``{(kind, value): owner id}`` for the keys that exist (contacts, or accounts with ``accounts=True``)."""
    model: Any = AccountIdentity if accounts else Identity
    owner_column = model.account_id if accounts else model.contact_id
    wanted = set(keys)
    values = sorted({v for _, v in wanted})
    found: dict[tuple[str, str], int] = {}
    for i in range(0, len(values), _CHUNK):
        rows = session.execute(
            select(model.kind, model.value, owner_column).where(model.value.in_(values[i : i + _CHUNK]))
        )
        for kind, value, owner_id in rows:
            if (kind, value) in wanted:
                found[(kind, value)] = owner_id
    return found
