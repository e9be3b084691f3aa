"""Optional generative stage: a tiny randomly initialised img2img pipeline built from configs,
saved with ``save_pretrained`` and loaded through ``genperso.models.diffusion`` (no downloads)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genperso.angles.catalog import get_angle
from genperso.config import reset_settings
from genperso.errors import InvalidInput

pytest.importorskip("diffusers")


def build_tiny_pipeline(dest: Path) -> Path:
    """A 64-px Stable Diffusion img2img pipeline with random weights (seeded) and an offline tokenizer."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionImg2ImgPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in "abcdefghijklmnopqrstuvwxyz0123456789,.-'!&":
        vocab.setdefault(c, len(vocab))
        vocab.setdefault(c + "</w>", len(vocab))
    tok = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=32)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=32, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16, norm_num_groups=4, attention_head_dim=2,
    )
    vae = AutoencoderKL(
        block_out_channels=(8, 16), in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4, norm_num_groups=4, sample_size=64,
    )
    text = CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=16, intermediate_size=24, num_attention_heads=2,
        num_hidden_layers=2, vocab_size=len(vocab), max_position_embeddings=32, projection_dim=16,
    ))
    pipe = StableDiffusionImg2ImgPipeline(
        vae=vae, text_encoder=text, tokenizer=tok, unet=unet, scheduler=DDIMScheduler(clip_sample=False, steps_offset=1),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.save_pretrained(dest)
    return dest


@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_pipeline(tmp_path_factory.mktemp("diffusion") / "tiny-sd")


@pytest.fixture
def configured(tiny_pipeline: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from genperso.models.diffusion import reset_diffusion

    monkeypatch.setenv("GENPERSO_DIFFUSION_MODEL", str(tiny_pipeline))
    monkeypatch.setenv("GENPERSO_DIFFUSION_REVISION", "tiny-rev-1")
    monkeypatch.setenv("GENPERSO_DEVICE", "cpu")
    reset_settings()
    reset_diffusion()
    yield tiny_pipeline
    reset_diffusion()


def test_disabled_without_configuration() -> None:
    from genperso.models.diffusion import diffusion_revision, get_diffusion

    assert diffusion_revision() is None
    with pytest.raises(InvalidInput, match="disabled"):
        get_diffusion()


def test_not_a_pipeline_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from genperso.models.diffusion import get_diffusion

    monkeypatch.setenv("GENPERSO_DIFFUSION_MODEL", str(tmp_path))
    reset_settings()
    with pytest.raises(InvalidInput, match="model_index.json"):
        get_diffusion()


def test_restyle_is_seeded_checked_and_recorded(configured: Path) -> None:
    from genperso.models.diffusion import diffusion_revision, get_diffusion

    model = get_diffusion()
    assert model is get_diffusion()  # loaded once per process
    assert model.device == "cpu" and next(model.pipe.unet.parameters()).device.type == "cpu"
    assert diffusion_revision() == "tiny-rev-1"
    rng = np.random.default_rng(0)
    img = (rng.random((48, 80, 3)) * 255).astype(np.uint8)
    angle = get_angle("comedy")
    a, info = model.restyle(img, angle, strength=0.6, seed=5, steps=2)
    b, _ = model.restyle(img, angle, strength=0.6, seed=5, steps=2)
    c, _ = model.restyle(img, angle, strength=0.6, seed=6, steps=2)
    assert a.shape == img.shape and a.dtype == np.uint8
    assert np.array_equal(a, b)  # same seed -> same pixels
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, img)
    assert info["revision"] == "tiny-rev-1" and info["seed"] == 5 and info["device"] == "cpu"
    assert info["work_size"][0] % 8 == 0 and "Comedy" in info["prompt"]
    safety = info["safety"]
    assert safety["requires_image_check"] is True
    if safety["checked"]:
        assert safety["decision"] in ("allow", "review", "block") and safety["profile"] == "kids"


def test_generator_restyle_path(configured: Path, tmp_path: Path) -> None:
    from media import make_stills_film
    from test_artwork import DUR, FRAMES, ORDER, _analysis

    from genperso.generators.artwork import ArtworkGenerator
    from genperso.generators.base import GenerationRequest
    from genperso.types import TitleInfo

    film = tmp_path / "film.mp4"
    make_stills_film(film, [FRAMES[k] for k in ORDER], [DUR] * len(ORDER))
    req = GenerationRequest(angle=get_angle("comedy"), out_dir=tmp_path / "out", title=TitleInfo("tiny", "Tiny"),
                            analysis=_analysis(), params={"candidates": 1, "formats": "tile", "restyle": 0.5, "restyle_steps": 2},
                            seed=3, source_path=film)
    gen = ArtworkGenerator()
    out = gen.generate(req)
    rec = out.candidates[0].record
    assert out.model_revisions["diffusion"] == "tiny-rev-1" == gen.model_revisions()["diffusion"]
    assert rec["generative"]["revision"] == "tiny-rev-1" and rec["generative"]["seed"] == 4  # seed + rank
    assert rec["generative"]["steps"] == 2
    assert rec["safety"]["requires_image_check"] is True
    assert rec["safety"]["generated_pixels_check"] == rec["generative"]["safety"]
    assert rec["safety"]["generative"] == rec["generative"]["used"]
    assert Path(out.candidates[0].files["tile.jpg"]).is_file()
