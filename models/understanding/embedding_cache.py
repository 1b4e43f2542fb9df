"""Sentence embeddings of training sets, cached on disk (training and benchmarks only).

Embedding ~30k reviews with USE-multilingual takes minutes on one core; the cache keys each
file by the encoder name and a hash of the exact texts, so a changed split recomputes and an
unchanged one is read back. Lives under var/cache (git-ignored), never shipped.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

import numpy as np

from models.understanding.encoders import SentenceEncoder

DEFAULT_CACHE_DIR = Path(__file__).resolve().parents[2] / "var" / "cache" / "embeddings"


def embed_cached(encoder: SentenceEncoder, texts: list[str], cache_dir: Path | None = DEFAULT_CACHE_DIR,
                 batch: int = 64, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(len(texts), dim) float32 rows of ``encoder.encode(texts)``, from the cache when present."""
    digest = hashlib.sha1(("\x1e".join([encoder.name] + list(texts))).encode("utf-8")).hexdigest()[:16]
    path = Path(cache_dir) / f"{encoder.name}-{len(texts)}-{digest}.npy" if cache_dir else None
    if path is not None and path.is_file():
        return np.load(path)
    # sorted by length: a batch of similar lengths pads less (the encoder works per batch)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out: np.ndarray | None = None
    for start in range(0, len(order), batch):
        idx = order[start:start + batch]
        rows = encoder.encode([texts[i] for i in idx])
        if out is None:
            out = np.zeros((len(texts), rows.shape[1]), dtype=np.float32)
        out[idx] = rows
        if progress:
            progress(min(start + batch, len(order)), len(order))
    if out is None:
        out = np.zeros((0, 512), dtype=np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, out)
    return out
