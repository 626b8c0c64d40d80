"""The base of every use case's options model: what a caller asks for, checked once, whoever calls.

The API validates request bodies with these models (camelCase, as the spec writes them; Python code passes
snake_case names); the pages and the CLI build them too, so a bad value gets the same answer everywhere.
Strict: a JSON `"42"` or `true` is not a number, and an unknown field is an error, not silently dropped.
"""

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Options(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="forbid",
        strict=True,
        frozen=True,
    )
