"""The ComfyUI backend against the fake ComfyUI server (tests/fakes), over real HTTP."""

from __future__ import annotations

import io
import json
import socket
import time

import pytest
import requests
from PIL import Image

from services.backends import (
    BackendError,
    BackendMisconfigured,
    BackendTimeout,
    BackendUnavailable,
    get_backend,
    nearest_size,
)
from services.backends.comfyui import NEGATIVE_PROMPT, WORKFLOWS, ComfyUIBackend, fill_workflow, leave_out_lora
from services.config import get_settings


def _png(colour=(255, 0, 0), size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def _backend(**overrides) -> ComfyUIBackend:
    return ComfyUIBackend.from_settings(get_settings(), **({"backoff": 0.001, "poll_interval": 0.02} | overrides))


def _generate(backend=None, **overrides) -> bytes:
    args = {"prompt": "A sunlit kitchen", "width": 640, "height": 360, "seed": 1234, "references": []} | overrides
    return (backend or _backend()).generate(args.pop("prompt"), **args)


def _nodes(graph: dict, class_type: str) -> list[dict]:
    return [node["inputs"] for node in graph.values() if node["class_type"] == class_type]


def test_text_to_image_submits_the_filled_workflow_polls_and_downloads(fake_comfyui):
    backend = get_backend("comfyui")
    assert backend.name == "comfyui" and backend.capabilities.honours_seed
    assert nearest_size(backend.capabilities, 1921, 803) == (1920, 800)
    progress = []
    data = _generate(backend, progress=lambda fraction, message: progress.append(fraction))
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == (640, 360)

    [graph] = fake_comfyui.submitted_graphs()
    assert _nodes(graph, "KSampler")[0]["seed"] == 1234
    assert _nodes(graph, "EmptyLatentImage")[0] == {"width": 640, "height": 360, "batch_size": 1}
    assert sorted(n["text"] for n in _nodes(graph, "CLIPTextEncode")) == sorted(["A sunlit kitchen", NEGATIVE_PROMPT])
    assert _nodes(graph, "SaveImage")[0]["filename_prefix"].startswith("reshoot/")
    assert _nodes(graph, "LoadImage") == []
    [submit] = fake_comfyui.requests_to("/prompt")
    assert submit.json()["client_id"]
    histories = [r for r in fake_comfyui.requests if r.path.startswith("/history/")]
    assert len(histories) == fake_comfyui.pending_polls + 1  # `{}` until done, then the entry
    [view] = fake_comfyui.requests_to("/view")
    assert view.query["subfolder"] == "reshoot" and view.query["type"] == "output"
    assert progress == sorted(progress) and progress[-1] == 1.0


def test_seed_changes_the_output_and_is_recorded(fake_comfyui):
    first, again, other = _generate(seed=7), _generate(seed=7), _generate(seed=8)
    assert first == again != other
    seeds = [_nodes(g, "KSampler")[0]["seed"] for g in fake_comfyui.submitted_graphs()]
    assert seeds == [7, 7, 8]
    prefixes = {_nodes(g, "SaveImage")[0]["filename_prefix"] for g in fake_comfyui.submitted_graphs()}
    assert len(prefixes) == 3  # never answered from ComfyUI's cache


def test_references_are_uploaded_and_named_in_load_image(fake_comfyui):
    reference = _png((0, 200, 0))
    _generate(references=[reference])
    [upload] = fake_comfyui.requests_to("/upload/image")
    parts = {p.name: p for p in upload.parts()}
    assert parts["image"].data == reference and parts["image"].content_type == "image/png"
    [(key, stored)] = fake_comfyui.uploads.items()
    assert stored == reference and key[0] == "input"
    [graph] = fake_comfyui.submitted_graphs()
    assert _nodes(graph, "LoadImage") == [{"image": key[2]}]
    assert _nodes(graph, "VAEEncode")  # image to image from the reference


def test_same_reference_twice_is_one_file_and_different_ones_never_collide(fake_comfyui):
    _generate(references=[_png((1, 2, 3))])
    _generate(references=[_png((1, 2, 3))])
    _generate(references=[_png((4, 5, 6))])
    assert len(fake_comfyui.uploads) == 2


def test_node_errors_in_a_200_answer_are_an_error_and_the_queued_part_is_removed(fake_comfyui):
    fake_comfyui.fail("node_errors")
    with pytest.raises(BackendMisconfigured) as info:
        _generate()
    assert "SaveImage" in info.value.message and "Required input is missing" in info.value.message
    [run] = fake_comfyui.prompts.values()
    assert run["state"] == "deleted"  # what ComfyUI queued of it will not run for nothing


def _workflow_file(tmp_path, change) -> str:
    graph = json.loads((WORKFLOWS / "default_api.json").read_text())
    change(graph)
    path = tmp_path / "workflow.json"
    path.write_text(json.dumps(graph))
    return str(path)


def test_unknown_node_class_is_reported_with_comfyuis_message(fake_comfyui, tmp_path, monkeypatch):
    monkeypatch.setenv(
        "RESHOOT_COMFYUI_WORKFLOW", _workflow_file(tmp_path, lambda g: g["8"].update(class_type="NoSuchNode"))
    )
    get_settings.cache_clear()
    with pytest.raises(BackendMisconfigured) as info:
        _generate()
    assert "Cannot execute because node NoSuchNode does not exist." in info.value.message
    assert info.value.details["status"] == 400


def test_missing_checkpoint_is_reported_with_the_node_error(fake_comfyui, tmp_path, monkeypatch):
    monkeypatch.setenv(
        "RESHOOT_COMFYUI_WORKFLOW", _workflow_file(tmp_path, lambda g: g["4"]["inputs"].update(ckpt_name="nope.ckpt"))
    )
    get_settings.cache_clear()
    with pytest.raises(BackendMisconfigured) as info:
        _generate()
    assert "Prompt outputs failed validation" in info.value.message and "nope.ckpt" in info.value.message


def test_execution_error_keeps_the_exception_message(fake_comfyui):
    fake_comfyui.fail("execution_error", message="Allocation on device failed")
    with pytest.raises(BackendError) as info:
        _generate()
    assert type(info.value) is BackendError
    assert "Allocation on device failed" in info.value.message and "SaveImage" in info.value.message


def test_a_run_that_never_finishes_times_out(fake_comfyui, monkeypatch):
    monkeypatch.setenv("RESHOOT_BACKEND_TIMEOUT", "1.5")  # long enough for the workflow to be accepted under load
    get_settings.cache_clear()
    fake_comfyui.fail("timeout")
    with pytest.raises(BackendTimeout) as info:
        _generate()
    assert info.value.retryable and info.value.code == "BACKEND_TIMEOUT" and info.value.status == 504
    assert info.value.message == (
        "ComfyUI did not finish the image within 1.5 s (RESHOOT_BACKEND_TIMEOUT), so Reshoot gave up."
    )


def test_server_errors_are_retried_then_unavailable(fake_comfyui):
    fake_comfyui.fail("server_error")
    _generate()
    assert len(fake_comfyui.requests_to("/prompt")) == 2
    fake_comfyui.fail("server_error", times=3)
    with pytest.raises(BackendUnavailable):
        _generate()
    assert len(fake_comfyui.requests_to("/prompt")) == 5


def test_output_that_is_not_an_image_is_an_error(fake_comfyui):
    fake_comfyui.fail("malformed")
    with pytest.raises(BackendError) as info:
        _generate()
    assert "readable image" in info.value.message


def test_missing_url_is_misconfiguration():
    with pytest.raises(BackendMisconfigured) as info:
        _generate(get_backend("comfyui"))
    assert "RESHOOT_COMFYUI_URL" in info.value.message


def test_unreachable_server_is_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BackendUnavailable):
        _generate(ComfyUIBackend(url=f"http://127.0.0.1:{port}", backoff=0.001))


