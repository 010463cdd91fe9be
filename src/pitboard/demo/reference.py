"""The slow-changing tables the contacts hang off: sales users, accounts and campaigns.

They are small (one seller per 400 contacts, one account per 8), so they are built whole, in
Python, before the contact chunks; the contacts and events then index into their arrays.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from pitboard.demo import vocab
from pitboard.demo.common import (
    F64,
    I64,
    STREAM_ACCOUNTS,
    STREAM_CAMPAIGNS,
    STREAM_SALES,
    Row,
    Window,
    cumulative,
    money,
    pick,
    slug,
    streams,
)
from pitboard.demo.timefmt import US_PER_DAY, format_us
from pitboard.quality.normalize.domains import registered_domain

TEAMS: tuple[str, ...] = ("Leadership", "SDR", "AE", "AM")
_TEAM_WEIGHTS = (0.0, 0.4, 0.45, 0.15)
_CAPACITY_RANGES: dict[str, tuple[int, int]] = {"Leadership": (10, 20), "SDR": (120, 200), "AE": (50, 90),
                                                "AM": (30, 60)}  # fmt: skip
OUR_DOMAIN = "pitboard-demo.example"
_WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# (hours per working day, working days): most sellers keep office hours, some split or compress them.
_HOUR_PATTERNS: tuple[tuple[list[list[str]], int, float], ...] = (
    ([["09:00", "17:00"]], 5, 0.5), ([["08:00", "16:00"]], 5, 0.15), ([["08:30", "12:00"], ["13:00", "17:30"]], 5, 0.2),
    ([["08:00", "18:00"]], 4, 0.08), ([["10:00", "18:00"]], 5, 0.07),
)  # fmt: skip
MARKETERS: tuple[str, ...] = ("maya.fischer", "leo.martins", "grace.okafor", "tom.becker", "ines.laurent")


def sales_user_count(contacts: int) -> int:
    return max(6, round(contacts / 400))


def account_count(contacts: int) -> int:
    return max(3, round(contacts / 8))


def _ids(base: int, n: int) -> I64:
    return np.arange(base + 1, base + 1 + n, dtype=np.int64)


def _working_hours_json() -> tuple[list[str], F64]:
    texts = [
        json.dumps({day: (hours if i < days else []) for i, day in enumerate(_WEEK)})
        for hours, days, _ in _HOUR_PATTERNS
    ]
    return texts, cumulative([w for _, _, w in _HOUR_PATTERNS])


# --- sales users ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SalesTeam:
    rows: list[Row]
    ids: I64
    territory: I64  # index into vocab.TERRITORIES
    team: I64  # index into TEAMS

    def pick(self, rng: np.random.Generator, territory: I64, teams: tuple[str, ...]) -> I64:
        """A random seller of one of ``teams`` in each element's territory (anyone there if none fits)."""
        wanted = np.isin(self.team, [TEAMS.index(t) for t in teams])
        out = np.empty(len(territory), dtype=np.int64)
        for t in range(len(vocab.TERRITORIES)):
            mask = territory == t
            pool = self.ids[wanted & (self.territory == t)]
            if len(pool) == 0:
                pool = self.ids[self.territory == t]
            out[mask] = pool[rng.integers(0, len(pool), int(mask.sum()))]
        return out


def _territory_sizes(total: int) -> list[int]:
    """At least a head and one seller per territory; the rest split by territory weight."""
    sizes = [2] * len(vocab.TERRITORIES)
    rest = total - sum(sizes)
    shares = [rest * w for w in vocab.TERRITORY_WEIGHTS]
    extra = [int(s) for s in shares]
    for i in sorted(range(len(shares)), key=lambda i: shares[i] - extra[i], reverse=True)[: rest - sum(extra)]:
        extra[i] += 1
    return [s + e for s, e in zip(sizes, extra, strict=True)]


def _team_plan(rng: np.random.Generator, size: int) -> list[int]:
    """Teams of a territory's people, head first and one AE guaranteed; sorted so managers come first."""
    teams = [0, 2, *pick(rng, cumulative(_TEAM_WEIGHTS), size - 2).tolist()]
    return sorted(teams[:size])


