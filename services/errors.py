"""The one error type use cases raise; pages, the CLI and the API turn it into messages or JSON."""

from __future__ import annotations

from typing import Any


class ReshootError(Exception):
    """A failure with a stable `code` (the spec's error strings), an HTTP-like `status` and `details`."""

    def __init__(self, code: str, status: int = 400, details: Any = None, message: str | None = None):
        super().__init__(message or code)
        self.code = code
        self.status = status
        self.details = details
        self.message = message or code

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code}
        if self.details is not None:
            body["details"] = self.details
        return body


def not_found(code: str, details: Any = None) -> ReshootError:
    return ReshootError(code, 404, details)


def invalid_request(details: Any) -> ReshootError:
    return ReshootError("INVALID_REQUEST", 400, details)
