"""A review-ready catalog for the browser test: a small synthetic film (tests/media.py), its
analysis with real keyframes cut from the film, and real assets stored through
``genperso.storage``: a playable trailer mp4, artwork in four formats for every angle (keyed
exactly as ``POST /v1/personalize`` asks for them, so serving answers from these rows and starts
no generation), a click-track remix with its tempo, and title text candidates."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from media import Segment, make_clicks, make_film
from review_support import add_asset, add_keys

from genperso.catalog import session_scope
from genperso.catalog.titles import AnalysisRow, TitleRow, TitleVersionRow
from genperso.config import Settings
from genperso.media.ffmpeg import run_ffmpeg
from genperso.media.probe import probe
from genperso.types import Shot, TitleAnalysis, sha256_hex

__all__ = ["Seeded", "seed_catalog", "TITLE_ID", "ARTWORK_FORMATS"]

TITLE_ID = "sprite-run"
ARTWORK_FORMATS = {"hero": (320, 180, "16:9"), "poster": (200, 300, "2:3"), "tile": (240, 240, "1:1"),
                   "mobile": (180, 320, "9:16")}


@dataclass(frozen=True)
class Seeded:
    title_id: str
    trailer: str
    artwork: dict[str, str]  # angle id -> asset id
    remix: str
    titles: str
    duration: float


def _keyframes(film: Path, settings: Settings, vhash: str, shots: list[tuple[float, float]]) -> list[str]:
    rels = []
    for i, (a, b) in enumerate(shots):
        rel = f"analysis/{vhash}/keyframes/shot{i:04d}.jpg"
        out = settings.data_dir / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        run_ffmpeg(["-y", "-ss", f"{(a + b) / 2:.3f}", "-i", str(film), "-frames:v", "1", "-q:v", "3", str(out)],
                   what="keyframe")
        rels.append(rel)
    return rels


def _artwork(keyframe: Path, label: str, fmt: tuple[int, int, str], codec: str = "JPEG") -> bytes:
    from PIL import Image, ImageDraw, ImageOps

    w, h, _ = fmt
    img = ImageOps.fit(Image.open(keyframe).convert("RGB"), (w, h))
    d = ImageDraw.Draw(img)
    d.rectangle((0, h - 34, w, h), fill=(0, 0, 0))
    d.text((8, h - 26), label.upper(), fill=(255, 220, 80))
    buf = io.BytesIO()
    img.save(buf, codec, quality=88)
    return buf.getvalue()


def seed_catalog(settings: Settings, work: Path) -> Seeded:
    from genperso.angles.catalog import load_angles
    from genperso.pipeline import Pipeline, _normalise_params

    add_keys(settings)
    film = work / "sprite-run.mp4"
    segs = [Segment("testsrc", 3.0, audio="tone"), Segment("mandelbrot", 3.0, audio="clicks"),
            Segment("color", 2.0, color="navy", audio="tone", freq=660.0)]
    cuts = make_film(film, segs)
    info = probe(film)
    bounds = [0.0, *cuts, info.duration]
    spans = list(zip(bounds[:-1], bounds[1:]))
    vhash = sha256_hex(TITLE_ID, "v1")
    rels = _keyframes(film, settings, vhash, spans)
    shots = tuple(Shot(index=i, start=a, end=b, keyframes=(rels[i],), keyframe_times=((a + b) / 2,))
                  for i, (a, b) in enumerate(spans))
    analysis = TitleAnalysis(title_id=TITLE_ID, version=1, content_hash=vhash, stream=info, shots=shots)
    with session_scope(settings) as s:
        s.add(TitleRow(id=TITLE_ID, name="Sprite Run", synopsis="A test pattern races a fractal through the night.",
                       genres=["Animation", "Adventure"], current_version=1, serving_policy="auto"))
        s.flush()
        s.add(TitleVersionRow(title_id=TITLE_ID, version=1, content_hash=vhash, source_path=str(film),
                              size_bytes=film.stat().st_size, stream=info.to_dict(), status="ready"))
        s.add(AnalysisRow(content_hash=vhash, title_id=TITLE_ID, version=1, analysis_version="1",
                          n_shots=len(shots), data=analysis.to_dict()))

    from review_support import SeededTitle

    title = SeededTitle(TITLE_ID, vhash, shots, film)
    pipe = Pipeline(settings)
    tstate = pipe.title_state(TITLE_ID)
    verdict_ok = {"decision": "allow", "policy_version": "p1", "verdict": {
        "decision": "allow", "label": "image", "modality": "image", "scores": {"nsfw": 0.03, "violence": 0.08},
        "tier": {"nsfw": "low", "violence": "low"}, "reasons": ["every score below its review threshold"],
        "models": {"nudenet": "3.4.2"}}}
    artwork: dict[str, str] = {}
    for i, angle in enumerate(load_angles()):
        key = pipe.build_key(tstate, angle.id, "artwork", _normalise_params("artwork", None, "adult"))
        shot = shots[i % len(shots)]
        kf = settings.data_dir / shot.keyframes[0]
        files = {}
        for name, fmt in ARTWORK_FORMATS.items():  # like the artwork generator: every format as jpg and webp
            files[f"{name}.jpg"] = (_artwork(kf, f"Sprite Run · {angle.name}", fmt), "image/jpeg")
            files[f"{name}.webp"] = (_artwork(kf, f"Sprite Run · {angle.name}", fmt, "WEBP"), "image/webp")
        flagged = angle.id == "suspense"
        safety = verdict_ok if not flagged else {"decision": "review", "policy_version": "p1", "verdict": {
            "decision": "review", "label": "image", "modality": "image", "scores": {"nsfw": 0.04, "violence": 0.61},
            "tier": {"nsfw": "low", "violence": "review"}, "reasons": ["violence 0.61 is in the review band"],
            "models": {"violence-clip": "rev-a"}}}
        record = {"generator": key.generator, "version": key.generator_version, "timings": {"select_s": 0.41,
                  "render_s": 0.87}, "n_candidates": 3, "chosen": {
                      "kind": "artwork", "angle": angle.id, "seed": int(key.digest[:8], 16),
                      "source": {"shot_index": shot.index, "time": round(shot.keyframe_times[0], 3), "pinned": False},
                      "formats": {n: {"format": f[2], "width": f[0], "height": f[1]} for n, f in ARTWORK_FORMATS.items()}}}
        artwork[angle.id] = add_asset(settings, title, angle.id, "artwork", key=key, files=files,
                                      state="review" if flagged else "generated", record=record, safety=safety)
    trailer_record = {"generator": "trailer", "version": "1", "timings": {"plan_s": 0.3, "video_s": 2.2},
                      "chosen": {"seed": 42, "shots": [
                          {"index": i, "source_in": a, "source_out": b, "timeline_in": a, "timeline_out": b}
                          for i, (a, b) in enumerate(spans)], "config": {"preset": "veryfast", "crf": 23}}}
    trailer = add_asset(settings, title, "action", "trailer", files={"trailer.mp4": (film, "video/mp4")},
                        record=trailer_record, safety={"decision": "allow", "verdict": {
                            "decision": "allow", "label": "video", "modality": "video",
                            "scores": {"nsfw": 0.01, "violence": 0.12}, "tier": {}, "reasons": []}})
    clicks = make_clicks(work / "clicks.wav", bpm=124.0, duration=6.0)
    remix = add_asset(settings, title, "action", "remix", files={"remix.wav": (clicks, "audio/wav")}, record={
        "generator": "remix", "version": "1", "timings": {"stretch_s": 0.5, "master_s": 0.2}, "chosen": {
            "kind": "remix", "target_bpm": 124.0, "output_tempo": {"bpm": 123.8}, "seed": 7,
            "sources": [{"track": "sectoid-01", "title": "Night Drive", "artist": "Sectoid", "licence": "CC-BY-4.0",
                         "source_bpm": 118.0, "stretch_ratio": 1.05085}]}})
    titles = add_asset(settings, title, "action", "titles", record={
        "generator": "titles", "version": "1", "text": "Race the Fractal",
        "chosen": {"candidates": [{"text": "Race the Fractal", "score": 0.91},
                                  {"text": "Sprite Run: Full Speed", "score": 0.84},
                                  {"text": "Outrun the Pattern", "score": 0.77}]}})
    return Seeded(TITLE_ID, trailer, artwork, remix, titles, info.duration)
