"""HTTP batch ingest throughput of the Segment-spec tracking API, durable (committed before the answer).

Starts `uvicorn pitboard.api.app:create_app` on 127.0.0.1 against the given database, sends
pre-built gzip batches from several client threads, checks every event landed exactly once, and
compares the rate with a raw bulk insert of the same rows (executemany into the events table).

    python -m bench.bench_ingest --events 50000                     # SQLite file in a temp folder
    python -m bench.bench_ingest --database-url postgresql://postgres@127.0.0.1/pb_bench
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import Engine, func, insert, select, text

from pitboard.events import sources
from pitboard.kit import migrate
from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import make_engine, session_scope
from pitboard.models import Base, Event


def _fresh_database(url: str | None, tmp: Path, name: str) -> str:
    if url is None:
        return f"sqlite:///{tmp / (name + '.db')}"
    if url.startswith("postgresql"):
        import psycopg

        base = url.rsplit("/", 1)[0]
        db = f"pb_bench_{name}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(base + "/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db}"')
        return f"{base}/{db}"
    return url


def _messages(n: int, users: int, seed_time: datetime) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        kind = "page" if i % 3 else "track"
        msg: dict[str, Any] = {
            "type": kind,
            "messageId": f"bench-{i}-{uuid.uuid4().hex[:8]}",
            "anonymousId": f"anon-{i % (users * 2)}",
            "timestamp": (seed_time + timedelta(seconds=i)).isoformat(),
            "context": {
                "page": {
                    "url": f"https://acme.io/p/{i % 50}?utm_source=google&utm_medium=cpc&utm_campaign=brand",
                    "referrer": "https://www.google.com/",
                },
                "userAgent": "bench",
            },
            "properties": {"path": f"/p/{i % 50}", "value": i % 17},
        }
        if i % 4 == 0:
            msg["userId"] = f"user-{i % users}"
        if kind == "track":
            msg["event"] = "Feature Used"
        else:
            msg["name"] = "Docs"
        out.append(msg)
    return out


def _drop_database(url: str) -> None:
    if url.startswith("postgresql"):
        import psycopg

        base, name = url.rsplit("/", 1)
        with psycopg.connect(base + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _serve(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PITBOARD_DATABASE_URL": url, "PITBOARD_SECRET_KEY": "bench", "PITBOARD_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "pitboard.api.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log", "--workers", str(workers)],
        env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok:
                return proc
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def http_ingest(url: str, messages: list[dict[str, Any]], batch: int, clients: int, workers: int) -> dict[str, float]:
    engine = make_engine(url)
    migrate.upgrade(engine)
    with session_scope(engine) as s:
        key = sources.create_source(s, name="bench", kind="website", actor=SYSTEM).write_key
    bodies = [
        gzip.compress(json.dumps({"batch": messages[i : i + batch]}).encode()) for i in range(0, len(messages), batch)
    ]
    port = _free_port()
    proc = _serve(url, port, workers)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    cursor = iter(bodies)

    def client() -> None:
        session = requests.Session()
        session.auth = (key, "")
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        while True:
            with lock:
                body = next(cursor, None)
            if body is None:
                return
            t0 = time.perf_counter()
            r = session.post(f"http://127.0.0.1:{port}/v1/batch", data=body, headers=headers, timeout=60)
            elapsed = time.perf_counter() - t0
            with lock:
                latencies.append(elapsed)
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:200]}")

    try:
        t0 = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    with session_scope(engine) as s:
        stored = s.scalar(select(func.count()).select_from(Event)) or 0
    engine.dispose()
    if errors or stored != len(messages):
        raise SystemExit(f"ingest lost or failed: stored {stored} of {len(messages)}; errors: {errors[:3]}")
    latencies.sort()
    return {
        "events_per_s": len(messages) / seconds,
        "seconds": seconds,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def raw_insert(url: str, messages: list[dict[str, Any]]) -> dict[str, float]:
    """The floor: the same rows written with one executemany per 500, no HTTP, no parsing, no identities."""
    engine: Engine = make_engine(url)
    Base.metadata.create_all(engine)
    now = datetime.now(UTC)
    rows = [
        {"message_id": m["messageId"], "event_type": m["type"], "name": m.get("event") or m.get("name"),
         "anonymous_id": m["anonymousId"], "user_id": m.get("userId"), "occurred_at": now, "received_at": now,
         "properties": m["properties"], "context": m["context"], "utm_source": "google", "utm_medium": "cpc",
         "utm_campaign": "brand", "channel": "Paid Search", "source": "bench"}
        for m in messages
    ]  # fmt: skip
    t0 = time.perf_counter()
    with engine.begin() as conn:
        for i in range(0, len(rows), 500):
            conn.execute(insert(Event), rows[i : i + 500])
    seconds = time.perf_counter() - t0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM events")).scalar() == len(rows)
    engine.dispose()
    return {"rows_per_s": len(rows) / seconds, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL server URL (a fresh database is created); default SQLite")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=100, help="messages per HTTP request")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads")
    parser.add_argument("--users", type=int, default=5_000, help="distinct identified users")
    parser.add_argument("--workers", type=int, default=2, help="server processes (pitboard serve --workers)")
    args = parser.parse_args()
    messages = _messages(args.events, args.users, datetime.now(UTC) - timedelta(days=1))
    with tempfile.TemporaryDirectory() as tmp:
        http_url = _fresh_database(args.database_url, Path(tmp), "http")
        raw_url = _fresh_database(args.database_url, Path(tmp), "raw")
        try:
            http = http_ingest(http_url, messages, args.batch, args.clients, args.workers)
            raw = raw_insert(raw_url, messages)
        finally:
            _drop_database(http_url)
            _drop_database(raw_url)
    backend = "postgresql" if args.database_url and args.database_url.startswith("postgresql") else "sqlite"
    print(f"data: {args.events:,} events in batches of {args.batch} from {args.clients} clients to {args.workers} "
          "server processes, "
          f"{args.users:,} identified users, {backend}")  # fmt: skip
    print(f"HTTP ingest (durable): {http['events_per_s']:,.0f} events/s in {http['seconds']:.1f}s; "
          f"request p50 {http['p50_ms']:.0f} ms, p99 {http['p99_ms']:.0f} ms")  # fmt: skip
    print(f"raw bulk insert of the same rows: {raw['rows_per_s']:,.0f} rows/s")
    print(f"HTTP ingest as a share of raw insert: {http['events_per_s'] / raw['rows_per_s']:.0%}")


if __name__ == "__main__":
    main()
