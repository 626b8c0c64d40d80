"""Image bytes in and out: upload validation and normalisation, thumbnails, export sizes cut from a master.

Uploads are judged by their content (Pillow must decode them), never by filename or declared type.
Normalised output format: anything with real transparency, and lossless sources (PNG, GIF), become PNG;
opaque lossy sources (JPEG, WebP) become JPEG at quality 90. Orientation is applied, colour is converted to
sRGB 8-bit RGB/RGBA, and all metadata (EXIF, XMP, ICC, comments) is dropped.
"""

from __future__ import annotations

import hashlib
import io
import math
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath
from typing import BinaryIO

import numpy as np
from isal import isal_zlib
from PIL import ExifTags, Image, ImageCms, ImageDraw, ImageFont, ImageOps, PngImagePlugin, UnidentifiedImageError

from services.config import get_settings
from services.errors import ReshootError

ACCEPTED_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "WEBP": "WEBP", "GIF": "GIF"}
LOSSY_FORMATS = {"JPEG", "WEBP"}
FORMAT_BY_EXT = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP"}
EXT_BY_FORMAT = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
THUMBNAIL_SIDE = 512
THUMBNAIL_TARGET_BYTES = 40_000
REFERENCE_MAX_SIDE = 4096  # references are stored at most this large: backends take far less (OpenAI: 1536)
LABEL_COLOUR = (255, 214, 102)  # the offline renderer's label yellow, on a dark translucent box
_SRGB = ImageCms.createProfile("sRGB")


@dataclass(frozen=True)
class ExportCodec:
    """How export sizes and their thumbnails are resampled and encoded (see `export_sizes_with_thumbnails`).

    FAST is what Reshoot uses; PILLOW_DEFAULTS is how it was done before (kept so `python -m bench shot_cpu`
    measures both side by side). Both are visually lossless for the exports: PNG is lossless at any setting,
    and FAST's resampling stays within 40 dB PSNR of LANCZOS's (tests/test_images.py checks it on the offline
    render and a photo-like master): bilinear for an export at most `near_scale` times smaller than its crop (the
    usual exports, ~1×: 42–51 dB, half bicubic's time), bicubic for smaller ones (bilinear after a reduce() falls
    to 38 dB, and such exports are cheap anyway)."""

    fast_png: bool = True  # `encode_png` instead of Pillow's PNG encoder (compress_level below)
    png_compress_level: int = 1
    resample: Image.Resampling = Image.Resampling.BILINEAR
    near_scale: float = 3.0  # exports scaled down more than this from their crop use `far_resample`
    far_resample: Image.Resampling = Image.Resampling.BICUBIC
    # A crop scaled down 6× or more is first reduce()d by whole factors until at most 3× is left for the filter
    # (Pillow: "indistinguishable from fair resampling"); the usual exports, within 3× of the master, are unchanged.
    reducing_gap: float | None = 3.0
    thumbnail_resample: Image.Resampling = Image.Resampling.BOX  # an area average, after reduce() by the whole factor
    thumbnail_reducing_gap: float = 1.0
    # libwebp effort 0..6 (4: Pillow's default). At quality 80 the thumbnails' PSNR is within 0.3 dB from 1 to 4;
    # 1 takes half the time of 2 on photo-like thumbnails (~4 × less than 4), for files 7–11 % larger than 2's.
    webp_method: int = 1


FAST = ExportCodec()
PILLOW_DEFAULTS = ExportCodec(
    fast_png=False,
    png_compress_level=3,
    resample=Image.Resampling.LANCZOS,
    far_resample=Image.Resampling.LANCZOS,
    thumbnail_resample=Image.Resampling.LANCZOS,
    thumbnail_reducing_gap=1.5,
    webp_method=4,
    reducing_gap=None,
)


@dataclass(frozen=True)
class ValidatedImage:
    data: bytes
    ext: str
    content_type: str
    width: int
    height: int
    sha256: str
    thumbnail: bytes  # WebP, made from the decoded image while it is in memory


def _invalid(filename: str, reason: str, message: str) -> ReshootError:
    return ReshootError("INVALID_IMAGE", 400, {"filename": filename, "reason": reason}, message)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def upload_size(content: bytes | BinaryIO) -> int:
    """Bytes of an upload held in memory or in a (spooled temp) file, without reading it."""
    if isinstance(content, (bytes, bytearray, memoryview)):
        return len(content)
    position = content.tell()
    size = content.seek(0, io.SEEK_END)
    content.seek(position)
    return size


