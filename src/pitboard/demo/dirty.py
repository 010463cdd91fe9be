"""Ways real contact data goes wrong, as small pure functions of a value and a seeded PRNG.

The generator uses them to plant duplicates and bad values whose ground truth it knows, so that
deduplication and data-quality features can be measured (precision and recall), not just demoed.
Each function returns a value different from its input, or ``None`` when the variation does not
apply (no nickname for "Zoë", no dots to play with outside Gmail).
"""

from __future__ import annotations

import random
import re

from pitboard.demo import vocab

# Letters next to each other on a QWERTY keyboard: the substitutions fat fingers make.
_NEIGHBOURS: dict[str, str] = {
    "a": "qsz", "b": "vgn", "c": "xdv", "d": "sfe", "e": "wrd", "f": "dgr", "g": "fht", "h": "gjy", "i": "uok",
    "j": "hku", "k": "jli", "l": "ko", "m": "nj", "n": "bmh", "o": "ipl", "p": "ol", "q": "wa", "r": "etf",
    "s": "adw", "t": "ryg", "u": "yij", "v": "cbf", "w": "qes", "x": "zsc", "y": "tuh", "z": "xa",
}  # fmt: skip
_PLUS_TAGS: tuple[str, ...] = ("newsletter", "webinar", "work", "crm", "events", "promo", "2025")
_BAD_EMAIL_KINDS: tuple[str, ...] = ("missing_at", "double_dot", "space", "no_tld", "comma", "double_at")
_LEGAL_SUFFIX_SPELLINGS: dict[str, tuple[str, ...]] = {
    "Inc.": ("Inc", ", Inc.", "Incorporated", "INC"), "LLC": ("L.L.C.", ", LLC", "Llc"),
    "Corp.": ("Corp", "Corporation"), "Ltd": ("Ltd.", "Limited", "LTD"), "Ltd.": ("Ltd", "Limited"),
    "Limited": ("Ltd", "Ltd."), "plc": ("PLC", "Plc"), "GmbH": ("Gmbh", "G.m.b.H.", "GMBH"), "AG": ("A.G.", "Ag"),
    "SE": ("S.E.",), "SAS": ("S.A.S.", "Sas"), "SA": ("S.A.",), "SARL": ("S.A.R.L.",), "B.V.": ("BV", "B.V"),
    "N.V.": ("NV",), "S.L.": ("SL", "S.L"), "S.A.": ("SA",), "S.r.l.": ("Srl", "SRL"), "S.p.A.": ("SpA", "SPA"),
    "AB": ("Aktiebolag",), "DAC": ("D.A.C.",), "Pty Ltd": ("Pty. Ltd.", "PTY LTD"), "Pte. Ltd.": ("Pte Ltd",),
    "K.K.": ("KK",), "Co., Ltd.": ("Co. Ltd", "Company Limited"), "Pvt. Ltd.": ("Pvt Ltd", "Private Limited"),
    "Ltda.": ("Ltda", "LTDA"), "S.A. de C.V.": ("SA de CV",),
}  # fmt: skip
# Longest first, so "Pty Ltd" is recognised before "Ltd".
_KNOWN_SUFFIXES: tuple[str, ...] = tuple(sorted(_LEGAL_SUFFIX_SPELLINGS, key=len, reverse=True))


# --- names ---------------------------------------------------------------------------------------


def typo(word: str, rng: random.Random) -> str | None:
    """A transposed, dropped, doubled or neighbouring-key letter; the first letter is usually kept."""
    if len(word) < 3:
        return None
    for _ in range(8):
        candidate = _one_typo(word, rng)
        if candidate != word and candidate.strip():
            return candidate
    return None


def _one_typo(word: str, rng: random.Random) -> str:
    # People rarely get the first letter wrong, and name matchers often block on it.
    i = rng.randrange(1, len(word)) if rng.random() < 0.9 else 0
    op = rng.choice(("transpose", "drop", "replace", "double"))
    if op == "transpose" and i < len(word) - 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op == "drop" and len(word) > 3:
        return word[:i] + word[i + 1 :]
    if op == "double":
        return word[: i + 1] + word[i] + word[i + 1 :]
    neighbours = _NEIGHBOURS.get(word[i].lower())
    if not neighbours:
        return word[:i] + word[i + 1 :]
    new = rng.choice(neighbours)
    return word[:i] + (new.upper() if word[i].isupper() else new) + word[i + 1 :]


def nickname(first_name: str, rng: random.Random) -> str | None:
    options = vocab.NICKNAMES.get(first_name)
    return rng.choice(options) if options else None


# --- emails --------------------------------------------------------------------------------------


def email_case(email: str, rng: random.Random) -> str | None:
    """``John.Smith@Acme.com`` or ``JOHN.SMITH@ACME.COM``: same mailbox, different string."""
    local, _, domain = email.partition("@")
    if rng.random() < 0.25:
        variant = email.upper()
    else:
        parts = re.split(r"([._-])", local)
        variant = "".join(p.capitalize() for p in parts) + "@" + domain.capitalize()
    return variant if variant != email else None


