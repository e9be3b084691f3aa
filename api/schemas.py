"""Request and response models (pydantic). Families: ``*In`` requests, ``*Public``/``*Out``
responses, ``ErrorOut`` for every error."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from genperso.cache import CacheEntry
from genperso.storage import Storage

__all__ = [
    "MAX_WAIT_MS",
    "ErrorOut",
    "UserIn",
    "ContextIn",
    "PersonalizeIn",
    "AssetFileOut",
    "AssetPublic",
    "AssetDetail",
    "JobHandle",
    "KindOut",
    "DecisionOut",
    "PersonalizeOut",
    "JobOut",
    "EventsIn",
    "EventsOut",
    "TitleIn",
    "TitlePatch",
    "TitleOut",
    "TitleList",
    "AnalysisStatus",
    "BatchIn",
    "BatchOut",
    "InvalidateIn",
    "InvalidateOut",
    "UserDeleted",
    "asset_public",
    "raw_json_body",
    "parse_body",
    "add_raw_body_schemas",
]

MAX_WAIT_MS = 10_000
M = TypeVar("M", bound=BaseModel)
Kind = Literal["trailer", "artwork", "titles", "remix"]


class ErrorOut(BaseModel):
    error: str = Field(description="machine-readable code, e.g. invalid_input, not_found, unauthorized")
    message: str = Field(description="what went wrong, for a person")
    details: dict[str, Any] | None = None


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=128)
    embedding: list[float] | None = Field(default=None, description="unit-normalised server-side; dim must match")
    history: list[str] | None = Field(default=None, max_length=500, description="titles, genres or free text")


class ContextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hour: float = 20.0
    weekday: int = 4
    device: str = "tv"
    locale: str = "en-US"
    maturity: str = "adult"
    session_id: str | None = None
    activity: str | None = Field(default=None, max_length=200)


class PersonalizeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: UserIn
    title_id: str = Field(min_length=1, max_length=128)
    kinds: list[Kind] = Field(default_factory=lambda: ["artwork"], min_length=1, max_length=4)
    context: ContextIn = Field(default_factory=ContextIn)
    params: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per kind format parameters")
    wait_ms: int = Field(default=0, ge=0, le=MAX_WAIT_MS, description="wait up to this long for a generation")


class AssetFileOut(BaseModel):
    role: str
    url: str
    mime: str
    size_bytes: int
    width: int | None = None
    height: int | None = None
    format: str | None = None
    sha256: str | None = None


class AssetPublic(BaseModel):
    asset_id: str
    title_id: str
    title_version: int
    angle_id: str
    kind: str
    state: str
    pinned: bool = False
    text: str | None = None
    files: list[AssetFileOut]
    created_at: str = ""


class AssetDetail(AssetPublic):
    key: dict[str, Any]
    record: dict[str, Any]
    safety: dict[str, Any]


class JobHandle(BaseModel):
    job_id: str
    url: str


class KindOut(BaseModel):
    kind: str
    status: Literal["pinned", "hit", "stale", "fallback", "default", "pending", "unavailable"]
    asset: AssetPublic | None
    wanted_asset_id: str
    job: JobHandle | None = None


class DecisionOut(BaseModel):
    decision_id: str
    angle_id: str
    propensity: float
    policy: str = ""
    explanation: str = ""


class PersonalizeOut(BaseModel):
    title_id: str
    decision: DecisionOut
    assets: dict[str, KindOut]


class JobOut(BaseModel):
    job_id: str
    asset_id: str
    kind: str
    title_id: str
    angle_id: str
    queue: str
    status: str
    error: str | None = None
    attempts: int = 0
    batch_id: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float | None = None
    result: dict[str, Any] | None = None
    asset: AssetPublic | None = None


class EventsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[dict[str, Any]] = Field(min_length=1, max_length=1000)


class EventsOut(BaseModel):
    accepted: int
    duplicates: int


class TitleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title_id: str = Field(min_length=1, max_length=128)
    path: str = Field(min_length=1, max_length=4096, description="a media file on the server")
    meta: dict[str, Any] = Field(default_factory=dict, description="name, synopsis, genres, maturity_rating, ...")


class TitlePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    serving_policy: Literal["auto", "approved_only"]


class AnalysisStatus(BaseModel):
    title_id: str
    version: int | None
    status: str
    n_shots: int | None = None
    duration: float | None = None
    job: JobOut | None = None


class TitleOut(BaseModel):
    id: str
    name: str
    synopsis: str = ""
    genres: list[str] = []
    maturity_rating: str = ""
    brand: str | None = None
    serving_policy: str
    current_version: int | None
    versions: list[dict[str, Any]] = []
    analysis: AnalysisStatus | None = None


class TitleList(BaseModel):
    titles: list[TitleOut]
    total: int


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    top: int = Field(default=10, ge=1, le=10_000)
    angles: list[str] | None = None
    kinds: list[Kind] = Field(default_factory=lambda: ["artwork"], min_length=1)
    batch_id: str | None = Field(default=None, description="resume this batch")


class BatchOut(BaseModel):
    batch_id: str
    items: int
    counts: dict[str, int]


class InvalidateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title_id: str | None = None
    asset_id: str | None = None
    kind: Kind | None = None
    purge: bool = False


class InvalidateOut(BaseModel):
    assets: int
    purged: int
    cache_keys: int


class UserDeleted(BaseModel):
    user_id: str
    deleted: dict[str, int]


def asset_public(entry: CacheEntry | dict[str, Any], storage: Storage, *, detail: bool = False,
                 pinned: bool | None = None) -> AssetPublic:
    d = entry.data if isinstance(entry, CacheEntry) else entry
    pin = entry.pinned if isinstance(entry, CacheEntry) else bool(pinned)
    files = [
        AssetFileOut(role=f["role"], url=storage.url_for(f["path"]), mime=f["mime"], size_bytes=f["size_bytes"],
                     width=f.get("width"), height=f.get("height"), format=f.get("format"), sha256=f.get("sha256"))
        for f in d.get("files") or ()
    ]
    common = dict(asset_id=d["asset_id"], title_id=d["title_id"], title_version=d.get("title_version", 0),
                  angle_id=d["angle_id"], kind=d["kind"], state=d.get("state", "generated"), pinned=pin,
                  text=(d.get("record") or {}).get("text"), files=files, created_at=d.get("created_at", ""))
    if detail:
        return AssetDetail(**common, key=d.get("key") or {}, record=d.get("record") or {}, safety=d.get("safety") or {})
    return AssetPublic(**common)


# ---- request bodies parsed by the endpoint itself ---------------------------------------------------
# A hot endpoint may read its body as bytes and validate it with ``model_validate_json`` (one pass in
# pydantic-core instead of ``json.loads`` + validation of the Python objects). Its OpenAPI request
# body is then declared with ``openapi_extra=raw_json_body(Model)`` and the model's schema added to
# the components by ``add_raw_body_schemas`` (``create_app`` installs it).

_RAW_BODY_MODELS: dict[str, type[BaseModel]] = {}


def raw_json_body(model: type[BaseModel]) -> dict[str, Any]:
    _RAW_BODY_MODELS[model.__name__] = model
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


def add_raw_body_schemas(spec: dict[str, Any]) -> dict[str, Any]:
    comps = spec.setdefault("components", {}).setdefault("schemas", {})
    for name, model in _RAW_BODY_MODELS.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for sub, sub_schema in schema.pop("$defs", {}).items():
            comps.setdefault(sub, sub_schema)
        comps.setdefault(name, schema)
    return spec


def parse_body(model: type[M], raw: bytes) -> M:
    """Validate a JSON body; errors become FastAPI's 422 (located under ``body`` as usual)."""
    from fastapi.exceptions import RequestValidationError
    from pydantic import ValidationError

    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors()]) from None