def _open_checked(content: bytes | BinaryIO, *, filename: str, max_side: int | None = None) -> Image.Image:
    """Decode `content` (first frame), or raise INVALID_IMAGE saying what is wrong with it. The size and pixel
    caps are checked from the file's length and header before any pixel is decoded; with `max_side`, a JPEG
    larger than that decodes at a reduced scale (libjpeg's DCT scaling: a 49 MP photo costs a quarter)."""
    settings = get_settings()
    size = upload_size(content)
    if not size:
        raise _invalid(filename, "empty", f"{filename} is empty (0 bytes).")
    if size > settings.max_upload_bytes:
        raise _invalid(
            filename,
            "too_large",
            f"{filename} is {_megabytes(size)}; the limit is {settings.max_upload_mb} MB.",
        )
    too_many_pixels = f"{filename} has too many pixels; the limit is {settings.max_image_pixels / 1e6:.0f} megapixels."
    if not isinstance(content, (bytes, bytearray, memoryview)):
        content.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(content) if isinstance(content, (bytes, bytearray, memoryview)) else content)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise _invalid(filename, "too_many_pixels", too_many_pixels) from None
    except UnidentifiedImageError:
        raise _invalid(filename, "not_an_image", f"{filename} is not an image (PNG, JPEG, WebP or GIF).") from None
    except Exception:
        raise _invalid(filename, "corrupt", f"{filename} is truncated or corrupt and cannot be read.") from None
    if image.format not in ACCEPTED_FORMATS:
        raise _invalid(
            filename,
            "unsupported_format",
            f"{filename} is a {image.format} image; upload PNG, JPEG, WebP or GIF.",
        )
    if image.width * image.height > settings.max_image_pixels:
        raise _invalid(filename, "too_many_pixels", too_many_pixels)
    try:
        image.seek(0)
        if max_side and image.format in ("JPEG", "MPO") and max(image.size) > max_side:
            scale = max_side / max(image.size)
            image.draft("RGB", (math.ceil(image.width * scale), math.ceil(image.height * scale)))
        image.load()
    except Exception:
        raise _invalid(filename, "corrupt", f"{filename} is truncated or corrupt and cannot be read.") from None
    return image


def _fit(image: Image.Image, max_side: int | None) -> Image.Image:
    """`image` scaled down (never up) so that its longest side is at most `max_side`."""
    if not max_side or max(image.size) <= max_side:
        return image
    scale = max_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)


def _to_srgb(image: Image.Image) -> Image.Image:
    """8-bit RGB or RGBA in sRGB, whatever the mode (CMYK, P, LA, 16-bit, …) and embedded profile."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        image = image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode in ("P", "L", "RGB") and "transparency" in image.info
    )
    mode = "RGBA" if has_alpha else "RGB"
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=mode if image.mode != "L" else "L")
            if converted is not None:  # None only when converting in place
                image = converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: fall back to the plain conversion below
    if image.mode != mode:  # convert() copies even when the mode is already right
        image = image.convert(mode)
    if mode == "RGBA" and image.getchannel("A").getextrema() == (255, 255):
        image = image.convert("RGB")
    return image


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        if image.mode != "RGB":
            image = _flatten(image)
        # No optimize=True: it makes a 12 MP encode ~3× slower (measured 166 vs 56 ms) for files ~6 % smaller.
        image.save(out, format="JPEG", quality=90)
    elif fmt == "WEBP":
        image.save(out, format="WEBP", quality=90, method=4)
    else:
        # Level 3, not zlib's default 6: on photo-like 1920×800 images 3× faster (~280 vs ~900 ms) for files 6–11 %
        # larger; on the offline renderer's flat images no faster and +64 % (28 → 46 KB), still small.
        image.save(out, format="PNG", compress_level=3)
    return out.getvalue()


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on a white background (JPEG has no alpha)."""
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def validate_upload(content: bytes | BinaryIO, *, filename: str, max_side: int | None = None) -> ValidatedImage:
    """Check an uploaded file (bytes, or a file such as a spooled upload) by its content and return it normalised,
    at most `max_side` pixels on its longest side when given; raise INVALID_IMAGE with the reason."""
    filename = PurePosixPath(str(filename).replace("\\", "/")).name or "upload"
    image = _open_checked(content, filename=filename, max_side=max_side)
    source_format = ACCEPTED_FORMATS[str(image.format)]  # _open_checked refused any other format
    image = _to_srgb(_fit(_upright(image), max_side))
    fmt = "JPEG" if image.mode == "RGB" and source_format in LOSSY_FORMATS else "PNG"
    out = _encode(image, fmt)
    return ValidatedImage(
        data=out,
        ext=EXT_BY_FORMAT[fmt],
        content_type=CONTENT_TYPES[fmt],
        width=image.width,
        height=image.height,
        sha256=hashlib.sha256(out).hexdigest(),
        thumbnail=make_thumbnail(image),
    )


