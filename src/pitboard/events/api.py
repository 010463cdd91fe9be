"""The Segment-spec tracking API at the server root (``/v1/track`` …), so existing client libraries
(analytics.js, analytics-python, RudderStack SDKs) can point at pitboard unchanged.

The body is read raw whatever the Content-Type says (browsers send text/plain to avoid CORS
preflights), gunzipped when the client says so, size-checked, decoded, normalised and committed
before we answer: a 200 means the events are on disk. Messages we cannot accept are quarantined
with their reasons, never dropped.
"""

from __future__ import annotations

import base64
import binascii
import threading
import zlib
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from pitboard.api.errors import error_body
from pitboard.events import ingest, sources
from pitboard.events.normalize import MessageError, NormalizedMessage, merge_batch_level, normalize_message
from pitboard.kit.actor import Actor
from pitboard.kit.db import session_factory
from pitboard.kit.errors import PitboardError, Unauthorized
from pitboard.kit.time import utcnow
from pitboard.models import QuarantinedRecord, Source
from pitboard.quality import quarantine
from pitboard.quality.contract_store import checker
from pitboard.settings import Settings

router = APIRouter(include_in_schema=True, tags=["tracking"])

SHORT = {"i": "identify", "t": "track", "p": "page", "s": "screen", "g": "group", "a": "alias", "b": "batch"}
SINGLE = ("identify", "track", "page", "screen", "group", "alias")
_RACE_RETRIES = 3


class BadRequest(PitboardError):
    code = "bad_request"
    status_code = 400


