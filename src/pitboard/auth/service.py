from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.kit.actor import Actor
from pitboard.kit.errors import Conflict, Unauthorized, ValidationFailed
from pitboard.kit.security import generate_api_key, hash_api_key, hash_password, verify_password
from pitboard.kit.time import utcnow
from pitboard.models import ROLES, ApiKey, User

MIN_PASSWORD_LENGTH = 8


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ROLES)}, not {role!r}")


def create_user(session: Session, *, email: str, name: str, password: str, role: str, actor: Actor) -> User:
    _check_role(role)
    email = email.strip().lower()
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with email {email} already exists")
    user = User(email=email, name=name, password_hash=hash_password(password), role=role, active=True)
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        entity_type="user",
        entity_id=user.id,
        changes={"email": [None, email], "role": [None, role]},
    )
    return user


def authenticate(session: Session, *, email: str, password: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    # Verify against a dummy hash when the user is unknown so timing does not reveal which emails exist.
    encoded = user.password_hash if user else _DUMMY_HASH
    if not verify_password(password, encoded) or user is None or not user.active:
        raise Unauthorized("email or password is wrong")
    user.last_login_at = utcnow()
    return user


_DUMMY_HASH = hash_password("not-a-real-password")


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    secret: str  # shown once; only its hash is stored


def create_api_key(
    session: Session, *, name: str, role: str, actor: Actor, created_by_id: int | None = None
) -> IssuedKey:
    _check_role(role)
    secret = generate_api_key()
    key = ApiKey(
        name=name,
        prefix=secret[:10],
        key_hash=hash_api_key(secret),
        role=role,
        created_at=utcnow(),
        created_by_id=created_by_id,
    )
    session.add(key)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        entity_type="api_key",
        entity_id=key.id,
        changes={"name": [None, name], "role": [None, role]},
    )
    return IssuedKey(api_key=key, secret=secret)


def resolve_api_key(session: Session, secret: str) -> ApiKey:
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_api_key(secret)))
    if key is None or key.revoked_at is not None:
        raise Unauthorized("API key is not valid")
    key.last_used_at = utcnow()
    return key


def revoke_api_key(session: Session, *, key_id: int, actor: Actor) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise ValidationFailed(f"no API key with id {key_id}")
    key.revoked_at = utcnow()
    audit.record(session, actor=actor, action="revoke", entity_type="api_key", entity_id=key.id, changes={})
    return key


def list_api_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0