def _decoded(data: bytes, *, draft: tuple[int, int] | None = None) -> Image.Image:
    """The pixels of `data` (first frame), upright, 8-bit sRGB; `draft` lets JPEG decode at a reduced scale."""
    with Image.open(io.BytesIO(data)) as image:
        if draft:
            image.draft("RGB", draft)
        image.load()  # before the file closes: _upright and _to_srgb may return the opened image itself
        return _to_srgb(_upright(image))


def _upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says; the image itself (no copy) when it already is upright."""
    if image.getexif().get(ExifTags.Base.Orientation, 1) == 1:
        return image
    return ImageOps.exif_transpose(image)


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the header, without decoding the pixels."""
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def make_thumbnail(image: bytes | Image.Image, *, codec: ExportCodec = FAST) -> bytes:
    """A WebP thumbnail, longest side 512 px, usually under 40 KB, of encoded bytes or an image already decoded."""
    if isinstance(image, bytes):
        image = _decoded(image, draft=(THUMBNAIL_SIDE, THUMBNAIL_SIDE))  # JPEG: decode at a reduced scale
    # reduce() by the whole factor first (cheap), then the filter over what is left: at ≤ 512 px and WebP quality
    # ≤ 80 the filter's choice does not show.
    thumb = image.resize(
        _thumbnail_size(image.size), codec.thumbnail_resample, reducing_gap=codec.thumbnail_reducing_gap
    )
    for quality in (80, 65, 50, 35, 20):  # busy pictures step down so grids stay light
        out = io.BytesIO()
        thumb.save(out, format="WEBP", quality=quality, method=codec.webp_method)
        if out.tell() <= THUMBNAIL_TARGET_BYTES:
            break
    return out.getvalue()


def _thumbnail_size(size: tuple[int, int]) -> tuple[int, int]:
    """`size` scaled down (never up) so its longest side is at most 512 px, keeping the aspect ratio."""
    width, height = size
    scale = min(1.0, THUMBNAIL_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def format_for(name: str) -> str:
    """Pillow format for a filename, an extension or a format name: "desktop.jpg", ".webp", "png"."""
    ext = name.rsplit(".", 1)[-1].lower()
    if ext not in FORMAT_BY_EXT:
        raise ReshootError("INVALID_REQUEST", 400, {"format": name}, f"No image format for {name!r} (png, jpg, webp)")
    return FORMAT_BY_EXT[ext]


def crop_box(size: tuple[int, int], aspect: float, focal: tuple[float, float]) -> tuple[float, float, float, float]:
    """The largest box of `aspect` (w/h) inside `size`, as near centred on the focal point as fits."""
    width, height = size
    crop_w, crop_h = (height * aspect, height) if width / height > aspect else (width, width / aspect)
    fx, fy = (min(1.0, max(0.0, f)) for f in focal)
    left = min(max(fx * width - crop_w / 2, 0.0), width - crop_w)
    top = min(max(fy * height - crop_h / 2, 0.0), height - crop_h)
    return (left, top, left + crop_w, top + crop_h)


def export_sizes(
    master: bytes,
    targets: list[tuple[int, int, str]],
    *,
    focal: tuple[float, float] = (0.5, 0.5),
    label: str | None = None,
) -> list[bytes]:
    """Each target (width, height, format-or-filename) cut from `master` around `focal`, at exactly that size."""
    return [data or _export_encode(image, fmt, FAST) for image, fmt, data in _cut(master, targets, focal, label, FAST)]


def export_sizes_with_thumbnails(
    master: bytes,
    targets: list[tuple[int, int, str]],
    *,
    focal: tuple[float, float] = (0.5, 0.5),
    label: str | None = None,
    codec: ExportCodec = FAST,
) -> list[tuple[bytes, bytes]]:
    """`export_sizes`, each export paired with its thumbnail (made from the export in memory: one decode of the
    master in all). `label` (the offline renderer's "not AI") is drawn on every export cut or scaled from the
    master, so it stays whole and readable at every size; an export that is the whole master keeps the master's."""
    return [
        (data or _export_encode(image, fmt, codec), make_thumbnail(image, codec=codec))
        for image, fmt, data in _cut(master, targets, focal, label, codec)
    ]


def _export_encode(image: Image.Image, fmt: str, codec: ExportCodec) -> bytes:
    if fmt != "PNG":
        return _encode(image, fmt)
    if codec.fast_png and image.mode in ("RGB", "RGBA"):
        return encode_png(image)
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=codec.png_compress_level)
    return out.getvalue()


