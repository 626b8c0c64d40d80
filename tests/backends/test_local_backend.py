"""The offline renderer: deterministic, seed-sensitive, shows references, labelled, fast; and the `render` CLI."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image, ImageChops, ImageStat

from services.backends import (
    BackendMisconfigured,
    Capabilities,
    get_backend,
    local,
    nearest_size,
)
from services.backends.local import LocalBackend
from services.cli import main


def _png(colour: tuple[int, int, int], size: tuple[int, int] = (300, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def _render(**overrides) -> bytes:
    args = {"prompt": "A sofa by a window", "width": 640, "height": 360, "seed": 7, "references": []} | overrides
    return LocalBackend().generate(args.pop("prompt"), **args)


def _difference(a: bytes, b: bytes) -> float:
    diff = ImageChops.difference(Image.open(io.BytesIO(a)).convert("RGB"), Image.open(io.BytesIO(b)).convert("RGB"))
    return sum(ImageStat.Stat(diff).mean) / 3


def test_same_inputs_give_identical_png_of_the_requested_size():
    first, second = _render(), _render()
    assert first == second
    image = Image.open(io.BytesIO(first))
    assert image.format == "PNG" and image.size == (640, 360)


def test_another_seed_or_prompt_gives_a_visibly_different_image():
    base = _render()
    assert _difference(base, _render(seed=8)) > 10
    assert _difference(base, _render(prompt="A bright kitchen")) > 10


def test_references_are_composited_into_the_image():
    plain = _render()
    with_ref = _render(references=[_png((255, 0, 0))])
    assert with_ref != plain
    image = Image.open(io.BytesIO(with_ref)).convert("RGB")
    red = sum(1 for r, g, b in image.get_flattened_data() if r > 240 and g < 20 and b < 20)
    assert red > 0.05 * 640 * 360
    assert _render(references=[_png((255, 0, 0))]) == with_ref


def test_a_style_lora_changes_the_picture_deterministically_and_is_captioned():
    plain = _render()
    with_lora = _render(style_lora="ana-watercolor-v2")
    assert with_lora == _render(style_lora="ana-watercolor-v2")
    assert _difference(plain, with_lora) > 10
    assert _difference(with_lora, _render(style_lora="warm-documentary-v2")) > 10
    assert LocalBackend.capabilities.accepts_style_lora is True
    assert local.detail_line(seed=7, style_lora="ana-watercolor-v2", reference_count=1, width=640, height=360) == (
        "seed 7 · LoRA ana-watercolor-v2 · 1 reference · 640x360"
    )


def test_without_a_style_lora_the_drawing_is_the_one_before_loras():
    assert _render() == _render(style_lora=None) == _render(style_lora="")
    # What the renderer drew from before style LoRAs existed: the rng seeded by sha256(seed NUL prompt), this caption.
    assert local.rng_seed(prompt="A sofa", seed=7, style_lora=None) == int.from_bytes(
        hashlib.sha256(b"7\x00A sofa").digest()[:8], "big"
    )
    assert local.detail_line(seed=7, style_lora=None, reference_count=2, width=640, height=360) == (
        "seed 7 · 2 references · 640x360"
    )


def test_unreadable_reference_is_a_backend_error():
    with pytest.raises(Exception) as info:
        _render(references=[b"not an image"])
    assert info.value.code == "BACKEND_ERROR" and info.value.retryable is False


def test_label_is_drawn_in_the_caption_band():
    assert local.LABEL == "Offline renderer — not AI"
    image = Image.open(io.BytesIO(_render())).convert("RGB")
    band = image.crop((0, int(360 * 0.7), 640, 360))
    yellow = sum(1 for r, g, b in band.get_flattened_data() if r > 230 and 190 < g < 235 and b < 130)
    assert yellow > 50


def test_renders_1920x800_with_a_reference():
    data = _render(width=1920, height=800, references=[_png((0, 0, 255))])
    assert Image.open(io.BytesIO(data)).size == (1920, 800)


def test_local_is_the_default_backend_and_unknown_names_are_misconfiguration(monkeypatch):
    assert get_backend().name == "local"
    with pytest.raises(BackendMisconfigured) as info:
        get_backend("dalle9")
    assert info.value.code == "BACKEND_MISCONFIGURED" and "dalle9" in info.value.message


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ((1920, 800), (1536, 1024)),
        ((750, 1000), (1024, 1536)),
        ((1000, 1000), (1024, 1024)),
        ((1536, 768), (1536, 1024)),
    ],
)
def test_nearest_size_picks_the_nearest_aspect(target, expected):
    caps = Capabilities(sizes=((1024, 1024), (1536, 1024), (1024, 1536)))
    assert nearest_size(caps, *target) == expected


def test_nearest_size_for_free_sizes_rounds_to_step_and_caps_the_side():
    assert nearest_size(Capabilities(size_step=8, max_side=2048), 1921, 803) == (1920, 800)
    assert nearest_size(Capabilities(size_step=8, max_side=1024), 1920, 800) == (1024, 424)


def test_render_cli_is_deterministic_per_seed(tmp_path, capsys):
    paths = {name: tmp_path / f"{name}.png" for name in ("a", "b", "c")}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        argv = [
            "render",
            "--backend",
            "local",
            "--prompt",
            "Loft",
            "--seed",
            str(seed),
            "--width",
            "1920",
            "--height",
            "800",
            "-o",
            str(paths[name]),
        ]
        assert main(argv) == 0
    assert '"backend": "local"' in capsys.readouterr().out
    assert paths["a"].read_bytes() == paths["b"].read_bytes() != paths["c"].read_bytes()
    assert Image.open(paths["a"]).size == (1920, 800)


def test_render_cli_with_the_openai_backend_talks_to_it(fake_openai, tmp_path):
    out = tmp_path / "o.png"
    argv = ["render", "--backend", "openai", "--prompt", "Loft", "--width", "1920", "--height", "800", "-o", str(out)]
    assert main(argv) == 0
    assert Image.open(out).size == (1536, 1024) and fake_openai.received[-1]["size"] == "1536x1024"


def test_render_cli_reports_a_backend_error_plainly(tmp_path, capsys):
    assert main(["render", "--backend", "openai", "--prompt", "Loft", "-o", str(tmp_path / "x.png")]) == 1
    captured = capsys.readouterr()
    assert '"error": "BACKEND_MISCONFIGURED"' in captured.out and "OPENAI_API_KEY" in captured.err
    assert not (tmp_path / "x.png").exists()
