"""Unit tests of the dedupe engine's parts: string similarity, keys, levels, weights, clusters, explanations."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from pitboard.quality.dedupe import CandidatePair, DedupeConfig, dedupe_accounts, dedupe_contacts, records_from_rows
from pitboard.quality.dedupe.blocking import composite_key, pairs_in_blocks
from pitboard.quality.dedupe.cluster import UnionFind, cluster_pairs
from pitboard.quality.dedupe.compare import CONTACT_FIELDS, compare_pairs
from pitboard.quality.dedupe.evaluate import evaluate
from pitboard.quality.dedupe.model import MatchModel, estimate_m, estimate_u, probability
from pitboard.quality.dedupe.phonekey import phone_match_key
from pitboard.quality.dedupe.records import ContactRow
from pitboard.quality.dedupe.strings import jaro_winkler, osa_distance, soundex
from pitboard.quality.normalize import normalize_phone

F = {field.name: i for i, field in enumerate(CONTACT_FIELDS)}


def row(cid: int, email: str | None = None, first: str | None = "Robert", last: str | None = "Smith",
        phone: str | None = None, company: str | None = "Acme Inc.", country: str | None = "US",
        account: int | None = 1, title: str | None = "CMO", city: str | None = "Boston") -> ContactRow:  # fmt: skip
    return (cid, email, first, last, phone, company, country, account, title, city)


def levels_of(a: ContactRow, b: ContactRow) -> dict[str, str]:
    records = records_from_rows([a, b])
    lv = compare_pairs(records, np.array([0]), np.array([1]))[0]
    return {field.name: field.levels[int(lv[i])] for i, field in enumerate(CONTACT_FIELDS)}


# --- strings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("martha", "marhta", 0.9611), ("dixon", "dicksonx", 0.8133), ("dwayne", "duane", 0.84), ("abc", "abc", 1.0),
     ("abc", "xyz", 0.0), ("", "a", 0.0)],
)  # fmt: skip
def test_jaro_winkler_matches_published_values(a: str, b: str, expected: float) -> None:
    assert jaro_winkler(a, b) == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("smith", "smith", 0), ("smith", "smtih", 1), ("smith", "smit", 1), ("smith", "smiith", 1),
     ("smith", "smyth", 1), ("smith", "smtyh", 2), ("smith", "jones", 3), ("ab", "abcdef", 3)],
)  # fmt: skip
def test_osa_distance_counts_transpositions_as_one_edit_and_stops_at_the_limit(a: str, b: str, expected: int) -> None:
    assert osa_distance(a, b, 3) == expected


@pytest.mark.parametrize(
    ("word", "code"),
    [("robert", "r163"), ("rupert", "r163"), ("ashcraft", "a261"), ("tymczak", "t522"), ("pfister", "p236"),
     ("lee", "l000"), ("", "")],
)  # fmt: skip
def test_soundex(word: str, code: str) -> None:
    assert soundex(word) == code


# --- phone key -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "country"),
    [("+44 20 7946 0958", "GB"), ("020-7946-0958", "GB"), ("0044 20 7946 0958", "GB"), ("+44 (0)20 7946 0958", "US"),
     ("(415) 555-2671", "US"), ("+1 415 555 2671 x12", "DE"), ("030 1234567", "DE"), ("0049 30 1234567", "US"),
     ("02 1234 5678", "IT"), ("011 49 30 1234567", "US")],
)  # fmt: skip
def test_phone_key_equals_the_libraries_e164_for_valid_numbers(text: str, country: str) -> None:
    expected = normalize_phone(text, country).e164
    assert expected is not None
    assert phone_match_key(text, country) == expected


def test_phone_key_needs_a_country_for_national_numbers_and_enough_digits() -> None:
    assert phone_match_key("020 7946 0958", None) is None
    assert phone_match_key("+44 20 7946 0958", None) == "+442079460958"
    assert phone_match_key("12", "US") is None
    assert phone_match_key(None, "US") is None


# --- comparison levels ---------------------------------------------------------------------------


def test_email_levels() -> None:
    base = row(1, "rob.smith+news@acme.com")
    assert levels_of(base, row(2, "Rob.Smith@acme.com".lower()))["email"] == "exact"
    assert levels_of(base, row(2, "rob.smith@acme.io"))["email"] == "sibling_domain"
    assert levels_of(base, row(2, "rob.smith@gmail.com"))["email"] == "different"  # a name, not a mailbox
    assert levels_of(base, row(2, "rob.smith2@acme.com"))["email"] == "different"  # the other Rob Smith
    assert levels_of(base, row(2, None))["email"] == "missing"
    assert levels_of(row(1, "info@acme.com"), row(2, "info@acme.com"))["email"] == "shared_role"
    assert levels_of(row(1, "info@acme.com"), row(2, "info@acme.io"))["email"] == "shared_role"
    assert levels_of(row(1, "a@hotmail.com"), row(2, "a@outlook.com"))["email"] == "sibling_domain"


def test_name_levels() -> None:
    assert levels_of(row(1), row(2, first="Bob"))["first name"] == "nickname"
    assert levels_of(row(1), row(2, first="ROBERT"))["first name"] == "exact"
    assert levels_of(row(1), row(2, first="Robret"))["first name"] == "typo"
    assert levels_of(row(1), row(2, first="Alice"))["first name"] == "different"
    assert levels_of(row(1), row(2, first=None))["first name"] == "missing"
    assert levels_of(row(1), row(2, last="Smtih"))["last name"] == "one_edit"
    assert levels_of(row(1, last="Johnson"), row(2, last="Jonhsno"))["last name"] == "similar"
    assert levels_of(row(1), row(2, last="Jones"))["last name"] == "different"
    assert levels_of(row(1, last="van der Berg"), row(2, last="Vanderberg"))["last name"] == "exact"


def test_organisation_phone_and_other_levels() -> None:
    assert levels_of(row(1), row(2))["organisation"] == "same_account"
    assert levels_of(row(1), row(2, company="ACME, Incorporated", account=None))["organisation"] == "exact"
    assert (
        levels_of(row(1, company="Acme Analytics"), row(2, company="Acme Analytic", account=2))["organisation"]
        == "similar"
    )
    assert levels_of(row(1), row(2, company="Globex", account=2))["organisation"] == "different"
    same_phone = levels_of(row(1, phone="+1 415 555 2671"), row(2, phone="(415) 555-2671"))
    assert same_phone["phone"] == "exact"
    assert levels_of(row(1), row(2, country="CA"))["country"] == "different"
    assert levels_of(row(1), row(2, title=None))["title"] == "missing"


# --- weights -------------------------------------------------------------------------------------


def _levels(rows: list[list[int]]) -> np.ndarray:
    return np.asarray(rows, dtype=np.int8)


def test_u_and_m_are_level_frequencies_and_missing_weighs_nothing() -> None:
    fields = (CONTACT_FIELDS[F["phone"]],)  # levels: exact, different, missing
    u = estimate_u(fields, _levels([[1]] * 98 + [[0]] * 1 + [[2]] * 1))
    m = estimate_m(fields, [np.asarray([0] * 90 + [1] * 10, dtype=np.int8)])
    assert u[0][0] == pytest.approx(1.5 / 100)
    assert u[0][1] == pytest.approx(98.5 / 100)
    assert m[0][0] == pytest.approx(90.5 / 101)
    model = MatchModel(fields, m, u, prior=0.5)
    table = model.weight_table()[0]
    assert table[0] == pytest.approx(math.log2(m[0][0] / u[0][0]))
    assert table[1] < 0 < table[0]
    assert table[2] == 0.0
    weights = model.match_weights(_levels([[0], [1], [2]]))
    assert weights[2] == pytest.approx(0.0)  # prior 0.5: log-odds 0
    assert probability(np.asarray([0.0, 10.0]))[0] == pytest.approx(0.5)
    assert probability(np.asarray([10.0]))[0] == pytest.approx(1024 / 1025)


def test_partial_agreement_never_outweighs_exact_agreement() -> None:
    fields = (CONTACT_FIELDS[F["first name"]],)
    model = MatchModel(fields, ((0.5, 0.2, 0.2, 0.1, 1.0),), ((0.01, 0.0001, 0.0001, 0.9, 1.0),), prior=0.1)
    table = model.weight_table()[0]
    assert table[1] == table[0]
    assert table[2] == table[0]


def test_neutral_role_level_weighs_nothing() -> None:
    fields = (CONTACT_FIELDS[F["email"]],)
    model = MatchModel(fields, ((0.5, 0.1, 0.3, 0.1, 1.0),), ((1e-5, 1e-5, 1e-5, 0.99, 1.0),), prior=0.1)
    assert model.weight_table()[0][2] == 0.0


# --- blocking and clustering ---------------------------------------------------------------------


def test_pairs_in_blocks_are_windowed_and_ordered() -> None:
    key = np.asarray([5, 1, 5, -1, 5, 1], dtype=np.int64)
    left, right = pairs_in_blocks(key, window=10)
    assert sorted(zip(left.tolist(), right.tolist(), strict=True)) == [(0, 2), (0, 4), (1, 5), (2, 4)]
    left, right = pairs_in_blocks(key, window=1)
    assert sorted(zip(left.tolist(), right.tolist(), strict=True)) == [(0, 2), (1, 5), (2, 4)]


def test_composite_key_is_missing_when_any_part_is() -> None:
    records = records_from_rows([row(1), row(2, first=None), row(3, first="Bob")])
    key = composite_key(records, ("company", "first_key"))
    assert key[1] == -1
    assert key[0] == key[2] >= 0  # Bob and Robert share the nickname key


def test_union_find_caps_cluster_size() -> None:
    sets = UnionFind(4)
    assert sets.union(0, 1, 3)
    assert sets.union(1, 2, 3)
    assert not sets.union(2, 3, 3)
    assert sets.find(3) == 3
    assert sets.find(2) == sets.find(0)


def test_clusters_take_strongest_edges_first_under_the_cap() -> None:
    left, right = np.asarray([0, 1, 2, 3]), np.asarray([1, 2, 3, 4])
    strength = np.asarray([0.99, 0.5, 0.98, 0.97])
    result = cluster_pairs(left, right, strength, max_size=3)
    assert result.clusters == [[0, 1], [2, 3, 4]]  # the weak 1-2 link would have made a cluster of 5
    assert result.refused_edges == 1
    assert cluster_pairs(left, right, strength, max_size=None).clusters == [[0, 1, 2, 3, 4]]


# --- evaluation ----------------------------------------------------------------------------------


def test_evaluation_closes_truth_transitively(tmp_path: Path) -> None:
    truth = tmp_path / "gt.jsonl"
    labels = [{"contact_id": 2, "kind": "duplicate", "duplicate_of": 1}, {"contact_id": 3, "kind": "duplicate",
              "duplicate_of": 1}, {"contact_id": 9, "kind": "bad_email", "email": "x"}]  # fmt: skip
    truth.write_text("\n".join(json.dumps(label) for label in labels))
    perfect = evaluate([[1, 2, 3]], truth)
    assert (perfect.true_links, perfect.precision, perfect.recall) == (3, 1.0, 1.0)
    partial = evaluate([[1, 2], [3, 7]], truth)
    assert partial.precision == 0.5
    assert partial.recall == pytest.approx(1 / 3)
    assert partial.f1 == pytest.approx(0.4)
    assert evaluate([[1, 2]], truth, universe={1, 2}).recall == 1.0


# --- the engine on a hand-made set ---------------------------------------------------------------


def _population() -> list[ContactRow]:
    """Colleagues at a few companies, plus planted duplicates."""
    firsts = ["Anna", "Ben", "Carla", "David", "Eva", "Frank", "Gina", "Hugo", "Iris", "Jonas", "Kurt", "Lena"]
    lasts = ["Adler", "Brandt", "Claus", "Dorn", "Engel", "Fuchs", "Graf", "Hahn", "Imhof", "Jung", "Keller"]
    titles = ["CMO", "VP Sales", "Engineer", "Analyst", "Designer"]
    rows: list[ContactRow] = []
    cid = 0
    for company in range(12):
        for person in range(10):
            cid += 1
            first, last = firsts[(company + person) % 12], lasts[(company * 3 + person) % 11]
            email = f"{first}.{last}@co{company}.com".lower()
            rows.append(row(cid, email, first, last, f"+49 30 {company:02d}{person:02d}{cid:03d}", f"Co{company} GmbH",
                            "DE", company, titles[(person + company) % 5], "Berlin"))  # fmt: skip
    return rows


def test_engine_finds_planted_duplicates_and_explains_them() -> None:
    rows = _population()
    first = rows[0]
    dup_nick = row(1001, None, "Anny" if first[2] == "Anna" else first[2], first[3], first[4], first[5], "DE",
                   first[7], first[8], "Berlin")  # fmt: skip
    second = rows[15]
    dup_mail = (1002, str(second[1]).replace("@", "+crm@"), second[2], second[3], None, second[5], "DE", second[7],
                second[8], "Berlin")  # fmt: skip
    result = dedupe_contacts(records_from_rows([*rows, dup_nick, dup_mail]), DedupeConfig(u_sample=5_000))
    auto = {(p.left_id, p.right_id) for p in result.pairs if p.band == "auto_merge"}
    assert (1, 1001) in auto
    assert (16, 1002) in auto
    assert [1, 1001] in result.auto_clusters
    pair = next(p for p in result.pairs if (p.left_id, p.right_id) == (16, 1002))
    assert isinstance(pair, CandidatePair)
    assert pair.rule == "same email key"
    assert any(line.startswith("email: same mailbox after normalisation (+") for line in pair.explanation)
    assert pair.explanation[0].startswith("prior: ")
    total = sum(float(line.rsplit("(", 1)[1].rstrip(")")) for line in pair.explanation)
    assert total == pytest.approx(pair.match_weight, abs=0.1 * len(pair.explanation))
    colleagues = {(p.left_id, p.right_id) for p in result.pairs} - {(1, 1001), (16, 1002)}
    assert not colleagues  # nobody else is merged or even sent for review


# --- accounts ------------------------------------------------------------------------------------


def test_accounts_by_domain_and_by_name_and_country() -> None:
    pairs, clusters = dedupe_accounts([
        (1, "Acme Inc.", "https://www.acme.com", "US"), (2, "ACME Corporation", "acme.com/about", "US"),
        (3, "Acme", "acme-widgets.com", "US"), (4, "Acme", None, "DE"), (5, "Globex", "globex.com", "US"),
        (6, "Globex LLC", None, "US"), (7, "Initech", "initech.com", "US"), (8, "Initec", None, "US"),
    ])  # fmt: skip
    bands = {(p.left_id, p.right_id): p.band for p in pairs}
    assert bands[(1, 2)] == "auto_merge"  # same registered domain
    assert bands[(1, 3)] == "review"  # same name, conflicting domains
    assert (1, 4) not in bands  # another country
    assert bands[(5, 6)] == "auto_merge"  # same name and country, no conflicting domain
    assert bands[(7, 8)] == "review"  # similar name
    assert sorted(map(sorted, clusters)) == [[1, 2], [5, 6]]
    explanation = next(p.explanation for p in pairs if (p.left_id, p.right_id) == (1, 2))
    assert explanation[0] == "domain: same registered domain acme.com"


def test_a_rule_match_the_other_fields_contradict_goes_to_review() -> None:
    rows = _population()
    other = rows[30]
    # Same mailbox as contact 1 (Gmail dots would do this), but another person in every other respect.
    stranger = (2001, rows[0][1], "Zed", "Quill", None, str(other[5]), "DE", other[7], "Nobody", "Hamburg")
    result = dedupe_contacts(records_from_rows([*rows, stranger]), DedupeConfig(u_sample=5_000))
    pair = next(p for p in result.pairs if (p.left_id, p.right_id) == (1, 2001))
    assert pair.rule == "same email key"
    assert pair.band == "review"
    assert not any(2001 in cluster for cluster in result.auto_clusters)
