"""Error hierarchy shared by the library, the API (mapped to 4xx/5xx JSON) and the CLI
(mapped to a one-line message and a non-zero exit code)."""

from __future__ import annotations

__all__ = [
    "GenPersoError",
    "InvalidInput",
    "NotFound",
    "MediaError",
    "SafetyBlocked",
    "Retryable",
    "Conflict",
]


class GenPersoError(Exception):
    """Base class: every error a user can act on. ``status`` is the HTTP status the API uses."""

    status: int = 500
    code: str = "error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"error": self.code, "message": self.message}
        if self.details:
            out["details"] = {k: v for k, v in self.details.items()}
        return out


class InvalidInput(GenPersoError):
    """Bad input from the caller (bad id, wrong embedding dimension, NaN, absurd size, ...)."""

    status = 422
    code = "invalid_input"


class NotFound(GenPersoError):
    """An id that does not exist (title, asset, job, user, angle, file)."""

    status = 404
    code = "not_found"


class MediaError(InvalidInput):
    """A media file that cannot be used: missing, empty, truncated, corrupt, no video stream, ..."""

    status = 422
    code = "media_error"


class SafetyBlocked(GenPersoError):
    """No candidate passed the safety gate."""

    status = 409
    code = "safety_blocked"


class Conflict(GenPersoError):
    status = 409
    code = "conflict"


class Retryable(GenPersoError):
    """A transient failure (a lost connection, a busy resource): workers retry only these."""

    status = 503
    code = "retryable"
