"""Catalog tables and repository for titles, title versions, analyses and the music library."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..errors import NotFound
from ..types import StreamInfo, TitleAnalysis, TitleInfo, TitleVersion
from .db import Base, utcnow

__all__ = [
    "TitleRow",
    "TitleVersionRow",
    "AnalysisRow",
    "MusicTrackRow",
    "TitleRepo",
    "MusicRepo",
]


class TitleRow(Base):
    __tablename__ = "titles"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(512))
    synopsis: Mapped[str] = mapped_column(sa.Text, default="")
    genres: Mapped[list] = mapped_column(sa.JSON, default=list)
    maturity_rating: Mapped[str] = mapped_column(String(16), default="PG")
    brand: Mapped[str | None] = mapped_column(String(128), nullable=True)
    attribution: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    current_version: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    serving_policy: Mapped[str] = mapped_column(String(32), default="auto")  # auto | approved_only
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def info(self) -> TitleInfo:
        return TitleInfo(
            id=self.id,
            name=self.name,
            synopsis=self.synopsis or "",
            genres=tuple(self.genres or ()),
            maturity_rating=self.maturity_rating,
            brand=self.brand,
        )


class TitleVersionRow(Base):
    __tablename__ = "title_versions"
    __table_args__ = (UniqueConstraint("title_id", "version"), UniqueConstraint("title_id", "content_hash"))

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    title_id: Mapped[str] = mapped_column(ForeignKey("titles.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(sa.Integer)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    source_path: Mapped[str] = mapped_column(sa.Text)
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    stream: Mapped[dict | None] = mapped_column(sa.JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="registered")
    error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def value(self) -> TitleVersion:
        return TitleVersion(
            title_id=self.title_id,
            version=self.version,
            content_hash=self.content_hash,
            source_path=self.source_path,
            size_bytes=self.size_bytes,
            stream=StreamInfo.from_dict(self.stream) if self.stream else None,
            status=self.status,
        )


class AnalysisRow(Base):
    """One analysis per title version. The full typed analysis is JSON; keyframes are files."""

    __tablename__ = "analyses"

    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    title_id: Mapped[str] = mapped_column(ForeignKey("titles.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(sa.Integer)
    analysis_version: Mapped[str] = mapped_column(String(16))
    n_shots: Mapped[int] = mapped_column(sa.Integer)
    data: Mapped[dict] = mapped_column(sa.JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MusicTrackRow(Base):
    __tablename__ = "music_tracks"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    title: Mapped[str] = mapped_column(String(512))
    artist: Mapped[str] = mapped_column(String(512), default="")
    licence: Mapped[str] = mapped_column(String(256), default="")
    attribution: Mapped[str] = mapped_column(sa.Text, default="")
    path: Mapped[str] = mapped_column(sa.Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    duration: Mapped[float] = mapped_column(sa.Float)
    tempo_bpm: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    key: Mapped[str | None] = mapped_column(String(16), nullable=True)
    energy: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    loudness_lufs: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    beats: Mapped[list] = mapped_column(sa.JSON, default=list)
    explicit: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    genres: Mapped[list] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "artist": self.artist,
            "licence": self.licence,
            "attribution": self.attribution,
            "path": self.path,
            "content_hash": self.content_hash,
            "duration": self.duration,
            "tempo_bpm": self.tempo_bpm,
            "key": self.key,
            "energy": self.energy,
            "loudness_lufs": self.loudness_lufs,
            "beats": list(self.beats or []),
            "explicit": bool(self.explicit),
            "genres": list(self.genres or []),
        }


class TitleRepo:
    """Queries on titles and their versions. Takes an open session (see ``session_scope``)."""

    def __init__(self, session: Session) -> None:
        self.s = session

    def get(self, title_id: str) -> TitleRow:
        row = self.s.get(TitleRow, title_id)
        if row is None:
            raise NotFound(f"unknown title id {title_id!r}", title_id=title_id)
        return row

    def find(self, title_id: str) -> TitleRow | None:
        return self.s.get(TitleRow, title_id)

    def list(self, limit: int = 1000, offset: int = 0) -> list[TitleRow]:
        return list(self.s.scalars(sa.select(TitleRow).order_by(TitleRow.id).limit(limit).offset(offset)))

    def versions(self, title_id: str) -> list[TitleVersionRow]:
        return list(
            self.s.scalars(
                sa.select(TitleVersionRow).where(TitleVersionRow.title_id == title_id).order_by(TitleVersionRow.version)
            )
        )

    def current_version(self, title_id: str) -> TitleVersionRow:
        title = self.get(title_id)
        if title.current_version is None:
            raise NotFound(f"title {title_id!r} has no ingested version yet", title_id=title_id)
        row = self.s.scalar(
            sa.select(TitleVersionRow).where(
                TitleVersionRow.title_id == title_id, TitleVersionRow.version == title.current_version
            )
        )
        if row is None:
            raise NotFound(f"title {title_id!r} version {title.current_version} is missing", title_id=title_id)
        return row

    def version_by_hash(self, title_id: str, content_hash: str) -> TitleVersionRow | None:
        return self.s.scalar(
            sa.select(TitleVersionRow).where(
                TitleVersionRow.title_id == title_id, TitleVersionRow.content_hash == content_hash
            )
        )

    def generation_inputs(self, title_id: str) -> tuple[TitleInfo, TitleAnalysis, Path]:
        """What a generator needs for the current version: title facts, analysis, source file."""
        return self.get(title_id).info(), self.analysis(title_id), Path(self.current_version(title_id).source_path)

    def analysis(self, title_id: str, version: int | None = None) -> TitleAnalysis:
        """The stored analysis of the current (or given) version; NotFound when not analysed."""
        if version is None:
            vrow = self.current_version(title_id)
        else:
            vrow = self.s.scalar(
                sa.select(TitleVersionRow).where(
                    TitleVersionRow.title_id == title_id, TitleVersionRow.version == version
                )
            )
            if vrow is None:
                raise NotFound(f"title {title_id!r} has no version {version}", title_id=title_id)
        row = self.s.get(AnalysisRow, vrow.content_hash)
        if row is None:
            raise NotFound(
                f"title {title_id!r} version {vrow.version} has not been analysed (status: {vrow.status})",
                title_id=title_id,
            )
        return TitleAnalysis.from_dict(row.data)


class MusicRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def get(self, track_id: str) -> MusicTrackRow:
        row = self.s.get(MusicTrackRow, track_id)
        if row is None:
            raise NotFound(f"unknown music track id {track_id!r}", track_id=track_id)
        return row

    def list(self) -> list[MusicTrackRow]:
        return list(self.s.scalars(sa.select(MusicTrackRow).order_by(MusicTrackRow.id)))
