"""Masking of request labels and redaction of notes that outlive an erasure."""

from __future__ import annotations

import pytest

from pitboard.privacy.masking import REDACTED, is_masked, mask_email, redact


@pytest.mark.parametrize(
    ("given", "masked"),
    [
        ("john.doe@acme.com", "j***@a***.com"),
        (" John.Doe@ACME.com ", "j***@a***.com"),
        ("ann@mail.acme.co.uk", "a***@m***.uk"),
        ("x@localhost", "x***@l***"),
        ("@acme.com", "***@a***.com"),
        ("no-at-sign", "n***"),
        ("", "***"),
    ],
)
def test_mask_email(given: str, masked: str) -> None:
    assert mask_email(given) == masked
    assert is_masked(masked)


def test_a_plain_address_is_not_masked() -> None:
    assert not is_masked("john.doe@acme.com")


def test_redact_cuts_out_whole_words_case_insensitively() -> None:
    note = "Al Quist (AL@quist.io, +49 30 1234) will call back; Allison knows."
    out = redact(note, ["Al", "Quist", "al@quist.io", "+49 30 1234"])
    assert out == f"{REDACTED} {REDACTED} ({REDACTED}, {REDACTED}) will call back; Allison knows."


def test_redact_prefers_the_longest_needle_and_ignores_single_characters() -> None:
    assert redact("Mail ann@acme.io or ann", ["ann", "ann@acme.io", "a", " "]) == f"Mail {REDACTED} or {REDACTED}"
    assert redact("", ["ann"]) == ""
    assert redact("nothing to do", []) == "nothing to do"
