"""A scoring model ready to score: criteria numbered, points in whole units, groups and caps resolved, and
the decay as a table of weights per age in days.

Both interpreters (bulk SQL and in-memory) read the same compiled model and hand the same kind of facts to
``calc.compute``, so they agree by construction on everything after the facts.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from pitboard.conditions import AnyCondition, Condition, FieldRegistry, PropertyFilter
from pitboard.kit.time import ensure_utc
from pitboard.lifecycle.definitions import registry_key
from pitboard.lifecycle.schemas import SpecInvalid
from pitboard.models import ScoringModel, ScoringModelVersion
from pitboard.scoring.schemas import POINTS_SCALE, ScoringModelSpec, to_units, validate_model

Kind = Literal["fit", "engagement"]
Ints = npt.NDArray[np.int64]
WEIGHT_SCALE = 1_000_000  # decay weights are whole millionths of an occurrence


@dataclass(frozen=True)
class Criterion:
    index: int  # position among all criteria: fit first, then engagement, each in definition order
    name: str
    kind: Kind
    group: int  # index into CompiledModel.groups
    points: int  # units (1/10,000 point); per occurrence for engagement
    condition: Condition | None = None  # fit
    event: str | None = None  # engagement
    where: tuple[PropertyFilter, ...] = ()
    max_occurrences: int | None = None


@dataclass(frozen=True)
class Group:
    name: str
    kind: Kind
    cap: int | None  # units


@dataclass(frozen=True)
class Decay:
    """Weight of an occurrence by its age in whole UTC days (0 = today), in millionths.

    ``half_life``: round(1e6 x 0.5^(age / days)), which reaches 0 after about 21 half-lives: older events
    weigh nothing and are not read. ``window``: full weight for ages below ``days``. ``none``: full weight.
    """

    kind: Literal["none", "window", "half_life"]
    days: int
    table: tuple[int, ...]  # weight per age; empty for "none"

    @classmethod
    def build(cls, half_life_days: int | None, window_days: int | None) -> Decay:
        if half_life_days is not None:
            weights = []
            age = 0
            while True:
                weight = math.floor(WEIGHT_SCALE * 0.5 ** (age / half_life_days) + 0.5)
                if weight == 0:
                    break
                weights.append(weight)
                age += 1
            return cls("half_life", half_life_days, tuple(weights))
        if window_days is not None:
            return cls("window", window_days, (WEIGHT_SCALE,) * window_days)
        return cls("none", 0, ())

    @property
    def horizon_days(self) -> int | None:
        """Ages 0 .. horizon - 1 weigh something; None: every age does."""
        return None if self.kind == "none" else len(self.table)

    def since(self, now: datetime) -> datetime | None:
        """The first instant whose events weigh anything at ``now`` (midnight UTC of the oldest such day)."""
        horizon = self.horizon_days
        if horizon is None:
            return None
        first = ensure_utc(now).date() - timedelta(days=horizon - 1)
        return datetime(first.year, first.month, first.day, tzinfo=UTC)

    def weight(self, age: int) -> int:
        if self.kind == "none":
            return WEIGHT_SCALE if age >= 0 else 0
        return self.table[age] if 0 <= age < len(self.table) else 0

    def weights(self, ages: Ints) -> Ints:
        if self.kind == "none":
            return np.where(ages >= 0, WEIGHT_SCALE, 0).astype(np.int64)
        table = np.asarray(self.table, dtype=np.int64)
        inside = (ages >= 0) & (ages < len(table))
        return np.where(inside, table[np.clip(ages, 0, max(len(table) - 1, 0))], 0).astype(np.int64)


def age_days(today: date, occurred_at: datetime) -> int:
    return (today - ensure_utc(occurred_at).date()).days


@dataclass(frozen=True)
class Threshold:
    score: int  # units
    stage: str | None
    label: str  # the score as written ("60")


@dataclass(frozen=True)
class CompiledModel:
    key: str
    name: str
    version: int
    checksum: str
    spec: ScoringModelSpec
    criteria: tuple[Criterion, ...]
    groups: tuple[Group, ...]
    fit_cap: int | None
    engagement_cap: int | None
    total_cap: int | None
    decay: Decay
    thresholds: tuple[Threshold, ...]

    @property
    def fit(self) -> tuple[Criterion, ...]:
        return tuple(c for c in self.criteria if c.kind == "fit")

    @property
    def engagement(self) -> tuple[Criterion, ...]:
        return tuple(c for c in self.criteria if c.kind == "engagement")

    def fit_tree(self) -> Condition | None:
        """One tree holding every fit condition, so one facts load serves them all."""
        conditions = [c.condition for c in self.fit if c.condition is not None]
        if not conditions:
            return None
        # construct, not validate: the children were validated against the field registry already, and
        # validating them again without it would reject their custom fields.
        return AnyCondition.model_construct(any_=conditions)

    def event_names(self) -> list[str]:
        return sorted({c.event for c in self.engagement if c.event is not None})


def compile_model(spec: ScoringModelSpec, *, version: int = 1) -> CompiledModel:
    groups: list[Group] = []
    group_index: dict[str, int] = {}
    criteria: list[Criterion] = []

    def group_of(name: str, kind: Kind) -> int:
        if name not in group_index:
            cap = spec.group_caps.get(name)
            group_index[name] = len(groups)
            groups.append(Group(name, kind, None if cap is None else to_units(cap)))
        return group_index[name]

    for fit in spec.fit.criteria:
        criteria.append(Criterion(len(criteria), fit.name, "fit", group_of(fit.group_name, "fit"),
                                  to_units(fit.points), condition=fit.condition))  # fmt: skip
    for eng in spec.engagement.criteria:
        criteria.append(
            Criterion(
                len(criteria),
                eng.name,
                "engagement",
                group_of(eng.group_name, "engagement"),
                to_units(eng.points),
                event=eng.event,
                where=tuple(eng.where),
                max_occurrences=eng.max_occurrences,
            )
        )
    decay = spec.engagement.decay
    thresholds = sorted(
        (Threshold(to_units(t.score), t.stage, _number(t.score)) for t in spec.thresholds), key=lambda t: t.score
    )
    return CompiledModel(
        key=spec.key,
        name=spec.name,
        version=version,
        checksum=spec.checksum,
        spec=spec,
        criteria=tuple(criteria),
        groups=tuple(groups),
        fit_cap=None if spec.fit.cap is None else to_units(spec.fit.cap),
        engagement_cap=None if spec.engagement.cap is None else to_units(spec.engagement.cap),
        total_cap=None if spec.total_cap is None else to_units(spec.total_cap),
        decay=Decay.build(decay.half_life_days if decay else None, decay.window_days if decay else None),
        thresholds=tuple(thresholds),
    )


def _number(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{value}"


def units_to_points(units: int) -> float:
    return units / POINTS_SCALE


# --- stored models -------------------------------------------------------------------------------

_cache: dict[tuple[Any, ...], CompiledModel] = {}
_lock = threading.Lock()


def compiled(row: ScoringModel, registry: FieldRegistry) -> CompiledModel:
    """The stored model compiled, validated against today's fields; cached per definition and version."""
    key = (row.key, row.version, row.checksum, registry_key(registry))
    with _lock:
        found = _cache.get(key)
    if found is not None and found.spec.definition() == row.definition:
        return found
    model = compile_model(validate_model(row.definition, registry), version=row.version)
    with _lock:
        if len(_cache) > 64:
            _cache.clear()
        _cache[key] = model
    return model


def compiled_version(
    session: Session, row: ScoringModel, version: int, registry: FieldRegistry
) -> CompiledModel | None:
    """The model as it was at ``version``: what a stored score of that version is explained with. None when
    that definition is not kept (scores written before versions were) or no longer valid (it names a custom
    field deleted since)."""
    if version == row.version:
        return compiled(row, registry)
    kept = session.get(ScoringModelVersion, (row.key, version))
    if kept is None:
        return None
    key = (row.key, version, kept.checksum, registry_key(registry))
    with _lock:
        found = _cache.get(key)
    if found is not None:
        return found
    try:
        model = compile_model(validate_model(kept.definition, registry), version=version)
    except SpecInvalid:
        return None
    with _lock:
        _cache[key] = model
    return model


def load_active(session: Session, registry: FieldRegistry, keys: list[str] | None = None) -> list[CompiledModel]:
    from sqlalchemy import select

    stmt = select(ScoringModel).where(ScoringModel.active.is_(True)).order_by(ScoringModel.key)
    if keys is not None:
        stmt = stmt.where(ScoringModel.key.in_(keys))
    return [compiled(row, registry) for row in session.scalars(stmt)]
