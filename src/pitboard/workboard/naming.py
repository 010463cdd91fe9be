"""Naming conventions and UTM governance: generate, validate and suggest fixes. Pure functions, no I/O.

A campaign name is the convention's fields in order joined by the separator (``2026_emea_webinar_data-day``).
Each field is a closed vocabulary or a pattern. A value that breaks the rule gets a suggested fix: for a
vocabulary, the closest allowed value (case and punctuation folded first, then ``difflib`` similarity), for a
pattern, the value normalised (lower case, spaces to hyphens) when that passes.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pitboard.kit.errors import ValidationFailed
from pitboard.workboard.config import NamingField, NamingSpec

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


@dataclass(frozen=True)
class Issue:
    field: str
    value: str
    message: str
    suggestion: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"field": self.field, "value": self.value, "message": self.message, "suggestion": self.suggestion}


def _fold(value: str) -> str:
    return re.sub(r"[\s_\-./]+", "", value.casefold())


def normalise(value: str) -> str:
    """What a person meant: trimmed, lower case, runs of spaces or underscores as one hyphen."""
    return re.sub(r"[\s_]+", "-", value.strip().lower()).strip("-")


def closest(value: str, vocabulary: list[str]) -> str | None:
    """The allowed value closest to ``value``, or None when nothing is close enough to propose."""
    if not value:
        return None
    folded = _fold(value)
    for allowed in vocabulary:
        if _fold(allowed) == folded:
            return allowed
    by_fold = {_fold(a): a for a in vocabulary}
    for key, allowed in by_fold.items():  # "google-ads" → "google", "linkedin.com" → "linkedin"
        if len(key) >= 3 and folded.startswith(key):
            return allowed
    match = difflib.get_close_matches(folded, list(by_fold), n=1, cutoff=0.6)
    return by_fold[match[0]] if match else None


def _cased(spec: NamingSpec, value: str) -> str:
    return value.lower() if spec.case == "lower" else value.upper() if spec.case == "upper" else value


def _check_field(spec: NamingSpec, f: NamingField, value: str) -> Issue | None:
    if not value:
        return Issue(f.name, value, "is empty", None)
    if spec.case == "lower" and value != value.lower():
        fixed = _suggest(spec, f, value)
        return Issue(f.name, value, "must be lower case", fixed)
    if spec.case == "upper" and value != value.upper():
        return Issue(f.name, value, "must be upper case", _suggest(spec, f, value))
    if spec.separator in value:
        return Issue(f.name, value, f"must not contain the separator {spec.separator!r}", _suggest(spec, f, value))
    if f.values is not None and value not in f.values:
        return Issue(f.name, value, f"is not one of {', '.join(f.values)}", closest(value, f.values))
    if f.pattern is not None and not re.fullmatch(f.pattern, value):
        return Issue(f.name, value, f"does not match {f.pattern}", _suggest(spec, f, value))
    return None


def _suggest(spec: NamingSpec, f: NamingField, value: str) -> str | None:
    if f.values is not None:
        return closest(value, f.values)
    candidate = _cased(spec, normalise(value).replace(spec.separator, "-"))
    if f.pattern is not None and re.fullmatch(f.pattern, candidate):
        return candidate
    return None


def generate_name(spec: NamingSpec, parts: dict[str, str]) -> str:
    """The name for ``parts`` (field → value), or ValidationFailed listing every bad or missing part."""
    known = {f.name for f in spec.fields}
    unknown = sorted(set(parts) - known)
    problems = [
        f"{k}: not a field of the naming convention ({', '.join(f.name for f in spec.fields)})" for k in unknown
    ]
    values: list[str] = []
    for f in spec.fields:
        raw = (parts.get(f.name) or "").strip()
        if not raw:
            problems.append(f"{f.name}: missing")
            continue
        issue = _check_field(spec, f, raw)
        if issue is not None:
            hint = f" (did you mean {issue.suggestion!r}?)" if issue.suggestion else ""
            problems.append(f"{f.name}: {raw!r} {issue.message}{hint}")
        values.append(raw)
    if problems:
        raise ValidationFailed("the name breaks the naming convention: " + "; ".join(problems), details=problems)
    return spec.separator.join(values)


def check_name(spec: NamingSpec, name: str, *, label: str = "name") -> list[Issue]:
    """Every way ``name`` breaks the convention; a whole suggested name is on the first issue when one exists."""
    parts = name.split(spec.separator)
    fields = spec.fields
    if len(parts) != len(fields):
        expected = spec.separator.join(f"<{f.name}>" for f in fields)
        return [Issue(label, name, f"has {len(parts)} parts, the convention has {len(fields)}: {expected}",
                      _whole_suggestion(spec, name))]  # fmt: skip
    issues: list[Issue] = []
    for f, value in zip(fields, parts, strict=True):
        issue = _check_field(spec, f, value)
        if issue is not None:
            issues.append(Issue(f"{label}.{f.name}", value, issue.message, issue.suggestion))
    if issues:
        fixed = [next((i.suggestion for i in issues if i.field == f"{label}.{f.name}"), v)
                 for f, v in zip(fields, parts, strict=True)]  # fmt: skip
        if all(fixed):
            whole = spec.separator.join(x for x in fixed if x)
            first = issues[0]
            issues[0] = Issue(first.field, first.value, first.message + f" (whole name: {whole})", first.suggestion)
    return issues


def _whole_suggestion(spec: NamingSpec, name: str) -> str | None:
    """A name with the wrong number of parts: try other separators people use."""
    for sep in ("_", "-", " ", "|", "/", "."):
        if sep == spec.separator:
            continue
        parts = name.split(sep)
        if len(parts) == len(spec.fields):
            candidate = spec.separator.join(_cased(spec, p.strip()) for p in parts)
            if not check_name(spec, candidate):
                return candidate
    return None


def check_utm(
    spec: NamingSpec,
    *,
    source: str | None,
    medium: str | None,
    campaign: str | None,
    content: str | None = None,
    term: str | None = None,
) -> list[Issue]:
    """Problems with one set of UTM values (as tagged on a link, an event or a spend row)."""
    rules = spec.utm
    issues: list[Issue] = []
    for key, value, vocab in (("utm_source", source, rules.source), ("utm_medium", medium, rules.medium)):
        if not value:
            issues.append(Issue(key, "", "is missing"))
        elif value not in vocab:
            issues.append(Issue(key, value, f"is not one of {', '.join(vocab)}", closest(value, vocab)))
    if not campaign:
        issues.append(Issue("utm_campaign", "", "is missing"))
    elif rules.campaign_follows_naming:
        for issue in check_name(spec, campaign, label="utm_campaign"):
            issues.append(issue)
    for key, value, pattern in (
        ("utm_content", content, rules.content_pattern),
        ("utm_term", term, rules.term_pattern),
    ):
        if value and pattern and not re.fullmatch(pattern, value):
            fixed = normalise(value)
            issues.append(
                Issue(key, value, f"does not match {pattern}", fixed if re.fullmatch(pattern, fixed) else None)
            )
    return issues


def build_utm_url(
    spec: NamingSpec,
    url: str,
    *,
    source: str,
    medium: str,
    campaign: str,
    content: str | None = None,
    term: str | None = None,
) -> str:
    """``url`` tagged with the UTM values, which must pass the rules; other query parameters are kept."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationFailed(f"url must be an absolute http(s) address, got {url!r}")
    issues = check_utm(spec, source=source, medium=medium, campaign=campaign, content=content, term=term)
    if issues:
        text = "; ".join(
            f"{i.field} {i.value!r} {i.message}" + (f" (did you mean {i.suggestion!r}?)" if i.suggestion else "")
            for i in issues
        )
        raise ValidationFailed(f"the UTM values break the convention: {text}", details=[i.to_dict() for i in issues])
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in UTM_KEYS]
    tags = {"utm_source": source, "utm_medium": medium, "utm_campaign": campaign, "utm_content": content,
            "utm_term": term}  # fmt: skip
    query += [(k, v) for k, v in tags.items() if v]
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query), parts.fragment))
