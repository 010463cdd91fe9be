"""Normalisation throughput: contact records through ``normalize_contact_fields``.

Generates N realistic contact records (default 200,000) from small pools with dirty variants (ALL
CAPS names, country aliases, abbreviated titles, phone numbers in national, "+", "00" and extension
forms, messy company names, a few invalid values), then normalises them all and reports records/s,
the data size, how often the caches hit, and the machine's load average while it ran.

    python -m bench.bench_normalize
    python -m bench.bench_normalize --records 50000 --seed 3 --json -
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from collections.abc import Callable, Iterable
from typing import Any

from pitboard.quality.normalize import companies, countries, domains, emails, names, phones, titles
from pitboard.quality.normalize._text import strip_accents
from pitboard.quality.normalize.record import NormalizedFields, normalize_contact_fields

FIRST = ("Ann", "Bob", "Robert", "Kathy", "Katherine", "Jim", "Mike", "Dave", "Liz", "Tom", "Chris", "Alex", "Sam",
         "Dan", "Jen", "Matt", "Nick", "Steve", "Tony", "Pat", "Ben", "Joe", "Anne-Marie", "Zoë", "Jürgen", "François",
         "Priya", "Wei", "Hiroshi", "Fatima", "Olu", "Sven", "Ingrid", "Carlos", "María", "Ahmed")  # fmt: skip
LAST = ("Lee", "Smith", "Patel", "O'Neil", "McDonald", "MacLeod", "van der Berg", "de la Cruz", "Schmidt",
        "Müller", "Rossi", "Kim", "Silva", "Novak", "Haddad", "Berg", "Ito", "Nguyen", "García", "Dubois",
        "Johansson", "Okafor", "Kowalski", "Smith-Jones", "von Trapp", "Chen", "Singh", "Brown", "Wilson")  # fmt: skip
TITLES = ("CMO", "VP Marketing", "VP, Sales", "SVP Sales", "Marketing Ops Manager", "Mgr, Mktg Ops", "Sr. Dir. Sales",
          "Head of Demand Gen", "Demand Gen Lead", "CTO", "Chief Revenue Officer", "Software Engineer",
          "Sr. Software Engineer", "Staff Engineer", "Data Scientist", "Product Manager", "Product Marketing Manager",
          "Account Executive", "SDR", "Customer Success Manager", "HR Business Partner", "Recruiter", "Controller",
          "CFO", "Founder & CEO", "Owner", "Office Manager", "IT Support Specialist", "General Counsel",
          "UX Designer", "Marketing Intern", "Geschäftsführer", "Leiter Marketing", "Vertriebsleiterin",
          "Responsable Marketing", "Directeur Commercial", "Analyst", "Consultant", "Director of Engineering",
          "VP of Product", "Head of People", "Business Analyst", "Growth Marketer", "Content Strategist")  # fmt: skip
COMPANY_STEMS = ("Acme", "Globex", "Initech", "Umbrella", "Stark Industries", "Wayne Enterprises", "Hooli", "Vandelay",
                 "Soylent", "Tyrell", "Cyberdyne", "Wonka", "Gringotts", "Oscorp", "Aperture", "Black Mesa", "Nakatomi",
                 "Massive Dynamic", "Pied Piper", "Dunder Mifflin", "Sterling Cooper", "Bluth", "Prestige Worldwide",
                 "Monarch", "Weyland", "Virtucon", "Krusty", "Duff", "Los Pollos", "Gekko")  # fmt: skip
LEGAL = ("", " Inc.", " Inc", ", Inc.", " LLC", " Ltd", " Limited", " GmbH", " AG", " S.A.", " SAS", " B.V.",
         " Pty Ltd", " plc", " Corp.", " Corporation", " Group", " Holdings")  # fmt: skip
FREE_MAIL = ("gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "outlook.com", "hotmail.de", "icloud.com",
             "gmx.de", "web.de", "orange.fr", "proton.me", "qq.com")  # fmt: skip
ROLES = ("info", "sales", "support", "no-reply", "marketing", "hello")
TLDS = {"US": ".com", "CA": ".ca", "GB": ".co.uk", "DE": ".de", "FR": ".fr", "IN": ".in", "AU": ".com.au", "NL": ".nl"}
# How people write each country: code, alpha-3, English name, local name, aliases, sloppy case.
COUNTRY_SPELLINGS = {
    "US": ("US", "USA", "United States", "United States of America", "U.S.", "usa", "America", " us "),
    "CA": ("CA", "Canada", "CAN", "canada"),
    "GB": ("GB", "UK", "United Kingdom", "Great Britain", "England", "u.k."),
    "DE": ("DE", "Germany", "Deutschland", "DEU", "germany", "GER"),
    "FR": ("FR", "France", "FRA", "france"),
    "IN": ("IN", "India", "IND"),
    "AU": ("AU", "Australia", "AUS"),
    "NL": ("NL", "Netherlands", "The Netherlands", "Holland", "Nederland"),
}
COUNTRY_WEIGHTS = {"US": 40, "CA": 5, "GB": 12, "DE": 12, "FR": 8, "IN": 8, "AU": 5, "NL": 5}
REGIONS = {
    "US": ("California", "CA", "Calif.", "New York", "NY", "N.Y.", "Texas", "TX", "Massachusetts", "Mass.", "WA"),
    "CA": ("Ontario", "ON", "Quebec", "Québec", "BC", "British Columbia"),
    "AU": ("NSW", "New South Wales", "Victoria", "VIC", "Qld"),
    "DE": ("Bayern", "Bavaria", "BY", "Berlin", "NRW", "Nordrhein-Westfalen", "Hessen"),
}
CITIES = ("San Francisco", "  New  York ", "Berlin", "München", "London", "Paris", "Mumbai", "Sydney", "Toronto",
          "Amsterdam", "Austin", "Boston")  # fmt: skip


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _phone(rng: random.Random, country: str) -> str:
    """A phone number of ``country`` written the way people do: national, +CC, 00CC, with an extension."""
    national, cc = _national(rng, country)
    style = rng.random()
    if style < 0.45:
        text = national
    elif style < 0.8:
        text = f"+{cc} {national.lstrip('0')}" if country not in ("US", "CA") else f"+1 {national}"
    elif style < 0.9:
        text = f"00{cc} {national.lstrip('0')}" if country not in ("US", "CA") else f"+1-{national}"
    else:
        text = f"{national} x{rng.randint(10, 999)}"
    return text


def _national(rng: random.Random, country: str) -> tuple[str, str]:
    if country in ("US", "CA"):
        area = rng.choice(("212", "415", "312", "617", "206", "512", "303", "404") if country == "US" else
                          ("416", "604", "514", "613"))  # fmt: skip
        return f"({area}) {rng.randint(200, 999)}-{_digits(rng, 4)}", "1"
    if country == "DE":
        return rng.choice((f"030 {rng.randint(2, 9)}{_digits(rng, 6)}", f"0151 {_digits(rng, 8)}",
                           f"089 {rng.randint(2, 9)}{_digits(rng, 6)}")), "49"  # fmt: skip
    if country == "GB":
        mobile = f"07{rng.choice('789')}{_digits(rng, 2)} {_digits(rng, 6)}"
        return rng.choice((f"020 7{_digits(rng, 3)} {_digits(rng, 4)}", mobile)), "44"
    if country == "FR":
        return f"0{rng.choice('123456')} {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)}", "33"
    if country == "IN":
        return f"0{rng.choice('6789')}{_digits(rng, 4)} {_digits(rng, 5)}", "91"
    if country == "AU":
        return f"04{rng.choice('0123')}{_digits(rng, 1)} {_digits(rng, 3)} {_digits(rng, 3)}", "61"
    return f"06 {rng.choice('12345')}{_digits(rng, 7)}", "31"  # NL mobile


def _dirty_name(rng: random.Random, name: str) -> str:
    roll = rng.random()
    if roll < 0.08:
        return name.upper()
    if roll < 0.14:
        return name.lower()
    if roll < 0.18:
        return f"  {name} "
    return name


def _email(rng: random.Random, i: int, first: str, last: str, company: str, country: str) -> str:
    # Mailboxes are ASCII in practice: "Jürgen Müller" is jurgen.muller@ (a few keep the accents).
    local = f"{first}.{last}".replace(" ", "").replace("'", "").lower()
    if rng.random() > 0.005:
        local = strip_accents(local)
    roll = rng.random()
    if roll < 0.01:
        return f"{local}{i}@"  # invalid
    if roll < 0.04:
        return f"{rng.choice(ROLES)}@{company}{TLDS[country]}"
    if roll < 0.24:
        tag = "+news" if rng.random() < 0.1 else ""
        return f"{local}{i}{tag}@{rng.choice(FREE_MAIL)}"
    address = f"{local}{i}@{company}{TLDS[country]}"
    return address.upper() if rng.random() < 0.03 else address


def make_records(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    codes = list(COUNTRY_WEIGHTS)
    weights = list(COUNTRY_WEIGHTS.values())
    records: list[dict[str, Any]] = []
    for i in range(count):
        country = rng.choices(codes, weights)[0]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        stem = rng.choice(COMPANY_STEMS)
        company_slug = stem.lower().replace(" ", "")
        company = stem + rng.choice(LEGAL)
        record: dict[str, Any] = {
            "email": _email(rng, i, first, last, company_slug, country),
            "first_name": _dirty_name(rng, first),
            "last_name": _dirty_name(rng, last),
            "title": rng.choice(TITLES),
            "company_name": company.upper() if rng.random() < 0.1 else company,
            "country": rng.choice(COUNTRY_SPELLINGS[country]) if rng.random() < 0.95 else "",
            "city": rng.choice(CITIES),
        }
        if rng.random() < 0.7:
            record["phone"] = _phone(rng, country) if rng.random() < 0.98 else rng.choice(("n/a", "123", "+1 555"))
        if country in REGIONS and rng.random() < 0.6:
            record["state"] = rng.choice(REGIONS[country])
        if rng.random() < 0.05:  # full name typed into the first-name field
            record["first_name"], record["last_name"] = f"{first} {last}", ""
        records.append(record)
    return records


def _size(records: Iterable[dict[str, Any]]) -> int:
    return sum(len(json.dumps(record, ensure_ascii=False).encode()) for record in records)


def _clear_caches() -> None:
    for cached in _CACHED:
        cached.cache_clear()


_CACHED: tuple[Any, ...] = (
    countries.normalize_country, countries.normalize_region, phones.normalize_phone, domains.normalize_domain,
    emails.is_free_mail_domain, names.fix_name_case, names.nickname_key, titles.classify_title,
    companies.normalize_company_name, companies.company_match_key,
)  # fmt: skip


def _time(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _component(label: str, cached: Any, values: list[str]) -> dict[str, Any]:
    """One function over the dataset's values, through its cache and straight (``__wrapped__``)."""
    cached.cache_clear()
    with_cache = _time(lambda: [cached(v) for v in values])
    raw = cached.__wrapped__
    without = _time(lambda: [raw(v) for v in values])
    return {"function": label, "calls": len(values), "distinct": len(set(values)),
            "cached_us": with_cache / len(values) * 1e6, "uncached_us": without / len(values) * 1e6}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON (- for stdout)")
    args = parser.parse_args()

    records = make_records(args.records, args.seed)
    size = _size(records)
    _clear_caches()
    load_before = os.getloadavg()
    started = time.perf_counter()
    results: list[NormalizedFields] = [normalize_contact_fields(record) for record in records]
    seconds = time.perf_counter() - started
    load_after = os.getloadavg()
    hits = {fn.__name__: f"{fn.cache_info().hits / max(1, fn.cache_info().hits + fn.cache_info().misses):.0%}"
            for fn in _CACHED}  # fmt: skip
    # A re-import of what was just loaded: the last quarter's phone numbers are still in their cache.
    warm = _time(lambda: [normalize_contact_fields(record) for record in records[-(args.records // 4) :]])

    problems = sum(bool(r.problems) for r in results)
    changed = sum(len(r.originals) for r in results)
    components = [
        _component("normalize_country", countries.normalize_country, [str(r.get("country", "")) for r in records]),
        _component("classify_title", titles.classify_title, [str(r["title"]) for r in records]),
        _component("normalize_company_name", companies.normalize_company_name, [r["company_name"] for r in records]),
        _component("company_match_key", companies.company_match_key, [r["company_name"] for r in records]),
        _component("fix_name_case", names.fix_name_case, [r["first_name"].strip() for r in records]),
    ]
    report = {
        "records": args.records,
        "data_bytes": size,
        "seconds": seconds,
        "records_per_second": args.records / seconds,
        "warm_records_per_second": (args.records // 4) / warm,
        "records_with_problems": problems,
        "fields_changed": changed,
        "cache_hit_rate": hits,
        "components_us_per_call": components,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "machine": f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs",
    }
    _print(report)
    if args.json == "-":
        print(json.dumps(report, indent=2))
    elif args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)


def _print(report: dict[str, Any]) -> None:
    print(f"normalize_contact_fields: {report['records']:,} records, {report['data_bytes'] / 1e6:.1f} MB as JSON")
    print(f"machine: {report['machine']}")
    print(f"load average (1/5/15 min) before: {'/'.join(f'{x:.2f}' for x in report['load_average_before'])}, "
          f"after: {'/'.join(f'{x:.2f}' for x in report['load_average_after'])}")  # fmt: skip
    print(f"cold caches: {report['records_per_second']:,.0f} records/s ({report['seconds']:.2f} s)")
    print(f"warm caches: {report['warm_records_per_second']:,.0f} records/s (last quarter again, as a re-import)")
    print(f"records with a problem: {report['records_with_problems']:,}; fields changed: {report['fields_changed']:,}")
    print("cache hit rates: " + ", ".join(f"{k} {v}" for k, v in report["cache_hit_rate"].items()))
    print(f"{'function':24} {'calls':>9} {'distinct':>9} {'cached µs':>10} {'uncached µs':>12}")
    for c in report["components_us_per_call"]:
        timing = f"{c['cached_us']:>10.2f} {c['uncached_us']:>12.2f}"
        print(f"{c['function']:24} {c['calls']:>9,} {c['distinct']:>9,} {timing}")


if __name__ == "__main__":
    main()
