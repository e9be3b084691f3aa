"""Title ingestion: register a title version in the catalog, then analyse it once.

Re-ingesting the same bytes is a no-op. New bytes make a new title version; the old version is
marked superseded and what was derived from it (cached assets) is invalidated. Every check that
can fail runs before the catalog is touched, and the catalog rows of a version are written in one
transaction after its analysis succeeded, so a failure never leaves anything half-written.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from .catalog import session_scope
from .catalog.titles import AnalysisRow, TitleRepo, TitleRow, TitleVersionRow
from .config import Settings, get_settings
from .errors import InvalidInput, MediaError
from .logs import get_logger
from .media.probe import file_sha256, probe, validate_video
from .types import TitleAnalysis, validate_id

__all__ = ["IngestResult", "TitleMeta", "load_meta", "ingest_title", "store_media"]

log = get_logger("genperso.ingest")

MATURITY_RATINGS = ("G", "PG", "PG-13", "R", "NC-17", "TV-Y", "TV-Y7", "TV-G", "TV-PG", "TV-14", "TV-MA", "NR")
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class TitleMeta:
    name: str
    synopsis: str = ""
    genres: tuple[str, ...] = ()
    maturity_rating: str = "NR"
    brand: str | None = None
    attribution: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, default_name: str) -> TitleMeta:
        unknown = set(data) - {"name", "synopsis", "genres", "maturity_rating", "brand", "attribution"}
        if unknown:
            raise InvalidInput(f"unknown metadata fields: {', '.join(sorted(unknown))}")
        name = str(data.get("name") or default_name).strip()
        if not name or len(name) > 200:
            raise InvalidInput("metadata 'name' must be 1-200 characters")
        genres = data.get("genres") or ()
        if isinstance(genres, str) or not all(isinstance(g, str) for g in genres):
            raise InvalidInput("metadata 'genres' must be a list of strings")
        rating = str(data.get("maturity_rating") or "NR")
        if rating not in MATURITY_RATINGS:
            raise InvalidInput(f"metadata 'maturity_rating' must be one of {', '.join(MATURITY_RATINGS)}; got {rating!r}")
        synopsis = str(data.get("synopsis") or "")
        if len(synopsis) > 5000:
            raise InvalidInput("metadata 'synopsis' is longer than 5000 characters")
        return cls(
            name=name,
            synopsis=synopsis,
            genres=tuple(g.strip() for g in genres if g.strip()),
            maturity_rating=rating,
            brand=(str(data["brand"]) if data.get("brand") else None),
            attribution=(str(data["attribution"]) if data.get("attribution") else None),
        )


def load_meta(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"metadata file not found: {p}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"metadata file {p.name} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"metadata file {p.name} must hold a JSON object")
    return data


@dataclass(frozen=True)
class IngestResult:
    title_id: str
    version: int
    content_hash: str
    status: str  # "new" | "new_version" | "unchanged"
    n_shots: int
    duration: float
    superseded: tuple[int, ...] = ()
    analysis_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "title_id": self.title_id,
            "version": self.version,
            "content_hash": self.content_hash,
            "status": self.status,
            "n_shots": self.n_shots,
            "duration": self.duration,
            "superseded": list(self.superseded),
            "analysis_seconds": round(self.analysis_seconds, 3),
        }


def store_media(src: Path, content_hash: str, settings: Settings, subdir: str = "") -> Path:
    """Content-addressed copy of a source file under the data dir (hard link when possible)."""
    dest_dir = settings.media_dir / subdir if subdir else settings.media_dir
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / f"{content_hash}{src.suffix.lower()}"
    if dest.exists() and dest.stat().st_size == src.stat().st_size:
        return dest
    tmp = dest.with_name(f".{dest.name}.tmp{os.getpid()}")
    try:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def ingest_title(
    path: str | Path,
    *,
    title_id: str,
    meta: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> IngestResult:
    """Register ``path`` as (a new version of) ``title_id`` and analyse it."""
    settings = settings or get_settings()
    validate_id(title_id, "title id")
    src = Path(path).expanduser()
    if not src.exists():
        raise MediaError(f"file not found: {src}")
    if src.is_file() and src.stat().st_size > settings.max_file_bytes:
        raise MediaError(f"{src.name} is larger than the limit of {settings.max_file_bytes} bytes")
    # 1. checks that need no catalog: stream facts, limits, content hash
    info = probe(src)
    validate_video(
        info, max_duration=settings.max_duration_s, max_width=settings.max_width, max_height=settings.max_height,
        path=str(src),
    )
    meta_obj = TitleMeta.from_mapping(meta or {}, default_name=src.stem.replace("_", " ").strip() or title_id)
    if progress:
        progress("hashing", 0.0)
    content_hash = file_sha256(src)
    if progress:
        progress("hashing", 1.0)

    with session_scope(settings) as s:
        repo = TitleRepo(s)
        title = repo.find(title_id)
        existing = repo.version_by_hash(title_id, content_hash)
        if existing is not None and s.get(AnalysisRow, content_hash) is not None:
            if title is not None and meta:
                _update_meta(title, meta_obj, meta)
            row = s.get(AnalysisRow, content_hash)
            log.info("ingest.unchanged", title_id=title_id, version=existing.version)
            return IngestResult(title_id, existing.version, content_hash, "unchanged", row.n_shots if row else 0,
                                info.duration)
        next_version = 1 + max((v.version for v in repo.versions(title_id)), default=0)

    from .analysis import ANALYSIS_VERSION, analyse

    # 2. the expensive part, outside any transaction; writes only files under analysis_dir/<hash>
    stored = store_media(src, content_hash, settings)
    analysis: TitleAnalysis = analyse(
        stored, title_id=title_id, version=next_version, content_hash=content_hash, settings=settings,
        progress=progress,
    )

    # 3. one transaction for every catalog row of this version
    superseded: list[int] = []
    with session_scope(settings) as s:
        repo = TitleRepo(s)
        title = repo.find(title_id)
        status = "new" if title is None else "new_version"
        if title is None:
            title = TitleRow(id=title_id, name=meta_obj.name)
            s.add(title)
        _update_meta(title, meta_obj, meta)
        vrow = repo.version_by_hash(title_id, content_hash)
        if vrow is None:
            vrow = TitleVersionRow(
                title_id=title_id, version=next_version, content_hash=content_hash, source_path=str(stored),
                size_bytes=stored.stat().st_size,
            )
            s.add(vrow)
        vrow.stream = info.to_dict()
        vrow.status = "ready"
        vrow.error = None
        for old in repo.versions(title_id):
            if old.content_hash != content_hash and old.status != "superseded":
                old.status = "superseded"
                superseded.append(old.version)
        s.merge(
            AnalysisRow(
                content_hash=content_hash, title_id=title_id, version=vrow.version,
                analysis_version=ANALYSIS_VERSION, n_shots=len(analysis.shots), data=analysis.to_dict(),
            )
        )
        s.flush()
        title.current_version = vrow.version
        old_hashes = [
            h for (h,) in s.execute(
                sa.select(TitleVersionRow.content_hash).where(
                    TitleVersionRow.title_id == title_id, TitleVersionRow.content_hash != content_hash
                )
            )
        ]
        version = vrow.version
    if old_hashes:
        _invalidate_derived(title_id, old_hashes, settings)
    log.info("ingest.done", title_id=title_id, version=version, shots=len(analysis.shots), status=status)
    return IngestResult(
        title_id, version, content_hash, status, len(analysis.shots), info.duration, tuple(superseded),
        float(sum(analysis.timings.values())) if analysis.timings else 0.0,
    )


def _update_meta(title: TitleRow | None, meta: TitleMeta, given: Mapping[str, Any] | None) -> None:
    if title is None or not given:
        return
    for field in ("name", "synopsis", "genres", "maturity_rating", "brand", "attribution"):
        if field in given:
            value = getattr(meta, field)
            setattr(title, field, list(value) if isinstance(value, tuple) else value)


def _invalidate_derived(title_id: str, old_hashes: list[str], settings: Settings) -> None:
    """Invalidate cached assets derived from superseded versions (the cache keeps serving the old
    asset while the new one generates: stale-while-revalidate)."""
    try:
        from . import cache
    except ImportError:  # serving layer not installed in this build
        return
    invalidate = getattr(cache, "invalidate_title_versions", None)
    if invalidate is not None:
        invalidate(title_id, old_hashes, settings=settings)
