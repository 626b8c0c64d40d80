"""Photo-like test images: smooth colour fields with edges and a little sensor noise, JPEG-encoded like a camera."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter


def photo(seed: int, width: int = 4000, height: int = 3000) -> Image.Image:
    """A deterministic RGB image with a photo's statistics (not flat, not pure noise)."""
    rng = np.random.default_rng(seed)
    base = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), "RGB").resize(
        (width, height), Image.Resampling.BICUBIC
    )
    draw = ImageDraw.Draw(base)
    for _ in range(40):  # objects with hard edges, as in a scene
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(width // 40, width // 6)), int(rng.integers(height // 40, height // 6))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x, y, x + w, y + h), fill=fill)
    detail = Image.fromarray(rng.integers(0, 256, (height // 8, width // 8), dtype=np.uint8), "L")
    detail = detail.resize((width, height), Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(2))
    textured = Image.blend(base, Image.merge("RGB", (detail,) * 3), 0.15)
    noise = Image.effect_noise((width, height), 4)  # sensor noise around 128, in C
    return ImageChops.add(textured, Image.merge("RGB", (noise,) * 3), offset=-128)


def jpeg(image: Image.Image, quality: int = 92) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def camera_jpegs(count: int, *, width: int = 4000, height: int = 3000) -> list[bytes]:
    """`count` different 12 MP (by default) JPEG files: one scene, each shot with its own object and framing."""
    scene = photo(0, width, height)
    rng = np.random.default_rng(1)
    shots = []
    for k in range(count):
        image = scene.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if k % 2 else scene.copy()
        x, y = int(rng.integers(0, width * 3 // 4)), int(rng.integers(0, height * 3 // 4))
        ImageDraw.Draw(image).ellipse(
            (x, y, x + width // 5, y + height // 5), fill=tuple(int(v) for v in rng.integers(0, 256, 3))
        )
        shots.append(jpeg(image))
    return shots
