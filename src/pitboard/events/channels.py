"""GA4's default channel group, computed from source / medium / campaign (and the referrer when untagged).

The rules and their order follow Google Analytics 4's published "Default channel group" definitions for
manual (non-Google-Ads-API) traffic; see ``docs/tracking-rules.md``. GA4 matches sources against a
spreadsheet of roughly 800 sites it keeps per category (search, social, video, shopping). We keep our own
lists of the well-known sites instead, and also recognise a source by host name: ``l.facebook.com``,
``www.google.co.uk`` and ``lnkd.in`` resolve to their site even though only ``facebook``, ``google`` and
``linkedin`` are listed, because sources derived from referrers are host names.

Everything here is pure: no I/O, no clock, no configuration.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Set
from enum import StrEnum
from urllib.parse import urlsplit


class ChannelGroup(StrEnum):
    """GA4 default channel groups, declared in GA4's evaluation order (the first rule that matches wins)."""

    DIRECT = "Direct"
    CROSS_NETWORK = "Cross-network"
    PAID_SHOPPING = "Paid Shopping"
    PAID_SEARCH = "Paid Search"
    PAID_SOCIAL = "Paid Social"
    PAID_VIDEO = "Paid Video"
    DISPLAY = "Display"
    PAID_OTHER = "Paid Other"
    ORGANIC_SHOPPING = "Organic Shopping"
    ORGANIC_SOCIAL = "Organic Social"
    ORGANIC_VIDEO = "Organic Video"
    ORGANIC_SEARCH = "Organic Search"
    REFERRAL = "Referral"
    EMAIL = "Email"
    AFFILIATES = "Affiliates"
    AUDIO = "Audio"
    SMS = "SMS"
    MOBILE_PUSH = "Mobile Push Notifications"
    UNASSIGNED = "Unassigned"


class SourceCategory(StrEnum):
    SEARCH = "search"
    SOCIAL = "social"
    VIDEO = "video"
    SHOPPING = "shopping"


# --- GA4's regular expressions and value lists (inputs are lower-cased before matching) -------------------

_PAID_MEDIUM = re.compile(r"^(.*cp.*|ppc|retargeting|paid.*)$")
# "shop" must start a word-ish token ("eshop" and "e-shop" count, "workshop" does not) or "shopping" appears.
_SHOPPING_CAMPAIGN = re.compile(r"^(.*(([^a-df-z]|^)shop|shopping).*)$")
_SOCIAL_MEDIUMS = frozenset({"social", "social-network", "social-media", "sm", "social network", "social media"})
_VIDEO_MEDIUM = re.compile(r"^(.*video.*)$")
_DISPLAY_MEDIUMS = frozenset({"display", "banner", "expandable", "interstitial", "cpm"})
_REFERRAL_MEDIUMS = frozenset({"referral", "app", "link"})
_EMAIL = re.compile(r"^(email|e-mail|e_mail|e mail)$")
_DIRECT_SOURCES = frozenset({"(direct)", "direct"})
_DIRECT_MEDIUMS = frozenset({"(none)", "(not set)"})

