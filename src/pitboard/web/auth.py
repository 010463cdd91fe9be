"""Web login state: who is signed in (a signed session cookie) and CSRF tokens for every form.

The session is Starlette's signed cookie: no server-side store to run or clean up, and its signature
(the app's secret key) plus a max age bound its lifetime. The cookie is signed, not encrypted, so it
holds nothing secret: a user id, the CSRF token and a fingerprint of the password hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import DetachedInstanceError
from starlette.datastructures import FormData

from pitboard.api.deps import SessionDep
from pitboard.kit.actor import Actor
from pitboard.kit.db import session_factory
from pitboard.models import User

SESSION_USER = "uid"
SESSION_FINGERPRINT = "pwfp"
SESSION_CSRF = "csrf"
CSRF_FIELD = "csrf_token"


class LoginRequired(Exception):
    """Raised by :func:`require_user`; the web app answers with a redirect to the login form."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfFailed(Exception):
    """A POST without the session's CSRF token: answered with a 403 page."""


# --- CSRF ----------------------------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use (the login form gets one before anyone logs in)."""
    token = request.session.get(SESSION_CSRF)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return token


def check_csrf(request: Request, form: FormData) -> None:
    sent = form.get(CSRF_FIELD)
    expected = request.session.get(SESSION_CSRF)
    if not isinstance(sent, str) or not isinstance(expected, str) or not expected:
        raise CsrfFailed
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfFailed


async def csrf_form(request: Request) -> FormData:
    """Dependency for every POST route: the parsed form, after its CSRF token has been checked."""
    form = await request.form()
    check_csrf(request, form)
    return form


CsrfForm = Annotated[FormData, Depends(csrf_form)]


# --- redirects -----------------------------------------------------------------------------------


def safe_next(value: object, default: str = "/") -> str:
    """A post-login destination, only if it is a path on this site (no open redirect to other hosts).

    Rejects absolute URLs, scheme-relative ``//host`` and ``/\\host`` (browsers treat a backslash like a
    slash), and control characters that could split headers.
    """
    if not isinstance(value, str) or not value.startswith("/") or len(value) > 2000:
        return default
    if value.startswith(("//", "/\\")) or any(ord(c) < 32 or c == "\\" for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


# --- sessions ------------------------------------------------------------------------------------


def password_fingerprint(user: User, secret: str) -> str:
    """Changes when the password changes, so a new password ends every session started with the old one."""
    return hmac.new(secret.encode(), user.password_hash.encode(), hashlib.sha256).hexdigest()[:24]


def start_session(request: Request, user: User, secret: str) -> None:
    """Rotate on login: drop whatever the anonymous session held and issue a fresh CSRF token."""
    request.session.clear()
    request.session[SESSION_USER] = user.id
    request.session[SESSION_FINGERPRINT] = password_fingerprint(user, secret)
    request.session[SESSION_CSRF] = secrets.token_urlsafe(32)


def end_session(request: Request) -> None:
    request.session.clear()


def _requested_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def session_user(request: Request, session: Session) -> User | None:
    """The signed-in, still active user named by this request's cookie, or None."""
    user_id = request.session.get(SESSION_USER)
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.active:
        return None
    secret: str = request.app.state.web_secret
    fingerprint = str(request.session.get(SESSION_FINGERPRINT, ""))
    return user if hmac.compare_digest(fingerprint, password_fingerprint(user, secret)) else None


def require_user(request: Request, session: SessionDep) -> User:
    """Dependency for every page but the login form: the signed-in, still active user."""
    user = session_user(request, session)
    if user is None:
        if SESSION_USER in request.session:
            end_session(request)  # a stale or revoked session: drop it rather than re-check it on every page
        raise LoginRequired(_requested_path(request) if request.method == "GET" else "/")
    request.state.user = user
    return user


def user_outside_route(request: Request) -> User | None:
    """The signed-in user for pages rendered outside a route (an unknown path's 404, a refused form), so
    they keep the menu. The route's own user object is used while it can still be read; once the failed
    request's session has rolled back (and released SQLite's write lock), it is loaded afresh."""
    known = getattr(request.state, "user", None)
    if known is not None:
        try:
            known.email  # noqa: B018  (reading it tells whether the object is still usable)
        except DetachedInstanceError:
            pass
        else:
            return known  # type: ignore[no-any-return]
    if SESSION_USER not in request.session:
        return None
    session = session_factory(request.app.state.engine)()
    try:
        return session_user(request, session)
    finally:
        session.close()  # ends the read transaction; the user stays loaded (detached, not expired)


CurrentUser = Annotated[User, Depends(require_user)]


# --- what page handlers ask about the signed-in person ------------------------------------------------------

WRITE_ROLES = ("editor", "admin")


def web_actor(user: User) -> Actor:
    """The person signed in, as the services' actor (audit entries say "web")."""
    return Actor(name=user.email, interface="web", role=user.role)


def can_write(user: User) -> bool:
    """Whether the person may change things (pages show or hide their forms by it; services check again)."""
    return user.role in WRITE_ROLES


def form_text(form: FormData, name: str, max_length: int = 2000) -> str:
    """A form field as trimmed text, cut to ``max_length``; missing fields and file uploads read as ""."""
    value = form.get(name)
    return value.strip()[:max_length] if isinstance(value, str) else ""
