"""JSON bodies parsed from raw bytes into the request models, with the spec's INVALID_REQUEST details."""

from __future__ import annotations

import pytest

from services.api.bodies import parse_json
from services.api.schemas import RegenerateImageRequest, UpdateSentenceRequest
from services.errors import ReshootError
from services.lifestyle import GenerateHeroesOptions


def invalid(raw: bytes, model) -> ReshootError:
    with pytest.raises(ReshootError) as e:
        parse_json(raw, model)
    assert e.value.code == "INVALID_REQUEST" and e.value.status == 400
    return e.value


@pytest.mark.parametrize("raw", [b"", b"  \n", b"{}"])
def test_empty_body_means_defaults(raw):
    body = parse_json(raw, GenerateHeroesOptions)
    assert (body.shot_ids, body.dry_run, body.overwrite) == (None, False, False)


def test_seed_request_parses():
    body = parse_json(b'{"shotIds":["OL-2"],"dryRun":false,"overwrite":true}', GenerateHeroesOptions)
    assert (body.shot_ids, body.dry_run, body.overwrite) == (["OL-2"], False, True)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"shotIds":[]}', "shotIds"),
        (b'{"shotIds":"OL-1"}', "shotIds"),
        (b'{"shotIds":[1]}', "shotIds.0"),
        (b'{"shotIds":[""]}', "shotIds.0"),
        (b'{"dryRun":"yes"}', "dryRun"),
        (b'{"overwrite":1}', "overwrite"),
        (b'{"dryrun":true}', "dryrun"),
    ],
)
def test_bad_options_name_the_field(raw, field):
    details = invalid(raw, GenerateHeroesOptions).details
    assert field in [d["field"] for d in details]
    assert all(d["message"] for d in details)


@pytest.mark.parametrize("raw", [b"not json", b"[1,2]", b'"text"', b"{"])
def test_non_object_bodies_are_invalid(raw):
    assert invalid(raw, GenerateHeroesOptions).details[0]["field"] == "body"


def test_oversized_body_is_413():
    with pytest.raises(ReshootError) as e:
        parse_json(b" " * (1024 * 1024 + 1), GenerateHeroesOptions)
    assert e.value.status == 413


def test_regenerate_seed_optional_nullable_and_any_integer():
    assert parse_json(b"", RegenerateImageRequest).seed is None
    assert parse_json(b'{"seed":null}', RegenerateImageRequest).seed is None
    assert parse_json(b'{"seed":12345}', RegenerateImageRequest).seed == 12345
    assert parse_json(b'{"seed":-1}', RegenerateImageRequest).seed == -1  # random, as A1111/ComfyUI users type it
    assert parse_json(b'{"seed":%d}' % 2**64, RegenerateImageRequest).seed == 2**64  # reduced by the use case
    for raw in (b'{"seed":"42"}', b'{"seed":1.5}', b'{"seed":true}'):
        invalid(raw, RegenerateImageRequest)


def test_update_sentence_requires_prompt_and_accepts_seed_flags():
    body = parse_json(b'{"imagePrompt":"A wide shot","isImageDirty":true,"isVideoDirty":true}', UpdateSentenceRequest)
    assert body.image_prompt == "A wide shot"
    assert invalid(b'{"isImageDirty":true}', UpdateSentenceRequest).details[0]["field"] == "imagePrompt"
