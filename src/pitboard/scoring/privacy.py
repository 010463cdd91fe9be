"""Lead scores in data-subject exports: every model's score of the person with its explanation.

Scores are derived data and belong to the person (GDPR Art. 15 covers profiling and its logic), so the export
names each criterion that gave points. Erasure needs no step here: ``contact_scores`` rows cascade with the
contact.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.models import ContactScore, ScoringModel
from pitboard.privacy.export import jsonable, register_section
from pitboard.scoring.engine import entries

SECTION = "scores"


def export_scores(session: Session, contact_id: int) -> list[dict[str, Any]]:
    stmt = (
        select(ContactScore, ScoringModel.name)
        .outerjoin(ScoringModel, ScoringModel.key == ContactScore.model_key)
        .where(ContactScore.contact_id == contact_id)
        .order_by(ContactScore.model_key)
    )
    out = []
    for score, name in session.execute(stmt):
        out.append(
            jsonable(
                {
                    "model": score.model_key,
                    "model_name": name,
                    "model_version": score.model_version,
                    "fit": score.fit,
                    "engagement": score.engagement,
                    "total": score.total,
                    "computed_at": score.computed_at,
                    "explanation": entries(score.explanation),
                }
            )
        )
    return out


register_section(SECTION, export_scores)
