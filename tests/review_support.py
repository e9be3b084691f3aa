"""Test data for the review tests: a title with an analysis (real keyframe JPEGs), API keys of
every role, and real asset rows with real files stored through ``genperso.storage``."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genperso.catalog import session_scope
from genperso.catalog.assets import ApiKeyRow, AssetRepo, hash_api_key
from genperso.catalog.titles import AnalysisRow, TitleRow, TitleVersionRow
from genperso.config import Settings
from genperso.storage import asset_path, get_storage
from genperso.types import AssetFile, AssetKey, AssetRecord, Shot, StreamInfo, TitleAnalysis, sha256_hex

__all__ = ["KEYS", "SeededTitle", "add_keys", "add_title", "add_asset", "jpeg_bytes"]

KEYS = {"front-end": "fe-key-0123456789", "reviewer": "rv-key-0123456789", "admin": "ad-key-0123456789"}


def add_keys(settings: Settings) -> dict[str, str]:
    with session_scope(settings) as s:
        for role, key in KEYS.items():
            s.merge(ApiKeyRow(key_hash=hash_api_key(key), role=role, name=f"test {role}"))
    return dict(KEYS)


def jpeg_bytes(colour: tuple[int, int, int], size: tuple[int, int] = (320, 180), text: str = "") -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, colour)
    if text:
        ImageDraw.Draw(img).text((10, 10), text, fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


@dataclass(frozen=True)
class SeededTitle:
    title_id: str
    version_hash: str
    shots: tuple[Shot, ...]
    source_path: Path | None = None
    cuts: tuple[float, ...] = field(default_factory=tuple)


def add_title(settings: Settings, title_id: str = "film-a", name: str = "Film A", *, n_shots: int = 3,
              shot_len: float = 2.0, source_path: Path | None = None, policy: str = "auto") -> SeededTitle:
    """A title whose current version has an analysis with ``n_shots`` shots and keyframe JPEGs."""
    vhash = sha256_hex(title_id, "v1")
    kf_dir = settings.analysis_dir / vhash / "keyframes"
    kf_dir.mkdir(parents=True, exist_ok=True)
    shots = []
    for i in range(n_shots):
        rel = f"analysis/{vhash}/keyframes/shot{i:04d}.jpg"
        (settings.data_dir / rel).write_bytes(jpeg_bytes((40 * i % 255, 90, 160), text=f"shot {i}"))
        shots.append(Shot(index=i, start=i * shot_len, end=(i + 1) * shot_len, keyframes=(rel,),
                          keyframe_times=(i * shot_len + shot_len / 2,)))
    duration = n_shots * shot_len
    stream = StreamInfo(duration=duration, width=320, height=180, fps=25.0, video_codec="h264", has_audio=True)
    analysis = TitleAnalysis(title_id=title_id, version=1, content_hash=vhash, stream=stream, shots=tuple(shots))
    with session_scope(settings) as s:
        s.add(TitleRow(id=title_id, name=name, synopsis=f"Synopsis of {name}.", genres=["Animation"],
                       current_version=1, serving_policy=policy))
        s.flush()
        s.add(TitleVersionRow(title_id=title_id, version=1, content_hash=vhash,
                              source_path=str(source_path or "/nonexistent.mp4"), size_bytes=1,
                              stream=stream.to_dict(), status="ready"))
        s.add(AnalysisRow(content_hash=vhash, title_id=title_id, version=1, analysis_version="1",
                          n_shots=n_shots, data=analysis.to_dict()))
    return SeededTitle(title_id, vhash, tuple(shots), source_path)


def add_asset(settings: Settings, title: SeededTitle, angle_id: str, kind: str, *, variant: int = 0,
              files: dict[str, tuple[Path | bytes, str]] | None = None, state: str = "generated",
              record: dict[str, Any] | None = None, safety: dict[str, Any] | None = None,
              key: AssetKey | None = None) -> str:
    """Store ``files`` (role -> (path or bytes, mime)) and save the asset row; returns its id."""
    key = key or AssetKey(title_version_hash=title.version_hash, angle_id=angle_id, kind=kind, params={"variant": variant},
                   generator=f"{kind}-test", generator_version="1", config={"candidates": 2},
                   model_revisions={"test-model": "rev-1"}, safety_policy_version="p1")
    digest = key.digest
    storage = get_storage(settings)
    afiles = []
    for role, (src, mime) in (files or {}).items():
        rel = asset_path(digest, role)
        sf = storage.put_bytes(src, rel, mime) if isinstance(src, bytes) else storage.put_file(src, rel, mime)
        afiles.append(AssetFile(path=sf.path, role=role, mime=mime, size_bytes=sf.size_bytes, sha256=sf.sha256,
                                format=role.rsplit(".", 1)[0]))
    rec = AssetRecord(
        asset_id=digest, key=key, title_id=title.title_id, title_version=1, angle_id=angle_id, kind=kind,
        files=tuple(afiles), state=state,
        record=record if record is not None else {
            "generator": f"{kind}-test", "version": "1", "model_revisions": {"test-model": "rev-1"},
            "timings": {"generate": 1.25, "encode": 0.5}, "n_candidates": 2,
            "chosen": {"source_shots": [{"index": 0}, {"index": 1}], "seed": 1234 + variant},
        },
        safety=safety if safety is not None else {
            "decision": "allow", "policy_version": "p1",
            "verdict": {"decision": "allow", "label": "image", "scores": {"nsfw": 0.02, "violence": 0.11},
                        "tier": {"nsfw": "low", "violence": "low"}, "reasons": ["all scores below thresholds"],
                        "models": {"nudenet": "3.4"}, "modality": "image"},
        },
    )
    with session_scope(settings) as s:
        AssetRepo(s).save(rec)
    return digest
