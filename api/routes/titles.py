"""Titles: register/ingest (admin; a path on the server or an upload), read, list, analysis
status, serving policy."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, File, Form, Query, UploadFile

from genperso.catalog import session_scope
from genperso.catalog.assets import JobRow
from genperso.catalog.titles import AnalysisRow, TitleRepo, TitleRow
from genperso.errors import InvalidInput
from genperso.pipeline import forget_title
from genperso.types import validate_id

from ..deps import Admin, AnyRole, PipelineDep, SettingsDep
from ..errors import ERROR_RESPONSES
from ..schemas import AnalysisStatus, JobOut, TitleIn, TitleList, TitleOut, TitlePatch

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["titles"])


def _analysis(s, row: TitleRow) -> AnalysisStatus:  # type: ignore[no-untyped-def]
    job = s.scalar(sa.select(JobRow).where(JobRow.title_id == row.id, JobRow.kind == "analysis")
                   .order_by(JobRow.created_at.desc()).limit(1))
    jo = JobOut(**job.to_dict()) if job is not None else None
    if row.current_version is None:
        return AnalysisStatus(title_id=row.id, version=None, status=jo.status if jo else "registered", job=jo)
    v = TitleRepo(s).current_version(row.id)
    a = s.get(AnalysisRow, v.content_hash)
    status = "ready" if a is not None else v.status
    if jo is not None and jo.status in ("queued", "running", "retrying"):
        status = "analysing"
    return AnalysisStatus(title_id=row.id, version=v.version, status=status, n_shots=a.n_shots if a else None,
                          duration=(v.stream or {}).get("duration"), job=jo)


def _title(s, row: TitleRow) -> TitleOut:  # type: ignore[no-untyped-def]
    versions = [{"version": v.version, "content_hash": v.content_hash, "status": v.status,
                 "size_bytes": v.size_bytes} for v in TitleRepo(s).versions(row.id)]
    return TitleOut(id=row.id, name=row.name, synopsis=row.synopsis or "", genres=list(row.genres or []),
                    maturity_rating=row.maturity_rating, brand=row.brand, serving_policy=row.serving_policy or "auto",
                    current_version=row.current_version, versions=versions, analysis=_analysis(s, row))


@router.post("/titles", response_model=AnalysisStatus, status_code=202, responses=ERROR_RESPONSES)
def register_title(body: TitleIn, principal: Admin, pipeline: PipelineDep) -> AnalysisStatus:
    """Register (a new version of) a title from a media file on the server and queue its analysis."""
    job_id = pipeline.submit_ingest(body.path, body.title_id, body.meta)
    return AnalysisStatus(title_id=body.title_id, version=None, status="analysing", job=JobOut(**pipeline.job(job_id)))


@router.post("/titles/upload", response_model=AnalysisStatus, status_code=202, responses=ERROR_RESPONSES)
async def upload_title(principal: Admin, pipeline: PipelineDep, settings: SettingsDep,
                       title_id: Annotated[str, Form()], file: Annotated[UploadFile, File()],
                       meta: Annotated[str, Form()] = "{}") -> AnalysisStatus:
    """Upload a media file (multipart) and queue its ingestion (limit: ``max_file_bytes``)."""
    validate_id(title_id, "title id")
    try:
        meta_d = json.loads(meta or "{}")
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"meta must be a JSON object: {exc}", field="meta") from None
    if not isinstance(meta_d, dict):
        raise InvalidInput("meta must be a JSON object", field="meta")
    suffix = Path(file.filename or "upload.mp4").suffix.lower()[:8] or ".mp4"
    updir = Path(settings.data_dir) / "uploads"
    updir.mkdir(parents=True, exist_ok=True)
    dest = updir / f"{uuid.uuid4().hex}{suffix}"
    tmp = dest.with_name(f".{dest.name}.tmp")
    size = 0
    try:
        with open(tmp, "wb") as out:
            while chunk := await file.read(1024 * 1024):
                size += len(chunk)
                if size > settings.max_file_bytes:
                    raise InvalidInput(f"upload is larger than the limit of {settings.max_file_bytes} bytes")
                out.write(chunk)
        if size == 0:
            raise InvalidInput("the uploaded file is empty", field="file")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    job_id = pipeline.submit_ingest(str(dest), title_id, meta_d)
    return AnalysisStatus(title_id=title_id, version=None, status="analysing", job=JobOut(**pipeline.job(job_id)))


@router.get("/titles", response_model=TitleList, responses=ERROR_RESPONSES)
def list_titles(principal: AnyRole, settings: SettingsDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                offset: Annotated[int, Query(ge=0)] = 0) -> TitleList:
    with session_scope(settings) as s:
        rows = TitleRepo(s).list(limit=limit, offset=offset)
        total = int(s.scalar(sa.select(sa.func.count()).select_from(TitleRow)) or 0)
        return TitleList(titles=[_title(s, r) for r in rows], total=total)


@router.get("/titles/{title_id}", response_model=TitleOut, responses=ERROR_RESPONSES)
def get_title(title_id: str, principal: AnyRole, settings: SettingsDep) -> TitleOut:
    with session_scope(settings) as s:
        return _title(s, TitleRepo(s).get(title_id))


@router.get("/titles/{title_id}/analysis", response_model=AnalysisStatus, responses=ERROR_RESPONSES)
def analysis_status(title_id: str, principal: AnyRole, settings: SettingsDep) -> AnalysisStatus:
    with session_scope(settings) as s:
        row = s.get(TitleRow, title_id)
        if row is None:
            job = s.scalar(sa.select(JobRow).where(JobRow.title_id == title_id, JobRow.kind == "analysis")
                           .order_by(JobRow.created_at.desc()).limit(1))
            if job is None:
                TitleRepo(s).get(title_id)  # raises NotFound
            return AnalysisStatus(title_id=title_id, version=None,
                                  status="analysing" if job.status in ("queued", "running", "retrying") else job.status,
                                  job=JobOut(**job.to_dict()))
        return _analysis(s, row)


@router.patch("/titles/{title_id}", response_model=TitleOut, responses=ERROR_RESPONSES)
def patch_title(title_id: str, body: TitlePatch, principal: Admin, settings: SettingsDep) -> TitleOut:
    with session_scope(settings) as s:
        row = TitleRepo(s).get(title_id)
        row.serving_policy = body.serving_policy
        s.flush()
        out = _title(s, row)
    forget_title(title_id)
    return out
