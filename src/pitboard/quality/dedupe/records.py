"""Contacts in a compact, columnar form for matching.

Every field is an array of integer codes into a table of distinct normalised values (-1 = missing).
Equality of two records' values is then a vectorised integer comparison, and the expensive string
similarity is computed once per *distinct* pair of values. Normalisation goes through
:mod:`pitboard.quality.normalize` (the same rules as every write path), cached per raw value, since
names, companies, countries and titles repeat a lot.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.models.contacts import Contact
from pitboard.quality.dedupe.phonekey import phone_match_key
from pitboard.quality.dedupe.strings import soundex
from pitboard.quality.normalize import company_match_key, given_name_keys, nickname_key, registered_domain_of_email
from pitboard.quality.normalize._text import fold
from pitboard.quality.normalize.emails import email_match_key, is_role_local_part

__all__ = ["ContactRow", "DedupeRecords", "EncodedColumn", "load_contacts", "records_from_rows"]

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

# (id, email_normalized, first_name, last_name, phone, company_name, country, account_id, title, city)
ContactRow = tuple[int, str | None, str | None, str | None, str | None, str | None, str | None, int | None,
                   str | None, str | None]  # fmt: skip
_COLUMNS = (Contact.id, Contact.email_normalized, Contact.first_name, Contact.last_name, Contact.phone,
            Contact.company_name, Contact.country, Contact.account_id, Contact.title, Contact.city)  # fmt: skip


class _Encoder:
    """Distinct values to dense integer codes, in order of first appearance."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.codes: list[int] = []

    def add(self, value: str | None) -> None:
        if not value:
            self.codes.append(-1)
            return
        code = self.index.get(value)
        if code is None:
            code = self.index[value] = len(self.index)
        self.codes.append(code)

    def column(self) -> EncodedColumn:
        return EncodedColumn(np.asarray(self.codes, dtype=np.int32), list(self.index))


@dataclass(frozen=True)
class EncodedColumn:
    """One field: ``codes[i]`` indexes ``values`` (-1 when record ``i`` has no value)."""

    codes: I32
    values: list[str]

    def value(self, row: int) -> str | None:
        code = int(self.codes[row])
        return None if code < 0 else self.values[code]


@dataclass(frozen=True)
class DedupeRecords:
    """Contacts ready for matching; row ``i`` of every column is the contact ``ids[i]``."""

    ids: I64
    email_key: EncodedColumn  # canonical mailbox (``email_info().match_key``)
    email_local: EncodedColumn  # the match key's local part: same person at another domain of the company
    email_domain: EncodedColumn  # registered domain of the address
    email_role: Bools  # info@, sales@ ...: a shared mailbox says nothing about who the person is
    first: EncodedColumn  # folded first given name ("José" → "jose")
    first_key: EncodedColumn  # nickname key ("Bob" → "robert")
    first_candidates: list[frozenset[str]]  # per first value: every canonical name it may stand for
    last: EncodedColumn  # folded surname
    last_soundex: EncodedColumn
    phone: EncodedColumn  # E.164 without extension; only numbers the metadata calls valid
    company: EncodedColumn  # company match key ("Acme, Inc." → "acme")
    account: I64  # account id, -1 when none
    country: EncodedColumn
    title: EncodedColumn  # folded job title
    city: EncodedColumn
    display: dict[str, list[str | None]] = field(default_factory=dict, repr=False)  # for explanations

    def __len__(self) -> int:
        return len(self.ids)


