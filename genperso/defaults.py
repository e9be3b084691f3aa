"""Neutral per-title default assets: what is served when nothing personalised exists yet.

Made once per (title version, kind), stored like any asset (``is_default``), gated by the same
safety gate:

* ``artwork``: the sharpest well-exposed keyframe of the title's middle third, neutrally
  graded (auto-contrast), cropped to 16:9 with the title name set in the bundled OFL font;
  when no keyframe is usable or the gate does not allow it, a plain dark card with the name.
* ``titles``: the title's own name (``text.json``).
* ``trailer`` / ``remix``: no default (a title's source is not a trailer); the response carries
  the job handle only, until the first generation of the title and kind has been served.
"""

from __future__ import annotations

import mimetypes
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import CacheEntry
from .catalog import session_scope
from .catalog.assets import AssetRepo
from .config import ASSETS_DIR
from .generators.base import Candidate
from .logs import get_logger
from .storage import Storage, asset_path
from .types import AssetFile, AssetKey, AssetRecord

if TYPE_CHECKING:
    from .pipeline import Pipeline, TitleState

__all__ = ["DEFAULT_VERSION", "DEFAULT_KINDS", "default_asset", "default_key", "asset_file"]

log = get_logger("genperso.defaults")

DEFAULT_VERSION = "1"
DEFAULT_KINDS = ("artwork", "titles")
DEFAULT_ANGLE = "default"
ART_SIZE = (1280, 720)
MAKE_WAIT_S = 3.0  # how long a request waits for a default another request is making


def asset_file(storage: Storage, digest: str, role: str, path: Path) -> AssetFile:
    """Store one file of an asset atomically and describe it."""
    mime = mimetypes.guess_type(path.name)[0] or mimetypes.guess_type(role)[0] or "application/octet-stream"
    sf = storage.put_file(path, asset_path(digest, role), mime)
    width = height = None
    if mime.startswith("image/"):
        try:
            from PIL import Image

            with Image.open(path) as im:
                width, height = im.size
        except OSError:
            pass
    elif mime.startswith("video/"):
        try:
            from .media.probe import probe

            info = probe(path)
            width, height = info.width, info.height
        except Exception:  # noqa: BLE001 - dimensions are informative only
            pass
    fmt = Path(role).suffix.lstrip(".") or None
    return AssetFile(path=sf.path, role=role, mime=mime, size_bytes=sf.size_bytes, width=width, height=height,
                     format=fmt, sha256=sf.sha256)


def default_key(pipeline: Pipeline, title: TitleState, kind: str) -> AssetKey:
    return AssetKey(
        title_version_hash=title.version_hash, angle_id=DEFAULT_ANGLE, kind=kind,
        params={"default": True, "maturity": "kids"},  # gated for the strictest audience: fits everyone
        generator="default", generator_version=DEFAULT_VERSION, safety_policy_version=pipeline._policy_version(),
    )


def default_asset(pipeline: Pipeline, title: TitleState, kind: str) -> CacheEntry | None:
    """The title's default asset of ``kind`` (made on first use), or None for kinds without one."""
    if kind not in DEFAULT_KINDS:
        return None
    key = default_key(pipeline, title, kind)
    with session_scope(pipeline.settings) as s:
        row = AssetRepo(s).find(key.digest)
        if row is not None:
            return CacheEntry.from_row(row) if row.state not in ("rejected", "blocked") else None
    claim = uuid.uuid4().hex
    if pipeline.cache.claim(key.digest, claim) is not None:
        return _wait_for(pipeline, key.digest)  # another request is making it right now
    try:
        record = _make(pipeline, title, kind, key)
        with session_scope(pipeline.settings) as s:
            AssetRepo(s).save(record, is_default=True)
    finally:
        pipeline.cache.release(key.digest, claim)
    log.info("default.made", title_id=title.title_id, kind=kind, state=record.state)
    return CacheEntry(record.to_dict()) if record.state not in ("rejected", "blocked") else None


def _wait_for(pipeline: Pipeline, digest: str, timeout_s: float = MAKE_WAIT_S) -> CacheEntry | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(0.02)
        with session_scope(pipeline.settings) as s:
            row = AssetRepo(s).find(digest)
            if row is not None:
                return CacheEntry.from_row(row) if row.state not in ("rejected", "blocked") else None
    return None


