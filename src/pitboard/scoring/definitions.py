"""Stored scoring models: make them equal to the project's scoring.yml, and say what that changes.

A model's ``version`` goes up when the parts that decide scores change (criteria, decay, caps, thresholds:
``ScoringModelSpec.checksum``); a new or changed active model gets a bulk rescore queued in the same
transaction. Models left out of the file, or marked ``active: false``, are deactivated, never deleted: their
stored scores stay for reference, and nothing rescores them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.conditions import load_field_registry
from pitboard.kit.actor import Actor
from pitboard.lifecycle.definitions import current_spec
from pitboard.lifecycle.schemas import LifecycleSpec, SpecInvalid, SpecIssue
from pitboard.models import ScoringModel, ScoringModelVersion
from pitboard.scoring.schemas import ScoringModelSpec, check_thresholds, validate_model
from pitboard.scoring.store import create_partition

RESCORE_MODEL = "scoring.rescore_model"
RESCORE_ALL = "scoring.rescore_all"


def _plan(rows: dict[str, ScoringModel], models: Sequence[ScoringModelSpec]) -> list[tuple[str, str, str]]:
    """(key, what, detail) for every difference: created, updated, deactivated, rescore."""
    out: list[tuple[str, str, str]] = []
    keys = {m.key for m in models}
    for spec in models:
        row = rows.get(spec.key)
        if row is None:
            out.append((spec.key, "created", spec.key if spec.active else f"{spec.key} (inactive)"))
            if spec.active:
                out.append((spec.key, "rescore", f"{spec.key} (version 1)"))
            continue
        changed = []
        if row.checksum != spec.checksum:
            changed.append(f"scoring definition (version {row.version} → {row.version + 1})")
        changed += [name for name in ("name", "description") if getattr(row, name) != getattr(spec, name)]
        if row.definition != spec.definition() and not changed:
            changed.append("definition")
        if row.active != spec.active:
            out.append((spec.key, "activated" if spec.active else "deactivated", spec.key))
        if changed:
            out.append((spec.key, "updated", f"{spec.key}: {', '.join(changed)}"))
        rescore = spec.active and (row.checksum != spec.checksum or not row.active)
        if rescore:
            version = row.version + (1 if row.checksum != spec.checksum else 0)
            out.append((spec.key, "rescore", f"{spec.key} (version {version})"))
    for key, row in sorted(rows.items()):
        if key not in keys and row.active:
            out.append((key, "deactivated", f"{key} (not in scoring.yml)"))
    return out


def _summary(plan: list[tuple[str, str, str]]) -> dict[str, list[str]]:
    labels = {"rescore": "rescore queued"}
    out: dict[str, list[str]] = {}
    for _key, what, detail in plan:
        out.setdefault(labels.get(what, what), []).append(detail)
    return out


def diff_models(session: Session, models: Sequence[ScoringModelSpec]) -> dict[str, list[str]]:
    """What :func:`apply_models` would change: ``created``, ``updated``, ``activated``, ``deactivated`` and
    ``rescore queued`` (each a list of readable items); empty when the stored models equal ``models``."""
    rows = {r.key: r for r in session.scalars(select(ScoringModel))}
    return _summary(_plan(rows, models))


def apply_models(
    session: Session,
    models: Sequence[ScoringModelSpec],
    *,
    actor: Actor,
    lifecycle_spec: LifecycleSpec | None = None,
) -> dict[str, list[str]]:
    """Make the stored models equal to ``models`` (create, update, deactivate; bump versions; queue bulk
    rescores) and return what changed, as :func:`diff_models` describes it.

    Thresholds must name stages of ``lifecycle_spec`` (default: the applied one; pass the project's own when
    lifecycle.yml changes in the same apply). Definitions are checked against this database's custom fields.
    """
    from pitboard.scoring import tasks  # noqa: F401  (registers the rescore task before anything is queued)
    from pitboard.worker.queue import enqueue

    actor.require("admin")
    registry = load_field_registry(session)
    issues: list[SpecIssue] = []
    for i, spec in enumerate(models):
        try:
            validate_model(spec.definition(), registry)
        except SpecInvalid as exc:
            issues += [SpecIssue(f"models[{i}].{issue.path}".rstrip("."), issue.message,
                                 ("models", i, *issue.loc)) for issue in exc.issues]  # fmt: skip
    issues += check_thresholds(list(models), lifecycle_spec or current_spec(session, registry=registry))
    if issues:
        raise SpecInvalid("scoring", issues)
    rows = {r.key: r for r in session.scalars(select(ScoringModel))}
    plan = _plan(rows, models)
    specs = {m.key: m for m in models}
    for key, what, _detail in plan:
        row = rows.get(key)
        wanted = specs.get(key)
        if what == "created" and wanted is not None:
            row = ScoringModel(
                key=key, name=wanted.name, description=wanted.description, definition=wanted.definition(),
                checksum=wanted.checksum, version=1, active=wanted.active,
            )  # fmt: skip
            session.add(row)
            session.flush()
            _keep_version(session, row)
            create_partition(session.connection(), key, row.id)
            rows[key] = row
            audit.record(session, actor=actor, action="create", entity_type="scoring_model", entity_id=row.id,
                         changes={"key": [None, key], "version": [None, 1]})  # fmt: skip
        elif what == "updated" and row is not None and wanted is not None:
            _update(session, row, wanted, actor)
        elif what in ("activated", "deactivated") and row is not None:
            active = what == "activated"
            audit.record(session, actor=actor, action="update", entity_type="scoring_model", entity_id=row.id,
                         changes={"active": [row.active, active]})  # fmt: skip
            row.active = active
        elif what == "rescore" and row is not None:
            session.flush()
            enqueue(session, RESCORE_MODEL, {"key": key, "version": row.version},
                    idempotency_key=f"{RESCORE_MODEL}:{key}:{row.version}:{row.checksum[:16]}")  # fmt: skip
    session.flush()
    return _summary(plan)


def _update(session: Session, row: ScoringModel, spec: ScoringModelSpec, actor: Actor) -> None:
    changes: dict[str, Any] = {}
    if row.checksum != spec.checksum:
        changes["version"] = [row.version, row.version + 1]
        row.version += 1
        row.checksum = spec.checksum
        row.definition = spec.definition()
        _keep_version(session, row)
    for name in ("name", "description"):
        if getattr(row, name) != getattr(spec, name):
            changes[name] = [getattr(row, name), getattr(spec, name)]
            setattr(row, name, getattr(spec, name))
    row.definition = spec.definition()
    audit.record(session, actor=actor, action="update", entity_type="scoring_model", entity_id=row.id,
                 changes=changes or {"definition": ["changed", "changed"]})  # fmt: skip


def _keep_version(session: Session, row: ScoringModel) -> None:
    """Keep the definition of each version: stored scores are explained with the one they were computed
    under (scoring_model_versions)."""
    if session.get(ScoringModelVersion, (row.key, row.version)) is None:
        session.add(ScoringModelVersion(model_key=row.key, version=row.version, definition=row.definition,
                                        checksum=row.checksum))  # fmt: skip
