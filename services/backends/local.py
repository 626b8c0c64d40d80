"""The offline renderer: a deterministic Pillow drawing of prompt + seed (+ references, + style LoRA). Not AI, and
says so."""

from __future__ import annotations

import hashlib
import io
import random
import textwrap

from PIL import Image, ImageDraw, ImageOps

from services.backends import BackendError, Capabilities, Progress
from services.images import LABEL_COLOUR, encode_png, label_font

LABEL = "Offline renderer — not AI"
MAX_REFERENCES = 6


def _palette(rng: random.Random) -> list[tuple[int, int, int]]:
    hue = rng.random()
    colours = []
    for offset, value in ((0.0, 0.35), (0.08, 0.75), (0.5, 0.95), (0.55, 0.55)):
        h = (hue + offset) % 1.0
        red, green, blue = (round(c * 255) for c in _hsv(h, 0.55, value))
        colours.append((red, green, blue))
    return colours


def _hsv(h: float, s: float, v: float) -> tuple[float, float, float]:
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    return [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]


def _background(width: int, height: int, rng: random.Random) -> Image.Image:
    dark, mid, light, accent = _palette(rng)
    gradient = Image.linear_gradient("L").rotate(rng.choice((0, 90, 180, 270))).resize((width, height))
    image = ImageOps.colorize(gradient, black=dark, white=mid).convert("RGBA")
    overlay = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    unit = min(width, height)
    for _ in range(7 + rng.randrange(6)):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(0.08, 0.35) * unit
        colour = (*(light if rng.random() < 0.5 else accent), rng.randrange(60, 150))
        box = (x - r, y - r, x + r, y + r)
        if rng.random() < 0.6:
            draw.ellipse(box, fill=colour)
        else:
            draw.rectangle(box, fill=colour)
    return Image.alpha_composite(image, overlay)


def _paste_references(canvas: Image.Image, references: list[bytes]) -> None:
    width, height = canvas.size
    tile = max(48, min(height // 3, width // (len(references) + 1)))
    margin = max(8, tile // 12)
    x = width - margin
    for index, data in enumerate(references):
        try:
            with Image.open(io.BytesIO(data)) as opened:
                ref = ImageOps.fit(
                    ImageOps.exif_transpose(opened).convert("RGB"), (tile, tile), Image.Resampling.BILINEAR
                )
        except Exception as e:
            raise BackendError(f"Reference image {index + 1} is not an image.", details={"reason": str(e)[:200]}) from e
        framed = ImageOps.expand(ref, border=max(2, tile // 40), fill=(255, 255, 255))
        x -= framed.width
        canvas.paste(framed, (x, margin))
        x -= margin


def rng_seed(*, prompt: str, seed: int, style_lora: str | None) -> int:
    """The drawing's random seed; without a LoRA the same as before LoRAs existed, so old images redraw identically."""
    key = f"{seed}\x00{prompt}" + (f"\x00lora:{style_lora}" if style_lora else "")
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


def detail_line(*, seed: int, style_lora: str | None, reference_count: int, width: int, height: int) -> str:
    """The caption's last line, e.g. `seed 7 · LoRA ana-watercolor-v2 · 2 references · 640x360`."""
    parts = [f"seed {seed}"]
    if style_lora:
        parts.append(f"LoRA {style_lora}")
    if reference_count:
        parts.append(f"{reference_count} reference{'s' if reference_count != 1 else ''}")
    return " · ".join([*parts, f"{width}x{height}"])


def _caption(canvas: Image.Image, prompt: str, detail: str) -> None:
    width, height = canvas.size
    size = max(12, min(width, height) // 22)
    small_size = max(10, size * 2 // 3)
    font, small = label_font(size), label_font(small_size)
    chars = max(20, int(width / (small_size * 0.6)))
    lines = textwrap.wrap(prompt.strip() or "(empty prompt)", width=chars, max_lines=3, placeholder=" …")
    line_height = int(size * 1.25)
    band = line_height * (len(lines) + 1) + int(size * 1.8)
    overlay = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rectangle((0, height - band, width, height), fill=(0, 0, 0, 160))
    canvas.alpha_composite(overlay)
    draw = ImageDraw.Draw(canvas)
    pad = size // 2
    y = height - band + pad
    draw.text((pad, y), LABEL, font=font, fill=(*LABEL_COLOUR, 255))
    y += line_height
    for line in lines:
        draw.text((pad, y), line, font=small, fill=(255, 255, 255, 255))
        y += int(small_size * 1.3)
    draw.text((pad, y), detail, font=small, fill=(200, 200, 200, 255))


class LocalBackend:
    """Same prompt, seed, size, references and style LoRA give byte-identical PNGs; well under a second for 1920×800.
    The LoRA name changes the drawing and is written in the caption."""

    name = "local"
    model = "offline-renderer-1"
    capabilities = Capabilities(
        sizes=(),
        honours_seed=True,
        accepts_references=True,
        max_references=MAX_REFERENCES,
        max_side=4096,
        accepts_style_lora=True,
        label=LABEL,
    )

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
        seed = 0 if seed is None else int(seed)
        if not (0 < width <= self.capabilities.max_side and 0 < height <= self.capabilities.max_side):
            raise BackendError(f"Size {width}x{height} is outside 1..{self.capabilities.max_side} pixels a side")
        rng = random.Random(rng_seed(prompt=prompt, seed=seed, style_lora=style_lora))
        canvas = _background(width, height, rng)
        if references:
            _paste_references(canvas, references[:MAX_REFERENCES])
        detail = detail_line(
            seed=seed, style_lora=style_lora, reference_count=len(references), width=width, height=height
        )
        _caption(canvas, prompt, detail)
        if progress:
            progress(0.9, "Encoding")
        data = encode_png(canvas.convert("RGB"))
        if progress:
            progress(1.0, "Done")
        return data