def test_custom_workflow_takes_as_many_references_as_it_has_placeholders(fake_comfyui, tmp_path, monkeypatch):
    def two_references(graph):
        graph["20"] = {"class_type": "LoadImage", "inputs": {"image": "{{reference_1}}"}}
        graph["21"] = {"class_type": "LoadImage", "inputs": {"image": "{{reference_2}}"}}

    monkeypatch.setenv("RESHOOT_COMFYUI_WORKFLOW", _workflow_file(tmp_path, two_references))
    get_settings.cache_clear()
    backend = _backend()
    assert backend.capabilities.max_references == 2 and backend.model == "comfyui:default_api.json+workflow.json"
    with pytest.raises(BackendError):
        _generate(backend, references=[_png()])
    _generate(backend, references=[_png((1, 1, 1)), _png((2, 2, 2)), _png((3, 3, 3))])
    names = sorted(n["image"] for n in _nodes(fake_comfyui.submitted_graphs()[-1], "LoadImage"))
    assert len(fake_comfyui.uploads) == 2 and names == sorted(key[2] for key in fake_comfyui.uploads)


def test_fill_workflow_types_numbers_and_refuses_unknown_placeholders():
    graph = {"1": {"class_type": "X", "inputs": {"seed": "{{seed}}", "text": "a {{prompt}} ({{width}})"}}}
    filled = fill_workflow(graph, {"seed": "42", "prompt": "cat", "width": 8})
    assert filled["1"]["inputs"] == {"seed": 42, "text": "a cat (8)"}
    with pytest.raises(BackendMisconfigured):
        fill_workflow({"1": {"class_type": "X", "inputs": {"lora": "{{lora}}"}}}, {})


