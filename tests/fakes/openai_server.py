"""A fake OpenAI images API (`/v1/images/generations`, `/v1/images/edits`) that checks what it is sent.

Requests are validated against OpenAI's published OpenAPI spec (shared/reference/openai-images.openapi.yaml)
and against what the real API refuses (unknown parameters such as `seed`, sizes a gpt-image model does not
make, a wrong key, references that are not images). Errors use OpenAI's `{"error": {...}}` shape.
`fail(kind)` makes the next answers fail: rate_limit, quota, server_error, policy, timeout, malformed, no_image,
empty_data (200 with `"data": []`), wrong_size (a valid answer whose PNG is `size="WxH"`, e.g. "1x1", whatever was
asked; the answer's own `size` field still says what was asked), trickle (a valid answer sent one byte every
`seconds`).
"""

from __future__ import annotations

import base64
import hashlib
import io
import time
from collections import deque
from functools import lru_cache
from pathlib import Path

import jsonschema
import yaml
from PIL import Image

from .server import FakeServer, Request, Response

SPEC_PATH = Path(__file__).with_name("openai-images.openapi.yaml")  # copy of shared/reference
GPT_IMAGE_SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
INTEGER_FIELDS = {"n", "output_compression", "partial_images"}
BOOLEAN_FIELDS = {"stream"}
SCHEMAS = {"/v1/images/generations": "CreateImageRequest", "/v1/images/edits": "CreateImageEditRequest"}
POLICY_MESSAGE = (
    "Your request was rejected as a result of our safety system. "
    "Your request may contain content that is not allowed by our safety system."
)


@lru_cache(maxsize=1)
def _spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text())


