"""ComfyUI over its HTTP API: upload references, submit an API-format workflow, poll history, download.

Workflows are ComfyUI "API format" JSON (`{node id: {"class_type", "inputs"}}`, "Export (API)" in the UI).
These placeholders are replaced in any string input:

    {{prompt}}            the prompt                       {{negative_prompt}}  NEGATIVE_PROMPT below
    {{seed}}              the seed (an integer)            {{width}} {{height}} the size (integers)
    {{filename_prefix}}   a fresh `reshoot/<id>` prefix, so ComfyUI never answers from its cache
    {{reference_1}} … {{reference_N}}   the uploaded names of the reference images (e.g. for LoadImage)
    {{style_lora}}        the style LoRA's file name (e.g. a LoraLoader's lora_name; see below)

An input that is exactly `"{{seed}}"`, `"{{width}}"` or `"{{height}}"` becomes a number.

Two workflows, chosen per call by whether it has reference images: a text workflow (no `{{reference_N}}`) for
calls without, a reference workflow (with them) for calls with. Bundled: workflows/default_api.json (text to
image) and workflows/reference_api.json (image to image from the first reference), both on the SD 1.5 checkpoint
`v1-5-pruned-emaonly.safetensors`. RESHOOT_COMFYUI_REFERENCE_WORKFLOW replaces the reference workflow (it must use
`{{reference_1}}`); RESHOOT_COMFYUI_WORKFLOW replaces the text workflow — or, when it uses `{{reference_N}}` and
no reference workflow is set, serves as the reference workflow (the bundled text one then serves calls without
references). So a reference workflow never gets a call without references and references are never dropped for
want of a placeholder. A reference workflow takes as many references as it has placeholders; a call with fewer
is refused with a message that says how many it needs.

On timeout (or any other exit before the image is downloaded) the prompt is taken back: deleted from ComfyUI's
queue if it is still waiting (`POST /queue {"delete": [id]}`), interrupted if it is running (`GET /queue`, then
`POST /interrupt {"prompt_id": id}`, which interrupts only that prompt), so it neither keeps the GPU busy nor
writes an orphan output later. A run interrupted in ComfyUI (`execution_interrupted`) is reported as such.

Style LoRA: the name is ComfyUI's `lora_name`, a file in the server's models/loras folder; a name without a
model file extension gets `.safetensors` (cast members name `warm-documentary-v2`, ComfyUI lists
`warm-documentary-v2.safetensors`). An unknown name is ComfyUI's `value_not_in_list` error, reported as
BackendMisconfigured.
- A workflow with `{{style_lora}}` decides where the LoRA goes. A call without a LoRA leaves out the
  LoraLoader (or LoraLoaderModelOnly) holding the placeholder and links its users to that node's own model
  and clip inputs: ComfyUI refuses an empty lora_name, and one workflow must serve both kinds of call
  (lifestyle heroes never have a LoRA). A placeholder in any other node makes such a call BackendMisconfigured.
- Any other workflow gets, for a call with a LoRA, a LoraLoader (strength 1.0 for model and clip) after its
  CheckpointLoaderSimple: every link to the checkpoint's MODEL (output 0) and CLIP (output 1) then goes
  through the LoRA. Without exactly one CheckpointLoaderSimple that is BackendMisconfigured.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from services.backends import (
    BackendError,
    BackendMisconfigured,
    BackendUnavailable,
    Capabilities,
    Deadline,
    Progress,
    as_png,
    call_with_retries,
    check_image_size,
    deadline_transport,
    plain_cause,
    reference_file,
)
from services.config import Settings

log = logging.getLogger("reshoot.backends.comfyui")

WORKFLOWS = Path(__file__).with_name("workflows")
NEGATIVE_PROMPT = "text, watermark, logo, signature, blurry, low quality, deformed"
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
NUMERIC = {"seed", "width", "height"}
LORA_EXTENSIONS = (".safetensors", ".ckpt", ".pt", ".pt2", ".bin", ".pth", ".pkl", ".sft")  # ComfyUI's model files
BYPASS = {"LoraLoader": ("model", "clip"), "LoraLoaderModelOnly": ("model",)}  # output n passes input BYPASS[..][n]
NO_URL_MESSAGE = "The ComfyUI backend needs a server: set RESHOOT_COMFYUI_URL (e.g. http://127.0.0.1:8188)."
CANCEL_SECONDS = 5.0  # taking a prompt back after the deadline gets this much time of its own


def load_workflow(path: Path) -> dict:
    try:
        workflow = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise BackendMisconfigured(f"ComfyUI workflow {path} cannot be read: {e}") from e
    if not isinstance(workflow, dict) or not all(isinstance(n, dict) and "class_type" in n for n in workflow.values()):
        raise BackendMisconfigured(f"ComfyUI workflow {path} is not in API format (Export (API) in ComfyUI).")
    return workflow


def reference_slots(workflow: dict) -> int:
    """How many `{{reference_N}}` placeholders a workflow has."""
    names = set(PLACEHOLDER.findall(json.dumps(workflow)))
    return sum(1 for name in names if re.fullmatch(r"reference_\d+", name))


def fill_workflow(workflow: dict, values: dict[str, Any]) -> dict:
    """A copy of `workflow` with every placeholder replaced; an unknown placeholder is a configuration error."""

    def fill(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        if not isinstance(value, str):
            return value
        whole = PLACEHOLDER.fullmatch(value)
        if whole and whole.group(1) in NUMERIC and whole.group(1) in values:
            return int(values[whole.group(1)])

        def replace(match: re.Match) -> str:
            if match.group(1) not in values:
                raise BackendMisconfigured(
                    f"ComfyUI workflow placeholder {{{{{match.group(1)}}}}} has no value"
                    f" (known: {', '.join(sorted(values))}).",
                    details={"placeholder": match.group(1)},
                )
            return str(values[match.group(1)])

        return PLACEHOLDER.sub(replace, value)

    return fill(workflow)


def lora_file(name: str) -> str:
    """ComfyUI's lora_name for a style LoRA name: `warm-documentary-v2` -> `warm-documentary-v2.safetensors`."""
    return name if name.lower().endswith(LORA_EXTENSIONS) else f"{name}.safetensors"


