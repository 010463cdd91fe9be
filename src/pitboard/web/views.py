"""Placeholder, replaced by the web shell."""

from __future__ import annotations

from fastapi import FastAPI

from pitboard.settings import Settings


def install(app: FastAPI, settings: Settings) -> None:
    del app, settings
