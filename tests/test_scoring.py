"""Shot scorers: per-title rank normalisation, angle feature weights, transcript similarity,
optional CLIP (a tiny randomly initialised model built from a config), evidence-masked mixing."""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from genperso.angles.catalog import get_angle
from genperso.errors import InvalidInput
from genperso.scoring import (
    ClipScorer,
    FeatureScorer,
    Scorer,
    TranscriptScorer,
    combined_scores,
    percentile_ranks,
    score_breakdown,
)
from genperso.types import FaceBox, Shot, StreamInfo, TitleAnalysis


def _analysis(shots: list[Shot]) -> TitleAnalysis:
    dur = shots[-1].end if shots else 0.0
    return TitleAnalysis(
        title_id="t1", version=1, content_hash="h" * 64,
        stream=StreamInfo(duration=dur, width=320, height=180, fps=25.0, video_codec="h264"),
        shots=tuple(shots),
    )


def _action_shot(i: int, t: float) -> Shot:
    return Shot(index=i, start=t, end=t + 3, motion=0.3 + 0.01 * i, audio_rms_db=-8.0, onset_density=6.0,
                brightness=0.5, contrast=0.3, colourfulness=0.4, sharpness=300.0)


def _romance_shot(i: int, t: float) -> Shot:
    face = FaceBox(x=0.4, y=0.2, w=0.25, h=0.4)
    return Shot(index=i, start=t, end=t + 3, motion=0.01, audio_rms_db=-35.0, onset_density=0.2,
                brightness=0.6, contrast=0.2, colourfulness=0.3, faces=(face,), face_count=1,
                max_face_area=face.area, sharpness=200.0)


def _mixed() -> tuple[TitleAnalysis, set[int], set[int]]:
    shots, action, romance = [], set(), set()
    for i in range(8):
        if i % 2 == 0:
            shots.append(_action_shot(i, 3.0 * i))
            action.add(i)
        else:
            shots.append(_romance_shot(i, 3.0 * i))
            romance.add(i)
    return _analysis(shots), action, romance


@dataclass(frozen=True)
class RankCase:
    values: tuple[float, ...]
    expected: tuple[float, ...]


@pytest.mark.parametrize(
    "case",
    [
        RankCase((3.0, 1.0, 2.0), (1.0, 0.0, 0.5)),
        RankCase((1.0, 1.0, 5.0), (0.25, 0.25, 1.0)),  # ties share the mean rank
        RankCase((7.0, 7.0), (0.5, 0.5)),  # constant: no information
        RankCase((4.0,), (0.5,)),
        RankCase((), ()),
    ],
)
def test_percentile_ranks(case: RankCase) -> None:
    assert np.allclose(percentile_ranks(case.values), case.expected)


def test_feature_scorer_prefers_the_right_shots_per_angle() -> None:
    analysis, action, romance = _mixed()
    fs = FeatureScorer()
    a = fs.score_shots(analysis, get_angle("action"))
    r = fs.score_shots(analysis, get_angle("romance"))
    assert a.shape == r.shape == (8,)
    assert np.all((a >= 0) & (a <= 1)) and np.all((r >= 0) & (r <= 1))
    assert min(a[i] for i in action) > max(a[i] for i in romance)
    assert min(r[i] for i in romance) > max(r[i] for i in action)


def test_feature_scorer_is_scale_free() -> None:
    """Rank normalisation: multiplying every motion value by 10 changes nothing."""
    analysis, _, _ = _mixed()
    scaled = _analysis([Shot.from_dict(s.to_dict() | {"motion": s.motion * 10}) for s in analysis.shots])
    fs = FeatureScorer()
    assert np.allclose(fs.score_shots(analysis, get_angle("action")), fs.score_shots(scaled, get_angle("action")))


def test_transcript_scorer_similarity_and_evidence() -> None:
    shots = [
        Shot(index=0, start=0, end=2, transcript="Run! The building is going to explode, get to the car, faster!"),
        Shot(index=1, start=2, end=4, transcript="I love you. Stay with me tonight, darling, hold my hand."),
        Shot(index=2, start=4, end=6, transcript=""),
    ]
    analysis = _analysis(shots)
    ts = TranscriptScorer()
    assert ts.evidence(analysis).tolist() == [True, True, False]
    a = ts.score_shots(analysis, get_angle("action"))
    r = ts.score_shots(analysis, get_angle("romance"))
    assert a[2] == 0.0 and r[2] == 0.0
    assert a[0] > a[1] and r[1] > r[0]
    assert ts.revision().startswith("all-MiniLM-L6-v2@")


def test_transcript_scorer_does_not_load_a_model_without_transcripts(monkeypatch: pytest.MonkeyPatch) -> None:
    import genperso.models.embed as embed_mod

    def boom(*a, **k):  # noqa: ANN002, ANN003
        raise AssertionError("model loaded")

    monkeypatch.setattr(embed_mod, "embed", boom)
    analysis, _, _ = _mixed()
    assert np.all(TranscriptScorer().score_shots(analysis, get_angle("drama")) == 0)


class _Const(Scorer):
    def __init__(self, name: str, value: float, evidence: list[bool] | None = None, n: int | None = None) -> None:
        self.name = name  # type: ignore[misc]
        self.value = value
        self._ev = evidence
        self._n = n

    def score_shots(self, analysis: TitleAnalysis, angle) -> np.ndarray:  # noqa: ANN001
        return np.full(self._n if self._n is not None else len(analysis.shots), self.value)

    def evidence(self, analysis: TitleAnalysis) -> np.ndarray:
        return np.array(self._ev) if self._ev is not None else super().evidence(analysis)


