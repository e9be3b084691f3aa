"""Serving orchestration: ``personalize`` (request path) and ``run_job``/``generate`` (worker path).

Request path: policy chooses the angle -> one ``AssetKey`` per wanted kind -> one cache lookup
for the exact digests and the pinned slots -> per kind: pinned asset, exact hit, or (miss) a
single-flight generation job plus an immediate safe fallback (stale asset of the same slot, the
last approved/served asset of the title and kind, or the title's neutral default).

Worker path: load the key of a job -> analysis -> generator -> safety gate -> store the chosen
candidate atomically -> catalog record -> cache -> release the claim. Idempotent: a key whose
asset exists is not generated again.

Collaborators are injected (policy, gate, dispatcher, cache, storage) so tests and benchmarks
use plain adapters; defaults come from ``genperso.angles.policy``, ``safety`` and ``genperso.jobs``.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .cache import AssetCache, CacheEntry, Slot, fits, get_cache, servable
from .catalog import session_scope, utcnow
from .catalog.assets import AssetRepo, JobRepo
from .catalog.titles import TitleRepo
from .config import Settings, get_settings
from .errors import GenPersoError, InvalidInput, NotFound, Retryable
from .generators.base import GenerationRequest, Generator, get_generator
from .logs import get_logger
from .storage import Storage, get_storage
from .types import ASSET_KINDS, AngleDecision, AssetKey, AssetRecord, Context, UserProfile, canonical_json, daypart

__all__ = [
    "DEFAULT_PARAMS",
    "TitleState",
    "KindResult",
    "PersonalizeResult",
    "Pipeline",
    "get_pipeline",
    "reset_pipelines",
    "forget_title",
    "queue_for",
    "regenerate",
    "resolve_cached",
]

log = get_logger("genperso.pipeline")

DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "trailer": {"duration": 30.0, "aspect": "16:9"},
    "artwork": {"candidates": 4, "formats": ["16:9"]},
    "titles": {"n": 5},
    "remix": {"max_track_seconds": 90.0},  # a two-track remix of about three minutes
}
GPU_KINDS = frozenset({"trailer", "artwork", "titles"})
TITLE_TTL_S = 2.0  # how long a process trusts its copy of a title's serving policy / version
KEY_MEMO_SIZE = 20_000  # memoised request keys per pipeline (cleared when full)


def queue_for(kind: str, settings: Settings) -> str:
    """Trailer, artwork (diffusion) and titles (LM) go to the ``gpu`` queue when a CUDA device is
    configured (``GENPERSO_DEVICE=cuda...``); everything else, and every kind on CPU-only
    installations, goes to ``cpu``."""
    return "gpu" if kind in GPU_KINDS and settings.device.startswith("cuda") else "cpu"


@dataclass(frozen=True)
class TitleState:
    title_id: str
    name: str
    serving_policy: str
    version: int
    version_hash: str
    brand: str | None
    fetched_at: float


@dataclass(frozen=True)
class KindResult:
    kind: str
    status: str  # pinned | hit | stale | fallback | default | pending | unavailable
    asset: CacheEntry | None
    wanted_asset_id: str
    job_id: str | None = None


@dataclass(frozen=True)
class PersonalizeResult:
    decision: AngleDecision
    title: TitleState
    results: Mapping[str, KindResult]


_titles: dict[tuple[str, str], TitleState] = {}
_titles_lock = threading.Lock()


def forget_title(title_id: str | None = None) -> None:
    with _titles_lock:
        for k in [k for k in _titles if title_id is None or k[1] == title_id]:
            _titles.pop(k, None)


_DAYPART_HOUR = {"morning": 9.0, "afternoon": 14.0, "evening": 20.0, "night": 23.0}


def _context_params(kind: str, context: Context | None) -> dict[str, Any]:
    """The parts of the request context that change an asset, coarsened so users still share it:
    remixes follow an activity's cadence ("morning run"); titles name the daypart, the activity and
    the device. Trailers and artwork do not depend on the context (only on the angle)."""
    if context is None:
        return {}
    activity = (context.activity or "").strip().lower()[:40]
    if kind == "remix" and activity:
        return {"context": {"activity": activity}}
    if kind == "titles":
        ctx: dict[str, Any] = {"hour": _DAYPART_HOUR[daypart(context.hour)], "device": context.device}
        if activity:
            ctx["activity"] = activity
        return {"context": ctx}
    return {}


def _normalise_params(kind: str, params: Mapping[str, Any] | None, maturity: str,
                      context: Context | None = None) -> dict[str, Any]:
    if kind not in ASSET_KINDS:
        raise InvalidInput(f"unknown asset kind {kind!r}; use one of {', '.join(ASSET_KINDS)}", field="kinds")
    merged = dict(DEFAULT_PARAMS[kind]) | _context_params(kind, context)
    for k, v in (params or {}).items():
        if not isinstance(k, str) or not isinstance(v, (str, int, float, bool, list, type(None))):
            raise InvalidInput(f"params for {kind} must map names to JSON scalars or lists; bad {k!r}")
        merged[k] = v
    merged["maturity"] = maturity
    try:
        canonical_json(merged)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"params for {kind} are not JSON: {exc}") from None
    return merged


def _default_chooser(settings: Settings) -> Any:
    from .angles.policy import get_policy

    return get_policy(settings)


def _default_gate() -> Callable[..., Any]:
    try:
        import safety
        gate = getattr(safety, "gate")
    except (ImportError, AttributeError):
        raise GenPersoError("the safety gate (safety.gate) is not installed; nothing can be served ungated") from None
    return gate


def _default_policy_version() -> str:
    try:
        from safety.policy import policy_version
    except ImportError:
        raise GenPersoError("the safety policy (safety.policy) is not installed") from None
    return policy_version()


class Pipeline:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        cache: AssetCache | None = None,
        storage: Storage | None = None,
        chooser: Any = None,
        gate: Callable[..., Any] | None = None,
        policy_version: Callable[[], str] | None = None,
        dispatcher: Any = None,
        generators: Mapping[str, Generator] | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.cache = cache or get_cache(self.settings)
        self.storage = storage or get_storage(self.settings)
        self._chooser = chooser
        self._gate = gate
        self._policy_version_fn = policy_version or _default_policy_version
        self._pv: tuple[float, str] | None = None
        self._generators: dict[str, Generator] = dict(generators or {})
        self._gen_lock = threading.Lock()
        self._dispatcher = dispatcher
        self._keys: dict[tuple[Any, ...], tuple[AssetKey, str]] = {}
        self._title_ns: str | None = None

    # ---- collaborators ------------------------------------------------------------------------
    @property
    def chooser(self) -> Any:
        if self._chooser is None:
            self._chooser = _default_chooser(self.settings)
        return self._chooser

    @property
    def gate(self) -> Callable[..., Any]:
        if self._gate is None:
            self._gate = _default_gate()
        return self._gate

    @property
    def dispatcher(self) -> Any:
        if self._dispatcher is None:
            from .jobs import get_dispatcher

            self._dispatcher = get_dispatcher(self.settings, self.run)
        return self._dispatcher

    def generator(self, kind: str) -> Generator:
        """One generator instance per kind per process (models load once, lazily, inside it)."""
        gen = self._generators.get(kind)
        if gen is None:
            with self._gen_lock:
                gen = self._generators.get(kind)
                if gen is None:
                    gen = self._generators[kind] = get_generator(kind)()
        return gen

    # ---- keys -----------------------------------------------------------------------------------
    def _policy_version(self) -> str:
        """The safety policy version (part of every key), re-read at most every ``TITLE_TTL_S``."""
        now = time.monotonic()
        pv = self._pv
        if pv is None or now - pv[0] > TITLE_TTL_S:
            pv = self._pv = (now, self._policy_version_fn())
        return pv[1]

    def cached_title(self, title_id: str) -> TitleState | None:
        """This process's copy of a title's state if it is fresh (no catalog read), else None."""
        ns = self._title_ns
        if ns is None:
            ns = self._title_ns = self.settings.db_url  # a computed property: read it once
        st = _titles.get((ns, title_id))
        return st if st is not None and time.monotonic() - st.fetched_at < TITLE_TTL_S else None

    def title_state(self, title_id: str, *, refresh: bool = False) -> TitleState:
        """A title's serving state, read from the catalog at most every ``TITLE_TTL_S`` (or now,
        with ``refresh``: the hot path refreshes ahead of expiry so requests never wait on it)."""
        k = (self.settings.db_url, title_id)
        st = _titles.get(k)
        if not refresh and st is not None and time.monotonic() - st.fetched_at < TITLE_TTL_S:
            return st
        with session_scope(self.settings) as s:
            repo = TitleRepo(s)
            row = repo.get(title_id)
            v = repo.current_version(title_id)
            st = TitleState(title_id, row.name, row.serving_policy or "auto", v.version, v.content_hash, row.brand,
                            time.monotonic())
        with _titles_lock:
            _titles[k] = st
        return st

    def build_key(self, title: TitleState, angle_id: str, kind: str, params: Mapping[str, Any]) -> AssetKey:
        gen = self.generator(kind)
        return AssetKey(
            title_version_hash=title.version_hash,
            angle_id=angle_id,
            kind=kind,
            params=dict(params),
            generator=gen.name,
            generator_version=gen.version,
            config=gen.config.to_dict(),
            model_revisions=dict(gen.model_revisions()),
            safety_policy_version=self._policy_version(),
        )

    def request_key(self, title: TitleState, angle_id: str, kind: str, params: Mapping[str, Any] | None,
                    context: Context) -> tuple[AssetKey, str]:
        """(key, digest) of the asset a request wants: memoised per title version, angle, kind,
        request parameters, generator and safety policy version, so the hot path does not rebuild
        and re-hash the same key on every request."""
        if kind not in ASSET_KINDS:
            raise InvalidInput(f"unknown asset kind {kind!r}; use one of {', '.join(ASSET_KINDS)}", field="kinds")
        gen = self.generator(kind)
        if params:
            norm: dict[str, Any] | None = _normalise_params(kind, params, context.maturity, context)
            memo: tuple[Any, ...] = (title.version_hash, angle_id, kind, canonical_json(norm), id(gen), gen.name,
                                     gen.version, self._policy_version())
        else:  # no request parameters: the key follows from the context fields _context_params reads
            norm = None
            memo = (title.version_hash, angle_id, kind, context.maturity, daypart(context.hour), context.device,
                    (context.activity or "").strip().lower()[:40], id(gen), gen.name, gen.version,
                    self._policy_version())
        hit = self._keys.get(memo)
        if hit is None:
            if norm is None:
                norm = _normalise_params(kind, params, context.maturity, context)
            key = self.build_key(title, angle_id, kind, norm)
            hit = (key, key.digest)
            if len(self._keys) >= KEY_MEMO_SIZE:
                self._keys.clear()
            self._keys[memo] = hit
        return hit

    # ---- request path -----------------------------------------------------------------------------
    def personalize(
        self,
        user: UserProfile,
        title_id: str,
        kinds: Sequence[str],
        context: Context,
        *,
        params: Mapping[str, Mapping[str, Any]] | None = None,
        wait_ms: int = 0,
    ) -> PersonalizeResult:
        if not kinds:
            raise InvalidInput("ask for at least one asset kind", field="kinds")
        kinds = list(dict.fromkeys(kinds))
        title = self.title_state(title_id)
        decision = self.chooser.choose(user, title_id, context)
        keyed = {k: self.request_key(title, decision.angle_id, k, (params or {}).get(k), context) for k in kinds}
        keys = {k: key for k, (key, _) in keyed.items()}
        slots: dict[str, Slot] = {k: (title_id, decision.angle_id, k) for k in kinds}
        found = self.cache.lookup([d for _, d in keyed.values()], list(slots.values()))
        results: dict[str, KindResult] = {}
        for kind, (key, digest) in keyed.items():
            results[kind] = self._resolve(title, kind, key, slots[kind], found.assets.get(digest),
                                          found.pinned.get(slots[kind]), context.maturity, digest)
        if wait_ms > 0 and any(r.job_id for r in results.values()):
            results = self._wait(title, keys, results, wait_ms)
        return PersonalizeResult(decision=decision, title=title, results=results)

    def _resolve(self, title: TitleState, kind: str, key: AssetKey, slot: Slot, exact: CacheEntry | None,
                 pinned: CacheEntry | None, maturity: str, digest: str | None = None) -> KindResult:
        policy = title.serving_policy
        served = resolve_cached(title, kind, digest or key.digest, exact, pinned, maturity)
        if served is not None:
            return served
        job_id = None
        if exact is None:  # never generated: start (or join) the one generation of this key
            job_id = self.ensure_job(key, title.title_id)
        # generated but blocked / in review / rejected / not approved: no new job, a fallback
        stale = self.cache.latest(slot, policy, maturity)
        if stale is not None:
            return KindResult(kind, "stale", stale, key.digest, job_id)
        fb = self.fallback(title, kind, maturity)
        if fb is not None:
            return KindResult(kind, fb[0], fb[1], key.digest, job_id)
        return KindResult(kind, "pending" if job_id else "unavailable", None, key.digest, job_id)

    def _wait(self, title: TitleState, keys: Mapping[str, AssetKey], results: dict[str, KindResult],
              wait_ms: int) -> dict[str, KindResult]:
        deadline = time.monotonic() + wait_ms / 1000.0
        pending = {k for k, r in results.items() if r.job_id}
        delay = 0.01
        while pending and time.monotonic() < deadline:
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 1.5, 0.2)
            found = self.cache.lookup([keys[k].digest for k in pending], [])
            for k in list(pending):
                e = found.assets.get(keys[k].digest)
                if e is None:
                    continue
                pending.discard(k)
                if servable(e.state, title.serving_policy):  # same key => same audience profile
                    results[k] = KindResult(k, "hit", e, keys[k].digest, results[k].job_id)
        return results

    def fallback(self, title: TitleState, kind: str, maturity: str = "adult") -> tuple[str, CacheEntry] | None:
        """The last approved (else served) asset of this title and kind gated for this audience
        (or a stricter one), else the title default (gated for kids)."""
        from .cache import SERVABLE
        from .catalog.assets import profiles_for

        with session_scope(self.settings) as s:
            row = AssetRepo(s).latest(title.title_id, kind, SERVABLE.get(title.serving_policy, ("approved",)),
                                      prefer_approved=True, profiles=profiles_for(maturity))
            if row is not None:
                return "fallback", CacheEntry.from_row(row)
        from .defaults import default_asset

        entry = default_asset(self, title, kind)
        return ("default", entry) if entry is not None else None

    # ---- jobs -------------------------------------------------------------------------------------
    def ensure_job(self, key: AssetKey, title_id: str, *, batch_id: str | None = None) -> str:
        """Single-flight: the id of the one job generating ``key`` (started here if none is)."""
        job_id = uuid.uuid4().hex
        holder = self.cache.claim(key.digest, job_id)
        if holder is not None:
            return holder
        queue = queue_for(key.kind, self.settings)
        try:
            with session_scope(self.settings) as s:
                JobRepo(s).create(job_id, key, title_id, queue, batch_id=batch_id)
            self.dispatcher.submit(job_id, queue, key.kind)
        except BaseException:
            self.cache.release(key.digest, job_id)
            raise
        log.info("job.queued", job_id=job_id, asset=key.short, kind=key.kind, queue=queue)
        return job_id

    def run_job(self, job_id: str, *, final_attempt: bool = True) -> dict[str, Any]:
        """Worker entry point: generate the asset of a job (idempotent). Re-raises ``Retryable``
        unless ``final_attempt``; every other error marks the job failed."""
        with session_scope(self.settings) as s:
            job = JobRepo(s).get(job_id)
            key = AssetKey.from_dict(job.key)
            title_id = job.title_id
            existing = AssetRepo(s).find(key.digest)
            if existing is not None:
                job.status = _job_status(existing.state)
                job.finished_at = job.finished_at or utcnow()
                entry = CacheEntry.from_row(existing)
            else:
                job.status, job.started_at, job.attempts = "running", utcnow(), (job.attempts or 0) + 1
                entry = None
        if entry is not None:
            self.cache.put(entry)
            self.cache.release(key.digest)
            return self.job(job_id)
        t0 = time.perf_counter()
        status, error = "failed", None
        try:
            record = self.generate(key, title_id)
            status = _job_status(record.state)
        except Retryable as exc:
            if not final_attempt:
                self._finish(job_id, "retrying", exc.message, None)
                raise
            error = exc.message
        except GenPersoError as exc:
            error = exc.message
        except Exception as exc:  # a bug in a generator: record it, do not retry
            log.error("job.crashed", job_id=job_id, error=repr(exc), exc_info=True)
            error = f"{type(exc).__name__}: {exc}"
        self._finish(job_id, status, error, time.perf_counter() - t0)
        self.cache.release(key.digest)
        log.info("job.finished", job_id=job_id, status=status, error=error)
        return self.job(job_id)

    def run(self, job_id: str, task: str = "generate") -> dict[str, Any]:
        """In-process dispatcher entry: the same functions the Celery tasks call."""
        return self.run_analysis(job_id) if task == "analysis" else self.run_job(job_id)

    # ---- ingestion / analysis jobs ------------------------------------------------------------------
    def submit_ingest(self, path: str, title_id: str, meta: Mapping[str, Any] | None = None) -> str:
        """Queue ingestion + analysis of ``path`` as ``title_id`` (cpu queue); returns the job id."""
        from .catalog.assets import JobRow
        from .types import validate_id

        validate_id(title_id, "title id")
        if not Path(path).is_file():
            raise InvalidInput(f"file not found on the server: {path}", field="path")
        job_id = uuid.uuid4().hex
        with session_scope(self.settings) as s:
            s.add(JobRow(id=job_id, asset_id="", key={"path": str(path), "meta": dict(meta or {})}, kind="analysis",
                         title_id=title_id, angle_id="", queue="cpu", status="queued"))
        self.dispatcher.submit(job_id, "cpu", "analysis")
        return job_id

    def run_analysis(self, job_id: str, *, final_attempt: bool = True) -> dict[str, Any]:
        from .ingest import ingest_title

        with session_scope(self.settings) as s:
            job = JobRepo(s).get(job_id)
            if job.status in ("done", "failed"):
                return job.to_dict()
            path, meta, title_id = job.key["path"], job.key.get("meta") or None, job.title_id
            job.status, job.started_at, job.attempts = "running", utcnow(), (job.attempts or 0) + 1
        t0 = time.perf_counter()
        status, error = "failed", None
        try:
            result = ingest_title(path, title_id=title_id, meta=meta, settings=self.settings)
            status = "done"
            forget_title(title_id)
            with session_scope(self.settings) as s:
                JobRepo(s).get(job_id).key = {"path": path, "meta": meta or {}, "result": result.to_dict()}
        except Retryable as exc:
            if not final_attempt:
                self._finish(job_id, "retrying", exc.message, None)
                raise
            error = exc.message
        except GenPersoError as exc:
            error = exc.message
        except Exception as exc:  # noqa: BLE001 - recorded on the job
            log.error("analysis.crashed", job_id=job_id, exc_info=True)
            error = f"{type(exc).__name__}: {exc}"
        self._finish(job_id, status, error, time.perf_counter() - t0)
        return self.job(job_id)

    def _finish(self, job_id: str, status: str, error: str | None, duration: float | None) -> None:
        with session_scope(self.settings) as s:
            job = JobRepo(s).get(job_id)
            job.status, job.error = status, error
            if status != "retrying":
                job.finished_at = utcnow()
                job.duration_s = duration

    def job(self, job_id: str) -> dict[str, Any]:
        with session_scope(self.settings) as s:
            return JobRepo(s).get(job_id).to_dict()

    # ---- worker path ------------------------------------------------------------------------------
    def generate(self, key: AssetKey, title_id: str) -> AssetRecord:
        from .angles.catalog import get_angle

        gen = self.generator(key.kind)
        with session_scope(self.settings) as s:
            repo = TitleRepo(s)
            title = repo.get(title_id)
            vrow = repo.version_by_hash(title_id, key.title_version_hash)
            if vrow is None:
                raise NotFound(f"title {title_id!r} has no version with hash {key.title_version_hash[:12]}")
            info = title.info()
            analysis = repo.analysis(title_id, vrow.version)
            version, source = vrow.version, Path(vrow.source_path)
        angle = get_angle(key.angle_id)
        out_dir = Path(self.settings.data_dir) / "tmp" / "gen" / f"{key.short}-{uuid.uuid4().hex[:8]}"
        out_dir.mkdir(parents=True, exist_ok=True)
        try:
            seed = int(key.params["seed"]) if key.params.get("seed") is not None else int(key.digest[:8], 16)
            req = GenerationRequest(angle=angle, out_dir=out_dir, title=info, analysis=analysis, params=key.params,
                                    seed=seed, data_dir=Path(self.settings.data_dir),
                                    source_path=source)
            out = gen.generate(req)
            cands = tuple(out.candidates)[: self.settings.max_candidates]
            if not cands:
                raise GenPersoError(f"generator {gen.name} produced no candidates for {title_id}/{key.angle_id}")
            res = self.gate(key.kind, list(cands), profile=str(key.params.get("maturity", "adult")),
                            brand=info.brand, title_id=title_id)
            decision = str(getattr(res, "decision", "block"))
            chosen = getattr(res, "chosen", None)
            files = ()
            state = "blocked"
            if chosen is not None and decision in ("allow", "review"):
                files = self.store_candidate(key.digest, chosen)
                state = "generated" if decision == "allow" else "review"
            record = AssetRecord(
                asset_id=key.digest, key=key, title_id=title_id, title_version=version, angle_id=key.angle_id,
                kind=key.kind, files=files, state=state, created_at=utcnow().isoformat() + "Z",
                record={
                    "generator": out.generator, "version": out.version, "model_revisions": dict(out.model_revisions),
                    "timings": dict(out.timings), "n_candidates": len(cands),
                    "chosen": _jsonable(chosen.record) if chosen is not None else None,
                    "rank": getattr(chosen, "rank", None), "score": getattr(chosen, "score", None),
                    "text": getattr(chosen, "text", None),
                },
                safety={
                    "decision": decision, "policy_version": str(getattr(res, "policy_version", "")),
                    "review_id": getattr(res, "review_id", None),
                    "verdict": _jsonable(getattr(res, "chosen_verdict", None)),
                    "verdicts": _jsonable(getattr(res, "verdicts", None)),
                },
            )
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)
        with session_scope(self.settings) as s:
            AssetRepo(s).save(record)
        self.cache.put(CacheEntry(record.to_dict()))
        return record

    def store_candidate(self, digest: str, cand: Any) -> tuple[Any, ...]:
        from .defaults import asset_file

        out = []
        for role, path in dict(cand.files).items():
            out.append(asset_file(self.storage, digest, role, Path(path)))
        if not out and getattr(cand, "text", None):
            data = canonical_json({"text": cand.text}).encode()
            from .storage import asset_path
            from .types import AssetFile

            sf = self.storage.put_bytes(data, asset_path(digest, "text.json"), "application/json")
            out.append(AssetFile(sf.path, "text.json", sf.mime, sf.size_bytes, format="json", sha256=sf.sha256))
        return tuple(out)

    # ---- editorial actions (review UI, admin) --------------------------------------------------------
    def set_state(self, asset_id: str, state: str, *, actor: str = "") -> AssetRecord:
        with session_scope(self.settings) as s:
            repo = AssetRepo(s)
            row = repo.set_state(asset_id, state)
            repo.audit(actor, f"state:{state}", row.asset_id)
            entry = CacheEntry.from_row(row)
        self.cache.put(entry)
        return AssetRecord.from_dict(entry.data)

    def pin(self, asset_id: str, *, pinned: bool = True, actor: str = "") -> AssetRecord:
        with session_scope(self.settings) as s:
            repo = AssetRepo(s)
            row = repo.pin(asset_id, pinned)
            repo.audit(actor, "pin" if pinned else "unpin", row.asset_id)
            entry = CacheEntry.from_row(row)
        self.cache.put(entry)
        return AssetRecord.from_dict(entry.data)

    def regenerate(self, asset_id: str, *, seed: int | None = None, shot: int | None = None,
                   frame_time: float | None = None, actor: str = "") -> dict[str, Any]:
        """Generate an asset again. With a seed / source shot / source frame the key gets those
        parameters (a new variant next to the old asset); without, the asset's own key is dropped
        and generated again. Returns the job."""
        variant = {k: v for k, v in {"seed": seed, "shot": shot, "frame_time": frame_time}.items() if v is not None}
        with session_scope(self.settings) as s:
            repo = AssetRepo(s)
            row = repo.get(asset_id)
            key, title_id, digest = AssetKey.from_dict(row.key), row.title_id, row.asset_id
            if row.is_default:
                raise InvalidInput("a title default asset is not generated by a generator; reject it instead")
            slot = (row.title_id, row.angle_id, row.kind)
            if variant:
                key = AssetKey.from_dict({**key.to_dict(), "params": {**dict(key.params), **variant}})
            elif row.pinned or row.state == "approved":
                raise InvalidInput("the asset is approved or pinned: regenerate it with a seed to get a variant")
            else:
                repo.delete([digest])
            repo.audit(actor, "regenerate", digest, **variant)
        if not variant:
            self.cache.forget([digest], [slot])
        return self.job(self.ensure_job(key, title_id))

    def invalidate(self, *, title_id: str | None = None, asset_id: str | None = None, kind: str | None = None,
                   purge: bool = False, actor: str = "") -> dict[str, int]:
        """Drop cached records (and with ``purge`` the catalog rows and files of unapproved,
        unpinned assets) so they are generated again on the next request."""
        if not title_id and not asset_id:
            raise InvalidInput("give a title id or an asset id to invalidate")
        with session_scope(self.settings) as s:
            repo = AssetRepo(s)
            rows = [repo.get(asset_id)] if asset_id else repo.list(title_id=title_id, kind=kind, limit=100000)
            digests = [r.asset_id for r in rows]
            slots = {(r.title_id, r.angle_id, r.kind) for r in rows}
            purged = [r.asset_id for r in rows if purge and not r.pinned and r.state != "approved" and not r.is_default]
            repo.delete(purged)
            repo.audit(actor, "invalidate", asset_id or title_id or "", purge=purge, assets=len(digests))
        for d in purged:
            self.storage.delete_prefix(f"{d[:2]}/{d}")
        keys = self.cache.forget(digests, slots)
        if title_id:
            forget_title(title_id)
        return {"assets": len(digests), "purged": len(purged), "cache_keys": keys}


def resolve_cached(title: TitleState, kind: str, digest: str, exact: CacheEntry | None, pinned: CacheEntry | None,
                   maturity: str) -> KindResult | None:
    """The answer from the cache alone: the slot's pinned asset (if it fits the audience), else
    the exact asset if the title's serving policy allows it; None when a fallback (and maybe a
    generation) is needed. One rule for ``Pipeline.personalize`` and the async hot path."""
    if pinned is not None and pinned.state not in ("rejected", "blocked") and fits(pinned, "auto", maturity):
        return KindResult(kind, "pinned", pinned, digest)
    if exact is not None and servable(exact.state, title.serving_policy):
        return KindResult(kind, "hit", exact, digest)
    return None


def _job_status(state: str) -> str:
    return {"generated": "done", "approved": "done", "blocked": "blocked", "review": "review",
            "rejected": "done"}.get(state, "done")


def _jsonable(obj: Any) -> Any:
    import dataclasses
    import json

    if obj is None:
        return None
    if hasattr(obj, "to_dict"):
        try:
            return json.loads(canonical_json(obj.to_dict()))
        except (TypeError, ValueError):
            pass
    if isinstance(obj, (list, tuple)):
        return [_jsonable(o) for o in obj]
    try:
        return json.loads(canonical_json(obj))
    except (TypeError, ValueError):
        if dataclasses.is_dataclass(obj):
            return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        return str(obj)


_pipelines: dict[tuple[str, str | None], Pipeline] = {}
_plock = threading.Lock()


def get_pipeline(settings: Settings | None = None) -> Pipeline:
    """The process-wide pipeline (workers: one per process, so models load once). The env var
    ``GENPERSO_PIPELINE_FACTORY=module:function`` (a function ``(settings) -> Pipeline``) swaps in
    other collaborators (policy, gate, generators) in the API and the workers alike."""
    settings = settings or get_settings()
    k = (str(settings.data_dir), settings.redis_url)
    with _plock:
        p = _pipelines.get(k)
        if p is None:
            p = _pipelines[k] = _make_pipeline(settings)
        return p


def _make_pipeline(settings: Settings) -> Pipeline:
    import importlib
    import os

    spec = os.environ.get("GENPERSO_PIPELINE_FACTORY")
    if not spec:
        return Pipeline(settings)
    mod, _, fn = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(mod), fn or "make_pipeline")
    except (ImportError, AttributeError) as exc:
        raise InvalidInput(f"GENPERSO_PIPELINE_FACTORY={spec!r} cannot be loaded: {exc}") from None
    return factory(settings)


def regenerate(asset_id: str, *, seed: int | None = None, shot: int | None = None, frame_time: float | None = None,
               actor: str = "", settings: Settings | None = None) -> dict[str, Any]:
    """Module-level entry for the review tools: see ``Pipeline.regenerate``."""
    return get_pipeline(settings).regenerate(asset_id, seed=seed, shot=shot, frame_time=frame_time, actor=actor)


def reset_pipelines() -> None:
    with _plock:
        for p in _pipelines.values():
            d = p._dispatcher
            if d is not None and hasattr(d, "shutdown"):
                d.shutdown()
        _pipelines.clear()
    forget_title()
