"""GA4 default channel group: one case per channel, the precedence between rules, and source resolution."""

from __future__ import annotations

import pytest

from pitboard.events.channels import (
    ChannelGroup,
    SourceCategory,
    classify_source,
    default_channel_group,
    host_of,
    referrer_host,
    source_medium_from_referrer,
)


@pytest.mark.parametrize(
    ("source", "medium", "campaign", "expected"),
    [
        # One (or more) per channel, in GA4's evaluation order.
        (None, None, None, "Direct"),
        ("(direct)", "(none)", None, "Direct"),
        ("direct", "(not set)", None, "Direct"),
        ("google", "cpc", "pmax-cross-network-q3", "Cross-network"),
        ("amazon", "cpc", None, "Paid Shopping"),
        ("google", "cpc", "summer-shopping", "Paid Shopping"),
        ("newsletter", "paid", "e-shop-launch", "Paid Shopping"),
        ("google", "cpc", None, "Paid Search"),
        ("bing", "ppc", None, "Paid Search"),
        ("duckduckgo", "retargeting", None, "Paid Search"),
        ("facebook", "cpc", None, "Paid Social"),
        ("linkedin", "paid-social", None, "Paid Social"),
        ("youtube", "cpv", None, "Paid Video"),
        ("vimeo", "paid", None, "Paid Video"),
        ("adnet", "display", None, "Display"),
        ("adnet", "banner", None, "Display"),
        ("adnet", "cpm", None, "Display"),
        ("adnet", "interstitial", None, "Display"),
        ("unknown-network", "cpc", None, "Paid Other"),
        ("partner", "paidsearch", None, "Paid Other"),
        ("ebay", "referral", None, "Organic Shopping"),
        ("newsletter", "email", "black-friday-shop", "Organic Shopping"),
        ("facebook", "referral", None, "Organic Social"),
        ("someblog", "social", None, "Organic Social"),
        ("someblog", "social media", None, "Organic Social"),
        ("youtube", "referral", None, "Organic Video"),
        ("someblog", "video", None, "Organic Video"),
        ("someblog", "explainer-video", None, "Organic Video"),
        ("google", "organic", None, "Organic Search"),
        ("bing", None, None, "Organic Search"),
        ("whatever", "organic", None, "Organic Search"),
        ("example.com", "referral", None, "Referral"),
        ("partner-app", "app", None, "Referral"),
        ("partner", "link", None, "Referral"),
        ("newsletter", "email", None, "Email"),
        ("newsletter", "e-mail", None, "Email"),
        ("e_mail", "blast", None, "Email"),
        ("network", "affiliate", None, "Affiliates"),
        ("spotify", "audio", None, "Audio"),
        ("twilio", "sms", None, "SMS"),
        ("sms", "text", None, "SMS"),
        ("onesignal", "web-push", None, "Mobile Push Notifications"),
        ("app", "mobile", None, "Mobile Push Notifications"),
        ("app", "in-app-notification", None, "Mobile Push Notifications"),
        ("firebase", "inbox", None, "Mobile Push Notifications"),
        ("newsletter", None, None, "Unassigned"),
        ("partner", "offline", None, "Unassigned"),
        (None, "something", None, "Unassigned"),
    ],
)
def test_channel_rule_table(source: str | None, medium: str | None, campaign: str | None, expected: str) -> None:
    assert default_channel_group(source=source, medium=medium, campaign=campaign) == expected


@pytest.mark.parametrize(
    ("source", "medium", "campaign", "expected", "why"),
    [
        ("google", "cpc", None, "Paid Search", "a search site with a paid medium"),
        ("mystery", "cpc", None, "Paid Other", "a paid medium with an unlisted source"),
        ("google", "cpc", "summer-shopping", "Paid Shopping", "Paid Shopping is checked before Paid Search"),
        ("google", "cpc", "workshop-signups", "Paid Search", "'workshop' is not a shopping campaign"),
        ("facebook", "cpc", "cross-network-test", "Cross-network", "Cross-network beats every paid rule"),
        ("google", "cpm", None, "Paid Search", "cpm is paid ('.*cp.*') and Paid Search precedes Display"),
        ("adnet", "cpm", None, "Display", "without a listed source, cpm is Display, ahead of Paid Other"),
        ("amazon", "social", None, "Organic Shopping", "Organic Shopping is checked before Organic Social"),
        ("facebook", "video", None, "Organic Social", "Organic Social is checked before Organic Video"),
        ("youtube", "organic", None, "Organic Video", "Organic Video is checked before Organic Search"),
        ("google", "email", None, "Organic Search", "a listed source outranks the Email rule"),
        ("partner", "referral", "email-digest", "Referral", "Referral is checked before Email"),
        ("email", "affiliate", None, "Email", "Email is checked before Affiliates"),
        ("sms", "push", None, "SMS", "SMS is checked before Mobile Push Notifications"),
        ("direct", "cpc", None, "Paid Other", "'direct' with a real medium is not Direct"),
    ],
)
def test_channel_precedence(source: str, medium: str, campaign: str | None, expected: str, why: str) -> None:
    assert default_channel_group(source=source, medium=medium, campaign=campaign) == expected, why


