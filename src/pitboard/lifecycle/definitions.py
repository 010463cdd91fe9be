"""The applied lifecycle definition: read from the latest project version, compared with a proposed one.

``pitboard apply`` stores the whole project manifest as a :class:`ProjectVersion`; the lifecycle definition
is its ``lifecycle.yml`` entry. Without an applied one the default ladder holds (:func:`default_spec`).
Parsed definitions are cached per version, so services may ask on every write.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pitboard.conditions import FieldRegistry, load_field_registry
from pitboard.kit.actor import Actor
from pitboard.lifecycle.schemas import LifecycleSpec, SpecInvalid, default_spec, validate_lifecycle
from pitboard.logging import get_logger
from pitboard.models import Contact, ProjectVersion

log = get_logger(__name__)

MANIFEST_KEYS = ("lifecycle.yml", "lifecycle")
ADVANCE_ALL = "lifecycle.advance_all"

_cache: dict[tuple[Any, ...], LifecycleSpec] = {}
_lock = threading.Lock()
_CACHE_SIZE = 32


def registry_key(registry: FieldRegistry) -> tuple[Any, ...]:
    return (tuple(sorted(registry.contact_custom.items())), tuple(sorted(registry.account_custom.items())))


def _database(session: Session) -> str:
    """Which database a cached definition belongs to (tests and tools talk to several in one process)."""
    bind = session.get_bind()
    return str(bind.engine.url)


def _latest(session: Session) -> tuple[int, str] | None:
    row = session.execute(
        select(ProjectVersion.id, ProjectVersion.checksum).order_by(ProjectVersion.version.desc()).limit(1)
    ).first()
    return None if row is None else (int(row[0]), str(row[1]))


def _stored_data(session: Session, version_id: int) -> Any:
    manifest = session.scalar(select(ProjectVersion.manifest).where(ProjectVersion.id == version_id)) or {}
    return next((manifest[k] for k in MANIFEST_KEYS if k in manifest), None)


def current_spec(session: Session, *, registry: FieldRegistry | None = None) -> LifecycleSpec:
    """The applied lifecycle definition (the latest project version's ``lifecycle.yml``), else the default.

    Rules are validated against today's fields. Should a rule no longer validate (a custom field it reads was
    deleted since), the stages still hold but the rules are dropped, with a warning in the log: contact writes
    must not fail because of a stale rule.
    """
    latest = _latest(session)
    if latest is None:
        return default_spec()
    registry = registry if registry is not None else load_field_registry(session)
    key = (_database(session), *latest, registry_key(registry))
    with _lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    data = _stored_data(session, latest[0])
    spec = default_spec() if data is None else _parse_stored(data, registry)
    with _lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.clear()
        _cache[key] = spec
    return spec


def _parse_stored(data: Any, registry: FieldRegistry) -> LifecycleSpec:
    try:
        return validate_lifecycle(data, registry)
    except SpecInvalid as exc:
        log.warning("applied lifecycle rules no longer validate; using the stages without rules", error=exc.message)
    stripped = dict(data)
    stripped["stages"] = [{k: v for k, v in s.items() if k != "entry"} for s in data.get("stages", [])]
    stripped["off_ladder"] = [{k: v for k, v in s.items() if k != "entry"} for s in data.get("off_ladder", [])]
    stripped["recycle"] = []
    return validate_lifecycle(stripped, registry)


_names: dict[tuple[Any, ...], tuple[str, ...]] = {}


def stage_names(session: Session) -> tuple[str, ...]:
    """Every stage of the applied definition, ladder first: what a contact's ``lifecycle_stage`` may be.

    Cheap enough for every contact write: one indexed look-up of the latest version, and the names read from
    its manifest once per version (they were validated when it was applied; the rules are not needed here).
    """
    latest = _latest(session)
    if latest is None:
        return default_spec().names
    key = (_database(session), *latest)
    with _lock:
        cached = _names.get(key)
    if cached is not None:
        return cached
    data = _stored_data(session, latest[0])
    if isinstance(data, dict):
        names = tuple(str(s["name"]) for part in ("stages", "off_ladder") for s in data.get(part) or [])
    else:
        names = default_spec().names
    with _lock:
        if len(_names) >= _CACHE_SIZE:
            _names.clear()
        _names[key] = names
    return names


# --- comparing definitions ---------------------------------------------------------------------


def diff_lifecycle(session: Session, spec: LifecycleSpec) -> dict[str, list[str]]:
    """What changes if ``spec`` replaces the applied definition: ``added``, ``removed``, ``changed`` (stages,
    rules, settings) and ``warnings`` (contacts left in a stage that no longer exists). Empty when equal."""
    return compare(current_spec(session), spec, contacts_per_stage=_contacts_per_stage(session))


def compare(
    old: LifecycleSpec, new: LifecycleSpec, *, contacts_per_stage: dict[str, int] | None = None
) -> dict[str, list[str]]:
    added: list[str] = []
    removed: list[str] = []
    changed: list[str] = []
    warnings: list[str] = []
    old_stages = {s.name: s for s in (*old.stages, *old.off_ladder)}
    new_stages = {s.name: s for s in (*new.stages, *new.off_ladder)}
    for name, stage in new_stages.items():
        before = old_stages.get(name)
        if before is None:
            added.append(f"stage {name}")
            if stage.entry is not None:
                added.append(f"entry rule of {name}")
            continue
        fields = [f for f in ("label", "description", "resume") if getattr(before, f) != getattr(stage, f)]
        if (name in old.ladder) != (name in new.ladder):
            fields.append("on the ladder" if name in new.ladder else "off the ladder")
        if fields:
            changed.append(f"stage {name}: {', '.join(fields)}")
        if before.entry != stage.entry:
            if before.entry is None:
                added.append(f"entry rule of {name}")
            elif stage.entry is None:
                removed.append(f"entry rule of {name}")
            else:
                changed.append(f"entry rule of {name}")
    for name, stage in old_stages.items():
        if name not in new_stages:
            removed.append(f"stage {name}")
            if stage.entry is not None:
                removed.append(f"entry rule of {name}")
            stranded = (contacts_per_stage or {}).get(name, 0)
            if stranded:
                warnings.append(f"{stranded} contacts are in stage {name}, which would no longer exist")
    common = [n for n in new.ladder if n in old.ladder]
    if common != [n for n in old.ladder if n in new.ladder]:
        changed.append("ladder order: " + " → ".join(new.ladder))
    old_rules = {r.name: r for r in old.recycle}
    new_rules = {r.name: r for r in new.recycle}
    added += [f"recycle rule {n}" for n in new_rules if n not in old_rules]
    removed += [f"recycle rule {n}" for n in old_rules if n not in new_rules]
    changed += [f"recycle rule {n}" for n, r in new_rules.items() if n in old_rules and old_rules[n] != r]
    if old.forward_only != new.forward_only:
        changed.append(f"forward_only: {old.forward_only} → {new.forward_only}")
    if old.threshold_stage() != new.threshold_stage():
        changed.append(f"score threshold stage: {old.threshold_stage()} → {new.threshold_stage()}")
    out = {"added": added, "removed": removed, "changed": changed, "warnings": warnings}
    return {k: v for k, v in out.items() if v}


def rules_changed(changes: dict[str, list[str]]) -> bool:
    """Whether a diff touches what moves contacts (rules, the ladder, forward_only), so a bulk pass is due."""
    lines = [line for key in ("added", "removed", "changed") for line in changes.get(key, [])]
    return any("rule" in line or line.startswith(("ladder order", "forward_only")) for line in lines)


def _contacts_per_stage(session: Session) -> dict[str, int]:
    rows = session.execute(select(Contact.lifecycle_stage, func.count()).group_by(Contact.lifecycle_stage))
    return {str(stage): int(n) for stage, n in rows}


def apply_lifecycle(session: Session, spec: LifecycleSpec, *, actor: Actor) -> dict[str, list[str]]:
    """What applying ``spec`` changes (see :func:`diff_lifecycle`). The definition itself is stored by
    ``pitboard apply`` in the project version; when rules changed, a bulk pass over every contact is queued
    (it runs after the commit, so it reads the new version)."""
    from pitboard.lifecycle import tasks  # noqa: F401  (registers the task before it is queued)
    from pitboard.worker.queue import enqueue

    actor.require("admin")
    changes = diff_lifecycle(session, spec)
    if rules_changed(changes):
        enqueue(session, ADVANCE_ALL, {"reason": "lifecycle definition changed"})
        changes.setdefault("queued", []).append("every contact checked against the new rules")
    return changes