class _InFlight:
    """Counts ingest requests being processed; beyond the limit we answer 429 instead of queueing
    without bound (clients back off and retry with the same messageId, so nothing is lost)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def enter(self, limit: int) -> bool:
        with self._lock:
            if self.count >= limit:
                return False
            self.count += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self.count -= 1


IN_FLIGHT = _InFlight()


def _write_key(request: Request, body: dict[str, Any]) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            user = base64.b64decode(header[6:].strip()).decode().split(":", 1)[0]
        except (binascii.Error, UnicodeDecodeError):
            user = ""
        if user:
            return user
    key = request.headers.get("x-write-key") or body.get("writeKey")
    return str(key) if key else None


def _decode(raw: bytes, encoding: str, limit: int) -> dict[str, Any]:
    """The JSON object in ``raw`` (gunzipped first when the client says so), within the size limit."""
    if encoding in ("gzip", "deflate"):
        try:
            inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header, auto-detected
            raw = inflater.decompress(raw, limit + 1)
        except zlib.error as exc:
            raise BadRequest(f"body is not valid {encoding}: {exc}") from exc
    if len(raw) > limit:
        raise BadRequest(f"body is larger than the {limit // 1024} KB limit")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return data


def _split(kind: str, body: dict[str, Any]) -> list[Any]:
    if kind not in ("batch", "import"):
        return [body]
    batch = body.get("batch")
    if not isinstance(batch, list):
        raise BadRequest("a batch body needs a 'batch' list")
    return [merge_batch_level(item, body) if isinstance(item, dict) else item for item in batch]


def _prepare(
    items: list[Any], kind: str, settings: Settings, received_at: Any
) -> tuple[list[tuple[NormalizedMessage, Any]], list[tuple[Any, list[str]]]]:
    good: list[tuple[NormalizedMessage, Any]] = []
    bad: list[tuple[Any, list[str]]] = []
    default_type = kind if kind in SINGLE else None
    for item in items:
        if not isinstance(item, dict):
            bad.append(({"value": item}, ["a message must be a JSON object"]))
            continue
        size = len(orjson.dumps(item))
        if size > settings.ingest_max_event_bytes:
            bad.append(
                (item, [f"message is {size // 1024} KB; the limit is {settings.ingest_max_event_bytes // 1024} KB"])
            )
            continue
        try:
            good.append((normalize_message(item, received_at=received_at, default_type=default_type), item))
        except MessageError as exc:
            bad.append((item, [str(exc)]))
    return good, bad


def _contract_problems(
    session: Session, messages: list[NormalizedMessage], source: Any, now: Any
) -> dict[str, list[str]]:
    contracts = checker(session)
    if not contracts.contracts:
        return {}
    problems: dict[str, list[str]] = {}
    for m in messages:
        found = contracts.check(
            ingest.contract_view(m), entity="events", source=source.name, now=now, event_name=m.name
        )
        if found:
            problems[m.message_id] = found
    return problems


def _store(
    session: Session,
    source_id: int,
    prepared: list[tuple[NormalizedMessage, Any]],
    bad: list[tuple[Any, list[str]]],
    received_at: Any,
) -> dict[str, Any]:
    """The database part of a request, kept short: SQLite admits one writer at a time."""
    source = session.get(Source, source_id)
    if source is None or not source.enabled:
        raise Unauthorized("write key is not valid")
    broken = _contract_problems(session, [m for m, _ in prepared], source, received_at)
    bad += [(raw, broken[m.message_id]) for m, raw in prepared if m.message_id in broken]
    good = [m for m, _ in prepared if m.message_id not in broken]
    for payload, reasons in bad:
        quarantine.hold(session, channel="tracking_api", entity="events", payload=payload, reasons=reasons,
                        source_id=source.id)  # fmt: skip
    actor = Actor(name=f"source:{source.name}", interface="api", role="editor")
    result = ingest.ingest_messages(session, good, source=source, actor=actor)
    result.quarantined = len(bad)
    session.commit()  # durable before we answer
    return {
        "success": True,
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "quarantined": result.quarantined,
        "problems": [r for _, reasons in bad for r in reasons][:20],
    }


async def _handle(request: Request, kind: str) -> JSONResponse:
    settings: Settings = request.app.state.settings
    if not IN_FLIGHT.enter(settings.ingest_max_in_flight):
        return JSONResponse(error_body("overloaded", "too many requests in flight; retry shortly"), status_code=429,
                            headers={"Retry-After": "1"})  # fmt: skip
    try:
        raw = await request.body()
        engine = request.app.state.engine

        def work() -> dict[str, Any]:
            # Decoding and normalising need no database, so they run before (and outside) the transaction.
            limit = settings.ingest_max_batch_bytes if kind in ("batch", "import") else settings.ingest_max_event_bytes
            body = _decode(raw, request.headers.get("content-encoding", "").lower(), limit)
            source_id = sources.source_id_for_write_key(engine, _write_key(request, body))
            received_at = utcnow()
            prepared, bad = _prepare(_split(kind, body), kind, settings, received_at)
            for attempt in range(_RACE_RETRIES):
                session = session_factory(engine)()
                try:
                    return _store(session, source_id, prepared, bad, received_at)
                except IntegrityError:
                    # A concurrent request created the same identity or event first (PostgreSQL lets
                    # both run). Run again: this time we see its rows and link to them.
                    session.rollback()
                    if attempt == _RACE_RETRIES - 1:
                        raise
                except BaseException:
                    session.rollback()
                    raise
                finally:
                    session.close()
            raise AssertionError("unreachable")

        outcome = await run_in_threadpool(work)
    finally:
        IN_FLIGHT.leave()
    if kind in SINGLE and outcome["quarantined"]:
        # The message is kept in the quarantine, but the client must hear that it was not accepted.
        return JSONResponse(error_body("invalid_message", "; ".join(outcome["problems"]), outcome), status_code=400)
    return JSONResponse(outcome)


def _route(kind: str) -> Any:
    async def endpoint(request: Request) -> JSONResponse:
        return await _handle(request, kind)

    endpoint.__name__ = f"tracking_{kind}"
    return endpoint


for _kind in (*SINGLE, "batch", "import"):
    router.add_api_route(f"/v1/{_kind}", _route(_kind), methods=["POST"], summary=f"Segment {_kind}")
for _short, _kind in SHORT.items():
    router.add_api_route(f"/v1/{_short}", _route(_kind), methods=["POST"], include_in_schema=False)


def replay_tracking_record(session: Session, record: QuarantinedRecord, *, actor: Actor) -> list[str]:
    """Replay a quarantined tracking message: normalise, check contracts, ingest (dedupe still applies)."""
    source = session.get(Source, record.source_id) if record.source_id else None
    if source is None:
        return ["the source this message came from no longer exists"]
    try:
        message = normalize_message(record.payload, received_at=record.received_at)
    except MessageError as exc:
        return [str(exc)]
    problems = checker(session).check(
        ingest.contract_view(message), entity="events", source=source.name, now=utcnow(), event_name=message.name
    )
    if problems:
        return problems
    ingest.ingest_messages(session, [message], source=source, actor=actor)
    return []
