"""Word lists and reference tables for the demo data generator.

Everything here is fictional or generic. Tables are tuples so they cannot be changed by accident:
the generator indexes them by position, and a changed order would silently change every seed's data.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- people --------------------------------------------------------------------------------------

# Formal names that have common nicknames come first and are weighted up, so the "nickname"
# duplicate variation has plenty of candidates (Robert → Bob only works if there are Roberts).
FIRST_NAMES: tuple[str, ...] = (
    "Robert", "William", "Katherine", "Elizabeth", "Michael", "James", "Richard", "Thomas", "Christopher",
    "Jennifer", "Margaret", "Alexander", "Alexandra", "Daniel", "Matthew", "Anthony", "Joseph", "Nicholas",
    "Jonathan", "Benjamin", "Samuel", "Patricia", "Rebecca", "Susan", "Deborah", "Victoria", "Andrew",
    "Edward", "Stephen", "Steven", "Charles", "Catherine", "Jessica", "Timothy", "Kenneth", "Ronald",
    "Gregory", "Jacqueline", "Johannes", "Friedrich", "Francisco", "Alejandro", "Christine", "Abigail",
    "Frederick", "Theodore", "Zachary", "Nathaniel", "Kimberly", "Pamela",
    "Mary", "Linda", "Barbara", "Sarah", "Karen", "Nancy", "Lisa", "Emily", "Laura", "Anna", "Emma",
    "Olivia", "Sophie", "Charlotte", "Hannah", "Julia", "Lena", "Clara", "Marie", "Camille", "Chloe",
    "Léa", "Manon", "Inès", "Lucía", "María", "Carmen", "Elena", "Giulia", "Francesca", "Chiara", "Sofia",
    "Ingrid", "Astrid", "Freya", "Saoirse", "Aoife", "Priya", "Ananya", "Aisha", "Fatima", "Mei", "Yuki",
    "Sakura", "Haruka", "Ji-woo", "Min-ji", "Ana", "Beatriz", "Camila", "Valentina", "Isabela", "Zoë",
    "David", "John", "Mark", "Paul", "Peter", "George", "Brian", "Kevin", "Jason", "Ryan", "Eric",
    "Adam", "Scott", "Justin", "Brandon", "Tyler", "Aaron", "Kyle", "Lukas", "Felix", "Jonas", "Maximilian",
    "Leon", "Tobias", "Jan", "Lars", "Erik", "Sven", "Mats", "Pierre", "Louis", "Hugo", "Antoine",
    "Julien", "Mathieu", "Pablo", "Javier", "Diego", "Carlos", "Marco", "Luca", "Matteo", "Giovanni",
    "Sean", "Cian", "Liam", "Rahul", "Arjun", "Vikram", "Ravi", "Omar", "Ahmed", "Hiroshi", "Takumi",
    "Kenji", "Wei", "Jun", "Hyun-woo", "Rafael", "Thiago", "Mateus", "Noah", "Oliver", "Ethan",
)  # fmt: skip
# The first 50 names (the nickname-able ones) get this relative weight; all others weigh 1.
FORMAL_NAME_WEIGHT = 3.0
FORMAL_NAME_COUNT = 50

NICKNAMES: dict[str, tuple[str, ...]] = {
    "Robert": ("Bob", "Rob", "Bobby"), "William": ("Bill", "Will", "Billy"), "Katherine": ("Kate", "Kathy", "Katie"),
    "Elizabeth": ("Liz", "Beth", "Lizzie"), "Michael": ("Mike", "Mikey"), "James": ("Jim", "Jimmy", "Jamie"),
    "Richard": ("Rick", "Rich", "Dick"), "Thomas": ("Tom", "Tommy"), "Christopher": ("Chris", "Topher"),
    "Jennifer": ("Jen", "Jenny"), "Margaret": ("Maggie", "Meg", "Peggy"), "Alexander": ("Alex", "Xander"),
    "Alexandra": ("Alex", "Lexi", "Sandra"), "Daniel": ("Dan", "Danny"), "Matthew": ("Matt",),
    "Anthony": ("Tony",), "Joseph": ("Joe", "Joey"), "Nicholas": ("Nick", "Nicky"), "Jonathan": ("Jon", "Jonny"),
    "Benjamin": ("Ben", "Benny"), "Samuel": ("Sam", "Sammy"), "Patricia": ("Pat", "Patty", "Trish"),
    "Rebecca": ("Becky", "Becca"), "Susan": ("Sue", "Susie"), "Deborah": ("Deb", "Debbie"),
    "Victoria": ("Vicky", "Tori"), "Andrew": ("Andy", "Drew"), "Edward": ("Ed", "Ted", "Eddie"),
    "Stephen": ("Steve",), "Steven": ("Steve",), "Charles": ("Charlie", "Chuck"), "Catherine": ("Cathy", "Cat"),
    "Jessica": ("Jess", "Jessie"), "Timothy": ("Tim", "Timmy"), "Kenneth": ("Ken", "Kenny"), "Ronald": ("Ron",),
    "Gregory": ("Greg",), "Jacqueline": ("Jackie",), "Johannes": ("Hannes", "Jo"), "Friedrich": ("Fritz",),
    "Francisco": ("Paco", "Fran"), "Alejandro": ("Alex", "Ale"), "Christine": ("Chris", "Tina"),
    "Abigail": ("Abby",), "Frederick": ("Fred", "Freddie"), "Theodore": ("Ted", "Theo"), "Zachary": ("Zach",),
    "Nathaniel": ("Nate", "Nat"), "Kimberly": ("Kim",), "Pamela": ("Pam",),
}  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee",
    "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen", "King",
    "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts",
    "Carter", "Phillips", "Evans", "Turner", "Parker", "Collins", "Edwards", "Stewart", "Morris", "Murphy",
    "Cook", "Rogers", "Morgan", "Cooper", "Peterson", "Reed", "Bailey", "Bell", "Kelly", "Howard",
    "Ward", "Cox", "Richardson", "Wood", "Watson", "Brooks", "Bennett", "Gray", "James", "Hughes",
    "Price", "Sanders", "Myers", "Long", "Ross", "Foster", "Powell", "Jenkins", "Perry", "Russell",
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
    "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Zimmermann", "Braun", "Krüger", "Hartmann",
    "Martin", "Bernard", "Dubois", "Durand", "Lefebvre", "Leroy", "Moreau", "Laurent", "Simon", "Michel",
    "Fernández", "González", "Sánchez", "Pérez", "Gómez", "Díaz", "Romero", "Navarro", "Rossi", "Russo",
    "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "de Jong", "Jansen", "de Vries",
    "van den Berg", "Bakker", "Visser", "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson",
    "Larsson", "O'Brien", "O'Connor", "Byrne", "Ryan", "Walsh", "Murray", "Sharma", "Patel", "Gupta",
    "Singh", "Kumar", "Reddy", "Iyer", "Nair", "Tanaka", "Suzuki", "Takahashi", "Watanabe", "Ito",
    "Yamamoto", "Nakamura", "Kobayashi", "Wang", "Li", "Zhang", "Chen", "Liu", "Yang", "Huang", "Zhao",
    "Kim", "Park", "Choi", "Silva", "Santos", "Oliveira", "Souza", "Costa", "Pereira", "Almeida",
    "Nguyen", "Tran", "Khan", "Ali", "Hassan", "Cohen", "Levy", "Novak", "Kowalski", "Nowak",
)  # fmt: skip

# --- geography -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Country:
    code: str  # ISO 3166-1 alpha-2
    weight: float
    region: str  # NA, EMEA, APAC or LATAM; LATAM is sold by the NA team
    utc_offset_hours: float  # a typical offset, to put activity in local business hours
    locale: str
    tld: str
    legal_suffixes: tuple[str, ...]
    cities: tuple[str, ...]
    calling_code: str
    # Digit groups of the national significant number, e.g. (3, 3, 4) for 415 555 0134.
    phone_groups: tuple[int, ...]
    trunk_prefix: str  # "0" in most of Europe: 030 1234567 nationally, +49 30 1234567 abroad


COUNTRIES: tuple[Country, ...] = (
    Country("US", 0.38, "NA", -6, "en-US", "com", ("Inc.", "LLC", "Corp."),
            ("New York", "San Francisco", "Austin", "Chicago", "Boston", "Seattle", "Denver", "Atlanta",
             "Los Angeles", "Miami", "Raleigh", "Minneapolis"), "1", (3, 3, 4), ""),
    Country("CA", 0.05, "NA", -5, "en-CA", "ca", ("Inc.", "Ltd."),
            ("Toronto", "Vancouver", "Montreal", "Ottawa", "Calgary", "Waterloo"), "1", (3, 3, 4), ""),
    Country("GB", 0.10, "EMEA", 0, "en-GB", "co.uk", ("Ltd", "plc", "Limited"),
            ("London", "Manchester", "Edinburgh", "Bristol", "Leeds", "Cambridge", "Birmingham"), "44", (2, 4, 4), "0"),
    Country("DE", 0.09, "EMEA", 1, "de-DE", "de", ("GmbH", "AG", "SE"),
            ("Berlin", "Munich", "Hamburg", "Frankfurt", "Cologne", "Stuttgart", "Düsseldorf"), "49", (2, 4, 4), "0"),
    Country("FR", 0.06, "EMEA", 1, "fr-FR", "fr", ("SAS", "SA", "SARL"),
            ("Paris", "Lyon", "Toulouse", "Bordeaux", "Lille", "Nantes"), "33", (1, 2, 2, 2, 2), "0"),
    Country("NL", 0.04, "EMEA", 1, "nl-NL", "nl", ("B.V.", "N.V."),
            ("Amsterdam", "Rotterdam", "Utrecht", "Eindhoven", "The Hague"), "31", (2, 3, 4), "0"),
    Country("ES", 0.03, "EMEA", 1, "es-ES", "es", ("S.L.", "S.A."),
            ("Madrid", "Barcelona", "Valencia", "Seville", "Bilbao"), "34", (3, 3, 3), ""),
    Country("IT", 0.02, "EMEA", 1, "it-IT", "it", ("S.r.l.", "S.p.A."),
            ("Milan", "Rome", "Turin", "Bologna", "Florence"), "39", (2, 4, 4), ""),
    Country("SE", 0.02, "EMEA", 1, "sv-SE", "se", ("AB",),
            ("Stockholm", "Gothenburg", "Malmö", "Uppsala"), "46", (2, 3, 4), "0"),
    Country("CH", 0.015, "EMEA", 1, "de-CH", "ch", ("AG", "GmbH", "SA"),
            ("Zurich", "Geneva", "Basel", "Lausanne", "Bern"), "41", (2, 3, 2, 2), "0"),
    Country("IE", 0.015, "EMEA", 0, "en-IE", "ie", ("Ltd", "DAC"),
            ("Dublin", "Cork", "Galway", "Limerick"), "353", (1, 3, 4), "0"),
    Country("AU", 0.04, "APAC", 10, "en-AU", "com.au", ("Pty Ltd", "Ltd"),
            ("Sydney", "Melbourne", "Brisbane", "Perth", "Adelaide"), "61", (1, 4, 4), "0"),
    Country("SG", 0.025, "APAC", 8, "en-SG", "sg", ("Pte. Ltd.",), ("Singapore",), "65", (4, 4), ""),
    Country("JP", 0.025, "APAC", 9, "ja-JP", "jp", ("K.K.", "Co., Ltd."),
            ("Tokyo", "Osaka", "Yokohama", "Nagoya", "Fukuoka"), "81", (2, 4, 4), "0"),
    Country("IN", 0.04, "APAC", 5.5, "en-IN", "in", ("Pvt. Ltd.", "Ltd."),
            ("Bengaluru", "Mumbai", "Pune", "Hyderabad", "Chennai", "New Delhi"), "91", (5, 5), "0"),
    Country("BR", 0.02, "LATAM", -3, "pt-BR", "com.br", ("Ltda.", "S.A."),
            ("São Paulo", "Rio de Janeiro", "Belo Horizonte", "Curitiba"), "55", (2, 5, 4), "0"),
    Country("MX", 0.01, "LATAM", -6, "es-MX", "com.mx", ("S.A. de C.V.",),
            ("Mexico City", "Guadalajara", "Monterrey"), "52", (2, 4, 4), ""),
)  # fmt: skip

# ISO 3166-2 subdivision of each city, for the countries whose subdivisions pitboard's normaliser
# knows (pitboard.quality.normalize.countries); elsewhere ``region`` stays empty.
CITY_SUBDIVISIONS: dict[str, str] = {
    "New York": "US-NY", "San Francisco": "US-CA", "Austin": "US-TX", "Chicago": "US-IL", "Boston": "US-MA",
    "Seattle": "US-WA", "Denver": "US-CO", "Atlanta": "US-GA", "Los Angeles": "US-CA", "Miami": "US-FL",
    "Raleigh": "US-NC", "Minneapolis": "US-MN", "Toronto": "CA-ON", "Vancouver": "CA-BC", "Montreal": "CA-QC",
    "Ottawa": "CA-ON", "Calgary": "CA-AB", "Waterloo": "CA-ON", "Berlin": "DE-BE", "Munich": "DE-BY",
    "Hamburg": "DE-HH", "Frankfurt": "DE-HE", "Cologne": "DE-NW", "Stuttgart": "DE-BW", "Düsseldorf": "DE-NW",
    "Zurich": "CH-ZH", "Geneva": "CH-GE", "Basel": "CH-BS", "Lausanne": "CH-VD", "Bern": "CH-BE",
    "Sydney": "AU-NSW", "Melbourne": "AU-VIC", "Brisbane": "AU-QLD", "Perth": "AU-WA", "Adelaide": "AU-SA",
}  # fmt: skip

TERRITORIES: tuple[str, ...] = ("NA", "EMEA", "APAC")
# LATAM accounts are worked from North America.
TERRITORY_OF_REGION: dict[str, str] = {"NA": "NA", "LATAM": "NA", "EMEA": "EMEA", "APAC": "APAC"}
TERRITORY_WEIGHTS: tuple[float, ...] = (0.5, 0.3, 0.2)
TERRITORY_TIMEZONES: dict[str, tuple[str, ...]] = {
    "NA": ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Toronto"),
    "EMEA": ("Europe/London", "Europe/Berlin", "Europe/Paris", "Europe/Amsterdam", "Europe/Madrid", "Europe/Dublin"),
    "APAC": ("Asia/Singapore", "Australia/Sydney", "Asia/Tokyo", "Asia/Kolkata"),
}

# --- companies -----------------------------------------------------------------------------------

INDUSTRIES: tuple[tuple[str, float], ...] = (
    ("Software", 0.22), ("Financial Services", 0.10), ("Healthcare", 0.08), ("Manufacturing", 0.09),
    ("Retail", 0.06), ("Professional Services", 0.08), ("Education", 0.04), ("Media & Entertainment", 0.04),
    ("Telecommunications", 0.03), ("Logistics & Transportation", 0.05), ("Energy & Utilities", 0.03),
    ("Real Estate", 0.03), ("Insurance", 0.04), ("Hospitality", 0.02), ("Government", 0.02),
    ("Non-profit", 0.02), ("Automotive", 0.03), ("Biotech & Pharma", 0.02),
)  # fmt: skip

COMPANY_FIRST: tuple[str, ...] = (
    "Blue", "North", "Silver", "Bright", "Red", "Green", "Iron", "Summit", "Cedar", "Harbor", "River",
    "Stone", "Golden", "Swift", "Clear", "Bold", "True", "Prime", "Nova", "Apex", "Atlas", "Orion", "Vertex",
    "Polar", "Quantum", "Crimson", "Lumen", "Evergreen", "Granite", "Maple", "Oak", "Pine", "Willow",
    "Falcon", "Eagle", "Wolf", "Fox", "Bear", "Lynx", "Raven", "Sterling", "Pacific", "Atlantic", "Alpine",
    "Coastal", "Urban", "Metro", "Civic", "Global", "Open", "Smart", "Rapid", "Signal", "Beacon", "Pioneer",
    "Frontier", "Horizon", "Zenith", "Echo", "Helix", "Vector", "Pixel", "Cloud", "Data", "Insight", "Bridge",
    "Anchor", "Compass", "Keystone", "Cornerstone", "Northwind", "Southgate", "Westfield", "Eastwood",
    "Highland", "Lakeside", "Riverbend", "Sunrise", "Moonstone", "Starlight", "Copper", "Cobalt", "Indigo",
    "Amber", "Ivory", "Onyx", "Sapphire", "Emerald", "Ruby", "Jade", "Aurora", "Meridian", "Solstice",
    "Tidal", "Vivid", "Agile", "Nimble", "Brisk", "Stellar", "Radiant", "Kinetic",
)  # fmt: skip
COMPANY_SECOND: tuple[str, ...] = (
    "Labs", "Systems", "Works", "Analytics", "Dynamics", "Logistics", "Health", "Capital", "Partners",
    "Solutions", "Networks", "Software", "Technologies", "Media", "Foods", "Energy", "Robotics", "Bio",
    "Pharma", "Insurance", "Bank", "Consulting", "Group", "Holdings", "Industries", "Manufacturing",
    "Retail", "Brands", "Studios", "Digital", "Cloud", "Data", "Security", "Telecom", "Motors", "Aerospace",
    "Mobility", "Learning", "Education", "Properties", "Realty", "Hospitality", "Travel", "Freight",
    "Supply", "Components", "Materials", "Instruments", "Devices", "Therapeutics", "Diagnostics", "Care",
    "Finance", "Payments", "Ventures", "Collective", "Co", "Craft", "Foundry", "Forge", "Hub", "Point",
    "Path", "Line", "Wave", "Stream", "Field", "Grid", "Scale", "Stack", "Loop", "Sphere",
)  # fmt: skip
# A third word makes 100 x 72 x 20 combinations, enough for 100k+ distinct accounts.
COMPANY_THIRD: tuple[str, ...] = (
    "", "", "", "", "", "", "", "", "", "", "International", "Europe", "America", "Global", "Group",
    "Technologies", "Services", "Worldwide", "Holdings", "Solutions",
)  # fmt: skip
TIER_OPTIONS: tuple[str, ...] = ("Tier 1", "Tier 2", "Tier 3")

EMPLOYEE_BANDS: tuple[tuple[int, str], ...] = (
    (10, "1-10"), (50, "11-50"), (200, "51-200"), (500, "201-500"), (1000, "501-1000"),
    (5000, "1001-5000"), (10**9, "5001+"),
)  # fmt: skip

FREE_MAIL_DOMAINS: tuple[tuple[str, float], ...] = (
    ("gmail.com", 0.55), ("outlook.com", 0.12), ("hotmail.com", 0.1), ("yahoo.com", 0.1), ("icloud.com", 0.06),
    ("gmx.de", 0.03), ("proton.me", 0.02), ("web.de", 0.02),
)  # fmt: skip
# Providers that deliver the same mailbox under two names.
FREE_MAIL_ALIASES: dict[str, str] = {
    "gmail.com": "googlemail.com", "outlook.com": "hotmail.com", "hotmail.com": "outlook.com",
    "yahoo.com": "ymail.com", "icloud.com": "me.com", "gmx.de": "gmx.net", "proton.me": "protonmail.com",
    "web.de": "web.de",
}  # fmt: skip

# How a company spells addresses: share of accounts using each local-part pattern.
EMAIL_PATTERNS: tuple[tuple[str, float], ...] = (
    ("first.last", 0.5), ("flast", 0.18), ("firstlast", 0.08), ("first_last", 0.05), ("f.last", 0.07),
    ("first", 0.05), ("last.first", 0.04), ("firstl", 0.03),
)  # fmt: skip

# --- roles ---------------------------------------------------------------------------------------

# (seniority, weight); functions below have titles per seniority.
SENIORITIES: tuple[tuple[str, float], ...] = (
    ("c_level", 0.03), ("vp", 0.07), ("director", 0.14), ("manager", 0.28), ("senior", 0.16), ("individual", 0.32),
)  # fmt: skip
FUNCTIONS: tuple[tuple[str, float], ...] = (
    ("Marketing", 0.36), ("Sales", 0.14), ("Revenue Operations", 0.10), ("IT", 0.09), ("Finance", 0.05),
    ("Operations", 0.08), ("Product", 0.07), ("Engineering", 0.07), ("Human Resources", 0.04),
)  # fmt: skip
TITLES: dict[str, dict[str, tuple[str, ...]]] = {
    "Marketing": {
        "c_level": ("Chief Marketing Officer", "CMO"),
        "vp": ("VP of Marketing", "VP Demand Generation", "VP Growth Marketing"),
        "director": ("Director of Marketing", "Director, Demand Generation", "Head of Marketing Operations",
                     "Director of Product Marketing"),
        "manager": ("Marketing Manager", "Demand Generation Manager", "Marketing Operations Manager",
                    "Content Marketing Manager", "Field Marketing Manager", "Product Marketing Manager"),
        "senior": ("Senior Marketing Specialist", "Senior Marketing Analyst", "Lead Growth Marketer"),
        "individual": ("Marketing Specialist", "Marketing Coordinator", "Marketing Analyst", "Content Writer",
                       "Digital Marketing Associate", "Email Marketing Specialist"),
    },
    "Sales": {
        "c_level": ("Chief Revenue Officer", "CRO", "Chief Sales Officer"),
        "vp": ("VP of Sales", "VP Sales EMEA", "VP Sales North America"),
        "director": ("Director of Sales", "Head of Sales Development", "Regional Sales Director"),
        "manager": ("Sales Manager", "SDR Manager", "Account Executive Team Lead"),
        "senior": ("Senior Account Executive", "Enterprise Account Executive"),
        "individual": ("Account Executive", "Sales Development Representative", "Business Development Rep"),
    },
    "Revenue Operations": {
        "c_level": ("Chief Operating Officer",),
        "vp": ("VP Revenue Operations", "VP of RevOps"),
        "director": ("Director of Revenue Operations", "Head of Sales Operations"),
        "manager": ("Revenue Operations Manager", "Sales Operations Manager", "CRM Manager"),
        "senior": ("Senior RevOps Analyst", "Senior Salesforce Administrator"),
        "individual": ("RevOps Analyst", "Salesforce Administrator", "Marketing Operations Specialist"),
    },
    "IT": {
        "c_level": ("Chief Information Officer", "CIO", "CTO"),
        "vp": ("VP of IT", "VP Infrastructure"),
        "director": ("IT Director", "Director of Enterprise Applications"),
        "manager": ("IT Manager", "Systems Manager"),
        "senior": ("Senior Systems Engineer", "Lead Solutions Architect"),
        "individual": ("Systems Administrator", "IT Analyst", "Business Systems Analyst"),
    },
    "Finance": {
        "c_level": ("Chief Financial Officer", "CFO"),
        "vp": ("VP Finance",),
        "director": ("Finance Director", "Controller"),
        "manager": ("Finance Manager", "FP&A Manager"),
        "senior": ("Senior Financial Analyst",),
        "individual": ("Financial Analyst", "Accountant"),
    },
    "Operations": {
        "c_level": ("Chief Operating Officer", "COO"),
        "vp": ("VP Operations",),
        "director": ("Director of Operations",),
        "manager": ("Operations Manager", "Project Manager"),
        "senior": ("Senior Operations Analyst",),
        "individual": ("Operations Analyst", "Operations Coordinator"),
    },
    "Product": {
        "c_level": ("Chief Product Officer", "CPO"),
        "vp": ("VP of Product",),
        "director": ("Director of Product Management", "Head of Product"),
        "manager": ("Product Manager", "Product Owner"),
        "senior": ("Senior Product Manager", "Principal Product Manager"),
        "individual": ("Associate Product Manager", "Product Analyst"),
    },
    "Engineering": {
        "c_level": ("CTO", "Chief Technology Officer"),
        "vp": ("VP of Engineering",),
        "director": ("Director of Engineering", "Head of Data"),
        "manager": ("Engineering Manager", "Data Engineering Manager"),
        "senior": ("Senior Software Engineer", "Staff Engineer", "Senior Data Engineer"),
        "individual": ("Software Engineer", "Data Analyst", "Data Engineer"),
    },
    "Human Resources": {
        "c_level": ("Chief People Officer", "CHRO"),
        "vp": ("VP People",),
        "director": ("HR Director", "Head of Talent"),
        "manager": ("HR Manager", "Recruiting Manager"),
        "senior": ("Senior HR Business Partner",),
        "individual": ("HR Generalist", "Recruiter"),
    },
}  # fmt: skip

PRODUCT_INTERESTS: tuple[str, ...] = (
    "Data Quality", "Lead Routing", "Attribution", "Campaign Analytics", "Lifecycle Automation", "Enrichment",
)  # fmt: skip

# --- funnel --------------------------------------------------------------------------------------

# Current lifecycle stage of a contact, with its share of the database (names match
# pitboard.lifecycle.stages.DEFAULT_STAGES; a unit test keeps them in step).
STAGE_SHARES: tuple[tuple[str, float], ...] = (
    ("subscriber", 0.28), ("lead", 0.33), ("mql", 0.11), ("sal", 0.035), ("sql", 0.035), ("opportunity", 0.025),
    ("customer", 0.04), ("disqualified", 0.085), ("recycled", 0.06),
)  # fmt: skip
# Engaged contacts produce more activity; normalised so the overall mean stays events_per_contact.
STAGE_ACTIVITY: dict[str, float] = {
    "subscriber": 0.55, "lead": 0.8, "mql": 1.3, "sal": 1.6, "sql": 1.8, "opportunity": 2.4, "customer": 2.8,
    "disqualified": 0.8, "recycled": 1.2,
}  # fmt: skip

# (lead source, GA4 channel of the first touch, campaign types that can own it, first event name, weight)
LEAD_SOURCES: tuple[tuple[str, str, tuple[str, ...], str, float], ...] = (
    ("Organic Search", "Organic Search", (), "form_submitted", 0.22),
    ("Paid Search", "Paid Search", ("paid_search",), "form_submitted", 0.14),
    ("Paid Social", "Paid Social", ("paid_social",), "form_submitted", 0.10),
    ("Webinar", "Email", ("webinar",), "webinar_registered", 0.10),
    ("Event", "Unassigned", ("event",), "event_attended", 0.07),
    ("Content Download", "Organic Social", ("content",), "content_downloaded", 0.09),
    ("Partner Referral", "Referral", ("partner",), "form_submitted", 0.05),
    ("Referral", "Referral", (), "form_submitted", 0.04),
    ("Direct", "Direct", (), "form_submitted", 0.08),
    ("Sales Prospecting", "Direct", (), "identify", 0.07),
    ("List Import", "Direct", (), "identify", 0.04),
)  # fmt: skip

DISQUALIFY_REASONS: tuple[str, ...] = (
    "not a fit: company too small", "student", "competitor", "no budget", "wrong region", "job seeker",
)  # fmt: skip
LOST_REASONS: tuple[str, ...] = ("no decision", "lost to competitor", "budget cut", "timing", "price")
PRODUCTS: tuple[str, ...] = ("Platform", "Data Quality add-on", "Attribution add-on", "Enterprise plan")

# --- campaigns -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignTemplate:
    name: str
    campaign_type: str  # one of pitboard.campaigns.schemas.CAMPAIGN_TYPES
    channel: str  # GA4 default channel group its touches land in
    utm_source: str
    utm_medium: str
    # Start and end as fractions of the 12-month window; an end above 1.0 runs past "now".
    start: float
    end: float
    budget: float
    weight: float  # relative share of the channel's touches while live


CAMPAIGNS: tuple[CampaignTemplate, ...] = (
    CampaignTemplate("Brand Search - Always On", "paid_search", "Paid Search", "google", "cpc", 0.0, 1.2, 120000, 3),
    CampaignTemplate("Non-Brand Search - Data Quality", "paid_search", "Paid Search", "google", "cpc", 0.05, 1.2,
                     90000, 2),
    CampaignTemplate("Competitor Conquesting", "paid_search", "Paid Search", "google", "cpc", 0.3, 0.8, 45000, 1),
    CampaignTemplate("Bing Search - Always On", "paid_search", "Paid Search", "bing", "cpc", 0.0, 1.2, 25000, 1),
    CampaignTemplate("LinkedIn ABM - H1", "paid_social", "Paid Social", "linkedin", "paid_social", 0.0, 0.5,
                     80000, 2),
    CampaignTemplate("LinkedIn ABM - H2", "paid_social", "Paid Social", "linkedin", "paid_social", 0.5, 1.1,
                     95000, 2),
    CampaignTemplate("LinkedIn Lead Gen Forms", "paid_social", "Paid Social", "linkedin", "paid_social", 0.2, 1.2,
                     60000, 2),
    CampaignTemplate("Facebook Retargeting", "paid_social", "Paid Social", "facebook", "paid_social", 0.0, 1.2,
                     20000, 1),
    CampaignTemplate("YouTube Brand Awareness", "paid_social", "Paid Social", "youtube", "paid_social", 0.6, 0.85,
                     30000, 1),
    CampaignTemplate("Programmatic Retargeting", "display", "Display", "dv360", "display", 0.0, 1.2, 40000, 2),
    CampaignTemplate("G2 Category Display", "display", "Display", "g2", "display", 0.25, 0.75, 15000, 1),
    CampaignTemplate("Monthly Newsletter", "email", "Email", "newsletter", "email", 0.0, 1.2, 6000, 3),
    CampaignTemplate("MQL Nurture Track", "email", "Email", "nurture", "email", 0.0, 1.2, 4000, 2),
    CampaignTemplate("Product Launch: Routing 2.0", "email", "Email", "announcement", "email", 0.55, 0.62, 3000, 2),
    CampaignTemplate("Re-engagement Sequence", "email", "Email", "nurture", "email", 0.7, 1.2, 2500, 1),
    CampaignTemplate("Webinar: Clean Data, Better Pipeline", "webinar", "Email", "webinar", "email", 0.02, 0.12,
                     8000, 2),
    CampaignTemplate("Webinar: Attribution Without Tears", "webinar", "Email", "webinar", "email", 0.18, 0.28,
                     8000, 2),
    CampaignTemplate("Webinar: Lead Routing Masterclass", "webinar", "Email", "webinar", "email", 0.35, 0.45,
                     9000, 2),
    CampaignTemplate("Webinar: RevOps Benchmarks", "webinar", "Email", "webinar", "email", 0.52, 0.62, 9000, 2),
    CampaignTemplate("Webinar: Scoring That Sales Trusts", "webinar", "Email", "webinar", "email", 0.68, 0.78,
                     9500, 2),
    CampaignTemplate("Webinar: Planning Next Year", "webinar", "Email", "webinar", "email", 0.85, 0.97, 10000, 2),
    CampaignTemplate("SaaStr Annual Booth", "event", "Unassigned", "saastr", "event", 0.2, 0.23, 60000, 2),
    CampaignTemplate("Dreamforce Booth", "event", "Unassigned", "dreamforce", "event", 0.7, 0.73, 110000, 3),
    CampaignTemplate("RevOps Roadshow London", "event", "Unassigned", "roadshow", "event", 0.42, 0.44, 25000, 1),
    CampaignTemplate("RevOps Roadshow Singapore", "event", "Unassigned", "roadshow", "event", 0.6, 0.62, 22000, 1),
    CampaignTemplate("Ebook: State of Marketing Ops", "content", "Organic Social", "linkedin", "social", 0.1, 0.6,
                     12000, 2),
    CampaignTemplate("Benchmark Report 2025", "content", "Organic Social", "linkedin", "social", 0.45, 1.2, 15000, 2),
    CampaignTemplate("Data Quality Checklist", "content", "Organic Social", "twitter", "social", 0.3, 1.2, 5000, 1),
    CampaignTemplate("Partner Co-Marketing: Northwind Consulting", "partner", "Referral", "northwind", "referral",
                     0.1, 0.9, 20000, 1),
    CampaignTemplate("Partner Co-Marketing: Cloudline Agency", "partner", "Referral", "cloudline", "referral",
                     0.4, 1.2, 15000, 1),
    CampaignTemplate("Marketplace Listing Promotion", "partner", "Referral", "appexchange", "referral", 0.0, 1.2,
                     10000, 1),
    CampaignTemplate("Next Year Kickoff Launch", "email", "Email", "announcement", "email", 1.02, 1.1, 12000, 1),
)  # fmt: skip

# --- events --------------------------------------------------------------------------------------

# GA4 default channel groups the generator uses. Order matters: arrays index into it.
CHANNELS: tuple[str, ...] = (
    "Organic Search", "Paid Search", "Paid Social", "Organic Social", "Email", "Direct", "Referral", "Display",
    "Unassigned",
)  # fmt: skip

# (name, event_type, share of touches of early-stage contacts, share of touches of engaged contacts)
EVENT_NAMES: tuple[tuple[str, str, float, float], ...] = (
    ("page_viewed", "page", 0.52, 0.46),
    ("email_opened", "track", 0.17, 0.15),
    ("email_clicked", "track", 0.05, 0.05),
    ("ad_click", "track", 0.07, 0.05),
    ("form_submitted", "track", 0.035, 0.04),
    ("content_downloaded", "track", 0.03, 0.035),
    ("webinar_registered", "track", 0.02, 0.025),
    ("webinar_attended", "track", 0.012, 0.016),
    ("event_attended", "track", 0.005, 0.008),
    ("meeting_booked", "track", 0.0, 0.03),
    ("demo_requested", "track", 0.0, 0.012),
    ("email_unsubscribed", "track", 0.004, 0.002),
    ("identify", "identify", 0.03, 0.03),
    ("trial_started", "track", 0.0, 0.01),
)  # fmt: skip

# Channel mix per event name, in CHANNELS order.
EVENT_CHANNEL_MIX: dict[str, tuple[float, ...]] = {
    "page_viewed": (0.30, 0.14, 0.09, 0.06, 0.10, 0.20, 0.07, 0.04, 0.0),
    "email_opened": (0, 0, 0, 0, 1, 0, 0, 0, 0),
    "email_clicked": (0, 0, 0, 0, 1, 0, 0, 0, 0),
    "email_unsubscribed": (0, 0, 0, 0, 1, 0, 0, 0, 0),
    "ad_click": (0, 0.5, 0.35, 0, 0, 0, 0, 0.15, 0),
    "form_submitted": (0.28, 0.18, 0.14, 0.05, 0.12, 0.15, 0.08, 0.0, 0),
    "content_downloaded": (0.2, 0.1, 0.2, 0.35, 0.15, 0, 0, 0, 0),
    "webinar_registered": (0, 0, 0, 0, 1, 0, 0, 0, 0),
    "webinar_attended": (0, 0, 0, 0, 1, 0, 0, 0, 0),
    "event_attended": (0, 0, 0, 0, 0, 0, 0, 0, 1),
    "meeting_booked": (0, 0, 0, 0, 0.3, 0.6, 0.1, 0, 0),
    "demo_requested": (0.3, 0.25, 0.1, 0, 0.1, 0.2, 0.05, 0, 0),
    "identify": (0, 0, 0, 0, 0, 1, 0, 0, 0),
    "trial_started": (0.2, 0.2, 0.1, 0, 0.1, 0.4, 0, 0, 0),
}  # fmt: skip

# Campaign types that can own a touch of each event name (if the channel matches too).
EVENT_CAMPAIGN_TYPES: dict[str, tuple[str, ...]] = {
    "page_viewed": ("paid_search", "paid_social", "display", "email", "content", "partner", "webinar"),
    "email_opened": ("email", "webinar"),
    "email_clicked": ("email", "webinar"),
    "email_unsubscribed": ("email",),
    "ad_click": ("paid_search", "paid_social", "display"),
    "form_submitted": ("paid_search", "paid_social", "email", "content", "partner", "webinar"),
    "content_downloaded": ("content", "paid_social", "email", "paid_search"),
    "webinar_registered": ("webinar",),
    "webinar_attended": ("webinar",),
    "event_attended": ("event",),
    "meeting_booked": ("email",),
    "demo_requested": ("paid_search", "paid_social", "partner"),
    "identify": (),
    "trial_started": ("paid_search",),
}  # fmt: skip
# These cannot happen without a campaign (there is no webinar to attend); if none is live at the
# sampled time the touch becomes a plain direct page view.
CAMPAIGN_REQUIRED: frozenset[str] = frozenset({"webinar_registered", "webinar_attended", "event_attended"})

SITE = "https://www.pitboard-demo.example"
PAGES: tuple[tuple[str, str], ...] = (
    ("/", "Home"), ("/pricing", "Pricing"), ("/product", "Product overview"), ("/product/routing", "Lead routing"),
    ("/product/data-quality", "Data quality"), ("/product/attribution", "Attribution"), ("/customers", "Customers"),
    ("/blog/clean-crm-data", "Blog: 7 habits of a clean CRM"), ("/blog/mql-is-dead", "Blog: Is the MQL dead?"),
    ("/blog/utm-governance", "Blog: UTM governance"), ("/blog/routing-sla", "Blog: Speed-to-lead SLAs"),
    ("/resources/ebook-marketing-ops", "Ebook: State of Marketing Ops"), ("/resources/benchmarks", "Benchmarks"),
    ("/webinars", "Webinars"), ("/events", "Events"), ("/about", "About us"), ("/careers", "Careers"),
    ("/contact", "Contact sales"), ("/demo", "Book a demo"), ("/integrations/salesforce", "Salesforce integration"),
    ("/integrations/hubspot", "HubSpot integration"), ("/docs/getting-started", "Docs: Getting started"),
    ("/security", "Security"), ("/compare/spreadsheet", "Pitboard vs spreadsheets"),
)  # fmt: skip
PAGE_WEIGHTS: tuple[float, ...] = (
    14, 8, 6, 3, 3, 3, 2, 4, 4, 3, 3, 3, 2, 2, 1, 2, 1, 2, 2, 2, 2, 3, 1, 1,
)  # fmt: skip
# Where a visitor came from, per channel (CHANNELS order); empty means no referrer.
REFERRERS: tuple[str, ...] = (
    "https://www.google.com/", "https://www.google.com/", "https://www.linkedin.com/", "https://www.linkedin.com/",
    "", "", "https://www.g2.com/", "https://www.example-news.example/", "",
)  # fmt: skip
FORMS: tuple[tuple[str, str], ...] = (
    ("contact-sales", "Contact sales"), ("newsletter", "Newsletter sign-up"), ("demo-request", "Demo request"),
    ("ebook-download", "Ebook download"), ("webinar-registration", "Webinar registration"),
    ("pricing-quote", "Pricing quote"), ("trial-signup", "Free trial"), ("partner-referral", "Partner referral"),
)  # fmt: skip
EMAIL_SUBJECTS: tuple[str, ...] = (
    "Your monthly RevOps digest", "3 ways to clean up your CRM", "You're invited: live webinar",
    "Last chance to register", "The recording is ready", "New: Routing 2.0 is here",
    "Benchmarks: how do you compare?", "Quick question", "Are we still a fit?", "Your trial ends in 3 days",
)  # fmt: skip
SEARCH_KEYWORDS: tuple[str, ...] = (
    "pitboard", "pitboard pricing", "marketing operations software", "lead routing tool", "crm data quality",
    "dedupe salesforce contacts", "b2b attribution software", "utm tracking governance", "lead scoring tool",
    "marketing ops platform", "revops tools", "lifecycle stage automation",
)  # fmt: skip
AD_CONTENTS: tuple[str, ...] = (
    "carousel_a", "carousel_b", "video_15s", "static_blue", "static_dark", "testimonial", "doc_ad", "retarget_1",
)  # fmt: skip
CONTENT_ASSETS: tuple[str, ...] = (
    "Ebook: State of Marketing Ops", "Benchmark Report 2025", "Data Quality Checklist", "Routing Playbook",
    "Attribution Primer",
)  # fmt: skip
MEETING_TYPES: tuple[str, ...] = ("discovery", "demo", "technical_review", "pricing", "check_in")

USER_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Edg/124.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
)  # fmt: skip
# Documentation address ranges (RFC 5737): realistic-looking, never anybody's real address.
IP_PREFIXES: tuple[str, ...] = ("192.0.2.", "198.51.100.", "203.0.113.")

# Source system of an event, per event name; web events come from the site's JavaScript tag.
EVENT_SOURCES: dict[str, str] = {
    "page_viewed": "website", "form_submitted": "website", "content_downloaded": "website",
    "demo_requested": "website", "trial_started": "product", "identify": "website", "email_opened": "hubspot",
    "email_clicked": "hubspot", "email_unsubscribed": "hubspot", "webinar_registered": "zoom",
    "webinar_attended": "zoom", "event_attended": "event_app", "meeting_booked": "salesforce",
    "ad_click": "ads",
}  # fmt: skip
# Ad clicks arrive through the ad platform of their channel.
AD_SOURCES: dict[str, str] = {"Paid Search": "google_ads", "Paid Social": "linkedin_ads", "Display": "dv360"}
SOURCE_LIBRARIES: dict[str, tuple[str, str]] = {
    "website": ("analytics.js", "5.2.1"), "product": ("analytics-node", "6.2.0"), "hubspot": ("hubspot-webhooks", "3"),
    "zoom": ("zoom-webhooks", "2"), "event_app": ("badge-scanner", "1.4"), "salesforce": ("salesforce-sync", "58.0"),
    "google_ads": ("google-ads-api", "16"), "linkedin_ads": ("linkedin-marketing-api", "202404"),
    "dv360": ("dv360-api", "3"), "csv_import": ("pitboard-import", "1"),
}  # fmt: skip
