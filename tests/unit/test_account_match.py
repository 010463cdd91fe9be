from __future__ import annotations

from pitboard.quality.account_match import AccountIndex, _one_edit, match_one

INDEX = AccountIndex(
    [
        (1, "Acme GmbH", "acme.de", "DE", 10),
        (2, "Acme Inc.", "acme.com", "US", 3),
        (3, "Globex Corporation", "https://www.globex.com/", "US", 0),
        (4, "Initech", None, "US", 1),
        (5, "Initech", None, "DE", 0),
        (6, "Umbrella Holdings", None, None, 0),
        (7, "Shop Acme UK", "shop.acme.co.uk", "GB", 0),
    ]
)


def test_matches_by_business_email_domain_first() -> None:
    m = match_one(INDEX, email="ann@globex.com", company="Totally Different Ltd", country=None)
    assert (m.account_id, m.method) == (3, "domain")
    m = match_one(INDEX, email="bob@mail.acme.co.uk", company=None, country=None)
    assert (m.account_id, m.method) == (7, "domain")  # registered domain of a sub-domain


def test_free_mail_falls_back_to_company_name_and_country_breaks_ties() -> None:
    m = match_one(INDEX, email="cy@gmail.com", company="ACME, Inc", country="US")
    assert (m.account_id, m.method) == (2, "name")
    m = match_one(INDEX, email=None, company="Initech LLC", country="DE")
    assert (m.account_id, m.method) == (5, "name")
    assert "is in DE" in m.reason


def test_ties_without_country_choose_the_biggest_and_say_so() -> None:
    m = match_one(INDEX, email=None, company="acme", country=None)
    assert m.account_id == 1
    assert "most contacts" in m.reason


def test_one_typo_in_the_company_name() -> None:
    m = match_one(INDEX, email=None, company="Umbrela Holdings", country="FR")
    assert (m.account_id, m.method) == (6, "fuzzy_name")


def test_unmatched_leads_say_why() -> None:
    assert match_one(INDEX, email="dee@yahoo.com", company=None, country=None).reason == (
        "free-mail address and no company name to match on"
    )
    m = match_one(INDEX, email="eve@hooli.io", company="Hooli", country="US")
    assert m.account_id is None
    assert m.method == "unmatched"
    assert m.reason == "no account has the domain hooli.io; no account is named like 'Hooli'"


def test_one_edit() -> None:
    assert _one_edit("umbrella", "umbrela")
    assert _one_edit("globex", "golbex")
    assert not _one_edit("globex", "glbx")
    assert not _one_edit("abc", "abc")
