"""How fast are the work board and its flow metrics on a realistic board?

    python -m bench.bench_workboard                                   # a temporary SQLite file
    python -m bench.bench_workboard --database-url postgresql://postgres@127.0.0.1/postgres --fresh
    python -m bench.bench_workboard --items 5000 --transitions 10 --runs 7

Builds a board of ``--items`` work items (default 5,000) created over the last 180 days, each with up to
``--transitions`` recorded transitions (moves along five columns with rework, blocked/unblocked pairs: about
10 per item, ~50,000 by default); old items are mostly done, recent ones half open.
Then measures, p50/p99 over ``--runs``:

* the flow report over 90 and 365 days (one ordered scan of the transitions, then pure Python);
* the board as data (open items plus the 50 latest done), and ``GET /board`` and ``GET /board/flow`` rendered
  through the web app by a signed-in user (templates, SVG charts, one card form per open item);
* a move with its WIP check, transition row and audit entry, committed (``--runs`` x 5 moves).
"""

from __future__ import annotations

import argparse
import random
import re
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, insert, select

from bench.harness import (
    Report,
    add_database_arguments,
    bench_database,
    data_size_bytes,
    describe,
    emit,
    human_bytes,
    machine,
    peak_rss_mb,
    repeated,
    timed,
)
from pitboard.api.app import create_app
from pitboard.auth import service as auth
from pitboard.kit.actor import SYSTEM, Actor
from pitboard.kit.db import session_scope
from pitboard.kit.time import utcnow
from pitboard.models.workboard import WorkItem, WorkItemTransition
from pitboard.settings import Settings
from pitboard.workboard import board, flow

COLUMNS = ["requested", "ready", "in_progress", "review", "done"]
TYPES = ["campaign", "report", "data_fix", "tooling", "other"]
EMAIL, PASSWORD = "bench-admin@example.com", "bench-password-123456"


def build(engine: Engine, items: int, per_item: int, seed: int) -> int:
    """Items and transitions by bulk insert with explicit ids; returns the transitions written."""
    rng = random.Random(seed)
    now = utcnow()
    item_rows: list[dict[str, Any]] = []
    moves: list[dict[str, Any]] = []
    for iid in range(1, items + 1):
        created = now - timedelta(days=rng.uniform(0, 180))
        at, column, steps = created, "requested", [{"at": created, "kind": "created", "from": None, "to": "requested"}]
        blocked = False
        while len(steps) < per_item and column != "done":
            at += timedelta(hours=rng.expovariate(1 / 20))
            if at >= now:
                break
            if not blocked and column != "requested" and rng.random() < 0.2:
                steps.append({"at": at, "kind": "blocked", "from": column, "to": column})
                blocked = True
                continue
            if blocked:
                steps.append({"at": at, "kind": "unblocked", "from": column, "to": column})
                blocked = False
                continue
            # mostly forward, sometimes back one column (rework)
            index = COLUMNS.index(column)
            nxt = COLUMNS[max(index - 1, 1)] if index > 1 and rng.random() < 0.3 else COLUMNS[index + 1]
            steps.append({"at": at, "kind": "moved", "from": column, "to": nxt})
            column = nxt
        recent = created > now - timedelta(days=14)
        if column != "done" and rng.random() < (0.5 if recent else 0.95) and at < now:  # old items are mostly done
            at = min(at + timedelta(hours=rng.expovariate(1 / 20)), now)
            steps.append({"at": at, "kind": "moved", "from": column, "to": "done"})
            column = "done"
            blocked = False
        started = next((s["at"] for s in steps if s["to"] not in (None, "requested")), None)
        item_rows.append({
            "id": iid, "title": f"Request {iid}", "item_type": rng.choice(TYPES), "column_key": column,
            "rank": float(iid), "priority": rng.choice(["urgent", "high", "normal", "normal", "low"]),
            "service_tier": "standard", "blocked": blocked, "blocked_reason": "waiting" if blocked else None,
            "column_entered_at": steps[-1]["at"], "started_at": started,
            "finished_at": steps[-1]["at"] if column == "done" else None, "created_at": created,
            "updated_at": steps[-1]["at"],
        })  # fmt: skip
        moves += [{"item_id": iid, "at": s["at"], "kind": s["kind"], "from_column": s["from"], "to_column": s["to"],
                   "actor": "bench", "wip_override": False} for s in steps]  # fmt: skip
    with session_scope(engine) as s:
        for start in range(0, len(item_rows), 2000):
            s.execute(insert(WorkItem), item_rows[start : start + 2000])
        for start in range(0, len(moves), 5000):
            s.execute(insert(WorkItemTransition), moves[start : start + 5000])
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("SELECT setval('work_items_id_seq', (SELECT max(id) FROM work_items))")
            conn.exec_driver_sql("ANALYZE work_items")
            conn.exec_driver_sql("ANALYZE work_item_transitions")
    return len(moves)