# --- Source lists ------------------------------------------------------------------------------------------
# Brand names match a bare source ("google") and the registrable label of a host ("www.google.co.uk").
# fmt: off
_BRANDS_BY_CATEGORY: dict[SourceCategory, frozenset[str]] = {
    SourceCategory.SEARCH: frozenset(
        {
            "alice", "aol", "ask", "baidu", "biglobe", "bing", "coccoc", "daum", "dogpile", "duckduckgo",
            "ecosia", "ekolay", "excite", "goo", "google", "haosou", "kagi", "kvasir", "lycos", "metager", "mojeek",
            "msn", "najdi", "naver", "nifty", "onet", "petalsearch", "presearch", "qwant", "rambler", "sapo",
            "seznam", "so", "sogou", "startpage", "swisscows", "virgilio", "webcrawler", "yahoo", "yandex",
        }
    ),
    SourceCategory.SOCIAL: frozenset(
        {
            "bluesky", "bsky", "deviantart", "digg", "discord", "disqus", "douban", "facebook", "fb",
            "flickr", "glassdoor", "goodreads", "hatena", "ig", "instagram", "kakao", "kakaotalk", "line",
            "linkedin", "mastodon", "medium", "meetup", "messenger", "mix", "myspace", "nextdoor",
            "odnoklassniki", "pinterest", "plurk", "producthunt", "qzone", "quora", "reddit", "renren",
            "slack", "snapchat", "stackexchange", "stackoverflow", "taringa", "telegram", "threads",
            "tiktok", "tripadvisor", "tumblr", "twitter", "viadeo", "vk", "vkontakte", "wattpad", "wechat",
            "weibo", "whatsapp", "x", "xing", "yelp", "zhihu",
        }
    ),
    SourceCategory.VIDEO: frozenset(
        {
            "bilibili", "crackle", "dailymotion", "disneyplus", "hulu", "iqiyi", "netflix", "nicovideo",
            "primevideo", "rumble", "rutube", "ted", "twitch", "vevo", "vidyard", "vimeo", "wistia", "youku",
            "youtube",
        }
    ),
    SourceCategory.SHOPPING: frozenset(
        {
            "alibaba", "aliexpress", "allegro", "amazon", "asos", "bestbuy", "bizrate", "bol", "cdiscount",
            "costco", "coupang", "ebay", "etsy", "flipkart", "gmarket", "homedepot", "idealo", "igshopping",
            "ikea", "jd", "kelkoo", "lazada", "mercadolibre", "mercadolivre", "newegg", "otto", "overstock",
            "pricegrabber", "rakuten", "shein", "shop", "shopee", "shopify", "shopzilla", "target", "taobao",
            "temu", "tmall", "tokopedia", "walmart", "wayfair", "wish", "zalando",
        }
    ),
}
# fmt: on
_BRANDS: dict[str, SourceCategory] = {
    brand: category for category, brands in _BRANDS_BY_CATEGORY.items() for brand in brands
}

# Exact hosts (and their subdomains) whose brand label would be wrong or is not a listed brand at all.
# The second element is the canonical source name, used for search engines found in referrers.
_HOSTS: dict[str, tuple[SourceCategory, str]] = {
    "duck.com": (SourceCategory.SEARCH, "duckduckgo"),
    "go.mail.ru": (SourceCategory.SEARCH, "mail.ru"),
    "search.brave.com": (SourceCategory.SEARCH, "brave"),
    "search.lilo.org": (SourceCategory.SEARCH, "lilo"),
    "ya.ru": (SourceCategory.SEARCH, "yandex"),
    "answers.yahoo.com": (SourceCategory.SOCIAL, "answers.yahoo.com"),
    "blog.naver.com": (SourceCategory.SOCIAL, "blog.naver.com"),
    "cafe.naver.com": (SourceCategory.SOCIAL, "cafe.naver.com"),
    "fb.me": (SourceCategory.SOCIAL, "facebook"),
    "groups.google.com": (SourceCategory.SOCIAL, "groups.google.com"),
    "lnkd.in": (SourceCategory.SOCIAL, "linkedin"),
    "m.me": (SourceCategory.SOCIAL, "messenger"),
    "news.ycombinator.com": (SourceCategory.SOCIAL, "news.ycombinator.com"),
    "ok.ru": (SourceCategory.SOCIAL, "odnoklassniki"),
    "pin.it": (SourceCategory.SOCIAL, "pinterest"),
    "redd.it": (SourceCategory.SOCIAL, "reddit"),
    "t.co": (SourceCategory.SOCIAL, "twitter"),
    "t.me": (SourceCategory.SOCIAL, "telegram"),
    "tieba.baidu.com": (SourceCategory.SOCIAL, "tieba.baidu.com"),
    "wa.me": (SourceCategory.SOCIAL, "whatsapp"),
    "youtu.be": (SourceCategory.VIDEO, "youtube"),
    "shop.app": (SourceCategory.SHOPPING, "shop.app"),
    "shopping.google.com": (SourceCategory.SHOPPING, "shopping.google.com"),
    "shopping.yahoo.com": (SourceCategory.SHOPPING, "shopping.yahoo.com"),
}

