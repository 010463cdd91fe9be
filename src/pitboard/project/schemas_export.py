"""JSON Schemas of the project files, for editor completion and validation while typing.

Domains add their file schemas with :func:`register_file_schema`; the condition language's schema is part of
those that embed conditions (segments, scoring, lifecycle rules).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pitboard.lifecycle.schemas import lifecycle_json_schema
from pitboard.project.schemas import PrivacyFile, ProjectFile
from pitboard.quality.contracts import Contract
from pitboard.scoring.schemas import scoring_json_schema
from pitboard.segments.schemas import segment_file_schema

SchemaFn = Callable[[], dict[str, Any]]
_SCHEMAS: dict[str, SchemaFn] = {
    "pitboard": ProjectFile.model_json_schema,
    "lifecycle": lifecycle_json_schema,
    "scoring": scoring_json_schema,
    "segment": segment_file_schema,
    "privacy": PrivacyFile.model_json_schema,
    "contract": Contract.model_json_schema,
}


def register_file_schema(name: str, fn: SchemaFn) -> None:
    _SCHEMAS[name] = fn


def all_schemas() -> dict[str, dict[str, Any]]:
    from pitboard.project import apply

    apply.components()
    return {name: fn() for name, fn in sorted(_SCHEMAS.items())}


def write_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in all_schemas().items():
        path = folder / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written
