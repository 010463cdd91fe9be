"""REST routes for notification endpoints and deliveries (included by ``workflows.api`` under /api/v1)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from pitboard.api.deps import ActorDep, SessionDep
from pitboard.models.workflows import NotifyDelivery, NotifyEndpoint
from pitboard.notify import endpoints, notify
from pitboard.notify import tasks as notify_tasks

router = APIRouter(tags=["notify"])


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["slack", "webhook"]
    url: str = Field(max_length=2000, description="http(s) URL, or env:NAME")
    secret: str | None = Field(default=None, max_length=300, description="Webhooks: whsec_<base64>, or env:NAME")
    description: str | None = None
    active: bool = True


class EndpointOut(BaseModel):
    key: str
    kind: str
    url: str = Field(description="Shown only when it comes from the environment (env:NAME); else masked")
    has_secret: bool
    description: str | None
    active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: NotifyEndpoint) -> EndpointOut:
        # A Slack webhook URL is itself a credential: show its host only.
        shown = row.url if row.url.startswith(endpoints.ENV_PREFIX) else _mask(row.url)
        return cls(key=row.key, kind=row.kind, url=shown, has_secret=row.secret is not None,
                   description=row.description, active=row.active, created_at=row.created_at,
                   updated_at=row.updated_at)  # fmt: skip


def _mask(url: str) -> str:
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0]
    return f"{scheme}://{host}/…"


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    endpoint_key: str
    channel: str
    idempotency_key: str
    webhook_id: str
    subject: str
    status: str
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class TestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str = Field(description="email:<address>, slack:<key> or webhook:<key>")
    subject: str = "pitboard test notification"
    text: str = "If you can read this, pitboard can reach you."
    idempotency_key: str


@router.get("/notify/endpoints", response_model=list[EndpointOut])
def list_endpoints(session: SessionDep, actor: ActorDep) -> list[EndpointOut]:
    actor.require("viewer")
    return [EndpointOut.of(row) for row in endpoints.list_endpoints(session)]


@router.put("/notify/endpoints/{key}", response_model=EndpointOut)
def put_endpoint(key: str, body: EndpointIn, session: SessionDep, actor: ActorDep) -> EndpointOut:
    row = endpoints.set_endpoint(session, key=key, actor=actor, **body.model_dump())
    return EndpointOut.of(row)


@router.delete("/notify/endpoints/{key}", status_code=204)
def delete_endpoint(key: str, session: SessionDep, actor: ActorDep) -> Response:
    endpoints.delete_endpoint(session, key, actor=actor)
    return Response(status_code=204)


@router.post("/notify/test", status_code=202)
def send_test(body: TestIn, session: SessionDep, actor: ActorDep) -> dict[str, str]:
    actor.require("admin")
    notify(session, to=body.to, subject=body.subject, text=body.text, idempotency_key=body.idempotency_key)
    return {"status": "queued"}


@router.get("/notify/deliveries", response_model=list[DeliveryOut])
def list_deliveries(
    session: SessionDep, actor: ActorDep, status: str | None = None, limit: int = 100
) -> list[NotifyDelivery]:
    actor.require("viewer")
    stmt = select(NotifyDelivery).order_by(NotifyDelivery.id.desc()).limit(max(1, min(limit, 500)))
    if status:
        stmt = stmt.where(NotifyDelivery.status == status)
    return list(session.scalars(stmt))


@router.post("/notify/deliveries/{delivery_id}/replay", response_model=DeliveryOut)
def replay_delivery(delivery_id: int, session: SessionDep, actor: ActorDep) -> NotifyDelivery:
    actor.require("editor")
    return notify_tasks.replay(session, delivery_id)