# Products of search brands that are not search: a visit from webmail or a shared document is a referral,
# not Organic Search. GA4 gets this from listing hosts one by one; our brand fallback needs the carve-out.
# fmt: off
_NOT_A_CATEGORY = frozenset(
    {
        "accounts.google.com", "ads.google.com", "analytics.google.com", "calendar.google.com",
        "chat.google.com", "classroom.google.com", "cloud.google.com", "docs.google.com", "drive.google.com",
        "mail.google.com", "meet.google.com", "play.google.com", "sites.google.com", "support.google.com",
        "login.yahoo.com", "mail.yahoo.com", "mail.aol.com", "mail.yandex.ru", "mail.yandex.com",
        "disk.yandex.ru", "mail.naver.com", "mail.daum.net", "outlook.live.com",
    }
)
# fmt: on

# Second-level labels under a country code ("co.uk", "com.br", "ne.jp"): the brand is the label before them.
_GENERIC_SECOND_LEVEL = frozenset(
    {"ac", "biz", "co", "com", "edu", "gen", "go", "gob", "gov", "ltd", "ne", "net", "nic", "or", "org", "plc"}
)


# --- Host handling -----------------------------------------------------------------------------------------

# Letters (IDN hosts included), digits, dots, hyphens, underscores, and colons of IPv6 literals.
_HOST_CHARS = re.compile(r"[\w.:-]+")


def host_of(url: str | None) -> str | None:
    """The lower-cased host of a URL, or of a bare host name ("google.com"); None when there is none."""
    if url is None:
        return None
    text = url.strip()
    if not text:
        return None
    if "://" not in text and not text.startswith("//"):
        text = "//" + text  # urlsplit only finds a host after "//"
    try:
        host = urlsplit(text).hostname  # lower-cases and drops user info and port
    except ValueError:  # e.g. an unbalanced "[" of an IPv6 literal
        return None
    if host is None:
        return None
    host = host.rstrip(".")
    if not host or not _HOST_CHARS.fullmatch(host):
        return None  # "not a url" would otherwise become the host "not a url"
    return host


def _without_www(host: str) -> str:
    return host[4:] if host.startswith("www.") and host.count(".") >= 2 else host


def _suffixes(host: str) -> Iterator[str]:
    """``a.b.example.com`` → ``a.b.example.com``, ``b.example.com``, ``example.com``, ``com`` (most specific first)."""
    labels = host.split(".")
    for start in range(len(labels)):
        yield ".".join(labels[start:])


def _brand(host: str) -> str | None:
    labels = host.split(".")
    if len(labels) < 2:
        return None
    labels = labels[:-1]  # the top-level domain
    if len(labels) >= 2 and labels[-1] in _GENERIC_SECOND_LEVEL:
        labels = labels[:-1]
    return labels[-1]


def _resolve(source: str) -> tuple[SourceCategory, str] | None:
    """Category and canonical name of a source given as a bare name or as a host / URL."""
    value = source.strip().lower()
    if not value:
        return None
    if "." not in value and "/" not in value:
        category = _BRANDS.get(value)
        return (category, value) if category else None
    host = host_of(value)
    if host is None:
        return None
    for suffix in _suffixes(host):
        if suffix in _NOT_A_CATEGORY:
            return None
        if suffix in _HOSTS:
            return _HOSTS[suffix]
    brand = _brand(host)
    if brand is not None and brand in _BRANDS:
        return _BRANDS[brand], brand
    return None


def classify_source(source: str | None) -> SourceCategory | None:
    """Which of GA4's source lists a source belongs to: ``"google"`` and ``"www.google.de"`` are search."""
    if source is None:
        return None
    resolved = _resolve(source)
    return resolved[0] if resolved else None


def _is_internal(host: str, own_hosts: Set[str]) -> bool:
    # A subdomain of one of our hosts is ours too (GA4's referral exclusions match by "contains" as well).
    bare = _without_www(host)
    for own in own_hosts:
        mine = _without_www(own.strip().lower().rstrip("."))
        if mine and (bare == mine or bare.endswith("." + mine)):
            return True
    return False


def referrer_host(url: str | None, own_hosts: Set[str] = frozenset()) -> str | None:
    """The referrer's host, or None when there is no usable referrer or it is one of our own hosts."""
    host = host_of(url)
    if host is None or _is_internal(host, own_hosts):
        return None
    return host


