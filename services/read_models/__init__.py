"""What services return: pydantic read models, typed in Python and named as the spec names them in JSON.

Fields are snake_case in Python; `ReadModel` serialises them camelCase (`thumb_url` → `thumbUrl`), which is how the
spec spells most keys. Where the spec spells a key in snake_case (`shot_id`, `size_label`), the field says so with
`Field(serialization_alias=...)`/`alias=`. `model_dump(mode="json")` is exactly the JSON the API sends.
"""

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ReadModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        from_attributes=True,
    )
