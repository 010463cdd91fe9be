"""What an email address says: valid or not, free-mail or company, a shared role mailbox, and the key
that finds the same mailbox written differently.

The syntax check and the lower-cased normal form are :func:`pitboard.kit.emails.normalize_email`, the
same on every write path. The match key folds spellings that reach one mailbox: a "+tag" is dropped
for every domain (nearly every provider delivers "ann+news@" to "ann@"), and Gmail also ignores dots
and treats googlemail.com as gmail.com.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from pitboard.kit.emails import InvalidEmail, normalize_email
from pitboard.quality.normalize.domains import normalize_domain

__all__ = ["EmailInfo", "email_info", "email_match_key", "is_free_mail_domain", "is_role_local_part"]

_GMAIL = frozenset({"gmail.com", "googlemail.com"})
_ROLE_PREFIXES = ("noreply", "donotreply")


@dataclass(frozen=True, slots=True)
class EmailInfo:
    normalized: str | None  # the lower-cased address; None when not valid
    valid: bool
    reason: str | None
    is_free_mail: bool
    is_role_account: bool
    domain: str | None  # the part after "@", as normalised (Unicode for internationalised domains)
    match_key: str | None  # the canonical mailbox, for finding duplicates
    registered_domain: str | None = None  # "mail.acme.co.uk" → "acme.co.uk", in ASCII ("xn--") form


def _lines(filename: str) -> list[str]:
    text = resources.files("pitboard.quality.normalize.data").joinpath(filename).read_text(encoding="utf-8")
    return [line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _load_free_mail() -> tuple[frozenset[str], frozenset[str]]:
    lines = _lines("free_mail.txt")
    brands = frozenset(line[:-2] for line in lines if line.endswith(".*"))
    return frozenset(line for line in lines if not line.endswith(".*")), brands


_FREE_DOMAINS, _FREE_BRANDS = _load_free_mail()
_ROLE_NAMES = frozenset(_lines("role_accounts.txt"))
_ROLE_STRIP = str.maketrans("", "", ".-_")


@lru_cache(maxsize=16384)  # one entry per domain, and a few thousand domains carry most addresses
def is_free_mail_domain(domain: str) -> bool:
    """Whether ``domain`` (or the domain it is a sub-domain of) is a consumer mailbox provider."""
    domain = domain.lower().rstrip(".")
    if domain in _FREE_DOMAINS:
        return True
    registered = normalize_domain(domain).registered_domain
    if registered is None:
        return False
    return registered in _FREE_DOMAINS or registered.partition(".")[0] in _FREE_BRANDS


def is_role_local_part(local: str) -> bool:
    """Whether the part before "@" names a shared mailbox such as info@, sales@ or no-reply@."""
    key = local.partition("+")[0].lower().translate(_ROLE_STRIP)
    return key in _ROLE_NAMES or key.startswith(_ROLE_PREFIXES)


def email_match_key(normalized: str) -> str:
    """The canonical mailbox of an already normalised address (see the module docstring)."""
    local, _, domain = normalized.rpartition("@")
    local = local.partition("+")[0] or local  # "+tag@x" has no mailbox before the tag: keep it whole
    if domain in _GMAIL:
        return f"{local.replace('.', '')}@gmail.com"
    return f"{local}@{domain}"


def email_info(text: str | None) -> EmailInfo:
    """Everything the quality rules want to know about one address; never raises on bad input."""
    if text is None or not text.strip():
        return EmailInfo(None, False, "empty", False, False, None, None)
    try:
        normalized = normalize_email(text)
    except InvalidEmail as exc:
        return EmailInfo(None, False, str(exc), False, False, None, None)
    local, _, domain = normalized.rpartition("@")
    return EmailInfo(
        normalized=normalized,
        valid=True,
        reason=None,
        is_free_mail=is_free_mail_domain(domain),
        is_role_account=is_role_local_part(local),
        domain=domain,
        match_key=email_match_key(normalized),
        registered_domain=normalize_domain(domain).registered_domain,
    )
