"""Touchpoints (events) for one chunk of contacts, fully vectorised.

Events are ~95% of the rows, so nothing here runs Python per event except turning the final numpy
columns into lists: every categorical value (name, channel, campaign, properties, context) is an
index into a small table of precomputed strings, and ``table[indices]`` builds a column in C.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import islice
from typing import Any

import numpy as np
import numpy.typing as npt

from pitboard.demo import vocab
from pitboard.demo.common import (
    F64,
    I64,
    STREAM_EVENTS,
    Bool,
    Row,
    Window,
    cumulative,
    pick,
    pick_rows,
    streams,
    uuid4_strings,
)
from pitboard.demo.contacts import STAGES, ContactChunk, RunningIds
from pitboard.demo.reference import CampaignBook
from pitboard.demo.timefmt import US_PER_DAY, US_PER_SECOND, format_optional_us_array, format_us_array

Obj = npt.NDArray[np.object_]

NAMES: tuple[str, ...] = tuple(n for n, *_ in vocab.EVENT_NAMES)
N = {name: i for i, name in enumerate(NAMES)}
CH = {name: i for i, name in enumerate(vocab.CHANNELS)}
SOURCES: tuple[str, ...] = tuple(vocab.SOURCE_LIBRARIES)
_BROWSER_SOURCES = frozenset({"website"})  # only the JavaScript tag knows the anonymous id
_LOGGED_IN_SOURCES = frozenset({"website", "product"})
# Share of all events from visitors who never identified themselves (contact_id NULL).
ANONYMOUS_SHARE = 0.05
# Gamma-Poisson shape: below 1 the per-contact counts are strongly skewed (a few very active people).
_DISPERSION = 0.8
_ENGAGED_STAGES = frozenset({"mql", "sal", "sql", "opportunity", "customer", "recycled"})
# Relative traffic per local hour: B2B activity follows office hours.
_HOURLY = cumulative([1, 0.5, 0.3, 0.3, 0.4, 0.8, 2, 4, 7, 9, 9, 8.5, 7, 8, 8.5, 8, 7, 5, 3.5, 3, 2.5, 2, 1.5, 1.2])
_IP_VARIANTS = 6

COLUMNS: tuple[str, ...] = (
    "id", "message_id", "event_type", "name", "contact_id", "anonymous_id", "user_id", "occurred_at", "received_at",
    "sent_at", "original_timestamp", "properties", "context", "utm_source", "utm_medium", "utm_campaign",
    "utm_term", "utm_content", "channel", "campaign_id", "source",
)  # fmt: skip


def _obj(values: list[Any]) -> Obj:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


@dataclass(frozen=True)
class _Props:
    """All property JSON strings in one array, with where each event name's block starts."""

    table: Obj
    page: int
    form: int
    email: int
    ad_keyword: int
    ad_content: int
    asset: int
    webinar: int
    event: int
    meeting: int
    demo: int
    trial: int


def _build_props(campaigns: CampaignBook) -> _Props:
    texts: list[str] = []

    def block(items: list[dict[str, Any]]) -> int:
        start = len(texts)
        texts.extend(json.dumps(item) for item in items)
        return start

    names = [t.name for t in campaigns.templates] + ["One-off send"]
    page = block([
        {"path": path, "url": vocab.SITE + path, "title": title, "referrer": referrer}
        for path, title in vocab.PAGES for referrer in vocab.REFERRERS
    ])  # fmt: skip
    form = block([{"form_id": fid, "form_name": fname} for fid, fname in vocab.FORMS])
    email = block([{"email_name": name, "subject": s} for name in names for s in vocab.EMAIL_SUBJECTS])
    ad_keyword = block([{"keyword": kw, "match_type": "phrase"} for kw in vocab.SEARCH_KEYWORDS])
    ad_content = block([{"ad_content": c, "placement": "feed"} for c in vocab.AD_CONTENTS])
    asset = block([{"asset": a, "format": "pdf"} for a in vocab.CONTENT_ASSETS])
    webinar = block([{"webinar": name, "duration_minutes": 45} for name in names])
    event = block([{"event": name, "badge_scanned": True} for name in names])
    meeting = block([{"meeting_type": m, "duration_minutes": 30} for m in vocab.MEETING_TYPES])
    demo = block([{"form_id": "demo-request", "team_size": band} for _, band in vocab.EMPLOYEE_BANDS])
    trial = block([{"plan": "trial", "seats": seats} for seats in (3, 5, 10, 25)])
    return _Props(_obj(texts), page, form, email, ad_keyword, ad_content, asset, webinar, event, meeting, demo, trial)