def _source_medium_from_host(host: str) -> tuple[str, str]:
    resolved = _resolve(host)
    if resolved is not None and resolved[0] is SourceCategory.SEARCH:
        return resolved[1], "organic"  # GA4 names the engine ("google / organic"), not the host
    return _without_www(host), "referral"


def source_medium_from_referrer(url: str | None, own_hosts: Set[str] = frozenset()) -> tuple[str | None, str | None]:
    """Source / medium as GA4 derives them for an untagged visit.

    A search engine gives ``(engine, "organic")``; any other site ``(host, "referral")``; no referrer, an
    unparseable one or one of ``own_hosts`` (internal navigation) gives ``(None, None)``, i.e. direct.
    """
    host = referrer_host(url, own_hosts)
    if host is None:
        return None, None
    return _source_medium_from_host(host)


# --- The channel rules -------------------------------------------------------------------------------------


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip().lower()
    return text or None  # an empty UTM value is the same as none


def default_channel_group(
    *, source: str | None, medium: str | None, campaign: str | None = None, referrer_host: str | None = None
) -> str:
    """GA4's default channel group for one visit.

    ``referrer_host`` is only consulted when both source and medium are absent, as GA4 only falls back to
    the referrer for untagged traffic; the caller must already have dropped internal referrers.
    Matching ignores case and surrounding whitespace: "Email" and "email " are one medium to any marketer,
    and a capital letter should not move a visit to Unassigned.
    """
    src, med, camp = _clean(source), _clean(medium), _clean(campaign)
    if src is None and med is None and referrer_host:
        host = host_of(referrer_host)
        if host is not None:
            src, med = _source_medium_from_host(host)

    if (src is None or src in _DIRECT_SOURCES) and (med is None or med in _DIRECT_MEDIUMS):
        return ChannelGroup.DIRECT

    category = classify_source(src)
    paid = med is not None and _PAID_MEDIUM.fullmatch(med) is not None
    shopping_campaign = camp is not None and _SHOPPING_CAMPAIGN.fullmatch(camp) is not None

    if camp is not None and "cross-network" in camp:
        return ChannelGroup.CROSS_NETWORK
    # The four source-specific paid rules share the medium condition; nesting them keeps GA4's order.
    if paid:
        if category is SourceCategory.SHOPPING or shopping_campaign:
            return ChannelGroup.PAID_SHOPPING
        if category is SourceCategory.SEARCH:
            return ChannelGroup.PAID_SEARCH
        if category is SourceCategory.SOCIAL:
            return ChannelGroup.PAID_SOCIAL
        if category is SourceCategory.VIDEO:
            return ChannelGroup.PAID_VIDEO
    if med in _DISPLAY_MEDIUMS:
        return ChannelGroup.DISPLAY
    if paid:
        return ChannelGroup.PAID_OTHER
    if category is SourceCategory.SHOPPING or shopping_campaign:
        return ChannelGroup.ORGANIC_SHOPPING
    if category is SourceCategory.SOCIAL or med in _SOCIAL_MEDIUMS:
        return ChannelGroup.ORGANIC_SOCIAL
    if category is SourceCategory.VIDEO or (med is not None and _VIDEO_MEDIUM.fullmatch(med)):
        return ChannelGroup.ORGANIC_VIDEO
    if category is SourceCategory.SEARCH or med == "organic":
        return ChannelGroup.ORGANIC_SEARCH
    if med in _REFERRAL_MEDIUMS:
        return ChannelGroup.REFERRAL
    if (src is not None and _EMAIL.fullmatch(src)) or (med is not None and _EMAIL.fullmatch(med)):
        return ChannelGroup.EMAIL
    if med == "affiliate":
        return ChannelGroup.AFFILIATES
    if med == "audio":
        return ChannelGroup.AUDIO
    if src == "sms" or med == "sms":
        return ChannelGroup.SMS
    if src == "firebase" or (med is not None and (med.endswith("push") or "mobile" in med or "notification" in med)):
        return ChannelGroup.MOBILE_PUSH
    return ChannelGroup.UNASSIGNED
