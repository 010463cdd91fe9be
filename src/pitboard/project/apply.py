"""``pitboard plan`` and ``pitboard apply``: make the database's definitions equal to the project folder.

Each part of the project (privacy, contracts, lifecycle, scoring, segments) is a :class:`Component` whose
``apply`` makes the stored definitions equal to the project's and says what it changed. ``plan`` runs the
very same ``apply`` inside a savepoint and rolls it back, so a plan can never disagree with what apply then
does. ``apply`` runs every component in the caller's one transaction and records a :class:`ProjectVersion`
with the whole manifest, so each applied state can be inspected and the next plan diffs against it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pitboard.kit.actor import Actor
from pitboard.kit.errors import ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.models import ProjectVersion
from pitboard.project.loader import Project

ApplyFn = Callable[[Session, Project, Actor], dict[str, list[str]]]


@dataclass(frozen=True)
class Component:
    name: str
    apply: ApplyFn
    order: int


_COMPONENTS: dict[str, Component] = {}


def register_component(name: str, *, order: int) -> Callable[[ApplyFn], ApplyFn]:
    def register(fn: ApplyFn) -> ApplyFn:
        _COMPONENTS[name] = Component(name, fn, order)
        return fn

    return register


def components() -> list[Component]:
    _load_builtin_components()
    return sorted(_COMPONENTS.values(), key=lambda c: (c.order, c.name))


def _load_builtin_components() -> None:
    from pitboard.project import components  # noqa: F401  (registers privacy, contracts, …)


@dataclass
class PlanResult:
    changes: dict[str, dict[str, list[str]]]  # component → what → items
    checksum: str
    applied_version: int | None
    applied_checksum: str | None
    simulation: dict[str, Any] = field(default_factory=dict)

    @property
    def has_changes(self) -> bool:
        return any(self.changes.values())


def manifest(project: Project) -> dict[str, Any]:
    """Every validated file as plain data, keyed by its path in the project."""
    out: dict[str, Any] = {}
    for key, model in sorted(project.files.items()):
        out[key] = model.model_dump(mode="json", exclude_none=True) if isinstance(model, BaseModel) else model
    return out


def checksum_of(data: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def latest_version(session: Session) -> ProjectVersion | None:
    return session.scalar(select(ProjectVersion).order_by(ProjectVersion.version.desc()).limit(1))


def _run(session: Session, project: Project, actor: Actor) -> dict[str, dict[str, list[str]]]:
    if not project.ok:
        raise ValidationFailed(f"{len(project.problems)} problem(s) in the project; run pitboard check")
    return {c.name: c.apply(session, project, actor) for c in components()}


Simulator = Callable[[Session, Project, date], dict[str, Any]]
_SIMULATORS: dict[str, Simulator] = {}


def register_simulator(name: str) -> Callable[[Simulator], Simulator]:
    """A what-if report for ``pitboard plan --since``: e.g. MQLs per month under the proposed scoring."""

    def register(fn: Simulator) -> Simulator:
        _SIMULATORS[name] = fn
        return fn

    return register


def plan(session: Session, project: Project, *, actor: Actor, simulate_since: date | None = None) -> PlanResult:
    """What ``apply`` would change, found by applying in a savepoint and rolling it back."""
    actor.require("admin")
    data = manifest(project)
    latest = latest_version(session)
    savepoint = session.begin_nested()
    try:
        changes = _run(session, project, actor)
    finally:
        savepoint.rollback()
    session.expire_all()
    result = PlanResult(changes, checksum_of(data), latest.version if latest else None,
                        latest.checksum if latest else None)  # fmt: skip
    if simulate_since is not None:
        components()  # registers the simulators too
        result.simulation = {name: fn(session, project, simulate_since) for name, fn in sorted(_SIMULATORS.items())}
    return result


def apply(session: Session, project: Project, *, actor: Actor, message: str | None = None) -> ProjectVersion | None:
    """Apply every component in the caller's transaction; record a new version when anything changed."""
    actor.require("admin")
    data = manifest(project)
    changes = _run(session, project, actor)
    latest = latest_version(session)
    checksum = checksum_of(data)
    if not any(changes.values()) and latest is not None and latest.checksum == checksum:
        return None
    version = (session.scalar(select(func.max(ProjectVersion.version))) or 0) + 1
    row = ProjectVersion(version=version, applied_at=utcnow(), actor=actor.name, checksum=checksum,
                         manifest=data, changes=changes, message=message)  # fmt: skip
    session.add(row)
    session.flush()
    return row


def list_versions(session: Session, limit: int = 50) -> list[ProjectVersion]:
    return list(session.scalars(select(ProjectVersion).order_by(ProjectVersion.version.desc()).limit(limit)))


def applied_manifest(session: Session) -> dict[str, Any]:
    latest = latest_version(session)
    return dict(latest.manifest) if latest else {}
