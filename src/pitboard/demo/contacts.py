"""Contacts, in chunks, with everything that hangs off one contact: identities, lifecycle history,
opportunities, the planted dirty records and their ground-truth labels.

Sampling is vectorised with numpy (stages, accounts, times, owners); the strings (names, addresses,
phones) are assembled per row in Python, which at ~30 µs a contact is cheap next to the events.
Duplicates copy an earlier clean contact *of the same chunk*, so a chunk is self-contained and the
data never needs more than one chunk in memory.
"""

from __future__ import annotations

import json
import random
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

import numpy as np

from pitboard.demo import dirty, vocab
from pitboard.demo.common import (
    F64,
    I64,
    STREAM_CONTACTS,
    Bool,
    Row,
    Window,
    base62,
    cumulative,
    money,
    pick,
    salesforce_id,
    slug,
    streams,
    uuid4_strings,
)
from pitboard.demo.reference import AccountBook, CampaignBook, SalesTeam, territory_of_country
from pitboard.demo.timefmt import US_PER_DAY, format_us
from pitboard.quality.normalize import TitleInfo, classify_title, email_info

STAGES: tuple[str, ...] = tuple(s for s, _ in vocab.STAGE_SHARES)
LADDER: tuple[str, ...] = ("subscriber", "lead", "mql", "sal", "sql", "opportunity", "customer")
S = {name: i for i, name in enumerate(STAGES)}
LEAD_SOURCE_NAMES: tuple[str, ...] = tuple(ls[0] for ls in vocab.LEAD_SOURCES)
# A contact cannot be a customer a day after we first heard of them: minimum age per current stage.
_MIN_AGE_DAYS: dict[str, int] = {"subscriber": 0, "lead": 0, "mql": 1, "sal": 4, "sql": 10, "opportunity": 21,
                                 "customer": 45, "disqualified": 2, "recycled": 35}  # fmt: skip
# Share of contacts planted as each dirty kind (the rest are clean).
DIRTY_SHARES: dict[str, float] = {"duplicate": 0.04, "bad_email": 0.01, "missing_country": 0.02}
_KINDS: tuple[str, ...] = ("clean", *DIRTY_SHARES)
_DUPLICATE = _KINDS.index("duplicate")
_FREE_MAIL_SHARE = 0.09
# Lead sources a duplicate can have: a second form fill, a list upload, a rep typing in a business card.
_DUPLICATE_SOURCES: tuple[str, ...] = ("List Import", "Direct", "Organic Search", "Sales Prospecting")
_PHONE_STYLE_CUM = cumulative([0.35, 0.15, 0.3, 0.1, 0.05, 0.05]).tolist()
OPEN_OPP_STAGES: tuple[str, ...] = ("discovery", "qualification", "solution", "proposal", "negotiation")
# Deals are priced in USD, EUR or GBP only, so amounts stay comparable in reports without FX rates.
_CURRENCIES: dict[str, str] = {"GB": "GBP", "DE": "EUR", "FR": "EUR", "NL": "EUR", "ES": "EUR", "IT": "EUR",
                               "IE": "EUR"}  # fmt: skip


@dataclass
class RunningIds:
    """Last id used per table whose rows per chunk vary; chunks run in order, so ids are deterministic."""

    identities: int
    lifecycle_stage_changes: int
    opportunities: int
    events: int

    def take(self, table: str) -> int:
        value: int = getattr(self, table) + 1
        setattr(self, table, value)
        return value


@dataclass(frozen=True)
class DirtyLabel:
    contact_id: int
    kind: str
    duplicate_of: int | None = None
    variations: tuple[str, ...] = ()
    detail: str | None = None

    def to_json(self) -> str:
        data: dict[str, Any] = {"contact_id": self.contact_id, "kind": self.kind}
        if self.duplicate_of is not None:
            data["duplicate_of"] = self.duplicate_of
            data["variations"] = list(self.variations)
        if self.detail is not None:
            data["email" if self.kind == "bad_email" else "detail"] = self.detail
        return json.dumps(data)


