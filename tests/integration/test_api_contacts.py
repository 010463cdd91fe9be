from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.models import AuditEntry, Identity, LifecycleStageChange


def test_health_reports_schema_at_head(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["schema_revision"] is not None


def test_api_needs_a_valid_key(client: TestClient) -> None:
    r = client.get("/api/v1/contacts")
    assert r.status_code == 401
    assert r.json()["code"] == "unauthorized"
    r = client.get("/api/v1/contacts", headers={"Authorization": "Bearer pb_wrong"})
    assert r.status_code == 401


def test_viewer_reads_but_cannot_write(client: TestClient, viewer_headers: dict[str, str]) -> None:
    assert client.get("/api/v1/contacts", headers=viewer_headers).status_code == 200
    r = client.post("/api/v1/contacts", json={"email": "a@example.com"}, headers=viewer_headers)
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden"


def test_contact_crud_with_identity_stage_history_and_audit(
    client: TestClient, admin_headers: dict[str, str], session: Session
) -> None:
    r = client.post(
        "/api/v1/contacts",
        json={"email": "Jane.Doe@Example.com", "first_name": "Jane", "last_name": "Doe", "country": "de"},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    contact = r.json()
    assert contact["country"] == "DE"
    assert contact["lifecycle_stage"] == "subscriber"

    r = client.patch(f"/api/v1/contacts/{contact['id']}", json={"lifecycle_stage": "mql"}, headers=admin_headers)
    assert r.status_code == 200
    assert r.json()["lifecycle_stage"] == "mql"

    stages = session.scalars(select(LifecycleStageChange.to_stage).order_by(LifecycleStageChange.id)).all()
    assert stages == ["subscriber", "mql"]
    identity = session.scalars(select(Identity)).one()
    assert (identity.kind, identity.value) == ("email", "jane.doe@example.com")
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.entity_type == "contact").order_by(AuditEntry.id)
    ).all()
    assert actions == ["create", "update"]

    session.rollback()  # end the read transaction: SQLite writers wait for it

    dup = client.post("/api/v1/contacts", json={"email": "jane.doe@example.com"}, headers=admin_headers)
    assert dup.status_code == 409
    assert dup.json()["details"] == {"contact_id": contact["id"]}

    assert client.delete(f"/api/v1/contacts/{contact['id']}", headers=admin_headers).status_code == 204
    assert client.get(f"/api/v1/contacts/{contact['id']}", headers=admin_headers).status_code == 404


def test_bad_input_is_a_json_error_with_code_and_message(client: TestClient, admin_headers: dict[str, str]) -> None:
    r = client.post("/api/v1/contacts", json={"email": "not an email"}, headers=admin_headers)
    assert r.status_code == 422
    assert r.json()["code"] == "validation_error"
    assert "email" in r.json()["message"]
    r = client.post("/api/v1/contacts", json={"unknown_field": 1}, headers=admin_headers)
    assert r.status_code == 422
    assert "unknown_field" in r.json()["message"]
    r = client.post(
        "/api/v1/contacts", content=b"{not json", headers={**admin_headers, "content-type": "application/json"}
    )
    assert r.status_code == 422
    assert set(r.json()) >= {"code", "message"}