# --- style LoRA ------------------------------------------------------------------------------------


def _links_to(graph: dict, node_id: str) -> list[tuple[str, str, list]]:
    """(node id, input name, link) of every link into `node_id`."""
    return [
        (nid, name, value)
        for nid, node in graph.items()
        for name, value in node["inputs"].items()
        if isinstance(value, list) and str(value[0]) == node_id
    ]


@pytest.mark.parametrize("references", [0, 1])
def test_a_style_lora_goes_through_a_lora_loader_after_the_checkpoint(fake_comfyui, references):
    assert _backend().capabilities.accepts_style_lora is True
    _generate(style_lora="ana-watercolor-v2", references=[_png()] * references)
    [graph] = fake_comfyui.submitted_graphs()
    [(lora_id, lora)] = [(nid, node) for nid, node in graph.items() if node["class_type"] == "LoraLoader"]
    assert lora["inputs"] == {
        "model": ["4", 0],
        "clip": ["4", 1],
        "lora_name": "ana-watercolor-v2.safetensors",
        "strength_model": 1.0,
        "strength_clip": 1.0,
    }
    original = json.loads((WORKFLOWS / ("reference_api.json" if references else "default_api.json")).read_text())
    assert lora_id not in original and set(graph) == {*original, lora_id}
    # Only the LoRA reads the checkpoint's model and clip; the sampler and both text encoders read the LoRA's.
    assert sorted((nid, name) for nid, name, link in _links_to(graph, "4") if link[1] in (0, 1)) == [
        (lora_id, "clip"),
        (lora_id, "model"),
    ]
    assert _nodes(graph, "KSampler")[0]["model"] == [lora_id, 0]
    assert [n["clip"] for n in _nodes(graph, "CLIPTextEncode")] == [[lora_id, 1], [lora_id, 1]]
    assert all(link[1] == 2 for nid, _, link in _links_to(graph, "4") if nid != lora_id)  # the VAE stays


def test_without_a_style_lora_the_workflow_is_unchanged(fake_comfyui):
    _generate()
    [graph] = fake_comfyui.submitted_graphs()
    assert _nodes(graph, "LoraLoader") == [] and set(graph) == set(
        json.loads((WORKFLOWS / "default_api.json").read_text())
    )


def test_a_lora_the_server_does_not_have_is_a_clear_error(fake_comfyui):
    with pytest.raises(BackendMisconfigured) as info:
        _generate(style_lora="nope-v1")
    message = info.value.message
    assert "LoraLoader" in message and "lora_name: 'nope-v1.safetensors' not in" in message
    assert "warm-documentary-v2.safetensors" in message


