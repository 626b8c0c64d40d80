"""Provenance inside each file (issue 13 item 9): every generated PNG says how it was made, in text chunks
that Pillow (and A1111/ComfyUI-aware tools) read back; the chunks are valid PNG (CRCs checked by Pillow)."""

from __future__ import annotations

import io
import json
import struct
import zlib

from PIL import Image

from services import images, jobs, lifestyle, storyboard, versions
from services.storage import get_storage


def _small_work_item() -> str:
    from services.importer import import_data

    sizes = [("Desktop", 192, 80, "desktop.png"), ("Mobile", 75, 100, "mobile.png")]
    plan = [
        {
            "shot_id": f"P-{n}",
            "sku": f"SKU-P{n}",
            "size_label": label,
            "width": w,
            "height": h,
            "filename": f"fcc/lifestyle/p1/P-{n}/{name}",
        }
        for n in (1, 2)
        for label, w, h, name in sizes
    ]
    shots = [
        {"shot_id": "P-1", "sku": "SKU-P1", "prompt": "A café terrace, «golden hour»"},
        {"shot_id": "P-2", "sku": "SKU-P2", "prompt": "kitchen, morning light"},
    ]
    import_data(
        {
            "workItems": [
                {
                    "id": "p1",
                    "title": "Provenance",
                    "status": "open",
                    "lifestylePack": {"version": "v2", "shots": shots, "exportPlan": plan},
                }
            ]
        }
    )
    return "p1"


def _chunk_types(data: bytes) -> list[bytes]:
    """Chunk types in order, each CRC checked by hand (Pillow checks them too, on open)."""
    at, found = 8, []
    while at < len(data):
        (length,) = struct.unpack_from(">I", data, at)
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        assert struct.unpack_from(">I", data, at + 8 + length)[0] == zlib.crc32(kind + body)
        found.append(kind)
        at += 12 + length
    return found


def test_hero_files_from_a_real_job_carry_their_generation_metadata(demo):
    work_item_id = _small_work_item()
    started = lifestyle.start_heroes_job(work_item_id=work_item_id)
    job = jobs.wait_for_job(started.job_id, timeout=60)
    assert job.status == "succeeded", job
    storage = get_storage()
    checked = 0
    for shot in lifestyle_rows(work_item_id):
        version = versions.get_version(shot["currentVersionId"])
        for key in (version.storage_key, shot["filename"]):  # the versioned file and the stable copy
            data = storage.get(key)
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                text = image.text
                assert image.size == (shot["width"], shot["height"])
            record = json.loads(text["reshoot"])
            assert record == {
                "prompt": version.prompt,
                "seed": version.seed,
                "seedHonoured": True,
                "backend": "local",
                "model": version.model,
                "version": version.version,
                "width": shot["width"],
                "height": shot["height"],
                "references": [],
                "targetKind": "hero",
                "workItemId": work_item_id,
                "shotId": shot["shotId"],
                "sku": shot["sku"],
                "sizeLabel": shot["sizeLabel"],
            }
            prompt_lines, settings = text["parameters"].rsplit("\n", 1)
            assert prompt_lines == version.prompt
            assert f"Seed: {version.seed}," in settings and f"Size: {shot['width']}x{shot['height']}" in settings
            assert f"Shot: {shot['shotId']}" in settings and "Backend: local" in settings
            kinds = _chunk_types(data)
            assert (
                kinds[0] == b"IHDR"
                and set(kinds[1:3]) <= {b"tEXt", b"iTXt"}
                and kinds[3] == b"IDAT"
                and kinds[-1] == b"IEND"
            )
            checked += 1
        assert versions.file_metadata(version.id) == text
    assert checked == 8
    # Latin-1 beyond ASCII stays as it was typed (tEXt is Latin-1)
    assert "«golden hour»" in versions.file_metadata(lifestyle_rows(work_item_id)[0]["currentVersionId"])["parameters"]


def lifestyle_rows(work_item_id: str) -> list[dict]:
    from services import work_items

    item = work_items.get_work_item(work_item_id)
    return [
        {
            "shotId": row.shot_id,
            "sku": row.sku,
            "sizeLabel": row.size_label,
            "currentVersionId": row.version_id,
            "width": row.width,
            "height": row.height,
            "filename": row.filename,
        }
        for shot in item.shots
        for row in shot.rows
    ]


def test_sentence_image_from_a_real_job_carries_its_metadata(demo):
    started = storyboard.regenerate_sentence_image(
        sentence_id="sent_002", options=storyboard.RegenerateImageOptions(seed=4242)
    )
    job = jobs.wait_for_job(started.job_id, timeout=60)
    assert job.status == "succeeded", job
    version = versions.get_version(job.result["versionId"])
    text = images.png_text(get_storage().get(version.storage_key))
    record = json.loads(text["reshoot"])
    assert record["seed"] == 4242 and record["sentenceId"] == "sent_002" and record["targetKind"] == "sentence"
    assert record["projectId"] and record["prompt"] == version.prompt and record["version"] == version.version
    assert "Seed: 4242" in text["parameters"] and "Sentence: sent_002" in text["parameters"]


def test_text_chunks_are_latin1_or_utf8_and_replace_only_their_own_keywords():
    out = io.BytesIO()
    info = __import__("PIL.PngImagePlugin", fromlist=["PngInfo"]).PngInfo()
    info.add_text("workflow", "{}")
    info.add_text("parameters", "old")
    Image.new("RGB", (4, 3), (1, 2, 3)).save(out, format="PNG", pnginfo=info)
    stamped = images.png_with_text(out.getvalue(), {"parameters": "naïve", "reshoot": "紙 ✓"})
    kinds = _chunk_types(stamped)
    assert kinds[:3] == [b"IHDR", b"tEXt", b"iTXt"] and kinds.count(b"tEXt") == 2
    with Image.open(io.BytesIO(stamped)) as image:
        assert image.text == {"parameters": "naïve", "reshoot": "紙 ✓", "workflow": "{}"}
        assert image.tobytes() == Image.new("RGB", (4, 3), (1, 2, 3)).tobytes()
    assert images.png_with_text(b"\xff\xd8not a png", {"a": "b"}) == b"\xff\xd8not a png"


def test_the_same_generation_gives_the_same_file():
    new = versions.NewImage(
        target_kind="sentence",
        target_id="sent_001",
        base_key="x.png",
        data=images.encode_png(Image.new("RGB", (8, 8), (9, 9, 9))),
        width=8,
        height=8,
        prompt="p, with a comma",
        seed=7,
        backend="local",
        subject={"sentenceId": "sent_001"},
    )
    first = images.png_with_text(new.data, versions.provenance_text(new, 2))
    assert first == images.png_with_text(new.data, versions.provenance_text(new, 2))
    assert images.png_text(first)["parameters"] == (
        "p, with a comma\nSeed: 7, Seed honoured: yes, Size: 8x8, Model: local, Backend: local, Reshoot version: 2, Sentence: sent_001"
    )
