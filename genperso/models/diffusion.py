"""Optional generative stage for artwork: img2img restyle with a local diffusers pipeline.

Disabled unless ``settings.diffusion_model`` (``GENPERSO_DIFFUSION_MODEL``) names a local
pipeline directory (``save_pretrained`` layout); nothing is ever downloaded
(``local_files_only``). The revision recorded in asset lineage is ``settings.diffusion_revision``
when pinned, else a fingerprint of the pipeline's config files (so a changed model changes the
asset key either way). The device comes from ``settings.device``.

Same seed, same input, same model -> same pixels (a CPU ``torch.Generator`` seeds the noise).
Generated pixels are never trusted: :meth:`DiffusionModel.restyle` runs the image safety check
(``safety.check_images``) when that module provides it, and always marks its result
``requires_image_check`` so the pipeline's gate checks the final artwork too.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..config import get_settings
from ..errors import InvalidInput
from ..logs import get_logger
from ..types import Angle

__all__ = ["DiffusionModel", "get_diffusion", "diffusion_revision", "reset_diffusion", "model_fingerprint"]

log = get_logger(__name__)
_lock = threading.Lock()
_cache: dict[tuple[str, str], DiffusionModel] = {}


def model_fingerprint(model_dir: Path) -> str:
    """sha256 over the pipeline's JSON configs (model_index.json and each component's config)."""
    h = hashlib.sha256()
    for p in sorted(Path(model_dir).rglob("*.json")):
        h.update(p.relative_to(model_dir).as_posix().encode())
        h.update(p.read_bytes())
    return "sha256:" + h.hexdigest()[:16]


def diffusion_revision() -> str | None:
    """The configured pipeline's revision, or None when the generative stage is disabled."""
    s = get_settings()
    if not s.diffusion_model:
        return None
    if s.diffusion_revision:
        return s.diffusion_revision
    d = Path(s.diffusion_model)
    return model_fingerprint(d) if (d / "model_index.json").is_file() else None


class DiffusionModel:
    """A loaded img2img pipeline (lazy imports of torch/diffusers)."""

    def __init__(self, model_dir: Path, revision: str, device: str) -> None:
        import torch
        from diffusers import StableDiffusionImg2ImgPipeline

        self.model_dir = model_dir
        self.revision = revision
        self.device = device
        try:
            pipe = StableDiffusionImg2ImgPipeline.from_pretrained(
                str(model_dir), local_files_only=True, safety_checker=None, requires_safety_checker=False,
                dtype=torch.float16 if device.startswith("cuda") else torch.float32,
            )
        except (OSError, ValueError, EnvironmentError) as exc:
            raise InvalidInput(f"cannot load diffusion pipeline from {model_dir}: {exc}", field="diffusion_model") from None
        pipe.set_progress_bar_config(disable=True)
        self.pipe = pipe.to(device)
        self.sample_size = int(getattr(pipe.unet.config, "sample_size", 64)) * int(pipe.vae_scale_factor)

    def prompt(self, angle: Angle) -> str:
        words = ", ".join(angle.keywords[:5])
        return f"{angle.name} movie key art, {words}, cinematic lighting, high detail"

    def restyle(
        self,
        rgb: np.ndarray,
        angle: Angle,
        *,
        strength: float = 0.3,
        seed: int = 0,
        steps: int = 20,
        guidance: float = 6.0,
        max_side: int | None = None,
        safety_profile: str = "kids",
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Restyle ``rgb`` (uint8) towards the angle; returns (image at input size, lineage)."""
        import torch
        from PIL import Image

        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise InvalidInput("restyle expects an RGB uint8 image", field="image")
        h, w = rgb.shape[:2]
        side = max_side or max(self.sample_size, 64)
        scale = side / max(h, w)
        gw, gh = max(8, int(w * scale) // 8 * 8), max(8, int(h * scale) // 8 * 8)
        src = Image.fromarray(rgb).resize((gw, gh), Image.Resampling.LANCZOS)
        gen = torch.Generator(device="cpu").manual_seed(int(seed))
        prompt = self.prompt(angle)
        with torch.inference_mode():
            out = self.pipe(
                prompt=prompt, image=src, strength=float(strength), num_inference_steps=int(steps),
                guidance_scale=float(guidance), generator=gen, output_type="np",
            ).images[0]
        img = np.clip(np.rint(np.asarray(out) * 255.0), 0, 255).astype(np.uint8)
        result = np.asarray(Image.fromarray(img).resize((w, h), Image.Resampling.LANCZOS))
        info: dict[str, Any] = {
            "stage": "img2img",
            "model": self.model_dir.name,
            "revision": self.revision,
            "device": self.device,
            "seed": int(seed),
            "strength": float(strength),
            "steps": int(steps),
            "guidance": float(guidance),
            "prompt": prompt,
            "work_size": [gw, gh],
            "safety": check_generated(result, safety_profile),
        }
        return result, info


def check_generated(rgb: np.ndarray, profile: str) -> dict[str, Any]:
    """Run ``safety.check_images`` on generated pixels (when the safety package is importable).

    Returns ``{"checked", "decision", "verdict", "requires_image_check"}``; ``decision`` is the
    gate's allow/review/block, or None when no check could run. Artwork is made per angle and
    served to every profile, so callers pass the strictest profile they may be served to."""
    try:
        from safety import check_images
    except ImportError:
        return {"checked": False, "decision": None, "requires_image_check": True,
                "reason": "safety.check_images not available"}
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="genperso-diffusion-") as tmp:
        path = Path(tmp) / "generated.png"
        Image.fromarray(rgb).save(path)
        verdicts = check_images([path], profile=profile)
    v = verdicts[0]
    return {"checked": True, "profile": profile, "decision": v.decision, "verdict": v.to_dict(),
            "requires_image_check": True}


def get_diffusion(model_dir: str | Path | None = None) -> DiffusionModel:
    """The configured pipeline, loaded once per process; InvalidInput when none is configured."""
    s = get_settings()
    d = model_dir or s.diffusion_model
    if not d:
        raise InvalidInput(
            "the generative artwork stage is disabled: set GENPERSO_DIFFUSION_MODEL to a local diffusers "
            "pipeline directory",
            field="diffusion_model",
        )
    path = Path(d).expanduser()
    if not (path / "model_index.json").is_file():
        raise InvalidInput(f"{path} is not a diffusers pipeline directory (no model_index.json)", field="diffusion_model")
    revision = s.diffusion_revision or model_fingerprint(path)
    key = (str(path.resolve()), s.device)
    with _lock:
        model = _cache.get(key)
        if model is None:
            log.info("loading diffusion pipeline", path=str(path), revision=revision, device=s.device)
            model = DiffusionModel(path, revision, s.device)
            _cache[key] = model
    return model


def reset_diffusion() -> None:
    with _lock:
        _cache.clear()
