"""Storage: one contract for the local directory and S3 (a real SeaweedFS server), plus key validation."""

from __future__ import annotations

import os

import pytest
import requests

from services import storage as storage_module
from services.errors import ReshootError
from services.storage import LocalStorage, S3Storage, StorageKeyNotFound, get_storage, validate_key
from tests.servers import s3_operations

KEY = "fcc/lifestyle/7/OL-1/desktop.png"
PNG = b"\x89PNG\r\n\x1a\n" + b"demo bytes" * 10


@pytest.fixture(params=["local", "s3"])
def storage(request):
    if request.param == "s3":
        request.getfixturevalue("s3_env")
    return get_storage()


def test_default_storage_is_a_local_directory_in_the_data_dir(data_dir):
    store = get_storage()
    assert isinstance(store, LocalStorage)
    assert store.root == (data_dir / "media").resolve()


def test_s3_url_gives_s3_storage(s3_env):
    store = get_storage()
    assert isinstance(store, S3Storage)
    assert store.bucket == "reshoot" and store.prefix.startswith("test_s3_url")


def test_put_get_exists_delete(storage):
    assert not storage.exists(KEY)
    storage.put(KEY, PNG)
    assert storage.exists(KEY)
    assert storage.get(KEY) == PNG
    storage.put(KEY, b"second version")
    assert storage.get(KEY) == b"second version"
    storage.delete(KEY)
    assert not storage.exists(KEY)
    storage.delete(KEY)  # deleting what is gone is not an error


def test_get_missing_key_raises_not_found(storage):
    with pytest.raises(StorageKeyNotFound) as info:
        storage.get("fcc/lifestyle/7/OL-9/desktop.png")
    assert info.value.code == "NOT_FOUND" and info.value.status == 404


def test_list_by_prefix(storage):
    keys = ["fcc/lifestyle/7/OL-1/desktop.png", "fcc/lifestyle/7/OL-1/mobile.png", "fcc/lifestyle/12/KT-1/desktop.png"]
    for key in keys:
        storage.put(key, PNG)
    assert storage.list() == sorted(keys)
    assert storage.list("fcc/lifestyle/7/") == keys[:2]
    assert storage.list("fcc/lifestyle/7") == keys[:2]
    assert storage.list("fcc/lifestyle_refs/") == []


def test_url_serves_the_bytes(storage):
    storage.put(KEY, PNG)
    url = storage.url(KEY)
    if isinstance(storage, LocalStorage):
        assert url == "/assets/" + KEY  # served by the app's /assets route
    else:
        response = requests.get(url, timeout=5)
        assert response.status_code == 200
        assert response.content == PNG
        assert response.headers["Content-Type"] == "image/png"


@pytest.mark.parametrize(
    "key",
    [
        "",
        "../secrets.txt",
        "fcc/../../etc/passwd",
        "/etc/passwd",
        "fcc\\lifestyle\\x.png",
        "fcc/x\x00.png",
        "fcc//x.png",
        "./fcc/x.png",
        "fcc/x.png/",
        "fcc/<script>.png",
        "a" * 513,
    ],
)
def test_unsafe_keys_are_rejected_before_any_io(storage, key):
    with pytest.raises(ReshootError) as info:
        storage.put(key, PNG)
    assert info.value.code == "INVALID_KEY"
    for operation in (storage.get, storage.exists, storage.delete, storage.url):
        with pytest.raises(ReshootError):
            operation(key)


def test_validate_key_accepts_the_seed_layout():
    for key in (KEY, "fcc/lifestyle_refs/7/OL-2/ref_123.png", "fcc/storyboard_refs/coffee-origins/ab12.jpg"):
        assert validate_key(key) == key


def test_local_write_is_atomic(data_dir, monkeypatch):
    store = get_storage()
    store.put(KEY, b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(storage_module.os, "replace", broken_replace)
    with pytest.raises(OSError):
        store.put(KEY, b"new")
    assert store.get(KEY) == b"old"  # the old file is untouched
    assert [p.name for p in store.path(KEY).parent.iterdir()] == ["desktop.png"]  # no temp file left


def test_local_list_ignores_files_being_written(data_dir):
    store = get_storage()
    store.put(KEY, PNG)
    (store.path(KEY).parent / ".tmp-half-written").write_bytes(b"x")
    assert store.list() == [KEY]


def test_local_symlink_cannot_escape_the_root(data_dir, tmp_path):
    store = get_storage()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(b"secret")
    os.symlink(outside, store.root / "fcc")
    for operation in (store.get, store.exists, store.delete):
        with pytest.raises(ReshootError) as info:
            operation("fcc/secret.png")
        assert info.value.code == "INVALID_KEY"
    with pytest.raises(ReshootError):
        store.put("fcc/new.png", PNG)
    assert sorted(p.name for p in outside.iterdir()) == ["secret.png"]
    assert (outside / "secret.png").read_bytes() == b"secret"


def test_existing_answers_which_keys_are_stored(storage):
    stored = [f"fcc/lifestyle/7/OL-{n}/{size}.png" for n in (1, 3) for size in ("desktop", "mobile")]
    for key in [*stored, "fcc/lifestyle/70/OL-1/desktop.png", "fcc/lifestyle/7/OL-1/desktop.v2-ab12.png"]:
        storage.put(key, PNG)
    wanted = [f"fcc/lifestyle/7/OL-{n}/{size}.png" for n in (1, 2, 3) for size in ("desktop", "tablet", "mobile")]
    assert storage.existing(wanted) == set(stored)
    assert storage.existing(["fcc/lifestyle/7/OL-1/desktop.png"]) == {"fcc/lifestyle/7/OL-1/desktop.png"}
    assert storage.existing(["fcc/lifestyle/7/OL-2/desktop.png", "fcc/lifestyle/70/OL-1/desktop.png"]) == {
        "fcc/lifestyle/70/OL-1/desktop.png"
    }
    assert storage.existing([]) == set()
    with pytest.raises(ReshootError):
        storage.existing(["fcc/../secrets", KEY])


def test_existing_on_s3_lists_the_keys_folder_once_instead_of_a_head_each(s3_env, monkeypatch):
    store = get_storage()
    assert isinstance(store, S3Storage)
    wanted = [f"fcc/lifestyle/7/S-{n}/{size}.png" for n in range(60) for size in ("desktop", "tablet", "mobile")]
    for key in wanted[::7]:
        store.put(key, PNG)
    sent = s3_operations(store)
    assert store.existing(wanted) == set(wanted[::7])
    assert sent == ["ListObjectsV2"]

    # A folder holding over a hundred objects a wanted key: listed that far, the keys past it get a HEAD each.
    crowded = [f"fcc/lifestyle/9/S-{n:03}/desktop.png" for n in range(210)]
    for key in crowded:
        store.put(key, PNG)
    monkeypatch.setattr(S3Storage, "list_page_size", 50)
    sent.clear()
    assert store.existing([crowded[0], crowded[-1]]) == {crowded[0], crowded[-1]}
    assert sent == ["ListObjectsV2"] * 4 + ["HeadObject"]  # 200 objects listed, then the key past them
