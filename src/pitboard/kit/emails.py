"""Email syntax check and normal form, the same on every write path, with no network look-ups.

Plain ASCII addresses (nearly all of them) are checked by a strict dot-atom pattern and domain
label rules, about ten times faster than the general validator, which bulk import needs; anything else
(internationalised addresses, quoted local parts) goes through ``email-validator``.
"""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*$")
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_TLD = re.compile(r"^(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$")
# Domains that can never receive mail (RFC 2606 / 6761): rejecting them matches email-validator.
_SPECIAL = ("localhost", "local", "test", "invalid", "example", "onion", "arpa", "lan", "home", "internal", "corp")


class InvalidEmail(ValueError):
    pass


def normalize_email(value: str) -> str:
    """The lower-cased address, or :class:`InvalidEmail` with the reason."""
    text = value.strip()
    if text.isascii() and '"' not in text:
        return _ascii(text)
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from exc


def _ascii(text: str) -> str:
    local, at, domain = text.rpartition("@")
    if not at or not local:
        raise InvalidEmail("an email address must have an @-sign with text before it")
    if not domain:
        raise InvalidEmail("there must be something after the @-sign")
    if len(local) > 64:
        raise InvalidEmail("the part before the @-sign is too long (64 characters at most)")
    if len(text) > 254:
        raise InvalidEmail("the address is too long (254 characters at most)")
    if not _LOCAL.match(local):
        raise InvalidEmail(f"the part before the @-sign is not valid: {local!r}")
    labels = domain.lower().rstrip(".").split(".")
    if len(labels) < 2:
        raise InvalidEmail("the domain name must have a dot, as in example.com")
    if not all(_LABEL.match(label) for label in labels) or not _TLD.match(labels[-1]):
        raise InvalidEmail(f"the domain name {domain!r} is not valid")
    if labels[-1] in _SPECIAL:
        raise InvalidEmail(f"the domain name {domain!r} is a special-use domain that cannot receive mail")
    return f"{local}@{'.'.join(labels)}".lower()
