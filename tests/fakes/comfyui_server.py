"""A fake ComfyUI server answering like the real one (shared/reference/comfyui-api.md).

It validates submitted API-format graphs against a small catalogue of core nodes (unknown class, missing
input, wrong value type, link to an output of the wrong type, value out of range, a checkpoint or LoRA the
server does not have, unknown uploaded image, no output node — each with ComfyUI's error body), keeps
`GET /history/{id}` at `{}` for `pending_polls` polls, then answers success with a PNG it "rendered"
(size from the graph, colour from the sampler seed). `fail(kind)` makes the next prompt fail:
node_errors (200 with non-empty node_errors; the valid part stays queued, as in ComfyUI), execution_error,
interrupted (the run ends with `execution_interrupted`, as when someone presses Cancel in ComfyUI),
server_error (500 plain text), timeout (runs forever: history stays `{}`), queued (waits in the queue forever),
malformed (/view answers bytes that are not an image), wrong_size (renders `size=(w, h)` whatever the graph
asks), trickle (/view sends the image one byte every `seconds`).

The queue is ComfyUI's (server.py): `GET /queue` → `{"queue_running": [...], "queue_pending": [...]}` with
items `[number, prompt_id, prompt, extra_data, outputs_to_execute]`, the oldest unfinished prompt running;
`POST /queue {"delete": [ids]}` / `{"clear": true}` removes *pending* prompts only (a removed prompt never runs
and never appears in history); `POST /interrupt` with `{"prompt_id"}` interrupts that prompt only if it is the
running one, without a body whatever runs; both answer 200 with an empty body. An interrupted run's history is
`status_str: "error"`, `completed: false`, with an `execution_interrupted` message.
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
    "LoraLoader": {
        "model": "MODEL",
        "clip": "CLIP",
        "lora_name": "STRING",
        "strength_model": "FLOAT",
        "strength_clip": "FLOAT",
    },
    "CLIPTextEncode": {"text": "STRING", "clip": "CLIP"},
    "EmptyLatentImage": {"width": "INT", "height": "INT", "batch_size": "INT"},
    "KSampler": {
        "model": "MODEL",
        "seed": "INT",
        "steps": "INT",
        "cfg": "FLOAT",
        "sampler_name": "STRING",
        "scheduler": "STRING",
        "positive": "CONDITIONING",
        "negative": "CONDITIONING",
        "latent_image": "LATENT",
        "denoise": "FLOAT",
    },
    "VAEDecode": {"samples": "LATENT", "vae": "VAE"},
    "VAEEncode": {"pixels": "IMAGE", "vae": "VAE"},
    "LoadImage": {"image": "STRING"},
    "ImageScale": {"image": "IMAGE", "upscale_method": "STRING", "width": "INT", "height": "INT", "crop": "STRING"},
    "SaveImage": {"images": "IMAGE", "filename_prefix": "STRING"},
}
RETURN_TYPES = {
    "CheckpointLoaderSimple": ("MODEL", "CLIP", "VAE"),
    "LoraLoader": ("MODEL", "CLIP"),
    "CLIPTextEncode": ("CONDITIONING",),
    "EmptyLatentImage": ("LATENT",),
    "KSampler": ("LATENT",),
    "VAEDecode": ("IMAGE",),
    "VAEEncode": ("LATENT",),
    "LoadImage": ("IMAGE", "MASK"),
    "ImageScale": ("IMAGE",),
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
        self.trickle_files: dict[tuple[str, str, str], float] = {}  # outputs /view sends slowly: seconds a byte
        # prompt_id -> {"graph", "client_id", "polls", "failure", "entry", "number", "outputs",
        #               "state": queued | done | deleted | interrupted}
        self.prompts: dict[str, dict] = {}
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
        if path == "/queue" and request.method in ("GET", "POST"):
            return self._get_queue() if request.method == "GET" else self._post_queue(request)
        if request.method == "POST" and path == "/interrupt":
            return self._interrupt(request)
        return Response(404, b"404: Not Found", {"Content-Type": "text/plain"})

    # --- /queue and /interrupt ----------------------------------------------------------------

    def _active(self) -> list[str]:
        """Ids of prompts not finished, removed or interrupted, oldest first (call with the lock held)."""
        return [pid for pid, run in self.prompts.items() if run["state"] == "queued"]

    def _running(self) -> str | None:
        """The prompt ComfyUI is running: the oldest active one that is not held in the queue."""
        return next((pid for pid in self._active() if self.prompts[pid]["failure"][0] != "queued"), None)

    def _item(self, prompt_id: str) -> list:
        run = self.prompts[prompt_id]
        return [run["number"], prompt_id, run["graph"], {"client_id": run["client_id"]}, run["outputs"]]

    def _get_queue(self) -> Response:
        with self.lock:
            running = self._running()
            pending = [pid for pid in self._active() if pid != running]
            return Response.json(
                {
                    "queue_running": [self._item(running)] if running else [],
                    "queue_pending": [self._item(pid) for pid in pending],
                }
            )

    def _post_queue(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            return Response(
                500, b"500 Internal Server Error\n\nServer got itself in trouble", {"Content-Type": "text/plain"}
            )
        with self.lock:
            running = self._running()
            pending = [pid for pid in self._active() if pid != running]
            doomed = pending if body.get("clear") else [pid for pid in body.get("delete", []) if pid in pending]
            for prompt_id in doomed:
                self.prompts[prompt_id]["state"] = "deleted"
        return Response(200)

    def _interrupt(self, request: Request) -> Response:
        try:
            body = request.json() if request.body else {}
        except ValueError:
            body = {}
        with self.lock:
            running = self._running()
            wanted = body.get("prompt_id") if isinstance(body, dict) else None
            if running is not None and wanted in (None, running):
                self.prompts[running]["state"] = "interrupted"
        return Response(200)

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
            while (
                not overwrite
                and (kind, subfolder, name) in self.uploads
                and self.uploads[(kind, subfolder, name)] != image.data
            ):
                name = f"{stem} ({n}){dot}{ext}"
                n += 1
            self.uploads[(kind, subfolder, name)] = image.data
        return Response.json({"name": name, "subfolder": subfolder, "type": kind})

    # --- /prompt -----------------------------------------------------------------------------

    def _prompt(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            return Response(
                500, b"500 Internal Server Error\n\nServer got itself in trouble", {"Content-Type": "text/plain"}
            )
        graph = body.get("prompt") if isinstance(body, dict) else None
        if not graph:
            return Response.json(
                {"error": _error("no_prompt", "No prompt provided", "No prompt provided"), "node_errors": {}}, 400
            )
        with self.lock:
            failure = self.failures.popleft() if self.failures else (None, {})
        if failure[0] == "server_error":
            return Response(500, b"500 Internal Server Error", {"Content-Type": "text/plain"})
        for node_id, node in graph.items():
            if node.get("class_type") not in NODES:
                message = f"Cannot execute because node {node.get('class_type')} does not exist."
                return Response.json(
                    {"error": _error("invalid_prompt", message, f"Node ID '#{node_id}'"), "node_errors": {}}, 400
                )
        outputs = [node_id for node_id, node in graph.items() if node["class_type"] in OUTPUT_NODES]
        if not outputs:
            return Response.json(
                {"error": _error("prompt_no_outputs", "Prompt has no outputs"), "node_errors": {}}, 400
            )
        node_errors = {node_id: errors for node_id in graph if (errors := self._node_errors(graph, node_id))}
        prompt_id = str(uuid.uuid4())
        if failure[0] == "node_errors":
            node_errors = {
                outputs[0]: self._node_error(
                    graph, outputs[0], "required_input_missing", "Required input is missing", "images"
                )
            }
            with self.lock:  # ComfyUI queues what validated; the fake's stand-in for it waits in the queue
                number = self._add(prompt_id, graph, body.get("client_id"), ("queued", {}), outputs)
            return Response.json({"prompt_id": prompt_id, "number": number, "node_errors": node_errors})
        if node_errors:
            error = _error("prompt_outputs_failed_validation", "Prompt outputs failed validation")
            return Response.json({"error": error, "node_errors": node_errors}, 400)
        with self.lock:
            number = self._add(prompt_id, graph, body.get("client_id"), failure, outputs)
        return Response.json({"prompt_id": prompt_id, "number": number, "node_errors": {}})

    def _add(self, prompt_id: str, graph: dict, client_id, failure: tuple, outputs: list[str]) -> int:
        number = len(self.prompts)
        self.prompts[prompt_id] = {
            "graph": graph,
            "client_id": client_id,
            "polls": 0,
            "failure": failure,
            "outputs": outputs,
            "entry": None,
            "number": number,
            "state": "queued",
        }
        return number

    @staticmethod
    def _node_error(
        graph: dict, node_id: str, type_: str, message: str, input_name: str, details: str | None = None
    ) -> dict:
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
                    return self._node_error(
                        graph,
                        node_id,
                        "return_type_mismatch",
                        "Return type mismatch between linked nodes",
                        name,
                        f"{name}, received_type({received}) mismatch input_type({kind})",
                    )
            elif isinstance(value, bool) or not isinstance(value, PYTHON_TYPES[kind]):
                return self._node_error(
                    graph, node_id, "invalid_input_type", f"Failed to convert an input value to a {kind} value", name
                )
            if name in MAXIMUM and isinstance(value, int) and value > MAXIMUM[name]:
                return self._node_error(
                    graph, node_id, "value_bigger_than_max", f"Value {value} bigger than max of {MAXIMUM[name]}", name
                )
            listed = CHOICES.get((node["class_type"], name))
            if listed and value not in (choices := getattr(self, listed)):
                error = self._node_error(
                    graph,
                    node_id,
                    "value_not_in_list",
                    "Value not in list",
                    name,
                    f"{name}: '{value}' not in {list(choices)}",
                )
                error["errors"][0]["extra_info"] |= {"input_config": [list(choices), {}], "received_value": value}
                return error
        if node["class_type"] == "LoadImage" and ("input", "", inputs["image"]) not in self.uploads:
            return self._node_error(
                graph,
                node_id,
                "custom_validation_failed",
                "Custom validation failed for node",
                "image",
                f"image - Invalid image file: {inputs['image']}",
            )
        return None

    # --- /history and the fake run -----------------------------------------------------------

    def _history(self, prompt_id: str) -> Response:
        with self.lock:
            run = self.prompts.get(prompt_id)
            if run is None or run["state"] == "deleted":  # a prompt taken off the queue never runs
                return Response.json({})
            run["polls"] += 1
            stuck = run["failure"][0] in ("timeout", "queued")
            if run["state"] == "queued" and (stuck or run["polls"] <= self.pending_polls):
                return Response.json({})
            if run["entry"] is None:
                run["entry"] = self._run(prompt_id, run)
                run["state"] = "done" if run["state"] == "queued" else run["state"]
            return Response.json({prompt_id: run["entry"]})

    def _run(self, prompt_id: str, run: dict) -> dict:
        graph, output_id = run["graph"], run["outputs"][0]
        start = ["execution_start", {"prompt_id": prompt_id, "timestamp": 0}]
        cached = ["execution_cached", {"nodes": [], "prompt_id": prompt_id, "timestamp": 0}]
        entry = {
            "prompt": [0, prompt_id, graph, {"client_id": run["client_id"]}, run["outputs"]],
            "meta": {
                output_id: {
                    "node_id": output_id,
                    "display_node": output_id,
                    "parent_node": None,
                    "real_node_id": output_id,
                }
            },
        }
        if run["state"] == "interrupted" or run["failure"][0] == "interrupted":
            run["state"] = "interrupted"
            node = next(iter(graph))  # ComfyUI names the node it was running when the interrupt came
            interrupted = {
                "prompt_id": prompt_id,
                "node_id": node,
                "node_type": graph[node]["class_type"],
                "executed": [],
                "timestamp": 0,
            }
            entry |= {
                "outputs": {},
                "status": {
                    "status_str": "error",
                    "completed": False,
                    "messages": [start, cached, ["execution_interrupted", interrupted]],
                },
            }
            return entry
        if run["failure"][0] == "execution_error":
            message = run["failure"][1].get("message", "CUDA out of memory. Tried to allocate 2.00 GiB")
            error = {
                "prompt_id": prompt_id,
                "node_id": output_id,
                "node_type": graph[output_id]["class_type"],
                "executed": [],
                "exception_message": message,
                "exception_type": "Exception",
                "traceback": ["Traceback (most recent call last):\n"],
                "current_inputs": {},
                "current_outputs": [],
                "timestamp": 0,
            }
            entry |= {
                "outputs": {},
                "status": {
                    "status_str": "error",
                    "completed": False,
                    "messages": [start, cached, ["execution_error", error]],
                },
            }
            return entry
        prefix = graph[output_id]["inputs"]["filename_prefix"]
        subfolder, _, stem = prefix.rpartition("/")
        self.counters[prefix] = self.counters.get(prefix, 0) + 1
        filename = f"{stem}_{self.counters[prefix]:05d}_.png"
        kind, options = run["failure"]
        self.files[("output", subfolder, filename)] = self._render(graph, kind == "malformed", options.get("size"))
        if kind == "trickle":
            self.trickle_files[("output", subfolder, filename)] = options.get("seconds", 0.2)
        entry |= {
            "outputs": {output_id: {"images": [{"filename": filename, "subfolder": subfolder, "type": "output"}]}},
            "status": {
                "status_str": "success",
                "completed": True,
                "messages": [start, cached, ["execution_success", {"prompt_id": prompt_id, "timestamp": 0}]],
            },
        }
        return entry

    def _render(self, graph: dict, malformed: bool, forced_size: tuple[int, int] | None = None) -> bytes:
        if malformed:
            return b"\x89PNG\r\n\x1a\n this is not really an image"
        size, seed = (512, 512), 0
        for node in graph.values():
            inputs = node["inputs"]
            if node["class_type"] in ("EmptyLatentImage", "ImageScale"):
                size = (inputs["width"], inputs["height"])
            if node["class_type"] == "KSampler":
                seed = inputs["seed"]
        size = forced_size or size
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
        return Response(
            200,
            data,
            {"Content-Type": "image/png", "Content-Disposition": f'filename="{key[2]}"'},
            trickle=self.trickle_files.get(key, 0.0),
        )
