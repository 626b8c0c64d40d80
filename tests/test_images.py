"""Upload validation and normalisation, thumbnails and export sizes (services/images.py)."""

from __future__ import annotations

import hashlib
import io
import math
import struct
import zlib

import pytest
from PIL import Image, ImageChops, ImageCms, ImageStat, PngImagePlugin

from services.config import get_settings
from services.errors import ReshootError
from services.images import (
    FAST,
    LABEL_COLOUR,
    PILLOW_DEFAULTS,
    crop_box,
    encode_png,
    export_sizes,
    export_sizes_with_thumbnails,
    image_size,
    label_layout,
    make_thumbnail,
    validate_upload,
)


def _encode(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def _photo(size=(320, 200)) -> Image.Image:
    """A busy, opaque test picture: a gradient with a few blocks."""
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    image.paste((200, 40, 40), (10, 10, 60, 60))
    return image


def _png_header(width: int, height: int) -> bytes:
    """A PNG that only declares its size: enough for Pillow's pixel check, no memory needed."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _reason(data: bytes, filename: str = "upload.png") -> tuple[str, str]:
    with pytest.raises(ReshootError) as info:
        validate_upload(data, filename=filename)
    error = info.value
    assert error.code == "INVALID_IMAGE" and error.status == 400
    assert error.details["filename"] == filename.rsplit("/", 1)[-1]
    return error.details["reason"], error.message


# --- rejections ---------------------------------------------------------------------------------


def test_zero_bytes():
    assert _reason(b"", "empty.png") == ("empty", "empty.png is empty (0 bytes).")


def test_too_many_bytes(monkeypatch):
    monkeypatch.setenv("RESHOOT_MAX_UPLOAD_MB", "1")
    get_settings.cache_clear()
    reason, message = _reason(_encode(_photo(), "PNG") + b"\0" * (1024 * 1024), "big.png")
    assert reason == "too_large" and "the limit is 1 MB" in message


def test_not_an_image():
    reason, message = _reason(b"%PDF-1.7 hello", "cv.png")
    assert reason == "not_an_image" and message.startswith("cv.png is not an image")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_truncated(fmt):
    data = _encode(_photo((400, 300)), fmt)
    reason, message = _reason(data[: len(data) // 2], "cut.img")
    assert reason == "corrupt" and "truncated or corrupt" in message


def test_corrupt_pixels():
    data = bytearray(_encode(_photo(), "PNG"))
    data[60:200] = b"\xff" * 140
    assert _reason(bytes(data))[0] == "corrupt"


def test_unsupported_format_is_named():
    reason, message = _reason(_encode(_photo(), "BMP"), "scan.png")
    assert reason == "unsupported_format" and "BMP" in message


@pytest.mark.filterwarnings("error")  # Pillow's DecompressionBombWarning must be handled, not leak
@pytest.mark.parametrize(
    ("width", "height"),
    [(8000, 8000), (10_000, 10_000), (20_000, 20_000)],  # over our cap; Pillow's warning; Pillow's error
)
def test_too_many_pixels(width, height):
    reason, message = _reason(_png_header(width, height), "bomb.png")
    assert reason == "too_many_pixels" and "50 megapixels" in message


def test_pixel_cap_comes_from_settings(monkeypatch):
    monkeypatch.setenv("RESHOOT_MAX_IMAGE_PIXELS", "10000")
    get_settings.cache_clear()
    assert _reason(_encode(_photo((101, 100)), "PNG"))[0] == "too_many_pixels"
    assert validate_upload(_encode(_photo((100, 100)), "PNG"), filename="ok.png").width == 100


def test_path_in_filename_is_reduced_to_its_name():
    with pytest.raises(ReshootError) as info:
        validate_upload(b"", filename="../../etc/passwd")
    assert info.value.details["filename"] == "passwd"


# --- normalisation ------------------------------------------------------------------------------


def _open(result) -> Image.Image:
    image = Image.open(io.BytesIO(result.data))
    assert (image.width, image.height) == (result.width, result.height)
    assert result.sha256 == hashlib.sha256(result.data).hexdigest()
    return image


def test_png_stays_png_whatever_the_filename_says():
    result = validate_upload(_encode(_photo(), "PNG"), filename="photo.jpg")
    assert (result.ext, result.content_type) == ("png", "image/png")
    assert _open(result).format == "PNG"


def test_jpeg_exif_orientation_is_applied_and_metadata_dropped():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    exif[0x010F] = "CameraMaker"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = _encode(_photo((320, 200)), "JPEG", exif=exif.tobytes(), icc_profile=icc)
    result = validate_upload(data, filename="phone.jpg")
    image = _open(result)
    assert (result.ext, result.content_type, image.format) == ("jpg", "image/jpeg", "JPEG")
    assert image.size == (200, 320)
    assert "exif" not in image.info and "icc_profile" not in image.info
    assert len(image.getexif()) == 0


def test_png_text_chunks_are_dropped():
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "someone")
    image = _open(validate_upload(_encode(_photo(), "PNG", pnginfo=info), filename="a.png"))
    assert "Author" not in image.info


def test_cmyk_becomes_rgb():
    result = validate_upload(_encode(_photo().convert("CMYK"), "JPEG"), filename="print.jpg")
    assert _open(result).mode == "RGB"


def test_palette_with_transparency_becomes_rgba_png():
    image = Image.new("P", (40, 40), 0)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.paste(1, (0, 0, 20, 40))
    result = validate_upload(_encode(image, "PNG", transparency=1), filename="logo.png")
    out = _open(result)
    assert (out.mode, result.ext) == ("RGBA", "png")
    assert out.getpixel((5, 5))[3] == 0 and out.getpixel((30, 5)) == (255, 0, 0, 255)


def test_la_becomes_rgba():
    image = Image.merge("LA", (Image.new("L", (30, 30), 128), Image.linear_gradient("L").resize((30, 30))))
    assert _open(validate_upload(_encode(image, "PNG"), filename="la.png")).mode == "RGBA"


def test_opaque_alpha_is_dropped():
    assert _open(validate_upload(_encode(_photo().convert("RGBA"), "PNG"), filename="a.png")).mode == "RGB"


def test_16_bit_grey_is_scaled_not_clipped():
    image = Image.new("I;16", (3, 1))
    image.putpixel((0, 0), 65535)
    image.putpixel((1, 0), 32768)
    out = _open(validate_upload(_encode(image, "PNG"), filename="depth.png"))
    assert out.mode == "RGB"
    assert [out.getpixel((x, 0))[0] for x in range(3)] == [255, 128, 0]


def test_webp_opaque_becomes_jpeg_and_webp_with_alpha_png():
    assert validate_upload(_encode(_photo(), "WEBP"), filename="a.webp").ext == "jpg"
    with_alpha = _photo().convert("RGBA")
    with_alpha.putpixel((0, 0), (0, 0, 0, 0))
    assert validate_upload(_encode(with_alpha, "WEBP", lossless=True), filename="b.webp").ext == "png"


def test_gif_first_frame_is_taken():
    red, blue = Image.new("RGB", (30, 20), (255, 0, 0)), Image.new("RGB", (30, 20), (0, 0, 255))
    data = _encode(red, "GIF", save_all=True, append_images=[blue], duration=100)
    out = _open(validate_upload(data, filename="anim.gif"))
    assert out.format == "PNG" and out.getpixel((10, 10))[:3] == (255, 0, 0)


def test_same_bytes_give_same_digest():
    data = _encode(_photo(), "JPEG")
    assert validate_upload(data, filename="a.jpg").sha256 == validate_upload(data, filename="b.jpg").sha256


def test_upload_comes_with_its_thumbnail():
    result = validate_upload(_encode(_photo((1200, 800)), "JPEG", quality=95), filename="photo.jpg")
    thumb = Image.open(io.BytesIO(result.thumbnail))
    assert thumb.format == "WEBP" and thumb.size == (512, 341)


def test_image_size_reads_the_header():
    assert image_size(_encode(_photo((123, 45)), "PNG")) == (123, 45)


# --- thumbnails ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"), [((1920, 800), (512, 213)), ((750, 1000), (384, 512)), ((100, 80), (100, 80))]
)
def test_thumbnail_is_small_webp(size, expected):
    from services.backends.local import LocalBackend

    master = LocalBackend().generate("A loft with plants", width=size[0], height=size[1], seed=3, references=[])
    thumb = make_thumbnail(master)
    image = Image.open(io.BytesIO(thumb))
    assert image.format == "WEBP" and image.size == expected
    assert len(thumb) < 40_000


def test_thumbnail_of_a_noisy_photo_stays_small():
    noisy = Image.effect_noise((1600, 1000), 80).convert("RGB")
    thumb = make_thumbnail(_encode(noisy, "JPEG", quality=95))
    assert Image.open(io.BytesIO(thumb)).size == (512, 320) and len(thumb) < 40_000


# --- export sizes -------------------------------------------------------------------------------


def _halves(size=(1536, 1024)) -> bytes:
    image = Image.new("RGB", size, (255, 0, 0))
    image.paste((0, 0, 255), (size[0] // 2, 0, size[0], size[1]))
    return _encode(image, "PNG")


def test_master_to_three_exact_sizes_in_the_filename_format():
    outputs = export_sizes(
        _halves(),
        [(1920, 800, "fcc/lifestyle/7/OL-1/desktop.png"), (1536, 768, "tablet.jpg"), (750, 1000, "mobile.webp")],
    )
    opened = [Image.open(io.BytesIO(data)) for data in outputs]
    assert [(i.size, i.format) for i in opened] == [((1920, 800), "PNG"), ((1536, 768), "JPEG"), ((750, 1000), "WEBP")]


def test_a_target_of_the_masters_size_is_the_master_unresampled():
    master = _photo((320, 200))
    [same, smaller] = export_sizes(_encode(master, "PNG"), [(320, 200, "png"), (160, 100, "png")])
    assert Image.open(io.BytesIO(same)).tobytes() == master.tobytes()
    assert Image.open(io.BytesIO(smaller)).size == (160, 100)


def test_exports_with_thumbnails_match_the_exports_alone():
    master = _halves()
    targets = [(1536, 1024, "desktop.png"), (1536, 768, "tablet.jpg"), (750, 1000, "mobile.webp")]
    pairs = export_sizes_with_thumbnails(master, targets, focal=(0.3, 0.5))
    assert [data for data, _ in pairs] == export_sizes(master, targets, focal=(0.3, 0.5))
    thumbs = [Image.open(io.BytesIO(thumb)) for _, thumb in pairs]
    assert [(t.format, t.size) for t in thumbs] == [("WEBP", (512, 341)), ("WEBP", (512, 256)), ("WEBP", (384, 512))]


def test_thumbnail_of_an_image_in_memory_equals_the_one_of_its_lossless_file():
    image = _photo((900, 600))
    assert make_thumbnail(image) == make_thumbnail(_encode(image, "PNG"))


def test_focal_point_decides_what_stays_in_a_narrow_crop():
    master = _halves()
    left, right = (
        ImageStat.Stat(Image.open(io.BytesIO(export_sizes(master, [(750, 1000, "png")], focal=(fx, 0.5))[0]))).mean
        for fx in (0.1, 0.9)
    )
    assert left[0] > 200 and left[2] < 50
    assert right[2] > 200 and right[0] < 50


def test_crop_box_keeps_inside_the_image():
    assert crop_box((1536, 1024), 1.0, (0.5, 0.5)) == (256.0, 0.0, 1280.0, 1024.0)
    assert crop_box((1536, 1024), 1.0, (0.0, 0.5)) == (0.0, 0.0, 1024.0, 1024.0)
    assert crop_box((1536, 1024), 2.4, (0.5, 1.0)) == (0.0, 1024 - 640.0, 1536.0, 1024.0)


def test_unknown_export_format_is_refused():
    with pytest.raises(ReshootError) as info:
        export_sizes(_halves((64, 64)), [(32, 32, "mobile.tiff")])
    assert info.value.code == "INVALID_REQUEST"


# --- Encoding speed-ups and the offline label per size (issue 15 item 3, issue 14 item 11) ----------------


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
@pytest.mark.parametrize("size", [(1, 1), (7, 3), (320, 200)])
def test_encode_png_is_lossless_and_deterministic(mode, size):
    import numpy as np

    pixels = np.random.default_rng(size[0]).integers(0, 256, (size[1], size[0], len(mode)), dtype=np.uint8)
    image = Image.fromarray(pixels, mode)
    data = encode_png(image)
    decoded = Image.open(io.BytesIO(data))
    assert decoded.format == "PNG" and decoded.mode == mode and decoded.size == size
    assert decoded.tobytes() == image.tobytes() and encode_png(image) == data


def test_a_plain_png_master_of_a_targets_size_is_stored_as_it_is():
    plain = encode_png(_photo((320, 200)))
    assert export_sizes(plain, [(320, 200, "desktop.png")]) == [plain]  # no second encode
    info = PngImagePlugin.PngInfo()
    info.add_text("workflow", '{"3": {"class_type": "KSampler"}}')  # what ComfyUI writes into its PNGs
    tagged = _encode(_photo((320, 200)), "PNG", pnginfo=info)
    [export] = export_sizes(tagged, [(320, 200, "desktop.png")])
    assert export != tagged and b"workflow" not in export
    assert Image.open(io.BytesIO(export)).tobytes() == _photo((320, 200)).tobytes()


def test_the_fast_codec_looks_like_the_old_one():
    """Same sizes and formats; pixels within a level or two on average (bicubic vs LANCZOS), thumbnails close."""
    master = encode_png(_photo((1920, 800)))
    targets = [(1920, 800, "desktop.png"), (1536, 768, "tablet.png"), (750, 1000, "mobile.png")]
    fast = export_sizes_with_thumbnails(master, targets, codec=FAST)
    old = export_sizes_with_thumbnails(master, targets, codec=PILLOW_DEFAULTS)
    for (new_data, new_thumb), (old_data, old_thumb) in zip(fast, old, strict=True):
        for a, b, tolerance in ((new_data, old_data, 1.0), (new_thumb, old_thumb, 3.0)):
            a, b = Image.open(io.BytesIO(a)), Image.open(io.BytesIO(b))
            assert (a.format, a.size) == (b.format, b.size)
            difference = ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean
            assert max(difference) < tolerance, difference


def _psnr(a: bytes, b: bytes) -> float:
    import numpy as np

    x, y = (np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64) for data in (a, b))
    mse = float(((x - y) ** 2).mean())
    return 10 * math.log10(255**2 / mse) if mse else math.inf


@pytest.mark.parametrize("master_kind", ["offline render", "photo-like"])
def test_fast_exports_are_within_40_db_of_lanczos(master_kind):
    """Visually lossless by a number: every export FAST resamples (bilinear near 1×, bicubic past 3×) has a PSNR of
    at least 40 dB against the same export resampled with LANCZOS at full resolution (PILLOW_DEFAULTS), on the
    offline renderer's master and on the photo-like one `python -m bench shot_cpu` uses (sensor noise, hard edges).
    Measured 2026-12-01: 42-51 dB near 1×, 46-50 dB past 3×; bilinear past 3× would be 38 dB."""
    from bench.photos import photo
    from services.backends.local import LocalBackend

    if master_kind == "offline render":
        master = LocalBackend().generate("A sunlit kitchen", width=1920, height=800, seed=1, references=[])
    else:
        master = encode_png(photo(5, 1920, 800))
    sizes = [(1536, 768), (750, 1000), (1200, 628), (640, 267), (480, 200), (192, 80)]  # 1.04× .. 10× smaller
    targets = [(width, height, "x.png") for width, height in sizes]
    fast = export_sizes_with_thumbnails(master, targets, codec=FAST)
    lanczos = export_sizes_with_thumbnails(master, targets, codec=PILLOW_DEFAULTS)
    for size, (new, _), (old, _) in zip(sizes, fast, lanczos, strict=True):
        assert _psnr(new, old) >= 40.0, size


def _label_pixels(image: Image.Image, box) -> int:
    """Pixels of the label's yellow (anti-aliased edges aside) inside `box`."""
    r, g, b = LABEL_COLOUR
    return sum(
        1
        for pr, pg, pb in image.convert("RGB").crop(box).get_flattened_data()
        if abs(pr - r) < 12 and abs(pg - g) < 12 and abs(pb - b) < 12
    )


@pytest.mark.parametrize("size", [(1536, 768), (750, 1000), (360, 640), (192, 80), (75, 100)])
def test_the_label_is_whole_and_readable_on_every_export_size(size):
    """Drawn on the export after the crop: inside the image, as large as the caption's or at least 10 px on one or
    two lines where the image allows, and its pixels are the label's yellow."""
    from services.backends.local import LABEL, LocalBackend

    master = LocalBackend().generate("A sofa by a window", width=1920, height=800, seed=3, references=[])
    [labelled], [plain] = (export_sizes(master, [(*size, "x.png")], label=label) for label in (LABEL, None))
    layout = label_layout(size, LABEL)
    assert layout.box[2] <= size[0] and layout.box[3] <= size[1]
    assert layout.font_size >= (max(12, min(size) // 22) if size[0] >= 360 else 6)
    assert layout.text.replace("\n", " ") == LABEL
    with_label, without = Image.open(io.BytesIO(labelled)), Image.open(io.BytesIO(plain))
    assert _label_pixels(with_label, layout.box) > 4 * layout.font_size
    assert _label_pixels(without, layout.box) < _label_pixels(with_label, layout.box) // 4


def test_an_export_that_is_the_whole_master_keeps_the_masters_own_label():
    from services.backends.local import LABEL, LocalBackend

    master = LocalBackend().generate("A sofa by a window", width=1920, height=800, seed=3, references=[])
    [desktop] = export_sizes(master, [(1920, 800, "desktop.png")], label=LABEL)
    assert desktop == master  # not labelled twice: the caption band already says it


def test_one_decode_of_the_master_and_no_encode_of_a_plain_master_per_shot(monkeypatch):
    """The counts behind `python -m bench shot_cpu`: the master is opened once, Desktop (the master's size) is stored
    as it came, Tablet and Mobile are encoded once each, and each thumbnail is made from its export in memory."""
    from services import images

    opened, encoded = [], []
    real_open, real_encode = Image.open, images.encode_png
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(1) or real_open(*a, **k))
    monkeypatch.setattr(images, "encode_png", lambda image: encoded.append(image.size) or real_encode(image))
    master = real_encode(_photo((1920, 800)))
    export_sizes_with_thumbnails(master, [(1920, 800, "d.png"), (1536, 768, "t.png"), (750, 1000, "m.png")])
    assert len(opened) == 1 and encoded == [(1536, 768), (750, 1000)]
