"""REST routes for scoring models, contact scores and lifecycle stages (under /api/v1)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import func, select

from pitboard.api.deps import ActorDep, SessionDep
from pitboard.conditions import condition_to_data, load_field_registry
from pitboard.contacts.service import get_contact
from pitboard.kit.errors import ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.lifecycle.definitions import current_spec
from pitboard.lifecycle.engine import counts_by_stage, funnel
from pitboard.models import ContactScore, ScoringModel
from pitboard.scoring import engine
from pitboard.scoring.definitions import RESCORE_MODEL
from pitboard.scoring.model import compiled
from pitboard.worker.queue import enqueue

router = APIRouter()


class ModelOut(BaseModel):
    key: str
    name: str
    description: str | None
    version: int
    active: bool
    scored_at: datetime | None
    contacts_scored: int
    thresholds: list[dict[str, Any]]
    decay: str
    caps: dict[str, float]


class HistogramBin(BaseModel):
    low: float
    high: float
    contacts: int


class DistributionOut(BaseModel):
    bins: list[HistogramBin]
    unscored: int
    scored: int
    mean: float | None
    median: float | None


class ModelDetailOut(ModelOut):
    definition: dict[str, Any]
    distribution: DistributionOut
    top_criteria: list[dict[str, Any]]


class ScoreOut(BaseModel):
    model_key: str
    model_name: str
    model_version: int
    current_version: int
    stale: bool
    fit: float
    engagement: float
    total: float
    entries: list[dict[str, Any]]
    # False while the criteria behind the score are not stored (a row from before migration 0011, until its
    # model's next full rescore): entries is then empty although the total is not 0.
    explained: bool = True
    computed_at: datetime | None
    as_of: datetime | None


class RescoreOut(BaseModel):
    job_id: int
    model_key: str
    version: int


class StageOut(BaseModel):
    name: str
    label: str
    description: str | None
    on_ladder: bool
    position: int | None
    resume: bool
    entry: dict[str, Any] | None
    contacts: int


class LifecycleOut(BaseModel):
    stages: list[StageOut]
    recycle: list[dict[str, Any]]
    forward_only: bool
    score_threshold_stage: str | None


class FunnelStageOut(BaseModel):
    name: str
    label: str
    on_ladder: bool
    entered: int
    reached: int | None
    conversion_to_next: float | None
    median_days_to_next: float | None
    timed_to_next: int


class FunnelOut(BaseModel):
    since: datetime
    until: datetime
    stages: list[FunnelStageOut]


def _model_out(session: SessionDep, row: ScoringModel, counts: dict[str, int]) -> ModelOut:
    model = compiled(row, load_field_registry(session))
    return ModelOut(
        key=row.key, name=row.name, description=row.description, version=row.version, active=row.active,
        scored_at=row.scored_at, contacts_scored=counts.get(row.key, 0), thresholds=engine.threshold_list(model),
        decay=engine.describe_decay(model), caps=engine.describe_caps(model),
    )  # fmt: skip


def _counts(session: SessionDep) -> dict[str, int]:
    rows = session.execute(select(ContactScore.model_key, func.count()).group_by(ContactScore.model_key))
    return {str(key): int(n) for key, n in rows}


@router.get("/scoring/models", response_model=list[ModelOut], tags=["scoring"])
def list_models(session: SessionDep, actor: ActorDep, include_inactive: bool = False) -> list[ModelOut]:
    actor.require("viewer")
    stmt = select(ScoringModel).order_by(ScoringModel.key)
    if not include_inactive:
        stmt = stmt.where(ScoringModel.active.is_(True))
    counts = _counts(session)
    return [_model_out(session, row, counts) for row in session.scalars(stmt)]


@router.get("/scoring/models/{key}", response_model=ModelDetailOut, tags=["scoring"])
def get_model(
    key: str, session: SessionDep, actor: ActorDep, bins: int = Query(default=20, ge=1, le=200)
) -> ModelDetailOut:
    """The model with its definition, a histogram of its totals and the criteria that gave the most points."""
    actor.require("viewer")
    row = engine.get_model(session, key)
    found = engine.distribution(session, key, bins=bins)
    histogram = [HistogramBin(low=found.edges[i], high=found.edges[i + 1], contacts=c)
                 for i, c in enumerate(found.counts)]  # fmt: skip
    base = _model_out(session, row, {key: found.scored})
    return ModelDetailOut(
        **base.model_dump(), definition=row.definition,
        distribution=DistributionOut(bins=histogram, unscored=found.unscored, scored=found.scored, mean=found.mean,
                                     median=found.median),
        top_criteria=engine.criterion_totals(session, key),
    )  # fmt: skip


@router.get("/contacts/{contact_id}/scores", response_model=list[ScoreOut], tags=["scoring"])
def contact_scores(contact_id: int, session: SessionDep, actor: ActorDep) -> list[ScoreOut]:
    """Every active model's score of the contact, each criterion with its points (entries), as of when."""
    actor.require("viewer")
    get_contact(session, contact_id)
    out = []
    for item in engine.contact_explanations(session, contact_id):
        data = item.to_dict()
        out.append(ScoreOut(**{k: v for k, v in data.items() if k in ScoreOut.model_fields}))
    return out


