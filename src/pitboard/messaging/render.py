"""Email templates: Jinja2 in a sandbox, HTML autoescaped, a missing variable an error rather than a blank.

A template is a folder named after it with ``subject.txt`` and at least one of ``body.txt`` and ``body.html``;
without ``body.txt`` the plain-text part is derived from the HTML, so every email has a text part (spam filters
and some readers want one). Folders are looked up along a search path, first match wins: a project will put its
own template folder in front of the built-in one to override a template (or the marketing footer,
``_footer/marketing.*``) without copying the rest.

Templates get a ``contact`` mapping (:func:`contact_fields`); a Contact row passed as ``contact`` is turned into
one, so templates can never reach the ORM (lazy loads, other tables) from a project's template file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from pitboard.kit.errors import ValidationFailed
from pitboard.models import Contact

BUILTIN_TEMPLATE_DIR = Path(__file__).parent / "templates"
_TEMPLATE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def default_search_path() -> list[Path]:
    """Folders searched for templates, first match wins. The project-folder override goes in front of this."""
    return [BUILTIN_TEMPLATE_DIR]


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str | None


class RenderError(ValidationFailed):
    """A template is missing, uses an undefined variable or does not compile."""


def render_email(
    template: str, context: Mapping[str, Any], *, search_path: Sequence[Path] | None = None
) -> RenderedEmail:
    """Render ``<template>/subject.txt``, ``body.txt`` and ``body.html`` with ``context``."""
    if not _TEMPLATE_NAME.match(template):
        raise RenderError(f"email template name {template!r} must be lower-case letters, digits, _ and -")
    env = _environment(tuple(search_path or default_search_path()))
    ctx = _personalised(context)
    subject = _render(env, f"{template}/subject.txt", ctx)
    if subject is None:
        raise RenderError(f"email template {template!r} not found (looked for {template}/subject.txt)")
    html = _render(env, f"{template}/body.html", ctx)
    text = _render(env, f"{template}/body.txt", ctx)
    if text is None:
        if html is None:
            raise RenderError(f"email template {template!r} has neither body.txt nor body.html")
        text = html_to_text(html)
    return RenderedEmail(subject=one_line(subject), text=text.strip() + "\n", html=html)


def render_footer(context: Mapping[str, Any], *, search_path: Sequence[Path] | None = None) -> tuple[str, str]:
    """The marketing footer (unsubscribe and preference links) as (text, html)."""
    env = _environment(tuple(search_path or default_search_path()))
    text = _render(env, "_footer/marketing.txt", context)
    html = _render(env, "_footer/marketing.html", context)
    if text is None or html is None:
        raise RenderError("the marketing footer templates _footer/marketing.txt and .html are missing")
    return text, html


def contact_fields(contact: Contact | None, *, email: str | None = None) -> dict[str, Any]:
    """What templates may know about a person. Without a contact (a reply to a bare address) only the email."""
    if contact is None:
        names: dict[str, Any] = dict.fromkeys(("id", "first_name", "last_name", "title", "company_name"))
        return {**names, "email": email, "full_name": None, "country": None, "city": None, "custom": {}}
    full_name = " ".join(p for p in (contact.first_name, contact.last_name) if p) or None
    return {
        "id": contact.id,
        "email": email or contact.email,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "full_name": full_name,
        "title": contact.title,
        "company_name": contact.company_name,
        "country": contact.country,
        "city": contact.city,
        "custom": dict(contact.custom or {}),
    }


def fallback(value: Any, default: str = "") -> Any:
    """``{{ contact.first_name | fallback("there") }}``: the default for an empty field.

    Unlike Jinja's ``default`` this does not accept an undefined name, so a misspelt field still fails.
    """
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined raises here, naming the missing attribute
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    return value


def one_line(value: str) -> str:
    """Header text: whitespace (newlines included, which would inject headers) collapsed to single spaces."""
    return " ".join(value.split())


def _finalize(value: Any) -> Any:
    # A known field that is empty prints as nothing, never as "None".
    return "" if value is None else value


@lru_cache(maxsize=16)
def _environment(search_path: tuple[Path, ...]) -> jinja2.Environment:
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader([str(p) for p in search_path]),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["fallback"] = fallback
    return env


def _personalised(context: Mapping[str, Any]) -> dict[str, Any]:
    ctx = dict(context)
    if isinstance(ctx.get("contact"), Contact):
        ctx["contact"] = contact_fields(ctx["contact"])
    return ctx


def _render(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str | None:
    try:
        template = env.get_template(name)
    except jinja2.TemplateNotFound:
        return None
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"{name}:{exc.lineno}: {exc.message}") from exc
    try:
        return template.render(context)
    except jinja2.UndefinedError as exc:
        raise RenderError(f"{name}: {exc.message}") from exc
    except jinja2.TemplateError as exc:
        raise RenderError(f"{name}: {exc}") from exc


# --- plain text from HTML ---------------------------------------------------------------------------

_BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "div", "dl", "dt", "dd", "footer", "h1", "h2", "h3", "h4", "h5",
    "h6", "header", "hr", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "thead", "tfoot", "tr", "ul",
})  # fmt: skip
_HIDDEN = frozenset({"head", "script", "style", "title", "template"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden_depth = 0
        self.links: list[tuple[str | None, int]] = []  # (href, index of the link's first text part)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden_depth += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in _BLOCKS:
            self.parts.append("\n\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag == "a":
            self.links.append((dict(attrs).get("href"), len(self.parts)))
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(alt)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)  # <br/> and <img/> are complete in themselves

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden_depth = max(0, self.hidden_depth - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n\n")
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            label = " ".join("".join(self.parts[start:]).split())
            # A reader of the text part needs the address; a link whose text is the address needs it once.
            if href and not href.startswith("#") and href != label:
                self.parts.append(f" ({href.removeprefix('mailto:')})" if label else href)

    def handle_data(self, data: str) -> None:
        if not self.hidden_depth:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """A readable plain-text version of an HTML email: blocks as paragraphs, list items as dashes, link
    targets in brackets after their text, head/style/script dropped."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