def email_plus_tag(email: str, rng: random.Random) -> str | None:
    local, _, domain = email.partition("@")
    if "+" in local:
        return None
    return f"{local}+{rng.choice(_PLUS_TAGS)}@{domain}"


def email_gmail_dots(email: str, rng: random.Random) -> str | None:
    """Gmail ignores dots in the local part, so ``j.smith`` and ``jsmith`` reach the same person."""
    local, _, domain = email.partition("@")
    if domain not in ("gmail.com", "googlemail.com") or len(local) < 3:
        return None
    if "." in local and rng.random() < 0.6:
        new_local = local.replace(".", "")
    else:
        plain = local.replace(".", "")
        cut = rng.randrange(1, len(plain))
        new_local = plain[:cut] + "." + plain[cut:]
    return f"{new_local}@{domain}" if new_local != local else None


def email_domain_alias(email: str, rng: random.Random) -> str | None:
    """The same person at another domain of the same provider or company (acme.com → acme.io)."""
    local, _, domain = email.partition("@")
    alias = vocab.FREE_MAIL_ALIASES.get(domain)
    if alias is None:
        label, _, tld = domain.partition(".")
        alias = f"{label}.{rng.choice(('io', 'net', 'co')) if tld == 'com' else 'com'}"
    return f"{local}@{alias}" if alias != domain else None


def bad_email(email: str, rng: random.Random) -> tuple[str, str]:
    """A syntactically invalid address derived from a valid one, and what is wrong with it."""
    local, _, domain = email.partition("@")
    kind = rng.choice(_BAD_EMAIL_KINDS)
    label, _, tld = domain.rpartition(".")
    if kind == "missing_at":
        return f"{local}{domain}", kind
    if kind == "double_dot":
        doubled = local.replace(".", "..", 1) if "." in local else f"{local}..{rng.choice('xyz')}"
        return f"{doubled}@{domain}", kind
    if kind == "space":
        return f"{local[:1]} {local[1:]}@{domain}", kind
    if kind == "no_tld":
        return f"{local}@{label.replace('.', '')}", kind
    if kind == "comma":
        return f"{local}@{label},{tld}", kind
    return f"{local}@@{domain}", kind


# --- phones --------------------------------------------------------------------------------------

PHONE_STYLES: tuple[str, ...] = ("international", "e164", "national", "dashes", "dots", "double_zero")


def format_phone(country: vocab.Country, nsn: str, style: str) -> str:
    """Write a national significant number the way people type it in forms."""
    groups = _split(nsn, country.phone_groups)
    nanp = country.calling_code == "1"
    if style == "international":
        return f"+{country.calling_code} " + " ".join(groups)
    if style == "e164":
        return f"+{country.calling_code}{nsn}"
    if style == "double_zero":
        return f"00{country.calling_code} " + " ".join(groups)
    trunk = country.trunk_prefix
    if style == "national":
        if nanp:
            return f"({groups[0]}) {groups[1]}-{''.join(groups[2:])}"
        return trunk + " ".join(groups)
    separator = "-" if style == "dashes" else "."
    return trunk + separator.join(groups)


def _split(digits: str, sizes: tuple[int, ...]) -> list[str]:
    out: list[str] = []
    start = 0
    for size in sizes:
        out.append(digits[start : start + size])
        start += size
    if start < len(digits):
        out[-1] += digits[start:]
    return out


def phone_variant(country: vocab.Country, nsn: str, style: str, rng: random.Random) -> tuple[str, str]:
    """The same number in another style, and that style."""
    others = [
        s for s in PHONE_STYLES if s != style and format_phone(country, nsn, s) != format_phone(country, nsn, style)
    ]
    new_style = rng.choice(others)
    return format_phone(country, nsn, new_style), new_style


def to_e164(text: str, country: vocab.Country) -> str:
    """Parse any style :func:`format_phone` writes back to ``+<cc><nsn>`` (for checks and tests)."""
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        return "+" + digits
    if digits.startswith("00" + country.calling_code):
        return "+" + digits[2:]
    if country.trunk_prefix and digits.startswith(country.trunk_prefix):
        digits = digits[len(country.trunk_prefix) :]
    return f"+{country.calling_code}{digits}"


# --- companies -----------------------------------------------------------------------------------


def company_variant(name: str, country: vocab.Country, rng: random.Random) -> str | None:
    """Another spelling of a company name: legal suffix dropped, added or spelled differently, or case."""
    base, suffix = split_legal_suffix(name)
    options: list[str] = [name.upper(), name.lower()]
    if suffix:
        options.append(base)
        options.extend(f"{base} {s}".replace(" ,", ",") for s in _LEGAL_SUFFIX_SPELLINGS[suffix])
    else:
        options.extend(f"{base} {s}" for s in country.legal_suffixes)
    options = [o for o in options if o != name]
    return rng.choice(options) if options else None


def split_legal_suffix(name: str) -> tuple[str, str | None]:
    for suffix in _KNOWN_SUFFIXES:
        if name.endswith(" " + suffix):
            return name[: -len(suffix) - 1], suffix
    return name, None
