"""Applying the project's privacy.yml: consent purposes, the privacy-policy version, the retention policy."""

from __future__ import annotations

from sqlalchemy.orm import Session

from pitboard.consent.ledger import POLICY_VERSION_KEY
from pitboard.consent.purposes import PurposeSpec, apply_purposes
from pitboard.kit.actor import Actor
from pitboard.kit.time import utcnow
from pitboard.models import SystemSetting
from pitboard.privacy import retention
from pitboard.project.schemas import PrivacyFile


def apply_privacy(session: Session, spec: PrivacyFile, *, actor: Actor) -> dict[str, list[str]]:
    """Make purposes, policy version and retention policy equal to ``spec``; returns what changed."""
    actor.require("admin")
    specs = [
        PurposeSpec(key=p.key, label=p.label, channels=tuple(p.channels), description=p.description,
                    regime=p.regime, double_opt_in=p.double_opt_in, consent_text=p.consent_text)
        for p in spec.purposes
    ]  # fmt: skip
    changes = {f"purposes {k}": v for k, v in apply_purposes(session, specs).items() if v}
    row = session.get(SystemSetting, POLICY_VERSION_KEY)
    current = None if row is None else str(row.value)
    if current != spec.policy_version:
        if spec.policy_version is None:
            session.delete(row)
        elif row is None:
            session.add(SystemSetting(key=POLICY_VERSION_KEY, value=spec.policy_version, updated_at=utcnow()))
        else:
            row.value, row.updated_at = spec.policy_version, utcnow()
        changes["policy version"] = [f"{current or 'unset'} → {spec.policy_version or 'unset'}"]
    before = retention.get_policy(session).model_dump()
    after = retention.set_policy(session, spec.retention.model_dump(), actor).model_dump()
    changed = [f"{k}: {before[k]} → {after[k]}" for k in after if before[k] != after[k]]
    if changed:
        changes["retention"] = changed
    session.flush()
    return changes
