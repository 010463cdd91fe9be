"""The workflow definition: what ``workflows/<key>.yml`` and the API accept.

A workflow is a trigger, an optional entry condition, re-entry and holdout rules and a list of steps. Steps run
in order; any step may name its ``next`` step, and branch, A/B split, approval and wait steps name where each
outcome goes. Unknown keys are errors (pydantic ``extra="forbid"``), conditions are checked against the field
registry, and every step reference must name a step that exists.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from pitboard.conditions import Condition, ConditionError, FieldRegistry, parse_condition, validation_context
from pitboard.conditions.model import REGISTRY_CONTEXT_KEY
from pitboard.kit.errors import ValidationFailed

KEY = r"^[a-z0-9][a-z0-9_-]{0,99}$"
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
CORE_SETTABLE = (
    "first_name", "last_name", "title", "phone", "company_name", "country", "region", "city", "lead_source",
    "seniority", "job_function",
)  # fmt: skip
# Fields a field_change trigger may watch (and date fields a date trigger may read).
WATCHABLE = (*CORE_SETTABLE, "email", "lifecycle_stage", "owner_id", "account_id", "email_domain")
DATE_FIELDS = ("created_at", "last_activity_at")
RESERVED_KEYS = ("approvals", "dead-letters", "journey", "journeys", "tasks", "validate", "new")
TRIGGER_TYPES = (
    "event", "form_submitted", "segment_entry", "segment_exit", "field_change", "lifecycle_change", "date", "manual",
)  # fmt: skip


def parse_duration(value: str) -> timedelta:
    """``30s``, ``15m``, ``2h``, ``3d``, ``1w``."""
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration like 30m, 2h, 3d or 1w")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _checked_condition(value: dict[str, Any] | None, info: ValidationInfo) -> dict[str, Any] | None:
    """With a field registry in the validation context (the project loader, ``validate_spec``), a condition is
    checked where it stands, so an error names its file, line and path."""
    context = info.context if isinstance(info.context, dict) else {}
    registry = context.get(REGISTRY_CONTEXT_KEY)
    if value is not None and registry is not None:
        try:
            parse_condition(value, registry)
        except ConditionError as exc:
            raise ValueError(str(exc)) from None
    return value


class Trigger(_Strict):
    type: Literal[
        "event", "form_submitted", "segment_entry", "segment_exit", "field_change", "lifecycle_change", "date", "manual"
    ]
    event: str | None = Field(default=None, description="event: the event name; form_submitted: its name if not")
    form: str | None = Field(default=None, description="form_submitted: the form (properties.form)")
    properties: dict[str, str | int | float | bool] = Field(default_factory=dict, description="event property equality")
    segment: str | None = None
    field: str | None = Field(default=None, description="field_change: the field; date: the date field")
    to: str | None = Field(default=None, description="lifecycle_change: the stage entered; field_change: new value")
    from_: str | None = Field(default=None, alias="from")
    offset_days: int = Field(default=0, ge=-365, le=365, description="date: days after (negative: before) the date")

    @model_validator(mode="after")
    def _needs(self) -> Trigger:
        needs = {
            "event": ("event",), "segment_entry": ("segment",), "segment_exit": ("segment",),
            "field_change": ("field",), "date": ("field",),
        }  # fmt: skip
        for name in needs.get(self.type, ()):
            if getattr(self, name) is None:
                raise ValueError(f"a {self.type} trigger needs '{name}'")
        custom = self.field is not None and re.match(r"^custom\.[a-z0-9_]+$", self.field) is not None
        if self.type == "field_change" and not custom and self.field not in WATCHABLE:
            raise ValueError(f"field must be custom.<name> or one of {', '.join(WATCHABLE)}")
        if self.type == "date" and not custom and self.field not in DATE_FIELDS:
            raise ValueError(f"field must be a custom date field custom.<name> or one of {', '.join(DATE_FIELDS)}")
        return self

    @property
    def event_name(self) -> str | None:
        if self.type == "form_submitted":
            return self.event or "form_submitted"
        return self.event if self.type == "event" else None


class _Step(_Strict):
    id: str = Field(pattern=KEY)
    next: str | None = Field(default=None, description="The step after this one (default: the following step)")
    name: str | None = None


class SetField(_Step):
    action: Literal["set_field"]
    field: str
    value: str | int | float | bool | None = None
    value_from: str | None = Field(default=None, description="trigger.<key> or event.<column>/event.properties.<p>")
    only_if_empty: bool = False

    @model_validator(mode="after")
    def _target(self) -> SetField:
        if self.field not in CORE_SETTABLE and not re.match(r"^custom\.[a-z0-9_]+$", self.field):
            raise ValueError(f"field must be custom.<name> or one of {', '.join(CORE_SETTABLE)}")
        if (self.value is None) == (self.value_from is None):
            raise ValueError("give exactly one of value and value_from")
        return self


class AddToSegment(_Step):
    action: Literal["add_to_segment", "remove_from_segment"]
    segment: str


class ChangeScore(_Step):
    action: Literal["change_score"]
    by: float
    field: str = Field(default="workflow_score", pattern=r"^[a-z0-9_]+$", description="custom.<field> to add to")


class ChangeLifecycle(_Step):
    action: Literal["change_lifecycle"]
    stage: str


class RouteLead(_Step):
    action: Literal["route_lead"]


class SendEmail(_Step):
    action: Literal["send_email"]
    kind: Literal["marketing", "transactional"] = "marketing"
    purpose: str | None = None
    template: str | None = Field(default=None, description="A template folder (messaging templates)")
    subject: str | None = Field(default=None, description="Inline Jinja, when there is no template")
    text: str | None = None
    html: str | None = None
    track: bool = Field(default=True, description="Opens and clicks through pitboard's tracking endpoints")

    @model_validator(mode="after")
    def _content(self) -> SendEmail:
        if self.template is None and (self.subject is None or (self.text is None and self.html is None)):
            raise ValueError("give a template, or a subject and a text (or html)")
        if self.kind == "marketing" and not self.purpose:
            raise ValueError("a marketing email needs a consent purpose")
        return self


class Notify(_Step):
    action: Literal["notify"]
    to: str = Field(description="owner, or email:<address>, slack:<key>, webhook:<key>")
    subject: str
    text: str


class CreateTask(_Step):
    action: Literal["create_task"]
    assignee: str = Field(description="owner, or an email address")
    title: str
    due_in: str | None = None

    @field_validator("due_in")
    @classmethod
    def _due(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


class Webhook(_Step):
    action: Literal["webhook"]
    endpoint: str
    event: str = Field(default="workflow.step", description="Goes into the subject")
    fields: list[str] = Field(default_factory=lambda: ["email", "first_name", "last_name", "company_name"])


class Wait(_Step):
    action: Literal["wait"]
    duration: str | None = None
    until: str | None = Field(default=None, description="An ISO date/time, or field:<date field> of the contact")
    condition: dict[str, Any] | None = None
    timeout: str | None = None
    check_every: str = "15m"
    on_timeout: str | None = None

    _condition = field_validator("condition")(_checked_condition)

    @model_validator(mode="after")
    def _one(self) -> Wait:
        given = [x for x in (self.duration, self.until, self.condition) if x is not None]
        if len(given) != 1:
            raise ValueError("a wait needs exactly one of duration, until and condition")
        if self.condition is not None and self.timeout is None:
            raise ValueError("a wait for a condition needs a timeout")
        for value in (self.duration, self.timeout, self.check_every):
            if value is not None:
                parse_duration(value)
        return self


class Branch(_Step):
    action: Literal["branch"]
    condition: dict[str, Any]
    then: str | None = Field(default=None, description="Step when it matches (default: the following step)")
    else_: str | None = Field(default=None, alias="else")

    _condition = field_validator("condition")(_checked_condition)


class Variant(_Strict):
    name: str = Field(pattern=KEY)
    weight: float = Field(gt=0)
    next: str | None = None


class Split(_Step):
    action: Literal["ab_split"]
    variants: list[Variant] = Field(min_length=2, max_length=10)


class Approval(_Step):
    action: Literal["approval"]
    title: str
    approvers: str | None = Field(default=None, description="Who decides (email, or slack:/email: to notify)")
    sla: str | None = Field(default=None, description="How long until it is overdue, e.g. 4h")
    on_reject: str | None = Field(default=None, description="Step after a rejection (default: exit)")


class Suppress(_Step):
    action: Literal["suppress"]
    reason: Literal["hard_bounce", "complaint", "invalid"] = "hard_bounce"
    channel: Literal["email"] = "email"


class Exit(_Step):
    action: Literal["exit"]


Step = Annotated[
    SetField
    | AddToSegment
    | ChangeScore
    | ChangeLifecycle
    | RouteLead
    | SendEmail
    | Notify
    | CreateTask
    | Webhook
    | Wait
    | Branch
    | Split
    | Approval
    | Suppress
    | Exit,
    Field(discriminator="action"),
]


class WorkflowSpec(_Strict):
    key: str = Field(pattern=KEY)
    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    active: bool = True
    trigger: Trigger
    condition: dict[str, Any] | None = Field(default=None, description="Who may enrol, checked at the trigger")
    reentry: Literal["once", "always", "after_exit"] = "once"
    holdout: float = Field(default=0.0, ge=0.0, le=0.5, description="Share of enrolments held back as control")
    goal: dict[str, Any] | None = Field(default=None, description="Conversion condition for the lift report")
    steps: list[Step] = Field(min_length=1, max_length=200)

    _conditions = field_validator("condition", "goal")(_checked_condition)

    @model_validator(mode="after")
    def _references(self) -> WorkflowSpec:
        if self.key in RESERVED_KEYS:
            raise ValueError(f"the key {self.key!r} is reserved (a page or API path); choose another")
        ids = [s.id for s in self.steps]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"step ids must be unique: {', '.join(dupes)}")
        known = set(ids)
        for step in self.steps:
            for target in _targets(step):
                if target not in known:
                    raise ValueError(f"step {step.id!r} refers to step {target!r}, which does not exist")
        return self

    def index(self, step_id: str) -> int:
        for i, step in enumerate(self.steps):
            if step.id == step_id:
                return i
        raise KeyError(step_id)

    def step(self, step_id: str) -> Any:
        return self.steps[self.index(step_id)]

    def following(self, step: Any) -> str | None:
        """The step after ``step`` when it names none: the next in the list, or None (the end)."""
        if step.next is not None:
            return str(step.next)
        i = self.index(step.id)
        return self.steps[i + 1].id if i + 1 < len(self.steps) else None


def _targets(step: Any) -> list[str]:
    targets = [step.next]
    if isinstance(step, Branch):
        targets += [step.then, step.else_]
    elif isinstance(step, Split):
        targets += [v.next for v in step.variants]
    elif isinstance(step, Approval):
        targets.append(step.on_reject)
    elif isinstance(step, Wait):
        targets.append(step.on_timeout)
    return [t for t in targets if t is not None]


def conditions_of(spec: WorkflowSpec) -> list[tuple[str, dict[str, Any]]]:
    """Every condition in the definition with where it is (for validation and error messages)."""
    found: list[tuple[str, dict[str, Any]]] = []
    if spec.condition is not None:
        found.append(("condition", spec.condition))
    if spec.goal is not None:
        found.append(("goal", spec.goal))
    for i, step in enumerate(spec.steps):
        if isinstance(step, Branch | Wait) and step.condition is not None:
            found.append((f"steps.{i}.condition", step.condition))
    return found


def validate_spec(data: Any, registry: FieldRegistry) -> WorkflowSpec:
    """Parse and check a definition; ValidationFailed lists every problem with its path."""
    try:
        spec = WorkflowSpec.model_validate(data, context=validation_context(registry))
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()]
        raise ValidationFailed("invalid workflow: " + "; ".join(problems), details=problems) from None
    problems = []
    for where, data_ in conditions_of(spec):
        try:
            parse_condition(data_, registry)
        except ConditionError as exc:
            problems.append(f"{where}: {exc}")
    if problems:
        raise ValidationFailed("invalid workflow: " + "; ".join(problems), details=problems)
    return spec


def condition(data: dict[str, Any], registry: FieldRegistry) -> Condition:
    return parse_condition(data, registry)
