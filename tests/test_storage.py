"""Storage: atomic writes (no half-written file visible, nothing left on failure), object store
via fsspec memory://, signed expiring URLs."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from genperso.errors import InvalidInput, NotFound
from genperso.storage import Storage, asset_path


def test_local_put_is_atomic_for_concurrent_readers(settings, tmp_path):
    st = Storage(settings)
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(8 * 1024 * 1024))
    rel = asset_path("ab" * 32, "trailer.mp4")
    seen: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        p = st.local_path(rel)
        while not stop.is_set():
            if p.exists():
                seen.append(p.stat().st_size)

    t = threading.Thread(target=watch)
    t.start()
    for _ in range(3):
        st.put_file(src, rel)
    stop.set()
    t.join()
    assert seen and set(seen) == {src.stat().st_size}
    assert [p.name for p in st.local_path(rel).parent.iterdir()] == ["trailer.mp4"]  # no temp files left


def test_failed_write_leaves_nothing(settings, tmp_path, monkeypatch):
    st = Storage(settings)
    src = tmp_path / "a.png"
    src.write_bytes(b"x" * 1000)

    def broken(a, b, *args, **kw):
        Path(b).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(shutil, "copyfile", broken)
    rel = asset_path("cd" * 32, "hero.png")
    with pytest.raises(OSError):
        st.put_file(src, rel)
    assert not st.exists(rel)
    assert list(st.local_path(rel).parent.iterdir()) == []


@pytest.mark.parametrize("bad", ["../x", "/etc/passwd", "a/../../b", ""])
def test_paths_are_confined(settings, bad):
    st = Storage(settings)
    with pytest.raises(InvalidInput):
        st.exists(bad)


def test_object_store_memory_signed_urls(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("GENPERSO_OBJECT_STORE_URL", "memory://genperso-test-bucket/assets")
    from genperso.config import get_settings, reset_settings

    reset_settings()
    s2 = get_settings()
    st = Storage(s2)
    assert not st.local
    src = tmp_path / "hero.png"
    src.write_bytes(b"\x89PNG" + b"0" * 100)
    rel = asset_path("ef" * 32, "hero.png")
    sf = st.put_file(src, rel)
    assert sf.size_bytes == 104 and st.exists(rel) and st.read_bytes(rel) == src.read_bytes()
    assert not st.fs.exists(f"{st.base}/.tmp") or st.fs.ls(f"{st.base}/.tmp") == []
    assert b"".join(st.iter_range(rel, 2, 5)) == src.read_bytes()[2:6]
    url = st.url_for(rel, ttl=60)
    assert "sig=" in url and "exp=" in url
    exp = int(url.split("exp=")[1].split("&")[0])
    sig = url.split("sig=")[1]
    assert st.verify(rel, exp, sig)
    assert not st.verify(rel, exp, "0" * 32)
    assert not st.verify("ef/other/hero.png", exp, sig)
    assert not st.verify(rel, int(time.time()) - 1, st.signature(rel, int(time.time()) - 1))
    st.delete_prefix(rel.rsplit("/", 1)[0])
    with pytest.raises(NotFound):
        st.size(rel)
    st.fs.rm("/genperso-test-bucket", recursive=True)
