"""The parts of a project that ``pitboard apply`` applies, in order: what later parts read comes first
(purposes before anything that sends; lifecycle stages before scoring thresholds that set them; scores
before segments that may test them)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from pitboard.kit.actor import Actor
from pitboard.project.apply import register_component, register_simulator
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


@register_component("lifecycle", order=30)
def _lifecycle(session: Session, project: Project, actor: Actor) -> dict[str, list[str]]:
    from pitboard.lifecycle.definitions import apply_lifecycle
    from pitboard.lifecycle.schemas import LifecycleSpec

    spec = project.files.get("lifecycle.yml")
    return apply_lifecycle(session, spec, actor=actor) if isinstance(spec, LifecycleSpec) else {}


@register_component("scoring", order=40)
def _scoring(session: Session, project: Project, actor: Actor) -> dict[str, list[str]]:
    from pitboard.lifecycle.schemas import LifecycleSpec
    from pitboard.scoring.definitions import apply_models
    from pitboard.scoring.schemas import ScoringFile

    spec = project.files.get("scoring.yml")
    lifecycle = project.files.get("lifecycle.yml")
    models = spec.models if isinstance(spec, ScoringFile) else []
    # Thresholds name stages of the lifecycle being applied with them, not only of the one applied before.
    return apply_models(session, models, actor=actor,
                        lifecycle_spec=lifecycle if isinstance(lifecycle, LifecycleSpec) else None)  # fmt: skip


@register_component("segments", order=50)
def _segments(session: Session, project: Project, actor: Actor) -> dict[str, list[str]]:
    from pitboard.segments.service import apply_segments

    return apply_segments(session, project.segments, actor=actor)


@register_simulator("scoring")
def _simulate_scoring(session: Session, project: Project, since: date) -> dict[str, Any]:
    """MQLs per month under the applied and the proposed scoring, and the sales acceptance of the difference."""
    from pitboard.lifecycle.definitions import current_spec
    from pitboard.lifecycle.schemas import LifecycleSpec
    from pitboard.scoring.schemas import ScoringFile
    from pitboard.scoring.simulate import simulate

    spec = project.files.get("scoring.yml")
    if not isinstance(spec, ScoringFile):
        return {"notes": ["the project has no scoring.yml"]}
    lifecycle = project.files.get("lifecycle.yml")
    lifecycle_spec = lifecycle if isinstance(lifecycle, LifecycleSpec) else current_spec(session)
    report = simulate(session, models=spec.models, lifecycle_spec=lifecycle_spec, since=since)
    return report.to_dict()


@register_component("routing", order=60)
def _routing(session: Session, project: Project, actor: Actor) -> dict[str, list[str]]:
    from pitboard.routing.schemas import RoutingFile
    from pitboard.routing.service import apply_flow

    spec = project.files.get("routing.yml")
    return apply_flow(session, spec if isinstance(spec, RoutingFile) else None, actor=actor)


@register_simulator("routing")
def _simulate_routing(session: Session, project: Project, since: date) -> dict[str, Any]:
    """Who would have got which of the leads routed since ``since`` under the proposed routing.yml."""
    from pitboard.routing.schemas import RoutingFile
    from pitboard.routing.simulate import simulate

    spec = project.files.get("routing.yml")
    if not isinstance(spec, RoutingFile):
        return {"notes": ["the project has no routing.yml"]}
    return simulate(session, spec, since=since)


@register_component("metrics", order=80)
def _metrics(session: Session, project: Project, actor: Actor) -> dict[str, list[str]]:
    from pitboard.measurement.schemas import MetricsFile
    from pitboard.measurement.service import apply_metrics_file

    spec = project.files.get("metrics.yml")
    return apply_metrics_file(session, spec if isinstance(spec, MetricsFile) else None, actor=actor)


@register_component("campaign_ops", order=90)
def _campaign_ops(session: Session, project: Project, actor: Actor) -> dict[str, list[str]]:
    from pitboard.workboard.board import apply_spec
    from pitboard.workboard.config import CampaignOpsFile

    spec = project.files.get("campaign_ops.yml")
    return apply_spec(session, spec if isinstance(spec, CampaignOpsFile) else None, actor=actor)


@register_component("workflows", order=70)
def _workflows(session: Session, project: Project, actor: Actor) -> dict[str, list[str]]:
    from pitboard.workflows.service import apply_workflows

    return apply_workflows(session, project.workflows, actor=actor)


@register_simulator("workflows")
def _simulate_workflows(session: Session, project: Project, since: date) -> dict[str, Any]:
    """Who would have enrolled in each workflow since ``since`` and which steps they would have passed."""
    from pitboard.workflows.simulate import simulate

    return simulate(session, project.workflows, since)
