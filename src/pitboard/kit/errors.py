"""Errors with a stable machine code; the API renders them as ``{"code", "message"}``."""

from __future__ import annotations

from typing import Any


class PitboardError(Exception):
    code = "error"
    status_code = 400

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(PitboardError):
    code = "not_found"
    status_code = 404


class Conflict(PitboardError):
    code = "conflict"
    status_code = 409


class ValidationFailed(PitboardError):
    code = "validation_error"
    status_code = 422


class Unauthorized(PitboardError):
    code = "unauthorized"
    status_code = 401


class Forbidden(PitboardError):
    code = "forbidden"
    status_code = 403


class TooSlow(PitboardError):
    """A read that is allowed a bounded time (a live preview) ran past it and was stopped."""

    code = "timeout"
    status_code = 503
