"""Review JSON endpoints and library actions: roles, validation, audit history, serving policy,
pinning, the session cookie + CSRF, and the keyframe route's path checks."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from review_support import KEYS, add_asset, add_keys, add_title, jpeg_bytes


def _app():
    from api.main import create_app

    return create_app()


@pytest.fixture
def seeded(settings):
    add_keys(settings)
    title = add_title(settings)
    ids = {
        "art": add_asset(settings, title, "action", "artwork",
                         files={"16x9.jpg": (jpeg_bytes((200, 30, 30)), "image/jpeg")}),
        "art2": add_asset(settings, title, "action", "artwork", variant=1,
                          files={"16x9.jpg": (jpeg_bytes((30, 200, 30)), "image/jpeg")}),
        "flagged": add_asset(settings, title, "romance", "artwork", variant=2, state="review",
                             files={"16x9.jpg": (jpeg_bytes((30, 30, 200)), "image/jpeg")},
                             safety={"decision": "review", "verdict": {"decision": "review", "label": "image",
                                                                       "scores": {"nsfw": 0.55}, "tier": {"nsfw": "mid"},
                                                                       "reasons": ["nsfw 0.55 in review band"]}}),
        "blocked": add_asset(settings, title, "romance", "artwork", variant=3, state="blocked"),
    }
    return title, ids


@pytest.fixture
def client(seeded):
    with TestClient(_app()) as c:
        yield c


def hdr(role: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[role]}


@dataclass(frozen=True)
class AuthCase:
    headers: dict[str, str]
    status: int


AUTH_CASES = [
    AuthCase({}, 401),
    AuthCase({"X-API-Key": "wrong-key"}, 401),
    AuthCase({"X-API-Key": KEYS["front-end"]}, 403),
    AuthCase({"X-API-Key": KEYS["reviewer"]}, 200),
    AuthCase({"Authorization": f"Bearer {KEYS['admin']}"}, 200),
]


@pytest.mark.parametrize("case", AUTH_CASES, ids=lambda c: f"{c.status}-{sorted(c.headers.values())}")
def test_roles_on_read_and_write(client, seeded, case):
    _, ids = seeded
    assert client.get("/v1/review/titles", headers=case.headers).status_code == case.status
    r = client.post(f"/v1/review/assets/{ids['art']}/approve", headers=case.headers)
    assert r.status_code == case.status, r.text
    if case.status != 200:
        assert "message" in r.json() or "detail" in r.json()


def test_reject_requires_reason_and_unknown_asset_is_404(client, seeded):
    _, ids = seeded
    r = client.post(f"/v1/review/assets/{ids['art']}/reject", headers=hdr("reviewer"), json={})
    assert r.status_code == 422
    r = client.post(f"/v1/review/assets/{ids['art']}/reject", headers=hdr("reviewer"), json={"reason": "   "})
    assert r.status_code == 422 and "reason" in r.text
    r = client.post("/v1/review/assets/" + "0" * 64 + "/approve", headers=hdr("reviewer"))
    assert r.status_code == 404
    r = client.post("/v1/review/assets/" + "f" * 64 + "/reject", headers=hdr("reviewer"), json={"reason": "x"})
    assert r.status_code == 404
    r = client.get("/v1/review/assets/nope", headers=hdr("reviewer"))
    assert r.status_code == 404
    # nothing was recorded by the failed calls
    assert client.get("/v1/review/history", headers=hdr("reviewer")).json()["total"] == 0


def test_actions_are_recorded_with_actor_and_before_after(client, seeded):
    _, ids = seeded
    assert client.post(f"/v1/review/assets/{ids['art']}/approve", headers=hdr("reviewer")).json()["asset"]["state"] == "approved"
    r = client.post(f"/v1/review/assets/{ids['art2']}/reject", headers=hdr("admin"), json={"reason": "off-brand colours"})
    assert r.status_code == 200 and r.json()["asset"]["state"] == "rejected"
    hist = client.get("/v1/review/history", headers=hdr("reviewer"), params={"title": "film-a"}).json()
    assert hist["total"] == 2
    newest, oldest = hist["items"]
    assert newest["action"] == "reject" and newest["reason"] == "off-brand colours"
    assert newest["actor"]["role"] == "admin" and newest["actor"]["name"] == "test admin"
    assert newest["before"]["state"] == "generated" and newest["after"]["state"] == "rejected"
    assert oldest["action"] == "approve" and oldest["actor"]["role"] == "reviewer" and oldest["at"]
    assert KEYS["reviewer"] not in str(hist)  # the key itself is never stored or shown
    per_asset = client.get("/v1/review/history", headers=hdr("reviewer"), params={"asset": ids["art"]}).json()
    assert [h["action"] for h in per_asset["items"]] == ["approve"]
    # serving's system-wide audit log got the same actions
    from genperso.catalog import session_scope
    from genperso.catalog.assets import AuditRow

    with session_scope() as s:
        actions = sorted(a.action for a in s.query(AuditRow).all())
    assert actions == ["review:approve", "review:reject"]


def test_blocked_cannot_be_approved_or_pinned(client, seeded):
    _, ids = seeded
    assert client.post(f"/v1/review/assets/{ids['blocked']}/approve", headers=hdr("reviewer")).status_code == 409
    assert client.post(f"/v1/review/assets/{ids['blocked']}/pin", headers=hdr("reviewer")).status_code == 409
    detail = client.get(f"/v1/review/assets/{ids['blocked']}", headers=hdr("reviewer")).json()
    assert detail["state"] == "blocked"


def test_pin_is_unique_per_slot_and_approves(client, seeded):
    _, ids = seeded
    r = client.post(f"/v1/review/assets/{ids['art']}/pin", headers=hdr("reviewer"), json={"pinned": True})
    assert r.status_code == 200 and r.json()["asset"]["pinned"] and r.json()["asset"]["state"] == "approved"
    client.post(f"/v1/review/assets/{ids['art2']}/pin", headers=hdr("reviewer"))
    a1 = client.get(f"/v1/review/assets/{ids['art']}", headers=hdr("reviewer")).json()
    a2 = client.get(f"/v1/review/assets/{ids['art2']}", headers=hdr("reviewer")).json()
    assert (a1["pinned"], a2["pinned"]) == (False, True)
    # rejecting the pinned asset unpins it
    client.post(f"/v1/review/assets/{ids['art2']}/reject", headers=hdr("reviewer"), json={"reason": "typo"})
    assert client.get(f"/v1/review/assets/{ids['art2']}", headers=hdr("reviewer")).json()["pinned"] is False


def test_serving_policy_switch(client, seeded):
    title, _ = seeded
    url = f"/v1/review/titles/{title.title_id}/serving-policy"
    assert client.post(url, headers=hdr("reviewer"), json={"policy": "sometimes"}).status_code == 422
    assert client.post(url, headers=hdr("front-end"), json={"policy": "approved_only"}).status_code == 403
    r = client.post(url, headers=hdr("reviewer"), json={"policy": "approved_only"})
    assert r.status_code == 200 and r.json()["serving_policy"] == "approved_only"
    titles = client.get("/v1/review/titles", headers=hdr("reviewer")).json()["titles"]
    assert titles[0]["serving_policy"] == "approved_only"
    from genperso.catalog import session_scope
    from genperso.catalog.titles import TitleRow

    with session_scope() as s:
        assert s.get(TitleRow, title.title_id).serving_policy == "approved_only"
    h = client.get("/v1/review/history", headers=hdr("reviewer"), params={"action": "serving_policy"}).json()
    assert h["items"][0]["before"] == {"serving_policy": "auto"} and h["items"][0]["after"] == {"serving_policy": "approved_only"}
    assert client.post("/v1/review/titles/no-such-title/serving-policy", headers=hdr("reviewer"),
                       json={"policy": "auto"}).status_code == 404


def test_filters_and_pagination(client, seeded):
    title, ids = seeded
    url = f"/v1/review/titles/{title.title_id}/assets"
    every = client.get(url, headers=hdr("reviewer")).json()
    assert every["total"] == 4
    flagged = client.get(url, headers=hdr("reviewer"), params={"safety": "flagged"}).json()
    assert {a["asset_id"] for a in flagged["assets"]} == {ids["flagged"], ids["blocked"]}
    clean = client.get(url, headers=hdr("reviewer"), params={"safety": "clean"}).json()
    assert {a["asset_id"] for a in clean["assets"]} == {ids["art"], ids["art2"]}
    by_angle = client.get(url, headers=hdr("reviewer"), params={"angle": "romance", "state": "review"}).json()
    assert [a["asset_id"] for a in by_angle["assets"]] == [ids["flagged"]]
    p1 = client.get(url, headers=hdr("reviewer"), params={"per_page": 3, "page": 1}).json()
    p2 = client.get(url, headers=hdr("reviewer"), params={"per_page": 3, "page": 2}).json()
    assert p1["pages"] == 2 and len(p1["assets"]) == 3 and len(p2["assets"]) == 1
    assert not {a["asset_id"] for a in p1["assets"]} & {a["asset_id"] for a in p2["assets"]}
    assert client.get(url, headers=hdr("reviewer"), params={"kind": "poster"}).status_code == 422


def test_asset_detail_has_files_safety_and_lineage(client, seeded):
    _, ids = seeded
    d = client.get(f"/v1/review/assets/{ids['flagged']}", headers=hdr("reviewer")).json()
    assert d["images"][0]["url"].startswith("/v1/files/") and d["images"][0]["mime"] == "image/jpeg"
    assert d["safety_decision"] == "review"
    assert d["verdicts"][0]["name"] == "image · nsfw" and d["verdicts"][0]["score"] == pytest.approx(0.55)
    lin = d["lineage"]
    assert [s["index"] for s in lin["shots"]] == [0, 1]
    assert lin["shots"][1]["timecode"] == "00:00:02.000 – 00:00:04.000"
    assert lin["shots"][0]["keyframe_url"].startswith("/review/keyframes/analysis/")
    assert lin["seeds"] == [1236] and ("test-model", "rev-1") in [tuple(m) for m in lin["models"]]
    assert lin["generation_time"] == "1.75 s"


def test_session_cookie_login_csrf_and_keyframes(client, seeded):
    title, ids = seeded
    # front-end key refused, wrong key refused with a clear message
    r = client.post("/review/login", data={"api_key": KEYS["front-end"]}, follow_redirects=False)
    assert r.status_code == 403 and "reviewer or admin" in r.text
    r = client.post("/review/login", data={"api_key": KEYS["reviewer"]}, headers={"Origin": "https://evil.example"},
                    follow_redirects=False)
    assert r.status_code == 403 and "set-cookie" not in r.headers
    r = client.post("/review/login", data={"api_key": "nope"}, follow_redirects=False)
    assert r.status_code == 401 and "Unknown" in r.text
    assert client.get("/review/", follow_redirects=False).status_code == 303
    r = client.post("/review/login", data={"api_key": KEYS["reviewer"]}, follow_redirects=False)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower() and KEYS["reviewer"] not in cookie
    page = client.get("/review/")
    assert page.status_code == 200 and "Film A" in page.text
    # cookie-authenticated writes need the CSRF token rendered in the page
    assert client.post(f"/v1/review/assets/{ids['art']}/approve").status_code == 403
    token = page.text.split('name="csrf-token" content="')[1].split('"')[0]
    r = client.post(f"/v1/review/assets/{ids['art']}/approve", headers={"X-CSRF-Token": token})
    assert r.status_code == 200
    # a tampered cookie is not a session
    good = client.cookies.get("genperso_review")
    client.cookies.clear()
    client.cookies.set("genperso_review", good[:-2] + ("00" if not good.endswith("00") else "11"))
    assert client.get("/v1/review/titles").status_code == 401
    client.cookies.clear()
    client.cookies.set("genperso_review", good)
    # keyframes: inside the analysis dir only
    kf = title.shots[0].keyframes[0]
    r = client.get(f"/review/keyframes/{kf}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    for bad in ("analysis/../catalog.sqlite3", "..%2Fcatalog.sqlite3", "catalog.sqlite3", "review-session.key",
                "analysis/%2e%2e/review-session.key"):
        assert client.get(f"/review/keyframes/{bad}").status_code in (400, 404), bad
    assert client.get("/review/static/review.css").status_code == 200
    assert client.get("/review/static/..%2F..%2Fmain.py").status_code == 404


def test_html_pages_render(client, seeded):
    title, ids = seeded
    client.post("/review/login", data={"api_key": KEYS["admin"]})
    grid = client.get(f"/review/titles/{title.title_id}", params={"safety": "flagged"})
    assert grid.status_code == 200 and grid.text.count('data-testid="asset-card"') == 2
    detail = client.get(f"/review/assets/{ids['flagged']}")
    assert detail.status_code == 200 and "nsfw 0.55 in review band" in detail.text
    assert client.get("/review/assets/" + "0" * 64).status_code == 404
    assert client.get("/review/history").status_code == 200
    # sign out needs the CSRF token too, then the session is gone
    token = grid.text.split('name="csrf-token" content="')[1].split('"')[0]
    assert client.post("/review/logout", data={"csrf": "wrong"}, follow_redirects=False).status_code == 403
    r = client.post("/review/logout", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/review/login"
    assert client.get("/review/", follow_redirects=False).status_code == 303


def test_regenerate_queues_a_new_key(client, seeded, settings, monkeypatch):
    queued = []

    def ensure_job(key, title_id, **kw):
        queued.append((key, title_id))
        return "job-1"

    monkeypatch.setattr(client.app.state.pipeline, "ensure_job", ensure_job)
    title, ids = seeded
    url = f"/v1/review/assets/{ids['art']}/regenerate"
    assert client.post(url, headers=hdr("reviewer"), json={"shot": 99}).status_code == 422
    assert client.post(url, headers=hdr("reviewer"), json={"frame_time": 6.5}).status_code == 422  # film is 6 s
    assert client.post(url, headers=hdr("reviewer"), json={"shot": 1, "frame_time": 1.0}).status_code == 422
    assert client.post(url, headers=hdr("front-end"), json={}).status_code == 403
    assert queued == []
    r = client.post(url, headers=hdr("reviewer"), json={"seed": 7, "shot": 2})
    assert r.status_code == 202, r.text
    key, tid = queued[0]
    assert tid == "film-a" and key.params["seed"] == 7 and key.params["pinned_shot"] == 2
    assert key.params["variant"] == 0  # the original parameters are kept
    assert key.digest != ids["art"] and r.json()["job"]["asset_id"] == key.digest
    h = client.get("/v1/review/history", headers=hdr("reviewer"), params={"action": "regenerate"}).json()["items"][0]
    assert h["params"] == {"seed": 7, "pinned_shot": 2} and h["after"]["job_id"] == "job-1"
    # no seed: a fresh random one, so a new variant rather than the same content address
    r2 = client.post(url, headers=hdr("reviewer"), json={})
    assert r2.status_code == 202 and queued[1][0].digest not in (ids["art"], key.digest)
    # source pinning only where the generator reads it
    trailer = add_asset(settings, title, "action", "trailer", variant=5)
    r = client.post(f"/v1/review/assets/{trailer}/regenerate", headers=hdr("reviewer"), json={"shot": 0})
    assert r.status_code == 422 and "artwork" in r.json()["message"]


def test_html_grid_paginates_and_keeps_filters(client, seeded, settings):
    title, _ = seeded
    for i in range(30):
        add_asset(settings, title, "comedy", "titles", variant=100 + i,
                  record={"generator": "titles", "text": f"Line {i}", "chosen": {"candidates": [f"Line {i}"]}})
    client.post("/review/login", data={"api_key": KEYS["reviewer"]})
    p1 = client.get(f"/review/titles/{title.title_id}", params={"kind": "titles"})
    assert p1.text.count('data-testid="asset-card"') == 24 and "1–24 of 30" in p1.text
    assert 'href="/review/titles/film-a?kind=titles&amp;page=2"' in p1.text
    p2 = client.get(f"/review/titles/{title.title_id}", params={"kind": "titles", "page": 2})
    assert p2.text.count('data-testid="asset-card"') == 6 and "25–30 of 30" in p2.text
    # the detail page walks the same filtered list
    first_id = p1.text.split('data-testid="asset-card"')[0].rsplit('data-asset-id="', 1)[1].split('"')[0]
    detail = client.get(f"/review/assets/{first_id}", params={"kind": "titles"})
    assert "1 of 30" in detail.text and "?kind=titles" in detail.text.split("data-next-url=")[1][:120]


def test_title_default_is_reviewable_but_not_pinnable(client, seeded, settings):
    from genperso.catalog import session_scope
    from genperso.catalog.assets import AssetRow

    title, _ = seeded
    dflt = add_asset(settings, title, "default", "artwork", variant=77,
                     files={"hero.jpg": (jpeg_bytes((90, 90, 90)), "image/jpeg")})
    with session_scope(settings) as s:
        s.get(AssetRow, dflt).is_default = True
    listed = client.get(f"/v1/review/titles/{title.title_id}/assets", headers=hdr("reviewer"),
                        params={"angle": "default"}).json()["assets"]
    assert [(a["asset_id"], a["is_default"]) for a in listed] == [(dflt, True)]
    assert client.post(f"/v1/review/assets/{dflt}/pin", headers=hdr("reviewer")).status_code == 422
    assert client.post(f"/v1/review/assets/{dflt}/regenerate", headers=hdr("reviewer"), json={}).status_code == 422
    r = client.post(f"/v1/review/assets/{dflt}/reject", headers=hdr("reviewer"), json={"reason": "spoiler frame"})
    assert r.status_code == 200 and r.json()["asset"]["state"] == "rejected"
    client.post("/review/login", data={"api_key": KEYS["reviewer"]})
    assert "Title default" in client.get(f"/review/titles/{title.title_id}").text


def test_keyframes_need_a_reviewer(client, seeded):
    title, _ = seeded
    kf = f"/review/keyframes/{title.shots[1].keyframes[0]}"
    assert client.get(kf).status_code == 401
    assert client.get(kf, headers=hdr("front-end")).status_code == 403
    r = client.get(kf, headers=hdr("reviewer"))
    assert r.status_code == 200 and r.content[:2] == b"\xff\xd8"
    assert client.get("/review/keyframes/analysis/x/..%5C..%5Ccatalog.sqlite3", headers=hdr("admin")).status_code in (400, 404)


def test_sessions_end_on_revocation_and_expiry(client, seeded, settings):
    import time

    from api.routes.review_session import SESSION_TTL_S, KeyInfo, make_session_cookie, read_session_cookie

    from genperso.catalog import session_scope
    from genperso.catalog.assets import ApiKeyRow, hash_api_key

    info = KeyInfo(id=hash_api_key(KEYS["reviewer"]), name="test reviewer", role="reviewer")
    assert read_session_cookie(make_session_cookie(info, settings), settings) == info
    old = make_session_cookie(info, settings, now=time.time() - SESSION_TTL_S - 5)
    assert read_session_cookie(old, settings) is None
    client.post("/review/login", data={"api_key": KEYS["reviewer"]})
    assert client.get("/v1/review/titles").status_code == 200
    with session_scope(settings) as s:
        s.get(ApiKeyRow, hash_api_key(KEYS["reviewer"])).revoked = True
    assert client.get("/v1/review/titles").status_code == 401
    assert client.get("/review/", follow_redirects=False).status_code == 303