def test_a_workflow_without_a_checkpoint_loader_refuses_a_style_lora(fake_comfyui, tmp_path, monkeypatch):
    weight_free = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "{{reference_1}}"}},
        "3": {
            "class_type": "ImageScale",
            "inputs": {
                "image": ["1", 0],
                "upscale_method": "nearest-exact",
                "width": "{{width}}",
                "height": "{{height}}",
                "crop": "disabled",
            },
        },
        "2": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "{{filename_prefix}}"}},
    }
    path = tmp_path / "weight_free.json"
    path.write_text(json.dumps(weight_free))
    monkeypatch.setenv("RESHOOT_COMFYUI_WORKFLOW", str(path))
    get_settings.cache_clear()
    _generate(references=[_png()])
    with pytest.raises(BackendMisconfigured) as info:
        _generate(references=[_png()], style_lora="ana-watercolor-v2")
    assert "0 CheckpointLoaderSimple" in info.value.message and "{{style_lora}}" in info.value.message
    assert len(fake_comfyui.requests_to("/prompt")) == 1


def _with_lora_placeholder(graph):
    graph["20"] = {
        "class_type": "LoraLoader",
        "inputs": {
            "model": ["4", 0],
            "clip": ["4", 1],
            "lora_name": "{{style_lora}}",
            "strength_model": 0.8,
            "strength_clip": 0.6,
        },
    }
    graph["3"]["inputs"]["model"] = ["20", 0]
    graph["6"]["inputs"]["clip"] = graph["7"]["inputs"]["clip"] = ["20", 1]


def test_a_style_lora_placeholder_is_filled_or_its_lora_left_out(fake_comfyui, tmp_path, monkeypatch):
    monkeypatch.setenv("RESHOOT_COMFYUI_WORKFLOW", _workflow_file(tmp_path, _with_lora_placeholder))
    get_settings.cache_clear()
    _generate(style_lora="warm-documentary-v2")
    _generate()
    with_lora, without = fake_comfyui.submitted_graphs()
    assert _nodes(with_lora, "LoraLoader") == [
        {
            "model": ["4", 0],
            "clip": ["4", 1],
            "lora_name": "warm-documentary-v2.safetensors",
            "strength_model": 0.8,
            "strength_clip": 0.6,
        }
    ]
    assert _nodes(without, "LoraLoader") == []
    assert _nodes(without, "KSampler")[0]["model"] == ["4", 0]
    assert [n["clip"] for n in _nodes(without, "CLIPTextEncode")] == [["4", 1], ["4", 1]]


def test_leave_out_lora_passes_model_only_loras_and_refuses_other_holders():
    graph = {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "x"}},
        "5": {"class_type": "LoraLoaderModelOnly", "inputs": {"model": ["4", 0], "lora_name": "{{style_lora}}"}},
        "6": {"class_type": "LoraLoaderModelOnly", "inputs": {"model": ["5", 0], "lora_name": "{{style_lora}}"}},
        "3": {"class_type": "KSampler", "inputs": {"model": ["6", 0], "seed": 1}},
    }
    assert leave_out_lora(graph) == {
        "4": graph["4"],
        "3": {"class_type": "KSampler", "inputs": {"model": ["4", 0], "seed": 1}},
    }
    graph["7"] = {
        "class_type": "CLIPTextEncode",
        "inputs": {"text": "in the style of {{style_lora}}", "clip": ["4", 1]},
    }
    with pytest.raises(BackendMisconfigured) as info:
        leave_out_lora(graph)
    assert "node 7 (CLIPTextEncode)" in info.value.message


# --- the fake answers like the real server (shared/reference/comfyui-api.md) ----------------------


