"""Text every database we run on can store. PostgreSQL refuses the NUL character in text columns and cannot
encode unpaired surrogates (invalid Unicode a JSON body can carry as "\\ud800"); SQLite would store both, so the
same input is refused everywhere, as a 400 INVALID_REQUEST naming the field, never a 500 from the driver.

Callers that know the user's field names check with `require_storable`; `services.db` checks every statement's
parameters as a safety net (naming the column).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from services.errors import ReshootError

NUL_MESSAGE = "contains a NUL character (U+0000), which the database refuses; remove it and try again"
SURROGATE_MESSAGE = "contains invalid Unicode (an unpaired surrogate), which the database refuses"


def refusal(value: str) -> str | None:
    """Why `value` cannot be stored, or None when it can."""
    if "\x00" in value:
        return NUL_MESSAGE
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return SURROGATE_MESSAGE
    return None


def problems(values: Mapping[str, Any]) -> list[dict[str, str]]:
    """[{"field", "message"}] for every string (also inside lists and objects, e.g. "shotIds.0", and their keys)
    that cannot be stored."""
    return [{"field": field, "message": message} for field, message in _walk(values, "")]


def _walk(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        message = refusal(value)
        if message:
            yield path or "body", message
    elif isinstance(value, Mapping):
        for key, item in value.items():
            name = str(key)
            if refusal(name):
                yield path or "body", f"has a field name that {refusal(name)}"
                continue
            yield from _walk(item, f"{path}.{name}" if path else name)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}.{index}" if path else str(index))


def storable_error(found: list[dict[str, str]]) -> ReshootError:
    """INVALID_REQUEST (400) with `found` as details and a message a page can show as it is."""
    first = found[0]
    return ReshootError("INVALID_REQUEST", 400, found, f"{first['field']} {first['message']}.")


def require_storable(values: Mapping[str, Any]) -> None:
    """Raise INVALID_REQUEST naming every field of `values` whose text cannot be stored."""
    found = problems(values)
    if found:
        raise storable_error(found)


def checked_text(value: object, *, field: str, max_length: int, what: str) -> str:
    """`value` if it is text of at most `max_length` characters that every database stores; otherwise 400
    INVALID_REQUEST on `field` (the message names `what`, e.g. "A comment has at most 2000 characters")."""
    if not isinstance(value, str):
        raise ReshootError("INVALID_REQUEST", 400, [{"field": field, "message": "must be text"}])
    if len(value) > max_length:
        raise ReshootError(
            "INVALID_REQUEST",
            400,
            [{"field": field, "message": f"is longer than {max_length} characters"}],
            f"{what} has at most {max_length} characters ({len(value)} given).",
        )
    require_storable({field: value})
    return value