@router.post("/scoring/models/{key}/rescore", response_model=RescoreOut, status_code=202, tags=["scoring"])
def rescore(key: str, session: SessionDep, actor: ActorDep) -> RescoreOut:
    """Queue a full rescore of the model (the worker runs it); answers at once with the job."""
    actor.require("editor")
    row = engine.get_model(session, key)
    if not row.active:
        raise ValidationFailed(f"scoring model {key!r} is not active")
    from pitboard.scoring import tasks  # noqa: F401  (registers the task)

    job = enqueue(session, RESCORE_MODEL, {"key": key, "version": row.version})
    session.flush()
    return RescoreOut(job_id=job.id, model_key=key, version=row.version)


@router.get("/lifecycle/stages", response_model=LifecycleOut, tags=["lifecycle"])
def lifecycle_stages(session: SessionDep, actor: ActorDep) -> LifecycleOut:
    """The applied lifecycle definition: the ladder, the stages off it, the rules, and contacts per stage."""
    actor.require("viewer")
    spec = current_spec(session)
    counts = counts_by_stage(session)
    stages = [
        StageOut(name=s.name, label=s.label, description=s.description, on_ladder=spec.rank(s.name) is not None,
                 position=spec.rank(s.name), resume=s.resume,
                 entry=condition_to_data(s.entry) if s.entry is not None else None, contacts=counts.get(s.name, 0))
        for s in (*spec.stages, *spec.off_ladder)
    ]  # fmt: skip
    return LifecycleOut(
        stages=stages, recycle=[r.model_dump(mode="json", by_alias=True) for r in spec.recycle],
        forward_only=spec.forward_only, score_threshold_stage=spec.threshold_stage(),
    )  # fmt: skip


@router.get("/lifecycle/funnel", response_model=FunnelOut, tags=["lifecycle"])
def lifecycle_funnel(
    session: SessionDep,
    actor: ActorDep,
    since: date | None = Query(default=None, description="First day (default: 90 days ago)"),
    until: date | None = Query(default=None, description="Last day, included (default: today)"),
) -> FunnelOut:
    """Stage entries in the period: entered and reached per stage, conversion and median days to the next."""
    actor.require("viewer")
    last = until or utcnow().date()
    first = since or last - timedelta(days=90)
    if first > last:
        raise ValidationFailed("since is after until")
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    result = funnel(session, start, end)
    return FunnelOut(since=result.since, until=result.until,
                     stages=[FunnelStageOut(**s.__dict__) for s in result.stages])  # fmt: skip
