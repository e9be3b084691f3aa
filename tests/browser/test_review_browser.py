"""The review web app in a real browser (Debian's Chromium driven by Playwright) against the real
API served by uvicorn on a loopback port with its own data dir.

Flow: log in (wrong key, front-end key, reviewer key), open a title, play the trailer and seek in
it, approve one artwork, reject another with a reason, switch the title to approved-only, check
the history, and ask ``POST /v1/personalize`` (front-end key) which artwork it serves. Screenshots
of the main screens go to ``test-output/screenshots/`` at 1366x768 (laptop) and 1024x1366
(tablet portrait).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]
LAPTOP = {"width": 1366, "height": 768}
TABLET = {"width": 1024, "height": 1366}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt install chromium); Playwright cannot download one here")
    pytest.importorskip("playwright.sync_api", reason="playwright for Python is not installed")
    from review_seed import seed_catalog

    from genperso.catalog import reset_engines
    from genperso.config import get_settings, reset_settings

    work = tmp_path_factory.mktemp("review-browser")
    data = work / "data"
    env = {**os.environ, "GENPERSO_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "GENPERSO_LOG_LEVEL": "WARNING"}
    env.pop("GENPERSO_REDIS_URL", None)
    env.pop("GENPERSO_DATABASE_URL", None)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENPERSO_DATA_DIR", str(data))
        mp.delenv("GENPERSO_REDIS_URL", raising=False)
        mp.delenv("GENPERSO_DATABASE_URL", raising=False)
        reset_settings()
        reset_engines()
        seeded = seed_catalog(get_settings(), work)
        reset_engines()
        reset_settings()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env["GENPERSO_PUBLIC_BASE_URL"] = base
    log = open(work / "uvicorn.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app", "--host", "127.0.0.1", "--port",
         str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 45
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited: {(work / 'uvicorn.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/review/login", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start: {(work / 'uvicorn.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield base, seeded
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(server) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROME_ARGS)
        try:
            yield b
        finally:
            b.close()


def _login(page, base: str, key: str) -> None:
    page.goto(f"{base}/review/")
    page.fill("#api_key", key)
    page.click("button[type=submit]")


def _no_horizontal_overflow(page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_review_flow_in_chromium(server, browser):
    from review_support import KEYS

    base, seeded = server
    ctx = browser.new_context(viewport=LAPTOP)
    page = ctx.new_page()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    failed: list[tuple[int, str]] = []
    page.on("response", lambda r: failed.append((r.status, r.url)) if r.status >= 400 else None)
    ranges: list[int] = []
    page.on("response", lambda r: ranges.append(r.status) if "/v1/files/" in r.url and r.url.endswith(".mp4") else None)

    # --- login: wrong key, front-end key, then a reviewer key -----------------------------------
    _login(page, base, "not-a-key")
    assert "Unknown or revoked API key" in page.inner_text("[data-testid=login-error]")
    page.screenshot(path=str(SHOTS / "01-login-error.png"))
    _login(page, base, KEYS["front-end"])
    assert "reviewer or admin" in page.inner_text("[data-testid=login-error]")
    _login(page, base, KEYS["reviewer"])
    page.wait_for_selector("[data-testid=title-list]")
    assert "test reviewer" in page.inner_text("[data-testid=who]")
    assert _no_horizontal_overflow(page)
    page.screenshot(path=str(SHOTS / "02-titles.png"))

    # --- a title: angles, filters, asset grid, keyboard selection and help ----------------------
    page.click(f"[data-title-id={seeded.title_id}]")
    page.wait_for_selector("[data-testid=asset-grid]")
    cards = page.locator("[data-testid=asset-card]")
    assert cards.count() == 11  # 8 artwork + trailer + remix + titles
    assert _no_horizontal_overflow(page)
    page.screenshot(path=str(SHOTS / "03-asset-grid.png"))
    first = page.evaluate("document.querySelector('.asset-card.selected').dataset.assetId")
    page.keyboard.press("j")
    second = page.evaluate("document.querySelector('.asset-card.selected').dataset.assetId")
    page.keyboard.press("ArrowLeft")
    assert second != first and page.evaluate("document.querySelector('.asset-card.selected').dataset.assetId") == first
    page.keyboard.press("?")
    assert page.locator("#help-dialog").is_visible()
    page.screenshot(path=str(SHOTS / "04-shortcuts-help.png"))
    page.keyboard.press("Escape")
    page.select_option("#f-safety", "flagged")
    page.wait_for_url("**safety=flagged**")
    assert page.locator("[data-testid=asset-card]").count() == 1

    # --- the trailer: play, time advances, seek (HTTP Range) --------------------------------------
    page.goto(f"{base}/review/assets/{seeded.trailer}")
    video = page.locator("[data-testid=trailer-video]")
    video.wait_for()
    page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; return v.play(); }")
    page.wait_for_function("document.querySelector('video').currentTime > 0.5", timeout=15000)
    page.evaluate("() => new Promise(r => { const v = document.querySelector('video'); v.pause();"
                  " v.addEventListener('seeked', () => r(), {once: true}); v.currentTime = 6.0; })")
    t = page.evaluate("document.querySelector('video').currentTime")
    assert abs(t - 6.0) < 0.25, t
    assert page.evaluate("document.querySelector('video').seekable.end(0)") >= seeded.duration - 0.2
    assert 206 in ranges, f"no ranged (206) response for the trailer; got {ranges}"
    shots = page.locator("[data-testid=source-shots] img.shot-thumb")
    assert shots.count() == 3
    page.wait_for_function("Array.from(document.querySelectorAll('img.shot-thumb')).every(i => i.naturalWidth > 0)")
    page.screenshot(path=str(SHOTS / "05-asset-detail-trailer.png"), full_page=True)

    # --- the remix: audio player and tempo; titles text -----------------------------------------
    page.goto(f"{base}/review/assets/{seeded.remix}")
    assert page.locator("audio[controls]").count() == 1
    assert "124.0 BPM" in page.inner_text("[data-testid=tempo]")
    page.goto(f"{base}/review/assets/{seeded.titles}")
    assert "Race the Fractal" in page.inner_text("[data-testid=text-candidates]")

    # --- approve one artwork (keyboard), reject another (dialog with a required reason) -----------
    approved, rejected = seeded.artwork["action"], seeded.artwork["comedy"]
    page.goto(f"{base}/review/assets/{approved}")
    page.wait_for_function("Array.from(document.querySelectorAll('.formats img')).every(i => i.naturalWidth > 0)")
    assert page.locator("[data-testid=artwork-format] img").count() == 4  # hero, poster, tile, mobile
    assert page.locator("[data-testid=artwork-format] figcaption a").all_inner_texts() == ["jpg", "webp"] * 4
    page.keyboard.press("a")
    page.wait_for_function("document.querySelector('[data-testid=actions] [data-testid=state]').textContent"
                           " === 'approved'")
    page.keyboard.press("p")  # pin it as the editorial choice of its angle
    page.wait_for_selector("[data-testid=pinned]")
    page.screenshot(path=str(SHOTS / "06-asset-detail-artwork-approved.png"), full_page=True)
    page.goto(f"{base}/review/assets/{rejected}")
    page.keyboard.press("r")
    page.wait_for_selector("#reject-dialog[open]")
    page.click("#reject-dialog button[type=submit]")  # empty reason: the dialog stays open
    assert page.locator("#reject-dialog[open]").count() == 1
    page.fill("#reject-reason", "Title text clashes with the frame")
    page.click("#reject-dialog button[type=submit]")
    page.wait_for_function("document.querySelector('[data-testid=actions] [data-testid=state]').textContent"
                           " === 'rejected'")
    assert "Title text clashes with the frame" in page.inner_text("[data-testid=asset-history]")

    # --- serving policy: approved only ------------------------------------------------------------
    page.goto(f"{base}/review/titles/{seeded.title_id}")
    page.check("input[name=policy][value=approved_only]")
    page.wait_for_selector("#toast:not([hidden])")

    # --- history ------------------------------------------------------------------------------------
    page.goto(f"{base}/review/history")
    rows = page.locator("[data-testid=history-row]")
    assert [rows.nth(i).get_attribute("data-action") for i in range(rows.count())] == [
        "serving_policy", "reject", "pin", "approve"]
    assert "test reviewer" in page.inner_text("[data-testid=history]")
    page.screenshot(path=str(SHOTS / "07-history.png"), full_page=True)

    # --- tablet portrait ------------------------------------------------------------------------------
    tab = browser.new_context(viewport=TABLET)
    tpage = tab.new_page()
    _login(tpage, base, KEYS["admin"])
    tpage.goto(f"{base}/review/titles/{seeded.title_id}")
    tpage.wait_for_selector("[data-testid=asset-grid]")
    assert _no_horizontal_overflow(tpage)
    tpage.screenshot(path=str(SHOTS / "08-tablet-asset-grid.png"))
    tpage.goto(f"{base}/review/assets/{seeded.trailer}")
    assert _no_horizontal_overflow(tpage)
    tpage.screenshot(path=str(SHOTS / "09-tablet-asset-detail.png"))
    tab.close()
    ctx.close()
    # the only failed requests are the two refused logins; no script errors
    assert [(st, u.rsplit("/", 2)[-2:]) for st, u in failed] == [(401, ["review", "login"]), (403, ["review", "login"])]
    assert not [e for e in console_errors if "Failed to load resource" not in e], console_errors

    # --- the request API honours the review ---------------------------------------------------------
    fe = {"X-API-Key": KEYS["front-end"]}
    served = []
    for i in range(6):
        r = httpx.post(f"{base}/v1/personalize", headers=fe, timeout=30,
                       json={"user": {"id": f"viewer-{i}"}, "title_id": seeded.title_id, "kinds": ["artwork"]})
        assert r.status_code == 200, r.text
        body = r.json()
        served.append((body["decision"]["angle_id"], body["assets"]["artwork"]["asset"]["asset_id"]))
    assert {a for _, a in served} == {approved}, served  # approved_only: only the approved artwork
    r = httpx.post(f"{base}/v1/review/titles/{seeded.title_id}/serving-policy", headers={"X-API-Key": KEYS["admin"]},
                   json={"policy": "auto"})
    assert r.status_code == 200
    for i in range(6):
        r = httpx.post(f"{base}/v1/personalize", headers=fe, timeout=30,
                       json={"user": {"id": f"viewer-{i}"}, "title_id": seeded.title_id, "kinds": ["artwork"]})
        assert r.json()["assets"]["artwork"]["asset"]["asset_id"] != rejected  # rejected is never served
