"""Batch pre-generation: top titles x angles x kinds through the same single-flight ``generate``
jobs as the request path. Skips what is cached; resumable (each (batch, asset key) is a catalog row,
and keys are content addresses, so a re-run only does what is missing)."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import sqlalchemy as sa

from .catalog import session_scope, utcnow
from .catalog.assets import AssetRow, BatchItemRow, JobRow
from .catalog.titles import TitleRow
from .errors import InvalidInput, NotFound
from .logs import get_logger
from .pipeline import Pipeline, _normalise_params
from .types import ASSET_KINDS, AssetKey

__all__ = ["BatchSummary", "top_titles", "plan_batch", "run_batch"]

log = get_logger("genperso.batch")
RECENT_DAYS = 7
ITEM_FROM_JOB = {"done": "done", "blocked": "blocked", "review": "review", "failed": "failed"}


@dataclass
class BatchSummary:
    batch_id: str
    items: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "items": self.items, "counts": dict(self.counts),
                "seconds": round(self.seconds, 3)}


def top_titles(pipeline: Pipeline, n: int) -> list[str]:
    """Titles with an analysed version, most angle decisions (impressions) in the last week
    first, then catalog order."""
    since = utcnow() - dt.timedelta(days=RECENT_DAYS)
    with session_scope(pipeline.settings) as s:
        ids = [t for (t,) in s.execute(sa.select(TitleRow.id).where(TitleRow.current_version.is_not(None))
                                       .order_by(TitleRow.id))]
        counts: dict[str, int] = {}
        try:
            from .angles.decision_log import flush_decision_log
            from .catalog.angles import AngleDecisionRow

            flush_decision_log(pipeline.settings)

            counts = {t: int(c) for t, c in s.execute(
                sa.select(AngleDecisionRow.title_id, sa.func.count()).where(AngleDecisionRow.created_at >= since)
                .group_by(AngleDecisionRow.title_id))}
        except ImportError:  # angle decisions not part of this build: catalog order
            pass
    ids.sort(key=lambda t: -counts.get(t, 0))
    return ids[:n]


def plan_batch(pipeline: Pipeline, *, top: int, angles: Sequence[str] | None, kinds: Sequence[str],
               maturity: str = "adult") -> list[tuple[str, AssetKey]]:
    from .angles.catalog import load_angles

    catalog = load_angles()
    angle_ids = list(angles) if angles else list(catalog.ids)
    for a in angle_ids:
        catalog.get(a)  # NotFound for unknown angles
    for k in kinds:
        if k not in ASSET_KINDS:
            raise InvalidInput(f"unknown asset kind {k!r}; use {', '.join(ASSET_KINDS)}")
    titles = top_titles(pipeline, top)
    if not titles:
        raise NotFound("no analysed titles in the catalog: ingest some first")
    out = []
    for t in titles:
        st = pipeline.title_state(t)
        for a in angle_ids:
            for k in kinds:
                out.append((t, pipeline.build_key(st, a, k, _normalise_params(k, None, maturity))))
    return out


def run_batch(pipeline: Pipeline, *, top: int = 10, angles: Sequence[str] | None = None,
              kinds: Sequence[str] = ("artwork",), batch_id: str | None = None, wait: bool = True,
              timeout_s: float = 24 * 3600, progress: Callable[[int, int, dict[str, int]], None] | None = None
              ) -> BatchSummary:
    t0 = time.perf_counter()
    settings = pipeline.settings
    with session_scope(settings) as s:
        existing = batch_id is not None and s.scalar(
            sa.select(sa.func.count()).select_from(BatchItemRow).where(BatchItemRow.batch_id == batch_id))
    if batch_id is not None and not existing:
        raise NotFound(f"unknown batch id {batch_id!r}")
    if not batch_id:
        batch_id = uuid.uuid4().hex[:16]
        plan = plan_batch(pipeline, top=top, angles=angles, kinds=kinds)
        with session_scope(settings) as s:
            for title_id, key in plan:
                s.merge(BatchItemRow(batch_id=batch_id, asset_id=key.digest, title_id=title_id, angle_id=key.angle_id,
                                     kind=key.kind, key=key.to_dict(), status="pending"))
        log.info("batch.planned", batch_id=batch_id, items=len(plan))
    # submit what is not done yet (resume: pending items, and failed ones get another go)
    with session_scope(settings) as s:
        items = list(s.scalars(sa.select(BatchItemRow).where(BatchItemRow.batch_id == batch_id)))
        todo = [(i.asset_id, i.title_id, i.key, i.status, i.job_id) for i in items]
        have = {d: st for d, st in s.execute(
            sa.select(AssetRow.asset_id, AssetRow.state).where(AssetRow.asset_id.in_([t[0] for t in todo])))}
        job_status = {j: st for j, st in s.execute(
            sa.select(JobRow.id, JobRow.status).where(JobRow.id.in_([t[4] for t in todo if t[4]])))}
    updates: dict[str, tuple[str, str | None]] = {}
    for digest, title_id, key, status, job_id in todo:
        if status in ("cached", "done", "blocked", "review"):
            continue
        if digest in have:
            updates[digest] = ("blocked" if have[digest] == "blocked" else "cached", job_id)
            continue
        if status == "queued" and job_id and job_status.get(job_id) in ("queued", "running", "retrying"):
            continue
        updates[digest] = ("queued", pipeline.ensure_job(AssetKey.from_dict(key), title_id, batch_id=batch_id))
    _apply(pipeline, batch_id, updates)
    summary = _summary(pipeline, batch_id)
    if progress:
        progress(_finished(summary.counts), summary.items, summary.counts)
    deadline = time.monotonic() + timeout_s
    while wait and summary.counts.get("queued", 0) and time.monotonic() < deadline:
        time.sleep(0.2)
        _refresh(pipeline, batch_id)
        summary = _summary(pipeline, batch_id)
        if progress:
            progress(_finished(summary.counts), summary.items, summary.counts)
    summary.seconds = time.perf_counter() - t0
    return summary


def _finished(counts: dict[str, int]) -> int:
    return sum(n for st, n in counts.items() if st not in ("queued", "pending"))


def _apply(pipeline: Pipeline, batch_id: str, updates: dict[str, tuple[str, str | None]]) -> None:
    if not updates:
        return
    with session_scope(pipeline.settings) as s:
        for item in s.scalars(sa.select(BatchItemRow).where(BatchItemRow.batch_id == batch_id,
                                                             BatchItemRow.asset_id.in_(list(updates)))):
            item.status, item.job_id = updates[item.asset_id]


def _refresh(pipeline: Pipeline, batch_id: str) -> None:
    with session_scope(pipeline.settings) as s:
        rows = s.execute(
            sa.select(BatchItemRow, JobRow.status).join(JobRow, JobRow.id == BatchItemRow.job_id)
            .where(BatchItemRow.batch_id == batch_id, BatchItemRow.status == "queued"))
        for item, jstatus in rows:
            if jstatus in ITEM_FROM_JOB:
                # the job of another batch/request may have made it: "done" only for our own job
                item.status = ITEM_FROM_JOB[jstatus]


def _summary(pipeline: Pipeline, batch_id: str) -> BatchSummary:
    with session_scope(pipeline.settings) as s:
        counts = {st: int(n) for st, n in s.execute(
            sa.select(BatchItemRow.status, sa.func.count()).where(BatchItemRow.batch_id == batch_id)
            .group_by(BatchItemRow.status))}
    return BatchSummary(batch_id=batch_id, items=sum(counts.values()), counts=counts)
