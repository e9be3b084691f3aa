"""Editorial review: approve, reject, pin, regenerate and the per-title serving policy.

Every action runs in one transaction with its audit row (who: API key id, name and role; when;
what; state before and after), so the history is exactly what happened. After the transaction
the serving cache of the affected slot is invalidated, so ``personalize`` sees the new state on
its next request. The serving side enforces the outcome: rejected and blocked assets are never
served, a title under ``approved_only`` serves only approved assets, a pinned asset wins its
(title, angle, kind) slot.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .catalog import session_scope
from .catalog.assets import AssetRepo, AssetRow
from .catalog.review import REVIEW_ACTIONS, HistoryFilter, ReviewLogRepo
from .catalog.titles import TitleRepo
from .config import Settings, get_settings
from .errors import Conflict, InvalidInput
from .logs import get_logger
from .types import AssetKey

__all__ = [
    "SERVING_POLICIES",
    "PIN_KINDS",
    "REVIEW_ROLES",
    "Actor",
    "ActionResult",
    "approve",
    "reject",
    "pin",
    "set_serving_policy",
    "regenerate",
    "history",
    "asset_summary",
    "safety_decision",
]

log = get_logger("genperso.review")

SERVING_POLICIES: tuple[str, ...] = ("auto", "approved_only")
REVIEW_ROLES: tuple[str, ...] = ("reviewer", "admin")
MAX_REASON = 2000
PIN_KINDS: tuple[str, ...] = ("artwork",)  # generators that read ``pinned_shot`` / ``pinned_time``


@dataclass(frozen=True)
class Actor:
    """Who performs a review action: the API key's id (a hash prefix, never the key), name and role."""

    id: str
    name: str
    role: str

    def __post_init__(self) -> None:
        if self.role not in REVIEW_ROLES:
            raise InvalidInput(f"role {self.role!r} may not review; needs one of {', '.join(REVIEW_ROLES)}")


@dataclass(frozen=True)
class ActionResult:
    action: str
    asset: dict[str, Any] | None
    title_id: str
    history_id: int
    job: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action, "title_id": self.title_id, "history_id": self.history_id}
        if self.asset is not None:
            out["asset"] = self.asset
        if self.job is not None:
            out["job"] = self.job
        return out


def asset_summary(row: AssetRow) -> dict[str, Any]:
    """The review-relevant fields of an asset row (JSON-ready)."""
    return {
        "asset_id": row.asset_id,
        "title_id": row.title_id,
        "title_version": row.title_version,
        "angle_id": row.angle_id,
        "kind": row.kind,
        "state": row.state,
        "pinned": bool(row.pinned),
        "is_default": bool(row.is_default),
        "safety_decision": safety_decision(row.safety or {}),
        "created_at": row.created_at.isoformat(timespec="seconds") + "Z" if row.created_at else None,
    }


def safety_decision(safety: dict[str, Any]) -> str | None:
    d = safety.get("decision")
    if isinstance(d, str):
        return d
    verdicts = safety.get("verdicts")
    if isinstance(verdicts, list) and verdicts:
        rank = {"allow": 0, "review": 1, "block": 2}
        ds = [v.get("decision") for v in verdicts if isinstance(v, dict) and v.get("decision") in rank]
        if ds:
            return max(ds, key=lambda x: rank[x])
    return None


def _audit_actor(actor: Actor) -> str:
    return f"{actor.name} ({actor.role}, {actor.id})"[:128]


def _slot(row: AssetRow) -> dict[str, Any]:
    return {"state": row.state, "pinned": bool(row.pinned)}


def _invalidate(title_id: str, angle_id: str | None, kind: str | None, settings: Settings) -> None:
    """Drop cached serving answers after an editorial change: the records of every asset in the
    slot (or the whole title) and the slot pointers; the catalog refills them on the next lookup."""
    from . import cache

    with session_scope(settings) as s:
        q = sa.select(AssetRow.asset_id, AssetRow.angle_id, AssetRow.kind).where(AssetRow.title_id == title_id)
        if angle_id is not None:
            q = q.where(AssetRow.angle_id == angle_id)
        if kind is not None:
            q = q.where(AssetRow.kind == kind)
        found = list(s.execute(q))
    digests = [d for d, _, _ in found]
    slots = sorted({(title_id, a, k) for _, a, k in found})
    cache.get_cache(settings).forget(digests, slots)
    try:
        from . import pipeline
    except ImportError:  # serving pipeline absent in this build: nothing else is cached
        return
    forget_title = getattr(pipeline, "forget_title", None)
    if forget_title is not None:
        forget_title(title_id)


