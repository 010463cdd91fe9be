"""Standard Webhooks signatures and the Slack payload."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from pitboard.kit.errors import ValidationFailed
from pitboard.notify import parse_destination, signing

# The example from the Standard Webhooks specification's reference test suite.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TS = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_specification_example() -> None:
    assert signing.sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIGNATURE


def test_signature_is_hmac_sha256_of_id_timestamp_body() -> None:
    secret = signing.new_secret()
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, b"msg_1.1700000000.{}", hashlib.sha256).digest()).decode()
    assert signing.sign(secret, "msg_1", 1700000000, b"{}") == "v1," + expected


def test_verify_accepts_any_listed_signature_and_refuses_tampering_and_old_timestamps() -> None:
    secret = signing.new_secret()
    body = b'{"type":"x"}'
    good = signing.sign(secret, "msg_a", 1000, body)
    headers = {"webhook-id": "msg_a", "webhook-timestamp": "1000", "webhook-signature": f"v1,AAAA {good}"}
    assert signing.verify(secret, headers, body, now=1000)
    assert not signing.verify(secret, headers, body + b" ", now=1000)
    assert not signing.verify(secret, {**headers, "webhook-id": "msg_b"}, body, now=1000)
    assert not signing.verify(secret, headers, body, now=1000 + signing.TOLERANCE_SECONDS + 1)
    assert not signing.verify(signing.new_secret(), headers, body, now=1000)


@pytest.mark.parametrize(
    ("secret", "problem"),
    [("abc", "starts with"), ("whsec_!!!", "base64"), ("whsec_" + base64.b64encode(b"short").decode(), "24")],
)
def test_bad_secrets_are_refused_with_the_reason(secret: str, problem: str) -> None:
    with pytest.raises(signing.BadSecret, match=problem):
        signing.secret_bytes(secret)


def test_slack_payload_has_blocks_fields_link_and_an_escaped_fallback() -> None:
    facts = {f"k{i}": f"v{i}" for i in range(12)}
    payload = signing.slack_payload("SLA <missed>", "Lead & co waits", "https://x.test/c/1", facts)
    blocks = payload["blocks"]
    assert isinstance(blocks, list)
    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["text"] == "SLA <missed>"
    assert blocks[1]["text"]["text"] == "Lead &amp; co waits"
    assert len(blocks[2]["fields"]) == 10  # Slack's limit; the rest follows as text
    assert "k11" in blocks[3]["text"]["text"]
    assert blocks[-1]["text"]["text"] == "<https://x.test/c/1|Open in pitboard>"
    assert payload["text"] == "SLA <missed>: Lead & co waits https://x.test/c/1"


def test_slack_header_is_cut_to_slacks_limit() -> None:
    payload = signing.slack_payload("x" * 400, "t", None, None)
    header = payload["blocks"][0]["text"]["text"]  # type: ignore[index]
    assert len(header) == 150
    assert header.endswith("…")


@pytest.mark.parametrize("to", ["slack", "sms:1", "email:", "webhook: ", "", "Slack:x"])
def test_bad_destinations_are_refused(to: str) -> None:
    with pytest.raises(ValidationFailed, match="must be"):
        parse_destination(to)


def test_destinations_parse() -> None:
    assert parse_destination("email:a@b.test") == ("email", "a@b.test")
    assert parse_destination("webhook:crm.sync") == ("webhook", "crm.sync")
