"""Normalisation for data quality: person names, nicknames, job titles and company names."""

from __future__ import annotations

import pytest

from pitboard.quality.normalize import (
    classify_title,
    company_match_key,
    given_name_keys,
    nickname_key,
    normalize_company_name,
    normalize_person_name,
)
from pitboard.quality.normalize.names import fix_name_case, split_full_name
from pitboard.quality.normalize.titles import FUNCTION_RULES, FUNCTIONS, SENIORITIES, SENIORITY_RULES

# --- Person names ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("ANNE-MARIE", "O'NEIL", ("Anne-Marie", "O'Neil")),
        ("anne-marie", "o'neil", ("Anne-Marie", "O'Neil")),
        ("JOHN", "MCDONALD", ("John", "McDonald")),
        ("mary", "macleod", ("Mary", "MacLeod")),
        ("carlos", "machado", ("Carlos", "Machado")),  # not every "mac" is a Mac
        ("ANNA", "VAN DER BERG", ("Anna", "van der Berg")),
        ("anna", "von der leyen", ("Anna", "von der Leyen")),
        ("MARIA", "DE LA CRUZ", ("Maria", "de la Cruz")),
        ("émilie", "du châtelet", ("Émilie", "du Châtelet")),
        ("JÜRGEN", "MÜLLER", ("Jürgen", "Müller")),
        ("d'angelo", "d'angelo", ("D'Angelo", "D'Angelo")),
        ("o\u2019brien", "o\u2019brien", ("O\u2019Brien", "O\u2019Brien")),  # typographic apostrophe
        ("yaakov", "ya'akov", ("Yaakov", "Ya'akov")),  # only a one-letter prefix capitalises after the apostrophe
        ("j.r.", "TOLKIEN", ("J.R.", "Tolkien")),
        ("SARAH", "SMITH-JONES", ("Sarah", "Smith-Jones")),
        ("martin", "king jr.", ("Martin", "King Jr.")),
        ("HENRY", "FORD III", ("Henry", "Ford III")),
        # mixed case is deliberate and stays
        ("DeShawn", "McDonald", ("DeShawn", "McDonald")),
        ("Anna", "van der Berg", ("Anna", "van der Berg")),
        ("Anna", "Van der Berg", ("Anna", "Van der Berg")),
        ("LaToya", "DiMaggio", ("LaToya", "DiMaggio")),
        ("eBay", "McKay", ("eBay", "McKay")),
        # whitespace
        ("  Ann   ", "  Lee ", ("Ann", "Lee")),
        ("Mary  Anne", "Lee", ("Mary Anne", "Lee")),
        ("Ann\u00a0Marie", "Lee", ("Ann Marie", "Lee")),
        ("", "LEE", (None, "Lee")),
        ("   ", None, (None, None)),
        (None, None, (None, None)),
        ("Dr. Ann", "Lee", ("Ann", "Lee")),
    ],
)
def test_person_names(first: str | None, last: str | None, expected: tuple[str | None, str | None]) -> None:
    assert normalize_person_name(first, last) == expected


@pytest.mark.parametrize(
    ("full", "expected"),
    [
        ("Ann Lee", ("Ann", "Lee")),
        ("ANN LEE", ("Ann", "Lee")),
        ("ludwig van beethoven", ("Ludwig", "van Beethoven")),
        ("Juan Carlos de la Cruz", ("Juan Carlos", "de la Cruz")),
        ("Jean-Claude Van Damme", ("Jean-Claude", "Van Damme")),
        ("Mary Anne Smith", ("Mary Anne", "Smith")),
        ("Smith, Anna", ("Anna", "Smith")),
        ("SMITH, ANNA", ("Anna", "Smith")),
        ("Dr. Ann Lee", ("Ann", "Lee")),
        ("Mrs Ann Lee", ("Ann", "Lee")),
        ("Martin Luther King Jr.", ("Martin Luther", "King Jr.")),
        ("Mr. Bean", (None, "Bean")),
        ("Madonna", ("Madonna", None)),
    ],
)
def test_full_name_in_the_first_name_field_is_split(full: str, expected: tuple[str | None, str | None]) -> None:
    assert normalize_person_name(full, None) == expected
    assert normalize_person_name(full, "  ") == expected


def test_split_full_name_and_fix_name_case() -> None:
    assert split_full_name("Lee, Ann") == ("Ann", "Lee")
    assert split_full_name("Martin Luther King, Jr.") == ("Martin Luther", "King Jr.")  # a suffix is no given name
    assert fix_name_case("VAN DER BERG", True) == "van der Berg"
    assert fix_name_case("VAN DER BERG") == "Van Der Berg"  # particles are a surname thing
    assert fix_name_case("McDonald") == "McDonald"