def _relink(graph: dict, target: Callable[[list], list]) -> dict:
    """A copy of `graph` with every link `[node id, output index]` replaced by `target(link)`."""

    def relinked(value: Any) -> Any:
        return target(value) if isinstance(value, list) and len(value) == 2 and isinstance(value[1], int) else value

    return {nid: {**node, "inputs": {k: relinked(v) for k, v in node["inputs"].items()}} for nid, node in graph.items()}


def add_lora_loader(workflow: dict, lora_name: str) -> dict:
    """A copy of `workflow` with a LoraLoader between its CheckpointLoaderSimple and every user of MODEL and CLIP."""
    checkpoints = [nid for nid, node in workflow.items() if node["class_type"] == "CheckpointLoaderSimple"]
    if len(checkpoints) != 1:
        raise BackendMisconfigured(
            f"This ComfyUI workflow has {len(checkpoints)} CheckpointLoaderSimple nodes, so the style LoRA"
            f" {lora_name!r} has no single place to go: give it exactly one, or a LoraLoader whose lora_name is"
            ' "{{style_lora}}".',
            details={"styleLora": lora_name},
        )
    checkpoint = checkpoints[0]
    lora = str(max((int(nid) for nid in workflow if nid.isdigit()), default=0) + 1)
    graph = _relink(
        workflow, lambda link: [lora, link[1]] if str(link[0]) == checkpoint and link[1] in (0, 1) else link
    )
    graph[lora] = {
        "class_type": "LoraLoader",
        "inputs": {
            "model": [checkpoint, 0],
            "clip": [checkpoint, 1],
            "lora_name": lora_name,
            "strength_model": 1.0,
            "strength_clip": 1.0,
        },
    }
    return graph


def leave_out_lora(workflow: dict) -> dict:
    """A copy of `workflow` without the LoRA nodes that hold `{{style_lora}}`, their users linked past them."""
    holders = {nid: node for nid, node in workflow.items() if "{{style_lora}}" in json.dumps(node["inputs"])}
    for nid, node in holders.items():
        if node["class_type"] not in BYPASS:
            raise BackendMisconfigured(
                f"ComfyUI workflow node {nid} ({node['class_type']}) needs {{{{style_lora}}}}, and this call has no style"
                f" LoRA: only a {' or '.join(BYPASS)} can be left out.",
                details={"node": nid},
            )

    def past(link: list) -> list:
        while str(link[0]) in holders:
            node = holders[str(link[0])]
            link = node["inputs"][BYPASS[node["class_type"]][link[1]]]
        return link

    return _relink({nid: node for nid, node in workflow.items() if nid not in holders}, past)