def generate_sales_team(count: int, seed: int, window: Window, id_base: int) -> SalesTeam:
    rng, prng = streams(seed, STREAM_SALES)
    hours_json, hours_cum = _working_hours_json()
    ids = _ids(id_base, count)
    rows: list[Row] = []
    territories: list[int] = []
    teams: list[int] = []
    emails: set[str] = set()
    index = 0
    for t, size in enumerate(_territory_sizes(count)):
        territory = vocab.TERRITORIES[t]
        plan = _team_plan(rng, size)
        head_id = int(ids[index])
        managers: dict[int, int] = {}
        for team_idx in plan:
            team = TEAMS[team_idx]
            user_id = int(ids[index])
            # Teams of six or more get their own manager (the team's first member), reporting to the head.
            if team_idx == 0:
                manager_id: int | None = None
            elif plan.count(team_idx) >= 6 and team_idx not in managers:
                managers[team_idx] = user_id
                manager_id = head_id
            else:
                manager_id = managers.get(team_idx, head_id)
            first, last = prng.choice(vocab.FIRST_NAMES), prng.choice(vocab.LAST_NAMES)
            email = _unique_email(f"{slug(first)}.{slug(last)}", OUR_DOMAIN, emails)
            low, high = _CAPACITY_RANGES[team]
            created = window.start_us - int(rng.integers(30, 900)) * US_PER_DAY
            rows.append((
                user_id, f"{first} {last}", email, team, territory, manager_id,
                int(rng.integers(low, high + 1)) // 5 * 5, prng.choice(vocab.TERRITORY_TIMEZONES[territory]),
                hours_json[int(pick(rng, hours_cum, 1)[0])], team_idx == 0 or bool(rng.random() < 0.95),
                format_us(created), format_us(created),
            ))  # fmt: skip
            territories.append(t)
            teams.append(team_idx)
            index += 1
    return SalesTeam(rows, ids, np.array(territories, dtype=np.int64), np.array(teams, dtype=np.int64))


def _unique_email(local: str, domain: str, taken: set[str]) -> str:
    email, n = f"{local}@{domain}", 1
    while email in taken:
        n += 1
        email = f"{local}{n}@{domain}"
    taken.add(email)
    return email


# --- accounts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountBook:
    rows: list[Row]
    ids: I64
    names: list[str]
    domains: list[str]
    country: I64  # index into vocab.COUNTRIES
    owner: I64  # sales user id, or -1 when unassigned
    pattern: I64  # index into vocab.EMAIL_PATTERNS: how the company spells addresses
    band: I64  # index into vocab.EMPLOYEE_BANDS
    employees: I64
    cum_weight: F64  # bigger companies have more contacts in the database

    def __len__(self) -> int:
        return len(self.ids)


def territory_of_country(country: I64) -> I64:
    lookup = np.array(
        [vocab.TERRITORIES.index(vocab.TERRITORY_OF_REGION[c.region]) for c in vocab.COUNTRIES], dtype=np.int64
    )
    return lookup[country]


def employee_band(employees: I64) -> I64:
    return np.searchsorted(np.array([b for b, _ in vocab.EMPLOYEE_BANDS]), employees, side="left").astype(np.int64)


def _company_name(rng: np.random.Generator) -> tuple[str, str, str]:
    return (
        vocab.COMPANY_FIRST[int(rng.integers(len(vocab.COMPANY_FIRST)))],
        vocab.COMPANY_SECOND[int(rng.integers(len(vocab.COMPANY_SECOND)))],
        vocab.COMPANY_THIRD[int(rng.integers(len(vocab.COMPANY_THIRD)))],
    )


def _domain_for(words: tuple[str, str, str], country: vocab.Country, rng: np.random.Generator) -> str:
    first, second, third = (slug(w) for w in words)
    style = rng.random()
    if style < 0.65:
        label = first + second
    elif style < 0.8:
        label = f"{first}-{second}"
    elif style < 0.9 and third:
        label = first + second + third
    else:
        label = first + second + "hq"
    tld_roll = rng.random()
    tld = country.tld if tld_roll < 0.65 else "com" if tld_roll < 0.9 else "io" if tld_roll < 0.97 else "ai"
    return f"{label}.{tld}"


def _account_identity(rng: np.random.Generator, country: vocab.Country, taken: set[str]) -> tuple[str, str]:
    """A company name and a web domain no other account has (companies with one name are fine)."""
    for _ in range(20):
        words = _company_name(rng)
        domain = _domain_for(words, country, rng)
        if domain not in taken:
            break
    else:
        domain = f"{domain.split('.', 1)[0]}{int(rng.integers(2, 10**6))}.{domain.split('.', 1)[1]}"
    taken.add(domain)
    name = " ".join(w for w in words if w)
    if rng.random() < 0.55:
        name += " " + country.legal_suffixes[int(rng.integers(len(country.legal_suffixes)))]
    return name, domain


def _hq_regions(rng: np.random.Generator, country: I64) -> list[str | None]:
    """ISO 3166-2 code of each account's head-office city where the country has known subdivisions."""
    out: list[str | None] = []
    for c in country.tolist():
        city = vocab.COUNTRIES[c].cities[int(rng.integers(len(vocab.COUNTRIES[c].cities)))]
        out.append(vocab.CITY_SUBDIVISIONS.get(city))
    return out


