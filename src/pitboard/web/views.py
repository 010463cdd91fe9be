"""The web shell: sessions, static files, login/logout and the home dashboard; record pages in ``pages``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from markupsafe import Markup
from starlette.middleware.sessions import SessionMiddleware

from pitboard.api.deps import SessionDep
from pitboard.auth import service as auth_service
from pitboard.kit.errors import Unauthorized
from pitboard.kit.time import utcnow
from pitboard.settings import Settings
from pitboard.web import (
    charts,
    consent_pages,
    data_pages,
    dedupe_pages,
    measurement_pages,
    pages,
    public_pages,
    quality_pages,
    routing_pages,
    scoring_pages,
    segment_pages,
    workboard_pages,
    workflow_pages,
)
from pitboard.web.auth import (
    CsrfFailed,
    CsrfForm,
    CurrentUser,
    LoginRequired,
    csrf_token,
    end_session,
    safe_next,
    start_session,
)
from pitboard.web.dashboard import DashboardCache
from pitboard.web.render import STATIC_DIR, error_page, render, url_with

SESSION_COOKIE = "pitboard_session"

router = APIRouter(include_in_schema=False)


def install(app: FastAPI, settings: Settings) -> None:
    secret = settings.resolved_secret_key()
    app.state.web_secret = secret
    app.state.dashboard_cache = DashboardCache()
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age_seconds,
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(router)
    app.include_router(pages.router)
    app.include_router(data_pages.router)
    app.include_router(quality_pages.router)
    app.include_router(dedupe_pages.router)
    app.include_router(public_pages.router)
    app.include_router(consent_pages.router)
    app.include_router(segment_pages.router)
    app.include_router(scoring_pages.router)
    app.include_router(routing_pages.router)
    app.include_router(workflow_pages.router)
    app.include_router(measurement_pages.router)
    app.include_router(workboard_pages.router)
    app.add_exception_handler(LoginRequired, _to_login)
    app.add_exception_handler(CsrfFailed, _csrf_failed)
    # api/errors.py renders HTTP errors outside /api/ and /v1/ with this, so a browser gets a page, not JSON.
    app.state.html_error_page = error_page


async def _to_login(request: Request, exc: Exception) -> Response:
    target = exc.next_path if isinstance(exc, LoginRequired) else "/"
    if target == "/":
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(url_with("/login", next=target), status_code=303)


async def _csrf_failed(request: Request, _exc: Exception) -> Response:
    return error_page(
        request,
        403,
        "This form has expired or did not come from pitboard, so nothing was done. "
        "Go back, reload the page and submit it again.",
    )


@router.get("/login")
def login_form(request: Request, next_path: Annotated[str | None, Query(alias="next")] = None) -> Response:
    csrf_token(request)  # the anonymous session gets its token before the form is shown
    return render(request, "login.html", {"next": safe_next(next_path), "email": "", "error": None})


@router.post("/login")
def login_submit(request: Request, form: CsrfForm, session: SessionDep) -> Response:
    email = form.get("email")
    password = form.get("password")
    next_path = safe_next(form.get("next"))
    email_text = email if isinstance(email, str) else ""
    try:
        user = auth_service.authenticate(
            session, email=email_text, password=password if isinstance(password, str) else ""
        )
    except Unauthorized:
        # One message for unknown email, wrong password and inactive user: no account enumeration.
        context = {"next": next_path, "email": email_text, "error": "That email and password do not match."}
        return render(request, "login.html", context, status_code=401)
    start_session(request, user, request.app.state.web_secret)
    return RedirectResponse(next_path, status_code=303)


@router.post("/logout")
def logout(request: Request, _form: CsrfForm) -> Response:
    end_session(request)
    return RedirectResponse("/login", status_code=303)


@router.get("/")
def home(request: Request, user: CurrentUser, session: SessionDep) -> Response:
    cache: DashboardCache = request.app.state.dashboard_cache
    data, live = cache.get(session, utcnow())
    contacts_chart = charts.bar_chart(
        data.contacts_per_month.labels,
        data.contacts_per_month.series[0].values,
        title="New contacts per month, last 12 months",
    )
    events_chart = charts.stacked_bar_chart(
        data.events_per_week.labels,
        data.events_per_week.series,
        title="Events per week by channel, last 12 weeks",
    )
    # The chart functions escape every label themselves, so their SVG can go into the page as markup.
    context = {
        "nav": "home",
        "data": data,
        "live": live,
        "contacts_chart": Markup(contacts_chart),  # noqa: S704
        "events_chart": Markup(events_chart),  # noqa: S704
    }
    return render(request, "dashboard.html", context)
