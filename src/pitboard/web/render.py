"""Jinja2 environment, display filters and the one function every page renders through."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from fastapi import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from pitboard.kit.time import ensure_utc
from pitboard.web.auth import CSRF_FIELD, csrf_token, user_outside_route

WEB_DIR = Path(__file__).parent
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

# Pages carry personal data: keep them out of shared caches and the back-button cache after logout,
# and refuse framing (clickjacking). The CSP allows only our own files: no inline script anywhere.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
}

ACRONYM_STAGES = {"mql", "sal", "sql"}
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


# --- filters -------------------------------------------------------------------------------------


def fmt_datetime(value: datetime | None) -> str:
    if value is None:
        return "—"
    return ensure_utc(value).strftime("%d %b %Y, %H:%M")


def fmt_date(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = ensure_utc(value).date()
    return value.strftime("%d %b %Y")


def fmt_number(value: int | float | Decimal | None, decimals: int | None = None) -> str:
    """Thousands separators; whole numbers without decimals unless ``decimals`` says otherwise."""
    if value is None:
        return "—"
    if decimals is not None:
        return f"{float(value):,.{decimals}f}"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{float(value):,.2f}"


def fmt_money(amount: Decimal | float | None, currency: str = "USD", compact: bool = False) -> str:
    if amount is None:
        return "—"
    value = Decimal(str(amount))
    symbol = CURRENCY_SYMBOLS.get(currency.upper())
    if compact and abs(value) >= 1000:
        text = _compact(value)
    else:
        text = f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"
    return f"{symbol}{text}" if symbol else f"{text} {currency.upper()}"


def _compact(value: Decimal) -> str:
    """$6.2M, €958k: one decimal while it still says something, none from 100 up."""
    for threshold, suffix in ((Decimal(10**9), "B"), (Decimal(10**6), "M"), (Decimal(10**3), "k")):
        if abs(value) >= threshold:
            scaled = value / threshold
            text = f"{scaled:.1f}".rstrip("0").rstrip(".") if abs(scaled) < 100 else f"{scaled:.0f}"
            return text + suffix
    return f"{value:,.0f}"


def stage_label(stage: str | None) -> str:
    if not stage:
        return "—"
    if stage in ACRONYM_STAGES:
        return stage.upper()
    return stage.replace("_", " ").capitalize()


def person_name(first: str | None, last: str | None, email: str | None = None, fallback: str = "") -> str:
    name = " ".join(p for p in (first, last) if p)
    return name or email or fallback


def summarize(value: Any, limit: int = 80) -> str:
    """A short one-line rendering of a JSON value (event properties, custom fields)."""
    if isinstance(value, list):
        text = ", ".join(str(v) for v in value)
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    elif value is None:
        text = "—"
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def url_with(path: str, **params: Any) -> str:
    """``path`` with the non-empty query parameters, for filter-preserving pagination links."""
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


# --- environment ---------------------------------------------------------------------------------


def build_templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,  # every template, whatever its extension
        undefined=jinja2.StrictUndefined,  # a typo in a template is an error in the tests, not a blank cell
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        datetime=fmt_datetime,
        date=fmt_date,
        number=fmt_number,
        money=fmt_money,
        stage=stage_label,
        summarize=summarize,
    )
    env.globals.update(url_with=url_with, person_name=person_name, csrf_field=CSRF_FIELD)
    return Jinja2Templates(env=env)


TEMPLATES = build_templates()


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    ctx: dict[str, Any] = {
        "user": getattr(request.state, "user", None),
        "csrf_token": csrf_token(request),
        "nav": "",
        **(context or {}),
    }
    return TEMPLATES.TemplateResponse(request, name, ctx, status_code=status_code, headers=SECURITY_HEADERS)


ERROR_MESSAGES = {
    401: "Sign in to see this page.",
    403: "You do not have access to this page.",
    404: "There is nothing at this address. It may have been deleted or merged into another record.",
    405: "This address does not accept that kind of request.",
}
ERROR_TITLES = {
    400: "That request did not make sense",
    401: "Please sign in",
    403: "Not allowed",
    404: "Page not found",
    405: "Method not allowed",
}


def error_page(request: Request, status_code: int, message: str = "") -> HTMLResponse:
    """The HTML error page; also what the app's HTTP error handler shows for paths outside the APIs."""
    title = ERROR_TITLES.get(status_code, "Something went wrong")
    if not message or message == _phrase(status_code):
        message = ERROR_MESSAGES.get(status_code, "")
    user = user_outside_route(request)
    context = {"status_code": status_code, "title": title, "message": message, "user": user}
    return render(request, "error.html", context, status_code)


def _phrase(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return ""