def _cut(
    master: bytes,
    targets: list[tuple[int, int, str]],
    focal: tuple[float, float],
    label: str | None,
    codec: ExportCodec,
) -> Iterator[tuple[Image.Image, str, bytes | None]]:
    """(image at exactly the target's size, Pillow format, its encoded bytes if they are the master's) per target."""
    with Image.open(io.BytesIO(master)) as opened:
        opened.load()
        # A plain PNG (no metadata, nothing to turn or convert) of a target's size is that export as it is.
        plain_png = codec.fast_png and opened.format == "PNG" and not opened.info and opened.mode in ("RGB", "RGBA")
        source = _to_srgb(_upright(opened))
    for width, height, name in targets:
        if width <= 0 or height <= 0:
            raise ReshootError(
                "INVALID_REQUEST", 400, {"width": width, "height": height}, "Export size must be positive"
            )
        fmt = format_for(name)
        if source.size == (width, height):
            # The largest box of the master's own aspect is the whole master: nothing to resize.
            yield source, fmt, master if plain_png and fmt == "PNG" and source.mode == opened.mode else None
            continue
        box = crop_box(source.size, width / height, focal)
        near = max((box[2] - box[0]) / width, (box[3] - box[1]) / height) <= codec.near_scale
        resample = codec.resample if near else codec.far_resample
        export = source.resize((width, height), resample, box=box, reducing_gap=codec.reducing_gap)
        yield (draw_label(export, label) if label else export), fmt, None


# --- PNG without Pillow's filter search ------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COLOUR_TYPE = {"RGB": 2, "RGBA": 6}
_PNG_FILTER_UP = 2
_PNG_DEFLATE_LEVEL = 2  # ISA-L's 0..3: 2 is as fast as 1 here, with smaller photo PNGs


def _png_chunk_parts(kind: bytes, data: bytes) -> tuple[bytes, bytes, bytes, bytes]:
    """A chunk's length, type, data and CRC, to be joined once (a photo's IDAT is megabytes: each copy shows)."""
    return struct.pack(">I", len(data)), kind, data, struct.pack(">I", isal_zlib.crc32(data, isal_zlib.crc32(kind)))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return b"".join(_png_chunk_parts(kind, data))


def encode_png(image: Image.Image) -> bytes:
    """An 8-bit RGB or RGBA image as a PNG: every row "Up"-filtered (minus the row above), deflated by ISA-L.

    Pillow's encoder tries all five PNG filters on every row and keeps the best; measured on 1536×768 images that
    search costs 3.5× (19.5 vs 5.6 ms, offline render) and 2× (71 vs 37 ms, photo-like) for files within 2 % of
    the size Pillow makes at compress_level=1. The deflate stream is ISA-L's (`isal_zlib`, level 2: a standard
    zlib stream, what any PNG reader inflates), 10× faster than zlib level 1 on the offline render and 3–4× on
    photos for streams 0–7 % larger (measured on the bench's 1920×800 masters and their exports, 2026-12-01).
    Same pixels in, same bytes out (the offline renderer's byte determinism holds: ISA-L's output depends only on
    the input and level, on any x86-64 CPU with SSE4.2)."""
    pixels = np.asarray(image)
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, -1)
    filtered = np.empty((height, rows.shape[1] + 1), dtype=np.uint8)
    filtered[:, 0] = _PNG_FILTER_UP
    filtered[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])  # uint8 arithmetic wraps modulo 256, as PNG's does
    header = struct.pack(">IIBBBBB", width, height, 8, _PNG_COLOUR_TYPE[image.mode], 0, 0, 0)
    return b"".join(
        (
            _PNG_SIGNATURE,
            _png_chunk(b"IHDR", header),
            *_png_chunk_parts(b"IDAT", isal_zlib.compress(filtered.data, _PNG_DEFLATE_LEVEL)),  # no copy of the array
            _png_chunk(b"IEND", b""),
        )
    )


def _text_chunk(keyword: str, text: str) -> bytes:
    """tEXt when the text is Latin-1 (what PNG's tEXt allows), else an uncompressed UTF-8 iTXt; as Pillow's
    `PngInfo.add_text` chooses, so A1111/ComfyUI-style readers find either."""
    try:
        return _png_chunk(b"tEXt", keyword.encode("latin-1") + b"\0" + text.encode("latin-1"))
    except UnicodeEncodeError:
        # keyword, compression flag 0, method 0, empty language tag, empty translated keyword, UTF-8 text
        return _png_chunk(b"iTXt", keyword.encode("latin-1") + b"\0\0\0\0\0" + text.encode("utf-8"))


