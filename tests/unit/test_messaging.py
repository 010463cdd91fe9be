"""Email templates, the plain-text fallback and the MIME message built from an outbox row (no I/O)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pitboard.kit.time import utcnow
from pitboard.messaging import smtp
from pitboard.messaging.render import (
    BUILTIN_TEMPLATE_DIR,
    RenderError,
    contact_fields,
    html_to_text,
    render_email,
    render_footer,
)
from pitboard.models import Contact, Message

DOI = {"contact": {"first_name": "Ada"}, "purposes": ["Newsletter"], "confirm_url": "https://x.test/c",
       "expires_hours": 72}  # fmt: skip


def _write(root: Path, name: str, files: dict[str, str]) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    for filename, content in files.items():
        (folder / filename).write_text(content)
    return root


def test_a_missing_variable_is_an_error_naming_it() -> None:
    context = {k: v for k, v in DOI.items() if k != "confirm_url"}
    with pytest.raises(RenderError, match="confirm_url"):
        render_email("double_opt_in_confirm", context)


def test_fallback_fills_empty_fields_but_not_misspelt_ones(tmp_path: Path) -> None:
    assert render_email("double_opt_in_confirm", {**DOI, "contact": {"first_name": None}}).text.startswith(
        "Hello there,"
    )
    assert render_email("double_opt_in_confirm", {**DOI, "contact": {"first_name": "  "}}).text.startswith(
        "Hello there,"
    )
    _write(tmp_path, "typo", {"subject.txt": "Hi", "body.txt": "Hello {{ contact.frist_name | fallback('you') }}"})
    with pytest.raises(RenderError, match="frist_name"):
        render_email("typo", {"contact": {"first_name": "Ada"}}, search_path=[tmp_path])


def test_an_empty_field_prints_as_nothing_not_none(tmp_path: Path) -> None:
    _write(tmp_path, "plain", {"subject.txt": "For {{ contact.company_name }}", "body.txt": "[{{ contact.title }}]"})
    rendered = render_email("plain", {"contact": contact_fields(Contact(first_name="Ada"))}, search_path=[tmp_path])
    assert (rendered.subject, rendered.text) == ("For", "[]\n")


def test_contact_rows_are_turned_into_plain_fields() -> None:
    contact = Contact(id=7, email="ada@example.org", first_name="Ada", last_name="Lovelace", custom={"plan": "pro"})
    fields = contact_fields(contact)
    assert fields["full_name"] == "Ada Lovelace"
    assert fields["custom"] == {"plan": "pro"}
    rendered = render_email("double_opt_in_confirm", {**DOI, "contact": contact})
    assert rendered.text.startswith("Hello Ada,")
    assert contact_fields(None, email="x@example.org")["email"] == "x@example.org"


def test_html_is_escaped_text_and_subject_are_not(tmp_path: Path) -> None:
    _write(tmp_path, "esc", {"subject.txt": "{{ v }}", "body.txt": "{{ v }}", "body.html": "<p>{{ v }}</p>"})
    rendered = render_email("esc", {"v": "Tom & <Jerry>"}, search_path=[tmp_path])
    assert rendered.subject == "Tom & <Jerry>"
    assert rendered.text == "Tom & <Jerry>\n"
    assert rendered.html == "<p>Tom &amp; &lt;Jerry&gt;</p>"


def test_subject_is_one_line_so_data_cannot_inject_headers(tmp_path: Path) -> None:
    _write(tmp_path, "inj", {"subject.txt": "Hi {{ name }}\n", "body.txt": "x"})
    rendered = render_email("inj", {"name": "Ada\r\nBcc: victim@example.org"}, search_path=[tmp_path])
    assert rendered.subject == "Hi Ada Bcc: victim@example.org"


def test_the_sandbox_refuses_unsafe_attribute_access(tmp_path: Path) -> None:
    _write(tmp_path, "evil", {"subject.txt": "x", "body.txt": "{{ contact.__class__.__mro__ }}"})
    with pytest.raises(RenderError):
        render_email("evil", {"contact": {}}, search_path=[tmp_path])


def test_text_part_is_derived_from_html_when_there_is_no_text_template(tmp_path: Path) -> None:
    html = ("<html><head><style>p {color: red}</style><title>T</title></head><body><h1>News</h1>"
            "<p>Read <a href='https://x.test/a'>the post</a> or visit https://x.test.</p>"
            "<ul><li>one</li><li>two</li></ul><p>Line<br>break &amp; more</p></body></html>")  # fmt: skip
    _write(tmp_path, "htmlonly", {"subject.txt": "S", "body.html": html})
    rendered = render_email("htmlonly", {}, search_path=[tmp_path])
    assert rendered.html == html
    assert rendered.text == (
        "News\n\nRead the post (https://x.test/a) or visit https://x.test.\n\n- one\n- two\n\nLine\nbreak & more\n"
    )


def test_html_to_text_does_not_repeat_a_link_that_is_its_own_text() -> None:
    assert html_to_text('<p><a href="https://x.test/u">https://x.test/u</a></p>') == "https://x.test/u\n"
    assert html_to_text('<a href="mailto:help@x.test">write to us</a>') == "write to us (help@x.test)\n"
    assert html_to_text('<a href="#top">top</a><script>alert(1)</script>') == "top\n"


def test_earlier_folders_on_the_search_path_override_single_files(tmp_path: Path) -> None:
    _write(tmp_path, "double_opt_in_confirm", {"subject.txt": "Bitte bestätigen"})
    rendered = render_email("double_opt_in_confirm", DOI, search_path=[tmp_path, BUILTIN_TEMPLATE_DIR])
    assert rendered.subject == "Bitte bestätigen"
    assert rendered.text.startswith("Hello Ada,")  # the body still comes from the built-in folder


def test_unknown_and_malformed_template_names(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="not found"):
        render_email("no_such_template", {})
    with pytest.raises(RenderError, match="must be lower-case"):
        render_email("../settings", {})
    _write(tmp_path, "nobody", {"subject.txt": "S"})
    with pytest.raises(RenderError, match=r"neither body\.txt nor body\.html"):
        render_email("nobody", {}, search_path=[tmp_path])
    _write(tmp_path, "broken", {"subject.txt": "{% if %}", "body.txt": "x"})
    with pytest.raises(RenderError, match=r"broken/subject\.txt:1"):
        render_email("broken", {}, search_path=[tmp_path])


def test_footer_has_both_links_in_both_parts() -> None:
    text, html = render_footer({"unsubscribe_url": "https://x.test/u?a=1&b=2", "preferences_url": "https://x.test/p",
                                "purpose_label": "News & views"})  # fmt: skip
    assert "Unsubscribe: https://x.test/u?a=1&b=2" in text
    assert "News & views" in text
    assert 'href="https://x.test/u?a=1&amp;b=2"' in html
    assert "News &amp; views" in html


# --- the MIME message --------------------------------------------------------------------------------


def _row(**kw: object) -> Message:
    values: dict[str, object] = {
        "id": 3, "contact_id": 1, "channel": "email", "kind": "marketing", "purpose": "newsletter",
        "template": None, "to_address": "Ada Lovelace <ada@example.org>", "from_address": "Pitboard <m@pitboard.test>",
        "subject": "Grüße aus Köln", "body_text": "Hallo\n", "body_html": "<p>Hallo</p>",
        "headers": {"List-Unsubscribe": "<https://x.test/u/t>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        "message_id_header": "<abc123@pitboard.test>", "status": "queued", "attempts": 0, "created_at": utcnow(),
    }  # fmt: skip
    values.update(kw)
    return Message(**values)


def test_mime_message_carries_the_rows_headers_and_both_parts() -> None:
    mime = smtp.build_mime(_row())
    assert mime.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mime.iter_parts()] == ["text/plain", "text/html"]
    assert mime["Message-ID"] == "<abc123@pitboard.test>"
    assert mime["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mime["Subject"] == "Grüße aus Köln"
    assert "=?utf-8?" in mime.as_string()  # encoded on the wire
    assert smtp.envelope_address(mime["To"]) == "ada@example.org"


def test_mime_without_html_is_a_single_text_part() -> None:
    mime = smtp.build_mime(_row(body_html=None))
    assert mime.get_content_type() == "text/plain"


def test_extra_headers_cannot_override_the_rows_own() -> None:
    with pytest.raises(smtp.DeliveryError, match="Bcc") as err:
        smtp.build_mime(_row(headers={"Bcc": "someone@example.org"}))
    assert err.value.permanent