def with_style_lora(workflow: dict, style_lora: str | None) -> dict:
    """The workflow to fill for a call with or without a style LoRA (see the module docstring)."""
    has_placeholder = "{{style_lora}}" in json.dumps(workflow)
    if style_lora and not has_placeholder:
        return add_lora_loader(workflow, lora_file(style_lora))
    if not style_lora and has_placeholder:
        return leave_out_lora(workflow)
    return workflow


def _node_errors_text(node_errors: dict[str, Any] | None) -> str:
    parts = []
    for node_id, node in (node_errors or {}).items():
        for error in node.get("errors", []):
            detail = f" ({error['details']})" if error.get("details") else ""
            parts.append(f"node {node_id} {node.get('class_type', '')}: {error.get('message', '')}{detail}")
    return "; ".join(parts)


def _run_failure(entry: dict, prompt_id: str) -> BackendError | None:
    """The error for a finished history entry that did not succeed (None if it did)."""
    status = entry.get("status") or {}
    if status.get("status_str") != "error":
        return None
    messages = {kind: data for kind, data in status.get("messages") or [] if isinstance(data, dict)}
    details = {"promptId": prompt_id}
    if "execution_interrupted" in messages:
        node = messages["execution_interrupted"]
        return BackendError(
            f"ComfyUI's run was interrupted (stopped in ComfyUI at {node.get('node_type', 'a node')}, node"
            f" {node.get('node_id')}) before it made an image; generate again.",
            details=details | {"reason": "interrupted"},
        )
    if "execution_error" in messages:
        node = messages["execution_error"]
        return BackendError(
            f"ComfyUI failed: {node.get('node_type', 'node')} (node {node.get('node_id')}):"
            f" {str(node.get('exception_message', '')).strip()}",
            details=details,
        )
    return BackendError(
        "ComfyUI reported the run as failed without saying why (no error message in its history).", details=details
    )


@dataclass(frozen=True)
class Workflow:
    name: str  # the file's name, for messages and the model name
    graph: dict
    slots: int  # how many {{reference_N}} placeholders


def _workflow(path: Path) -> Workflow:
    graph = load_workflow(path)
    return Workflow(Path(path).name, graph, reference_slots(graph))


def choose_workflows(text_path: str | Path | None, reference_path: str | Path | None) -> tuple[Workflow, Workflow]:
    """(text workflow, reference workflow) from the two settings (see the module docstring)."""
    text = _workflow(Path(text_path)) if text_path else None
    reference = _workflow(Path(reference_path)) if reference_path else None
    if reference is not None and reference.slots == 0:
        raise BackendMisconfigured(
            f"RESHOOT_COMFYUI_REFERENCE_WORKFLOW ({reference.name}) has no {{{{reference_1}}}} placeholder, so it"
            " cannot use reference images: put {{reference_1}} where its LoadImage takes the image name."
        )
    if text is not None and text.slots:
        if reference is not None:
            raise BackendMisconfigured(
                f"RESHOOT_COMFYUI_WORKFLOW ({text.name}) uses {{{{reference_1}}}}, but it is the workflow for shots"
                " without references (RESHOOT_COMFYUI_REFERENCE_WORKFLOW is set): give it a text-to-image workflow."
            )
        text, reference = None, text  # one workflow with references: it is the reference workflow
    return (text or _workflow(WORKFLOWS / "default_api.json"), reference or _workflow(WORKFLOWS / "reference_api.json"))


