"""Object store on an S3 API (a local moto server, s3fs): atomic puts, ranged reads and
presigned, expiring URLs that work against the store itself."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time

import pytest

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def moto_endpoint():
    pytest.importorskip("s3fs")
    exe = shutil.which("moto_server")
    if exe is None:
        pytest.skip("moto_server is not installed")
    port = _free_port()
    proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    import httpx

    for _ in range(100):
        try:
            httpx.get(url, timeout=0.5)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def test_s3_storage_presigned(moto_endpoint, monkeypatch, genperso_env, tmp_path):
    import httpx

    opts = {"key": "testing", "secret": "testing",
            "client_kwargs": {"endpoint_url": moto_endpoint, "region_name": "us-east-1"}}
    monkeypatch.setenv("GENPERSO_OBJECT_STORE_URL", "s3://gp-assets/v1")
    monkeypatch.setenv("GENPERSO_OBJECT_STORE_OPTIONS", json.dumps(opts))
    monkeypatch.setenv("GENPERSO_URL_TTL_SECONDS", "300")
    from genperso.config import get_settings, reset_settings
    from genperso.storage import Storage, asset_path

    reset_settings()
    st = Storage(get_settings())
    assert httpx.put(f"{moto_endpoint}/gp-assets").status_code == 200  # create the bucket
    src = tmp_path / "trailer.mp4"
    src.write_bytes(bytes(range(256)) * 64)
    rel = asset_path("ab" * 32, "trailer.mp4")
    sf = st.put_file(src, rel)
    assert sf.size_bytes == 16384 and st.exists(rel) and st.size(rel) == 16384
    assert st.fs.ls("gp-assets/v1/.tmp") == [] if st.fs.exists("gp-assets/v1/.tmp") else True
    assert b"".join(st.iter_range(rel, 256, 511)) == src.read_bytes()[256:512]
    url = st.url_for(rel)
    assert url.startswith(moto_endpoint) and "Signature" in url
    q = dict(httpx.URL(url).params)
    exp = int(q["Expires"]) if "Expires" in q else int(time.time()) + int(q["X-Amz-Expires"])
    assert time.time() + 250 < exp <= time.time() + 301  # expires with the configured TTL
    r = httpx.get(url)
    assert r.status_code == 200 and r.content == src.read_bytes()
    ranged = httpx.get(url, headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 206 and ranged.content == src.read_bytes()[:10]
    # (moto does not verify signatures, so refusing a tampered URL is S3's job, not tested here)
    st.delete_prefix(rel.rsplit("/", 1)[0])
    assert not st.exists(rel)
