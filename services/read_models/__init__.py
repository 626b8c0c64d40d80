"""What services return: pydantic read models, typed in Python and named as the spec names them in JSON.

Fields are snake_case in Python; `ReadModel` serialises them camelCase (`thumb_url` → `thumbUrl`), which is how the
spec spells most keys. Where the spec spells a key in snake_case (`shot_id`, `size_label`), the field says so with
`Field(serialization_alias=...)`/`alias=`. `model_dump(mode="json")` is exactly the JSON the API sends.
"""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer
from pydantic.alias_generators import to_camel

from services.models import iso


class ReadModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        from_attributes=True,
        json_schema_serialization_defaults_required=True,  # /openapi.json: every field is always sent
    )


def _utc_iso(value: datetime) -> str:
    return iso(value) or ""


# A moment as the spec writes it, `2026-01-17T09:30:00.123456Z`: naive values (SQLite's) are taken as UTC.
UtcDatetime = Annotated[datetime, PlainSerializer(_utc_iso, return_type=str)]