@pytest.mark.parametrize(
    ("nick", "canonical"),
    [
        ("Bob", "robert"), ("Bobby", "robert"), ("Rob", "robert"), ("Robbie", "robert"), ("Robert", "robert"),
        ("Bill", "william"), ("Will", "william"), ("Liam", "william"), ("Billy", "william"),
        ("Kate", "katherine"), ("Katie", "katherine"), ("Kathy", "katherine"), ("Catherine", "katherine"),
        ("Kathryn", "katherine"), ("Jim", "james"), ("Jimmy", "james"), ("Mike", "michael"), ("Dave", "david"),
        ("Liz", "elizabeth"), ("Beth", "elizabeth"), ("Betty", "elizabeth"), ("Tom", "thomas"),
        ("Chris", "christopher"), ("Alex", "alexander"), ("Sam", "samuel"), ("Dan", "daniel"), ("Danny", "daniel"),
        ("Jen", "jennifer"), ("Jenny", "jennifer"), ("Matt", "matthew"), ("Nick", "nicholas"), ("Steve", "steven"),
        ("Stephen", "steven"), ("Tony", "anthony"), ("Pat", "patrick"), ("Ben", "benjamin"), ("Joe", "joseph"),
        ("Rick", "richard"), ("Dick", "richard"), ("Chuck", "charles"), ("Ted", "edward"), ("Andy", "andrew"),
        ("Jon", "jonathan"), ("Johnny", "john"), ("Jack", "john"), ("Peggy", "margaret"), ("Sue", "susan"),
        ("Debbie", "deborah"), ("Becky", "rebecca"), ("Jess", "jessica"), ("Vicky", "victoria"),
        ("Tim", "timothy"), ("Greg", "gregory"), ("Jeff", "jeffrey"), ("Geoff", "jeffrey"), ("Ken", "kenneth"),
        ("Ron", "ronald"), ("Don", "donald"), ("Larry", "lawrence"), ("Jerry", "gerald"), ("Fred", "frederick"),
        ("Frank", "francis"), ("Hank", "henry"), ("Harry", "henry"), ("Walt", "walter"), ("Al", "albert"),
        ("Pete", "peter"), ("Phil", "philip"), ("Zach", "zachary"), ("Nate", "nathan"), ("Doug", "douglas"),
        ("Abby", "abigail"), ("Mandy", "amanda"), ("Cindy", "cynthia"), ("Kim", "kimberly"), ("Pam", "pamela"),
        ("Sandy", "sandra"), ("Tess", "theresa"), ("Ginny", "virginia"), ("Mel", "melissa"), ("Steph", "stephanie"),
        ("Val", "valerie"), ("Jackie", "jacqueline"), ("Judy", "judith"), ("Angie", "angela"), ("Annie", "anne"),
        ("Molly", "mary"), ("Ellie", "eleanor"), ("Josh", "joshua"), ("Jake", "jacob"), ("Max", "maximilian"),
        ("Ollie", "oliver"), ("Toby", "tobias"), ("Mohammed", "muhammad"), ("Brad", "bradley"), ("Bernie", "bernard"),
        ("Cliff", "clifford"), ("Mitch", "mitchell"), ("Randy", "randall"), ("Reggie", "reginald"), ("Abe", "abraham"),
        ("Gus", "augustus"), ("Wes", "wesley"), ("Izzy", "isabella"), ("Sophie", "sophia"), ("Maddie", "madeline"),
    ],
)  # fmt: skip
def test_nickname_key(nick: str, canonical: str) -> None:
    assert nickname_key(nick) == canonical
    assert nickname_key(nick.upper()) == canonical
    assert canonical in given_name_keys(nick)


def test_nickname_table_is_large() -> None:
    from pitboard.quality.normalize.names import _NICK_PRIMARY

    pairs = [(nick, key) for nick, key in _NICK_PRIMARY.items() if nick != key]
    assert len(pairs) >= 100


def test_nickname_key_edge_cases() -> None:
    assert nickname_key("Zoë") == "zoe"  # not in the table: folded
    assert nickname_key("Xavier") == "xavier"
    assert nickname_key("") == ""
    assert nickname_key(None) == ""
    assert nickname_key("J. Robert") == "robert"  # an initial does not identify anyone
    assert nickname_key("Dr Bill") == "william"
    assert nickname_key("Nathan") == "nathan"  # a canonical name stands for itself first


def test_ambiguous_nicknames_have_every_candidate() -> None:
    assert given_name_keys("Alex") >= {"alexander", "alexandra"}
    assert given_name_keys("Sam") >= {"samuel", "samantha"}
    assert given_name_keys("Chris") >= {"christopher", "christine"}
    assert given_name_keys("Pat") >= {"patrick", "patricia"}
    assert given_name_keys("Alexandra") & given_name_keys("Alex")
    assert not given_name_keys("Alexandra") & given_name_keys("Alexander")
    assert given_name_keys(None) == frozenset()


