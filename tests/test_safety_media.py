"""Image, video and audio safety: blank frames, title legibility, NudeNet plugin, CLIP tiny model."""

from __future__ import annotations

import json
import string
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genperso.errors import InvalidInput, MediaError, NotFound
from safety import check_audio, check_images, check_video
from safety.base import forget_instances
from safety.image import contrast_ratio, title_contrast
from media import Segment, make_film


def _scene(seed: int = 0, h: int = 180, w: int = 320) -> np.ndarray:
    """A textured, colourful synthetic scene (gradients + blobs), nothing unsafe in it."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([120 + 80 * np.sin(x / 23.0 + seed), 110 + 70 * np.cos(y / 17.0),
                    90 + 60 * np.sin((x + y) / 31.0)], -1)
    img += rng.normal(0, 12, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _save(arr: np.ndarray, path: Path) -> Path:
    Image.fromarray(arr).save(path)
    return path


def _titled(bg: int, fg: int) -> np.ndarray:
    img = _scene(1)
    img[60:120, 40:280] = bg
    img[80:100, 50:270:5] = fg  # vertical strokes standing in for glyphs
    return img


def test_black_and_blank_frames_blocked_scene_allowed(tmp_path: Path) -> None:
    black = _save(np.zeros((180, 320, 3), np.uint8), tmp_path / "black.png")
    flat = _save(np.full((180, 320, 3), (40, 90, 200), np.uint8), tmp_path / "flat.jpg")
    scene = _save(_scene(), tmp_path / "scene.png")
    vb, vf, vs = check_images([black, flat, scene], profile="adult")
    assert vb.decision == "block" and vb.label == "blank"
    assert vf.decision == "block" and vf.label == "blank"
    assert vs.decision == "allow", vs.to_dict()
    assert {"image-quality", "nudenet"} <= set(vs.models)


def test_title_legibility_wcag(tmp_path: Path) -> None:
    assert contrast_ratio(1.0, 0.0) == pytest.approx(21.0)
    good = _save(_titled(bg=15, fg=245), tmp_path / "good.png")
    bad = _save(_titled(bg=120, fg=135), tmp_path / "bad.png")
    box = (40, 60, 240, 60)
    vg, vb = check_images([good, bad], title_text="Big Day", title_box=box)
    ratio_good, _ = title_contrast(np.asarray(Image.open(good).convert("RGB")), box)
    assert ratio_good >= 4.5
    assert vg.decision == "allow" and vg.scores["legibility"] == 0.0
    assert vb.decision == "block" and vb.label == "legibility"
    assert any("WCAG" in r for r in vb.reasons)
    only_text = check_images([good], title_text="Big Day")[0]
    assert "legibility" not in only_text.scores
    assert any("no title_box" in r for r in only_text.reasons)


def test_image_input_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="not found"):
        check_images([tmp_path / "missing.png"])
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"definitely not a png")
    with pytest.raises(MediaError, match="not a readable image"):
        check_images([junk])
    ok = _save(_scene(), tmp_path / "ok.png")
    with pytest.raises(InvalidInput, match="outside"):
        check_images([ok], title_box=(300, 170, 100, 100))
    with pytest.raises(InvalidInput, match="unknown safety profile"):
        check_images([ok], profile="everyone")


def test_gate_works_without_nudenet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nudenet", None)  # import fails like an uninstalled plugin
    forget_instances()
    try:
        v = check_images([_save(_scene(), tmp_path / "a.png")])[0]
        assert v.decision == "allow"
        assert "nudenet" not in v.models
        assert any("nudenet unavailable" in r for r in v.reasons)
    finally:
        forget_instances()


def _tiny_clip(path: Path) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    path.mkdir(parents=True, exist_ok=True)
    chars = list(string.ascii_lowercase + string.digits + ".,'!-:&")
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (path / "vocab.json").write_text(json.dumps(vocab))
    (path / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(str(path / "vocab.json"), str(path / "merges.txt"))
    eos, bos = vocab["<|endoftext|>"], vocab["<|startoftext|>"]
    cfg = CLIPConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, eos_token_id=eos, bos_token_id=bos,
                         pad_token_id=eos),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=8),
        projection_dim=16,
    )
    torch.manual_seed(0)
    CLIPModel(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def test_clip_plugin_with_tiny_random_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from genperso.config import reset_settings

    model_dir = _tiny_clip(tmp_path / "clip")
    monkeypatch.setenv("GENPERSO_CLIP_MODEL", str(model_dir))
    reset_settings()
    forget_instances()
    try:
        v = check_images([_save(_scene(), tmp_path / "a.png")])[0]
        assert v.models["clip"].startswith("clip-zeroshot@")
        cats = {"violence", "sexual", "hate", "drugs", "self_harm"}
        assert cats <= set(v.scores)
        # a random model spreads probability over all prompts: the category mass is the prompt share
        assert all(0.0 < v.scores[c] < 1.0 for c in cats)
    finally:
        forget_instances()


def test_video_frames_and_transcript(tmp_path: Path) -> None:
    film = tmp_path / "trailer.mp4"
    make_film(film, [Segment("testsrc", 2.0), Segment("color", 1.0, color="orange")], audio=False)
    clean = check_video(film, samples=6)
    assert clean.decision == "allow", clean.to_dict()
    assert clean.modality == "video"
    dirty = check_video(film, samples=6, transcript="shut the fuck up", profile="kids")
    assert dirty.decision == "block" and dirty.label == "profanity"
    dark = tmp_path / "dark.mp4"
    make_film(dark, [Segment("black", 2.5), Segment("testsrc", 0.5)], audio=False)
    vd = check_video(dark, samples=8)
    assert vd.scores["blank"] >= 0.8 and vd.decision == "block"
    with pytest.raises(NotFound):
        check_video(tmp_path / "nope.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(MediaError):
        check_video(bad)


def test_audio_explicit_flags_and_transcript() -> None:
    meta = {"title": "Sunset Drive Remix", "tracks": [{"id": "t1", "title": "Night Ride", "explicit": False}]}
    assert check_audio(meta, profile="kids").decision == "allow"
    flagged = {"tracks": [{"id": "t2", "title": "Night Ride", "explicit": True}]}
    kids, adult = check_audio(flagged, profile="kids"), check_audio(flagged, profile="adult")
    assert kids.decision == "block" and adult.decision == "review"
    assert any("t2" in r for r in kids.reasons)
    assert check_audio(meta, transcript="let's smoke weed and get high", profile="teen").decision == "block"
    with pytest.raises(InvalidInput):
        check_audio({"tracks": "nope"})


class _CannedDetector:
    """Adapter standing in for NudeNet's detector: returns fixed detections (no real nudity needed)."""

    def __init__(self, detections: list[dict]) -> None:
        self.detections = detections

    def detect(self, image: np.ndarray) -> list[dict]:
        assert image.ndim == 3 and image.shape[2] == 3
        return self.detections


