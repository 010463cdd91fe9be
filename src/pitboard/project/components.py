"""The parts of a project that ``pitboard apply`` applies, in order: what later parts read comes first
(purposes before anything that sends; lifecycle stages before scoring thresholds that set them; scores
before segments that may test them)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from pitboard.kit.actor import Actor
from pitboard.project.apply import register_component
from pitboard.project.loader import Project
from pitboard.project.schemas import PrivacyFile


@register_component("privacy", order=10)
def _privacy(session: Session, project: Project, actor: Actor) -> dict[str, list[str]]:
    from pitboard.consent.project import apply_privacy

    spec = project.files.get("privacy.yml")
    return apply_privacy(session, spec, actor=actor) if isinstance(spec, PrivacyFile) else {}


@register_component("contracts", order=20)
def _contracts(session: Session, project: Project, actor: Actor) -> dict[str, list[str]]:
    from pitboard.quality.contract_store import apply_contracts

    result = apply_contracts(session, project.contracts, actor=actor)
    return {k: v for k, v in (("created", result.created), ("updated", result.updated),
                              ("deactivated", result.deactivated)) if v}  # fmt: skip
