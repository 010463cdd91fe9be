"""Signed links sent by email: double opt-in confirmation, the preference centre, one-click unsubscribe.

The links carry a signed, timestamped payload (itsdangerous, keyed by the installation's secret), so they
work without a login and cannot be forged or altered; each kind has its own salt so a preference link
cannot be replayed as a confirmation link. Confirmation links expire quickly (settings:
``double_opt_in_max_age_hours``); preference and unsubscribe links live long (``preference_link_max_age_days``)
because people unsubscribe from old emails and the law expects that to keep working.
"""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from pitboard.kit.errors import ValidationFailed
from pitboard.settings import Settings

KINDS = ("double_opt_in", "preferences", "unsubscribe")


class LinkExpired(ValidationFailed):
    pass


def _serializer(settings: Settings, kind: str) -> URLSafeTimedSerializer:
    if kind not in KINDS:
        raise ValueError(kind)
    return URLSafeTimedSerializer(settings.resolved_secret_key(), salt=f"pitboard.consent.{kind}")


def make_token(settings: Settings, kind: str, payload: dict[str, Any]) -> str:
    return str(_serializer(settings, kind).dumps(payload))


def max_age_seconds(settings: Settings, kind: str) -> int:
    if kind == "double_opt_in":
        return settings.double_opt_in_max_age_hours * 3600
    return settings.preference_link_max_age_days * 86400


def read_token(settings: Settings, kind: str, token: str) -> dict[str, Any]:
    try:
        payload = _serializer(settings, kind).loads(token, max_age=max_age_seconds(settings, kind))
    except SignatureExpired as exc:
        raise LinkExpired("this link has expired") from exc
    except BadSignature as exc:
        raise ValidationFailed("this link is not valid") from exc
    if not isinstance(payload, dict):
        raise ValidationFailed("this link is not valid")
    return payload


def _url(settings: Settings, path: str, token: str) -> str:
    return f"{settings.base_url.rstrip('/')}{path}/{token}"


def double_opt_in_url(settings: Settings, *, contact_id: int, record_ids: list[int]) -> str:
    return _url(settings, "/consent/confirm", make_token(settings, "double_opt_in", {"c": contact_id, "r": record_ids}))


def preferences_url(settings: Settings, *, contact_id: int) -> str:
    return _url(settings, "/preferences", make_token(settings, "preferences", {"c": contact_id}))


def unsubscribe_url(settings: Settings, *, contact_id: int, purpose: str | None, message_id: int | None) -> str:
    payload = {"c": contact_id, "p": purpose, "m": message_id}
    return _url(settings, "/unsubscribe", make_token(settings, "unsubscribe", payload))