def _chunks(data: bytes) -> Iterator[tuple[bytes, memoryview]]:
    """(type, whole chunk including length and CRC) for each chunk of a PNG, without copying."""
    view, at = memoryview(data), len(_PNG_SIGNATURE)
    while at + 8 <= len(data):
        (length,) = struct.unpack_from(">I", data, at)
        end = at + 12 + length
        yield bytes(view[at + 4 : at + 8]), view[at:end]
        at = end


def _text_keyword(chunk: memoryview) -> bytes:
    return bytes(chunk[8:88]).split(b"\0", 1)[0]


def png_with_text(data: bytes, text: dict[str, str]) -> bytes:
    """`data` (a PNG) with a text chunk per entry right after IHDR, replacing text chunks of the same keywords
    (a backend's own, e.g. ComfyUI's `prompt`/`workflow`, stay). Pixels and other chunks are kept byte for byte;
    anything that is not a PNG is returned as it is."""
    if not data.startswith(_PNG_SIGNATURE) or not text:
        return data
    keywords = {k.encode("latin-1") for k in text}
    parts: list[bytes | memoryview] = [_PNG_SIGNATURE]
    for kind, chunk in _chunks(data):
        if kind in (b"tEXt", b"iTXt", b"zTXt") and _text_keyword(chunk) in keywords:
            continue
        parts.append(chunk)
        if kind == b"IHDR":
            parts.extend(_text_chunk(k, v) for k, v in text.items())
    return b"".join(parts)


def png_text(data: bytes) -> dict[str, str]:
    """The text chunks of a PNG (tEXt, zTXt, iTXt) as Pillow reads them; {} for anything else."""
    if not data.startswith(_PNG_SIGNATURE):
        return {}
    with Image.open(io.BytesIO(data)) as image:
        if not isinstance(image, PngImagePlugin.PngImageFile):
            return {}
        return {key: str(value) for key, value in image.text.items()}


# --- The offline renderer's label, per export size --------------------------------------------------------


@lru_cache(maxsize=32)
def label_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans at `size` px (Debian's fonts-dejavu-core covers "—" and most scripts); Pillow's own as fallback."""
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


@dataclass(frozen=True)
class LabelLayout:
    box: tuple[int, int, int, int]  # on the image: top left, with padding
    font_size: int
    text: str  # one line, or two when one would not fit at a readable size
    pad: int


MIN_LABEL_FONT = 10  # px: below this a single line is broken in two


@lru_cache(maxsize=64)  # a few export sizes and one label: measured once each
def label_layout(size: tuple[int, int], text: str) -> LabelLayout:
    """Where `text`'s label goes on an image of `size`: top left, as large as the offline renderer's own caption
    (a 22nd of the short side, at least 12 px) if that fits the width, else smaller or on two lines."""
    width, height = size
    default = max(12, min(width, height) // 22)
    words = text.split()
    half = (len(words) + 1) // 2
    layouts = [text] + ([" ".join(words[:half]) + "\n" + " ".join(words[half:])] if len(words) > 1 else [])
    for index, lines in enumerate(layouts):
        font_size = default
        while True:
            pad = max(2, font_size // 2)
            right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).multiline_textbbox(
                (0, 0), lines, font=label_font(font_size)
            )[2:]
            fits = right + 4 * pad <= width
            if fits or font_size <= (MIN_LABEL_FONT if index < len(layouts) - 1 else 6):
                break
            font_size -= 1
        if (fits and font_size >= MIN_LABEL_FONT) or index == len(layouts) - 1:
            box = (pad, pad, int(pad + right + 2 * pad), int(pad + bottom + 2 * pad))
            return LabelLayout(box, font_size, lines, pad)
    raise AssertionError("unreachable")


def draw_label(image: Image.Image, text: str) -> Image.Image:
    """`image` with `text` on a dark translucent box at its top left, in the renderer's label yellow (in place)."""
    layout = label_layout(image.size, text)
    region = image.crop(layout.box).convert("RGBA")  # blend only the box, not the whole image
    region.alpha_composite(Image.new("RGBA", region.size, (0, 0, 0, 170)))
    ImageDraw.Draw(region).multiline_text(
        (layout.pad, layout.pad), layout.text, font=label_font(layout.font_size), fill=(*LABEL_COLOUR, 255)
    )
    image.paste(region.convert(image.mode), layout.box[:2])
    return image