def _make(pipeline: Pipeline, title: TitleState, kind: str, key: AssetKey) -> AssetRecord:
    tmp = Path(pipeline.settings.data_dir) / "tmp" / f"default-{uuid.uuid4().hex}"
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        source: dict[str, Any] = {}
        if kind == "titles":
            cand = Candidate(rank=0, score=1.0, files={}, record={"source": "title name"}, text=title.name)
        else:
            frame, source = _best_keyframe(pipeline, title)
            path = tmp / "hero.jpg"
            _poster(frame, title.name, path)
            cand = Candidate(rank=0, score=1.0, files={"hero.jpg": str(path)}, record=source)
        res = pipeline.gate(kind, [cand], profile="kids", brand=title.brand, title_id=title.title_id)
        decision = str(getattr(res, "decision", "block"))
        if decision != "allow" and kind == "artwork" and source.get("keyframe"):
            path = tmp / "card.jpg"
            _poster(None, title.name, path)  # the frame did not pass: a plain card with the name
            cand = Candidate(rank=0, score=1.0, files={"hero.jpg": str(path)}, record={"source": "plain card"})
            res = pipeline.gate(kind, [cand], profile="kids", brand=title.brand, title_id=title.title_id)
            decision = str(getattr(res, "decision", "block"))
        files = pipeline.store_candidate(key.digest, cand) if decision == "allow" else ()
        from .catalog import utcnow

        return AssetRecord(
            asset_id=key.digest, key=key, title_id=title.title_id, title_version=title.version,
            angle_id=DEFAULT_ANGLE, kind=kind, files=files, state="approved" if decision == "allow" else "blocked",
            record={"generator": "default", "version": DEFAULT_VERSION, **dict(cand.record), "text": cand.text},
            safety={"decision": decision, "policy_version": str(getattr(res, "policy_version", ""))},
            created_at=utcnow().isoformat() + "Z",
        )
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


def _best_keyframe(pipeline: Pipeline, title: TitleState) -> tuple[Path | None, dict[str, Any]]:
    from .catalog.titles import TitleRepo
    from .errors import NotFound

    try:
        with session_scope(pipeline.settings) as s:
            analysis = TitleRepo(s).analysis(title.title_id, title.version)
    except NotFound:
        return None, {"source": "plain card"}
    dur = analysis.duration or 1.0
    best: tuple[float, Path, dict[str, Any]] | None = None
    for shot in analysis.shots:
        if shot.is_black or shot.is_blank or not shot.keyframes:
            continue
        mid = (shot.start + shot.end) / 2
        centrality = 1.0 - abs(mid / dur - 0.5) * 2  # middle of the film first, avoids credits
        exposure = 1.0 - abs(shot.brightness - 0.45) * 2
        score = 0.5 * centrality + 0.3 * exposure + 0.2 * min(1.0, shot.sharpness / 500.0)
        p = Path(pipeline.settings.data_dir) / shot.keyframes[0]
        if p.is_file() and (best is None or score > best[0]):
            best = (score, p, {"source": "keyframe", "keyframe": shot.keyframes[0], "shot": shot.index})
    if best is None:
        return None, {"source": "plain card"}
    return best[1], best[2]


def _poster(frame: Path | None, name: str, out: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont, ImageOps

    w, h = ART_SIZE
    if frame is not None:
        with Image.open(frame) as im:
            img = ImageOps.fit(ImageOps.autocontrast(im.convert("RGB"), cutoff=1), ART_SIZE)
    else:
        img = Image.new("RGB", ART_SIZE, (18, 18, 24))
    shade = Image.linear_gradient("L").resize(ART_SIZE).point(lambda v: int(v * 0.7))
    img = Image.composite(Image.new("RGB", ART_SIZE, (0, 0, 0)), img, shade)
    draw = ImageDraw.Draw(img)
    size = 72
    font_path = ASSETS_DIR / "fonts" / "font.ttf"
    font = ImageFont.truetype(str(font_path), size) if font_path.is_file() else ImageFont.load_default()
    text = name.strip()
    while size > 20 and draw.textlength(text, font=font) > w * 0.85:
        size -= 4
        font = ImageFont.truetype(str(font_path), size) if font_path.is_file() else font
    x, y = int(w * 0.06), int(h * 0.82) - size
    draw.text((x + 3, y + 3), text, font=font, fill=(0, 0, 0))
    draw.text((x, y), text, font=font, fill=(255, 255, 255))
    img.save(out, "JPEG", quality=88)
