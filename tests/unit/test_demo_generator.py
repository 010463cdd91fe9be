"""The demo generator without a database: determinism, realistic distributions, and dirty records
that really contain the variations their ground-truth labels claim."""

from __future__ import annotations

import itertools
import json
import random
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from email_validator import EmailNotValidError, validate_email

from pitboard.campaigns.schemas import CAMPAIGN_STATUSES, CAMPAIGN_TYPES
from pitboard.demo import dirty, generate_demo, vocab
from pitboard.demo.common import Window
from pitboard.demo.contacts import (
    DIRTY_SHARES,
    STAGES,
    ContactChunk,
    EmailRegistry,
    Reference,
    RunningIds,
    generate_contact_chunk,
)
from pitboard.demo.events import COLUMNS as EVENT_COLUMNS
from pitboard.demo.events import EventBlock, build_catalog, generate_event_block
from pitboard.demo.reference import (
    TEAMS,
    account_count,
    generate_accounts,
    generate_campaigns,
    generate_sales_team,
    sales_user_count,
)
from pitboard.demo.timefmt import format_us, format_us_array, to_us
from pitboard.demo.writer import TABLE_COLUMNS
from pitboard.kit.db import make_engine
from pitboard.kit.errors import ValidationFailed
from pitboard.lifecycle.stages import DEFAULT_STAGES
from pitboard.pipeline.schemas import STAGES as OPPORTUNITY_STAGES
from pitboard.quality.normalize import classify_title, email_info, normalize_region
from pitboard.quality.normalize.countries import supported_region_countries

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$")
GA4_CHANNELS = {
    "Organic Search", "Paid Search", "Paid Social", "Organic Social", "Email", "Direct", "Referral", "Display",
    "Unassigned", "Affiliates", "Organic Video", "Paid Other", "Cross-network", "Audio", "SMS",
}  # fmt: skip


@dataclass
class Generated:
    """One reference set and a few chunks, generated exactly as generate_demo would."""

    ref: Reference
    chunks: list[ContactChunk]
    blocks: list[EventBlock]

    def rows(self, table: str) -> list[tuple[Any, ...]]:
        if table == "contacts":
            return [r for c, b in zip(self.chunks, self.blocks, strict=True) for r in c.contact_rows(b.last_activity)]
        if table == "events":
            return [r for b in self.blocks for batch in b.batches(100_000) for r in batch]
        attribute = {"identities": "identities", "lifecycle_stage_changes": "stage_changes",
                     "opportunities": "opportunities"}[table]  # fmt: skip
        return [r for c in self.chunks for r in getattr(c, attribute)]

    def dicts(self, table: str) -> list[dict[str, Any]]:
        return [dict(zip(TABLE_COLUMNS[table], row, strict=True)) for row in self.rows(table)]


def generate(*, seed: int = 42, contacts: int = 4_000, chunk: int = 2_000, per_contact: float = 20.0) -> Generated:
    window = Window(NOW)
    team = generate_sales_team(sales_user_count(contacts), seed, window, 0)
    accounts = generate_accounts(account_count(contacts), seed, window, team, 0)
    campaigns = generate_campaigns(seed, window, 0)
    ref = Reference(seed, window, team, accounts, campaigns, 0)
    catalog = build_catalog(campaigns)
    running, registry = RunningIds(0, 0, 0, 0), EmailRegistry()
    chunks, blocks = [], []
    for no, first in enumerate(range(0, contacts, chunk)):
        c = generate_contact_chunk(ref, no, first, min(chunk, contacts - first), running, registry)
        chunks.append(c)
        blocks.append(generate_event_block(catalog, c, window, per_contact, running, seed, no))
    return Generated(ref, chunks, blocks)


@pytest.fixture(scope="module")
def data() -> Generated:
    return generate(contacts=20_000, chunk=10_000)


# --- determinism ---------------------------------------------------------------------------------


def test_same_seed_and_now_give_identical_rows() -> None:
    a, b = generate(contacts=1_500, chunk=500), generate(contacts=1_500, chunk=500)
    assert a.ref.team.rows == b.ref.team.rows
    assert a.ref.accounts.rows == b.ref.accounts.rows
    assert a.ref.campaigns.rows == b.ref.campaigns.rows
    for table in ("contacts", "identities", "lifecycle_stage_changes", "opportunities", "events"):
        assert a.rows(table) == b.rows(table), table
    assert [lb.to_json() for c in a.chunks for lb in c.labels] == [lb.to_json() for c in b.chunks for lb in c.labels]


