"""The lifecycle definition: the stage ladder, the stages off it, entry rules and recycle rules.

``lifecycle.yml``::

    stages:                                  # the ladder, in funnel order
      - {name: subscriber, label: Subscriber}
      - name: lead
        label: Lead
        entry: {field: email, op: is_set}    # a condition: when it matches, the contact enters this stage
      - {name: mql, label: Marketing qualified lead}
      ...
    off_ladder:
      - {name: disqualified, label: Disqualified}
      - {name: recycled, label: Recycled, resume: true}   # entry rules and thresholds may move it on again
    recycle:                                 # the only way back, and the only way out of disqualified
      - name: stale
        from: [disqualified, sql]
        to: recycled
        when: {not: {field: last_activity_at, op: within_last, value: 90d}}
    forward_only: true                       # rules and thresholds never move a contact down the ladder
    score_threshold_stage: mql               # the stage a scoring threshold sets unless it names another

The simple format (stages and off_ladder with name, label and description) is a valid definition as it is.
Conditions are validated against the field registry: use :func:`validate_lifecycle` or
``LifecycleSpec.model_validate(data, context=validation_context(registry))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer, model_validator
from pydantic_core import PydanticCustomError

from pitboard.conditions import Condition, FieldRegistry, SegmentCondition, condition_to_data, validation_context
from pitboard.conditions.facts import walk
from pitboard.conditions.model import format_path
from pitboard.kit.errors import ValidationFailed
from pitboard.lifecycle.stages import DEFAULT_STAGES

STAGE_PATTERN = r"^[a-z][a-z0-9_]*$"
FIRST_STAGE = "subscriber"  # tracking, imports and the API create contacts in this stage


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, serialize_by_alias=True, validate_by_alias=True, validate_by_name=True
    )


def _condition_data(condition: Condition | None) -> dict[str, Any] | None:
    # The tree's own plain-data form (all/any/not, durations as 30d), which parses back to an equal tree.
    return None if condition is None else condition_to_data(condition)


def segment_free(condition: Condition | None, what: str) -> None:
    """Scores and stages are derived before segment memberships (contacts.changed runs scoring, lifecycle,
    then segments), so their rules cannot depend on segments without reading stale members or a cycle."""
    if condition is None:
        return
    if any(isinstance(node, SegmentCondition) for node in walk(condition)):
        raise PydanticCustomError(
            "lifecycle", f"{what} cannot use in_segment: segments are refreshed after scores and stages change"
        )


class StageSpec(_Strict):
    name: str = Field(pattern=STAGE_PATTERN, max_length=50)
    label: str = Field(min_length=1, max_length=100)
    description: str | None = None
    entry: Condition | None = Field(
        default=None, description="When this condition matches, the contact enters this stage (forward only)"
    )
    resume: bool = Field(
        default=False,
        description="Off-ladder stages only: entry rules and scoring thresholds may move a contact on from here "
        "(recycled); without it only a recycle rule or a person moves it (disqualified)",
    )

    @model_validator(mode="after")
    def _no_segments(self) -> StageSpec:
        segment_free(self.entry, "an entry rule")
        return self

    @field_serializer("entry")
    def _dump_entry(self, condition: Condition | None) -> dict[str, Any] | None:
        return _condition_data(condition)


class RecycleRule(_Strict):
    """Move contacts in one of ``from`` to ``to`` when ``when`` matches: the explicit way back down."""

    name: str = Field(min_length=1, max_length=100)
    from_: list[str] = Field(alias="from", min_length=1, description="Stages this rule moves contacts out of")
    to: str = Field(description="The stage they move to")
    when: Condition

    @model_validator(mode="after")
    def _no_segments(self) -> RecycleRule:
        segment_free(self.when, "a recycle rule")
        return self

    @field_serializer("when")
    def _dump_when(self, condition: Condition) -> dict[str, Any] | None:
        return _condition_data(condition)


class LifecycleSpec(_Strict):
    """``lifecycle.yml``: the stage ladder in funnel order, the stages off it, and the rules that move contacts."""

    stages: list[StageSpec] = Field(min_length=1, description="The ladder, in funnel order")
    off_ladder: list[StageSpec] = Field(default_factory=list)
    recycle: list[RecycleRule] = Field(default_factory=list)
    forward_only: bool = Field(
        default=True, description="Entry rules and scoring thresholds only move contacts up the ladder"
    )
    score_threshold_stage: str | None = Field(
        default=None, description="The stage a scoring threshold sets when it names none (default: mql)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> LifecycleSpec:
        names = [s.name for s in (*self.stages, *self.off_ladder)]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"stage names must be unique; repeated: {', '.join(dupes)}")
        if FIRST_STAGE not in [s.name for s in self.stages]:
            raise ValueError(
                f"the ladder needs a {FIRST_STAGE} stage: tracking, imports and the API create contacts there"
            )
        resumable = [s.name for s in self.stages if s.resume]
        if resumable:
            raise ValueError(f"resume is for off-ladder stages only, not {', '.join(resumable)}")
        known = set(names)
        for i, rule in enumerate(self.recycle):
            unknown = [s for s in (*rule.from_, rule.to) if s not in known]
            if unknown:
                raise ValueError(f"recycle[{i}] ({rule.name}): unknown stage {', '.join(repr(s) for s in unknown)}")
            if rule.to in rule.from_:
                raise ValueError(f"recycle[{i}] ({rule.name}): moves {rule.to} to itself")
        rules = [r.name for r in self.recycle]
        repeated = sorted({r for r in rules if rules.count(r) > 1})
        if repeated:
            raise ValueError(f"recycle rule names must be unique; repeated: {', '.join(repeated)}")
        if self.score_threshold_stage is not None and self.score_threshold_stage not in known:
            raise ValueError(f"score_threshold_stage {self.score_threshold_stage!r} is not a stage")
        return self

    # --- reading ---------------------------------------------------------------------------------

    @property
    def ladder(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages)

    @property
    def off_ladder_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.off_ladder)

    @property
    def names(self) -> tuple[str, ...]:
        return (*self.ladder, *self.off_ladder_names)

    def stage(self, name: str) -> StageSpec | None:
        return next((s for s in (*self.stages, *self.off_ladder) if s.name == name), None)

    def label(self, name: str) -> str:
        found = self.stage(name)
        return found.label if found else name

    def rank(self, name: str) -> int | None:
        """Position on the ladder (0 = first); None off the ladder or for an unknown stage."""
        return self.ladder.index(name) if name in self.ladder else None

    def threshold_stage(self) -> str | None:
        """The stage a scoring threshold sets when it names none."""
        if self.score_threshold_stage is not None:
            return self.score_threshold_stage
        return "mql" if "mql" in self.names else None

    def may_move_on(self, current: str) -> bool:
        """Whether entry rules and thresholds may move a contact out of ``current`` at all: not out of an
        off-ladder stage without ``resume`` (disqualified waits for a recycle rule or a person)."""
        found = self.stage(current)
        return found is None or found.name in self.ladder or found.resume

    def may_enter(self, current: str, target: str) -> bool:
        """May an entry rule or a threshold move a contact from ``current`` to ``target``?"""
        if current == target or not self.may_move_on(current):
            return False
        target_rank = self.rank(target)
        if target_rank is None:
            return True  # off-ladder entry (disqualification) leaves the ladder; it is not a step back
        if not self.forward_only:
            return True
        current_rank = self.rank(current)
        # A resumable off-ladder stage (recycled) or an unknown one counts as before the ladder.
        return current_rank is None or target_rank > current_rank

    def stages_that_may_enter(self, target: str) -> list[str]:
        """The known stages a contact may enter ``target`` from (see :meth:`may_enter`)."""
        return [s for s in self.names if self.may_enter(s, target)]

    def rule_conditions(self) -> list[Condition]:
        return [s.entry for s in (*self.stages, *self.off_ladder) if s.entry is not None] + [
            r.when for r in self.recycle
        ]

    def definition(self) -> dict[str, Any]:
        """Plain data, as stored in a project version's manifest."""
        return self.model_dump(mode="json", exclude_none=True)


