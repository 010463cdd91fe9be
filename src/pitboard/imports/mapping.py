"""How the columns of a file become pitboard fields: built-in presets for HubSpot and Salesforce
export files, or a user mapping file (YAML).

Export files carry far more columns than pitboard needs. With a preset or mapping file, columns it
does not map are listed in the import summary as ignored (never silently). Without one, the header
must use pitboard's own field names, and any other column is an error: a typo in a hand-made file
should stop the import, not lose a column of data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from pitboard.kit.errors import ValidationFailed

ENTITIES = ("contacts", "accounts", "opportunities", "events", "campaign_spend")

# The fields each entity accepts (``custom.<name>`` is accepted too for contacts and accounts).
FIELDS: dict[str, tuple[str, ...]] = {
    "contacts": (
        "email", "first_name", "last_name", "title", "phone", "company_name", "country", "city",
        "lifecycle_stage", "lead_source", "external_id", "account_domain", "created_at",
    ),
    "accounts": (
        "name", "domain", "industry", "employee_count", "annual_revenue", "country", "region", "external_id",
    ),
    "opportunities": (
        "external_id", "name", "amount", "currency", "stage", "opened_at", "closed_at", "account_external_id",
        "account_domain", "contact_email",
    ),
    "events": (
        "message_id", "type", "event", "name", "user_id", "anonymous_id", "email", "timestamp", "utm_source",
        "utm_medium", "utm_campaign", "utm_term", "utm_content", "page_url", "referrer", "properties",
    ),
    "campaign_spend": ("campaign", "date", "channel", "amount", "currency"),
}  # fmt: skip

_STAGE_WORDS = {
    "subscriber": "subscriber", "lead": "lead", "marketingqualifiedlead": "mql", "marketing qualified lead": "mql",
    "mql": "mql", "salesacceptedlead": "sal", "sal": "sal", "salesqualifiedlead": "sql", "sales qualified lead": "sql",
    "sql": "sql", "opportunity": "opportunity", "customer": "customer", "evangelist": "customer",
    "other": "recycled", "open": "lead", "working - contacted": "lead", "working": "lead",
    "nurturing": "recycled", "qualified": "sql", "unqualified": "disqualified", "closed - converted": "sql",
    "closed - not converted": "disqualified",
}  # fmt: skip
_DEAL_STAGES = {
    "appointmentscheduled": "discovery", "qualifiedtobuy": "qualification", "presentationscheduled": "solution",
    "decisionmakerboughtin": "proposal", "contractsent": "negotiation", "closedwon": "closed_won",
    "closedlost": "closed_lost", "prospecting": "discovery", "qualification": "qualification",
    "needs analysis": "qualification", "value proposition": "solution", "id. decision makers": "solution",
    "perception analysis": "solution", "proposal/price quote": "proposal", "negotiation/review": "negotiation",
    "closed won": "closed_won", "closed lost": "closed_lost",
}  # fmt: skip

PRESETS: dict[str, dict[str, dict[str, str]]] = {
    "hubspot": {
        "contacts": {
            "Record ID": "external_id", "Email": "email", "First Name": "first_name", "Last Name": "last_name",
            "Job Title": "title", "Phone Number": "phone", "Company Name": "company_name",
            "Country/Region": "country", "City": "city", "Lifecycle Stage": "lifecycle_stage",
            "Original Source": "lead_source", "Create Date": "created_at", "Website URL": "account_domain",
        },
        "accounts": {
            "Record ID": "external_id", "Company name": "name", "Company Domain Name": "domain",
            "Industry": "industry", "Number of Employees": "employee_count", "Annual Revenue": "annual_revenue",
            "Country/Region": "country",
        },
        "opportunities": {
            "Record ID": "external_id", "Deal Name": "name", "Amount": "amount", "Deal Stage": "stage",
            "Create Date": "opened_at", "Close Date": "closed_at", "Currency": "currency",
            "Associated Company IDs": "account_external_id",
        },
    },
    "salesforce": {
        "contacts": {
            "Lead ID": "external_id", "Contact ID": "external_id", "Email": "email", "First Name": "first_name",
            "Last Name": "last_name", "Title": "title", "Phone": "phone", "Company": "company_name",
            "Account Name": "company_name", "Country": "country", "Mailing Country": "country", "City": "city",
            "Mailing City": "city", "Lead Status": "lifecycle_stage", "Lead Source": "lead_source",
            "Created Date": "created_at",
        },
        "accounts": {
            "Account ID": "external_id", "Account Name": "name", "Website": "domain", "Industry": "industry",
            "Employees": "employee_count", "Annual Revenue": "annual_revenue", "Billing Country": "country",
        },
        "opportunities": {
            "Opportunity ID": "external_id", "Opportunity Name": "name", "Amount": "amount", "Stage": "stage",
            "Created Date": "opened_at", "Close Date": "closed_at", "Account ID": "account_external_id",
            "Opportunity Currency": "currency",
        },
    },
}  # fmt: skip
PRESET_VALUES: dict[str, dict[str, str]] = {"lifecycle_stage": _STAGE_WORDS, "stage": _DEAL_STAGES}


class MappingFile(BaseModel):
    """A user mapping file: ``columns`` maps a file's column to a pitboard field; ``values`` maps
    a field's incoming values to pitboard's (``lifecycle_stage: {Hot: mql}``)."""

    model_config = ConfigDict(extra="forbid")

    entity: str
    system: str | None = None
    columns: dict[str, str]
    values: dict[str, dict[str, str]] = {}


@dataclass(frozen=True)
class Mapping:
    entity: str
    name: str | None  # preset or file name, for the import history
    system: str  # external ids are stored as identities of kind external:<system>
    columns: dict[str, str]  # file column → field
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()

    def apply(self, row: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for column, value in row.items():
            target = self.columns.get(column)
            if target is None or value is None or value == "":
                continue
            if isinstance(value, str):
                value = value.strip()
                lookup = self.values.get(target)
                if lookup:
                    value = lookup.get(value.lower(), lookup.get(value, value))
            out.setdefault(target, value)  # the first mapped column with a value wins
        return out


def _identity_columns(entity: str, columns: list[str]) -> tuple[dict[str, str], list[str]]:
    fields = set(FIELDS[entity])
    mapped: dict[str, str] = {}
    unknown: list[str] = []
    for column in columns:
        if column in fields or (column.startswith(("custom.", "properties.")) and entity != "campaign_spend"):
            mapped[column] = column
        else:
            unknown.append(column)
    return mapped, unknown


def build_mapping(
    entity: str, columns: list[str], *, preset: str | None = None, mapping_file: Path | None = None
) -> Mapping:
    if entity not in ENTITIES:
        raise ValidationFailed(f"cannot import {entity!r}; choose one of {', '.join(ENTITIES)}")
    if preset and mapping_file:
        raise ValidationFailed("use a preset or a mapping file, not both")
    if preset:
        if preset not in PRESETS:
            raise ValidationFailed(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
        table = PRESETS[preset].get(entity)
        if table is None:
            raise ValidationFailed(f"the {preset} preset has no mapping for {entity}")
        identity, _ = _identity_columns(entity, columns)
        mapped = {c: table[c] for c in columns if c in table} | identity
        return Mapping(entity, preset, preset, mapped, PRESET_VALUES, tuple(c for c in columns if c not in mapped))
    if mapping_file:
        return _from_file(entity, columns, mapping_file)
    mapped, unknown = _identity_columns(entity, columns)
    if unknown:
        raise ValidationFailed(
            f"columns pitboard does not know: {', '.join(unknown)}. Use pitboard's field names "
            f"({', '.join(FIELDS[entity])}, custom.<field>), a --preset, or a --mapping file."
        )
    return Mapping(entity, None, "import", mapped)


def _from_file(entity: str, columns: list[str], path: Path) -> Mapping:
    try:
        spec = MappingFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError, OSError) as exc:
        raise ValidationFailed(f"mapping file {path}: {exc}") from exc
    if spec.entity != entity:
        raise ValidationFailed(f"mapping file {path} is for {spec.entity}, not {entity}")
    allowed = set(FIELDS[entity])
    bad = [t for t in spec.columns.values() if t not in allowed and not t.startswith(("custom.", "properties."))]
    if bad:
        raise ValidationFailed(f"mapping file {path} maps to unknown fields: {', '.join(bad)}")
    values = {f: {k.lower(): v for k, v in m.items()} for f, m in spec.values.items()}
    mapped = {c: spec.columns[c] for c in columns if c in spec.columns}
    system = spec.system or re.sub(r"[^a-z0-9_]+", "_", path.stem.lower())
    return Mapping(entity, path.name, system, mapped, values, tuple(c for c in columns if c not in mapped))
