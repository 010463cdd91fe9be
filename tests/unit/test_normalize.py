"""Normalising Segment messages: batch merging, nulls, traits, ids, timestamps and attribution."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from pitboard.events.normalize import (
    MessageError,
    NormalizedMessage,
    extract_utm,
    merge_batch_level,
    normalize_message,
    parse_timestamp,
    strip_nulls,
)

RECEIVED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def norm(raw: dict[str, Any], **kwargs: Any) -> NormalizedMessage:
    kwargs.setdefault("received_at", RECEIVED)
    return normalize_message(raw, **kwargs)


def track(**fields: Any) -> dict[str, Any]:
    return {"type": "track", "event": "Signed Up", "anonymousId": "anon-1", **fields}


def error_field(raw: Any, **kwargs: Any) -> str:
    with pytest.raises(MessageError) as caught:
        norm(raw, **kwargs)
    assert str(caught.value).startswith(caught.value.field + ": ")  # the message names the field
    return caught.value.field


# --- Batch level and nulls ---------------------------------------------------------------------------------


def test_batch_level_context_and_integrations_merge_deeply_and_the_item_wins() -> None:
    batch: dict[str, Any] = {
        "batch": [],
        "context": {"library": {"name": "analytics-python", "version": "2.0"}, "ip": "10.0.0.1"},
        "integrations": {"All": False, "Mixpanel": {"people": True}},
        "sentAt": "2024-05-01T10:00:05Z",
    }
    item = {
        "type": "track",
        "context": {"library": {"version": "2.3"}, "locale": "nl-NL"},
        "integrations": {"Mixpanel": {"flush": False}},
    }
    merged = merge_batch_level(item, batch)
    assert merged["context"] == {
        "library": {"name": "analytics-python", "version": "2.3"},
        "ip": "10.0.0.1",
        "locale": "nl-NL",
    }
    assert merged["integrations"] == {"All": False, "Mixpanel": {"people": True, "flush": False}}
    assert merged["sentAt"] == "2024-05-01T10:00:05Z"
    # The inputs are left alone.
    assert item["context"] == {"library": {"version": "2.3"}, "locale": "nl-NL"}
    assert batch["context"]["library"] == {"name": "analytics-python", "version": "2.0"}


def test_item_sent_at_wins_and_item_nulls_count_as_absent() -> None:
    batch = {"context": {"ip": "10.0.0.1"}, "sentAt": "2024-05-01T10:00:05Z"}
    assert merge_batch_level({"sentAt": "2024-05-01T09:00:00Z"}, batch)["sentAt"] == "2024-05-01T09:00:00Z"
    merged = merge_batch_level({"context": None, "sentAt": None}, batch)
    assert merged["context"] == {"ip": "10.0.0.1"}
    assert merged["sentAt"] == "2024-05-01T10:00:05Z"
    merged = merge_batch_level({"context": {"ip": None, "locale": "en"}}, batch)
    assert merged["context"] == {"ip": "10.0.0.1", "locale": "en"}
    assert merge_batch_level({"type": "page"}, {}) == {"type": "page"}


def test_a_malformed_batch_level_context_rejects_the_items_that_inherit_it() -> None:
    merged = merge_batch_level(track(), {"context": "oops"})
    assert error_field(merged) == "context"
    # An item with its own context keeps it.
    assert norm(merge_batch_level(track(context={"ip": "1.2.3.4"}), {"context": "oops"})).context == {"ip": "1.2.3.4"}


def test_strip_nulls_drops_nulls_at_every_depth_and_keeps_other_falsy_values() -> None:
    raw: dict[str, Any] = {
        "a": None,
        "b": {"c": None, "d": 0, "e": "", "f": False, "g": {}},
        "h": [None, 1, {"i": None, "j": [None]}, None],
        "k": [],
    }
    assert strip_nulls(raw) == {"b": {"d": 0, "e": "", "f": False, "g": {}}, "h": [1, {"j": []}], "k": []}
    assert strip_nulls(None) is None
    assert strip_nulls(5) == 5


def test_normalised_payloads_have_no_nulls() -> None:
    m = norm(track(properties={"plan": None, "seats": 3, "tags": ["a", None]}, context={"ip": None}))
    assert m.properties == {"seats": 3, "tags": ["a"]}
    assert m.context == {}


# --- Types, ids and names ----------------------------------------------------------------------------------


def test_type_from_route_and_body() -> None:
    assert norm({"event": "X", "userId": "u1"}, default_type="track").event_type == "track"
    assert norm({"type": "Track", "event": "X", "userId": "u1"}).event_type == "track"
    assert norm({"type": "page", "userId": "u1"}, default_type="page").event_type == "page"
    assert error_field({"event": "X", "userId": "u1"}) == "type"
    assert error_field({"type": "purchase", "userId": "u1"}) == "type"
    assert error_field({"type": 3, "userId": "u1"}) == "type"
    # A body that contradicts its route is refused rather than guessed at.
    assert error_field({"type": "identify", "userId": "u1"}, default_type="track") == "type"


@pytest.mark.parametrize("event_type", ["identify", "track", "page", "screen", "group"])
def test_user_or_anonymous_id_is_required(event_type: str) -> None:
    raw = {"type": event_type, "event": "X", "groupId": "g1"}
    assert error_field(raw) == "userId"
    assert error_field({**raw, "userId": "", "anonymousId": "   "}) == "userId"  # blank is absent
    assert norm({**raw, "anonymousId": "a1"}).anonymous_id == "a1"
    assert norm({**raw, "userId": "u1"}).user_id == "u1"


def test_ids_may_be_numbers_but_not_other_types() -> None:
    m = norm(track(userId=42, anonymousId=7.0, messageId=123456789))
    assert (m.user_id, m.anonymous_id, m.message_id) == ("42", "7", "123456789")
    assert norm(track(userId=1.5)).user_id == "1.5"
    assert error_field(track(userId=True)) == "userId"
    assert error_field(track(anonymousId={"id": 1})) == "anonymousId"
    assert error_field(track(messageId=["m"])) == "messageId"
    assert error_field(track(userId=float("nan"))) == "userId"


def test_overlong_ids_and_names_are_refused_not_truncated() -> None:
    assert norm(track(userId="u" * 200)).user_id == "u" * 200
    assert error_field(track(userId="u" * 201)) == "userId"
    assert error_field(track(messageId="m" * 201)) == "messageId"
    assert error_field({"type": "group", "userId": "u1", "groupId": "g" * 201}) == "groupId"
    assert error_field({"type": "alias", "userId": "u1", "previousId": "p" * 201}) == "previousId"
    assert norm(track(event="E" * 200)).name == "E" * 200
    assert error_field(track(event="E" * 201)) == "event"
    assert error_field({"type": "page", "userId": "u1", "name": "P" * 201}) == "name"


def test_track_needs_a_non_empty_string_event() -> None:
    assert error_field({"type": "track", "userId": "u1"}) == "event"
    assert error_field(track(event="   ")) == "event"
    assert error_field(track(event=12)) == "event"
    assert norm(track(event="  Order Completed ")).name == "Order Completed"


def test_names_by_type() -> None:
    assert norm({"type": "page", "userId": "u", "name": "Pricing"}).name == "Pricing"
    assert norm({"type": "screen", "userId": "u", "name": "Home"}).name == "Home"
    assert norm({"type": "page", "userId": "u"}).name is None
    assert norm({"type": "identify", "userId": "u", "event": "ignored"}).name is None


def test_group_and_alias_requirements() -> None:
    assert error_field({"type": "group", "userId": "u1"}) == "groupId"
    group = norm({"type": "group", "userId": "u1", "groupId": 99})
    assert group.group_id == "99"
    assert error_field({"type": "alias", "userId": "u1"}) == "previousId"
    assert error_field({"type": "alias", "previousId": "anon-1", "anonymousId": "anon-2"}) == "userId"
    alias = norm({"type": "alias", "previousId": "anon-1", "userId": "u1"})
    assert (alias.previous_id, alias.user_id, alias.anonymous_id) == ("anon-1", "u1", None)
    # previousId / groupId only mean something for their own call.
    assert norm(track(previousId="x", groupId="y")).previous_id is None


def test_client_message_id_is_kept() -> None:
    assert norm(track(messageId="ajs-123")).message_id == "ajs-123"


def test_generated_message_id_is_deterministic() -> None:
    body = track(userId="u1", properties={"plan": "pro", "seats": 3}, timestamp="2024-05-01T10:00:00Z")
    first = norm(body).message_id
    assert first.startswith("pb-")
    assert len(first) == 3 + 64
    assert norm(dict(body)).message_id == first
    # Same content in another key order, a retry with a fresh sentAt, explicit nulls: the same message.
    assert norm(dict(reversed(list(body.items())))).message_id == first
    assert norm({**body, "sentAt": "2024-05-01T10:00:09Z"}).message_id == first
    assert norm({**body, "context": None, "messageId": None}).message_id == first
    assert norm(body, received_at=RECEIVED + timedelta(hours=1)).message_id == first
    # Any difference in content is another message.
    assert norm({**body, "properties": {"plan": "pro", "seats": 4}}).message_id != first
    assert norm({**body, "timestamp": "2024-05-01T10:00:01Z"}).message_id != first
    assert norm({**body, "event": "Signed In"}).message_id != first
    # The same untyped body on two routes is two messages.
    untyped = {"userId": "u1", "name": "Home"}
    assert norm(untyped, default_type="page").message_id != norm(untyped, default_type="screen").message_id


# --- Objects and traits ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["context", "properties", "integrations", "traits"])
def test_objects_must_be_objects(key: str) -> None:
    raw = {"type": "identify", "userId": "u1", key: ["not", "an", "object"]}
    assert error_field(raw) == key


def test_nested_objects_we_read_must_be_objects() -> None:
    assert error_field(track(context={"page": "https://x"})) == "context.page"
    assert error_field(track(context={"campaign": 5})) == "context.campaign"
    assert error_field(track(context={"traits": "vip"})) == "context.traits"


def test_message_must_be_an_object_of_bounded_depth() -> None:
    assert error_field(["not", "a", "dict"]) == "message"
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(100):
        node["x"] = {}
        node = node["x"]
    assert error_field(track(properties=deep)) == "message"


def test_identify_traits_merge_with_context_traits_and_top_level_wins() -> None:
    m = norm(
        {
            "type": "identify",
            "userId": "u1",
            "traits": {"plan": "pro", "address": {"city": "Utrecht"}, "email": " Ann@Example.COM "},
            "context": {"traits": {"plan": "free", "name": "Ann", "address": {"city": "Delft", "country": "NL"}}},
        }
    )
    assert m.traits == {
        "plan": "pro",
        "name": "Ann",
        "address": {"city": "Utrecht", "country": "NL"},
        "email": " Ann@Example.COM ",
    }
    assert m.email == "ann@example.com"


def test_group_traits_merge_and_track_traits_come_from_context() -> None:
    group = norm({"type": "group", "userId": "u1", "groupId": "g1", "traits": {"name": "Acme"}})
    assert group.traits == {"name": "Acme"}
    m = norm(track(traits={"ignored": True}, context={"traits": {"email": "bob@example.com"}}))
    assert m.traits == {"email": "bob@example.com"}
    assert m.email == "bob@example.com"


def test_email_from_traits_then_properties() -> None:
    assert norm(track(properties={"email": "PROPS@example.com"})).email == "props@example.com"
    both = track(properties={"email": "props@example.com"}, context={"traits": {"email": "traits@example.com"}})
    assert norm(both).email == "traits@example.com"
    assert norm(track(properties={"email": "not an address"})).email is None
    assert norm(track(properties={"email": 12})).email is None
    assert norm(track()).email is None


def test_page_category_is_kept_with_the_properties() -> None:
    m = norm({"type": "page", "userId": "u1", "category": "Docs", "name": "Install", "properties": {"a": 1}})
    assert m.properties == {"a": 1, "category": "Docs"}
    keep = norm({"type": "page", "userId": "u1", "category": "Docs", "properties": {"category": "Blog"}})
    assert keep.properties == {"category": "Blog"}


def test_normalized_message_is_frozen() -> None:
    m = norm(track())
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.name = "other"  # type: ignore[misc]


# --- Timestamps --------------------------------------------------------------------------------------------


def test_clock_skew_correction() -> None:
    m = norm(track(originalTimestamp="2024-05-01T10:00:00Z", sentAt="2024-05-01T10:00:05Z"))
    assert m.occurred_at == datetime(2024, 5, 1, 11, 59, 55, tzinfo=UTC)
    assert m.original_timestamp == datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
    assert m.sent_at == datetime(2024, 5, 1, 10, 0, 5, tzinfo=UTC)
    assert m.received_at == RECEIVED


def test_timestamp_stands_in_for_original_timestamp() -> None:
    m = norm(track(timestamp="2024-05-01T09:59:00Z", sentAt="2024-05-01T10:00:00Z"))
    assert m.original_timestamp == datetime(2024, 5, 1, 9, 59, tzinfo=UTC)
    assert m.occurred_at == RECEIVED - timedelta(minutes=1)
    both = norm(track(originalTimestamp="2024-05-01T10:00:00Z", timestamp="2024-04-01T00:00:00Z"))
    assert both.original_timestamp == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def test_occurred_at_without_sent_at_or_without_any_device_time() -> None:
    only_original = norm(track(timestamp="2024-04-30T08:00:00+02:00"))
    assert only_original.occurred_at == datetime(2024, 4, 30, 6, 0, tzinfo=UTC)
    nothing = norm(track(sentAt="2024-05-01T10:00:05Z"))
    assert nothing.original_timestamp is None
    assert nothing.occurred_at == RECEIVED


def test_future_times_are_clamped_to_received_at() -> None:
    # The event "happened" 5 s after it was sent: a device clock went backwards.
    skewed = norm(track(originalTimestamp="2024-05-01T10:00:10Z", sentAt="2024-05-01T10:00:05Z"))
    assert skewed.occurred_at == RECEIVED
    ahead = norm(track(timestamp="2024-05-02T00:00:00Z"))
    assert ahead.occurred_at == RECEIVED
    assert ahead.original_timestamp == datetime(2024, 5, 2, tzinfo=UTC)  # what the client said is kept


def test_timestamp_formats() -> None:
    assert parse_timestamp(1_700_000_000_000, "t") == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert parse_timestamp(1_700_000_000_500.0, "t") == datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC)
    assert parse_timestamp("2024-05-01T10:00:00.123Z", "t") == datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert parse_timestamp("2024-05-01T12:00:00+02:00", "t") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_timestamp("2024-05-01T10:00:00", "t") == datetime(2024, 5, 1, 10, tzinfo=UTC)  # naive is UTC
    assert parse_timestamp(None, "t") is None
    parsed = parse_timestamp("2024-05-01T07:30:00-02:30", "t")
    assert parsed is not None
    assert parsed.tzinfo is UTC
    assert parsed == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    m = norm(track(originalTimestamp=1_714_557_600_000, sentAt=1_714_557_605_000))  # 10:00:00 and 10:00:05
    assert m.occurred_at == datetime(2024, 5, 1, 11, 59, 55, tzinfo=UTC)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timestamp", "yesterday"),
        ("originalTimestamp", "2024-13-01T00:00:00Z"),
        ("sentAt", ""),
        ("timestamp", True),
        ("timestamp", {"seconds": 1}),
        ("timestamp", 10**20),
        ("sentAt", float("inf")),
        ("timestamp", "0001-01-01T00:00:00+01:00"),
    ],
)
def test_bad_timestamps_are_refused_naming_the_field(field: str, value: Any) -> None:
    assert error_field(track(**{field: value})) == field


def test_received_at_is_made_utc() -> None:
    amsterdam = timezone(timedelta(hours=2))
    assert norm(track(), received_at=datetime(2024, 5, 1, 14, 0, tzinfo=amsterdam)).received_at == RECEIVED
    assert norm(track(), received_at=datetime(2024, 5, 1, 12, 0)).received_at == RECEIVED


# --- Attribution -------------------------------------------------------------------------------------------

LANDING = "https://acme.io/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=may&utm_term=t&utm_content=c"


def test_utms_from_context_campaign() -> None:
    m = norm(track(context={"campaign": {"name": "spring", "source": "google", "medium": "cpc", "term": "crm"}}))
    assert m.utm == {"source": "google", "medium": "cpc", "campaign": "spring", "term": "crm", "content": None}
    assert m.channel == "Paid Search"


def test_context_campaign_accepts_utm_spellings_and_segment_names_win() -> None:
    campaign = {"utm_source": "facebook", "utm_medium": "paid", "utm_campaign": "x", "name": "y", "utm_content": 5}
    assert extract_utm(campaign, None) == {
        "source": "facebook",
        "medium": "paid",
        "campaign": "y",
        "term": None,
        "content": "5",
    }


def test_context_campaign_wins_over_the_page_url_as_a_whole() -> None:
    m = norm(track(context={"campaign": {"source": "linkedin"}, "page": {"url": LANDING}}))
    assert m.utm == {"source": "linkedin", "medium": None, "campaign": None, "term": None, "content": None}
    assert m.channel == "Organic Social"
    assert m.page_url == LANDING


def test_utms_from_the_page_url() -> None:
    m = norm(track(context={"page": {"url": LANDING}}))
    assert m.utm == {"source": "newsletter", "medium": "email", "campaign": "may", "term": "t", "content": "c"}
    assert m.channel == "Email"
    page = norm({"type": "page", "userId": "u1", "properties": {"url": LANDING}})
    assert page.page_url == LANDING
    assert page.utm["campaign"] == "may"
    # properties.url only stands for the page URL on a page call.
    assert norm(track(properties={"url": LANDING})).utm["source"] is None


def test_utm_spaces_are_decoded_and_blank_values_dropped() -> None:
    m = norm(
        track(context={"page": {"url": "https://acme.io/?utm_source=&utm_medium=social+media&utm_campaign=a%20b"}})
    )
    assert (m.utm["source"], m.utm["medium"], m.utm["campaign"]) == (None, "social media", "a b")
    assert m.channel == "Organic Social"


def test_overlong_utm_values_are_refused() -> None:
    assert error_field(track(context={"campaign": {"content": "c" * 201}})) == "context.campaign.content"
    url = "https://acme.io/?utm_term=" + "t" * 201
    assert error_field(track(context={"page": {"url": url}})) == "utm_term in the page URL"


@pytest.mark.parametrize(
    ("query", "source", "medium", "channel"),
    [
        ("gclid=abc", "google", "cpc", "Paid Search"),
        ("wbraid=abc", "google", "cpc", "Paid Search"),
        ("msclkid=abc", "bing", "cpc", "Paid Search"),
        ("fbclid=abc", "facebook", "referral", "Organic Social"),
        ("gclid=abc&fbclid=def", "google", "cpc", "Paid Search"),
        ("gclid=abc&utm_source=newsletter&utm_medium=email", "newsletter", "email", "Email"),
        ("gclid=", None, None, "Direct"),
    ],
)
def test_click_ids_stand_in_for_missing_utms(query: str, source: str, medium: str, channel: str) -> None:
    m = norm(track(context={"page": {"url": f"https://acme.io/?{query}"}}))
    assert (m.utm["source"], m.utm["medium"], m.channel) == (source, medium, channel)


def test_gclid_keeps_a_tagged_campaign_name() -> None:
    m = norm(track(context={"campaign": {"name": "brand"}, "page": {"url": "https://acme.io/?gclid=x"}}))
    assert (m.utm["source"], m.utm["medium"], m.utm["campaign"]) == ("google", "cpc", "brand")


def test_untagged_visits_are_classified_by_referrer() -> None:
    google = norm(track(context={"page": {"url": "https://acme.io/", "referrer": "https://www.google.co.uk/"}}))
    assert google.channel == "Organic Search"
    assert google.referrer == "https://www.google.co.uk/"
    assert google.utm["source"] is None  # the referrer is attribution, not a UTM
    facebook = norm({"type": "page", "userId": "u1", "properties": {"referrer": "https://l.facebook.com/l.php"}})
    assert facebook.channel == "Organic Social"
    assert norm(track(context={"page": {"referrer": "https://blog.example.org/post"}})).channel == "Referral"
    assert norm(track()).channel == "Direct"


def test_internal_referrers_are_direct() -> None:
    internal = {"page": {"url": "https://www.acme.io/pricing", "referrer": "https://docs.acme.dev/start"}}
    assert norm(track(context=internal), own_hosts=frozenset({"acme.io", "acme.dev"})).channel == "Direct"
    assert norm(track(context=internal)).channel == "Referral"  # not ours unless we say so
    # The landing page's own host (and its subdomains) is always internal, even with no own_hosts.
    for referrer in ("https://acme.io/", "https://www.acme.io/", "https://app.acme.io/login"):
        same = {"page": {"url": "https://acme.io/pricing", "referrer": referrer}}
        assert norm(track(context=same)).channel == "Direct"


def test_non_string_urls_are_ignored_for_attribution_but_kept() -> None:
    m = norm(track(context={"page": {"url": 42, "referrer": ["x"]}}))
    assert (m.page_url, m.referrer, m.channel) == (None, None, "Direct")
    assert m.context == {"page": {"url": 42, "referrer": ["x"]}}
