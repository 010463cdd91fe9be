"""Flow metrics from transition histories (pure: no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pitboard.workboard.flow import History, Step, compute, percentile, replay, week_of

KINDS = {"requested": "queue", "ready": "wait", "doing": "active", "review": "wait", "done": "done"}
T0 = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def item(iid: int, *steps: tuple[float, str, str | None], item_type: str = "report") -> History:
    return History(iid, item_type, f"item {iid}", [Step(at(d), k, c) for d, k, c in steps])


def test_replay_lead_cycle_blocked_and_active_time() -> None:
    h = item(1, (0, "created", "requested"), (2, "moved", "doing"), (3, "blocked", None), (4, "unblocked", None),
             (5, "moved", "review"), (6, "moved", "done"))  # fmt: skip
    f = replay(h, KINDS, now=at(10))
    assert f.lead_days() == 6
    assert f.cycle_days() == 4
    assert f.blocked_seconds == 86400
    assert f.active_seconds == 2 * 86400  # doing from day 2 to 5, minus one blocked day


def test_reopened_item_counts_from_last_finish_and_queue_items_do_not_start() -> None:
    h = item(2, (0, "created", "requested"), (1, "moved", "doing"), (2, "moved", "done"), (3, "moved", "doing"),
             (5, "moved", "done"))  # fmt: skip
    f = replay(h, KINDS, now=at(9))
    assert f.finished_at == at(5)
    assert f.started_at == at(1)
    queued = replay(item(3, (0, "created", "requested")), KINDS, now=at(9))
    assert queued.started_at is None
    assert queued.finished_at is None


def test_compute_report() -> None:
    histories = [
        item(1, (0, "created", "requested"), (1, "moved", "doing"), (3, "moved", "done")),
        item(2, (0, "created", "requested"), (2, "moved", "doing"), (2.5, "blocked", None),
             (3.5, "unblocked", None), (9, "moved", "done"), item_type="campaign"),
        item(3, (1, "created", "requested"), (4, "moved", "doing"), (5, "blocked", None)),  # open, blocked
        item(4, (1, "created", "requested")),
        item(5, (-40, "created", "requested"), (-39, "moved", "doing"), (-35, "moved", "done")),  # before period
    ]  # fmt: skip
    launches = [(7, "c", at(0), at(12)), (8, "d", at(3), None)]
    r = compute(histories, KINDS, now=at(14), since=at(-7), launches=launches)
    assert r.lead_time["count"] == 2
    assert r.lead_time["p50"] == 3
    assert r.lead_time["p95"] == 9
    assert r.cycle_time["mean"] == 4.5  # 2 and 7 days
    assert dict(r.throughput_per_week)[week_of(at(3))] == 1
    assert sum(n for _, n in r.throughput_per_week) == 2
    assert r.throughput_by_type == {"report": 1, "campaign": 1}
    assert [a["item_id"] for a in r.age] == [3]
    assert r.age[0]["age_days"] == 10
    assert r.age[0]["blocked"]
    assert r.blocked["blocked_now"] == 1
    assert r.blocked["finished_items_blocked"] == 1
    # active time: item 1 2 days, item 2 7 days in doing minus 1 blocked = 6; cycle 2 + 7 = 9
    assert r.flow_efficiency == round(8 / 9, 3)
    assert r.time_to_market["count"] == 1
    assert r.time_to_market["p50"] == 12
    assert r.to_dict()["time_to_market_days"]["count"] == 1


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 11)]
    assert (percentile(values, 50), percentile(values, 85), percentile(values, 95)) == (5, 9, 10)
    assert percentile([], 50) is None
    assert percentile([4.0], 85) == 4.0