def generate_accounts(count: int, seed: int, window: Window, team: SalesTeam, id_base: int) -> AccountBook:
    rng, _ = streams(seed, STREAM_ACCOUNTS)
    ids = _ids(id_base, count)
    country = pick(rng, cumulative([c.weight for c in vocab.COUNTRIES]), count)
    employees = np.clip(rng.lognormal(np.log(150), 1.6, count), 2, 300_000).astype(np.int64)
    revenue = employees * rng.lognormal(np.log(180_000), 0.5, count)
    industry = pick(rng, cumulative([w for _, w in vocab.INDUSTRIES]), count)
    owner = team.pick(rng, territory_of_country(country), ("AE", "AM"))
    owner[rng.random(count) < 0.08] = -1
    pattern = pick(rng, cumulative([w for _, w in vocab.EMAIL_PATTERNS]), count)
    band = employee_band(employees)
    created = window.start_us - rng.integers(0, 365 * US_PER_DAY, count)
    updated = created + (rng.random(count) * (window.end_us - created)).astype(np.int64)
    hq_region = _hq_regions(rng, country)
    custom = {
        (tier, b): json.dumps({"tier": vocab.TIER_OPTIONS[tier], "employees_band": label})
        for tier in range(3)
        for b, (_, label) in enumerate(vocab.EMPLOYEE_BANDS)
    }
    tiers = np.where(employees >= 2000, 0, np.where(employees >= 200, 1, 2))
    domains_taken: set[str] = set()
    rows: list[Row] = []
    names: list[str] = []
    domains: list[str] = []
    for i in range(count):
        c = vocab.COUNTRIES[int(country[i])]
        name, domain = _account_identity(rng, c, domains_taken)
        names.append(name)
        domains.append(domain)
        rows.append((
            int(ids[i]), name, domain,
            None if rng.random() < 0.04 else vocab.INDUSTRIES[int(industry[i])][0],
            int(employees[i]),
            None if rng.random() < 0.12 else money(round(float(revenue[i]), -3)),
            c.code, hq_region[i], None if owner[i] < 0 else int(owner[i]),
            custom[int(tiers[i]), int(band[i])], format_us(int(created[i])), format_us(int(updated[i])),
            registered_domain(domain),
        ))  # fmt: skip
    weight = cumulative(employees.astype(np.float64) ** 0.4)
    return AccountBook(rows, ids, names, domains, country, owner, pattern, band, employees, weight)


# --- campaigns -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignBook:
    rows: list[Row]
    ids: I64
    templates: tuple[vocab.CampaignTemplate, ...]
    start_us: I64
    end_us: I64  # capped at now: touches cannot happen later
    channel: I64  # index into vocab.CHANNELS
    weight: F64
    utm_campaign: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    def type_mask(self, types: tuple[str, ...]) -> np.ndarray:
        return np.array([t.campaign_type in types for t in self.templates], dtype=bool)


def _status(start: int, end: int, now: int) -> str:
    if start > now:
        return "planned"
    return "completed" if end <= now else "live"


def _spend(t: vocab.CampaignTemplate, start: int, end: int, now: int, rng: np.random.Generator) -> str | None:
    if start > now:
        return None
    if end <= now:
        return money(t.budget * rng.uniform(0.85, 1.08))
    elapsed = (now - start) / (end - start)
    return money(t.budget * elapsed * rng.uniform(0.9, 1.05))


def generate_campaigns(seed: int, window: Window, id_base: int) -> CampaignBook:
    rng, prng = streams(seed, STREAM_CAMPAIGNS)
    templates = vocab.CAMPAIGNS
    ids = _ids(id_base, len(templates))
    now = window.end_us
    rows: list[Row] = []
    starts: list[int] = []
    ends: list[int] = []
    utms: list[str] = []
    for i, t in enumerate(templates):
        start, end = window.at(t.start), window.at(t.end)
        utm = slug(t.name, "_")
        created = start - 21 * US_PER_DAY
        rows.append((
            int(ids[i]), t.name, t.campaign_type, t.channel, _status(start, end, now), format_us(start),
            format_us(end), money(t.budget), _spend(t, start, end, now, rng), utm,
            f"{prng.choice(MARKETERS)}@{OUR_DOMAIN}",
            f"{t.campaign_type.replace('_', ' ').capitalize()} campaign; touches land in {t.channel} "
            f"(utm_source={t.utm_source}, utm_medium={t.utm_medium}).",
            format_us(created), format_us(min(max(end, created), now)),
        ))  # fmt: skip
        starts.append(start)
        ends.append(min(end, now))
        utms.append(utm)
    return CampaignBook(
        rows,
        ids,
        templates,
        np.array(starts, dtype=np.int64),
        np.array(ends, dtype=np.int64),
        np.array([vocab.CHANNELS.index(t.channel) for t in templates], dtype=np.int64),
        np.array([t.weight for t in templates], dtype=np.float64),
        utms,
    )
