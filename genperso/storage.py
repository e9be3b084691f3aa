"""Asset file storage: a local directory by default, any fsspec object store when configured.

Writes are atomic (temp name + rename on the local disk; temp object + move, or a single ``put``
on object stores, whose objects only become visible once complete), so a half-written asset is
never visible. URLs are served by the API; for object stores they are signed and expire
(HMAC over path and expiry with a per-installation secret, or the store's own presigned URL
when it has one, e.g. s3fs).
"""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Iterator
from urllib.parse import quote

from .config import Settings, get_settings
from .secrets_store import install_secret
from .errors import InvalidInput, NotFound

__all__ = ["Storage", "StoredFile", "get_storage", "reset_storage", "asset_path", "file_sha256_bytes"]

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    path: str  # storage-relative, posix
    size_bytes: int
    sha256: str
    mime: str


def asset_path(digest: str, role: str) -> str:
    """Where the file ``role`` of asset ``digest`` lives (storage-relative)."""
    return f"{digest[:2]}/{digest}/{_safe_name(role)}"


def _safe_name(name: str) -> str:
    name = name.strip()
    if not name or "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
        raise InvalidInput(f"invalid file name {name!r}")
    return name


def _check_rel(path: str) -> str:
    p = PurePosixPath(path)
    if p.is_absolute() or any(part in ("..", "") for part in p.parts) or not p.parts:
        raise InvalidInput(f"invalid storage path {path!r}")
    return str(p)


def file_sha256_bytes(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


class Storage:
    """Asset files by storage-relative path. ``local`` is True for the directory backend."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.object_store_url
        self.local = not self.url
        self._secret = _load_secret(settings)
        if self.local:
            self.root = settings.assets_dir
            self.root.mkdir(parents=True, exist_ok=True)
            self.fs: Any = None
            self.base = ""
        else:
            import fsspec

            fs, base = fsspec.core.url_to_fs(self.url, **dict(settings.object_store_options))
            self.fs = fs
            self.base = base.rstrip("/")
            self.root = Path(settings.data_dir) / "tmp" / "objects"

    # ---- writing ----------------------------------------------------------------------------
    def put_file(self, src: Path, rel: str, mime: str | None = None) -> StoredFile:
        rel = _check_rel(rel)
        src = Path(src)
        if not src.is_file():
            raise NotFound(f"file to store not found: {src}")
        sha = file_sha256_bytes(src)
        size = src.stat().st_size
        mime = mime or mimetypes.guess_type(src.name)[0] or "application/octet-stream"
        if self.local:
            dest = self.root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
            try:
                shutil.copyfile(src, tmp)
                with open(tmp, "rb+") as f:
                    os.fsync(f.fileno())
                os.replace(tmp, dest)
            finally:
                tmp.unlink(missing_ok=True)
        else:
            target = f"{self.base}/{rel}"
            tmp = f"{self.base}/.tmp/{uuid.uuid4().hex}"
            self.fs.makedirs(f"{self.base}/.tmp", exist_ok=True)
            self.fs.put_file(str(src), tmp)
            try:
                self.fs.mv(tmp, target)
            finally:
                if self.fs.exists(tmp):
                    self.fs.rm(tmp)
        return StoredFile(path=rel, size_bytes=size, sha256=sha, mime=mime)

    def put_bytes(self, data: bytes, rel: str, mime: str | None = None) -> StoredFile:
        tmpdir = Path(self.settings.data_dir) / "tmp"
        tmpdir.mkdir(parents=True, exist_ok=True)
        tmp = tmpdir / f"{uuid.uuid4().hex}-{PurePosixPath(rel).name}"
        try:
            tmp.write_bytes(data)
            return self.put_file(tmp, rel, mime)
        finally:
            tmp.unlink(missing_ok=True)

    # ---- reading ----------------------------------------------------------------------------
    def exists(self, rel: str) -> bool:
        rel = _check_rel(rel)
        if self.local:
            return (self.root / rel).is_file()
        return bool(self.fs.exists(f"{self.base}/{rel}"))

    def size(self, rel: str) -> int:
        rel = _check_rel(rel)
        try:
            if self.local:
                return (self.root / rel).stat().st_size
            return int(self.fs.size(f"{self.base}/{rel}"))
        except (FileNotFoundError, OSError):
            raise NotFound(f"asset file {rel!r} not found") from None

    def local_path(self, rel: str) -> Path | None:
        """The file on the local disk (directory backend), else None."""
        return (self.root / _check_rel(rel)) if self.local else None

    def open(self, rel: str) -> BinaryIO:
        rel = _check_rel(rel)
        try:
            if self.local:
                return open(self.root / rel, "rb")
            return self.fs.open(f"{self.base}/{rel}", "rb")
        except FileNotFoundError:
            raise NotFound(f"asset file {rel!r} not found") from None

    def iter_range(self, rel: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes ``start..end`` inclusive, in chunks."""
        with self.open(rel) as f:
            f.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = f.read(min(CHUNK, left))
                if not chunk:
                    break
                left -= len(chunk)
                yield chunk

    def read_bytes(self, rel: str) -> bytes:
        with self.open(rel) as f:
            return f.read()

    def delete_prefix(self, rel_dir: str) -> None:
        rel_dir = _check_rel(rel_dir)
        if self.local:
            shutil.rmtree(self.root / rel_dir, ignore_errors=True)
        elif self.fs.exists(f"{self.base}/{rel_dir}"):
            self.fs.rm(f"{self.base}/{rel_dir}", recursive=True)

    # ---- URLs -------------------------------------------------------------------------------
    def url_for(self, rel: str, *, ttl: int | None = None, base_url: str | None = None) -> str:
        """Public URL of a file. Local: a stable API path. Object store: signed and expiring."""
        rel = _check_rel(rel)
        base = (base_url or self.settings.public_base_url).rstrip("/")
        if self.local:
            return f"{base}/v1/files/{quote(rel)}"
        ttl = int(ttl or self.settings.url_ttl_seconds)
        signer = getattr(self.fs, "sign", None)
        if signer is not None:
            try:
                return str(signer(f"{self.base}/{rel}", expiration=ttl))
            except NotImplementedError:
                pass
        exp = int(time.time()) + ttl
        return f"{base}/v1/files/{quote(rel)}?exp={exp}&sig={self.signature(rel, exp)}"

    def signature(self, rel: str, exp: int) -> str:
        return hmac.new(self._secret, f"{rel}\n{exp}".encode(), hashlib.sha256).hexdigest()[:32]

    def verify(self, rel: str, exp: int | None, sig: str | None) -> bool:
        """Whether a file URL may be served: local files always; object store files need a
        valid, unexpired signature."""
        if self.local:
            return True
        if exp is None or not sig or exp < time.time():
            return False
        return hmac.compare_digest(self.signature(rel, int(exp)), sig)


def _load_secret(settings: Settings) -> bytes:
    return install_secret(settings, "url-secret", "GENPERSO_URL_SECRET")


_lock = threading.Lock()


def get_storage(settings: Settings | None = None) -> Storage:
    settings = settings or get_settings()
    with _lock:
        return _cached_for(settings)


_instances: dict[tuple[str, str | None], Storage] = {}


def _cached_for(settings: Settings) -> Storage:
    k = (str(settings.data_dir), settings.object_store_url)
    st = _instances.get(k)
    if st is None:
        st = _instances[k] = Storage(settings)
    return st


def reset_storage() -> None:
    with _lock:
        _instances.clear()
