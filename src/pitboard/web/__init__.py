"""Server-rendered web UI (Jinja2). ``install_web`` adds sessions, static files and the pages."""

from __future__ import annotations

from fastapi import FastAPI

from pitboard.settings import Settings


def install_web(app: FastAPI, settings: Settings) -> None:
    from pitboard.web.views import install

    install(app, settings)
