"""One raw Segment message (already JSON-decoded) in, one validated, normalised record out.

Pure: no I/O and no clock (the caller passes ``received_at``), so the same body always gives the same
record, which is what makes generated message ids and retries safe. The rules, and the choices where the
Segment spec leaves room, are written down in ``docs/tracking-rules.md``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Set
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pitboard.events.channels import default_channel_group, host_of, referrer_host
from pitboard.kit.time import ensure_utc

EVENT_TYPES = ("identify", "track", "page", "screen", "group", "alias")
# Our columns hold 200 characters; refusing beats truncating, which would silently merge distinct values.
MAX_ID_LENGTH = 200
MAX_NAME_LENGTH = 200
MAX_UTM_LENGTH = 200
# Deeper than any real payload; bounding it keeps the recursive helpers below far from Python's stack limit.
MAX_NESTING = 64
GENERATED_ID_PREFIX = "pb-"
UTM_KEYS = ("source", "medium", "campaign", "term", "content")

# Ad-platform click ids that stand in for UTMs when a link carries none (see _click_id_attribution).
_CLICK_IDS: tuple[tuple[str, str, str], ...] = (
    ("gclid", "google", "cpc"),
    ("gbraid", "google", "cpc"),  # Google Ads on iOS, in place of gclid
    ("wbraid", "google", "cpc"),
    ("msclkid", "bing", "cpc"),
    # Facebook adds fbclid to every outbound link, organic posts included, so it says "came from
    # Facebook", not "clicked an ad": referral (which GA4 turns into Organic Social), never paid.
    ("fbclid", "facebook", "referral"),
)


class MessageError(ValueError):
    """A message that breaks the Segment spec (or our limits); ``field`` names the offending field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class NormalizedMessage:
    message_id: str
    event_type: str
    name: str | None
    user_id: str | None
    anonymous_id: str | None
    previous_id: str | None
    group_id: str | None
    traits: dict[str, Any]
    properties: dict[str, Any]
    context: dict[str, Any]
    integrations: dict[str, Any]
    original_timestamp: datetime | None
    sent_at: datetime | None
    received_at: datetime
    occurred_at: datetime
    utm: dict[str, str | None]
    channel: str
    email: str | None
    page_url: str | None
    referrer: str | None


# --- Generic JSON helpers ----------------------------------------------------------------------------------


