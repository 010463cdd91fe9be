"""The scoring pages: the models list, a model's page with its distribution chart and threshold line and its
top criteria, the score breakdown on the contact page, and the nav entry."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from pitboard.kit.db import session_scope
from pitboard.models import ContactScore
from pitboard.scoring import engine as scoring
from pitboard.web.scoring_pages import histogram_chart
from tests.integration.test_scoring_engine import add_contact, add_event, install, today_midnight


def _scored(engine: Engine, session: Session) -> list[int]:
    install(session)
    ids = [add_contact(session, seniority="vp", email=f"p{i}@example.org") for i in range(3)]
    add_event(session, ids[0], "demo_requested", today_midnight())
    session.commit()
    with session_scope(engine) as s:
        scoring.rescore_model(s, "default")
    return ids


def test_models_list_and_nav(engine: Engine, session: Session, logged_in: TestClient) -> None:
    _scored(engine, session)
    page = logged_in.get("/scoring")
    assert page.status_code == 200
    assert '<a href="/scoring" aria-current="page">Scoring</a>' in page.text
    row = re.search(r'<tr data-model="default">(.*?)</tr>', page.text, re.S)
    assert row is not None
    assert "v1" in row.group(1)
    assert "≥ 25 → MQL" in row.group(1)
    assert "≥ 45 → SQL" in row.group(1)
    assert ">3<" in row.group(1)


def test_model_page_shows_the_distribution_with_thresholds_and_top_criteria(
    engine: Engine, session: Session, logged_in: TestClient
) -> None:
    _scored(engine, session)
    page = logged_in.get("/scoring/default")
    assert page.status_code == 200
    assert 'data-metric="scored">3<' in page.text
    chart = re.search(r"<svg.*?</svg>", page.text, re.S)
    assert chart is not None
    svg = chart.group(0)
    assert 'aria-label="Contacts per total score, Default"' in svg
    assert svg.count('class="chart-threshold"') == 2
    assert "MQL ≥ 25" in svg
    assert "SQL ≥ 45" in svg
    top = re.search(r'data-table="top-criteria">(.*?)</table>', page.text, re.S)
    assert top is not None
    rows = re.findall(r'<th scope="row">([^<]+)', top.group(1))
    assert rows[:2] == ["Senior ", "Demos "]
    assert logged_in.get("/scoring/nope").status_code == 404


def test_the_contact_page_breaks_the_score_down(engine: Engine, session: Session, logged_in: TestClient) -> None:
    ids = _scored(engine, session)
    page = logged_in.get(f"/contacts/{ids[0]}")
    assert page.status_code == 200
    section = re.search(r'<section class="card" id="scores".*?</section>', page.text, re.S)
    assert section is not None
    default = re.search(r'data-score-model="default">(.*?)</table>', section.group(0), re.S)
    assert default is not None
    assert re.search(r"data-score-total>35<", default.group(1))
    assert "Senior" in default.group(1)
    assert "Demos" in default.group(1)
    assert "1 occurrence, 20 before decay" in default.group(1)
    assert 'data-score-model="forever"' in section.group(0)
    assert "No criterion applies: 0 points." in section.group(0)
    # A score without stored facts (upgraded from before they were stored) says so instead of listing nothing.
    session.execute(update(ContactScore).where(ContactScore.contact_id == ids[0]).values(facts=None))
    session.commit()
    page = logged_in.get(f"/contacts/{ids[0]}")
    assert "data-score-unexplained" in page.text
    assert re.search(r"data-score-total>35<", page.text)


def test_the_chart_escapes_its_labels_and_handles_no_data() -> None:
    svg = histogram_chart([0.0, 5.0, 10.0], [3, 1], [(7.5, "<b>")], title='x"y')
    assert "&lt;b&gt; ≥ 7.5" in svg
    assert 'aria-label="x&quot;y"' in svg
    bars = re.findall(r'<rect x="([0-9.]+)" y="[0-9.]+" width="([0-9.]+)"', svg)
    assert len(bars) == 2
    assert float(bars[0][0]) < float(bars[1][0])
    threshold_x = float(re.search(r'class="chart-threshold"><line x1="([0-9.]+)"', svg).group(1))  # type: ignore[union-attr]
    assert float(bars[1][0]) < threshold_x < float(bars[1][0]) + float(bars[1][1])
    assert "No scores yet" in histogram_chart([], [], [], title="t")
