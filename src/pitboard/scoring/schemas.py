"""The shape of ``scoring.yml``: scoring models with fit and engagement criteria, caps, decay and thresholds.

    models:
      - key: default
        name: Default lead score
        fit:
          cap: 50
          criteria:
            - {name: Decision maker, group: title, points: 15,
               condition: {field: seniority, op: in, value: [director, vp, c_level]}}
        engagement:
          decay: {half_life_days: 30}           # or {window_days: 90}; omit to count every occurrence
          cap: 60
          criteria:
            - {name: Pricing page, group: web, event: page_viewed, points: 3, max_occurrences: 5,
               where: [{property: path, op: starts_with, value: /pricing}]}
        group_caps: {web: 20}
        total_cap: 100
        thresholds:
          - {score: 60, stage: mql}

Conditions are validated against the field registry: use :func:`validate_scoring` (or
``ScoringFile.model_validate(data, context=validation_context(registry))``). Points have at most four
decimals: scores are summed and capped as whole numbers of 1/10,000 point, so they are exact.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_serializer, model_validator
from pydantic_core import PydanticCustomError

from pitboard.conditions import Condition, FieldRegistry, PropertyFilter, condition_to_data, validation_context
from pitboard.lifecycle.schemas import STAGE_PATTERN, LifecycleSpec, SpecInvalid, SpecIssue, segment_free, spec_issues

KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
POINTS_SCALE = 10_000  # points are summed as integers of 1/10,000 point
MAX_POINTS = 1_000
MAX_CAP = 1_000_000
MAX_HALF_LIFE_DAYS = 365
MAX_WINDOW_DAYS = 3_650


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _four_decimals(value: float, what: str = "a number of points") -> float:
    exponent = Decimal(str(value)).as_tuple().exponent
    if not isinstance(exponent, int) or exponent < -4:
        raise PydanticCustomError("scoring", f"{what} may have at most four decimals")
    return value


def _nonzero_points(value: float) -> float:
    if value == 0:
        raise PydanticCustomError("scoring", "points must not be 0")
    return _four_decimals(value, "points")


Points = Annotated[float, Field(ge=-MAX_POINTS, le=MAX_POINTS), AfterValidator(_nonzero_points)]
Cap = Annotated[float, Field(gt=0, le=MAX_CAP), AfterValidator(_four_decimals)]


def to_units(value: float) -> int:
    """Points as whole 1/10,000 points (exact for the at most four decimals validation allows)."""
    return int(Decimal(str(value)) * POINTS_SCALE)


class FitCriterion(_Strict):
    """Points for who the contact is: given once when the condition matches."""

    name: str = Field(min_length=1, max_length=100, description="Unique in the model; explanations name it")
    group: str | None = Field(default=None, min_length=1, max_length=100, description="Default: the name")
    condition: Condition
    points: Points

    @model_validator(mode="after")
    def _no_segments(self) -> FitCriterion:
        segment_free(self.condition, "a scoring criterion")
        return self

    @field_serializer("condition")
    def _dump_condition(self, condition: Condition) -> dict[str, Any]:
        return condition_to_data(condition)

    @property
    def group_name(self) -> str:
        return self.group or self.name


class EngagementCriterion(_Strict):
    """Points for what the contact did: ``points`` per occurrence of ``event`` (matching every ``where``
    filter), decayed by age, counting at most the ``max_occurrences`` most recent occurrences."""

    name: str = Field(min_length=1, max_length=100)
    group: str | None = Field(default=None, min_length=1, max_length=100)
    event: str = Field(min_length=1, max_length=200, description="The event name, exactly as tracked")
    where: list[PropertyFilter] = Field(default_factory=list)
    points: Annotated[Points, Field(description="Per occurrence, before decay")]
    max_occurrences: int | None = Field(default=None, ge=1, le=100_000)

    @property
    def group_name(self) -> str:
        return self.group or self.name


class Decay(_Strict):
    """How an occurrence loses weight with age (in whole UTC days: today's events are age 0)."""

    half_life_days: int | None = Field(default=None, ge=1, le=MAX_HALF_LIFE_DAYS)
    window_days: int | None = Field(default=None, ge=1, le=MAX_WINDOW_DAYS)

    @model_validator(mode="after")
    def _one(self) -> Decay:
        if (self.half_life_days is None) == (self.window_days is None):
            raise PydanticCustomError("scoring", "set exactly one of half_life_days and window_days")
        return self


class FitSpec(_Strict):
    criteria: list[FitCriterion] = Field(default_factory=list)
    cap: Cap | None = Field(default=None, description="At most this many fit points")


class EngagementSpec(_Strict):
    criteria: list[EngagementCriterion] = Field(default_factory=list)
    decay: Decay | None = Field(default=None, description="Omit to count every occurrence at full weight")
    cap: Cap | None = Field(default=None, description="At most this many engagement points")


class Threshold(_Strict):
    """When a contact's total rises from below ``score`` to ``score`` or more, move it to ``stage``
    (forward only, through the lifecycle engine)."""

    score: Cap
    stage: str | None = Field(
        default=None, pattern=STAGE_PATTERN, description="Default: the lifecycle's score_threshold_stage (mql)"
    )


class ScoringModelSpec(_Strict):
    key: str = Field(min_length=1, max_length=100, pattern=KEY_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    active: bool = True
    fit: FitSpec = Field(default_factory=FitSpec)
    engagement: EngagementSpec = Field(default_factory=EngagementSpec)
    group_caps: dict[str, Cap] = Field(default_factory=dict, description="group name → at most this many points")
    total_cap: Cap | None = None
    thresholds: list[Threshold] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> ScoringModelSpec:
        fit_names = [c.name for c in self.fit.criteria]
        names = fit_names + [c.name for c in self.engagement.criteria]
        if not names:
            raise PydanticCustomError("scoring", "a model needs at least one fit or engagement criterion")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise PydanticCustomError("scoring", f"criterion names must be unique; repeated: {', '.join(repeated)}")
        fit_groups = {c.group_name for c in self.fit.criteria}
        engagement_groups = {c.group_name for c in self.engagement.criteria}
        shared = sorted(fit_groups & engagement_groups)
        if shared:
            raise PydanticCustomError(
                "scoring",
                f"a group holds fit or engagement criteria, not both: {', '.join(shared)} "
                "(the fit and engagement caps apply after group caps)",
            )
        unknown = sorted(set(self.group_caps) - fit_groups - engagement_groups)
        if unknown:
            raise PydanticCustomError("scoring", f"group_caps names groups no criterion is in: {', '.join(unknown)}")
        scores = [t.score for t in self.thresholds]
        if len(set(scores)) != len(scores):
            raise PydanticCustomError("scoring", "threshold scores must be unique")
        return self

    def definition(self) -> dict[str, Any]:
        """The definition as stored and compared: plain data (conditions in their YAML form). ``active`` is left
        out: the stored model's own flag says that."""
        return self.model_dump(mode="json", exclude_none=True, exclude={"active"})

    def scoring_definition(self) -> dict[str, Any]:
        """The parts that decide scores and stage moves (not the name, description or active flag)."""
        data = self.definition()
        return {k: data[k] for k in ("fit", "engagement", "group_caps", "total_cap", "thresholds") if k in data}

    @property
    def checksum(self) -> str:
        encoded = orjson.dumps(self.scoring_definition(), option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(encoded).hexdigest()


class ScoringFile(_Strict):
    """``scoring.yml``: the scoring models. Models left out of the file are deactivated, never deleted."""

    models: list[ScoringModelSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> ScoringFile:
        keys = [m.key for m in self.models]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise PydanticCustomError("scoring", f"model keys must be unique; repeated: {', '.join(repeated)}")
        return self


def validate_scoring(data: Any, registry: FieldRegistry | None = None) -> ScoringFile:
    """A :class:`ScoringFile` from YAML/JSON data, conditions checked against ``registry`` (standard fields only
    without one); raises :class:`SpecInvalid` naming every problem with its path (``models[0].fit.criteria[1]
    .condition.all[0].field: unknown field 'contry'; did you mean country?``)."""
    context = validation_context(registry) if registry is not None else None
    try:
        return ScoringFile.model_validate(data, context=context)
    except ValidationError as exc:
        raise SpecInvalid("scoring", spec_issues(exc)) from None


def validate_model(data: Any, registry: FieldRegistry | None = None) -> ScoringModelSpec:
    """One model (a stored definition, an API body); raises :class:`SpecInvalid`."""
    context = validation_context(registry) if registry is not None else None
    try:
        return ScoringModelSpec.model_validate(data, context=context)
    except ValidationError as exc:
        raise SpecInvalid("scoring model", spec_issues(exc)) from None


def check_thresholds(models: list[ScoringModelSpec], lifecycle: LifecycleSpec) -> list[SpecIssue]:
    """Thresholds must set a stage the lifecycle definition has (cross-file: check with the project's own
    lifecycle.yml, which apply stores in the same version)."""
    issues = []
    for i, model in enumerate(models):
        for j, threshold in enumerate(model.thresholds):
            loc: tuple[str | int, ...] = ("models", i, "thresholds", j, "stage")
            stage = threshold.stage or lifecycle.threshold_stage()
            if stage is None:
                issues.append(SpecIssue(f"models[{i}].thresholds[{j}].stage", "name a stage: the lifecycle "
                                        "has no mql and no score_threshold_stage", loc))  # fmt: skip
            elif lifecycle.stage(stage) is None:
                issues.append(SpecIssue(f"models[{i}].thresholds[{j}].stage",
                                        f"{stage!r} is not a lifecycle stage", loc))  # fmt: skip
    return issues


def scoring_json_schema(registry: FieldRegistry | None = None) -> dict[str, Any]:
    """JSON Schema of ``scoring.yml`` for editor completion; with a registry, ``field`` lists every field."""
    schema = ScoringFile.model_json_schema(by_alias=True)
    schema["title"] = "pitboard scoring"
    if registry is not None and "FieldCondition" in schema.get("$defs", {}):
        schema["$defs"]["FieldCondition"]["properties"]["field"]["enum"] = registry.names()
    return schema
