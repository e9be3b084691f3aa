"""Per-image features: faces (Haar), colourfulness, dominant colours, sharpness, black/blank."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from genperso.analysis import analyse
from genperso.config import Settings
from genperso.media import frames as F
from genperso.media.probe import file_sha256
from media import face_image, make_stills_film


@dataclass(frozen=True)
class FaceCase:
    name: str
    size: int
    center: tuple[int, int]
    faces: int


@pytest.mark.parametrize("case", [
    FaceCase("centre", 90, (320, 180), 1),
    FaceCase("large_left", 120, (200, 180), 1),
    FaceCase("tiny", 20, (320, 180), 0),  # below the minimum face size: ignored
], ids=lambda c: c.name)
def test_detect_faces_on_drawn_face(case: FaceCase) -> None:
    bgr = face_image(center=case.center, size=case.size)[..., ::-1]
    faces = F.detect_faces(np.ascontiguousarray(bgr))
    assert len(faces) == case.faces
    for f in faces:
        cx, cy = f.center
        assert abs(cx - case.center[0] / 640) < 0.08 and abs(cy - case.center[1] / 360) < 0.12
        assert 0 < f.area < 1 and isinstance(f.x, float)


def test_no_faces_on_flat_or_pattern() -> None:
    assert F.detect_faces(np.full((180, 320, 3), 128, np.uint8)) == ()
    rng = np.random.default_rng(0)
    assert len(F.detect_faces(rng.integers(0, 255, (180, 320, 3), dtype=np.uint8))) <= 1


def test_colour_features() -> None:
    grey = np.full((90, 160, 3), 128, np.uint8)
    vivid = np.zeros((90, 160, 3), np.uint8)
    vivid[:, :80] = (0, 0, 255)  # red (BGR)
    vivid[:, 80:] = (255, 0, 0)  # blue
    assert F.colourfulness(grey) == pytest.approx(0.0, abs=1e-6)
    assert F.colourfulness(vivid) > 1.0
    assert F.dominant_colours(grey) == ("#808080",)
    assert set(F.dominant_colours(vivid)) == {"#ff0000", "#0000ff"}


def test_sharpness_and_flat_frames() -> None:
    rng = np.random.default_rng(1)
    sharp = rng.integers(0, 255, (180, 320), dtype=np.uint8)
    blurred = cv2.GaussianBlur(sharp, (0, 0), 3)
    assert F.sharpness(sharp) > 10 * F.sharpness(blurred)
    black = F.luma_stats(np.full((180, 320), 5, np.uint8))
    assert F.is_black_frame(black) and F.is_blank_frame(black)
    grey = F.luma_stats(np.full((180, 320), 128, np.uint8))
    assert not F.is_black_frame(grey) and F.is_blank_frame(grey)
    assert not F.is_blank_frame(F.luma_stats(sharp))


def test_faces_reach_shot_features(tmp_path: Path, settings: Settings) -> None:
    film = tmp_path / "faces.mp4"
    plain = np.full((360, 640, 3), (40, 90, 160), np.uint8)
    make_stills_film(film, [face_image(size=100), plain], [2.0, 2.0])
    a = analyse(film, title_id="faces", version=1, content_hash=file_sha256(film), settings=settings)
    assert len(a.shots) == 2
    face_shot, plain_shot = a.shots
    assert face_shot.face_count == 1 and len(face_shot.faces) == 1
    assert face_shot.max_face_area > 0.05
    assert plain_shot.face_count == 0 and plain_shot.max_face_area == 0.0