def _act_on_asset(
    asset_id: str, actor: Actor, action: str, settings: Settings | None, *, reason: str | None = None,
    pinned: bool | None = None,
) -> ActionResult:
    settings = settings or get_settings()
    with session_scope(settings) as s:
        repo = AssetRepo(s)
        row = repo.get(asset_id)
        before = _slot(row)
        if action == "approve":
            if row.state == "blocked":
                raise Conflict(f"asset {row.asset_id[:20]} was blocked by the safety gate and cannot be approved")
            repo.set_state(row.asset_id, "approved")
        elif action == "reject":
            repo.set_state(row.asset_id, "rejected")
        elif action in ("pin", "unpin"):
            if pinned and row.is_default:
                raise InvalidInput("a title default is the fallback of every angle: approve it instead of pinning")
            if pinned and row.state in ("rejected", "blocked"):
                raise Conflict(f"asset {row.asset_id[:20]} is {row.state}; a {row.state} asset cannot be pinned")
            if pinned and row.state != "approved":  # the editorial choice is an approval too
                repo.set_state(row.asset_id, "approved")
            repo.pin(row.asset_id, bool(pinned))
        after = _slot(row)
        entry = ReviewLogRepo(s).add(
            actor_id=actor.id, actor_name=actor.name, actor_role=actor.role, action=action,
            title_id=row.title_id, angle_id=row.angle_id, kind=row.kind, asset_id=row.asset_id,
            reason=reason, before=before, after=after,
        )
        repo.audit(_audit_actor(actor), f"review:{action}", row.asset_id, reason=reason, before=before, after=after)
        result = ActionResult(action, asset_summary(row), row.title_id, entry.id)
        slot = (row.title_id, row.angle_id, row.kind)
    _invalidate(*slot, settings)
    log.info("review.action", action=action, asset_id=asset_id, actor=actor.id, role=actor.role)
    return result


def approve(asset_id: str, actor: Actor, *, settings: Settings | None = None) -> ActionResult:
    """Mark an asset approved (servable under ``approved_only``). Blocked assets -> Conflict."""
    return _act_on_asset(asset_id, actor, "approve", settings)


