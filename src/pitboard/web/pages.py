"""Record pages: contacts, accounts, campaigns, opportunities. All read-only, all behind login.

Lists page with the services' keyset cursors (fast at any depth, unlike OFFSET) and keep their filters in
the "next page" link. Query parameters arrive as text and are parsed leniently: a hand-edited URL with a
bad value shows the unfiltered list or a message, never a JSON error.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from pitboard.api.deps import SessionDep
from pitboard.campaigns import service as campaigns
from pitboard.campaigns.schemas import CAMPAIGN_STATUSES
from pitboard.contacts import service as contacts
from pitboard.kit.errors import NotFound, ValidationFailed
from pitboard.lifecycle.stages import DEFAULT_STAGES
from pitboard.models import Account, Opportunity, SalesUser
from pitboard.models.workboard import CampaignOps
from pitboard.pipeline import service as pipeline
from pitboard.pipeline.schemas import STAGES as OPPORTUNITY_STAGES
from pitboard.web import consent_pages, queries, scoring_pages
from pitboard.web.auth import CurrentUser
from pitboard.web.render import error_page, render, url_with

PAGE_SIZE = 50
OPPORTUNITY_STATUSES = ("open", "won", "lost")

router = APIRouter(include_in_schema=False)


def _text(value: str | None, max_length: int = 200) -> str | None:
    value = (value or "").strip()
    return value[:max_length] or None


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 19 else None


def _country(value: str | None) -> str | None:
    return (_text(value, 2) or "").upper() or None


def _choice(value: str | None, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


def _bad_cursor(request: Request, exc: ValidationFailed) -> Response:
    return error_page(request, 400, f"{exc.message}. Start again from the first page.")


# --- contacts ------------------------------------------------------------------------------------


@router.get("/contacts")
def contact_list(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    q: str | None = None,
    stage: str | None = None,
    country: str | None = None,
    account_id: str | None = None,
    cursor: str | None = None,
) -> Response:
    f = contacts.ContactFilter(
        q=_text(q),
        lifecycle_stage=_choice(stage, DEFAULT_STAGES),
        country=_country(country),
        account_id=_int(account_id),
    )
    params = {"q": f.q, "stage": f.lifecycle_stage, "country": f.country, "account_id": f.account_id}
    try:
        page = contacts.list_contacts(session, f, cursor=_text(cursor, 500), limit=PAGE_SIZE)
    except ValidationFailed as exc:
        return _bad_cursor(request, exc)
    account = session.get(Account, params["account_id"]) if params["account_id"] else None
    context = {
        "nav": "contacts",
        "params": params,
        "stages": DEFAULT_STAGES,
        "page": page,
        "total": contacts.count_contacts(session, f),
        "account": account,
        "is_first_page": not cursor,
        "next_url": url_with("/contacts", **params, cursor=page.next_cursor) if page.next_cursor else None,
        "first_url": url_with("/contacts", **params),
    }
    return render(request, "contacts/list.html", context)


@router.get("/contacts/{contact_id:int}")
def contact_detail(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    contact_id: int,
    before: str | None = None,
    before_id: str | None = None,
) -> Response:
    try:
        contact = contacts.get_contact(session, contact_id)
    except NotFound:
        return error_page(request, 404, f"There is no contact {contact_id}. It may have been deleted or merged.")
    cursor = queries.TimelineCursor.parse(before, before_id)
    timeline = queries.timeline(session, contact.id, cursor)
    next_cursor = timeline.next_cursor
    context = {
        "nav": "contacts",
        "contact": contact,
        "account": session.get(Account, contact.account_id) if contact.account_id else None,
        "owner": session.get(SalesUser, contact.owner_id) if contact.owner_id else None,
        "custom_fields": queries.custom_field_rows(session, "contact", contact.custom),
        "identities": contacts.contact_identities(session, contact.id),
        "stage_history": list(reversed(contacts.stage_history(session, contact.id))),
        "opportunities": queries.opportunities_for(session, Opportunity.contact_id == contact.id, limit=20),
        "events": timeline.events,
        "event_count": queries.count_events(session, contact.id),
        "property_summary": queries.property_summary,
        "consent": consent_pages.contact_consent(request, session, contact, user),
        "scores": scoring_pages.contact_scores(session, contact.id),
        "is_first_page": cursor is None,
        "next_url": (
            url_with(
                f"/contacts/{contact.id}",
                before=next_cursor.occurred_at.isoformat(),
                before_id=next_cursor.event_id,
            )
            + "#timeline"
            if next_cursor
            else None
        ),
    }
    return render(request, "contacts/detail.html", context)


# --- accounts ------------------------------------------------------------------------------------


@router.get("/accounts")
def account_list(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    q: str | None = None,
    country: str | None = None,
    industry: str | None = None,
    cursor: str | None = None,
) -> Response:
    f = contacts.AccountFilter(q=_text(q), country=_country(country), industry=_text(industry))
    params = {"q": f.q, "country": f.country, "industry": f.industry}
    try:
        page = contacts.list_accounts(session, f, cursor=_text(cursor, 500), limit=PAGE_SIZE)
    except ValidationFailed as exc:
        return _bad_cursor(request, exc)
    total_stmt = select(func.count()).select_from(contacts.account_query(session, f).subquery())
    context = {
        "nav": "accounts",
        "params": params,
        "page": page,
        "total": session.scalar(total_stmt) or 0,
        "contact_counts": queries.contact_counts(session, (a.id for a in page.items)),
        "is_first_page": not cursor,
        "next_url": url_with("/accounts", **params, cursor=page.next_cursor) if page.next_cursor else None,
        "first_url": url_with("/accounts", **params),
    }
    return render(request, "accounts/list.html", context)


@router.get("/accounts/{account_id:int}")
def account_detail(request: Request, user: CurrentUser, session: SessionDep, account_id: int) -> Response:
    try:
        account = contacts.get_account(session, account_id)
    except NotFound:
        return error_page(request, 404, f"There is no account {account_id}.")
    opportunities = queries.opportunities_for(session, Opportunity.account_id == account.id)
    context = {
        "nav": "accounts",
        "account": account,
        "owner": session.get(SalesUser, account.owner_id) if account.owner_id else None,
        "custom_fields": queries.custom_field_rows(session, "account", account.custom),
        "contacts": queries.account_contacts(session, account.id),
        "contact_total": queries.contact_counts(session, [account.id]).get(account.id, 0),
        "opportunities": opportunities,
        "contact_names": queries.contact_names(session, (o.contact_id for o in opportunities)),
    }
    return render(request, "accounts/detail.html", context)


# --- campaigns -----------------------------------------------------------------------------------


@router.get("/campaigns")
def campaign_list(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    q: str | None = None,
    status: str | None = None,
    channel: str | None = None,
    cursor: str | None = None,
) -> Response:
    f = campaigns.CampaignFilter(q=_text(q), status=_choice(status, CAMPAIGN_STATUSES), channel=_text(channel, 50))
    params = {"q": f.q, "status": f.status, "channel": f.channel}
    try:
        page = campaigns.list_campaigns(session, f, cursor=_text(cursor, 500), limit=PAGE_SIZE)
    except ValidationFailed as exc:
        return _bad_cursor(request, exc)
    context = {
        "nav": "campaigns",
        "params": params,
        "statuses": CAMPAIGN_STATUSES,
        "page": page,
        "total": session.scalar(select(func.count()).select_from(campaigns.campaign_query(f).subquery())) or 0,
        "pipeline": queries.sourced_pipeline(session, (c.id for c in page.items)),
        # Campaigns that came in through intake have an operations page (checklist, approvals, budget, go-live).
        "with_ops": set(
            session.scalars(
                select(CampaignOps.campaign_id).where(CampaignOps.campaign_id.in_([c.id for c in page.items]))
            )
        ),
        "is_first_page": not cursor,
        "next_url": url_with("/campaigns", **params, cursor=page.next_cursor) if page.next_cursor else None,
        "first_url": url_with("/campaigns", **params),
    }
    return render(request, "campaigns/list.html", context)


# --- opportunities -------------------------------------------------------------------------------


def _opportunity_filter(stage: str | None, status: str | None, account_id: int | None) -> pipeline.OpportunityFilter:
    closed: dict[str, Any] = {
        "open": {"is_closed": False},
        "won": {"is_won": True},
        "lost": {"is_closed": True, "is_won": False},
    }.get(status or "", {})
    return pipeline.OpportunityFilter(stage=stage, account_id=account_id, **closed)


@router.get("/opportunities")
def opportunity_list(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    stage: str | None = None,
    status: str | None = None,
    account_id: str | None = None,
    cursor: str | None = None,
) -> Response:
    status = _choice(status, OPPORTUNITY_STATUSES)
    f = _opportunity_filter(_choice(stage, OPPORTUNITY_STAGES), status, _int(account_id))
    params = {"stage": f.stage, "status": status, "account_id": f.account_id}
    try:
        page = pipeline.list_opportunities(session, f, cursor=_text(cursor, 500), limit=PAGE_SIZE)
    except ValidationFailed as exc:
        return _bad_cursor(request, exc)
    total, amounts = queries.opportunity_totals(session, pipeline.opportunity_query(f))
    context = {
        "nav": "opportunities",
        "params": params,
        "stages": OPPORTUNITY_STAGES,
        "statuses": OPPORTUNITY_STATUSES,
        "page": page,
        "total": total,
        "amounts": amounts,
        "account_names": queries.account_names(session, (o.account_id for o in page.items)),
        "contact_names": queries.contact_names(session, (o.contact_id for o in page.items)),
        "is_first_page": not cursor,
        "next_url": url_with("/opportunities", **params, cursor=page.next_cursor) if page.next_cursor else None,
        "first_url": url_with("/opportunities", **params),
    }
    return render(request, "opportunities/list.html", context)