def _validator(schema_name: str) -> jsonschema.Draft202012Validator:
    spec = _spec()
    return jsonschema.Draft202012Validator(
        {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    )


def _error(status: int, message: str, *, type_: str, code: str | None = None, param: str | None = None, headers=None):
    return Response.json({"error": {"message": message, "type": type_, "param": param, "code": code}}, status, headers)


def invalid(message: str, *, code: str = "invalid_value", param: str | None = None) -> Response:
    return _error(400, message, type_="invalid_request_error", code=code, param=param)


def png_of(size: str, prompt: str) -> bytes:
    """A flat PNG of `size` whose colour comes from the prompt."""
    width, height = (int(side) for side in (size if size != "auto" else "1024x1024").split("x"))
    colour = tuple(hashlib.sha256(prompt.encode()).digest()[:3])
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


class FakeOpenAI(FakeServer):
    def __init__(self, *, api_key: str = "sk-test-fake", models: tuple[str, ...] = ("gpt-image-1",)):
        super().__init__()
        self.api_key = api_key
        self.models = models
        self.failures: deque[tuple[str, dict]] = deque()
        self.received: list[dict] = []  # every request that passed validation, as fields (+ "images")
        self.latency = 0.0  # seconds every image answer takes, like a real backend's render time
        self.answer_times: list[tuple[float, float]] = []  # (arrived, answered) wall-clock times of image answers

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def fail(self, kind: str, *, times: int = 1, **options) -> None:
        """Answer the next `times` image requests with failure `kind` (see the module docstring)."""
        self.failures.extend([(kind, options)] * times)

    def image_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path in SCHEMAS]

    def handle(self, request: Request) -> Response:
        arrived = time.time()
        response = self._answer(request)
        if request.path in SCHEMAS and response.status == 200:
            with self.lock:
                self.answer_times.append((arrived, time.time()))
        return response

    def _answer(self, request: Request) -> Response:
        if request.method != "POST" or request.path not in SCHEMAS:
            return _error(404, f"Invalid URL ({request.method} {request.path})", type_="invalid_request_error")
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", type_="invalid_request_error", code="invalid_api_key")
        with self.lock:
            failure = self.failures.popleft() if self.failures else None
        if failure:
            answer = self._failure(*failure)
            if answer is not None:
                return answer
        fields, problem = self._fields(request)
        if problem:
            return problem
        problem = self._check(request.path, fields)
        if problem:
            return problem
        with self.lock:
            self.received.append(fields)
        self.hang(self.latency)
        size = fields.get("size") or "1024x1024"
        kind, options = failure or (None, {})
        drawn = options["size"] if kind == "wrong_size" else size
        body = {
            "created": int(time.time()),
            "data": [{"b64_json": base64.b64encode(png_of(drawn, fields["prompt"])).decode()}],
            "background": "opaque",
            "output_format": "png",
            "size": size if size != "auto" else "1024x1024",
            "quality": "high",
            "usage": {
                "total_tokens": 100,
                "input_tokens": 50,
                "output_tokens": 50,
                "input_tokens_details": {"text_tokens": 10, "image_tokens": 40},
            },
        }
        _validator("ImagesResponse").validate(body)  # the fake itself must answer per the spec
        answer = Response.json(body)
        if kind == "trickle":
            answer.trickle = options.get("seconds", 0.2)
        return answer

    def _failure(self, kind: str, options: dict) -> Response | None:
        if kind == "rate_limit":
            headers = {"Retry-After": str(options["retry_after"])} if "retry_after" in options else {}
            return _error(
                429,
                "Rate limit reached for images per minute.",
                type_="requests",
                code="rate_limit_exceeded",
                headers=headers,
            )
        if kind == "quota":
            return _error(
                429, "You exceeded your current quota.", type_="insufficient_quota", code="insufficient_quota"
            )
        if kind == "server_error":
            return _error(
                options.get("status", 500),
                "The server had an error while processing your request.",
                type_="server_error",
            )
        if kind == "policy":
            return _error(400, POLICY_MESSAGE, type_="image_generation_user_error", code="moderation_blocked")
        if kind == "timeout":
            self.hang(options.get("seconds", 30))
            return None  # then answer normally, long after the client gave up
        if kind == "malformed":
            return Response(200, b'{"created": 1, "data": [', {"Content-Type": "application/json"})
        if kind == "no_image":
            return Response.json({"created": 1, "data": [{"b64_json": "bm90IGFuIGltYWdl"}]})
        if kind == "empty_data":
            body = {"created": 1, "data": []}
            _validator("ImagesResponse").validate(body)  # the spec allows it, so clients must handle it
            return Response.json(body)
        if kind in ("wrong_size", "trickle"):
            return None  # a normal answer, changed in `handle`
        raise ValueError(f"unknown failure kind {kind!r}")

    def _fields(self, request: Request) -> tuple[dict, Response | None]:
        if request.path == "/v1/images/generations":
            try:
                return request.json(), None
            except ValueError:
                return {}, invalid("We could not parse the JSON body of your request.", code="invalid_json")
        fields: dict = {"images": []}
        for part in request.parts():
            if part.filename is not None:
                if part.name not in ("image", "image[]"):
                    return {}, invalid(f"Unknown parameter: '{part.name}'.", code="unknown_parameter", param=part.name)
                fields["images"].append(part)
            else:
                value: object = part.data.decode()
                if part.name in INTEGER_FIELDS:
                    value = int(value)
                elif part.name in BOOLEAN_FIELDS:
                    value = value == "true"
                fields[part.name] = value
        return fields, None

    def _check(self, path: str, fields: dict) -> Response | None:
        schema = SCHEMAS[path]
        document = {k: v for k, v in fields.items() if k != "images"}
        if path.endswith("/edits"):
            if not fields.get("images"):
                return invalid("Missing required parameter: 'image'.", code="missing_required_parameter", param="image")
            document["image"] = ["<binary>"] * len(fields["images"])
        allowed = _spec()["components"]["schemas"][schema]["properties"]
        for name in document:
            if name not in allowed:
                return invalid(f"Unknown parameter: '{name}'.", code="unknown_parameter", param=name)
        errors = sorted(_validator(schema).iter_errors(document), key=lambda e: list(e.path))
        if errors:
            param = ".".join(str(p) for p in errors[0].path) or None
            return invalid(f"Invalid request: {errors[0].message}", param=param)
        model = document.get("model")
        if model not in self.models:
            return invalid(f"Invalid value: '{model}'. Supported values are: {', '.join(self.models)}.", param="model")
        if document.get("size", "auto") not in GPT_IMAGE_SIZES:
            return invalid(
                f"Invalid value: '{document['size']}'. Supported values are: "
                "'1024x1024', '1024x1536', '1536x1024', and 'auto'.",
                param="size",
            )
        if "response_format" in document:
            return invalid("Unknown parameter: 'response_format'.", code="unknown_parameter", param="response_format")
        if not str(document.get("prompt", "")).strip():
            return invalid("Invalid 'prompt': empty string.", param="prompt")
        for index, part in enumerate(fields.get("images", [])):
            if not self._is_image(part):
                return invalid(
                    f"Invalid image file or mode for image {index + 1}, please check your image file.",
                    code="invalid_image_file",
                    param="image",
                )
        return None

    @staticmethod
    def _is_image(part) -> bool:
        try:
            with Image.open(io.BytesIO(part.data)) as image:
                image.load()
                kind = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}.get(image.format)
        except Exception:
            return False
        return kind is not None and part.content_type == kind