def _client(engine: Engine) -> TestClient:
    with session_scope(engine) as s:
        auth.create_user(s, email=EMAIL, name="Bench", password=PASSWORD, role="admin", actor=SYSTEM)
    settings = Settings(database_url=engine.url.render_as_string(hide_password=False),
                        secret_key="bench-secret-key-that-is-long-enough-0123456789",  # noqa: S106
                        project_dir=Path(tempfile.mkdtemp(prefix="pitboard-bench-project-")))  # fmt: skip
    client = TestClient(create_app(settings, engine=engine))
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    r = client.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token.group(1), "next": "/"},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    return client


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_database_arguments(parser)
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--transitions", type=int, default=16, help="at most this many per item")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    with bench_database(args.database_url, fresh=args.fresh, keep=args.keep) as engine:
        with session_scope(engine) as s:
            if s.scalar(select(func.count()).select_from(WorkItem)):
                raise SystemExit("the database already has work items: use an empty one (or --fresh)")
        report = Report(f"work board and flow metrics ({engine.dialect.name})")
        built, transitions = timed("build board (bulk insert)", lambda: build(engine, args.items, args.transitions,
                                                                             args.seed))  # fmt: skip
        built.rows = args.items + transitions
        report.add(built)
        with session_scope(engine) as s:
            open_items = s.scalar(select(func.count()).select_from(WorkItem).where(WorkItem.finished_at.is_(None)))

        def flow_for(days: int) -> Any:
            def run(_: int) -> int:
                with session_scope(engine) as s:
                    r = flow.flow_report(s, days=days)
                return r.items

            return run

        report.add(repeated("flow report, 90 days", flow_for(90), args.runs))
        report.add(repeated("flow report, 365 days", flow_for(365), args.runs, note="every item"))

        def board_data(_: int) -> int:
            with session_scope(engine) as s:
                return sum(v.count for v in board.board_view(s))

        report.add(repeated("board as data", board_data, args.runs))
        client = _client(engine)

        def page(path: str) -> Any:
            def run(_: int) -> int:
                r = client.get(path)
                assert r.status_code == 200, r.text[:500]
                return 0

            return run

        report.add(repeated("GET /board (HTML)", page("/board"), args.runs, note=f"{open_items:,} open cards"))
        report.add(repeated("GET /board/flow (HTML, 4 SVG charts)", page("/board/flow"), args.runs))
        actor = Actor(name="bench", interface="cli", role="admin")
        with session_scope(engine) as s:
            ids = list(s.scalars(select(WorkItem.id).where(WorkItem.column_key == "requested").limit(args.runs * 5)))

        def move(i: int) -> int:
            with session_scope(engine) as s:
                board.move_item(s, ids[i % len(ids)], "ready" if i < len(ids) else "requested", actor=actor,
                                override=True, reason="bench")  # fmt: skip
            return 0

        if ids:
            report.add(
                repeated("move a card (WIP check, transition, audit, commit)", move, min(len(ids), args.runs * 5))
            )
        report.facts.update({
            "database": describe(engine), "machine": machine(engine), "items": f"{args.items:,}",
            "transitions": f"{transitions:,}", "open items": f"{open_items:,}",
            "data size": human_bytes(data_size_bytes(engine)), "peak RSS": f"{peak_rss_mb():,.0f} MB",
        })  # fmt: skip
        emit(report, args.json)


if __name__ == "__main__":
    main()