def test_matching_ignores_case_and_whitespace() -> None:
    assert default_channel_group(source=" Google ", medium="CPC") == "Paid Search"
    assert default_channel_group(source="Newsletter", medium="EMAIL") == "Email"
    assert default_channel_group(source="", medium="  ") == "Direct"  # empty UTM values are no values


def test_channel_values_are_the_ga4_names_in_evaluation_order() -> None:
    assert [c.value for c in ChannelGroup] == [
        "Direct", "Cross-network", "Paid Shopping", "Paid Search", "Paid Social", "Paid Video", "Display",
        "Paid Other", "Organic Shopping", "Organic Social", "Organic Video", "Organic Search", "Referral",
        "Email", "Affiliates", "Audio", "SMS", "Mobile Push Notifications", "Unassigned",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("source", "category"),
    [
        ("google", SourceCategory.SEARCH),
        ("www.google.co.uk", SourceCategory.SEARCH),
        ("google.com.br", SourceCategory.SEARCH),
        ("https://www.bing.com/search?q=pitboard", SourceCategory.SEARCH),
        ("search.yahoo.co.jp", SourceCategory.SEARCH),
        ("duck.com", SourceCategory.SEARCH),
        ("search.brave.com", SourceCategory.SEARCH),
        ("Facebook", SourceCategory.SOCIAL),
        ("l.facebook.com", SourceCategory.SOCIAL),
        ("lm.facebook.com", SourceCategory.SOCIAL),
        ("lnkd.in", SourceCategory.SOCIAL),
        ("t.co", SourceCategory.SOCIAL),
        ("x.com", SourceCategory.SOCIAL),
        ("news.ycombinator.com", SourceCategory.SOCIAL),
        ("tieba.baidu.com", SourceCategory.SOCIAL),
        ("m.youtube.com", SourceCategory.VIDEO),
        ("youtu.be", SourceCategory.VIDEO),
        ("twitch.tv", SourceCategory.VIDEO),
        ("www.amazon.de", SourceCategory.SHOPPING),
        ("shopping.google.com", SourceCategory.SHOPPING),
        ("etsy", SourceCategory.SHOPPING),
        ("mail.google.com", None),
        ("docs.google.com", None),
        ("brave.com", None),
        ("example.com", None),
        ("facebook-ads", None),
        ("", None),
        (None, None),
    ],
)
def test_classify_source(source: str | None, category: SourceCategory | None) -> None:
    assert classify_source(source) is category


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("www.google.co.uk", "Organic Search"),
        ("www.google.com", "Organic Search"),
        ("l.facebook.com", "Organic Social"),
        ("lnkd.in", "Organic Social"),
        ("m.youtube.com", "Organic Video"),
        ("www.ebay.co.uk", "Organic Shopping"),
        ("blog.example.org", "Referral"),
        ("mail.google.com", "Referral"),
    ],
)
def test_untagged_visit_is_classified_by_its_referrer(host: str, expected: str) -> None:
    assert default_channel_group(source=None, medium=None, referrer_host=host) == expected


def test_referrer_is_ignored_when_the_visit_is_tagged() -> None:
    assert default_channel_group(source="newsletter", medium="email", referrer_host="www.google.com") == "Email"


def test_source_medium_from_referrer() -> None:
    assert source_medium_from_referrer("https://www.google.co.uk/search?q=x") == ("google", "organic")
    assert source_medium_from_referrer("https://duckduckgo.com/") == ("duckduckgo", "organic")
    assert source_medium_from_referrer("https://l.facebook.com/l.php?u=x") == ("l.facebook.com", "referral")
    assert source_medium_from_referrer("https://www.example.org/post") == ("example.org", "referral")
    assert source_medium_from_referrer("https://mail.google.com/mail/u/0/") == ("mail.google.com", "referral")
    assert source_medium_from_referrer(None) == (None, None)
    assert source_medium_from_referrer("") == (None, None)
    assert source_medium_from_referrer("not a url at all") == (None, None)
    assert source_medium_from_referrer("http://[::1") == (None, None)


def test_internal_referrers_count_as_no_referrer() -> None:
    own = {"acme.io"}
    assert source_medium_from_referrer("https://acme.io/pricing", own) == (None, None)
    assert source_medium_from_referrer("https://WWW.Acme.io/", own) == (None, None)
    assert source_medium_from_referrer("https://app.acme.io/login", own) == (None, None)
    assert source_medium_from_referrer("https://notacme.io/", own) == ("notacme.io", "referral")
    assert referrer_host("https://acme.io/", frozenset({"www.acme.io"})) is None
    assert referrer_host("https://Partner.example:8443/x", own) == "partner.example"
    # An internal referrer on an untagged visit leaves nothing to attribute: Direct.
    host = referrer_host("https://acme.io/pricing", own)
    assert default_channel_group(source=None, medium=None, referrer_host=host) == "Direct"


def test_host_of() -> None:
    assert host_of("https://User:pw@WWW.Example.COM.:8080/a?b=c") == "www.example.com"
    assert host_of("example.com/path") == "example.com"
    assert host_of("//cdn.example.com/x.js") == "cdn.example.com"
    assert host_of("   ") is None
    assert host_of("/relative/path") is None