def strip_nulls(value: Any) -> Any:
    """``value`` without JSON nulls: Segment treats a null field as an absent one.

    Keys whose value is null are dropped from objects and null items from arrays, at every depth.
    Empty objects and arrays left behind are kept (they were sent, just empty).
    """
    if isinstance(value, dict):
        return {key: strip_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [strip_nulls(item) for item in value if item is not None]
    return value


def _deep_merge(base: dict[str, Any], override: dict[str, Any], depth: int = 1) -> dict[str, Any]:
    """``override`` on top of ``base``; nested objects merge key by key, anything else is replaced.

    A null in ``override`` means "not given", so it does not erase what ``base`` has. Below
    ``MAX_NESTING`` levels ``override`` simply wins: such a message is rejected later anyway, and the bound
    keeps hostile nesting from exhausting the stack before it can be rejected.
    """
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and depth < MAX_NESTING:
            merged[key] = _deep_merge(merged[key], value, depth + 1)
        else:
            merged[key] = value
    return merged


def merge_batch_level(message: dict[str, Any], batch: dict[str, Any]) -> dict[str, Any]:
    """One item of a ``/v1/batch`` body with the batch-level ``context``, ``integrations`` and ``sentAt``.

    The item's own values win, key by key at any depth; ``sentAt`` comes from the batch only when the item
    has none. Never raises: a malformed batch-level value is handed to an item that has no value of its own
    so that :func:`normalize_message` rejects that item with a message naming the field. Nested values of
    the batch may be shared between items; :func:`normalize_message` builds fresh containers throughout.
    """
    merged = dict(message)
    for key in ("context", "integrations"):
        shared = batch.get(key)
        if shared is None:
            continue
        own = message.get(key)
        if own is None:
            merged[key] = shared
        elif isinstance(own, dict) and isinstance(shared, dict):
            merged[key] = _deep_merge(shared, own)
    if message.get("sentAt") is None and batch.get("sentAt") is not None:
        merged["sentAt"] = batch["sentAt"]
    return merged


def _check_nesting(value: Any) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: list[Any] = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_NESTING:
            raise MessageError("message", f"is nested more than {MAX_NESTING} levels deep")
        stack.extend((child, depth + 1) for child in children)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- Field readers -----------------------------------------------------------------------------------------


def _identifier(message: dict[str, Any], key: str) -> str | None:
    """An id field as a string: Segment allows strings and numbers. Empty or blank counts as absent."""
    value = message.get(key)
    if value is None:
        return None
    if isinstance(value, bool):  # bool is an int subclass; True is not an id
        raise MessageError(key, "must be a string or a number")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise MessageError(key, "must be a finite number")
        text = str(int(value)) if value.is_integer() else repr(value)  # 42.0 is the id "42", as JS prints it
    elif isinstance(value, str):
        text = value
    else:
        raise MessageError(key, "must be a string or a number")
    if not text.strip():
        return None
    if len(text) > MAX_ID_LENGTH:
        raise MessageError(key, f"is {len(text)} characters long; the limit is {MAX_ID_LENGTH}")
    return text


def _name(message: dict[str, Any], key: str) -> str | None:
    """An event or page name, without surrounding whitespace (" Signed Up" and "Signed Up" are one event)."""
    value = message.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MessageError(key, "must be a string")
    text = value.strip()
    if len(text) > MAX_NAME_LENGTH:
        raise MessageError(key, f"is {len(text)} characters long; the limit is {MAX_NAME_LENGTH}")
    return text or None


def _object(container: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    value = container.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MessageError(path, "must be an object")
    return value


def _text(value: Any) -> str | None:
    """A string attribute we derive from (URL, referrer); anything else is ignored, not an error.

    Such values stay in ``context`` / ``properties`` exactly as sent, so nothing is lost by ignoring them.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    return text or None


def parse_timestamp(value: Any, field: str) -> datetime | None:
    """An aware UTC datetime from an ISO-8601 string or epoch milliseconds; None when absent.

    ISO strings may end in ``Z`` or carry an offset; one without either is taken as UTC.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise MessageError(field, "must be an ISO-8601 string or epoch milliseconds")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise MessageError(field, "must be a finite number of epoch milliseconds")
        try:
            return datetime.fromtimestamp(value / 1000, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise MessageError(field, f"epoch milliseconds {value} are out of range") from exc
    if isinstance(value, str):
        try:
            return ensure_utc(datetime.fromisoformat(value.strip()))
        except (ValueError, OverflowError) as exc:  # OverflowError: year 1 or 9999 shifted out of range
            raise MessageError(field, f"is not an ISO-8601 timestamp: {_short(value)}") from exc
    raise MessageError(field, "must be an ISO-8601 string or epoch milliseconds")


def _event_type(message: dict[str, Any], default_type: str | None) -> str:
    raw = message.get("type")
    if raw is None:
        event_type = default_type
    elif isinstance(raw, str):
        event_type = raw.strip().lower()
    else:
        raise MessageError("type", "must be a string")
    if event_type is None:
        raise MessageError("type", f"is required: one of {', '.join(EVENT_TYPES)}")
    if event_type not in EVENT_TYPES:
        raise MessageError("type", f"{_short(raw)} is not one of {', '.join(EVENT_TYPES)}")
    # A body that says "identify" posted to /v1/track is a client bug; guessing which one it meant is worse.
    if default_type is not None and event_type != default_type:
        raise MessageError("type", f"is {event_type!r} but the message was sent to the {default_type} endpoint")
    return event_type


def _generated_message_id(message: dict[str, Any], event_type: str) -> str:
    """A deterministic id for a message that came without one, so a retried body is still deduplicated.

    ``sentAt`` is left out because a client stamps it afresh on every attempt; the type is put in because
    the same body posted to /v1/track and /v1/page is two different messages.
    """
    payload = {key: value for key, value in message.items() if key not in ("sentAt", "messageId")}
    payload["type"] = event_type
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return GENERATED_ID_PREFIX + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- Attribution -------------------------------------------------------------------------------------------


def _utm_value(value: Any, path: str) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None  # stays in context as sent; it just cannot be a UTM value
    text = str(value).strip()
    if len(text) > MAX_UTM_LENGTH:
        raise MessageError(path, f"is {len(text)} characters long; the limit is {MAX_UTM_LENGTH}")
    return text or None


def _query(url: str | None) -> dict[str, list[str]]:
    if url is None:
        return {}
    try:
        return parse_qs(urlsplit(url).query)
    except ValueError:  # a malformed URL gives no parameters rather than rejecting the whole message
        return {}


def extract_utm(campaign: dict[str, Any], page_url: str | None) -> dict[str, str | None]:
    """UTM source, medium, campaign, term and content for a message.

    ``context.campaign`` (Segment's libraries fill it from the landing URL) wins as a whole; only when it
    yields nothing are the ``utm_*`` parameters of the page URL read. Within ``context.campaign`` Segment's
    names (``name``, ``source``, ...) win over ``utm_*`` spellings. Ad click ids fill in source and medium
    when neither was tagged.
    """
    utm: dict[str, str | None] = dict.fromkeys(UTM_KEYS)
    for key in UTM_KEYS:
        plain = "name" if key == "campaign" else key
        for candidate in (plain, f"utm_{key}"):
            value = _utm_value(campaign.get(candidate), f"context.campaign.{candidate}")
            if value is not None:
                utm[key] = value
                break
    query = _query(page_url)
    if not any(utm.values()):
        for key in UTM_KEYS:
            values = query.get(f"utm_{key}")
            if values:
                utm[key] = _utm_value(values[0], f"utm_{key} in the page URL")
    if utm["source"] is None and utm["medium"] is None:
        for parameter, source, medium in _CLICK_IDS:
            if query.get(parameter):
                utm["source"], utm["medium"] = source, medium
                break
    return utm


def _correct_clock_skew(original: datetime | None, sent_at: datetime | None, received_at: datetime) -> datetime:
    """When the event happened, on our clock.

    With both device times known, Segment's correction ``receivedAt - (sentAt - originalTimestamp)`` keeps
    the device's own measure of "how long ago" while discarding its (possibly wrong) idea of "now". A time
    after ``received_at`` can only be a bad device clock, so it is clamped to ``received_at``.
    """
    if original is not None and sent_at is not None:
        occurred = received_at - (sent_at - original)
    elif original is not None:
        occurred = original
    else:
        occurred = received_at
    return min(occurred, received_at)


def _email(*sources: dict[str, Any]) -> str | None:
    for values in sources:
        value = values.get("email")
        if isinstance(value, str):
            text = value.strip().lower()
            if "@" in text:  # anything else is not an address worth matching contacts on
                return text
    return None


# --- The entry point ---------------------------------------------------------------------------------------


def normalize_message(
    raw: dict[str, Any],
    *,
    received_at: datetime,
    default_type: str | None = None,
    own_hosts: Set[str] = frozenset(),
) -> NormalizedMessage:
    """Validate one Segment message and turn it into a :class:`NormalizedMessage`.

    ``raw`` should already carry batch-level data (see :func:`merge_batch_level`). ``default_type`` is the
    type the route implies (``/v1/track`` → ``"track"``); ``own_hosts`` are the site's own host names, whose
    referrers are internal navigation rather than a traffic source. Raises :class:`MessageError`.
    """
    if not isinstance(raw, dict):
        raise MessageError("message", "must be a JSON object")
    _check_nesting(raw)
    received_at = ensure_utc(received_at)
    message: dict[str, Any] = strip_nulls(raw)

    event_type = _event_type(message, default_type)
    user_id = _identifier(message, "userId")
    anonymous_id = _identifier(message, "anonymousId")
    previous_id = _identifier(message, "previousId") if event_type == "alias" else None
    group_id = _identifier(message, "groupId") if event_type == "group" else None
    name: str | None = None
    if event_type == "track":
        name = _name(message, "event")
        if name is None:
            raise MessageError("event", "a track call needs a non-empty event name")
    elif event_type in ("page", "screen"):
        name = _name(message, "name")

    if event_type == "alias":
        if previous_id is None:
            raise MessageError("previousId", "an alias call needs previousId")
        if user_id is None:
            raise MessageError("userId", "an alias call needs userId")
    elif user_id is None and anonymous_id is None:
        raise MessageError("userId", f"a {event_type} call needs userId or anonymousId")
    if event_type == "group" and group_id is None:
        raise MessageError("groupId", "a group call needs groupId")

    message_id = _identifier(message, "messageId") or _generated_message_id(message, event_type)

    context = _object(message, "context", "context")
    properties = _object(message, "properties", "properties")
    integrations = _object(message, "integrations", "integrations")
    context_traits = _object(context, "traits", "context.traits")
    page = _object(context, "page", "context.page")
    campaign = _object(context, "campaign", "context.campaign")
    if event_type in ("identify", "group"):
        traits = _deep_merge(context_traits, _object(message, "traits", "traits"))
    else:
        traits = dict(context_traits)
    category = message.get("category")
    if event_type in ("page", "screen") and isinstance(category, str) and "category" not in properties:
        # Segment's page(category, name): keep the category, which has no column of its own, with the rest.
        properties = {**properties, "category": category}

    original_timestamp = parse_timestamp(message.get("originalTimestamp"), "originalTimestamp")
    timestamp = parse_timestamp(message.get("timestamp"), "timestamp")
    sent_at = parse_timestamp(message.get("sentAt"), "sentAt")
    if original_timestamp is None:
        original_timestamp = timestamp
    occurred_at = _correct_clock_skew(original_timestamp, sent_at, received_at)

    page_url = _text(page.get("url"))
    if page_url is None and event_type == "page":
        page_url = _text(properties.get("url"))
    referrer = _text(page.get("referrer")) or _text(properties.get("referrer"))
    utm = extract_utm(campaign, page_url)
    # The page's own host is never a traffic source, even if the caller did not list it.
    hosts = set(own_hosts)
    landing_host = host_of(page_url)
    if landing_host is not None:
        hosts.add(landing_host)
    channel = default_channel_group(
        source=utm["source"],
        medium=utm["medium"],
        campaign=utm["campaign"],
        referrer_host=referrer_host(referrer, hosts),
    )

    return NormalizedMessage(
        message_id=message_id,
        event_type=event_type,
        name=name,
        user_id=user_id,
        anonymous_id=anonymous_id,
        previous_id=previous_id,
        group_id=group_id,
        traits=traits,
        properties=properties,
        context=context,
        integrations=integrations,
        original_timestamp=original_timestamp,
        sent_at=sent_at,
        received_at=received_at,
        occurred_at=occurred_at,
        utm=utm,
        channel=channel,
        email=_email(traits, properties),
        page_url=page_url,
        referrer=referrer,
    )