def reject(asset_id: str, actor: Actor, reason: str, *, settings: Settings | None = None) -> ActionResult:
    """Mark an asset rejected (never served; unpinned). A non-empty reason is required."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("a reason is required to reject an asset", field="reason")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"the reason is longer than {MAX_REASON} characters", field="reason")
    return _act_on_asset(asset_id, actor, "reject", settings, reason=reason)


def pin(asset_id: str, actor: Actor, *, pinned: bool = True, settings: Settings | None = None) -> ActionResult:
    """Make an asset the editorial choice of its (title, angle, kind) slot (unpins the previous
    one; approves it when it was not approved yet), or unpin it with ``pinned=False``."""
    return _act_on_asset(asset_id, actor, "pin" if pinned else "unpin", settings, pinned=pinned)


def set_serving_policy(title_id: str, policy: str, actor: Actor, *, settings: Settings | None = None) -> ActionResult:
    """``auto``: serve outputs that passed the safety gate. ``approved_only``: only approved ones."""
    if policy not in SERVING_POLICIES:
        raise InvalidInput(f"serving policy must be one of {', '.join(SERVING_POLICIES)}; got {policy!r}",
                           field="policy")
    settings = settings or get_settings()
    with session_scope(settings) as s:
        title = TitleRepo(s).get(title_id)
        before = {"serving_policy": title.serving_policy}
        title.serving_policy = policy
        entry = ReviewLogRepo(s).add(
            actor_id=actor.id, actor_name=actor.name, actor_role=actor.role, action="serving_policy",
            title_id=title_id, before=before, after={"serving_policy": policy},
        )
        AssetRepo(s).audit(_audit_actor(actor), "review:serving_policy", title_id, before=before,
                           after={"serving_policy": policy})
        result = ActionResult("serving_policy", None, title_id, entry.id)
    _invalidate(title_id, None, None, settings)
    log.info("review.serving_policy", title_id=title_id, policy=policy, actor=actor.id)
    return result


def regenerate(
    asset_id: str,
    actor: Actor,
    *,
    seed: int | None = None,
    shot: int | None = None,
    frame_time: float | None = None,
    settings: Settings | None = None,
    pipeline: Any = None,
) -> ActionResult:
    """Queue a new generation for the asset's slot with another seed (random when not given) and
    optionally a pinned source shot (``pinned_shot``) or frame time (``pinned_time``). These go
    into the key's params, so the new asset has a new content address; the old one stays
    reviewable (and servable if it was) until the new one is reviewed. Source pinning is offered
    for the kinds whose generator reads it (``PIN_KINDS``). ``pipeline`` defaults to the
    process's ``genperso.pipeline.get_pipeline``; the API passes its own."""
    settings = settings or get_settings()
    if seed is not None and not (0 <= int(seed) < 2**32):
        raise InvalidInput("seed must be an integer in [0, 2^32)", field="seed")
    if shot is not None and frame_time is not None:
        raise InvalidInput("pin either a source shot or a source frame, not both")
    with session_scope(settings) as s:
        row = AssetRepo(s).get(asset_id)
        full_id, title_id, angle_id, kind = row.asset_id, row.title_id, row.angle_id, row.kind
        if row.is_default:
            raise InvalidInput("a title default asset is not made by a generator: reject it instead of regenerating")
        key = AssetKey.from_dict(row.key)
        if (shot is not None or frame_time is not None) and kind not in PIN_KINDS:
            raise InvalidInput(f"pinning a source shot or frame is supported for {', '.join(PIN_KINDS)} only; "
                               f"the {kind} generator chooses its own sources", field="shot")
        if shot is not None or frame_time is not None:
            analysis = TitleRepo(s).analysis(title_id, row.title_version)
            if shot is not None and not (0 <= int(shot) < len(analysis.shots)):
                raise InvalidInput(
                    f"shot {shot} does not exist: title version {row.title_version} has {len(analysis.shots)} shots",
                    field="shot")
            if frame_time is not None and not (0.0 <= float(frame_time) < analysis.duration):
                raise InvalidInput(f"frame_time {frame_time} is outside the film (0 to {analysis.duration:.2f} s)",
                                   field="frame_time")
    params = dict(key.params)
    for k in ("seed", "pinned_shot", "pinned_time"):
        params.pop(k, None)
    params["seed"] = int(seed) if seed is not None else secrets.randbelow(2**32)
    if shot is not None:
        params["pinned_shot"] = int(shot)
    if frame_time is not None:
        params["pinned_time"] = round(float(frame_time), 3)
    new_key = dataclasses.replace(key, params=params)
    if pipeline is None:
        from .pipeline import get_pipeline

        pipeline = get_pipeline(settings)
    job_id = pipeline.ensure_job(new_key, title_id)
    changed = {k: params[k] for k in ("seed", "pinned_shot", "pinned_time") if k in params}
    with session_scope(settings) as s:
        entry = ReviewLogRepo(s).add(
            actor_id=actor.id, actor_name=actor.name, actor_role=actor.role, action="regenerate",
            title_id=title_id, angle_id=angle_id, kind=kind, asset_id=full_id, params=changed,
            after={"job_id": job_id, "new_asset_id": new_key.digest},
        )
        AssetRepo(s).audit(_audit_actor(actor), "review:regenerate", full_id, job_id=job_id,
                           new_asset_id=new_key.digest, **changed)
        history_id = entry.id
    log.info("review.regenerate", asset_id=full_id, actor=actor.id, job_id=job_id, **changed)
    job = {"job_id": job_id, "asset_id": new_key.digest, "params": changed}
    return ActionResult("regenerate", None, title_id, history_id, job=job)


def history(
    *, title_id: str | None = None, asset_id: str | None = None, action: str | None = None,
    limit: int = 50, offset: int = 0, settings: Settings | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Audit entries, newest first, and their total count."""
    if action is not None and action not in REVIEW_ACTIONS:
        raise InvalidInput(f"action must be one of {', '.join(REVIEW_ACTIONS)}; got {action!r}", field="action")
    limit = max(1, min(int(limit), 500))
    offset = max(0, int(offset))
    settings = settings or get_settings()
    with session_scope(settings) as s:
        if asset_id is not None:
            asset_id = AssetRepo(s).get(asset_id).asset_id
        f = HistoryFilter(title_id=title_id, asset_id=asset_id, action=action)
        repo = ReviewLogRepo(s)
        return [r.to_dict() for r in repo.list(f, limit=limit, offset=offset)], repo.count(f)