class ComfyUIBackend:
    """Any size in steps of 8 up to 2048; the seed goes into the sampler; references through LoadImage; the style
    LoRA through a LoraLoader."""

    name = "comfyui"
    model = "comfyui-workflow"

    def __init__(
        self,
        *,
        url: str | None,
        workflow_path: str | Path | None = None,
        reference_workflow_path: str | Path | None = None,
        timeout: float = 120.0,
        poll_interval: float = 0.5,
        attempts: int = 3,
        backoff: float = 1.0,
    ):
        self.url = (url or "").rstrip("/")
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.attempts = attempts
        self.backoff = backoff
        self.client_id = uuid.uuid4().hex
        self.text_workflow, self.reference_workflow = choose_workflows(workflow_path, reference_workflow_path)
        if workflow_path or reference_workflow_path:
            self.model = f"comfyui:{self.text_workflow.name}+{self.reference_workflow.name}"
        self.capabilities = Capabilities(
            sizes=(),
            honours_seed=True,
            accepts_references=True,
            max_references=self.reference_workflow.slots,
            size_step=8,
            max_side=2048,
            accepts_style_lora=True,
        )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ComfyUIBackend:
        options = dict(
            url=settings.comfyui_url,
            workflow_path=settings.comfyui_workflow,
            reference_workflow_path=settings.comfyui_reference_workflow,
            timeout=settings.backend_timeout_seconds,
        )
        return cls(**(options | overrides))

    def workflow_for(self, reference_count: int) -> Workflow:
        """The text workflow for a call without references, the reference workflow for one with (if enough)."""
        if not reference_count:
            return self.text_workflow
        workflow = self.reference_workflow
        if reference_count < workflow.slots:
            raise BackendError(
                f"The ComfyUI reference workflow {workflow.name} needs {workflow.slots} reference images and this"
                f" call has {reference_count}: add references, or set RESHOOT_COMFYUI_REFERENCE_WORKFLOW to one that"
                " needs fewer.",
                details={"needed": workflow.slots, "given": reference_count},
            )
        return workflow

    # --- HTTP ------------------------------------------------------------------------------------

    def _client(self, deadline: Deadline) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, transport=deadline_transport(httpx, deadline, url=self.url), timeout=deadline.seconds
        )

    def _request(
        self, client: httpx.Client, deadline: Deadline, method: str, path: str, *, doing: str, **kwargs: Any
    ) -> httpx.Response:
        """One HTTP call, retried on connection errors and 5xx within the deadline; other statuses are returned.
        `doing` words what ComfyUI was asked to do, for the timeout message ("send the image")."""

        def call() -> httpx.Response:
            deadline.check(doing)
            try:
                response = client.request(method, path, **kwargs)
            except httpx.TimeoutException as e:
                raise deadline.error(doing) from e
            except httpx.TransportError as e:
                raise BackendUnavailable(f"Could not reach ComfyUI at {self.url}: {plain_cause(e)}.") from e
            if response.status_code >= 500:
                raise BackendUnavailable(
                    f"ComfyUI answered {method} {path} with a server error ({response.status_code}): "
                    f"{response.text[:200].strip() or 'no details'}",
                    details={"status": response.status_code},
                )
            return response

        return call_with_retries(call, attempts=self.attempts, backoff=self.backoff, deadline=deadline)

    def _json(self, response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError as e:
            raise BackendError(f"ComfyUI answered {what} with something that is not JSON: {response.text[:200]}") from e

    def _upload(self, client: httpx.Client, deadline: Deadline, index: int, data: bytes) -> str:
        _, data, content_type = reference_file(index, data)
        # Named by content: the same image is stored once, and concurrent jobs never overwrite each other's.
        filename = (
            f"reshoot-{hashlib.sha256(data).hexdigest()[:20]}.{content_type.split('/')[1].replace('jpeg', 'jpg')}"
        )
        files = {"image": (filename, data, content_type)}
        response = self._request(
            client,
            deadline,
            "POST",
            "/upload/image",
            files=files,
            data={"type": "input", "overwrite": "true"},
            doing=f"take reference image {index + 1}",
        )
        if response.status_code != 200:
            raise BackendError(f"ComfyUI refused reference image {index + 1} ({response.status_code}).")
        body = self._json(response, "the upload")
        name = body.get("name") if isinstance(body, dict) else None
        if not name:
            raise BackendError(f"ComfyUI's upload answer has no name: {body!r}")
        return f"{body['subfolder']}/{name}" if body.get("subfolder") else name

    def _submit(self, client: httpx.Client, deadline: Deadline, graph: dict) -> str:
        response = self._request(
            client,
            deadline,
            "POST",
            "/prompt",
            json={"prompt": graph, "client_id": self.client_id},
            doing="accept the workflow",
        )
        body = self._json(response, "the prompt")
        if response.status_code != 200 or not isinstance(body, dict):
            error = body.get("error", {}) if isinstance(body, dict) else {}
            error = error if isinstance(error, dict) else {"message": str(error)}
            nodes = _node_errors_text(body.get("node_errors") if isinstance(body, dict) else {})
            message = "; ".join(filter(None, [error.get("message"), error.get("details"), nodes]))
            raise BackendMisconfigured(
                f"ComfyUI refused the workflow: {message or response.status_code}",
                details={"status": response.status_code, "type": error.get("type")},
            )
        if not body.get("prompt_id"):
            raise BackendError(f"ComfyUI's answer has no prompt_id: {body!r}")
        if body.get("node_errors"):
            # ComfyUI queued the valid outputs and dropped the others: for us that is a failed workflow, and the
            # queued part must not run on for nothing.
            self._take_back(body["prompt_id"])
            raise BackendMisconfigured(
                f"ComfyUI refused part of the workflow: {_node_errors_text(body['node_errors'])}"
            )
        return body["prompt_id"]

    def _wait(self, client: httpx.Client, deadline: Deadline, prompt_id: str, progress: Progress | None) -> dict:
        polls = 0
        while True:
            response = self._request(client, deadline, "GET", f"/history/{prompt_id}", doing="finish the image")
            history = self._json(response, "history") if response.status_code == 200 else {}
            if isinstance(history, dict) and prompt_id in history:
                return history[prompt_id]
            polls += 1
            if progress:
                progress(min(0.85, 0.3 + 0.05 * polls), "Rendering in ComfyUI")
            pause = min(self.poll_interval, 0.05 * 2 ** (polls - 1))  # quick renders are seen quickly
            if pause >= deadline.remaining():
                raise deadline.error("finish the image")
            time.sleep(pause)

    def _download(self, client: httpx.Client, deadline: Deadline, entry: dict) -> bytes:
        images = [image for output in entry.get("outputs", {}).values() for image in output.get("images", [])]
        saved = [image for image in images if image.get("type") == "output"] or images
        if not saved:
            raise BackendError("ComfyUI finished without an output image (does the workflow have a SaveImage node?).")
        image = saved[0]
        params = {
            "filename": image["filename"],
            "subfolder": image.get("subfolder", ""),
            "type": image.get("type", "output"),
        }
        response = self._request(client, deadline, "GET", "/view", params=params, doing="send the finished image")
        if response.status_code != 200:
            raise BackendError(f"ComfyUI could not serve {image['filename']} ({response.status_code}).")
        return as_png(response.content, source="ComfyUI")

    def _take_back(self, prompt_id: str) -> None:
        """Delete the prompt from ComfyUI's queue, and interrupt it if it is already running (best effort)."""
        deadline = Deadline(CANCEL_SECONDS, "ComfyUI")
        try:
            with self._client(deadline) as client:
                client.post("/queue", json={"delete": [prompt_id]})
                queue = client.get("/queue").json()
                running = [
                    item[1] for item in queue.get("queue_running", []) if isinstance(item, list) and len(item) > 1
                ]
                if prompt_id in running:
                    # With a prompt_id ComfyUI interrupts only that prompt (never another client's).
                    client.post("/interrupt", json={"prompt_id": prompt_id})
        except (httpx.HTTPError, ValueError, AttributeError) as e:
            log.warning("Could not take prompt %s back from ComfyUI at %s: %s", prompt_id, self.url, e)

    # --- the interface ---------------------------------------------------------------------------

    def generate(
        self,
        prompt: str,
        *,
        width: int,
        height: int,
        seed: int | None,
        references: list[bytes],
        style_lora: str | None = None,
        progress: Progress | None = None,
    ) -> bytes:
        if not self.url:
            raise BackendMisconfigured(NO_URL_MESSAGE)
        deadline = Deadline(self.timeout, "ComfyUI")
        workflow = self.workflow_for(len(references))
        graph = with_style_lora(workflow.graph, style_lora)
        with self._client(deadline) as client:
            names = [self._upload(client, deadline, i, data) for i, data in enumerate(references[: workflow.slots])]
            if progress:
                progress(0.2, f"Uploaded {len(names)} reference(s)" if names else "Submitting")
            values = {
                "prompt": prompt,
                "negative_prompt": NEGATIVE_PROMPT,
                "seed": 0 if seed is None else int(seed),
                "width": width,
                "height": height,
                "filename_prefix": f"reshoot/{uuid.uuid4().hex[:12]}",
            } | {f"reference_{i + 1}": name for i, name in enumerate(names)}
            if style_lora:
                values["style_lora"] = lora_file(style_lora)
            prompt_id = self._submit(client, deadline, fill_workflow(graph, values))
            if progress:
                progress(0.3, "Queued in ComfyUI")
            finished = False
            try:
                entry = self._wait(client, deadline, prompt_id, progress)
                finished = True
            finally:
                if not finished:  # timed out, or the job was stopped: the prompt must not run on
                    self._take_back(prompt_id)
            failure = _run_failure(entry, prompt_id)
            if failure is not None:
                raise failure
            if progress:
                progress(0.9, "Downloading")
            data = self._download(client, deadline, entry)
        check_image_size(
            data,
            width=width,
            height=height,
            service="ComfyUI",
            hint=f"Does the workflow {workflow.name} take {{{{width}}}} and {{{{height}}}}?",
        )
        if progress:
            progress(1.0, "Done")
        return data
