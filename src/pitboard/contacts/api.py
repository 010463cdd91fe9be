"""REST routes for contacts, accounts and custom field definitions."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Response

from pitboard.api.deps import ActorDep, SessionDep
from pitboard.api.schemas import Limit, PageOut, custom_filters
from pitboard.contacts import service
from pitboard.contacts.schemas import (
    AccountCreate,
    AccountOut,
    AccountUpdate,
    ContactCreate,
    ContactOut,
    ContactUpdate,
    CustomFieldCreate,
    CustomFieldOut,
)

router = APIRouter()


@router.get("/contacts", response_model=PageOut[ContactOut], tags=["contacts"])
def list_contacts(
    session: SessionDep,
    _actor: ActorDep,
    q: str | None = Query(default=None, description="Search name, email, company"),
    email: str | None = None,
    country: str | None = None,
    lifecycle_stage: str | None = None,
    account_id: int | None = None,
    owner_id: int | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    updated_after: datetime | None = None,
    account_match: str | None = Query(default=None, description="domain, name, fuzzy_name or unmatched"),
    cursor: str | None = None,
    limit: int = Depends(Limit()),
    custom: tuple[tuple[str, str], ...] = Depends(custom_filters),
) -> PageOut[ContactOut]:
    f = service.ContactFilter(
        q=q, email=email, country=country, lifecycle_stage=lifecycle_stage, account_id=account_id,
        owner_id=owner_id, created_after=created_after, created_before=created_before,
        updated_after=updated_after, account_match=account_match, custom=custom,
    )  # fmt: skip
    page = service.list_contacts(session, f, cursor=cursor, limit=limit)
    return PageOut(items=[ContactOut.model_validate(c) for c in page.items], next_cursor=page.next_cursor)


@router.post("/contacts", response_model=ContactOut, status_code=201, tags=["contacts"])
def create_contact(data: ContactCreate, session: SessionDep, actor: ActorDep) -> ContactOut:
    return ContactOut.model_validate(service.create_contact(session, data, actor=actor))


@router.get("/contacts/{contact_id}", response_model=ContactOut, tags=["contacts"])
def get_contact(contact_id: int, session: SessionDep, _actor: ActorDep) -> ContactOut:
    return ContactOut.model_validate(service.get_contact(session, contact_id))


@router.patch("/contacts/{contact_id}", response_model=ContactOut, tags=["contacts"])
def update_contact(contact_id: int, data: ContactUpdate, session: SessionDep, actor: ActorDep) -> ContactOut:
    return ContactOut.model_validate(service.update_contact(session, contact_id, data, actor=actor))


@router.delete("/contacts/{contact_id}", status_code=204, tags=["contacts"])
def delete_contact(contact_id: int, session: SessionDep, actor: ActorDep) -> Response:
    service.delete_contact(session, contact_id, actor=actor)
    return Response(status_code=204)


@router.get("/accounts", response_model=PageOut[AccountOut], tags=["accounts"])
def list_accounts(
    session: SessionDep,
    _actor: ActorDep,
    q: str | None = Query(default=None, description="Search name and domain"),
    domain: str | None = None,
    country: str | None = None,
    industry: str | None = None,
    owner_id: int | None = None,
    cursor: str | None = None,
    limit: int = Depends(Limit()),
    custom: tuple[tuple[str, str], ...] = Depends(custom_filters),
) -> PageOut[AccountOut]:
    f = service.AccountFilter(q=q, domain=domain, country=country, industry=industry, owner_id=owner_id, custom=custom)
    page = service.list_accounts(session, f, cursor=cursor, limit=limit)
    return PageOut(items=[AccountOut.model_validate(a) for a in page.items], next_cursor=page.next_cursor)


@router.post("/accounts", response_model=AccountOut, status_code=201, tags=["accounts"])
def create_account(data: AccountCreate, session: SessionDep, actor: ActorDep) -> AccountOut:
    return AccountOut.model_validate(service.create_account(session, data, actor=actor))


@router.get("/accounts/{account_id}", response_model=AccountOut, tags=["accounts"])
def get_account(account_id: int, session: SessionDep, _actor: ActorDep) -> AccountOut:
    return AccountOut.model_validate(service.get_account(session, account_id))


@router.patch("/accounts/{account_id}", response_model=AccountOut, tags=["accounts"])
def update_account(account_id: int, data: AccountUpdate, session: SessionDep, actor: ActorDep) -> AccountOut:
    return AccountOut.model_validate(service.update_account(session, account_id, data, actor=actor))


@router.delete("/accounts/{account_id}", status_code=204, tags=["accounts"])
def delete_account(account_id: int, session: SessionDep, actor: ActorDep) -> Response:
    service.delete_account(session, account_id, actor=actor)
    return Response(status_code=204)


@router.get("/custom-fields", response_model=list[CustomFieldOut], tags=["custom fields"])
def list_custom_fields(session: SessionDep, _actor: ActorDep, entity: str | None = None) -> list[CustomFieldOut]:
    return [CustomFieldOut.model_validate(r) for r in service.list_custom_fields(session, entity)]


@router.post("/custom-fields", response_model=CustomFieldOut, status_code=201, tags=["custom fields"])
def create_custom_field(data: CustomFieldCreate, session: SessionDep, actor: ActorDep) -> CustomFieldOut:
    return CustomFieldOut.model_validate(service.create_custom_field(session, data, actor=actor))