@dataclass(frozen=True)
class EventCatalog:
    """Lookup tables built once per run; events are indices into them."""

    campaigns: CampaignBook
    event_type: Obj
    name_text: Obj
    cum_early: F64
    cum_engaged: F64
    channel_cum: F64
    allowed: Bool  # (names, campaigns): may a touch of this name belong to this campaign?
    required: Bool
    source: I64  # (names, channels) → index into SOURCES
    source_text: Obj
    props: _Props
    web_contexts: Obj  # (user agent, country, ip) combinations
    source_contexts: Obj
    channel_text: Obj
    campaign_id: Obj  # campaign ids with None appended, so index -1 means "no campaign"
    utm_source: Obj
    utm_medium: Obj
    utm_campaign: Obj
    keywords: Obj
    ad_contents: Obj
    first_name: I64  # per lead source: the event name of the first touch
    first_channel: I64
    first_source: I64
    engaged_stage: Bool
    offset_us: I64  # per country: typical UTC offset


def build_catalog(campaigns: CampaignBook) -> EventCatalog:
    names = NAMES
    source = np.empty((len(names), len(vocab.CHANNELS)), dtype=np.int64)
    for i, name in enumerate(names):
        for c, channel in enumerate(vocab.CHANNELS):
            system = vocab.AD_SOURCES.get(channel, "google_ads") if name == "ad_click" else vocab.EVENT_SOURCES[name]
            source[i, c] = SOURCES.index(system)
    first_source = {"Sales Prospecting": "salesforce", "List Import": "csv_import"}
    return EventCatalog(
        campaigns=campaigns,
        event_type=_obj([t for _, t, *_ in vocab.EVENT_NAMES]),
        # Segment-style identify calls carry traits, not an event name.
        name_text=_obj([None if n == "identify" else n for n in names]),
        cum_early=cumulative([e for *_, e, _ in vocab.EVENT_NAMES]),
        cum_engaged=cumulative([g for *_, g in vocab.EVENT_NAMES]),
        channel_cum=np.array([cumulative(vocab.EVENT_CHANNEL_MIX[n]) for n in names]),
        allowed=np.array([campaigns.type_mask(vocab.EVENT_CAMPAIGN_TYPES[n]) for n in names]),
        required=np.array([n in vocab.CAMPAIGN_REQUIRED for n in names]),
        source=source,
        source_text=_obj(list(SOURCES)),
        props=_build_props(campaigns),
        web_contexts=_obj(_web_contexts()),
        source_contexts=_obj(
            [
                json.dumps({"library": {"name": lib, "version": version}})
                for lib, version in vocab.SOURCE_LIBRARIES.values()
            ]
        ),
        channel_text=_obj(list(vocab.CHANNELS)),
        campaign_id=_obj([*campaigns.ids.tolist(), None]),
        utm_source=_obj([*(t.utm_source for t in campaigns.templates), None]),
        utm_medium=_obj([*(t.utm_medium for t in campaigns.templates), None]),
        utm_campaign=_obj([*campaigns.utm_campaign, None]),
        keywords=_obj(list(vocab.SEARCH_KEYWORDS)),
        ad_contents=_obj(list(vocab.AD_CONTENTS)),
        first_name=np.array([N[ls[3]] for ls in vocab.LEAD_SOURCES], dtype=np.int64),
        first_channel=np.array([CH[ls[1]] for ls in vocab.LEAD_SOURCES], dtype=np.int64),
        first_source=np.array(
            [SOURCES.index(first_source.get(ls[0], vocab.EVENT_SOURCES[ls[3]])) for ls in vocab.LEAD_SOURCES],
            dtype=np.int64,
        ),
        engaged_stage=np.array([s in _ENGAGED_STAGES for s in STAGES]),
        offset_us=np.array([int(c.utc_offset_hours * 3600) * US_PER_SECOND for c in vocab.COUNTRIES], dtype=np.int64),
    )


