from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pitboard.contacts.survivorship import Side, choose_values

OLD = datetime(2025, 1, 1, tzinfo=UTC)
NEW = datetime(2026, 6, 1, tzinfo=UTC)


def _side(created: datetime, updated: datetime, sources: dict[str, str] | None = None, **values: object) -> Side:
    return Side(dict(values), created, updated, {k: {"source": v} for k, v in (sources or {}).items()})


def test_each_rule_picks_its_winner() -> None:
    survivor = _side(OLD, OLD, {"country": "web"}, first_name="Kate", title="Analyst", lead_source="webinar",
                     country="DE", lifecycle_stage="mql", phone=None, email="k@acme.io")  # fmt: skip
    merged = _side(NEW, NEW, {"country": "enrichment:file"}, first_name="Katherine", title="Director",
                   lead_source="paid_search", country="AT", lifecycle_stage="lead", phone="+4930123",
                   email="kate@acme.io")  # fmt: skip
    chosen = choose_values(survivor, merged)
    assert chosen == {
        "first_name": ("Katherine", "most_complete"),
        "title": ("Director", "most_recent"),
        "phone": ("+4930123", "most_recent"),
    }
    # Not changed: lead_source (oldest = survivor), country (web outranks enrichment),
    # lifecycle_stage (mql is further than lead), email (keep_survivor).


def test_empty_values_never_win_and_custom_rules_apply() -> None:
    survivor = _side(NEW, NEW, first_name="", country=None)
    merged = _side(OLD, OLD, first_name="Bo", country="SE")
    assert choose_values(survivor, merged) == {
        "first_name": ("Bo", "most_complete"),
        "country": ("SE", "source_priority"),
    }
    assert choose_values(_side(OLD, OLD, title="A"), _side(NEW, NEW, title=""), {"title": "most_recent"}) == {}
    with pytest.raises(ValueError, match="unknown survivorship rule"):
        choose_values(survivor, merged, {"title": "loudest"})
