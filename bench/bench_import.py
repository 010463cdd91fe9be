"""CSV import throughput with data contracts on.

Writes a CSV of N contacts in HubSpot's export format (a few percent of rows deliberately bad),
applies a data contract, imports it with the HubSpot preset, and reports rows/s for a first load
(all new) and a re-import of the same file (all matched, unchanged).

    python -m bench.bench_import --rows 100000
    python -m bench.bench_import --rows 100000 --database-url postgresql://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from pitboard.imports.service import import_file
from pitboard.kit import migrate
from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import make_engine, session_scope
from pitboard.quality.contract_store import apply_contracts
from pitboard.quality.contracts import Contract

FIRST = ("Ann", "Bob", "Cyra", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea", "Mo", "Nia", "Oto")
LAST = ("Lee", "Ray", "Patel", "Okafor", "Schmidt", "Rossi", "Kim", "Silva", "Novak", "Haddad", "Berg", "Ito")
TITLES = ("CMO", "VP Marketing", "Marketing Ops Manager", "Demand Gen Lead", "CTO", "Head of Sales", "Analyst")
COUNTRIES = ("US", "DE", "GB", "FR", "NL", "SE", "CA", "AU", "IN", "BR")
STAGES = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "customer")
HEADER = ["Record ID", "First Name", "Last Name", "Email", "Job Title", "Company Name", "Country/Region", "City",
          "Lifecycle Stage", "Original Source", "Create Date", "Marketing contact status"]  # fmt: skip


def write_csv(path: Path, rows: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    bad = 0
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(rows):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            company = f"company{i // 8}"
            email = f"{first}.{last}{i}@{company}.com".lower()
            country = rng.choice(COUNTRIES)
            if rng.random() < 0.02:  # the contract rejects these
                country, bad = "", bad + 1
            elif rng.random() < 0.01:
                email, bad = f"{first}{i}@", bad + 1
            w.writerow([i + 1, first, last, email, rng.choice(TITLES), company.title(), country, "Springfield",
                        rng.choice(STAGES), "ORGANIC_SEARCH", f"2026-0{rng.randint(1, 9)}-1{rng.randint(0, 9)} 10:00",
                        "Marketing contact"])  # fmt: skip
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", help="PostgreSQL server URL (a fresh database is created); default SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'import.db'}"
        if args.database_url:
            base = args.database_url.rsplit("/", 1)[0]
            name = f"pb_bench_import_{uuid.uuid4().hex[:6]}"
            with psycopg.connect(base + "/postgres", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            url = f"{base}/{name}"
        engine = make_engine(url)
        migrate.upgrade(engine)
        fields = {
            "country": {"required": True, "format": "iso_country"},
            "email": {"required": True},
            "title": {"max_length": 100},
            "lifecycle_stage": {"allowed": ["subscriber", "lead", "mql", "sql", "customer"]},
        }
        contract = Contract.model_validate({"name": "crm-contacts", "entity": "contacts", "fields": fields})
        with session_scope(engine) as s:
            apply_contracts(s, [contract], actor=SYSTEM)
        path = Path(tmp) / "contacts.csv"
        bad = write_csv(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        t0 = time.perf_counter()
        first = import_file(engine, "contacts", path, actor=SYSTEM, preset="hubspot", chunk_size=1000)
        t1 = time.perf_counter()
        again = import_file(engine, "contacts", path, actor=SYSTEM, preset="hubspot", chunk_size=1000)
        t2 = time.perf_counter()
        engine.dispose()
        if args.database_url:
            with psycopg.connect(base + "/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert first.quarantined == bad, (first.quarantined, bad)
    assert first.created == args.rows - bad
    assert again.unchanged == args.rows - bad
    backend = "postgresql" if args.database_url else "sqlite"
    print(f"data: {args.rows:,} contact rows ({size_mb:.1f} MB CSV, HubSpot preset, 1 contract), {backend}")
    rate = args.rows / (t1 - t0)
    print(f"first load: {rate:,.0f} rows/s ({first.created:,} created, {first.quarantined:,} quarantined)")
    print(f"re-import:  {args.rows / (t2 - t1):,.0f} rows/s ({again.unchanged:,} unchanged)")


if __name__ == "__main__":
    main()