def _web_contexts() -> list[str]:
    lib, version = vocab.SOURCE_LIBRARIES["website"]
    out: list[str] = []
    for ua in vocab.USER_AGENTS:
        for country in vocab.COUNTRIES:
            for ip in range(_IP_VARIANTS):
                prefix = vocab.IP_PREFIXES[ip % len(vocab.IP_PREFIXES)]
                context = {"library": {"name": lib, "version": version}, "locale": country.locale,
                           "userAgent": ua, "ip": f"{prefix}{17 + 37 * ip}"}  # fmt: skip
                out.append(json.dumps(context))
    return out


def _web_context_index(device: I64, country: I64) -> I64:
    ua = device % len(vocab.USER_AGENTS)
    ip = (device // len(vocab.USER_AGENTS)) % _IP_VARIANTS
    return (ua * len(vocab.COUNTRIES) + country) * _IP_VARIANTS + ip


# --- sampling ------------------------------------------------------------------------------------


def event_counts(rng: np.random.Generator, stage: I64, duplicate: Bool, per_contact: float) -> I64:
    """Events per contact: skewed (Gamma-Poisson), higher for engaged stages, mean ``per_contact``.

    Everyone with a mean of one or more gets at least the first touch that created them.
    """
    activity = np.array([vocab.STAGE_ACTIVITY[s] for s in STAGES])
    expected = sum(w * vocab.STAGE_ACTIVITY[s] for s, w in vocab.STAGE_SHARES)
    mean = per_contact * activity[stage] / expected * np.where(duplicate, 0.5, 1.0)
    extra = rng.poisson(rng.gamma(_DISPERSION, np.maximum(mean - 1.0, 0.0) / _DISPERSION + 1e-12))
    counts = np.where(mean >= 1.0, 1 + extra, rng.random(len(stage)) < mean).astype(np.int64)
    return np.minimum(counts, int(40 * per_contact) + 50)


def _office_hours(rng: np.random.Generator, t: I64, offset: I64) -> I64:
    """Move times into local office hours and mostly off weekends, keeping the calendar week."""
    local = t + offset
    day = local // US_PER_DAY
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday
    weekend = (weekday >= 5) & (rng.random(len(t)) < 0.7)
    day = np.where(weekend, day - weekday + rng.integers(0, 5, len(t)), day)
    hour = pick(rng, _HOURLY, len(t))
    within = rng.integers(0, 3600 * US_PER_SECOND, len(t))
    return day * US_PER_DAY + hour * 3600 * US_PER_SECOND + within - offset


def _touch_times(rng: np.random.Generator, created: I64, now: int, offset: I64) -> I64:
    """Bursty after creation (follow-ups, nurture) then spread until now."""
    m = len(created)
    span = (now - created).astype(np.float64)
    burst = rng.random(m) < 0.35
    later = np.where(burst, np.minimum(rng.exponential(4 * US_PER_DAY, m), span), rng.random(m) * span)
    t = created + later.astype(np.int64)
    return _within(_office_hours(rng, t, offset), t, created, now)


def _within(adjusted: I64, original: I64, low: I64 | int, high: I64 | int) -> I64:
    """The office-hours time where it stays in range, else the original (clipping would pile events up)."""
    return np.where((adjusted >= low) & (adjusted <= high), adjusted, original)


def match_campaigns(rng: np.random.Generator, cat: EventCatalog, name: I64, channel: I64, t: I64) -> I64:
    """Each touch's campaign: one allowed for its name, in its channel, live at its time; -1 if none."""
    camps = cat.campaigns
    ok = cat.allowed[name] & (camps.channel[None, :] == channel[:, None])
    ok &= (camps.start_us[None, :] <= t[:, None]) & (t[:, None] <= camps.end_us[None, :])
    weights = np.cumsum(ok * camps.weight.astype(np.float32)[None, :], axis=1)
    total = weights[:, -1]
    chosen = (rng.random(len(name)).astype(np.float32)[:, None] * total[:, None] >= weights).sum(axis=1)
    chosen = np.minimum(chosen, len(camps) - 1)
    return np.where(total > 0, chosen, -1).astype(np.int64)


@dataclass
class _Touches:
    """Events before they become rows: one entry per event, all numpy."""

    owner: I64  # index of the contact in the chunk, -1 for anonymous visitors
    t: I64
    name: I64
    channel: I64
    campaign: I64
    source: I64
    visitor: I64  # index into the chunk's visitor ids, -1 for contacts

    def take(self, order: I64) -> _Touches:
        return _Touches(*(getattr(self, f)[order] for f in self.__dataclass_fields__))

    @staticmethod
    def concat(a: _Touches, b: _Touches) -> _Touches:
        return _Touches(*(np.concatenate([getattr(a, f), getattr(b, f)]) for f in a.__dataclass_fields__))


def _contact_touches(
    rng: np.random.Generator, cat: EventCatalog, chunk: ContactChunk, counts: I64, now: int
) -> _Touches:
    """``counts[i]`` touches of contact i: the first when it was created (in the channel and campaign of its
    lead source), the others sampled by stage, channel mix, campaign calendar and office hours."""
    owner = np.repeat(np.arange(len(chunk), dtype=np.int64), counts)
    m = len(owner)
    first = np.zeros(m, dtype=bool)
    first[(np.cumsum(counts) - counts)[counts > 0]] = True
    created = chunk.created_us[owner]
    t = _touch_times(rng, created, now, cat.offset_us[chunk.home_country[owner]])
    t[first] = created[first]
    engaged = cat.engaged_stage[chunk.stage[owner]]
    name = np.where(engaged, pick(rng, cat.cum_engaged, m), pick(rng, cat.cum_early, m))
    lead = chunk.lead_source[owner[first]]
    name[first] = cat.first_name[lead]
    channel = pick_rows(rng, cat.channel_cum, name)
    channel[first] = cat.first_channel[lead]
    campaign = match_campaigns(rng, cat, name, channel, t)
    # The touch that created the contact belongs to the campaign the contact was attributed to.
    campaign[first] = chunk.first_campaign[owner[first]]
    name, channel = _orphans_to_page_views(cat, name, channel, campaign)
    source = cat.source[name, channel]
    source[first] = cat.first_source[lead]
    return _Touches(owner, t, name, channel, campaign, source, np.full(m, -1, dtype=np.int64))


def _orphans_to_page_views(cat: EventCatalog, name: I64, channel: I64, campaign: I64) -> tuple[I64, I64]:
    """Nobody attends a webinar that is not on: such touches become direct page views."""
    orphan = cat.required[name] & (campaign < 0)
    name = np.where(orphan, N["page_viewed"], name)
    channel = np.where(orphan, CH["Direct"], channel)
    return name, channel


def _visitor_touches(
    rng: np.random.Generator, cat: EventCatalog, count: int, visitors: int, window: Window
) -> _Touches:
    """Page views of people who never filled a form."""
    t = window.start_us + (rng.random(count) * (window.end_us - window.start_us)).astype(np.int64)
    country = pick(rng, cumulative([c.weight for c in vocab.COUNTRIES]), count)
    t = _within(_office_hours(rng, t, cat.offset_us[country]), t, window.start_us, window.end_us)
    # Only the JavaScript tag knows a visitor, so unidentified traffic is page views.
    name = np.full(count, N["page_viewed"], dtype=np.int64)
    channel = pick_rows(rng, cat.channel_cum, name)
    campaign = match_campaigns(rng, cat, name, channel, t)
    return _Touches(
        owner=np.full(count, -1, dtype=np.int64),
        t=t,
        name=name,
        channel=channel,
        campaign=campaign,
        source=cat.source[name, channel],
        visitor=rng.integers(0, visitors, count),
    )


# --- columns -------------------------------------------------------------------------------------


@dataclass
class EventBlock:
    """One chunk's events as columns (lists), and the contacts' last activity."""

    columns: list[list[Any]]
    last_activity: list[str | None]

    def __len__(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def batches(self, size: int) -> list[list[Row]]:
        """The rows (tuples in COLUMNS order) in lists of ``size``: one executemany / COPY each."""
        rows = zip(*self.columns, strict=True)
        out: list[list[Row]] = []
        while batch := list(islice(rows, size)):
            out.append(batch)
        return out


@dataclass(frozen=True)
class _AdDraws:
    """The search keyword and ad variant of each touch, shared by its properties and its UTM columns."""

    keyword: I64
    content: I64


def _properties(rng: np.random.Generator, cat: EventCatalog, touches: _Touches, ads: _AdDraws, identify: Obj) -> Obj:
    p, name, channel = cat.props, touches.name, touches.channel
    m = len(name)
    camp_block = np.where(touches.campaign >= 0, touches.campaign, len(cat.campaigns))
    pages = pick(rng, cumulative(vocab.PAGE_WEIGHTS), m)
    emails = p.email + camp_block * len(vocab.EMAIL_SUBJECTS) + rng.integers(0, len(vocab.EMAIL_SUBJECTS), m)
    ad = np.where(channel == CH["Paid Search"], p.ad_keyword + ads.keyword, p.ad_content + ads.content)
    # (names, index of the properties string) pairs; the first matching name wins, page views by default.
    choices: list[tuple[list[str], I64]] = [
        (["form_submitted"], p.form + rng.integers(0, len(vocab.FORMS), m)),
        (["email_opened", "email_clicked", "email_unsubscribed"], emails),
        (["ad_click"], ad),
        (["content_downloaded"], p.asset + rng.integers(0, len(vocab.CONTENT_ASSETS), m)),
        (["webinar_registered", "webinar_attended"], p.webinar + camp_block),
        (["event_attended"], p.event + camp_block),
        (["meeting_booked"], p.meeting + rng.integers(0, len(vocab.MEETING_TYPES), m)),
        (["demo_requested"], p.demo + rng.integers(0, len(vocab.EMPLOYEE_BANDS), m)),
        (["trial_started"], p.trial + rng.integers(0, 4, m)),
    ]
    index = p.page + pages * len(vocab.CHANNELS) + channel
    for names, values in choices:
        index = np.where(np.isin(name, [N[n] for n in names]), values, index)
    props: Obj = p.table[index]
    is_identify = name == N["identify"]
    props[is_identify] = identify[touches.owner[is_identify]]
    return props


def _utm(cat: EventCatalog, touches: _Touches, ads: _AdDraws) -> list[list[Any]]:
    """utm_source, utm_medium, utm_campaign, utm_term, utm_content: all from the touch's campaign."""
    camp, channel = touches.campaign, touches.channel
    tagged = camp >= 0
    term: Obj = cat.keywords[ads.keyword]
    term[~(tagged & (channel == CH["Paid Search"]))] = None
    content: Obj = cat.ad_contents[ads.content]
    content[~(tagged & np.isin(channel, [CH["Paid Social"], CH["Display"]]))] = None
    return [
        cat.utm_source[camp].tolist(),
        cat.utm_medium[camp].tolist(),
        cat.utm_campaign[camp].tolist(),
        term.tolist(),
        content.tolist(),
    ]


def _source_mask(cat: EventCatalog, source: I64, systems: frozenset[str]) -> Bool:
    return np.isin(source, [SOURCES.index(s) for s in systems])


def _timestamps(rng: np.random.Generator, t: I64, now: int, client: Bool) -> list[list[Any]]:
    """occurred_at, received_at, sent_at, original_timestamp. Browsers and SDKs send within a second;
    webhooks from other systems arrive seconds to minutes later. Client-side events carry their own clock."""
    m = len(t)
    browser_latency = np.minimum(rng.lognormal(np.log(0.25 * US_PER_SECOND), 1.0, m), 3600 * US_PER_SECOND)
    webhook_latency = rng.uniform(1, 300, m) * US_PER_SECOND
    latency = np.where(client, browser_latency, webhook_latency).astype(np.int64)
    received = np.minimum(t + latency, now)
    sent = t + (latency * rng.uniform(0.1, 0.9, m)).astype(np.int64)
    return [
        format_us_array(t),
        format_us_array(received),
        format_optional_us_array(np.minimum(sent, received), client),
        format_optional_us_array(t, client),
    ]


def _columns(rng: np.random.Generator, cat: EventCatalog, chunk: ContactChunk, touches: _Touches,
             visitor_ids: list[str], ids: I64, prefix: str, now: int) -> list[list[Any]]:  # fmt: skip
    """The events table's columns, in COLUMNS order."""
    m = len(ids)
    owner = touches.owner  # -1 (visitor) picks the None appended to each per-contact table
    browser = _source_mask(cat, touches.source, _BROWSER_SOURCES)
    client = _source_mask(cat, touches.source, _LOGGED_IN_SOURCES)
    anonymous: Obj = np.where(owner >= 0, _obj([*chunk.anonymous_id, None])[owner], _obj(visitor_ids)[touches.visitor])
    anonymous[~browser] = None
    user: Obj = _obj([*chunk.user_id, None])[owner]
    user[~client] = None
    device = np.where(owner >= 0, chunk.device[owner], rng.integers(0, 1 << 30, m))
    country = np.where(owner >= 0, chunk.home_country[owner], rng.integers(0, len(vocab.COUNTRIES), m))
    context: Obj = np.where(
        browser, cat.web_contexts[_web_context_index(device, country)], cat.source_contexts[touches.source]
    )
    ads = _AdDraws(rng.integers(0, len(vocab.SEARCH_KEYWORDS), m), rng.integers(0, len(vocab.AD_CONTENTS), m))
    identify = _obj([*chunk.identify_properties, None])
    return [
        ids.tolist(),
        [f"{prefix}{i:012x}" for i in ids.tolist()],
        cat.event_type[touches.name].tolist(),
        cat.name_text[touches.name].tolist(),
        _obj([*chunk.ids.tolist(), None])[owner].tolist(),
        anonymous.tolist(),
        user.tolist(),
        *_timestamps(rng, touches.t, now, client),
        _properties(rng, cat, touches, ads, identify).tolist(),
        context.tolist(),
        *_utm(cat, touches, ads),
        cat.channel_text[touches.channel].tolist(),
        cat.campaign_id[touches.campaign].tolist(),
        cat.source_text[touches.source].tolist(),
    ]


def _last_activity(t: I64, counts: I64) -> list[str | None]:
    """Each contact's latest touch (touches are grouped by contact in ``counts`` order)."""
    last = np.zeros(len(counts), dtype=np.int64)
    active = counts > 0
    if active.any():
        starts = (np.cumsum(counts) - counts)[active]
        last[active] = np.maximum.reduceat(t, starts)
    return format_optional_us_array(last, active)


def generate_event_block(cat: EventCatalog, chunk: ContactChunk, window: Window, per_contact: float,
                         running: RunningIds, seed: int, chunk_no: int) -> EventBlock:  # fmt: skip
    """All events of one contact chunk plus its share of anonymous visitors, sorted by time."""
    rng, _ = streams(seed, STREAM_EVENTS, chunk_no)
    counts = event_counts(rng, chunk.stage, chunk.duplicate, per_contact * (1 - ANONYMOUS_SHARE))
    touches = _contact_touches(rng, cat, chunk, counts, window.end_us)
    last_activity = _last_activity(touches.t, counts)
    anonymous = int(rng.poisson(len(touches.t) * ANONYMOUS_SHARE / (1 - ANONYMOUS_SHARE)))
    visitor_ids = uuid4_strings(rng, max(1, anonymous // 4))
    if anonymous:
        touches = _Touches.concat(touches, _visitor_touches(rng, cat, anonymous, len(visitor_ids), window))
    # Time order within the chunk keeps the occurred_at index inserts local (and ids roughly chronological).
    touches = touches.take(np.argsort(touches.t, kind="stable"))
    ids = running.events + 1 + np.arange(len(touches.t), dtype=np.int64)
    running.events += len(touches.t)
    columns = _columns(rng, cat, chunk, touches, visitor_ids, ids, f"demo-{seed:x}-", window.end_us)
    return EventBlock(columns, last_activity)
