"""Consent purposes: why we contact someone. Defaults below; a project's ``privacy.yml`` replaces them."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pitboard.kit.errors import ValidationFailed
from pitboard.models import ConsentPurpose
from pitboard.models.consent import CHANNELS

REGIMES = ("opt_in", "opt_out")


@dataclass(frozen=True)
class PurposeSpec:
    key: str
    label: str
    channels: tuple[str, ...]
    description: str | None = None
    regime: str = "opt_in"
    double_opt_in: bool = False
    consent_text: str | None = None
    active: bool = True
    extra: dict[str, str] = field(default_factory=dict)


DEFAULT_PURPOSES = (
    PurposeSpec("newsletter", "Newsletter", ("email",), "Our newsletter: articles, guides and event invitations.",
                double_opt_in=True, consent_text="Yes, send me the newsletter. I can unsubscribe at any time."),
    PurposeSpec("product_updates", "Product updates", ("email",), "Release notes and product announcements.",
                consent_text="Send me product updates and release notes."),
    PurposeSpec("events", "Events", ("email", "sms"), "Invitations to webinars, conferences and meetups.",
                consent_text="Invite me to webinars and events."),
    PurposeSpec("sales_outreach", "Sales outreach", ("email", "phone", "sms"),
                "A salesperson may contact me about offers that fit my company.",
                consent_text="A salesperson may contact me by email, phone or text message."),
)  # fmt: skip


def check_spec(spec: PurposeSpec) -> None:
    if not spec.key.replace("_", "").isalnum() or not spec.key[:1].isalpha():
        raise ValidationFailed(f"purpose key {spec.key!r} must be lower_snake_case")
    bad = [c for c in spec.channels if c not in CHANNELS]
    if bad or not spec.channels:
        raise ValidationFailed(f"purpose {spec.key}: channels must be some of {', '.join(CHANNELS)}")
    if spec.regime not in REGIMES:
        raise ValidationFailed(f"purpose {spec.key}: regime must be opt_in or opt_out")
    if spec.double_opt_in and "email" not in spec.channels:
        raise ValidationFailed(f"purpose {spec.key}: double opt-in is confirmed by email; add the email channel")


def load_purposes(session: Session) -> dict[str, ConsentPurpose]:
    """Every purpose by key; a database that has none gets the defaults (first use, or a test's empty tables)."""
    rows = session.scalars(select(ConsentPurpose).order_by(ConsentPurpose.id)).all()
    if not rows:
        try:
            with session.begin_nested():
                for spec in DEFAULT_PURPOSES:
                    session.add(_row(spec))
        except IntegrityError:
            pass  # another process seeded them first
        rows = session.scalars(select(ConsentPurpose).order_by(ConsentPurpose.id)).all()
    return {row.key: row for row in rows}


def get_purpose(session: Session, key: str) -> ConsentPurpose:
    purposes = load_purposes(session)
    if key not in purposes:
        raise ValidationFailed(f"unknown consent purpose {key!r}; known: {', '.join(sorted(purposes))}")
    return purposes[key]


def _row(spec: PurposeSpec) -> ConsentPurpose:
    return ConsentPurpose(
        key=spec.key, label=spec.label, description=spec.description, channels=list(spec.channels),
        regime=spec.regime, double_opt_in=spec.double_opt_in, consent_text=spec.consent_text, active=spec.active,
    )  # fmt: skip


def apply_purposes(session: Session, specs: list[PurposeSpec]) -> dict[str, list[str]]:
    """Make the table match ``specs``. Purposes missing from the file are deactivated, never deleted:
    ledger entries refer to them by key and must stay readable."""
    for spec in specs:
        check_spec(spec)
    existing = load_purposes(session)
    changes: dict[str, list[str]] = {"created": [], "updated": [], "deactivated": []}
    for spec in specs:
        row = existing.get(spec.key)
        if row is None:
            session.add(_row(spec))
            changes["created"].append(spec.key)
            continue
        new = _row(spec)
        fields = ("label", "description", "channels", "regime", "double_opt_in", "consent_text", "active")
        if any(getattr(row, f) != getattr(new, f) for f in fields):
            for f in fields:
                setattr(row, f, getattr(new, f))
            changes["updated"].append(spec.key)
    wanted = {s.key for s in specs}
    for key, row in existing.items():
        if key not in wanted and row.active:
            row.active = False
            changes["deactivated"].append(key)
    session.flush()
    return changes
