"""Company web domains from URLs, host names or email addresses, with the registered domain.

``host`` is the lower-case ASCII host name (internationalised names in their "xn--" form, so one
spelling is stored and compared) with a leading "www." (or "www2." …) removed; ``registered_domain``
is the part a company registers, one label under its public suffix ("shop.acme.co.uk" →
"acme.co.uk"), from the Public Suffix List that ``publicsuffixlist`` ships. The list's private
section counts too, so "acme.github.io" is Acme's own and not GitHub's.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from encodings import idna
from functools import lru_cache
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

__all__ = ["DomainInfo", "normalize_domain", "registered_domain", "registered_domain_of_email", "unicode_host"]

_PSL = PublicSuffixList()  # the bundled copy of the list; nothing is fetched
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_WWW = re.compile(r"^www\d{0,2}\.")
# Special-use names (RFC 2606 / 6761) that no company's site is on.
_SPECIAL = frozenset({"localhost", "local", "test", "invalid", "example", "onion", "arpa", "internal", "lan", "home"})


@dataclass(frozen=True, slots=True)
class DomainInfo:
    host: str | None
    registered_domain: str | None
    valid: bool
    reason: str | None = None


def _bad(reason: str, host: str | None = None) -> DomainInfo:
    return DomainInfo(host, None, False, reason)


def _host_of(text: str) -> str | None:
    """The host part of a URL, a bare host, "host/path" or an email address."""
    text = text.strip()
    if "@" in text and "://" not in text:
        text = text.rpartition("@")[2]  # an email address, or a URL's user info
    if "://" not in text:
        text = "//" + text.lstrip("/")
    try:
        host = urlsplit(text).hostname  # drops user info and port, lower-cases
    except ValueError:  # e.g. an unbalanced "[" of an IPv6 literal
        return None
    return host.rstrip(".") if host else None


def _to_ascii(host: str) -> str:
    """The A-label form of each label; raises ``UnicodeError`` for names IDNA cannot encode."""
    if host.isascii():
        return host
    return ".".join(idna.ToASCII(label).decode("ascii") if not label.isascii() else label for label in host.split("."))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=65536)  # a few thousand companies' domains make up most of the traffic
def normalize_domain(text: str | None) -> DomainInfo:
    """Host and registered domain of ``text`` ("https://www.Acme.co.uk/about?x" → "acme.co.uk")."""
    if text is None or not text.strip():
        return _bad("empty")
    host = _host_of(text)
    if not host:
        return _bad("has no host name")
    if _is_ip(host):
        return _bad("an IP address, not a domain name", host)
    try:
        host = _to_ascii(host.lower())
    except UnicodeError:
        return _bad("not a valid internationalised domain name")
    bare = _WWW.sub("", host)
    if bare != host:
        info = _check(bare)
        if info.valid:  # "www.com" stays as it is: "com" alone is no one's domain
            return info
    return _check(host)


def _check(host: str) -> DomainInfo:
    labels = host.split(".")
    if len(host) > 253:
        return _bad("longer than 253 characters", host)
    if len(labels) < 2:
        return _bad("missing a top-level domain such as .com", host)
    if not all(_LABEL.match(label) for label in labels):
        return _bad("not a valid host name", host)
    if labels[-1] in _SPECIAL:
        return _bad(f"a special-use domain (.{labels[-1]})", host)
    if not _PSL.is_public(labels[-1], accept_unknown=False):
        return _bad(f"under an unknown top-level domain (.{labels[-1]})", host)
    registered = _PSL.privatesuffix(host)
    if registered is None:
        return _bad("a public suffix that nobody can register", host)
    return DomainInfo(host, registered, True, None)


def registered_domain(text: str | None) -> str | None:
    """Just the registered domain of a URL or host, or ``None``."""
    return normalize_domain(text).registered_domain


def registered_domain_of_email(email: str | None) -> str | None:
    """The registered domain of an address's domain ("ann@mail.acme.co.uk" → "acme.co.uk")."""
    if not email or "@" not in email:
        return None
    return normalize_domain(email.rpartition("@")[2]).registered_domain


def unicode_host(host: str) -> str:
    """The Unicode display form of an A-label host ("xn--bcher-kva.de" → "bücher.de")."""
    try:
        return ".".join(idna.ToUnicode(label) for label in host.split("."))
    except UnicodeError:
        return host