def test_nudity_scoring_weights_confidence_and_skin() -> None:
    from safety.base import get_classifier
    from safety.image import ImageArtifact, NudityClassifier

    clf = get_classifier("nudenet")
    assert isinstance(clf, NudityClassifier)
    skin = np.zeros((120, 160, 3), np.uint8)
    skin[:] = (224, 172, 140)  # a skin tone
    fur = np.full((120, 160, 3), 235, np.uint8)  # white cartoon fur
    det = [{"class": "FEMALE_BREAST_EXPOSED", "score": 0.9, "box": [10, 10, 100, 80]}]
    real = clf._det
    try:
        clf._det = _CannedDetector(det)
        high = clf.classify(ImageArtifact(skin))
        low = clf.classify(ImageArtifact(fur))
        clf._det = _CannedDetector([{**det[0], "score": 0.5}])
        unsure = clf.classify(ImageArtifact(skin))
        clf._det = _CannedDetector([{"class": "FACE_FEMALE", "score": 0.99, "box": [0, 0, 50, 50]}])
        face = clf.classify(ImageArtifact(skin))
    finally:
        clf._det = real
    assert high.scores["sexual"] >= 0.85 and high.reasons
    assert low.scores["sexual"] == 0.0
    assert 0.0 < unsure.scores["sexual"] < 0.35
    assert face.scores["sexual"] == 0.0


def test_title_box_on_downscaled_large_image(tmp_path: Path) -> None:
    big = np.kron(_titled(bg=15, fg=245), np.ones((8, 8, 1), np.uint8))  # 1440x2560 -> scaled to 1280 wide
    path = _save(big, tmp_path / "big.png")
    v = check_images([path], title_text="Big Day", title_box=(320, 480, 1920, 480))[0]
    assert v.decision == "allow" and v.scores["legibility"] == 0.0
    with pytest.raises(InvalidInput, match="outside"):
        check_images([path], title_box=(2000, 0, 1000, 100))