def default_spec() -> LifecycleSpec:
    """The ladder every installation starts with: no rules, forward only, thresholds set mql."""
    labels = {
        "subscriber": "Subscriber",
        "lead": "Lead",
        "mql": "Marketing qualified lead",
        "sal": "Sales accepted lead",
        "sql": "Sales qualified lead",
        "opportunity": "Opportunity",
        "customer": "Customer",
        "disqualified": "Disqualified",
        "recycled": "Recycled",
    }
    ladder = [n for n in DEFAULT_STAGES if n not in ("disqualified", "recycled")]
    return LifecycleSpec(
        stages=[StageSpec(name=n, label=labels[n]) for n in ladder],
        off_ladder=[
            StageSpec(name="disqualified", label=labels["disqualified"]),
            StageSpec(name="recycled", label=labels["recycled"], resume=True),
        ],
    )


# --- validation with paths ---------------------------------------------------------------------


@dataclass(frozen=True)
class SpecIssue:
    """One problem: ``path`` as people read it (``stages[2].entry.all[0].value``), ``loc`` for YAML lines."""

    path: str
    message: str
    loc: tuple[str | int, ...] = ()

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class SpecInvalid(ValidationFailed):
    """A definition that does not validate; ``issues`` holds every problem at once, each with its path."""

    def __init__(self, what: str, issues: Sequence[SpecIssue]) -> None:
        super().__init__(
            f"{what}: " + "; ".join(str(issue) for issue in issues),
            details=[{"path": i.path, "message": i.message} for i in issues],
        )
        self.issues = list(issues)


def spec_issues(exc: ValidationError) -> list[SpecIssue]:
    """Pydantic errors as issues; the condition union's internal tags (``<all>``) are dropped from paths."""
    out = []
    for error in exc.errors():
        loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and part.startswith("<")))
        message = {"missing": "is required", "extra_forbidden": "unknown key"}.get(error["type"], error["msg"])
        out.append(SpecIssue(format_path(loc), str(message).removeprefix("Value error, "), loc))
    return out


def validate_lifecycle(data: Any, registry: FieldRegistry | None = None) -> LifecycleSpec:
    """A :class:`LifecycleSpec` from YAML/JSON data, its rules checked against ``registry`` (standard fields
    only without one); raises :class:`SpecInvalid` naming every problem with its path."""
    context = validation_context(registry) if registry is not None else None
    try:
        return LifecycleSpec.model_validate(data, context=context)
    except ValidationError as exc:
        raise SpecInvalid("lifecycle", spec_issues(exc)) from None


def lifecycle_json_schema(registry: FieldRegistry | None = None) -> dict[str, Any]:
    """JSON Schema of ``lifecycle.yml`` for editor completion; with a registry, ``field`` lists every field."""
    schema = LifecycleSpec.model_json_schema(by_alias=True)
    schema["title"] = "pitboard lifecycle"
    if registry is not None and "FieldCondition" in schema.get("$defs", {}):
        schema["$defs"]["FieldCondition"]["properties"]["field"]["enum"] = registry.names()
    return schema