# --- Job titles --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "seniority", "function"),
    [
        ("CMO", "c_level", "marketing"),
        ("CTO", "c_level", "engineering"),
        ("CFO", "c_level", "finance"),
        ("CIO", "c_level", "it"),
        ("COO", "c_level", "operations"),
        ("CEO", "c_level", "executive"),
        ("Founder & CEO", "c_level", "executive"),
        ("Co-Founder & CMO", "c_level", "marketing"),
        ("Chief Revenue Officer", "c_level", "sales"),
        ("Chief Marketing Officer", "c_level", "marketing"),
        ("Chief Technology Officer", "c_level", "engineering"),
        ("Chief People Officer", "c_level", "hr"),
        ("Chief Product Officer", "c_level", "product"),
        ("Chief Customer Officer", "c_level", "customer_success"),
        ("President", "c_level", "executive"),
        ("Owner", "c_level", "executive"),
        ("Managing Director", "c_level", "executive"),
        ("VP Marketing", "vp", "marketing"),
        ("VP, Sales", "vp", "sales"),
        ("SVP Sales", "vp", "sales"),
        ("EVP, Operations", "vp", "operations"),
        ("Vice President of Engineering", "vp", "engineering"),
        ("Vice-President, Finance", "vp", "finance"),
        ("Sr. VP Product", "vp", "product"),
        ("Dir. of Sales", "director", "sales"),
        ("Sr. Dir., Mktg", "director", "marketing"),
        ("Director of Engineering", "director", "engineering"),
        ("Head of Demand Gen", "director", "marketing"),
        ("Head of People", "director", "hr"),
        ("Head of Data", "director", "data"),
        ("Art Director", "director", "design"),
        ("Chief of Staff", "director", "executive"),
        ("Marketing Ops Manager", "manager", "marketing"),
        ("Mgr, Mktg Ops", "manager", "marketing"),
        ("Product Marketing Manager", "manager", "marketing"),
        ("Customer Success Manager", "manager", "customer_success"),
        ("Office Manager", "manager", "operations"),
        ("Demand Gen Lead", "manager", "marketing"),
        ("Team Lead, Support", "manager", "customer_success"),
        ("Account Manager", "manager", "sales"),
        ("Sr. Software Engineer", "senior", "engineering"),
        ("Senior Data Scientist", "senior", "data"),
        ("Staff Engineer", "senior", "engineering"),
        ("Principal Engineer", "senior", "engineering"),
        ("Tech Lead", "senior", "engineering"),  # leads the technology, not a team
        ("Lead Developer", "senior", "engineering"),
        ("Software Engineer", "individual", "engineering"),
        ("Data Engineer", "individual", "data"),
        ("Sales Engineer", "individual", "sales"),
        ("Account Executive", "individual", "sales"),
        ("SDR", "individual", "sales"),
        ("Business Analyst", "individual", "data"),
        ("UX Designer", "individual", "design"),
        ("Recruiter", "individual", "hr"),
        ("Controller", "individual", "finance"),
        ("Paralegal", "individual", "legal"),
        ("IT Support Specialist", "individual", "it"),
        ("Product Owner", "individual", "product"),
        ("Executive Assistant to the CEO", "individual", "operations"),
        ("Marketing", "individual", "marketing"),
        ("Analyst", "individual", "other"),
        ("Consultant", "individual", "other"),
        ("Marketing Intern", "intern", "marketing"),
        ("Summer Intern", "intern", "other"),
        ("Internal Communications Manager", "manager", "marketing"),  # "internal" is no intern
        ("International Sales Director", "director", "sales"),
        # German and French
        ("Geschäftsführer", "c_level", "executive"),
        ("Geschäftsführerin", "c_level", "executive"),
        ("Leiter Marketing", "director", "marketing"),
        ("Marketingleiterin", "director", "marketing"),
        ("Vertriebsleiter", "director", "sales"),
        ("Teamleiter Vertrieb", "manager", "sales"),
        ("Softwareentwickler", "individual", "engineering"),
        ("Personalreferentin", "individual", "hr"),
        ("Werkstudent Marketing", "intern", "marketing"),
        ("PDG", "c_level", "executive"),
        ("Directeur Commercial", "director", "sales"),
        ("Directrice des ressources humaines", "director", "hr"),
        ("DRH", "director", "hr"),
        ("Responsable Marketing", "manager", "marketing"),
        ("Chargée de communication", "individual", "marketing"),
        ("Ingénieur logiciel", "individual", "engineering"),
        ("Stagiaire marketing", "intern", "marketing"),
        # nothing to go on
        ("asdf", "unknown", "other"),
        ("", "unknown", "other"),
        ("   ", "unknown", "other"),
        (None, "unknown", "other"),
    ],
)
def test_titles(title: str | None, seniority: str, function: str) -> None:
    info = classify_title(title)
    assert (info.seniority, info.function) == (seniority, function)


