"""Turn one mapped row into a clean record for its entity, or say everything that is wrong with it.

Pure and fast (bulk import runs every row through here): no database, no pydantic per row.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pitboard.contacts.custom_fields import CustomFieldError, FieldSpec, coerce_all
from pitboard.lifecycle.stages import DEFAULT_STAGES
from pitboard.pipeline.schemas import STAGES as DEAL_STAGES
from pitboard.quality.apply import account_values, contact_values
from pitboard.quality.normalize import normalize_domain as domain_info

Record = dict[str, Any]
_LIMITS = {
    "first_name": 100, "last_name": 100, "title": 200, "phone": 50, "company_name": 300, "city": 100,
    "lead_source": 100, "name": 300, "industry": 100, "region": 100, "external_id": 100, "channel": 50,
}  # fmt: skip


class Problems(list[str]):
    pass


def parse_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Epoch milliseconds (HubSpot's API) when large, else seconds.
        return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, tz=UTC)
    text = str(value).strip()
    if text.isdigit():
        return parse_datetime(int(text))
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def normalize_domain(value: str) -> str | None:
    """The web host of a URL or domain (``www.`` dropped), or None when it is not one."""
    info = domain_info(value)
    return info.host if info.valid else None


def _text(rec: Record, out: Record, problems: Problems, fields: tuple[str, ...]) -> None:
    for f in fields:
        if f in rec:
            value = str(rec[f]).strip()
            if len(value) > _LIMITS.get(f, 300):
                problems.append(f"{f} is longer than {_LIMITS.get(f, 300)} characters")
            else:
                out[f] = value


def _when(rec: Record, out: Record, problems: Problems, f: str) -> None:
    if f in rec:
        try:
            out[f] = parse_datetime(rec[f])
        except (ValueError, OSError, OverflowError):
            problems.append(f"{f} is not a date-time: {rec[f]!r}")


def _decimal(rec: Record, out: Record, problems: Problems, f: str) -> None:
    if f in rec:
        try:
            number = Decimal(str(rec[f]).replace(",", "").strip())
        except InvalidOperation:
            problems.append(f"{f} must be a number, got {rec[f]!r}")
            return
        if not number.is_finite() or number < 0:
            problems.append(f"{f} must be zero or more, got {rec[f]!r}")
        else:
            out[f] = number


def _custom(rec: Record, out: Record, problems: Problems, specs: dict[str, FieldSpec]) -> None:
    raw = {k.removeprefix("custom."): v for k, v in rec.items() if k.startswith("custom.")}
    if raw:
        try:
            out["custom"] = coerce_all(specs, raw, partial=True)
        except CustomFieldError as exc:
            problems.append(f"custom fields: {exc}")


_CONTACT_TEXT = ("email", "first_name", "last_name", "title", "phone", "company_name", "country", "region", "city")
_ACCOUNT_TEXT = ("name", "domain", "country", "region")


def _normalised(rec: Record, fields: tuple[str, ...], apply: Any, out: Record, problems: Problems) -> None:
    """Run the shared write-path normalisation (quality/apply.py) over the row's text fields."""
    given = {f: str(rec[f]) for f in fields if f in rec}
    if not given:
        return
    applied = apply(given)
    problems.extend(applied.rejects.values())
    for f, value in applied.values.items():
        if value is None and f in fields and f not in given:
            continue
        out[f] = value
    if applied.originals:
        out["original_values"] = applied.originals


def clean_contact(rec: Record, specs: dict[str, FieldSpec]) -> tuple[Record, Problems]:
    out: Record = {}
    problems = Problems()
    _normalised(rec, _CONTACT_TEXT, contact_values, out, problems)
    _text(out, out, problems, ("first_name", "last_name", "title", "phone", "company_name", "city", "region"))
    _text(rec, out, problems, ("external_id", "lead_source"))
    if "lifecycle_stage" in rec:
        stage = str(rec["lifecycle_stage"]).strip().lower()
        if stage in DEFAULT_STAGES:
            out["lifecycle_stage"] = stage
        else:
            problems.append(
                f"lifecycle_stage must be one of {', '.join(DEFAULT_STAGES)}, got {rec['lifecycle_stage']!r}"
            )
    if "account_domain" in rec:
        out["account_domain"] = normalize_domain(str(rec["account_domain"]))
    _when(rec, out, problems, "created_at")
    _custom(rec, out, problems, specs)
    if "email" not in rec and "external_id" not in rec:
        problems.append("a contact needs an email or an external_id to be matched on")
    return out, problems