@dataclass(frozen=True)
class Reference:
    """What every chunk reads: the run's parameters and the reference tables."""

    seed: int
    window: Window
    team: SalesTeam
    accounts: AccountBook
    campaigns: CampaignBook
    contact_id_base: int


@dataclass
class ContactChunk:
    """One chunk's rows plus the per-contact arrays the event generator needs."""

    partial_contacts: list[Row]  # contact rows without last_activity_at (known once events exist)
    identities: list[Row] = field(default_factory=list)
    stage_changes: list[Row] = field(default_factory=list)
    opportunities: list[Row] = field(default_factory=list)
    labels: list[DirtyLabel] = field(default_factory=list)
    ids: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    created_us: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    stage: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    lead_source: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    first_campaign: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    home_country: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    duplicate: Bool = field(default_factory=lambda: np.zeros(0, dtype=bool))
    anonymous_id: list[str | None] = field(default_factory=list)
    user_id: list[str | None] = field(default_factory=list)
    identify_properties: list[str] = field(default_factory=list)
    device: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # picks browser and IP of web events

    def __len__(self) -> int:
        return len(self.ids)

    def contact_rows(self, last_activity: list[str | None]) -> list[Row]:
        return [(*row, last) for row, last in zip(self.partial_contacts, last_activity, strict=True)]


