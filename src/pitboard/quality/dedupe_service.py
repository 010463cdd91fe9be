"""Running deduplication against the database: store candidate pairs, merge the sure ones, queue the rest.

Pairs at or above the auto-merge threshold are merged at once (survivor: the oldest record, values by
the survivorship rules, every merge recorded and reversible). Pairs in the review band wait in
``dedupe_candidates`` for a person to merge or reject; a rejected pair is remembered and never proposed
again. Account pairs are queued for review only: merging companies moves contacts and pipeline, which we
leave to a person (merge_accounts, equally recorded and reversible).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.contacts.account_merge import merge_accounts
from pitboard.contacts.merge import merge_contacts
from pitboard.kit.actor import Actor
from pitboard.kit.errors import NotFound, ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.models import Contact, DedupeCandidate
from pitboard.quality.dedupe import DedupeConfig, dedupe_accounts, dedupe_contacts, load_accounts, load_contacts


@dataclass
class DedupeRunSummary:
    contacts: int = 0
    pairs: Counter[str] = field(default_factory=Counter)  # by band
    merged: int = 0
    queued: int = 0
    skipped_decided: int = 0
    account_pairs: int = 0
    timings: dict[str, float] = field(default_factory=dict)


def _decided(session: Session, entity: str) -> dict[tuple[int, int], DedupeCandidate]:
    rows = session.scalars(select(DedupeCandidate).where(DedupeCandidate.entity == entity))
    return {(r.left_id, r.right_id): r for r in rows}


def _store(
    session: Session, known: dict[tuple[int, int], DedupeCandidate], entity: str, left: int, right: int,
    *, probability: float, weight: float, band: str, explanation: list[Any],
) -> DedupeCandidate | None:  # fmt: skip
    """The candidate row for a pair, created or refreshed; None if a person already decided it."""
    key = (min(left, right), max(left, right))
    row = known.get(key)
    if row is not None and row.status != "open":
        return None
    if row is None:
        row = DedupeCandidate(
            entity=entity, left_id=key[0], right_id=key[1], status="open", created_at=utcnow(),
            probability=probability, match_weight=weight, band=band, explanation=explanation,
        )  # fmt: skip
        session.add(row)
        known[key] = row
    else:
        row.probability, row.match_weight, row.band, row.explanation = probability, weight, band, explanation
    return row


def run_dedupe(
    session: Session, *, actor: Actor, auto_merge: bool = True, config: DedupeConfig | None = None
) -> DedupeRunSummary:
    actor.require("editor")
    summary = DedupeRunSummary()
    records = load_contacts(session)
    summary.contacts = len(records)
    result = dedupe_contacts(records, config)
    summary.timings = dict(result.timings)
    known = _decided(session, "contact")
    auto_rows: dict[tuple[int, int], DedupeCandidate] = {}
    for pair in result.pairs:
        summary.pairs[pair.band] += 1
        row = _store(session, known, "contact", pair.left_id, pair.right_id, probability=pair.probability,
                     weight=pair.match_weight, band=pair.band, explanation=list(pair.explanation))  # fmt: skip
        if row is None:
            summary.skipped_decided += 1
        elif pair.band == "auto_merge":
            auto_rows[(row.left_id, row.right_id)] = row
    session.flush()
    if auto_merge:
        summary.merged = _merge_clusters(session, result.auto_clusters, auto_rows, known, actor)
    account_pairs, _clusters = dedupe_accounts(load_accounts(session))
    known_accounts = _decided(session, "account")
    for ap in account_pairs:
        row = _store(session, known_accounts, "account", ap.left_id, ap.right_id, probability=1.0, weight=0.0,
                     band="review", explanation=list(ap.explanation))  # fmt: skip
        summary.account_pairs += row is not None
    session.flush()
    summary.queued = (
        session.scalar(select(func.count()).select_from(DedupeCandidate).where(DedupeCandidate.status == "open")) or 0
    )
    audit.record(session, actor=actor, action="dedupe", entity_type="contacts", entity_id="*",
                 changes={"pairs": [None, dict(summary.pairs)], "merged": [None, summary.merged]})  # fmt: skip
    return summary


def _merge_clusters(
    session: Session,
    clusters: list[list[int]],
    rows: dict[tuple[int, int], DedupeCandidate],
    known: dict[tuple[int, int], DedupeCandidate],
    actor: Actor,
) -> int:
    """Merge each auto-merge cluster into its oldest contact; pairs a person rejected are left alone."""
    merged = 0
    for cluster in clusters:
        ids = sorted(cluster)
        survivor = ids[0]
        for other in ids[1:]:
            key = (survivor, other)
            if key in known and known[key].status == "rejected":
                continue
            if session.get(Contact, other) is None or session.get(Contact, survivor) is None:
                continue  # already merged elsewhere (say, by identity resolution)
            record = merge_contacts(session, survivor_id=survivor, merged_id=other, actor=actor,
                                    reason="dedupe: matched above the auto-merge threshold")  # fmt: skip
            for pair_key in (key, (min(other, survivor), max(other, survivor))):
                if pair_key in rows:
                    rows[pair_key].status, rows[pair_key].merge_id = "merged", record.id
                    rows[pair_key].decided_by, rows[pair_key].decided_at = actor.name, utcnow()
            merged += 1
    return merged


def decide(session: Session, candidate_id: int, *, merge: bool, actor: Actor) -> DedupeCandidate:
    """A person's decision on a queued pair: merge it (the older record survives) or reject it for good."""
    actor.require("editor")
    row = session.get(DedupeCandidate, candidate_id)
    if row is None:
        raise NotFound(f"dedupe candidate {candidate_id} does not exist")
    if row.status != "open":
        raise ValidationFailed(f"candidate {candidate_id} was already {row.status}")
    if merge:
        merge_fn = merge_contacts if row.entity == "contact" else merge_accounts
        record = merge_fn(session, survivor_id=row.left_id, merged_id=row.right_id, actor=actor,
                          reason=f"dedupe review: approved candidate {candidate_id}")  # fmt: skip
        row.merge_id = record.id
    row.status = "merged" if merge else "rejected"
    row.decided_by, row.decided_at = actor.name, utcnow()
    audit.record(session, actor=actor, action="merge" if merge else "reject", entity_type="dedupe_candidate",
                 entity_id=candidate_id, changes={"status": ["open", row.status]})  # fmt: skip
    return row


def review_queue(session: Session, *, entity: str = "contact", limit: int = 100) -> list[DedupeCandidate]:
    stmt = (
        select(DedupeCandidate)
        .where(DedupeCandidate.entity == entity, DedupeCandidate.status == "open")
        .order_by(DedupeCandidate.probability.desc(), DedupeCandidate.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))