def test_fake_answers_like_comfyui(fake_comfyui):
    url = fake_comfyui.url
    assert requests.get(f"{url}/history/unknown").json() == {}
    assert requests.post(f"{url}/upload/image", data={"type": "input"}).status_code == 400
    first = requests.post(f"{url}/api/upload/image", files={"image": ("probe_in.png", _png())}).json()
    same = requests.post(f"{url}/upload/image", files={"image": ("probe_in.png", _png())}).json()
    other = requests.post(f"{url}/upload/image", files={"image": ("probe_in.png", _png((0, 0, 9)))}).json()
    assert first == same == {"name": "probe_in.png", "subfolder": "", "type": "input"}
    assert other["name"] == "probe_in (1).png"
    not_json = requests.post(f"{url}/prompt", data=b"{nope")
    assert not_json.status_code == 500 and not_json.headers["content-type"].startswith("text/plain")
    missing = requests.post(
        f"{url}/prompt",
        json={
            "prompt": {
                "1": {"class_type": "EmptyLatentImage", "inputs": {"width": 8}},
                "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "p"}},
            }
        },
    )
    body = missing.json()
    assert missing.status_code == 400 and body["error"]["type"] == "prompt_outputs_failed_validation"
    assert body["node_errors"]["1"]["errors"][0]["type"] == "required_input_missing"
    assert body["node_errors"]["1"]["class_type"] == "EmptyLatentImage"
    assert requests.get(f"{url}/view", params={"filename": "x.png", "type": "output"}).status_code == 404
    data = requests.get(f"{url}/view", params={"filename": "probe_in.png", "type": "input"})
    assert data.headers["content-type"] == "image/png" and data.content == _png()


def test_fake_checks_link_types_and_known_loras(fake_comfyui):
    graph = json.loads((WORKFLOWS / "default_api.json").read_text())
    graph["3"]["inputs"]["model"] = ["4", 1]  # CLIP into the sampler's MODEL
    graph["20"] = {
        "class_type": "LoraLoader",
        "inputs": {
            "model": ["4", 0],
            "clip": ["4", 1],
            "lora_name": "nope.safetensors",
            "strength_model": 1.0,
            "strength_clip": 1.0,
        },
    }
    graph = fill_workflow(
        graph, {"prompt": "p", "negative_prompt": "n", "seed": 1, "width": 64, "height": 64, "filename_prefix": "p"}
    )
    response = requests.post(f"{fake_comfyui.url}/prompt", json={"prompt": graph})
    errors = response.json()["node_errors"]
    assert response.status_code == 400
    assert errors["3"]["errors"][0] | {"extra_info": None} == {
        "type": "return_type_mismatch",
        "message": "Return type mismatch between linked nodes",
        "details": "model, received_type(CLIP) mismatch input_type(MODEL)",
        "extra_info": None,
    }
    [lora_error] = errors["20"]["errors"]
    assert (lora_error["type"], lora_error["message"]) == ("value_not_in_list", "Value not in list")
    assert lora_error["details"] == f"lora_name: 'nope.safetensors' not in {list(fake_comfyui.loras)}"
    assert lora_error["extra_info"]["received_value"] == "nope.safetensors"


# --- Deadlines, taking prompts back, interrupted runs (issue 11 item 5) ----------------------------------


def _timeout(monkeypatch, seconds: str) -> None:
    monkeypatch.setenv("RESHOOT_BACKEND_TIMEOUT", seconds)
    get_settings.cache_clear()


def test_a_running_prompt_is_interrupted_when_the_deadline_passes(fake_comfyui, monkeypatch):
    _timeout(monkeypatch, "1.5")
    fake_comfyui.fail("timeout")
    with pytest.raises(BackendTimeout) as info:
        _generate()
    assert info.value.code == "BACKEND_TIMEOUT"
    [(prompt_id, run)] = fake_comfyui.prompts.items()
    assert run["state"] == "interrupted"
    [interrupt] = fake_comfyui.requests_to("/interrupt")
    assert interrupt.json() == {"prompt_id": prompt_id}  # only ours, never another client's run
    history = requests.get(f"{fake_comfyui.url}/history/{prompt_id}").json()[prompt_id]
    assert history["status"]["status_str"] == "error" and history["outputs"] == {}
    assert fake_comfyui.files == {}  # no orphan output written later


def test_a_queued_prompt_is_deleted_from_the_queue_when_the_deadline_passes(fake_comfyui, monkeypatch):
    _timeout(monkeypatch, "1.5")
    fake_comfyui.fail("queued")
    with pytest.raises(BackendTimeout):
        _generate()
    [(prompt_id, run)] = fake_comfyui.prompts.items()
    assert run["state"] == "deleted"
    [delete] = [r for r in fake_comfyui.requests_to("/queue") if r.method == "POST"]
    assert delete.json() == {"delete": [prompt_id]}
    assert fake_comfyui.requests_to("/interrupt") == []
    assert requests.get(f"{fake_comfyui.url}/history/{prompt_id}").json() == {}


