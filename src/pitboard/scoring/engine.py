"""Score contacts and explain scores.

* :func:`rescore_model`: every contact under one model (bulk SQL facts, vectorised scores, set-based write).
* :func:`rescore_contacts`: a few contacts under every active model (in-memory facts), what the
  ``contacts.changed`` listener runs after an event or an edit.
* :func:`explain`: a stored score with every criterion's points, the caps that cut and the decay, as of when.

Both scoring paths end in ``calc.compute`` and give the same numbers on the same data (a test holds them to
it on SQLite and PostgreSQL). When a contact's total rises from below a threshold to the threshold or more,
the lifecycle engine moves it to the threshold's stage, forward only, with the reason
"score <model> reached <X>" and the source "scoring".
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import orjson
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from pitboard.conditions import FieldRegistry, load_field_registry
from pitboard.kit.errors import NotFound, ValidationFailed
from pitboard.kit.time import ensure_utc, utcnow
from pitboard.lifecycle.definitions import current_spec
from pitboard.lifecycle.engine import Move, enter_stage
from pitboard.lifecycle.schemas import LifecycleSpec
from pitboard.logging import get_logger
from pitboard.models import ContactScore, ScoringModel
from pitboard.scoring import bulk, codec, incremental, store
from pitboard.scoring.calc import Renderer, Scores, compute
from pitboard.scoring.model import CompiledModel, compiled, compiled_version, load_active
from pitboard.scoring.reading import fetch_rows
from pitboard.scoring.schemas import POINTS_SCALE

log = get_logger(__name__)

Progress = Callable[[str, int, int], None]  # (phase, step, steps)
PHASES = ("reading contacts and events", "scoring", "writing scores", "thresholds")


@dataclass
class RescoreResult:
    model_key: str
    version: int
    scored: int = 0
    written: int = 0
    removed: int = 0
    moved: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    write_steps: dict[str, float] = field(default_factory=dict)
    replaced: bool = False  # every row was written anew (see store.write_bulk), not only the changed ones


def get_model(session: Session, key: str) -> ScoringModel:
    row = session.scalar(select(ScoringModel).where(ScoringModel.key == key))
    if row is None:
        raise NotFound(f"scoring model {key!r} does not exist")
    return row


def rescore_model(
    session: Session,
    key: str,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
    spec: LifecycleSpec | None = None,
) -> RescoreResult:
    """Score every contact under the model ``key`` and write the scores that changed; reads committed data
    (see reading.py), so commit what it should see first."""
    started = time.perf_counter()
    now = ensure_utc(now or utcnow())
    row = get_model(session, key)
    if not row.active:
        raise ValidationFailed(f"scoring model {key!r} is not active")
    model = compiled(row, load_field_registry(session))
    result = RescoreResult(model.key, model.version)
    clock = _Clock(result, progress)
    facts = bulk.gather(session, model, now=now)
    clock.done(PHASES[0])
    scores = compute(model, facts)
    clock.done(PHASES[1])
    written = store.write_bulk(session, scores, now=now)
    result.scored, result.written, result.removed = written.scored, written.written, written.removed
    result.write_steps = written.timings
    result.replaced = written.replaced
    clock.done(PHASES[2])
    moves = apply_thresholds(session, model, written.crossings, now=now, spec=spec)
    result.moved = len(moves)
    row.scored_at = now
    session.flush()
    clock.done(PHASES[3])
    result.seconds = time.perf_counter() - started
    log.info("scoring model rescored", model=key, version=model.version, scored=result.scored,
             written=result.written, removed=result.removed, moved=result.moved,
             seconds=round(result.seconds, 2))  # fmt: skip
    return result


class _Clock:
    def __init__(self, result: RescoreResult, progress: Progress | None) -> None:
        self.result, self.progress = result, progress
        self.last = time.perf_counter()
        self.step = 0

    def done(self, phase: str) -> None:
        now = time.perf_counter()
        self.result.phases[phase] = now - self.last
        self.last = now
        self.step += 1
        if self.progress is not None:
            self.progress(phase, self.step, len(PHASES))


def score_contacts(
    session: Session, contact_ids: Iterable[int], models: Sequence[CompiledModel], *, now: datetime
) -> dict[str, Scores]:
    """Scores of these contacts under ``models``, computed in memory; nothing is written."""
    gathered = incremental.gather(session, models, list(contact_ids), now=now)
    return {model.key: compute(model, gathered[model.key]) for model in models}


def rescore_contacts(
    session: Session,
    contact_ids: Iterable[int],
    *,
    now: datetime | None = None,
    keys: list[str] | None = None,
    registry: FieldRegistry | None = None,
    spec: LifecycleSpec | None = None,
) -> dict[str, store.Written]:
    """Rescore a few contacts under every active model (or ``keys``), write them and apply thresholds."""
    ids = sorted({int(i) for i in contact_ids})
    if not ids:
        return {}
    now = ensure_utc(now or utcnow())
    models = load_active(session, registry or load_field_registry(session), keys)
    if not models:
        return {}
    out: dict[str, store.Written] = {}
    for key, scores in score_contacts(session, ids, models, now=now).items():
        out[key] = store.write_few(session, scores, now=now)
    for model in models:
        apply_thresholds(session, model, out[model.key].crossings, now=now, spec=spec)
    return out


def apply_thresholds(
    session: Session,
    model: CompiledModel,
    crossings: Sequence[tuple[int, int, int]],
    *,
    now: datetime,
    spec: LifecycleSpec | None = None,
) -> list[Move]:
    """Move contacts whose total rose over a threshold (old < threshold <= new) to its stage; a contact that
    rose over several goes to the highest one's stage."""
    if not model.thresholds or not crossings:
        return []
    targets: dict[tuple[str, str], list[int]] = defaultdict(list)
    lifecycle = spec
    for contact_id, old, new in crossings:
        crossed = [t for t in model.thresholds if old < t.score <= new]
        if not crossed:
            continue
        if lifecycle is None:
            lifecycle = current_spec(session)
        threshold = crossed[-1]
        stage = threshold.stage or lifecycle.threshold_stage()
        if stage is None or lifecycle.stage(stage) is None:
            log.warning("threshold names no lifecycle stage", model=model.key, stage=stage)
            continue
        targets[(stage, threshold.label)].append(contact_id)
    moves: list[Move] = []
    for (stage, label), ids in sorted(targets.items()):
        assert lifecycle is not None
        moves += enter_stage(session, ids, stage, spec=lifecycle, now=now, source="scoring",
                             reason=f"score {model.key} reached {label}")  # fmt: skip
    return moves


