"""Generate a small demo into a temporary SQLite database, deduplicate it and measure against the labels.

Floors measured on seeds 42 and 7 (3,000 contacts; see docs/dedupe.md), with a margin: auto-merge
precision 1.000 and F1 ≥ 0.99 measured.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from pitboard.demo import generate_demo
from pitboard.kit.db import make_engine
from pitboard.kit.migrate import upgrade
from pitboard.quality.dedupe import dedupe_accounts, dedupe_contacts, evaluate, load_accounts, load_contacts

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
CONTACTS = 3_000


@pytest.fixture(scope="module", params=[42, 7])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Path]]:
    folder = tmp_path_factory.mktemp(f"dedupe-{request.param}")
    engine = make_engine(f"sqlite:///{folder / 'demo.db'}")
    try:
        upgrade(engine)
        truth = folder / "ground_truth.jsonl"
        generate_demo(engine, contacts=CONTACTS, seed=request.param, events_per_contact=0, ground_truth_path=truth,
                      now=NOW)  # fmt: skip
        yield engine, truth
    finally:
        engine.dispose()


def test_contact_dedupe_meets_the_measured_floors(demo: tuple[Engine, Path]) -> None:
    engine, truth = demo
    with Session(engine) as session:
        records = load_contacts(session, batch=700)  # several chunks
    assert len(records) == CONTACTS
    result = dedupe_contacts(records)
    universe = set(records.ids.tolist())
    auto = evaluate(result.auto_clusters, truth, universe=universe)
    both = evaluate(result.review_clusters, truth, universe=universe)
    assert auto.true_links > 80
    assert auto.precision >= 0.99, auto
    assert auto.f1 >= 0.97, auto
    assert both.recall >= 0.98, both
    assert both.f1 >= 0.93, both
    for pair in result.pairs:
        assert pair.left_id < pair.right_id
        assert pair.band == "auto_merge" or pair.probability >= 0.5 or pair.rule is not None
        assert len(pair.explanation) == 1 + len(result.model.fields)


def test_account_dedupe_runs_on_the_demo(demo: tuple[Engine, Path]) -> None:
    engine, _ = demo
    with Session(engine) as session:
        rows = load_accounts(session)
    pairs, clusters = dedupe_accounts(rows)
    # Demo accounts have unique domains: nothing may be merged automatically on the domain rule.
    assert not [p for p in pairs if p.explanation[0].startswith("domain: same registered")]
    assert all(len(c) >= 2 for c in clusters)
