"""Lead scores in data-subject exports: every model's score of the person with its explanation.

Scores are derived data and belong to the person (GDPR Art. 15 covers profiling and its logic), so the export
names each criterion that gave points (rendered from the facts stored with the score). Erasure needs no step
here: ``contact_scores`` rows cascade with the contact (on PostgreSQL each model's partition has the foreign
key too).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.conditions import load_field_registry
from pitboard.models import ContactScore, ScoringModel
from pitboard.privacy.export import jsonable, register_section
from pitboard.scoring.engine import render_entries

SECTION = "scores"


def export_scores(session: Session, contact_id: int) -> list[dict[str, Any]]:
    stmt = (
        select(ContactScore, ScoringModel)
        .outerjoin(ScoringModel, ScoringModel.key == ContactScore.model_key)
        .where(ContactScore.contact_id == contact_id)
        .order_by(ContactScore.model_key)
    )
    registry = load_field_registry(session)
    out = []
    for score, model in session.execute(stmt):
        # Rendered from the stored facts; null when they are not stored yet (see engine.render_entries).
        explanation = render_entries(session, score, model, registry) if model is not None else None
        out.append(
            jsonable(
                {
                    "model": score.model_key,
                    "model_name": model.name if model is not None else None,
                    "model_version": score.model_version,
                    "fit": score.fit,
                    "engagement": score.engagement,
                    "total": score.total,
                    "computed_at": score.computed_at,
                    "explanation": explanation,
                }
            )
        )
    return out


register_section(SECTION, export_scores)