def test_combined_scores_weights_and_evidence_mask() -> None:
    analysis = _analysis([Shot(index=i, start=i, end=i + 1) for i in range(3)])
    angle = get_angle("action")
    sc = [_Const("features", 0.2), _Const("transcript", 1.0, evidence=[True, False, False])]
    out = combined_scores(analysis, angle, sc)
    # shot 0: (1*0.2 + 0.5*1.0) / 1.5; others: the transcript scorer has no say
    assert np.allclose(out, [(0.2 + 0.5) / 1.5, 0.2, 0.2])
    out2 = combined_scores(analysis, angle, sc, weights={"transcript": 0.0})
    assert np.allclose(out2, 0.2)
    bd = score_breakdown(analysis, angle, sc)
    assert bd.shot(0)["transcript"] == 1.0 and bd.weights == {"features": 1.0, "transcript": 0.5}


def test_combined_scores_rejects_a_scorer_with_the_wrong_shape() -> None:
    analysis = _analysis([Shot(index=i, start=i, end=i + 1) for i in range(3)])
    with pytest.raises(ValueError, match="shape"):
        combined_scores(analysis, get_angle("action"), [_Const("bad", 0.5, n=2)])


def test_default_combined_scores_follow_features_without_transcripts() -> None:
    analysis, action, romance = _mixed()
    a = combined_scores(analysis, get_angle("action"))
    assert min(a[i] for i in action) > max(a[i] for i in romance)


# ---------------------------------------------------------------------------- CLIP (tiny)


def _tiny_clip(path: Path) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in string.ascii_lowercase + string.digits + ".,!?-':":
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    torch.manual_seed(0)
    cfg = CLIPConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, eos_token_id=1, bos_token_id=0,
                         pad_token_id=1),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=64, patch_size=16),
        projection_dim=16,
    )
    CLIPModel(cfg).save_pretrained(str(path))
    CLIPTokenizer(vocab=vocab, merges=[]).save_pretrained(str(path))
    return path


def test_clip_scorer_with_a_tiny_model(tmp_path: Path, settings) -> None:  # noqa: ANN001
    from PIL import Image

    from genperso.models.clip import get_clip

    model_dir = _tiny_clip(tmp_path / "clip")
    kf = settings.data_dir / "kf"
    kf.mkdir(parents=True)
    rng = np.random.default_rng(0)
    shots = []
    for i in range(4):
        rel = f"kf/{i}.jpg"
        if i < 3:
            Image.fromarray(rng.integers(0, 255, (72, 128, 3), dtype=np.uint8)).save(settings.data_dir / rel)
        shots.append(Shot(index=i, start=i, end=i + 1, keyframes=(rel,)))
    analysis = _analysis(shots)
    cs = ClipScorer(model_dir=model_dir)
    assert cs.evidence(analysis).tolist() == [True, True, True, False]
    s = cs.score_shots(analysis, get_angle("spectacle"))
    assert s.shape == (4,) and s[3] == 0.0
    assert sorted(s[:3].tolist()) == [0.0, 0.5, 1.0]  # per-title ranks
    raw = cs.raw_similarity(analysis, get_angle("spectacle"))
    assert np.all(np.abs(raw[:3]) <= 1.0) and raw[3] == 0.0
    model = get_clip(model_dir)
    assert model.revision.startswith("clip:") and cs.revision() == model.revision
    t = model.encode_texts(["vast epic landscape", "a quiet kiss"])
    assert t.shape == (2, 16) and np.allclose(np.linalg.norm(t, axis=1), 1.0, atol=1e-5)
    combined = combined_scores(analysis, get_angle("spectacle"), [FeatureScorer(), cs])
    assert combined.shape == (4,)


def test_clip_loader_errors(tmp_path: Path) -> None:
    from genperso.models.clip import ClipModel, get_clip

    with pytest.raises(InvalidInput, match="no CLIP model configured"):
        get_clip()
    with pytest.raises(InvalidInput, match="config.json"):
        ClipModel(tmp_path)


def test_angle_contrast_separates_neighbouring_angles() -> None:
    from genperso.angles.catalog import load_angles
    from genperso.scoring import angle_contrast

    face = FaceBox(x=0.4, y=0.2, w=0.25, h=0.4)
    shots = [Shot(index=i, start=3.0 * i, end=3.0 * i + 3, faces=(face,), face_count=1, max_face_area=face.area,
                  motion=0.01, audio_rms_db=-30.0, speech_ratio=0.9 if i % 2 else 0.0, brightness=0.5 + 0.01 * i)
             for i in range(10)]
    analysis = _analysis(shots)
    angles = list(load_angles())
    drama = angle_contrast(analysis, get_angle("drama"), angles)
    romance = angle_contrast(analysis, get_angle("romance"), angles)
    talk = [i for i in range(10) if i % 2]
    quiet = [i for i in range(10) if not i % 2]
    assert drama[talk].mean() > drama[quiet].mean() and romance[quiet].mean() > romance[talk].mean()
    assert np.all((drama >= 0) & (drama <= 1))
    assert np.all(angle_contrast(analysis, get_angle("drama"), [get_angle("drama")]) == 0.5)
