"""Asset files in an object store (fsspec ``memory://``): URLs are signed and expire; the file
route refuses unsigned, tampered or expired URLs and serves ranges of valid ones."""

from __future__ import annotations

import json
import time

from fastapi.testclient import TestClient

from serving_support import HashChooser, add_title, make_pipeline


def test_signed_object_store_urls(monkeypatch, genperso_env):
    monkeypatch.setenv("GENPERSO_API_KEYS", json.dumps({"fe": "front-end"}))
    monkeypatch.setenv("GENPERSO_OBJECT_STORE_URL", "memory://gp-api-test/assets")
    monkeypatch.setenv("GENPERSO_URL_TTL_SECONDS", "120")
    from genperso.config import get_settings, reset_settings

    reset_settings()
    settings = get_settings()
    add_title(settings, "film1")
    pipe = make_pipeline(settings, chooser=HashChooser(fixed="comedy"))
    assert not pipe.storage.local
    from api.main import create_app

    with TestClient(create_app(settings, pipe)) as client:
        body = {"user": {"id": "u1"}, "title_id": "film1", "kinds": ["artwork"], "wait_ms": 5000}
        out = client.post("/v1/personalize", json=body, headers={"X-API-Key": "fe"}).json()["assets"]["artwork"]
        assert out["status"] == "hit"
        url = out["asset"]["files"][0]["url"].replace(settings.public_base_url, "")
        exp = int(url.split("exp=")[1].split("&")[0])
        assert time.time() + 100 < exp <= time.time() + 121
        ok = client.get(url)
        assert ok.status_code == 200 and ok.content[:4] == b"\x89PNG"
        part = client.get(url, headers={"Range": "bytes=1-3"})
        assert part.status_code == 206 and part.content == b"PNG"
        path = url.split("?")[0]
        for bad in (path, path + f"?exp={exp}&sig=" + "0" * 32, url.replace(f"exp={exp}", f"exp={exp + 1}")):
            r = client.get(bad)
            assert r.status_code == 403 and r.json()["error"] == "forbidden", bad
        past = int(time.time()) - 5
        r = client.get(f"{path}?exp={past}&sig={pipe.storage.signature(path.split('/v1/files/')[1], past)}")
        assert r.status_code == 403
    pipe.dispatcher.shutdown()
    pipe.storage.fs.rm("/gp-api-test", recursive=True)
