"""Per-installation secrets (HMAC keys for signed URLs and review sessions).

An environment variable wins (several machines must share it); otherwise a random key is created
once in the data dir, mode 0600, by whichever process gets there first (hard link: never
overwritten), and read back by every other process.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from .config import Settings

__all__ = ["install_secret"]


def install_secret(settings: Settings, name: str, env_var: str) -> bytes:
    env = os.environ.get(env_var)
    if env:
        return env.encode()
    path = Path(settings.data_dir) / f"{name}.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        tmp.write_text(secrets.token_hex(32))
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)  # first writer wins; never overwritten
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip().encode()