def test_an_interrupted_run_says_so(fake_comfyui):
    fake_comfyui.fail("interrupted")
    with pytest.raises(BackendError) as info:
        _generate()
    assert type(info.value) is BackendError and info.value.details["reason"] == "interrupted"
    assert info.value.message.startswith("ComfyUI's run was interrupted (stopped in ComfyUI at")
    assert "execution_error" not in info.value.message


def test_a_trickling_download_is_cut_off_at_the_deadline(fake_comfyui, monkeypatch):
    """One byte every 0.25 s of a ~2 KB PNG would take minutes; the call's total deadline ends it."""
    _timeout(monkeypatch, "1.5")
    fake_comfyui.fail("trickle", seconds=0.25)
    with pytest.raises(BackendTimeout) as info:
        _generate()
    assert info.value.message.startswith("ComfyUI did not send the finished image within 1.5 s")
    deadline = time.monotonic() + 5
    while not fake_comfyui.trickled and time.monotonic() < deadline:  # the fake notices the hang-up on its next byte
        time.sleep(0.05)
    [(path, sent, total)] = fake_comfyui.trickled
    assert path == "/view" and sent < total


def test_a_wrong_size_is_refused(fake_comfyui):
    fake_comfyui.fail("wrong_size", size=(1, 1))
    with pytest.raises(BackendError) as info:
        _generate()
    assert info.value.message.startswith("ComfyUI returned a 1×1 image for a 640×360 request, so it was not used.")
    assert info.value.details["received"] == [1, 1]


def test_an_unreachable_server_is_named_in_plain_words():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BackendUnavailable) as info:
        _generate(ComfyUIBackend(url=f"http://127.0.0.1:{port}", backoff=0.001))
    assert (
        info.value.message
        == f"Could not reach ComfyUI at http://127.0.0.1:{port}: connection refused (is the server running on that port?)."
    )


# --- Text and reference workflows -------------------------------------------------------------------


def _reference_workflow_file(tmp_path, name="my_reference.json") -> str:
    graph = json.loads((WORKFLOWS / "reference_api.json").read_text())
    path = tmp_path / name
    path.write_text(json.dumps(graph))
    return str(path)


def test_a_reference_workflow_alone_serves_shots_with_references_and_the_text_one_the_others(
    fake_comfyui, tmp_path, monkeypatch
):
    """RESHOOT_COMFYUI_WORKFLOW with {{reference_1}} (the old single setting): no failure for a shot without them."""
    monkeypatch.setenv("RESHOOT_COMFYUI_WORKFLOW", _reference_workflow_file(tmp_path))
    get_settings.cache_clear()
    backend = _backend()
    _generate(backend)  # no references: the bundled text workflow, not a refusal
    _generate(backend, references=[_png()])
    without, with_refs = fake_comfyui.submitted_graphs()
    assert _nodes(without, "LoadImage") == [] and len(_nodes(with_refs, "LoadImage")) == 1
    assert backend.model == "comfyui:default_api.json+my_reference.json"


def test_references_are_never_dropped_for_a_text_only_workflow(fake_comfyui, tmp_path, monkeypatch):
    monkeypatch.setenv("RESHOOT_COMFYUI_WORKFLOW", _workflow_file(tmp_path, lambda g: None))
    get_settings.cache_clear()
    _generate(references=[_png((0, 9, 0))])
    [graph] = fake_comfyui.submitted_graphs()
    [load] = _nodes(graph, "LoadImage")
    assert load["image"] in {key[2] for key in fake_comfyui.uploads}  # the reference workflow got it


def test_both_workflows_set_are_chosen_by_references(fake_comfyui, tmp_path, monkeypatch):
    text = _workflow_file(tmp_path, lambda g: g["3"]["inputs"].update(steps=7))
    monkeypatch.setenv("RESHOOT_COMFYUI_WORKFLOW", text)
    monkeypatch.setenv("RESHOOT_COMFYUI_REFERENCE_WORKFLOW", _reference_workflow_file(tmp_path))
    get_settings.cache_clear()
    _generate()
    _generate(references=[_png()])
    text_graph, reference_graph = fake_comfyui.submitted_graphs()
    assert _nodes(text_graph, "KSampler")[0]["steps"] == 7 and _nodes(text_graph, "LoadImage") == []
    assert len(_nodes(reference_graph, "LoadImage")) == 1


