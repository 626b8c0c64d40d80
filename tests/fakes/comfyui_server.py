"""A fake ComfyUI server answering like the real one (shared/reference/comfyui-api.md).

It validates submitted API-format graphs against a small catalogue of core nodes (unknown class, missing
input, wrong value type, link to an output of the wrong type, value out of range, a checkpoint or LoRA the
server does not have, unknown uploaded image, no output node — each with ComfyUI's error body), keeps
`GET /history/{id}` at `{}` for `pending_polls` polls, then answers success with a PNG it "rendered"
(size from the graph, colour from the sampler seed). `fail(kind)` makes the next prompt fail:
node_errors (200 with non-empty node_errors), execution_error, server_error (500 plain text), timeout
(history stays `{}`), malformed (/view answers bytes that are not an image).
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections import deque

from PIL import Image

from .server import FakeServer, Request, Response

# class_type -> {input name: type} (every input here is required); INT/FLOAT/STRING are values, any other
# type is a link [node id, output index] to an output of that type (RETURN_TYPES below).
PYTHON_TYPES = {"INT": int, "FLOAT": (int, float), "STRING": str}
NODES = {
    "CheckpointLoaderSimple": {"ckpt_name": "STRING"},
    "LoraLoader": {"model": "MODEL", "clip": "CLIP", "lora_name": "STRING", "strength_model": "FLOAT",
                   "strength_clip": "FLOAT"},
    "CLIPTextEncode": {"text": "STRING", "clip": "CLIP"},
    "EmptyLatentImage": {"width": "INT", "height": "INT", "batch_size": "INT"},
    "KSampler": {"model": "MODEL", "seed": "INT", "steps": "INT", "cfg": "FLOAT", "sampler_name": "STRING",
                 "scheduler": "STRING", "positive": "CONDITIONING", "negative": "CONDITIONING",
                 "latent_image": "LATENT", "denoise": "FLOAT"},
    "VAEDecode": {"samples": "LATENT", "vae": "VAE"},
    "VAEEncode": {"pixels": "IMAGE", "vae": "VAE"},
    "LoadImage": {"image": "STRING"},
    "ImageScale": {"image": "IMAGE", "upscale_method": "STRING", "width": "INT", "height": "INT", "crop": "STRING"},
    "SaveImage": {"images": "IMAGE", "filename_prefix": "STRING"},
}
RETURN_TYPES = {
    "CheckpointLoaderSimple": ("MODEL", "CLIP", "VAE"), "LoraLoader": ("MODEL", "CLIP"),
    "CLIPTextEncode": ("CONDITIONING",), "EmptyLatentImage": ("LATENT",), "KSampler": ("LATENT",),
    "VAEDecode": ("IMAGE",), "VAEEncode": ("LATENT",), "LoadImage": ("IMAGE", "MASK"), "ImageScale": ("IMAGE",),
    "SaveImage": (),
}
# Combo inputs: the files the server has (ComfyUI lists its models/checkpoints and models/loras folders).
CHOICES = {("CheckpointLoaderSimple", "ckpt_name"): "checkpoints", ("LoraLoader", "lora_name"): "loras"}
OUTPUT_NODES = {"SaveImage"}
MAXIMUM = {"width": 16384, "height": 16384, "seed": 0xFFFFFFFFFFFFFFFF, "steps": 10000}


def _error(type_: str, message: str, details: str = "", extra_info: dict | None = None) -> dict:
    return {"type": type_, "message": message, "details": details, "extra_info": extra_info or {}}


def _linked_type(graph: dict, link) -> str | None:
    """The type of the output `link` points at; None when it is no link to an existing output."""
    if not (isinstance(link, list) and len(link) == 2 and str(link[0]) in graph and isinstance(link[1], int)):
        return None
    returns = RETURN_TYPES[graph[str(link[0])]["class_type"]]
    return returns[link[1]] if 0 <= link[1] < len(returns) else None


class FakeComfyUI(FakeServer):
    def __init__(
        self,
        *,
        pending_polls: int = 2,
        checkpoints: tuple[str, ...] = ("v1-5-pruned-emaonly.safetensors",),
        loras: tuple[str, ...] = ("warm-documentary-v2.safetensors", "ana-watercolor-v2.safetensors"),
    ):
        super().__init__()
        self.pending_polls = pending_polls
        self.checkpoints = checkpoints
        self.loras = loras
        self.failures: deque[tuple[str, dict]] = deque()
        self.uploads: dict[tuple[str, str, str], bytes] = {}  # (type, subfolder, name) -> bytes
        self.files: dict[tuple[str, str, str], bytes] = {}  # outputs, same key
        self.prompts: dict[str, dict] = {}  # prompt_id -> {"graph", "client_id", "polls", "failure", "entry"}
        self.counters: dict[str, int] = {}

    def fail(self, kind: str, *, times: int = 1, **options) -> None:
        """Make the next `times` submitted prompts fail with `kind` (see the module docstring)."""
        self.failures.extend([(kind, options)] * times)

    def submitted_graphs(self) -> list[dict]:
        return [entry["graph"] for entry in self.prompts.values()]

    def handle(self, request: Request) -> Response:
        path = request.path.removeprefix("/api")
        if request.method == "POST" and path == "/upload/image":
            return self._upload(request)
        if request.method == "POST" and path == "/prompt":
            return self._prompt(request)
        if request.method == "GET" and path.startswith("/history/"):
            return self._history(path.removeprefix("/history/"))
        if request.method == "GET" and path == "/view":
            return self._view(request)
        return Response(404, b"404: Not Found", {"Content-Type": "text/plain"})

    # --- /upload/image -----------------------------------------------------------------------

    def _upload(self, request: Request) -> Response:
        parts = {part.name: part for part in request.parts()}
        image = parts.get("image")
        if image is None or image.filename is None:
            return Response(400)
        kind = parts["type"].data.decode() if "type" in parts else "input"
        subfolder = parts["subfolder"].data.decode() if "subfolder" in parts else ""
        overwrite = parts["overwrite"].data.decode() in ("true", "1") if "overwrite" in parts else False
        name, n = image.filename, 1
        stem, dot, ext = name.rpartition(".")
        with self.lock:
            while not overwrite and (kind, subfolder, name) in self.uploads and self.uploads[(kind, subfolder, name)] != image.data:
                name = f"{stem} ({n}){dot}{ext}"
                n += 1
            self.uploads[(kind, subfolder, name)] = image.data
        return Response.json({"name": name, "subfolder": subfolder, "type": kind})

    # --- /prompt -----------------------------------------------------------------------------

    def _prompt(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            return Response(500, b"500 Internal Server Error\n\nServer got itself in trouble", {"Content-Type": "text/plain"})
        graph = body.get("prompt") if isinstance(body, dict) else None
        if not graph:
            return Response.json({"error": _error("no_prompt", "No prompt provided", "No prompt provided"), "node_errors": {}}, 400)
        with self.lock:
            failure = self.failures.popleft() if self.failures else (None, {})
        if failure[0] == "server_error":
            return Response(500, b"500 Internal Server Error", {"Content-Type": "text/plain"})
        for node_id, node in graph.items():
            if node.get("class_type") not in NODES:
                message = f"Cannot execute because node {node.get('class_type')} does not exist."
                return Response.json({"error": _error("invalid_prompt", message, f"Node ID '#{node_id}'"), "node_errors": {}}, 400)
        outputs = [node_id for node_id, node in graph.items() if node["class_type"] in OUTPUT_NODES]
        if not outputs:
            return Response.json({"error": _error("prompt_no_outputs", "Prompt has no outputs"), "node_errors": {}}, 400)
        node_errors = {node_id: errors for node_id in graph if (errors := self._node_errors(graph, node_id))}
        prompt_id = str(uuid.uuid4())
        if failure[0] == "node_errors":
            node_errors = {outputs[0]: self._node_error(graph, outputs[0], "required_input_missing",
                                                        "Required input is missing", "images")}
            answer = {"prompt_id": prompt_id, "number": len(self.prompts), "node_errors": node_errors}
            return Response.json(answer)
        if node_errors:
            error = _error("prompt_outputs_failed_validation", "Prompt outputs failed validation")
            return Response.json({"error": error, "node_errors": node_errors}, 400)
        with self.lock:
            self.prompts[prompt_id] = {"graph": graph, "client_id": body.get("client_id"), "polls": 0,
                                       "failure": failure, "outputs": outputs, "entry": None}
            number = len(self.prompts) - 1
        return Response.json({"prompt_id": prompt_id, "number": number, "node_errors": {}})

    @staticmethod
    def _node_error(graph: dict, node_id: str, type_: str, message: str, input_name: str, details: str | None = None) -> dict:
        error = _error(type_, message, details or input_name, {"input_name": input_name})
        dependents = [n for n, node in graph.items() if node["class_type"] in OUTPUT_NODES]
        return {"errors": [error], "dependent_outputs": dependents, "class_type": graph[node_id]["class_type"]}

    def _node_errors(self, graph: dict, node_id: str) -> dict | None:
        node = graph[node_id]
        inputs = node.get("inputs", {})
        for name, kind in NODES[node["class_type"]].items():
            value = inputs.get(name)
            if value is None:
                return self._node_error(graph, node_id, "required_input_missing", "Required input is missing", name)
            if kind not in PYTHON_TYPES:
                if (received := _linked_type(graph, value)) != kind:
                    return self._node_error(graph, node_id, "return_type_mismatch", "Return type mismatch between linked nodes",
                                            name, f"{name}, received_type({received}) mismatch input_type({kind})")
            elif isinstance(value, bool) or not isinstance(value, PYTHON_TYPES[kind]):
                return self._node_error(graph, node_id, "invalid_input_type", f"Failed to convert an input value to a {kind} value", name)
            if name in MAXIMUM and isinstance(value, int) and value > MAXIMUM[name]:
                return self._node_error(graph, node_id, "value_bigger_than_max",
                                        f"Value {value} bigger than max of {MAXIMUM[name]}", name)
            listed = CHOICES.get((node["class_type"], name))
            if listed and value not in (choices := getattr(self, listed)):
                error = self._node_error(graph, node_id, "value_not_in_list", "Value not in list", name,
                                         f"{name}: '{value}' not in {list(choices)}")
                error["errors"][0]["extra_info"] |= {"input_config": [list(choices), {}], "received_value": value}
                return error
        if node["class_type"] == "LoadImage" and ("input", "", inputs["image"]) not in self.uploads:
            return self._node_error(graph, node_id, "custom_validation_failed", "Custom validation failed for node",
                                    "image", f"image - Invalid image file: {inputs['image']}")
        return None

    # --- /history and the fake run -----------------------------------------------------------

    def _history(self, prompt_id: str) -> Response:
        with self.lock:
            run = self.prompts.get(prompt_id)
            if run is None:
                return Response.json({})
            run["polls"] += 1
            if run["failure"][0] == "timeout" or run["polls"] <= self.pending_polls:
                return Response.json({})
            if run["entry"] is None:
                run["entry"] = self._run(prompt_id, run)
            return Response.json({prompt_id: run["entry"]})

    def _run(self, prompt_id: str, run: dict) -> dict:
        graph, output_id = run["graph"], run["outputs"][0]
        start = ["execution_start", {"prompt_id": prompt_id, "timestamp": 0}]
        cached = ["execution_cached", {"nodes": [], "prompt_id": prompt_id, "timestamp": 0}]
        entry = {"prompt": [0, prompt_id, graph, {"client_id": run["client_id"]}, run["outputs"]],
                 "meta": {output_id: {"node_id": output_id, "display_node": output_id, "parent_node": None,
                                      "real_node_id": output_id}}}
        if run["failure"][0] == "execution_error":
            message = run["failure"][1].get("message", "CUDA out of memory. Tried to allocate 2.00 GiB")
            error = {"prompt_id": prompt_id, "node_id": output_id, "node_type": graph[output_id]["class_type"],
                     "executed": [], "exception_message": message, "exception_type": "Exception",
                     "traceback": ["Traceback (most recent call last):\n"], "current_inputs": {}, "current_outputs": [],
                     "timestamp": 0}
            entry |= {"outputs": {}, "status": {"status_str": "error", "completed": False,
                                               "messages": [start, cached, ["execution_error", error]]}}
            return entry
        prefix = graph[output_id]["inputs"]["filename_prefix"]
        subfolder, _, stem = prefix.rpartition("/")
        self.counters[prefix] = self.counters.get(prefix, 0) + 1
        filename = f"{stem}_{self.counters[prefix]:05d}_.png"
        self.files[("output", subfolder, filename)] = self._render(graph, run["failure"][0] == "malformed")
        entry |= {"outputs": {output_id: {"images": [{"filename": filename, "subfolder": subfolder, "type": "output"}]}},
                  "status": {"status_str": "success", "completed": True,
                             "messages": [start, cached, ["execution_success", {"prompt_id": prompt_id, "timestamp": 0}]]}}
        return entry

    def _render(self, graph: dict, malformed: bool) -> bytes:
        if malformed:
            return b"\x89PNG\r\n\x1a\n this is not really an image"
        size, seed = (512, 512), 0
        for node in graph.values():
            inputs = node["inputs"]
            if node["class_type"] in ("EmptyLatentImage", "ImageScale"):
                size = (inputs["width"], inputs["height"])
            if node["class_type"] == "KSampler":
                seed = inputs["seed"]
        colour = tuple(hashlib.sha256(str(seed).encode()).digest()[:3])
        out = io.BytesIO()
        Image.new("RGB", size, colour).save(out, format="PNG")
        return out.getvalue()

    # --- /view -------------------------------------------------------------------------------

    def _view(self, request: Request) -> Response:
        q = request.query
        key = (q.get("type", "output"), q.get("subfolder", ""), q.get("filename", ""))
        data = self.files.get(key) if key[0] == "output" else self.uploads.get(key)
        if data is None:
            return Response(404, b"404: Not Found", {"Content-Type": "text/plain"})
        return Response(200, data, {"Content-Type": "image/png", "Content-Disposition": f'filename="{key[2]}"'})
