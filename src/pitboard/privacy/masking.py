"""Masking and redaction of personal data in the few places where a trace must stay readable.

A completed erasure request keeps a masked label (``j***@a***.com``) so staff can still tell requests apart,
and free-text notes keep their wording with the erased person's identifiers cut out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[erased]"
_MASK = "***"


def mask_email(value: str) -> str:
    """``john.doe@acme.com`` → ``j***@a***.com``: the first letter of each part and the top-level domain,
    lower-cased like the addresses it stands for."""
    text = value.strip().lower()
    local, at, domain = text.rpartition("@")
    if not at:
        return f"{text[:1]}{_MASK}" if text else _MASK
    labels = [label for label in domain.split(".") if label]
    host = f"{labels[0][:1]}{_MASK}" if labels else _MASK
    tld = f".{labels[-1]}" if len(labels) > 1 else ""
    return f"{local[:1]}{_MASK}@{host}{tld}"


def is_masked(value: str) -> bool:
    return _MASK in value


def redact(text: str, needles: Iterable[str]) -> str:
    """``text`` with every whole-word occurrence of a needle (case-insensitive) replaced by ``[erased]``.

    Whole words only, so erasing someone called "Al" leaves "call" alone; needles shorter than two
    characters are ignored for the same reason.
    """
    words = sorted({n.strip() for n in needles if len(n.strip()) >= 2}, key=len, reverse=True)
    if not words or not text:
        return text
    pattern = re.compile("|".join(rf"(?<!\w){re.escape(w)}(?!\w)" for w in words), re.IGNORECASE)
    return pattern.sub(REDACTED, text)