def test_title_rules_only_use_known_labels() -> None:
    assert {label for label, _ in SENIORITY_RULES} <= set(SENIORITIES)
    assert {label for label, _ in FUNCTION_RULES} <= set(FUNCTIONS)
    for _, phrases in (*SENIORITY_RULES, *FUNCTION_RULES):
        assert phrases
        for phrase in phrases:
            assert phrase == phrase.lower().strip()
            assert "  " not in phrase


def test_title_is_case_and_punctuation_insensitive() -> None:
    assert classify_title("VP MARKETING") == classify_title("vp, marketing") == classify_title("V.P. Marketing")


# --- Company names -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "display"),
    [
        ("  Acme   Inc. ", "Acme Inc."),
        ("ACME CORPORATION", "Acme Corporation"),
        ("ACME", "Acme"),
        ("IBM", "IBM"),
        ("IBM DEUTSCHLAND GMBH", "IBM Deutschland GmbH"),
        ("BOOKING.COM B.V.", "Booking.com B.V."),
        ("THE HOME DEPOT, INC.", "The Home Depot, Inc."),
        ("BANK OF AMERICA CORP", "Bank of America Corp"),
        ("SIEMENS AG", "Siemens AG"),
        ("adidas", "adidas"),  # lower-case brand names stay
        ("eBay Inc.", "eBay Inc."),
        ("Acme, Inc.,", "Acme, Inc."),
        ("", None),
        (None, None),
    ],
)
def test_company_display_name(name: str | None, display: str | None) -> None:
    assert normalize_company_name(name) == display


def test_company_match_key_examples_from_the_issue() -> None:
    assert company_match_key("Acme Inc.") == company_match_key("ACME, Inc") == company_match_key("acme") == "acme"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Acme Incorporated", "acme"), ("Acme LLC", "acme"), ("Acme Ltd", "acme"), ("Acme Ltd.", "acme"),
        ("Acme Limited", "acme"), ("Acme GmbH", "acme"), ("Acme AG", "acme"), ("Acme SA", "acme"),
        ("Acme S.A.", "acme"), ("Acme S. A.", "acme"), ("Acme SAS", "acme"), ("Acme SARL", "acme"),
        ("Acme BV", "acme"), ("Acme B.V.", "acme"), ("Acme NV", "acme"), ("Acme N.V.", "acme"), ("Acme Oy", "acme"),
        ("Acme AB", "acme"), ("Acme AB (publ)", "acme"), ("Acme AS", "acme"), ("Acme A/S", "acme"),
        ("Acme ApS", "acme"), ("Acme KK", "acme"), ("Acme K.K.", "acme"), ("Acme Pty Ltd", "acme"),
        ("Acme Pty. Ltd.", "acme"), ("Acme PLC", "acme"), ("Acme Corp", "acme"), ("Acme Corp.", "acme"),
        ("Acme Corporation", "acme"), ("Acme Co", "acme"), ("Acme Co.", "acme"), ("Acme Company", "acme"),
        ("Acme Co., Ltd.", "acme"), ("Acme GmbH & Co. KG", "acme"), ("Acme S.p.A.", "acme"), ("Acme S.r.l.", "acme"),
        ("Acme Group", "acme"), ("Acme Holdings", "acme"), ("Acme Holding AG", "acme"), ("The Acme Company", "acme"),
        ("the acme company", "acme"), ("Acme e.V.", "acme"), ("Acme Sdn Bhd", "acme"),
        ("Société Générale S.A.", "societe generale"), ("Nestlé S.A.", "nestle"),
        ("Johnson & Johnson", "johnson and johnson"), ("Johnson and Johnson", "johnson and johnson"),
        ("AT&T Inc.", "at and t"), ("Hewlett-Packard Company", "hewlett packard"),
        ("McDonald's Corporation", "mcdonalds"), ("Grupo Bimbo S.A.B. de C.V.", "grupo bimbo"),
        ("The Company", "company"), ("Company", "company"), ("Group", "group"), ("", ""), (None, ""),
    ],
)  # fmt: skip
def test_company_match_key(name: str | None, key: str) -> None:
    assert company_match_key(name) == key


def test_company_words_inside_the_name_stay() -> None:
    assert company_match_key("The Boston Company Partners") == "boston company partners"
    assert company_match_key("Inc Magazine") == "inc magazine"
    assert company_match_key("Limited Brands Inc") == "limited brands"
