"""The one error type use cases raise; pages, the CLI and the API turn it into messages or JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError


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


def validation_details(errors: list[Any]) -> list[dict[str, str]]:
    """Pydantic/FastAPI errors as plain JSON: [{"field": "shotIds", "message": "…"}]."""
    details = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path", "header")]
        details.append({"field": ".".join(loc) or "body", "message": str(error.get("msg", "invalid"))})
    return details


def invalid_from(exc: ValidationError) -> ReshootError:
    """An options model's refusal as the 400 INVALID_REQUEST every way in answers (API, CLI, pages)."""
    return invalid_request(validation_details(exc.errors(include_url=False, include_context=False)))
