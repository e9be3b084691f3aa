"""GPU check of the optional generative stages' device placement (run where CUDA exists).

Builds the same tiny randomly initialised models the tests use (a 64-px img2img diffusion
pipeline and a tiny CLIP), loads them through genperso's loaders with ``GENPERSO_DEVICE=cuda``,
and checks: weights on the GPU, same seed -> same pixels, other seed -> other pixels, the
generated image went through the safety check, and CLIP embeddings on the GPU match the CPU ones.
Prints a table and one JSON line. Exits 1 on a failed check, 0 with a note when there is no CUDA.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def main() -> int:
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check here")
        print(json.dumps({"cuda": False}))
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="genperso-gpu-"))
    os.environ.update(GENPERSO_DATA_DIR=str(tmp / "data"), GENPERSO_DEVICE="cuda", HF_HUB_OFFLINE="1")
    from test_artwork_diffusion import build_tiny_pipeline
    from test_scoring import _tiny_clip

    from genperso.angles.catalog import get_angle
    from genperso.config import reset_settings
    from genperso.models.clip import ClipModel
    from genperso.models.diffusion import get_diffusion, reset_diffusion

    checks: dict[str, bool] = {}
    figures: dict[str, float | str] = {"gpu": torch.cuda.get_device_name(0)}

    os.environ["GENPERSO_DIFFUSION_MODEL"] = str(build_tiny_pipeline(tmp / "tiny-sd"))
    os.environ["GENPERSO_DIFFUSION_REVISION"] = "tiny-rev-1"
    reset_settings()
    reset_diffusion()
    model = get_diffusion()
    checks["diffusion_unet_on_cuda"] = next(model.pipe.unet.parameters()).device.type == "cuda"
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (72, 128, 3), dtype=np.uint8)
    angle = get_angle("action")
    model.restyle(img, angle, seed=5, steps=4)  # warm-up
    torch.cuda.synchronize()
    t = time.perf_counter()
    a, info = model.restyle(img, angle, seed=5, steps=4)
    torch.cuda.synchronize()
    figures["diffusion_restyle_ms"] = round((time.perf_counter() - t) * 1000, 1)
    b, _ = model.restyle(img, angle, seed=5, steps=4)
    c, _ = model.restyle(img, angle, seed=6, steps=4)
    checks["diffusion_same_seed_same_pixels"] = bool(np.array_equal(a, b))
    checks["diffusion_other_seed_other_pixels"] = not np.array_equal(a, c)
    checks["diffusion_output_shape"] = a.shape == img.shape and a.dtype == np.uint8
    checks["diffusion_lineage_device_cuda"] = info.get("device") == "cuda"
    checks["diffusion_safety_checked"] = bool(info.get("safety"))
    figures["diffusion_safety_decision"] = str((info.get("safety") or {}).get("decision"))

    clip_dir = _tiny_clip(tmp / "tiny-clip")
    gpu, cpu = ClipModel(clip_dir, device="cuda"), ClipModel(clip_dir, device="cpu")
    checks["clip_on_cuda"] = next(gpu.model.parameters()).device.type == "cuda"
    imgs = [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(4)]
    texts = [angle.description, get_angle("romance").description]
    d_img = float(np.abs(gpu.encode_images(imgs) - cpu.encode_images(imgs)).max())
    d_txt = float(np.abs(gpu.encode_texts(texts) - cpu.encode_texts(texts)).max())
    figures["clip_max_abs_diff_gpu_vs_cpu"] = round(max(d_img, d_txt), 6)
    checks["clip_gpu_matches_cpu"] = max(d_img, d_txt) < 2e-3

    print(f"{'check':<40} result")
    for k, v in checks.items():
        print(f"{k:<40} {'ok' if v else 'FAILED'}")
    for k, v in figures.items():
        print(f"{k:<40} {v}")
    print(json.dumps({"cuda": True, "passed": sum(checks.values()), "failed": [k for k, v in checks.items() if not v],
                      **figures}))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