def test_workflows_that_do_not_fit_their_setting_are_refused_clearly(fake_comfyui, tmp_path, monkeypatch):
    monkeypatch.setenv("RESHOOT_COMFYUI_REFERENCE_WORKFLOW", _workflow_file(tmp_path, lambda g: None))
    get_settings.cache_clear()
    with pytest.raises(BackendMisconfigured) as info:
        _backend()
    assert "RESHOOT_COMFYUI_REFERENCE_WORKFLOW (workflow.json) has no {{reference_1}} placeholder" in info.value.message
    monkeypatch.setenv("RESHOOT_COMFYUI_REFERENCE_WORKFLOW", _reference_workflow_file(tmp_path))
    monkeypatch.setenv("RESHOOT_COMFYUI_WORKFLOW", _reference_workflow_file(tmp_path, "other.json"))
    get_settings.cache_clear()
    with pytest.raises(BackendMisconfigured) as info:
        _backend()
    assert "RESHOOT_COMFYUI_WORKFLOW (other.json) uses {{reference_1}}" in info.value.message
    assert fake_comfyui.requests == []


def test_fake_queue_and_interrupt_answer_like_comfyui(fake_comfyui):
    """Shapes of ComfyUI's server.py: items [number, id, prompt, extra_data, outputs]; delete touches pending only;
    a targeted interrupt touches only the running prompt; both answer 200 with an empty body."""
    fake_comfyui.fail("timeout")
    fake_comfyui.fail("queued")
    graph = fill_workflow(
        json.loads((WORKFLOWS / "default_api.json").read_text()),
        {"prompt": "a", "negative_prompt": "b", "seed": 1, "width": 64, "height": 64, "filename_prefix": "reshoot/x"},
    )
    running, pending = (
        requests.post(f"{fake_comfyui.url}/prompt", json={"prompt": graph, "client_id": "c"}).json()["prompt_id"]
        for _ in range(2)
    )
    queue = requests.get(f"{fake_comfyui.url}/queue").json()
    assert [item[1] for item in queue["queue_running"]] == [running]
    assert [item[1] for item in queue["queue_pending"]] == [pending]
    assert queue["queue_running"][0][3] == {"client_id": "c"} and len(queue["queue_running"][0]) == 5
    answer = requests.post(f"{fake_comfyui.url}/queue", json={"delete": [running]})
    assert (answer.status_code, answer.content) == (200, b"")
    assert fake_comfyui.prompts[running]["state"] == "queued"  # a running prompt is not deleted
    assert requests.post(f"{fake_comfyui.url}/interrupt", json={"prompt_id": pending}).status_code == 200
    assert fake_comfyui.prompts[running]["state"] == "queued"  # not the running one: nothing interrupted
    requests.post(f"{fake_comfyui.url}/interrupt")  # no body: whatever runs
    assert fake_comfyui.prompts[running]["state"] == "interrupted"
    requests.post(f"{fake_comfyui.url}/queue", json={"clear": True})
    assert fake_comfyui.prompts[pending]["state"] == "deleted"
    assert requests.post(f"{fake_comfyui.url}/queue", data="not json").status_code == 500


def test_the_environments_proxy_is_used(fake_comfyui, monkeypatch):
    """A client given its own transport ignores HTTP(S)_PROXY, so the deadline transport takes it over: here the
    fake answers as the proxy for a ComfyUI host that does not resolve, and NO_PROXY exempts a host."""
    from services.backends import env_proxy

    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", fake_comfyui.url)
    _generate(ComfyUIBackend(url="http://comfyui.invalid:8188", poll_interval=0.02))
    assert fake_comfyui.requests_to("/view")  # every call went through the proxy
    assert env_proxy("http://comfyui.invalid:8188") == fake_comfyui.url
    monkeypatch.setenv("NO_PROXY", "comfyui.invalid")
    assert env_proxy("http://comfyui.invalid:8188") is None