class EmailRegistry:
    """Normalised addresses already claimed by an ``email`` identity (they are unique per database)."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def claim(self, email_normalized: str) -> bool:
        if email_normalized in self._taken:
            return False
        self._taken.add(email_normalized)
        return True

    def __contains__(self, email_normalized: object) -> bool:
        return email_normalized in self._taken


# --- vectorised sampling -------------------------------------------------------------------------


def _dirty_kinds(rng: np.random.Generator, n: int) -> tuple[I64, I64]:
    """Kind per row (index into _KINDS) and, for duplicates, the earlier clean row they copy (else -1)."""
    kind = pick(rng, cumulative([1 - sum(DIRTY_SHARES.values()), *DIRTY_SHARES.values()]), n)
    original = np.full(n, -1, dtype=np.int64)
    clean = np.flatnonzero(kind == 0)
    for i in np.flatnonzero(kind == _DUPLICATE).tolist():
        earlier = int(np.searchsorted(clean, i))
        if earlier == 0:
            kind[i] = 0
            continue
        original[i] = clean[int(rng.integers(earlier))]
    return kind, original


def _created_and_campaign(rng: np.random.Generator, ref: Reference, stage: I64, lead: I64) -> tuple[I64, I64, I64]:
    """When each contact was created, the campaign of its first touch (-1: none), its lead source.

    Campaign-sourced contacts are created while their campaign ran; everyone else is spread over the
    year with a mild upward trend (databases grow). Older stages need time to get where they are.
    """
    window, campaigns = ref.window, ref.campaigns
    n = len(stage)
    min_age = np.array([_MIN_AGE_DAYS[s] for s in STAGES], dtype=np.int64)[stage] * US_PER_DAY
    latest = window.end_us - min_age
    created = window.start_us + (rng.random(n) ** 0.85 * (latest - window.start_us)).astype(np.int64)
    first_campaign = np.full(n, -1, dtype=np.int64)
    lead = lead.copy()
    for ls, (_, _, types, _, _) in enumerate(vocab.LEAD_SOURCES):
        rows = np.flatnonzero(lead == ls)
        if not types or len(rows) == 0:
            continue
        eligible = campaigns.type_mask(types)[None, :] & (campaigns.start_us[None, :] < latest[rows, None])
        weights = np.cumsum(eligible * campaigns.weight[None, :], axis=1)
        total = weights[:, -1]
        chosen = (rng.random(len(rows))[:, None] * total[:, None] >= weights).sum(axis=1)
        has = total > 0
        # No campaign of that kind had started yet: the contact came in directly instead.
        lead[rows[~has]] = LEAD_SOURCE_NAMES.index("Direct")
        rows, chosen = rows[has], chosen[has]
        start = np.maximum(campaigns.start_us[chosen], window.start_us)
        end = np.minimum(campaigns.end_us[chosen], latest[rows])
        created[rows] = start + (rng.random(len(rows)) * np.maximum(end - start, 0)).astype(np.int64)
        first_campaign[rows] = chosen
    return created, first_campaign, lead


def _owners(rng: np.random.Generator, ref: Reference, stage: I64, account: I64, country: I64, has_opp: Bool) -> I64:
    """SDRs work MQLs and SALs; account owners take over from SQL on; early leads are unowned."""
    n = len(stage)
    territory = territory_of_country(country)
    sdr = ref.team.pick(rng, territory, ("SDR",))
    ae = ref.team.pick(rng, territory, ("AE", "AM"))
    account_owner = ref.accounts.owner[account]
    closer = np.where(account_owner >= 0, account_owner, ae)
    roll = rng.random(n)
    owner = np.full(n, -1, dtype=np.int64)
    sdr_stage = np.isin(stage, [S["mql"], S["sal"]]) | ((stage == S["lead"]) & (roll < 0.1))
    sdr_stage |= ((stage == S["recycled"]) & (roll < 0.5)) | ((stage == S["disqualified"]) & (roll < 0.4))
    owner[sdr_stage] = sdr[sdr_stage]
    late = np.isin(stage, [S["sql"], S["opportunity"], S["customer"]]) | has_opp
    owner[late] = closer[late]
    return owner


def _opportunity_outcomes(rng: np.random.Generator, stage: I64, kind: I64) -> I64:
    """0: no opportunity, 1: open, 2: won, 3: lost. Tuned for a ~25-30% win rate on closed deals."""
    roll = rng.random(len(stage))
    outcome = np.zeros(len(stage), dtype=np.int64)
    outcome[stage == S["opportunity"]] = 1
    outcome[(stage == S["customer"]) & (roll < 0.7)] = 2
    outcome[((stage == S["recycled"]) & (roll < 0.75)) | ((stage == S["disqualified"]) & (roll < 0.3))] = 3
    # A duplicate is a second record of someone: the deal hangs off the original.
    outcome[kind == _DUPLICATE] = 0
    return outcome


# --- per-row assembly ----------------------------------------------------------------------------


@dataclass
class _Person:
    """The strings of one contact, kept so a later duplicate can copy and vary them."""

    first: str
    last: str
    email: str | None
    phone: str | None
    phone_nsn: str | None
    phone_style: str | None
    company: str | None
    title: str
    city: str | None
    country: int


def _title_table() -> tuple[tuple[str, ...], F64]:
    """Every job title with its probability (seniority share x function share, split among synonyms)."""
    titles: list[str] = []
    weights: list[float] = []
    for function, f_weight in vocab.FUNCTIONS:
        for seniority, s_weight in vocab.SENIORITIES:
            options = vocab.TITLES[function][seniority]
            titles.extend(options)
            weights.extend([f_weight * s_weight / len(options)] * len(options))
    return tuple(titles), cumulative(weights)


TITLES, _TITLE_CUM = _title_table()
# Seniority and function as pitboard's normaliser derives them from a title (its vocabulary, not ours).
_TITLE_FACTS: dict[str, TitleInfo] = {title: classify_title(title) for title in TITLES}
_FREE_MAIL_CUM = list(accumulate(w for _, w in vocab.FREE_MAIL_DOMAINS))
_OPEN_STAGE_CUM = list(accumulate((0.3, 0.25, 0.2, 0.15, 0.1)))


def _corporate_local(first: str, last: str, pattern: int) -> str:
    f, la = slug(first), slug(last)
    return {
        "first.last": f"{f}.{la}", "flast": f"{f[:1]}{la}", "firstlast": f"{f}{la}", "first_last": f"{f}_{la}",
        "f.last": f"{f[:1]}.{la}", "first": f, "last.first": f"{la}.{f}", "firstl": f"{f}{la[:1]}",
    }[vocab.EMAIL_PATTERNS[pattern][0]]  # fmt: skip


def _free_mail(first: str, last: str, prng: random.Random) -> str:
    f, la = slug(first), slug(last)
    roll = prng.random()
    if roll < 0.5:
        local = f"{f}.{la}"
    elif roll < 0.7:
        local = f"{f}{la}"
    elif roll < 0.9:
        local = f"{f}.{la}{prng.randint(1, 99)}"
    else:
        local = f"{f[:1]}{la}{prng.randint(1960, 2004)}"
    domain = prng.choices(vocab.FREE_MAIL_DOMAINS, cum_weights=_FREE_MAIL_CUM)[0][0]
    return f"{local}@{domain}"


def _unique_email(email: str, registry: EmailRegistry, prng: random.Random) -> str:
    """Two John Smiths at one company get john.smith@ and john.smith2@, as mail admins do it."""
    local, _, domain = email.partition("@")
    candidate, n = email, 1
    while candidate in registry:
        n += 1
        candidate = f"{local}{n if n < 10 else prng.randint(10, 9999)}@{domain}"
    return candidate


def _phone(country: vocab.Country, prng: random.Random) -> tuple[str, str]:
    """A national number and its style. North American numbers use the fictional 555-01xx block."""
    if country.calling_code == "1":
        nsn = f"{prng.randint(201, 989)}55501{prng.randint(0, 99):02d}"
    else:
        rest = sum(country.phone_groups) - 1
        nsn = f"{prng.randint(2, 9)}{prng.randrange(10**rest):0{rest}d}"
    return nsn, dirty.PHONE_STYLES[bisect_right(_PHONE_STYLE_CUM, prng.random())]


def _new_person(ref: Reference, account: int, country: int, free_mail: bool, prng: random.Random,
                first_idx: int, title: str, registry: EmailRegistry) -> _Person:  # fmt: skip
    c = vocab.COUNTRIES[country]
    first, last = vocab.FIRST_NAMES[first_idx], prng.choice(vocab.LAST_NAMES)
    if free_mail:
        email = _free_mail(first, last, prng)
    else:
        local = _corporate_local(first, last, int(ref.accounts.pattern[account]))
        email = f"{local}@{ref.accounts.domains[account]}"
    email = _unique_email(email, registry, prng)
    nsn, style = _phone(c, prng) if prng.random() < 0.78 else (None, None)
    return _Person(
        first=first,
        last=last,
        email=email,
        phone=dirty.format_phone(c, nsn, style) if nsn and style else None,
        phone_nsn=nsn,
        phone_style=style,
        company=ref.accounts.names[account],
        title=title,
        city=prng.choice(c.cities),
        country=country,
    )


def _duplicate_of(original: _Person, prng: random.Random) -> tuple[_Person, list[str]]:
    """A second record of the same person, with the variations real duplicates show."""
    dup = _Person(**vars(original))
    variations: list[str] = []
    if prng.random() < 0.7:
        _vary_name(dup, prng, variations)
    if original.email and prng.random() < 0.85:
        _vary_email(dup, prng, variations)
    elif original.email and prng.random() < 0.4:
        dup.email = None
        variations.append("email_missing")
    if original.phone_nsn and original.phone_style and prng.random() < 0.5:
        c = vocab.COUNTRIES[original.country]
        dup.phone, dup.phone_style = dirty.phone_variant(c, original.phone_nsn, original.phone_style, prng)
        variations.append("phone_format")
    if original.company and prng.random() < 0.4:
        company = dirty.company_variant(original.company, vocab.COUNTRIES[original.country], prng)
        if company:
            dup.company = company
            variations.append("company_name")
    if not variations:
        last = dirty.typo(dup.last, prng)
        if last:
            dup.last = last
            variations.append("typo_last_name")
        elif dup.email:
            _vary_email(dup, prng, variations, kinds=("email_case",))
    return dup, variations


def _vary_name(dup: _Person, prng: random.Random, variations: list[str]) -> None:
    roll = prng.random()
    nick = dirty.nickname(dup.first, prng)
    if nick and roll < 0.5:
        dup.first = nick
        variations.append("nickname")
        return
    if roll < 0.75:
        first = dirty.typo(dup.first, prng)
        if first:
            dup.first = first
            variations.append("typo_first_name")
            return
    last = dirty.typo(dup.last, prng)
    if last:
        dup.last = last
        variations.append("typo_last_name")


_EMAIL_VARIANTS = {
    "email_case": dirty.email_case,
    "email_plus_tag": dirty.email_plus_tag,
    "email_gmail_dots": dirty.email_gmail_dots,
    "email_domain_alias": dirty.email_domain_alias,
}


def _vary_email(
    dup: _Person, prng: random.Random, variations: list[str], kinds: tuple[str, ...] = tuple(_EMAIL_VARIANTS)
) -> None:
    assert dup.email is not None
    order = list(kinds)
    prng.shuffle(order)
    for kind in order:
        email = _EMAIL_VARIANTS[kind](dup.email, prng)
        if email:
            dup.email = email
            variations.append(kind)
            return


# --- lifecycle -----------------------------------------------------------------------------------


def _stage_path(stage: str, outcome: int, prng: random.Random) -> list[str]:
    """The stages a contact went through to reach its current one, consistent with its opportunity."""
    if stage == "subscriber":
        return ["subscriber"]
    start = 0 if prng.random() < 0.35 else 1
    if stage in ("disqualified", "recycled"):
        if outcome == 3:
            top = LADDER.index("opportunity")
        else:
            top = prng.choice((1, 2, 3) if stage == "disqualified" else (2, 3, 4))
        return [*_climb(start, top, prng), stage]
    return _climb(start, LADDER.index(stage), prng)


def _climb(start: int, top: int, prng: random.Random) -> list[str]:
    # Sales often skips "sal" when an SDR qualifies on the first call.
    return [LADDER[i] for i in range(start, top + 1) if not (LADDER[i] == "sal" and i < top and prng.random() < 0.3)]


def _stage_times(created: int, now: int, steps: int, prng: random.Random) -> list[int]:
    if steps == 1:
        return [created]
    span = (now - created) * prng.uniform(0.25, 0.95)
    gaps = [prng.expovariate(1.0) for _ in range(steps - 1)]
    scale = span / sum(gaps)
    times, t = [created], float(created)
    for gap in gaps:
        t += max(gap * scale, 60_000_000)
        times.append(min(int(t), now))
    return times


def _transition(to_stage: str, index: int, lead_source: str, prng: random.Random, lost: bool) -> tuple[str | None, str]:
    """(reason, source) of one stage change, worded as the systems that make them would."""
    if index == 0:
        return None, {"List Import": "import", "Sales Prospecting": "salesforce", "Event": "event_app",
                      "Webinar": "zoom"}.get(lead_source, "form")  # fmt: skip
    if to_stage == "lead":
        return "converted on a form", "form"
    if to_stage == "mql":
        return f"lead score reached {prng.randint(60, 95)}", "scoring"
    if to_stage == "sal":
        return "accepted by SDR", "salesforce"
    if to_stage == "sql":
        return "qualified on discovery call", "salesforce"
    if to_stage == "opportunity":
        return "opportunity opened", "salesforce"
    if to_stage == "customer":
        return "closed won", "salesforce"
    if lost:
        return f"closed lost: {prng.choice(vocab.LOST_REASONS)}", "salesforce"
    if to_stage == "disqualified":
        return prng.choice(vocab.DISQUALIFY_REASONS), "salesforce"
    return "no response after 30 days", "system"


# --- the chunk -----------------------------------------------------------------------------------


@dataclass
class _Draws:
    """Everything sampled per row up front, vectorised."""

    kind: I64
    original: I64
    stage: I64
    account: I64
    unmatched: Bool
    country: I64
    first_name: I64
    lead: I64
    created: I64
    first_campaign: I64
    outcome: I64
    owner: I64
    anonymous: Bool
    second_device: Bool
    interest: I64
    opt_in: Bool
    device: I64
    title: I64  # index into TITLES


def _draw(rng: np.random.Generator, ref: Reference, n: int) -> _Draws:
    kind, original = _dirty_kinds(rng, n)
    dup = kind == _DUPLICATE
    stage = pick(rng, cumulative([w for _, w in vocab.STAGE_SHARES]), n)
    # A duplicate is a new, early record of someone already known.
    stage[dup] = pick(rng, cumulative([0.35, 0.5, 0.15]), int(dup.sum()))
    account = np.searchsorted(ref.accounts.cum_weight, rng.random(n), side="right").astype(np.int64)
    account = np.minimum(account, len(ref.accounts) - 1)
    free_mail = rng.random(n) < _FREE_MAIL_SHARE
    early = np.isin(stage, [S["subscriber"], S["lead"], S["mql"], S["disqualified"]])
    unmatched = free_mail & early & (rng.random(n) < 0.6)
    own_country = pick(rng, cumulative([c.weight for c in vocab.COUNTRIES]), n)
    country = np.where(rng.random(n) < 0.88, ref.accounts.country[account], own_country)
    first_weights = [vocab.FORMAL_NAME_WEIGHT if i < vocab.FORMAL_NAME_COUNT else 1.0
                     for i in range(len(vocab.FIRST_NAMES))]  # fmt: skip
    lead = pick(rng, cumulative([ls[4] for ls in vocab.LEAD_SOURCES]), n)
    lead[dup] = rng.choice([LEAD_SOURCE_NAMES.index(s) for s in _DUPLICATE_SOURCES], int(dup.sum()))
    created, first_campaign, lead = _created_and_campaign(rng, ref, stage, lead)
    outcome = _opportunity_outcomes(rng, stage, kind)
    # Duplicates share the original's company and arrive later than it.
    src = original[dup]
    account[dup], country[dup], unmatched[dup] = account[src], country[src], unmatched[src]
    created[dup] = created[src] + (rng.random(len(src)) * (ref.window.end_us - created[src])).astype(np.int64)
    first_campaign[dup] = -1
    owner = _owners(rng, ref, stage, account, country, outcome > 0)
    anonymous = rng.random(n) < 0.65
    return _Draws(
        kind=kind, original=original, stage=stage, account=account, unmatched=unmatched, country=country,
        first_name=pick(rng, cumulative(first_weights), n), lead=lead, created=created,
        first_campaign=first_campaign, outcome=outcome, owner=owner, anonymous=anonymous,
        second_device=anonymous & (rng.random(n) < 0.15), interest=rng.integers(-2, len(vocab.PRODUCT_INTERESTS), n),
        opt_in=rng.random(n) < np.where(stage == S["subscriber"], 0.9, 0.5), device=rng.integers(0, 1 << 30, n),
        title=pick(rng, _TITLE_CUM, n),
    )  # fmt: skip


class _ChunkBuilder:
    """Turns the vectorised draws into rows, one contact at a time."""

    def __init__(self, ref: Reference, first_index: int, n: int, running: RunningIds, registry: EmailRegistry,
                 rng: np.random.Generator, prng: random.Random) -> None:  # fmt: skip
        self.ref, self.running, self.registry, self.prng = ref, running, registry, prng
        self.d = _draw(rng, ref, n)
        self.ids = ref.contact_id_base + 1 + first_index + np.arange(n, dtype=np.int64)
        self.anon_ids = uuid4_strings(rng, n)
        self.second_anon_ids = uuid4_strings(rng, n)
        self.people: list[_Person] = []
        self.chunk = ContactChunk(partial_contacts=[])
        self.custom = _custom_json_table()

    def build(self) -> ContactChunk:
        d, chunk = self.d, self.chunk
        for i in range(len(self.ids)):
            self._row(i)
        chunk.ids, chunk.created_us, chunk.stage, chunk.lead_source = self.ids, d.created, d.stage, d.lead
        chunk.first_campaign, chunk.home_country, chunk.duplicate = d.first_campaign, d.country, d.kind == _DUPLICATE
        chunk.device = d.device
        return chunk

    def _row(self, i: int) -> None:
        d, prng = self.d, self.prng
        kind = _KINDS[int(d.kind[i])]
        account = int(d.account[i])
        cid = int(self.ids[i])
        if kind == "duplicate":
            original = int(d.original[i])
            person, variations = _duplicate_of(self.people[original], prng)
            self.chunk.labels.append(DirtyLabel(cid, kind, int(self.ids[original]), tuple(variations)))
        else:
            free_mail = bool(d.unmatched[i]) or prng.random() < _FREE_MAIL_SHARE / 3
            person = _new_person(self.ref, account, int(d.country[i]), free_mail, prng, int(d.first_name[i]),
                                 TITLES[int(d.title[i])], self.registry)  # fmt: skip
        self.people.append(person)
        email, normalized = person.email, None
        country: str | None = vocab.COUNTRIES[person.country].code
        if kind == "bad_email" and email:
            email, _problem = dirty.bad_email(email, prng)
            self.chunk.labels.append(DirtyLabel(cid, kind, detail=email))
        elif email:
            normalized = email.lower()
        city = person.city
        region = vocab.CITY_SUBDIVISIONS.get(city) if city else None
        if kind == "missing_country":
            country, region = None, None
            city = city if prng.random() < 0.5 else None
            self.chunk.labels.append(DirtyLabel(cid, kind))
        stage = STAGES[int(d.stage[i])]
        lead = LEAD_SOURCE_NAMES[int(d.lead[i])]
        created = int(d.created[i])
        changes = self._lifecycle(cid, i, stage, lead, created)
        updated = max(created, changes[-1])
        self._identities(cid, i, normalized, created, changes)
        owner = int(d.owner[i])
        title_facts = _TITLE_FACTS[person.title]
        # The facts every pitboard write path derives (the values themselves stay as captured).
        mail = email_info(email) if normalized else None
        self.chunk.partial_contacts.append((
            cid, email, normalized, person.first, person.last, person.title, person.phone, person.company, country,
            city, None if d.unmatched[i] else int(self.ref.accounts.ids[account]), None if owner < 0 else owner,
            stage, lead, self.custom[int(d.interest[i]), int(self.ref.accounts.band[account]), bool(d.opt_in[i])],
            format_us(created), format_us(updated), region, title_facts.seniority, title_facts.function,
            mail.domain if mail else None, mail.is_free_mail if mail else None,
        ))  # fmt: skip
        traits = {"email": email, "first_name": person.first, "last_name": person.last, "company": person.company}
        self.chunk.identify_properties.append(json.dumps({"traits": traits}))

    def _identities(self, cid: int, i: int, normalized: str | None, created: int, change_times: list[int]) -> None:
        d, rows = self.d, self.chunk.identities
        created_text = format_us(created)
        # A duplicate whose address normalises to its original's cannot claim it: the pair is unique.
        if normalized and self.registry.claim(normalized):
            rows.append((self.running.take("identities"), cid, "email", normalized, created_text))
        anon = self.anon_ids[i] if d.anonymous[i] else None
        if anon:
            rows.append((self.running.take("identities"), cid, "anonymous_id", anon, created_text))
            if d.second_device[i]:
                rows.append((self.running.take("identities"), cid, "anonymous_id", self.second_anon_ids[i],
                             format_us(change_times[-1])))  # fmt: skip
        stage = int(d.stage[i])
        synced = stage >= S["sal"] or (stage == S["mql"] and self.prng.random() < 0.25) or d.outcome[i] > 0
        if synced and d.kind[i] != _DUPLICATE:
            sync_time = format_us(change_times[min(len(change_times) - 1, 2)])
            rows.append((self.running.take("identities"), cid, "external:salesforce", salesforce_id("003", cid),
                         sync_time))  # fmt: skip
        # Customers log into the product, so the product's user id identifies them too.
        user = f"usr_{base62(cid, 10)}" if stage == S["customer"] else None
        if user:
            rows.append((self.running.take("identities"), cid, "user_id", user, format_us(change_times[-1])))
        self.chunk.anonymous_id.append(anon)
        self.chunk.user_id.append(user)

    def _lifecycle(self, cid: int, i: int, stage: str, lead: str, created: int) -> list[int]:
        outcome = int(self.d.outcome[i])
        path = _stage_path(stage, outcome, self.prng)
        times = _stage_times(created, self.ref.window.end_us, len(path), self.prng)
        previous: str | None = None
        for step, (to_stage, at) in enumerate(zip(path, times, strict=True)):
            lost = outcome == 3 and to_stage in ("disqualified", "recycled")
            reason, source = _transition(to_stage, step, lead, self.prng, lost)
            self.chunk.stage_changes.append(
                (self.running.take("lifecycle_stage_changes"), cid, previous, to_stage, format_us(at), reason, source)
            )
            previous = to_stage
        if outcome:
            self._opportunity(cid, i, path, times, outcome)
        return times

    def _opportunity(self, cid: int, i: int, path: list[str], times: list[int], outcome: int) -> None:
        d, prng, accounts = self.d, self.prng, self.ref.accounts
        account = int(d.account[i])
        at = path.index("opportunity")
        opened = times[at]
        closed = times[at + 1] if outcome in (2, 3) else None
        if outcome == 1:
            stage = prng.choices(OPEN_OPP_STAGES, cum_weights=_OPEN_STAGE_CUM)[0]
        else:
            stage = "closed_won" if outcome == 2 else "closed_lost"
        amount = round(prng.lognormvariate(np.log(12_000 * (float(accounts.employees[account]) / 100) ** 0.3), 0.5), -2)
        country = vocab.COUNTRIES[int(accounts.country[account])].code
        opp_id = self.running.take("opportunities")
        campaign = int(d.first_campaign[i])
        owner = int(d.owner[i])
        self.chunk.opportunities.append((
            opp_id, f"{accounts.names[account]} - {prng.choice(vocab.PRODUCTS)}", int(accounts.ids[account]), cid,
            None if owner < 0 else owner, money(max(amount, 1_000.0)), _CURRENCIES.get(country, "USD"), stage,
            format_us(opened), None if closed is None else format_us(closed), outcome in (2, 3), outcome == 2,
            None if campaign < 0 else int(self.ref.campaigns.ids[campaign]), salesforce_id("006", opp_id),
            format_us(opened), format_us(closed if closed is not None else opened),
        ))  # fmt: skip


def _custom_json_table() -> dict[tuple[int, int, bool], str]:
    """The ``custom`` JSON of a contact for every (interest, employees band, opt-in): a few hundred strings."""
    table: dict[tuple[int, int, bool], str] = {}
    for interest in range(-2, len(vocab.PRODUCT_INTERESTS)):
        for band, (_, band_label) in enumerate(vocab.EMPLOYEE_BANDS):
            for opt_in in (False, True):
                data: dict[str, Any] = {}
                if interest >= 0:
                    data["product_interest"] = vocab.PRODUCT_INTERESTS[interest]
                data["employees_band"] = band_label
                data["newsletter_opt_in"] = opt_in
                table[interest, band, opt_in] = json.dumps(data)
    return table


def generate_contact_chunk(ref: Reference, chunk_no: int, first_index: int, n: int, running: RunningIds,
                           registry: EmailRegistry) -> ContactChunk:  # fmt: skip
    """Contacts ``first_index .. first_index + n - 1`` of the run (chunk ``chunk_no``) and their rows."""
    rng, prng = streams(ref.seed, STREAM_CONTACTS, chunk_no)
    return _ChunkBuilder(ref, first_index, n, running, registry, rng, prng).build()