def clean_account(rec: Record, specs: dict[str, FieldSpec]) -> tuple[Record, Problems]:
    out: Record = {}
    problems = Problems()
    _normalised(rec, _ACCOUNT_TEXT, account_values, out, problems)
    _text(out, out, problems, ("name", "region"))
    _text(rec, out, problems, ("industry", "external_id"))
    if "employee_count" in rec:
        try:
            count = int(Decimal(str(rec["employee_count"]).replace(",", "")))
            if count < 0:
                raise ValueError
            out["employee_count"] = count
        except (InvalidOperation, ValueError):
            problems.append(f"employee_count must be a whole number ≥ 0, got {rec['employee_count']!r}")
    _decimal(rec, out, problems, "annual_revenue")
    _custom(rec, out, problems, specs)
    if "name" not in out and out.get("domain"):
        out["name"] = out["domain"]
    if "name" not in out and "external_id" not in out:
        problems.append("an account needs a name or domain (or an external_id to update)")
    if "domain" not in rec and "external_id" not in rec:
        problems.append("an account needs a domain or an external_id to be matched on")
    return out, problems


def clean_opportunity(rec: Record, _specs: dict[str, FieldSpec]) -> tuple[Record, Problems]:
    out: Record = {}
    problems = Problems()
    _text(rec, out, problems, ("external_id", "name"))
    _decimal(rec, out, problems, "amount")
    if "currency" in rec:
        cur = str(rec["currency"]).strip().upper()
        if len(cur) == 3 and cur.isalpha():
            out["currency"] = cur
        else:
            problems.append(f"currency must be a three-letter ISO 4217 code, got {rec['currency']!r}")
    if "stage" in rec:
        stage = str(rec["stage"]).strip().lower().replace(" ", "_")
        if stage in DEAL_STAGES:
            out["stage"] = stage
        else:
            problems.append(f"stage must be one of {', '.join(DEAL_STAGES)}, got {rec['stage']!r}")
    _when(rec, out, problems, "opened_at")
    _when(rec, out, problems, "closed_at")
    for f in ("account_external_id", "contact_email"):
        if f in rec:
            out[f] = str(rec[f]).strip().split(";")[0]
    if "account_domain" in rec:
        out["account_domain"] = normalize_domain(str(rec["account_domain"]))
    if "external_id" not in out:
        problems.append("an opportunity needs an external_id to be matched on")
    if "name" not in out:
        problems.append("name is required")
    return out, problems


def clean_spend(rec: Record, _specs: dict[str, FieldSpec]) -> tuple[Record, Problems]:
    out: Record = {}
    problems = Problems()
    if "campaign" in rec:
        out["campaign"] = str(rec["campaign"]).strip()
    else:
        problems.append("campaign is required (its name or utm_campaign)")
    if "date" in rec:
        try:
            out["date"] = date.fromisoformat(str(rec["date"]).strip()[:10])
        except ValueError:
            problems.append(f"date must be YYYY-MM-DD, got {rec['date']!r}")
    else:
        problems.append("date is required")
    _decimal(rec, out, problems, "amount")
    if "amount" not in rec:
        problems.append("amount is required")
    _text(rec, out, problems, ("channel",))
    out.setdefault("channel", "")
    cur = str(rec.get("currency", "USD")).strip().upper()
    if len(cur) == 3 and cur.isalpha():
        out["currency"] = cur
    else:
        problems.append(f"currency must be a three-letter ISO 4217 code, got {rec['currency']!r}")
    return out, problems


def event_message(rec: Record) -> Record:
    """A Segment-spec message from an event row; normalisation and validation happen in events/normalize."""
    properties: dict[str, Any] = {}
    if "properties" in rec:
        raw = rec["properties"]
        try:
            properties = raw if isinstance(raw, dict) else json.loads(raw)
        except json.JSONDecodeError:
            properties = {"properties": raw}
    properties.update({k.removeprefix("properties."): v for k, v in rec.items() if k.startswith("properties.")})
    message: Record = {"type": rec.get("type", "track"), "properties": properties, "context": {}}
    for src, dst in (("message_id", "messageId"), ("event", "event"), ("name", "name"), ("user_id", "userId"),
                     ("anonymous_id", "anonymousId"), ("timestamp", "timestamp")):  # fmt: skip
        if src in rec:
            message[dst] = rec[src]
    campaign = {k.removeprefix("utm_"): rec[k] for k in rec if k.startswith("utm_")}
    if "campaign" in campaign:
        campaign["name"] = campaign.pop("campaign")
    if campaign:
        message["context"]["campaign"] = campaign
    page = {k: rec[f] for k, f in (("url", "page_url"), ("referrer", "referrer")) if f in rec}
    if page:
        message["context"]["page"] = page
    if "email" in rec:
        message["context"]["traits"] = {"email": rec["email"]}
    return message


CLEANERS: dict[str, Callable[[Record, dict[str, FieldSpec]], tuple[Record, Problems]]] = {
    "contacts": clean_contact,
    "accounts": clean_account,
    "opportunities": clean_opportunity,
    "campaign_spend": clean_spend,
}
