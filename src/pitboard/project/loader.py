"""Load and validate a project folder; every problem is reported with file, line and field."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from pitboard.conditions import FieldRegistry, validation_context
from pitboard.lifecycle.schemas import LifecycleSpec
from pitboard.measurement.schemas import MetricsFile
from pitboard.project.schemas import PrivacyFile, ProjectFile
from pitboard.project.yamlfile import LoadedYaml, YamlError, load_yaml
from pitboard.quality.contracts import Contract
from pitboard.routing.schemas import RoutingFile
from pitboard.scoring.schemas import ScoringFile
from pitboard.segments.schemas import SegmentSpec
from pitboard.workboard.config import CampaignOpsFile
from pitboard.workflows.schemas import WorkflowSpec

PROJECT_FILE = "pitboard.yml"
# Files this version understands; later features add theirs here.
KNOWN_FILES: dict[str, type[BaseModel]] = {
    PROJECT_FILE: ProjectFile,
    "lifecycle.yml": LifecycleSpec,
    "scoring.yml": ScoringFile,
    "privacy.yml": PrivacyFile,
    "metrics.yml": MetricsFile,
    "routing.yml": RoutingFile,
    "campaign_ops.yml": CampaignOpsFile,
}


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


@dataclass
class Project:
    root: Path
    files: dict[str, BaseModel] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def contracts(self) -> list[Contract]:
        return [
            m for name, m in sorted(self.files.items()) if name.startswith("contracts/") and isinstance(m, Contract)
        ]

    @property
    def segments(self) -> list[SegmentSpec]:
        return [
            m for name, m in sorted(self.files.items()) if name.startswith("segments/") and isinstance(m, SegmentSpec)
        ]

    @property
    def workflows(self) -> list[WorkflowSpec]:
        return [
            m for name, m in sorted(self.files.items()) if name.startswith("workflows/") and isinstance(m, WorkflowSpec)
        ]

    @property
    def ok(self) -> bool:
        return not self.problems


def load_project(root: Path, *, registry: FieldRegistry | None = None) -> Project:
    """Load and validate ``root``. Conditions are checked against ``registry`` (the database's custom fields);
    without one, only standard fields are known."""
    project = Project(root=root)
    context = validation_context(registry) if registry is not None else None
    if not (root / PROJECT_FILE).is_file():
        project.problems.append(Problem(root / PROJECT_FILE, None, "", "missing: run `pitboard init` to create one"))
        return project
    for name, schema in KNOWN_FILES.items():
        path = root / name
        if path.is_file():
            _validate(project, path, schema, context=context)
    for path in sorted((root / "contracts").glob("*.y*ml")):
        _validate(project, path, Contract, key=f"contracts/{path.name}")
    for path in sorted((root / "segments").glob("*.y*ml")):
        _validate(project, path, SegmentSpec, key=f"segments/{path.name}", context=context, default_key=path.stem)
    for path in sorted((root / "workflows").glob("*.y*ml")):
        _validate(project, path, WorkflowSpec, key=f"workflows/{path.name}", context=context, default_key=path.stem)
    _check_contract_names(project)
    return project


def _check_contract_names(project: Project) -> None:
    seen: dict[str, str] = {}
    for key, model in sorted(project.files.items()):
        if isinstance(model, Contract):
            if model.name in seen:
                project.problems.append(
                    Problem(
                        project.root / key,
                        None,
                        "name",
                        f"contract name {model.name!r} is also used by {seen[model.name]}",
                    )
                )
            seen[model.name] = key


def _validate(
    project: Project, path: Path, schema: type[BaseModel], *, key: str | None = None,
    context: dict[str, Any] | None = None, default_key: str | None = None,
) -> None:  # fmt: skip
    try:
        loaded = load_yaml(path)
    except YamlError as exc:
        project.problems.append(Problem(path, exc.line, "", exc.message))
        return
    if not isinstance(loaded.data, dict):
        project.problems.append(Problem(path, 1, "", "must be a mapping of keys to values"))
        return
    data = loaded.data
    if default_key is not None:
        # A segment file's key is its file name unless it says otherwise.
        data = {"key": default_key, **data}
    try:
        project.files[key or path.name] = schema.model_validate(data, context=context)
    except ValidationError as exc:
        project.problems.extend(_problems(loaded, exc))


def _problems(loaded: LoadedYaml, exc: ValidationError) -> list[Problem]:
    out = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; see the JSON Schema in docs/project.md)"
        out.append(Problem(loaded.path, loaded.line_of(loc), ".".join(str(p) for p in loc), message))
    return out


PROJECT_TEMPLATE = """\
# The pitboard project: definitions as code, validated by `pitboard check`.
name: {name}
description: Marketing operations definitions
timezone: UTC
currency: USD
fiscal_year_start_month: 1
"""

LIFECYCLE_TEMPLATE = """\
# Lifecycle stages in funnel order. Contacts move forward only, unless a recycle rule says otherwise.
stages:
  - {name: subscriber, label: Subscriber}
  - {name: lead, label: Lead}
  - {name: mql, label: Marketing qualified lead}
  - {name: sal, label: Sales accepted lead}
  - {name: sql, label: Sales qualified lead}
  - {name: opportunity, label: Opportunity}
  - {name: customer, label: Customer}
off_ladder:
  - {name: disqualified, label: Disqualified}
  - {name: recycled, label: Recycled}
"""

PRIVACY_TEMPLATE = """\
# Consent purposes, the privacy-policy version people see, and how long data is kept.
# Apply with `pitboard privacy apply`. Purposes left out are deactivated, never deleted.
policy_version: "1"
purposes:
  - key: newsletter
    label: Newsletter
    description: "Our newsletter: articles, guides and event invitations."
    channels: [email]
    double_opt_in: true
    consent_text: Yes, send me the newsletter. I can unsubscribe at any time.
  - key: product_updates
    label: Product updates
    description: Release notes and product announcements.
    channels: [email]
    consent_text: Send me product updates and release notes.
  - key: events
    label: Events
    description: Invitations to webinars, conferences and meetups.
    channels: [email, sms]
    consent_text: Invite me to webinars and events.
  - key: sales_outreach
    label: Sales outreach
    description: A salesperson may contact me about offers that fit my company.
    channels: [email, phone, sms]
    consent_text: A salesperson may contact me by email, phone or text message.
retention:
  inactive_contact_days: null      # e.g. 1095 to erase contacts inactive for three years
  exclude_lifecycle_stages: [customer, opportunity]
  quarantine_days: 90
  message_body_days: 365
"""


def scaffold(root: Path, *, name: str) -> list[Path]:
    """Create a new project folder; existing files are left untouched."""
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, content in (
        (PROJECT_FILE, PROJECT_TEMPLATE.format(name=name)),
        ("lifecycle.yml", LIFECYCLE_TEMPLATE),
        ("privacy.yml", PRIVACY_TEMPLATE),
    ):
        path = root / filename
        if not path.exists():
            path.write_text(content, encoding="utf-8")
            written.append(path)
    return written