def test_different_seed_gives_different_rows() -> None:
    a, b = generate(contacts=500, chunk=500), generate(seed=43, contacts=500, chunk=500)
    assert a.ref.accounts.names != b.ref.accounts.names
    emails_a = {r["email"] for r in a.dicts("contacts")}
    emails_b = {r["email"] for r in b.dicts("contacts")}
    assert len(emails_a & emails_b) < 0.05 * len(emails_a)
    assert a.rows("events") != b.rows("events")


def test_everything_is_relative_to_now() -> None:
    later = NOW + timedelta(days=30)
    a = generate(contacts=300, chunk=300)
    window = Window(later)
    campaigns = generate_campaigns(42, window, 0)
    shifted = [to_us(datetime.fromisoformat(r[5]).replace(tzinfo=UTC)) for r in campaigns.rows]
    original = [to_us(datetime.fromisoformat(str(r[5])).replace(tzinfo=UTC)) for r in a.ref.campaigns.rows]
    assert [s - o for s, o in zip(shifted, original, strict=True)] == [30 * 86_400_000_000] * len(shifted)


# --- reference tables ----------------------------------------------------------------------------


def test_sales_team_shape() -> None:
    assert sales_user_count(100) == 6
    assert sales_user_count(1_000_000) == 2_500
    team = generate_sales_team(60, 7, Window(NOW), 100)
    users = [dict(zip(TABLE_COLUMNS["sales_users"], r, strict=True)) for r in team.rows]
    assert len(users) == 60
    assert len({u["email"] for u in users}) == 60
    ids = {u["id"] for u in users}
    assert min(ids) == 101
    by_id = {u["id"]: u for u in users}
    heads = [u for u in users if u["manager_id"] is None]
    assert sorted(u["territory"] for u in heads) == sorted(vocab.TERRITORIES)
    assert all(u["team"] == "Leadership" for u in heads)
    for u in users:
        assert u["team"] in TEAMS
        assert u["timezone"] in vocab.TERRITORY_TIMEZONES[u["territory"]]
        hours = json.loads(u["working_hours"])
        assert set(hours) == {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
        assert hours["mon"]
        assert all(re.match(r"^\d\d:\d\d$", t) for span in hours["mon"] for t in span)
        assert isinstance(u["capacity"], int)
        assert u["capacity"] > 0
        # Managers come before their reports (rows are inserted in order) and share their territory.
        if u["manager_id"] is not None:
            assert u["manager_id"] < u["id"]
            assert by_id[u["manager_id"]]["territory"] == u["territory"]
    assert any(by_id[u["manager_id"]]["manager_id"] is not None for u in users if u["manager_id"]), "no middle managers"


def test_accounts_have_unique_domains_and_valid_fields(data: Generated) -> None:
    accounts = [dict(zip(TABLE_COLUMNS["accounts"], r, strict=True)) for r in data.ref.accounts.rows]
    assert len(accounts) == account_count(20_000) == 2_500
    assert len({a["domain"] for a in accounts}) == len(accounts)
    codes = {c.code for c in vocab.COUNTRIES}
    for a in accounts:
        assert a["country"] in codes
        assert re.match(r"^[a-z0-9-]+(\.[a-z]+)+$", a["domain"])
        assert a["employee_count"] >= 2
        assert a["annual_revenue"] is None or re.match(r"^\d+\.\d\d$", a["annual_revenue"])
        assert set(json.loads(a["custom"])) == {"tier", "employees_band"}
    us_share = sum(a["country"] == "US" for a in accounts) / len(accounts)
    assert 0.3 < us_share < 0.46


def test_campaigns_use_known_types_statuses_and_channels(data: Generated) -> None:
    campaigns = [dict(zip(TABLE_COLUMNS["campaigns"], r, strict=True)) for r in data.ref.campaigns.rows]
    assert 25 <= len(campaigns) <= 35
    assert len({c["name"] for c in campaigns}) == len(campaigns)
    for c in campaigns:
        assert c["campaign_type"] in CAMPAIGN_TYPES
        assert c["status"] in CAMPAIGN_STATUSES
        assert c["channel"] in GA4_CHANNELS
        assert c["start_date"] < c["end_date"]
        assert (c["actual_spend"] is None) == (c["status"] == "planned")
    assert {c["status"] for c in campaigns} == {"planned", "live", "completed"}
    assert {"webinar", "paid_search", "paid_social", "email", "event", "content", "partner"} <= {
        c["campaign_type"] for c in campaigns
    }


# --- contacts ------------------------------------------------------------------------------------


def test_contact_distributions_are_realistic(data: Generated) -> None:
    contacts = data.dicts("contacts")
    n = len(contacts)
    stages = Counter(c["lifecycle_stage"] for c in contacts)
    assert set(stages) <= set(DEFAULT_STAGES)
    expected = dict(vocab.STAGE_SHARES)
    for stage, count in stages.items():
        # Duplicates shift a little mass to the early stages; otherwise shares are as configured.
        assert abs(count / n - expected[stage]) < 0.03, stage
    titles = Counter(c["title"] for c in contacts)
    assert len(titles) > 100
    assert sum(v for t, v in titles.items() if "Marketing" in t or "Demand" in t) / n > 0.15
    free = sum(c["email"] is not None and c["email"].split("@")[-1].lower() in dict(vocab.FREE_MAIL_DOMAINS)
               for c in contacts)  # fmt: skip
    assert 0.03 < free / n < 0.15
    phones = [c["phone"] for c in contacts if c["phone"]]
    assert 0.7 < len(phones) / n < 0.85
    assert len({re.sub(r"\d", "9", p)[:4] for p in phones}) > 5, "phones should come in mixed formats"
    created = sorted(c["created_at"] for c in contacts)
    assert created[0] >= format_us(Window(NOW).start_us)
    assert created[-1] <= format_us(to_us(NOW))
    months = Counter(c[:7] for c in created)
    assert len(months) >= 12
    for c in contacts[:500]:
        custom = json.loads(c["custom"])
        assert set(custom) <= {"product_interest", "employees_band", "newsletter_opt_in"}
        assert TIMESTAMP.match(c["created_at"])
        assert TIMESTAMP.match(c["updated_at"])
        assert c["updated_at"] >= c["created_at"]


def test_dirty_shares_match_configuration(data: Generated) -> None:
    n = sum(len(c) for c in data.chunks)
    kinds = Counter(label.kind for c in data.chunks for label in c.labels)
    for kind, share in DIRTY_SHARES.items():
        assert abs(kinds[kind] / n - share) < 0.006, kind
    total = sum(kinds.values()) / n
    assert 0.05 < total < 0.09


def test_emails_valid_unless_labelled_bad_and_identities_unique(data: Generated) -> None:
    contacts = {c["id"]: c for c in data.dicts("contacts")}
    bad = {lb.contact_id for c in data.chunks for lb in c.labels if lb.kind == "bad_email"}
    for cid, c in contacts.items():
        if c["email"] is None:
            continue
        if cid in bad:
            with pytest.raises(EmailNotValidError):
                validate_email(c["email"], check_deliverability=False)
            assert c["email_normalized"] is None
        elif cid % 7 == 0:  # a sample: email_validator is slow-ish
            assert validate_email(c["email"], check_deliverability=False).normalized.lower() == c["email_normalized"]
    identities = data.dicts("identities")
    assert len({(i["kind"], i["value"]) for i in identities}) == len(identities)
    assert len({i["id"] for i in identities}) == len(identities)
    kinds = Counter(i["kind"] for i in identities)
    assert {"email", "anonymous_id", "external:salesforce", "user_id"} <= set(kinds)
    with_email = sum(1 for c in contacts.values() if c["email_normalized"])
    # Every valid address has an identity, except duplicates whose address normalises to the original's.
    assert with_email * 0.98 < kinds["email"] <= with_email
    assert kinds["anonymous_id"] > 0.6 * len(contacts)
    for i in identities:
        if i["kind"] == "email":
            assert contacts[i["contact_id"]]["email_normalized"] == i["value"]


def test_lifecycle_history_ends_in_the_current_stage(data: Generated) -> None:
    contacts = {c["id"]: c for c in data.dicts("contacts")}
    history: dict[int, list[dict[str, Any]]] = {}
    for change in data.dicts("lifecycle_stage_changes"):
        history.setdefault(change["contact_id"], []).append(change)
    assert set(history) == set(contacts)
    for cid, changes in history.items():
        assert changes[0]["from_stage"] is None
        assert changes[0]["changed_at"] == contacts[cid]["created_at"]
        for before, after in itertools.pairwise(changes):
            assert after["from_stage"] == before["to_stage"]
            assert after["changed_at"] >= before["changed_at"]
        assert changes[-1]["to_stage"] == contacts[cid]["lifecycle_stage"]
        assert all(ch["to_stage"] in DEFAULT_STAGES for ch in changes)


def test_opportunities_win_rate_and_consistency(data: Generated) -> None:
    contacts = {c["id"]: c for c in data.dicts("contacts")}
    opps = data.dicts("opportunities")
    assert len(opps) > 0.05 * len(contacts)
    closed = [o for o in opps if o["is_closed"]]
    win_rate = sum(o["is_won"] for o in closed) / len(closed)
    assert 0.2 <= win_rate <= 0.35
    accounts_with_opps = len({o["account_id"] for o in opps}) / len(data.ref.accounts)
    assert 0.1 < accounts_with_opps < 0.8
    for o in opps:
        assert o["stage"] in OPPORTUNITY_STAGES
        assert o["is_closed"] == (o["stage"] in ("closed_won", "closed_lost"))
        assert o["is_won"] == (o["stage"] == "closed_won")
        assert (o["closed_at"] is None) != o["is_closed"]
        assert o["closed_at"] is None or o["closed_at"] >= o["opened_at"]
        assert float(o["amount"]) >= 1000
        stage = contacts[o["contact_id"]]["lifecycle_stage"]
        assert stage == {"closed_won": "customer"}.get(o["stage"], stage)
        assert o["is_closed"] or stage == "opportunity"
    assert len({o["external_id"] for o in opps}) == len(opps)


# --- events --------------------------------------------------------------------------------------


def test_events_volume_is_skewed_around_the_requested_mean(data: Generated) -> None:
    events = data.dicts("events")
    n_contacts = sum(len(c) for c in data.chunks)
    assert abs(len(events) / n_contacts - 20.0) < 2.0
    per_contact = Counter(e["contact_id"] for e in events if e["contact_id"] is not None)
    counts = np.array(list(per_contact.values()))
    assert np.median(counts) < counts.mean() < np.percentile(counts, 90)
    assert counts.max() > 5 * counts.mean()
    anonymous = sum(e["contact_id"] is None for e in events) / len(events)
    assert 0.03 < anonymous < 0.07


def test_events_are_well_formed_and_consistent_with_campaigns(data: Generated) -> None:
    events = data.dicts("events")
    campaigns = {r[0]: dict(zip(TABLE_COLUMNS["campaigns"], r, strict=True)) for r in data.ref.campaigns.rows}
    contacts = {c["id"]: c for c in data.dicts("contacts")}
    assert len({e["message_id"] for e in events}) == len(events)
    assert {e["event_type"] for e in events} == {"track", "page", "identify"}
    assert {e["channel"] for e in events} <= GA4_CHANNELS
    assert len({e["channel"] for e in events}) >= 8
    names = Counter(e["name"] for e in events)
    for name in ("page_viewed", "form_submitted", "email_opened", "email_clicked", "webinar_attended", "ad_click",
                 "meeting_booked"):  # fmt: skip
        assert names[name] > 0, name
    for e in events[::7]:
        assert TIMESTAMP.match(e["occurred_at"])
        assert e["received_at"] >= e["occurred_at"]
        json.loads(e["properties"])
        json.loads(e["context"])
        assert e["anonymous_id"] is not None or e["contact_id"] is not None or e["source"] != "website"
        if e["contact_id"] is not None:
            assert e["occurred_at"] >= contacts[e["contact_id"]]["created_at"]
        campaign = campaigns.get(e["campaign_id"])
        if campaign is None:
            assert e["utm_campaign"] is None
            continue
        assert e["utm_campaign"] == campaign["utm_campaign"]
        assert e["channel"] == campaign["channel"]
        assert campaign["start_date"] <= e["occurred_at"] <= campaign["end_date"]
        if e["channel"] == "Paid Search":
            assert e["utm_term"] in vocab.SEARCH_KEYWORDS
            if e["name"] == "ad_click":
                assert json.loads(e["properties"])["keyword"] == e["utm_term"]


def test_last_activity_is_the_latest_event(data: Generated) -> None:
    latest: dict[int, str] = {}
    for e in data.dicts("events"):
        if e["contact_id"] is not None:
            latest[e["contact_id"]] = max(latest.get(e["contact_id"], ""), e["occurred_at"])
    for c in data.dicts("contacts"):
        assert c["last_activity_at"] == latest.get(c["id"])


def test_first_touch_matches_lead_source(data: Generated) -> None:
    first: dict[int, dict[str, Any]] = {}
    for e in sorted(data.dicts("events"), key=lambda e: (e["occurred_at"], e["id"])):
        if e["contact_id"] is not None:
            first.setdefault(e["contact_id"], e)
    channel_of = {ls[0]: ls[1] for ls in vocab.LEAD_SOURCES}
    contacts = data.dicts("contacts")
    matching = sum(first[c["id"]]["channel"] == channel_of[c["lead_source"]] for c in contacts if c["id"] in first)
    assert matching / len(contacts) > 0.97


def test_no_events_when_asked_for_none() -> None:
    g = generate(contacts=200, chunk=200, per_contact=0.0)
    assert g.rows("events") == []
    assert all(c["last_activity_at"] is None for c in g.dicts("contacts"))


def test_written_columns_fit_the_models() -> None:
    """The generator writes a subset of each table's columns; the others must be able to stay empty.

    (Other features add columns; this fails when one is added that the generator has to fill.)
    """
    from pitboard.models import Base

    for table, columns in TABLE_COLUMNS.items():
        model = Base.metadata.tables[table]
        assert set(columns) <= {c.name for c in model.columns}, table
        assert len(set(columns)) == len(columns), table
        for column in model.columns:
            if column.name not in columns:
                assert column.nullable or column.server_default is not None, f"{table}.{column.name}"
    assert TABLE_COLUMNS["events"] == EVENT_COLUMNS


def test_derived_facts_are_what_pitboard_derives(data: Generated) -> None:
    """seniority, job_function, email_domain, is_free_mail, region: as the normaliser would store them."""
    bad = {lb.contact_id for c in data.chunks for lb in c.labels if lb.kind == "bad_email"}
    contacts = data.dicts("contacts")
    for c in contacts[::5]:
        facts = classify_title(c["title"])
        assert (c["seniority"], c["job_function"]) == (facts.seniority, facts.function)
        if c["email"] is None or c["id"] in bad:
            assert (c["email_domain"], c["is_free_mail"]) == (None, None)
        else:
            info = email_info(c["email"])
            assert info.valid
            assert (c["email_domain"], c["is_free_mail"]) == (info.domain, info.is_free_mail)
        if c["region"] is not None:
            assert normalize_region(c["country"], c["region"]) == c["region"]
    assert sum(c["region"] is not None for c in contacts) > 0.3 * len(contacts)
    assert {c["seniority"] for c in contacts} >= {"c_level", "vp", "director", "manager"}
    assert any(c["is_free_mail"] for c in contacts)
    for row in data.ref.accounts.rows:
        account = dict(zip(TABLE_COLUMNS["accounts"], row, strict=True))
        assert account["registered_domain"] == account["domain"]
        if account["region"] is not None:
            assert normalize_region(account["country"], account["region"]) == account["region"]


def test_city_subdivisions_are_known_to_the_normaliser() -> None:
    for country in vocab.COUNTRIES:
        for city in country.cities:
            code = vocab.CITY_SUBDIVISIONS.get(city)
            if country.code in supported_region_countries():
                assert code is not None, city
            if code is not None:
                assert code.startswith(country.code + "-")
                assert normalize_region(country.code, code) == code


# --- dirty records -------------------------------------------------------------------------------


def _edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein (optimal string alignment)."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


@pytest.mark.parametrize("word", ["Katherine", "Smith", "Müller", "O'Brien", "Li", "Zoë"])
def test_typo_is_one_small_edit(word: str) -> None:
    rng = random.Random(1)
    for _ in range(200):
        variant = dirty.typo(word, rng)
        if len(word) < 3:
            assert variant is None
            continue
        assert variant is not None
        assert variant != word
        assert _edit_distance(word, variant) == 1


def test_nickname() -> None:
    rng = random.Random(3)
    assert dirty.nickname("Robert", rng) in ("Bob", "Rob", "Bobby")
    assert dirty.nickname("William", rng) in ("Bill", "Will", "Billy")
    assert dirty.nickname("Zoë", rng) is None


def test_email_variants_keep_the_mailbox() -> None:
    rng = random.Random(5)
    for _ in range(100):
        cased = dirty.email_case("jane.doe@blueharbor.io", rng)
        assert cased is not None
        assert cased != "jane.doe@blueharbor.io"
        assert cased.lower() == "jane.doe@blueharbor.io"
    tagged = dirty.email_plus_tag("jane.doe@blueharbor.io", rng)
    assert tagged is not None
    assert re.sub(r"\+[^@]+", "", tagged) == "jane.doe@blueharbor.io"
    dotted = dirty.email_gmail_dots("jane.doe@gmail.com", rng)
    assert dotted is not None
    assert dotted != "jane.doe@gmail.com"
    assert dotted.replace(".", "").replace("gmailcom", "gmail.com") == "janedoe@gmail.com"
    assert dirty.email_gmail_dots("jane.doe@blueharbor.io", rng) is None
    assert dirty.email_domain_alias("jane@gmail.com", rng) == "jane@googlemail.com"
    alias = dirty.email_domain_alias("jane@blueharbor.com", rng)
    assert alias is not None
    assert alias.startswith("jane@blueharbor.")
    assert alias != "jane@blueharbor.com"
    for variant in (tagged, dotted, alias):
        validate_email(variant, check_deliverability=False)


def test_bad_emails_are_invalid_in_every_way() -> None:
    rng = random.Random(11)
    problems = set()
    for i in range(300):
        email = ("first.last" if i % 2 else "flast") + "@acme-labs.co.uk"
        bad, problem = dirty.bad_email(email, rng)
        problems.add(problem)
        with pytest.raises(EmailNotValidError):
            validate_email(bad, check_deliverability=False)
    assert len(problems) == 6


@pytest.mark.parametrize("country", vocab.COUNTRIES, ids=lambda c: c.code)
def test_phone_variants_are_the_same_number(country: vocab.Country) -> None:
    rng = random.Random(2)
    nsn = "2" + "".join(str(rng.randint(0, 9)) for _ in range(sum(country.phone_groups) - 1))
    e164 = f"+{country.calling_code}{nsn}"
    for style in dirty.PHONE_STYLES:
        text = dirty.format_phone(country, nsn, style)
        assert dirty.to_e164(text, country) == e164, (style, text)
        variant, new_style = dirty.phone_variant(country, nsn, style, rng)
        assert new_style != style
        assert variant != text
        assert dirty.to_e164(variant, country) == e164


def test_company_variants_are_the_same_company() -> None:
    rng = random.Random(8)
    de = next(c for c in vocab.COUNTRIES if c.code == "DE")

    def core(name: str) -> str:
        return dirty.split_legal_suffix(name.replace(", ", " "))[0].lower().strip(" ,.")

    for name in ("Blue Harbor Analytics GmbH", "Northwind Logistics", "Apex Data AG"):
        for _ in range(30):
            variant = dirty.company_variant(name, de, rng)
            assert variant is not None
            assert variant != name
            assert core(variant).startswith(core(name).split()[0]), variant


def test_duplicates_show_the_variations_their_labels_claim(data: Generated) -> None:
    contacts = {c["id"]: c for c in data.dicts("contacts")}
    seen: Counter[str] = Counter()
    for label in (lb for c in data.chunks for lb in c.labels if lb.kind == "duplicate"):
        assert label.duplicate_of is not None
        assert label.duplicate_of < label.contact_id
        dup, orig = contacts[label.contact_id], contacts[label.duplicate_of]
        assert label.variations, "a duplicate must differ somehow"
        v = set(label.variations)
        seen.update(v)
        assert dup["account_id"] == orig["account_id"]
        assert dup["created_at"] >= orig["created_at"]
        if "nickname" in v:
            assert dup["first_name"] in vocab.NICKNAMES[orig["first_name"]]
        elif "typo_first_name" in v:
            assert _edit_distance(dup["first_name"], orig["first_name"]) == 1
        else:
            assert dup["first_name"] == orig["first_name"]
        if "typo_last_name" in v:
            assert _edit_distance(dup["last_name"], orig["last_name"]) == 1
        else:
            assert dup["last_name"] == orig["last_name"]
        email_kinds = v & {"email_case", "email_plus_tag", "email_gmail_dots", "email_domain_alias", "email_missing"}
        assert len(email_kinds) <= 1
        if "email_missing" in v:
            assert dup["email"] is None
        elif "email_case" in v:
            assert dup["email"] != orig["email"]
            assert dup["email"].lower() == orig["email"].lower()
        elif "email_plus_tag" in v:
            assert re.sub(r"\+[^@]+@", "@", dup["email"]) == orig["email"]
        elif "email_gmail_dots" in v:
            assert dup["email"].replace(".", "") == orig["email"].replace(".", "")
        elif "email_domain_alias" in v:
            assert dup["email"].split("@")[0] == orig["email"].split("@")[0]
            assert dup["email"] != orig["email"]
        else:
            assert dup["email"] == orig["email"]
        if "phone_format" in v:
            country = next(c for c in vocab.COUNTRIES if c.code == orig["country"])
            assert dup["phone"] != orig["phone"]
            assert dirty.to_e164(dup["phone"], country) == dirty.to_e164(orig["phone"], country)
        else:
            assert dup["phone"] == orig["phone"]
        assert ("company_name" in v) == (dup["company_name"] != orig["company_name"])
    for variation in ("nickname", "typo_first_name", "typo_last_name", "email_case", "email_plus_tag",
                      "email_domain_alias", "phone_format", "company_name"):  # fmt: skip
        assert seen[variation] > 5, variation


def test_missing_country_and_labels_json(data: Generated) -> None:
    contacts = {c["id"]: c for c in data.dicts("contacts")}
    labelled = {lb.contact_id for c in data.chunks for lb in c.labels if lb.kind == "missing_country"}
    assert labelled == {cid for cid, c in contacts.items() if c["country"] is None}
    label = next(lb for c in data.chunks for lb in c.labels if lb.kind == "duplicate")
    parsed = json.loads(label.to_json())
    assert parsed["kind"] == "duplicate"
    assert parsed["duplicate_of"] == label.duplicate_of
    assert parsed["variations"] == list(label.variations)
    assert set(json.loads(next(lb for c in data.chunks for lb in c.labels if lb.kind == "bad_email").to_json())) == {
        "contact_id", "kind", "email",
    }  # fmt: skip


def test_stage_names_are_the_lifecycle_ladder() -> None:
    assert set(STAGES) == set(DEFAULT_STAGES)


# --- helpers -------------------------------------------------------------------------------------


def test_timestamp_text_matches_datetime_formatting() -> None:
    rng = np.random.default_rng(0)
    values = rng.integers(to_us(datetime(1999, 12, 31, tzinfo=UTC)), to_us(datetime(2101, 3, 1, tzinfo=UTC)), 5_000)
    edges = [to_us(datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC)), to_us(datetime(2000, 1, 1, tzinfo=UTC))]
    values = np.concatenate([values, np.array(edges, dtype=np.int64)])
    expected = [
        (datetime(1970, 1, 1) + timedelta(microseconds=int(v))).strftime("%Y-%m-%d %H:%M:%S.%f") for v in values
    ]
    assert format_us_array(values) == expected
    assert [format_us(int(v)) for v in values[:100]] == expected[:100]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"contacts": 0}, "contacts"), ({"seed": -1}, "seed"), ({"events_per_contact": -1.0}, "events_per_contact"),
     ({"events_per_contact": float("nan")}, "events_per_contact")],
)  # fmt: skip
def test_arguments_are_validated(kwargs: dict[str, Any], message: str) -> None:
    engine = make_engine("sqlite://")
    try:
        with pytest.raises(ValidationFailed, match=message):
            generate_demo(engine, **kwargs)
    finally:
        engine.dispose()
