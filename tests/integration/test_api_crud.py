"""CRUD, filtering, pagination and custom fields across the REST resources."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

API = "/api/v1"


def _post(client: TestClient, headers: dict[str, str], path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(f"{API}{path}", json=body, headers=headers)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def test_keyset_pagination_walks_every_row_once(client: TestClient, admin_headers: dict[str, str]) -> None:
    ids = [_post(client, admin_headers, "/contacts", {"email": f"p{i}@example.com"})["id"] for i in range(7)]
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = client.get(f"{API}/contacts", params=params, headers=admin_headers).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids


def test_bad_cursor_and_limit_are_clear_errors(client: TestClient, admin_headers: dict[str, str]) -> None:
    r = client.get(f"{API}/contacts", params={"cursor": "garbage!"}, headers=admin_headers)
    assert r.status_code == 422
    assert "cursor" in r.json()["message"]
    r = client.get(f"{API}/contacts", params={"limit": 0}, headers=admin_headers)
    assert r.status_code == 422


def test_contact_search_and_filters(client: TestClient, admin_headers: dict[str, str]) -> None:
    acct = _post(client, admin_headers, "/accounts", {"name": "Acme GmbH", "domain": "https://www.Acme.de/about"})
    assert acct["domain"] == "acme.de"
    _post(
        client,
        admin_headers,
        "/contacts",
        {
            "email": "ann@acme.de",
            "first_name": "Ann",
            "last_name": "Lee",
            "country": "DE",
            "account_id": acct["id"],
            "lifecycle_stage": "mql",
        },
    )
    _post(
        client,
        admin_headers,
        "/contacts",
        {"email": "bob@other.com", "first_name": "Bob", "country": "US", "company_name": "50%_Off Ltd"},
    )

    def emails(**params: Any) -> list[str]:
        r = client.get(f"{API}/contacts", params=params, headers=admin_headers)
        assert r.status_code == 200, r.text
        return [c["email"] for c in r.json()["items"]]

    assert emails(q="ann lee") == ["ann@acme.de"]
    assert emails(q="ACME") == ["ann@acme.de"]
    assert emails(country="us") == ["bob@other.com"]
    assert emails(lifecycle_stage="mql") == ["ann@acme.de"]
    assert emails(account_id=acct["id"]) == ["ann@acme.de"]
    # LIKE wildcards in the search text are literal characters.
    assert emails(q="50%_off") == ["bob@other.com"]
    assert emails(q="a%e") == []  # would match ann@acme.de if % were a wildcard


def test_typed_custom_fields_are_validated_and_filterable(client: TestClient, admin_headers: dict[str, str]) -> None:
    for field in (
        {"entity": "contact", "name": "plan", "label": "Plan", "field_type": "enum", "options": ["free", "pro"]},
        {"entity": "contact", "name": "seats", "label": "Seats", "field_type": "integer"},
        {"entity": "contact", "name": "trial", "label": "On trial", "field_type": "boolean"},
    ):
        _post(client, admin_headers, "/custom-fields", field)
    dup = client.post(
        f"{API}/custom-fields",
        json={"entity": "contact", "name": "plan", "label": "x", "field_type": "text"},
        headers=admin_headers,
    )
    assert dup.status_code == 409

    a = _post(client, admin_headers, "/contacts", {"email": "a@x.io", "custom": {"plan": "pro", "seats": "12"}})
    assert a["custom"] == {"plan": "pro", "seats": 12}
    _post(client, admin_headers, "/contacts", {"email": "b@x.io", "custom": {"plan": "free", "trial": "yes"}})

    bad = client.post(
        f"{API}/contacts", json={"email": "c@x.io", "custom": {"plan": "gold", "sets": 1}}, headers=admin_headers
    )
    assert bad.status_code == 422
    assert "plan must be one of free, pro" in bad.json()["message"]
    assert "sets is not a defined custom field" in bad.json()["message"]

    def emails(**params: Any) -> list[str]:
        return [c["email"] for c in client.get(f"{API}/contacts", params=params, headers=admin_headers).json()["items"]]

    assert emails(**{"custom.plan": "pro"}) == ["a@x.io"]
    assert emails(**{"custom.seats": "12"}) == ["a@x.io"]
    assert emails(**{"custom.trial": "true"}) == ["b@x.io"]
    r = client.get(f"{API}/contacts", params={"custom.nope": "1"}, headers=admin_headers)
    assert r.status_code == 422

    patched = client.patch(f"{API}/contacts/{a['id']}", json={"custom": {"seats": 20}}, headers=admin_headers).json()
    assert patched["custom"] == {"plan": "pro", "seats": 20}


def test_account_crud_and_domain_uniqueness(client: TestClient, admin_headers: dict[str, str]) -> None:
    a = _post(
        client,
        admin_headers,
        "/accounts",
        {
            "name": "Globex",
            "domain": "globex.com",
            "employee_count": 250,
            "annual_revenue": "1250000.50",
            "country": "us",
        },
    )
    assert a["country"] == "US"
    assert a["annual_revenue"] == "1250000.50"
    r = client.post(f"{API}/accounts", json={"name": "Globex 2", "domain": "GLOBEX.com"}, headers=admin_headers)
    assert r.status_code == 409
    r = client.patch(f"{API}/accounts/{a['id']}", json={"industry": "Software"}, headers=admin_headers)
    assert r.json()["industry"] == "Software"
    assert (
        client.get(f"{API}/accounts", params={"q": "glob"}, headers=admin_headers).json()["items"][0]["id"] == a["id"]
    )
    r = client.post(f"{API}/accounts", json={"name": "Bad", "domain": "not a domain"}, headers=admin_headers)
    assert r.status_code == 422
    assert client.delete(f"{API}/accounts/{a['id']}", headers=admin_headers).status_code == 204


def test_campaign_crud_and_checks(client: TestClient, admin_headers: dict[str, str]) -> None:
    c = _post(
        client,
        admin_headers,
        "/campaigns",
        {
            "name": "2026-Q4 Webinar",
            "campaign_type": "webinar",
            "channel": "Email",
            "budget": "5000",
            "start_date": "2026-10-01T00:00:00Z",
        },
    )
    assert c["status"] == "planned"
    r = client.patch(f"{API}/campaigns/{c['id']}", json={"end_date": "2026-09-01T00:00:00Z"}, headers=admin_headers)
    assert r.status_code == 422
    assert "end_date is before start_date" in r.json()["message"]
    r = client.post(f"{API}/campaigns", json={"name": "x", "campaign_type": "telepathy"}, headers=admin_headers)
    assert r.status_code == 422
    r = client.post(
        f"{API}/campaigns", json={"name": "2026-Q4 Webinar", "campaign_type": "email"}, headers=admin_headers
    )
    assert r.status_code == 409
    live = client.patch(f"{API}/campaigns/{c['id']}", json={"status": "live"}, headers=admin_headers).json()
    assert live["status"] == "live"
    assert [
        x["id"]
        for x in client.get(f"{API}/campaigns", params={"status": "live"}, headers=admin_headers).json()["items"]
    ] == [c["id"]]


@pytest.mark.parametrize(("stage", "closed", "won"), [("closed_won", True, True), ("closed_lost", True, False)])
def test_opportunity_close_flags_follow_the_stage(
    client: TestClient, admin_headers: dict[str, str], stage: str, closed: bool, won: bool
) -> None:
    acct = _post(client, admin_headers, "/accounts", {"name": "Initech", "domain": "initech.com"})
    o = _post(
        client,
        admin_headers,
        "/opportunities",
        {"name": "Initech platform", "account_id": acct["id"], "amount": "48000", "stage": "proposal"},
    )
    assert (o["is_closed"], o["is_won"], o["closed_at"]) == (False, False, None)
    r = client.patch(f"{API}/opportunities/{o['id']}", json={"stage": stage}, headers=admin_headers).json()
    assert (r["is_closed"], r["is_won"]) == (closed, won)
    assert r["closed_at"] is not None
    reopened = client.patch(f"{API}/opportunities/{o['id']}", json={"stage": "negotiation"}, headers=admin_headers)
    assert reopened.json()["closed_at"] is None
    r = client.get(
        f"{API}/opportunities", params={"account_id": acct["id"], "min_amount": 40000}, headers=admin_headers
    )
    assert len(r.json()["items"]) == 1
    r = client.post(f"{API}/opportunities", json={"name": "x", "account_id": 999999}, headers=admin_headers)
    assert r.status_code == 422
    assert "account_id 999999 does not exist" in r.json()["message"]


def test_openapi_documents_the_resources(client: TestClient) -> None:
    paths = client.get(f"{API}/openapi.json").json()["paths"]
    for resource in ("contacts", "accounts", "campaigns", "opportunities"):
        assert f"{API}/{resource}" in paths
        assert f"{API}/{resource}/{{{resource[:-1] if resource != 'opportunities' else 'opportunity'}_id}}" in paths


def test_writes_are_normalised_and_originals_kept(client: TestClient, admin_headers: dict[str, str]) -> None:
    c = _post(client, admin_headers, "/contacts", {
        "email": " Ann.Lee@Acme.CO.UK ", "first_name": "ANN", "last_name": "o'neil", "country": "United Kingdom",
        "phone": "020 7946 0018", "title": "VP, Demand Generation", "company_name": "ACME LTD",
    })  # fmt: skip
    assert (c["email"], c["country"], c["phone"]) == ("ann.lee@acme.co.uk", "GB", "+442079460018")
    assert (c["first_name"], c["last_name"]) == ("Ann", "O'Neil")
    assert (c["seniority"], c["job_function"], c["email_domain"], c["is_free_mail"]) == (
        "vp", "marketing", "acme.co.uk", False,
    )  # fmt: skip
    assert c["original_values"]["country"] == "United Kingdom"
    assert c["original_values"]["phone"] == "020 7946 0018"

    r = client.patch(f"{API}/contacts/{c['id']}", json={"country": "DE", "title": None}, headers=admin_headers)
    body = r.json()
    assert body["country"] == "DE"
    assert "country" not in body["original_values"]  # written anew, needing no normalisation
    assert (body["seniority"], body["job_function"]) == (None, None)

    bad = client.post(f"{API}/contacts", json={"email": "b@x.io", "country": "Atlantis"}, headers=admin_headers)
    assert bad.status_code == 422
    assert "'Atlantis' is not a known country" in bad.json()["message"]
    odd = _post(client, admin_headers, "/contacts", {"email": "c@x.io", "phone": "12", "country": "US"})
    assert odd["phone"] == "12"  # kept as typed: still worth having, counted by data-quality scores

    a = _post(client, admin_headers, "/accounts", {"name": "ACME GMBH", "domain": "https://shop.Acme.co.uk/x"})
    assert (a["domain"], a["registered_domain"], a["name"]) == ("shop.acme.co.uk", "acme.co.uk", "Acme GmbH")
