"""The demo's lead score: applied as a project version, every contact with something to score scored and
explained, and no rescore left queued for a worker that the demo does not start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select

from pitboard.demo.scoring import MODEL_KEY, generate_scoring
from pitboard.kit.db import session_scope
from pitboard.models import ContactScore, Job, ProjectVersion, ScoringModel
from pitboard.scoring import engine as scoring
from pitboard.scoring.definitions import RESCORE_MODEL
from tests.integration.test_scoring_engine import add_contact, add_event

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_the_demo_scores_its_contacts_with_explanations(engine: Engine) -> None:
    with session_scope(engine) as s:
        assert generate_scoring(engine, now=NOW) == {}  # no contacts yet: nothing to do
        vp = add_contact(s, seniority="vp", country="US")
        add_event(s, vp, "demo_requested", NOW - timedelta(days=30))  # one half-life ago: 15 points
        add_contact(s)  # nothing applies: no row
    assert generate_scoring(engine, now=NOW) == {"contact_scores": 1}
    with session_scope(engine) as s:
        model = s.scalar(select(ScoringModel).where(ScoringModel.key == MODEL_KEY))
        assert model is not None
        assert model.scored_at == NOW
        version = s.scalar(select(ProjectVersion).order_by(ProjectVersion.version.desc()).limit(1))
        assert version is not None
        assert "scoring.yml" in version.manifest
        assert s.scalar(select(func.count()).select_from(Job).where(Job.task == RESCORE_MODEL,
                                                                    Job.status == "queued")) == 0  # fmt: skip
        explanation = scoring.explain(s, vp, MODEL_KEY)
        assert (explanation.fit, explanation.engagement, explanation.total) == (20.0, 15.0, 35.0)
        assert [e["criterion"] for e in explanation.entries] == ["Decision maker", "Target country", "Demo requested"]
        assert s.scalar(select(func.count()).select_from(ContactScore)) == 1