# --- explanations --------------------------------------------------------------------------------

FIELDS = ("criterion", "group", "kind", "points", "raw", "capped_by", "count")


@dataclass(frozen=True)
class Explanation:
    contact_id: int
    model_key: str
    model_name: str
    model_version: int  # the version the stored score was computed with
    current_version: int
    fit: float
    engagement: float
    total: float
    entries: list[dict[str, Any]]  # FIELDS per criterion that gave points, then the caps that cut
    computed_at: datetime | None  # when the stored values last changed
    as_of: datetime | None  # when they were last confirmed (a full rescore that found them unchanged)
    decay: str
    caps: dict[str, float]
    thresholds: list[dict[str, Any]]
    # False when the entries could not be rendered: the row has no facts yet (the model's next full rescore
    # writes them) or its version's definition is gone.
    explained: bool = True

    @property
    def stale(self) -> bool:
        """Computed under an older definition; a rescore is queued whenever a definition changes."""
        return self.model_version != self.current_version

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["stale"] = self.stale
        for key in ("computed_at", "as_of"):
            value = data[key]
            data[key] = value.isoformat() if value is not None else None
        return data


def entries(explanation: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Stored explanation lists as dictionaries (``criterion``, ``group``, ``kind``, ``points``, ``raw``,
    ``capped_by``, ``count``)."""
    return [dict(zip(FIELDS, entry, strict=False)) for entry in explanation]


def describe_decay(model: CompiledModel) -> str:
    decay = model.decay
    if decay.kind == "half_life":
        return f"half-life {decay.days} days (an occurrence weighs half as much every {decay.days} days)"
    if decay.kind == "window":
        return f"window {decay.days} days (occurrences of the last {decay.days} days count in full)"
    return "none (every occurrence counts in full)"


def describe_caps(model: CompiledModel) -> dict[str, float]:
    caps = {f"group {g.name}": g.cap / POINTS_SCALE for g in model.groups if g.cap is not None}
    for label, cap in (("fit", model.fit_cap), ("engagement", model.engagement_cap), ("total", model.total_cap)):
        if cap is not None:
            caps[label] = cap / POINTS_SCALE
    return caps


def explain(session: Session, contact_id: int, model_key: str) -> Explanation:
    """The stored score of a contact under a model, criterion by criterion (0 points and no entries when the
    contact has no row: nothing under the model applies to it)."""
    row = get_model(session, model_key)
    registry = load_field_registry(session)
    model = compiled(row, registry)
    score = session.scalar(
        select(ContactScore).where(ContactScore.contact_id == contact_id, ContactScore.model_key == model_key)
    )
    confirmed = row.scored_at
    if score is None:
        return Explanation(contact_id, model.key, model.name, model.version, model.version, 0.0, 0.0, 0.0, [],
                           None, confirmed, describe_decay(model), describe_caps(model),
                           threshold_list(model))  # fmt: skip
    as_of = score.computed_at
    if confirmed is not None and score.model_version == model.version and confirmed > as_of:
        as_of = confirmed
    rendered = render_entries(session, score, row, registry)
    return Explanation(
        contact_id, model.key, model.name, score.model_version, model.version, score.fit, score.engagement,
        score.total, rendered or [], score.computed_at, as_of, describe_decay(model),
        describe_caps(model), threshold_list(model), explained=rendered is not None,
    )  # fmt: skip


def render_entries(
    session: Session, score: ContactScore, row: ScoringModel, registry: FieldRegistry | None = None
) -> list[dict[str, Any]] | None:
    """A stored score's explanation entries, rendered from its facts with the model version it was computed
    under; None when it cannot be (a row migrated without facts, or a version whose definition is gone)."""
    if score.facts is None:
        return None
    model = compiled_version(session, row, score.model_version, registry or load_field_registry(session))
    if model is None:
        return None
    try:
        scores = codec.decode(model, np.array([score.contact_id], dtype=np.int64), [score.facts])
    except codec.FactsError:
        log.warning("stored score facts do not decode", model=row.key, contact=score.contact_id)
        return None
    return entries(orjson.loads(Renderer(scores).text(0)))


def threshold_list(model: CompiledModel) -> list[dict[str, Any]]:
    return [{"score": t.score / POINTS_SCALE, "stage": t.stage} for t in model.thresholds]


def contact_explanations(session: Session, contact_id: int) -> list[Explanation]:
    """Every active model's explanation for a contact, by model key."""
    keys = session.scalars(select(ScoringModel.key).where(ScoringModel.active.is_(True)).order_by(ScoringModel.key))
    return [explain(session, contact_id, key) for key in keys]


# --- distributions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Distribution:
    edges: list[float]  # bin i holds totals in [edges[i], edges[i+1]); the last bin includes its upper edge
    counts: list[int]
    unscored: int  # contacts without a row: 0 points
    scored: int
    mean: float | None
    median: float | None


def distribution(session: Session, key: str, *, bins: int = 20) -> Distribution:
    """A histogram of the model's totals over the contacts with a row, plus how many have none."""
    from pitboard.models import Contact

    totals = np.asarray(
        session.scalars(select(ContactScore.total).where(ContactScore.model_key == key)).all(), dtype=np.float64
    )
    contacts = int(session.scalar(select(func.count()).select_from(Contact)) or 0)
    unscored = max(contacts - len(totals), 0)
    if not len(totals):
        return Distribution([], [], unscored, 0, None, None)
    low, high = float(totals.min()), float(totals.max())
    if low == high:
        high = low + 1
    counts, edges = np.histogram(totals, bins=bins, range=(low, high))
    return Distribution([round(float(e), 4) for e in edges], [int(c) for c in counts], unscored, len(totals),
                        float(totals.mean()), float(np.median(totals)))  # fmt: skip


def criterion_totals(session: Session, key: str) -> list[dict[str, Any]]:
    """Points given per criterion (and cut per cap) over every stored score of the model's current version,
    largest first: what the model page ranks as its top criteria. The stored facts are decoded and summed
    with NumPy (about a second per million rows); rows of an older version wait for their rescore."""
    row = get_model(session, key)
    model = compiled(row, load_field_registry(session))
    result = session.connection().execute(
        text("SELECT contact_id, facts FROM contact_scores WHERE model_key = :key AND model_version = :version "
             "AND facts IS NOT NULL"),
        {"key": key, "version": model.version},
    )  # fmt: skip
    raw = fetch_rows(result)
    if not raw:
        return []
    ids = np.fromiter((r[0] for r in raw), dtype=np.int64, count=len(raw))
    scores = codec.decode(model, ids, [bytes(r[1]) for r in raw])
    out: list[dict[str, Any]] = []

    def add(name: str, group: str | None, kind: str, points: Any, hit: Any) -> None:
        contacts = int(np.count_nonzero(hit))
        if contacts:
            out.append({"criterion": name, "group": group, "kind": kind,
                        "points": round(int(points[hit].sum()) / POINTS_SCALE, 4), "contacts": contacts})  # fmt: skip

    n_fit = len(model.fit)
    for j, criterion in enumerate(model.fit):
        add(criterion.name, model.groups[criterion.group].name, "fit", scores.points[:, j], scores.matched[:, j])
    for k, criterion in enumerate(model.engagement):
        add(criterion.name, model.groups[criterion.group].name, "engagement", scores.points[:, n_fit + k],
            scores.occurrences[:, k] > 0)  # fmt: skip
    for g, group in enumerate(model.groups):
        add(f"group {group.name}", group.name, "cap", -scores.group_cut[:, g], scores.group_cut[:, g] > 0)
    for label, cut in (("fit", scores.fit_cut), ("engagement", scores.engagement_cut), ("total", scores.total_cut)):
        add(label, None, "cap", -cut, cut > 0)
    return sorted(out, key=lambda item: (-abs(item["points"]), item["criterion"]))
