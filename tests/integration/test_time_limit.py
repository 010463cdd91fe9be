"""``kit.db.time_limit`` stops a long statement on both databases and leaves the transaction usable."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from pitboard.kit.db import is_time_limit_error, time_limit

# Counts to fifty million one row at a time: many seconds on either database.
SLOW = text("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 50000000) SELECT count(*) FROM c")


def test_a_statement_past_the_limit_is_stopped_and_the_session_goes_on(session: Session) -> None:
    started = time.monotonic()
    with pytest.raises(OperationalError) as caught, time_limit(session, 0.3), session.begin_nested():
        session.execute(SLOW).scalar()
    assert is_time_limit_error(caught.value)
    assert time.monotonic() - started < 5
    # The savepoint rolled back the stopped statement; the transaction and the connection still work,
    # and the limit is gone again.
    assert session.execute(text("SELECT 1")).scalar() == 1
    if session.get_bind().dialect.name == "postgresql":
        assert session.execute(text("SHOW statement_timeout")).scalar() == "0"


def test_a_statement_within_the_limit_is_left_alone(session: Session) -> None:
    with time_limit(session, 10):
        assert session.execute(text("SELECT 41 + 1")).scalar() == 42


def test_other_errors_are_not_mistaken_for_the_limit(session: Session) -> None:
    with pytest.raises(DBAPIError, match="no_such_table") as caught, session.begin_nested():
        session.execute(text("SELECT * FROM no_such_table"))
    assert not is_time_limit_error(caught.value)


def test_postgresql_connections_run_without_jit(session: Session) -> None:
    """JIT compilation cost 0.3-1.1 s per analytic statement and gained nothing (kit/db.py)."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    assert session.execute(text("SHOW jit")).scalar() == "off"