class _Normaliser:
    """Normalises raw values with per-value caches (names, companies, titles repeat; emails mostly don't)."""

    def __init__(self) -> None:
        self.first_cache: dict[str, tuple[str, str]] = {}
        self.last_cache: dict[str, tuple[str, str]] = {}
        self.fold_cache: dict[str, str] = {}
        self.company_cache: dict[str, str] = {}

    @staticmethod
    def email(normalized: str | None) -> tuple[str | None, str | None, str | None, bool]:
        """Facts from ``email_normalized``: the write path's lower-cased form, NULL when the address is invalid.

        Reading the stored form skips re-validating every address (the costliest part of ``email_info``);
        the match key and role test are the library's own functions.
        """
        if not normalized:
            return None, None, None, False
        key = email_match_key(normalized)
        local, _, _ = key.rpartition("@")
        return key, local, registered_domain_of_email(normalized), is_role_local_part(local)

    def first(self, raw: str | None) -> tuple[str, str]:
        if not raw:
            return "", ""
        hit = self.first_cache.get(raw)
        if hit is None:
            folded = fold(raw)
            hit = self.first_cache[raw] = (folded.split(" ")[0] if folded else "", nickname_key(raw))
        return hit

    def last(self, raw: str | None) -> tuple[str, str]:
        if not raw:
            return "", ""
        hit = self.last_cache.get(raw)
        if hit is None:
            folded = fold(raw).replace(" ", "")  # "van der Berg" ~ "Vanderberg"
            hit = self.last_cache[raw] = (folded, soundex(folded))
        return hit

    def folded(self, raw: str | None) -> str:
        if not raw:
            return ""
        hit = self.fold_cache.get(raw)
        if hit is None:
            hit = self.fold_cache[raw] = fold(raw)
        return hit

    def company(self, raw: str | None) -> str:
        if not raw:
            return ""
        hit = self.company_cache.get(raw)
        if hit is None:
            hit = self.company_cache[raw] = company_match_key(raw)
        return hit

    @staticmethod
    def phone(raw: str | None, country: str | None) -> str | None:
        return phone_match_key(raw, country)


class _Builder:
    """Accumulates rows column by column, then freezes them into :class:`DedupeRecords`."""

    def __init__(self, keep_display: bool) -> None:
        self.norm = _Normaliser()
        self.ids: list[int] = []
        self.account: list[int] = []
        self.role: list[bool] = []
        names = ("email_key", "email_local", "email_domain", "first", "first_key", "last", "last_soundex", "phone",
                 "company", "country", "title", "city")  # fmt: skip
        self.enc = {name: _Encoder() for name in names}
        self.keep_display = keep_display
        self.display: dict[str, list[str | None]] = {k: [] for k in ("email", "first", "last", "phone", "company")}

    def add(self, row: ContactRow) -> None:
        cid, email, first, last, phone, company, country, account_id, title, city = row
        n, enc = self.norm, self.enc
        key, local, domain, role = n.email(email)
        folded_first, first_key = n.first(first)
        folded_last, last_sdx = n.last(last)
        self.ids.append(cid)
        self.account.append(-1 if account_id is None else account_id)
        self.role.append(role)
        for name, value in (("email_key", key), ("email_local", local), ("email_domain", domain),
                            ("first", folded_first), ("first_key", first_key), ("last", folded_last),
                            ("last_soundex", last_sdx), ("phone", n.phone(phone, country)),
                            ("company", n.company(company)), ("country", country), ("title", n.folded(title)),
                            ("city", n.folded(city))):  # fmt: skip
            enc[name].add(value)
        if self.keep_display:
            for name, value in (("email", email), ("first", first), ("last", last), ("phone", phone),
                                ("company", company)):  # fmt: skip
                self.display[name].append(value)

    def build(self) -> DedupeRecords:
        cols = {name: enc.column() for name, enc in self.enc.items()}
        return DedupeRecords(
            ids=np.asarray(self.ids, dtype=np.int64),
            email_role=np.asarray(self.role, dtype=np.bool_),
            first_candidates=[given_name_keys(v) for v in cols["first"].values],
            account=np.asarray(self.account, dtype=np.int64),
            display=self.display if self.keep_display else {},
            **cols,
        )


def records_from_rows(rows: Iterable[ContactRow], *, keep_display: bool = True) -> DedupeRecords:
    """Build records from rows of ``(id, email_normalized, first, last, phone, company, country, account_id,
    title, city)``.

    ``keep_display`` keeps the raw email, names, phone and company for explanations (about 100 bytes
    per contact); turn it off for very large runs that only need ids and probabilities.
    """
    builder = _Builder(keep_display)
    for row in rows:
        builder.add(row)
    return builder.build()


def _chunks(session: Session, batch: int) -> Iterator[Sequence[Any]]:
    """Keyset pagination by id: each chunk is one indexed range query, however deep into the table."""
    last_id = 0
    while True:
        rows = session.execute(select(*_COLUMNS).where(Contact.id > last_id).order_by(Contact.id).limit(batch)).all()
        if not rows:
            return
        yield rows
        last_id = rows[-1][0]


def load_contacts(session: Session, *, batch: int = 50_000, keep_display: bool = True) -> DedupeRecords:
    """Read the columns matching needs from ``contacts``, ``batch`` rows at a time, and normalise them."""
    builder = _Builder(keep_display)
    for rows in _chunks(session, batch):
        for row in rows:
            builder.add(tuple(row))
    return builder.build()
